"""The close from its page (issue 20 §3): which date operations may close next, starting that close without holding
the request, and how far it has got.

`start_close` checks what `run_close` would refuse (the permission, a future date, an earlier open date, a run
already going in this process) and then runs the close in a background thread (settings.CLOSE_IN_BACKGROUND, on by
default) — or in the request when the setting is off (tests; a tiny book). The close is restartable and chunked:
`close_progress` reads how far a date has got from what the chunks committed (the `CloseChunk` rows of the run
and the loans still open for the date), so the page's progress holds whoever runs the close — this page, the CLI,
the scheduler — and survives a restart of the web process (a close killed half-way shows as running with loans
left; starting it again continues with exactly those loans).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, ValidationError
from creditplan.loans import clock
from creditplan.loans.cob.run import run_close
from creditplan.loans.models import CloseChunk, CloseRun
from creditplan.loans.sql import close as close_sql
from creditplan.loans.sql.close import first_open_date
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["CloseProgress", "close_progress", "next_close_date", "start_close"]

log = logging.getLogger("creditplan.loans.cob")

_lock = threading.Lock()
_running: dict[dt.date, threading.Thread] = {}  # closes started from the page in this process
_failed: dict[dt.date, str] = {}  # the code of the error a background close stopped on (shown on the page)


def next_close_date() -> dt.date:
    """The date the next close is for: the earliest date an active loan still needs closed, else the day after the
    last close (or today when nothing was ever closed)."""
    first = first_open_date()
    closed = clock.last_closed_date()
    candidates = [d for d in (first, closed + dt.timedelta(days=1) if closed else None) if d is not None]
    return min(candidates) if candidates else clock.business_date()


@dataclass(frozen=True)
class CloseProgress:
    """How far the close of `day` has got: `status` none (not started) | running | done; loans closed and loans
    still open for the date; `percent` 0–100; `active` when a thread of this process is running it; `failed` the
    error code a background run stopped on."""

    day: dt.date
    status: str
    loans_done: int
    loans_left: int
    chunks: int
    attempts: int
    active: bool
    failed: str = ""

    @property
    def total(self) -> int:
        return self.loans_done + self.loans_left

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.loans_done / self.total) if self.total else 0

    @property
    def finishing(self) -> bool:
        """Every loan is closed; the run's report, the written-off accruals and the tree head are being made."""
        return self.status == "running" and self.active and not self.loans_left


def close_progress(actor: Actor, day: dt.date) -> CloseProgress:
    """How far the close of `day` has got (close_run or gl_view may read it)."""
    if not (org.may(actor, Perm.CLOSE_RUN) or org.may(actor, Perm.GL_VIEW)):
        org.require(actor, Perm.CLOSE_RUN)
    run = CloseRun.objects.filter(business_date=day).first()
    thread = _running.get(day)
    active = thread is not None and thread.is_alive()
    if run is None:
        return CloseProgress(day, "none", 0, _open_loans(day), 0, 0, active, _failed.get(day, ""))
    done = sum(CloseChunk.objects.filter(run=run).values_list("loans", flat=True))
    left = 0 if run.status == "done" else _open_loans(day)
    return CloseProgress(day, run.status, done, left, CloseChunk.objects.filter(run=run).count(), run.attempts,
                         active, "" if run.status == "done" else _failed.get(day, ""))


def _open_loans(day: dt.date) -> int:
    return sum(n for _customer, n in close_sql.active_loans_per_customer(day))


def start_close(actor: Actor, day: Any = None, *, background: bool | None = None) -> CloseProgress:
    """Start (or resume) the close of `day` (default: `next_close_date()`) for a person with close_run. Refused
    before anything runs: a date not yet begun (date_in_future), an earlier date still open (previous_day_open), a
    close of the date already running here (close_running). A date already closed is not closed again (its
    progress says done). In the background the request returns at once; the page polls `close_progress`."""
    org.require(actor, Perm.CLOSE_RUN)
    day = next_close_date() if day in (None, "") else _date(day)
    if day > clock.business_date():
        raise ValidationError(f"{day} has not begun: a business date is closed once it has begun", field="date",
                              code="date_in_future")
    first = first_open_date()
    if first is not None and first < day:
        raise ValidationError(f"close {first} first: loans are not yet closed through it", field="date",
                              code="previous_day_open")
    if background is None:
        background = bool(getattr(settings, "CLOSE_IN_BACKGROUND", True))
    with _lock:
        thread = _running.get(day)
        if thread is not None and thread.is_alive():
            raise Conflict(f"the close of {day} is already running", field="date", code="close_running")
        _failed.pop(day, None)
        if background:
            thread = threading.Thread(target=_run_in_thread, args=(actor, day), name=f"close-{day}", daemon=True)
            _running[day] = thread
            thread.start()
            return close_progress(actor, day)
    run_close(day, actor=actor)
    return close_progress(actor, day)


def _run_in_thread(actor: Actor, day: dt.date) -> None:
    close_sql.fresh_connection()
    try:
        run_close(day, actor=actor)
    except Exception as exc:  # the page shows the code; the log keeps the traceback
        _failed[day] = str(getattr(exc, "code", "") or "close_failed")
        log.exception("the close of %s started from the page stopped", day)
    finally:
        close_sql.fresh_connection()  # this thread's connection is closed when it ends


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", field="date", code="invalid_date") from None
