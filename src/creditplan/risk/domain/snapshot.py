"""The loan book as it stood at the end of a business day: the columns indicators and early warning read, and the
history kept from one snapshot to the next.

Why snapshots: the loan table holds today's state only, but a roll rate compares a loan with itself a month ago,
a vintage curve follows a cohort month by month, and a recomputation of last Tuesday's indicators must give last
Tuesday's answer. After each close the book is read once (columns, not objects) and kept; everything else is
computed from the kept snapshots.

Dates are carried as day numbers (`date.toordinal()`, int64), missing dates as -1.

Derived history (carried from the previous snapshot, joined on the loan id):
- ``worst_dpd``: the most days past due the loan has ever had at a snapshot;
- ``fpd`` / ``fpd_known``: first payment default — judged once the first instalment is 30 days past its due
  date: the loan was then 30+ days past due on that same first instalment (its oldest unpaid due date is the
  first due date). Once judged it never changes;
- ``default_3m`` / ``default_3m_known``: 30+ days past due at any snapshot within three months of the start
  (``worst_dpd_3m``), judged once three months have passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

NO_DATE = -1
FPD_DAYS = 30
DEFAULT_DPD = 30

Columns = dict[str, NDArray[np.generic]]

CARRIED = ("worst_dpd", "worst_dpd_3m", "fpd", "fpd_known", "default_3m", "default_3m_known")
"""What a snapshot takes over from the previous one."""


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _split(days: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Day numbers → (months since January 1970, day of the month), vectorised."""
    d64 = (np.asarray(days, dtype=np.int64) - _EPOCH).astype("datetime64[D]")
    month = d64.astype("datetime64[M]")
    return month.astype(np.int64), (d64 - month.astype("datetime64[D]")).astype(np.int64) + 1


def add_months_ordinal(days: NDArray[np.int64], months: int) -> NDArray[np.int64]:
    """Day numbers `months` calendar months later (the day of month kept, capped at the month's end)."""
    month, day = _split(days)
    target = month + months
    first = target.astype("datetime64[M]").astype("datetime64[D]")
    length = ((target + 1).astype("datetime64[M]").astype("datetime64[D]") - first).astype(np.int64)
    result = first + (np.minimum(day, length) - 1).astype("timedelta64[D]")
    return np.asarray(result.astype(np.int64) + _EPOCH, dtype=np.int64)


def months_on_book(start: NDArray[np.int64], as_of: dt.date) -> NDArray[np.int64]:
    """Whole calendar months from the start date to the as-of date (0 in the first month)."""
    month, day = _split(start)
    now_month, now_day = _split(np.array([as_of.toordinal()], dtype=np.int64))
    n = now_month[0] - month - (now_day[0] < day)
    return np.asarray(np.maximum(n, 0), dtype=np.int64)


def _carried(current_ids: NDArray[np.int64], previous: Mapping[str, NDArray[np.generic]] | None
             ) -> tuple[Columns, NDArray[np.bool_]]:
    """The previous snapshot's carried columns aligned on today's loans (zeros where a loan is new)."""
    n = current_ids.size
    out: Columns = {c: np.zeros(n, dtype=np.int64) for c in CARRIED}
    found = np.zeros(n, dtype=bool)
    if previous is None or np.asarray(previous["loan"]).size == 0:
        return out, found
    prev_ids = np.asarray(previous["loan"], dtype=np.int64)
    order = np.argsort(prev_ids, kind="stable")
    pos = np.searchsorted(prev_ids[order], current_ids)
    pos = np.clip(pos, 0, prev_ids.size - 1)
    hit = prev_ids[order][pos] == current_ids
    src = order[pos[hit]]
    for c in CARRIED:
        out[c][hit] = np.asarray(previous[c], dtype=np.int64)[src]
    found[hit] = True
    return out, found


