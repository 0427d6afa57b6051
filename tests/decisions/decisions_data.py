"""Shared test data of the decision-engine tests (a module of its own so test modules can import it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

TODAY = dt.date.today()

TINY_SCORECARD: dict[str, Any] = {
    "format": "creditplan.model/1",
    "kind": "scorecard",
    "name": "tiny",
    "inputs": [{"name": "months_employed", "type": "numeric"}, {"name": "housing", "type": "categorical"}],
    "derived": [],
    "scaling": {"pdo": 20.0, "base_odds": 50.0, "base_score": 600.0},
    "master_scale": [{"grade": g, "pd_max": p} for g, p in
                     (("A", 0.02), ("B", 0.05), ("C", 0.10), ("D", 0.20), ("E", 0.35), ("F", 0.50), ("G", 1.0))],
    "reason_texts": {"months_employed": {"en": "Time in current job", "zh": "现职工作年限"},
                     "housing": {"en": "Housing", "zh": "住房情况"}},
    "scorecard": {
        "intercept_points": 470.0,
        "features": [
            {"name": "months_employed", "type": "numeric", "splits": [12.0, 36.0], "points": [10.0, 30.0, 50.0],
             "missing_points": 10.0, "special_codes": [], "special_points": 0.0},
            {"name": "housing", "type": "categorical", "bins": [["own"], ["rent"], ["free"]],
             "points": [40.0, 20.0, 10.0], "missing_points": 15.0, "unseen_bin": 2},
        ],
    },
}

CONSUMER = {"code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "500000", "min_term": 3,
            "max_term": 60, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435",
            "rate_floor": "0.03", "rate_cap": "0.18", "lpr_tenor": "1y"}

GOOD = {"age": 35, "monthly_income_minor": 3_000_000, "existing_debt_service_minor": 200_000,
        "residency": "resident", "blacklist": False, "bureau_flags": [], "existing_overdue": False,
        "months_employed": 60, "housing": "own"}
