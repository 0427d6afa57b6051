"""Dynamic limits (issue 17, item 5; docs/post-loan.md): each month the bank's rules look at every customer with an
active credit line and propose an increase for good payers, a cut or a freeze for deteriorating ones.

The rules are a decision table of the decision engine — the ruleset "ruleset:credit-limit", edited, validated and
published by four eyes on the credit-policy pages like the warning-level table — reading per customer: the latest
early-warning level, days past due now, whole months without a day past due, months on book, the latest behaviour
grade (and whether it got worse), and the share of the line in use. It answers increase / keep / reduce / freeze with
a reason code and a message in both languages. The amounts are risk.domain.reviews.propose: an increase of
LIMIT_INCREASE_STEP_PCT (20 %) of the line, a cut of LIMIT_REDUCE_STEP_PCT (30 %), never below what is used.

Within policy (risk.domain.reviews.within_policy) the change applies at once through the credit lines' services as
trusted code (lines.rule_change): an increase of at most LIMIT_AUTO_INCREASE_PCT (20 %) of the line and at most
LIMIT_AUTO_INCREASE_MAX (50,000.00 yuan); any cut or freeze by the rules (LIMIT_AUTO_CUTS, on by default). Anything
else is proposed in the credit lines' maker-checker queue for a person with the authority (the credit-line approvals
page, or the limit proposals page here). A line with a change already waiting is left alone that month.

The customer is told when a change takes effect (at once, or when approved): a `risk.limit_changed` ledger event with
the amounts and the reasons in both languages, which the integration app's dispatch turns into a message through the
configured notification sender, in the customer's language. Every proposal keeps its reasons: the table row's message
and the figures it read.

The monthly job: `creditplan risk limits --date D` (one run per month; a rerun in the month makes no second proposal
for a customer who has one that month).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, Role, require, sees_all_branches
from creditplan.core.errors import Conflict, CreditplanError, Forbidden, NotFound, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.decisions import services as decisions
from creditplan.decisions.domain.policy import Scale
from creditplan.decisions.domain.rulesets import Example, InputField, Ruleset
from creditplan.ledger import services as ledger
from creditplan.lines import services as lines
from creditplan.org import services as org
from creditplan.risk import post_loan_sql as reads
from creditplan.risk.domain import reviews as rules
from creditplan.risk.domain.reviews import LimitFacts, LimitOutcome
from creditplan.risk.models import CustomerSignal, LimitProposal, LimitRun

log = logging.getLogger("creditplan.risk")

LIMIT_RULESET = "ruleset:credit-limit"
VIEW_ROLES = frozenset({Role.LOAN_OFFICER, Role.APPROVER, Role.RISK_MANAGER, Role.AUDITOR, Role.ADMIN})
_WARNING = {"green": 0, "yellow": 1, "orange": 2, "red": 3}


# --- the ruleset ---------------------------------------------------------------------------------------------------

INPUTS: tuple[InputField, ...] = (
    InputField("warning", "number", "Early-warning level (0 green, 1 yellow, 2 orange, 3 red)",
               "预警等级（0绿色，1黄色，2橙色，3红色）"),
    InputField("dpd", "number", "Days past due now (most over the customer's loans)", "当前逾期天数（客户各笔贷款最大值）"),
    InputField("months_clean", "number", "Whole months without a day past due", "连续无逾期整月数"),
    InputField("months_on_book", "number", "Months since the oldest loan on the book", "首笔在贷贷款以来的月数"),
    InputField("behaviour_grade", "number", "Behaviour grade (0 the best; -1 not re-rated yet)",
               "行为评分等级（0为最优；-1为尚未重评）"),
    InputField("behaviour_worse", "boolean", "Behaviour grade worse than the month before", "行为评分等级较上次恶化"),
    InputField("utilisation_pct", "number", "Share of the line in use (%)", "额度使用率（%）"),
)


def default_limit_table() -> dict[str, Any]:
    """The table shipped as version 1 (first hit): red or 30+ days past due freeze; orange cuts; anything past due or
    a worse behaviour grade keeps; a good payer (green, six months clean on six months on book, a good or no behaviour
    grade, half the line used) gets an increase; otherwise keep."""
    names = [f.name for f in INPUTS]
    inputs = [{"id": f"in_{n}", "name": f.en, "field": n} for n, f in zip(names, INPUTS, strict=True)]
    outputs = [{"id": f"out_{f}", "name": name, "field": f} for f, name in (
        ("outcome", "Change"), ("reason", "Reason"), ("message_en", "Message (English)"),
        ("message_zh", "Message (Chinese)"))]

    def row(rid: str, description: str, outcome: str, reason: str, en: str, zh: str, **cells: str) -> dict[str, Any]:
        r: dict[str, Any] = {"_id": rid, "_description": description}
        r.update({f"in_{n}": cells.get(n, "") for n in names})
        r.update({"out_outcome": f'"{outcome}"', "out_reason": f'"{reason}"', "out_message_en": f'"{en}"',
                  "out_message_zh": f'"{zh}"'})
        return r

    table = [
        row("red", "early-warning level red", "freeze", "warning_red",
            "Early-warning level red: the line is frozen", "预警等级为红色：冻结额度", warning=">= 3"),
        row("dpd30", "30 days or more past due", "freeze", "dpd_30",
            "30 days or more past due: the line is frozen", "逾期30天及以上：冻结额度", dpd=">= 30"),
        row("orange", "early-warning level orange", "reduce", "warning_orange",
            "Early-warning level orange: the line is cut", "预警等级为橙色：压降额度", warning="[2..3)"),
        row("late", "something past due now", "keep", "past_due",
            "Something is past due: no increase", "当前有逾期：不提额", dpd=">= 1"),
        row("worse", "behaviour grade worse", "keep", "behaviour_worse",
            "Behaviour grade worse than the month before: no increase", "行为评分较上次恶化：不提额",
            behaviour_worse="true"),
        row("good", "good payer using the line", "increase", "good_payer",
            "Good payer: no day past due for six months or more, and half the line or more in use",
            "按时还款：连续6个月以上无逾期，且额度使用率达50%以上", warning="< 1", months_clean=">= 6",
            months_on_book=">= 6", behaviour_grade="<= 2", utilisation_pct=">= 50"),
        row("keep", "otherwise", "keep", "no_change", "No reason to change the line", "额度无需调整"),
    ]
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Customer and line", "position": {"x": 0, "y": 0}},
            {"id": "limit", "type": "decisionTableNode", "name": "Line change", "position": {"x": 300, "y": 0},
             "content": {"hitPolicy": "first", "inputs": inputs, "outputs": outputs, "rules": table,
                         "outputPath": "limit"}},
            {"id": "response", "type": "outputNode", "name": "Change", "position": {"x": 600, "y": 0}},
        ],
        "edges": [{"id": "e1", "sourceId": "request", "targetId": "limit", "type": "edge"},
                  {"id": "e2", "sourceId": "limit", "targetId": "response", "type": "edge"}],
    }


def _facts(**kw: Any) -> dict[str, Any]:
    base = LimitFacts(warning=0, dpd=0, months_clean=12, months_on_book=12, behaviour_grade=1, behaviour_worse=False,
                      utilisation_pct=80).as_facts()
    return {**base, **kw}


EXAMPLES: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("good payer using the line", _facts(), "increase"),
    ("good payer, line hardly used", _facts(utilisation_pct=10), "keep"),
    ("red", _facts(warning=3, dpd=12, months_clean=0), "freeze"),
    ("40 days past due", _facts(warning=1, dpd=40, months_clean=0), "freeze"),
    ("orange", _facts(warning=2, dpd=0), "reduce"),
    ("a few days late", _facts(dpd=5, months_clean=0), "keep"),
)


def limit_ruleset() -> Ruleset:
    return Ruleset(
        key=LIMIT_RULESET, name_en="Dynamic credit limits", name_zh="动态额度调整",
        scale=Scale(rules.LIMIT_OUTCOMES, LimitOutcome.KEEP), inputs=INPUTS, outcome_labels=rules.LIMIT_LABELS,
        default_document=default_limit_table(),
        examples=tuple(Example(name, facts, outcome) for name, facts, outcome in EXAMPLES),
        explain_en=("Each month, for every customer with an active credit line: increase for good payers, cut or "
                    "freeze for deteriorating ones (the first row that matches wins). Changes within the bank's "
                    "policy apply at once; the others wait for an approver."),
        explain_zh=("每月对每位有有效授信额度的客户：按时还款者提额，风险上升者压降或冻结（按顺序取第一条匹配的规则）。"
                    "政策范围内的调整自动生效，其余调整等待审批人审批。"))


def register() -> None:
    """From RiskConfig.ready(): the limit table with the decision engine."""
    decisions.register_ruleset(limit_ruleset())


def install_limit_table(actor: Actor | None = None) -> int | None:
    return decisions.install_ruleset(LIMIT_RULESET, actor)


# --- policy --------------------------------------------------------------------------------------------------------

def _setting(name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(f"CREDITPLAN_{name}") or default
    return value


def policy() -> rules.LimitPolicy:
    """The bounds (settings or CREDITPLAN_* environment): LIMIT_INCREASE_STEP_PCT (20), LIMIT_REDUCE_STEP_PCT (30),
    LIMIT_AUTO_INCREASE_PCT (20), LIMIT_AUTO_INCREASE_MAX (yuan, 50000), LIMIT_AUTO_CUTS (on)."""
    d = rules.LimitPolicy()

    def pct(name: str, default: int) -> int:
        try:
            value = int(str(_setting(name, default)).strip())
        except ValueError:
            log.error("%s is not a whole percentage: %s applies", name, default)
            return default
        return max(0, min(100, value))

    try:
        cap = parse_minor(str(_setting("LIMIT_AUTO_INCREASE_MAX", format_minor(d.auto_increase_max, grouping=False))),
                          "LIMIT_AUTO_INCREASE_MAX")
    except CreditplanError:
        log.error("LIMIT_AUTO_INCREASE_MAX is not an amount: %s applies", format_minor(d.auto_increase_max))
        cap = d.auto_increase_max
    cuts = str(_setting("LIMIT_AUTO_CUTS", "1")).strip().lower() not in ("0", "false", "no", "off")
    return rules.LimitPolicy(pct("LIMIT_INCREASE_STEP_PCT", d.increase_step_pct),
                             pct("LIMIT_REDUCE_STEP_PCT", d.reduce_step_pct),
                             pct("LIMIT_AUTO_INCREASE_PCT", d.auto_increase_pct), cap, cuts)


# --- the monthly run -----------------------------------------------------------------------------------------------

def _warnings(day: dt.date, customers: list[int]) -> dict[int, int]:
    """customer → the latest early-warning level on or before `day` (0 when the run stored no row: green)."""
    import creditplan.risk.services.signals as signals

    run = signals.latest_run(day)
    if run is None:
        return {}
    out: dict[int, int] = {}
    for start in range(0, len(customers), 1000):
        for c, level in CustomerSignal.objects.filter(as_of=run.as_of, customer_id__in=customers[start:start + 1000]
                                                      ).values_list("customer_id", "level"):
            out[int(c)] = _WARNING.get(level, 0)
    return out


def _behaviour(day: dt.date) -> tuple[dict[int, tuple[int, bool]], list[str]]:
    """customer → (grade index, worse than the month before) of the latest re-rating on or before `day`, and the
    grades' names (none before the first re-rating)."""
    import creditplan.risk.services.behaviour as behaviour
    from creditplan.risk.models import RerateRun

    month = behaviour.latest_month(day)
    if month is None:
        return {}, []
    cols = behaviour.behaviour_scores(month)
    grades = list(RerateRun.objects.filter(month=month).values_list("grades", flat=True).first() or [])
    ids = np.asarray(cols["customer_id"], dtype=np.int64).tolist()
    index = np.asarray(cols["grade_index"], dtype=np.int64).tolist()
    before = np.asarray(cols["previous_index"], dtype=np.int64).tolist()
    return {int(c): (int(g), bool(p >= 0 and g > p)) for c, g, p in zip(ids, index, before, strict=True)}, grades


