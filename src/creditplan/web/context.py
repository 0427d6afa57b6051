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
    ("scoring:models", _("Models"), Perm.MODEL_VIEW),
    ("web:audit", _("Audit trail"), Perm.AUDIT_VIEW),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    items = [
        {"url": reverse(name), "label": label, "active": request.path == reverse(name)
         or (name != "web:home" and request.path.startswith(reverse(name)))}
        for name, label, perm in _MENU
        if perm is None or has_perm(user.role, perm)
    ]
    try:
        en, zh = ROLE_LABELS[Role(user.role)]
    except ValueError:
        en = zh = user.role
    lang = getattr(request, "LANGUAGE_CODE", "zh-hans")
    return {"nav": items, "role_label": zh if lang.startswith("zh") else en}
