"""The execution dashboard: plan against actual for a plan or one branch's quota — utilisation, pace, the daily
series, a period-end forecast, alerts and a branch ranking. Amounts in fen; shares as floats (display only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound
from creditplan.plans import domain
from creditplan.plans.models import Adjustment, Movement, Plan, Reservation
from creditplan.plans.services.plans import get_plan
from creditplan.plans.services.quotas import plan_quotas
from creditplan.plans.services.records import QuotaView


def plan_dashboard(actor: Actor, plan_id: int, *, branch: str | None = None, today: dt.date | None = None
                   ) -> dict[str, Any]:
    """Plan vs actual for a plan (or one branch's quota): utilisation, pace, the daily series, a period-end
    forecast, alerts and a branch ranking. Amounts in fen; shares as floats for charts (display only)."""
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
    pending = {q.id: q for q in quotas}

    def row(q: QuotaView) -> dict[str, Any]:
        s = q.state
        p = domain.pace(s, plan.period_start, plan.period_end, today)
        pipeline = Reservation.objects.filter(quotas=q.id, status__in=("reserved", "escalated")).count()
        forecast = domain.forecast_new_lending(s.consumed, s.reserved, 0, plan.period_start, plan.period_end, today)
        return {
            "id": q.id, "label": q.label, "branch": q.branch, "mode": q.control_mode, "parent_id": q.parent_id,
            "new_lending_limit": s.new_lending_limit, "balance_limit": s.balance_limit, "reserved": s.reserved,
            "consumed": s.consumed, "available": s.available, "outstanding": s.outstanding,
            "utilisation": float(s.utilisation), "pace": float(p) if p is not None else None,
            "forecast_new_lending": forecast, "pipeline_applications": pipeline,
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
                           "message": f"pace {r['pace']:.2f} (used {used:.1f} % vs {elapsed * 100:.1f} % of the period)"})
    series = []
    if focus is not None:
        daily = (Movement.objects.filter(quota_id=focus.id).values("on_date")
                 .annotate(r=Sum("reserved_delta"), c=Sum("consumed_delta"), o=Sum("outstanding_delta"))
                 .order_by("on_date"))
        acc_c = acc_r = acc_o = 0
        limit = focus.state.new_lending_limit
        total_days = (plan.period_end - plan.period_start).days + 1
        for d in daily:
            acc_c, acc_r, acc_o = acc_c + (d["c"] or 0), acc_r + (d["r"] or 0), acc_o + (d["o"] or 0)
            day_no = (d["on_date"] - plan.period_start).days + 1
            series.append({"date": d["on_date"].isoformat(), "consumed": acc_c, "reserved": acc_r,
                           "outstanding": acc_o, "plan": limit * max(0, min(day_no, total_days)) // total_days})
    children = [r for r in rows if focus is not None and r["parent_id"] == focus.id]
    adjustments = Adjustment.objects.filter(quota__plan_id=plan_id)
    ranking = []
    for r in children:
        deviation = (r["utilisation"] - elapsed) * 100
        ranking.append({"label": r["label"], "branch": r["branch"], "utilisation": r["utilisation"],
                        "deviation_pct_points": round(deviation, 1), "idle": r["available"],
                        "adjustments": adjustments.filter(quota_id=r["id"]).count()})
    ranking.sort(key=lambda x: abs(x["deviation_pct_points"]))
    return {"plan": {"id": plan_view.id, "code": plan_view.code, "name": plan_view.name,
                     "period": [plan.period_start.isoformat(), plan.period_end.isoformat()],
                     "status": plan.status, "elapsed": elapsed, "today": today.isoformat()},
            "focus": rows[0] if rows else None, "quotas": rows, "series": series, "alerts": alerts,
            "ranking": ranking, "pending_quota_ids": sorted(pending)}
