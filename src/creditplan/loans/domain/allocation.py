"""Applying one payment to a loan, in memory: the product's waterfall (`waterfall.allocate`) over the loan's
penalty, fees and the installments that have fallen due (by the value date: the caller may pass the one falling
due on it, still `scheduled`, as `falling`), then the overpayment rule, then closing the loan when
nothing is left to pay — and the balanced journal lines of all that.

One function (`apply_payment`) serves every way a payment arrives: a teller's payment, an API call, each line
of a bank file, and each payment a replay re-applies (`loans.payments`), so a payment means the same thing
however it arrives. It touches no database: the caller reads the loan and its due rows, calls it, and writes
back what it changed (the rows it marks `dirty`, the loan's balance columns).

What is left once everything due is paid is the customer's credit (product.overpayment = "credit", GL 2241) or
refunded ("refund": recorded on the payment, never held, no GL movement). A loan with nothing left to pay and
no installment left to fall due is closed, and any credit it still holds is refunded.

No Django import: an import-linter contract keeps ``creditplan.*.domain`` pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.waterfall import DEFAULT_ORDER, Allocation, Due, Rule, allocate

__all__ = ["ACTIVE", "CLOSED", "ROW_FIELDS", "Applied", "InstallmentRow", "PayingLoan", "apply_payment",
           "oldest_unpaid", "settle_if_done"]

ACTIVE = "active"  # the values of loans.models.LoanStatus a payment looks at
CLOSED = "closed"

# An installment row as the allocation sees it; the same fields, in the same order, as loan_state.snapshot.
ROW_FIELDS = ("id", "version", "seq", "start_date", "due_date", "principal_minor", "interest_minor", "fee_minor",
              "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status", "paid_on")


class InstallmentRow:
    """An installment row, detached from the ORM (the bank file handles 100,000 of them)."""

    __slots__ = (*ROW_FIELDS, "dirty")

    id: int
    version: int
    seq: int
    start_date: dt.date
    due_date: dt.date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    paid_principal_minor: int
    paid_interest_minor: int
    paid_fee_minor: int
    status: str  # scheduled | due | paid | superseded
    paid_on: dt.date | None
    dirty: bool  # changed by a payment, not yet written back

    def __init__(self, values: Sequence[Any]) -> None:
        for name, value in zip(ROW_FIELDS, values, strict=True):
            setattr(self, name, value)
        self.dirty = False

    @property
    def unpaid(self) -> tuple[int, int, int]:
        return (self.interest_minor - self.paid_interest_minor, self.principal_minor - self.paid_principal_minor,
                self.fee_minor - self.paid_fee_minor)

    @property
    def settled(self) -> bool:
        return not any(self.unpaid)

    def as_json(self) -> list[Any]:
        return [v.isoformat() if isinstance(v, dt.date) else v for v in (getattr(self, f) for f in ROW_FIELDS)]


class _Branch(Protocol):
    @property
    def code(self) -> str: ...


class _Rules(Protocol):
    """What the product says about payments."""

    @property
    def waterfall(self) -> Sequence[str] | None: ...
    @property
    def overpayment(self) -> str: ...  # credit | refund


class PayingLoan(Protocol):
    """The columns of a loan a payment reads and writes (a `Loan` model instance, or the bank file's row)."""

    status: str
    principal_outstanding_minor: int
    overdue_principal_minor: int
    overdue_interest_minor: int
    accrued_interest_minor: int
    penalty_minor: int
    fees_minor: int
    credit_minor: int
    current_seq: int
    period_interest_minor: int
    period_principal_minor: int
    period_fee_minor: int
    interest_income_minor: int
    penalty_income_minor: int
    fee_income_minor: int
    non_accrual: bool
    oldest_due_date: dt.date | None
    dpd: int
    bucket: int
    closed_on: dt.date | None
    version: int

    @property
    def currency(self) -> str: ...
    @property
    def branch(self) -> _Branch: ...
    @property
    def product(self) -> _Rules: ...


@dataclass
class Applied:
    """What a payment did: the allocation (stored on the payment), the journal lines (balanced), the principal
    repaid (the plan's quota comes back by it), and whether the loan closed."""

    allocation: dict[str, Any]
    lines: list[Line]
    principal_paid: int
    closed: bool


def oldest_unpaid(rows: Iterable[InstallmentRow]) -> dt.date | None:
    dates = [r.due_date for r in rows if r.status == "due" and not r.settled]
    return min(dates) if dates else None


def settle_if_done(loan: PayingLoan, rows: Sequence[InstallmentRow], day: dt.date) -> bool:
    """Close the loan when nothing is owed and nothing is left to fall due (brief: "closed")."""
    if loan.status != ACTIVE or loan.current_seq != 0:
        return False
    if (loan.principal_outstanding_minor or loan.overdue_principal_minor or loan.overdue_interest_minor
            or loan.accrued_interest_minor or loan.penalty_minor or loan.fees_minor):
        return False
    if any(r.status == "due" and not r.settled for r in rows):
        return False
    loan.status = CLOSED
    loan.closed_on = day
    return True


def apply_payment(loan: PayingLoan, rows: list[InstallmentRow], amount: int, day: dt.date, *,
                  falling: InstallmentRow | None = None, rule: Rule | None = None) -> Applied:
    """Apply `amount` to the loan (in memory): the product's waterfall over penalty, fees and the due rows,
    then the overpayment rule; closes the loan when everything is paid. Returns the allocation (stored on the
    payment) and the balanced journal lines. Marks the rows it changes `dirty`.

    `falling`: the loan's current installment when it falls due on or before `day` but no close has marked it
    due yet (still `scheduled`): it is paid too, last, as if due — money received on a due date pays that
    day's installment.

    `rule`: the allocation method and order of the loan's term sheet (clause `allocation`, see
    `TermSheet.allocation_rule`); None: by component in the product's waterfall (loans signed before the clause)."""
    branch, cur = loan.branch.code, loan.currency
    if loan.status != ACTIVE:  # closed earlier in a replay: the money goes back
        alloc: dict[str, Any] = {"penalty": 0, "fee": 0, "interest": 0, "principal": 0, "credit": 0,
                                 "refund": amount, "credit_refunded": 0, "cash": 0, "installments": []}
        return Applied(alloc, [], 0, False)
    open_rows = [r for r in rows if r.status == "due" and not r.settled]
    if falling is not None and (falling.status != "scheduled" or falling.settled):
        falling = None
    if falling is not None:
        open_rows.append(falling)  # the newest: paid last, component by component
    falling_fee = falling.unpaid[2] if falling is not None else 0
    if open_rows or loan.penalty_minor or loan.fees_minor:
        a = allocate(amount, penalty=loan.penalty_minor, fees=loan.fees_minor + falling_fee,
                     dues=[Due(r.seq, *r.unpaid) for r in open_rows],
                     order=rule.order if rule is not None else tuple(loan.product.waterfall or DEFAULT_ORDER),
                     by=rule.by if rule is not None else "component")
    else:  # nothing due (a payment ahead of the due date): what allocate() would say, without the work
        a = Allocation(left=amount)
    # what goes to the installment falling due: its fee comes last within the fees (it is the newest charge;
    # installment by installment too: every older charge, late fees included, is paid before its fee)
    ci = a.interest_by_seq.get(falling.seq, 0) if falling is not None else 0
    cp = a.principal_by_seq.get(falling.seq, 0) if falling is not None else 0
    cf = max(0, a.fee - loan.fees_minor) if falling is not None else 0
    paid_rows = []
    for r in open_rows:
        i, p = a.interest_by_seq.get(r.seq, 0), a.principal_by_seq.get(r.seq, 0)
        f = cf if r is falling else a.fee_by_seq.get(r.seq, 0)
        if not (i or p or f):
            continue
        r.paid_interest_minor += i
        r.paid_principal_minor += p
        r.paid_fee_minor += f
        if r.settled:
            r.status, r.paid_on = "paid", day
        r.dirty = True  # the installment falling due, paid in part, stays `scheduled`: the close marks it due
        paid_rows.append([r.seq, i, p, f])
    # Paid ahead of the close that makes it due: the close moves only the rest of the period's amounts to the
    # overdue balances (period_* less what was paid). Its interest is paid out of what has accrued (1321) and
    # the rest is recognised now (6011): the close's accrual on the due date then tops up to period interest
    # less the paid part, so the period's income stays its scheduled interest; its fee is income now (6021).
    ci_accrued = min(ci, loan.accrued_interest_minor)
    if falling is not None:
        loan.period_interest_minor -= ci
        loan.period_principal_minor -= cp
        loan.period_fee_minor -= cf
        loan.accrued_interest_minor -= ci_accrued
        loan.interest_income_minor += ci - ci_accrued
        loan.fee_income_minor += cf
    loan.penalty_minor -= a.penalty
    loan.fees_minor -= a.fee - cf
    loan.overdue_interest_minor -= a.interest - ci
    loan.overdue_principal_minor -= a.principal - cp
    loan.principal_outstanding_minor -= a.principal
    loan.oldest_due_date = oldest_unpaid(rows)
    if loan.oldest_due_date is None:
        loan.dpd = loan.bucket = 0
    credit = refund = credit_refunded = 0
    if settle_if_done(loan, rows, day):
        refund, credit_refunded = a.left + loan.credit_minor, loan.credit_minor
        loan.credit_minor = 0
    elif a.left:
        if loan.product.overpayment == "refund":
            refund = a.left
        else:
            credit = a.left
            loan.credit_minor += credit
    loan.version += 1
    cash = amount - refund
    amounts: dict[str, int] = {}
    for account, amount_minor in (
        (accounts.CASH, cash), (accounts.PENALTY_RECEIVABLE, -a.penalty), (accounts.FEES_RECEIVABLE, -(a.fee - cf)),
        (accounts.FEE_INCOME, -cf), (accounts.INTEREST_DUE, -(a.interest - ci)), (accounts.ACCRUED_INTEREST, -ci_accrued),
        (accounts.INTEREST_INCOME, -(ci - ci_accrued)), (accounts.LOAN_PRINCIPAL, -a.principal),
        (accounts.CUSTOMER_CREDIT, credit_refunded - credit)):
        amounts[account] = amounts.get(account, 0) + amount_minor
    if loan.non_accrual:  # interest and penalty owed are off the balance sheet: what is received is income now
        amounts, interest, penalty = accounts.off_balance(amounts)
        loan.interest_income_minor += interest
        loan.penalty_income_minor += penalty
    lines = [Line(account, branch, amount_minor, cur) for account, amount_minor in amounts.items() if amount_minor]
    alloc = {"penalty": a.penalty, "fee": a.fee, "interest": a.interest, "principal": a.principal, "credit": credit,
             "refund": refund, "credit_refunded": credit_refunded, "cash": cash, "installments": paid_rows}
    return Applied(alloc, lines, a.principal, loan.status == CLOSED)
