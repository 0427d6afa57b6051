"""Deciding an application: `decide` (and `begin_decision`, its steps for origination's submission, the hot
path), the dry `evaluate`, and reading the stored decisions.

`decide` is the automated step of origination: features → champion model score → the product's published JDM
policy (one cached zen engine, loader keyed by version) → limit and risk-based price → authority required →
straight-through approval with a credit-plan reservation when everything allows it → one stored `Decision` and a
`decision.made` ledger event naming the hash of the inputs. It runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from creditplan.common.text import figure_text
from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.core.money import MAX_MINOR, Money, format_minor, from_ppm
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.decisions import sql
from creditplan.decisions.domain import authority as authz
from creditplan.decisions.domain import kernel
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.fastscore import FastScorer
from creditplan.decisions.domain.pricing import GradeRow, LimitSettings, ProductTerms
from creditplan.decisions.models import Decision, PolicyVersion, ProductSettings
from creditplan.decisions.services.policies import version_row
from creditplan.decisions.services.serving import model_for
from creditplan.decisions.services.snapshot import configuration
from creditplan.ledger import services as ledger
from creditplan.lines import domain as lines_domain
from creditplan.lines import services as lines
from creditplan.org import services as org
from creditplan.org.domain import BranchLevel, Perm, sees_all_branches
from creditplan.org.models import Branch
from creditplan.plans import services as plans

CHANNELS = ("web", "app", "api", "branch", "batch")


# --- the decision as it is read --------------------------------------------------------------------------

@dataclass(frozen=True)
class DecisionView:
    """One decision, as origination and the pages read it.

    ``reasons`` are plain English sentences, ``reasons_zh`` the same in Chinese, ``reason_codes`` their stable
    codes. ``required_level`` / ``required_approvals`` say who would have to approve the application by hand
    (also filled for an automatic approval, for the record). ``quota_status``: ``reserved`` (straight through),
    ``escalated`` (soft quota exceeded: referred), ``refused`` (hard quota), ``unavailable`` (no plan covers it),
    ``not_requested`` (``reserve=False``), ``not_checked`` (the outcome was not approve, or a dry evaluation).
    """

    id: int | None
    application_ref: str
    outcome: str
    reasons: list[str]
    score: int | None
    grade: str
    approved_amount_minor: int
    rate_ppm: int
    apr: Decimal
    installment_minor: int
    required_level: str
    required_approvals: int
    quota_status: str
    policy_version: int | None
    rules_fired: list[dict[str, Any]]
    limit_steps: list[dict[str, Any]]
    price_steps: list[dict[str, Any]]
    reasons_zh: list[str] = field(default_factory=list)
    reason_codes: list[str] = field(default_factory=list)
    pd: float | None = None
    model_version: int | None = None
    policy_label: str = ""
    product: str = ""
    branch: str = ""
    requested_minor: int = 0
    term: int = 0
    auto_approve_max_minor: int = 0
    policy_outcome: str = ""
    quota_detail: str = ""
    score_reasons: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    inputs_hash: str = ""
    timings_us: dict[str, int] = field(default_factory=dict)
    created_at: Any = None
    actor_name: str = ""
    #: the policy's decision tables by node id → their names (name, and name_en / name_zh where stored)
    table_names: dict[str, dict[str, str]] = field(default_factory=dict)


# --- the engine's own principal ---------------------------------------------------------------------

@dataclass(frozen=True)
class _EngineActor:
    """Who reserves plan quota for a straight-through approval: the institution's decision engine, recorded as
    ``decision-engine`` on the reservation and its ledger event (the ``decision.made`` event names the person or
    customer whose submission triggered it). Never exposed outside this module."""

    username: str = "decision-engine"
    role: str = "admin"
    pk: None = None
    branch_id: None = None
    branch: None = None
    is_authenticated: bool = True
    is_active: bool = True


ENGINE_ACTOR = _EngineActor()


def _require_decide(actor: Actor | None) -> None:
    """Staff with DECISION_MAKE, or a customer applying for themselves (origination checks it is theirs)."""
    if org.may(actor, Perm.DECISION_MAKE) or org.may(actor, Perm.APPLICATION_APPLY):
        if not getattr(actor, "is_active", False):
            raise Forbidden("this account is disabled", code="permission_denied")
        return
    org.require(actor, Perm.DECISION_MAKE)


def _required(rules: list[authz.Authority], settings: LimitSettings, product: str, amount: int, grade: str
              ) -> tuple[str, int]:
    level = authz.required_level(rules, product=product, amount_minor=amount, grade=grade or "G")
    return level or BranchLevel.HEAD_OFFICE.value, 2 if amount > settings.dual_approval_above_minor else 1


def inputs_hash(inputs: Mapping[str, Any]) -> str:
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _score_int(score: float | None) -> int | None:
    return None if score is None else int(math.floor(score + 0.5))



# --- deciding ---------------------------------------------------------------------------------------

def _check_request(application_ref: str, amount_minor: Any, term: Any, inputs: Any, channel: str) -> str:
    ref = str(application_ref or "").strip()
    if not ref or len(ref) > 60:
        raise ValidationError("application reference is required (at most 60 characters)", field="application_ref")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amount_minor must be a positive whole number of fen", field="amount_minor",
                              code="amount_format")
    if not 0 < amount_minor <= MAX_MINOR:  # the money edge's codes (core.money.MONEY_ERROR_CODES)
        code = "not_positive" if amount_minor == 0 else "negative_amount" if amount_minor < 0 else "amount_out_of_range"
        raise ValidationError(f"amount_minor must be a positive whole number of fen up to {MAX_MINOR}",
                              field="amount_minor", code=code)
    if isinstance(term, bool) or not isinstance(term, int) or not 1 <= term <= 600:
        raise ValidationError("term must be a whole number of periods from 1 to 600", field="term", code="invalid_term")
    if not isinstance(inputs, Mapping):
        raise ValidationError("inputs must be a JSON object", field="inputs", code="invalid_inputs")
    if channel not in CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(CHANNELS)}", field="channel", code="invalid_channel")
    return ref


@dataclass
class _Prepared:
    product: Any
    terms: ProductTerms
    settings_row: ProductSettings
    settings: LimitSettings
    grades: dict[str, GradeRow]
    branch: Branch
    version: PolicyVersion | None
    compiled: pol.CompiledPolicy | None
    policy_problem: str
    scorer: FastScorer | None
    model_version: int | None
    model_problem: str
    result: kernel.KernelResult
    rules: list[authz.Authority]
    line: lines_domain.Line | None = None


class _Line(Enum):
    READ = "read"  # begin_decision reads the customer's credit line itself (a caller that has not)


def _prepare(actor: Actor, *, ref: str, product: str, branch: str, amount_minor: int, term: int,
             inputs: Mapping[str, Any], channel: str, on: dt.date | None, version_id: int | None = None,
             line: lines_domain.Line | None = None) -> _Prepared:
    code = str(product or "").strip().lower()
    branch_code = str(branch or "").strip().upper()
    config, branch_obj = configuration(code, branch_code, on or timezone.localdate())
    prod, terms = config.product, config.terms
    if prod is None or terms is None:
        raise ValidationError(f"no product {code!r}", field="product", code="unknown_product")
    if not prod.is_active:
        raise ValidationError(f"product {prod.code} is not on sale", field="product", code="product_inactive")
    if branch_obj is None:
        raise ValidationError(f"no active branch with code {branch_code!r}", field="branch", code="unknown_branch")
    if getattr(actor, "role", "customer") != "customer" and not org.branch_in_scope(actor, branch_obj):
        raise Forbidden("the application's branch is outside your branch", code="branch_out_of_scope")
    benchmark, benchmark_name = config.benchmark
    if version_id is None:
        version, compiled, policy_problem = config.version, config.compiled, config.policy_problem
        if compiled is not None and ENGINE.get(compiled.key) is None:  # evicted from the engine meanwhile
            compiled = ENGINE.install(compiled)
    else:
        version = version_row(version_id)
        if version.policy.product != prod.code:
            raise ValidationError(f"policy version {version_id} is not a {prod.code} policy", field="version_id")
        compiled, policy_problem = ENGINE.install_text(version.jdm), ""
    app = kernel.Application(ref, prod.code, amount_minor, term, inputs, channel)
    scorer, model_version, model_problem = model_for(config.settings_row, app.segment, ref, config.models)
    # the customer's credit line caps the amount (a frozen, expired or closed one declines): lines.domain
    available = lines_domain.availability(line, prod.code, on or timezone.localdate()) if line is not None else None
    result = kernel.run(app, product=terms, grades=config.grades, settings=config.settings, benchmark_ppm=benchmark,
                        benchmark_name=benchmark_name, engine=ENGINE, policy=compiled, scorer=scorer,
                        model_problem=model_problem, policy_problem=policy_problem, credit_line=available)
    return _Prepared(prod, terms, config.settings_row, config.settings, config.grades, branch_obj, version, compiled,
                     policy_problem, scorer, model_version, model_problem, result, config.rules, line)


def _reserve(prepared: _Prepared, *, ref: str, customer_id: int, inputs: Mapping[str, Any], on: dt.date | None
             ) -> tuple[str, str, kernel.Reason | None]:
    """Hold quota for a straight-through approval; (status, detail, reason to refer or None)."""
    industry = str(inputs.get("industry_code") or inputs.get("industry") or "")[:1].upper()
    region = str(inputs.get("region_code") or inputs.get("region") or "")[:2]
    segment = str(inputs.get("segment") or "")
    known_segments = {c for c, _ in plans.dimension_codes("segment")} if segment else set()
    try:
        # inside the caller's transaction, no savepoint: every refusal comes before the plan writes anything
        res = plans.reserve_quota_in_transaction(
            ENGINE_ACTOR, application_ref=ref, amount=Money(prepared.result.limit.approved_minor),
            branch=prepared.branch.code, product=prepared.terms.code,
            industry=industry if industry in INDUSTRY_SECTIONS else "",
            region=region if region in PROVINCES else "", segment=segment if segment in known_segments else "",
            customer_ref=str(customer_id), on=on)  # the customer's groups: the registry's, never the inputs'
    except LimitExceeded as exc:
        if exc.code == "concentration_exceeded" and exc.extra.get("limit_kind"):
            en, zh = plans.concentration_reason(exc.extra)  # the figures in yuan, in both languages
            return "refused", exc.message[:300], kernel.Reason(
                "CONCENTRATION_EXCEEDED", f"the concentration limit refuses the amount: {en}", f"超出集中度限额：{zh}")
        with translation.override("zh-hans"):  # which quota and what is left, said in Chinese (issue 20)
            zh = figure_text(exc.code, exc.extra) or "超出信贷计划额度"
        return "refused", exc.message[:300], kernel.Reason(
            "QUOTA_REFUSED", f"the credit plan refuses the amount: {exc.message}", f"信贷计划额度不足：{zh}")
    except (Conflict, ValidationError) as exc:
        return "unavailable", exc.message[:300], kernel.Reason(
            "QUOTA_UNAVAILABLE", f"no credit-plan quota could be reserved: {exc.message}",
            f"无法占用信贷计划额度：{exc.message}")
    if res.status == "escalated":
        return "escalated", res.reason[:300], kernel.Reason(
            "QUOTA_ESCALATION", f"quota escalation: {res.reason}", f"超出软性额度，需上报：{res.reason}")
    return res.status, res.reason[:300], None


def decide(actor: Actor, *, application_ref: str, customer_id: int, product: str, branch: str,
           amount_minor: int, term: int, inputs: dict[str, Any], channel: str = "web", reserve: bool = True,
           on: dt.date | None = None) -> DecisionView:
    """Decide one application and store the decision (inside the caller's transaction).

    Outcome approve only when every rule passes, the approved amount is within the auto-approval amount of the
    grade and the credit plan has quota (then a reservation is held); a soft quota exceeded, a hard quota refused,
    no plan, a missing field a rule needs, no model or no published policy → refer with the reason; knock-outs,
    cut-offs or no lendable amount → decline. Raises ValidationError only for a malformed request (unknown
    product or branch, non-positive amount, bad term) and Forbidden for an actor who may not decide — both
    before anything is written.
    """
    pending = begin_decision(actor, application_ref=application_ref, customer_id=customer_id, product=product,
                             branch=branch, amount_minor=amount_minor, term=term, inputs=inputs, channel=channel,
                             reserve=reserve, on=on)
    # No savepoint of its own inside a caller's transaction (two round trips): everything that may refuse the
    # request has been checked above, and what follows either succeeds or fails the caller's transaction.
    with transaction.atomic(savepoint=False):
        statement, params = pending.insert()
        pending.inserted(sql.run_insert(statement, params))
        pending.reserve()
        ledger.append_many(actor, [pending.event(), *pending.line_events()])
    return pending.view


def begin_decision(actor: Actor, *, application_ref: str, customer_id: int, product: str, branch: str,
                   amount_minor: int, term: int, inputs: dict[str, Any], channel: str = "web", reserve: bool = True,
                   on: dt.date | None = None, line: lines_domain.Line | None | _Line = _Line.READ
                   ) -> PendingDecision:
    """`decide` in steps, for a caller that stores the decision together with its own rows (origination).

    Now: the checks, the configuration, the kernel and the authority — raising as `decide` does, before anything
    is written. Then, inside the caller's transaction: run `insert()`'s statement (the caller may make it part
    of its own) and hand its id to `inserted(id)`; `reserve()` the plan quota; append `event()` to the ledger
    (with the caller's events: `ledger.append_many`) before the transaction ends. `view` is the decision.

    Why in this order: a straight-through approval holds the credit plan's quota rows (and the ledger's
    sequencer) locked from its reservation to the commit, and every other approval waits for them. So the rows
    are written before the reservation, as the plan usually answers ("reserved"), and after it comes only the
    commit. When the plan answers otherwise (quota refused or escalated: the application is referred), `reserve()`
    corrects the stored decision and tells the caller to correct its rows from `view`.

    `line`: the customer's credit line as the caller read it, locked to its commit (origination's look-up reads
    it in its one statement: lines.sql), or None for a customer without one; left out, it is read here (one
    statement more). The approved amount is capped at what the line has available for the product; a
    straight-through approval reserves it on the line in `reserve()` (its event comes from `line_events()`)."""
    _require_decide(actor)
    started = time.perf_counter_ns()
    ref = _check_request(application_ref, amount_minor, term, inputs, channel)
    if isinstance(customer_id, bool) or not isinstance(customer_id, int):
        raise ValidationError("customer_id must be a number", field="customer_id")
    if line is _Line.READ:
        line = lines.line_for_decision(customer_id)
    prepared = _prepare(actor, ref=ref, product=product, branch=branch, amount_minor=amount_minor, term=term,
                        inputs=inputs, channel=channel, on=on, line=line)
    return PendingDecision(actor, prepared, ref=ref, customer_id=customer_id, amount_minor=amount_minor, term=term,
                           inputs=inputs, channel=channel, reserve=reserve, on=on, started=started)



class PendingDecision:
    """A decision made but not yet stored, nor final until the plan has answered (see `begin_decision`)."""

    def __init__(self, actor: Actor, prepared: _Prepared, *, ref: str, customer_id: int, amount_minor: int,
                 term: int, inputs: Mapping[str, Any], channel: str, reserve: bool, on: dt.date | None, started: int) -> None:
        self._prepared, self._ref, self._customer_id = prepared, ref, customer_id
        self._inputs, self._on, self._started = inputs, on, started
        self._line_events: list[ledger.EventSpec] = []
        r = prepared.result
        outcome, reasons = r.outcome, list(r.reasons)
        level, approvals = _required(prepared.rules, prepared.settings, prepared.terms.code,
                                     r.limit.approved_minor or amount_minor, r.grade)
        quota_status, self._needs_quota = "not_checked", False
        if outcome == "approve":
            auto_max = r.auto_approve_max_minor
            if r.limit.approved_minor > auto_max:
                outcome = "refer"
                approved, most = format_minor(r.limit.approved_minor), format_minor(auto_max)
                reasons.append(kernel.Reason(
                    "ABOVE_AUTO_APPROVAL", f"{approved} is above the automatic approval "
                    f"amount for grade {r.grade or '-'} ({most}): a person with authority must approve",
                    f"{approved} 超过等级 {r.grade or '-'} 的自动审批金额 {most}，需有权人审批"))
            elif not reserve:
                quota_status = "not_requested"
            else:
                quota_status, self._needs_quota = "reserved", True  # as the plan usually answers: see reserve()
        branch_obj = prepared.branch
        self._reasons = reasons
        self.row = Decision(
            application_ref=ref, customer_id=customer_id, product=prepared.terms.code, branch=branch_obj.code,
            branch_path=branch_obj.path, channel=channel, requested_minor=amount_minor, term=term,
            segment=str(r.facts.get("segment", "")), inputs=_jsonable(inputs), inputs_hash=inputs_hash(inputs),
            facts=_jsonable(r.facts), model_version_id=prepared.model_version,
            score=r.scored.score if r.scored else None, pd=r.scored.pd if r.scored else None, grade=r.grade,
            policy_version_id=prepared.version.pk if prepared.version else None, outcome=outcome,
            policy_outcome=r.outcome, reasons=[x.as_json() for x in reasons], rules_fired=r.rules_fired,
            limit_steps=r.limit.steps, price_steps=r.price.steps, approved_minor=r.limit.approved_minor,
            rate_ppm=r.price.rate_ppm, apr_ppm=int(r.apr * 1_000_000), installment_minor=r.installment_minor,
            quota_status=quota_status, quota_detail="", required_level=level, required_approvals=approvals,
            timings_us=r.timings_us, actor=actor if getattr(actor, "pk", None) else None,
            actor_name=getattr(actor, "username", None) or "system")
        self.view = _decision_view(self.row, prepared.version)
        """The decision as it stands: before `reserve()`, as if the plan grants the quota."""

    def insert(self) -> tuple[str, list[Any]]:
        """The INSERT … RETURNING id that stores the decision as it stands (a caller may run it in a CTE)."""
        d = self.row
        d.timings_us = {**d.timings_us, "total": (time.perf_counter_ns() - self._started) // 1000}
        d.created_at = timezone.now()
        return sql.decision_insert(d)

    def inserted(self, decision_id: int) -> None:
        """The id the INSERT returned."""
        d = self.row
        sql.mark_stored(d, decision_id)
        self.view = _decision_view(d, self._prepared.version)

    def reserve(self) -> bool:
        """Hold plan quota for a straight-through approval (inside the caller's transaction, after the insert).
        When the plan answers otherwise than "reserved" — a hard quota refuses, a soft one escalates, no plan
        covers the loan: the application is referred — the stored decision is corrected here, and True says that
        `view` changed (outcome, reasons, quota status): the caller corrects the rows it built from it."""
        if not self._needs_quota:
            return False
        self._needs_quota = False
        d = self.row
        line, after, problem = self._check_line()
        status, detail = "not_checked", ""  # (the line refused: the plan is not asked)
        if problem is None:
            status, detail, problem = _reserve(self._prepared, ref=self._ref, customer_id=self._customer_id,
                                               inputs=self._inputs, on=self._on)
        if problem is None and line is not None and after is not None:  # the plan granted it: the line too
            self._line_events.append(lines.write_reservation(
                ENGINE_ACTOR, line, after, application_ref=self._ref, product=d.product, amount=d.approved_minor))
        changed = status != d.quota_status or problem is not None
        d.quota_status, d.quota_detail = status, detail
        if problem is not None:
            d.outcome = "refer"
            self._reasons.append(problem)
            d.reasons = [x.as_json() for x in self._reasons]
        if changed or detail:  # (a monitor-only quota may grant it with a note: the note is kept)
            sql.update_quota_answer(d)
            self.view = _decision_view(d, self._prepared.version)
        return changed

    def _check_line(self) -> tuple[lines_domain.Line | None, lines_domain.Line | None, kernel.Reason | None]:
        """The customer's line after this approval's reservation, checked before the plan is asked (so that a
        refusal writes nothing): (line, line after, None), or the reason to refer. The kernel capped the amount
        at what the line had available when it was read, under its lock — a refusal here is a safeguard."""
        line = self._prepared.line
        if line is None:
            return None, None, None
        try:
            after = lines_domain.reserve(line, self.row.product, self.row.approved_minor,
                                         self._on or timezone.localdate())
        except (Conflict, LimitExceeded) as exc:
            return line, None, kernel.Reason("LINE_REFUSED", f"the credit line refuses the amount: {exc.message}",
                                             f"授信额度不足：{exc.message}")
        return line, after, None

    def line_events(self) -> list[ledger.EventSpec]:
        """The ``line.reserved`` event of a straight-through approval on the customer's credit line (none
        otherwise), for the caller to append with `event()` in the same transaction."""
        return list(self._line_events)

    def event(self) -> ledger.EventSpec:
        """The ``decision.made`` ledger event, for the caller to append in the same transaction."""
        d, version = self.row, self._prepared.version
        return ledger.EventSpec("decision.made", "decision", str(d.pk), {
            "application_ref": self._ref, "inputs_sha256": d.inputs_hash, "outcome": d.outcome, "product": d.product,
            "policy_version": d.policy_version_id, "policy_sha256": version.jdm_sha256 if version else None,
            "model_version": d.model_version_id, "score": None if d.score is None else f"{d.score:.4f}",
            "grade": d.grade, "approved_minor": d.approved_minor, "rate_ppm": d.rate_ppm, "quota": d.quota_status,
            "reasons": [x["code"] for x in d.reasons]})



def evaluate(actor: Actor, *, product: str, branch: str, amount_minor: int, term: int, inputs: dict[str, Any],
             application_ref: str = "DRY-RUN", channel: str = "api", on: dt.date | None = None,
             version_id: int | None = None) -> DecisionView:
    """A dry evaluation: the same kernel, authority and explanation as `decide`, with nothing stored, no quota
    reserved and no ledger event (partners and tests). `version_id` evaluates a draft instead of the published
    version (policy editors)."""
    if not (org.may(actor, Perm.POLICY_VIEW)):
        _require_decide(actor)
    if version_id is not None:
        org.require(actor, Perm.POLICY_VIEW)
    ref = _check_request(application_ref, amount_minor, term, inputs, channel)
    prepared = _prepare(actor, ref=ref, product=product, branch=branch, amount_minor=amount_minor, term=term,
                        inputs=inputs, channel=channel, on=on, version_id=version_id)
    r = prepared.result
    level, approvals = _required(prepared.rules, prepared.settings, prepared.terms.code,
                                 r.limit.approved_minor or amount_minor, r.grade)
    version = prepared.version
    return DecisionView(
        id=None, application_ref=ref, outcome=r.outcome, reasons=[x.en for x in r.reasons], score=_score_int(
            r.scored.score if r.scored else None), grade=r.grade, approved_amount_minor=r.limit.approved_minor,
        rate_ppm=r.price.rate_ppm, apr=r.apr, installment_minor=r.installment_minor, required_level=level,
        required_approvals=approvals, quota_status="not_checked", policy_version=version.pk if version else None,
        rules_fired=r.rules_fired, limit_steps=r.limit.steps, price_steps=r.price.steps,
        reasons_zh=[x.zh for x in r.reasons], reason_codes=[x.code for x in r.reasons],
        pd=r.scored.pd if r.scored else None, model_version=prepared.model_version,
        policy_label=f"{prepared.terms.code} v{version.number}" if version else "", product=prepared.terms.code,
        branch=prepared.branch.code, requested_minor=amount_minor, term=term,
        auto_approve_max_minor=r.auto_approve_max_minor, policy_outcome=r.outcome,
        score_reasons=r.scored.reasons if r.scored else [], facts=_jsonable(r.facts),
        inputs_hash=inputs_hash(inputs), timings_us=r.timings_us)


def _jsonable(facts: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(facts, default=str))


def _decision_view(d: Decision, version: PolicyVersion | None = None) -> DecisionView:
    version = version if version is not None else d.policy_version
    reasons = d.reasons or []
    return DecisionView(
        id=d.pk, application_ref=d.application_ref, outcome=d.outcome, reasons=[x.get("en", "") for x in reasons],
        score=_score_int(d.score), grade=d.grade, approved_amount_minor=d.approved_minor, rate_ppm=d.rate_ppm or 0,
        apr=from_ppm(d.apr_ppm or 0), installment_minor=d.installment_minor or 0,
        required_level=d.required_level, required_approvals=d.required_approvals, quota_status=d.quota_status,
        policy_version=d.policy_version_id, rules_fired=d.rules_fired, limit_steps=d.limit_steps,
        price_steps=d.price_steps, reasons_zh=[x.get("zh", "") for x in reasons],
        reason_codes=[x.get("code", "") for x in reasons], pd=d.pd, model_version=d.model_version_id,
        policy_label=f"{d.product} v{version.number}" if version is not None else "", product=d.product,
        branch=d.branch, requested_minor=d.requested_minor, term=d.term,
        auto_approve_max_minor=0, policy_outcome=d.policy_outcome, quota_detail=d.quota_detail,
        facts=d.facts, inputs_hash=d.inputs_hash, timings_us=d.timings_us, created_at=d.created_at,
        actor_name=d.actor_name, table_names=_table_names(version))


def _table_names(version: PolicyVersion | None) -> dict[str, dict[str, str]]:
    """The names of a policy version's decision tables, by node id (what the decision page calls a table)."""
    if version is None:
        return {}
    try:
        doc = json.loads(version.jdm)
    except (TypeError, ValueError):
        return {}
    return {str(n.get("id")): {k: str(n[k]) for k in ("name", "name_en", "name_zh") if isinstance(n.get(k), str)}
            for n in doc.get("nodes", []) if isinstance(n, Mapping) and n.get("type") == "decisionTableNode"}


