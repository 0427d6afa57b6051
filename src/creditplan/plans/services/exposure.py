"""A customer's and a group's exposure on the whole book, for the pages and the API: every live loan's outstanding
principal (whatever plan it came under, or none) plus every open reservation (approved, not yet paid out, in any
plan), for the customer or every member, on the day, of every active group under the group's root. The reservation's
own check reads the same figures inside its one statement (plans.sql.checks_select); tests compare the two
(tests/plans/test_exposure_19.py). The limits are the active plan's shares of the capital base in force
(plans.services.capital; the plan's net capital when none is approved)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, Sum
from django.utils import timezone

from creditplan.customers.models import CustomerGroup, GroupMember
from creditplan.plans import sql
from creditplan.plans.domain.exposure import ConcentrationLimits, describe, limit_of
from creditplan.plans.models import Plan, Reservation
from creditplan.plans.services.capital import current_capital_base
from creditplan.plans.services.sources import book

OPEN = ("reserved", "escalated")


def _loans_outstanding(customer_ids: list[int]) -> int:
    source = book()
    if source is None or not customer_ids:
        return 0
    return sql.loans_outstanding(source.customer_outstanding_sql(), customer_ids)


def _reserved(customer_ids: list[int]) -> int:
    return int(Reservation.objects.filter(customer_ref__in=[str(c) for c in customer_ids], status__in=OPEN)
               .aggregate(s=Sum("amount_minor"))["s"] or 0)


def customer_exposure(customer_id: int) -> int:
    """Outstanding principal of every live loan of the customer plus its open reservations (fen)."""
    return _loans_outstanding([customer_id]) + _reserved([customer_id])


def _current(on: dt.date, prefix: str = "") -> Q:
    return (Q(**{prefix + "effective_from__lte": on})
            & (Q(**{prefix + "effective_to__isnull": True}) | Q(**{prefix + "effective_to__gte": on})))


def group_members(group: CustomerGroup, on: dt.date | None = None) -> list[int]:
    """The customers of the group's whole tree (the group's root and every active group under it) on the day."""
    on = on or timezone.localdate()
    root = group.root_id or group.pk
    rows = GroupMember.objects.filter(Q(group__root_id=root) | Q(group_id=root), _current(on),
                                      group__status="active")
    return sorted(set(rows.values_list("customer_id", flat=True)))


def group_exposure(group: CustomerGroup, on: dt.date | None = None) -> int:
    """The exposure of every current member of the group's tree, added up (fen)."""
    members = group_members(group, on)
    return _loans_outstanding(members) + _reserved(members)


def customer_root_groups(customer_id: int, on: dt.date | None = None) -> list[CustomerGroup]:
    """The root groups whose limit applies to the customer on the day: the root (or the group itself at the top)
    of every active group the customer is a member of — several when it belongs to groups of different trees."""
    on = on or timezone.localdate()
    groups = CustomerGroup.objects.filter(pk__in=GroupMember.objects.filter(
        _current(on), customer_id=customer_id, group__status="active").values("group_id"))
    roots = {g.root_id or g.pk for g in groups}
    return list(CustomerGroup.objects.filter(pk__in=roots, status="active").order_by("code"))


@dataclass(frozen=True)
class Limits:
    """The concentration limits in fen on a day: the capital base and where it came from ("capital_base": an
    approved one; "plan": the active plan's net capital; "none"), and each limit."""

    capital_base_minor: int
    source: str
    single_customer_minor: int
    group_minor: int
    large_exposure_minor: int
    single_customer_bp: int
    group_bp: int
    large_exposure_bp: int


def concentration_limits(on: dt.date | None = None) -> Limits:
    """The limits a reservation on the day is checked against: the active plan's shares (the regulatory defaults
    when no plan covers the day) of the capital base in force."""
    on = on or timezone.localdate()
    plan = (Plan.objects.filter(status="active", period_start__lte=on, period_end__gte=on).order_by("id").first())
    shares = (ConcentrationLimits(plan.single_customer_bp, plan.group_bp, plan.large_exposure_bp) if plan
              else ConcentrationLimits())
    base = current_capital_base(on)
    if base is not None:
        capital, source = base.amount_minor, "capital_base"
    elif plan is not None:
        capital, source = plan.net_capital_minor, "plan"
    else:
        capital, source = 0, "none"
    return Limits(capital, source, limit_of(capital, shares.single_customer_bp), limit_of(capital, shares.group_bp),
                  limit_of(capital, shares.large_exposure_bp), shares.single_customer_bp, shares.group_bp,
                  shares.large_exposure_bp)


def concentration_reason(figures: dict) -> tuple[str, str]:
    """A concentration refusal's figures (LimitExceeded.extra) in English and Chinese, amounts in yuan."""
    return describe(figures)