def customer_facts(day: dt.date, rows: list[reads.LineRow]) -> tuple[dict[int, LimitFacts], list[str]]:
    """What the table reads for each customer with a line (see `INPUTS`)."""
    ids = [r.customer_id for r in rows]
    warnings = _warnings(day, ids)
    figures = reads.loan_figures(ids)
    late = reads.late_instalments(ids, day)
    grades, names = _behaviour(day)
    out = {}
    for r in rows:
        dpd, first = figures.get(r.customer_id, (0, None))
        last = rules.last_past_due(late.get(r.customer_id, []), day)
        clean_since = last if last is not None else first
        grade, worse = grades.get(r.customer_id, (-1, False))
        used = (r.reserved + r.used) * 100 // r.amount if r.amount > 0 else 100
        out[r.customer_id] = LimitFacts(
            warning=warnings.get(r.customer_id, 0), dpd=dpd,
            months_clean=0 if dpd else rules.whole_months(clean_since, day) if clean_since else 0,
            months_on_book=rules.whole_months(first, day) if first else 0, behaviour_grade=grade,
            behaviour_worse=worse, utilisation_pct=int(min(used, 999)))
    return out, names


@dataclass(frozen=True)
class LimitSummary:
    as_of: dt.date
    lines: int
    counts: dict[str, int]
    policy_number: int


