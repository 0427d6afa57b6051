"""The quota tree of a plan: splitting a quota into children (each narrowing its parent, together not above it),
which quotas an actor is shown, and reading the tree, its counters and the applications behind a quota."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from creditplan.core.access import Actor, Perm, require, sees_all_branches
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.plans import domain
from creditplan.plans.domain import QuotaState, parse_plan_amount
from creditplan.plans.models import Quota
from creditplan.plans.services.book import open_children
from creditplan.plans.services.dimensions import clean_dimensions, within_parent
from creditplan.plans.services.plans import get_plan, parse_control_mode
from creditplan.plans.services.records import (
    QuotaView,
    ReservationView,
    quota_label,
    quota_view,
    reservation_view,
    state_of,
)


@transaction.atomic
def split_quota(actor: Actor, parent_quota_id: int, children: list[dict[str, Any]]) -> list[QuotaView]:
    """Add child quotas under a parent. Existing and new children together cannot exceed the parent."""
    require(actor, Perm.PLAN_MANAGE)
    try:
        parent = Quota.objects.select_for_update(of=("self",)).select_related("plan", "branch").get(pk=parent_quota_id)
    except Quota.DoesNotExist:
        raise NotFound(f"quota {parent_quota_id} not found", code="quota_not_found")
    if parent.plan.status == "closed":
        raise Conflict("the plan is closed", code="plan_closed")
    if not children:
        raise ValidationError("give at least one child quota", field="children", code="required")
    rows = []
    seen = set()
    for i, child in enumerate(children):
        try:
            dims = clean_dimensions(child)
            new_limit = parse_plan_amount(child.get("new_lending_limit", 0), "new_lending_limit")
            bal_limit = parse_plan_amount(child.get("balance_limit", 0), "balance_limit")
            mode = parse_control_mode(child.get("control_mode") or parent.control_mode)
        except ValidationError as exc:
            raise ValidationError(f"child {i + 1}: {exc.message}", field=exc.field, code=exc.code,
                                  extra={"child": i + 1, "problem": exc.message})
        problem = within_parent(parent, dims)
        if problem:
            raise ValidationError(f"child {i + 1}: {problem}", field="branch", code="child_outside_parent",
                                  extra={"child": i + 1, "problem": problem})
        key = (dims["branch"].pk if dims["branch"] else None, dims["product"], dims["industry"], dims["region"],
               dims["segment"])
        exists = parent.children.filter(branch=dims["branch"], product=dims["product"], industry=dims["industry"],
                                        region=dims["region"], segment=dims["segment"]).exists()
        if key in seen or exists:
            raise ValidationError(f"child {i + 1}: the same dimensions appear twice", field="children",
                                  extra={"child": i + 1, "problem": "the same dimensions appear twice"},
                                  code="duplicate_child")
        if key == (parent.branch_id, parent.product, parent.industry, parent.region, parent.segment):
            raise ValidationError(f"child {i + 1}: a child must narrow its parent", field="children",
                                  extra={"child": i + 1, "problem": "a child must narrow its parent"},
                                  code="child_same_as_parent")
        seen.add(key)
        rows.append(Quota(plan=parent.plan, parent=parent, control_mode=mode.value, new_lending_limit_minor=new_limit,
                          balance_limit_minor=bal_limit, **dims))
    existing = [(c.new_lending_limit_minor, c.balance_limit_minor) for c in parent.children.all()]
    problem = domain.split_problem(parent.new_lending_limit_minor, parent.balance_limit_minor,
                                   existing + [(r.new_lending_limit_minor, r.balance_limit_minor) for r in rows])
    if problem:
        raise ValidationError(problem, field="new_lending_limit", code="split_above_parent")
    for r in rows:
        r.save()
    open_children(parent.plan, rows, actor)  # issue 19 §5: their opening balance and balance, from the book
    ledger.append(actor, "plan.quota_split", "quota", parent.pk,
                  {"plan": parent.plan.code, "children": [{"id": r.pk, "label": quota_label(r),
                                                           "new_lending_limit_minor": r.new_lending_limit_minor,
                                                           "balance_limit_minor": r.balance_limit_minor,
                                                           "mode": r.control_mode} for r in rows]})
    return [quota_view(r) for r in rows]


def _quota(quota_id: int) -> Quota:
    try:
        return Quota.objects.select_related("plan", "branch", "parent").get(pk=quota_id)
    except Quota.DoesNotExist:
        raise NotFound(f"quota {quota_id} not found", code="quota_not_found")


def sees_quota(actor: Actor, q: Quota) -> bool:
    """What `plan_quotas` shows the actor: the institution-wide quotas, those of their branch subtree, and
    those of the branches above theirs (the frame their own quota sits in)."""
    return (q.branch_id is None or sees_all_branches(actor.role) or org.branch_in_scope(actor, q.branch)
            or (actor.branch is not None and actor.branch.path.startswith(q.branch.path)))


def visible_quota(actor: Actor, quota_id: int) -> Quota:
    """The quota, or the same 404 as a quota that does not exist when it is one the actor is not shown."""
    q = _quota(quota_id)
    if not sees_quota(actor, q):
        raise NotFound(f"quota {quota_id} not found", code="quota_not_found")
    return q


def plan_quotas(actor: Actor, plan_id: int) -> list[QuotaView]:
    """The quota tree in depth-first order; branch staff see their own subtree and the quotas above it."""
    get_plan(actor, plan_id)
    rows = list(Quota.objects.filter(plan_id=plan_id).select_related("branch").order_by("id"))
    by_parent: dict[int | None, list[Quota]] = {}
    for q in rows:
        by_parent.setdefault(q.parent_id, []).append(q)
    out: list[QuotaView] = []

    def walk(parent: int | None) -> None:
        for q in by_parent.get(parent, []):
            if sees_quota(actor, q):
                out.append(QuotaView(q.pk, q.parent_id, quota_label(q), q.branch.code if q.branch_id else "",
                                     q.product, q.industry, q.region, q.segment, q.control_mode, state_of(q),
                                     len(by_parent.get(q.pk, [])), q.frozen))
            walk(q.pk)

    walk(None)
    return out


def quota_states(plan_id: int) -> dict[int, QuotaState]:
    return {q.pk: state_of(q) for q in Quota.objects.filter(plan_id=plan_id)}


def explain_quota(actor: Actor, quota_id: int) -> list[ReservationView]:
    """Why is this much reserved or used here? The applications behind it — those of the actor's own branch
    subtree (head-office roles: all): a quota above the actor's branch (the root, their branch's parent) also
    carries other branches' reservations, which are not theirs to see. A quota the actor is not shown at all
    answers like one that does not exist."""
    require(actor, Perm.PLAN_VIEW)
    q = visible_quota(actor, quota_id)
    rows = org.scope_to_branches(actor, q.reservations.exclude(status__in=("released", "expired")))
    return [reservation_view(r) for r in rows.order_by("-id")]
