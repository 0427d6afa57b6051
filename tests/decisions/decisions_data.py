"""Shared test data of the decision-engine tests (a module of its own so test modules can import it)."""

from __future__ import annotations

import datetime as dt

from decision_world import TINY_SCORECARD  # noqa: F401 - re-exported for the decision tests

TODAY = dt.date.today()


CONSUMER = {"code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "500000", "min_term": 3,
            "max_term": 60, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435",
            "rate_floor": "0.03", "rate_cap": "0.18", "lpr_tenor": "1y"}

GOOD = {"age": 35, "monthly_income_minor": 3_000_000, "existing_debt_service_minor": 200_000,
        "residency": "resident", "blacklist": False, "bureau_flags": [], "existing_overdue": False,
        "months_employed": 60, "housing": "own"}
