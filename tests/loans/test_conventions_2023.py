"""Interest and penalty conventions (issue 18 §4 and the due-date roll of §5): the first broken period at actual
days / 360 on top of the regular installment, grace as a waiver, 罚息 and 复利 with their own switches and
rates, the all-in cost ceiling, and the holiday calendar with the payment date roll.

Every figure is worked by hand in the comments (to the fen), not taken from the code under test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from tests.loans.conftest import CONSUMER

from creditplan.core.calendar import BusinessCalendar, Roll
from creditplan.core.errors import ValidationError
from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.loans.domain import kernel as K
from creditplan.loans.domain.schedule import FirstPeriod, ScheduleTerms, build_schedule
from creditplan.loans.domain.terms import sheet_for_product
from creditplan.loans.models import Installment, Loan, LoanActivity
from creditplan.loans.statement import statement, statement_pdf
from creditplan.origination import sla

# --- 1. the first broken period ----------------------------------------------------------------------------

P = 12_000_000  # 120,000.00 at 3.6 % from 15 Jan 2025, first due 1 Mar 2025, 12 monthly installments


def _schedule(method: str, first_period: str, start: dt.date = dt.date(2025, 1, 15)) -> Any:
    return build_schedule(ScheduleTerms(principal_minor=P, annual_rate=Decimal("0.036"), periods=12,
                                        method=method, start=start, first_due=dt.date(2025, 3, 1),
                                        first_period=first_period))


def test_resolve_counts_the_broken_period_in_30_360_days_and_resolves_the_level_payment() -> None:
    """Today's treatment (the default, "resolve"): 15 Jan → 1 Mar is 46 days in 30/360 ((3 − 1) × 30 + 1 − 15),
    so the first line's interest is 120,000 × 3.6 % × 46 / 360 = 552.00, and the level payment solved across
    that long first period is 10,212.34 (the issue's figure)."""
    lines = _schedule("equal-installment", "resolve")
    assert (lines[0].interest, lines[0].payment, lines[1].payment) == (55_200, 1_021_234, 1_021_234)
    # equal principal: 10,000.00 of principal a month; the first line 552.00 of interest, the second
    # 110,000 × 0.3 % = 330.00
    lines = _schedule("equal-principal", "resolve")
    assert [(ln.principal, ln.interest) for ln in lines[:2]] == [(1_000_000, 55_200), (1_000_000, 33_000)]


def test_the_stub_is_actual_days_over_360_on_top_of_the_regular_installment() -> None:
    """stub_actual_360: the regular schedule of a loan started on 1 Feb (one month before the first due date),
    every month at 3.6 % / 12 = 0.3 %:
      level payment A = 120,000 × 0.003 / (1 − 1.003^−12); 1.003^12 = 1.0365999803
      A = 360 × 1.0365999803 / 0.0365999803 = 10,196.0709 → 10,196.07;
      first line: interest 120,000 × 0.3 % = 360.00, principal 10,196.07 − 360.00 = 9,836.07.
    The stub 15 Jan → 1 Feb is 17 actual days: 120,000 × 3.6 % × 17 / 360 = 204.00, on top of the first line:
      interest 360.00 + 204.00 = 564.00, payment 10,196.07 + 204.00 = 10,400.07.
    The second line is the regular one: balance 110,163.93 × 0.3 % = 330.4918 → 330.49, payment 10,196.07."""
    lines = _schedule("equal-installment", "stub_actual_360")
    first, second = lines[0], lines[1]
    assert (first.start_date, first.due_date) == (dt.date(2025, 1, 15), dt.date(2025, 3, 1))
    assert (first.principal, first.interest, first.payment) == (983_607, 56_400, 1_040_007)
    assert (second.principal, second.interest, second.payment) == (986_558, 33_049, 1_019_607)
    assert sum(ln.principal for ln in lines) == P and lines[-1].balance_after == 0


def test_the_stub_for_equal_principal() -> None:
    """Equal principal, stub_actual_360: 10,000.00 of principal a month; first line 360.00 (a regular month on
    120,000) + 204.00 of stub = 564.00, payment 10,564.00; second line 110,000 × 0.3 % = 330.00."""
    lines = _schedule("equal-principal", "stub_actual_360")
    assert [(ln.principal, ln.interest, ln.payment) for ln in lines[:2]] == [
        (1_000_000, 56_400, 1_056_400), (1_000_000, 33_000, 1_033_000)]


def test_a_short_first_period_is_charged_its_actual_days_only() -> None:
    """Value date 15 Feb, first due 1 Mar: 14 actual days, 120,000 × 3.6 % × 14 / 360 = 168.00 instead of a
    whole month's 360.00; the principal stays the regular 9,836.07 (payment 10,004.07)."""
    first = _schedule("equal-installment", "stub_actual_360", start=dt.date(2025, 2, 15))[0]
    assert (first.principal, first.interest, first.payment) == (983_607, 16_800, 1_000_407)


def test_a_regular_first_period_is_the_same_under_both_treatments() -> None:
    a = _schedule("equal-installment", "resolve", start=dt.date(2025, 2, 1))
    b = _schedule("equal-installment", "stub_actual_360", start=dt.date(2025, 2, 1))
    assert a == b and a[0].interest == 36_000  # 120,000 × 0.3 %


def test_the_first_period_setting_travels_from_the_product_to_the_loan(loan_world: dict[str, Any],
                                                                     make_loan: Any) -> None:
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "stub", "rate": "0.036",
                                                "first_period": "stub_actual_360"})
    loan = make_loan(amount="120000.00", term=12, start=dt.date(2025, 1, 15), product="stub",
                     first_due_date="2025-03-01")
    assert loan.first_period == "stub_actual_360"
    rows = list(Installment.objects.filter(loan=loan).order_by("seq").values_list("interest_minor", flat=True))
    assert rows[:2] == [56_400, 33_049]  # as worked above
    plain = make_loan(amount="120000.00", term=12, start=dt.date(2025, 1, 15), first_due_date="2025-03-01")
    assert plain.first_period == "resolve"
    with pytest.raises(ValidationError) as err:
        loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "bad", "first_period": "30-days"})
    assert err.value.code == "unknown_first_period"
    assert FirstPeriod.coerce("stub-actual-360") is FirstPeriod.STUB_ACTUAL_360


