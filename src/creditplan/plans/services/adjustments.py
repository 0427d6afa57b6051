"""Reallocation: a branch asks head office for more new-lending quota or gives unused quota back; another user
with plan rights decides (maker-checker). An approved change moves the quota's limit like any other counter
change: a Movement row and a ledger event."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.plans import domain, sql
from creditplan.plans.domain import parse_plan_amount
from creditplan.plans.models import Adjustment, Quota
from creditplan.plans.services.quotas import visible_quota
from creditplan.plans.services.records import AdjustmentView, adjustment_view


@transaction.atomic
def request_adjustment(actor: Actor, quota_id: int, delta: Any, reason: str) -> AdjustmentView:
    """A branch asks for more (positive delta) or gives unused quota back (negative)."""
    require(actor, Perm.QUOTA_REQUEST)
    q = visible_quota(actor, quota_id)
    if q.branch_id and not org.branch_in_scope(actor, q.branch):  # a quota above theirs: seen, not theirs
        raise Forbidden("this quota belongs to another branch", code="branch_out_of_scope")
    minor = parse_plan_amount(delta, "delta", allow_zero=False, allow_negative=True)
    if not (reason or "").strip():
        raise ValidationError("a reason is required", field="reason", code="required")
    a = Adjustment.objects.create(quota=q, delta_minor=minor, reason=reason.strip()[:300], requested_by=actor)
    ledger.append(actor, "plan.adjustment_requested", "adjustment", a.pk,
                  {"quota": q.pk, "delta_minor": minor, "reason": a.reason})
    return adjustment_view(a)


@transaction.atomic
def decide_adjustment(actor: Actor, adjustment_id: int, *, approve: bool, note: str = "") -> AdjustmentView:
    """Head office decides. An approved increase must fit in the parent's unallocated room; a give-back
    cannot go below what is already used."""
    require(actor, Perm.PLAN_MANAGE)
    try:
        a = (Adjustment.objects.select_for_update(of=("self",)).select_related("quota", "requested_by")
             .get(pk=adjustment_id))
    except Adjustment.DoesNotExist:
        raise NotFound(f"adjustment {adjustment_id} not found", code="adjustment_not_found")
    if a.status != "pending":
        raise Conflict(f"adjustment {adjustment_id} is already {a.status}", code="adjustment_decided")
    if a.requested_by_id == actor.pk:
        raise Conflict("maker-checker: you cannot decide your own request", code="maker_checker")
    if approve:
        # lock the quota and its parent together, in id order like reserve_quota, so the two cannot deadlock
        locked = {x.pk: x for x in Quota.objects.select_for_update()
                  .filter(pk__in=[a.quota_id, a.quota.parent_id or a.quota_id]).order_by("id")}
        q = locked[a.quota_id]
        new_limit = q.new_lending_limit_minor + a.delta_minor
        if new_limit < q.reserved_minor + q.consumed_minor:
            raise Conflict("cannot give back quota that is already reserved or used", code="adjust_below_used")
        if q.parent_id:
            parent = locked[q.parent_id]
            siblings = [(c.new_lending_limit_minor + (a.delta_minor if c.pk == q.pk else 0), c.balance_limit_minor)
                        for c in parent.children.all()]
            problem = domain.split_problem(parent.new_lending_limit_minor, parent.balance_limit_minor, siblings)
            if problem:
                raise Conflict(f"not enough unallocated quota in the parent: {problem}", code="split_above_parent")
        sql.move([q], None, "adjust", actor, limit=a.delta_minor)
    a.status = "approved" if approve else "rejected"
    a.decided_by, a.decided_at, a.decision_note = actor, timezone.now(), (note or "")[:300]
    a.save()
    ledger.append(actor, f"plan.adjustment_{a.status}", "adjustment", a.pk, {"delta_minor": a.delta_minor,
                                                                             "note": a.decision_note})
    return adjustment_view(a)


def list_adjustments(actor: Actor, plan_id: int) -> list[AdjustmentView]:
    require(actor, Perm.PLAN_VIEW)
    rows = Adjustment.objects.filter(quota__plan_id=plan_id).select_related("quota", "quota__branch",
                                                                            "requested_by", "decided_by")
    return [adjustment_view(a) for a in rows.order_by("-id")]
