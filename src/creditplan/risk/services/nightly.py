"""Risk monitoring after the close: the book's snapshot and the day's indicators, run by the close itself.

Registered with the close from RiskConfig.ready() (loans never imports risk: loans/cob/hooks.py). What runs is
set by RISK_AFTER_CLOSE (CREDITPLAN_RISK_AFTER_CLOSE): "indicators" (the default: the snapshot, then every active
indicator, installing the standard set when none is installed), "snapshot" (keep the book only; compute later
with `creditplan risk run --date D`, e.g. on Spark), "off" (nothing — no snapshot is kept, so no indicator can be
computed for those dates).

Failures: the close is done and committed when `after_close` runs, and nothing here can fail or undo it. A
failure is logged and recorded as a `risk.run_failed` event (the step and the reason); `creditplan risk run
--date D` redoes it. The snapshot is the one thing that cannot be redone later — the book of D is overwritten by
the close of D + 1 — so `before_close(D + 1)` takes it if it is missing, and refuses that close (exit status 1
of `creditplan cob run`, with the reason and what to do) when it cannot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from creditplan.core.errors import Conflict, CreditplanError
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.risk import sql
from creditplan.risk.models import Indicator, Snapshot
from creditplan.risk.services.indicators import install_standard
from creditplan.risk.services.run import run_indicators, take_snapshot

log = logging.getLogger("creditplan.risk")

MODES = ("indicators", "snapshot", "off")
T = TypeVar("T")


def mode() -> str:
    """What the close runs afterwards: indicators, snapshot or off (an unknown value: snapshot, and an error in
    the log — the book is never lost to a typing mistake)."""
    value = str(getattr(settings, "RISK_AFTER_CLOSE", "indicators") or "indicators").strip().lower()
    if value not in MODES:
        log.error("CREDITPLAN_RISK_AFTER_CLOSE=%r is not one of %s: only the snapshot is kept", value,
                  ", ".join(MODES))
        return "snapshot"
    return value


@contextlib.contextmanager
def _savepoint() -> Iterator[None]:
    """Inside a caller's transaction (a test, the demo seed), a failure must not break it: a savepoint."""
    if sql.in_transaction():
        with transaction.atomic():
            yield
    else:
        yield


def _guarded(fn: Callable[[], T]) -> T:
    with _savepoint():
        return fn()


def record_failure(day: dt.date, step: str, exc: BaseException) -> None:
    """Log the failure and append `risk.run_failed` (the step and the reason); never raises."""
    code = getattr(exc, "code", "") if isinstance(exc, CreditplanError) else type(exc).__name__
    reason = (exc.message if isinstance(exc, CreditplanError) else str(exc)) or type(exc).__name__
    log.error("risk %s after the close of %s failed: %s (redo it with `creditplan risk run --date %s`)", step, day,
              reason, day, exc_info=exc)
    try:
        with transaction.atomic():
            ledger.append(None, "risk.run_failed", "risk", day.isoformat(), {
                "as_of": day.isoformat(), "step": step, "code": str(code)[:60], "reason": reason[:500]})
    except Exception:  # the log line above is then the only record
        log.exception("risk.run_failed could not be recorded for %s", day)


def after_close(day: dt.date) -> None:
    """After the close of `day` (registered with loans.cob): the snapshot, then the indicators (per `mode()`).
    Never raises: a failure is recorded (`risk.run_failed`) for `creditplan risk run --date D` to redo."""
    what = mode()
    if what == "off":
        return
    try:
        _guarded(lambda: take_snapshot(day))
    except Exception as exc:  # noqa: BLE001 - recorded; before_close of the next date tries again
        record_failure(day, "snapshot", exc)
        return
    if what != "indicators":
        return
    try:
        def compute() -> None:
            if not Indicator.objects.exists():
                install_standard(None)
            run_indicators(day)

        _guarded(compute)
    except Exception as exc:  # noqa: BLE001 - recorded; `creditplan risk run --date D` redoes it
        record_failure(day, "indicators", exc)


def before_close(day: dt.date) -> None:
    """Before the close of `day` (registered with loans.cob): the last closed date's snapshot must be kept, or it
    is lost. Taken now if the run after that close did not take it; the close is refused when it cannot be."""
    if mode() == "off":
        return
    previous = loans.last_closed_date()
    if previous is None or previous >= day or Snapshot.objects.filter(as_of=previous).exists():
        return
    if sql.close_begun_after(previous):
        # a close after `previous` has begun already (this date's, resumed): that book is gone, nothing to keep
        log.warning("the book after the close of %s was not kept for risk monitoring and cannot be any more", previous)
        return
    try:
        _guarded(lambda: take_snapshot(previous))
    except Exception as exc:
        record_failure(previous, "snapshot", exc)
        reason = exc.message if isinstance(exc, CreditplanError) else str(exc) or type(exc).__name__
        raise Conflict(
            f"the book after the close of {previous} could not be kept for risk monitoring ({reason}); closing "
            f"{day} would lose it for good. Fix the cause and run `creditplan risk run --date {previous}`, then "
            f"close {day} again (or set CREDITPLAN_RISK_AFTER_CLOSE=off to close without risk monitoring)",
            code="risk_snapshot_missing", field="date") from exc