REASON_MAX = 300  # the line change's reason column


def _line_reason(answer: Any) -> str:
    """The reason written on the line's change record, in both languages as the decision kernel's reasons are: a JSON
    object {"code", "en", "zh"} the credit-line pages show in their language (lines.views.reason_text). The messages
    are shortened, if need be, to fit the column whole."""
    code = str(answer.reason or "")[:60]
    en, zh = f"Dynamic limit rules: {answer.message_en}", f"动态额度规则：{answer.message_zh}"
    room = max(len(en), len(zh))
    while True:
        text = json.dumps({"code": code, "en": en[:room], "zh": zh[:room]}, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= REASON_MAX or room <= 20:
            return text
        room -= 10


def run_limits(as_of: Any, *, actor: Actor | None = None) -> LimitSummary:
    """The monthly run for date D (`creditplan risk limits --date D`): every active line's customer through the
    published limit table; changes within policy applied at once, the others proposed for approval; each customer in
    a transaction of its own (a failure is recorded on its proposal and the run goes on)."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    day = _date(as_of)
    install_limit_table()
    month = day.replace(day=1)
    bounds = policy()
    rows = reads.active_lines()
    facts, grade_names = customer_facts(day, rows)
    distinct = sorted({tuple(sorted(f.as_facts().items())) for f in facts.values()})
    decision = decisions.evaluate_ruleset(LIMIT_RULESET, [dict(k) for k in distinct]) if distinct else None
    answer_of = dict(zip(distinct, decision.answers, strict=True)) if decision else {}
    with transaction.atomic():
        run, _ = LimitRun.objects.get_or_create(month=month, defaults={
            "as_of": day, "computed_at": timezone.now(), "policy_version_id": decision.version_id if decision else None,
            "policy_number": decision.number if decision else 0, "policy_sha256": decision.sha256 if decision else ""})
    done = set(LimitProposal.objects.filter(run=run).values_list("customer_id", flat=True))
    counts: dict[str, int] = {}
    for r in rows:
        if r.customer_id in done:
            continue
        f = facts[r.customer_id]
        answer = answer_of[tuple(sorted(f.as_facts().items()))]
        if answer.outcome == LimitOutcome.KEEP:
            counts["keep"] = counts.get("keep", 0) + 1
            continue
        status = _propose(run, r, f, answer, bounds, grade_names, day)
        counts[status] = counts.get(status, 0) + 1
    with transaction.atomic():
        LimitRun.objects.filter(pk=run.pk).update(counts=counts, as_of=day, computed_at=timezone.now())
        ledger.append(actor, "risk.limits_computed", "risk", month.isoformat(), {
            "as_of": day.isoformat(), "lines": len(rows), "counts": counts,
            "policy_version": decision.version_id if decision else None,
            "policy_sha256": decision.sha256 if decision else "",
            "bounds": {"increase_step_pct": bounds.increase_step_pct, "reduce_step_pct": bounds.reduce_step_pct,
                       "auto_increase_pct": bounds.auto_increase_pct, "auto_increase_max": bounds.auto_increase_max,
                       "auto_cuts": bounds.auto_cuts}})
    return LimitSummary(day, len(rows), counts, decision.number if decision else 0)


def _propose(run: LimitRun, r: reads.LineRow, f: LimitFacts, answer: Any, bounds: rules.LimitPolicy,
             grade_names: list[str], day: dt.date) -> str:
    """One customer's proposal, in its own transaction: applied, pending, or skipped (with the reason)."""
    p = rules.propose(answer.outcome, r.amount, r.reserved + r.used, bounds)
    facts_en, facts_zh = rules.explain_facts(f, grade_names)
    base = {"run": run, "customer_id": r.customer_id, "branch_id": r.branch_id, "line_id": r.line_id,
            "outcome": answer.outcome, "amount_before_minor": r.amount, "amount_after_minor": p.after,
            "within_policy": p.within_policy, "reason": answer.reason[:60], "message_en": answer.message_en[:300],
            "message_zh": answer.message_zh[:300], "facts": f.as_facts(), "facts_en": facts_en[:400],
            "facts_zh": facts_zh[:400], "row": answer.row, "created_at": timezone.now()}
    if p.note:
        LimitProposal.objects.create(**base, status="skipped", note=p.note)
        return "skipped"
    try:
        with transaction.atomic():
            change = lines.rule_change(r.customer_id, kind=answer.outcome,
                                       amount=format_minor(p.after, grouping=False)
                                       if answer.outcome != LimitOutcome.FREEZE else None,
                                       reason=_line_reason(answer), at_once=p.within_policy)
            status = "applied" if p.within_policy else "pending"
            proposal = LimitProposal.objects.create(**base, status=status, line_change_id=change.id,
                                                    decided_by_name="system" if p.within_policy else "",
                                                    decided_at=timezone.now() if p.within_policy else None)
            if p.within_policy:
                _changed(proposal)
            else:
                ledger.append(None, "risk.limit_proposed", "customer", r.customer_id, _event(proposal))
            return status
    except CreditplanError as exc:
        LimitProposal.objects.create(**base, status="skipped", note=str(exc.code)[:30])
        log.info("limit proposal for customer %s not made: %s", r.customer_id, exc.message)
        return "skipped"


def _event(p: LimitProposal) -> dict[str, Any]:
    return {"customer": p.customer_id, "proposal": p.pk, "kind": p.outcome, "line": p.line_id,
            "amount_before_minor": p.amount_before_minor, "amount_after_minor": p.amount_after_minor,
            "reason": p.reason, "message_en": p.message_en, "message_zh": p.message_zh, "facts_en": p.facts_en,
            "facts_zh": p.facts_zh, "status": p.status, "line_change": p.line_change_id}


def _changed(p: LimitProposal) -> None:
    """The change took effect: the customer is told (integration turns `risk.limit_changed` into a message)."""
    p.notified = True
    p.save(update_fields=["notified"])
    ledger.append(None, "risk.limit_changed", "customer", p.customer_id, _event(p))


def settle_proposals() -> int:
    """Proposals whose credit-line change a person has decided since (on any page): approved ones are marked and the
    customer told, rejected ones marked. Returns how many were settled (run daily by the review job)."""
    waiting = list(LimitProposal.objects.select_for_update().filter(status="pending", line_change_id__isnull=False))
    if not waiting:
        return 0
    states = reads.line_changes(p.line_change_id for p in waiting if p.line_change_id is not None)
    settled = 0
    for p in waiting:
        status, name, at = states.get(int(p.line_change_id or 0), ("pending", "", None))
        if status not in ("approved", "rejected"):
            continue
        p.status, p.decided_by_name, p.decided_at = status, name, at
        p.save(update_fields=["status", "decided_by_name", "decided_at"])
        if status == "approved":
            _changed(p)
        else:
            ledger.append(None, "risk.limit_rejected", "customer", p.customer_id, _event(p))
        settled += 1
    return settled


# --- pages ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProposalView:
    id: int
    month: dt.date
    customer_id: int
    customer_name: str
    branch: str
    line_id: int
    outcome: str
    amount_before_minor: int
    amount_after_minor: int
    within_policy: bool
    status: str
    note: str
    message_en: str
    message_zh: str
    facts_en: str
    facts_zh: str
    line_change_id: int | None
    decided_by: str
    decided_at: dt.datetime | None
    created_at: dt.datetime

    def message(self, zh: bool) -> str:
        return self.message_zh if zh else self.message_en

    def facts(self, zh: bool) -> str:
        return self.facts_zh if zh else self.facts_en


def _proposal_view(p: LimitProposal) -> ProposalView:
    return ProposalView(int(p.pk), p.run.month, int(p.customer_id), getattr(p.customer, "name", ""), p.branch.code,
                        int(p.line_id), p.outcome, p.amount_before_minor, p.amount_after_minor, p.within_policy,
                        p.status, p.note, p.message_en, p.message_zh, p.facts_en, p.facts_zh, p.line_change_id,
                        p.decided_by_name, p.decided_at, p.created_at)


def _visible(actor: Actor) -> Any:
    require(actor, Perm.CUSTOMER_VIEW)
    if actor.role not in VIEW_ROLES:
        raise Forbidden(f"your role ({actor.role}) does not see limit proposals", code="permission_denied")
    qs = LimitProposal.objects.select_related("run", "customer", "branch")
    return qs if sees_all_branches(actor.role) else org.scope_to_branches(actor, qs)


def may_see_proposals(actor: Actor | None) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.role in VIEW_ROLES)


