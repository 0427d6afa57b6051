"""Prepayment rules (issue 18 §5, clause `prepayment`): the fee (提前还款违约金, income 6021) on the payoff quote and
on a partial prepayment, only within the first n months; a minimum partial prepayment; at most n partial
prepayments a year; a lock-in period. Payoff interest: balance × annual / 360 × actual days. By hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from loan_checks import BusinessClock, business_clock

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor
from creditplan.loans import accounting, cob, payments
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, Payment, Posting
from creditplan.loans.payments.prepayment import prepayment_fee

CONSUMER = {  # the consumer product of tests/loans/conftest.py
    "code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
    "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
    "late_fee": "50.00", "penalty_markup_pct": 50, "max_backdate_days": 30,
}

D = dt.date
START = D(2025, 1, 15)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> BusinessClock:
    return business_clock(monkeypatch, D(2025, 1, 25))


@pytest.fixture
def strict(loan_world: dict[str, Any], make_loan: Any, clock: Any) -> Loan:
    """The consumer product with rules: 1 % of the principal prepaid within the first 12 months, at least
    1,000.00 a partial prepayment, one partial prepayment a year. 12,000.00 over 12 months at 4.35 %, 30/360,
    paid out 15 Jan 2025, closed through 24 Jan; today 25 Jan."""
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "strict", "prepay_fee_bp": 100,
                                                 "prepay_fee_months": 12, "prepay_min": "1000.00",
                                                 "prepay_max_per_year": 1})
    ln = make_loan(amount="12000.00", term=12, start=START, product="strict")
    cob.advance_loan(ln, D(2025, 1, 24))
    ln.refresh_from_db()
    return ln


def fee_income(loan: Loan) -> int:
    return -sum(Posting.objects.filter(entry__loan=loan, account="6021").values_list("amount_minor", flat=True))


def test_the_rules_are_signed_into_the_term_sheet(strict: Loan) -> None:
    assert strict.term_sheet.body["clauses"][-1] == {"kind": "prepayment", "fee_bp": 100, "fee_months": 12,
                                                     "min_minor": 100_000, "max_per_year": 1, "lockin_months": 0}


def test_payoff_quote_and_full_prepayment_carry_the_fee(loan_world: dict[str, Any], strict: Loan) -> None:
    """On 25 Jan: principal 12,000.00; interest 12,000 × 4.35 % × 10 days / 360 = 14.50; fee 1 % × 12,000.00 =
    120.00; total 12,134.50. The fee is income (Cr 6021) on the day it is paid."""
    q = payments.payoff_quote(loan_world["ops"], strict.ref, D(2025, 1, 25))
    assert (q.principal_minor, q.accrued_interest_minor, q.prepayment_fee_minor) == (1_200_000, 1_450, 12_000)
    assert q.total_minor == 1_213_450 and dict(q.items())["prepayment_fee"] == 12_000
    with pytest.raises(ValidationError) as exc:
        payments.prepay(loan_world["ops"], loan_ref=strict.ref, amount="12014.50", reference="F-LOW")
    assert exc.value.code == "below_payoff"
    r = payments.prepay(loan_world["ops"], loan_ref=strict.ref, amount="12134.50", reference="F-1")
    strict.refresh_from_db()
    assert strict.status == "closed" and r.allocation["prepayment_fee"] == 12_000 and r.allocation["refund"] == 0
    assert fee_income(strict) == 12_000 and strict.fee_income_minor == 12_000
    tb = accounting.trial_balance()
    assert sum(x.debit_minor for x in tb) == sum(x.credit_minor for x in tb)
    assert not [x for x in accounting.reconcile() if x.difference_minor]


def test_partial_prepayment_fee_minimum_and_yearly_limit(loan_world: dict[str, Any], strict: Loan,
                                                          clock: Any) -> None:
    """3,044.50 on 25 Jan = interest 14.50 + 3,030.00, which splits into principal P and the fee F = 1 % of P:
    F = 3,030.00 × 100 / 10,100 = 30.00, P = 3,000.00."""
    ops = loan_world["ops"]
    # 14.50 + 505.00: P = 500.00 (F 5.00), below the 1,000.00 minimum
    with pytest.raises(ValidationError) as exc:
        payments.prepay(ops, loan_ref=strict.ref, amount="519.50", reference="P-SMALL", mode="reduce_installment")
    assert (exc.value.field, exc.value.code) == ("amount", "prepay_below_minimum")
    assert "1,000.00" in str(exc.value) and Payment.objects.count() == 0
    r = payments.prepay(ops, loan_ref=strict.ref, amount="3044.50", reference="P-1", mode="reduce_installment")
    assert (r.allocation["accrued_interest"], r.allocation["prepayment_fee"], r.allocation["prepaid_principal"]) == (
        1_450, 3_000, 300_000)
    strict.refresh_from_db()
    assert strict.principal_outstanding_minor == 900_000 and fee_income(strict) == 3_000
    # one partial prepayment a year: the next, the day after the next close, is refused
    cob.advance_loan(strict, D(2025, 1, 25))
    clock.day = D(2025, 1, 26)
    with pytest.raises(ValidationError) as exc:
        payments.prepay(ops, loan_ref=strict.ref, amount="2000.00", reference="P-2", mode="shorten_term")
    assert (exc.value.field, exc.value.code) == ("value_date", "prepay_limit_reached")
    # … but the loan may still be repaid in full (the limit counts partial prepayments)
    q = payments.payoff_quote(ops, strict.ref, D(2025, 1, 26))
    payments.prepay(ops, loan_ref=strict.ref, amount=format_minor(q.total_minor, grouping=False),
                    reference="P-FULL")
    strict.refresh_from_db()
    assert strict.status == "closed"


def test_fee_only_within_the_first_months(strict: Loan) -> None:
    # 1 % of 1,000.00 = 10.00 before 15 Jan 2026 (start + 12 months), nothing from that day
    assert prepayment_fee(strict, 100_000, D(2026, 1, 14)) == 1_000
    assert prepayment_fee(strict, 100_000, D(2026, 1, 15)) == 0


def test_lock_in_refuses_any_prepayment(loan_world: dict[str, Any], make_loan: Any, clock: Any) -> None:
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "locked", "prepay_lockin_months": 3})
    ln = make_loan(amount="12000.00", term=12, start=START, product="locked")
    cob.advance_loan(ln, D(2025, 1, 24))
    for mode, amount in (("full", "12014.50"), ("reduce_installment", "3014.50")):
        with pytest.raises(ValidationError) as exc:
            payments.prepay(loan_world["ops"], loan_ref=ln.ref, amount=amount, reference=f"L-{mode}", mode=mode)
        assert (exc.value.field, exc.value.code) == ("value_date", "prepay_locked_in")
        assert "2025-04-15" in str(exc.value)
    assert Payment.objects.count() == 0


def test_payoff_interest_on_an_act_365_product(loan_world: dict[str, Any], make_loan: Any, clock: Any) -> None:
    """ACT/365F contracts count a 365-day year: 12,000 × 4.35 % × 10 / 365 = 14.3013… → 14.30 (a 30/360 or
    ACT/360 product: / 360 → 14.50, test_prepayment.py)."""
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "act365", "day_count": "ACT/365F"})
    ln = make_loan(amount="12000.00", term=12, start=START, product="act365")
    cob.advance_loan(ln, D(2025, 1, 24))
    q = payments.payoff_quote(loan_world["ops"], ln.ref, D(2025, 1, 25))
    assert q.accrued_interest_minor == 1_430 and q.prepayment_fee_minor == 0
