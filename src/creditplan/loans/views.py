"""Loan pages: the loan list (a customer sees their own loans on the same URL), one loan with its schedule,
payments, activities, accrual and balance chart and the staff forms, the schedule calculator, the trial
balance with the subledger reconciliation, and the daily close runs.

Views only call services (and the read-only `reports`); amounts arrive in fen and go to the templates in fen,
shown by the `money` filter (core.money.format_minor: "1,234.50"); the charts get the plain text ("1234.50")."""

from __future__ import annotations

import datetime as dt
import importlib
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.listing import (
    Listing,
    export_format,
    export_response,
    list_context,
    listing_from,
    query_without,
)
from creditplan.common.text import problem_text
from creditplan.core.daycount import DayCount
from creditplan.core.errors import CreditplanError, FieldProblem, ValidationError
from creditplan.core.money import format_minor, parse_minor, parse_rate
from creditplan.loans import change_views, reports, services
from creditplan.loans.clause_text import CLAUSE_LABELS, clause_text
from creditplan.loans.clause_text import rate_text as _rate_text
from creditplan.loans.domain.schedule import (
    MAX_PERIODS,
    InterestRule,
    Method,
    ScheduleTerms,
    build_schedule,
    parse_frequency,
    totals,
)
from creditplan.loans.forms import (
    INTEREST_RULE_CHOICES,
    RESTRUCTURE_CHOICES,
    WRITE_OFF_CONDITIONS,
    CalculatorForm,
    ClassifyForm,
    LoanFilterForm,
    PaymentForm,
    PrepayForm,
    RecoveryForm,
    RestructureForm,
    ReverseForm,
    WriteOffForm,
)
from creditplan.loans.labels import branch_name, lpr_tenor, product_name
from creditplan.loans.payments import MAX_AMOUNT_MINOR
from creditplan.loans.payments.checks import backdate_free_days
from creditplan.org import services as org
from creditplan.org.domain import Perm

CLASS_LABELS = {1: gettext_lazy("Normal"), 2: gettext_lazy("Special mention"), 3: gettext_lazy("Substandard"),
                4: gettext_lazy("Doubtful"), 5: gettext_lazy("Loss")}
BUCKET_LABELS = {0: gettext_lazy("Current"), 1: "1–30", 2: "31–60", 3: "61–90", 4: "91–180", 5: "181–270",
                 6: "271–360", 7: "360+"}
STATUS_LABELS = {"active": pgettext_lazy("loan", "Active"), "closed": pgettext_lazy("loan", "Closed"),
                 "written_off": gettext_lazy("Written off"),
                 "scheduled": gettext_lazy("Scheduled"), "due": gettext_lazy("Due"), "paid": gettext_lazy("Paid"),
                 "superseded": gettext_lazy("Superseded"), "posted": gettext_lazy("Posted"),
                 "reversed": gettext_lazy("Reversed"), "running": gettext_lazy("Running"),
                 "done": gettext_lazy("Done")}
METHOD_LABELS = {"equal-installment": gettext_lazy("Equal installment"),
                 "equal-principal": gettext_lazy("Equal principal"),
                 "interest-only": gettext_lazy("Interest only"), "bullet": gettext_lazy("Bullet")}
ROUNDING_LABELS = {"half_up": gettext_lazy("round half up"), "half_even": gettext_lazy("round half to even"),
                   "down": gettext_lazy("round down"), "up": gettext_lazy("round up")}
INTEREST_RULE_LABELS = dict(INTEREST_RULE_CHOICES)
PAYMENT_KIND_LABELS = {"regular": gettext_lazy("Repayment"), "prepay_full": gettext_lazy("Repay in full"),
                       "prepay_term": gettext_lazy("Prepayment (shorter term)"),
                       "prepay_pmt": gettext_lazy("Prepayment (lower payment)"),
                       "recovery": gettext_lazy("Recovery")}
CHANNEL_LABELS = {"teller": gettext_lazy("Teller"), "api": "API", "file": gettext_lazy("Bank file"),
                  "auto": gettext_lazy("Auto-debit"), "recovery": gettext_lazy("Recovery"),
                  "debit": gettext_lazy("Settlement account debit")}
ALLOCATION_LABELS = {"penalty": gettext_lazy("Penalty"), "fee": gettext_lazy("Fees"),
                     "fees": gettext_lazy("Fees"), "interest": gettext_lazy("Interest"),
                     "overdue_interest": gettext_lazy("Overdue interest"), "principal": gettext_lazy("Principal"),
                     "prepaid_principal": gettext_lazy("Principal prepaid"),
                     "accrued_interest": gettext_lazy("Accrued interest"), "credit": gettext_lazy("Credit"),
                     "credit_used": gettext_lazy("Credit used"), "refund": gettext_lazy("Refund"),
                     "recovery": gettext_lazy("Recovery")}
ALLOCATION_LABELS["prepayment_fee"] = gettext_lazy("Prepayment fee")  # 提前还款违约金 (issue 18)
SHOWN_ALLOCATION = ("penalty", "fee", "interest", "accrued_interest", "principal", "prepaid_principal", "credit_used",
                    "credit", "refund", "recovery")
