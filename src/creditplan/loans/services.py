"""Loan use cases, the door the apps above loans (and the pages and API) go through: products and the LPR
(`products.py`), disbursement and the application gate (`disbursement.py`), the business date (`clock.py`),
dates (`values.py`), a loan's state (`loan_state.py`) — re-exported here — and reading loans. Amounts go
through the one money edge: `creditplan.core.money.parse_minor` in, `format_minor` out.

Payments live in `payments/`, the daily close in `cob/`, restructuring and write-off in `restructure.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound
from creditplan.core.money import from_ppm
from creditplan.loans import clock
from creditplan.loans.clock import last_closed_date
from creditplan.loans.disbursement import (
    ApplicationGate,
    SignedApplication,
    check_value_date,
    contract_due_day,
    disburse,
    next_loan_ref,
    register_application_gate,
    terms_for,
)
from creditplan.loans.loan_state import (
    STATE_FIELDS,
    current_schedule,
    loan_for_update,
    open_installments,
    restore,
    set_current_period,
    snapshot,
)
from creditplan.loans.models import Loan, LoanStatus
from creditplan.loans.products import (
    DEFAULT_WATERFALL,
    LPR_TENORS,
    WATERFALL_ITEMS,
    all_in_cost,
    business_calendar,
    create_product,
    floating_rate_ppm,
    get_product,
    list_products,
    lpr_on,
    payment_roll,
    set_lpr,
    set_rate_bounds,
    store_term_sheet,
    term_sheet_of,
)
from creditplan.loans.settlement import mandate_of, revoke_mandate, set_mandate
from creditplan.loans.values import parse_date
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = [
    "DEFAULT_WATERFALL", "LPR_TENORS", "STATE_FIELDS", "WATERFALL_ITEMS", "ApplicationGate",
    "Balances", "SignedApplication", "balances", "booking_date", "business_date", "contract_due_day", "create_product",
    "current_schedule", "disburse", "floating_rate_ppm", "from_ppm", "get_loan", "get_product", "last_closed_date",
    "list_products", "loan_for_update", "loan_status_text", "loans_visible_to", "lpr_on", "next_loan_ref",
    "open_installments", "parse_date", "register_application_gate", "restore", "set_current_period", "set_lpr",
    "set_rate_bounds", "snapshot", "store_term_sheet", "term_sheet_of", "terms_for",
    "mandate_of", "revoke_mandate", "set_mandate",  # the settlement account debit (issue 18)
    "all_in_cost", "business_calendar", "payment_roll",  # interest and penalty conventions (issue 18)
    "check_value_date",  # a disbursement's value date around the daily close (issue 20)
]


def booking_date() -> dt.date:
    """The day a posting entered now is booked on: today, or the next day once today's close has run
    (`clock.booking_date`)."""
    return clock.booking_date()


def business_date() -> dt.date:
    """Today in the institution's time zone (Asia/Shanghai): the date payments and disbursements take. Forwards
    to `clock.business_date` at call time, so moving the clock there moves it for every caller."""
    return clock.business_date()


# --- reading ----------------------------------------------------------------------------------------------

def loans_visible_to(actor: Actor) -> QuerySet[Loan]:
    """Staff: loans of their branch subtree (head-office roles: all). A customer: their own loans."""
    if actor is not None and getattr(actor, "role", "") == "customer":
        return Loan.objects.filter(customer__user=actor)
    org.require(actor, Perm.LOAN_VIEW)
    return org.scope_to_branches(actor, Loan.objects.all())


def get_loan(actor: Actor, ref: str) -> Loan:
    try:
        return loans_visible_to(actor).select_related("product", "branch", "customer").get(ref=ref)
    except Loan.DoesNotExist:
        raise NotFound(f"no loan {ref}", field="loan", code="unknown_loan") from None


@dataclass(frozen=True)
class Balances:
    principal_minor: int
    overdue_principal_minor: int
    overdue_interest_minor: int
    accrued_interest_minor: int
    penalty_minor: int
    fees_minor: int
    credit_minor: int

    @property
    def total_due_minor(self) -> int:
        """What must be paid today to be current."""
        return self.overdue_principal_minor + self.overdue_interest_minor + self.penalty_minor + self.fees_minor


def balances(loan: Loan) -> Balances:
    return Balances(loan.principal_outstanding_minor, loan.overdue_principal_minor, loan.overdue_interest_minor,
                    loan.accrued_interest_minor, loan.penalty_minor, loan.fees_minor, loan.credit_minor)


def loan_status_text(loan: Loan) -> str:
    return LoanStatus(loan.status).label
