"""The daily close of one business date over column arrays: the same code for 1 loan and for 1,000,000.

Why columns: the close touches every active loan every night. Done loan by loan in Python it costs
milliseconds each (an hour for a million); as numpy arrays it is a few dozen vector operations over the
whole book, well under a second. The persistence around it (`loans/cob/`) reads and writes the same
columns in bulk, so no Django object is ever built for a loan during the close.

Representation (every array has one entry per loan, all ``int64``):

* money in minor units; rates in ppm; booleans as 0/1;
* dates as ``date.toordinal()`` day numbers, **0 meaning NULL** (no real date has ordinal 0);
* state arrays are named exactly like the `Loan` columns they come from (`STATE_COLUMNS`), product
  parameters like the `Product` fields (`PARAM_COLUMNS`) plus ``basis`` (360 or 365, see `basis_of`).

The semantics are those of the loans brief (accrual without a stored remainder, due roll, DPD, penalty
with carry, late fee, buckets, five categories with the restructuring floor and the 10 % borrower rule,
limit freeze). A day runs in three steps, because two things between them need the database:

1. `fall_due` — accrual for every loan; installments whose due date is today fall due. The caller then
   applies auto-debit to the few loans that hold a credit, and loads the next installment of each loan
   that rolled (one query);
2. `roll` — point those loans at their next installment (or at none: matured);
3. `assess` — DPD, penalty interest, late fee, bucket, class, freeze, and the totals.

`close_day` chains them for callers that need no database in between (tests, the benchmark).
Pure: no Django, no I/O; the input arrays are never modified (the result holds new arrays).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BUCKET_EDGES",
    "BOOL_COLUMNS",
    "CLASS_EDGES",
    "DATE_COLUMNS",
    "PARAM_COLUMNS",
    "STATE_COLUMNS",
    "DayResult",
    "NextInstallments",
    "assess",
    "basis_of",
    "bucket_of",
    "class_of_dpd",
    "classify",
    "close_day",
    "empty_state",
    "fall_due",
    "group_sum",
    "non_accrual",
    "roll",
    "totals",
]

_BASE_COLUMNS: tuple[str, ...] = (
    "principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor", "accrued_interest_minor",
    "penalty_minor", "penalty_carry", "fees_minor", "credit_minor",
    "current_seq", "period_start_date", "next_due_date", "period_interest_minor", "period_principal_minor",
    "period_fee_minor",
    "oldest_due_date", "dpd", "bucket", "risk_class", "fee_check_date", "frozen",
    "restructured_until", "pre_restructure_class", "rate_ppm",
    "interest_income_minor", "penalty_income_minor", "fee_income_minor", "closed_through",
)
# Columns added by the second pass of the loans (issue 18), one tuple per concern so that each is read in one place:
ACCRUAL_COLUMNS: tuple[str, ...] = ("non_accrual", "non_accrual_since")  # non-accrual: interest and penalty off the balance sheet
CLASSIFICATION_COLUMNS: tuple[str, ...] = ("cure_until", "manual_class", "manual_class_until")  # classification
# by the 2023 rules: the end of the cure period a non-performing loan waits out before an upgrade (0: none
# running), the approved manual class floor (0: none) and its end (0: until lifted); see `classify_day`
PENALTY_COLUMNS: tuple[str, ...] = ("grace_penalty_minor", "grace_compound_minor", "compound_minor",
                                    "compound_carry", "penalty_charged_minor")  # penalty conventions (grace as a waiver, 罚息 and 复利 apart)
STATE_COLUMNS: tuple[str, ...] = _BASE_COLUMNS + ACCRUAL_COLUMNS + CLASSIFICATION_COLUMNS + PENALTY_COLUMNS
"""The loan columns the close reads and returns."""

DATE_COLUMNS = frozenset({"period_start_date", "next_due_date", "oldest_due_date", "fee_check_date",
                          "restructured_until", "closed_through", "non_accrual_since",
                          "cure_until", "manual_class_until"})
BOOL_COLUMNS = frozenset({"frozen", "non_accrual"})
"""Boolean loan columns: 0/1 in the arrays."""

PARAM_COLUMNS: tuple[str, ...] = ("grace_days", "late_fee_days", "late_fee_minor", "penalty_markup_pct", "basis",
                                  "auto_debit", "freeze_dpd", "non_accrual_dpd", "non_accrual_class",
                                  "penalty_principal_pct", "penalty_interest_pct", "grace_waiver")
"""Per-loan contract parameters, from the loan's term sheet (domain/terms.py): ``grace_days`` = days past due
after which penalty interest runs (penalty_interest.after_days), ``late_fee_days`` and ``late_fee_minor`` from
the late_fee clause (amount 0: no late fee), ``auto_debit`` 0/1, ``freeze_dpd`` (limit_freeze.after_dpd), and
``basis``, the loan's day-count year (360 or 365, see `basis_of`), ``non_accrual_dpd`` and ``non_accrual_class``
(clause non_accrual; absent: more than 90 days past due, no class trigger), ``penalty_principal_pct`` and
``penalty_interest_pct`` (罚息 on overdue principal and 复利 on overdue interest, % of the contract rate, 0 off;
clause penalty_split, absent: both 100 + markup) and ``grace_waiver`` 0/1 (clause grace_waiver: the grace days
are charged when the arrears outlast them). An absent clause is otherwise a neutral value (a grace or freeze
of 10**6 days never arrives)."""

BUCKET_EDGES = np.array([1, 31, 61, 91, 181, 271, 361], dtype=np.int64)
"""Bucket k holds dpd with k edges ≤ dpd: 0 current, 1: 1–30, 2: 31–60, 3: 61–90, 4: 91–180, 5: 181–270,
6: 271–360, 7: 360+."""
CLASS_EDGES = np.array([1, 91, 271, 361], dtype=np.int64)
"""Class 1 + (edges ≤ dpd): 1 正常 (dpd 0), 2 关注 (1–90), 3 次级 (> 90), 4 可疑 (> 270), 5 损失 (> 360)."""

_PPM_PCT = 1_000_000 * 100
_INT64_MAX = np.iinfo(np.int64).max


def basis_of(day_count: str) -> int:
    """The day-count year penalty interest is computed over: 360 for ACT/360 and 30/360, else 365."""
    return 360 if str(day_count).upper() in ("ACT/360", "30/360") else 365


def empty_state(n: int) -> dict[str, np.ndarray]:
    """Zero-filled state arrays for `n` loans (tests and builders fill in what they need)."""
    state = {c: np.zeros(n, dtype=np.int64) for c in STATE_COLUMNS}
    state["risk_class"][:] = 1
    return state


def bucket_of(dpd: np.ndarray) -> np.ndarray:
    return np.searchsorted(BUCKET_EDGES, dpd, side="right").astype(np.int64)


def class_of_dpd(dpd: np.ndarray) -> np.ndarray:
    return (np.searchsorted(CLASS_EDGES, dpd, side="right") + 1).astype(np.int64)


def group_sum(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact int64 sums per group (np.bincount would go through float64)."""
    out = np.zeros(n_groups, dtype=np.int64)
    np.add.at(out, groups, values)
    return out


