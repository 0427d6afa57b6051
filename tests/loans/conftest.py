"""Loan fixtures: a bank with two borrowers, a consumer product and the LPR, and a builder for loans."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.customers import services as customers
from creditplan.loans import services as loans
from factories import individual

CONSUMER = {
    "code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
    "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
    "late_fee": "50.00", "penalty_markup_pct": 50, "max_backdate_days": 30,
}


@pytest.fixture
def loan_world(bank: dict[str, Any]) -> dict[str, Any]:
    """Users of `bank`, two borrowers in BJ01, the `consumer` product and the 1-year and 5-year LPR."""
    c1 = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    c2 = customers.create_customer(bank["officer_bj"], individual(2, branch="BJ01"))
    product = loans.create_product(bank["risk"], **CONSUMER)
    for tenor, rate in (("1y", "0.0345"), ("5y", "0.0395")):
        loans.set_lpr(bank["risk"], tenor=tenor, effective_date="2024-01-20", rate=rate)
    return {**bank, "customers": [c1.id, c2.id], "product": product}


@pytest.fixture
def make_loan(loan_world: dict[str, Any]):  # type: ignore[no-untyped-def]
    """make_loan(amount="12000.00", term=12, start=date(2025, 1, 15), customer=0, product="consumer", **kw)."""

    def build(amount: str = "12000.00", term: int = 12, start: dt.date = dt.date(2025, 1, 15), customer: int = 0,
              product: str = "consumer", **kw: Any) -> Any:
        return loans.disburse(loan_world["ops"], customer_id=loan_world["customers"][customer], product=product,
                              amount=amount, term=term, start_date=start, **kw)

    return build
