"""The execution dashboard: plan against actual for a plan or one branch's quota — utilisation, pace, the daily
series, the period-end forecast term by term, alerts and the deviation ranking. Amounts in fen; shares as floats
(display only: every figure is computed exactly first, plans.domain.forecast and plans.domain.periods).

The forecast of each quota (docs/plan-forecast.md): consumed + reserved + the applications in progress that the
quota covers × their stage's historical conversion (plans.services.sources.pipeline(), origination) + the run-rate
over the remaining business days (core.calendar with settings.CREDITPLAN_HOLIDAYS / CREDITPLAN_WORKDAYS); the
balance forecast starts from the outstanding balance and takes off the principal scheduled to be repaid until the
period end (plans.services.sources.book(), loans). A quota covers an application or a loan when the loan's branch is
its branch or below it and every dimension the quota names (product, industry, region, segment) is the loan's.

Pace is the used share of the new-lending limit ÷ the share expected by today: the elapsed share of the period, or,
when the plan is split into months (plans.services.periods), the cumulative monthly shares to date (the current
month pro rata). "ahead" / "behind" beyond the plan's pace margin, "on plan" within it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.calendar import BusinessCalendar
from creditplan.core.errors import NotFound
from creditplan.org import services as org
from creditplan.plans import domain
from creditplan.plans.domain import forecast as fc
from creditplan.plans.domain import periods as period_rules
from creditplan.plans.models import Adjustment, Movement, Plan, Reservation
from creditplan.plans.services.periods import month_use
from creditplan.plans.services.plans import get_plan
from creditplan.plans.services.quotas import plan_quotas
from creditplan.plans.services.records import QuotaView
from creditplan.plans.services.sources import Cell, book, pipeline

#: the stages of an application in progress, in the order of the process (how the pipeline is listed)
STAGE_ORDER = ("submitted", "referred", "info_requested", "approved", "contract_offered", "signed", "ready_to_disburse")


def business_calendar() -> BusinessCalendar:
    """The institution's working days (the same settings as loans' due-date roll and origination's service levels)."""
    return BusinessCalendar.of(getattr(settings, "CREDITPLAN_HOLIDAYS", ()) or (),
                               getattr(settings, "CREDITPLAN_WORKDAYS", ()) or ())


@dataclass(frozen=True)
class _Scope:
    """What a quota covers: a branch path prefix ("" = every branch) and the dimensions it names."""

    path: str
    product: str
    industry: str
    region: str
    segment: str

    def covers(self, path: str, cell: Cell) -> bool:
        return (path.startswith(self.path) and (not self.product or self.product == cell.product)
                and (not self.industry or self.industry == cell.industry)
                and (not self.region or self.region == cell.region)
                and (not self.segment or self.segment == cell.segment))


def _fraction(value: Any) -> Fraction:
    return Fraction(value) if isinstance(value, Fraction | int) else Fraction(str(value))


@dataclass(frozen=True)
class ExecutionInputs:
    """What the forecast reads once for the whole dashboard."""

    clock: fc.BusinessClock
    applications: list[tuple[str, str, Cell, int]]  # (stage, branch path, cell with the amount, applications)
    conversion: dict[str, Fraction]
    repayments: list[tuple[str, Cell]]  # (branch path, cell)
    months: list[period_rules.Period]


def execution_inputs(plan: Plan, today: dt.date) -> ExecutionInputs:
    clock = fc.business_clock(business_calendar(), plan.period_start, plan.period_end, today)
    paths = {b.pk: b.path for b in org.list_all_branches()}
    applications: list[tuple[str, str, Cell, int]] = []
    conversion: dict[str, Fraction] = {}
    source = pipeline()
    if source is not None and not clock.ended:
        # added up by stage and cell first: every quota then looks at a few hundred cells, not every application
        cells: dict[tuple[str, Cell], list[int]] = defaultdict(lambda: [0, 0])
        for stage, c in source.in_progress():
            total = cells[(stage, replace(c, amount=0))]
            total[0] += c.amount
            total[1] += 1
        applications = [(stage, paths.get(c.branch_id, ""), replace(c, amount=amount), n)
                        for (stage, c), (amount, n) in cells.items()]
        conversion = {stage: _fraction(rate) for stage, rate in source.conversion().items()}
    repayments: list[tuple[str, Cell]] = []
    loans = book()
    if loans is not None and not clock.ended:
        first = max(today + dt.timedelta(days=1), plan.period_start)
        repayments = [(paths.get(c.branch_id, ""), c) for c in loans.scheduled_principal(first, plan.period_end)]
    months = [period_rules.Period(p.kind, p.seq, p.start, p.end, p.share_bp)
              for p in plan.periods.filter(kind="month").order_by("seq")]
    return ExecutionInputs(clock, applications, conversion, repayments, months)