ACTIVITY_LABELS = {
    "disbursed": gettext_lazy("Disbursed"), "installment_due": gettext_lazy("Installment due"),
    "due": gettext_lazy("Installment due"), "late_fee": gettext_lazy("Late fee"),
    "class_change": gettext_lazy("Class change"), "class_changed": gettext_lazy("Class change"),
    "bucket_change": gettext_lazy("Bucket change"), "rate_reset": gettext_lazy("Rate reset"),
    "restructured": gettext_lazy("Restructured"), "written_off": gettext_lazy("Written off"),
    "recovery": gettext_lazy("Recovery"), "auto_debit": gettext_lazy("Auto-debit"),
    "frozen": gettext_lazy("Credit limit frozen"), "unfrozen": gettext_lazy("Credit limit unfrozen"),
    "closed": gettext_lazy("Loan closed"), "payment": gettext_lazy("Payment"),
    "repayment": gettext_lazy("Repayment"), "payment_reversed": gettext_lazy("Payment reversed"),
    "prepayment": gettext_lazy("Prepayment"), "refund": gettext_lazy("Refund"),
    "penalty_started": gettext_lazy("Penalty interest starts"), "matured": gettext_lazy("Matured"),
    "rate_reset_skipped": gettext_lazy("Rate reset postponed (no LPR)"),
    "spread_amended": gettext_lazy("Spread amended"),  # batch spread amendment (issue 18)
    # four-eyes changes and classification (issue 18)
    "change_proposed": gettext_lazy("Change proposed"), "change_decided": gettext_lazy("Change decided"),
    "manual_class": gettext_lazy("Manual class approved"), "manual_class_lifted": gettext_lazy("Manual class lifted"),
    # settlement account debit (issue 18)
    "debit_attempt": gettext_lazy("Settlement account debit"),
    # non-accrual (issue 18)
    "non_accrual": gettext_lazy("Stopped accruing (interest off the balance sheet)"),
    "accrual_resumed": gettext_lazy("Accruing again"),
}
WRITE_OFF_CONDITION_LABELS = dict(WRITE_OFF_CONDITIONS)
ACCOUNT_KIND_LABELS = {"asset": gettext_lazy("Asset"), "liability": gettext_lazy("Liability"),
                       "income": gettext_lazy("Income"), "expense": gettext_lazy("Expense"),
                       "equity": gettext_lazy("Equity"), "memo": gettext_lazy("Off-balance memo")}

# Loan problems in the user's language (the services speak English and carry a stable code).
# The money edge's codes (amount_format, too_many_decimals, negative_amount, …) are common.text's.
_LOAN_TEXT = {
    "invalid_condition": gettext_lazy("Choose one of the write-off conditions."),
    "evidence_required": gettext_lazy("This write-off condition needs a reference to its evidence."),
    "condition_not_met": gettext_lazy("The loan does not meet this write-off condition."),
    "required": gettext_lazy("This field is required."),
    "amount_not_positive": gettext_lazy("The amount must be positive."),
    "invalid_date": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "date_in_future": gettext_lazy("The date cannot be in the future."),
    "date_closed": gettext_lazy("The daily close has already run for this date; choose a later date."),
    "date_not_closed": gettext_lazy("The daily close has not reached this date yet; run it first."),
    "backdate_too_old": gettext_lazy("The value date is further back than the product allows."),
    "backdate_needs_authority": gettext_lazy("The value date is further back than you may post; a risk manager "
                                             "may post it."),
    "invalid_account_no": gettext_lazy("The settlement account number is 8 to 34 digits."),
    "no_mandate": gettext_lazy("This loan has no debit mandate."),
    "before_start": gettext_lazy("The value date is before the loan started."),
    "before_last_close": gettext_lazy("The date is before the last daily close of this loan."),
    "beyond_next_due": gettext_lazy("The date is after the next due date; choose a date on or before it."),
    "prepay_backdated": gettext_lazy("A prepayment must be dated after the last daily close of this loan."),
    "below_payoff": gettext_lazy("The amount is below the payoff amount shown on this page."),
    "prepay_too_small": gettext_lazy("The amount does not cover what is due and the interest accrued so far."),
    "use_full_prepayment": gettext_lazy("The amount pays everything: choose repay in full."),
    # prepayment rules of the contract (issue 18)
    "prepay_locked_in": gettext_lazy("The contract allows no prepayment yet: its lock-in period has not ended."),
    "prepay_limit_reached": gettext_lazy("The contract's number of partial prepayments for this year is used up."),
    "prepay_below_minimum": gettext_lazy("The principal prepaid is below the contract's minimum partial "
                                         "prepayment."),
    "on_due_date": gettext_lazy("Not on the due date: pay the installment, then prepay the day after."),
    "close_pending": gettext_lazy("Run the daily close first: the loan is behind the business date."),
    "replay_across_restructuring": gettext_lazy("Cannot be replayed across a restructuring."),
    "replay_across_prepayment": gettext_lazy("Cannot be replayed across a prepayment."),
    "replay_unavailable": gettext_lazy("The loan's history cannot be replayed from that date."),
    "invalid_reference": gettext_lazy("A reference is printable text of at most 64 characters."),
    "loan_closed": gettext_lazy("The loan is repaid and closed."),
    "loan_written_off": gettext_lazy("The loan is written off; record the money as a recovery."),
    "invalid_mode": gettext_lazy("This kind of prepayment does not apply to this loan."),
    "before_write_off": gettext_lazy("The date is before the write-off."),
    "reference_reused": gettext_lazy("This reference was already used for another payment."),
    "too_long": gettext_lazy("Too long."),
    "invalid_number": gettext_lazy("Not a whole number."),
    "invalid_rate": gettext_lazy("Not a rate, e.g. 3.95."),
    "rate_out_of_range": gettext_lazy("The annual rate must be between 0 and 36 %."),
    "periods_out_of_range": gettext_lazy("The term must be 1 to 600 periods."),
    "months_per_period_out_of_range": gettext_lazy("A period is 1 to 12 months."),
    "unknown_method": gettext_lazy("Unknown repayment method."),
    "unknown_day_count": gettext_lazy("Unknown day count."),
    "grace_out_of_range": gettext_lazy("Grace periods must be fewer than the term."),
    "first_due_not_after_start": gettext_lazy("The first due date must be after the start date."),
    "loan_not_active": gettext_lazy("The loan is not active."),
    "not_non_performing": gettext_lazy("Only non-performing loans (substandard or worse) can be written off."),
    "nothing_to_capitalise": gettext_lazy("Nothing is overdue to capitalise."),
    "capitalise_non_accrual": gettext_lazy("The loan is non-accrual: its unpaid interest and penalty are off the "
                                           "balance sheet and cannot be capitalised. Restructure without "
                                           "capitalising, or once the loan accrues again."),
    "nothing_to_reschedule": gettext_lazy("No principal is left to reschedule; capitalise the arrears instead."),
    "same_method": gettext_lazy("The loan already repays by this method."),
    "not_applicable": gettext_lazy("Does not apply to this kind of restructuring."),
    "invalid_kind": gettext_lazy("Choose one of the listed kinds."),
    "already_reversed": gettext_lazy("This payment has already been reversed."),
    "unknown_payment": gettext_lazy("No such payment on this loan."),
    "not_written_off": gettext_lazy("Recoveries are for written-off loans; post a repayment instead."),
    "exceeds_written_off": gettext_lazy("More than is left to recover."),
    "nothing_to_prepay": gettext_lazy("Nothing is left to prepay."),
    "branch_out_of_scope": gettext_lazy("This loan belongs to another branch."),
    **change_views.LOAN_TEXT,  # four-eyes changes and classification (issue 18)
}


