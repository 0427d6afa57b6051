"""What every posting path shares besides the allocation: the result a caller gets (`PaymentResult`),
idempotency by reference (the payment already posted, or a Conflict when the reference was used otherwise), the
payment row inserted first (the unique constraint decides between two racing requests), writing back the loan
and the rows a payment changed, the credit plan's quota given back by the principal repaid, and the ledger
event's data.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict
from creditplan.core.money import format_minor, to_major
from creditplan.lines import services as lines
from creditplan.loans import clock, plan_book, services
from creditplan.loans.domain.allocation import InstallmentRow
from creditplan.loans.models import Loan, Payment
from creditplan.loans.sql import payments as payments_sql

__all__ = ["PaymentResult", "event_data", "existing", "insert_payment", "reference_reused", "restore_quota",
           "result_of", "save_loan", "save_rows"]

log = logging.getLogger("creditplan.loans.payments")


@dataclass(frozen=True)
class PaymentResult:
    """What happened to one payment. `duplicate`: the reference was already posted and nothing was applied
    again. `adjustment`: for a backdated payment or a reversal, the change per GL account the replay made."""

    reference: str
    loan_ref: str
    value_date: dt.date
    amount_minor: int
    currency: str
    channel: str
    kind: str
    status: str
    allocation: dict[str, Any]
    loan_status: str
    balances: services.Balances
    duplicate: bool = False
    backdated: bool = False
    adjustment: dict[str, int] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal:
        return to_major(self.amount_minor, self.currency)


def save_loan(loan: Loan) -> None:
    loan.save()


def save_rows(rows: Iterable[InstallmentRow]) -> int:
    """Write back the paid columns of the rows a payment changed (one statement, executemany)."""
    dirty = [r for r in rows if r.dirty]
    if not dirty:
        return 0
    payments_sql.update_installments(dirty)
    for r in dirty:
        r.dirty = False
    return len(dirty)


def restore_quota(loan: Loan, principal_minor: int, day: dt.date, *, book: bool = True) -> str:
    """Principal repaid restores the customer's credit-line room and reaches the credit plan's book (every plan
    that tracks the whole book: plan_book.principal_moved, issue 19 §5 — whatever plan the loan was paid out
    under, or none); a negative amount (a reversal that makes principal outstanding again) takes them back. The
    system acts: actor None. `book` False: the caller moves the plan's book itself, once for its batch."""
    if principal_minor == 0:
        return "none"
    # the customer's credit line first (the lock order): a revolving line gets the room back, a reversal takes it
    if loan.application_ref:
        if principal_minor > 0:
            lines.restore(loan.application_ref, int(principal_minor))
        else:
            lines.unrestore(loan.application_ref, -int(principal_minor))
    if not book:
        return "restored"
    return plan_book.principal_moved(loan, -int(principal_minor), min(day, clock.business_date()),
                                     "repayment" if principal_minor > 0 else "reversal")


def result_of(p: Payment, loan: Loan, *, duplicate: bool = False, backdated: bool = False,
            adjustment: dict[str, int] | None = None) -> PaymentResult:
    return PaymentResult(reference=p.reference, loan_ref=loan.ref, value_date=p.value_date, amount_minor=p.amount_minor,
                         currency=loan.currency, channel=p.channel, kind=p.kind, status=p.status,
                         allocation=dict(p.allocation or {}), loan_status=loan.status,
                         balances=services.balances(loan), duplicate=duplicate, backdated=backdated,
                         adjustment=dict(adjustment or {}))


def reference_reused(reference: str, same_loan_amount: int | None = None) -> Conflict:
    """A reference already taken. Another loan's payment is never described (not its loan, not its amount: the
    loan may be another branch's, and references are predictable); a payment of the same loan — one the actor
    may see — says the amount it was for."""
    if same_loan_amount is None:
        return Conflict(f"reference {reference} is already used by another payment; give this payment its "
                        "own reference", field="reference", code="reference_reused")
    return Conflict(f"reference {reference} was already used on this loan for "
                    f"{format_minor(same_loan_amount)}", field="reference", code="reference_reused")


def existing(reference: str, loan: Any, amount: int) -> PaymentResult | None:
    """The payment already posted under `reference` on this loan for this amount (idempotency), or a Conflict
    when the reference was used otherwise. The caller has found `loan` and checked it is in the actor's scope:
    this runs after the scope check, so a duplicate never reveals another branch's loan or balances."""
    p = Payment.objects.filter(reference=reference).first()
    if p is None:
        return None
    if p.loan_id != loan.pk:
        raise reference_reused(reference)
    if p.amount_minor != amount:
        raise reference_reused(reference, p.amount_minor)
    return result_of(p, loan, duplicate=True)


def event_data(p: Any, loan: Loan, **extra: Any) -> dict[str, Any]:
    a = p.allocation
    return {"reference": p.reference, "amount_minor": p.amount_minor, "value_date": p.value_date.isoformat(),
            "channel": p.channel, "kind": p.kind,
            "allocation": {k: a.get(k, 0) for k in ("penalty", "fee", "interest", "principal", "credit", "refund")},
            "status": loan.status, **extra}


def insert_payment(actor: Actor, loan: Loan, ref: str, minor: int, day: dt.date, channel: str, kind: str,
                    snap: dict[str, Any]) -> Payment | PaymentResult:
    """Insert the payment row first, in a savepoint: when a concurrent request has just posted the same
    reference, the unique constraint says so and the existing payment is returned (nothing else written)."""
    try:
        with transaction.atomic():
            return Payment.objects.create(reference=ref, loan=loan, value_date=day, amount_minor=minor,
                                          channel=channel, kind=kind, state_before=snap, posted_by=actor)
    except IntegrityError:
        found = existing(ref, loan, minor)
        if found is None:
            raise
        return found
