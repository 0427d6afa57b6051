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


# the behaviour model's features (risk.domain.behaviour.FEATURES), for a version whose monitoring carries no texts
_FEATURES: dict[str, Promise] = {
    "dpd_now": pgettext_lazy("model feature", "Days past due at the month end"),
    "worst_dpd_3m": pgettext_lazy("model feature", "Worst days past due, last 3 months"),
    "worst_dpd_6m": pgettext_lazy("model feature", "Worst days past due, last 6 months"),
    "worst_dpd_12m": pgettext_lazy("model feature", "Worst days past due, last 12 months"),
    "months_delinquent_6m": pgettext_lazy("model feature", "Months overdue in the last 6"),
    "pay_to_due_3m": pgettext_lazy("model feature", "Paid against due, last 3 months"),
    "pay_to_due_6m": pgettext_lazy("model feature", "Paid against due, last 6 months"),
    "utilisation": pgettext_lazy("model feature", "Credit utilisation"),
    "months_on_book": pgettext_lazy("model feature", "Months on book"),
}


def feature_label(name: str) -> str:
    """A behaviour feature in words (the name itself for a feature this table does not know)."""
    text = _FEATURES.get(name)
    return str(text) if text is not None else name


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
