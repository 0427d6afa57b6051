"""Applying a payment to a loan (domain/allocation.apply_payment, the one allocation every payment path uses):
properties over random loans — the books balance, nothing is paid beyond what is due, the cash is what was kept,
and what is left over is the customer's credit or a refund as the product says."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.loans.domain import accounts
from creditplan.loans.domain.allocation import ACTIVE, CLOSED, InstallmentRow, apply_payment
from creditplan.loans.domain.waterfall import DEFAULT_ORDER

DAY = dt.date(2025, 3, 15)
START = dt.date(2024, 12, 15)


@dataclass
class Branch:
    code: str = "BJ01"


@dataclass
class Product:
    waterfall: list[str] | None = None
    overpayment: str = "credit"


@dataclass
class Loan:
    """The columns of a loan a payment reads and writes (PayingLoan)."""

    principal_outstanding_minor: int
    overdue_principal_minor: int
    overdue_interest_minor: int
    accrued_interest_minor: int
    penalty_minor: int
    fees_minor: int
    credit_minor: int
    current_seq: int
    product: Product
    status: str = ACTIVE
    oldest_due_date: dt.date | None = None
    dpd: int = 0
    bucket: int = 0
    closed_on: dt.date | None = None
    version: int = 1
    currency: str = "CNY"
    branch: Branch = field(default_factory=Branch)
    interest_income_minor: int = 0
    penalty_income_minor: int = 0
    fee_income_minor: int = 0
    non_accrual: bool = False


def _row(seq: int, principal: int, interest: int, fee: int, paid: tuple[int, int, int], status: str
         ) -> InstallmentRow:
    due = dt.date(2025, seq, 15)  # monthly from January (at most 6 installments here)
    start = dt.date(2025, seq - 1, 15) if seq > 1 else START
    return InstallmentRow([1000 + seq, 1, seq, start, due, principal, interest, fee, *paid, status, None])


@st.composite
def loans(draw: Any) -> tuple[Loan, list[InstallmentRow]]:
    """A loan with some installments fallen due (partly paid, or paid), maybe one not yet due, and balances that
    agree with them: overdue principal and interest are what the due rows leave unpaid, fees include theirs."""
    rows = []
    for k in range(draw(st.integers(0, 5))):
        principal, interest, fee = draw(st.integers(0, 50_000)), draw(st.integers(0, 5_000)), draw(st.integers(0, 500))
        status = draw(st.sampled_from(["due", "due", "paid"]))
        if status == "paid":
            paid = (principal, interest, fee)
        else:
            paid = (draw(st.integers(0, principal)), draw(st.integers(0, interest)), draw(st.integers(0, fee)))
        rows.append(_row(k + 1, principal, interest, fee, paid, status))
    finished = draw(st.booleans())  # no installment left to fall due
    if not finished:
        rows.append(_row(len(rows) + 1, draw(st.integers(1, 50_000)), draw(st.integers(0, 5_000)), 0, (0, 0, 0),
                         "scheduled"))
    due = [r for r in rows if r.status == "due"]
    overdue_principal = sum(r.principal_minor - r.paid_principal_minor for r in due)
    overdue_interest = sum(r.interest_minor - r.paid_interest_minor for r in due)
    row_fees = sum(r.fee_minor - r.paid_fee_minor for r in due)
    not_due = 0 if finished else rows[-1].principal_minor + draw(st.integers(0, 100_000))
    loan = Loan(principal_outstanding_minor=overdue_principal + not_due, overdue_principal_minor=overdue_principal,
                overdue_interest_minor=overdue_interest,
                accrued_interest_minor=0 if finished else draw(st.integers(0, 3_000)),
                penalty_minor=draw(st.integers(0, 2_000)), fees_minor=row_fees + draw(st.integers(0, 1_000)),
                credit_minor=draw(st.integers(0, 20_000)), current_seq=0 if finished else rows[-1].seq,
                product=Product(waterfall=draw(st.none() | st.permutations(DEFAULT_ORDER).map(list)),
                                overpayment=draw(st.sampled_from(["credit", "refund"]))),
                status=draw(st.sampled_from([ACTIVE] * 9 + [CLOSED])))
    return loan, rows


def _columns(rows: list[InstallmentRow]) -> list[tuple[int, ...]]:
    return [(r.principal_minor, r.interest_minor, r.fee_minor, r.paid_principal_minor, r.paid_interest_minor,
             r.paid_fee_minor) for r in rows]


@settings(max_examples=400, deadline=None)
@given(case=loans(), amount=st.integers(1, 200_000))
def test_a_payment_balances_pays_no_more_than_is_due_and_keeps_or_refunds_the_rest(
        case: tuple[Loan, list[InstallmentRow]], amount: int) -> None:
    loan, rows = case
    before = Loan(**{**loan.__dict__})
    rows_before = _columns(rows)
    owed = loan.penalty_minor + loan.fees_minor + loan.overdue_interest_minor + loan.overdue_principal_minor

    applied = apply_payment(loan, rows, amount, DAY)
    a = applied.allocation

    # the journal lines balance per currency (as every entry must), and name accounts of the chart
    per_currency: dict[str, int] = {}
    for line in applied.lines:
        per_currency[line.currency] = per_currency.get(line.currency, 0) + line.amount_minor
    assert all(v == 0 for v in per_currency.values())
    assert accounts.check_balanced(applied.lines) == [ln for ln in applied.lines if ln.amount_minor]

    # the cash kept is what came in less what goes back; every yuan is accounted for
    assert a["cash"] == amount - a["refund"]
    assert a["penalty"] + a["fee"] + a["interest"] + a["principal"] + a["credit"] + a["refund"] \
        == amount + a["credit_refunded"]

    if before.status != ACTIVE:  # a loan closed earlier (in a replay): the money goes back, nothing moves
        assert a["refund"] == amount and a["cash"] == 0 and not applied.lines and not applied.closed
        assert loan == before and _columns(rows) == rows_before
        return

    # never more than is due, component by component, and on each installment
    assert 0 <= a["penalty"] <= before.penalty_minor
    assert 0 <= a["fee"] <= before.fees_minor
    assert 0 <= a["interest"] <= before.overdue_interest_minor
    assert 0 <= a["principal"] <= before.overdue_principal_minor
    paid = a["penalty"] + a["fee"] + a["interest"] + a["principal"]
    assert paid == min(amount, owed)
    for r, (p, i, f, pp, pi, pf) in zip(rows, rows_before, strict=True):
        assert (r.principal_minor, r.interest_minor, r.fee_minor) == (p, i, f)
        assert pp <= r.paid_principal_minor <= p and pi <= r.paid_interest_minor <= i and pf <= r.paid_fee_minor <= f
        assert r.status != "scheduled" or (r.paid_principal_minor, r.paid_interest_minor, r.paid_fee_minor) == (0, 0, 0)
    assert loan.penalty_minor == before.penalty_minor - a["penalty"]
    assert loan.fees_minor == before.fees_minor - a["fee"]
    assert loan.overdue_interest_minor == before.overdue_interest_minor - a["interest"]
    assert loan.principal_outstanding_minor == before.principal_outstanding_minor - a["principal"]
    assert applied.principal_paid == a["principal"]

    # what is left once everything due is paid: refunded when the loan closes (with any credit it held),
    # otherwise the customer's credit or a refund, as the product says
    left = amount - paid
    if applied.closed:
        assert loan.status == CLOSED and loan.closed_on == DAY
        assert a["refund"] == left + before.credit_minor and a["credit_refunded"] == before.credit_minor
        assert a["credit"] == 0 and loan.credit_minor == 0
    elif before.product.overpayment == "refund":
        assert a["refund"] == left and a["credit"] == 0 and loan.credit_minor == before.credit_minor
    else:
        assert a["credit"] == left and a["refund"] == 0 and loan.credit_minor == before.credit_minor + left


@settings(max_examples=200, deadline=None)
@given(case=loans(), amount=st.integers(1, 200_000))
def test_a_loan_closes_exactly_when_nothing_is_owed_and_nothing_is_left_to_fall_due(
        case: tuple[Loan, list[InstallmentRow]], amount: int) -> None:
    loan, rows = case
    was_active = loan.status == ACTIVE
    applied = apply_payment(loan, rows, amount, DAY)
    nothing_owed = not (loan.principal_outstanding_minor or loan.overdue_principal_minor
                        or loan.overdue_interest_minor or loan.accrued_interest_minor or loan.penalty_minor
                        or loan.fees_minor)
    assert applied.closed == (was_active and loan.current_seq == 0 and nothing_owed)
    if was_active and not applied.closed:
        assert loan.status == ACTIVE and loan.closed_on is None
