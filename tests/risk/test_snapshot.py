"""Snapshots carry each loan's history: worst days past due, first payment default and 3-month default are judged
once, at the right time, from the daily sequence of snapshots — the same answer whichever day they are read."""

from __future__ import annotations

import datetime as dt

import numpy as np

from creditplan.risk.domain.snapshot import NO_DATE, derive, with_previous

START = dt.date(2026, 1, 10)
FIRST_DUE = dt.date(2026, 2, 10)


def _book(dpd: list[int], oldest_due: list[dt.date | None]) -> dict[str, np.ndarray]:
    n = len(dpd)
    return {"loan": np.arange(1, n + 1), "start": np.full(n, START.toordinal()),
            "first_due": np.full(n, FIRST_DUE.toordinal()),
            "oldest_due": np.array([d.toordinal() if d else NO_DATE for d in oldest_due]), "dpd": np.array(dpd)}


def _run(days: dict[dt.date, tuple[list[int], list[dt.date | None]]]) -> dict[dt.date, dict[str, np.ndarray]]:
    out, prev = {}, None
    for day, (dpd, oldest) in sorted(days.items()):
        prev = derive(_book(dpd, oldest), day, prev)
        out[day] = prev
    return out


def test_first_payment_default_is_judged_30_days_after_the_first_due_date() -> None:
    """Loan 1 never pays its first instalment; loan 2 pays it 10 days late then misses the second; loan 3 pays."""
    second_due = dt.date(2026, 3, 10)
    days = {
        dt.date(2026, 2, 20): ([10, 10, 0], [FIRST_DUE, FIRST_DUE, None]),
        dt.date(2026, 3, 11): ([29, 0, 0], [FIRST_DUE, None, None]),
        dt.date(2026, 3, 12): ([30, 2, 0], [FIRST_DUE, second_due, None]),  # first due + 30
        dt.date(2026, 4, 15): ([64, 36, 0], [FIRST_DUE, second_due, None]),
    }
    snaps = _run(days)
    assert snaps[dt.date(2026, 3, 11)]["fpd_known"].tolist() == [0, 0, 0]  # too early to judge
    judged = snaps[dt.date(2026, 3, 12)]
    assert judged["fpd_known"].tolist() == [1, 1, 1] and judged["fpd"].tolist() == [1, 0, 0]
    later = snaps[dt.date(2026, 4, 15)]
    assert later["fpd"].tolist() == [1, 0, 0]  # loan 2's second-instalment arrears do not make it a first payment default
    assert later["worst_dpd"].tolist() == [64, 36, 0]


def test_three_month_default_counts_only_the_first_three_months() -> None:
    days = {
        dt.date(2026, 3, 1): ([19, 0], [FIRST_DUE, None]),
        dt.date(2026, 4, 9): ([57, 0], [FIRST_DUE, None]),  # within three months of 10 January
        dt.date(2026, 4, 11): ([59, 0], [FIRST_DUE, None]),  # three months have passed: judged
        dt.date(2026, 6, 1): ([0, 80], [None, dt.date(2026, 3, 10)]),
    }
    snaps = _run(days)
    assert snaps[dt.date(2026, 4, 9)]["default_3m_known"].tolist() == [0, 0]
    assert snaps[dt.date(2026, 4, 11)]["default_3m"].tolist() == [1, 0]
    assert snaps[dt.date(2026, 6, 1)]["default_3m"].tolist() == [1, 0]  # loan 2 went bad after month three
    assert snaps[dt.date(2026, 6, 1)]["months_on_book"].tolist() == [4, 4]


def test_a_recomputation_from_the_stored_snapshots_gives_the_same_answer() -> None:
    days = {dt.date(2026, 2, 20): ([10], [FIRST_DUE]), dt.date(2026, 3, 12): ([30], [FIRST_DUE])}
    first = _run(days)
    again = _run(days)
    for day in days:
        for k, v in first[day].items():
            assert np.array_equal(v, again[day][k]), (day, k)


def test_with_previous_pairs_each_loan_with_itself_a_period_earlier() -> None:
    earlier = {"loan": np.array([3, 1, 2]), "outstanding": np.array([300, 100, 200]), "bucket": np.array([0, 1, 2]),
               "risk_class": np.array([1, 2, 2])}
    today = {"loan": np.array([1, 2, 4]), "outstanding": np.array([90, 0, 50]), "bucket": np.array([2, 0, 0]),
             "risk_class": np.array([2, 1, 1])}
    joined = with_previous(today, earlier)
    assert joined["has_prev"].tolist() == [1, 1, 0]
    assert joined["prev_outstanding"].tolist() == [100, 200, 0]
    assert joined["prev_bucket"].tolist() == [1, 2, 0]
    none = with_previous(today, None)
    assert none["has_prev"].tolist() == [0, 0, 0]
