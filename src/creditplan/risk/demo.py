"""Risk monitoring in the demo (`creditplan seed-demo`, `make demo`): the standard indicators installed and computed
for the demo's closed dates, so that the risk pages open on data — trends, roll rates and vintage curves with
history behind them.

How: the demo's loan history is made by closing every business date of about eighteen months (loans/demo.py). While
it runs, the close keeps each date's snapshot (`RISK_AFTER_CLOSE = "snapshot"`: computing every indicator after each
of those closes would make the seed minutes longer for figures nobody looks at). Afterwards the indicators are
computed from the kept snapshots, oldest first, for every month-end of the last year and each of the last two
weeks — what the trend charts and the month-end roll rates read.

The applications of the demo are made after the loans' history, so the last date's snapshot is taken again once they
exist (a demo-only step: a snapshot is otherwise never retaken).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Callable, Iterator

from django.conf import settings

from creditplan.loans import services as loans
from creditplan.risk import store
from creditplan.risk.models import Snapshot
from creditplan.risk.services.indicators import install_standard
from creditplan.risk.services.run import RunSummary, run_indicators, take_snapshot

MONTHS = 12
RECENT_DAYS = 14


@contextlib.contextmanager
def snapshots_only() -> Iterator[None]:
    """While the demo's history is closed: keep each date's snapshot, compute nothing (unless risk after the close
    is off altogether)."""
    before = getattr(settings, "RISK_AFTER_CLOSE", "indicators")
    if before != "off":
        settings.RISK_AFTER_CLOSE = "snapshot"
    try:
        yield
    finally:
        settings.RISK_AFTER_CLOSE = before


def _month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def dates_to_compute(kept: list[dt.date], last: dt.date) -> list[dt.date]:
    """The month-ends of the last year and the last two weeks among the kept snapshots, oldest first."""
    since_month = last - dt.timedelta(days=31 * MONTHS)
    since_day = last - dt.timedelta(days=RECENT_DAYS - 1)
    return sorted({d for d in kept if d >= since_day or (_month_end(d) and d >= since_month)} | {last})


def seed_risk(log: Callable[[str], None] | None = None) -> list[RunSummary]:
    """Install the standard indicators and compute them for the demo's dates (see the module docstring)."""
    say = log or (lambda _msg: None)
    install_standard(None)
    last = loans.last_closed_date()
    if last is None:
        return []
    stale = Snapshot.objects.filter(as_of=last).first()
    if stale is not None:  # taken before the demo's applications and bulk loans existed
        stale.delete()
        shutil.rmtree(store.folder(last), ignore_errors=True)
    take_snapshot(last)
    kept = list(Snapshot.objects.order_by("as_of").values_list("as_of", flat=True))
    done = []
    for day in dates_to_compute(kept, last):
        done.append(run_indicators(day))
    if done:
        say(f"risk: {len(done)} dates computed ({done[0].as_of} … {done[-1].as_of}), "
            f"{sum(s.values for s in done)} values, {sum(s.alerts for s in done)} alerts; "
            f"{len(kept)} snapshots kept")
    return done
