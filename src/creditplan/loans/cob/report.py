"""What a close reports: the totals of one business date summed over its chunks (this run and any interrupted
run before it), the NPL ratio, and the report stored on the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from creditplan.loans.models import CloseRun

__all__ = ["CloseReport", "npl_ratio", "sum_totals"]

_SUMMED = ("loans", "accrual_minor", "reclass_minor", "due_principal_minor", "due_fee_minor", "penalty_minor",
           "late_fee_minor", "late_fees", "installments_due", "matured", "penalty_started", "class_changes",
           "frozen", "auto_debits", "auto_debit_minor", "rate_resets", "rate_resets_skipped", "closed",
           "refund_minor", "non_accrual_entered", "non_accrual_left", "off_balance_minor", "moved_off_minor",
           "moved_back_minor",
           "debits", "debit_asked_minor", "debit_minor", "debit_short_minor")  # issue 18: settlement debits
_LISTS = {"buckets": 8, "classes": 5, "principal_by_class": 5}


def sum_totals(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: 0 for k in _SUMMED}
    out.update({k: [0] * n for k, n in _LISTS.items()})
    for t in parts:
        for k in _SUMMED:
            out[k] += int(t.get(k, 0))
        for k, n in _LISTS.items():
            vals = t.get(k) or [0] * n
            out[k] = [a + int(b) for a, b in zip(out[k], vals, strict=False)]
    return out


def npl_ratio(totals: dict[str, Any]) -> Decimal:
    by_class = totals.get("principal_by_class") or [0] * 5
    total = sum(by_class)
    if not total:
        return Decimal("0")
    return (Decimal(sum(by_class[2:])) / Decimal(total)).quantize(Decimal("0.000001"))


@dataclass
class CloseReport:
    """What a close of one business date did. `totals` are over every chunk of the date (this run and any
    interrupted run before it); `loans_this_run` is what this call processed (0 when the date was done)."""

    business_date: dt.date
    status: str  # done | running (stopped early)
    totals: dict[str, Any]
    chunks: int
    loans_this_run: int = 0
    chunks_this_run: int = 0
    seconds: float = 0.0
    attempts: int = 1
    already_done: bool = False
    tree_head_size: int | None = None

    @property
    def loans(self) -> int:
        return int(self.totals.get("loans", 0))

    @property
    def npl_ratio(self) -> Decimal:
        return npl_ratio(self.totals)

    def as_dict(self) -> dict[str, Any]:
        return {"business_date": self.business_date.isoformat(), "status": self.status, "loans": self.loans,
                "chunks": self.chunks, "loans_this_run": self.loans_this_run,
                "chunks_this_run": self.chunks_this_run, "seconds": round(self.seconds, 3),
                "attempts": self.attempts, "npl_ratio": str(self.npl_ratio), "totals": self.totals,
                "tree_head_size": self.tree_head_size}

    @classmethod
    def from_run(cls, run: CloseRun, *, already_done: bool) -> CloseReport:
        r = run.report or {}
        return cls(business_date=run.business_date, status=run.status, totals=r.get("totals") or {},
                   chunks=int(r.get("chunks", 0)), seconds=float(r.get("seconds", 0.0)), attempts=run.attempts,
                   already_done=already_done, tree_head_size=r.get("tree_head_size"))
