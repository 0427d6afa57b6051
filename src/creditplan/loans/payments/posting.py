"""Posting one regular payment (a teller's, an API call's, a bank-file line's posted on its own): the checks,
idempotency by reference, the allocation (`domain/allocation.apply_payment`), the journal entry, the quota, the
activity and the ledger event — in one transaction, or nothing. A payment dated on or before the last close
applied to its loan goes through the replay (`replay.py`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.errors import ValidationError
from creditplan.core.money import parse_minor
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, clock
from creditplan.loans.domain.allocation import apply_payment
from creditplan.loans.models import Loan, LoanActivity
from creditplan.loans.payments.checks import (
    MAX_AMOUNT_MINOR,
    check_channel,
    check_loan,
    clean_loan_ref,
    clean_reference,
    is_backdated,
    lock_loan,
    parse_value_date,
    require_loan_in_scope,
)
from creditplan.loans.payments.order import rule_of
from creditplan.loans.payments.records import (
    PaymentResult,
    event_data,
    existing,
    insert_payment,
    restore_quota,
    result_of,
    save_loan,
    save_rows,
)
from creditplan.loans.payments.replay import post_backdated
from creditplan.loans.payments.state import due_rows, falling_due, layout_of, snapshot
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["post_locked", "post_payment", "post_with_channel"]


def post_payment(actor: Actor, *, loan_ref: Any, amount: Any, reference: Any, value_date: Any = None,
                 channel: str = "teller", kind: str = "regular") -> PaymentResult:
    """Post a repayment: the waterfall over what is due, the overpayment rule, the GL entry, the quota, the
    activity and the ledger event — in one transaction, or nothing.

    Idempotent by `reference`: the same reference again returns the payment already posted (duplicate=True),
    also when two requests race (the unique constraint decides); the same reference for another loan or
    amount is a Conflict. A payment dated on or before the last close applied to the loan (backdated) is
    posted by replaying the close days after it (see `_replay`)."""
    org.require(actor, Perm.LOAN_REPAY)
    if kind != "regular":
        raise ValidationError("post_payment posts regular payments; prepayments go through prepay()",
                              field="kind", code="invalid_kind")
    return post_with_channel(actor, loan_ref=loan_ref, amount=amount, reference=reference, value_date=value_date,
                         channel=check_channel(actor, channel))


def post_with_channel(actor: Actor, *, loan_ref: Any, amount: Any, reference: Any, value_date: Any, channel: str
                  ) -> PaymentResult:
    """post_payment once the permission and the channel are settled (the bank file's one-by-one lines come
    here with channel "file"). The loan is found and its branch scope checked before anything is said about
    the reference or the loan."""
    ref = clean_reference(reference)
    lref = clean_loan_ref(loan_ref)
    minor = parse_minor(amount, "amount", allow_zero=False, maximum=MAX_AMOUNT_MINOR)
    today = clock.business_date()
    # blank: the booking day (today, or the next day once today's close has run); at most the booking day. An
    # earlier value date is a back-valued repayment: the close is replayed for the loan, the entry is booked on
    # the booking day (replay.post_backdated) — a closed day's books do not change.
    day = parse_value_date(value_date, clock.booking_date())
    with transaction.atomic():
        loan = lock_loan(lref)
        require_loan_in_scope(actor, loan)
        found = existing(ref, loan, minor)
        if found is not None:
            return found
        check_loan(actor, loan, day, today, channel=channel)
        return post_locked(actor, loan, ref, minor, day, channel, "regular")


def post_locked(actor: Actor, loan: Loan, ref: str, minor: int, day: dt.date, channel: str, kind: str
                 ) -> PaymentResult:
    rows = due_rows([loan.pk]).get(loan.pk, [])
    falling = falling_due(loan, day)  # the installment falling due by the value date, not yet marked due
    snap = snapshot(loan, rows if falling is None else [*rows, falling], layout_of(loan))
    p = insert_payment(actor, loan, ref, minor, day, channel, kind, snap)
    if isinstance(p, PaymentResult):
        return p
    if is_backdated(loan, day):
        return post_backdated(actor, loan, p)
    applied = apply_payment(loan, rows, minor, day, falling=falling, rule=rule_of(loan))
    save_loan(loan)
    save_rows(rows if falling is None else [*rows, falling])
    p.allocation = applied.allocation
    p.save(update_fields=["allocation"])
    accounting.post_entry(day, "repayment", applied.lines, loan=loan, memo=f"repayment {ref}")
    quota = restore_quota(loan, applied.principal_paid, day)
    LoanActivity.objects.create(loan=loan, business_date=day, kind="repayment", amount_minor=minor,
                                detail={"reference": ref, "channel": channel, "allocation": applied.allocation,
                                        "quota": quota, "closed": applied.closed})
    ledger.append(actor, "loan.repayment", "loan", loan.ref, event_data(p, loan))
    return result_of(p, loan)
