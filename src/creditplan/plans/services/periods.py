"""Plan periods (issue 19 §7): an annual plan split into months and quarters by shares or by the previous year's
curve, the pace line they draw, and the month's usable quota when a month's unused quota rolls over or lapses
(Plan.period_control). The rules are plans.domain.periods'; docs/plan-forecast.md explains them with an example.

The monthly check of a reservation (`check_month`) reads what `plans.sql.plan_and_locked_quotas` already read in its
one statement (the plan's period control, the month's share, the cumulative share, and — under "lapse" — each locked
quota's use in the month): no round trip of its own, except under "lapse" when another reservation moved the quotas
while this one waited for their locks (then the month's use is read again under the locks, like the exposure checks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Sum

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, LimitExceeded, NotFound, ValidationError
from creditplan.core.money import format_minor
from creditplan.ledger import services as ledger
from creditplan.plans.domain import ControlMode, Outcome
from creditplan.plans.domain import periods as rules
from creditplan.plans.models import Movement, Plan, PlanPeriod, Quota
from creditplan.plans.services.records import quota_label
from creditplan.plans.services.sources import book

#: the movements that change what a quota has used (reserved + consumed): an approval, its release or expiry, and
#: its payout (a payout below the approval gives the rest back)
USE_KINDS = ("reserve", "release", "expire", "consume")


@dataclass(frozen=True)
class PeriodsView:
    plan_id: int
    control: str
    months: list[rules.Period]
    quarters: list[rules.Period]
    source: str = ""  # how the shares were made: shares | previous_plan | book | equal


def _plan_for_update(plan_id: int) -> Plan:
    try:
        plan = Plan.objects.select_for_update().get(pk=plan_id)
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found") from None
    if plan.status == "closed":
        raise Conflict("the plan is closed", code="plan_closed")
    return plan


def _clean_control(control: Any, current: str) -> str:
    value = current if control in (None, "") else str(control).strip().lower()
    if value not in rules.CONTROLS:
        raise ValidationError("period control must be none, roll or lapse", field="period_control",
                              code="unknown_period_control")
    return value


def _domain(rows: list[PlanPeriod]) -> list[rules.Period]:
    return [rules.Period(p.kind, p.seq, p.start, p.end, p.share_bp) for p in rows]


def _view(plan: Plan, source: str = "") -> PeriodsView:
    periods = _domain(list(plan.periods.order_by("kind", "seq")))
    return PeriodsView(plan.pk, plan.period_control, [p for p in periods if p.kind == "month"],
                       [p for p in periods if p.kind == "quarter"], source)


def _store(actor: Actor, plan: Plan, periods: list[rules.Period], control: str, source: str) -> PeriodsView:
    plan.periods.all().delete()
    PlanPeriod.objects.bulk_create([PlanPeriod(plan=plan, seq=p.seq, kind=p.kind, start=p.start, end=p.end,
                                               share_bp=p.share_bp) for p in periods])
    plan.period_control = control
    plan.save(update_fields=["period_control"])
    ledger.append(actor, "plan.periods_set", "plan", plan.code, {
        "control": control, "source": source,
        "months": [[p.start.isoformat(), p.share_bp] for p in periods if p.kind == "month"]})
    return _view(plan, source)


@transaction.atomic
def set_periods(actor: Actor, plan_id: int, *, months: list[Any] | None = None, quarters: list[Any] | None = None,
                period_control: Any = None) -> PeriodsView:
    """Split the plan into months (and their quarters) by the shares given, in basis points (10000 = the year):
    by month, by quarter (split evenly over its months) or both (the months must add up to each quarter)."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    control = _clean_control(period_control, plan.period_control)
    periods = rules.split(plan.period_start, plan.period_end, months=months, quarters=quarters)
    return _store(actor, plan, periods, control, "shares")


def previous_year(plan: Plan) -> tuple[list[int], str]:
    """Each month's new lending a year before the plan's months, and where it came from: the previous plan's
    movements (its root quota's consumption by value date), else the loan book's disbursements, else nothing."""
    months = rules.months_of(plan.period_start, plan.period_end)
    wanted = [(s.year - 1, s.month) for s, _e in months]
    first = dt.date(wanted[0][0], wanted[0][1], 1)
    y, m = wanted[-1]
    last = dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)  # the end of the last month a year before
    prev = (Plan.objects.filter(period_end__lt=plan.period_start).exclude(pk=plan.pk)
            .order_by("-period_end", "-id").first())
    if prev is not None:
        by_month: dict[tuple[int, int], int] = {}
        rows = (Movement.objects.filter(quota__plan=prev, quota__parent__isnull=True, on_date__gte=first,
                                        on_date__lte=last, consumed_delta__gt=0)
                .values("on_date").annotate(total=Sum(F("consumed_delta"))).order_by())
        for r in rows:
            key = (r["on_date"].year, r["on_date"].month)
            by_month[key] = by_month.get(key, 0) + int(r["total"] or 0)
        amounts = [by_month.get(k, 0) for k in wanted]
        if sum(amounts) > 0:
            return amounts, "previous_plan"
    source = book()
    disbursed = getattr(source, "disbursed_by_month", None)
    if disbursed is not None:
        found = disbursed(first, last)
        amounts = [int(found.get(k, 0)) for k in wanted]
        if sum(amounts) > 0:
            return amounts, "book"
    return [0] * len(wanted), "equal"


