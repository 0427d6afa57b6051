"""Backdating and reversal, by replay: a payment dated on or before the last close applied to its loan, or a
payment reversed, puts the loan back to a state stored before it (`state.py`), re-applies the payments that
follow it in value-date order with the daily close in between (`cob.advance_loan`, no GL), and posts ONE
adjusting journal entry with the difference per GL account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, clock
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.allocation import apply_payment
from creditplan.loans.loan_state import loan_for_update
from creditplan.loans.models import Loan, LoanActivity, LoanStatus, Payment, Restructuring
from creditplan.loans.payments.checks import ONE_DAY, clean_reference
from creditplan.loans.payments.order import rule_of
from creditplan.loans.payments.records import (
    PaymentResult,
    event_data,
    restore_quota,
    result_of,
    save_loan,
    save_rows,
)
from creditplan.loans.payments.state import (
    due_rows,
    falling_due,
    initial_snapshot,
    layout_of,
    restore,
    snapshot,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["post_backdated", "reverse_payment"]

# Loan balance → (GL account, sign): how a change of the subledger shows in the general ledger.
_GL_OF_FIELD = (
    ("principal_outstanding_minor", accounts.LOAN_PRINCIPAL, 1),
    ("accrued_interest_minor", accounts.ACCRUED_INTEREST, 1),
    ("overdue_interest_minor", accounts.INTEREST_DUE, 1),
    ("penalty_minor", accounts.PENALTY_RECEIVABLE, 1),
    ("fees_minor", accounts.FEES_RECEIVABLE, 1),
    ("credit_minor", accounts.CUSTOMER_CREDIT, -1),
    ("interest_income_minor", accounts.INTEREST_INCOME, -1),
    ("penalty_income_minor", accounts.PENALTY_INCOME, -1),
    ("fee_income_minor", accounts.FEE_INCOME, -1),
)


def posted_in_order(loan: Loan) -> list[Payment]:
    return list(Payment.objects.filter(loan=loan, status="posted").order_by("value_date", "id"))


def _point_of(p: Payment) -> dt.date:
    """Where in the loan's history a payment applies: after the close of the day before its value date — or
    earlier, when it was posted before the close had reached that day (the close caught up after it)."""
    prior = (p.state_before or {}).get("loan", {}).get("closed_through")
    day = p.value_date - ONE_DAY
    return min(day, dt.date.fromisoformat(prior)) if prior else day


def snapshot_point(snap: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(snap["loan"]["closed_through"])


# The close for one loan (cob.advance_loan). The close sits above the payments (its batch debit posts payments),
# so it hands its function down when it is imported (cob/run.py) rather than being imported from here.
_ADVANCE: Callable[..., Any] | None = None


def use_advance(fn: Callable[..., Any]) -> None:
    global _ADVANCE
    _ADVANCE = fn


def _advance(loan: Loan, day: dt.date) -> None:
    """Run the daily close for this one loan through `day` (in the replay: no GL, no activity)."""
    if loan.status != LoanStatus.ACTIVE or day <= loan.closed_through:
        return
    if _ADVANCE is None:  # pragma: no cover - the loans app imports the close when it starts (apps.py)
        raise Conflict("the daily close (cob.advance_loan) is not available: a payment dated before the last "
                       "close cannot be replayed", field="value_date", code="replay_unavailable")
    _ADVANCE(loan, day, record=False)


def gl_state(loan: Loan) -> dict[str, int]:
    """The loan's balances and income the general ledger summarises, and whether it is non-accrual."""
    return {**{f: int(getattr(loan, f)) for f, _, _ in _GL_OF_FIELD}, "non_accrual": int(bool(loan.non_accrual))}


def _gl_accounts(state: dict[str, int]) -> dict[str, int]:
    """`gl_state` per GL account: a non-accrual loan's interest and penalty owed are in the memo account."""
    out: dict[str, int] = {}
    off = bool(state.get("non_accrual"))
    for f, account, sign in _GL_OF_FIELD:
        if off and account in accounts.OFF_WHEN_NON_ACCRUAL:
            account = accounts.OFF_BALANCE_INTEREST
        out[account] = out.get(account, 0) + sign * state[f]
    out[accounts.OFF_BALANCE_INTEREST_CONTRA] = -out.get(accounts.OFF_BALANCE_INTEREST, 0)
    return out


