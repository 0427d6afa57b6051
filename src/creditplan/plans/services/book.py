"""The plan over the whole loan book (issue 19 §5): the opening book a plan starts from, every movement of the loans'
principal reaching the plan, the measures a planner reads (opening balance, balance, net increase 净增, growth rate,
new lending) and the reconciliation of the plan's figures with the loans'.

* **Opening book.** When a plan is activated (`open_book`, from plans.services.plans.activate_plan) the loan book
  registered by loans (plans.services.sources.book().cells(): outstanding principal by branch, product, industry
  section, province and segment) becomes the plan's BookCells, and every quota's opening balance and balance
  (`outstanding_minor`) is the sum of the cells it covers (plans.domain.book.covers). A quota split off later takes
  its figures from the cells at that moment (`open_children`).
* **Movements.** Every change of a loan's principal — a disbursement, a repayment at the counter, in a bank file
  or in the close, a reversal, a write-off, a capitalisation — calls `book_moved` once (loans/plan_book.py: one
  call per loan use case, one per chunk of the close, one per batch of a bank file) for every active plan whose
  book is open: the cells' balances move, and so does the balance of every quota covering each cell (row locks in
  id order, as reservations take them; a Movement per quota; one ledger event per plan and call). A disbursement
  that consumes a reservation moves the book inside `consume_quota` (`consume_into`): the same quotas are moved
  once, with the reservation's own counters. A movement dated before the plan's first day changes its opening
  balance too (the book the plan starts from); a disbursement dated in the period is new lending of its cell.
* **Reconciliation** (`reconcile`; `creditplan plan-reconcile`): each cell's balance against the loans', each
  quota's against the loans' cells it covers; every difference is reported and the run is recorded.

A plan activated before this existed has no opening book (`Plan.opening_date` empty): its quotas keep counting only
the loans reserved under it, until `open_book` is run for it (`creditplan plan-reconcile --plan CODE --open-book`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, NotFound
from creditplan.ledger import services as ledger
from creditplan.org.models import Branch
from creditplan.plans import sql
from creditplan.plans.domain import book as rules
from creditplan.plans.domain.book import CellKey, Difference, QuotaDims
from creditplan.plans.models import BookCell, BookReconciliation, Plan, Quota, Reservation
from creditplan.plans.services.records import dimension_words, quota_label
from creditplan.plans.services.sources import Cell
from creditplan.plans.services.sources import book as book_source

__all__ = ["KINDS", "BookMove", "Reconciliation", "book_moved", "consume_into", "key_of",
           "lock_books", "open_book", "open_children", "open_plan_book", "opened_plans", "reconcile"]

# What moved the book (Movement.kind, at most 12 characters): a loan paid out (one without a reservation of the
# plan, e.g. booked before the plan's period or by a legacy import), principal repaid (counter, API, bank file,
# prepayment, the close's debits), a repayment reversed, principal written off, arrears capitalised, loans booked
# in bulk (a legacy book loaded), a correction.
KINDS = ("disbursement", "repayment", "reversal", "write_off", "capitalise", "booked", "correction")
_NEW_LENDING_KINDS = ("disbursement", "booked")


def key_of(c: Cell) -> CellKey:
    return (int(c.branch_id), c.product or "", c.industry or "", c.region or "", c.segment or "")


def opened_plans() -> list[Plan]:
    """The plans the loans' movements reach: active, with an opening book."""
    return list(Plan.objects.filter(status="active", opening_date__isnull=False).order_by("id"))


def _quota_dims(plan_id: int, after_id: int = 0) -> list[QuotaDims]:
    rows = (Quota.objects.filter(plan_id=plan_id, id__gt=after_id).order_by("id")
            .values_list("id", "branch__path", "product", "industry", "region", "segment"))
    return [QuotaDims(qid, path or "", p, i, r, s) for qid, path, p, i, r, s in rows]


def _paths(branch_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(branch_ids))
    return dict(Branch.objects.filter(id__in=ids).values_list("id", "path")) if ids else {}


def _lock(ids: list[int]) -> dict[int, tuple[int, int]]:
    """Lock the quotas in id order (the order reservations take them: no deadlock); (balance, opening) of each."""
    if not ids:
        return {}
    rows = (Quota.objects.select_for_update().filter(pk__in=ids).order_by("id")
            .values_list("id", "outstanding_minor", "opening_balance_minor"))
    return {qid: (int(o), int(op)) for qid, o, op in rows}