@transaction.atomic
def periods_from_previous_year(actor: Actor, plan_id: int, *, period_control: Any = None) -> PeriodsView:
    """Split the plan by the previous year's curve: each month's share of the previous year's new lending (the
    previous plan's, else the loan book's); a year with none gives equal shares (source "equal")."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    control = _clean_control(period_control, plan.period_control)
    amounts, source = previous_year(plan)
    curve = rules.from_curve(plan.period_start, plan.period_end, amounts)
    return _store(actor, plan, curve.periods, control, "equal" if curve.equal else source)


@transaction.atomic
def set_period_control(actor: Actor, plan_id: int, period_control: Any) -> PeriodsView:
    """none / roll / lapse. Roll and lapse need the plan's months first."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    control = _clean_control(period_control or "none", plan.period_control)
    if control != "none" and not plan.periods.filter(kind="month").exists():
        raise ValidationError("split the plan into months before a month's unused quota can roll over or lapse",
                              field="period_control", code="periods_required")
    plan.period_control = control
    plan.save(update_fields=["period_control"])
    ledger.append(actor, "plan.period_control_set", "plan", plan.code, {"control": control})
    return _view(plan)


@transaction.atomic
def clear_periods(actor: Actor, plan_id: int) -> PeriodsView:
    """Remove the plan's months and quarters (the pace goes back to the calendar; no monthly limit)."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    plan.periods.all().delete()
    plan.period_control = "none"
    plan.save(update_fields=["period_control"])
    ledger.append(actor, "plan.periods_cleared", "plan", plan.code, {})
    return _view(plan)


def plan_periods(actor: Actor, plan_id: int) -> PeriodsView:
    require(actor, Perm.PLAN_VIEW)
    try:
        return _view(Plan.objects.get(pk=plan_id))
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found") from None


def month_use(quota_ids: list[int], start: dt.date, end: dt.date) -> dict[int, int]:
    """Each quota's use in a month: the net change of reserved + consumed by its movements dated in it."""
    rows = (Movement.objects.filter(quota_id__in=quota_ids, on_date__gte=start, on_date__lte=end, kind__in=USE_KINDS)
            .values("quota_id").annotate(used=Sum(F("reserved_delta") + F("consumed_delta"))).order_by())
    return {r["quota_id"]: int(r["used"] or 0) for r in rows}


# --- the monthly check of a reservation -----------------------------------------------------------------------------

def check_month(plan: Plan, known: dict[str, Any], quotas: list[Quota], amount: int, on: dt.date,
                outcome: Outcome, reasons: list[str]) -> tuple[Outcome, list[str]]:
    """Under "roll" or "lapse", each quota the loan falls in may use only the month's usable amount (see
    plans.domain.periods.usable): a hard quota refuses (LimitExceeded, code period_quota_exceeded, with the month,
    the usable amount and the request in yuan), a soft one escalates, a monitor-only one records the reason.
    Called by reserve_quota after the quota checks, before anything is written; `known["period"]` is what the
    reservation's one statement read (plans.sql.period_select)."""
    info = known.get("period") or {}
    control = info.get("control") or "none"
    if control not in ("roll", "lapse") or info.get("month_bp") is None:
        return outcome, reasons
    use: dict[int, int] = info.get("month_use") or {}
    if control == "lapse" and not info.get("fresh", True):
        use = month_use([q.pk for q in quotas], info["month_start"], info["month_end"])
    month = info["month_start"].strftime("%Y-%m")
    for q in quotas:
        usable = rules.usable(control, q.new_lending_limit_minor, month_bp=int(info["month_bp"]),
                              cumulative_bp=int(info["cumulative_bp"] or 0),
                              used_to_date=q.reserved_minor + q.consumed_minor, month_use=use.get(q.pk, 0))
        if amount <= usable:
            continue
        room = max(usable, 0)
        message = (f"{quota_label(q)}: {format_minor(room)} yuan usable in {month} "
                   f"({'unused quota rolls over' if control == 'roll' else 'unused quota lapses'}), "
                   f"{format_minor(amount)} yuan requested")
        mode = ControlMode(q.control_mode)
        if mode is ControlMode.HARD:
            raise LimitExceeded(message, code="period_quota_exceeded", field="amount",
                                extra={"quota_id": q.pk, "month": month, "usable": format_minor(room),
                                       "requested": format_minor(amount), "period_control": control})
        if mode is ControlMode.SOFT:
            outcome = Outcome.ESCALATED
        reasons.append(message)
    return outcome, reasons