def _replay(loan: Loan, base: dict[str, Any], payments: Sequence[Payment], through: dt.date,
            points: dict[int, dt.date]) -> None:
    """Restore `base`, then apply `payments` in order, each after the close of the day before its value date
    (`points`), recomputing its `state_before` and allocation; finally close the loan through `through`."""
    restore(loan, base)
    rule = rule_of(loan)
    for p in payments:
        _advance(loan, max(loan.closed_through, points[p.pk]))
        rows = due_rows([loan.pk]).get(loan.pk, [])
        falling = falling_due(loan, p.value_date)  # the same rule as when it was posted
        p.state_before = snapshot(loan, rows if falling is None else [*rows, falling], layout_of(loan))
        applied = apply_payment(loan, rows, p.amount_minor, p.value_date, falling=falling, rule=rule)
        save_loan(loan)
        save_rows(rows if falling is None else [*rows, falling])
        p.allocation = applied.allocation
        p.save(update_fields=["state_before", "allocation"])
    _advance(loan, through)
    save_loan(loan)


def replay_through(loan: Loan) -> dt.date:
    last = clock.last_closed_date()
    if loan.status == LoanStatus.ACTIVE or last is None:
        return loan.closed_through
    return max(loan.closed_through, min(last, clock.business_date()))


def refuse_replay_of(payments: Iterable[Payment], why: str) -> None:
    for q in payments:
        if q.kind != "regular":
            raise Conflict(f"{why}: payment {q.reference} ({q.kind}) follows it; reverse that prepayment first",
                           field="reference", code="replay_across_prepayment")


def check_restructurings(loan: Loan, since: dt.date) -> None:
    if Restructuring.objects.filter(loan=loan, effective_date__gt=since).exists():
        raise Conflict(f"loan {loan.ref} was restructured after {since}; that history cannot be replayed",
                       field="value_date", code="replay_across_restructuring")


def _adjust(loan: Loan, before: dict[str, int], cash_delta: int, day: dt.date, kind: str, memo: str
            ) -> dict[str, int]:
    """ONE journal entry for what a replay changed: per account, the change of the loan's balances and
    income, and the cash of the payments added or reversed. It must balance (check_balanced raises)."""
    after, was = _gl_accounts(gl_state(loan)), _gl_accounts(before)
    branch, cur = loan.branch.code, loan.currency
    lines = [Line(accounts.CASH, branch, cash_delta, cur)]
    adjustment = {accounts.CASH: cash_delta} if cash_delta else {}
    for account in sorted(set(after) | set(was)):
        delta = after.get(account, 0) - was.get(account, 0)
        if delta:
            lines.append(Line(account, branch, delta, cur))
            adjustment[account] = adjustment.get(account, 0) + delta
    accounting.post_entry(day, kind, lines, loan=loan, memo=memo)
    return adjustment


def post_backdated(actor: Actor, loan: Loan, new: Payment) -> PaymentResult:
    """A payment dated on or before the last close: find a state from before it, replay it and everything
    after it with the close days in between, post one adjusting entry."""
    before = gl_state(loan)
    through = replay_through(loan)
    ordered = posted_in_order(loan)
    idx = next(i for i, q in enumerate(ordered) if q.pk == new.pk)
    points = {q.pk: _point_of(q) for q in ordered}
    points[new.pk] = new.value_date - ONE_DAY
    old_cash = {q.pk: int((q.allocation or {}).get("cash", 0)) for q in ordered}
    old_cash[new.pk] = 0
    start = None
    if idx + 1 < len(ordered) and snapshot_point(ordered[idx + 1].state_before) <= points[new.pk]:
        start, base = idx, ordered[idx + 1].state_before
    else:
        for j in range(idx - 1, -1, -1):
            if snapshot_point(ordered[j].state_before) <= points[new.pk]:
                start, base = j, ordered[j].state_before
                break
    if start is None:
        start, base = 0, initial_snapshot(loan)
    replayed = ordered[start:]
    refuse_replay_of([q for q in replayed if q.pk != new.pk], f"payment {new.reference} is dated {new.value_date}")
    check_restructurings(loan, snapshot_point(base))
    _replay(loan, base, replayed, through, points)
    new = next(q for q in replayed if q.pk == new.pk)  # the replayed row: its allocation is the one just stored
    cash_delta = sum(int(q.allocation.get("cash", 0)) - old_cash[q.pk] for q in replayed)
    # Posted on the booking day (issue 18; issue 20: the next day once today's close has run): the days already
    # closed keep their trial balance; the value date stays on the payment, the activity and the event (interest
    # was recomputed from it by the replay).
    today = clock.booking_date()
    adjustment = _adjust(loan, before, cash_delta, today, "repayment",
                         f"backdated repayment {new.reference} value {new.value_date} (close replayed through "
                         f"{through})")
    principal_delta = before["principal_outstanding_minor"] - loan.principal_outstanding_minor
    quota = restore_quota(loan, principal_delta, today)
    LoanActivity.objects.create(loan=loan, business_date=today, kind="repayment",
                                amount_minor=new.amount_minor,
                                detail={"reference": new.reference, "channel": new.channel, "backdated": True,
                                        "value_date": new.value_date.isoformat(), "entry_date": today.isoformat(),
                                        "allocation": new.allocation, "adjustment": adjustment, "quota": quota,
                                        "replayed": [q.reference for q in replayed if q.pk != new.pk]})
    ledger.append(actor, "loan.repayment", "loan", loan.ref,
                  event_data(new, loan, backdated=True, adjustment=adjustment, replayed_through=through,
                             entry_date=today.isoformat()))
    return result_of(new, loan, backdated=True, adjustment=adjustment)


