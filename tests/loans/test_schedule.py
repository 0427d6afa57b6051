"""Repayment schedules are exact: the reference loan (docs/loans.md) to the fen, hand-computed day counts, and
properties over random loans (principal sums exactly, balances fall to zero, nothing negative, due
dates anchored, every line's interest is the rounded interest on the balance outstanding)."""

from __future__ import annotations

import calendar
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.daycount import DayCount, add_months, year_fraction
from creditplan.core.errors import ValidationError
from creditplan.core.money import Money, Rounding, round_fraction
from creditplan.loans.domain import schedule as schedule_module
from creditplan.loans.domain.amortisation import round_div
from creditplan.loans.domain.schedule import (
    MAX_PERIODS,
    Frequency,
    Installment,
    InterestRule,
    Method,
    ScheduleTerms,
    build_schedule,
    bullet,
    equal_installment,
    equal_principal,
    interest_only,
    level_payment,
    parse_frequency,
    periods_to_repay,
    remaining_schedule,
    totals,
)

FAST = settings(max_examples=200, deadline=None)
RATE = Decimal("0.0395")
MILLION = 100_000_000  # CNY 1,000,000.00 in fen


def reference(method: Method, **changes: object) -> ScheduleTerms:
    values: dict[str, object] = dict(
        principal_minor=MILLION, annual_rate=RATE, periods=360, method=method, start=date(2026, 1, 1)
    )
    values.update(changes)
    return ScheduleTerms(**values)  # type: ignore[arg-type]


def textbook_payment(principal: int, rate: Fraction, n: int) -> Fraction:
    """The annuity's closed form: A = P·r·(1+r)^n / ((1+r)^n − 1), exact."""
    if rate == 0:
        return Fraction(principal, n)
    growth = (1 + rate) ** n
    return principal * rate * growth / (growth - 1)


# ---------------------------------------------------------------------------------------------
# The reference loan (docs/loans.md): CNY 1,000,000.00 at 3.95 % over 360 months, value date 2026-01-01
# ---------------------------------------------------------------------------------------------


def test_equal_installment_reference_loan_pays_4745_37_a_month() -> None:
    lines = build_schedule(reference(Method.EQUAL_INSTALLMENT))
    assert len(lines) == 360
    assert lines[0].due_date == date(2026, 2, 1) and lines[-1].due_date == date(2056, 1, 1)
    assert {line.payment for line in lines[:-1]} == {474_537}
    first = lines[0]
    assert (first.interest, first.principal, first.balance_after) == (329_167, 145_370, 99_854_630)
    # The closed form: interest 708,334.05 in all. The level payment is 4,745.3723… rounded to 4,745.37; the interest
    # column is the exact schedule's (running total rounded), so the last month pays 4,746.22 and the total is
    # A_exact × 360 − P to the fen.
    assert lines[-1].payment == 474_622 and lines[-1].balance_after == 0
    assert totals(lines) == {"principal": MILLION, "interest": 70_833_405, "fees": 0, "payments": 170_833_405}


def test_per_line_interest_leaves_the_payment_rounding_in_the_last_month() -> None:
    """The other rule a product may name: each month's interest rounded on the balance actually outstanding.
    Paying 0.23 fen a month less principal than the exact annuity leaves CNY 1.70 more for the last month
    and 0.85 more interest in all."""
    lines = build_schedule(reference(Method.EQUAL_INSTALLMENT, interest_rule="per-line"))
    assert {line.payment for line in lines[:-1]} == {474_537}
    assert lines[0].interest == 329_167 and lines[-1].payment == 474_707
    assert totals(lines)["interest"] == 70_833_490
    balance = MILLION
    for line in lines:
        assert line.interest == round_fraction(balance * Fraction(RATE) / 12)
        balance = line.balance_after
    ep = build_schedule(reference(Method.EQUAL_PRINCIPAL, interest_rule=InterestRule.PER_LINE))
    assert (ep[0].payment, ep[-1].payment, totals(ep)["interest"]) == (606_944, 278_692, 59_414_621)


