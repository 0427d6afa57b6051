"""`make demo` leaves the risk pages with data: the close keeps every date's book while the demo's history is
made, then the standard indicators are computed for the month-ends and the last days, oldest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from creditplan.customers import demo as customer_demo
from creditplan.customers import services as customers
from creditplan.loans import services as loans
from creditplan.loans.demo import seed_loans
from creditplan.risk import demo as risk_demo
from creditplan.risk.models import IndicatorValue, Run, Snapshot


@pytest.mark.slow
@pytest.mark.django_db
def test_the_demo_computes_indicators_with_month_end_history(bank: dict[str, Any], settings: Any,
                                                              tmp_path: Any) -> None:
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "indicators"  # as `make demo` runs (the default)
    rows = list(customer_demo.customer_rows(40, seed=3, today=timezone.localdate(), branch_codes=["BJ01", "SH01"]))
    customers.import_customers(None, rows)
    with risk_demo.snapshots_only():
        book = seed_loans(bank["admin"], count=24, seed=5)
    assert settings.RISK_AFTER_CLOSE == "indicators"
    assert Snapshot.objects.count() == book.closes and not IndicatorValue.objects.exists()

    runs = risk_demo.seed_risk()
    last = loans.last_closed_date()
    computed = [r.as_of for r in runs]
    assert computed == sorted(computed) and computed[-1] == last
    month_ends = [d for d in computed if (d + dt.timedelta(days=1)).day == 1]
    assert len(month_ends) >= 12 and len([d for d in computed if d > last - dt.timedelta(days=14)]) == 14
    assert set(Run.objects.values_list("as_of", flat=True)) == set(computed)
    npl = IndicatorValue.objects.filter(indicator__code="npl_ratio", dimension="total", as_of__in=computed)
    assert npl.count() == len(computed) and all(v.value is not None for v in npl)
    roll = IndicatorValue.objects.get(indicator__code="roll_current_1_30", dimension="total", as_of=month_ends[-1])
    assert roll.denominator and roll.denominator > 0  # compared with the month-end before: history is there
