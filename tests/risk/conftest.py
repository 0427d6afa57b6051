"""Risk fixtures: a small book of loans in two branches, closed day by day, with the indicators run after the
closes the test chooses (as the nightly job does)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from creditplan.customers import services as customers
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.risk.services import indicators, run
from factories import individual

CONSUMER = {
    "code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
    "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
    "late_fee": "0", "penalty_markup_pct": 50, "max_backdate_days": 30,
}
START = dt.date(2025, 1, 15)


@pytest.fixture
def risk_book(bank: dict[str, Any], settings: Any, tmp_path: Any) -> dict[str, Any]:
    """Four loans of 100,000 yuan from 15 January 2025: two in BJ01 (the second never pays), two in SH01 (both
    pay on time, through the payments the test makes). Snapshots are kept under a temporary folder."""
    settings.RISK_DIR = str(tmp_path / "risk")
    made = []
    for k, branch in enumerate(("BJ01", "BJ01", "SH01", "SH01"), start=1):
        officer = bank["officer_bj"] if branch == "BJ01" else bank["officer_sh"]
        made.append(customers.create_customer(officer, individual(k, branch=branch)).id)
    loans.create_product(bank["risk"], **CONSUMER)
    for tenor, rate in (("1y", "0.0345"), ("5y", "0.0395")):
        loans.set_lpr(bank["risk"], tenor=tenor, effective_date="2024-01-20", rate=rate)
    booked = [loans.disburse(None, customer_id=c, product="consumer", amount="100000.00", term=12,
                             start_date=START) for c in made]
    indicators.install_standard(None)
    return {**bank, "customers": made, "loans": booked}


@pytest.fixture
def close_days(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[Any]]:
    """close_days(first, last, run_on=(dates…), pay=callable(day)): close every date from first to last (the
    business date moving with it, so payments are made on the day); on the dates in `run_on`, run the indicators
    right after that date's close (what the nightly job does)."""
    today = {"day": START}
    monkeypatch.setattr(loans_clock, "business_date", lambda: today["day"])

    def close(first: dt.date, last: dt.date, run_on: Iterable[dt.date] = (), pay: Callable[[dt.date], None] | None
              = None) -> list[Any]:
        wanted = set(run_on)
        summaries = []
        day = first
        while day <= last:
            today["day"] = day
            if pay is not None:
                pay(day)
            cob.run_close(day)
            if day in wanted:
                summaries.append(run.run_indicators(day))
            day += dt.timedelta(days=1)
        today["day"] = day
        return summaries

    return close