def test_design_total_interest_figures_are_the_closed_form_ones() -> None:
    """The reference totals (708,334.05 and 594,145.83) are the exact formulas, A_exact × n − P and P·r·(n + 1)/2;
    the default interest rule reproduces them to the fen, each line within 2 fen of balance outstanding × r
    (1.07 and 1.15 fen at most here)."""
    monthly = Fraction(RATE) / 12
    exact_payment = textbook_payment(MILLION, monthly, 360)
    assert round_fraction(exact_payment) == 474_537
    assert round_fraction(exact_payment * 360 - MILLION) == 70_833_405  # the reference loan: 708,334.05
    assert round_fraction(MILLION * monthly * 361 / 2) == 59_414_583  # the reference loan: 594,145.83
    for method, total in ((Method.EQUAL_INSTALLMENT, 70_833_405), (Method.EQUAL_PRINCIPAL, 59_414_583)):
        lines = build_schedule(reference(method))
        assert totals(lines)["interest"] == total
        balance = MILLION
        for line in lines:
            assert abs(line.interest - balance * monthly) < 2
            balance = line.balance_after


def test_equal_principal_reference_loan_first_6069_44_last_2786_92() -> None:
    lines = build_schedule(reference(Method.EQUAL_PRINCIPAL))
    assert lines[0].payment == 606_944 and lines[-1].payment == 278_692
    # 1,000,000.00 / 360 = 2,777.777…: 80 lines of 2,777.77, then the 280 odd fen one each on the last 280.
    assert [line.principal for line in lines] == [277_777] * 80 + [277_778] * 280
    assert [line.payment for line in lines] == sorted((line.payment for line in lines), reverse=True)
    assert totals(lines)["principal"] == MILLION


def test_named_functions_match_build_schedule() -> None:
    amount = Money.of("1000000")
    first_due = date(2026, 2, 1)
    assert equal_installment(amount, RATE, 360, first_due=first_due, rounding=Rounding.HALF_UP) == build_schedule(
        reference(Method.EQUAL_INSTALLMENT, first_due=first_due)
    )
    assert equal_principal(amount, RATE, 360, first_due=first_due, rounding="half_up") == build_schedule(
        reference(Method.EQUAL_PRINCIPAL)
    )
    assert interest_only(amount, RATE, 360, first_due=first_due) == build_schedule(reference(Method.INTEREST_ONLY))
    assert bullet(amount, RATE, 360, first_due=first_due) == build_schedule(reference(Method.BULLET))
    with_fee = equal_principal(amount, RATE, 12, first_due=first_due, fee_per_installment=Money.of("10"))
    assert {line.fee for line in with_fee} == {1_000}
    with pytest.raises(ValidationError) as err:
        equal_installment(Money.of("100", "USD"), RATE, 12, first_due=first_due, fee_per_installment=Money.of("1"))
    assert err.value.field == "fee_per_installment"
    with pytest.raises(ValidationError) as err:
        equal_installment(1000, RATE, 12, first_due=first_due)  # type: ignore[arg-type]
    assert err.value.field == "principal"


def test_level_payment_is_the_textbook_formula_for_whole_30_360_periods() -> None:
    assert level_payment(reference(Method.EQUAL_INSTALLMENT)) == 474_537
    assert level_payment(reference(Method.BULLET)) == 474_537  # whatever the method, the annuity figure
    quarterly = reference(Method.EQUAL_INSTALLMENT, periods=120, months_per_period=3)
    assert level_payment(quarterly) == round_fraction(textbook_payment(MILLION, Fraction(RATE) / 4, 120))


def test_installment_as_json_gives_exact_decimal_text() -> None:
    first = build_schedule(reference(Method.EQUAL_INSTALLMENT))[0]
    assert first.as_json() == {
        "seq": 1,
        "start_date": "2026-01-01",
        "due_date": "2026-02-01",
        "principal": "1453.70",
        "interest": "3291.67",
        "fee": "0.00",
        "payment": "4745.37",
        "balance_after": "998546.30",
    }
    assert first.as_json("JPY")["payment"] == "474537"  # the currency's exponent, here 0


def test_installment_refuses_inconsistent_or_negative_amounts() -> None:
    day = date(2026, 1, 1)
    with pytest.raises(ValidationError, match="not principal"):
        Installment(seq=1, start_date=day, due_date=day, principal=1, interest=1, payment=3, balance_after=0)
    with pytest.raises(ValidationError, match="negative"):
        Installment(seq=1, start_date=day, due_date=day, principal=-1, interest=1, payment=0, balance_after=0)


