"""What the risk pages call things: the ONE table every code of risk monitoring goes through before a person reads
it — dimensions and their members, delinquency buckets, five-category classes, green / amber / red, alert statuses,
alert rules, resolution reasons, the fact tables, units, directions, modes, frequencies, owner roles — and the
translated text of every refusal the risk services can give.

Why one table: a Chinese page holds no English and no page shows a raw code or an enum value. Pages, the Excel
exports and the charts all call `label(kind, code)`; a code the table does not know is a programming error that the
page tests find (they look for raw codes on every page in both languages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _

from creditplan.common.text import problem_text
from creditplan.core.access import ROLE_LABELS, Role
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.risk.domain.catalogue import DIMENSIONS, FACTS
from creditplan.risk.domain.facts import UNKNOWN


def chinese() -> bool:
    """Whether the page is in Chinese (the default language of the product)."""
    return not (get_language() or "zh-hans").startswith("en")


_TABLE: dict[str, dict[str, Promise]] = {
    "rag": {
        "green": pgettext_lazy("risk", "Green"), "amber": pgettext_lazy("risk", "Amber"),
        "red": pgettext_lazy("risk", "Red"), "none": pgettext_lazy("risk", "No value"),
    },
    "status": {
        "open": pgettext_lazy("risk alert", "Open"), "acknowledged": pgettext_lazy("risk alert", "Acknowledged"),
        "resolved": pgettext_lazy("risk alert", "Resolved"), "all": pgettext_lazy("risk alert", "All"),
    },
    "rule": {
        "red": pgettext_lazy("risk rule", "The value is red"),
        "amber": pgettext_lazy("risk rule", "The value is amber or red"),
        "worsening": pgettext_lazy("risk rule", "The value worsens several periods in a row"),
    },
    "resolution": {
        "action_taken": pgettext_lazy("risk", "Action taken"),
        "within_appetite": pgettext_lazy("risk", "Within the risk appetite after review"),
        "data_error": pgettext_lazy("risk", "The figure came from wrong data"),
        "threshold_reviewed": pgettext_lazy("risk", "Threshold reviewed and changed"),
        "other": pgettext_lazy("risk", "Other (see the note)"),
    },
    "bucket": {
        "0": pgettext_lazy("risk bucket", "Current"), "1": pgettext_lazy("risk bucket", "1–30 days"),
        "2": pgettext_lazy("risk bucket", "31–60 days"), "3": pgettext_lazy("risk bucket", "61–90 days"),
        "4": pgettext_lazy("risk bucket", "91–180 days"), "5": pgettext_lazy("risk bucket", "181–270 days"),
        "6": pgettext_lazy("risk bucket", "271–360 days"), "7": pgettext_lazy("risk bucket", "Over 360 days"),
    },
    "class": {
        "1": gettext_lazy("Normal"), "2": gettext_lazy("Special mention"), "3": gettext_lazy("Substandard"),
        "4": gettext_lazy("Doubtful"), "5": gettext_lazy("Loss"),
    },
    "fact": {
        "loans": pgettext_lazy("risk fact", "Loans on the book"),
        "applications": pgettext_lazy("risk fact", "Applications of the last 30 days"),
        "quotas": pgettext_lazy("risk fact", "Quotas of the active credit plan"),
    },
    "unit": {
        "ratio": pgettext_lazy("risk unit", "Ratio (shown as a percentage)"),
        "number": pgettext_lazy("risk unit", "Number"),
    },
    "worse": {
        "up": pgettext_lazy("risk", "Worse when higher"), "down": pgettext_lazy("risk", "Worse when lower"),
    },
    "mode": {
        "level": pgettext_lazy("risk", "On the level"),
        "change": pgettext_lazy("risk", "On the change from the previous period"),
    },
    "frequency": {
        "daily": pgettext_lazy("risk", "Daily"), "weekly": pgettext_lazy("risk", "Weekly"),
        "monthly": pgettext_lazy("risk", "Monthly"),
    },
    "channel": {
        "web": pgettext_lazy("risk channel", "Online"), "api": pgettext_lazy("risk channel", "Mobile app / API"),
        "branch": pgettext_lazy("risk channel", "At a branch"),
        "booked": pgettext_lazy("risk channel", "Booked without an application"),
    },
    "engine": {
        "local": pgettext_lazy("risk engine", "this server"), "spark": pgettext_lazy("risk engine", "a cluster"),
    },
    "bad": {
        "30": pgettext_lazy("risk", "30+ days past due"), "90": pgettext_lazy("risk", "90+ days past due"),
    },
    "kind": {
        "amount": pgettext_lazy("risk field", "Amount (fen)"), "number": pgettext_lazy("risk field", "Number"),
        "score": pgettext_lazy("risk field", "Score"), "category": pgettext_lazy("risk field", "Code"),
        "flag": pgettext_lazy("risk field", "Yes / no"),
    },
}

OWNER_ROLES = ("risk_manager", "planner", "operations", "approver")
"""The roles an indicator may be owned by (as the indicator service accepts them)."""


def label(kind: str, code: Any) -> str:
    """The text a person reads for `code` of `kind`, in the page's language."""
    key = "" if code is None else str(code)
    if kind == "dimension":
        pair = DIMENSIONS.get(key)
        return _pick(pair) if pair else key
    if kind == "owner_role":
        try:
            return _pick(ROLE_LABELS[Role(key)])
        except ValueError:
            return key
    table = _TABLE.get(kind)
    if table is None:
        raise KeyError(f"no label table {kind}")
    text = table.get(key)
    return str(text) if text is not None else key