NPL_CLASS = 3
"""次级 substandard: the first non-performing (不良) class."""
CURE_MONTHS = 6
"""The cure before a non-performing loan is upgraded: arrears cleared, then repaid on time for the longer of
two repayment periods and six months (商业银行金融资产风险分类办法, 2023, on upgrading 不良 assets)."""
OBSERVATION_MONTHS = 12
"""The restructuring observation period: from the first repayment date after the change, at least two
repayment periods and not less than one year; restarted from a missed repayment (same rules, 重组资产)."""
_EPOCH = 719_163  # date(1970, 1, 1).toordinal(): numpy datetime64 counts days from it


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def add_months(day: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Ordinals moved by whole calendar months, clamped to the month end like core.daycount.add_months
    (31 Jan + 1 → 28/29 Feb); 0 (NULL) stays 0. Integer civil-calendar arithmetic (H. Hinnant's algorithms),
    no datetime64 conversions."""
    day = _i64(day)
    z = day - _EPOCH + 719_468  # days since 0000-03-01
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    idx = y * 12 + (m - 1) + _i64(months)
    y, m = idx // 12, idx % 12 + 1
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    d = np.minimum(d, _MONTH_DAYS[m - 1] + ((m == 2) & leap))
    y = y - (m <= 2)  # back to days (days_from_civil)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.where(day > 0, era * 146_097 + doe - 719_468 + _EPOCH, 0)


def classify(dpd: np.ndarray, principal: np.ndarray, customer: np.ndarray, day: int,
             restructured_until: np.ndarray, pre_restructure_class: np.ndarray, *,
             non_retail: np.ndarray | None = None, manual_class: np.ndarray | None = None,
             manual_class_until: np.ndarray | None = None, held: np.ndarray | None = None) -> np.ndarray:
    """Five-category class (商业银行金融资产风险分类办法, 2023), in this order:

    1. by DPD (`class_of_dpd`);
    2. a restructured loan in observation (restructured_until ≥ day) is at least 2 (关注) and no better than its
       pre-restructuring class — a loan that was 不良 stays 不良;
    3. an approved manual class (`manual_class` > 0, until `manual_class_until` inclusive, 0 = until lifted) is
       a floor: the loan is never better than it, the DPD may make it worse;
    4. `held` (bool per loan): a non-performing loan that has not yet completed its cure stays at least 3
       (次级) — see `classify_day`, which keeps that memory;
    5. the debtor rule, for non-retail debtors only (`non_retail` 1; None: nobody): when more than 10 % of a
       debtor's outstanding principal (over the loans given) is non-performing (class ≥ 3), every loan of that
       debtor is at least 3. Exact integer comparison: 10 × non-performing > total. Retail loans are classified
       loan by loan."""
    cls = class_of_dpd(dpd)
    observed = (restructured_until > 0) & (restructured_until >= day)
    if observed.any():
        floor = np.maximum(pre_restructure_class, 2)
        cls = np.where(observed, np.maximum(cls, floor), cls)
    if manual_class is not None:
        until = _i64(manual_class_until) if manual_class_until is not None else np.zeros_like(cls)
        manual = (_i64(manual_class) > 0) & ((until == 0) | (until >= day))
        cls = np.where(manual, np.maximum(cls, _i64(manual_class)), cls)
    if held is not None:
        cls = np.where(held, np.maximum(cls, NPL_CLASS), cls)
    if non_retail is None:
        return cls
    company = _i64(non_retail) != 0
    npl = (cls >= NPL_CLASS) & company
    if npl.any():
        uniq, inv = np.unique(customer, return_inverse=True)
        total = group_sum(np.where(company, principal, 0), inv, len(uniq))
        bad = group_sum(np.where(npl, principal, 0), inv, len(uniq))
        tainted = (10 * bad > total)[inv] & company
        cls = np.where(tainted, np.maximum(cls, NPL_CLASS), cls)
    return cls


def classify_day(res: DayResult, params: Mapping[str, np.ndarray], customer: np.ndarray) -> None:
    """Tonight's class, with the memory the 2023 rules ask for (sets risk_class, cure_until and
    restructured_until in `res.state`).

    * Downgrades are immediate; an upgrade out of 不良 (class ≥ 3 last night → better than 3) waits for the
      cure: the arrears (overdue principal and interest, penalty, fees) fully cleared, then repaid on time
      until `cure_until` = the later of six months after the night the arrears were first seen cleared and
      the second due date after it (two consecutive repayment periods: next_due_date + months_per_period).
      Any arrears during the cure stop it (cure_until back to 0); it starts again when they are cleared.
    * Restructuring observation: a missed repayment while observed (dpd > 0 with the missed due date
      `oldest_due_date` ≤ restructured_until) restarts the observation from that due date: it ends no
      earlier than max(12, 2 × months_per_period) months after it.

    `params` may carry ``months_per_period`` (default 1) and ``non_retail`` (1 for a company debtor; default
    nobody, i.e. no debtor rule) from the chunk's keys."""
    s, day, n = res.state, res.day, res.n
    dpd = s["dpd"]
    mpp = _i64(params["months_per_period"]) if "months_per_period" in params else np.ones(n, dtype=np.int64)
    mpp = np.maximum(mpp, 1)
    non_retail = _i64(params["non_retail"]) if "non_retail" in params else None

    # the restructuring observation restarts from a missed repayment (month arithmetic only on the few rows)
    ru, oldest = s["restructured_until"], s["oldest_due_date"]
    missed = np.flatnonzero((ru > 0) & (dpd > 0) & (oldest > 0) & (oldest <= ru))
    if len(missed):
        ru = ru.copy()
        ru[missed] = np.maximum(ru[missed], add_months(oldest[missed], np.maximum(OBSERVATION_MONTHS,
                                                                                  2 * mpp[missed])))
        s["restructured_until"] = ru

    # the cure clock: runs while the arrears are cleared, stops (0) on any arrears
    arrears = (dpd > 0) | (s["overdue_principal_minor"] + s["overdue_interest_minor"] + s["penalty_minor"]
                           + s["fees_minor"] > 0)
    clock = np.where(arrears, 0, s["cure_until"])

    def start(rows: np.ndarray) -> None:  # the cure starts tonight: the later of 6 months and two periods
        nxt = s["next_due_date"][rows]
        two_periods = np.where(nxt > day, add_months(nxt, mpp[rows]), 0)
        clock[rows] = np.maximum(add_months(np.full(len(rows), day, dtype=np.int64), CURE_MONTHS), two_periods)

    prev_npl = res.prev["risk_class"] >= NPL_CLASS
    start(np.flatnonzero(prev_npl & ~arrears & (clock == 0)))
    cured = (clock > 0) & (clock <= day)
    cls = classify(dpd, s["principal_outstanding_minor"], _i64(customer), day, s["restructured_until"],
                   s["pre_restructure_class"], non_retail=non_retail, manual_class=s["manual_class"],
                   manual_class_until=s["manual_class_until"], held=prev_npl & ~cured)
    start(np.flatnonzero((cls >= NPL_CLASS) & ~arrears & (clock == 0)))  # non-performing tonight, no arrears
    s["risk_class"] = cls
    s["cure_until"] = np.where(cls >= NPL_CLASS, clock, 0)


@dataclass
class NextInstallments:
    """The installment each rolling loan moves to (aligned with the `rows` given to `roll`); seq 0 = none
    left (the loan has matured)."""

    seq: np.ndarray
    start_date: np.ndarray
    due_date: np.ndarray
    interest_minor: np.ndarray
    principal_minor: np.ndarray
    fee_minor: np.ndarray

    @classmethod
    def none(cls, n: int) -> NextInstallments:
        return cls(*(np.zeros(n, dtype=np.int64) for _ in range(6)))


@dataclass
class DayResult:
    """One business date's close over a set of loans: the new state, per-loan deltas and event masks."""

    day: int
    state: dict[str, np.ndarray]
    prev: dict[str, np.ndarray]  # dpd, risk_class, frozen, current_seq before the day
    accrual: np.ndarray  # Dr 1321 / Cr 6011 (may be negative only after a reschedule lowered the period)
    rolled: np.ndarray  # bool: an installment fell due today (Dr 1322 / Cr 1321 reclass of its interest)
    due_seq: np.ndarray  # the seq that fell due (0 where none)
    due_principal: np.ndarray
    due_interest: np.ndarray  # the reclass amount
    due_fee: np.ndarray  # installment fee recognised: Dr 1324 / Cr 6021
    auto_debit: np.ndarray  # bool: rolled with a credit to apply and the product debits automatically
    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # Dr 1323 / Cr 6012
    late_fee: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # Dr 1324 / Cr 6021
    matured: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    penalty_started: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    class_changed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    frozen_now: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # non-accrual: `off_balance` (the day's accrual and penalty were booked off the balance sheet: the loan was
    # non-accrual when the day began), `na_entered` / `na_left` (it stops / resumes accrual tonight) and what that
    # moves between the balance sheet and the memo account: > 0 off it on entering, < 0 back on leaving
    off_balance: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    na_entered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    na_left: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    moved_accrued: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    moved_due: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    moved_penalty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    totals: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.accrual)