# --- 2 and 3. grace as a waiver; 罚息 and 复利 apart (the kernel) -------------------------------------------

DUE = dt.date(2025, 3, 15).toordinal()


def _arrears(*, waiver: int, principal_pct: int = 150, interest_pct: int = 150) -> tuple[dict[str, Any], Any]:
    """One loan at 7.2 % (72,000 ppm) with 10,000.00 of principal and 200.00 of interest overdue since DUE,
    3 grace days, markup 50 %, basis 360. 罚息 at 7.2 % × 1.5 = 10.8 %: 1,000,000 × 10.8 % / 360 = 300 fen a
    day; 复利 at 10.8 % on 20,000: 6 fen a day — 306 fen a day in all, no remainder."""
    s = K.empty_state(1)
    s.update(overdue_principal_minor=np.array([1_000_000]), overdue_interest_minor=np.array([20_000]),
             principal_outstanding_minor=np.array([1_000_000]), oldest_due_date=np.array([DUE]),
             rate_ppm=np.array([72_000]), current_seq=np.array([0]))
    params = {c: np.zeros(1, dtype=np.int64) for c in K.PARAM_COLUMNS}
    params.update(grace_days=np.array([3]), penalty_markup_pct=np.array([50]), basis=np.array([360]),
                  freeze_dpd=np.array([10**6]), non_accrual_dpd=np.array([90]), late_fee_days=np.array([10**6]),
                  penalty_principal_pct=np.array([principal_pct]), penalty_interest_pct=np.array([interest_pct]),
                  grace_waiver=np.array([waiver]))
    return s, params


def _run(s: dict[str, Any], params: dict[str, Any], days: range) -> list[int]:
    charged = []
    for d in days:
        res = K.close_day(s, params, DUE + d, customer=np.array([1]))
        s = res.state
        charged.append(int(res.penalty[0]))
    _run.state = s  # type: ignore[attr-defined]
    return charged


def test_free_grace_days_are_never_charged() -> None:
    """Today's grace ("free"): days 1–3 past due are free, day 4 charges one day: 3.06."""
    s, params = _arrears(waiver=0)
    assert _run(s, params, range(1, 6)) == [0, 0, 0, 306, 306]


