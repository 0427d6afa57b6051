"""What the application pages call things: the ONE table every code of origination goes through before a person
reads it — statuses, channels, decision outcomes, quota answers, reasons, the applicant's inputs and their
sources, the form's choices — and the history of a case in words (`transition_text`).

A Chinese page holds no English and no page shows a raw code (issue 20): pages, the CSV/Excel export and the
history all call `label(kind, code)`. Words that mean something else elsewhere carry a context (pgettext): the
channel "Branch" is the counter, not the branch an account belongs to; employment "Retired" is not a retired model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _


def chinese() -> bool:
    """Whether the page is in Chinese (the product's default language)."""
    return not (get_language() or "zh-hans").startswith("en")


_TABLE: dict[str, dict[str, Promise]] = {
    "status": {
        "draft": pgettext_lazy("application status", "Draft"),
        "submitted": pgettext_lazy("application status", "Submitted"),
        "approved": pgettext_lazy("application status", "Approved"),
        "referred": pgettext_lazy("application status", "In review"),
        "declined": pgettext_lazy("application status", "Declined"),
        "info_requested": pgettext_lazy("application status", "Information requested"),
        "contract_offered": pgettext_lazy("application status", "Contract offered"),
        "signed": pgettext_lazy("application status", "Signed"),
        "ready_to_disburse": pgettext_lazy("application status", "Ready to disburse"),
        "disbursed": pgettext_lazy("application status", "Disbursed"),
        "withdrawn": pgettext_lazy("application status", "Withdrawn"),
        "expired": pgettext_lazy("application status", "Expired"),
    },
    "channel": {
        "web": pgettext_lazy("application channel", "Online"),
        "api": pgettext_lazy("application channel", "Mobile / API"),
        "branch": pgettext_lazy("application channel", "Branch counter"),
    },
    "outcome": {  # the automated decision's outcome
        "approve": pgettext_lazy("decision outcome", "Approve"),
        "refer": pgettext_lazy("decision outcome", "Refer to an approver"),
        "decline": pgettext_lazy("decision outcome", "Decline"),
    },
    "decision": {  # what a person decided on a referred case
        "approve": pgettext_lazy("approval", "Approved"),
        "decline": pgettext_lazy("approval", "Declined"),
    },
    "quota": {
        "reserved": gettext_lazy("Reserved"), "escalated": gettext_lazy("Escalated"),
        "released": gettext_lazy("Released"), "expired": gettext_lazy("Expired"),
        "refused": gettext_lazy("Refused by the plan"), "unavailable": gettext_lazy("No quota available"),
        "untracked": gettext_lazy("Not tracked (no active plan)"), "not_checked": gettext_lazy("Not checked"),
        "not_requested": gettext_lazy("Not checked"), "consumed": pgettext_lazy("quota", "Paid out"),
        "repaid": pgettext_lazy("quota", "Repaid"),
    },
    "mode": {  # a quota's control mode
        "hard": pgettext_lazy("quota mode", "Hard: refuses"),
        "soft": pgettext_lazy("quota mode", "Soft: escalates"),
        "monitor": pgettext_lazy("quota mode", "Monitor only"),
    },
    "reason": {
        "within_policy": gettext_lazy("Within policy"), "compensating_factors": gettext_lazy("Compensating factors"),
        "income_verified": gettext_lazy("Income verified"), "existing_customer": gettext_lazy("Good existing customer"),
        "insufficient_income": gettext_lazy("Insufficient income"),
        "high_debt_burden": gettext_lazy("Debt burden too high"), "credit_history": gettext_lazy("Credit history"),
        "incomplete_information": gettext_lazy("Incomplete information"),
        "policy_exception_refused": gettext_lazy("Policy exception refused"),
        "fraud_suspected": gettext_lazy("Fraud suspected"), "income_proof": gettext_lazy("Proof of income"),
        "id_document": gettext_lazy("Identity document"), "employment": gettext_lazy("Employment details"),
        "bank_statements": gettext_lazy("Bank statements"), "other": gettext_lazy("Other"),
    },
    "withdraw": {  # why an application is withdrawn (the page's choice; the API may send its own words)
        "no_longer_needed": pgettext_lazy("withdrawal", "The customer no longer needs the loan"),
        "better_offer": pgettext_lazy("withdrawal", "The customer took another offer"),
        "changed_terms": pgettext_lazy("withdrawal", "The customer wants other terms (a new application follows)"),
        "entered_in_error": pgettext_lazy("withdrawal", "Entered in error or twice"),
        "other": pgettext_lazy("withdrawal", "Other (see the note)"),
        "withdrawn by the applicant": pgettext_lazy("withdrawal", "Withdrawn by the applicant"),
    },
    "input": {
        "loan_purpose": gettext_lazy("Purpose of the loan"),
        "monthly_income_minor": gettext_lazy("Monthly income (yuan)"),
        "existing_debt_service_minor": gettext_lazy("Existing monthly debt payments (yuan)"),
        "employment": gettext_lazy("Employment"),
        "months_employed": gettext_lazy("Months with current employer"),
        "housing": gettext_lazy("Housing"), "dependants": gettext_lazy("Dependants"), "age": gettext_lazy("Age"),
        "residency": gettext_lazy("Residency"), "region_code": gettext_lazy("Region"),
        "industry_code": gettext_lazy("Industry"), "existing_overdue": gettext_lazy("Overdue loan"),
        "blacklist": gettext_lazy("On the blacklist"), "bureau_flags": gettext_lazy("Credit bureau flags"),
        "segment": gettext_lazy("Customer segment"),
    },
    "source": {
        "stated": gettext_lazy("Stated by the applicant"), "records": gettext_lazy("The bank's records"),
        "bureau": gettext_lazy("Credit bureau"), "derived": gettext_lazy("Worked out by the bank"),
    },
    "purpose": {
        "consumption": gettext_lazy("Household consumption"), "car": gettext_lazy("Car purchase"),
        "renovation": gettext_lazy("Home renovation"), "education": gettext_lazy("Education"),
        "travel": gettext_lazy("Travel"), "medical": gettext_lazy("Medical"),
        "business": gettext_lazy("Business operation"), "other": pgettext_lazy("loan purpose", "Other"),
    },
    "employment": {
        "employed": gettext_lazy("Employed"), "self_employed": gettext_lazy("Self-employed"),
        "civil_servant": gettext_lazy("Civil servant"), "retired": pgettext_lazy("employment", "Retired"),
        "student": gettext_lazy("Student"), "unemployed": gettext_lazy("Not employed"),
    },
    "residency": {
        "resident": pgettext_lazy("residency", "Mainland resident (ID number on file)"),
        "non_resident": pgettext_lazy("residency", "Not a mainland resident"),
    },
    "housing": {
        "own": gettext_lazy("Own home"), "rent": gettext_lazy("Renting"), "free": gettext_lazy("Living with family"),
    },
    "measure": {  # what can refuse an approval (the case page's quota panel)
        "new_lending": pgettext_lazy("quota measure", "New-lending quota"),
        "balance": pgettext_lazy("quota measure", "Balance quota"),
        "frozen": pgettext_lazy("quota measure", "Quota frozen"),
        "single_customer": pgettext_lazy("quota measure", "Single-customer concentration limit"),
        "group": pgettext_lazy("quota measure", "Group concentration limit"),
        "large_exposure": pgettext_lazy("quota measure", "Large-exposure line (recorded, not refused)"),
        "ratio_cap": pgettext_lazy("quota measure", "Ratio cap of the plan"),
    },
    "verdict": {  # what a measure would do to the amount asked
        "ok": pgettext_lazy("quota verdict", "Enough left"),
        "escalate": pgettext_lazy("quota verdict", "Above: escalated to a higher authority"),
        "note": pgettext_lazy("quota verdict", "Above: recorded only"),
        "refuse": pgettext_lazy("quota verdict", "Above: the approval would be refused"),
    },
    "level": {  # the authority an approval needs
        "sub_branch": pgettext_lazy("authority level", "Sub-branch approver"),
        "branch": pgettext_lazy("authority level", "Branch approver"),
        "head_office": pgettext_lazy("authority level", "Head-office approver"),
    },
    "timer": {"ok": pgettext_lazy("application timer", "On time"),
              "due_soon": pgettext_lazy("application timer", "Due soon"),
              "overdue": pgettext_lazy("application timer", "Overdue")},
    "boolean": {"True": gettext_lazy("Yes"), "False": gettext_lazy("No"), "true": gettext_lazy("Yes"),
                "false": gettext_lazy("No")},
}
# The applicant's choices, by input name (what `shown` turns into words).
_CHOICE_KIND = {"loan_purpose": "purpose", "employment": "employment", "housing": "housing", "residency": "residency"}


def table(kind: str) -> dict[str, Promise]:
    """Every code of `kind` and its (lazy) words."""
    return _TABLE[kind]


def label(kind: str, code: Any) -> str:
    """The words for `code` of `kind` in the page's language ("" for no code; an unknown code as it is: data)."""
    if code is None or code == "":
        return ""
    text = _TABLE.get(kind, {}).get(str(code))
    return str(text) if text is not None else str(code)


def known(kind: str, code: Any) -> bool:
    return str(code) in _TABLE.get(kind, {})


def choices(kind: str) -> list[tuple[str, str]]:
    """(code, words) of every code of `kind`, in the table's order."""
    return [(code, str(text)) for code, text in _TABLE[kind].items() if " " not in code]


def choice_label(input_name: str, value: Any) -> str | None:
    """A stated choice in words (employment "retired" → 退休), None when the input is not a choice."""
    kind = _CHOICE_KIND.get(input_name)
    if kind is None or not isinstance(value, str) or value not in _TABLE[kind]:
        return None
    return str(_TABLE[kind][value])


# --- the history of a case in words ------------------------------------------------------------------------
# Transition reasons are stored as the services wrote them (English, with codes); each known shape is said again
# in the page's language. A reason of another shape (a customer's own words on withdrawal, the API's) is data.
_HASH = r"SHA-256 ([0-9a-f]{8,64})…?"
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^submitted via (\w+)$"), "submitted"),
    (re.compile(r"^automated decision: (.*)$", re.S), "automated"),
    (re.compile(r"^approved \((\w+)\)(?:: (.*))?$", re.S), "approved"),
    (re.compile(r"^declined \((\w+)\)(?:: (.*))?$", re.S), "declined"),
    (re.compile(r"^information requested \((\w+)\)(?:: (.*))?$", re.S), "info_requested"),
    (re.compile(r"^information provided: (.*)$", re.S), "info_provided"),
    (re.compile(rf"^contract offered \({_HASH}\)$"), "contract_offered"),
    (re.compile(rf"^signed online \({_HASH}\)$"), "signed"),
    (re.compile(r"^contract signed: ready to disburse$"), "ready"),
    (re.compile(r"^disbursed as loan (\S+)$"), "disbursed"),
    (re.compile(r"^no decision within (\d+) days$"), "expired"),
    (re.compile(r"^(no_longer_needed|better_offer|changed_terms|entered_in_error|other)(?:: (.*))?$", re.S),
     "withdrawn"),
    (re.compile(r"^withdrawn by the applicant$"), "withdrawn_default"),
]


