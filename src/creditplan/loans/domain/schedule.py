"""Repayment schedules, exact to the fen: equal installment, equal principal, interest only, bullet.

Why everything here is integers of minor units and ``Fraction``: a schedule is a contract. Its lines
are shown to the borrower, posted to the ledger, accrued day by day and compared with payments for
years; a float (or a Decimal rounded by an implicit context) would sooner or later disagree with
itself by a fen. So every amount is an ``int`` of minor units, every intermediate value is exact, and
each figure is rounded exactly once, by the rounding the product names.

The rules every schedule obeys (and tests/loans/test_schedule.py checks on random loans):

* the interest of the lines follows the product's :class:`InterestRule`. By default
  (``running-total``) it is the interest of the exact, unrounded schedule, with the fen handed out so
  that the running total of the interest column is always the exact running total rounded: the
  schedule's total interest is then the closed-form figure a loan calculator and the offer disclose
  (708,334.05 for DESIGN.md's reference loan), each line is within two fen of ``balance × rate``, and the
  level payment is still the rounded annuity. ``per-line`` rounds each line's
  ``balance before × annual rate × year fraction`` on its own, on the balance actually outstanding,
  which leaves the rounding of 360 payments in the total (708,334.90). Lines on which no principal has
  been repaid yet (grace periods, interest-only loans, a bullet) are the same under both rules (30/360
  counts a whole period as months / 12, see _period_rows);
* the principal of the lines sums exactly to the amount lent: what rounding leaves over (the
  residue) lands on the last installment(s), never spread invisibly;
* no line has negative principal or interest, balances never increase and end at zero;
* due dates are ``add_months(anchor, k × months per period)``, always counted from the anchor (the
  first due date, or the value date when no first due date is given), so a loan due on the 31st
  falls due on 28/29 Feb and again on 31 Mar (chaining would drift to the 28th).

No Django import: an import-linter contract keeps ``creditplan.*.domain`` pure.
"""

from __future__ import annotations

import calendar
import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from creditplan.core.daycount import DayCount, add_months, year_fraction
from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.core.money import Money, Rounding, round_fraction

__all__ = [
    "MAX_MONTHS_PER_PERIOD",
    "MAX_PERIODS",
    "RATE_CAP",
    "Frequency",
    "Installment",
    "InterestRule",
    "Method",
    "ScheduleTerms",
    "build_schedule",
    "bullet",
    "equal_installment",
    "equal_principal",
    "interest_only",
    "level_payment",
    "parse_frequency",
    "periods_to_repay",
    "remaining_schedule",
    "totals",
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
            "principal": _decimal_text(self.principal, currency),
            "interest": _decimal_text(self.interest, currency),
            "fee": _decimal_text(self.fee, currency),
            "payment": _decimal_text(self.payment, currency),
            "balance_after": _decimal_text(self.balance_after, currency),
        }


