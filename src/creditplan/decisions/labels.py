"""What the decision pages call things: the ONE table the decision engine's codes go through before a person reads
them — outcomes (approve / refer / decline), policy version statuses, plan-quota results, the levels of a
validation problem, roles and branch levels — and products by their names, never their codes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, gettext_lazy, pgettext_lazy

from creditplan.decisions.domain.authority import LEVEL_TEXT
from creditplan.org.domain import ROLE_LABELS, Role


def chinese() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


_TABLE: dict[str, dict[str, Promise]] = {
    "outcome": {"approve": gettext_lazy("Approve"),
                "refer": gettext_lazy("Refer to a reviewer"),
                "decline": gettext_lazy("Decline")},
    "status": {"draft": gettext_lazy("Draft"),
               "validated": gettext_lazy("Validated"),
               "submitted": gettext_lazy("Awaiting approval"),
               "published": gettext_lazy("Published"),
               "retired": gettext_lazy("Retired")},
    "quota": {"reserved": gettext_lazy("Quota reserved"),
              "escalated": gettext_lazy("Soft quota exceeded: escalated"),
              "refused": gettext_lazy("Hard quota refused"),
              "unavailable": gettext_lazy("No plan quota available"),
              "not_requested": gettext_lazy("Quota not requested"),
              "not_checked": gettext_lazy("Quota not checked"),
              "untracked": gettext_lazy("Quota not tracked")},
    "problem_level": {"error": pgettext_lazy("policy problem", "Error"),
                      "warning": pgettext_lazy("policy problem", "Warning")},
}


def label(kind: str, code: Any) -> str:
    """The text a person reads for `code` of `kind` in the page's language (roles and branch levels too)."""
    key = "" if code is None else str(code)
    if kind == "role":
        try:
            return ROLE_LABELS[Role(key)][1 if chinese() else 0]
        except ValueError:
            return key
    if kind == "level":
        pair = LEVEL_TEXT.get(key)
        return pair[1 if chinese() else 0] if pair else key
    text = _TABLE[kind].get(key)
    return str(text) if text is not None else key


def product_names(products: Iterable[Any]) -> dict[str, str]:
    """Product code → its name in the page's language (the Chinese name where no English one is stored)."""
    english = not chinese()
    return {p.code: (getattr(p, "name_en", "") or p.name) if english else p.name for p in products}


# --- a policy's own names (JDM tables, columns, nodes) ------------------------------------------------------
# A policy document names its tables and columns; the default policy stores each name in both languages
# (``name_en`` / ``name_zh``, decisions.domain.defaults). Where a document stores one name only (an older
# version, an uploaded file), the words below stand in for the default policy's names and for the facts the
# engine supplies (decisions.domain.kernel.build_facts); anything else is the author's own name, shown as written.
_TABLE_NAMES: dict[str, Promise] = {
    "Knock-outs": gettext_lazy("Knock-outs"), "Score cut-offs": gettext_lazy("Score cut-offs"),
}
FACT_LABELS: dict[str, Promise] = {
    "age": gettext_lazy("Age"), "blacklist": gettext_lazy("On the blacklist"),
    "residency": gettext_lazy("Residency"), "dti": gettext_lazy("Debt-to-income ratio"),
    "existing_overdue": gettext_lazy("Has an overdue loan"),
    "bureau_flag_count": gettext_lazy("Adverse credit bureau flags"),
    "bureau_flags": gettext_lazy("Credit bureau flags"), "segment": gettext_lazy("Customer segment"),
    "score": gettext_lazy("Score"), "pd": gettext_lazy("Probability of default (PD)"),
    "grade": gettext_lazy("Grade"), "amount": gettext_lazy("Amount (yuan)"),
    "amount_minor": gettext_lazy("Amount (fen)"), "term": gettext_lazy("Term (periods)"),
    "product": gettext_lazy("Product"), "channel": gettext_lazy("Channel"),
    "monthly_income_minor": gettext_lazy("Monthly income (fen)"),
    "existing_debt_service_minor": gettext_lazy("Existing monthly repayments (fen)"),
    "installment_minor": gettext_lazy("Repayment per period (fen)"),
}
OUTPUT_LABELS: dict[str, Promise] = {
    "outcome": gettext_lazy("Outcome"), "reason": gettext_lazy("Reason code"),
    "message_en": gettext_lazy("Message (English)"), "message_zh": gettext_lazy("Message (Chinese)"),
}


def jdm_name(item: Any, kind: str = "table") -> str:
    """The name a person reads for a JDM table (kind "table"), an input column ("input") or an output column
    ("output"): the document's own name in the page's language, else the words of the default policy and of the
    engine's facts, else the name as written."""
    get = item.get if hasattr(item, "get") else (lambda key, default=None: default)
    own = get("name_zh" if chinese() else "name_en")
    if own:
        return str(own)
    name = str(get("name") or "")
    known: Promise | None = None
    if kind == "table":
        known = _TABLE_NAMES.get(name)
    elif kind == "input":
        known = FACT_LABELS.get(str(get("field") or ""))
    elif kind == "output":
        known = OUTPUT_LABELS.get(str(get("field") or ""))
    return str(known) if known is not None else name or str(get("field") or get("id") or "")


def person(name: Any) -> str:
    """Who wrote or approved a version: a username, or the system itself (seeded versions)."""
    text = "" if name is None else str(name)
    return str(gettext_lazy("the system")) if text == "system" else text


_NOTES: dict[str, Promise] = {"default policy": gettext_lazy("The default policy, installed with the product"),
                              "default table": gettext_lazy("The default table, installed on its first use"),
                              # the post-loan demo's limit table (risk.demo_post_loan)
                              "good payers: behaviour grade D or better (the demo's behaviour model)": gettext_lazy(
                                  "Good payers: behaviour grade D or better (the demo's behaviour model)")}
_RECALIBRATED = re.compile(r"^cut-offs recalibrated for the demo scorecard \((?P<shift>[+-]\d+) points\)$")


def note(text: Any) -> str:
    """A version's note: the notes the system writes (seeding, the demo's recalibration) in the page's language;
    a note a person typed, as typed."""
    value = "" if text is None else str(text)
    if value in _NOTES:
        return str(_NOTES[value])
    m = _RECALIBRATED.match(value)
    if m:
        return gettext("Cut-offs recalibrated for the demo scorecard (%(shift)s points)") % {"shift": m["shift"]}
    return value
