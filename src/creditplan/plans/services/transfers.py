"""Quota transfers (调剂规模余缺) and freezing: a planner proposes to move an amount of available quota from one
quota to another of the same plan; ANOTHER planner decides (maker-checker). An approval is applied at once, under
the row locks reservations take (SELECT … FOR UPDATE, in id order): the source's limit goes down, the target's up,
one Movement each (transfer_out / transfer_in), both versions bumped, one ledger event. If by then the source no
longer has the amount available (a reservation took it after the proposal), the transfer is *refused*: its status
and reason are recorded, nothing else changes, and the checker gets the reason as an error.

Rules (docs/plan-transfers.md):
- same plan, two different quotas, neither containing the other; by default siblings of one kind (branch to
  branch, product to product under one parent); across dimensions only where the plan allows it, and then every
  split the transfer touches must still hold;
- the plan may be a draft or active (a closed plan's figures are final);
- a frozen source may still give its unused quota away, and a frozen target may receive: freezing stops new
  reservations only.

Freezing (freeze_quota / unfreeze_quota) is a planner action too: the reservation refuses a frozen quota (code
quota_frozen); reservations already made are kept and can still be disbursed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, CreditplanError, FieldProblem, NotFound, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.ledger import services as ledger
from creditplan.plans import sql
from creditplan.plans.domain import parse_plan_amount
from creditplan.plans.domain import transfers as rules
from creditplan.plans.domain.transfers import Measure
from creditplan.plans.models import Plan, Quota, Transfer
from creditplan.plans.services.quotas import visible_quota
from creditplan.plans.services.records import QuotaView, quota_label, quota_view, state_of

FREEZE_EVENTS = {"plan.quota_frozen": "freeze", "plan.quota_unfrozen": "unfreeze"}


@dataclass(frozen=True)
class TransferView:
    id: int
    plan_id: int
    source_id: int
    source_label: str
    target_id: int
    target_label: str
    measure: str
    amount_minor: int
    reason: str
    status: str  # pending, applied, rejected, refused
    refusal: str  # the sentence (English); refusal_code and refusal_available_minor say it in any language
    refusal_code: str
    refusal_available_minor: int | None
    requested_by: str
    decided_by: str | None
    decision_note: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


@dataclass(frozen=True)
class QuotaEvent:
    """One line of a quota's history of transfers and freezes, newest first."""

    at: dt.datetime
    kind: str  # transfer_in, transfer_out, freeze, unfreeze
    status: str  # a transfer's status; "done" for a freeze or an unfreeze
    transfer_id: int | None
    other_id: int | None
    other_label: str  # the quota on the other side of a transfer
    measure: str
    amount_minor: int
    proposed_by: str  # the planner who proposed the transfer, or who froze / unfroze
    decided_by: str
    reason: str
    refusal_code: str


def transfer_view(t: Transfer) -> TransferView:
    return TransferView(t.pk, t.plan_id, t.source_id, quota_label(t.source), t.target_id, quota_label(t.target),
                        t.measure, t.amount_minor, t.reason, t.status, t.refusal, t.refusal_code,
                        t.refusal_available_minor, t.requested_by.username,
                        t.decided_by.username if t.decided_by_id else None, t.decision_note, t.created_at,
                        t.decided_at)


def _transfers() -> Any:
    return Transfer.objects.select_related("source", "source__branch", "target", "target__branch", "requested_by",
                                           "decided_by")


def _plan(plan_id: int) -> Plan:
    try:
        return Plan.objects.get(pk=plan_id)
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")


def _open(plan: Plan) -> None:
    if plan.status == "closed":
        raise Conflict(f"plan {plan.code} is closed: its quotas no longer move", code="plan_closed")


# --- the tree: each quota's ancestors and the dimensions it narrows ---------------------------------------------

_TREE_FIELDS = ("id", "parent_id", "branch_id", "product", "industry", "region", "segment")


def _nodes(plan_id: int) -> dict[int, rules.Node]:
    rows = {r["id"]: r for r in Quota.objects.filter(plan_id=plan_id).values(*_TREE_FIELDS)}

    def dims(r: dict[str, Any]) -> dict[str, object]:
        return {"branch": r["branch_id"], **{d: r[d] for d in rules.DIMENSIONS[1:]}}

    nodes = {}
    for qid, r in rows.items():
        ancestors, p = [], r["parent_id"]
        while p is not None and p not in ancestors:
            ancestors.append(p)
            p = rows[p]["parent_id"]
        parent = rows.get(r["parent_id"]) if r["parent_id"] is not None else None
        nodes[qid] = rules.Node(qid, tuple(ancestors), rules.narrows(dims(r), dims(parent) if parent else None))
    return nodes


