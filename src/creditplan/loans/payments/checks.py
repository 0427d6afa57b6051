"""What refuses a payment before anything is written: the reference, the loan reference, the value date and the
channel as sent (the amount: `creditplan.core.money.parse_minor`); the loan itself (in the actor's branch scope,
active, the date not too far back); and finding the loan under its row lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from creditplan.core.access import Actor, may
from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.loans.loan_state import loan_for_update
from creditplan.loans.models import Loan, LoanStatus
from creditplan.loans.values import parse_date
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["CHANNELS", "backdate_free_days", "check_backdate_authority", "MAX_AMOUNT_MINOR", "MAX_REFERENCE", "ONE_DAY", "STAFF_CHANNELS", "check_channel", "check_loan",
           "clean_loan_ref", "clean_reference", "is_backdated", "lock_loan", "parse_value_date",
           "require_loan_in_scope"]

CHANNELS = ("teller", "api", "file", "auto", "debit")
STAFF_CHANNELS = ("teller", "api")
MAX_REFERENCE = 64
MAX_AMOUNT_MINOR = 10**15  # ten trillion yuan: beyond any loan, far inside a BIGINT; the amount of a payment is
# `parse_minor(amount, "amount", allow_zero=False, maximum=MAX_AMOUNT_MINOR)` (the one money edge, core.money)
ONE_DAY = dt.timedelta(days=1)


def clean_reference(reference: Any) -> str:
    ref = reference.strip() if isinstance(reference, str) else ""
    if not ref:
        raise ValidationError("reference is required (the payer's unique transaction reference)",
                              field="reference", code="required")
    if len(ref) > MAX_REFERENCE or not ref.isprintable():
        raise ValidationError(f"reference must be printable text of at most {MAX_REFERENCE} characters",
                              field="reference", code="invalid_reference")
    return ref


def clean_loan_ref(loan_ref: Any) -> str:
    ref = loan_ref.strip() if isinstance(loan_ref, str) else str(loan_ref or "").strip()
    if not ref:
        raise ValidationError("loan_ref is required", field="loan_ref", code="required")
    return ref


def parse_value_date(value: Any, today: dt.date) -> dt.date:
    day = today if value in (None, "") else parse_date(value, "value_date")
    if day > today:
        raise ValidationError(f"value_date {day} is after {today}, the latest value date a payment may take now",
                              field="value_date", code="date_in_future", extra={"latest": today.isoformat()})
    return day


def check_channel(actor: Actor | None, channel: Any) -> str:
    """The channel a payment is recorded under, refused when the actor may not use it (see STAFF_CHANNELS)."""
    allowed = CHANNELS if actor is None else STAFF_CHANNELS
    if channel not in allowed:
        raise ValidationError(f"channel must be one of {', '.join(allowed)}: bank-file and auto-debit "
                              "payments are recorded by the import and the daily close", field="channel",
                              code="invalid_channel")
    return str(channel)


def require_loan_in_scope(actor: Actor | None, loan: Any, field: str = "loan_ref") -> None:
    """A loan of a branch outside the actor's is answered exactly as a loan that does not exist (404, the same
    body): checked as soon as the loan is found, before its status, balances or payments are looked at."""
    org.require_in_scope(actor, loan.branch, message=f"no loan {loan.ref}", code="unknown_loan", field=field)


def check_loan(actor: Actor | None, loan: Loan, day: dt.date, today: dt.date, *, channel: str = "teller") -> None:
    """What refuses a payment for this loan on `day` (nothing is written before these checks). A bank file's
    line (channel "file") carries the bank's value date, not one a person chose: no back-dating authority."""
    require_loan_in_scope(actor, loan)
    if loan.status == LoanStatus.CLOSED:
        raise Conflict(f"loan {loan.ref} is closed (repaid on {loan.closed_on})", field="loan_ref",
                       code="loan_closed")
    if loan.status == LoanStatus.WRITTEN_OFF:
        raise Conflict(f"loan {loan.ref} is written off; record the money as a recovery", field="loan_ref",
                       code="loan_written_off")
    oldest = today - dt.timedelta(days=loan.product.max_backdate_days)
    if day < oldest:
        raise ValidationError(f"value_date {day} is more than {loan.product.max_backdate_days} days back "
                              f"(earliest {oldest})", field="value_date", code="backdate_too_old")
    if day < loan.start_date:
        raise ValidationError(f"value_date {day} is before the loan started on {loan.start_date}",
                              field="value_date", code="before_start")
    check_backdate_authority(None if channel == "file" else actor, day, today)


def backdate_free_days() -> int:
    """How many days back a person may date a payment without the back-dating authority (CREDITPLAN_BACKDATE_DAYS;
    the product's max_backdate_days stays the hard limit for everyone)."""
    return max(0, int(getattr(settings, "BACKDATE_DAYS", 3)))


def check_backdate_authority(actor: Actor | None, day: dt.date, today: dt.date) -> None:
    """A value date more than `backdate_free_days()` back needs loan.backdate (risk managers): it reopens closed
    days' interest. Trusted code (actor None: the close, a bank file's batch) dates by the bank's value date."""
    free = backdate_free_days()
    if actor is None or day >= today - dt.timedelta(days=free) or may(actor, Perm.LOAN_BACKDATE):
        return
    raise Forbidden(f"value_date {day} is more than {free} days back (earliest without back-dating authority: "
                    f"{today - dt.timedelta(days=free)}); a risk manager may post it", field="value_date",
                    code="backdate_needs_authority", extra={"limit_days": free})


def is_backdated(loan: Loan, day: dt.date) -> bool:
    """A payment dated on or before the last close applied to the loan changes what that close computed."""
    return day <= loan.closed_through and loan.closed_through > loan.start_date


def lock_loan(loan_ref: str) -> Loan:
    try:
        return loan_for_update(loan_ref)
    except NotFound:
        raise NotFound(f"no loan {loan_ref}", field="loan_ref", code="unknown_loan") from None