def quota_forecast(q: QuotaView, scope: _Scope, inputs: ExecutionInputs) -> tuple[fc.Forecast, dict[str, Any]]:
    """The quota's forecast, and its pipeline by stage (applications, amount, rate, expected)."""
    s = q.state
    covered = [(stage, c.amount, n) for stage, path, c, n in inputs.applications if scope.covers(path, c)]
    mine = [(stage, amount) for stage, amount, _n in covered]
    stages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for stage, amount, n in covered:
        stages[stage][0] += n
        stages[stage][1] += amount
    repaid = sum(c.amount for path, c in inputs.repayments if scope.covers(path, c))
    f = fc.forecast(consumed=s.consumed, reserved=s.reserved, outstanding=s.outstanding,
                    pipeline=fc.pipeline_expected(mine, inputs.conversion), repayments=repaid, clock=inputs.clock)
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    by_stage = {stage: {"applications": n, "amount": amount,
                        "rate": float(inputs.conversion.get(stage, Fraction(0))),
                        "rate_pct": round(float(inputs.conversion.get(stage, Fraction(0))) * 100, 1),
                        "expected": fc.pipeline_expected([(stage, amount)], inputs.conversion)}
                for stage, (n, amount) in sorted(stages.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))}
    return f, {"applications": sum(n for _s, _a, n in covered), "stages": by_stage}


def forecast_dict(f: fc.Forecast) -> dict[str, int]:
    return {"consumed": f.consumed, "reserved": f.reserved, "pipeline": f.pipeline, "run_rate": f.run_rate,
            "new_lending": f.new_lending, "coming": f.reserved + f.pipeline + f.run_rate,
            "outstanding": f.outstanding, "repayments": f.repayments, "balance": f.balance, "elapsed_business_days": f.elapsed_business_days,
            "remaining_business_days": f.remaining_business_days}


def _scopes(quotas: Iterable[QuotaView]) -> dict[int, _Scope]:
    paths = {b.code: b.path for b in org.list_all_branches()}
    return {q.id: _Scope(paths.get(q.branch, "\0") if q.branch else "", q.product, q.industry, q.region, q.segment)
            for q in quotas}


