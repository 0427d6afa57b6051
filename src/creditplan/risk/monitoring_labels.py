"""What model monitoring's pages and the monthly report call things: verdicts, model roles, bin names, kinds.

Every code a person could otherwise see (a verdict, a role, "missing") goes through here, in the page's language.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

_VERDICTS: dict[str, Promise] = {
    "stable": pgettext_lazy("model monitoring", "Stable"),
    "watch": pgettext_lazy("model monitoring", "Watch"),
    "act": pgettext_lazy("model monitoring", "Act"),
    "insufficient_data": pgettext_lazy("model monitoring", "Insufficient data"),
}

_ROLES: dict[str, Promise] = {
    "champion": pgettext_lazy("model monitoring", "Champion"),
    "challenger": pgettext_lazy("model monitoring", "Challenger"),
    "other": pgettext_lazy("model monitoring", "Not serving"),
}

_KINDS: dict[str, Promise] = {
    "scorecard": pgettext_lazy("model monitoring", "Scorecard"),
    "tree": pgettext_lazy("model monitoring", "Decision tree"),
    "gbm": pgettext_lazy("model monitoring", "Gradient boosting"),
}

_BINS: dict[str, Promise] = {
    "special": pgettext_lazy("model monitoring", "Special codes"),
    "missing": pgettext_lazy("model monitoring", "Missing"),
    "all": pgettext_lazy("model monitoring", "All values"),
}


def verdict_label(code: str | None) -> str:
    return str(_VERDICTS.get(code or "insufficient_data", _VERDICTS["insufficient_data"]))


def role_label(code: str) -> str:
    return str(_ROLES.get(code, _ROLES["other"]))


def kind_label(code: str) -> str:
    text = _KINDS.get(code)
    return str(text) if text is not None else str(pgettext_lazy("model monitoring", "Model"))


def bin_label(text: str) -> str:
    """A bin as the reference names it: its range or categories, or a translated special / missing bin."""
    special = _BINS.get(text)
    return str(special) if special is not None else text


VERDICT_CLASSES = {"stable": "ok", "watch": "warn", "act": "bad", "insufficient_data": "muted"}
"""The CSS class of each verdict's badge."""
