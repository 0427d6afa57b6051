"""The plan's book measures for the dashboard (opening balance, balance, net increase 净增, growth rate, new lending),
for the whole plan and each quota shown, with the last reconciliation (plans.services.book keeps the figures)."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from creditplan.core.access import Actor, Perm, require
from creditplan.plans import sql
from creditplan.plans.domain.book import BookMeasures
from creditplan.plans.models import BookCell, Quota
from creditplan.plans.services.book import last_reconciliation, plan_row
from creditplan.plans.services.quotas import plan_quotas
from creditplan.plans.services.records import quota_label


def _measures_dict(m: BookMeasures) -> dict[str, Any]:
    rate = m.growth_rate
    return {"opening": m.opening, "balance": m.balance, "net_increase": m.net_increase, "new_lending": m.new_lending,
            "growth_rate": rate, "growth_pct": float(rate * 100) if rate is not None else None}


def book_figures(actor: Actor, plan_id: int, quota_ids: list[int] | None = None) -> dict[str, Any]:
    """The plan's book measures (for the dashboard; amounts in fen, the growth rate an exact Fraction and, for
    display only, a percentage): the whole plan, each quota named that the actor is shown (opening balance and
    balance from the quota, new lending from the cells it covers), and the last reconciliation."""
    require(actor, Perm.PLAN_VIEW)
    plan = plan_row(plan_id)
    if quota_ids:
        shown = {q.id for q in plan_quotas(actor, plan_id)}
        quota_ids = [qid for qid in quota_ids if qid in shown]
    total = BookCell.objects.filter(plan_id=plan_id).aggregate(o=Sum("opening_minor"), b=Sum("outstanding_minor"),
                                                               n=Sum("new_lending_minor"))
    whole = BookMeasures(int(total["o"] or 0), int(total["b"] or 0), int(total["n"] or 0))
    quotas = []
    if quota_ids:
        sums = sql.quota_cell_sums(plan_id, list(quota_ids))
        rows = {q.pk: q for q in Quota.objects.filter(plan_id=plan_id, pk__in=quota_ids).select_related("branch")}
        for qid in quota_ids:
            q = rows.get(qid)
            if q is None:
                continue
            m = BookMeasures(q.opening_balance_minor, q.outstanding_minor, sums.get(qid, (0, 0, 0))[2])
            quotas.append({"id": qid, "label": quota_label(q), **_measures_dict(m)})
    return {"opened": plan.opening_date is not None, "opening_date": plan.opening_date,
            "period_start": plan.period_start,
            "plan": _measures_dict(whole), "quotas": quotas, "reconciliation": last_reconciliation(plan_id)}