def plan_dashboard(actor: Actor, plan_id: int, *, branch: str | None = None, today: dt.date | None = None
                   ) -> dict[str, Any]:
    """Plan vs actual for a plan (or one branch's quota): utilisation, pace against the plan's pace line, the
    daily series, the forecast term by term, alerts and the ranking of the focus's children by deviation.
    Amounts in fen; shares as floats for charts (display only)."""
    plan_view = get_plan(actor, plan_id)
    plan = Plan.objects.get(pk=plan_id)
    today = today or timezone.localdate()
    quotas = plan_quotas(actor, plan_id)
    if branch:
        heads = [q for q in quotas if q.branch == branch.upper()]
        if not heads:
            raise NotFound(f"no quota for branch {branch} in this plan", code="quota_not_found")
        subtree = {heads[0].id}
        for q in quotas:  # depth-first order: a parent always comes before its children
            if q.parent_id in subtree:
                subtree.add(q.id)
        quotas = [q for q in quotas if q.id in subtree]
    focus = quotas[0] if quotas else None
    inputs = execution_inputs(plan, today)
    scopes = _scopes(quotas)
    if inputs.months:
        expected = period_rules.expected_share(inputs.months, today)
    else:
        expected = domain.elapsed_share(plan.period_start, plan.period_end, today)
    month = period_rules.month_of(inputs.months, today)
    control = plan.period_control if month is not None else "none"
    used_in_month: dict[int, int] = {}
    if control == "lapse" and month is not None:
        used_in_month = month_use([q.id for q in quotas], month.start, month.end)
    holding = dict(Reservation.objects.filter(quotas__in=[q.id for q in quotas], status__in=("reserved", "escalated"))
                   .values("quotas").annotate(n=Count("id")).order_by().values_list("quotas", "n"))

    def row(q: QuotaView) -> dict[str, Any]:
        s = q.state
        p = fc.pace_against(s.reserved + s.consumed, s.new_lending_limit, expected)
        f, pipe = quota_forecast(q, scopes[q.id], inputs)
        usable = None
        if control in ("roll", "lapse") and month is not None:
            usable = period_rules.usable(control, s.new_lending_limit, month_bp=month.share_bp,
                                         cumulative_bp=period_rules.cumulative_bp(inputs.months, today),
                                         used_to_date=s.reserved + s.consumed, month_use=used_in_month.get(q.id, 0))
        return {
            "id": q.id, "label": q.label, "branch": q.branch, "mode": q.control_mode, "parent_id": q.parent_id,
            "new_lending_limit": s.new_lending_limit, "balance_limit": s.balance_limit, "reserved": s.reserved,
            "consumed": s.consumed, "available": s.available, "outstanding": s.outstanding,
            "utilisation": float(s.utilisation), "pace": float(p) if p is not None else None,
            "pace_status": fc.pace_status(p, plan.pace_margin_pct),
            "forecast": forecast_dict(f), "forecast_new_lending": f.new_lending, "forecast_balance": f.balance,
            "pipeline": pipe, "pipeline_applications": holding.get(q.id, 0),
            "month_usable": usable,
            "balance_utilisation": float((s.outstanding + s.reserved) / s.balance_limit) if s.balance_limit else 0.0,
        }

    rows = [row(q) for q in quotas]
    alerts = []
    elapsed = float(domain.elapsed_share(plan.period_start, plan.period_end, today))
    for r in rows:
        used = r["utilisation"] * 100
        crossed = [t for t in plan.alert_thresholds_pct if used >= t]
        if crossed:
            alerts.append({"quota": r["label"], "kind": "utilisation", "level": "act" if max(crossed) >= 100 else "watch",
                           "message": f"utilisation {used:.1f} % ≥ {max(crossed)} %"})
        if r["pace"] is not None and abs(r["pace"] - 1) * 100 > plan.pace_margin_pct and elapsed >= 0.05:
            alerts.append({"quota": r["label"], "kind": "pace", "level": "watch",
                           "message": f"pace {r['pace']:.2f} (used {used:.1f} % vs {float(expected) * 100:.1f} % "
                                      "of the period)"})
    series = []
    if focus is not None:
        daily = (Movement.objects.filter(quota_id=focus.id).values("on_date")
                 .annotate(r=Sum("reserved_delta"), c=Sum("consumed_delta"), o=Sum("outstanding_delta"))
                 .order_by("on_date"))
        acc_c = acc_r = acc_o = 0
        limit = focus.state.new_lending_limit
        for d in daily:
            acc_c, acc_r, acc_o = acc_c + (d["c"] or 0), acc_r + (d["r"] or 0), acc_o + (d["o"] or 0)
            line = (period_rules.expected_share(inputs.months, d["on_date"]) if inputs.months
                    else domain.elapsed_share(plan.period_start, plan.period_end, d["on_date"]))
            series.append({"date": d["on_date"].isoformat(), "consumed": acc_c, "reserved": acc_r,
                           "outstanding": acc_o, "plan": int(limit * line)})
    children = [r for r in rows if focus is not None and r["parent_id"] == focus.id]
    adjustments = dict(Adjustment.objects.filter(quota_id__in=[r["id"] for r in children]).values("quota_id")
                       .annotate(n=Count("id")).order_by().values_list("quota_id", "n"))
    by_id = {r["id"]: r for r in children}
    order = fc.rank(fc.Deviation(r["branch"] or r["label"], r["forecast_new_lending"], r["new_lending_limit"], r["id"])
                    for r in children)
    ranking = []
    for d in order:
        r = by_id[d.ref]
        share = d.share
        ranking.append({"label": r["label"], "branch": r["branch"], "quota_id": r["id"],
                        "utilisation": r["utilisation"], "forecast": d.forecast, "limit": d.limit,
                        "deviation": float(share) if share is not None else None,
                        "deviation_pct": round(float(share) * 100, 1) if share is not None else None,
                        "direction": d.direction, "pace": r["pace"], "pace_status": r["pace_status"],
                        "idle": r["available"], "adjustments": adjustments.get(r["id"], 0)})
    periods_info = None
    if inputs.months:
        periods_info = {"control": plan.period_control, "expected_share": float(expected),
                        "expected_pct": round(float(expected) * 100, 1),
                        "month": ({"seq": month.seq, "start": month.start.isoformat(), "end": month.end.isoformat(),
                                   "share_bp": month.share_bp,
                                   "cumulative_bp": period_rules.cumulative_bp(inputs.months, today),
                                   "share_pct": f"{month.share_bp / 100:.2f}",
                                   "cumulative_pct": f"{period_rules.cumulative_bp(inputs.months, today) / 100:.2f}"}
                                  if month is not None else None)}
    return {"plan": {"id": plan_view.id, "code": plan_view.code, "name": plan_view.name,
                     "period": [plan.period_start.isoformat(), plan.period_end.isoformat()],
                     "status": plan.status, "elapsed": elapsed, "expected": float(expected),
                     "today": today.isoformat(), "elapsed_business_days": inputs.clock.elapsed,
                     "remaining_business_days": inputs.clock.remaining},
            "focus": rows[0] if rows else None, "quotas": rows, "series": series, "alerts": alerts,
            "ranking": ranking, "periods": periods_info, "conversion": {k: float(v) for k, v in inputs.conversion.items()},
            "pending_quota_ids": sorted(q.id for q in quotas)}
