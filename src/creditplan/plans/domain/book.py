"""The plan over the whole loan book, without Django: which quotas cover a cell of the book, how a movement of the
book moves them, the measures a planner reads (opening balance, balance, net increase 净增, growth rate, new lending)
and the reconciliation of the plan's figures with the loans'.

A *cell* is one combination of the plan's dimensions a loan has: (branch id, product, industry section, province,
segment). A quota *covers* a cell when its branch is the cell's branch or a branch above it (a prefix of the
cell's branch's materialised path; no branch = the whole institution) and each of its other dimensions is blank or
equal to the cell's. A quota's balance is the sum of the balances of the cells it covers, so a movement of a cell's
balance moves every quota covering it by the same amount.

Amounts are integers of fen; rates are exact Fractions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

CellKey = tuple[int, str, str, str, str]  # (branch id, product, industry, region, segment)
DIMENSIONS = ("product", "industry", "region", "segment")


@dataclass(frozen=True, slots=True)
class QuotaDims:
    """A quota's dimensions: its id, its branch's materialised path ("" for the whole institution) and the
    product, industry, region and segment it fixes ("" = all)."""

    id: int
    branch_path: str = ""
    product: str = ""
    industry: str = ""
    region: str = ""
    segment: str = ""


def covers(q: QuotaDims, cell: CellKey, branch_path: str) -> bool:
    """Does quota `q` cover `cell`, whose branch has the materialised path `branch_path`?"""
    if q.branch_path and not branch_path.startswith(q.branch_path):
        return False
    _b, product, industry, region, segment = cell
    return ((not q.product or q.product == product) and (not q.industry or q.industry == industry)
            and (not q.region or q.region == region) and (not q.segment or q.segment == segment))


def coverage(quotas: Iterable[QuotaDims], cells: Iterable[CellKey], paths: Mapping[int, str]
             ) -> dict[CellKey, list[int]]:
    """The ids of the quotas covering each cell (in id order). `paths`: branch id → materialised path."""
    qs = sorted(quotas, key=lambda q: q.id)
    return {cell: [q.id for q in qs if covers(q, cell, paths.get(cell[0], ""))] for cell in cells}


def quota_deltas(deltas: Mapping[CellKey, int], cover: Mapping[CellKey, list[int]]) -> dict[int, int]:
    """A balance movement by cell as a movement by quota: each quota moves by the sum of its cells' deltas."""
    out: dict[int, int] = {}
    for cell, delta in deltas.items():
        for qid in cover.get(cell, ()):
            out[qid] = out.get(qid, 0) + delta
    return out


def applied(current: int, delta: int) -> int:
    """The part of `delta` a balance can take without going below zero (a balance is never negative: a plan whose
    figures disagree with the loans keeps zero, and the reconciliation reports the difference)."""
    return max(delta, -current)


def before_period(on: dt.date, period_start: dt.date) -> bool:
    """A movement dated before the plan's first day changes the book the plan starts from (its opening balance),
    not what happened in the plan's period."""
    return on < period_start


def in_period(on: dt.date, period_start: dt.date, period_end: dt.date) -> bool:
    return period_start <= on <= period_end


@dataclass(frozen=True, slots=True)
class BookMeasures:
    """What the plan measures on a part of the book: the balance on the plan's first day, the balance now, and the
    loans paid out in the period. 净增 (net increase) = balance − opening; growth rate = net increase ÷ opening
    (None when the opening balance is zero: growth from nothing has no rate)."""

    opening: int = 0
    balance: int = 0
    new_lending: int = 0

    @property
    def net_increase(self) -> int:
        return self.balance - self.opening

    @property
    def growth_rate(self) -> Fraction | None:
        if self.opening == 0:
            return None
        return Fraction(self.net_increase, self.opening)

    def __add__(self, other: BookMeasures) -> BookMeasures:
        return BookMeasures(self.opening + other.opening, self.balance + other.balance,
                            self.new_lending + other.new_lending)


@dataclass(frozen=True, slots=True)
class Difference:
    """One figure on which the plan and the loans disagree: a cell's balance (`what` "cell", `key` the cell) or a
    quota's (`what` "quota", `key` its id)."""

    what: str
    key: CellKey | int
    plan_minor: int
    loans_minor: int

    @property
    def difference_minor(self) -> int:
        return self.plan_minor - self.loans_minor


def cell_differences(plan: Mapping[CellKey, int], loans: Mapping[CellKey, int]) -> list[Difference]:
    """Every cell whose balance in the plan is not the loans' (a cell missing on one side counts as zero)."""
    out = []
    for cell in sorted(set(plan) | set(loans)):
        p, x = int(plan.get(cell, 0)), int(loans.get(cell, 0))
        if p != x:
            out.append(Difference("cell", cell, p, x))
    return out


def quota_differences(quotas: Mapping[int, int], cover: Mapping[CellKey, list[int]], loans: Mapping[CellKey, int]
                      ) -> list[Difference]:
    """Every quota whose balance is not the sum of the loans' balances of the cells it covers. `cover` must hold
    every cell of `loans`."""
    expected = quota_deltas({c: int(v) for c, v in loans.items()}, cover)
    out = []
    for qid in sorted(quotas):
        p, x = int(quotas[qid]), expected.get(qid, 0)
        if p != x:
            out.append(Difference("quota", qid, p, x))
    return out