def choices(kind: str) -> list[tuple[str, str]]:
    """(code, label) pairs of a table, in its order, for a select."""
    if kind == "dimension":
        return [(d, label("dimension", d)) for d in DIMENSIONS]
    if kind == "owner_role":
        return [(r, label("owner_role", r)) for r in OWNER_ROLES]
    return [(k, str(v)) for k, v in _TABLE[kind].items()]


def rule_label(kind: str, periods: int = 3) -> str:
    if kind == "worsening":
        return _("Worsens %(n)s periods in a row") % {"n": periods}
    return label("rule", kind)


def field_label(fact: str, name: str) -> str:
    """A field of a fact table, as the catalogue names it in both languages."""
    f = FACTS.get(fact, {}).get(name)
    return _pick((f.label_en, f.label_zh)) if f is not None else name


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if chinese() else pair[0]


def indicator_name(name_en: str, name_zh: str) -> str:
    """An indicator's name in the page's language (a definition without the other name shows the one it has)."""
    return (name_zh or name_en) if chinese() else (name_en or name_zh)


def member_label(dimension: str, member: str, names: Mapping[str, str] | None = None) -> str:
    """One member of a dimension as a person reads it: a province for a region code, an industry section for its
    letter, a channel in words, the branch's name beside its code (`names`: code → name, from the caller)."""
    if dimension == "total":
        return label("dimension", "total")
    if member == UNKNOWN or member == "":
        return str(pgettext_lazy("risk", "Not recorded"))
    if dimension == "industry" and member in INDUSTRY_SECTIONS:
        zh, en, _lo, _hi = INDUSTRY_SECTIONS[member]
        return f"{member} {zh if chinese() else en}"
    if dimension == "region" and member[:2] in PROVINCES:
        return _pick((PROVINCES[member[:2]][1], PROVINCES[member[:2]][0]))
    if dimension == "channel":
        return label("channel", member)
    if dimension == "product" and names and member in names:
        return names[member]  # a product's code is a word of English: its name alone, in the page's language
    if dimension == "branch" and names and member in names:
        return f"{member} {names[member]}"
    return member