def _i64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def fall_due(state: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], day: int) -> DayResult:
    """Step 1: the day's accrual, and the installments whose due date is `day` fall due."""
    s = {c: _i64(state[c]).copy() for c in STATE_COLUMNS}
    prev = {c: s[c].copy() for c in ("dpd", "risk_class", "frozen", "current_seq")}
    start, due = s["period_start_date"], s["next_due_date"]
    accruing = (s["current_seq"] > 0) & (due > 0)
    length = np.maximum(due - start, 1)
    elapsed = np.clip(day - start, 0, length)
    target = s["period_interest_minor"] * elapsed // length
    accrual = np.where(accruing, target - s["accrued_interest_minor"], 0)
    s["accrued_interest_minor"] += accrual
    off_balance = s["non_accrual"] != 0  # owed by the borrower all the same; not income (GL 7001)
    s["interest_income_minor"] += np.where(off_balance, 0, accrual)

    rolled = accruing & (due == day)
    zero = np.zeros(len(due), dtype=np.int64)
    due_principal = np.where(rolled, s["period_principal_minor"], zero)
    due_interest = np.where(rolled, s["accrued_interest_minor"], zero)  # == period interest on the due date
    due_fee = np.where(rolled, s["period_fee_minor"], zero)
    s["overdue_principal_minor"] += due_principal
    s["overdue_interest_minor"] += due_interest
    s["accrued_interest_minor"] -= due_interest
    s["fees_minor"] += due_fee
    s["fee_income_minor"] += due_fee
    owed = rolled & (due_principal + due_interest + due_fee > 0)
    s["oldest_due_date"] = np.where(owed & (s["oldest_due_date"] == 0), day, s["oldest_due_date"])
    late_fee = _i64(params["late_fee_minor"]) > 0  # no late-fee clause: nothing to judge (NULL)
    s["fee_check_date"] = np.where(rolled, np.where(late_fee, day + _i64(params["late_fee_days"]) + 1, 0),
                                   s["fee_check_date"])
    auto = rolled & (s["credit_minor"] > 0) & (_i64(params["auto_debit"]) != 0)
    return DayResult(day=day, state=s, prev=prev, accrual=accrual, rolled=rolled,
                     due_seq=np.where(rolled, s["current_seq"], 0), due_principal=due_principal,
                     due_interest=due_interest, due_fee=due_fee, auto_debit=auto, off_balance=off_balance)


