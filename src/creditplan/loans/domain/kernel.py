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
CLASSIFICATION_COLUMNS: tuple[str, ...] = ()  # classification by the 2023 rules (cure, observation, manual)
PENALTY_COLUMNS: tuple[str, ...] = ()  # penalty conventions (grace as a waiver, 罚息 and 复利 apart)
STATE_COLUMNS: tuple[str, ...] = _BASE_COLUMNS + ACCRUAL_COLUMNS + CLASSIFICATION_COLUMNS + PENALTY_COLUMNS
"""The loan columns the close reads and returns."""

DATE_COLUMNS = frozenset({"period_start_date", "next_due_date", "oldest_due_date", "fee_check_date",
                          "restructured_until", "closed_through", "non_accrual_since"})
BOOL_COLUMNS = frozenset({"frozen", "non_accrual"})
"""Boolean loan columns: 0/1 in the arrays."""

PARAM_COLUMNS: tuple[str, ...] = ("grace_days", "late_fee_days", "late_fee_minor", "penalty_markup_pct", "basis",
                                  "auto_debit", "freeze_dpd")
"""Per-loan contract parameters, from the loan's term sheet (domain/terms.py): ``grace_days`` = days past due
after which penalty interest runs (penalty_interest.after_days), ``late_fee_days`` and ``late_fee_minor`` from
the late_fee clause (amount 0: no late fee), ``auto_debit`` 0/1, ``freeze_dpd`` (limit_freeze.after_dpd), and
``basis``, the loan's day-count year (360 or 365, see `basis_of`). An absent clause is a neutral value (a
grace or freeze of 10**6 days never arrives)."""

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


def classify(dpd: np.ndarray, principal: np.ndarray, customer: np.ndarray, day: int,
             restructured_until: np.ndarray, pre_restructure_class: np.ndarray) -> np.ndarray:
    """Five-category class: by DPD; a restructured loan in observation (restructured_until ≥ day) is at least
    2 and no better than its pre-restructuring class; then the borrower rule: when more than 10 % of a
    customer's outstanding principal (over the loans given) is non-performing (class ≥ 3), every loan of that
    customer is at least 3. Exact integer comparison: 10 × non-performing > total."""
    cls = class_of_dpd(dpd)
    observed = (restructured_until > 0) & (restructured_until >= day)
    if observed.any():
        floor = np.maximum(pre_restructure_class, 2)
        cls = np.where(observed, np.maximum(cls, floor), cls)
    npl = cls >= 3
    if npl.any():
        uniq, inv = np.unique(customer, return_inverse=True)
        total = group_sum(principal, inv, len(uniq))
        bad = group_sum(np.where(npl, principal, 0), inv, len(uniq))
        tainted = (10 * bad > total)[inv]
        cls = np.where(tainted, np.maximum(cls, 3), cls)
    return cls


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
    s["interest_income_minor"] += accrual

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
                     due_interest=due_interest, due_fee=due_fee, auto_debit=auto)


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


def _penalty(base: np.ndarray, factor: np.ndarray, carry: np.ndarray, denom: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(penalty, new carry) = divmod(base × factor + carry, denom), exact; the rare loans whose numerator would
    overflow int64 (a base above ~10^11 fen at 24 % + 50 %) are done in Python integers."""
    safe = (factor == 0) | (base <= (_INT64_MAX - carry) // np.maximum(factor, 1))
    num = np.where(safe, base, 0) * factor + carry
    pen, rem = np.divmod(num, denom)
    for i in np.flatnonzero(~safe):
        q, r = divmod(int(base[i]) * int(factor[i]) + int(carry[i]), int(denom[i]))
        pen[i], rem[i] = q, r  # the penalty of one day fits; only the product did not
    return pen, rem


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

    # penalty interest: (overdue principal + interest) × rate × (100 + markup)% / basis, remainder carried
    charging = dpd > grace
    base = np.where(charging, s["overdue_principal_minor"] + s["overdue_interest_minor"], 0)
    factor = s["rate_ppm"] * (100 + _i64(params["penalty_markup_pct"]))
    denom = _PPM_PCT * np.maximum(_i64(params["basis"]), 1)
    carry = s["penalty_carry"]
    pen, rem = _penalty(base, np.where(charging, factor, 0), np.where(charging, carry, 0), denom)
    res.penalty = np.where(charging, pen, 0)
    s["penalty_carry"] = np.where(charging, rem, carry)
    s["penalty_minor"] += res.penalty
    s["penalty_income_minor"] += res.penalty
    res.penalty_started = charging & (res.prev["dpd"] <= grace)

    # late fee, judged once per due date on its fee_check_date
    arrears = s["overdue_principal_minor"] + s["overdue_interest_minor"] > 0
    late = _i64(params["late_fee_minor"])
    res.late_fee = np.where((s["fee_check_date"] == day) & arrears, late, 0)
    s["fees_minor"] += res.late_fee
    s["fee_income_minor"] += res.late_fee

    s["bucket"] = bucket_of(dpd)
    s["risk_class"] = classify(dpd, s["principal_outstanding_minor"], _i64(customer), day,
                               s["restructured_until"], s["pre_restructure_class"])
    res.class_changed = s["risk_class"] != res.prev["risk_class"]
    freeze_at = _i64(params["freeze_dpd"])
    res.frozen_now = (s["frozen"] == 0) & (dpd > 0) & (dpd >= freeze_at)
    s["frozen"] = np.where(res.frozen_now, 1, s["frozen"])
    s["closed_through"][:] = day
    res.totals = totals(res)
    return res


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