# ---------------------------------------------------------------------------------------------
# Day counts and broken periods, computed by hand
# ---------------------------------------------------------------------------------------------


def test_act_365f_broken_first_period_by_hand() -> None:
    # 3.65 % ACT/365F is exactly 0.01 % a day. Value date 15 Jan, first due 1 Feb: 17 days.
    lines = build_schedule(ScheduleTerms(
        principal_minor=12_000_000, annual_rate=Decimal("0.0365"), periods=3, method=Method.EQUAL_PRINCIPAL,
        start=date(2026, 1, 15), first_due=date(2026, 2, 1), day_count=DayCount.ACT_365F,
    ))
    assert [(line.start_date, line.due_date) for line in lines] == [
        (date(2026, 1, 15), date(2026, 2, 1)), (date(2026, 2, 1), date(2026, 3, 1)), (date(2026, 3, 1), date(2026, 4, 1))
    ]
    assert [line.principal for line in lines] == [4_000_000] * 3
    # 120,000.00 × 0.01 % × 17 days; 80,000.00 × 28 days (Feb 2026); 40,000.00 × 31 days.
    assert [line.interest for line in lines] == [20_400, 22_400, 12_400]


def test_act_365f_rounding_is_applied_once_per_line() -> None:
    terms = dict(principal_minor=333_333, annual_rate=Decimal("0.05"), periods=2, method=Method.INTEREST_ONLY,
                 start=date(2026, 1, 20), first_due=date(2026, 2, 10), day_count=DayCount.ACT_365F)
    # 3,333.33 × 5 % × 21/365 = 9.589031…; × 28/365 (10 Feb to 10 Mar) = 12.785375…
    half_up = build_schedule(ScheduleTerms(**terms))  # type: ignore[arg-type]
    down = build_schedule(ScheduleTerms(**terms, rounding=Rounding.DOWN))  # type: ignore[arg-type]
    assert [line.interest for line in half_up] == [959, 1_279]
    assert [line.interest for line in down] == [958, 1_278]
    assert [line.principal for line in half_up] == [0, 333_333]


def test_30_360_counts_whole_months_as_a_twelfth_even_at_month_ends() -> None:
    # The ISDA day rule alone would count 31 Jan -> 28 Feb as 28 days and 28 Feb -> 31 Mar as 33.
    lines = build_schedule(ScheduleTerms(
        principal_minor=3_000_000, annual_rate=Decimal("0.12"), periods=3, method=Method.EQUAL_PRINCIPAL,
        start=date(2026, 1, 31),
    ))
    assert [line.due_date for line in lines] == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert [line.interest for line in lines] == [30_000, 20_000, 10_000]


def test_30_360_broken_first_period_counts_its_days() -> None:
    # 15 Jan -> 1 Mar is 46 days in 30/360; the second period is a whole month.
    lines = build_schedule(ScheduleTerms(
        principal_minor=3_600_000, annual_rate=Decimal("0.12"), periods=2, method=Method.EQUAL_PRINCIPAL,
        start=date(2026, 1, 15), first_due=date(2026, 3, 1),
    ))
    assert [line.interest for line in lines] == [55_200, 18_000]


def test_bullet_pays_everything_at_maturity() -> None:
    plain = build_schedule(ScheduleTerms(
        principal_minor=MILLION, annual_rate=Decimal("0.0365"), periods=12, method=Method.BULLET,
        start=date(2026, 1, 1), day_count=DayCount.ACT_365F,
    ))
    assert len(plain) == 1
    line = plain[0]
    assert (line.start_date, line.due_date) == (date(2026, 1, 1), date(2027, 1, 1))
    assert (line.principal, line.interest, line.balance_after) == (MILLION, 3_650_000, 0)
    broken = build_schedule(ScheduleTerms(
        principal_minor=MILLION, annual_rate=Decimal("0.0365"), periods=12, method=Method.BULLET,
        start=date(2026, 1, 15), first_due=date(2026, 2, 1), day_count=DayCount.ACT_365F,
    ))[0]
    # Maturity = first due + 11 months = 1 Jan 2027; 351 days at 0.01 % a day.
    assert broken.due_date == date(2027, 1, 1) and broken.interest == 3_510_000


