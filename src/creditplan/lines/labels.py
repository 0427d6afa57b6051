"""What the credit-line pages call things: the ONE table every code of the lines app goes through before a person
reads it (issue 20) — line states, kinds of change, change statuses, what occupies a line. It follows
risk/labels.py: pages call `label(kind, code)` (or the tables, for select choices); a Chinese page holds no English
and no page shows a raw code."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy

_TABLE: dict[str, dict[str, Promise]] = {
    "state": {
        "proposed": gettext_lazy("Awaiting approval"), "active": pgettext_lazy("credit line", "Active"),
        "frozen": gettext_lazy("Frozen"), "expired": gettext_lazy("Expired"), "closed": gettext_lazy("Closed"),
        "rejected": gettext_lazy("Rejected"),
    },
    "kind": {
        "open": gettext_lazy("New line"), "increase": gettext_lazy("Increase"), "reduce": gettext_lazy("Reduction"),
        "freeze": gettext_lazy("Freeze"), "unfreeze": gettext_lazy("Freeze lifted"), "close": gettext_lazy("Closing"),
        "extend": gettext_lazy("New expiry date"), "sub_limits": gettext_lazy("Sub-limits"),
    },
    "change_status": {
        "pending": gettext_lazy("Pending"), "approved": gettext_lazy("Approved"), "rejected": gettext_lazy("Rejected"),
    },
    "occupation": {
        "reserved": gettext_lazy("Approved, not paid out"), "used": gettext_lazy("Paid out"),
        "repaid": gettext_lazy("Repaid"), "released": gettext_lazy("Released"), "expired": gettext_lazy("Expired"),
    },
}


def label(kind: str, code: Any) -> str:
    """The text a person reads for `code` of `kind`, in the page's language (the code itself when unknown)."""
    key = "" if code is None else str(code)
    text = _TABLE[kind].get(key)
    return str(text) if text is not None else key


def table(kind: str) -> dict[str, Promise]:
    return _TABLE[kind]
