"""Portfolio analytics over columns: transition matrices, roll rates, month-on-book vintage curves, migration
between the five categories, and concentration.

Why column kernels: the risk department reads these for a book of a million loans every morning, and the same
functions must give the same figures in the web process, in the nightly indicator run and on Spark. Every
function takes plain numpy arrays (one element per account and observation) and returns plain numbers; none
knows where the columns came from (the loan book's daily snapshots, or a monthly status panel such as the
public credit-card panel the tests use).

Conventions:
- A *state* is a small integer: a delinquency bucket (0 current, 1: 1–30 days past due, 2: 31–60, 3: 61–90,
  4: 91–180, 5: 181–270, 6: 271–360, 7: 360+; `BUCKETS`) or a five-category class (1 正常 … 5 损失). States
  are counted with `n_states` columns, so a matrix always has the same shape whatever was observed.
- A transition is an account seen in state i at one observation and in state j at the next. An account present
  at only one of the two is not a transition (it opened or closed in between); callers say how they treat exits.
- Amount-weighted versions take `weights` (e.g. outstanding principal in fen at the first observation, as int64:
  sums stay exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "91-180", "181-270", "271-360", "360+")
"""Delinquency buckets, by index (the loan book's `bucket` column uses the same numbers)."""

CLASSES: tuple[str, ...] = ("normal", "special_mention", "substandard", "doubtful", "loss")
"""Five-category classes 1–5 (正常, 关注, 次级, 可疑, 损失), by index + 1."""

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class TransitionMatrix:
    """`counts[i, j]`: accounts (or amount, when weighted) in state i at the start and state j at the end.

    `rates[i, j]` is counts[i, j] over the row's total (NaN for a state nobody started in)."""

    counts: IntArray
    states: tuple[str, ...]

    @property
    def rates(self) -> NDArray[np.float64]:
        totals = self.counts.sum(axis=1, keepdims=True).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, self.counts / np.where(totals > 0, totals, 1.0), np.nan)

    @property
    def row_totals(self) -> IntArray:
        return np.asarray(self.counts.sum(axis=1), dtype=np.int64)

    def roll_rates(self) -> list[float | None]:
        """Roll-forward rate of each state into the next worse one: rates[i, i + 1] for i = 0 … n − 2; None where
        no account started in state i. (Accounts already in the worst state cannot roll further.)"""
        r = self.rates
        out: list[float | None] = []
        for i in range(len(self.states) - 1):
            v = r[i, i + 1]
            out.append(None if np.isnan(v) else float(v))
        return out

    def worse_share(self) -> float | None:
        """Share of accounts (or amount) that ended in a worse state than they started: the downgrade rate of a
        migration matrix. None when the matrix is empty."""
        total = int(self.counts.sum())
        if total == 0:
            return None
        return float(np.triu(self.counts, k=1).sum() / total)

    def better_share(self) -> float | None:
        total = int(self.counts.sum())
        if total == 0:
            return None
        return float(np.tril(self.counts, k=-1).sum() / total)


