"""How long the book's daily snapshots are kept: `creditplan risk prune --keep-days N`.

A snapshot of a million loans is about 13 MB of Parquet (benchmarks/results/risk.json), so a year of daily
snapshots is some 5 GB. The indicator values themselves (the time series the pages read) are rows in the database
and are never pruned; a snapshot is needed only to recompute a date, to list the loans behind a figure, and as the
history the next snapshot carries over (it reads the latest one before it).

The rule: keep every snapshot of the last N days (counted back from the latest snapshot), every month-end (the
roll rates, migration matrices and vintage curves compare month-ends), and for each month-end kept the two a
month-end's daily and weekly indicators compare with (the day before and the week before), so that a month-end
recomputed after pruning still gives the same answer; always keep the latest. Everything else is removed: its
database row first (in one transaction with the `risk.snapshots_pruned` event), then its folder. A date whose
snapshot is gone can no longer be recomputed (`snapshot_not_kept`); its stored values stay.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass

from django.db import transaction

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import ValidationError
from creditplan.ledger import services as ledger
from creditplan.risk import store
from creditplan.risk.models import Snapshot

MIN_KEEP_DAYS = 8  # a week back: the weekly indicators of the latest date can still be recomputed


@dataclass(frozen=True)
class PruneReport:
    removed: list[dt.date]
    kept: int
    bytes_freed: int
    dry_run: bool


def _month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def to_keep(dates: list[dt.date], keep_days: int) -> set[dt.date]:
    """The snapshots the rule keeps (see the module docstring)."""
    if not dates:
        return set()
    latest = max(dates)
    keep = {d for d in dates if d > latest - dt.timedelta(days=keep_days)} | {latest}
    for d in dates:
        if _month_end(d):
            keep |= {d, d - dt.timedelta(days=1), d - dt.timedelta(days=7)}
    return keep & set(dates)


def _size(day: dt.date) -> int:
    folder = store.folder(day)
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.exists() else 0


def prune_snapshots(keep_days: int, *, actor: Actor | None = None, dry_run: bool = False) -> PruneReport:
    """Remove the snapshots the retention rule does not keep; `dry_run` only says which."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < MIN_KEEP_DAYS:
        raise ValidationError(f"keep at least the last {MIN_KEEP_DAYS} days of snapshots", field="keep_days",
                              code="keep_days_too_short")
    dates = list(Snapshot.objects.order_by("as_of").values_list("as_of", flat=True))
    keep = to_keep(dates, keep_days)
    removed = [d for d in dates if d not in keep]
    freed = sum(_size(d) for d in removed)
    if dry_run or not removed:
        return PruneReport(removed, len(dates) - len(removed), freed, dry_run)
    with transaction.atomic():
        Snapshot.objects.filter(as_of__in=removed).delete()
        ledger.append(actor, "risk.snapshots_pruned", "risk", "snapshots", {
            "removed": len(removed), "first": removed[0].isoformat(), "last": removed[-1].isoformat(),
            "keep_days": keep_days, "bytes": freed})
    for d in removed:  # after the commit: a folder left behind by a failure here is only unused space
        shutil.rmtree(store.folder(d), ignore_errors=True)
    return PruneReport(removed, len(dates) - len(removed), freed, False)