def test_interest_only_pays_interest_then_a_balloon() -> None:
    lines = build_schedule(reference(Method.INTEREST_ONLY, periods=12, fee_per_installment_minor=500))
    assert [line.principal for line in lines] == [0] * 11 + [MILLION]
    assert {line.interest for line in lines} == {329_167}
    assert {line.fee for line in lines} == {500}
    assert [line.balance_after for line in lines] == [MILLION] * 11 + [0]
    assert totals(lines) == {"principal": MILLION, "interest": 12 * 329_167, "fees": 6_000,
                             "payments": MILLION + 12 * 329_167 + 6_000}


def test_grace_periods_pay_interest_then_amortise_over_the_rest() -> None:
    lines = build_schedule(reference(Method.EQUAL_INSTALLMENT, periods=120, grace_periods=12))
    assert all(line.principal == 0 and line.interest == 329_167 for line in lines[:12])
    payment = round_fraction(textbook_payment(MILLION, Fraction(RATE) / 12, 108))
    assert {line.payment for line in lines[12:-1]} == {payment}
    assert level_payment(reference(Method.EQUAL_INSTALLMENT, periods=120, grace_periods=12)) == payment
    ep = build_schedule(reference(Method.EQUAL_PRINCIPAL, periods=10, grace_periods=2))
    assert [line.principal for line in ep] == [0, 0] + [12_500_000] * 8


def test_zero_rate_splits_the_principal() -> None:
    lines = build_schedule(ScheduleTerms(100, Decimal("0"), 3, Method.EQUAL_INSTALLMENT, date(2026, 1, 1)))
    assert [(line.principal, line.interest) for line in lines] == [(33, 0), (33, 0), (34, 0)]
    lines = build_schedule(ScheduleTerms(100, Decimal("0"), 3, Method.EQUAL_PRINCIPAL, date(2026, 1, 1)))
    assert [line.principal for line in lines] == [33, 33, 34]


def test_a_period_whose_interest_exceeds_the_level_payment_pays_that_interest_and_no_principal() -> None:
    """24 % over 40 years with actual days: a 31-day month costs more interest than the level payment.
    Those months pay their interest in full (never negative principal), and the level payment is chosen
    so that the last line still does not exceed it (instead of the loan ending early with empty lines)."""
    terms = ScheduleTerms(10_000_000, Decimal("0.24"), 480, Method.EQUAL_INSTALLMENT, date(2026, 1, 31),
                          day_count=DayCount.ACT_360)
    lines = build_schedule(terms)
    payment = level_payment(terms)
    clamped = [line for line in lines[:-1] if line.interest > payment]
    assert clamped and all(line.principal == 0 and line.payment == line.interest for line in clamped)
    assert all(line.payment == payment for line in lines[:-1] if line.interest <= payment)
    assert 0 < lines[-1].payment <= payment
    assert totals(lines)["principal"] == 10_000_000


# ---------------------------------------------------------------------------------------------
# Due dates: anchored, never chained
# ---------------------------------------------------------------------------------------------


def test_due_dates_stay_on_the_contract_day() -> None:
    lines = build_schedule(ScheduleTerms(1_000_000, RATE, 5, Method.EQUAL_INSTALLMENT, date(2027, 12, 31)))
    assert [line.due_date for line in lines] == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30), date(2028, 5, 31)
    ]
    explicit = build_schedule(ScheduleTerms(1_000_000, RATE, 3, Method.EQUAL_INSTALLMENT, date(2026, 1, 10),
                                            first_due=date(2026, 1, 31)))
    assert [line.due_date for line in explicit] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    quarterly = ScheduleTerms(1_000_000, RATE, 4, Method.EQUAL_PRINCIPAL, date(2025, 11, 30), months_per_period=3)
    assert quarterly.due_dates() == (date(2026, 2, 28), date(2026, 5, 30), date(2026, 8, 30), date(2026, 11, 30))
    assert quarterly.maturity == date(2026, 11, 30) and quarterly.first_due_date == date(2026, 2, 28)


