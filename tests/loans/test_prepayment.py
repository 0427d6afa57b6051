"""Payoff quotes (hand-computed) and prepayments: full closes the loan; partial re-schedules the rest exactly,
keeping the next due date, and the accrual of the new period is exact."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from loan_checks import BusinessClock, books_ok, business_clock

from creditplan.core.errors import Conflict, ValidationError
from creditplan.core.money import to_major
from creditplan.loans import cob, payments
from creditplan.loans.models import Installment, Loan, Payment, Posting

START = dt.date(2025, 1, 15)
D = dt.date


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> BusinessClock:
    return business_clock(monkeypatch, D(2025, 1, 25))


@pytest.fixture
def loan(make_loan: Any, clock: Any) -> Loan:
    """12,000.00 over 12 months at 4.35 %, 30/360, closed through 24 Jan 2025; today 25 Jan."""
    ln = make_loan(amount="12000.00", term=12, start=START)
    cob.advance_loan(ln, D(2025, 1, 24))
    ln.refresh_from_db()
    return ln


def test_payoff_quote_by_hand(loan_world: Any, loan: Loan) -> None:
    q = payments.payoff_quote(loan_world["ops"], loan.ref, D(2025, 1, 25))
    # period 15 Jan → 15 Feb: 31 days, interest 12,000 × 4.35 % / 12 = 43.50; the close has accrued 9 days of it
    # by 24 Jan (the period's share, 43.50 × 9 // 31 = 12.62).
    # Payoff interest (issue 18) is balance × annual / 360 × actual days, not a share of the period's interest
    # (which gave 43.50 × 10 // 31 = 14.03 before): 12,000 × 4.35 % × 10 / 360 = 14.50 on 25 Jan
    assert loan.accrued_interest_minor == 4_350 * 9 // 31 == 1_262
    assert q.accrued_interest_minor == 1_450
    assert q.principal_minor == 1_200_000 and q.penalty_minor == q.fees_minor == q.credit_minor == 0
    assert q.total_minor == 1_201_450
    assert dict(q.items())["accrued_interest"] == 1_450
    on_due = payments.payoff_quote(loan_world["ops"], loan.ref, "2025-02-15")
    assert on_due.accrued_interest_minor == 4_350  # the whole period on its due date
    with pytest.raises(ValidationError) as exc:
        payments.payoff_quote(loan_world["ops"], loan.ref, "2025-02-16")
    assert exc.value.field == "on" and exc.value.code == "beyond_next_due"
    with pytest.raises(ValidationError) as exc:
        payments.payoff_quote(loan_world["ops"], loan.ref, "2025-01-20")
    assert exc.value.field == "on"


def test_payoff_quote_projects_penalty_for_days_not_yet_closed(loan_world: Any, loan: Loan, clock: Any) -> None:
    cob.advance_loan(loan, D(2025, 2, 25))  # first installment due 15 Feb, unpaid: 10 days past due
    loan.refresh_from_db()
    clock.day = D(2025, 2, 26)
    assert loan.dpd == 10 and loan.penalty_minor > 0
    q = payments.payoff_quote(loan_world["ops"], loan.ref, D(2025, 2, 27))
    base = loan.overdue_principal_minor + loan.overdue_interest_minor
    carry, projected = loan.penalty_carry, 0
    for _ in range(2):  # 26 and 27 Feb, both beyond the 3 grace days
        day_pen, carry = divmod(base * 43_500 * 150 + carry, 1_000_000 * 100 * 360)
        projected += day_pen
    assert q.penalty_projected_minor == projected > 0
    assert q.penalty_minor == loan.penalty_minor + projected
    # payoff interest: the balance not yet due × 4.35 % × 12 days (15 → 27 Feb) / 360, half up
    not_due = loan.principal_outstanding_minor - loan.overdue_principal_minor
    accrued = (not_due * 43_500 * 12 + 180_000_000) // 360_000_000
    assert q.accrued_interest_minor == accrued
    assert q.total_minor == (loan.principal_outstanding_minor + loan.overdue_interest_minor + accrued
                             + loan.penalty_minor + projected + loan.fees_minor)
    # what the close then charges for those days is exactly the projection
    cob.advance_loan(loan, D(2025, 2, 27))
    loan.refresh_from_db()
    assert loan.penalty_minor == q.penalty_minor and loan.penalty_carry == q.penalty_carry


def test_full_prepayment_closes_the_loan(loan_world: Any, loan: Loan) -> None:
    q = payments.payoff_quote(loan_world["ops"], loan.ref)
    with pytest.raises(ValidationError) as exc:
        payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount=to_major(q.total_minor - 1), reference="F-0")
    assert exc.value.field == "amount" and exc.value.code == "below_payoff"
    assert Payment.objects.count() == 0
    income_before = loan.interest_income_minor
    r = payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount=to_major(q.total_minor + 500),
                        reference="F-1", mode="full")
    loan.refresh_from_db()
    assert loan.status == "closed" and loan.closed_on == D(2025, 1, 25) and r.kind == "prepay_full"
    assert (loan.principal_outstanding_minor, loan.accrued_interest_minor, loan.credit_minor) == (0, 0, 0)
    # accrued by the close (12.62), brought to the payoff interest 14.50 (10 days at annual / 360), then paid
    assert income_before == 4_350 * 9 // 31 and loan.interest_income_minor == 1_450
    assert r.allocation["refund"] == 500 and r.allocation["accrued_interest"] == 1_450
    assert r.allocation["principal"] == 1_200_000
    # the schedule ends with the payoff line; the rest superseded
    current = list(Installment.objects.filter(loan=loan).exclude(status="superseded"))
    assert len(current) == 1 and current[0].status == "paid" and current[0].due_date == D(2025, 1, 25)
    books_ok()
    # the same reference again is the same prepayment
    again = payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount=to_major(q.total_minor + 500),
                            reference="F-1")
    assert again.duplicate
    # the loan closed: the next close leaves it alone
    cob.advance_loan(loan, D(2025, 1, 31))
    books_ok()


@pytest.mark.parametrize("mode", ["reduce_installment", "shorten_term"])
def test_partial_prepayment_reschedules_the_rest_exactly(loan_world: Any, loan: Loan, clock: Any, mode: str) -> None:
    old_rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    old_payment = old_rows[1].principal_minor + old_rows[1].interest_minor
    # 3,014.50 = the interest to 25 Jan (12,000 × 4.35 % × 10 / 360 = 14.50) + 3,000.00 of principal
    r = payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount="3014.50", reference=f"PP-{mode}", mode=mode)
    loan.refresh_from_db()
    assert r.allocation["accrued_interest"] == 1_450 and r.allocation["prepaid_principal"] == 300_000
    assert loan.principal_outstanding_minor == 900_000 and loan.accrued_interest_minor == 0
    new = list(Installment.objects.filter(loan=loan, version=2).order_by("seq"))
    assert sum(i.principal_minor for i in new) == 900_000
    assert new[0].seq == 1 and new[0].start_date == D(2025, 1, 25) and new[0].due_date == D(2025, 2, 15)
    assert Installment.objects.filter(loan=loan, version=1, status="superseded").count() == 12
    # the new first period: 9,000 × 4.35 % × 20/360 (30/360 from 25 Jan to 15 Feb) = 21.75
    assert new[0].interest_minor == 2_175 == loan.period_interest_minor
    assert loan.period_start_date == D(2025, 1, 25) and loan.next_due_date == D(2025, 2, 15)
    if mode == "reduce_installment":
        assert len(new) == 12 and new[1].principal_minor + new[1].interest_minor < old_payment
    else:
        assert len(new) < 12
        assert new[1].principal_minor + new[1].interest_minor <= old_payment
        assert loan.term == len(new) and loan.maturity_date == new[-1].due_date
    books_ok()
    income = loan.interest_income_minor
    # the accrual of the new period is exact: on the due date exactly its interest has accrued and fallen due
    cob.advance_loan(loan, D(2025, 2, 15))
    loan.refresh_from_db()
    assert loan.interest_income_minor == income + 2_175
    assert loan.overdue_interest_minor == 2_175 and loan.overdue_principal_minor == new[0].principal_minor
    assert loan.current_seq == 2 and loan.period_interest_minor == new[1].interest_minor
    books_ok()


def test_partial_prepayment_pays_what_is_due_first(loan_world: Any, loan: Loan, clock: Any) -> None:
    cob.advance_loan(loan, D(2025, 2, 17))
    loan.refresh_from_db()
    clock.day = D(2025, 2, 18)
    due = loan.overdue_principal_minor + loan.overdue_interest_minor
    with pytest.raises(ValidationError) as exc:
        payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount=to_major(due), reference="PP-SMALL",
                        mode="reduce_installment")
    assert exc.value.code == "prepay_too_small" and exc.value.field == "amount"
    r = payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount=to_major(due + 200_000), reference="PP-2",
                        mode="reduce_installment")
    loan.refresh_from_db()
    assert r.allocation["interest"] + r.allocation["principal"] == due
    assert loan.overdue_principal_minor == loan.overdue_interest_minor == 0 and loan.oldest_due_date is None
    assert Installment.objects.get(loan=loan, seq=1, version=1).status == "paid"
    books_ok()


def test_prepayment_refusals_write_nothing(loan_world: Any, loan: Loan, clock: Any) -> None:
    postings = Posting.objects.count()
    for kwargs, field, code in [
        ({"mode": "sideways"}, "mode", "invalid_mode"),
        ({"amount": "20000.00", "mode": "reduce_installment"}, "amount", "use_full_prepayment"),
        ({"value_date": "2025-01-24", "mode": "full"}, "value_date", "prepay_backdated"),
    ]:
        base = {"loan_ref": loan.ref, "amount": "3000.00", "reference": "PP-BAD"}
        with pytest.raises((ValidationError, Conflict)) as exc:
            payments.prepay(loan_world["ops"], **{**base, **kwargs})
        assert (exc.value.field, exc.value.code) == (field, code)
    assert Payment.objects.count() == 0 and Posting.objects.count() == postings


def test_reversing_a_full_prepayment_reopens_the_loan(loan_world: Any, loan: Loan, clock: Any) -> None:
    q = payments.payoff_quote(loan_world["ops"], loan.ref)
    payments.prepay(loan_world["ops"], loan_ref=loan.ref, amount=to_major(q.total_minor), reference="F-R")
    clock.day = D(2025, 1, 28)
    payments.reverse_payment(loan_world["ops"], reference="F-R", reason="cheque bounced")
    loan.refresh_from_db()
    assert loan.status == "active" and loan.principal_outstanding_minor == 1_200_000
    assert Installment.objects.filter(loan=loan, version=2).count() == 0
    assert Installment.objects.filter(loan=loan, status="scheduled").count() == 12
    books_ok()