def roll(res: DayResult, rows: np.ndarray, nxt: NextInstallments) -> None:
    """Step 2: loans `rows` (indices) move to their next installment (seq 0: none left — matured)."""
    s = res.state
    rows = _i64(rows)
    seq = _i64(nxt.seq)
    has = seq > 0
    s["current_seq"][rows] = seq
    s["period_start_date"][rows] = np.where(has, _i64(nxt.start_date), s["period_start_date"][rows])
    s["next_due_date"][rows] = np.where(has, _i64(nxt.due_date), 0)
    s["period_interest_minor"][rows] = np.where(has, _i64(nxt.interest_minor), 0)
    s["period_principal_minor"][rows] = np.where(has, _i64(nxt.principal_minor), 0)
    s["period_fee_minor"][rows] = np.where(has, _i64(nxt.fee_minor), 0)
    if len(res.matured) != res.n:
        res.matured = np.zeros(res.n, dtype=bool)
    res.matured[rows[~has]] = True


def _penalty(base: np.ndarray, factor: np.ndarray, carry: np.ndarray, denom: np.ndarray,
             base2: np.ndarray | None = None, factor2: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(penalty, new carry) = divmod(base × factor [+ base2 × factor2] + carry, denom), exact; the rare loans
    whose numerator would overflow int64 (a base above ~10^11 fen at 24 % + 50 %) are done in Python integers."""
    if base2 is None or factor2 is None:
        base2 = factor2 = np.zeros(len(base), dtype=np.int64)
    bound = (int(base.max(initial=0)) * int(factor.max(initial=0))
             + int(base2.max(initial=0)) * int(factor2.max(initial=0)) + int(carry.max(initial=0)))
    if bound <= _INT64_MAX:  # the usual chunk: no numerator can overflow, no per-loan check
        return np.divmod(base * factor + base2 * factor2 + carry, denom)
    room = (_INT64_MAX - carry) // 2
    safe = (((factor == 0) | (base <= room // np.maximum(factor, 1)))
            & ((factor2 == 0) | (base2 <= room // np.maximum(factor2, 1))))
    num = np.where(safe, base, 0) * factor + np.where(safe, base2, 0) * factor2 + carry
    pen, rem = np.divmod(num, denom)
    for i in np.flatnonzero(~safe):
        q, r = divmod(int(base[i]) * int(factor[i]) + int(base2[i]) * int(factor2[i]) + int(carry[i]),
                      int(denom[i]))
        pen[i], rem[i] = q, r  # the penalty of one day fits; only the product did not
    return pen, rem


def _param(params: Mapping[str, np.ndarray], name: str, n: int, default: np.ndarray | int) -> np.ndarray:
    """A contract parameter column, or its neutral value when the caller gives none (callers built before it)."""
    if name in params:
        return _i64(params[name])
    return np.broadcast_to(_i64(default), (n,))


def assess(res: DayResult, params: Mapping[str, np.ndarray], customer: np.ndarray) -> DayResult:
    """Step 3: DPD, penalty interest, the late fee, bucket, class (with the borrower rule over `customer`),
    limit freeze; closes the day (closed_through) and fills `res.totals`."""
    s, day, n = res.state, res.day, res.n
    if len(res.matured) != n:
        res.matured = np.zeros(n, dtype=bool)
    grace = _i64(params["grace_days"])
    oldest = s["oldest_due_date"]
    dpd = np.where(oldest > 0, np.maximum(day - oldest, 0), 0)
    s["dpd"] = dpd

    # penalty interest (issue 18 §4): 罚息 on overdue principal at rate × principal_pct %, 复利 on overdue interest
    # at rate × interest_pct % (0: off; without the penalty_split clause both are 100 + markup, as before), per
    # day over the basis, one remainder carried for the total; the 复利 share is also counted apart
    # (compound_minor, with its own carry). Grace as a waiver (grace_waiver 1): inside the grace days the
    # penalty runs from the due date but is held (grace_penalty_minor), charged with the first day past grace,
    # dropped when the arrears are cleared within it. res.penalty: the day's total penalty charged.
    charging = dpd > grace
    waiver = _param(params, "grace_waiver", n, 0) != 0
    running = charging | (waiver & (dpd > 0))
    markup_pct = 100 + _i64(params["penalty_markup_pct"])
    f_principal = np.where(running, s["rate_ppm"] * _param(params, "penalty_principal_pct", n, markup_pct), 0)
    f_interest = np.where(running, s["rate_ppm"] * _param(params, "penalty_interest_pct", n, markup_pct), 0)
    base = s["overdue_principal_minor"]
    denom = _PPM_PCT * np.maximum(_i64(params["basis"]), 1)
    carry = s["penalty_carry"]
    pen, rem = _penalty(base, f_principal, np.where(running, carry, 0), denom, s["overdue_interest_minor"], f_interest)
    comp, comp_rem = _penalty(s["overdue_interest_minor"], f_interest, np.where(running, s["compound_carry"], 0),
                              denom)
    pen, comp = np.where(running, pen, 0), np.where(running, np.minimum(comp, pen), 0)
    s["penalty_carry"] = np.where(running, rem, carry)
    s["compound_carry"] = np.where(running, comp_rem, s["compound_carry"])
    held = running & ~charging
    res.penalty = np.where(charging, pen + s["grace_penalty_minor"], 0)
    s["compound_minor"] += np.where(charging, comp + s["grace_compound_minor"], 0)
    s["penalty_charged_minor"] += res.penalty  # on or off balance sheet; 罚息 = this less compound_minor
    s["grace_penalty_minor"] = np.where(held, s["grace_penalty_minor"] + pen, 0)
    s["grace_compound_minor"] = np.where(held, s["grace_compound_minor"] + comp, 0)
    s["penalty_minor"] += res.penalty
    s["penalty_income_minor"] += np.where(s["non_accrual"] != 0, 0, res.penalty)
    res.penalty_started = charging & (res.prev["dpd"] <= grace)

    # late fee, judged once per due date on its fee_check_date
    arrears = s["overdue_principal_minor"] + s["overdue_interest_minor"] > 0
    late = _i64(params["late_fee_minor"])
    res.late_fee = np.where((s["fee_check_date"] == day) & arrears, late, 0)
    s["fees_minor"] += res.late_fee
    s["fee_income_minor"] += res.late_fee

    s["bucket"] = bucket_of(dpd)
    classify_day(res, params, customer)
    res.class_changed = s["risk_class"] != res.prev["risk_class"]
    non_accrual(res, params)
    freeze_at = _i64(params["freeze_dpd"])
    res.frozen_now = (s["frozen"] == 0) & (dpd > 0) & (dpd >= freeze_at)
    s["frozen"] = np.where(res.frozen_now, 1, s["frozen"])
    s["closed_through"][:] = day
    res.totals = totals(res)
    return res


def non_accrual(res: DayResult, params: Mapping[str, np.ndarray]) -> None:
    """Tonight's non-accrual status (财政部《金融企业财务规则》and the banks' 应计/非应计 rule: interest of a loan
    more than 90 days past due is not income until received). A loan stops accruing when its DPD passes
    `non_accrual_dpd` or, where the product says so, its class reaches `non_accrual_class` (0: no class trigger);
    it resumes when its arrears are cleared (DPD 0) and the class trigger no longer holds. On stopping, what it
    owes in interest and penalty leaves the balance sheet (moved_* > 0: income reversed, memo 7001 charged); on
    resuming it comes back (moved_* < 0). The borrower owes the same either way: only the books change."""
    s, n = res.state, res.n
    was = s["non_accrual"] != 0
    # absent parameters (a caller of the kernel alone): the default rule, more than 90 days, no class trigger
    by_class = _param(params, "non_accrual_class", n, 0)
    class_trigger = (by_class > 0) & (s["risk_class"] >= by_class)
    bad = (s["dpd"] > _param(params, "non_accrual_dpd", n, 90)) | class_trigger
    res.na_entered = ~was & bad
    res.na_left = was & (s["dpd"] == 0) & ~class_trigger
    sign = np.where(res.na_entered, 1, np.where(res.na_left, -1, 0)).astype(np.int64)
    res.moved_accrued = sign * s["accrued_interest_minor"]
    res.moved_due = sign * s["overdue_interest_minor"]
    res.moved_penalty = sign * s["penalty_minor"]
    s["interest_income_minor"] -= res.moved_accrued + res.moved_due
    s["penalty_income_minor"] -= res.moved_penalty
    s["non_accrual"] = np.where(res.na_entered, 1, np.where(res.na_left, 0, s["non_accrual"]))
    s["non_accrual_since"] = np.where(res.na_entered, res.day, np.where(res.na_left, 0, s["non_accrual_since"]))
    if len(res.off_balance) != n:
        res.off_balance = np.zeros(n, dtype=bool)


def totals(res: DayResult) -> dict[str, Any]:
    """What a chunk reports (Python ints, JSON-safe): sums of the deltas, counts, and the distribution of
    buckets and classes with the principal in each class (for the NPL ratio)."""
    s = res.state
    principal = s["principal_outstanding_minor"]
    cls = s["risk_class"]
    return {
        "loans": int(res.n),
        "accrual_minor": int(res.accrual.sum()),
        "reclass_minor": int(res.due_interest.sum()),
        "due_principal_minor": int(res.due_principal.sum()),
        "due_fee_minor": int(res.due_fee.sum()),
        "penalty_minor": int(res.penalty.sum()),
        "late_fee_minor": int(res.late_fee.sum()),
        "late_fees": int(np.count_nonzero(res.late_fee)),
        "installments_due": int(np.count_nonzero(res.rolled)),
        "matured": int(np.count_nonzero(res.matured)),
        "penalty_started": int(np.count_nonzero(res.penalty_started)),
        "class_changes": int(np.count_nonzero(res.class_changed)),
        "frozen": int(np.count_nonzero(res.frozen_now)),
        "non_accrual_entered": int(np.count_nonzero(res.na_entered)),
        "non_accrual_left": int(np.count_nonzero(res.na_left)),
        "off_balance_minor": int(np.where(res.off_balance, res.accrual + res.penalty, 0).sum()),
        "moved_off_minor": int(np.maximum(res.moved_accrued + res.moved_due + res.moved_penalty, 0).sum()),
        "moved_back_minor": int(np.maximum(-(res.moved_accrued + res.moved_due + res.moved_penalty), 0).sum()),
        "buckets": [int(x) for x in np.bincount(s["bucket"], minlength=8)[:8]],
        "classes": [int(x) for x in np.bincount(cls, minlength=6)[1:6]],
        "principal_by_class": [int(principal[cls == k].sum()) for k in range(1, 6)],
    }


def close_day(state: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], day: int, *,
              customer: np.ndarray,
              next_installment: Callable[[np.ndarray], NextInstallments] | None = None) -> DayResult:
    """The three steps in one call, for callers with nothing to do in between (no auto-debit): replay in
    tests, the benchmark. `next_installment(rows)` returns the next installments of the loans that rolled;
    without it they mature (no installment left)."""
    res = fall_due(state, params, day)
    rows = np.flatnonzero(res.rolled)
    if len(rows):
        nxt = next_installment(rows) if next_installment is not None else NextInstallments.none(len(rows))
        roll(res, rows, nxt)
    return assess(res, params, customer)