def test_due_day_keeps_a_reschedule_from_a_clamped_date_on_the_31st() -> None:
    lines = remaining_schedule(500_000, RATE, 3, "equal-principal", start=date(2026, 2, 28), due_day=31,
                               first_seq=2)
    assert [line.due_date for line in lines] == [date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]
    assert [line.seq for line in lines] == [2, 3, 4]
    assert lines[0].interest == round_fraction(500_000 * Fraction(RATE) / 12)  # a whole month
    without = remaining_schedule(500_000, RATE, 3, "equal-principal", start=date(2026, 2, 28))
    assert without[-1].due_date == date(2026, 5, 28)
    with pytest.raises(ValidationError) as err:
        ScheduleTerms(1, RATE, 3, Method.BULLET, date(2026, 1, 1), first_due=date(2026, 2, 15), due_day=31)
    assert err.value.field == "first_due"


# ---------------------------------------------------------------------------------------------
# Validation: every refusal names its field
# ---------------------------------------------------------------------------------------------

VALID = dict(principal_minor=1_000_000, annual_rate=RATE, periods=12, method=Method.EQUAL_INSTALLMENT,
             start=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"principal_minor": 0}, "principal_minor", "amount_not_positive"),
        ({"principal_minor": -5}, "principal_minor", "amount_not_positive"),
        ({"principal_minor": 100.0}, "principal_minor", "float_money"),
        ({"principal_minor": True}, "principal_minor", "invalid_number"),
        ({"annual_rate": 0.0395}, "annual_rate", "float_money"),
        ({"annual_rate": "3.95%"}, "annual_rate", "invalid_rate"),
        ({"annual_rate": Decimal("-0.01")}, "annual_rate", "rate_out_of_range"),
        ({"annual_rate": Decimal("0.3601")}, "annual_rate", "rate_out_of_range"),
        ({"annual_rate": Decimal("NaN")}, "annual_rate", "invalid_rate"),
        ({"periods": 0}, "periods", "periods_out_of_range"),
        ({"periods": MAX_PERIODS + 1}, "periods", "periods_out_of_range"),
        ({"method": "annuity"}, "method", "unknown_method"),
        ({"months_per_period": 0}, "months_per_period", "months_per_period_out_of_range"),
        ({"months_per_period": 13}, "months_per_period", "months_per_period_out_of_range"),
        ({"grace_periods": 12}, "grace_periods", "grace_out_of_range"),
        ({"grace_periods": -1}, "grace_periods", "grace_out_of_range"),
        ({"fee_per_installment_minor": -1}, "fee_per_installment_minor", "negative_fee"),
        ({"day_count": "ACT/366"}, "day_count", "unknown_day_count"),
        ({"rounding": "nearest"}, "rounding", "unknown_rounding"),
        ({"start": datetime(2026, 1, 1, 9, 0)}, "start", "invalid_date"),
        ({"first_due": date(2026, 1, 1)}, "first_due", "first_due_not_after_start"),
        ({"first_due": date(2025, 12, 1)}, "first_due", "first_due_not_after_start"),
        ({"first_due": "2026-02-01"}, "first_due", "invalid_date"),
        ({"due_day": 32}, "due_day", "invalid_due_day"),
        ({"start": date(9990, 1, 1), "periods": 600}, "periods", "date_out_of_range"),
    ],
)
def test_invalid_terms_name_their_field(changes: dict[str, object], field: str, code: str) -> None:
    with pytest.raises(ValidationError) as err:
        ScheduleTerms(**{**VALID, **changes})  # type: ignore[arg-type]
    assert (err.value.field, err.value.code) == (field, code)
    assert err.value.problems[0].field == field


def test_terms_accept_stored_text_and_the_36_percent_cap() -> None:
    terms = ScheduleTerms(**{**VALID, "method": "EQUAL_PRINCIPAL", "day_count": "act/365f", "rounding": "HALF_EVEN",
                             "annual_rate": Decimal("0.36")})  # type: ignore[arg-type]
    assert (terms.method, terms.day_count, terms.rounding) == (Method.EQUAL_PRINCIPAL, DayCount.ACT_365F,
                                                               Rounding.HALF_EVEN)
    assert terms.first_due is None and terms.first_due_date == date(2026, 2, 1)


