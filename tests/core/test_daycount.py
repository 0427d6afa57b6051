"""Day counts on known dates, exactness, additivity, and month-end clamping."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.daycount import DayCount, add_months, day_count, days_in_year, year_fraction
from creditplan.core.errors import ValidationError

FAST = settings(max_examples=200, deadline=None)

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
ordered_triples = st.lists(dates, min_size=3, max_size=3).map(sorted)


@pytest.mark.parametrize(
    ("start", "end", "convention", "expected"),
    [
        (date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_ACT, Fraction(1)),
        (date(2023, 1, 1), date(2024, 1, 1), DayCount.ACT_ACT, Fraction(1)),
        (date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_365F, Fraction(366, 365)),
        (date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_360, Fraction(366, 360)),
        (date(2024, 1, 1), date(2025, 1, 1), DayCount.THIRTY_360, Fraction(1)),
        # ISDA example: 2003-11-01..2004-05-01 = 61/365 + 121/366.
        (date(2003, 11, 1), date(2004, 5, 1), DayCount.ACT_ACT, Fraction(61, 365) + Fraction(121, 366)),
        (date(2023, 12, 31), date(2024, 1, 1), DayCount.ACT_ACT, Fraction(1, 365)),
        (date(2024, 12, 31), date(2025, 1, 1), DayCount.ACT_ACT, Fraction(1, 366)),
        (date(2023, 1, 31), date(2023, 2, 28), DayCount.THIRTY_360, Fraction(28, 360)),
        (date(2024, 1, 31), date(2024, 2, 29), DayCount.THIRTY_360, Fraction(29, 360)),
        (date(2023, 1, 31), date(2023, 3, 31), DayCount.THIRTY_360, Fraction(60, 360)),
        (date(2023, 1, 30), date(2023, 3, 31), DayCount.THIRTY_360, Fraction(60, 360)),
        (date(2023, 1, 29), date(2023, 3, 31), DayCount.THIRTY_360, Fraction(62, 360)),
        (date(2023, 2, 28), date(2023, 3, 31), DayCount.THIRTY_360, Fraction(33, 360)),  # no Feb EOM rule
        (date(2023, 1, 15), date(2023, 2, 15), DayCount.THIRTY_360, Fraction(1, 12)),
        (date(2023, 1, 15), date(2023, 2, 15), DayCount.ACT_360, Fraction(31, 360)),
        (date(2023, 5, 5), date(2023, 5, 5), DayCount.ACT_ACT, Fraction(0)),
    ],
)
def test_known_year_fractions(start: date, end: date, convention: DayCount, expected: Fraction) -> None:
    got = year_fraction(start, end, convention)
    assert isinstance(got, Fraction)
    assert got == expected


def test_day_count_known() -> None:
    assert day_count(date(2023, 1, 31), date(2023, 2, 28), DayCount.THIRTY_360) == 28
    assert day_count(date(2023, 1, 31), date(2023, 2, 28), DayCount.ACT_360) == 28
    assert day_count(date(2023, 1, 31), date(2023, 3, 31), "30/360") == 60
    assert day_count(date(2023, 1, 31), date(2023, 3, 31), "act/365f") == 59
    assert day_count(date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_ACT) == 366


@FAST
@given(ordered_triples, st.sampled_from([DayCount.ACT_365F, DayCount.ACT_360, DayCount.ACT_ACT]))
def test_year_fraction_is_additive(triple: list[date], convention: DayCount) -> None:
    a, b, c = triple
    assert year_fraction(a, b, convention) + year_fraction(b, c, convention) == year_fraction(
        a, c, convention
    )


@FAST
@given(dates, dates)
def test_actual_conventions_count_actual_days(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    days = (end - start).days
    for convention in (DayCount.ACT_365F, DayCount.ACT_360, DayCount.ACT_ACT):
        assert day_count(start, end, convention) == days
    assert year_fraction(start, end, DayCount.ACT_365F) == Fraction(days, 365)
    assert year_fraction(start, end, DayCount.ACT_360) == Fraction(days, 360)
    # ACT/ACT lies between the all-leap and the all-common reading of the same days.
    act_act = year_fraction(start, end, DayCount.ACT_ACT)
    assert Fraction(days, 366) <= act_act <= Fraction(days, 365)


@FAST
@given(st.integers(min_value=1901, max_value=2199), st.integers(min_value=0, max_value=50))
def test_act_act_whole_calendar_years_are_whole(year: int, span: int) -> None:
    assert year_fraction(date(year, 1, 1), date(year + span, 1, 1), DayCount.ACT_ACT) == span


@FAST
@given(dates, st.integers(min_value=0, max_value=600))
def test_thirty_360_whole_months_are_twelfths(start: date, months: int) -> None:
    if start.day > 28:
        start = start.replace(day=28)
    end = add_months(start, months)
    assert year_fraction(start, end, DayCount.THIRTY_360) == Fraction(months, 12)


@pytest.mark.parametrize("convention", list(DayCount))
def test_end_before_start_refused(convention: DayCount) -> None:
    with pytest.raises(ValidationError) as exc:
        year_fraction(date(2024, 1, 2), date(2024, 1, 1), convention)
    assert exc.value.code == "end_before_start"
    with pytest.raises(ValidationError) as exc:
        day_count(date(2024, 1, 2), date(2024, 1, 1), convention)
    assert exc.value.code == "end_before_start"


def test_bad_inputs_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        year_fraction(date(2024, 1, 1), date(2024, 2, 1), "30E/360")
    assert exc.value.code == "unknown_day_count"
    with pytest.raises(ValidationError) as exc:
        year_fraction(datetime(2024, 1, 1), date(2024, 2, 1), DayCount.ACT_360)
    assert exc.value.code == "invalid_date"
    with pytest.raises(ValidationError) as exc:
        add_months(date(9999, 12, 1), 1)
    assert exc.value.code == "date_out_of_range"
    with pytest.raises(ValidationError) as exc:
        add_months(date(2024, 1, 1), True)  # type: ignore[arg-type]
    assert exc.value.code == "invalid_months"


def test_convention_values_are_what_products_store() -> None:
    assert [c.value for c in DayCount] == ["ACT/365F", "ACT/360", "ACT/ACT", "30/360"]
    assert DayCount.coerce(" act/act ") is DayCount.ACT_ACT
    assert days_in_year(2024) == 366 and days_in_year(1900) == 365 and days_in_year(2000) == 366


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2023, 1, 31), 2, date(2023, 3, 31)),
        (date(2023, 3, 31), -1, date(2023, 2, 28)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 5, 20), 0, date(2023, 5, 20)),
        (date(2023, 8, 31), 360, date(2053, 8, 31)),
    ],
)
def test_add_months_known(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@FAST
@given(dates, st.integers(min_value=-1200, max_value=1200))
def test_add_months_properties(start: date, months: int) -> None:
    moved = add_months(start, months)
    # Lands in the right calendar month...
    assert (moved.year * 12 + moved.month) - (start.year * 12 + start.month) == months
    # ...on the same day, or on that month's last day when it is shorter.
    assert moved.day == start.day or (moved.day < start.day and (moved + timedelta(days=1)).day == 1)
    # A day that exists in every month survives the round trip.
    if start.day <= 28:
        assert add_months(moved, -months) == start