def loan_problem(code: str, message: str) -> str:
    text = _LOAN_TEXT.get(code)
    if text is None or (get_language() or "en").startswith("en"):
        return problem_text(code, message)
    return str(text)


def _reraise_access(exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404):
        raise exc


def _is_customer(user: Any) -> bool:
    return getattr(user, "role", "") == "customer"


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A function of a sibling loan module, or None while that module is not there (the page then leaves
    out what needs it instead of failing)."""
    try:
        return getattr(importlib.import_module(f"creditplan.loans.{module}"), name, None)
    except ImportError:
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _page_number(request: HttpRequest) -> int:
    return _int_or_none(request.GET.get("page")) or 1


def _payoff(user: Any, loan: Any) -> dict[str, Any] | None:
    """The payoff quote for today (`payments.payoff_quote`), item by item in fen; None when there is none
    (the module is missing, or today lies beyond a due date the close has not processed yet)."""
    quote = _optional("payments", "payoff_quote")
    if quote is None:
        return None
    try:
        q = quote(user, loan.ref)
    except CreditplanError:
        return None
    parts = [(_("Less credit held") if k == "credit" else ALLOCATION_LABELS.get(k, k), int(v))
             for k, v in q.items() if v]
    return {"total": q.total_minor, "parts": parts, "on": q.on,
            "projected": q.penalty_projected_minor or None}


# --- the loan list -----------------------------------------------------------------------------------------

def _loan_row(loan: Any) -> dict[str, Any]:
    return {
        "ref": loan.ref, "customer": loan.customer.name, "customer_id": loan.customer_id,
        "branch": branch_name(loan.branch), "branch_code": loan.branch.code, "product": product_name(loan.product),
        "principal": loan.principal_minor, "outstanding": loan.principal_outstanding_minor,
        "overdue": loan.overdue_principal_minor + loan.overdue_interest_minor,
        "rate": services.from_ppm(loan.rate_ppm) * 100, "term": loan.term, "start": loan.start_date,
        "next_due": loan.next_due_date, "dpd": loan.dpd, "bucket": loan.bucket,
        "bucket_label": BUCKET_LABELS.get(loan.bucket, loan.bucket), "risk_class": loan.risk_class,
        "class_label": CLASS_LABELS.get(loan.risk_class, loan.risk_class), "status": loan.status,
        "status_label": STATUS_LABELS.get(loan.status, loan.status),
    }


LOAN_COLUMNS = (("ref", gettext_lazy("Loan no.")), ("customer", gettext_lazy("Customer")),
                ("branch", gettext_lazy("Branch")), ("product", gettext_lazy("Product")),
                ("principal", gettext_lazy("Amount")), ("outstanding", gettext_lazy("Outstanding principal")),
                ("", gettext_lazy("Overdue")), ("dpd", gettext_lazy("DPD")), ("", gettext_lazy("Bucket")),
                ("class", gettext_lazy("Class")), ("due", gettext_lazy("Next due")), ("status", gettext_lazy("Status")))


def _sort_headers(request: HttpRequest, listing: Listing, columns: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
    """Column headers that sort the list: a click sorts by the column, a second click reverses it."""
    base = query_without(request.GET, "page", "export", "sort")
    out = []
    for key, title in columns:
        if not key:
            out.append({"title": title, "url": "", "mark": ""})
            continue
        current = listing.sort == key
        sort = key if current and listing.descending else f"-{key}" if current else key
        out.append({"title": title, "url": f"?{base}{'&' if base else ''}sort={sort}",
                    "mark": ("▼" if listing.descending else "▲") if current else "",
                    "aria": ("descending" if listing.descending else "ascending") if current else "none"})
    return out


@login_required
def loan_list(request: HttpRequest) -> HttpResponse:
    """Staff: the loans they may see — filters (search, status, days past due, class, branch, product), sorting by
    any column, paging and CSV/Excel export of everything that matches (issue 20 §4). A customer: their own."""
    user = request.user
    if _is_customer(user):
        return _customer_loans(request)
    org.require(user, Perm.LOAN_VIEW)
    choices = reports.filter_choices(user)
    form = LoanFilterForm(request.GET, branches=choices["branches"], products=choices["products"])
    form.is_valid()
    data = form.cleaned_data  # the fields that are valid: an unknown branch in the URL drops only that filter
    filters = reports.LoanFilters(status=data.get("status") or "", bucket=_int_or_none(data.get("bucket")),
                                  risk_class=_int_or_none(data.get("risk_class")), branch=data.get("branch") or "",
                                  product=data.get("product") or "", q=data.get("q") or "",
                                  dpd_min=data.get("dpd_min"))
    listing = listing_from(request, sorts=reports.LOAN_SORTS, default_sort="ref", default_descending=True)
    page = reports.loan_listing(user, filters, listing)
    fmt = export_format(request)
    if fmt is not None:
        rows = [_loan_row(loan) for loan in page.items]
        return export_response(
            ([r["ref"], r["customer"], r["branch"], r["product"], format_minor(r["principal"]),
              format_minor(r["outstanding"]), format_minor(r["overdue"]), r["dpd"], str(r["bucket_label"]),
              str(r["class_label"]), r["next_due"].isoformat() if r["next_due"] else "", str(r["status_label"])]
             for r in rows), [str(t) for _k, t in LOAN_COLUMNS], fmt, "loans")
    ctx = {"form": form, "page": page, "rows": [_loan_row(loan) for loan in page.items],
           "outstanding": page.extra["outstanding_minor"], "overdue": page.extra["overdue_minor"],
           "headers": _sort_headers(request, page.listing, LOAN_COLUMNS), **list_context(request, page),
           "may_close": org.may(user, Perm.CLOSE_RUN) or org.may(user, Perm.GL_VIEW),
           "may_gl": org.may(user, Perm.GL_VIEW), "may_changes": org.may(user, Perm.LOAN_CHANGE_APPROVE)}
    template = "loans/_loan_rows.html" if request.htmx else "loans/loan_list.html"
    return render(request, template, ctx)


def _customer_loans(request: HttpRequest) -> HttpResponse:
    """A customer's own loans with what to pay next and what it takes to repay in full today."""
    return render(request, "loans/my_loans.html", {"rows": customer_loan_rows(request.user)})


