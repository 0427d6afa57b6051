"""The period-end forecast of a quota, term by term, and the deviation ranking of branch quotas. Pure: amounts in
fen (int), shares as Fractions, dates; the business calendar is core's (creditplan.core.calendar).

The forecast of new lending at the period end (docs/plan-forecast.md has a worked example):

    consumed                       what has been paid out in the period
  + reserved                       approvals holding quota, not yet paid out
  + pipeline                       Σ over the applications in progress (not yet holding quota): the amount
                                   requested × the historical conversion rate of the stage it is in
  + run-rate                       consumed ÷ business days elapsed × business days remaining
  = new-lending forecast

and of the balance at the period end: outstanding now + reserved + pipeline + run-rate − the principal scheduled to
be repaid from tomorrow to the period end.

The terms are added, as the formula of issue 19 says: the run-rate is the business the branch has been doing every
day; the reserved and pipeline terms are the business already in hand. Each term is rounded down to the fen once
(the pipeline after summing its exact products; the run-rate after its exact quotient) and the total is the sum of
the rounded terms, so the figures on the page add up. Before the period starts no day has elapsed: the run-rate is
0. After the period end nothing more can happen in it: pipeline, run-rate and repayments are 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from creditplan.core.calendar import BusinessCalendar

ONE_DAY = dt.timedelta(days=1)


def business_days(calendar: BusinessCalendar, start: dt.date, end: dt.date) -> int:
    """Working days from `start` to `end`, both included (0 when end < start)."""
    n, day = 0, start
    while day <= end:
        n += calendar.is_business_day(day)
        day += ONE_DAY
    return n


@dataclass(frozen=True, slots=True)
class BusinessClock:
    """Where `today` stands in the period, in working days: elapsed = start … today (capped at the end),
    remaining = tomorrow … end. `ended`: today is the period's last day or later."""

    elapsed: int
    remaining: int
    ended: bool


def business_clock(calendar: BusinessCalendar, start: dt.date, end: dt.date, today: dt.date) -> BusinessClock:
    elapsed = business_days(calendar, start, min(today, end))
    remaining = business_days(calendar, max(today + ONE_DAY, start), end)
    return BusinessClock(elapsed, remaining, today >= end)


def pipeline_expected(applications: Iterable[tuple[str, int]], conversion: Mapping[str, Fraction]) -> int:
    """Σ amount × the stage's conversion rate, rounded down once at the end. A stage missing from `conversion`
    converts at 0 (the source decides what a stage without history is worth: docs/plan-forecast.md)."""
    total = sum((Fraction(amount) * conversion.get(stage, Fraction(0)) for stage, amount in applications), Fraction(0))
    return int(total)  # amounts are ≥ 0: int() rounds down


def run_rate(consumed: int, clock: BusinessClock) -> int:
    """consumed ÷ business days elapsed × business days remaining, rounded down (0 before the first working day
    and after the period)."""
    if clock.elapsed == 0 or clock.ended:
        return 0
    return consumed * clock.remaining // clock.elapsed


@dataclass(frozen=True, slots=True)
class Forecast:
    """One quota's forecast, every term apart (fen). `new_lending` and `balance` are the two totals."""

    consumed: int
    reserved: int
    pipeline: int
    run_rate: int
    repayments: int
    outstanding: int
    elapsed_business_days: int
    remaining_business_days: int

    @property
    def new_lending(self) -> int:
        return self.consumed + self.reserved + self.pipeline + self.run_rate

    @property
    def balance(self) -> int:
        return self.outstanding + self.reserved + self.pipeline + self.run_rate - self.repayments


def forecast(*, consumed: int, reserved: int, outstanding: int, pipeline: int, repayments: int,
             clock: BusinessClock) -> Forecast:
    """The terms together: `pipeline` already weighted by conversion (`pipeline_expected`), `repayments` the
    principal scheduled from tomorrow to the period end."""
    if clock.ended:
        pipeline = repayments = 0
    return Forecast(consumed, reserved, pipeline, run_rate(consumed, clock), repayments, outstanding,
                    clock.elapsed, clock.remaining)


# --- pace and the ranking ----------------------------------------------------------------------------------------

AHEAD, BEHIND, ON_PLAN = "ahead", "behind", "on_plan"


def pace_status(pace: Fraction | None, margin_pct: int) -> str | None:
    """"ahead" above 1 + margin, "behind" below 1 − margin, "on_plan" in between (None: no pace yet)."""
    if pace is None:
        return None
    margin = Fraction(margin_pct, 100)
    if pace > 1 + margin:
        return AHEAD
    if pace < 1 - margin:
        return BEHIND
    return ON_PLAN


def pace_against(used: int, limit: int, expected_share: Fraction) -> Fraction | None:
    """Used share of the limit ÷ the share the plan expected by now (None before anything was expected)."""
    if expected_share <= 0:
        return None
    share = Fraction(used, limit) if limit > 0 else Fraction(0)
    return share / expected_share


@dataclass(frozen=True, slots=True)
class Deviation:
    key: str  # the branch code (ties are broken by it)
    forecast: int
    limit: int
    ref: int = 0  # the caller's own reference (a quota id): the last tie-break, so the order is total

    @property
    def share(self) -> Fraction | None:
        """|forecast − limit| ÷ limit (None for a zero limit)."""
        if self.limit <= 0:
            return None
        return Fraction(abs(self.forecast - self.limit), self.limit)

    @property
    def direction(self) -> str:
        return "over" if self.forecast > self.limit else "under" if self.forecast < self.limit else "on"


def rank(deviations: Iterable[Deviation]) -> list[Deviation]:
    """Largest deviation first, over and under alike; ties by branch code. A zero limit with something forecast
    is the largest deviation of all (anything is infinitely over nothing); a zero limit with nothing forecast,
    none."""

    def order(d: Deviation) -> tuple[int, Fraction, str, int]:
        s = d.share
        if s is None:
            return (0 if d.forecast > 0 else 1, Fraction(0), d.key, d.ref)
        return (1, -s, d.key, d.ref)

    return sorted(deviations, key=order)