def derive(book: Mapping[str, NDArray[np.generic]], as_of: dt.date,
           previous: Mapping[str, NDArray[np.generic]] | None) -> Columns:
    """Today's snapshot: the book's columns plus the derived history.

    `book` holds, per loan: loan (id), start, first_due, oldest_due (day numbers; oldest_due -1 when nothing is
    overdue), dpd, and whatever else is to be kept (copied as it is). `previous` is the last snapshot before
    `as_of` (None for the first)."""
    ids = np.asarray(book["loan"], dtype=np.int64)
    ordered = np.sort(ids)  # (a sort: np.unique hashes, ten times slower on a million ids)
    if ordered.size and bool((ordered[1:] == ordered[:-1]).any()):
        raise ValueError("a loan appears twice in the book")
    day = as_of.toordinal()
    start = np.asarray(book["start"], dtype=np.int64)
    first_due = np.asarray(book["first_due"], dtype=np.int64)
    oldest_due = np.asarray(book["oldest_due"], dtype=np.int64)
    dpd = np.asarray(book["dpd"], dtype=np.int64)
    carried, _seen = _carried(ids, previous)

    out: Columns = {k: np.asarray(v) for k, v in book.items()}
    out["months_on_book"] = months_on_book(start, as_of)
    out["worst_dpd"] = np.maximum(carried["worst_dpd"], dpd)

    three_months = add_months_ordinal(start, 3)
    within = day <= three_months
    worst_3m = np.where(within, np.maximum(carried["worst_dpd_3m"], dpd), carried["worst_dpd_3m"]).astype(np.int64)
    out["worst_dpd_3m"] = worst_3m

    fpd_due = first_due + FPD_DAYS
    judged_before = carried["fpd_known"].astype(bool)
    judge_now = ~judged_before & (day >= fpd_due)
    fpd_now = (dpd >= FPD_DAYS) & (oldest_due == first_due)
    out["fpd_known"] = (judged_before | judge_now).astype(np.int64)
    out["fpd"] = np.where(judged_before, carried["fpd"], np.where(judge_now, fpd_now, 0)).astype(np.int64)

    d3_before = carried["default_3m_known"].astype(bool)
    d3_now = ~d3_before & ~within
    out["default_3m_known"] = (d3_before | d3_now).astype(np.int64)
    out["default_3m"] = np.where(d3_before, carried["default_3m"],
                                 np.where(d3_now, worst_3m >= DEFAULT_DPD, 0)).astype(np.int64)
    return out


def with_previous(current: Mapping[str, NDArray[np.generic]], earlier: Mapping[str, NDArray[np.generic]] | None,
                  fields: tuple[str, ...] = ("outstanding", "bucket", "risk_class")) -> Columns:
    """Today's rows with the same loans' values at an earlier snapshot (`prev_<field>`, and `has_prev`).

    A snapshot keeps the loans that left the book recently (repaid: outstanding 0, current; written off: their
    last delinquency, flagged), so a roll rate counts a repaid loan as cured and a written-off one as rolled, not
    as vanished. Loans new since the earlier snapshot have has_prev 0."""
    out: Columns = {k: np.asarray(v) for k, v in current.items()}
    ids = np.asarray(out["loan"], dtype=np.int64)
    n = ids.size
    hit = np.zeros(n, dtype=bool)
    src = np.zeros(n, dtype=np.int64)
    if earlier is not None and np.asarray(earlier["loan"]).size:
        prev_ids = np.asarray(earlier["loan"], dtype=np.int64)
        order = np.argsort(prev_ids, kind="stable")
        pos = np.clip(np.searchsorted(prev_ids[order], ids), 0, prev_ids.size - 1)
        hit = prev_ids[order][pos] == ids
        src = order[pos]
    out["has_prev"] = hit.astype(np.int64)
    for f in fields:
        values = np.asarray(earlier[f], dtype=np.int64) if earlier is not None and hit.any() else np.zeros(1, np.int64)
        out[f"prev_{f}"] = np.where(hit, values[np.where(hit, src, 0)], 0).astype(np.int64)
    return out