def format_value(value: float | None, unit: str) -> str:
    """An indicator's value as pages show it: a ratio as a percentage with two decimals, a number with two."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:,.2f} %"
    return f"{value:,.2f}"


def format_threshold(value: Any, unit: str, mode: str) -> str:
    """A threshold: for a ratio on the level a percentage; on the change, percentage points."""
    v = float(value)
    if unit == "ratio":
        return f"{v * 100:,.2f} %" if mode == "level" else _("%(v)s percentage points") % {"v": f"{v * 100:,.2f}"}
    return f"{v:,.2f}"


# --- refusals ----------------------------------------------------------------------------------------------

_RISK_TEXT: dict[str, Promise] = {
    "required": gettext_lazy("This field is required."),
    "too_long": pgettext_lazy("risk", "This text is too long."),
    "code_format": pgettext_lazy("risk", "The code has letters, digits, - and _ only."),
    "duplicate_indicator": pgettext_lazy("risk", "An indicator with this code already exists."),
    "unknown_fact": pgettext_lazy("risk", "Choose the data the indicator is computed over."),
    "dimensions_format": pgettext_lazy("risk", "Choose the dimensions from the list."),
    "unknown_unit": pgettext_lazy("risk", "Choose how the value is shown."),
    "unknown_frequency": pgettext_lazy("risk", "Choose how often the indicator is judged."),
    "unknown_worse": pgettext_lazy("risk", "Choose in which direction the indicator worsens."),
    "unknown_mode": pgettext_lazy("risk", "Choose whether the thresholds apply to the level or the change."),
    "unknown_owner_role": pgettext_lazy("risk", "Choose the role that owns the indicator's alerts."),
    "threshold_not_number": pgettext_lazy("risk", "The threshold must be a number, e.g. 0.02 for 2 %."),
    "rules_format": pgettext_lazy("risk", "Choose the alert rules from the list."),
    "unknown_rule": pgettext_lazy("risk", "Unknown alert rule: red, amber or worsening."),
    "periods_out_of_range": pgettext_lazy("risk", "A worsening rule counts from 2 to 24 periods in a row."),
    # formulas (risk.domain.formula); those that name a part of the formula are worded in `formula_problem`
    "formula_required": pgettext_lazy("risk", "Write the formula."),
    "formula_too_long": pgettext_lazy("risk", "The formula is too long or too complicated (at most 2,000 "
                                              "characters)."),
    "formula_no_aggregate": pgettext_lazy("risk", "The formula must add up the data: use sum(…), count(…), mean(…) "
                                                  "or top_share(…)."),
    # alerts
    "alert_not_open": pgettext_lazy("risk", "Only an open alert can be acknowledged."),
    "alert_resolved": pgettext_lazy("risk", "This alert is already resolved."),
    "unknown_resolution": pgettext_lazy("risk", "Choose why the alert is resolved."),
    "note_required": pgettext_lazy("risk", "Say in the note why the alert is resolved."),
    "unknown_status": pgettext_lazy("risk", "Unknown alert status."),
    # dates and snapshots (the codes a page's error page shows are in common.text, where the fallback finds them)
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "close_not_run": pgettext_lazy("risk", "The daily close of this date has not run: indicators are computed "
                                           "after the close."),
    "snapshot_not_kept": pgettext_lazy("risk", "The book has been closed for a later date: this date's book was not "
                                               "kept."),
}

_FORMULA_TEXT: dict[str, Promise] = {
    "unknown_field": pgettext_lazy("risk", "Unknown field “%(subject)s”: the fields of this data are listed below."),
    "unknown_function": pgettext_lazy("risk", "Unknown function “%(subject)s”: use sum, count, mean or top_share."),
    "wrong_arguments": pgettext_lazy("risk", "“%(subject)s” has the wrong arguments: sum(field, condition), "
                                             "count(condition), mean(field, condition), top_share(field, n)."),
    "field_not_numeric": pgettext_lazy("risk", "“%(subject)s” is not a number: only amounts, numbers and scores "
                                               "are added up."),
    "bare_field": pgettext_lazy("risk", "The field “%(subject)s” must be inside sum(…), mean(…) or a condition."),
    "condition_not_flag": pgettext_lazy("risk", "“%(subject)s” is not a yes/no field: compare it with a value."),
    "type_mismatch": pgettext_lazy("risk", "“%(subject)s” is compared with a value of the wrong kind (a number, a "
                                           "code in quotes, or True / False)."),
    "formula_syntax": pgettext_lazy("risk", "The formula cannot be read at “%(subject)s”: use numbers, + - * /, "
                                            "sum, count, mean, top_share and comparisons."),
}


def risk_problem(code: str, message: str) -> str:
    """A refusal of the risk services in the page's language: the service's own (precise) sentence on an English
    page, the translation of its code otherwise (the shared table of common.text for codes not risk's own)."""
    if not chinese():
        return message[:1].upper() + message[1:]
    text = _RISK_TEXT.get(code)
    return str(text) if text is not None else problem_text(code, message)


def formula_problem(code: str, message: str, subject: str) -> str:
    """A formula refused by the indicator language, naming the offending part in both languages."""
    if not chinese():
        return message[:1].upper() + message[1:]
    if code == "formula_syntax" and subject.isdigit():
        return str(pgettext_lazy("risk", "The formula cannot be read near character %(n)s.")) % {"n": subject}
    text = _FORMULA_TEXT.get(code)
    if text is not None:
        return str(text) % {"subject": subject or "…"}
    return risk_problem(code, message)