def test_a_waived_grace_is_charged_from_the_due_date_when_paid_after_it() -> None:
    """Grace as a waiver: paid after the grace, penalty runs from day one — on day 4 the three held days and
    the day itself are charged, 4 × 3.06 = 12.24; then 3.06 a day."""
    s, params = _arrears(waiver=1)
    assert _run(s, params, range(1, 6)) == [0, 0, 0, 1_224, 306]
    state = _run.state  # type: ignore[attr-defined]
    assert int(state["penalty_minor"][0]) == 1_224 + 306 and int(state["grace_penalty_minor"][0]) == 0
    # 复利 (on the 200.00 of interest): 6 fen a day over 5 days = 0.30, the rest (15.00) is 罚息
    assert int(state["compound_minor"][0]) == 30


def test_a_waived_grace_is_dropped_when_the_arrears_are_cleared_within_it() -> None:
    """Paid on day 2 (the arrears and the oldest due date cleared, as a payment does): the 6.12 held for days
    1–2 is dropped and nothing is ever charged."""
    s, params = _arrears(waiver=1)
    assert _run(s, params, range(1, 3)) == [0, 0]
    s = _run.state  # type: ignore[attr-defined]
    assert int(s["grace_penalty_minor"][0]) == 612
    for c in ("overdue_principal_minor", "overdue_interest_minor", "oldest_due_date"):
        s[c] = np.zeros(1, dtype=np.int64)
    assert _run(s, params, range(3, 7)) == [0, 0, 0, 0]
    assert int(_run.state["grace_penalty_minor"][0]) == 0  # type: ignore[attr-defined]


def test_penalty_on_principal_and_compound_interest_have_their_own_switches_and_rates() -> None:
    """罚息 only (复利 off): 3.00 a day. 复利 at rate × 2 = 14.4 %: 20,000 × 14.4 % / 360 = 8 fen a day, with
    罚息 3.00: 3.08 a day. 罚息 off, 复利 at 10.8 %: 0.06 a day."""
    s, params = _arrears(waiver=0, interest_pct=0)
    assert _run(s, params, range(4, 6)) == [300, 300]
    s, params = _arrears(waiver=0, interest_pct=200)
    assert _run(s, params, range(4, 6)) == [308, 308]
    assert int(_run.state["compound_minor"][0]) == 16  # type: ignore[attr-defined]
    s, params = _arrears(waiver=0, principal_pct=0)
    assert _run(s, params, range(4, 6)) == [6, 6]


def test_default_products_sign_the_same_sheet_and_new_settings_add_clauses(loan_world: dict[str, Any]) -> None:
    p = loan_world["product"]
    sheet = sheet_for_product(p)
    assert [k for k, _ in sheet.clauses] == ["auto_debit", "penalty_interest", "late_fee", "limit_freeze",
                                             "maturity"]
    assert (sheet.penalty_principal_pct, sheet.penalty_interest_pct, sheet.grace_waiver) == (150, 150, False)
    q = loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "waiver", "grace_mode": "waiver",
                                                    "compound_markup_pct": 30, "penalty_on_principal": True})
    sheet = sheet_for_product(q)
    assert sheet.clause("penalty_split") == {"principal_pct": 150, "interest_pct": 130}
    assert sheet.grace_waiver and sheet.penalty_after_days == 3
    r = loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "nocomp", "compound_on_interest": False})
    assert sheet_for_product(r).clause("penalty_split") == {"principal_pct": 150, "interest_pct": 0}