def customer_loan_rows(user: Any) -> list[dict[str, Any]]:
    """A customer's own loans as the cards of `loans/_my_loan_cards.html` show them (also on their home page)."""
    rows = []
    for loan in reports.customer_loans(user):
        row = _loan_row(loan)
        nxt = reports.next_installment(loan) if loan.status == "active" else None
        if nxt is not None:
            left = (nxt.principal_minor - nxt.paid_principal_minor + nxt.interest_minor - nxt.paid_interest_minor
                    + nxt.fee_minor - nxt.paid_fee_minor)
            row["next_payment"] = {"due": nxt.due_date, "amount": left, "overdue": nxt.status == "due"}
        row["total_due"] = services.balances(loan).total_due_minor
        row["payoff"] = _payoff(user, loan) if loan.status == "active" else None
        rows.append(row)
    return rows


# --- one loan ----------------------------------------------------------------------------------------------

ACTIONS: dict[str, tuple[type, Perm, str]] = {
    "pay": (PaymentForm, Perm.LOAN_REPAY, "payments.post_payment"),
    "reverse": (ReverseForm, Perm.LOAN_REVERSE, "payments.reverse_payment"),
    "prepay": (PrepayForm, Perm.LOAN_REPAY, "payments.prepay"),
    "restructure": (RestructureForm, Perm.LOAN_RESTRUCTURE, "approvals.propose"),  # four eyes (issue 18)
    "classify": (ClassifyForm, Perm.LOAN_CLASSIFY, "approvals.propose"),
    "write-off": (WriteOffForm, Perm.LOAN_WRITE_OFF, "writeoff.propose_write_off"),  # four eyes (issue 18)
    "recovery": (RecoveryForm, Perm.LOAN_REPAY, "writeoff.record_recovery"),
}


def _action_fn(action: str) -> Callable[..., Any] | None:
    module, name = ACTIONS[action][2].split(".")
    return _optional(module, name)


def _action_available(user: Any, loan: Any, action: str) -> bool:
    if _is_customer(user) or not org.may(user, ACTIONS[action][1]) or _action_fn(action) is None:
        return False
    if action == "recovery":
        return loan.status == "written_off"
    if loan.status != "active":
        return False
    if action == "write-off":
        return loan.risk_class >= 3
    return True


def _new_reference(prefix: str, loan: Any) -> str:
    """A fresh teller reference, put into the form when it is shown: submitting the same form twice posts
    one payment (the services are idempotent by reference); a bank's own transaction number may replace it."""
    return f"{prefix}-{loan.ref}-{secrets.token_hex(4).upper()}"


def _make_form(action: str, loan: Any, data: Any = None, payments: list[tuple[str, str]] | None = None,
               payoff: dict[str, Any] | None = None) -> Any:
    today = services.booking_date()  # today, or the next day once today's close has run (issue 20)
    if action == "pay":
        due = services.balances(loan).total_due_minor
        return PaymentForm(data, initial={"value_date": today.isoformat(), "reference": _new_reference("PAY", loan),
                                          "amount": format_minor(due, grouping=False) if due else ""})
    if action == "reverse":
        return ReverseForm(data, payments=payments or [])
    if action == "prepay":
        return PrepayForm(data, initial={"value_date": today.isoformat(), "reference": _new_reference("PRE", loan),
                                         "amount": format_minor(payoff["total"], grouping=False) if payoff else ""})
    if action == "restructure":
        return RestructureForm(data)
    if action == "classify":
        return ClassifyForm(data)
    if action == "write-off":
        return WriteOffForm(data, initial={"on": today.isoformat()})
    return RecoveryForm(data, initial={"value_date": today.isoformat()})