def _decimal_text(minor: int, currency: str) -> str:
    return format(Money(minor, currency).amount, "f")


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

    def __post_init__(self) -> None:
        _check_int(self.principal_minor, "principal_minor")
        if self.principal_minor <= 0:
            raise ValidationError(
                "The amount must be greater than zero.", code="amount_not_positive", field="principal_minor"
            )
        _check_rate(self.annual_rate, "annual_rate")
        _check_int(self.periods, "periods")
        if not 1 <= self.periods <= MAX_PERIODS:
            raise ValidationError(
                f"The term must be 1 to {MAX_PERIODS} periods, got {self.periods}.",
                code="periods_out_of_range",
                field="periods",
            )
        object.__setattr__(self, "method", Method.coerce(self.method))
        _check_int(self.months_per_period, "months_per_period")
        if not 1 <= self.months_per_period <= MAX_MONTHS_PER_PERIOD:
            raise ValidationError(
                f"A period must be 1 to {MAX_MONTHS_PER_PERIOD} months, got {self.months_per_period}.",
                code="months_per_period_out_of_range",
                field="months_per_period",
            )
        _check_int(self.grace_periods, "grace_periods")
        if not 0 <= self.grace_periods < self.periods:
            raise ValidationError(
                f"Grace periods must be at least 0 and fewer than the {self.periods} periods of the term, "
                f"got {self.grace_periods}.",
                code="grace_out_of_range",
                field="grace_periods",
            )
        _check_int(self.fee_per_installment_minor, "fee_per_installment_minor")
        if self.fee_per_installment_minor < 0:
            raise ValidationError(
                "The installment fee must not be negative.", code="negative_fee", field="fee_per_installment_minor"
            )
        for name, kind in (("day_count", DayCount), ("rounding", Rounding), ("interest_rule", InterestRule)):
            try:
                object.__setattr__(self, name, kind.coerce(getattr(self, name)))
            except CreditplanError as exc:
                raise exc.for_field(name)
        _check_date(self.start, "start")
        if self.first_due is not None:
            _check_date(self.first_due, "first_due")
        if self.due_day is not None:
            _check_int(self.due_day, "due_day")
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
            shifted = _shift_months(self.start, (k + 1) * self.months_per_period, field_name)
        else:
            shifted = _shift_months(self.first_due, k * self.months_per_period, field_name)
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


def _check_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        code = "float_money" if isinstance(value, float) else "invalid_number"
        raise ValidationError(f"{name} must be an int, got {value!r}.", code=code, field=name)


def _check_rate(value: object, name: str) -> None:
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


def _check_date(value: object, name: str) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"{name} must be a date, got {value!r}.", code="invalid_date", field=name)


def _shift_months(anchor: date, months: int, field_name: str) -> date:
    try:
        return add_months(anchor, months)
    except CreditplanError as exc:
        raise exc.for_field(field_name)


# --------------------------------------------------------------------------------------------
# Building schedules
# --------------------------------------------------------------------------------------------


def build_schedule(terms: ScheduleTerms) -> tuple[Installment, ...]:
    """The schedule of ``terms``: one line per period (one line only for a bullet loan)."""
    rows = _period_rows(terms)
    if terms.method is Method.BULLET:
        return (_bullet_line(terms, rows),)
    if terms.method is Method.EQUAL_INSTALLMENT:
        amounts = _installment_plan(terms, rows)[1]
    else:
        carried = None
        if terms.method is Method.EQUAL_PRINCIPAL and terms.interest_rule is InterestRule.RUNNING_TOTAL:
            carried = _running_total(terms, rows, None)
        amounts = _amortise(terms, rows, 0)[0] if carried is None else carried
    fee = terms.fee_per_installment_minor
    balance = terms.principal_minor
    lines = []
    for k, ((start, due, _), (principal, interest)) in enumerate(zip(rows, amounts, strict=True)):
        balance -= principal
        lines.append(
            Installment(
                seq=k + 1,
                start_date=start,
                due_date=due,
                principal=principal,
                interest=interest,
                fee=fee,
                payment=principal + interest + fee,
                balance_after=balance,
            )
        )
    return tuple(lines)


def level_payment(terms: ScheduleTerms) -> int:
    """The level principal + interest payment of an equal-installment schedule of ``terms`` (before
    fees; the last line differs by the rounding residue), whatever ``terms.method`` says."""
    if terms.method is not Method.EQUAL_INSTALLMENT:
        terms = replace(terms, method=Method.EQUAL_INSTALLMENT)
    return _installment_plan(terms, _period_rows(terms))[0]


_Row = tuple[date, date, tuple[int, int]]