def get_decision(actor: Actor, decision_id: int) -> DecisionView:
    """A stored decision; branch staff see decisions of their own branch subtree only."""
    org.require(actor, Perm.DECISION_VIEW)
    try:
        d = Decision.objects.select_related("policy_version").get(pk=decision_id)
    except Decision.DoesNotExist:
        raise NotFound(f"decision {decision_id} not found", code="decision_not_found")
    if not sees_all_branches(actor.role) and not _in_subtree(actor, d.branch_path):
        raise NotFound(f"decision {decision_id} not found", code="decision_not_found")
    return _decision_view(d)


def _in_subtree(actor: Actor, branch_path: str) -> bool:
    """Whether a branch (by its path) is the actor's branch or below it; False for an actor with no branch."""
    branch = actor.branch if actor.branch_id else None
    return branch is not None and branch_path.startswith(branch.path)


def decision_inputs(actor: Actor, decision_id: int) -> dict[str, Any]:
    """The inputs a decision was made on (they may carry personal data: PII permission)."""
    org.require(actor, Perm.CUSTOMER_VIEW_PII)
    get_decision(actor, decision_id)
    return dict(Decision.objects.values_list("inputs", flat=True).get(pk=decision_id))


def list_decisions(actor: Actor, *, product: str = "", outcome: str = "", limit: int = 100
                   ) -> list[DecisionView]:
    org.require(actor, Perm.DECISION_VIEW)
    qs = Decision.objects.select_related("policy_version").order_by("-id")
    if product:
        qs = qs.filter(product=product)
    if outcome:
        qs = qs.filter(outcome=outcome)
    if not sees_all_branches(actor.role):
        branch = actor.branch if actor.branch_id else None
        if branch is None:
            return []
        qs = qs.filter(branch_path__startswith=branch.path)
    return [_decision_view(d) for d in qs[: max(1, min(int(limit), 1000))]]
