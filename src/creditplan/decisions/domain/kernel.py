"""The decision kernel: facts → score → policy → price → limit → outcome, for one application, with no database.

This is the part of a decision that must be fast (benchmarks/bench_decisions.py runs it alone) and that the
simulation replays over past applications. The services around it load the product, the policy, the model and
the LPR, then add what needs the database: the authority required, the quota reservation, the stored record.

Facts are what the policy sees: the applicant's inputs as sent, plus derived fields —
``dti`` (existing debt service + the new installment, over monthly income; 4 decimals), ``installment_minor``,
``bureau_flag_count``, ``existing_overdue`` as a yes/no, the score, PD and grade, the product, segment, channel,
``amount`` (yuan) and ``term``. A field that cannot be read (text where a whole number of fen is expected) is
left out, so any rule needing it refers the case, naming the field.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from creditplan.core.money import format_minor
from creditplan.decisions.domain import pricing
from creditplan.decisions.domain.engine import PolicyEngine
from creditplan.decisions.domain.fastscore import FastScorer, Scored
from creditplan.decisions.domain.policy import SEVERITY, CompiledPolicy, Evaluation
from creditplan.decisions.domain.pricing import GradeRow, Limit, LimitSettings, Price, ProductTerms
from creditplan.lines.domain import Availability

#: Inputs the engine itself reads (besides the model's features); documented in docs/decisions.md.
KNOWN_INPUTS = ("age", "monthly_income_minor", "existing_debt_service_minor", "residency", "blacklist",
                "bureau_flags", "existing_overdue", "segment")
DEFAULT_SEGMENT = "standard"
#: Facts the engine derives, and the inputs they come from (a missing fact is reported by its inputs).
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "dti": ("monthly_income_minor", "existing_debt_service_minor"),
    "bureau_flag_count": ("bureau_flags",),
    "score": ("score (no model score)",), "pd": ("score (no model score)",), "grade": ("score (no model score)",),
}


@dataclass(frozen=True)
class Application:
    application_ref: str
    product: str
    amount_minor: int
    term: int
    inputs: Mapping[str, Any]
    channel: str = "web"

    @property
    def segment(self) -> str:
        value = self.inputs.get("segment")
        return str(value).strip() if isinstance(value, str) and value.strip() else DEFAULT_SEGMENT


@dataclass(frozen=True)
class Reason:
    code: str
    en: str
    zh: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "zh": self.zh}


@dataclass
class KernelResult:
    outcome: str
    reasons: list[Reason]
    facts: dict[str, Any]
    scored: Scored | None
    evaluation: Evaluation | None
    price: Price
    limit: Limit
    grade: str
    grade_row: GradeRow | None
    installment_minor: int
    apr: Decimal
    timings_us: dict[str, int] = field(default_factory=dict)

    @property
    def rules_fired(self) -> list[dict[str, Any]]:
        if self.evaluation is None:
            return []
        out = self.evaluation.rules_fired()
        out += [{**r.as_json(), "set_aside": True} for r in self.evaluation.set_aside]
        return out

    @property
    def auto_approve_max_minor(self) -> int:
        return self.grade_row.auto_approve_max_minor if self.grade_row else 0


def _whole(value: Any) -> int | None:
    """A whole number of fen from an int or digit text; None for anything else (floats included: money)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _yes(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value > 0
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "y", "是"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "n", "否"):
        return False
    return None


