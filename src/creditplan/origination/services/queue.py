"""The review queue: referred (or info-requested) cases in the actor's branch scope, filtered, each with
whether the actor may approve it and why not — by default only those they may approve."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound, ValidationError
from creditplan.core.money import parse_minor
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.origination.domain import Status
from creditplan.origination.models import Approval, Transition
from creditplan.origination.services.records import ApplicationView, application_view, base_query
from creditplan.origination.services.review import Refusal, answer, approval_checks

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class QueueItem:
    application: ApplicationView
    age_hours: float
    may_approve: bool
    why_not: str
    approved_by_me: bool


def _amount_filter(value: Any, name: str) -> int | None:
    """An amount filter in yuan as typed → fen (the money edge; zero or more); blank: no filter."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_minor(value, name)


def review_queue(actor: Actor, filters: dict[str, Any] | None = None) -> list[QueueItem]:
    """Referred applications the actor may approve: in the actor's branch scope, within the authority matrix
    (`decisions.may_approve`), not entered or reviewed by the actor, and not already approved by the actor.
    `filters`: branch, product, grade, min_amount, max_amount (yuan), min_age_hours, max_age_hours, status
    (referred | info_requested), scope ("approvable", default for approvers; "all": every case in scope, each
    marked with whether the actor may approve it and why not)."""
    org.require(actor, Perm.APPLICATION_REVIEW)
    f = dict(filters or {})
    scope = f.get("scope") or ("approvable" if org.may(actor, Perm.APPLICATION_APPROVE) else "all")
    status = f.get("status") or Status.REFERRED
    if status not in (Status.REFERRED, Status.INFO_REQUESTED):
        raise ValidationError("status must be referred or info_requested", field="status", code="unknown_status")
    qs = org.scope_to_branches(actor, base_query().filter(status=status))
    if f.get("branch"):
        try:
            b = org.get_branch(str(f["branch"]).strip().upper())
        except NotFound:
            raise ValidationError(f"no active branch {f['branch']!r}", field="branch", code="unknown_branch") from None
        qs = qs.filter(branch__path__startswith=b.path)
    if f.get("product"):
        qs = qs.filter(product=str(f["product"]).strip().lower())
    if f.get("grade"):
        grades = f["grade"] if isinstance(f["grade"], list | tuple) else str(f["grade"]).split(",")
        qs = qs.filter(grade__in=[g.strip() for g in grades if g.strip()])
    low, high = _amount_filter(f.get("min_amount"), "min_amount"), _amount_filter(f.get("max_amount"), "max_amount")
    if low is not None:
        qs = qs.filter(amount_minor__gte=low)
    if high is not None:
        qs = qs.filter(amount_minor__lte=high)
    now = timezone.now()
    for key, lookup in (("min_age_hours", "queued_at__lte"), ("max_age_hours", "queued_at__gte")):
        if f.get(key) not in (None, ""):
            try:
                hours = float(f[key])
            except (TypeError, ValueError):
                raise ValidationError(f"{key} must be a number of hours", field=key, code="age_format") from None
            qs = qs.filter(**{lookup: now - dt.timedelta(hours=hours)})
    qs = qs.annotate(
        n_approvals=Count("approvals", filter=Q(approvals__decision="approve")),
        mine=Exists(Approval.objects.filter(application=OuterRef("pk"), user=actor, decision="approve")),
    ).order_by("queued_at", "id")
    items: list[QueueItem] = []
    rows = list(qs[: QUEUE_LIMIT * 2])
    reviewers: dict[int, set[int]] = {a.pk: ({a.reviewed_by_id} if a.reviewed_by_id else set()) for a in rows}
    for app_id, user_id in (Transition.objects.filter(application_id__in=list(reviewers),
                                                      to_status=Status.INFO_REQUESTED, actor__isnull=False)
                            .values_list("application_id", "actor_id")):
        reviewers[app_id].add(user_id)
    memo: dict[tuple, tuple[bool, str]] = {}
    may_decide = org.may(actor, Perm.APPLICATION_APPROVE)
    for a in rows:
        if may_decide:
            ok, why = answer(partial(approval_checks, actor, a, "approve", already_mine=a.mine,
                                     reviewers=reviewers[a.pk], memo=memo))
        else:
            ok, why = False, Refusal("your role does not approve applications", "permission_denied")
        if scope == "approvable" and not ok:
            continue
        age = (now - (a.queued_at or a.created_at)).total_seconds() / 3600
        items.append(QueueItem(application_view(a), round(age, 1), ok, why, bool(a.mine)))
        if len(items) >= QUEUE_LIMIT:
            break
    return items
