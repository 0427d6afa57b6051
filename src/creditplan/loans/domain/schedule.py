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
  (708,334.05 for the reference loan of docs/loans.md), each line is within two fen of ``balance × rate``, and the
  level payment is still the rounded annuity. ``per-line`` rounds each line's
  ``balance before × annual rate × year fraction`` on its own, on the balance actually outstanding,
  which leaves the rounding of 360 payments in the total (708,334.90). Lines on which no principal has
  been repaid yet (grace periods, interest-only loans, a bullet) are the same under both rules (30/360
  counts a whole period as months / 12, see amortisation.period_rows);
* the principal of the lines sums exactly to the amount lent: what rounding leaves over (the
  residue) lands on the last installment(s), never spread invisibly;
* no line has negative principal or interest, balances never increase and end at zero;
* due dates are ``add_months(anchor, k × months per period)``, always counted from the anchor (the
  first due date, or the value date when no first due date is given), so a loan due on the 31st
  falls due on 28/29 Feb and again on 31 Mar (chaining would drift to the 28th).

No Django import: an import-linter contract keeps ``creditplan.*.domain`` pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from creditplan.core.daycount import DayCount
from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.core.money import Money, Rounding, round_fraction
from creditplan.loans.domain.amortisation import (
    amortise,
    bullet_line,
    first_period_is_regular,
    installment_plan,
    period_rows,
    running_total,
)
from creditplan.loans.domain.schedule_terms import (
    MAX_MONTHS_PER_PERIOD,
    MAX_PERIODS,
    RATE_CAP,
    FirstPeriod,
    Frequency,
    Installment,
    InterestRule,
    Method,
    ScheduleTerms,
    check_date,
    check_int,
    check_rate,
    parse_frequency,
    shift_months,
)

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

# --------------------------------------------------------------------------------------------
# Building schedules
# --------------------------------------------------------------------------------------------


def build_schedule(terms: ScheduleTerms) -> tuple[Installment, ...]:
    """The schedule of ``terms``: one line per period (one line only for a bullet loan).

    ``terms.first_period`` = stub-actual/360 and a broken first period: see :func:`_stub_schedule`;
    ``terms.payment_roll``: each due date on a day off moves (:func:`_rolled`), the amounts stay."""
    stub = terms.first_period is FirstPeriod.STUB_ACTUAL_360
    lines = _stub_schedule(terms) if stub else _lines(terms)
    return lines if terms.payment_roll is None else _rolled(lines, terms)


def _stub_schedule(terms: ScheduleTerms) -> tuple[Installment, ...]:
    """Regular months at annual/12 and the broken first period at actual days × annual/360 (the usual Chinese
    bank treatment, issue 18). The lines are those of the same loan started one period before the first due
    date (R = first due − one period, a regular schedule, its level payment solved over regular periods);
    then the first line, which starts at the value date, is charged:

    * value date before R (a long first period): the regular first line's interest plus the stub
      P × annual × (R − value date) actual days / 360;
    * value date after R (a short first period): P × annual × (first due − value date) actual days / 360
      instead of the regular first line's interest (its principal stays the regular one).

    Each figure is rounded once, by the product's rounding. A regular first period is not touched."""
    first_due = terms.first_due_date
    regular_start = terms._on_due_day(shift_months(first_due, -terms.months_per_period, "first_due"))
    if regular_start == terms.start or first_period_is_regular(terms, first_due):
        return _lines(terms)
    lines = _lines(replace(terms, start=regular_start, first_period=FirstPeriod.RESOLVE, payment_roll=None))
    first = lines[0]
    rate = Fraction(terms.annual_rate) / 360
    if terms.start < regular_start:
        stub = round_fraction(terms.principal_minor * rate * (regular_start - terms.start).days, terms.rounding)
        interest = first.interest + stub
    else:
        interest = round_fraction(terms.principal_minor * rate * (first_due - terms.start).days, terms.rounding)
    line = replace(first, start_date=terms.start, interest=interest,
                   payment=first.principal + interest + first.fee)
    return (line, *lines[1:])


def _rolled(lines: tuple[Installment, ...], terms: ScheduleTerms) -> tuple[Installment, ...]:
    """Payment date roll: each due date moves by ``terms.payment_roll`` (a day off → the next business day, or
    the previous one under modified following at a month end); amounts stay as scheduled on the contract
    dates; each period accrues from the (rolled) due date before it, the first from the value date."""
    roll = terms.payment_roll
    assert roll is not None
    out = []
    start = terms.start
    for line in lines:
        due = roll(line.due_date)
        if due <= start:  # never a period of no days (a modified-following roll back onto the value date)
            due = line.due_date
        out.append(line if (due, start) == (line.due_date, line.start_date)
                   else replace(line, due_date=due, start_date=start))
        start = due
    return tuple(out)


def _lines(terms: ScheduleTerms) -> tuple[Installment, ...]:
    rows = period_rows(terms)
    if terms.method is Method.BULLET:
        return (bullet_line(terms, rows),)
    if terms.method is Method.EQUAL_INSTALLMENT:
        amounts = installment_plan(terms, rows)[1]
    else:
        carried = None
        if terms.method is Method.EQUAL_PRINCIPAL and terms.interest_rule is InterestRule.RUNNING_TOTAL:
            carried = running_total(terms, rows, None)
        amounts = amortise(terms, rows, 0)[0] if carried is None else carried
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
    return installment_plan(terms, period_rows(terms))[0]


# --------------------------------------------------------------------------------------------
# The named methods: Money in, exact lines out
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
    check_date(first_due, "first_due")
    check_int(months_per_period, "months_per_period")
    if start is None:
        start = shift_months(first_due, -months_per_period, "first_due")
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
    payment_roll: Callable[[date], date] | None = None,
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
            payment_roll=payment_roll,
        )
    except CreditplanError as exc:
        if exc.field in _RESCHEDULE_FIELDS:
            raise exc.for_field(_RESCHEDULE_FIELDS[exc.field])
        raise
    check_int(first_seq, "first_seq")
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
    check_int(balance_minor, "balance_minor")
    if balance_minor <= 0:
        raise ValidationError("The balance must be greater than zero.", code="amount_not_positive",
                              field="balance_minor")
    check_rate(annual_rate, "annual_rate")
    check_int(payment_minor, "payment_minor")
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
