"""Navigation per role: each user sees the menu of what their role may do."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from creditplan.org.domain import ROLE_LABELS, Perm, Role, has_perm

_MENU: list[tuple[str, Any, Perm | None]] = [
    ("web:home", _("Dashboard"), None),
    ("web:customers", _("Customers"), Perm.CUSTOMER_VIEW),
    ("plans:plans", _("Credit plan"), Perm.PLAN_VIEW),
    ("lines:lines", _("Credit lines"), Perm.CUSTOMER_VIEW),
    ("risk_reviews:tasks", _("Review tasks"), Perm.LINE_PROPOSE),  # post-loan reviews: officers, approvers, risk
    ("origination:queue", _("Applications"), Perm.APPLICATION_VIEW),
    ("origination:analytics", _("Process analytics"), Perm.APPLICATION_ANALYTICS),
    ("risk:overview", _("Risk"), Perm.RISK_VIEW),
    ("loans:loans", _("Loans"), Perm.LOAN_VIEW),
    ("loans:calculator", _("Schedule calculator"), None),
    ("scoring:models", _("Models"), Perm.MODEL_VIEW),
    ("decisions:policies", _("Credit policies"), Perm.POLICY_VIEW),
    ("web:audit", _("Audit trail"), Perm.AUDIT_VIEW),
    ("integration:webhooks", _("Integration"), Perm.INTEGRATION_MANAGE),
    ("org:users", _("Administration"), Perm.USER_MANAGE),  # users, roles, branches (org/views.py)
]
# A customer's own loans live on the staff list's URL (it shows them theirs only); they hold no staff permission.
_CUSTOMER_MENU: list[tuple[str, Any]] = [("loans:loans", _("My loans")),
                                          ("integration:notifications", _("My messages"))]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    items = [{"url": reverse(name), "label": label} for name, label, perm in _MENU
             if perm is None or has_perm(user.role, perm)]
    if user.role == Role.CUSTOMER:
        items[1:1] = [{"url": reverse(name), "label": label} for name, label in _CUSTOMER_MENU]
    # The item whose URL is the longest prefix of this page's is the one highlighted (/applications/analytics/
    # is "Process analytics", not also "Applications"); the dashboard only on itself.
    matches = [i for i in items if request.path == i["url"] or (i["url"] != "/" and request.path.startswith(i["url"]))]
    best = max(matches, key=lambda i: len(i["url"]), default=None)
    for i in items:
        i["active"] = i is best
    try:
        en, zh = ROLE_LABELS[Role(user.role)]
    except ValueError:
        en = zh = user.role
    lang = getattr(request, "LANGUAGE_CODE", "zh-hans")
    return {"nav": items, "role_label": zh if lang.startswith("zh") else en}