def reverse_payment(actor: Actor, *, reference: Any, reason: Any) -> PaymentResult:
    """Reverse a posted payment: mark it reversed, put the loan back to the state it found, replay every later
    payment (fresh state_before, allocation recomputed) and the close days in between, post one adjusting
    entry (the reversed cash out). Reversing twice is a Conflict."""
    org.require(actor, Perm.LOAN_REVERSE)
    ref = clean_reference(reference)
    why = reason.strip() if isinstance(reason, str) else ""
    if not why:
        raise ValidationError("reason is required to reverse a payment", field="reason", code="required")
    if len(why) > 200:
        raise ValidationError("reason must be at most 200 characters", field="reason", code="too_long")
    with transaction.atomic():
        found = Payment.objects.filter(reference=ref).values_list("loan_id", flat=True).first()
        if found is None:
            raise NotFound(f"no payment {ref}", field="reference", code="unknown_payment")
        loan = loan_for_update(found)
        # another branch's payment is answered as a payment that does not exist, before anything about it
        org.require_in_scope(actor, loan.branch, message=f"no payment {ref}", code="unknown_payment",
                             field="reference")
        p = Payment.objects.get(reference=ref)
        if p.status == "reversed":
            raise Conflict(f"payment {ref} was already reversed", field="reference", code="already_reversed")
        if loan.status == LoanStatus.WRITTEN_OFF:
            raise Conflict(f"loan {loan.ref} is written off", field="reference", code="loan_written_off")
        ordered = posted_in_order(loan)
        idx = next(i for i, q in enumerate(ordered) if q.pk == p.pk)
        later = ordered[idx + 1:]
        refuse_replay_of(later, f"payment {ref} cannot be reversed alone")
        check_restructurings(loan, snapshot_point(p.state_before))
        before = gl_state(loan)
        through = replay_through(loan)
        points = {q.pk: _point_of(q) for q in later}
        old_cash = {q.pk: int((q.allocation or {}).get("cash", 0)) for q in ordered}
        p.status, p.reversal_reason, p.reversed_at = "reversed", why, timezone.now()
        p.save(update_fields=["status", "reversal_reason", "reversed_at"])
        _replay(loan, p.state_before, later, through, points)
        cash_delta = sum(int(q.allocation.get("cash", 0)) - old_cash[q.pk] for q in later) - old_cash[p.pk]
        today = clock.booking_date()  # a closed day's books do not change (issue 20)
        adjustment = _adjust(loan, before, cash_delta, today, "reversal", f"reversal of payment {ref}: {why}")
        principal_delta = before["principal_outstanding_minor"] - loan.principal_outstanding_minor
        quota = restore_quota(loan, principal_delta, today)
        LoanActivity.objects.create(loan=loan, business_date=today, kind="payment_reversed",
                                    amount_minor=p.amount_minor,
                                    detail={"reference": ref, "reason": why, "adjustment": adjustment,
                                            "quota": quota,
                                            "principal_unpaid_again_minor": max(0, -principal_delta),
                                            "replayed": [q.reference for q in later]})
        ledger.append(actor, "loan.payment_reversed", "loan", loan.ref,
                      {"reference": ref, "reason": why, "amount_minor": p.amount_minor,
                       "value_date": p.value_date.isoformat(), "adjustment": adjustment,
                       "replayed": [q.reference for q in later], "status": loan.status})
        return result_of(p, loan, adjustment=adjustment)