def lock_books() -> int:
    """Lock every quota of the plans with an open book, in id order, for a caller that will append ledger events
    before it moves the book (the close's debits post payments one by one, then move the book once for the
    chunk): quota rows are always locked before the ledger's sequencer, as a reservation locks them, so the two
    never wait for each other. Returns the number of quotas locked."""
    plans = [p.pk for p in opened_plans()]
    if not plans:
        return 0
    return len(list(Quota.objects.select_for_update().filter(plan_id__in=plans).order_by("id")
                    .values_list("id", flat=True)))


@dataclass(frozen=True)
class BookMove:
    """What one movement did to one plan: the cells and quotas moved, the principal delta (fen), and the quotas
    whose balance could not take all of it (they would have gone below zero: the plan disagreed with the loans)."""

    plan: str
    kind: str
    on: dt.date
    cells: int
    quotas: list[int]
    delta_minor: int
    clamped: list[int]

    def event(self) -> dict[str, Any]:
        return {"kind": self.kind, "on": self.on, "cells": self.cells, "quotas": self.quotas,
                "principal_delta_minor": self.delta_minor, "clamped": self.clamped}


def _move(plan: Plan, deltas: Mapping[CellKey, int], kind: str, actor: Actor | None, on: dt.date, *,
          reservation: Reservation | None = None, fixed: Mapping[int, tuple[int, int]] | None = None,
          new_lending: bool = False) -> BookMove:
    """Move the plan's book by `deltas` (outstanding principal by cell): the cells, and every quota covering each
    cell by the sum of its cells' deltas. `fixed`: reserved and consumed deltas of named quotas (a consumption:
    the reservation's own quotas), moved in the same statement and the same Movement as their balance."""
    fixed = fixed or {}
    cells = [c for c, d in deltas.items() if d]
    dims = _quota_dims(plan.pk)
    paths = _paths(c[0] for c in cells)
    cover = rules.coverage(dims, cells, paths)
    by_quota = rules.quota_deltas(deltas, cover)
    locked = _lock(sorted(set(by_quota) | set(fixed)))
    # A quota split off while we waited for the locks (its split held the parent, which covers the same cells and
    # which we lock too) has a higher id than any we read: it covers some of the cells and moves with them.
    newer = _quota_dims(plan.pk, after_id=max((q.id for q in dims), default=0))
    if newer:
        more = rules.quota_deltas(deltas, rules.coverage(newer, cells, paths))
        locked.update(_lock(sorted(set(more) - set(locked))))
        for qid, d in more.items():
            by_quota[qid] = by_quota.get(qid, 0) + d
    pre = rules.before_period(on, plan.period_start)
    rows: list[tuple[int, int, int, int, int]] = []
    clamped = []
    for qid in sorted(set(by_quota) | set(fixed)):
        balance, opening = locked[qid]
        want = by_quota.get(qid, 0)
        moved = rules.applied(balance, want)
        opening_moved = rules.applied(opening, want) if pre else 0
        if moved != want or (pre and opening_moved != want):
            clamped.append(qid)
        reserved, consumed = fixed.get(qid, (0, 0))
        rows.append((qid, reserved, consumed, moved, opening_moved))
    sql.move_quotas(rows, kind, reservation.pk if reservation is not None else None, actor, on)
    counts = new_lending and rules.in_period(on, plan.period_start, plan.period_end)
    sql.upsert_cells(plan.pk, [(c, deltas[c] if pre else 0, deltas[c], deltas[c] if counts and deltas[c] > 0 else 0)
                               for c in cells])
    return BookMove(plan.code, kind, on, len(cells), [r[0] for r in rows], sum(deltas[c] for c in cells), clamped)


def _deltas(cells: Iterable[Cell]) -> dict[CellKey, int]:
    out: dict[CellKey, int] = {}
    for c in cells:
        if c.amount:
            k = key_of(c)
            out[k] = out.get(k, 0) + int(c.amount)
    return {k: v for k, v in out.items() if v}


