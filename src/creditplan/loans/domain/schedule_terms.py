"""What a repayment schedule is made of: the terms it is built from (`ScheduleTerms`, valid once constructed,
each problem naming its field), the lines it is made of (`Installment`), and the named methods, rounding rules
and frequencies products store.

The arithmetic that turns terms into lines is in `amortisation.py`; the schedules themselves (the public door)
in `schedule.py`. No Django import: an import-linter contract keeps ``creditplan.*.domain`` pure.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from creditplan.core.daycount import DayCount, add_months
from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.core.money import Rounding, format_minor

__all__ = [
    "MAX_MONTHS_PER_PERIOD",
    "MAX_PERIODS",
    "RATE_CAP",
    "FirstPeriod",
    "Frequency",
    "Installment",
    "InterestRule",
    "Method",
    "ScheduleTerms",
    "check_date",
    "check_int",
    "check_rate",
    "parse_frequency",
    "shift_months",
]

MAX_PERIODS = 600
"""50 years of monthly installments: longer than any product, short enough to refuse a typo."""
MAX_MONTHS_PER_PERIOD = 12
RATE_CAP = Decimal("0.36")
"""Above 36 % a year Chinese courts void the interest outright; nothing above it is ever scheduled."""


class Method(enum.StrEnum):
    """How principal is paid back; the values are what products and loans store."""

    EQUAL_INSTALLMENT = "equal-installment"
    """等额本息: one level payment each period; interest falls and principal rises over the term."""
    EQUAL_PRINCIPAL = "equal-principal"
    """等额本金: the same principal each period plus the interest on what is left, so payments fall."""
    INTEREST_ONLY = "interest-only"
    """先息后本: interest each period, all the principal (a balloon) with the last installment."""
    BULLET = "bullet"
    """到期一次还本付息: one payment of principal and all interest at maturity."""

    @classmethod
    def coerce(cls, value: Method | str) -> Method:
        """Accept the stored text (also with underscores or capitals, as people type it)."""
        return _member(cls, value, "repayment method", "unknown_method", "method")


class InterestRule(enum.StrEnum):
    """How the interest column of an amortising schedule is rounded to the fen (stored by products and loans)."""

    RUNNING_TOTAL = "running-total"
    """The exact schedule's interest, each line rounded so the column's running total is the exact one rounded:
    the total interest is the closed-form figure (A·n − P for equal installments, P·r·(n + 1)/2 for equal
    principal). The default."""
    PER_LINE = "per-line"
    """Each line's interest rounded on its own on the balance actually outstanding; the rounding of the level
    payment accumulates into the last line and the total."""

    @classmethod
    def coerce(cls, value: InterestRule | str) -> InterestRule:
        return _member(cls, value, "interest rule", "unknown_interest_rule", "interest_rule")


class FirstPeriod(enum.StrEnum):
    """How a broken first period (the value date is not one period before the first due date) is charged
    (stored by products and loans as `first_period`)."""

    RESOLVE = "resolve"
    """The broken period is one period of the schedule, counted by the day count (30/360: day by day), and
    the level payment is solved across all periods. What the product did before issue 18; the default."""
    STUB_ACTUAL_360 = "stub_actual_360"
    """The usual Chinese bank treatment: the schedule is the regular one of a loan that started one period
    before the first due date (every period at annual/12 under 30/360), and the days between the value date
    and the start of that first regular period are charged at ACTUAL days × annual/360, on top of the first
    installment (a first period shorter than a period: its interest is its actual days × annual/360)."""

    @classmethod
    def coerce(cls, value: FirstPeriod | str) -> FirstPeriod:
        if isinstance(value, str):  # the stored values use underscores: forgive hyphens
            value = value.strip().lower().replace("-", "_")
            for member in cls:
                if member.value == value:
                    return member
        if isinstance(value, FirstPeriod):
            return value
        raise ValidationError(f"Unknown first-period treatment {value!r}; expected one of "
                              f"{', '.join(m.value for m in cls)}.", code="unknown_first_period", field="first_period")


_E = TypeVar("_E", Method, InterestRule)


def _member(cls: type[_E], value: _E | str, what: str, code: str, field: str) -> _E:
    """The member of a text enum named by ``value`` (blanks, capitals and underscores forgiven), or a
    ValidationError listing the allowed values."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        wanted = value.strip().lower().replace("_", "-")
        for member in cls:
            if member.value == wanted:
                return member
    raise ValidationError(
        f"Unknown {what} {value!r}; expected one of {', '.join(m.value for m in cls)}.", code=code, field=field
    )


