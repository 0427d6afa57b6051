"""The business calendar: which days are working days, and how a date that falls on a day off moves.

A working day is a weekday (Monday–Friday) that is not a public holiday, or a make-up working day (调休: the
Saturdays or Sundays the State Council's holiday notice declares working days, e.g. Sunday 26 January 2025
before the Spring Festival). Holidays come from ``settings.CREDITPLAN_HOLIDAYS`` and make-up days from
``settings.CREDITPLAN_WORKDAYS`` (ISO dates). The same calendar serves the service levels of origination
(working hours) and the due dates of loans (a due date on a day off rolls, by product setting).

Rolling conventions (ISDA 2006 §4.12, the names banks use):

* ``none``: the date stays;
* ``following``: the next working day;
* ``modified_following``: the next working day, unless that is in the next month: then the previous one.

Pure arithmetic on dates (core imports no Django): the calendar of the settings is built by
``creditplan.loans.products.business_calendar`` (loans) and ``creditplan.origination.sla.calendar`` (service levels).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from creditplan.core.errors import ValidationError

__all__ = ["BusinessCalendar", "Roll"]

_WEEKDAYS = frozenset({0, 1, 2, 3, 4})
_MAX_STEPS = 60  # no calendar closes for two months: a longer search means a misconfigured calendar


class Roll(enum.StrEnum):
    """How a date on a day off moves (stored by products and loans as `due_date_roll`)."""

    NONE = "none"
    FOLLOWING = "following"
    MODIFIED_FOLLOWING = "modified_following"

    @classmethod
    def coerce(cls, value: Roll | str | None) -> Roll:
        if isinstance(value, Roll):
            return value
        wanted = str(value or "none").strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if member.value == wanted:
                return member
        raise ValidationError(f"Unknown due-date roll {value!r}; expected one of "
                              f"{', '.join(m.value for m in cls)}.", code="unknown_due_date_roll",
                              field="due_date_roll")


@dataclass(frozen=True)
class BusinessCalendar:
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    """Make-up working days (调休) that fall on a weekend."""
    weekdays: frozenset[int] = _WEEKDAYS

    @classmethod
    def of(cls, holidays: Iterable[dt.date | str] = (), workdays: Iterable[dt.date | str] = ()) -> BusinessCalendar:
        return cls(frozenset(_date(d) for d in holidays), frozenset(_date(d) for d in workdays))

    def is_business_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def following(self, day: dt.date) -> dt.date:
        return self._step(day, 1)

    def preceding(self, day: dt.date) -> dt.date:
        return self._step(day, -1)

    def modified_following(self, day: dt.date) -> dt.date:
        nxt = self.following(day)
        return nxt if nxt.month == day.month else self.preceding(day)

    def roll(self, day: dt.date, convention: Roll | str) -> dt.date:
        how = Roll.coerce(convention)
        if how is Roll.NONE:
            return day
        if how is Roll.FOLLOWING:
            return self.following(day)
        return self.modified_following(day)

    def _step(self, day: dt.date, sign: int) -> dt.date:
        for _ in range(_MAX_STEPS):
            if self.is_business_day(day):
                return day
            day += dt.timedelta(days=sign)
        raise ValidationError(f"No working day within {_MAX_STEPS} days of {day}: check the holiday calendar.",
                              code="calendar_closed")


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

