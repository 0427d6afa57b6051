"""Write-off (核销) and recovery (已核销贷款收回): a loan the bank no longer expects to collect leaves the balance
sheet against the loss allowance, and stays on record off balance (账销案存) until it is recovered or the claim
lapses; money that still comes in afterwards reduces that record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.ledger import services as ledger
from creditplan.loans import accounting
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.models import Loan, LoanActivity, LoanStatus, Payment
from creditplan.loans.restructure import (
    LOSS_CLASS,
    NON_PERFORMING_CLASS,
    _require_active,
    _require_in_scope,
    state_of,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["record_recovery", "write_off"]


@transaction.atomic
def write_off(actor: Actor, loan_ref: Any, *, reason: str, on: Any = None) -> Loan:
    """Take a non-performing loan (class ≥ 3, 次级 or worse) off the balance sheet: every receivable goes to
    the loss account (Dr 6701 / Cr 1301, 1321, 1322, 1323, 1324) and into `written_off_minor`. A credit balance
    the customer holds stays: it is still owed to them (GL 2241)."""
    org.require(actor, Perm.LOAN_WRITE_OFF)
    why = str(reason or "").strip()
    if not why:
        raise ValidationError("a write-off needs a reason", field="reason", code="required")
    if len(why) > 300:
        raise ValidationError("reason: at most 300 characters", field="reason", code="too_long")
    loan = loans.loan_for_update(loan_ref)
    _require_in_scope(actor, loan)
    _require_active(loan, "written off")
    day = loans.business_date() if on in (None, "") else loans.parse_date(on, "on")
    if day < loan.closed_through:
        raise ValidationError(f"the close has applied loan {loan.ref} through {loan.closed_through}; a write-off "
                              f"cannot be dated before it", field="on", code="date_closed")
    if day > max(loans.business_date(), loan.closed_through + dt.timedelta(days=1)):
        raise ValidationError("a write-off cannot be dated in the future", field="on", code="date_in_future")
    if loan.risk_class < NON_PERFORMING_CLASS:
        raise Conflict(f"only non-performing loans (class 3 次级 or worse) are written off; loan {loan.ref} is "
                       f"class {loan.risk_class}", field="loan", code="not_non_performing")
    parts = {"principal": loan.principal_outstanding_minor, "accrued_interest": loan.accrued_interest_minor,
             "overdue_interest": loan.overdue_interest_minor, "penalty": loan.penalty_minor,
             "fees": loan.fees_minor}
    total = sum(parts.values())
    before = state_of(loan)
    branch, currency = loan.branch.code, loan.currency
    entry = accounting.post_entry(day, "write_off", [
        Line(accounts.WRITE_OFF_LOSS, branch, total, currency),
        Line(accounts.LOAN_PRINCIPAL, branch, -parts["principal"], currency),
        Line(accounts.ACCRUED_INTEREST, branch, -parts["accrued_interest"], currency),
        Line(accounts.INTEREST_DUE, branch, -parts["overdue_interest"], currency),
        Line(accounts.PENALTY_RECEIVABLE, branch, -parts["penalty"], currency),
        Line(accounts.FEES_RECEIVABLE, branch, -parts["fees"], currency),
    ], loan=loan, memo=f"write-off {loan.ref}")
    loan.written_off_minor += total
    loan.principal_outstanding_minor = loan.overdue_principal_minor = loan.overdue_interest_minor = 0
    loan.accrued_interest_minor = loan.penalty_minor = loan.penalty_carry = loan.fees_minor = 0
    loans.set_current_period(loan, None)
    loan.status = LoanStatus.WRITTEN_OFF
    loan.written_off_on = day
    loan.risk_class = LOSS_CLASS
    loan.frozen = True
    loan.version += 1
    loan.save()
    LoanActivity.objects.create(loan=loan, business_date=day, kind="written_off", clause="write_off",
                                amount_minor=total, detail={
                                    "reason": why, "parts": parts, "closed_through": loan.closed_through.isoformat(),
                                    "entry": entry.pk if entry else None, "state_before": before,
                                    "state_after": state_of(loan)})
    ledger.append(actor, "loan.written_off", "loan", loan.ref, {
        "on": day, "reason": why, "written_off_minor": total, "parts": parts, "credit_minor": loan.credit_minor,
        "dpd": loan.dpd})
    return loan


@transaction.atomic
def record_recovery(actor: Actor, loan_ref: Any, *, amount: Any, reference: str, value_date: Any = None
                    ) -> Payment:
    """Money received on a written-off loan: Dr cash / Cr recoveries (6702). Idempotent by `reference`: the
    same reference again returns the first payment; with another amount or loan it is refused."""
    org.require(actor, Perm.LOAN_REPAY)
    minor = parse_minor(amount, "amount", allow_zero=False)
    ref = str(reference or "").strip()
    if not ref:
        raise ValidationError("reference is required (it makes a recovery idempotent)", field="reference",
                              code="required")
    if len(ref) > 64:
        raise ValidationError("reference: at most 64 characters", field="reference", code="too_long")
    loan = loans.loan_for_update(loan_ref)
    _require_in_scope(actor, loan)
    seen = Payment.objects.filter(reference=ref).first()
    if seen is not None:
        if seen.loan_id == loan.pk and seen.kind == "recovery" and seen.amount_minor == minor:
            return seen
        if seen.loan_id != loan.pk:  # never describe another loan's payment (it may be another branch's)
            raise Conflict(f"reference {ref} is already used by another payment; give this one its own "
                           "reference", field="reference", code="reference_reused")
        raise Conflict(f"reference {ref} was already used for a {seen.kind} payment of "
                       f"{format_minor(seen.amount_minor, loan.currency)} on this loan", field="reference",
                       code="reference_reused")
    if loan.status != LoanStatus.WRITTEN_OFF:
        raise Conflict(f"loan {loan.ref} is {loan.status}; recoveries are for written-off loans (post a "
                       f"repayment instead)", field="loan", code="not_written_off")
    day = loans.business_date() if value_date in (None, "") else loans.parse_date(value_date, "value_date")
    if day > loans.business_date():
        raise ValidationError("value_date cannot be in the future", field="value_date", code="date_in_future")
    if loan.written_off_on is not None and day < loan.written_off_on:
        raise ValidationError(f"value_date is before the write-off on {loan.written_off_on}", field="value_date",
                              code="before_write_off")
    headroom = loan.written_off_minor - loan.recovered_minor
    if minor > headroom:
        raise ValidationError(f"amount {format_minor(minor, loan.currency)} is more than is left to recover "
                              f"({format_minor(headroom, loan.currency)})", field="amount",
                              code="exceeds_written_off")
    before = loans.snapshot(loan)
    branch, currency = loan.branch.code, loan.currency
    try:
        with transaction.atomic():
            payment = Payment.objects.create(reference=ref, loan=loan, value_date=day, amount_minor=minor,
                                             channel="recovery", kind="recovery", allocation={"recovery": minor},
                                             state_before=before, posted_by=actor)
    except IntegrityError:
        raise Conflict(f"reference {ref} is being used by another payment", field="reference",
                       code="reference_reused") from None
    entry = accounting.post_entry(day, "recovery", [
        Line(accounts.CASH, branch, minor, currency), Line(accounts.RECOVERY_INCOME, branch, -minor, currency),
    ], loan=loan, memo=f"recovery {loan.ref} {ref}")
    loan.recovered_minor += minor
    loan.version += 1
    loan.save(update_fields=["recovered_minor", "version"])
    LoanActivity.objects.create(loan=loan, business_date=day, kind="recovery", clause="recovery",
                                amount_minor=minor, detail={"reference": ref, "payment": payment.pk,
                                                            "entry": entry.pk if entry else None,
                                                            "recovered_minor": loan.recovered_minor})
    ledger.append(actor, "loan.recovered", "loan", loan.ref, {
        "reference": ref, "amount_minor": minor, "value_date": day, "recovered_minor": loan.recovered_minor,
        "written_off_minor": loan.written_off_minor})
    return payment