@transaction.atomic
def book_moved(actor: Actor | None, *, on: dt.date, cells: Iterable[Cell], kind: str,
               reservations: Mapping[str, int] | None = None, exclude_plan: int | None = None) -> list[BookMove]:
    """The loans' principal moved by cell (`Cell.amount`: the change of outstanding principal, fen; negative for a
    repayment): move the book of every active plan with an opening book. `reservations`: the same change by the
    loans' application reference, for the plan reservations they were paid out under (their outstanding follows
    the loan's). `actor` None is trusted code (the loans' own use cases, the close). One ledger event per plan."""
    if kind not in KINDS:
        raise ValueError(f"unknown book movement {kind!r}")
    deltas = _deltas(cells)
    if not deltas:
        return []
    moves = []
    for plan in opened_plans():
        if plan.pk == exclude_plan:
            continue
        moves.append(_move(plan, deltas, kind, actor, on, new_lending=kind in _NEW_LENDING_KINDS))
        if reservations:
            sql.move_reservations(plan.pk, dict(reservations), settle=kind != "write_off")
    if moves:
        ledger.append_many(actor, [ledger.EventSpec("plan.book_moved", "plan", m.plan, m.event()) for m in moves])
    return moves


def consume_into(plan: Plan, r: Reservation, cell: CellKey, paid: int, actor: Actor | None, on: dt.date) -> BookMove:
    """A disbursement consuming reservation `r` of a plan with an opening book (inside consume_quota's transaction):
    the reservation's quotas move from reserved to consumed, the loan's cell takes the principal paid (balance and
    new lending), and so does every quota covering it — each quota once, in one Movement."""
    fixed = {qid: (-r.amount_minor, paid) for qid in r.quotas.values_list("pk", flat=True)}
    return _move(plan, {cell: paid}, "consume", actor, on, reservation=r, fixed=fixed, new_lending=True)


def reservation_moved(plan: Plan, r: Reservation, delta: int, kind: str, actor: Actor | None, on: dt.date
                      ) -> BookMove:
    """Principal of a reservation's loan repaid (delta < 0) or owed again (> 0), told through the plan's own API
    (plans.services.repay_principal / unrepay_principal): its cell, and every quota covering it."""
    cell = (r.branch_id, r.product, r.industry, r.region, r.segment)
    return _move(plan, {cell: delta}, kind, actor, on, reservation=r)


def open_book(plan: Plan, actor: Actor | None) -> tuple[int, int]:
    """Take the plan's opening book from the loans (inside the activation's transaction): the cells, and each
    quota's opening balance and balance. Returns (cells, opening balance of the whole book). No loan book
    registered, or no loans: the plan starts at zero."""
    source = book_source()
    cells = source.cells() if source is not None else []
    deltas = _deltas(cells)
    sql.upsert_cells(plan.pk, [(k, v, v, 0) for k, v in sorted(deltas.items())])
    sums = sql.quota_cell_sums(plan.pk)
    on = plan.opening_date or timezone.localdate()
    sql.move_quotas([(qid, 0, 0, balance, opening) for qid, (opening, balance, _n) in sorted(sums.items())],
                    "opening", None, actor, on)
    return len(deltas), sum(deltas.values())


def open_children(plan: Plan, children: list[Quota], actor: Actor | None) -> None:
    """Quotas split off a plan whose book is open take their opening balance and balance from the cells they cover
    (inside the split's transaction, which holds their parent locked: a movement of those cells waits for it)."""
    if plan.opening_date is None or not children:
        return
    sums = sql.quota_cell_sums(plan.pk, [q.pk for q in children])
    sql.move_quotas([(qid, 0, 0, balance, opening) for qid, (opening, balance, _n) in sorted(sums.items())],
                    "opening", None, actor, timezone.localdate())
    for q in children:
        opening, balance, _n = sums.get(q.pk, (0, 0, 0))
        q.opening_balance_minor, q.outstanding_minor = opening, balance


# --- reconciliation -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reconciliation:
    plan: str
    at: dt.datetime
    cells: int
    quotas: int
    differences: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return not self.differences


def _cell_label(key: Any, codes: Mapping[int, str]) -> str:
    branch_id, product, industry, region, segment = key
    parts = [codes.get(int(branch_id), str(branch_id))]
    return " · ".join([*parts, *dimension_words(product, industry, region, segment)])


def _as_dict(d: Difference, labels: Mapping[Any, str]) -> dict[str, Any]:
    key = list(d.key) if isinstance(d.key, tuple) else d.key
    return {"what": d.what, "key": key, "label": labels.get(d.key, str(d.key)), "plan_minor": d.plan_minor,
            "loans_minor": d.loans_minor, "difference_minor": d.difference_minor}


def _view(r: BookReconciliation, code: str) -> Reconciliation:
    return Reconciliation(code, r.at, r.cells, r.quotas, list(r.differences))


