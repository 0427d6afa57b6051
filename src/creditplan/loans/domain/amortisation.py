"""The exact arithmetic of a schedule: the periods and their rates, the annuity, amortisation, and the two
rules that round the interest column to the fen (`InterestRule`: the running total, or line by line).

Every amount is an ``int`` of minor units and every intermediate value exact (integers and ``Fraction``);
each figure is rounded exactly once, by the rounding the product names (`round_div`). `schedule.py` builds the
lines from what these functions return. No Django import (import-linter keeps ``creditplan.*.domain`` pure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from fractions import Fraction

from creditplan.core.daycount import DayCount, add_months, year_fraction
from creditplan.core.money import Rounding, round_fraction
from creditplan.loans.domain.schedule_terms import Installment, InterestRule, Method, ScheduleTerms

__all__ = ["Row", "amortise", "annuity", "bullet_line", "first_period_is_regular", "installment_plan",
           "period_rows", "round_div", "running_total"]

Row = tuple[date, date, tuple[int, int]]


def period_rows(terms: ScheduleTerms) -> list[Row]:
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
        if regular is not None and (k > 0 or first_period_is_regular(terms, due)):
            share = regular
        else:
            share = year_fraction(start, due, terms.day_count)
        rows.append((start, due, (rate.numerator * share.numerator, rate.denominator * share.denominator)))
        start = due
    return rows


def first_period_is_regular(terms: ScheduleTerms, first_due: date) -> bool:
    step = terms.months_per_period
    return add_months(terms.start, step) == first_due or terms._on_due_day(add_months(first_due, -step)) == terms.start


def amortise(terms: ScheduleTerms, rows: Sequence[Row], payment: int) -> tuple[list[tuple[int, int]], bool]:
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
        interest = round_div(balance * rate_num, rate_den, rounding)
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


def installment_plan(terms: ScheduleTerms, rows: Sequence[Row]) -> tuple[int, list[tuple[int, int]]]:
    """The level payment and the (principal, interest) lines: the exact annuity of the amortising periods, rounded by the product's rule.

    When some period's interest is more than that payment (see :func:`amortise`), those periods pay
    more than the level amount and the loan would be repaid early, leaving empty lines at the end. The
    payment is then instead the smallest whole number of minor units whose schedule's last line does
    not exceed it, found by search on the actual schedule (the last line is a non-increasing function
    of the payment).
    """
    exact = annuity(terms.principal_minor, [rate for _, _, rate in rows[terms.grace_periods :]])
    payment = round_div(*exact, terms.rounding)
    if terms.interest_rule is InterestRule.RUNNING_TOTAL:
        carried = running_total(terms, rows, exact)
        if carried is not None:
            return payment, carried
    amounts, clamped = amortise(terms, rows, payment)
    if not clamped:
        return payment, amounts

    def fits(candidate: int) -> bool:
        principal, interest = amortise(terms, rows, candidate)[0][-1]
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
    return high, amortise(terms, rows, high)[0]


def round_div(numerator: int, denominator: int, rounding: Rounding) -> int:
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


def running_total(
    terms: ScheduleTerms, rows: Sequence[Row], annuity: tuple[int, int] | None
) -> list[tuple[int, int]] | None:
    """(principal, interest) of every line under :attr:`InterestRule.RUNNING_TOTAL`, or None when that rule
    cannot give a valid schedule (a period whose interest exceeds the level payment: the caller falls back
    to :func:`amortise`, which handles it).

    The exact schedule: grace lines pay P·x_k; then, for equal installments, B_j = B_(j-1)·(1 + x_j) − A with
    the exact annuity A = ``annuity`` (numerator, denominator), and for equal principal B_j = P·(n − j)/n. Its
    interest I_j = B_(j-1)·x_j. Line j's interest is round(C_j) − round(C_(j-1)), C_j = I_1 + … + I_j, so the
    column's running total is never more than half a fen (one fen for ``up``/``down``) from the exact one and
    the total is the closed form. Principal: the rounded level payment less that interest (equal
    installment), or P/n split as :func:`amortise` splits it (equal principal); the last line takes what
    is left. Equal-installment arithmetic is on integers scaled by D_j = den(A)·q^j (q: the common
    denominator of the period rates), as :func:`annuity`, so no Fraction reduces a 2,000-digit number.
    """
    rounding = terms.rounding
    grace = terms.grace_periods
    total = terms.principal_minor
    amounts = [(0, round_div(total * num, den, rounding)) for _, _, (num, den) in rows[:grace]]
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
    payment = round_div(a_num, a_den, rounding)
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
        rounded = round_div(scaled_interest, scale, rounding)
        interest = rounded - carried
        carried = rounded
        principal = balance if j == last else payment - interest
        if principal < 0 or principal > balance or interest < 0:
            return None
        balance -= principal
        amounts.append((principal, interest))
    return amounts


def annuity(principal: int, period_rates: Sequence[tuple[int, int]]) -> tuple[int, int]:
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


def bullet_line(terms: ScheduleTerms, rows: Sequence[Row]) -> Installment:
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
