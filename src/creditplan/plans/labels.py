"""What the credit-plan pages call things: the ONE table every code of the plans app goes through before a person
reads it (issue 20) — plan and request statuses, control modes, the two measures, branch levels, roles, the
dimensions a quota is split by, group relations. It follows risk/labels.py: pages, the Excel exports and the
template filter `plan_label` (plans/templatetags/plan_labels.py) call `label(kind, code)`; a Chinese page holds no
English and no page shows a raw code.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy

from creditplan.core.access import ROLE_LABELS, Role


def chinese() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


_TABLE: dict[str, dict[str, Promise]] = {
    # a plan, a reservation, an adjustment request, a capital base proposal, a group change
    "status": {
        "draft": gettext_lazy("Draft"), "active": gettext_lazy("Active"), "closed": gettext_lazy("Closed"),
        "reserved": gettext_lazy("Reserved"), "escalated": gettext_lazy("Escalated"),
        "consumed": gettext_lazy("Consumed"), "repaid": gettext_lazy("Repaid"), "released": gettext_lazy("Released"),
        "expired": gettext_lazy("Expired"), "pending": gettext_lazy("Pending"), "approved": gettext_lazy("Approved"),
        "rejected": gettext_lazy("Rejected"), "superseded": gettext_lazy("Superseded"),
        "applied": gettext_lazy("Applied"), "refused": gettext_lazy("Refused"),
        "dissolved": gettext_lazy("Dissolved"),
    },
    "mode": {"hard": gettext_lazy("Hard"), "soft": gettext_lazy("Soft"), "monitor": gettext_lazy("Monitor only")},
    "measure": {"new_lending": gettext_lazy("New-lending quota"), "balance": gettext_lazy("Balance quota")},
    "level": {
        "head_office": pgettext_lazy("branch level", "Head office"), "branch": pgettext_lazy("branch level", "Branch"),
        "sub_branch": pgettext_lazy("branch level", "Sub-branch"),
    },
    "dimension": {
        "branch": gettext_lazy("Branch"), "product": gettext_lazy("Product"), "industry": gettext_lazy("Industry"),
        "region": gettext_lazy("Region"), "segment": gettext_lazy("Segment"),
    },
    "period_control": {
        "none": gettext_lazy("The months draw the pace line only"),
        "roll": gettext_lazy("A month's unused quota rolls into the next month"),
        "lapse": gettext_lazy("A month's unused quota lapses"),
    },
}


def label(kind: str, code: Any) -> str:
    """The text a person reads for `code` of `kind`, in the page's language (the code itself when unknown)."""
    key = "" if code is None else str(code)
    if kind == "role":
        try:
            en, zh = ROLE_LABELS[Role(key)]
        except ValueError:
            return key
        return zh if chinese() else en
    table = _TABLE.get(kind)
    if table is None:
        raise KeyError(f"no label table {kind}")
    text = table.get(key)
    return str(text) if text is not None else key


def table(kind: str) -> dict[str, Promise]:
    """The (code → lazy label) table of `kind`, for select choices and the views' lookups."""
    return _TABLE[kind]