def test_a_waived_grace_charges_from_the_due_date_through_the_close(loan_world: dict[str, Any],
                                                                    make_loan: Any) -> None:
    """The consumer product (4.35 %, markup 50 %, grace 3) as a waiver, auto-debit off: 12,000.00 over 12 months
    from 15 Jan 2025 falls due on 15 Feb with 1,023.72 unpaid: the level payment of 12,000 at 4.35 % / 12 =
    0.3625 % a month, 1.003625^12 = 1.0443778, A = 43.50 × 1.0443778 / 0.0443778 = 1,023.72 (interest 43.50,
    principal 980.22). 罚息 rate 4.35 % × 1.5 = 6.525 % on the whole 102,372 fen (复利 at the same rate):
    102,372 × 6.525 % / 360 = 18.5549 fen a day. Days 1–3 are held: floor(3 × 18.5549) = 55; on day 4 (19 Feb)
    all four days are charged: floor(4 × 18.5549) = 74 → 0.74 (the sub-fen rest carried); a free-grace loan
    has only day 4: 18 → 0.18."""
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "waive", "grace_mode": "waiver",
                                                "auto_debit": False})
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "free", "auto_debit": False})
    waived, free = make_loan(product="waive"), make_loan(product="free")
    for loan in (waived, free):
        cob.advance_loan(loan, dt.date(2025, 2, 18))
        loan.refresh_from_db()
        assert loan.overdue_principal_minor + loan.overdue_interest_minor == 102_372 and loan.penalty_minor == 0
    assert waived.grace_penalty_minor == 55  # 3 × 18.5549 = 55.66 fen held
    for loan in (waived, free):
        cob.advance_loan(loan, dt.date(2025, 2, 19))
        loan.refresh_from_db()
    assert (waived.penalty_minor, free.penalty_minor) == (74, 18)
    # 罚息 and 复利 apart: 复利 on the 43.50 of interest, 4,350 × 6.525 % / 360 = 0.7884 fen a day, 4 days:
    # floor(3.15) = 3; the rest of the 74, 71, is 罚息 on the 980.22 of principal
    assert (waived.penalty_charged_minor, waived.compound_minor) == (74, 3)
    started = LoanActivity.objects.get(loan=waived, kind="penalty_started")
    assert started.amount_minor == 74 and started.detail["compound_minor"] == 3
    st = statement(loan_world["admin"], waived.ref)
    assert (st.penalty_charged_minor, st.compound_minor) == (74, 3)
    assert statement_pdf(st)[:4] == b"%PDF"


# --- 4. the all-in cost ceiling ----------------------------------------------------------------------------

def test_a_product_above_the_all_in_ceiling_is_refused_naming_the_figure(loan_world: dict[str, Any]) -> None:
    """20 % a year with a 5 % upfront fee over one month: the borrower receives 0.95 P and repays
    P × (1 + 20 % / 12) = 1.016667 P a month later: IRR 1.016667 / 0.95 − 1 = 7.0175 % a month, × 12 = 84.21 %."""
    with pytest.raises(ValidationError) as err:
        loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "dear", "rate": "0.20", "min_term": 1,
                                                    "upfront_fee_bp": 500, "penalty_markup_pct": 10})
    assert err.value.code == "all_in_cost_above_ceiling" and "84.21 %" in str(err.value)
    assert "24.00 %" in str(err.value)
    # 罚息 at 18 % × 1.5 = 27 % is above 24 % too
    with pytest.raises(ValidationError) as err:
        loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "dear2", "rate": "0.18"})
    assert err.value.code == "all_in_cost_above_ceiling" and "27.00 %" in str(err.value)
    # the same product with 罚息 at 30 % markup (23.4 %) passes
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "ok", "rate": "0.18", "penalty_markup_pct": 30})


def test_the_ceiling_is_a_setting(loan_world: dict[str, Any], settings: Any) -> None:
    settings.CREDITPLAN_ALL_IN_COST_CEILING = "0.36"
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "dear2", "rate": "0.18"})  # 27 % ≤ 36 %


def test_a_loan_disbursed_at_an_agreed_rate_is_checked(loan_world: dict[str, Any], make_loan: Any) -> None:
    """A product at 10 % with a 1 % upfront fee passes; a loan of it at the agreed rate of 23 % over 12 months
    costs about 23 % + 1 % × 12 / 6.5 (the fee spread over the mean life of an annuity) ≈ 24.9 % > 24 %."""
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "fee", "rate": "0.10", "upfront_fee_bp": 100,
                                                "min_term": 12, "penalty_markup_pct": 0})
    with pytest.raises(ValidationError) as err:
        make_loan(product="fee", rate="0.23")
    assert err.value.code == "all_in_cost_above_ceiling"
    cost = Decimal(str(err.value).split("cost of ")[1].split(" %")[0])
    assert Decimal("24.5") < cost < Decimal("25.5")
    assert not Loan.objects.filter(product__code="fee").exists()
    make_loan(product="fee", rate="0.20")  # about 21.9 %: paid out


