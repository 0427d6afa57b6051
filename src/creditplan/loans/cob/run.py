"""The run of a close: one business date over every active loan, in chunks of whole customers, one transaction
each; restartable and idempotent (see the package docstring) — and `advance_loan`, the same close applied to one
loan day by day.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

import creditplan.loans.cob.hooks as hooks
from creditplan.core.access import Actor
from creditplan.core.errors import ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import clock, values
from creditplan.loans.cob.context import Context
from creditplan.loans.cob.day import close_day
from creditplan.loans.cob.points import fault, point
from creditplan.loans.cob.report import CloseReport, sum_totals
from creditplan.loans.cob.written_off import accrue_written_off
from creditplan.loans.models import CloseChunk, CloseRun, Loan
from creditplan.loans.payments import replay
from creditplan.loans.sql import close as close_sql
from creditplan.loans.sql.close import first_open_date
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["advance_loan", "run_close"]

log = logging.getLogger("creditplan.loans.cob")


def customer_ranges(day: dt.date, chunk_size: int) -> tuple[list[tuple[int, int, int]], int]:
    """Chunks as (first customer id, last customer id, loans): whole customers, about chunk_size loans each."""
    rows = close_sql.active_loans_per_customer(day)
    if not rows:
        return [], 0
    arr = np.array(rows, dtype=np.int64)
    customers, counts = arr[:, 0], arr[:, 1]
    ranges = []
    start, acc = 0, 0
    for i, c in enumerate(counts.tolist()):
        acc += c
        if acc >= chunk_size:
            ranges.append((int(customers[start]), int(customers[i]), acc))
            start, acc = i + 1, 0
    if acc:
        ranges.append((int(customers[start]), int(customers[-1]), acc))
    return ranges, int(counts.sum())


def _begin(day: dt.date, actor: Actor | None) -> CloseRun:
    with transaction.atomic():
        run = CloseRun.objects.select_for_update().filter(business_date=day).first()
        if run is None:
            run = CloseRun.objects.create(business_date=day, started_by=actor if getattr(actor, "pk", None) else None)
        elif run.status != "done":
            run.attempts += 1
            run.save(update_fields=["attempts"])
    return run


def run_close(business_date: Any, *, actor: Actor | None = None, chunk_size: int = 20_000,
              progress: Callable[[int, int], None] | None = None, stop_after_chunks: int | None = None
              ) -> CloseReport:
    """Close `business_date` for every active loan (see the module docstring). Restartable and idempotent.

    actor=None is the scheduler (system); a user needs the close_run permission. `progress(done, total)` is
    called after each chunk with loan counts of this run. `stop_after_chunks` stops after that many chunks
    of this run, leaving the date open (status running), as an interruption would."""
    if actor is not None:
        org.require(actor, Perm.CLOSE_RUN)
    day = values.parse_date(business_date, "date")
    if day > clock.business_date():
        raise ValidationError(f"{day} is in the future: a business date is closed once it has begun",
                              field="date", code="date_in_future")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValidationError("chunk_size must be a whole number ≥ 1", field="chunk_size")
    existing = CloseRun.objects.filter(business_date=day).first()
    if existing is not None and existing.status == "done":
        return CloseReport.from_run(existing, already_done=True)
    first_open = first_open_date()
    if first_open is not None and first_open < day:
        raise ValidationError(f"close {first_open} first: loans are not yet closed through it", field="date",
                              code="previous_day_open")
    hooks.before_close(day)  # the apps above loans keep what they need of the previous date (cob/hooks.py)
    release = close_sql.run_lock(day)
    try:
        report = _run(day, actor, chunk_size, progress, stop_after_chunks)
    finally:
        release()
    if report.status == "done":
        hooks.after_close(day)  # outside the close's transactions; cannot fail or undo it
    return report


def _run(day: dt.date, actor: Actor | None, chunk_size: int, progress: Callable[[int, int], None] | None,
         stop_after_chunks: int | None) -> CloseReport:
    started = time.perf_counter()
    run = _begin(day, actor)
    ctx = Context.load(actor)
    ranges, total = customer_ranges(day, chunk_size)
    done = 0
    chunks = 0
    for lo, hi, _count in ranges:
        if stop_after_chunks is not None and chunks >= stop_after_chunks:
            report = CloseReport(day, "running", sum_totals(CloseChunk.objects.filter(run=run)
                                                             .values_list("totals", flat=True)),
                                 CloseChunk.objects.filter(run=run).count(), loans_this_run=done,
                                 chunks_this_run=chunks, seconds=time.perf_counter() - started, attempts=run.attempts)
            return report
        t = time.perf_counter()
        point("chunk_start")
        with transaction.atomic():
            out = _close_chunk(ctx, run, day, lo, hi, t)
            point("before_commit")
        point("after_commit")
        chunks += 1
        done += out
        if progress is not None:
            progress(done, total)
    fault("before_finish")
    written_off = accrue_written_off(ctx, day)  # the off-balance record of written-off loans (账销案存)
    report = _finish(run, day, actor, started, done, chunks, written_off)
    fault("after_finish")
    if ledger.signing_key_configured():
        # The close is complete either way; a failure to sign is reported, not a reason to fail the close.
        try:
            head = ledger.issue_tree_head(actor if ledger.may_issue_tree_heads(actor) else None, reason="close")
        except Exception:  # logged with its traceback; `creditplan ledger sth` can be run again
            log.exception("the close of %s is done but no signed tree head could be issued", day)
        else:
            report.tree_head_size = head.tree_size
            stored = CloseRun.objects.get(pk=run.pk).report
            CloseRun.objects.filter(pk=run.pk).update(report={**stored, "tree_head_size": head.tree_size})
    return report


def _close_chunk(ctx: Context, run: CloseRun, day: dt.date, lo: int, hi: int, t: float) -> int:
    out = close_day(ctx, day, "l.customer_id >= %s AND l.customer_id <= %s", [lo, hi], record=True,
                       batch_ref=f"close:{day.isoformat()}:{{first}}")
    if out is None:
        return 0
    chunk, totals = out
    CloseChunk.objects.create(run=run, first_loan_id=int(chunk.ids[0]), loans=len(chunk), totals=totals,
                              seconds=round(time.perf_counter() - t, 4))
    return len(chunk)


def _finish(run: CloseRun, day: dt.date, actor: Actor | None, started: float, done: int, chunks: int,
            written_off: dict[str, int]) -> CloseReport:
    with transaction.atomic():
        run = CloseRun.objects.select_for_update().get(pk=run.pk)
        parts = list(CloseChunk.objects.filter(run=run).values_list("totals", "seconds"))
        totals = sum_totals(p[0] for p in parts)
        totals.update(written_off)
        report = CloseReport(day, "done", totals, len(parts), loans_this_run=done, chunks_this_run=chunks,
                             seconds=time.perf_counter() - started, attempts=run.attempts)
        run.status = "done"
        run.finished_at = timezone.now()
        run.report = {**report.as_dict(), "chunk_seconds": round(sum(p[1] for p in parts), 3)}
        run.save(update_fields=["status", "finished_at", "report"])
        ledger.append(actor, "loan.close_completed", "close", day.isoformat(), {
            "business_date": day, "loans": totals["loans"], "chunks": len(parts), "attempts": run.attempts,
            "accrual_minor": totals["accrual_minor"], "reclass_minor": totals["reclass_minor"],
            "penalty_minor": totals["penalty_minor"], "fees_minor": totals["due_fee_minor"] + totals["late_fee_minor"],
            "installments_due": totals["installments_due"], "auto_debit_minor": totals["auto_debit_minor"],
            "rate_resets": totals["rate_resets"], "closed": totals["closed"], "classes": totals["classes"],
            "buckets": totals["buckets"], "npl_ratio": str(report.npl_ratio),
            "non_accrual_entered": totals["non_accrual_entered"], "non_accrual_left": totals["non_accrual_left"],
            "off_balance_minor": totals["off_balance_minor"], "memo_interest_minor": totals["memo_interest_minor"]})
    return report


def advance_loan(loan: Loan, through: Any, *, record: bool = True) -> dict[str, Any]:
    """Apply the close to one loan for every day from loan.closed_through + 1 through `through`, with the same
    code as the nightly run. record=False (replaying a loan after a reversal or a backdated payment): only
    the loan's columns and installment rows change — no journal entry, activity or event; the caller posts
    one adjustment entry for the difference. Returns the totals summed over the days; reloads `loan`."""
    through = values.parse_date(through, "through")
    ctx = Context.load()
    parts: list[dict[str, Any]] = []
    with transaction.atomic():
        loan.refresh_from_db()
        day = loan.closed_through + dt.timedelta(days=1)
        while day <= through:
            out = close_day(ctx, day, "l.id = %s", [loan.pk], record=record, loan=loan,
                               batch_ref=f"advance:{day.isoformat()}:{{first}}")
            if out is None:  # closed or written off meanwhile
                break
            parts.append(out[1])
            day += dt.timedelta(days=1)
    loan.refresh_from_db()
    return sum_totals(parts)


replay.use_advance(advance_loan)  # a back-dated payment or a reversal replays the loan with the same close