def close_rule(loan: Any = None) -> dict[str, str]:
    """The rule of the daily close as the payment forms state it (issue 20), with the dates of today: `pay` for a
    repayment, `prepay` for a prepayment. After the close of today the books of today are closed: postings take the
    next booking day; a repayment the customer made earlier keeps its value date (back-valued, the close is replayed
    for the loan) and is booked on the booking day."""
    today, booking, closed = services.business_date(), services.booking_date(), services.last_closed_date()
    fmt = {"today": date_format(today, "SHORT_DATE_FORMAT"), "booking": date_format(booking, "SHORT_DATE_FORMAT"),
           "closed": date_format(closed, "SHORT_DATE_FORMAT") if closed else "", "days": backdate_free_days()}
    if closed is not None and closed >= today:
        pay = _("The daily close of %(closed)s has run and that day's books are closed: the value date proposed is "
                "the next booking day, %(booking)s. A payment the customer made on %(closed)s or earlier keeps its "
                "own value date: it is back-valued (the close is replayed for this loan, interest and penalty "
                "recomputed) and its journal entry is booked on %(booking)s.") % fmt
    else:
        pay = _("The value date is the day the customer paid: today, %(today)s, or up to %(days)s days back "
                "(further back needs the back-dating authority). Once today's daily close has run, payments are "
                "booked on the next booking day.") % fmt
    prepay = ""
    if loan is not None:
        prepay = _("A prepayment is dated after the last daily close applied to this loan: %(next)s (a partial "
                   "prepayment on exactly that day).") % {
            "next": date_format(loan.closed_through + dt.timedelta(days=1), "SHORT_DATE_FORMAT")}
    return {"pay": pay, "prepay": prepay}