# --- 5. the holiday calendar and the payment date roll ------------------------------------------------------

# 2025 National Day and Mid-Autumn: 1–8 October off, Sunday 28 September and Saturday 11 October worked (调休);
# Dragon Boat: 31 May – 2 June off.
HOLIDAYS = [f"2025-10-0{d}" for d in range(1, 9)] + ["2025-05-31", "2025-06-01", "2025-06-02"]
WORKDAYS = ["2025-09-28", "2025-10-11"]
CAL = BusinessCalendar.of(HOLIDAYS, WORKDAYS)


def test_the_calendar_knows_holidays_and_make_up_working_days() -> None:
    assert not CAL.is_business_day(dt.date(2025, 10, 3))  # a Friday of the National Day holiday
    assert CAL.is_business_day(dt.date(2025, 9, 28))  # a Sunday worked
    assert not CAL.is_business_day(dt.date(2025, 10, 12))  # an ordinary Sunday
    assert CAL.roll(dt.date(2025, 10, 1), "following") == dt.date(2025, 10, 9)  # Thursday after the holiday
    assert CAL.roll(dt.date(2025, 10, 1), Roll.MODIFIED_FOLLOWING) == dt.date(2025, 10, 9)  # same month
    # Saturday 31 May: following is Tuesday 3 June (2 June is Dragon Boat); modified following stays in May,
    # Friday 30 May
    assert CAL.roll(dt.date(2025, 5, 31), "following") == dt.date(2025, 6, 3)
    assert CAL.roll(dt.date(2025, 5, 31), "modified_following") == dt.date(2025, 5, 30)
    assert CAL.roll(dt.date(2025, 5, 31), "none") == dt.date(2025, 5, 31)
    # the service levels use the same rule
    assert sla.Calendar(holidays=CAL.holidays, workdays=CAL.workdays).is_working_day(dt.date(2025, 10, 11))


def test_a_due_date_on_a_holiday_is_payable_on_the_next_business_day_without_penalty(
        loan_world: dict[str, Any], make_loan: Any, settings: Any) -> None:
    """A loan paid out on 1 September 2025, monthly, due on the 1st: 1 October is a holiday, so the first
    installment is payable on Thursday 9 October. The amounts stay those of the contract dates (payment date
    roll): 12,000 at 4.35 % / 12: interest 43.50, the same as an unrolled loan; the next period accrues from
    9 October to 3 November (1 November is a Saturday). Closed through 9 October the loan is not overdue; on 10
    October, unpaid, it is 1 day past due (counted from the payment date, not from 1 October)."""
    settings.CREDITPLAN_HOLIDAYS, settings.CREDITPLAN_WORKDAYS = HOLIDAYS, WORKDAYS
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "roll", "due_date_roll": "following",
                                                "auto_debit": False})
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "noroll", "auto_debit": False})
    start = dt.date(2025, 9, 1)
    rolled, plain = make_loan(product="roll", start=start), make_loan(product="noroll", start=start)
    rows = list(Installment.objects.filter(loan=rolled).order_by("seq"))
    plain_rows = list(Installment.objects.filter(loan=plain).order_by("seq"))
    assert [r.due_date for r in rows[:2]] == [dt.date(2025, 10, 9), dt.date(2025, 11, 3)]
    assert rows[1].start_date == dt.date(2025, 10, 9)
    assert [(r.principal_minor, r.interest_minor) for r in rows] == [
        (r.principal_minor, r.interest_minor) for r in plain_rows]
    assert rows[0].interest_minor == 4_350 and rolled.due_date_roll == "following"
    cob.advance_loan(rolled, dt.date(2025, 10, 9))
    rolled.refresh_from_db()
    assert rolled.dpd == 0 and rolled.penalty_minor == 0
    cob.advance_loan(rolled, dt.date(2025, 10, 10))
    rolled.refresh_from_db()
    assert rolled.dpd == 1 and rolled.oldest_due_date == dt.date(2025, 10, 9)
    cob.advance_loan(plain, dt.date(2025, 10, 9))
    plain.refresh_from_db()
    assert plain.dpd == 8  # the unrolled loan was due on the holiday itself