def transition_matrix(start: IntArray, end: IntArray, n_states: int, *, weights: IntArray | None = None,
                      states: tuple[str, ...] | None = None) -> TransitionMatrix:
    """Count transitions start[k] → end[k] for paired observations (same account, two dates).

    `weights` (int64) weight each account (amount-weighted matrix); None counts accounts."""
    s = np.asarray(start, dtype=np.int64)
    e = np.asarray(end, dtype=np.int64)
    if s.shape != e.shape:
        raise ValueError("start and end must pair the same accounts")
    if s.size and (s.min() < 0 or e.min() < 0 or s.max() >= n_states or e.max() >= n_states):
        raise ValueError(f"states must lie in 0..{n_states - 1}")
    w = np.ones(s.size, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    counts = np.zeros((n_states, n_states), dtype=np.int64)
    np.add.at(counts, (s, e), w)
    labels = states if states is not None else tuple(str(i) for i in range(n_states))
    return TransitionMatrix(counts, labels)


def pair_observations(ids_a: IntArray, states_a: IntArray, ids_b: IntArray, states_b: IntArray,
                      weights_a: IntArray | None = None) -> tuple[IntArray, IntArray, IntArray | None]:
    """Join two observations of a book on the account id: (state at a, state at b, weight at a) for the
    accounts present at both. Ids must be unique within each observation."""
    ia = np.asarray(ids_a, dtype=np.int64)
    ib = np.asarray(ids_b, dtype=np.int64)
    common, pos_a, pos_b = np.intersect1d(ia, ib, assume_unique=False, return_indices=True)
    if common.size != np.unique(common).size or np.unique(ia).size != ia.size or np.unique(ib).size != ib.size:
        raise ValueError("account ids must be unique within an observation")
    sa = np.asarray(states_a, dtype=np.int64)[pos_a]
    sb = np.asarray(states_b, dtype=np.int64)[pos_b]
    wa = None if weights_a is None else np.asarray(weights_a, dtype=np.int64)[pos_a]
    return sa, sb, wa


def panel_transitions(ids: IntArray, periods: IntArray, states: IntArray, n_states: int) -> TransitionMatrix:
    """Pooled one-period transition matrix of a panel: every account observed in period t and t + 1.

    `periods` are consecutive integers (months); an account seen in t but not in t + 1 contributes nothing
    for that step."""
    i = np.asarray(ids, dtype=np.int64)
    p = np.asarray(periods, dtype=np.int64)
    s = np.asarray(states, dtype=np.int64)
    order = np.lexsort((p, i))
    i, p, s = i[order], p[order], s[order]
    nxt = (i[1:] == i[:-1]) & (p[1:] == p[:-1] + 1)
    if ((i[1:] == i[:-1]) & (p[1:] == p[:-1])).any():
        raise ValueError("an account has two observations in the same period")
    return transition_matrix(s[:-1][nxt], s[1:][nxt], n_states)


def monthly_transitions(ids: IntArray, periods: IntArray, states: IntArray, n_states: int
                        ) -> dict[int, TransitionMatrix]:
    """One transition matrix per starting period t (accounts observed in t and t + 1)."""
    i = np.asarray(ids, dtype=np.int64)
    p = np.asarray(periods, dtype=np.int64)
    s = np.asarray(states, dtype=np.int64)
    order = np.lexsort((p, i))
    i, p, s = i[order], p[order], s[order]
    nxt = (i[1:] == i[:-1]) & (p[1:] == p[:-1] + 1)
    start_p = p[:-1][nxt]
    a, b = s[:-1][nxt], s[1:][nxt]
    out: dict[int, TransitionMatrix] = {}
    for t in np.unique(start_p):
        m = start_p == t
        out[int(t)] = transition_matrix(a[m], b[m], n_states)
    return out


@dataclass(frozen=True)
class VintageCurves:
    """Cumulative bad rate by month on book for each origination cohort.

    `rates[c][k]` is the share of cohort c's accounts that had reached the bad state at or before month on book
    k; None where the cohort has not been on the books k months by the last observation. `sizes[c]` is the
    cohort's number of accounts (the denominator: every account originated in that month)."""

    cohorts: tuple[int, ...]
    months_on_book: tuple[int, ...]
    rates: dict[int, list[float | None]]
    sizes: dict[int, int]


def vintage_curves(ids: IntArray, periods: IntArray, states: IntArray, *, bad_from: int,
                   origination: IntArray | None = None, last_period: int | None = None,
                   max_mob: int | None = None) -> VintageCurves:
    """Month-on-book vintage curves: for each cohort (the account's origination period; by default its first
    observation), the cumulative share of accounts ever in state ≥ `bad_from` by month on book 0, 1, 2, …

    An account's month on book at period t is t − origination. A cohort's curve stops at the last period
    observed in the data (or `last_period`): later months are None, not zero."""
    i = np.asarray(ids, dtype=np.int64)
    p = np.asarray(periods, dtype=np.int64)
    s = np.asarray(states, dtype=np.int64)
    uid, inv = np.unique(i, return_inverse=True)
    if origination is None:
        first = np.full(uid.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, inv, p)
    else:
        first = np.asarray(origination, dtype=np.int64)
        if first.size != uid.size:
            raise ValueError("origination must give one period per account (in sorted id order)")
    mob = p - first[inv]
    if (mob < 0).any():
        raise ValueError("an account is observed before its origination")
    bad_mob = np.full(uid.size, np.iinfo(np.int64).max, dtype=np.int64)
    bad = s >= bad_from
    np.minimum.at(bad_mob, inv[bad], mob[bad])
    end = int(p.max()) if last_period is None else int(last_period)
    cohorts = np.unique(first)
    horizon = int(end - cohorts.min()) if cohorts.size else 0
    if max_mob is not None:
        horizon = min(horizon, int(max_mob))
    mobs = tuple(range(horizon + 1))
    rates: dict[int, list[float | None]] = {}
    sizes: dict[int, int] = {}
    for c in cohorts:
        members = first == c
        n = int(members.sum())
        sizes[int(c)] = n
        observable = end - int(c)
        became = bad_mob[members]
        became = became[became != np.iinfo(np.int64).max]
        counts = np.bincount(became, minlength=horizon + 1)[: horizon + 1].cumsum()
        rates[int(c)] = [float(counts[k] / n) if k <= observable else None for k in mobs]
    return VintageCurves(tuple(int(c) for c in cohorts), mobs, rates, sizes)


def top_shares(keys: IntArray, amounts: IntArray, top: int) -> tuple[list[tuple[int, int]], int]:
    """The `top` keys (customers, groups…) by total amount, with their totals, and the grand total (int64 fen).

    Ties are broken by key so the answer is the same every run."""
    k = np.asarray(keys, dtype=np.int64)
    a = np.asarray(amounts, dtype=np.int64)
    uk, inv = np.unique(k, return_inverse=True)
    sums = np.zeros(uk.size, dtype=np.int64)
    np.add.at(sums, inv, a)
    order = np.lexsort((uk, -sums))[:top]
    return [(int(uk[j]), int(sums[j])) for j in order], int(a.sum())