def list_proposals(actor: Actor, *, status: str = "", limit: int = 500) -> list[ProposalView]:
    """Proposals in the actor's branch scope, waiting ones first, then newest first."""
    qs = _visible(actor)
    if status in rules.PROPOSAL_STATUS_LABELS:
        qs = qs.filter(status=status)
    rows = [_proposal_view(p) for p in qs.order_by("-id")[: max(1, min(limit, 5000))]]
    rows.sort(key=lambda v: (v.status != "pending", -v.id))
    return rows


def latest_run() -> LimitRun | None:
    return LimitRun.objects.order_by("-month").first()


@transaction.atomic
def decide_proposal(actor: Actor, proposal_id: Any, *, approve: bool, note: Any = "") -> ProposalView:
    """Approve or reject a waiting proposal: the credit lines' maker-checker decision (authority checked there) and,
    when approved, the customer told at once."""
    require(actor, Perm.LINE_APPROVE)
    try:
        pk = int(proposal_id)
    except (TypeError, ValueError):
        pk = -1
    p = _visible(actor).select_for_update(of=("self",)).filter(pk=pk).first()
    if p is None:
        raise NotFound(f"no limit proposal {proposal_id}", code="proposal_not_found", field="proposal_id")
    if p.status != "pending" or p.line_change_id is None:
        raise Conflict(f"limit proposal {pk} is {p.status}", code="proposal_decided")
    lines.decide_change(actor, p.line_change_id, approve=approve, note=note)
    settle_proposals()
    p.refresh_from_db()
    return _proposal_view(p)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("the date is written YYYY-MM-DD", field="date", code="date_format") from None