def plan_row(plan_id: int | None = None, code: str | None = None) -> Plan:
    try:
        return Plan.objects.get(pk=plan_id) if plan_id is not None else Plan.objects.get(code=str(code).lower())
    except Plan.DoesNotExist:
        raise NotFound(f"plan {code if plan_id is None else plan_id} not found", code="plan_not_found",
                       field="plan") from None


@transaction.atomic
def reconcile(actor: Actor | None, plan_id: int | None = None, *, code: str | None = None) -> Reconciliation:
    """Compare the plan's book with the loans: every cell's balance with the loans' outstanding principal in it,
    every quota's balance with the loans' principal in the cells it covers. Every difference is reported (what,
    which, the plan's figure, the loans' figure); the run is recorded and is a ledger event. `actor` None is
    trusted code (the command, run after the close)."""
    if actor is not None:
        require(actor, Perm.PLAN_VIEW)
    plan = plan_row(plan_id, code)
    if plan.opening_date is None:
        raise Conflict(f"plan {plan.code} has no opening book: activate it, or open its book first",
                       code="book_not_opened", field="plan")
    source = book_source()
    if source is None:
        raise Conflict("no loan book is registered to reconcile with", code="no_book_source")
    loans = _deltas(source.cells())
    mine = {(b, p, i, r, s): int(o) for b, p, i, r, s, o in BookCell.objects.filter(plan_id=plan.pk).values_list(
        "branch_id", "product", "industry", "region", "segment", "outstanding_minor")}
    dims = _quota_dims(plan.pk)
    cover = rules.coverage(dims, loans.keys(), _paths(c[0] for c in loans))
    quota_rows = {q.pk: q for q in Quota.objects.filter(plan_id=plan.pk).select_related("branch")}
    diffs = rules.cell_differences(mine, loans) + rules.quota_differences(
        {qid: q.outstanding_minor for qid, q in quota_rows.items()}, cover, loans)
    codes = dict(Branch.objects.values_list("id", "code"))
    labels: dict[Any, str] = {k: _cell_label(k, codes) for k in set(mine) | set(loans)}
    labels.update({qid: quota_label(q) for qid, q in quota_rows.items()})
    found = [_as_dict(d, labels) for d in diffs]
    row = BookReconciliation.objects.create(plan=plan, cells=len(set(mine) | set(loans)), quotas=len(quota_rows),
                                            differences=found)
    ledger.append(actor, "plan.book_reconciled", "plan", plan.code, {
        "cells": row.cells, "quotas": row.quotas, "differences": len(found), "first": found[:20]})
    return _view(row, plan.code)


def last_reconciliation(plan_id: int) -> dict[str, Any] | None:
    r = BookReconciliation.objects.filter(plan_id=plan_id).first()
    if r is None:
        return None
    return {"at": r.at, "ok": not r.differences, "count": len(r.differences), "cells": r.cells, "quotas": r.quotas,
            "differences": list(r.differences)[:10]}


@transaction.atomic
def open_plan_book(actor: Actor | None, code: str) -> tuple[int, int]:
    """Take the opening book now for an active plan that has none (activated before the plan tracked the whole
    book): its quotas' balances are replaced by the loans' — the movements so far recorded on them are kept in
    the Movement history, and a correction brings each balance to the book's."""
    if actor is not None:
        require(actor, Perm.PLAN_MANAGE)
    plan = Plan.objects.select_for_update().filter(code=str(code).lower()).first()
    if plan is None:
        raise NotFound(f"plan {code} not found", code="plan_not_found", field="plan")
    if plan.status != "active" or plan.opening_date is not None:
        raise Conflict(f"plan {plan.code} is {plan.status}{' with an opening book' if plan.opening_date else ''}: "
                       "only an active plan without an opening book can have one taken", code="plan_status",
                       field="plan")
    ids = list(Quota.objects.filter(plan=plan).values_list("id", flat=True))
    locked = _lock(ids)
    sql.move_quotas([(qid, 0, 0, -bal, 0) for qid, (bal, _op) in locked.items()], "correction", None, actor,
                    timezone.localdate())
    plan.opening_date = timezone.localdate()
    plan.save(update_fields=["opening_date"])
    cells, total = open_book(plan, actor)
    ledger.append(actor, "plan.book_opened", "plan", plan.code, {"opening_date": plan.opening_date, "cells": cells,
                                                                "opening_minor": total})
    return cells, total
