"""The close's debit of the borrowers' settlement accounts (代扣, issue 18), the first step of a close day.

For each loan of the chunk with an active debit mandate (`DebitMandate`) and an installment falling due that day
— or retries left from a debit that fell short — ONE query finds them (sql/debit.py); loans without a mandate are
never touched. Each is asked what is owed on the day: the arrears (overdue principal and interest, penalty, fees)
and the installment falling due, less the credit the customer holds when the auto-debit clause will apply it.
The settlement gateway (`loans.settlement.gateway()`) debits up to that — part of it when the product allows
partial debits (`product.debit_partial`), else all or nothing — and what it debited is posted as a payment
(channel "debit", reference DEBIT-<loan>-<yyyymmdd>-<attempt>, idempotent), allocated exactly as a teller's payment
on the due date (`payments.posting.post_locked`: the term sheet's allocation; the installment falling due is
paid before the close marks it due). What is left is retried at the close of each of the next
`product.debit_retry_days` business days, or until nothing is owed. Every attempt is an activity
("debit_attempt": asked, debited, left, retries left).

It runs before the kernel (`cob/day.py`), on the state of the day before: a payment on the due date, the same
as a borrower paying at the counter that morning, with a snapshot a reversal can restore.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from creditplan.core.access import Actor
from creditplan.loans import plan_book
from creditplan.loans.domain.allocation import InstallmentRow
from creditplan.loans.loan_state import loan_for_update
from creditplan.loans.models import DebitMandate, LoanActivity, LoanStatus
from creditplan.loans.payments.posting import post_locked
from creditplan.loans.payments.state import due_rows, falling_due
from creditplan.loans.products import term_sheet_of
from creditplan.loans.settlement import gateway, mask_account
from creditplan.loans.sql import debit as debit_sql

__all__ = ["CHANNEL", "batch_debit", "reference_of"]

CHANNEL = "debit"


def reference_of(loan_ref: str, day: dt.date, attempt: int) -> str:
    return f"DEBIT-{loan_ref}-{day:%Y%m%d}-{attempt}"


def _owed(loan: Any, rows: list[InstallmentRow], falling: InstallmentRow | None) -> int:
    owed = (loan.overdue_principal_minor + loan.overdue_interest_minor + loan.penalty_minor + loan.fees_minor)
    if falling is not None:
        owed += sum(falling.unpaid)
    return int(owed)


def batch_debit(actor: Actor | None, day: dt.date, where: str, params: list[Any]) -> dict[str, int]:
    """Debit the chunk's mandated loans for `day` (inside the chunk's transaction). Returns the totals."""
    totals = {"debits": 0, "debit_asked_minor": 0, "debit_minor": 0, "debit_short_minor": 0}
    ids = debit_sql.loans_to_debit(where, params, day)
    if not ids:
        return totals
    mandates = {m.loan_id: m for m in DebitMandate.objects.select_for_update().filter(loan_id__in=ids)}
    g = gateway()
    plan_locked = False
    for loan_id in ids:
        loan = loan_for_update(loan_id)
        m = mandates[loan_id]
        if loan.status != LoanStatus.ACTIVE:
            continue
        if loan.current_seq and loan.next_due_date == day:  # a due date: a new cycle of attempts
            m.cycle_date, m.attempt, m.retries_left = day, 0, int(loan.product.debit_retry_days)
        elif m.retries_left > 0:
            m.retries_left -= 1
        else:
            continue
        rows = due_rows([loan.pk]).get(loan.pk, [])
        falling = falling_due(loan, day)
        credit = loan.credit_minor if term_sheet_of(loan).auto_debit else 0
        asked = max(0, _owed(loan, rows, falling) - credit)
        if not asked:  # paid meanwhile: nothing to ask, no retry
            m.retries_left = 0
            m.save(update_fields=["cycle_date", "attempt", "retries_left"])
            continue
        m.attempt += 1
        ref = reference_of(loan.ref, day, m.attempt)
        debited = g.debit(m.account_no, asked, reference=ref, partial=bool(loan.product.debit_partial),
                          currency=loan.currency)
        debited = max(0, min(int(debited), asked))
        if debited:
            if not plan_locked:
                # the credit plan's quota rows before the first payment's ledger event: the chunk moves the plan's
                # book once, at its end (cob/day.py), and quota rows are always locked before the ledger's
                # sequencer, as a reservation locks them (issue 19 §5)
                plan_book.lock_book()
                plan_locked = True
            # posted by the close (actor None: the scheduler, the payment's posted_by stays empty)
            post_locked(cast(Actor, actor), loan, ref, debited, day, CHANNEL, "regular")
        left = asked - debited
        if not left:
            m.retries_left = 0
        m.save(update_fields=["cycle_date", "attempt", "retries_left"])
        LoanActivity.objects.create(loan_id=loan.pk, business_date=day, kind="debit_attempt", amount_minor=debited,
                                    detail={"reference": ref, "account": mask_account(m.account_no),
                                            "attempt": m.attempt, "cycle_date": m.cycle_date.isoformat()
                                            if m.cycle_date else None, "asked_minor": asked,
                                            "debited_minor": debited, "left_minor": left,
                                            "retries_left": m.retries_left,
                                            "partial": bool(loan.product.debit_partial)})
        totals["debits"] += 1
        totals["debit_asked_minor"] += asked
        totals["debit_minor"] += debited
        totals["debit_short_minor"] += left
    return totals
