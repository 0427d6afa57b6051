"""`{% plan_book plan_id quota_rows as book %}` — the figures of the dashboard's book panel (templates/plans/
_book.html): the plan's opening balance, balance, net increase (净增), growth rate and new lending, the same for each
quota the dashboard shows, and the last reconciliation with the loans (plans.services.book_figures). The panel needs
nothing from the dashboard's view."""

from __future__ import annotations

from typing import Any

from django import template

from creditplan.core.errors import CreditplanError
from creditplan.plans import services

register = template.Library()


@register.simple_tag(takes_context=True)
def plan_book(context: Any, plan_id: int, rows: Any = None) -> dict[str, Any] | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None:
        return None
    ids = [int(r["id"]) for r in rows or () if isinstance(r, dict) and "id" in r]
    try:
        return services.book_figures(user, int(plan_id), ids)
    except CreditplanError:  # the dashboard already checked the plan and the permission; never break it here
        return None