_PLAIN = (str, int, float, bool, list, dict)


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for a value zen cannot read (Decimal → float for comparisons, dates → ISO text)."""
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_plain(v) if type(v) not in _PLAIN else v for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) if type(v) not in _PLAIN else v for k, v in value.items()}
    return str(value)


def build_facts(app: Application, scored: Scored | None) -> tuple[dict[str, Any], list[Reason]]:
    """The policy's view of the application (see the module docstring) and problems reading it."""
    problems: list[Reason] = []
    facts: dict[str, Any] = {k: v if type(v) in _PLAIN else _plain(v) for k, v in app.inputs.items() if v is not None}
    for key in ("monthly_income_minor", "existing_debt_service_minor"):
        if key in facts:
            whole = _whole(facts[key])
            if whole is None or whole < 0:
                facts.pop(key)
                problems.append(Reason("INPUT_UNREADABLE", f"{key} is not a whole number of fen",
                                       f"{key} 不是以分为单位的整数"))
            else:
                facts[key] = whole
    if "age" in facts and (isinstance(facts["age"], bool) or not isinstance(facts["age"], int | float)):
        whole = _whole(facts["age"])
        if whole is None:
            facts.pop("age")
            problems.append(Reason("INPUT_UNREADABLE", "age is not a number", "年龄不是数字"))
        else:
            facts["age"] = whole
    for key in ("blacklist", "existing_overdue"):
        if key in facts:
            yes = _yes(facts[key])
            if yes is None:
                facts.pop(key)
                problems.append(Reason("INPUT_UNREADABLE", f"{key} is not yes/no", f"{key} 不是是/否"))
            else:
                facts[key] = yes
    flags = facts.get("bureau_flags")
    if isinstance(flags, list):
        facts["bureau_flag_count"] = len([f for f in flags if f])
    elif isinstance(flags, int) and not isinstance(flags, bool):
        facts["bureau_flag_count"] = max(0, flags)
    facts.update(product=app.product, segment=app.segment, channel=app.channel, term=app.term,
                 amount_minor=app.amount_minor, amount=app.amount_minor // 100)
    if scored is not None:
        facts.update(score=round(scored.score, 4), pd=round(scored.pd, 6), grade=scored.grade)
    return facts, problems


def run(app: Application, *, product: ProductTerms, grades: Mapping[str, GradeRow], settings: LimitSettings,
        benchmark_ppm: int, benchmark_name: str, engine: PolicyEngine, policy: CompiledPolicy | None,
        scorer: FastScorer | None, scored: Scored | None = None, model_problem: str = "",
        policy_problem: str = "", credit_line: Availability | None = None) -> KernelResult:
    """Decide one application. `scored` replaces scoring (replays and example cases carry their score).
    `credit_line`: what the customer's credit line has available for the product (a customer with a line) —
    the approved amount is capped at it; a frozen, expired or closed line declines (`LINE_FROZEN`, …)."""
    t0 = time.perf_counter_ns()
    extra: list[Reason] = []
    if scored is None and scorer is not None:
        try:
            scored = scorer.score(app.inputs)
        except Exception as exc:  # noqa: BLE001 - a model that cannot score this record refers it
            extra.append(Reason("MODEL_ERROR", f"the model could not score the application: {exc}",
                                f"模型无法评分：{exc}"))
    if scored is None:
        extra.append(Reason("NO_SCORE", model_problem or "no scoring model is configured for this product",
                            "本产品未配置可用的评分模型" if not model_problem else f"无法评分：{model_problem}"))
    t1 = time.perf_counter_ns()
    facts, problems = build_facts(app, scored)
    extra += problems
    grade, grade_row = _grade_row(scored, grades)
    spread = grade_row.spread_bp if grade_row else _prudent_spread(grades)
    price = pricing.price(product, benchmark_ppm=benchmark_ppm, benchmark_name=benchmark_name, spread_bp=spread,
                          grade=grade or "-")
    requested_installment = pricing.first_installment(app.amount_minor, price.rate_ppm, app.term,
                                                      product.months_per_period, product.method)
    facts["installment_minor"] = requested_installment
    income, debt = facts.get("monthly_income_minor"), facts.get("existing_debt_service_minor")
    if isinstance(income, int) and isinstance(debt, int) and income > 0:
        monthly = requested_installment // max(1, product.months_per_period)
        facts["dti"] = round((debt + monthly) / income, 4)
    elif isinstance(income, int) and income == 0:
        facts["dti"] = 99.0
    t2 = time.perf_counter_ns()
    evaluation = engine.evaluate(policy.key, facts) if policy is not None else None
    t3 = time.perf_counter_ns()
    lim = pricing.limit(product, settings, requested_minor=app.amount_minor, term=app.term, rate_ppm=price.rate_ppm,
                        monthly_income_minor=income if isinstance(income, int) else None,
                        existing_debt_service_minor=debt if isinstance(debt, int) else None,
                        grade_limit_minor=grade_row.limit_minor if grade_row else None, grade=grade or "-",
                        credit_line=credit_line)
    installment = (requested_installment if lim.approved_minor == app.amount_minor else pricing.first_installment(
        lim.approved_minor, price.rate_ppm, app.term, product.months_per_period, product.method))
    installment += product.installment_fee_minor if lim.approved_minor else 0
    annual = pricing.apr(product, lim.approved_minor, price.rate_ppm, app.term)
    t4 = time.perf_counter_ns()
    outcome, reasons = _outcome(app, product, evaluation, scored, lim, extra, policy_problem, grade_row)
    timings = {"score": (t1 - t0) // 1000, "facts_price": (t2 - t1) // 1000, "policy": (t3 - t2) // 1000,
               "limit": (t4 - t3) // 1000, "kernel": (time.perf_counter_ns() - t0) // 1000}
    return KernelResult(outcome, reasons, facts, scored, evaluation, price, lim, grade, grade_row, installment,
                        annual, timings)


LINE_REASONS: dict[str, Callable[[Availability], Reason]] = {
    "frozen": lambda a: Reason(
        "LINE_FROZEN", "Your credit line is frozen: no new loan can be approved on it until the bank lifts the "
                       "freeze. Please contact your branch.",
        "您的授信额度已冻结：解除冻结前不能审批新的贷款，请联系您的开户网点。"),
    "expired": lambda a: Reason(
        "LINE_EXPIRED", f"Your credit line expired on {a.expires_on}: ask your branch to renew it before applying.",
        f"您的授信额度已于 {a.expires_on} 到期：请先联系开户网点续期，再申请贷款。"),
    "closed": lambda a: Reason(
        "LINE_CLOSED", "Your credit line is closed: no new loan can be approved on it. Please contact your branch "
                       "about a new credit line.",
        "您的授信额度已关闭：不能在其项下审批新的贷款，请联系开户网点申请新的授信。"),
}
"""The reason a blocked credit line gives, by its state (lines.domain.Availability.binding)."""


def _grade_row(scored: Scored | None, grades: Mapping[str, GradeRow]) -> tuple[str, GradeRow | None]:
    """The grid row of the score's grade. Without a score there is no grade: no grade limit applies (the case is
    referred anyway) and the price is quoted prudently at the spread of the riskiest grade still lent to."""
    if scored is not None:
        return scored.grade, grades.get(scored.grade)
    return "", None


def _prudent_spread(grades: Mapping[str, GradeRow]) -> int:
    lent = [g for g in grades.values() if g.limit_minor > 0]
    return max((g.spread_bp for g in lent), default=0)


def _worse(a: str, b: str) -> str:
    return a if SEVERITY[a] >= SEVERITY[b] else b


def _outcome(app: Application, product: ProductTerms, evaluation: Evaluation | None, scored: Scored | None,
             lim: Limit, extra: list[Reason], policy_problem: str, grade_row: GradeRow | None
             ) -> tuple[str, list[Reason]]:
    reasons: list[Reason] = []
    if evaluation is None:
        outcome = "refer"
        reasons.append(Reason("NO_POLICY", policy_problem or f"no published policy for product {app.product}",
                              f"产品 {app.product} 没有已发布的审批策略"))
    else:
        outcome = evaluation.outcome
        for f, rules in sorted(evaluation.missing.items()):
            what = what_zh = f
            if f in DERIVED_FROM:
                sources = [x for x in DERIVED_FROM[f] if app.inputs.get(x) is None] or list(DERIVED_FROM[f])
                what = f"{', '.join(sources)} (to work out {f})"
                what_zh = f"{'、'.join(sources)}（用于推算 {f}）"
            reasons.append(Reason("MISSING_FIELD", f"missing information: {what}; needed by {', '.join(rules[:3])}",
                                  f"缺少信息：{what_zh}；规则 {'、'.join(rules[:3])} 需要"))
        if evaluation.error:
            reasons.append(Reason("POLICY_ERROR", f"the policy could not be evaluated: {evaluation.error}",
                                  f"策略无法执行：{evaluation.error}"))
        if not evaluation.fired and not evaluation.missing and not evaluation.error:
            reasons.append(Reason("NO_RULE", "no policy rule matched the application", "没有匹配的策略规则"))
    for r in extra:
        reasons.append(r)
        outcome = _worse(outcome, "refer")
    if not (product.min_term <= app.term <= product.max_term):
        outcome = _worse(outcome, "refer")
        reasons.append(Reason("TERM_RANGE", f"term {app.term} is outside the product's {product.min_term}–"
                                            f"{product.max_term} periods",
                              f"期限 {app.term} 期不在产品 {product.min_term}–{product.max_term} 期范围内"))
    line = lim.credit_line
    if line is not None and line.blocked:  # (nothing can be lent: the line is the reason, whatever else binds)
        outcome = "decline"
        reasons.append(LINE_REASONS[line.binding](line))
    elif lim.approved_minor == 0:
        outcome = "decline"
        binding = lim.binding_step()
        reasons.append(Reason("NO_LIMIT", f"no amount can be lent: {binding['en'] if binding else ''}",
                              f"无可批额度：{binding['zh'] if binding else ''}"))
    elif lim.approved_minor < app.amount_minor and outcome == "approve":
        binding = lim.binding_step()
        approved, requested = format_minor(lim.approved_minor), format_minor(app.amount_minor)
        reasons.append(Reason("AMOUNT_REDUCED", f"approved {approved} instead of "
                                                f"{requested} ({binding['en'] if binding else ''})",
                              f"核定 {approved}，低于申请的 {requested}"
                              f"（{binding['zh'] if binding else ''}）"))
    if evaluation is not None:
        wanted = {"approve": ("approve",), "refer": ("refer", "decline"), "decline": ("decline", "refer")}[outcome]
        rule_reasons = [Reason(r.reason, r._json["message_en"], r._json["message_zh"])
                        for r in evaluation.fired if r.outcome in wanted]
        rule_reasons.sort(key=lambda r: 0 if r.code.startswith("KO") else 1)
        reasons = rule_reasons + reasons
    if outcome != "approve" and scored is not None and scored.reasons:
        factors_en = ", ".join(r["en"] for r in scored.reasons[:3])
        factors_zh = "、".join(r["zh"] for r in scored.reasons[:3])
        reasons.append(Reason("SCORE_FACTORS", f"main factors lowering the score: {factors_en}",
                              f"影响评分的主要因素：{factors_zh}"))
    return outcome, reasons