def _period_rows(terms: ScheduleTerms) -> list[_Row]:
    """(accrual start, due date, annual rate × year fraction) of each period, exact.

    30/360 counts every regular period as exactly months/12 of a year: that is what a monthly rate
    (annual / 12) in a Chinese installment contract means, and the ISDA day rule alone would not give
    it at month ends (31 Jan -> 28 Feb counts 28 days, 28 Feb -> 31 Mar 33). Only a broken first period
    (the value date is not one period before the first due date) is counted day by day. Actual-day
    conventions count every period by its days.

    The rate of a period is kept as an unreduced (numerator, denominator) pair of ints: the schedule
    only ever multiplies it by a balance and rounds once, and skipping Fraction's gcd on every line
    halves the time of a 360-line schedule.
    """
    rate = Fraction(terms.annual_rate)
    dues = terms.due_dates()
    regular: Fraction | None = None
    if terms.day_count is DayCount.THIRTY_360:
        regular = Fraction(terms.months_per_period, 12)
    rows = []
    start = terms.start
    for k, due in enumerate(dues):
        if regular is not None and (k > 0 or _first_period_is_regular(terms, due)):
            share = regular
        else:
            share = year_fraction(start, due, terms.day_count)
        rows.append((start, due, (rate.numerator * share.numerator, rate.denominator * share.denominator)))
        start = due
    return rows


def _first_period_is_regular(terms: ScheduleTerms, first_due: date) -> bool:
    step = terms.months_per_period
    return add_months(terms.start, step) == first_due or terms._on_due_day(add_months(first_due, -step)) == terms.start


def _amortise(terms: ScheduleTerms, rows: Sequence[_Row], payment: int) -> tuple[list[tuple[int, int]], bool]:
    """(principal, interest) of every line, and whether some line's interest exceeded ``payment``.

    Interest is always on the balance actually outstanding; the last line takes whatever principal is
    left (the residue of every rounding). An equal-installment line never has negative principal: when
    a period's interest is more than the level payment (a long period at a high rate over a long term),
    the borrower pays that interest in full and no principal that period.
    """
    method = terms.method
    grace = terms.grace_periods
    rounding = terms.rounding
    parts: list[int] = []
    if method is Method.EQUAL_PRINCIPAL:
        # As Money.split(residue="last"): every part within a fen of P/n, the odd fen on the last parts.
        count = len(rows) - grace
        base, extra = divmod(terms.principal_minor, count)
        parts = [base] * (count - extra) + [base + 1] * extra
    balance = terms.principal_minor
    last = len(rows) - 1
    amounts = []
    clamped = False
    for k, (_, _, (rate_num, rate_den)) in enumerate(rows):
        interest = _round_div(balance * rate_num, rate_den, rounding)
        if k == last:
            principal = balance
        elif k < grace or method is Method.INTEREST_ONLY:
            principal = 0
        elif method is Method.EQUAL_INSTALLMENT:
            if interest > payment:
                clamped = True
            principal = min(balance, max(0, payment - interest))
        else:
            principal = min(balance, parts[k - grace])
        balance -= principal
        amounts.append((principal, interest))
    return amounts, clamped


def _installment_plan(terms: ScheduleTerms, rows: Sequence[_Row]) -> tuple[int, list[tuple[int, int]]]:
    """The level payment and the (principal, interest) lines: the exact annuity of the amortising periods, rounded by the product's rule.

    When some period's interest is more than that payment (see :func:`_amortise`), those periods pay
    more than the level amount and the loan would be repaid early, leaving empty lines at the end. The
    payment is then instead the smallest whole number of minor units whose schedule's last line does
    not exceed it, found by search on the actual schedule (the last line is a non-increasing function
    of the payment).
    """
    exact = _annuity(terms.principal_minor, [rate for _, _, rate in rows[terms.grace_periods :]])
    payment = _round_div(*exact, terms.rounding)
    if terms.interest_rule is InterestRule.RUNNING_TOTAL:
        carried = _running_total(terms, rows, exact)
        if carried is not None:
            return payment, carried
    amounts, clamped = _amortise(terms, rows, payment)
    if not clamped:
        return payment, amounts

    def fits(candidate: int) -> bool:
        principal, interest = _amortise(terms, rows, candidate)[0][-1]
        return principal + interest <= candidate

    # Exponential search for a bracket [low, high] with fits(high) and not fits(low), then bisection.
    step = 1
    if fits(payment):
        high, low = payment, payment - 1
        while low > 0 and fits(low):
            high, low, step = low, max(0, low - step), step * 2
    else:
        low, high = payment, payment + 1
        while not fits(high):
            low, high, step = high, high + step, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return high, _amortise(terms, rows, high)[0]