def test_method_and_frequency_coercion() -> None:
    assert Method.coerce("interest_only") is Method.INTEREST_ONLY
    with pytest.raises(ValidationError, match="equal-installment, equal-principal, interest-only, bullet") as err:
        Method.coerce("balloon")
    assert err.value.field == "method"
    assert [parse_frequency(v) for v in ("monthly", "Quarterly", Frequency.QUARTERLY, 6, " 2 ")] == [1, 3, 3, 6, 2]
    for bad in ("weekly", 0, 13, "13", True):
        with pytest.raises(ValidationError) as err:
            parse_frequency(bad)  # type: ignore[arg-type]
        assert err.value.field == "months_per_period"


# ---------------------------------------------------------------------------------------------
# Re-scheduling and "shorten the term"
# ---------------------------------------------------------------------------------------------


def test_periods_to_repay_finds_the_shortest_term_the_payment_allows() -> None:
    assert periods_to_repay(MILLION, RATE, 474_537) == 360
    assert periods_to_repay(MILLION, RATE, 474_536) == 361
    assert periods_to_repay(MILLION, RATE, 10**12) == 1
    assert periods_to_repay(1_000, Decimal(0), 100) == 10
    assert periods_to_repay(1_000, Decimal(0), 99) == 11  # round(1000/10) = 100 > 99; round(1000/11) = 91
    quarterly = periods_to_repay(MILLION, RATE, 1_500_000, months_per_period=3)
    assert round_fraction(textbook_payment(MILLION, Fraction(RATE) / 4, quarterly)) <= 1_500_000
    assert round_fraction(textbook_payment(MILLION, Fraction(RATE) / 4, quarterly - 1)) > 1_500_000
    for payment, why in ((329_167, "interest"), (330_000, "600 periods")):
        with pytest.raises(ValidationError, match=why) as err:
            periods_to_repay(MILLION, RATE, payment)
        assert (err.value.field, err.value.code) == ("payment_minor", "payment_too_small")
    with pytest.raises(ValidationError) as err:
        periods_to_repay(0, RATE, 1)
    assert err.value.field == "balance_minor"


def test_prepayment_reschedules_shorten_the_term_or_reduce_the_installment() -> None:
    lines = build_schedule(reference(Method.EQUAL_INSTALLMENT))
    paid = lines[23]  # two years in, then CNY 100,000.00 prepaid on that due date
    balance = paid.balance_after - 10_000_000
    shorter_n = periods_to_repay(balance, RATE, 474_537)
    shorter = remaining_schedule(balance, RATE, shorter_n, Method.EQUAL_INSTALLMENT, start=paid.due_date,
                                 first_seq=25)
    assert shorter[0].seq == 25 and shorter[0].due_date == lines[24].due_date
    assert shorter_n < 336 and all(line.payment <= 474_537 for line in shorter[:-1])
    assert totals(shorter)["principal"] == balance and shorter[-1].balance_after == 0
    smaller = remaining_schedule(balance, RATE, 336, Method.EQUAL_INSTALLMENT, start=paid.due_date)
    assert smaller[-1].due_date == lines[-1].due_date
    assert smaller[0].payment < 474_537 and totals(smaller)["principal"] == balance
    with pytest.raises(ValidationError) as err:
        remaining_schedule(0, RATE, 12, Method.EQUAL_INSTALLMENT, start=paid.due_date)
    assert err.value.field == "balance_minor"
    with pytest.raises(ValidationError) as err:
        remaining_schedule(100, RATE, 0, Method.EQUAL_INSTALLMENT, start=paid.due_date)
    assert err.value.field == "remaining_periods"


def test_rescheduling_an_interest_only_balance_reproduces_the_tail() -> None:
    lines = build_schedule(reference(Method.INTEREST_ONLY, periods=24, day_count=DayCount.ACT_360))
    tail = remaining_schedule(MILLION, RATE, 14, "interest-only", start=lines[9].due_date,
                              day_count="ACT/360", first_seq=11)
    assert tail == lines[10:]


def test_the_domain_imports_no_django() -> None:
    code = ("import sys, creditplan.loans.domain.schedule; "
            "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)")
    src = Path(schedule_module.__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(src)})
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# Properties over random loans
# ---------------------------------------------------------------------------------------------


