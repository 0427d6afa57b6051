"""What the scoring pages call things: the ONE table the demo scorecard's inputs, their categories, model statuses
and kinds go through before a person reads them (the case page's scorecard inputs, the registry, the report).

`feature_label(name)` and `feature_value_label(name, value)` give the page's language; an input or category the
table does not know (a model trained on other data) is shown as it is — a model's own names are its author's.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language, pgettext_lazy

from creditplan.scoring.domain.vocabulary import FEATURES, GERMAN_BUREAU, UNITS, VALUES, Pair

# Inputs scored before the demo spoke the product's words (a database seeded by an older demo) are read through
# the recipe's map: `checking_status` A11 is the current account's "overdrawn".
_OLD_NAMES = {old: (new, codes) for old, (new, codes) in GERMAN_BUREAU.items()}


def chinese() -> bool:
    """Whether the page is in Chinese (the product's default language)."""
    return not (get_language() or "zh-hans").startswith("en")


def _pick(pair: Pair) -> str:
    return pair[1] if chinese() else pair[0]


def feature_label(name: str) -> str:
    """An input's name in the page's language (the input's own name where the table does not know it)."""
    pair = FEATURES.get(name) or FEATURES.get(_OLD_NAMES.get(name, ("", {}))[0])
    return _pick(pair) if pair else name


def feature_value_label(name: str, value: Any) -> str:
    """An input's value in the page's language: a category in words, money in yuan, a count with its unit."""
    if value is None or value == "":
        return "—"
    if name in _OLD_NAMES:
        new, codes = _OLD_NAMES[name]
        return feature_value_label(new, codes.get(str(value), value))
    if isinstance(value, bool):
        return _pick(("Yes", "是") if value else ("No", "否"))
    categories = VALUES.get(name)
    if categories is not None:
        pair = categories.get(str(value))
        return _pick(pair) if pair else str(value)
    if name.endswith("_minor") and isinstance(value, int):
        from creditplan.core.money import format_minor

        return f"{format_minor(value)} " + _pick(("yuan", "元"))
    unit = UNITS.get(name)
    if unit is not None and _pick(unit):
        return f"{value} {_pick(unit)}" if not chinese() else f"{value}{_pick(unit)}"
    return str(value)


_STATUS = {"draft": pgettext_lazy("model status", "Draft"), "validated": pgettext_lazy("model status", "Validated"),
           "approved": pgettext_lazy("model status", "Approved"),
           "champion": pgettext_lazy("model status", "Champion"),
           "retired": pgettext_lazy("model status", "Retired")}
_KIND = {"scorecard": pgettext_lazy("model kind", "Scorecard"), "tree": pgettext_lazy("model kind", "Decision tree"),
         "gbm": pgettext_lazy("model kind", "Gradient boosting (LightGBM)")}


def label(kind: str, code: Any) -> str:
    """A model `status` or `kind` in words."""
    table = {"status": _STATUS, "kind": _KIND}[kind]
    key = "" if code is None else str(code)
    text = table.get(key)
    return str(text) if text is not None else key
