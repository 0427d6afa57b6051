"""A customer's and a group's exposure on the whole book, for the pages and the API: every live loan's outstanding
principal (whatever plan it came under, or none) plus every open reservation (approved, not yet paid out), for the
customer or every current member of the group's tree. The reservation's own check reads the same figures inside its
one statement (plans.sql.checks_select); tests compare the two."""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum
from django.utils import timezone

from creditplan.customers.models import CustomerGroup, GroupMember
from creditplan.plans import sql
from creditplan.plans.models import Reservation
from creditplan.plans.services.sources import book

OPEN = ("reserved", "escalated")


def _loans_outstanding(customer_ids: list[int]) -> int:
    source = book()
    if source is None or not customer_ids:
        return 0
    return sql.loans_outstanding(source.customer_outstanding_sql(), customer_ids)


def customer_exposure(customer_id: int) -> int:
    """Outstanding principal of every live loan of the customer plus its open reservations (fen)."""
    reserved = (Reservation.objects.filter(customer_ref=str(customer_id), status__in=OPEN)
                .aggregate(s=Sum("amount_minor"))["s"] or 0)
    return _loans_outstanding([customer_id]) + int(reserved)


def group_members(group: CustomerGroup, on: dt.date | None = None) -> list[int]:
    """The customers of the group's whole tree (the group's root and every group under it) on the day."""
    on = on or timezone.localdate()
    root = group.root_id or group.pk
    rows = (GroupMember.objects.filter(group__root_id=root) | GroupMember.objects.filter(group_id=root))
    rows = rows.filter(effective_from__lte=on).exclude(effective_to__lt=on)
    return sorted(set(rows.values_list("customer_id", flat=True)))


def group_exposure(group: CustomerGroup, on: dt.date | None = None) -> int:
    """The exposure of every current member of the group's tree, added up (fen)."""
    members = group_members(group, on)
    reserved = (Reservation.objects.filter(customer_ref__in=[str(m) for m in members], status__in=OPEN)
                .aggregate(s=Sum("amount_minor"))["s"] or 0)
    return _loans_outstanding(members) + int(reserved)