def _round_div(numerator: int, denominator: int, rounding: Rounding) -> int:
    """``round_fraction(Fraction(numerator, denominator), rounding)`` for a positive denominator, without
    building (and reducing) the Fraction; tests check the two agree."""
    floor, rest = divmod(numerator, denominator)
    if rest == 0 or rounding is Rounding.DOWN and numerator >= 0:
        return floor
    if rounding is Rounding.DOWN:
        return floor + 1
    if rounding is Rounding.UP:
        return floor + 1 if numerator > 0 else floor
    twice = 2 * rest
    if twice != denominator:
        return floor + 1 if twice > denominator else floor
    if rounding is Rounding.HALF_UP:
        return floor + 1 if numerator > 0 else floor
    return floor if floor % 2 == 0 else floor + 1


def _running_total(
    terms: ScheduleTerms, rows: Sequence[_Row], annuity: tuple[int, int] | None
) -> list[tuple[int, int]] | None:
    """(principal, interest) of every line under :attr:`InterestRule.RUNNING_TOTAL`, or None when that rule
    cannot give a valid schedule (a period whose interest exceeds the level payment: the caller falls back
    to :func:`_amortise`, which handles it).

    The exact schedule: grace lines pay P·x_k; then, for equal installments, B_j = B_(j-1)·(1 + x_j) − A with
    the exact annuity A = ``annuity`` (numerator, denominator), and for equal principal B_j = P·(n − j)/n. Its
    interest I_j = B_(j-1)·x_j. Line j's interest is round(C_j) − round(C_(j-1)), C_j = I_1 + … + I_j, so the
    column's running total is never more than half a fen (one fen for ``up``/``down``) from the exact one and
    the total is the closed form. Principal: the rounded level payment less that interest (equal
    installment), or P/n split as :func:`_amortise` splits it (equal principal); the last line takes what
    is left. Equal-installment arithmetic is on integers scaled by D_j = den(A)·q^j (q: the common
    denominator of the period rates), as :func:`_annuity`, so no Fraction reduces a 2,000-digit number.
    """
    rounding = terms.rounding
    grace = terms.grace_periods
    total = terms.principal_minor
    amounts = [(0, _round_div(total * num, den, rounding)) for _, _, (num, den) in rows[:grace]]
    amortising = rows[grace:]
    count = len(amortising)
    carried = 0
    if annuity is None:  # equal principal
        base, extra = divmod(total, count)
        cumulative = Fraction(0)
        for j, (_, _, (num, den)) in enumerate(amortising):
            cumulative += Fraction(total * (count - j) * num, count * den)
            rounded = round_fraction(cumulative, rounding)
            amounts.append((base + (j >= count - extra), rounded - carried))
            carried = rounded
        return amounts
    a_num, a_den = annuity
    payment = _round_div(a_num, a_den, rounding)
    q = math.lcm(*(den for _, _, (_, den) in amortising))
    scaled_balance = total * a_den  # B_j · D_j
    scaled_interest = 0  # C_j · D_j
    scale = a_den  # D_j
    scaled_annuity = a_num  # A · a_den · q^j, i.e. a_num · q^j
    balance, last = total, count - 1
    for j, (_, _, (num, den)) in enumerate(amortising):
        growth = num * (q // den)  # q · x_j
        scaled_interest = scaled_interest * q + scaled_balance * growth
        scale *= q
        scaled_annuity *= q
        scaled_balance = scaled_balance * (q + growth) - scaled_annuity
        rounded = _round_div(scaled_interest, scale, rounding)
        interest = rounded - carried
        carried = rounded
        principal = balance if j == last else payment - interest
        if principal < 0 or principal > balance or interest < 0:
            return None
        balance -= principal
        amounts.append((principal, interest))
    return amounts


def _annuity(principal: int, period_rates: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The exact level payment that brings ``principal`` to zero over periods with these rates, as (numerator,
    denominator); the schedule rounds it by the product's rounding.

    Why not only the textbook A = P·i·(1+i)^n / ((1+i)^n − 1): that assumes every period earns the same
    rate i. With 30/360 and whole periods it does (i = annual / 12 × months), and this function returns
    exactly the textbook figure. With an actual-day count, or a broken first period, periods differ; the
    textbook payment would then leave a residue of whole yuan on the last line, where solving
    P·Π(1+x_k) = A·Σ_k Π_{j>k}(1+x_j) exactly leaves only the rounding residue of a few fen.

    Computed on integers scaled by a common denominator q (so no Fraction normalises a 2,000-digit
    number in the loop): m_k = q·(1 + x_k), A = P·Π m_k / Σ_k q^k·Π_{j>k} m_j.
    """
    if not period_rates:
        return principal, 1
    q = math.lcm(*(den for _, den in period_rates))
    product, weights, q_power = 1, 0, 1
    for num, den in period_rates:
        m = q + num * (q // den)
        q_power *= q
        product *= m
        weights = weights * m + q_power
    return principal * product, weights


def _bullet_line(terms: ScheduleTerms, rows: Sequence[_Row]) -> Installment:
    """Principal × rate × the year fraction from the value date to maturity, counted as the sum of the
    periods' fractions (the same as year_fraction(start, maturity) for the actual-day counts; whole
    periods for 30/360, as every other method counts them)."""
    rate_share = sum((Fraction(num, den) for _, _, (num, den) in rows), Fraction(0))
    interest = round_fraction(terms.principal_minor * rate_share, terms.rounding)
    fee = terms.fee_per_installment_minor
    return Installment(
        seq=1,
        start_date=terms.start,
        due_date=rows[-1][1],
        principal=terms.principal_minor,
        interest=interest,
        fee=fee,
        payment=terms.principal_minor + interest + fee,
        balance_after=0,
    )


# --------------------------------------------------------------------------------------------
# The named methods, in DESIGN.md §7's shape (Money in, exact lines out)
# --------------------------------------------------------------------------------------------


def _schedule_for(
    method: Method,
    principal: Money,
    annual_rate: Decimal,
    periods: int,
    *,
    first_due: date,
    rounding: Rounding | str,
    start: date | None,
    day_count: DayCount | str,
    months_per_period: int,
    grace_periods: int,
    fee_per_installment: Money | None,
) -> tuple[Installment, ...]:
    if not isinstance(principal, Money):
        raise ValidationError(
            f"The principal must be Money, got {type(principal).__name__}.", code="invalid_money", field="principal"
        )
    fee = 0
    if fee_per_installment is not None:
        if not isinstance(fee_per_installment, Money) or fee_per_installment.currency != principal.currency:
            raise ValidationError(
                f"The installment fee must be Money in {principal.currency}.",
                code="currency_mismatch",
                field="fee_per_installment",
            )
        fee = fee_per_installment.minor
    _check_date(first_due, "first_due")
    _check_int(months_per_period, "months_per_period")
    if start is None:
        start = _shift_months(first_due, -months_per_period, "first_due")
    terms = ScheduleTerms(
        principal_minor=principal.minor,
        annual_rate=annual_rate,
        periods=periods,
        method=method,
        start=start,
        first_due=first_due,
        months_per_period=months_per_period,
        day_count=day_count,  # type: ignore[arg-type]  # coerced from text by ScheduleTerms
        rounding=rounding,  # type: ignore[arg-type]
        grace_periods=grace_periods,
        fee_per_installment_minor=fee,
    )
    return build_schedule(terms)


def equal_installment(
    principal: Money,
    annual_rate: Decimal,
    periods: int,
    *,
    first_due: date,
    rounding: Rounding | str = Rounding.HALF_UP,
    start: date | None = None,
    day_count: DayCount | str = DayCount.THIRTY_360,
    months_per_period: int = 1,
    grace_periods: int = 0,
    fee_per_installment: Money | None = None,
) -> tuple[Installment, ...]:
    """Annuity schedule (等额本息); the rounding residue lands on the last installment.

    ``start`` (the value date) defaults to one period before ``first_due``: a regular first period.
    """
    return _schedule_for(
        Method.EQUAL_INSTALLMENT, principal, annual_rate, periods, first_due=first_due, rounding=rounding,
        start=start, day_count=day_count, months_per_period=months_per_period, grace_periods=grace_periods,
        fee_per_installment=fee_per_installment,
    )


def equal_principal(
    principal: Money,
    annual_rate: Decimal,
    periods: int,
    *,
    first_due: date,
    rounding: Rounding | str = Rounding.HALF_UP,
    start: date | None = None,
    day_count: DayCount | str = DayCount.THIRTY_360,
    months_per_period: int = 1,
    grace_periods: int = 0,
    fee_per_installment: Money | None = None,
) -> tuple[Installment, ...]:
    """Equal-principal schedule (等额本金); the odd fen of P/n go one each to the last installments."""
    return _schedule_for(
        Method.EQUAL_PRINCIPAL, principal, annual_rate, periods, first_due=first_due, rounding=rounding,
        start=start, day_count=day_count, months_per_period=months_per_period, grace_periods=grace_periods,
        fee_per_installment=fee_per_installment,
    )


def interest_only(
    principal: Money,
    annual_rate: Decimal,
    periods: int,
    *,
    first_due: date,
    rounding: Rounding | str = Rounding.HALF_UP,
    start: date | None = None,
    day_count: DayCount | str = DayCount.THIRTY_360,
    months_per_period: int = 1,
    fee_per_installment: Money | None = None,
) -> tuple[Installment, ...]:
    """Interest every period (先息后本), the whole principal with the last installment."""
    return _schedule_for(
        Method.INTEREST_ONLY, principal, annual_rate, periods, first_due=first_due, rounding=rounding,
        start=start, day_count=day_count, months_per_period=months_per_period, grace_periods=0,
        fee_per_installment=fee_per_installment,
    )


def bullet(
    principal: Money,
    annual_rate: Decimal,
    periods: int,
    *,
    first_due: date,
    rounding: Rounding | str = Rounding.HALF_UP,
    start: date | None = None,
    day_count: DayCount | str = DayCount.THIRTY_360,
    months_per_period: int = 1,
    fee_per_installment: Money | None = None,
) -> tuple[Installment, ...]:
    """One payment of principal and all interest (到期一次还本付息), due ``periods - 1`` periods after
    ``first_due``; the interest is the principal × rate × year fraction from ``start`` to maturity."""
    return _schedule_for(
        Method.BULLET, principal, annual_rate, periods, first_due=first_due, rounding=rounding,
        start=start, day_count=day_count, months_per_period=months_per_period, grace_periods=0,
        fee_per_installment=fee_per_installment,
    )


# --------------------------------------------------------------------------------------------
# Re-scheduling: prepayments, rate resets, restructuring
# --------------------------------------------------------------------------------------------

_RESCHEDULE_FIELDS = {"principal_minor": "balance_minor", "periods": "remaining_periods"}


def remaining_schedule(
    balance_minor: int,
    annual_rate: Decimal,
    remaining_periods: int,
    method: Method | str,
    *,
    start: date,
    first_due: date | None = None,
    months_per_period: int = 1,
    day_count: DayCount | str = DayCount.THIRTY_360,
    rounding: Rounding | str = Rounding.HALF_UP,
    grace_periods: int = 0,
    fee_per_installment_minor: int = 0,
    due_day: int | None = None,
    first_seq: int = 1,
) -> tuple[Installment, ...]:
    """A fresh schedule for the principal still outstanding, from ``start`` (usually the last due date
    paid, or the value date of a prepayment or rate reset), numbered from ``first_seq``.

    "Reduce the installment" after a prepayment keeps ``remaining_periods``; "shorten the term" passes
    :func:`periods_to_repay` of the old payment. Pass the loan's contract ``due_day`` when ``start`` may
    be a clamped month end (28 Feb of a loan due on the 31st), or the new dates would drift to the 28th.
    """
    try:
        terms = ScheduleTerms(
            principal_minor=balance_minor,
            annual_rate=annual_rate,
            periods=remaining_periods,
            method=method,  # type: ignore[arg-type]  # coerced from text by ScheduleTerms
            start=start,
            first_due=first_due,
            months_per_period=months_per_period,
            day_count=day_count,  # type: ignore[arg-type]
            rounding=rounding,  # type: ignore[arg-type]
            grace_periods=grace_periods,
            fee_per_installment_minor=fee_per_installment_minor,
            due_day=due_day,
        )
    except CreditplanError as exc:
        if exc.field in _RESCHEDULE_FIELDS:
            raise exc.for_field(_RESCHEDULE_FIELDS[exc.field])
        raise
    _check_int(first_seq, "first_seq")
    if first_seq < 1:
        raise ValidationError("first_seq must be at least 1.", code="invalid_seq", field="first_seq")
    lines = build_schedule(terms)
    if first_seq == 1:
        return lines
    return tuple(replace(line, seq=line.seq + first_seq - 1) for line in lines)


def periods_to_repay(
    balance_minor: int,
    annual_rate: Decimal,
    payment_minor: int,
    months_per_period: int = 1,
    *,
    rounding: Rounding | str = Rounding.HALF_UP,
) -> int:
    """The fewest periods whose level payment is at most ``payment_minor`` ("shorten the term").

    Uses the textbook periodic rate annual × months / 12 (exactly what a 30/360 schedule of whole
    periods charges). Refuses (``payment_too_small``) a payment that would need more than
    ``MAX_PERIODS`` periods, or that does not even cover one period's interest.
    """
    _check_int(balance_minor, "balance_minor")
    if balance_minor <= 0:
        raise ValidationError("The balance must be greater than zero.", code="amount_not_positive",
                              field="balance_minor")
    _check_rate(annual_rate, "annual_rate")
    _check_int(payment_minor, "payment_minor")
    if payment_minor <= 0:
        raise ValidationError("The payment must be greater than zero.", code="amount_not_positive",
                              field="payment_minor")
    months = parse_frequency(months_per_period)
    mode = Rounding.coerce(rounding)
    rate = Fraction(annual_rate) * months / 12

    def payment_over(n: int) -> int:
        if rate == 0:
            return round_fraction(Fraction(balance_minor, n), mode)
        growth = (1 + rate) ** n
        return round_fraction(balance_minor * rate * growth / (growth - 1), mode)

    if payment_over(MAX_PERIODS) > payment_minor:
        interest = round_fraction(balance_minor * rate, mode)
        why = (f"does not cover one period's interest of {interest}" if payment_minor <= interest
               else f"needs more than {MAX_PERIODS} periods")
        raise ValidationError(
            f"A payment of {payment_minor} {why} to repay {balance_minor}.",
            code="payment_too_small",
            field="payment_minor",
        )
    low, high = 1, MAX_PERIODS  # payment_over is non-increasing in n; find the first n that fits
    while low < high:
        middle = (low + high) // 2
        if payment_over(middle) <= payment_minor:
            high = middle
        else:
            low = middle + 1
    return low


def totals(schedule: Iterable[Installment]) -> dict[str, int]:
    """Sums of a schedule in minor units: principal, interest, fees, payments."""
    principal = interest = fees = payments = 0
    for line in schedule:
        principal += line.principal
        interest += line.interest
        fees += line.fee
        payments += line.payment
    return {"principal": principal, "interest": interest, "fees": fees, "payments": payments}