def _with_note(text: str, note: str | None) -> str:
    return f"{text}: {note}" if note else text


def transition_text(reason: str, *, reasons: list[str] | None = None, outcome: str = "") -> str:
    """One line of a case's history in the page's language. `reasons` / `outcome`: the application's decision
    reasons in the page's language and its outcome, for the automated decision's line (whose stored text is the
    English reasons)."""
    reason = (reason or "").strip()
    for pattern, shape in _SHAPES:
        m = pattern.match(reason)
        if m is None:
            continue
        if shape == "submitted":
            return _("Submitted via channel: %(channel)s") % {"channel": label("channel", m.group(1))}
        if shape == "automated":
            why = "; ".join(reasons[:5]) if reasons else label("outcome", m.group(1).strip())
            return _with_note(_("Automated decision"), why)
        if shape in ("approved", "declined", "info_requested"):
            words = {"approved": _("Approved by the reviewer"), "declined": _("Declined by the reviewer"),
                     "info_requested": _("Information requested from the customer")}[shape]
            return _with_note(f"{words} ({label('reason', m.group(1))})", m.group(2))
        if shape == "info_provided":
            names = [n.strip() for n in m.group(1).split(",")]
            shown = ", ".join(label("input", n) for n in names) if all(known("input", n) for n in names) \
                else m.group(1)
            return _with_note(_("Information provided"), shown)
        if shape == "contract_offered":
            return _("Contract offered (fingerprint SHA-256 %(hash)s…)") % {"hash": m.group(1)[:16]}
        if shape == "signed":
            return _("Signed online (fingerprint SHA-256 %(hash)s…)") % {"hash": m.group(1)[:16]}
        if shape == "ready":
            return _("Contract signed: ready to disburse")
        if shape == "disbursed":
            return _("Paid out as loan %(ref)s") % {"ref": m.group(1)}
        if shape == "expired":
            return _("No decision within %(days)s days: expired") % {"days": m.group(1)}
        if shape == "withdrawn":
            return _with_note(label("withdraw", m.group(1)), m.group(2))
        return label("withdraw", "withdrawn by the applicant")
    return reason


def actor_text(name: str) -> str:
    """Who made a step: a person's name, or the system in words."""
    return _("the system") if name == "system" else name


def product_names(products: Any) -> dict[str, str]:
    """Product code → its name in the page's language (an English name where the product has one)."""
    english = not chinese()
    out: dict[str, str] = {}
    for p in products:
        name = (getattr(p, "name_en", "") or p.name) if english else p.name
        out[p.code] = name
    return out


def branch_name(name: str, name_en: str = "") -> str:
    """A branch's name in the page's language: its English name on an English page where it has one."""
    return name_en if name_en and not chinese() else name


def branch_options(branches: Any) -> list[tuple[str, str]]:
    """(code, name in the page's language) of each (code, name, English name) a service listed."""
    return [(code, branch_name(name, name_en)) for code, name, name_en in branches]


def pick(names: Mapping[str, str], code: str) -> str:
    return names.get(code, code)