def _payment_rows(payments: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for p in payments:
        given = p.allocation or {}
        alloc = [(ALLOCATION_LABELS[k], given[k]) for k in SHOWN_ALLOCATION
                 if isinstance(given.get(k), int) and given[k]]
        rows.append({"reference": p.reference, "value_date": p.value_date, "amount": p.amount_minor,
                     "channel": CHANNEL_LABELS.get(p.channel, p.channel), "kind": PAYMENT_KIND_LABELS.get(p.kind, p.kind),
                     "allocation": alloc, "status": p.status, "status_label": STATUS_LABELS.get(p.status, p.status),
                     "reason": p.reversal_reason, "posted_by": getattr(p.posted_by, "username", ""),
                     "posted_at": p.posted_at, "reversed_at": p.reversed_at})
    return rows


def _installment_rows(rows: list[Any], today: dt.date) -> list[dict[str, Any]]:
    out = []
    for i in rows:
        paid = i.paid_principal_minor + i.paid_interest_minor + i.paid_fee_minor
        payment = i.principal_minor + i.interest_minor + i.fee_minor
        out.append({"seq": i.seq, "version": i.version, "start": i.start_date, "due": i.due_date,
                    "principal": i.principal_minor, "interest": i.interest_minor, "fee": i.fee_minor,
                    "payment": payment, "paid": paid, "left": payment - paid, "status": i.status,
                    "status_label": STATUS_LABELS.get(i.status, i.status), "paid_on": i.paid_on,
                    "late": i.status == "due" and payment > paid})
    return out


def _activity_text(kind: str, d: dict[str, Any]) -> str:
    """One line saying what an activity did, in the page's language, amounts in yuan ("1,234.50")."""
    def m(key: str) -> str:
        v = d.get(key)
        return format_minor(v) if isinstance(v, int) and not isinstance(v, bool) else "–"

    if kind in ("class_change", "class_changed") and d.get("from") is not None and d.get("to") is not None:
        return _("%(old)s → %(new)s (%(dpd)s days past due)") % {
            "old": CLASS_LABELS.get(d["from"], d["from"]), "new": CLASS_LABELS.get(d["to"], d["to"]),
            "dpd": d.get("dpd", "–")}
    if kind in ("installment_due", "due") and "seq" in d:
        return _("Installment %(seq)s: principal %(p)s, interest %(i)s, fee %(f)s") % {
            "seq": d["seq"], "p": m("principal_minor"), "i": m("interest_minor"), "f": m("fee_minor")}
    if kind == "penalty_started":
        return _("%(dpd)s days past due; penalty on %(base)s") % {"dpd": d.get("dpd", "–"), "base": m("base_minor")}
    if kind in ("late_fee", "frozen"):
        return _("%(dpd)s days past due") % {"dpd": d.get("dpd", "–")}
    if kind == "spread_amended" and isinstance(d.get("from_spread_ppm"), int):
        return _("spread %(old)s bp → %(new)s bp from %(day)s (batch %(ref)s)") % {
            "old": d["from_spread_ppm"] // 100, "new": d.get("to_spread_ppm", 0) // 100,
            "day": d.get("effective_date", "–"), "ref": d.get("batch_ref", "–")}
    if kind == "rate_reset" and isinstance(d.get("from_ppm"), int) and isinstance(d.get("to_ppm"), int):
        return _("%(old)s %% → %(new)s %% (LPR %(tenor)s %(lpr)s %%)") % {
            "old": f"{services.from_ppm(d['from_ppm']) * 100:.2f}", "new": f"{services.from_ppm(d['to_ppm']) * 100:.2f}",
            "tenor": d.get("tenor", ""), "lpr": f"{services.from_ppm(int(d.get('lpr_ppm') or 0)) * 100:.2f}"}
    if kind == "disbursed":
        return _("upfront fee %(fee)s") % {"fee": m("fee_minor")} if d.get("fee_minor") else ""
    if kind in ("repayment", "prepayment", "recovery"):
        return str(d.get("reference", ""))
    if kind == "payment_reversed":
        return f"{d.get('reference', '')}: {d.get('reason', '')}"
    if kind == "debit_attempt":
        return _("account %(account)s: asked %(asked)s, debited %(debited)s, left %(left)s") % {
            "account": d.get("account", ""), "asked": m("asked_minor"), "debited": m("debited_minor"),
            "left": m("left_minor")}
    if kind == "restructured":
        label = dict(RESTRUCTURE_CHOICES).get(d.get("restructuring", ""), "")
        if not d.get("observation_until"):  # an extension (展期): no observation period
            return _("%(kind)s, schedule version %(old)s → %(new)s") % {
                "kind": label, "old": d.get("old_version", ""), "new": d.get("new_version", "")}
        return _("%(kind)s, schedule version %(old)s → %(new)s, observed until %(until)s") % {
            "kind": label, "old": d.get("old_version", ""), "new": d.get("new_version", ""),
            "until": d.get("observation_until", "")}
    if kind == "written_off":
        condition = WRITE_OFF_CONDITION_LABELS.get(str(d.get("condition", "")))
        return f"{condition}: {d.get('reason', '')}" if condition else str(d.get("reason", ""))
    if kind in ("non_accrual", "accrual_resumed"):
        text = (_("%(dpd)s days past due: interest %(i)s and penalty %(p)s moved off the balance sheet")
                if kind == "non_accrual" else _("interest %(i)s and penalty %(p)s back on the balance sheet"))
        return text % {"dpd": d.get("dpd", "–"),
                       "i": format_minor(int(d.get("accrued_interest_minor", 0)) + int(d.get("overdue_interest_minor", 0))),
                       "p": m("penalty_minor")}
    if kind in ("manual_class", "manual_class_lifted", "change_proposed", "change_decided"):
        return change_views.activity_text(kind, d)
    if kind == "auto_debit":
        return " · ".join(f"{ALLOCATION_LABELS[k]} {m(k)}" for k in ("penalty", "fee", "interest", "principal")
                          if isinstance(d.get(k), int) and d[k])
    if kind in ("closed", "matured"):
        return _("refund %(r)s") % {"r": m("refund_minor")} if d.get("refund_minor") else ""
    return ", ".join(f"{k}: {format_minor(v) if k.endswith('_minor') and type(v) is int else v}"
                     for k, v in d.items() if v not in (None, "", {}, []) and not isinstance(v, dict | list))[:160]


def _clause_label(clause: str) -> str:
    """The contract clause (or servicing rule) an activity executed, in words; nothing when it executed none."""
    if not clause:
        return ""
    return str(CLAUSE_LABELS.get(clause) or ACTIVITY_LABELS.get(clause) or _RULE_LABELS.get(clause, ""))


_RULE_LABELS = {"write_off": gettext_lazy("Write-off"), "restructuring": gettext_lazy("Restructured"),
                "extension": gettext_lazy("Extension")}


def _activity_rows(activities: list[Any]) -> list[dict[str, Any]]:
    out = []
    for a in activities:
        detail = {k: v for k, v in (a.detail or {}).items() if k not in ("state_before", "state_after")}
        out.append({"date": a.business_date, "kind": a.kind, "kind_label": ACTIVITY_LABELS.get(a.kind, a.kind),
                    "clause": a.clause, "clause_label": _clause_label(a.clause), "amount": a.amount_minor or None,
                    "detail": _activity_text(a.kind, detail)})
    return out


def _contract_terms(loan: Any, activities: list[Any]) -> dict[str, Any]:
    """The loan's term sheet, clause by clause, with the dates the daily close executed each one."""
    sheet = services.term_sheet_of(loan)
    runs: dict[str, list[Any]] = {}
    for a in activities:
        if a.clause:
            runs.setdefault(a.clause, []).append(a.business_date)
    clauses = [{"kind": kind, "label": CLAUSE_LABELS.get(kind, kind), "text": clause_text(kind, dict(params), CLASS_LABELS),
                "runs": runs.get(kind, [])} for kind, params in sheet.clauses]
    return {"digest": sheet.digest, "clauses": clauses}


def _chart_points(points: list[list[Any]]) -> list[list[str]]:
    return [[d, format_minor(int(v), grouping=False)] for d, v in points]


def _detail(request: HttpRequest, ref: str, *, bound: dict[str, Any] | None = None, open_action: str = "",
            action_error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    d = reports.loan_detail(user, ref)
    loan = d.loan
    today = services.business_date()
    b = services.balances(loan)
    posted = [(p.reference, f"{p.value_date.isoformat()} · {p.reference} · {format_minor(p.amount_minor)}")
              for p in reversed(d.payments) if p.status == "posted"]
    payoff = _payoff(user, loan) if loan.status == "active" else None
    forms: dict[str, Any] = {}
    for action in ACTIONS:
        if action in (bound or {}) or _action_available(user, loan, action) and (action != "reverse" or posted):
            forms[action] = (bound or {}).get(action) or _make_form(action, loan, payments=posted, payoff=payoff)
    accrual = reports.accrual_by_period(d)
    series = reports.balance_series(d, today)
    chart = {"labels": {"scheduled": _("Scheduled (original)"), "current": _("Current schedule"),
                        "actual": _("Actual outstanding principal"), "today": _("Today")},
             "today": today.isoformat(),
             "scheduled": _chart_points(series["scheduled"]), "current": _chart_points(series["current"]),
             "actual": _chart_points(series["actual"])}
    versions: dict[int, list[dict[str, Any]]] = {}
    for row in _installment_rows(d.superseded, today):
        versions.setdefault(row["version"], []).append(row)
    schedule = _installment_rows(d.schedule, today)
    sched_totals = {k: sum(getattr(i, f) for i in d.schedule) for k, f in (
        ("principal", "principal_minor"), ("interest", "interest_minor"), ("fee", "fee_minor"))}
    sched_totals["payment"] = sum(sched_totals.values())
    sched_totals["paid"] = sum(i.paid_principal_minor + i.paid_interest_minor + i.paid_fee_minor
                               for i in d.schedule)
    ctx = {
        "loan": loan, "row": _loan_row(loan), "customer_view": _is_customer(user),
        "rate": _rate_text(loan.rate_ppm), "method_label": METHOD_LABELS.get(loan.method, loan.method),
        "rounding_label": ROUNDING_LABELS.get(loan.rounding, loan.rounding),
        "interest_rule_label": INTEREST_RULE_LABELS.get(loan.interest_rule, loan.interest_rule),
        "balances": [
            (_("Outstanding principal"), b.principal_minor),
            (_("of which overdue principal"), b.overdue_principal_minor),
            (_("Overdue interest"), b.overdue_interest_minor),
            (_("Accrued interest (current period)"), b.accrued_interest_minor),
            (_("Penalty interest"), b.penalty_minor), (_("Fees"), b.fees_minor),
            (_("Credit held for the customer"), b.credit_minor),
        ],
        "total_due": b.total_due_minor, "payoff": payoff,
        "today": today, "schedule": schedule, "sched_totals": sched_totals,
        "versions": sorted(versions.items()), "payments": _payment_rows(d.payments),
        "activities": _activity_rows(d.activities), "terms": _contract_terms(loan, d.activities),
        "accrual": accrual,
        "accrual_totals": {"scheduled": sum(a["scheduled"] for a in accrual),
                           "accrued": sum(a["accrued"] for a in accrual)},
        "restructurings": change_views.restructuring_rows(d.restructurings), "chart": chart, "forms": forms, "open_action": open_action,
        "changes": change_views.loan_changes(user, loan),
        "action_error": action_error,
        "statement": _optional("statement", "statement_pdf") is not None,
        "income": {"interest": loan.interest_income_minor, "penalty": loan.penalty_income_minor,
                   "fee": loan.fee_income_minor},
        "written_off": loan.written_off_minor, "recovered": loan.recovered_minor,
        "mandate": services.mandate_of(loan),  # the debit mandate, account masked (issue 18)
        "close_rule": close_rule(loan),  # the value date around the daily close (issue 20)
        "lpr_tenor_label": lpr_tenor(loan.product.lpr_tenor or ""),
    }
    return render(request, "loans/loan_detail.html", ctx, status=status)


@login_required
def loan_detail(request: HttpRequest, ref: str) -> HttpResponse:
    return _detail(request, ref)


def _call_action(user: Any, action: str, ref: str, data: dict[str, Any]) -> tuple[Any, str]:
    """Run the use case behind a staff form; returns (result, success message)."""
    fn = _action_fn(action)
    if fn is None:
        raise Http404(action)
    blank = {k: (None if v in ("", None) else v) for k, v in data.items()}
    if action == "pay":
        result = fn(user, loan_ref=ref, amount=data["amount"], reference=data["reference"],
                    value_date=blank["value_date"])
        return result, _("Payment of %(amount)s yuan posted.") % {"amount": format_minor(result.amount_minor)}
    if action == "reverse":
        result = fn(user, reference=data["payment"], reason=data["reason"])
        return result, _("Payment %(ref)s reversed.") % {"ref": data["payment"]}
    if action == "prepay":
        result = fn(user, loan_ref=ref, amount=data["amount"], reference=data["reference"],
                    value_date=blank["value_date"], mode=data["mode"])
        return result, _("Prepayment of %(amount)s yuan posted.") % {"amount": format_minor(result.amount_minor)}
    if action == "restructure":  # proposed: another user approves it (loans/approvals.py)
        result = fn(user, "restructure", ref, reason=data["reason"], params={
            "kind": data["kind"], "effective_date": blank["effective_date"],
            "extend_periods": blank["extend_periods"], "new_method": blank["new_method"],
            "holiday_periods": blank["holiday_periods"], "capitalise": bool(data["capitalise"])})
        return result, _("Restructuring proposed: it takes effect when another user approves it.")
    if action == "classify":
        lift = data["risk_class"] == "lift"
        result = fn(user, "classification", ref, reason=data["reason"], params=(
            {"lift": True} if lift else {"risk_class": data["risk_class"], "until": blank["until"]}))
        return result, _("Classification proposed: it takes effect when another user approves it.")
    if action == "write-off":
        result = fn(user, ref, reason=data["reason"], condition=data["condition"], evidence=data["evidence"],
                    on=blank["on"])
        return result, _("Write-off proposed: it takes effect when another user approves it.")
    result = fn(user, ref, amount=data["amount"], reference=data["reference"], value_date=blank["value_date"])
    return result, _("Recovery of %(amount)s yuan recorded.") % {"amount": format_minor(result.amount_minor)}


# The services name some fields differently from the forms.
_FIELD_OF = {"loan_ref": None, "loan": None, "on": "on", "date": "value_date"}


@login_required
@require_POST
def loan_action(request: HttpRequest, ref: str, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(action)
    user = request.user
    org.require(user, ACTIONS[action][1])
    loan = services.get_loan(user, ref)
    posted = [(p.reference, p.reference) for p in reports.loan_detail(user, ref).payments if p.status == "posted"]
    form = _make_form(action, loan, data=request.POST, payments=posted)
    if form.is_valid():
        try:
            _result, message = _call_action(user, action, ref, form.cleaned_data)
        except CreditplanError as exc:
            _reraise_access(exc)
            for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
                name = _FIELD_OF.get(p.field, p.field) if p.field else None
                if action == "reverse" and p.field == "reference":
                    name = "payment"
                form.add_error(name if name in form.fields else None, loan_problem(p.code, p.message))
        else:
            messages.success(request, message)
            return redirect("loans:loan", ref=ref)
    return _detail(request, ref, bound={action: form}, open_action=action, status=422)


@login_required
def statement_pdf(request: HttpRequest, ref: str) -> HttpResponse:
    """The statement of account (`statement.statement` + `statement_pdf`); ?from=&to= narrow the dates."""
    make = _optional("statement", "statement_pdf")
    build = _optional("statement", "statement")
    if make is None or build is None:
        raise Http404("statement")
    services.get_loan(request.user, ref)  # scope: 404 for a loan the user may not see
    data = build(request.user, ref, date_from=request.GET.get("from") or None, date_to=request.GET.get("to") or None)
    pdf = make(data)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{ref}.pdf"'
    return response


# --- the schedule calculator -------------------------------------------------------------------------------

_CALC_FIELD = {"principal_minor": "amount", "amount": "amount", "annual_rate": "rate", "rate": "rate",
               "periods": "term", "method": "method", "start": "start", "first_due": "start",
               "months_per_period": "frequency", "day_count": "day_count", "grace_periods": "term",
               "interest_rule": "interest_rule"}


def _calc_terms(data: dict[str, Any]) -> ScheduleTerms:
    problems: list[FieldProblem] = []
    principal = 0
    try:
        principal = parse_minor(data.get("amount"), "amount", allow_zero=False, maximum=MAX_AMOUNT_MINOR)
    except CreditplanError as exc:
        problems.append(FieldProblem("amount", exc.message, exc.code))
    rate_text = (data.get("rate") or "").strip().removesuffix("%").strip()
    rate = Decimal(0)
    if not rate_text:
        problems.append(FieldProblem("rate", "the annual rate is required", "required"))
    else:
        try:
            rate = parse_rate(f"{rate_text}%")
        except CreditplanError as exc:
            problems.append(FieldProblem("rate", exc.message, exc.code))
    term_text = (data.get("term") or "").strip()
    term = _int_or_none(term_text) if term_text.isdigit() else None
    if term is None:
        problems.append(FieldProblem("term", "the term is a whole number of periods", "invalid_number"
                                     if term_text else "required"))
    elif not 1 <= term <= MAX_PERIODS:
        problems.append(FieldProblem("term", f"the term must be 1 to {MAX_PERIODS} periods", "periods_out_of_range"))
    start_text = (data.get("start") or "").strip()
    try:
        start = dt.date.fromisoformat(start_text) if start_text else services.business_date()
    except ValueError:
        problems.append(FieldProblem("start", f"{start_text!r} is not a date (YYYY-MM-DD)", "invalid_date"))
        start = services.business_date()
    if problems:
        raise ValidationError.collect(problems)
    try:
        return ScheduleTerms(principal_minor=principal, annual_rate=rate, periods=term or 0,
                             method=Method.coerce(data.get("method") or "equal-installment"), start=start,
                             first_due=None, months_per_period=parse_frequency(data.get("frequency") or "1"),
                             day_count=DayCount.coerce(data.get("day_count") or "30/360"),
                             interest_rule=InterestRule.coerce(data.get("interest_rule") or "running-total"))
    except CreditplanError as exc:
        field = _CALC_FIELD.get(exc.field or "", "")
        raise ValidationError(exc.message, code=exc.code, field=field or None) from None


@login_required
def calculator(request: HttpRequest) -> HttpResponse:
    """Any logged-in user: a schedule for typed terms (GET, so a result can be bookmarked and shared)."""
    bound = "amount" in request.GET
    form = CalculatorForm(request.GET if bound else None,
                          initial={"start": services.business_date().isoformat(), "method": "equal-installment",
                                   "day_count": "30/360", "frequency": "1", "interest_rule": "running-total"})
    ctx: dict[str, Any] = {"form": form}
    status = 200
    if bound and form.is_valid():
        try:
            terms = _calc_terms(form.cleaned_data)
            lines = build_schedule(terms)
        except CreditplanError as exc:
            for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
                field = _CALC_FIELD.get(p.field, p.field) if p.field else None
                form.add_error(field if field in form.fields else None, loan_problem(p.code, p.message))
        else:
            sums = totals(lines)
            ctx["lines"] = [{"seq": ln.seq, "due": ln.due_date, "days": (ln.due_date - ln.start_date).days,
                             "principal": ln.principal, "interest": ln.interest, "fee": ln.fee,
                             "payment": ln.payment, "balance": ln.balance_after} for ln in lines]
            ctx["totals"] = sums
            payments = sorted({ln.payment for ln in lines})
            ctx["first_payment"] = lines[0].payment
            ctx["last_payment"] = lines[-1].payment
            ctx["level"] = payments[0] if len(payments) == 1 or (
                terms.method is Method.EQUAL_INSTALLMENT and len({ln.payment for ln in lines[:-1]}) == 1) else None
            ctx["maturity"] = lines[-1].due_date
            ctx["chart"] = {"labels": {"principal": _("Principal"), "interest": _("Interest"),
                                       "balance": _("Balance after payment")},
                            "periods": [ln.seq for ln in lines],
                            "principal": [format_minor(ln.principal, grouping=False) for ln in lines],
                            "interest": [format_minor(ln.interest, grouping=False) for ln in lines],
                            "balance": [format_minor(ln.balance_after, grouping=False) for ln in lines]}
    if form.errors:
        status = 422
    return render(request, "loans/calculator.html", ctx, status=status)
