"""Behaviour scoring: the repayment-history features of every loan at a month end, the same features read from the
public Taiwan credit-card data the behaviour model is trained on, and the monthly re-rating's arithmetic (a
customer's worst loan, grade moves).

Why one module for both sides: a behaviour model is only as good as the agreement between what it was trained on
and what it scores. The book's features (`behaviour_features`) and the training data's (`taiwan_features`) are
defined here, side by side, with the same names, units and clipping; docs/ecl.md writes the mapping down.

The features (one value per loan; NaN where the history cannot say):

| feature | from the book (month-end snapshots, instalments) | from the Taiwan data (Apr–Sep 2005) |
|---|---|---|
| `dpd_now` | days past due at the month end | 30 × PAY_0 (months late; −2, −1, 0 → 0) |
| `worst_dpd_3m` | most DPD over the last 3 month ends (this one included) | 30 × max(PAY_0, PAY_2, PAY_3) |
| `worst_dpd_6m` | … over the last 6 month ends | 30 × max(PAY_0 … PAY_6) |
| `worst_dpd_12m` | … over the last 12 month ends | (not observable: six months of data) |
| `months_delinquent_6m` | month ends of the last 6 with DPD > 0 | months of the six with PAY ≥ 1 |
| `pay_to_due_3m` | paid ÷ due of the instalments due in the last 3 months (0–1) | (PAY_AMT1..3) ÷ (BILL_AMT2..4): each month's payment against the previous statement |
| `pay_to_due_6m` | … in the last 6 months | (PAY_AMT1..5) ÷ (BILL_AMT2..6): the five pairs the data holds |
| `utilisation` | outstanding ÷ limit (a loan: its original principal; a line: its limit) | BILL_AMT1 ÷ LIMIT_BAL |
| `months_on_book` | whole months since the start | (not observable) |

The model is trained on `MODEL_FEATURES`, the features both sides observe; `worst_dpd_12m` and `months_on_book` are
computed for the early-warning signals and the pages but are not model inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

FEATURES: tuple[str, ...] = ("dpd_now", "worst_dpd_3m", "worst_dpd_6m", "worst_dpd_12m", "months_delinquent_6m",
                             "pay_to_due_3m", "pay_to_due_6m", "utilisation", "months_on_book")
MODEL_FEATURES: tuple[str, ...] = ("dpd_now", "worst_dpd_3m", "worst_dpd_6m", "months_delinquent_6m",
                                   "pay_to_due_3m", "pay_to_due_6m", "utilisation")
"""What the behaviour model scores: the features the book and the training data both observe."""

HISTORY_MONTHS = 12
DAYS_PER_MONTH_LATE = 30
"""A repayment status of k months late is read as 30·k days past due (the bucket the book puts such a loan in)."""

TAIWAN_TARGET = "default payment next month"
TAIWAN_STATUS = ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")  # September back to April 2005
TAIWAN_BILLS = tuple(f"BILL_AMT{k}" for k in range(1, 7))
TAIWAN_PAYMENTS = tuple(f"PAY_AMT{k}" for k in range(1, 7))
UNOBSERVED = -1


def history_matrix(ids: IntArray, month_ends: Sequence[tuple[IntArray, IntArray] | None]) -> IntArray:
    """DPD of each loan (`ids`) at the month ends, newest first (`month_ends[0]` is this month's): an (n, months)
    matrix, `UNOBSERVED` where the loan is not in that month's snapshot (not yet booked) or no snapshot was kept.
    Each month end is (loan ids, dpd)."""
    current = np.asarray(ids, dtype=np.int64)
    out = np.full((current.size, len(month_ends)), UNOBSERVED, dtype=np.int64)
    for j, obs in enumerate(month_ends):
        if obs is None:
            continue
        seen = np.asarray(obs[0], dtype=np.int64)
        if seen.size == 0 or current.size == 0:
            continue
        if bool((seen[1:] >= seen[:-1]).all()):  # snapshots keep loans in id order: no sort needed
            pos = np.clip(np.searchsorted(seen, current), 0, seen.size - 1)
            hit = seen[pos] == current
            out[hit, j] = np.asarray(obs[1], dtype=np.int64)[pos[hit]]
            continue
        order = np.argsort(seen, kind="stable")
        pos = np.clip(np.searchsorted(seen[order], current), 0, seen.size - 1)
        hit = seen[order][pos] == current
        out[hit, j] = np.asarray(obs[1], dtype=np.int64)[order[pos[hit]]]
    return out


def _worst(history: IntArray, months: int) -> FloatArray:
    window = history[:, :months]
    worst = window.max(axis=1) if window.shape[1] else np.full(history.shape[0], UNOBSERVED)
    return np.where(worst == UNOBSERVED, np.nan, worst).astype(np.float64)


def _ratio(paid: NDArray[Any], due: NDArray[Any]) -> FloatArray:
    p = np.asarray(paid, dtype=np.float64)
    d = np.asarray(due, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, np.clip(p / np.where(d > 0, d, 1.0), 0.0, 1.0), np.nan)


def behaviour_features(history: IntArray, paid_3m: IntArray, due_3m: IntArray, paid_6m: IntArray, due_6m: IntArray,
                       outstanding: IntArray, limit: IntArray, months_on_book: IntArray) -> dict[str, FloatArray]:
    """The features of each loan of the book at a month end (amounts in fen; `history` from `history_matrix`)."""
    h = np.asarray(history, dtype=np.int64)
    six = h[:, :6]
    lim = np.asarray(limit, dtype=np.float64)
    out = np.asarray(outstanding, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(lim > 0, np.maximum(out, 0.0) / np.where(lim > 0, lim, 1.0), np.nan)
    return {
        "dpd_now": np.where(h[:, 0] == UNOBSERVED, np.nan, h[:, 0]).astype(np.float64),
        "worst_dpd_3m": _worst(h, 3), "worst_dpd_6m": _worst(h, 6), "worst_dpd_12m": _worst(h, HISTORY_MONTHS),
        "months_delinquent_6m": (six > 0).sum(axis=1).astype(np.float64),
        "pay_to_due_3m": _ratio(paid_3m, due_3m), "pay_to_due_6m": _ratio(paid_6m, due_6m),
        "utilisation": utilisation.astype(np.float64),
        "months_on_book": np.asarray(months_on_book, dtype=np.float64),
    }


def taiwan_features(cols: Mapping[str, NDArray[Any]]) -> dict[str, FloatArray]:
    """The model features of the Taiwan credit-card data (UCI, 30,000 accounts), defined as the book's are (see
    the table in the module docstring): a repayment status k ≥ 1 months late is 30·k days past due; −2 (no use),
    −1 (paid in full) and 0 (revolving, paid the minimum) are current. A month's payment settles the previous
    month's statement; a statement of zero or less (nothing due) leaves the ratio missing."""
    status = np.stack([np.asarray(cols[c], dtype=np.int64) for c in TAIWAN_STATUS], axis=1)
    dpd = np.maximum(status, 0) * DAYS_PER_MONTH_LATE
    bills = np.stack([np.asarray(cols[c], dtype=np.float64) for c in TAIWAN_BILLS], axis=1)
    pays = np.stack([np.asarray(cols[c], dtype=np.float64) for c in TAIWAN_PAYMENTS], axis=1)
    due = np.maximum(bills[:, 1:], 0.0)  # statements of Aug … Apr, paid in Sep … May
    limit = np.asarray(cols["LIMIT_BAL"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(limit > 0, np.maximum(bills[:, 0], 0.0) / np.where(limit > 0, limit, 1.0), np.nan)
    return {
        "dpd_now": dpd[:, 0].astype(np.float64),
        "worst_dpd_3m": dpd[:, :3].max(axis=1).astype(np.float64),
        "worst_dpd_6m": dpd.max(axis=1).astype(np.float64),
        "months_delinquent_6m": (status >= 1).sum(axis=1).astype(np.float64),
        "pay_to_due_3m": _ratio(pays[:, :3].sum(axis=1), due[:, :3].sum(axis=1)),
        "pay_to_due_6m": _ratio(pays[:, :5].sum(axis=1), due[:, :5].sum(axis=1)),
        "utilisation": utilisation.astype(np.float64),
    }


def customer_worst(customer: IntArray, pd: FloatArray, score: FloatArray, grade_index: IntArray
                   ) -> tuple[IntArray, FloatArray, FloatArray, IntArray, IntArray]:
    """One rating per customer, from their loans' scores: the loan with the highest PD (ties: the lowest score, then
    the first) gives the customer's PD, score and grade — one obligor, one grade, as the five-category rules treat a
    borrower. Returns (customers in ascending order, pd, score, grade index, number of loans)."""
    c = np.asarray(customer, dtype=np.int64)
    p = np.asarray(pd, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    g = np.asarray(grade_index, dtype=np.int64)
    if c.size == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        return empty_i, empty_f, empty_f, empty_i, empty_i
    order = np.lexsort((np.arange(c.size), s, -p, c))  # by customer, then highest PD, lowest score, first
    cs = c[order]
    first = np.ones(cs.size, dtype=bool)
    first[1:] = cs[1:] != cs[:-1]
    pick = order[first]
    counts = np.diff(np.append(np.flatnonzero(first), cs.size))
    return c[pick], p[pick], s[pick], g[pick], counts.astype(np.int64)


def grade_moves(previous: IntArray, current: IntArray, n_grades: int) -> IntArray:
    """The migration matrix of grades: `moves[i, j]` customers graded i last month and j now (index 0 = the best
    grade); customers new this month (previous −1) are counted in the extra last row."""
    prev = np.asarray(previous, dtype=np.int64)
    cur = np.asarray(current, dtype=np.int64)
    moves = np.zeros((n_grades + 1, n_grades), dtype=np.int64)
    np.add.at(moves, (np.where(prev < 0, n_grades, prev), cur), 1)
    return moves
