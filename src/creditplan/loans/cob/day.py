"""One close day over a set of loans — the heart shared by `run_close` (a chunk of whole customers) and
`advance_loan` (one loan, day by day): read the columns, the kernel and the steps around it, write the columns
back, then (when recording) the activities, the journal entries per branch and the contract-clause events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from creditplan.core.errors import Conflict
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, plan_book
from creditplan.loans.cob.context import Context
from creditplan.loans.cob.debit import batch_debit
from creditplan.loans.cob.points import point
from creditplan.loans.cob.steps import (
    Effects,
    auto_debit,
    closures,
    entries_by_branch,
    event_activities,
    fall_due_installments,
    gl_amounts,
    rate_resets,
)
from creditplan.loans.domain import kernel as K
from creditplan.loans.models import Loan
from creditplan.loans.sql import close as close_sql
from creditplan.loans.sql.close import Chunk

__all__ = ["clause_events", "close_day"]


def close_day(ctx: Context, day: dt.date, where: str, params: list[Any], *, record: bool,
                 loan: Loan | None = None, batch_ref: str = "") -> tuple[Chunk, dict[str, Any]] | None:
    """Close `day` for the active loans matching `where` not yet closed through it. Runs inside the caller's
    transaction. record=False (replay): loan columns and installments only, no GL, activity or chunk row."""
    d = day.toordinal()
    # issue 18: the debit of mandated settlement accounts, a payment on the day before the kernel (cob/debit.py);
    # the principal it repays reaches the credit plan's book once for the chunk, below (issue 19 §5)
    with plan_book.collecting() as repaid:
        debits = batch_debit(ctx.actor, day, where, params) if record else {}
    chunk = close_sql.read_chunk(where, params, d)
    if not len(chunk):
        return None
    behind = chunk.state["closed_through"] != d - 1
    if behind.any():
        first = int(chunk.ids[np.flatnonzero(behind)[0]])
        raise Conflict(f"loan {first} is not closed through {day - dt.timedelta(days=1)}; close that date first",
                       code="previous_day_open")
    point("after_read")
    prm = ctx.params_for(chunk)
    res = K.fall_due(chunk.state, prm, d)
    fx = Effects(len(chunk))
    rows, nxt = fall_due_installments(res, chunk, day, fx)
    auto_debit(res, chunk, ctx, day, fx)
    if len(rows):
        K.roll(res, rows, nxt)
    point("after_installments")
    rate_resets(res, chunk, ctx, day, fx)
    point("after_resets")
    K.assess(res, prm, chunk.keys["customer_id"])
    closures(res, chunk, day, fx)
    point("after_assess")
    close_sql.write_loans(chunk, res.state)
    point("after_loans")
    totals = {**res.totals, **fx.totals, **debits}
    if record:
        # the chunk's principal repaid (debits and auto-debits) reaches the credit plan's book in ONE call, before
        # the chunk's clause events (quota rows are locked before the ledger's sequencer, as reservations do)
        for loan_id, delta in fx.principal.items():
            repaid[loan_id] = repaid.get(loan_id, 0) + delta
        plan_book.principal_moved_many(repaid, day, "repayment")
        point("after_plan_book")
        event_activities(res, chunk, fx)
        close_sql.insert_activities(fx.activities, day)
        point("after_activities")
        entries = entries_by_branch(gl_amounts(res, fx), chunk.keys["branch_id"], ctx)
        batch_ref = batch_ref.format(first=int(chunk.ids[0]))  # the chunk's first loan names its entries
        if loan is not None:
            for kind, lines in entries:
                accounting.post_entry(day, kind, lines, loan=loan, batch_ref=batch_ref, memo=f"close {day} {loan.ref}")
        else:
            accounting.post_entries(day, entries, batch_ref=batch_ref)
        point("after_gl")
        clause_events(ctx, chunk, fx.activities, day)
        point("after_clause_events")
    return chunk, totals


def clause_events(ctx: Context, chunk: Chunk, activities: list[tuple[int, str, str, int, dict[str, Any]]],
                   day: dt.date) -> None:
    """Every contract clause the close executed is a ledger event naming the clause and the term sheet (by its
    digest) it comes from — in the chunk's transaction, last, so a killed close leaves neither half."""
    executed = [a for a in activities if a[2]]
    if not executed:
        return
    ids = sorted({a[0] for a in executed})
    refs = close_sql.loan_refs(ids)
    row_of = {int(loan_id): row for row, loan_id in enumerate(chunk.ids.tolist())}
    specs = []
    for loan_id, kind, clause, amount, detail in executed:
        sheet = ctx.sheets[int(chunk.keys["terms_key"][row_of[loan_id]])]
        specs.append(ledger.EventSpec("loan.clause_executed", "loan", refs[loan_id], {
            "clause": clause, "action": kind, "business_date": day, "amount_minor": amount, "detail": detail,
            "term_sheet": sheet.digest}))
    ledger.append_many(ctx.actor, specs)