class Frequency(enum.StrEnum):
    """The named repayment frequencies; any other whole number of months is allowed as a plain int."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    @property
    def months(self) -> int:
        return _FREQUENCY_MONTHS[self]

    @classmethod
    def coerce(cls, value: Frequency | str) -> Frequency:
        if isinstance(value, Frequency):
            return value
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value == wanted:
                    return member
        raise ValidationError(
            f"Unknown frequency {value!r}; expected one of {', '.join(m.value for m in cls)} "
            f"or a number of months from 1 to {MAX_MONTHS_PER_PERIOD}.",
            code="unknown_frequency",
            field="months_per_period",
        )


_FREQUENCY_MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3}


def parse_frequency(value: Frequency | str | int) -> int:
    """Months per period from "monthly", "quarterly", a number of months, or its text ("2")."""
    if isinstance(value, bool):
        raise ValidationError("Frequency must not be a bool.", code="unknown_frequency", field="months_per_period")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    months = value if isinstance(value, int) else Frequency.coerce(value).months
    if not 1 <= months <= MAX_MONTHS_PER_PERIOD:
        raise ValidationError(
            f"A period must be 1 to {MAX_MONTHS_PER_PERIOD} months, got {months}.",
            code="months_per_period_out_of_range",
            field="months_per_period",
        )
    return months


@dataclass(frozen=True, kw_only=True, slots=True)
class Installment:
    """One line of a schedule, amounts in minor units. ``payment`` is principal + interest + fee."""

    seq: int
    """1-based position in the schedule (a re-schedule may start at a later number)."""
    due_date: date
    start_date: date
    """Start of the period the interest accrues over (the value date for the first line)."""
    principal: int
    interest: int
    fee: int = 0
    payment: int
    balance_after: int
    """Principal still outstanding once this line is paid; 0 on the last line."""

    def __post_init__(self) -> None:
        # Cheap invariant checks: a line built by hand elsewhere (restructuring) cannot be inconsistent.
        if min(self.principal, self.interest, self.fee, self.balance_after) < 0:
            raise ValidationError(f"Installment {self.seq} has a negative amount.", code="negative_amount")
        if self.payment != self.principal + self.interest + self.fee:
            raise ValidationError(
                f"Installment {self.seq}: payment {self.payment} is not principal + interest + fee.",
                code="inconsistent_installment",
            )

    def as_json(self, currency: str = "CNY") -> dict[str, Any]:
        """Dates as ISO text, amounts as plain decimal text ("4745.37"): exact, and safe for JSON."""
        return {
            "seq": self.seq,
            "start_date": self.start_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "principal": format_minor(self.principal, currency, grouping=False),
            "interest": format_minor(self.interest, currency, grouping=False),
            "fee": format_minor(self.fee, currency, grouping=False),
            "payment": format_minor(self.payment, currency, grouping=False),
            "balance_after": format_minor(self.balance_after, currency, grouping=False),
        }


@dataclass(frozen=True, slots=True)
class ScheduleTerms:
    """Everything a schedule depends on; valid once constructed (each problem names its field).

    Also what a re-schedule is built from: a remaining balance, the rate now in force and the
    periods left, starting at the last due date paid (see :func:`remaining_schedule`).
    ``method``, ``day_count``, ``rounding`` and ``interest_rule`` may be given as their stored text; they are
    enum members once constructed.

    Due dates are counted from an anchor, never chained: from ``first_due`` when it is given
    (``add_months(first_due, k × months_per_period)``), otherwise from ``start``
    (``add_months(start, (k + 1) × months_per_period)``), so a loan disbursed on 31 January falls due
    on 28/29 February and 31 March. ``due_day`` names the contract day of the month explicitly, which
    a re-schedule needs when its anchor is itself a clamped date (re-scheduling from 28 February a
    loan that falls due on the 31st).
    """

    principal_minor: int
    annual_rate: Decimal
    periods: int
    method: Method
    start: date
    """Disbursement (value) date: interest accrues from here."""
    first_due: date | None = None
    months_per_period: int = 1
    day_count: DayCount = DayCount.THIRTY_360
    rounding: Rounding = Rounding.HALF_UP
    grace_periods: int = 0
    """Interest-only periods at the start; amortising methods then amortise over the rest."""
    fee_per_installment_minor: int = 0
    due_day: int | None = None
    """Contract day of the month (1-31, clamped to short months); default: the anchor's day."""
    interest_rule: InterestRule = InterestRule.RUNNING_TOTAL
    first_period: FirstPeriod = FirstPeriod.RESOLVE
    """How a broken first period is charged (see `FirstPeriod`)."""
    payment_roll: Callable[[date], date] | None = None
    """Payment date roll: moves a due date that falls on a day off (core.calendar, by the product's
    `due_date_roll`). The installment's amounts stay those of the contract dates; only the date it is payable
    (and from which it is overdue) moves, and the next period accrues from that date. None: no roll."""

    def __post_init__(self) -> None:
        check_int(self.principal_minor, "principal_minor")
        if self.principal_minor <= 0:
            raise ValidationError(
                "The amount must be greater than zero.", code="amount_not_positive", field="principal_minor"
            )
        check_rate(self.annual_rate, "annual_rate")
        check_int(self.periods, "periods")
        if not 1 <= self.periods <= MAX_PERIODS:
            raise ValidationError(
                f"The term must be 1 to {MAX_PERIODS} periods, got {self.periods}.",
                code="periods_out_of_range",
                field="periods",
            )
        object.__setattr__(self, "method", Method.coerce(self.method))
        check_int(self.months_per_period, "months_per_period")
        if not 1 <= self.months_per_period <= MAX_MONTHS_PER_PERIOD:
            raise ValidationError(
                f"A period must be 1 to {MAX_MONTHS_PER_PERIOD} months, got {self.months_per_period}.",
                code="months_per_period_out_of_range",
                field="months_per_period",
            )
        check_int(self.grace_periods, "grace_periods")
        if not 0 <= self.grace_periods < self.periods:
            raise ValidationError(
                f"Grace periods must be at least 0 and fewer than the {self.periods} periods of the term, "
                f"got {self.grace_periods}.",
                code="grace_out_of_range",
                field="grace_periods",
            )
        check_int(self.fee_per_installment_minor, "fee_per_installment_minor")
        if self.fee_per_installment_minor < 0:
            raise ValidationError(
                "The installment fee must not be negative.", code="negative_fee", field="fee_per_installment_minor"
            )
        for name, kind in (("day_count", DayCount), ("rounding", Rounding), ("interest_rule", InterestRule),
                           ("first_period", FirstPeriod)):
            try:
                object.__setattr__(self, name, kind.coerce(getattr(self, name)))
            except CreditplanError as exc:
                raise exc.for_field(name)
        check_date(self.start, "start")
        if self.first_due is not None:
            check_date(self.first_due, "first_due")
        if self.due_day is not None:
            check_int(self.due_day, "due_day")
            if not 1 <= self.due_day <= 31:
                raise ValidationError(
                    f"The due day must be 1 to 31, got {self.due_day}.", code="invalid_due_day", field="due_day"
                )
            if self.first_due is not None and self._on_due_day(self.first_due) != self.first_due:
                raise ValidationError(
                    f"The first due date {self.first_due} does not fall on due day {self.due_day}.",
                    code="first_due_not_on_due_day",
                    field="first_due",
                )
        first = self._due(0, "start" if self.first_due is None else "first_due")
        if first <= self.start:
            raise ValidationError(
                f"The first due date {first} must be after the start {self.start}.",
                code="first_due_not_after_start",
                field="first_due",
            )
        self._due(self.periods - 1, "periods")  # the whole term must fit the calendar

    def _on_due_day(self, day: date) -> date:
        wanted = self.due_day
        if wanted is None or day.day == wanted:
            return day
        return day.replace(day=min(wanted, calendar.monthrange(day.year, day.month)[1]))

    def _due(self, k: int, field_name: str = "periods") -> date:
        """Due date of the (k+1)-th period, counted from the anchor."""
        if self.first_due is None:
            shifted = shift_months(self.start, (k + 1) * self.months_per_period, field_name)
        else:
            shifted = shift_months(self.first_due, k * self.months_per_period, field_name)
        return self._on_due_day(shifted)

    @property
    def first_due_date(self) -> date:
        return self._due(0)

    @property
    def maturity(self) -> date:
        return self._due(self.periods - 1)

    def due_dates(self) -> tuple[date, ...]:
        # The whole term was checked to fit the calendar on construction: no error handling per date.
        step = self.months_per_period
        anchor, offset = (self.start, step) if self.first_due is None else (self.first_due, 0)
        if self.due_day is None or self.due_day == anchor.day:
            return tuple(add_months(anchor, offset + k * step) for k in range(self.periods))
        return tuple(self._on_due_day(add_months(anchor, offset + k * step)) for k in range(self.periods))


def check_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        code = "float_money" if isinstance(value, float) else "invalid_number"
        raise ValidationError(f"{name} must be an int, got {value!r}.", code=code, field=name)


def check_rate(value: object, name: str) -> None:
    if isinstance(value, float):
        raise ValidationError(
            f"The rate must not be a float (got {value!r}); pass a Decimal such as Decimal('0.0395').",
            code="float_money",
            field=name,
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValidationError(f"The rate must be a Decimal, got {value!r}.", code="invalid_rate", field=name)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(f"The rate must be finite, got {value}.", code="invalid_rate", field=name)
    if not 0 <= value <= RATE_CAP:
        raise ValidationError(
            f"The annual rate must be between 0 and {RATE_CAP:.0%} (a fraction: 3.95 % is 0.0395), got {value}.",
            code="rate_out_of_range",
            field=name,
        )


def check_date(value: object, name: str) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"{name} must be a date, got {value!r}.", code="invalid_date", field=name)


def shift_months(anchor: date, months: int, field_name: str) -> date:
    try:
        return add_months(anchor, months)
    except CreditplanError as exc:
        raise exc.for_field(field_name)
