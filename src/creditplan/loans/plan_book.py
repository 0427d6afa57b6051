"""Every change of a loan's principal reaches the credit plan's book (issue 19 §5; docs/plan-book.md).

The plan keeps the loan book by cell (branch, product, industry section, province, segment: plans.models.BookCell)
and each quota's balance is the sum of the cells it covers; it must stay equal to the loans'. So every path that
changes `Loan.principal_outstanding_minor` tells the plan, through this module and nothing else:

    a loan paid out                 disbursement.py (consume_quota: the reservation and the book together; a loan
                                    no plan reserved for: principal_moved "disbursement")
    a repayment at the counter,     payments/records.restore_quota → principal_moved "repayment"; a bank file's
    by the API, a prepayment        batch and the close's chunk → principal_moved_many, ONE call per batch / chunk
    the close's debits and          cob/day.py collects the chunk's debits (`collecting`) and auto-debits, then one
    auto-debits of a credit         principal_moved_many for the chunk
    a reversal, a back-dated        payments/replay.py: the net change the replay made → restore_quota
    payment replayed
    a write-off                     writeoff.py: the principal leaves the book → principal_moved "write_off"
    arrears capitalised             restructure.py → principal_moved "capitalise"
    a book loaded in bulk           bulk.py → book_range "booked"

A loan's cell is computed as the loan book (loans/plan_source.py) computes it, so the plan's reconciliation with
`LoanBook.cells()` matches to the fen. The plan reservation a loan was paid out under (`application_ref`) follows
its principal too. The loans act as trusted code (actor None): the use case that moved the principal has checked
its own permission.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import Sum

from creditplan.loans.models import Loan
from creditplan.loans.plan_source import _cell
from creditplan.plans import services as plans
from creditplan.plans.services.sources import Cell

__all__ = ["book_range", "cell_of", "collecting", "lock_book", "principal_moved", "principal_moved_many"]

# loan id → principal delta, while a caller collects the movements of a batch (the close's chunk)
_collected: ContextVar[dict[int, int] | None] = ContextVar("plan_book_collected", default=None)


def cell_of(loan: Loan, amount: int = 0) -> Cell:
    """The loan's cell (its branch, product, customer's industry section and province, segment) with `amount`."""
    c = loan.customer
    return Cell(loan.branch_id, loan.product.code, (c.industry_code or "")[:1], (c.region_code or "")[:2],
                loan.segment or "", int(amount))


def principal_moved(loan: Loan, delta: int, day: dt.date, kind: str) -> str:
    """The loan's outstanding principal changed by `delta` fen (negative: repaid or written off) on business date
    `day`: move the plan's book (every active plan with an opening book). Inside `collecting()` the change is
    only noted, for the caller's one call at the end of its batch. Returns what the activity records: "none"
    (nothing moved), "restored" (a plan took it), "untracked" (no plan tracks the book)."""
    if not delta:
        return "none"
    pending = _collected.get()
    if pending is not None:
        pending[loan.pk] = pending.get(loan.pk, 0) + int(delta)
        return "restored"
    moves = plans.book_moved(None, on=day, cells=[cell_of(loan, delta)], kind=kind,
                             reservations={loan.application_ref: int(delta)} if loan.application_ref else None)
    return "restored" if moves else "untracked"


def principal_moved_many(deltas: Mapping[int, int], day: dt.date, kind: str) -> int:
    """Many loans' principal moved (loan id → delta, fen): ONE query reads their cells (the loans joined to their
    customers and products, as the loan book reads them) and ONE call moves the plan's book — the close calls it
    once per chunk, a bank file once per batch. Returns the number of plans moved."""
    moved = {int(k): int(v) for k, v in deltas.items() if v}
    if not moved or not plans.opened_plans():
        return 0
    cells: list[Cell] = []
    refs: dict[str, int] = {}
    ids = sorted(moved)
    for i in range(0, len(ids), 10_000):
        for r in Loan.objects.filter(pk__in=ids[i:i + 10_000]).values("id", "application_ref", **_cell()):
            d = moved[r["id"]]
            cells.append(Cell(r["cell_branch"], r["product_code"] or "", r["industry"] or "", r["region"] or "",
                              r["seg"] or "", d))
            if r["application_ref"]:
                refs[r["application_ref"]] = refs.get(r["application_ref"], 0) + d
    return len(plans.book_moved(None, on=day, cells=cells, kind=kind, reservations=refs))


def book_range(first_id: int, last_id: int, day: dt.date, kind: str = "booked") -> int:
    """Loans booked in bulk (ids first_id..last_id, a legacy book loaded or a generated one): their outstanding
    principal enters the plan's book, summed by cell in ONE query."""
    if not plans.opened_plans():
        return 0
    rows = (Loan.objects.filter(pk__gte=first_id, pk__lte=last_id, status="active", principal_outstanding_minor__gt=0)
            .values(**_cell()).annotate(total=Sum("principal_outstanding_minor")).order_by())
    cells = [Cell(r["cell_branch"], r["product_code"] or "", r["industry"] or "", r["region"] or "", r["seg"] or "",
                  int(r["total"] or 0)) for r in rows]
    return len(plans.book_moved(None, on=day, cells=cells, kind=kind))


def lock_book() -> None:
    """Lock the plan's quotas now, before a batch that appends ledger events and moves the book at its end (see
    plans.services.lock_books): the close's chunk, when it has loans to debit."""
    plans.lock_books()


@contextmanager
def collecting() -> Iterator[dict[int, int]]:
    """Collect the principal movements of a batch instead of moving the plan's book loan by loan (the close's
    debits post their payments one by one): the caller moves the book once, with `principal_moved_many`."""
    token = _collected.set({})
    try:
        pending = _collected.get()
        assert pending is not None
        yield pending
    finally:
        _collected.reset(token)
