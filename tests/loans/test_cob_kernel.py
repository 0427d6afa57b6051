"""The daily close kernel on hand-computed cases: pure numpy, no database.

Each case states its arithmetic in the comment next to it, so a reader can check the expected figure with
pencil and paper (or a calculator) rather than trust the code under test.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.daycount import DayCount, year_fraction
from creditplan.loans.domain import kernel as K

D = dt.date


def o(day: dt.date) -> int:
    return day.toordinal()


def params(n: int = 1, *, grace: int = 3, late_days: int = 3, late_fee: int = 5_000, markup: int = 50,
           basis: int = 360, auto_debit: int = 1, freeze: int = 30) -> dict[str, np.ndarray]:
    values = {"grace_days": grace, "late_fee_days": late_days, "late_fee_minor": late_fee,
              "penalty_markup_pct": markup, "basis": basis, "auto_debit": auto_debit, "freeze_dpd": freeze}
    return {k: np.full(n, v, dtype=np.int64) for k, v in values.items()}


def loan(*, start: dt.date, due: dt.date, interest: int, principal: int = 100_000, outstanding: int = 1_200_000,
         seq: int = 1, closed_through: dt.date | None = None, **cols: int) -> dict[str, np.ndarray]:
    """One loan in its current period (start, due] with `interest` scheduled; closed through the day before."""
    s = K.empty_state(1)
    s["current_seq"][0] = seq
    s["period_start_date"][0] = o(start)
    s["next_due_date"][0] = o(due)
    s["period_interest_minor"][0] = interest
    s["period_principal_minor"][0] = principal
    s["principal_outstanding_minor"][0] = outstanding
    s["rate_ppm"][0] = 43_500
    s["closed_through"][0] = o(closed_through or start)
    for k, v in cols.items():
        s[k][0] = v
    return s


def run_days(state: dict[str, np.ndarray], first: dt.date, last: dt.date, prm: dict[str, np.ndarray] | None = None,
             customer: np.ndarray | None = None, nxt: K.NextInstallments | None = None) -> list[K.DayResult]:
    prm = prm or params(len(state["current_seq"]))
    customer = customer if customer is not None else np.arange(len(state["current_seq"]))
    out = []
    day = first
    while day <= last:
        res = K.close_day(state, prm, o(day), customer=customer,
                          next_installment=(lambda rows: nxt) if nxt is not None else None)
        out.append(res)
        state = res.state
        day += dt.timedelta(days=1)
    return out


# --- accrual: the sum of daily accruals is the period interest, exactly ---------------------------------

def period_interest(principal_minor: int, rate: str, start: dt.date, end: dt.date, conv: DayCount) -> Fraction:
    return principal_minor * Fraction(rate) * year_fraction(start, end, conv)


@pytest.mark.parametrize("conv, rate, start, end, expected_total, expected_daily", [
    # ACT/365F, 3.65 %, 1,000,000.00 over 31 days of January: 100,000,000 × 0.0365 × 31/365 = 310,000 fen
    (DayCount.ACT_365F, "0.0365", D(2025, 1, 1), D(2025, 2, 1), 310_000, 10_000),
    # ACT/360, 3.6 %, February 2025 (28 days): 100,000,000 × 0.036 × 28/360 = 280,000 fen
    (DayCount.ACT_360, "0.036", D(2025, 2, 1), D(2025, 3, 1), 280_000, 10_000),
    # ACT/365F over February 2024, a leap year (29 days): 100,000,000 × 0.0365 × 29/365 = 290,000 fen
    (DayCount.ACT_365F, "0.0365", D(2024, 2, 1), D(2024, 3, 1), 290_000, 10_000),
    # 30/360, 3.6 %, 31 Jan → 28 Feb 2025: bond basis counts 30 × 1 + (28 − 30) = 28 days, as many as
    # the calendar: 100,000,000 × 0.036 × 28/360 = 280,000 fen, 10,000 a calendar day
    (DayCount.THIRTY_360, "0.036", D(2025, 1, 31), D(2025, 2, 28), 280_000, 10_000),
])
def test_daily_accruals_sum_to_the_period_interest(conv: DayCount, rate: str, start: dt.date, end: dt.date,
                                                   expected_total: int, expected_daily: int) -> None:
    interest = period_interest(100_000_000, rate, start, end, conv)
    assert interest == expected_total  # the hand figure and the day-count library agree
    days = run_days(loan(start=start, due=end, interest=expected_total), start + dt.timedelta(days=1), end)
    accruals = [int(r.accrual[0]) for r in days]
    assert accruals == [expected_daily] * (end - start).days
    assert sum(accruals) == expected_total
    last = days[-1]
    assert last.rolled[0] and last.due_interest[0] == expected_total and last.state["accrued_interest_minor"][0] == 0


def test_an_uneven_period_accrues_floor_shares_and_ends_exact() -> None:
    # 30/360 monthly interest of 12,000.00 at 4.35 %: 1,200,000 × 0.0435 / 12 = 4,350 fen over 31 actual days
    # (15 Jan → 15 Feb 2025). Day k accrues ⌊4,350·k/31⌋ − ⌊4,350·(k−1)/31⌋: 140 (⌊140.3⌋), 140 (⌊280.6⌋ = 280),
    # 140 (⌊13,050/31⌋ = 420), then 141 (⌊17,400/31⌋ = 561), ... and the 31st day closes it to 4,350.
    days = run_days(loan(start=D(2025, 1, 15), due=D(2025, 2, 15), interest=4_350), D(2025, 1, 16), D(2025, 2, 15))
    accruals = [int(r.accrual[0]) for r in days]
    assert accruals[:3] == [140, 140, 140] and accruals[3] == 141  # ⌊17,400/31⌋ = 561 → 561 − 420
    assert sum(accruals) == 4_350 and set(accruals) == {140, 141}
    assert [int(r.state["accrued_interest_minor"][0]) for r in days[:2]] == [140, 280]
    assert int(days[-1].state["interest_income_minor"][0]) == 4_350


def test_a_february_period_of_a_leap_year_on_30_360() -> None:
    # 30/360, 31 Jan → 29 Feb 2024: 30 + (29 − 30) = 29 days; 12,000.00 at 3.6 %: 1,200,000 × 0.036 × 29/360
    # = 3,480 fen, over 29 calendar days = 120 a day.
    interest = period_interest(1_200_000, "0.036", D(2024, 1, 31), D(2024, 2, 29), DayCount.THIRTY_360)
    assert interest == 3_480
    days = run_days(loan(start=D(2024, 1, 31), due=D(2024, 2, 29), interest=3_480), D(2024, 2, 1), D(2024, 2, 29))
    assert [int(r.accrual[0]) for r in days] == [120] * 29


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**11), st.integers(1, 400)), min_size=1, max_size=40))
def test_any_period_accrues_to_exactly_its_interest(periods: list[tuple[int, int]]) -> None:
    # many loans at once (the kernel is vectorised): each period's daily accruals sum to its interest, never
    # negative, and differ by at most one fen from day to day
    start = D(2025, 3, 10)
    n = len(periods)
    s = K.empty_state(n)
    s["current_seq"][:] = 1
    s["period_start_date"][:] = o(start)
    s["next_due_date"][:] = [o(start) + length for _, length in periods]
    s["period_interest_minor"][:] = [interest for interest, _ in periods]
    s["closed_through"][:] = o(start)
    longest = max(length for _, length in periods)
    days = run_days(s, start + dt.timedelta(days=1), start + dt.timedelta(days=longest))
    accruals = np.array([r.accrual for r in days])  # days × loans
    for i, (interest, length) in enumerate(periods):
        mine = accruals[:length, i]
        assert int(mine.sum()) == interest
        assert mine.min() >= 0 and mine.max() - mine.min() <= 1
        assert not accruals[length:, i].any()  # matured: nothing after the due date


# --- due date roll ----------------------------------------------------------------------------------------

def test_on_the_due_date_the_installment_falls_due_and_the_loan_rolls() -> None:
    s = loan(start=D(2025, 1, 15), due=D(2025, 2, 15), interest=4_350, principal=398_553, period_fee_minor=500,
             accrued_interest_minor=4_209, closed_through=D(2025, 2, 14))  # 4,350 × 30 // 31 = 4,209
    nxt = K.NextInstallments(*(np.array([v], dtype=np.int64) for v in (
        2, o(D(2025, 2, 15)), o(D(2025, 3, 15)), 2_905, 399_998, 500)))
    r = K.close_day(s, params(), o(D(2025, 2, 15)), customer=np.array([1]), next_installment=lambda rows: nxt)
    st_ = r.state
    assert int(r.accrual[0]) == 141 and r.rolled[0] and int(r.due_seq[0]) == 1
    assert (int(st_["overdue_principal_minor"][0]), int(st_["overdue_interest_minor"][0])) == (398_553, 4_350)
    assert int(st_["accrued_interest_minor"][0]) == 0 and int(st_["fees_minor"][0]) == 500
    assert int(st_["fee_income_minor"][0]) == 500 and int(r.due_fee[0]) == 500
    assert int(st_["oldest_due_date"][0]) == o(D(2025, 2, 15))
    assert int(st_["fee_check_date"][0]) == o(D(2025, 2, 19))  # due + 3 days of grace + 1
    assert int(st_["dpd"][0]) == 0 and int(st_["risk_class"][0]) == 1  # due today is not yet past due
    # rolled to installment 2
    assert (int(st_["current_seq"][0]), int(st_["next_due_date"][0])) == (2, o(D(2025, 3, 15)))
    assert (int(st_["period_interest_minor"][0]), int(st_["period_principal_minor"][0])) == (2_905, 399_998)
    assert int(st_["period_start_date"][0]) == o(D(2025, 2, 15)) and not r.matured[0]
    assert r.totals["installments_due"] == 1 and r.totals["reclass_minor"] == 4_350


def test_the_last_installment_matures_the_loan() -> None:
    s = loan(start=D(2025, 3, 15), due=D(2025, 4, 15), interest=1_455, seq=3, accrued_interest_minor=1_408,
             closed_through=D(2025, 4, 14))
    r = K.close_day(s, params(), o(D(2025, 4, 15)), customer=np.array([1]))
    assert r.matured[0] and int(r.state["current_seq"][0]) == 0 and int(r.state["next_due_date"][0]) == 0
    assert int(r.state["period_interest_minor"][0]) == 0 and int(r.state["period_start_date"][0]) == o(D(2025, 3, 15))
    # a matured loan accrues nothing more
    r2 = K.close_day(r.state, params(), o(D(2025, 4, 16)), customer=np.array([1]))
    assert int(r2.accrual[0]) == 0 and not r2.rolled[0]


def test_the_oldest_due_date_is_kept_when_already_in_arrears() -> None:
    s = loan(start=D(2025, 2, 15), due=D(2025, 3, 15), interest=2_905, oldest_due_date=o(D(2025, 2, 15)),
             overdue_principal_minor=398_553, overdue_interest_minor=4_350, closed_through=D(2025, 3, 14),
             accrued_interest_minor=2_800, dpd=27)
    r = K.close_day(s, params(), o(D(2025, 3, 15)), customer=np.array([1]))
    assert int(r.state["oldest_due_date"][0]) == o(D(2025, 2, 15)) and int(r.state["dpd"][0]) == 28


# --- DPD, penalty with carry, late fee ------------------------------------------------------------------

def overdue_loan(dpd_yesterday: int, day: dt.date, **cols: int) -> dict[str, np.ndarray]:
    base = {"oldest_due_date": o(day) - dpd_yesterday - 1, "overdue_principal_minor": 1_000_000,
            "dpd": dpd_yesterday}
    base.update(cols)
    s = loan(start=D(2025, 1, 1), due=D(2030, 1, 1), interest=0, closed_through=day - dt.timedelta(days=1), **base)
    return s


def test_dpd_counts_days_since_the_oldest_unpaid_due_date() -> None:
    s = overdue_loan(29, D(2025, 3, 17))  # oldest due 2025-02-15
    r = K.close_day(s, params(), o(D(2025, 3, 17)), customer=np.array([1]))
    assert int(r.state["dpd"][0]) == 30 and int(r.state["bucket"][0]) == 1 and int(r.state["risk_class"][0]) == 2


def test_penalty_interest_carries_the_sub_fen_remainder() -> None:
    # 10,000.00 overdue at 4.35 % × (100 + 50) %, ACT/360: 1,000,000 × 43,500 × 150 / (10^8 × 360) = 181.25
    # fen a day. Numerator 6,525,000,000,000; denominator 36,000,000,000: 181 rest 9,000,000,000, ... the
    # fourth day collects the quarters: 181, 181, 181, 182 = 725 = 4 × 181.25.
    s = overdue_loan(3, D(2025, 2, 19))  # dpd 4 today > grace 3: penalty starts
    days = run_days(s, D(2025, 2, 19), D(2025, 2, 22), prm=params(late_fee=0))
    assert [int(r.penalty[0]) for r in days] == [181, 181, 181, 182]
    assert [int(r.state["penalty_carry"][0]) for r in days] == [9 * 10**9, 18 * 10**9, 27 * 10**9, 0]
    assert int(days[-1].state["penalty_minor"][0]) == 725 == int(days[-1].state["penalty_income_minor"][0])
    assert days[0].penalty_started[0] and not days[1].penalty_started[0]


def test_no_penalty_within_the_grace_days() -> None:
    s = overdue_loan(2, D(2025, 2, 18))  # dpd 3 == grace
    r = K.close_day(s, params(), o(D(2025, 2, 18)), customer=np.array([1]))
    assert int(r.penalty[0]) == 0 and int(r.state["penalty_carry"][0]) == 0 and not r.penalty_started[0]


def test_penalty_on_365_days_and_a_bigger_markup() -> None:
    # 7,300.00 overdue interest + principal, 7.3 %, markup 100 %, ACT/365F: 730,000 × 73,000 × 200 / (10^8 × 365)
    # = 292 fen a day exactly, no carry
    s = overdue_loan(10, D(2025, 5, 1), overdue_principal_minor=700_000, overdue_interest_minor=30_000,
                     rate_ppm=73_000)
    r = K.close_day(s, params(markup=100, basis=365), o(D(2025, 5, 1)), customer=np.array([1]))
    assert int(r.penalty[0]) == 292 and int(r.state["penalty_carry"][0]) == 0


def test_a_penalty_numerator_beyond_int64_is_computed_exactly() -> None:
    # 10^13 fen (100 billion yuan) × 240,000 ppm × 200 = 4.8 × 10^20 > 2^63: done in Python integers
    s = overdue_loan(100, D(2025, 5, 1), overdue_principal_minor=10**13, rate_ppm=240_000, penalty_carry=7)
    r = K.close_day(s, params(markup=100, basis=360), o(D(2025, 5, 1)), customer=np.array([1]))
    q, rem = divmod(10**13 * 240_000 * 200 + 7, 10**8 * 360)
    assert (int(r.penalty[0]), int(r.state["penalty_carry"][0])) == (q, rem)


def test_the_late_fee_is_charged_once_on_the_fee_check_date_if_still_in_arrears() -> None:
    check = D(2025, 2, 19)
    s = overdue_loan(3, check, fee_check_date=o(check))
    days = run_days(s, D(2025, 2, 18) + dt.timedelta(days=1), D(2025, 2, 25))
    assert [int(r.late_fee[0]) for r in days] == [5_000, 0, 0, 0, 0, 0, 0]
    assert int(days[-1].state["fees_minor"][0]) == 5_000 and int(days[-1].state["fee_income_minor"][0]) == 5_000
    # paid before the check date: no fee
    paid = overdue_loan(3, check, fee_check_date=o(check), overdue_principal_minor=0, oldest_due_date=0, dpd=0)
    r = K.close_day(paid, params(), o(check), customer=np.array([1]))
    assert int(r.late_fee[0]) == 0 and int(r.state["fees_minor"][0]) == 0


def test_without_a_late_fee_clause_nothing_is_judged() -> None:
    s = loan(start=D(2025, 1, 15), due=D(2025, 2, 15), interest=4_350, accrued_interest_minor=4_209,
             closed_through=D(2025, 2, 14))
    r = K.close_day(s, params(late_fee=0), o(D(2025, 2, 15)), customer=np.array([1]))
    assert int(r.state["fee_check_date"][0]) == 0


# --- buckets and classes ------------------------------------------------------------------------------

def test_buckets_follow_the_portfolio_convention() -> None:
    dpd = np.array([0, 1, 30, 31, 60, 61, 90, 91, 180, 181, 270, 271, 360, 361, 1000])
    assert K.bucket_of(dpd).tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]


def test_five_categories_by_dpd() -> None:
    dpd = np.array([0, 1, 90, 91, 270, 271, 360, 361])
    assert K.class_of_dpd(dpd).tolist() == [1, 2, 2, 3, 3, 4, 4, 5]


def _classify(dpd: list[int], principal: list[int], customer: list[int], until: list[int] | None = None,
              pre: list[int] | None = None, day: int = 1000) -> list[int]:
    n = len(dpd)
    # every debtor here is non-retail (a company): since issue 18 the 10 % debtor rule applies only to them
    return K.classify(np.array(dpd), np.array(principal), np.array(customer), day,
                      np.array(until or [0] * n), np.array(pre or [0] * n), non_retail=np.ones(n, np.int64)).tolist()


def test_a_restructured_loan_in_observation_is_at_least_special_mention_and_not_above_its_class() -> None:
    # observation until day 1000 (inclusive): floor applies on day 1000, not on day 1001
    assert _classify([0, 0, 0, 100], [1, 1, 1, 1], [1, 2, 3, 4], until=[1000, 1000, 999, 1000],
                     pre=[1, 3, 3, 2]) == [2, 3, 1, 3]


def test_the_ten_percent_borrower_rule() -> None:
    # customer 1: 100 of 1,050 non-performing (9.5 %): unchanged; customer 2: 100 of 1,000 (exactly 10 %, not
    # more): unchanged; customer 3: 101 of 1,000 (10.1 %): every loan at least substandard, the doubtful one
    # stays doubtful; customer 4 alone.
    got = _classify(dpd=[0, 100, 0, 100, 0, 45, 300, 0],
                    principal=[950, 100, 900, 100, 799, 100, 101, 5],
                    customer=[1, 1, 2, 2, 3, 3, 3, 4])
    assert got == [1, 3, 1, 3, 3, 3, 4, 1]


def test_the_borrower_rule_does_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(3)
    n = 500
    dpd = rng.choice([0, 0, 0, 10, 95, 300], n)
    principal = rng.integers(1, 10**6, n)
    customer = rng.integers(0, 60, n)
    perm = rng.permutation(n)
    company = np.ones(n, np.int64)  # the debtor rule applies to non-retail debtors (issue 18)
    a = K.classify(dpd, principal, customer, 1, np.zeros(n, np.int64), np.zeros(n, np.int64), non_retail=company)
    b = K.classify(dpd[perm], principal[perm], customer[perm], 1, np.zeros(n, np.int64), np.zeros(n, np.int64),
                   non_retail=company)
    assert (a[perm] == b).all()


def test_class_changes_are_flagged() -> None:
    s = overdue_loan(90, D(2025, 5, 16), risk_class=2)  # dpd 91 today: substandard
    r = K.close_day(s, params(), o(D(2025, 5, 16)), customer=np.array([1]))
    assert int(r.state["risk_class"][0]) == 3 and r.class_changed[0] and r.totals["class_changes"] == 1


# --- limit freeze -----------------------------------------------------------------------------------------

def test_the_limit_freezes_once_at_freeze_dpd() -> None:
    s = overdue_loan(28, D(2025, 3, 16))  # dpd 29 today, 30 tomorrow
    days = run_days(s, D(2025, 3, 16), D(2025, 3, 18))
    assert [bool(r.frozen_now[0]) for r in days] == [False, True, False]
    assert [int(r.state["frozen"][0]) for r in days] == [0, 1, 1]


# --- purity and scale ---------------------------------------------------------------------------------

def test_the_kernel_does_not_modify_its_inputs() -> None:
    s = overdue_loan(10, D(2025, 3, 1))
    before = {k: v.copy() for k, v in s.items()}
    K.close_day(s, params(), o(D(2025, 3, 1)), customer=np.array([1]))
    assert all((before[k] == s[k]).all() for k in s)


def _random_book(n: int, day: dt.date, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = o(day)
    s = K.empty_state(n)
    s["principal_outstanding_minor"][:] = rng.integers(10**5, 10**8, n)
    s["current_seq"][:] = rng.integers(0, 12, n)
    s["period_start_date"][:] = d - rng.integers(1, 31, n)
    s["next_due_date"][:] = np.where(s["current_seq"] > 0, s["period_start_date"] + rng.integers(28, 32, n), 0)
    s["next_due_date"][:] = np.where(s["next_due_date"] < d, d, s["next_due_date"])
    s["period_interest_minor"][:] = rng.integers(0, 10**6, n)
    s["period_principal_minor"][:] = rng.integers(0, 10**7, n)
    late = rng.random(n) < 0.2
    s["oldest_due_date"][:] = np.where(late, d - rng.integers(1, 500, n), 0)
    s["overdue_principal_minor"][:] = np.where(late, rng.integers(1, 10**7, n), 0)
    s["overdue_interest_minor"][:] = np.where(late, rng.integers(0, 10**5, n), 0)
    s["dpd"][:] = np.where(late, d - 1 - s["oldest_due_date"], 0)
    s["penalty_carry"][:] = rng.integers(0, 10**9, n)
    s["fee_check_date"][:] = np.where(rng.random(n) < 0.1, d, 0)
    s["rate_ppm"][:] = rng.integers(20_000, 240_000, n)
    s["risk_class"][:] = K.class_of_dpd(s["dpd"])
    s["closed_through"][:] = d - 1
    return s


def test_one_loan_at_a_time_equals_the_whole_book_at_once() -> None:
    day = D(2025, 6, 15)
    n = 300
    s = _random_book(n, day)
    prm = params(n)
    customer = np.arange(n)  # one loan per customer: the borrower rule cannot couple them
    whole = K.close_day(s, prm, o(day), customer=customer)
    for i in range(n):
        one = K.close_day({k: v[i:i + 1] for k, v in s.items()}, {k: v[i:i + 1] for k, v in prm.items()}, o(day),
                          customer=customer[i:i + 1])
        for k in K.STATE_COLUMNS:
            assert one.state[k][0] == whole.state[k][i], (i, k)
        assert one.penalty[0] == whole.penalty[i] and one.accrual[0] == whole.accrual[i]


def test_a_million_loans_in_one_call() -> None:
    # no timing assertion (benchmarks/bench_close.py measures): the kernel simply handles the size
    day = D(2025, 6, 15)
    n = 1_000_000
    s = _random_book(n, day, seed=2)
    r = K.close_day(s, params(n), o(day), customer=np.random.default_rng(5).integers(0, 400_000, n))
    assert r.totals["loans"] == n and sum(r.totals["classes"]) == n and sum(r.totals["buckets"]) == n
    assert (r.state["closed_through"] == o(day)).all()