def _quota_id(value: Any, field: str, plan_id: int, nodes: dict[int, rules.Node], problems: list[FieldProblem]
              ) -> int | None:
    if value in (None, ""):
        problems.append(FieldProblem(field, f"the {field} quota is required", "required"))
        return None
    try:
        qid = int(value)
    except (TypeError, ValueError):
        qid = None
    if qid is None or qid not in nodes:
        if qid is not None and Quota.objects.filter(pk=qid).exists():
            problems.append(FieldProblem(field, f"quota {qid} belongs to another plan", "quota_other_plan"))
        else:
            problems.append(FieldProblem(field, f"no quota {value!r} in this plan", "unknown_quota"))
        return None
    return qid


def _children_limits(quota_id: int) -> dict[int, tuple[int, int]]:
    return {r["id"]: (r["new_lending_limit_minor"], r["balance_limit_minor"])
            for r in Quota.objects.filter(parent_id=quota_id).values("id", "new_lending_limit_minor",
                                                                     "balance_limit_minor")}


def _yuan(minor: int) -> str:
    return format_minor(minor)


def _check(plan: Plan, nodes: dict[int, rules.Node], source: Quota, target: Quota, measure: Measure, amount: int,
           parents: dict[int, Quota]) -> CreditplanError | None:
    """Everything that must hold for the transfer to be applied now, from the rows as the caller read them (under
    the locks, when deciding): the placement, what the source has available, and every split it touches. The
    first problem found, as the error to give the user; None when it may go ahead."""
    placement = rules.placement_problem(nodes[source.pk], nodes[target.pk],
                                        across_dimensions=plan.transfer_across_dimensions)
    if placement:
        return ValidationError(placement.message, code=placement.code, field=placement.field)
    children = _children_limits(source.pk)
    on_measure = [n if measure is Measure.NEW_LENDING else b for n, b in children.values()]
    short = rules.source_shortfall(state_of(source), measure, amount, sum(on_measure))
    if short:
        extra = {"available": format_minor(short.available, grouping=False),
                 "requested": format_minor(short.requested, grouping=False), "quota_id": source.pk}
        if short.code == "transfer_source_short":
            return Conflict(f"{quota_label(source)} has only {_yuan(short.available)} yuan of "
                            f"{_measure_words(measure)} quota available, {_yuan(amount)} yuan requested",
                            code=short.code, field="amount", extra=extra)
        return Conflict(f"the quotas below {quota_label(source)} hold all but {_yuan(short.available)} yuan of its "
                        f"{_measure_words(measure)} quota, {_yuan(amount)} yuan requested", code=short.code,
                        field="amount", extra=extra)
    limits = [rules.Limits(source.pk, source.new_lending_limit_minor, source.balance_limit_minor, children)]
    for p in parents.values():
        limits.append(rules.Limits(p.pk, p.new_lending_limit_minor, p.balance_limit_minor, _children_limits(p.pk)))
    broken = rules.split_problems(limits, source.pk, target.pk, measure, amount)
    if broken:
        qid, problem = broken[0]
        label = quota_label(parents[qid]) if qid in parents else quota_label(source)
        return Conflict(f"the split of {label} would no longer hold: {problem}", code="split_above_parent",
                        field="target", extra={"quota_id": qid})
    return None


def _measure_words(measure: Measure) -> str:
    return "new-lending" if measure is Measure.NEW_LENDING else "balance"


def _parents_to_check(nodes: dict[int, rules.Node], source_id: int, target_id: int) -> list[int]:
    """The target's parent when it is not the source's: the only parent whose children add up to more after the
    transfer (the source's parent's children add up to less; siblings leave theirs unchanged)."""
    sp, tp = nodes[source_id].parent, nodes[target_id].parent
    return [tp] if tp is not None and tp != sp else []


# --- use cases ------------------------------------------------------------------------------------------------

