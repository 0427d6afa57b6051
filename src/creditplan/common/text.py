"""What users read when something is refused: the translated text of each stable error code.

The domain and the kernel speak English (they must not import Django). Their errors carry a stable `code`; a page
in another language shows the translation of a known code, and the domain's own (precise) text otherwise. Every
app's pages use this one table (apps with page-specific codes keep a small table of their own and fall back to it),
which is why it sits below all the apps: any page may import it, it imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import get_language, gettext_lazy, gettext_noop

from creditplan.core.money import format_minor

_PROBLEM_TEXT = {
    "required": gettext_lazy("This field is required."),
    "too_long": gettext_lazy("At most 100 characters."),
    "resident_id_length": gettext_lazy("A resident ID number has 18 characters."),
    "resident_id_format": gettext_lazy("A resident ID number is 17 digits followed by a digit or X."),
    "resident_id_birth_date": gettext_lazy("The birth date in the resident ID number is not valid."),
    "resident_id_check": gettext_lazy("The check digit of the resident ID number is wrong; please check the number."),
    "uscc_length": gettext_lazy("A unified social credit code has 18 characters."),
    "uscc_format": gettext_lazy("The unified social credit code contains characters that are not allowed."),
    "uscc_check": gettext_lazy("The check character of the unified social credit code is wrong; please check the code."),
    "phone_format": gettext_lazy("Not a mainland mobile number (11 digits starting with 13-19)."),
    # The money edge (creditplan.core.money.parse_money): one code per fault, in every app.
    "amount_format": gettext_lazy("Not an amount, e.g. 12345.67."),
    "float_money": gettext_lazy("Not an amount, e.g. 12345.67."),
    "not_finite": gettext_lazy("Not an amount, e.g. 12345.67."),
    "too_many_decimals": gettext_lazy("Amounts have at most 2 decimals (fen)."),
    "negative_amount": gettext_lazy("The amount cannot be negative."),
    "not_positive": gettext_lazy("The amount must be positive."),
    "amount_out_of_range": gettext_lazy("The amount is above the largest amount allowed here."),
    "currency_mismatch": gettext_lazy("The amount is in another currency."),
    "amount_too_large": gettext_lazy("Income is implausibly large."),
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "date_in_future": gettext_lazy("The birth date is in the future."),
    "birth_date_mismatch": gettext_lazy("The birth date differs from the one in the resident ID number."),
    "not_for_individual": gettext_lazy("Only companies have this field."),
    "not_for_company": gettext_lazy("Only individuals have this field."),
    "industry_required": gettext_lazy("The industry code is required for a company."),
    "unknown_industry": gettext_lazy("Not a GB/T 4754 industry code (e.g. C39)."),
    "region_format": gettext_lazy("The region must be a 6-digit GB/T 2260 code."),
    "unknown_region": gettext_lazy("Not a province code of GB/T 2260."),
    "unknown_branch": gettext_lazy("No active branch with this code."),
    "branch_out_of_scope": gettext_lazy("This branch is outside your branch."),
    "duplicate_id": gettext_lazy("A customer with this resident ID number already exists."),
    "duplicate_uscc": gettext_lazy("A company with this unified social credit code already exists."),
    "customer_not_found": gettext_lazy("No such customer, or the customer is outside your branch."),
    "permission_denied": gettext_lazy("Your role may not do this."),
    "forbidden": gettext_lazy("You are not allowed to do this."),
    "not_found": gettext_lazy("Not found."),
    "bad_url": gettext_lazy("Enter an http(s) address with a host, e.g. https://crm.example.com/hooks/creditplan."),
    "webhook_https_required": gettext_lazy("The receiver's address must start with https://."),
    "webhook_address_refused": gettext_lazy("This address is internal (loopback, private, link-local or reserved): "
                                            "webhooks go to public addresses, or to the bank's own networks listed "
                                            "in CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS."),
    "webhook_allowlist_invalid": gettext_lazy("The webhook allowlist (CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS) holds "
                                              "something that is not a network: ask the system administrator."),
    "identity_immutable": gettext_lazy("The identity of an existing customer is changed only by an identity "
                                       "correction, which another user approves."),
    "kind_immutable": gettext_lazy("A customer's kind cannot be corrected: archive the customer and create a new one."),
    "not_correctable": gettext_lazy("This is not an identity field of this customer."),
    "no_change": gettext_lazy("This is the current value: nothing to correct."),
    "correction_pending": gettext_lazy("An identity correction of this customer is already waiting for a decision."),
    "correction_decided": gettext_lazy("This identity correction has already been decided."),
    "correction_not_found": gettext_lazy("No such identity correction, or it is outside your branch."),
    "four_eyes": gettext_lazy("Four eyes: whoever asked for an identity correction cannot decide it."),
    "archived": gettext_lazy("An archived customer cannot be changed."),
    "stale_version": gettext_lazy("The customer was changed by someone else meanwhile; reload the page."),
    # risk monitoring (issue 16): what its pages can refuse with an error page
    "indicator_not_found": gettext_lazy("No such indicator."),
    "alert_not_found": gettext_lazy("No such alert, or it is not routed to you."),
    "no_snapshot": gettext_lazy("The book was not kept for this date: choose a date the indicators were computed "
                                "for."),
    "snapshot_missing": gettext_lazy("The kept book of this date cannot be read back: ask the system administrator."),
    "snapshot_changed": gettext_lazy("The kept book of this date has changed since it was written: ask the system "
                                     "administrator."),
    "unknown_cell": gettext_lazy("No such figure, or it is outside your branches."),
    "not_drillable": gettext_lazy("This indicator is not computed over loans: there are no loans behind it."),
    "unknown_bad": gettext_lazy("Choose 30 or 90 days past due."),
    "dates_order": gettext_lazy("The first date must be before the second."),
    # credit lines (issue 17): what the review, the payout and the line pages can refuse
    "line_frozen": gettext_lazy("The customer's credit line is frozen: nothing can be approved or paid out on it."),
    "line_expired": gettext_lazy("The customer's credit line has expired: it must be extended first."),
    "line_closed": gettext_lazy("The customer's credit line is closed: nothing can be approved or paid out on it."),
    "line_exceeded": gettext_lazy("The amount is above what is available on the customer's credit line."),
    "sub_limit_exceeded": gettext_lazy("The amount is above what is available on the product's sub-limit."),
    "above_reservation": gettext_lazy("The amount is above what is held on the credit line for this application."),
    # customer groups (issue 19 §2): the error pages of the group pages (the rest: plans/group_views.py)
    "group_not_found": gettext_lazy("No such group, or it has none of your branch's customers."),
    "change_not_found": gettext_lazy("No such change waiting for a decision."),
    # targets and ratio limits (issue 19 §6): a ratio cap of the credit plan refusing a reservation
    "ratio_cap_exceeded": gettext_lazy("The credit plan's ratio cap would be exceeded (for example the real-estate "
                                       "concentration): the approval is refused."),
    # credit plan (issue 19 §3): a planner froze a quota the loan falls in
    "quota_frozen": gettext_lazy("A credit-plan quota this loan falls in is frozen: no new approvals on it for now."),
    # plan periods (issue 19 §7): a month's quota used up; said with its figures when the error carries them
    "period_quota_exceeded": gettext_lazy("This month's credit-plan quota is used up: the amount is refused."),
    # the plan over the whole book (issue 19 §5): a loan's plan segment, the reconciliation
    "unknown_segment": gettext_lazy("This customer segment is not configured for the credit plan."),
    "book_not_opened": gettext_lazy("This plan has no opening book yet: activate it, or take its opening book first."),
    "no_book_source": gettext_lazy("No loan book is available to reconcile the plan with."),
}
# Problems said with their figures (the error's `extra`): the credit plan's concentration limits (issue 19,
# plans.domain.exposure), amounts in yuan.
_FIGURE_TEXT = {
    ("concentration_exceeded", "single_customer"): gettext_lazy(
        "The exposure to this customer would be %(exposure)s yuan, above %(share)s%% of the capital base %(capital)s yuan "
        "(limit %(limit)s yuan): the concentration limit refuses the amount."),
    ("concentration_exceeded", "group"): gettext_lazy(
        "The exposure of group %(group)s would be %(exposure)s yuan, above %(share)s%% of the capital base "
        "%(capital)s yuan (limit %(limit)s yuan): the concentration limit refuses the amount."),
}
# A plan's monthly quota (issue 19 §7: a month's unused quota rolls over or lapses), with the month and the amounts.
_PERIOD_TEXT = gettext_lazy("In %(month)s the credit plan has %(usable)s yuan of this month's quota left, "
                            "%(requested)s yuan requested: the monthly quota refuses the amount.")
# Titles of the error classes in creditplan.core.errors, translated by web/error.html.
_ERROR_TITLES = (gettext_noop("Request failed"), gettext_noop("Invalid input"), gettext_noop("Authentication required"),
                 gettext_noop("Not allowed"), gettext_noop("Not found"), gettext_noop("Conflict"),
                 gettext_noop("Limit exceeded"))


def figure_text(code: str, extra: Mapping[str, Any] | None) -> str | None:
    """The problem said with its figures in the page's language (None: the code has no such sentence, or the error
    carries no figures)."""
    if not extra:
        return None
    if code == "period_quota_exceeded":  # issue 19 §7 (plans.services.periods.check_month): amounts already in yuan
        try:
            return str(_PERIOD_TEXT) % {"month": extra["month"], "usable": extra["usable"],
                                        "requested": extra["requested"]}
        except (KeyError, TypeError):
            return None
    text = _FIGURE_TEXT.get((code, str(extra.get("limit_kind", ""))))
    try:
        return None if text is None else str(text) % {
            "exposure": format_minor(int(extra["exposure_minor"])), "capital": format_minor(int(extra["capital_base_minor"])),
            "limit": format_minor(int(extra["limit_minor"])), "share": f"{int(extra['limit_bp']) / 100:g}",
            "group": str(extra.get("group", ""))}
    except (KeyError, TypeError, ValueError):
        return None


def problem_text(code: str, message: str, extra: Mapping[str, Any] | None = None) -> str:
    """What to show for a product error: the domain's (precise) English text on an English page, the
    translation of its code on any other, or the English text when the code has no translation. An error that
    carries its figures (`extra`) and has a sentence for them is said with them, in every language."""
    figures = figure_text(code, extra)
    if figures is not None:
        return figures
    text = _PROBLEM_TEXT.get(code)
    if text is None or (get_language() or "en").startswith("en"):
        return message[:1].upper() + message[1:]
    return str(text)
