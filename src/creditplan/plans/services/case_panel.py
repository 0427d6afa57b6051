"""What could refuse an approval, read-only (issue 20 §3): every measure the reservation checks for a loan —
each quota the loan falls in on both of its measures (new lending and balance), whether it is frozen and how it
is controlled, the customer's and its groups' exposure against the concentration limits, the large-exposure
line, and each ratio cap the loan falls under — with what is left on each and whether `amount` would be refused.

This is the application page's quota panel: the reservation itself (`reservations.reserve_quota`) reads the same
figures under row locks in one statement and is the only thing that decides; this view takes no lock and writes
nothing, so it can be a moment out of date, never wrong about which measures apply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from creditplan.plans.domain import ControlMode
from creditplan.plans.domain import targets as t
from creditplan.plans.models import Plan, Quota, Reservation
from creditplan.plans.services.exposure import (
    concentration_limits,
    customer_exposure,
    customer_root_groups,
    group_exposure,
)
from creditplan.plans.services.records import quota_label, state_of
from creditplan.plans.services.targets import _cap_figures, _plan_caps

# What a measure would do to `amount`: "ok", "escalate" (a soft quota: a higher authority), "note" (monitor
# only: recorded), "refuse" (a hard quota, a frozen one, a concentration limit, a refusing ratio cap).
OK, ESCALATE, NOTE, REFUSE = "ok", "escalate", "note", "refuse"


@dataclass(frozen=True)
class Measure:
    """One figure that can refuse: `kind` new_lending | balance | frozen | single_customer | group |
    large_exposure | ratio_cap; `label` the quota's (or group's, cap's) name; amounts in fen; `verdict` for the
    amount asked (see OK…REFUSE). Ratio caps carry percentages (text) in `shares`."""

    kind: str
    label: str
    mode: str
    limit_minor: int | None
    used_minor: int | None
    available_minor: int | None
    verdict: str
    quota_id: int | None = None
    shares: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    plan: str  # the plan's code ("" when no active plan covers the day)
    plan_name: str
    amount_minor: int
    measures: list[Measure]
    reserved: bool  # the application already holds its reservation (its amount is in the figures)

    @property
    def refusing(self) -> list[Measure]:
        return [m for m in self.measures if m.verdict == REFUSE]

    @property
    def limiting(self) -> Measure | None:
        """The measure with the least left (the first to refuse)."""
        rows = [m for m in self.measures if m.available_minor is not None and m.kind != "large_exposure"]
        return min(rows, key=lambda m: m.available_minor or 0) if rows else None


def _verdict(amount: int, available: int, mode: str) -> str:
    if amount <= available:
        return OK
    return {ControlMode.HARD.value: REFUSE, ControlMode.SOFT.value: ESCALATE}.get(mode, NOTE)


def _quotas(plan: Plan, branch_path: str, product: str, industry: str, region: str, segment: str) -> list[Quota]:
    ancestors = [code for code in (branch_path or "").strip("/").split("/") if code]
    return list(Quota.objects.filter(plan=plan).filter(Q(branch__isnull=True) | Q(branch__code__in=ancestors))
                .filter(Q(product="") | Q(product=product)).filter(Q(industry="") | Q(industry=industry))
                .filter(Q(region="") | Q(region=region)).filter(Q(segment="") | Q(segment=segment))
                .select_related("branch").order_by("id"))


def what_would_refuse(*, application_ref: str, amount_minor: int, branch_path: str, branch_code: str,
                      product: str, industry: str = "", region: str = "", segment: str = "",
                      customer_id: int | None = None, on: dt.date | None = None) -> Panel:
    """Every measure the reservation of `amount_minor` for this loan would be checked against, with what is left
    on each and what it would do (read-only; see the module). An application that already holds its reservation
    is shown with its amount inside the figures (nothing is added again); `amount_minor` 0: the figures only."""
    on = on or timezone.localdate()
    plan = Plan.objects.filter(status="active", period_start__lte=on, period_end__gte=on).order_by("id").first()
    if plan is None:
        return Panel("", "", amount_minor, [], False)
    held = Reservation.objects.filter(plan=plan, application_ref=application_ref,
                                      status__in=("reserved", "escalated")).exists()
    ask = 0 if held else amount_minor
    measures: list[Measure] = []
    for q in _quotas(plan, branch_path, product, industry, region, segment):
        s = state_of(q)
        label = quota_label(q)
        if q.frozen:
            measures.append(Measure("frozen", label, q.control_mode, None, None, None,
                                    REFUSE if ask else OK, q.pk))
        measures.append(Measure("new_lending", label, q.control_mode, s.new_lending_limit, s.reserved + s.consumed,
                                s.available, _verdict(ask, s.available, q.control_mode), q.pk))
        measures.append(Measure("balance", label, q.control_mode, s.balance_limit, s.outstanding + s.reserved,
                                s.balance_available, _verdict(ask, s.balance_available, q.control_mode), q.pk))
    if customer_id is not None:
        limits = concentration_limits(on)
        if limits.capital_base_minor > 0:
            exposure = customer_exposure(customer_id)
            measures.append(Measure("single_customer", "", ControlMode.HARD.value, limits.single_customer_minor,
                                    exposure, limits.single_customer_minor - exposure,
                                    REFUSE if exposure + ask > limits.single_customer_minor else OK))
            for g in customer_root_groups(customer_id, on):
                used = group_exposure(g, on)
                measures.append(Measure("group", g.name, ControlMode.HARD.value, limits.group_minor, used,
                                        limits.group_minor - used,
                                        REFUSE if used + ask > limits.group_minor else OK))
            measures.append(Measure("large_exposure", "", ControlMode.MONITOR.value, limits.large_exposure_minor,
                                    exposure, limits.large_exposure_minor - exposure,
                                    NOTE if exposure + ask >= limits.large_exposure_minor else OK))
    caps = _plan_caps(plan)
    if caps:
        cell = {"branch": branch_code, "product": product, "industry": industry, "region": region,
                "segment": segment}
        hits = [c for c in caps if t.matches(c.numerator, cell)]
        for cap, (num, den) in zip(hits, _cap_figures(plan.pk, hits) if hits else [], strict=True):
            in_den = t.matches(cap.denominator, cell)
            check = t.check_cap(cap.threshold, num, den, max(ask, 1), in_numerator=True, in_denominator=in_den)
            room = t.cap_headroom(cap.threshold, num, den, in_denominator=in_den) or 0
            verdict = OK if (not ask or not check.breached) else (
                REFUSE if cap.control == t.Control.REFUSE else ESCALATE if cap.control == t.Control.ESCALATE
                else NOTE)
            mode = {t.Control.REFUSE.value: ControlMode.HARD.value, t.Control.ESCALATE.value: ControlMode.SOFT.value
                    }.get(str(cap.control), ControlMode.MONITOR.value)
            measures.append(Measure("ratio_cap", cap.name or cap.code, mode, None, None, room, verdict, shares={
                "cap": t.percent(cap.threshold), "now": t.percent(check.before) if check.before is not None else "",
                "after": t.percent(check.after)}))
    return Panel(plan.code, plan.name, amount_minor, measures, held)


def refusal_figures(q: Quota, amount_minor: int) -> dict[str, object]:
    """What a hard quota refusing `amount_minor` says besides its code (LimitExceeded.extra): the quota in words,
    the measure that refuses (new_lending, else balance), what is left on it and what was asked (fen)."""
    s = state_of(q)
    measure, left = ("new_lending", s.available) if amount_minor > s.available else ("balance", s.balance_available)
    return {"quota": quota_label(q), "measure": measure, "available_minor": left, "requested_minor": amount_minor}