@st.composite
def loan_terms(draw: st.DrawFn) -> ScheduleTerms:
    periods = draw(st.integers(1, 480))
    months = draw(st.sampled_from([1, 3]))
    # Month ends are where date arithmetic goes wrong: draw them often.
    start = draw(st.one_of(
        st.dates(date(2000, 1, 1), date(2040, 12, 31)),
        st.builds(lambda y, m, d: date(y, m, min(d, calendar.monthrange(y, m)[1])),
                  st.integers(2000, 2040), st.integers(1, 12), st.integers(28, 31)),
    ))
    broken = draw(st.one_of(st.none(), st.integers(1, 120)))
    return ScheduleTerms(
        principal_minor=draw(st.integers(1, 10**10)),
        annual_rate=Decimal(draw(st.integers(0, 2400))).scaleb(-4),
        periods=periods,
        method=draw(st.sampled_from(Method)),
        start=start,
        first_due=None if broken is None else start + timedelta(days=broken),
        months_per_period=months,
        day_count=draw(st.sampled_from(DayCount)),
        rounding=draw(st.sampled_from(Rounding)),
        grace_periods=draw(st.integers(0, min(periods - 1, 24))),
        fee_per_installment_minor=draw(st.sampled_from([0, 0, 1, 2_500])),
        interest_rule=draw(st.sampled_from(InterestRule)),
    )


def expected_share(terms: ScheduleTerms, index: int, start: date, due: date) -> Fraction:
    """The year fraction a line's interest must use, computed independently of the module."""
    months = terms.months_per_period
    if terms.day_count is DayCount.THIRTY_360:
        if index > 0 or terms.first_due is None:
            return Fraction(months, 12)
        if add_months(start, months) == due or add_months(due, -months) == start:
            return Fraction(months, 12)
    return year_fraction(start, due, terms.day_count)


def exact_running_interest(terms: ScheduleTerms, rates: list[Fraction]) -> list[Fraction]:
    """Running totals of the interest of the exact (unrounded) schedule's amortising lines, computed here with
    Fractions, independently of the module: equal principal repays P/n a line; equal installment pays the A
    with P = Σ_k A / Π_(j≤k) (1 + x_j)."""
    amortising = rates[terms.grace_periods:]
    n = len(amortising)
    principal = Fraction(terms.principal_minor)
    if terms.method is Method.EQUAL_PRINCIPAL:
        repaid = [principal / n] * n
        payment = None
    else:
        discount, annuity_factor = Fraction(1), Fraction(0)
        for x in amortising:
            discount /= 1 + x
            annuity_factor += discount
        payment = principal / annuity_factor
    balance, total, out = principal, Fraction(0), []
    for j, x in enumerate(amortising):
        interest = balance * x
        total += interest
        out.append(total)
        balance -= (payment - interest) if payment is not None else repaid[j]
    assert balance == 0
    return out


