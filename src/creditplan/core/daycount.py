"""Day-count conventions and month arithmetic for interest and schedules.

Why ``Fraction`` and not Decimal or float: 1/365 and 1/360 have no finite decimal form, so any
decimal year fraction is already rounded. Returning an exact ``Fraction`` lets interest be computed
as ``principal.times(rate * year_fraction(...))`` and rounded exactly once, by a named rule.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date, datetime
from fractions import Fraction

from creditplan.core.errors import ValidationError

__all__ = ["DayCount", "add_months", "day_count", "days_in_year", "year_fraction"]


class DayCount(enum.StrEnum):
    """The conventions products may choose; the values are what product settings store."""

    ACT_365F = "ACT/365F"
    """Actual days / 365, whatever the year; a leap year's extra day earns an extra day's interest."""
    ACT_360 = "ACT/360"
    """Actual days / 360: the PBoC rule 日利率 = 年利率 / 360 that Chinese bank loans accrue by."""
    ACT_ACT = "ACT/ACT"
    """ISDA: days falling in a leap year / 366 plus days in other years / 365."""
    THIRTY_360 = "30/360"
    """ISDA 2006 §4.16(f) "30/360 Bond Basis": D1 = 31 -> 30; D2 = 31 -> 30 when D1 is (now) 30.

    Deliberately *not* 30U/360 with the US end-of-February rule, nor 30E/360: February dates are
    taken as they are, so 31 Jan -> 28 Feb counts 28 days and 28 Feb -> 31 Mar counts 33. With a
    360-day year every whole month is 1/12, which is what Chinese monthly-instalment contracts mean.
    """

    @classmethod
    def coerce(cls, value: DayCount | str) -> DayCount:
        """Accept the stored text of a product setting as well as the member itself."""
        if isinstance(value, DayCount):
            return value
        if isinstance(value, str):
            wanted = value.strip().upper()
            for member in cls:
                if member.value == wanted:
                    return member
        raise ValidationError(
            f"Unknown day count {value!r}; expected one of {', '.join(m.value for m in cls)}.",
            code="unknown_day_count",
        )


def _check_date(value: object, name: str) -> date:
    # datetime is a date subclass; refusing it keeps a time of day from sneaking into a day count.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(
            f"{name} must be a date, got {type(value).__name__}.", code="invalid_date", field=name
        )
    return value


def _check_period(start: date, end: date) -> None:
    _check_date(start, "start")
    _check_date(end, "end")
    if end < start:
        raise ValidationError(f"End {end} is before start {start}.", code="end_before_start", field="end")


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def _thirty_360_days(start: date, end: date) -> int:
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def day_count(start: date, end: date, convention: DayCount | str) -> int:
    """Days from ``start`` (inclusive) to ``end`` (exclusive) as the convention counts them."""
    _check_period(start, end)
    if DayCount.coerce(convention) is DayCount.THIRTY_360:
        return _thirty_360_days(start, end)
    return (end - start).days


def year_fraction(start: date, end: date, convention: DayCount | str) -> Fraction:
    """Exact share of a year between two dates; zero for an empty period, never negative."""
    _check_period(start, end)
    conv = DayCount.coerce(convention)
    if conv is DayCount.ACT_365F:
        return Fraction((end - start).days, 365)
    if conv is DayCount.ACT_360:
        return Fraction((end - start).days, 360)
    if conv is DayCount.THIRTY_360:
        return Fraction(_thirty_360_days(start, end), 360)
    # ACT/ACT ISDA: each calendar year contributes its own days over its own length.
    total = Fraction(0)
    cursor = start
    while cursor < end:
        year_end = date(cursor.year + 1, 1, 1) if cursor.year < 9999 else None
        stop = end if year_end is None or end < year_end else year_end
        total += Fraction((stop - cursor).days, days_in_year(cursor.year))
        cursor = stop
    return total


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, clamped to the month end (31 Jan + 1 -> 28/29 Feb).

    Why schedules should call ``add_months(first_due, k)`` rather than chaining ``add_months(prev,
    1)``: clamping is not reversible, so chaining drifts (31 Jan -> 28 Feb -> 28 Mar) while offsets
    from the anchor keep each due date on the contract day where the month has it.
    """
    _check_date(d, "date")
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValidationError(f"Months must be an int, got {n!r}.", code="invalid_months")
    index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValidationError(f"{d} plus {n} months is outside the calendar.", code="date_out_of_range")
    month = month0 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