@transaction.atomic
def propose_transfer(actor: Actor, plan_id: int, source_quota_id: Any, target_quota_id: Any, amount: Any,
                     measure: str = "new_lending", reason: str = "") -> TransferView:
    """A planner proposes to move `amount` (yuan) of `measure` quota from one quota to another. Every input is
    checked at once (fields source, target, amount, measure, reason), then the placement and what the source has
    available now — checked again, under the locks, when another planner approves."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan(plan_id)
    _open(plan)
    problems: list[FieldProblem] = []
    try:
        m = Measure(measure or "new_lending")
    except ValueError:
        m = Measure.NEW_LENDING
        problems.append(FieldProblem("measure", "the measure is new_lending or balance", "unknown_measure"))
    minor = 0
    try:
        minor = parse_plan_amount(amount, "amount", allow_zero=False)
    except ValidationError as exc:
        problems += exc.problems
    text = (reason or "").strip()
    if not text:
        problems.append(FieldProblem("reason", "a reason is required", "required"))
    nodes = _nodes(plan.pk)
    source_id = _quota_id(source_quota_id, "source", plan.pk, nodes, problems)
    target_id = _quota_id(target_quota_id, "target", plan.pk, nodes, problems)
    if source_id is not None and source_id == target_id:
        problems.append(FieldProblem("target", "a transfer needs two different quotas", "same_quota"))
    if problems:
        raise ValidationError.collect(problems)
    assert source_id is not None and target_id is not None
    quotas = {q.pk: q for q in Quota.objects.select_related("branch").filter(
        pk__in=[source_id, target_id, *_parents_to_check(nodes, source_id, target_id)])}
    source, target = quotas[source_id], quotas[target_id]
    parents = {p: quotas[p] for p in _parents_to_check(nodes, source_id, target_id)}
    problem = _check(plan, nodes, source, target, m, minor, parents)
    if problem:
        raise problem
    t = Transfer.objects.create(plan=plan, source=source, target=target, measure=m.value, amount_minor=minor,
                                reason=text[:300], requested_by=actor)
    ledger.append(actor, "plan.transfer_proposed", "transfer", t.pk,
                  {"plan": plan.code, "source": source.pk, "target": target.pk, "measure": m.value,
                   "amount_minor": minor, "reason": t.reason})
    return transfer_view(_transfers().get(pk=t.pk))


def decide_transfer(actor: Actor, transfer_id: int, *, approve: bool, note: str = "") -> TransferView:
    """Another planner approves (applied at once) or rejects a pending transfer. If at approval the transfer can
    no longer be applied — the source lacks the amount now (code transfer_source_short), the plan was closed, a
    split would break — it is stored as *refused* with the reason, nothing else changes, and that reason is raised
    (after the refusal is committed: call this outside any transaction of your own)."""
    view, refusal = _decide(actor, transfer_id, approve=approve, note=note)
    if refusal is not None:
        raise refusal
    return view


@transaction.atomic
def _decide(actor: Actor, transfer_id: int, *, approve: bool, note: str) -> tuple[TransferView, CreditplanError | None]:
    require(actor, Perm.PLAN_MANAGE)
    try:
        t = Transfer.objects.select_for_update(of=("self",)).select_related("plan", "requested_by").get(pk=transfer_id)
    except Transfer.DoesNotExist:
        raise NotFound(f"transfer {transfer_id} not found", code="transfer_not_found")
    if t.status != "pending":
        raise Conflict(f"transfer {transfer_id} is already {t.status}", code="transfer_decided")
    if t.requested_by_id == actor.pk:
        raise Conflict("maker-checker: whoever proposed a transfer cannot decide it", code="maker_checker")
    t.decided_by, t.decided_at, t.decision_note = actor, timezone.now(), (note or "").strip()[:300]
    refusal: CreditplanError | None = None
    if not approve:
        t.status = "rejected"
    else:
        refusal = _apply(actor, t)
        t.status = "refused" if refusal else "applied"
        if refusal:
            t.refusal, t.refusal_code = refusal.message[:300], refusal.code
            available = refusal.extra.get("available")
            t.refusal_available_minor = parse_minor(available, "available") if available is not None else None
    t.save()
    data: dict[str, Any] = {"plan": t.plan.code, "source": t.source_id, "target": t.target_id, "measure": t.measure,
                            "amount_minor": t.amount_minor, "note": t.decision_note}
    if refusal:
        data.update(refusal=t.refusal, refusal_code=t.refusal_code)
    ledger.append(actor, f"plan.transfer_{t.status}", "transfer", t.pk, data)
    return transfer_view(_transfers().get(pk=t.pk)), refusal


def _apply(actor: Actor, t: Transfer) -> CreditplanError | None:
    """Lock the two quotas (and the target's parent when its split must be re-checked) in id order — the order
    every reservation locks in, so the two cannot deadlock —, check again under the locks, then move both limits.
    Returns the reason it cannot be applied (nothing written), or None once applied."""
    plan = Plan.objects.get(pk=t.plan_id)  # the current status and transfer rule
    try:
        _open(plan)
    except Conflict as exc:
        return exc
    nodes = _nodes(plan.pk)
    parent_ids = _parents_to_check(nodes, t.source_id, t.target_id)
    locked = {q.pk: q for q in Quota.objects.select_for_update(of=("self",)).select_related("branch")
              .filter(pk__in=[t.source_id, t.target_id, *parent_ids]).order_by("id")}
    source, target = locked[t.source_id], locked[t.target_id]
    m = Measure(t.measure)
    problem = _check(plan, nodes, source, target, m, t.amount_minor, {p: locked[p] for p in parent_ids})
    if problem:
        problem.extra["transfer_id"] = t.pk
        return problem
    dn, db = rules.deltas(m, t.amount_minor)
    sql.move_limits([(source, -dn, -db)], "transfer_out", actor)
    sql.move_limits([(target, dn, db)], "transfer_in", actor)
    return None


def list_transfers(actor: Actor, plan_id: int) -> list[TransferView]:
    require(actor, Perm.PLAN_VIEW)
    _plan(plan_id)
    return [transfer_view(t) for t in _transfers().filter(plan_id=plan_id).order_by("-id")]


def transfer_rule(actor: Actor, plan_id: int) -> bool:
    """Whether the plan allows transfers across dimensions."""
    require(actor, Perm.PLAN_VIEW)
    return _plan(plan_id).transfer_across_dimensions


@transaction.atomic
def set_transfer_rule(actor: Actor, plan_id: int, *, across_dimensions: bool) -> bool:
    """Allow (or stop) transfers across dimensions in a plan — branch to product, or to a quota under another
    parent. Pending transfers are checked against the rule in force when they are approved."""
    require(actor, Perm.PLAN_MANAGE)
    try:
        plan = Plan.objects.select_for_update().get(pk=plan_id)
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")
    _open(plan)
    plan.transfer_across_dimensions = bool(across_dimensions)
    plan.save(update_fields=["transfer_across_dimensions"])
    ledger.append(actor, "plan.transfer_rule_changed", "plan", plan.code,
                  {"across_dimensions": plan.transfer_across_dimensions})
    return plan.transfer_across_dimensions


@transaction.atomic
def freeze_quota(actor: Actor, quota_id: int, reason: str) -> QuotaView:
    """No new reservations on this quota (the reservation refuses it with code quota_frozen); those already made
    are kept and can still be disbursed, released or repaid."""
    return _set_frozen(actor, quota_id, reason, True)


@transaction.atomic
def unfreeze_quota(actor: Actor, quota_id: int, reason: str) -> QuotaView:
    return _set_frozen(actor, quota_id, reason, False)


def _set_frozen(actor: Actor, quota_id: int, reason: str, frozen: bool) -> QuotaView:
    require(actor, Perm.PLAN_MANAGE)
    text = (reason or "").strip()
    if not text:
        raise ValidationError("a reason is required", field="reason", code="required")
    try:
        q = Quota.objects.select_for_update(of=("self",)).select_related("plan", "branch").get(pk=quota_id)
    except Quota.DoesNotExist:
        raise NotFound(f"quota {quota_id} not found", code="quota_not_found")
    _open(q.plan)
    if q.frozen == frozen:
        raise Conflict(f"{quota_label(q)} is {'already' if frozen else 'not'} frozen",
                       code="quota_already_frozen" if frozen else "quota_not_frozen")
    sql.set_frozen(q, frozen, actor)
    ledger.append(actor, "plan.quota_frozen" if frozen else "plan.quota_unfrozen", "quota", q.pk,
                  {"plan": q.plan.code, "label": quota_label(q), "reason": text[:300]})
    return quota_view(q)


def quota_history(actor: Actor, quota_id: int) -> list[QuotaEvent]:
    """Every transfer into and out of the quota (whatever became of it: the applied ones moved its limits) and
    every freeze and unfreeze, newest first."""
    require(actor, Perm.PLAN_VIEW)
    q = visible_quota(actor, quota_id)
    out = []
    for t in _transfers().filter(Q(source=q) | Q(target=q)):
        incoming = t.target_id == q.pk
        other = t.source if incoming else t.target
        out.append(QuotaEvent(t.decided_at or t.created_at, "transfer_in" if incoming else "transfer_out", t.status,
                              t.pk, other.pk, quota_label(other), t.measure, t.amount_minor, t.requested_by.username,
                              t.decided_by.username if t.decided_by_id else "", t.reason, t.refusal_code))
    for e in ledger.history(actor, "quota", q.pk):
        if e.kind in FREEZE_EVENTS:
            out.append(QuotaEvent(e.occurred_at, FREEZE_EVENTS[e.kind], "done", None, None, "", "", 0, e.actor, "",
                                  str(e.data.get("reason", "")), ""))
    return sorted(out, key=lambda e: e.at, reverse=True)