@FAST
@given(loan_terms())
def test_every_schedule_is_exact_and_well_formed(terms: ScheduleTerms) -> None:
    lines = build_schedule(terms)
    rate = Fraction(terms.annual_rate)
    months = terms.months_per_period
    # Shape.
    if terms.method is Method.BULLET:
        assert len(lines) == 1
    else:
        assert len(lines) == terms.periods
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    # Principal sums exactly; balances never rise and end at zero; nothing negative.
    assert sum(line.principal for line in lines) == terms.principal_minor
    balance = terms.principal_minor
    for line in lines:
        assert min(line.principal, line.interest, line.fee, line.balance_after) >= 0
        assert line.payment == line.principal + line.interest + line.fee
        assert line.fee == terms.fee_per_installment_minor
        assert line.balance_after == balance - line.principal <= balance
        balance = line.balance_after
    assert lines[-1].balance_after == 0
    # Dates: strictly increasing, each period starting where the last ended, anchored on the first due date.
    assert lines[0].start_date == terms.start
    anchor, offset = (terms.start, months) if terms.first_due is None else (terms.first_due, 0)
    if terms.method is Method.BULLET:
        assert lines[0].due_date == add_months(anchor, offset + (terms.periods - 1) * months)
        share = sum((expected_share(terms, k, s, d) for k, (s, d) in enumerate(
            zip((terms.start, *terms.due_dates()[:-1]), terms.due_dates(), strict=True))), Fraction(0))
        assert lines[0].interest == round_fraction(terms.principal_minor * rate * share, terms.rounding)
        return
    for k, line in enumerate(lines):
        assert line.due_date == add_months(anchor, offset + k * months)
        assert line.start_date < line.due_date
        if k:
            assert line.start_date == lines[k - 1].due_date
    # Interest. Per line: each line's the once-rounded interest on the balance outstanding (also every grace
    # line, and an interest-only loan's, under either rule). Running total, amortising lines: the column's
    # running total is the exact schedule's, rounded; or, where a period's interest would exceed the level
    # payment, the per-line schedule (the documented fallback).
    shares = [expected_share(terms, k, line.start_date, line.due_date) for k, line in enumerate(lines)]
    balance = terms.principal_minor
    per_line = []
    for share, line in zip(shares, lines, strict=True):
        per_line.append(line.interest == round_fraction(balance * rate * share, terms.rounding))
        balance = line.balance_after
    amortising = terms.method in (Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL)
    if terms.interest_rule is InterestRule.PER_LINE or not amortising:
        assert all(per_line)
    else:
        assert all(per_line[: terms.grace_periods])
        exact = exact_running_interest(terms, [rate * share for share in shares])
        paid = 0
        running = []
        for line in lines[terms.grace_periods:]:
            paid += line.interest
            running.append(paid)
        assert running == [round_fraction(c, terms.rounding) for c in exact] or lines == build_schedule(
            replace(terms, interest_rule=InterestRule.PER_LINE))
    # Method shapes.
    grace = terms.grace_periods
    assert all(line.principal == 0 for line in lines[:grace] if line is not lines[-1])
    if terms.method is Method.INTEREST_ONLY:
        assert all(line.principal == 0 for line in lines[:-1])
    elif terms.method is Method.EQUAL_PRINCIPAL:
        parts = [line.principal for line in lines[grace:]]
        assert parts == sorted(parts) and parts[-1] - parts[0] <= 1
    else:
        payment = level_payment(terms)
        before = terms.principal_minor
        for line in lines[grace:-1]:
            level = line.principal + line.interest == payment
            clamped = line.principal == 0 and line.interest >= payment
            assert level or clamped or line.principal == before, line
            before = line.balance_after


@FAST
@given(st.integers(1, 10**10), st.integers(0, 2400), st.integers(1, 480), st.sampled_from([1, 3]),
       st.sampled_from(Rounding))
def test_level_payment_is_the_rounded_textbook_annuity(principal: int, bp: int, n: int, months: int,
                                                       rounding: Rounding) -> None:
    rate = Decimal(bp).scaleb(-4)
    terms = ScheduleTerms(principal, rate, n, Method.EQUAL_INSTALLMENT, date(2026, 1, 31),
                          months_per_period=months, rounding=rounding)
    expected = round_fraction(textbook_payment(principal, Fraction(rate) * months / 12, n), rounding)
    assert level_payment(terms) == expected
    lines = build_schedule(terms)
    before = principal
    for line in lines[:-1]:
        # Level, except where a payment rounded up has already repaid everything (a few fen over many periods).
        assert line.payment == expected or line.principal == before
        before = line.balance_after


@FAST
@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12), st.sampled_from(Rounding))
def test_fast_rounding_agrees_with_round_fraction(numerator: int, denominator: int, rounding: Rounding) -> None:
    assert round_div(numerator, denominator, rounding) == round_fraction(
        Fraction(numerator, denominator), rounding
    )


@FAST
@given(st.integers(1, 10**10), st.integers(1, 2400), st.integers(1, 600))
def test_periods_to_repay_is_the_shortest_term_that_fits(balance: int, bp: int, n: int) -> None:
    rate = Decimal(bp).scaleb(-4)
    payment = round_fraction(textbook_payment(balance, Fraction(rate) / 12, n))
    if payment <= round_fraction(balance * Fraction(rate) / 12):
        return  # rounding makes the payment no more than the interest: nothing ever gets repaid
    found = periods_to_repay(balance, rate, payment)
    assert found <= n
    assert round_fraction(textbook_payment(balance, Fraction(rate) / 12, found)) <= payment
    if found > 1:
        assert round_fraction(textbook_payment(balance, Fraction(rate) / 12, found - 1)) > payment
