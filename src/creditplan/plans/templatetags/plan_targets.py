"""`{% plan_targets plan_id today as rows %}` — the rows of the dashboard's targets panel (templates/plans/
_targets.html), so the panel needs nothing from the dashboard's view: the targets of the plan with their status and
pace in the page's language (plans.target_views.target_rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from creditplan.core.errors import CreditplanError
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans.target_views import target_rows

register = template.Library()


@register.simple_tag(takes_context=True)
def plan_targets(context: Any, plan_id: int, today: Any = None) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None:
        return {"rows": [], "may_manage": False}
    on = today if isinstance(today, dt.date) else (dt.date.fromisoformat(today) if today else None)
    try:
        rows = target_rows(user, int(plan_id), on)
    except CreditplanError:  # the dashboard already checked the plan and the permission; never break it here
        rows = []
    return {"rows": rows, "may_manage": org.may(user, Perm.PLAN_MANAGE)}
