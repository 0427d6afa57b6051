"""The daily close (close of business, 日终批处理): every active loan, one business date at a time.

What the close of date D does to each active loan not yet closed through D (in this order, per loan):

1. accrues the day's interest (`domain/kernel.py`: exact, no stored remainder);
2. if an installment falls due on D: it becomes `due` (or `paid` if already covered), its principal, interest
   and fee move to the overdue balances (Dr 1322 / Cr 1321 for the interest, Dr 1324 / Cr 6021 for the fee);
3. auto-debit (clause `auto_debit`): a credit balance pays what is due, by the product's waterfall;
4. the loan rolls to its next installment, or matures (clause `maturity`) when none is left;
5. a floating loan whose reset date has come takes LPR + spread within floor and cap (clause `rate_reset`)
   and its unpaid schedule is rebuilt under a new version;
6. DPD; penalty interest beyond the grace days (clause `penalty_interest`, Dr 1323 / Cr 6012); the late fee
   on the fee check date (clause `late_fee`); bucket; five-category class with the restructuring floor and
   the 10 % borrower rule; the limit freeze (clause `limit_freeze`);
7. a loan with nothing left to pay and no installment left closes (any credit left is refunded).

How it is made fast: loans are read and written as columns (raw SQL, no model instances), the arithmetic is
numpy over a whole chunk, and each chunk's postings are aggregated per branch into a few journal entries.

How it is made restartable: loans are processed in chunks of whole customers (the borrower rule needs all of
a customer's loans together), ordered by customer. One chunk = one transaction: the loan columns (with
`closed_through = D`), its installments, activities, journal entries and its `CloseChunk` row commit
together or not at all. A killed run leaves every loan either closed through D or untouched; running the
same date again picks up exactly the loans with `closed_through < D`. Once every loan is done the run is
marked `done` with its report and the ledger event `loan.close_completed`; a second run of a done date
returns the stored report and changes nothing.

`advance_loan` applies the very same steps to one loan, day by day (a backdated payment or a reversal
replays the loan from the payment's value date).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from creditplan.core.daycount import add_months
from creditplan.core.errors import Conflict, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import accounting
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.domain import kernel as K
from creditplan.loans.domain import waterfall as wf
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import build_schedule
from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import sheet_for_product, sheet_from_json
from creditplan.loans.models import CloseChunk, CloseRun, Installment, Loan, Product
from creditplan.org import services as org
from creditplan.org.domain import Perm

log = logging.getLogger(__name__)

__all__ = ["CloseReport", "advance_loan", "first_open_date", "next_reset_after", "run_close"]

FAULT_ENV = "CREDITPLAN_COB_FAULT"
"""Test hook: "point:n" kills this process (SIGKILL) the n-th time the close reaches `point` (see `_fault`)."""

_EPOCH = dt.date(1, 1, 1)
_ORD_EPOCH = 1  # date(1, 1, 1).toordinal()

# Columns the close writes back (the kernel's state less what it only reads, plus the reset fields).
_WRITE_COLUMNS: tuple[str, ...] = tuple(
    c for c in K.STATE_COLUMNS if c not in ("restructured_until", "pre_restructure_class")
) + ("next_reset_date", "schedule_version")
_WRITE_DATES = (K.DATE_COLUMNS | {"next_reset_date"}) & set(_WRITE_COLUMNS)
_KEY_COLUMNS = ("id", "customer_id", "branch_id", "product_id", "terms_key", "basis")
_EXTRA_COLUMNS = ("next_reset_date", "schedule_version", "start_date")


# --------------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------------

_SUMMED = ("loans", "accrual_minor", "reclass_minor", "due_principal_minor", "due_fee_minor", "penalty_minor",
           "late_fee_minor", "late_fees", "installments_due", "matured", "penalty_started", "class_changes",
           "frozen", "auto_debits", "auto_debit_minor", "rate_resets", "rate_resets_skipped", "closed",
           "refund_minor")
_LISTS = {"buckets": 8, "classes": 5, "principal_by_class": 5}


def _sum_totals(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: 0 for k in _SUMMED}
    out.update({k: [0] * n for k, n in _LISTS.items()})
    for t in parts:
        for k in _SUMMED:
            out[k] += int(t.get(k, 0))
        for k, n in _LISTS.items():
            vals = t.get(k) or [0] * n
            out[k] = [a + int(b) for a, b in zip(out[k], vals, strict=False)]
    return out


def _npl_ratio(totals: dict[str, Any]) -> Decimal:
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
        return _npl_ratio(self.totals)

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


# --------------------------------------------------------------------------------------------------------
# Fault injection (tests)
# --------------------------------------------------------------------------------------------------------

_fault_hits: dict[str, int] = {}
PHASE_SECONDS: dict[str, float] = {}
"""Seconds spent up to each point of the chunk pipeline, summed over the process (the benchmark reads it)."""
_last_point = [0.0]


def _point(name: str) -> None:
    """A named point of the chunk pipeline: accounts the time since the previous point, then `_fault`."""
    now = time.perf_counter()
    if name != "chunk_start" and _last_point[0]:
        PHASE_SECONDS[name] = PHASE_SECONDS.get(name, 0.0) + now - _last_point[0]
    _last_point[0] = now
    _fault(name)


def _fault(point: str) -> None:
    """Kill the process outright (no cleanup, no rollback handler: as a power cut would) the n-th time
    `point` is reached, when CREDITPLAN_COB_FAULT="point:n". Used by the restartability tests."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _fault_hits[point] = _fault_hits.get(point, 0) + 1
    if _fault_hits[point] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------------------------------------
# SQL helpers: dates travel as day ordinals (0 = NULL) both ways
# --------------------------------------------------------------------------------------------------------

def _pg() -> bool:
    return connection.vendor == "postgresql"


def _date_in(col: str) -> str:
    if _pg():
        return f"COALESCE(({col} - DATE '0001-01-01') + 1, 0)"
    return f"COALESCE(CAST(julianday({col}) - 1721424.5 AS INTEGER), 0)"


def _ord(d: dt.date | None) -> int:
    return d.toordinal() if d else 0


def _date(o: int) -> dt.date | None:
    return dt.date.fromordinal(int(o)) if o else None


def _iso(o: int) -> str | None:
    return dt.date.fromordinal(int(o)).isoformat() if o else None


def _select_list() -> str:
    basis = "CASE WHEN l.day_count IN ('ACT/360', '30/360') THEN 360 ELSE 365 END"
    cols = ["l.id", "l.customer_id", "l.branch_id", "l.product_id", "COALESCE(l.term_sheet_id, -l.product_id)",
            basis]
    for c in K.STATE_COLUMNS:
        if c in K.DATE_COLUMNS:
            cols.append(_date_in(f"l.{c}"))
        elif c == "frozen":
            cols.append("CASE WHEN l.frozen THEN 1 ELSE 0 END")
        elif c == "pre_restructure_class":
            cols.append("COALESCE(l.pre_restructure_class, 0)")
        else:
            cols.append(f"l.{c}")
    cols += [_date_in("l.next_reset_date"), "l.schedule_version", _date_in("l.start_date")]
    return ", ".join(cols)


@dataclass
class _Chunk:
    """The loans of one chunk as columns, in (customer, id) order."""

    keys: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    extra: dict[str, np.ndarray]

    @property
    def ids(self) -> np.ndarray:
        return self.keys["id"]

    def __len__(self) -> int:
        return len(self.keys["id"])


def _read(where: str, params: list[Any], day: int, *, lock: bool = True) -> _Chunk:
    """The chunk's columns, rows locked (PostgreSQL) so a concurrent payment waits for the chunk to commit."""
    lock_sql = " FOR UPDATE" if lock and _pg() else ""
    sql = (f"SELECT {_select_list()} FROM loans_loan l WHERE {where} AND l.status = 'active' "
           f"AND l.closed_through < %s ORDER BY l.customer_id, l.id{lock_sql}")
    with connection.cursor() as cur:
        if _pg() and connection.in_atomic_block:
            # 20,000 rows of ~220 bytes outgrow the default 4 MB: the sort would spill to disk (≈ +0.1 s a chunk)
            cur.execute("SET LOCAL work_mem = '64MB'")
        cur.execute(sql, [*params, _date(day)])
        rows = cur.fetchall()
    names = _KEY_COLUMNS + K.STATE_COLUMNS + _EXTRA_COLUMNS
    arr = np.array(rows, dtype=np.int64).reshape(len(rows), len(names))
    cols = {n: arr[:, i].copy() for i, n in enumerate(names)}
    return _Chunk(keys={n: cols[n] for n in _KEY_COLUMNS}, state={n: cols[n] for n in K.STATE_COLUMNS},
                  extra={n: cols[n] for n in _EXTRA_COLUMNS})


class _Int8Array:
    """An int64 numpy array bound as a PostgreSQL bigint[] parameter in binary form (see `_bind_arrays`)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values


def _bind_arrays(pg_cursor: Any) -> None:
    """Teach this connection to send `_Int8Array` as binary int8[]: built by numpy in one go. psycopg's own list
    dumper quotes element by element (≈ 35 ms per 20,000-element array in text): 27 arrays a chunk made the
    parameter dumping cost more than the UPDATE itself."""
    import struct

    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class Int8ArrayDumper(Dumper):
        format = Format.BINARY
        oid = 1016  # int8[]

        def dump(self, obj: _Int8Array) -> bytes:
            a = obj.values
            body = np.empty(len(a), dtype=[("len", ">i4"), ("value", ">i8")])
            body["len"] = 8
            body["value"] = a
            return struct.pack("!iiIii", 1, 0, 20, len(a), 1) + body.tobytes()  # 1 dim, no NULL, int8, n, from 1

    pg_cursor.adapters.register_dumper(_Int8Array, Int8ArrayDumper)


def _write_loans(chunk: _Chunk, s: dict[str, np.ndarray]) -> None:
    values = {**s, "next_reset_date": chunk.extra["next_reset_date"],
              "schedule_version": chunk.extra["schedule_version"]}
    with connection.cursor() as cur:
        if _pg():
            sets = []
            for c in _WRITE_COLUMNS:
                if c in _WRITE_DATES:
                    sets.append(f"{c} = DATE '0001-01-01' + (NULLIF(v.{c}, 0) - 1)::int")
                elif c == "frozen":
                    sets.append("frozen = v.frozen <> 0")
                else:
                    sets.append(f"{c} = v.{c}")
            raw = cur.cursor
            _bind_arrays(raw)
            arrays = ", ".join(["%b"] * (len(_WRITE_COLUMNS) + 1))
            raw.execute(f"UPDATE loans_loan AS l SET {', '.join(sets)}, version = l.version + 1 "
                        f"FROM unnest({arrays}) AS v(id, {', '.join(_WRITE_COLUMNS)}) WHERE l.id = v.id",
                        [_Int8Array(np.ascontiguousarray(chunk.ids)),
                         *(_Int8Array(np.ascontiguousarray(values[c])) for c in _WRITE_COLUMNS)])
            if raw.rowcount != len(chunk):
                raise Conflict(f"the close wrote {raw.rowcount} of {len(chunk)} loans", code="close_conflict")
        else:
            sets = ", ".join(f"{c} = %s" for c in _WRITE_COLUMNS)
            cols = [values[c].tolist() for c in _WRITE_COLUMNS]
            rows = []
            for i, loan_id in enumerate(chunk.ids.tolist()):
                row: list[Any] = []
                for c, col in zip(_WRITE_COLUMNS, cols, strict=True):
                    row.append(_iso(col[i]) if c in _WRITE_DATES else bool(col[i]) if c == "frozen" else col[i])
                row.append(loan_id)
                rows.append(row)
            cur.executemany(f"UPDATE loans_loan SET {sets}, version = version + 1 WHERE id = %s", rows)


def _id_list_sql(ids: Sequence[int], column: str) -> tuple[str, list[Any]]:
    if _pg():
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _batches(seq: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


# --------------------------------------------------------------------------------------------------------
# Contract parameters (term sheets) and reference data, loaded once per run
# --------------------------------------------------------------------------------------------------------

@dataclass
class _Context:
    params: dict[int, tuple[int, ...]]  # terms key → PARAM_COLUMNS less basis
    sheets: dict[int, Sheet]
    waterfalls: dict[int, tuple[str, ...]]  # product id → order
    branches: dict[int, str]
    actor: Any = None

    @classmethod
    def load(cls, actor: Any = None) -> _Context:
        from creditplan.loans.models import TermSheet
        from creditplan.org.models import Branch

        sheets: dict[int, Sheet] = {}
        for pk, body in TermSheet.objects.values_list("id", "body"):
            sheets[pk] = sheet_from_json(body)
        waterfalls: dict[int, tuple[str, ...]] = {}
        for p in Product.objects.all():
            sheets[-p.pk] = sheet_for_product(p)  # loans without a stored sheet run under their product's
            waterfalls[p.pk] = tuple(p.waterfall or wf.DEFAULT_ORDER)
        params = {k: (s.penalty_after_days, s.late_fee_after_days, s.late_fee_minor, s.penalty_markup_pct,
                      int(s.auto_debit), s.freeze_dpd) for k, s in sheets.items()}
        branches = dict(Branch.objects.values_list("id", "code"))
        return cls(params=params, sheets=sheets, waterfalls=waterfalls, branches=branches, actor=actor)

    def params_for(self, chunk: _Chunk) -> dict[str, np.ndarray]:
        keys = chunk.keys["terms_key"]
        uniq, inv = np.unique(keys, return_inverse=True)
        try:
            table = np.array([self.params[int(k)] for k in uniq], dtype=np.int64).reshape(len(uniq), 6)
        except KeyError as exc:
            raise Conflict(f"a loan names term sheet {exc} that does not exist", code="unknown_term_sheet")
        names = ("grace_days", "late_fee_days", "late_fee_minor", "penalty_markup_pct", "auto_debit", "freeze_dpd")
        out = {n: table[inv, i] for i, n in enumerate(names)}
        out["basis"] = chunk.keys["basis"]
        return out


# --------------------------------------------------------------------------------------------------------
# One day over one set of loans: the heart shared by run_close (chunks) and advance_loan (one loan)
# --------------------------------------------------------------------------------------------------------

@dataclass
class _Effects:
    """What a chunk produces besides its loan columns: GL amounts per loan, activities, extra totals."""

    n: int
    gl: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # kind → account → per-loan amounts
    activities: list[tuple[int, str, str, int, dict[str, Any]]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    closed: list[int] = field(default_factory=list)  # loan ids

    def add(self, kind: str, account: str, row: int, amount: int) -> None:
        col = self.gl.setdefault(kind, {}).setdefault(account, np.zeros(self.n, dtype=np.int64))
        col[row] += amount

    def count(self, key: str, amount: int = 1) -> None:
        self.totals[key] = self.totals.get(key, 0) + amount


def _load_rolling_installments(ids: Sequence[int]) -> dict[int, dict[int, tuple[Any, ...]]]:
    """loan id → seq → (id, start, due, principal, interest, fee, paid p, paid i, paid f, status) for the
    installment falling due (the loan's current seq, as still stored) and the next one."""
    out: dict[int, dict[int, tuple[Any, ...]]] = {}
    for part in _batches(ids):
        where, params = _id_list_sql(part, "l.id")
        sql = (f"SELECT i.loan_id, i.seq, i.id, {_date_in('i.start_date')}, {_date_in('i.due_date')}, "
               "i.principal_minor, i.interest_minor, i.fee_minor, i.paid_principal_minor, i.paid_interest_minor, "
               "i.paid_fee_minor, i.status FROM loans_installment i JOIN loans_loan l ON l.id = i.loan_id "
               f"WHERE {where} AND i.status <> 'superseded' AND (i.seq = l.current_seq OR i.seq = l.current_seq + 1)")
        with connection.cursor() as cur:
            cur.execute(sql, params)
            for loan_id, seq, *rest in cur.fetchall():
                out.setdefault(int(loan_id), {})[int(seq)] = tuple(rest)
    return out


def _set_installment_status(updates: list[tuple[int, str]], day: dt.date) -> None:
    """[(installment id, 'due' | 'paid')]: paid ones get paid_on = day (if not already set)."""
    if not updates:
        return
    with connection.cursor() as cur:
        if _pg():
            cur.execute("UPDATE loans_installment AS i SET status = v.status, paid_on = CASE WHEN v.status = 'paid' "
                        "THEN COALESCE(i.paid_on, %s) ELSE i.paid_on END "
                        "FROM unnest(%s::bigint[], %s::text[]) AS v(id, status) WHERE i.id = v.id",
                        [day, [u[0] for u in updates], [u[1] for u in updates]])
        else:
            cur.executemany("UPDATE loans_installment SET status = %s, paid_on = CASE WHEN %s = 'paid' "
                            "THEN COALESCE(paid_on, %s) ELSE paid_on END WHERE id = %s",
                            [(st, st, day.isoformat(), pk) for pk, st in updates])


def _fall_due_installments(res: K.DayResult, chunk: _Chunk, day: dt.date, fx: _Effects
                           ) -> tuple[np.ndarray, K.NextInstallments]:
    """Mark the installments falling due today `due` (or `paid` when already covered) and return the next
    installment of each rolling loan (aligned with the returned row indices)."""
    rows = np.flatnonzero(res.rolled)
    nxt = K.NextInstallments.none(len(rows))
    if not len(rows):
        return rows, nxt
    ids = chunk.ids[rows].tolist()
    found = _load_rolling_installments(ids)
    updates: list[tuple[int, str]] = []
    seqs = res.due_seq[rows].tolist()
    for j, (loan_id, seq) in enumerate(zip(ids, seqs, strict=True)):
        mine = found.get(loan_id, {})
        cur = mine.get(seq)
        if cur is None:
            raise Conflict(f"loan {loan_id} points at installment {seq}, which does not exist (or is superseded)",
                           code="installment_missing")
        if cur[9] == "scheduled":
            _pk, _s, _d, p, i, f, pp, pi, pf, _st = cur
            updates.append((cur[0], "paid" if pp >= p and pi >= i and pf >= f else "due"))
        following = mine.get(seq + 1)
        if following is not None:
            nxt.seq[j], nxt.start_date[j], nxt.due_date[j] = seq + 1, following[1], following[2]
            nxt.principal_minor[j], nxt.interest_minor[j], nxt.fee_minor[j] = following[3], following[4], following[5]
    _set_installment_status(updates, day)
    for j, row in enumerate(rows.tolist()):
        fx.activities.append((int(chunk.ids[row]), "installment_due", "", int(
            res.due_principal[row] + res.due_interest[row] + res.due_fee[row]), {
            "seq": int(res.due_seq[row]), "principal_minor": int(res.due_principal[row]),
            "interest_minor": int(res.due_interest[row]), "fee_minor": int(res.due_fee[row])}))
        if nxt.seq[j] == 0:
            fx.activities.append((int(chunk.ids[row]), "matured", "maturity", 0, {"seq": int(res.due_seq[row])}))
    return rows, nxt


def _auto_debit(res: K.DayResult, chunk: _Chunk, ctx: _Context, day: dt.date, fx: _Effects) -> None:
    """Clause auto_debit: on a due date, the credit a customer holds pays what is due, by the product's
    waterfall (domain/waterfall.allocate), installment by installment, oldest first. Few loans a day: Python."""
    rows = np.flatnonzero(res.auto_debit)
    if not len(rows):
        return
    s = res.state
    ids = chunk.ids[rows].tolist()
    dues: dict[int, list[tuple[Any, ...]]] = {}
    for part in _batches(ids):
        where, params = _id_list_sql(part, "loan_id")
        with connection.cursor() as cur:
            cur.execute(f"SELECT loan_id, id, seq, {_date_in('due_date')}, principal_minor, interest_minor, fee_minor, "
                        "paid_principal_minor, paid_interest_minor, paid_fee_minor FROM loans_installment "
                        f"WHERE {where} AND status = 'due' ORDER BY loan_id, seq", params)
            for loan_id, *rest in cur.fetchall():
                dues.setdefault(int(loan_id), []).append(tuple(rest))
    paid_rows: list[tuple[int, int, int, int, str]] = []  # (installment id, +p, +i, +f, status)
    for row, loan_id in zip(rows.tolist(), ids, strict=True):
        insts = dues.get(loan_id, [])
        credit = int(s["credit_minor"][row])
        order = ctx.waterfalls.get(int(chunk.keys["product_id"][row]), wf.DEFAULT_ORDER)
        a = wf.allocate(credit, penalty=int(s["penalty_minor"][row]), fees=int(s["fees_minor"][row]),
                        dues=[wf.Due(seq=q[1], interest=q[4] - q[7], principal=q[3] - q[6], fee=q[5] - q[8])
                              for q in insts], order=order)
        if not a.applied:
            continue
        s["credit_minor"][row] -= a.applied
        s["penalty_minor"][row] -= a.penalty
        s["fees_minor"][row] -= a.fee
        s["overdue_interest_minor"][row] -= a.interest
        s["overdue_principal_minor"][row] -= a.principal
        s["principal_outstanding_minor"][row] -= a.principal
        oldest = 0
        for pk, seq, due, p, i, f, pp, pi, pf in insts:
            dp, di, df = a.principal_by_seq.get(seq, 0), a.interest_by_seq.get(seq, 0), a.fee_by_seq.get(seq, 0)
            full = pp + dp >= p and pi + di >= i and pf + df >= f
            if dp or di or df:
                paid_rows.append((pk, dp, di, df, "paid" if full else "due"))
            if not full and not oldest:
                oldest = due
        s["oldest_due_date"][row] = oldest
        for account, amount in ((accounts.CUSTOMER_CREDIT, a.applied), (accounts.PENALTY_RECEIVABLE, -a.penalty),
                                (accounts.FEES_RECEIVABLE, -a.fee), (accounts.INTEREST_DUE, -a.interest),
                                (accounts.LOAN_PRINCIPAL, -a.principal)):
            fx.add("auto_debit", account, row, amount)
        fx.count("auto_debits")
        fx.count("auto_debit_minor", a.applied)
        fx.activities.append((loan_id, "auto_debit", "auto_debit", a.applied, {**a.as_dict(), "credit_left": credit
                                                                               - a.applied}))
    if paid_rows:
        with connection.cursor() as cur:
            cur.executemany("UPDATE loans_installment SET paid_principal_minor = paid_principal_minor + %s, "
                            "paid_interest_minor = paid_interest_minor + %s, paid_fee_minor = paid_fee_minor + %s, "
                            "status = %s, paid_on = CASE WHEN %s = 'paid' THEN %s ELSE paid_on END WHERE id = %s",
                            [(dp, di, df, st, st, day, pk) for pk, dp, di, df, st in paid_rows])


def next_reset_after(start: dt.date, every: int, day: dt.date) -> dt.date:
    """The first reset date after `day`, counted from the start date (no drift at month ends)."""
    k = max(1, ((day.year - start.year) * 12 + day.month - start.month) // every)
    while add_months(start, k * every) <= day:
        k += 1
    while k > 1 and add_months(start, (k - 1) * every) > day:
        k -= 1
    return add_months(start, k * every)


def _rate_resets(res: K.DayResult, chunk: _Chunk, ctx: _Context, day: dt.date, fx: _Effects) -> None:
    """Clause rate_reset: a floating loan whose reset date has come takes LPR(tenor, day) + spread within floor
    and cap; the installments not yet accruing (after the current period; the current one too when it starts
    today) are rebuilt at the new rate under schedule_version + 1, the old rows superseded."""
    s = res.state
    nrd = chunk.extra["next_reset_date"]
    rows = np.flatnonzero((nrd > 0) & (nrd <= day.toordinal()))
    for row in rows.tolist():
        loan_id = int(chunk.ids[row])
        clause = ctx.sheets[int(chunk.keys["terms_key"][row])].clause("rate_reset")
        if clause is None:
            continue
        try:
            lpr = loans.lpr_on(clause["tenor"], day)
        except Conflict:
            # No LPR published yet: keep the rate and try again at tomorrow's close (the reset date stays).
            fx.count("rate_resets_skipped")
            fx.activities.append((loan_id, "rate_reset_skipped", "rate_reset", 0,
                                  {"reason": f"no {clause['tenor']} LPR on or before {day}"}))
            continue
        old = int(s["rate_ppm"][row])
        new = min(max(lpr + int(clause["spread_ppm"]), int(clause["floor_ppm"])), int(clause["cap_ppm"]))
        start = _date(int(chunk.extra["start_date"][row]))
        assert start is not None
        following = next_reset_after(start, int(clause["every_months"]), day)
        chunk.extra["next_reset_date"][row] = following.toordinal()
        s["rate_ppm"][row] = new
        detail: dict[str, Any] = {"from_ppm": old, "to_ppm": new, "lpr_ppm": lpr, "tenor": clause["tenor"],
                                  "spread_ppm": int(clause["spread_ppm"]), "next_reset": following.isoformat()}
        if new != old and s["current_seq"][row] > 0:
            detail["rebuilt"] = _rebuild_schedule(loan_id, row, s, chunk, new, day)
        fx.count("rate_resets")
        fx.activities.append((loan_id, "rate_reset", "rate_reset", 0, detail))


def _rebuild_schedule(loan_id: int, row: int, s: dict[str, np.ndarray], chunk: _Chunk, rate: int,
                      day: dt.date) -> int:
    loan = Loan.objects.select_related("product").get(pk=loan_id)
    current = int(s["current_seq"][row])
    open_rows = list(Installment.objects.filter(loan_id=loan_id, status="scheduled", seq__gte=current)
                     .exclude(status="superseded").order_by("seq"))
    # the current period keeps its rate once interest has started accruing on it
    rebuild = [r for r in open_rows if r.seq > current or r.start_date >= day]
    if not rebuild:
        return 0
    balance = sum(r.principal_minor for r in rebuild)
    if balance <= 0:
        return 0
    first = rebuild[0]
    grace = max(0, loan.product.grace_periods - (first.seq - 1))
    terms = loans.terms_for(loan, principal_minor=balance, periods=len(rebuild), start=first.start_date,
                            first_due=first.due_date, rate_ppm=rate,
                            grace_periods=grace if grace < len(rebuild) else 0)
    lines = build_schedule(terms)
    version = int(chunk.extra["schedule_version"][row]) + 1
    Installment.objects.filter(pk__in=[r.pk for r in rebuild]).update(status="superseded")
    offset = first.seq - 1
    Installment.objects.bulk_create([Installment(
        loan_id=loan_id, version=version, seq=ln.seq + offset, start_date=ln.start_date, due_date=ln.due_date,
        principal_minor=ln.principal, interest_minor=ln.interest, fee_minor=ln.fee) for ln in lines])
    chunk.extra["schedule_version"][row] = version
    if first.seq == current:
        head = lines[0]
        s["period_start_date"][row], s["next_due_date"][row] = head.start_date.toordinal(), head.due_date.toordinal()
        s["period_interest_minor"][row] = head.interest
        s["period_principal_minor"][row] = head.principal
        s["period_fee_minor"][row] = head.fee
    if lines[-1].due_date != loan.maturity_date:
        Loan.objects.filter(pk=loan_id).update(maturity_date=lines[-1].due_date)
    return len(lines)


def _closures(res: K.DayResult, chunk: _Chunk, day: dt.date, fx: _Effects) -> None:
    """A loan with no installment left and nothing owed is repaid: it closes, any credit left is refunded."""
    s = res.state
    done = ((s["current_seq"] == 0) & (s["principal_outstanding_minor"] == 0) & (s["overdue_principal_minor"] == 0)
            & (s["overdue_interest_minor"] == 0) & (s["accrued_interest_minor"] == 0) & (s["penalty_minor"] == 0)
            & (s["fees_minor"] == 0))
    for row in np.flatnonzero(done).tolist():
        refund = int(s["credit_minor"][row])
        s["credit_minor"][row] = 0
        if refund:
            fx.add("refund", accounts.CUSTOMER_CREDIT, row, refund)
            fx.add("refund", accounts.CASH, row, -refund)
            fx.count("refund_minor", refund)
        fx.count("closed")
        fx.closed.append(int(chunk.ids[row]))
        fx.activities.append((int(chunk.ids[row]), "closed", "maturity", refund, {"refund_minor": refund}))
    if fx.closed:
        with connection.cursor() as cur:
            cur.executemany("UPDATE loans_loan SET status = 'closed', closed_on = %s WHERE id = %s",
                            [(day, pk) for pk in fx.closed])


def _event_activities(res: K.DayResult, chunk: _Chunk, fx: _Effects) -> None:
    s, ids = res.state, chunk.ids
    for row in np.flatnonzero(res.penalty_started).tolist():
        fx.activities.append((int(ids[row]), "penalty_started", "penalty_interest", int(res.penalty[row]), {
            "dpd": int(s["dpd"][row]), "base_minor": int(s["overdue_principal_minor"][row]
                                                         + s["overdue_interest_minor"][row]),
            "rate_ppm": int(s["rate_ppm"][row])}))
    for row in np.flatnonzero(res.late_fee).tolist():
        fx.activities.append((int(ids[row]), "late_fee", "late_fee", int(res.late_fee[row]),
                              {"dpd": int(s["dpd"][row])}))
    for row in np.flatnonzero(res.class_changed).tolist():
        fx.activities.append((int(ids[row]), "class_changed", "", 0, {
            "from": int(res.prev["risk_class"][row]), "to": int(s["risk_class"][row]), "dpd": int(s["dpd"][row])}))
    for row in np.flatnonzero(res.frozen_now).tolist():
        fx.activities.append((int(ids[row]), "frozen", "limit_freeze", 0, {"dpd": int(s["dpd"][row])}))


def _gl(res: K.DayResult, fx: _Effects) -> dict[str, dict[str, np.ndarray]]:
    """Per-loan amounts per entry kind and account (> 0 debit); each kind balances loan by loan."""
    out = {
        "accrual": {accounts.ACCRUED_INTEREST: res.accrual, accounts.INTEREST_INCOME: -res.accrual},
        "due": {accounts.INTEREST_DUE: res.due_interest, accounts.ACCRUED_INTEREST: -res.due_interest},
        "fee": {accounts.FEES_RECEIVABLE: res.due_fee + res.late_fee, accounts.FEE_INCOME: -(res.due_fee + res.late_fee)},
        "penalty": {accounts.PENALTY_RECEIVABLE: res.penalty, accounts.PENALTY_INCOME: -res.penalty},
    }
    out.update(fx.gl)
    return out


def _entries_by_branch(gl: dict[str, dict[str, np.ndarray]], branch_ids: np.ndarray, ctx: _Context,
                       currency: str = "CNY") -> list[tuple[str, list[Line]]]:
    uniq, inv = np.unique(branch_ids, return_inverse=True)
    codes = [ctx.branches[int(b)] for b in uniq]
    entries = []
    for kind, by_account in gl.items():
        lines = []
        for account, amounts in by_account.items():
            sums = K.group_sum(amounts, inv, len(uniq))
            lines += [Line(account, codes[g], int(v), currency) for g, v in enumerate(sums.tolist()) if v]
        if lines:
            entries.append((kind, lines))
    return entries


def _insert_activities(rows: list[tuple[int, str, str, int, dict[str, Any]]], day: dt.date) -> None:
    if not rows:
        return
    now = timezone.now()
    with connection.cursor() as cur:
        if _pg():
            with cur.cursor.copy("COPY loans_loanactivity (loan_id, business_date, kind, clause, amount_minor, detail, "
                                 "created_at) FROM STDIN") as copy:
                for loan_id, kind, clause, amount, detail in rows:
                    copy.write_row((loan_id, day, kind, clause, amount, json.dumps(detail), now))
        else:
            cur.executemany("INSERT INTO loans_loanactivity (loan_id, business_date, kind, clause, amount_minor, "
                            "detail, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(lid, day.isoformat(), k, c, a, json.dumps(d), now.isoformat()) for lid, k, c, a, d in rows])


def _close_loans(ctx: _Context, day: dt.date, where: str, params: list[Any], *, record: bool,
                 loan: Loan | None = None, batch_ref: str = "") -> tuple[_Chunk, dict[str, Any]] | None:
    """Close `day` for the active loans matching `where` not yet closed through it. Runs inside the caller's
    transaction. record=False (replay): loan columns and installments only, no GL, activity or chunk row."""
    d = day.toordinal()
    chunk = _read(where, params, d)
    if not len(chunk):
        return None
    behind = chunk.state["closed_through"] != d - 1
    if behind.any():
        first = int(chunk.ids[np.flatnonzero(behind)[0]])
        raise Conflict(f"loan {first} is not closed through {day - dt.timedelta(days=1)}; close that date first",
                       code="previous_day_open")
    _point("after_read")
    prm = ctx.params_for(chunk)
    res = K.fall_due(chunk.state, prm, d)
    fx = _Effects(len(chunk))
    rows, nxt = _fall_due_installments(res, chunk, day, fx)
    _auto_debit(res, chunk, ctx, day, fx)
    if len(rows):
        K.roll(res, rows, nxt)
    _point("after_installments")
    _rate_resets(res, chunk, ctx, day, fx)
    _point("after_resets")
    K.assess(res, prm, chunk.keys["customer_id"])
    _closures(res, chunk, day, fx)
    _point("after_assess")
    _write_loans(chunk, res.state)
    _point("after_loans")
    totals = {**res.totals, **fx.totals}
    if record:
        _event_activities(res, chunk, fx)
        _insert_activities(fx.activities, day)
        _point("after_activities")
        entries = _entries_by_branch(_gl(res, fx), chunk.keys["branch_id"], ctx)
        batch_ref = batch_ref.format(first=int(chunk.ids[0]))  # the chunk's first loan names its entries
        if loan is not None:
            for kind, lines in entries:
                accounting.post_entry(day, kind, lines, loan=loan, batch_ref=batch_ref, memo=f"close {day} {loan.ref}")
        else:
            accounting.post_entries(day, entries, batch_ref=batch_ref)
        _point("after_gl")
        _clause_events(ctx, chunk, fx.activities, day)
        _point("after_clause_events")
    return chunk, totals


def _clause_events(ctx: _Context, chunk: _Chunk, activities: list[tuple[int, str, str, int, dict[str, Any]]],
                   day: dt.date) -> None:
    """Every contract clause the close executed is a ledger event naming the clause and the term sheet (by its
    digest) it comes from — in the chunk's transaction, last, so a killed close leaves neither half."""
    executed = [a for a in activities if a[2]]
    if not executed:
        return
    ids = sorted({a[0] for a in executed})
    refs: dict[int, str] = {}
    for batch in _batches(ids):
        sql, params = _id_list_sql(batch, "id")
        with connection.cursor() as cur:
            cur.execute(f"SELECT id, ref FROM loans_loan WHERE {sql}", params)
            refs.update(cur.fetchall())
    row_of = {int(loan_id): row for row, loan_id in enumerate(chunk.ids.tolist())}
    specs = []
    for loan_id, kind, clause, amount, detail in executed:
        sheet = ctx.sheets[int(chunk.keys["terms_key"][row_of[loan_id]])]
        specs.append(ledger.EventSpec("loan.clause_executed", "loan", refs[loan_id], {
            "clause": clause, "action": kind, "business_date": day, "amount_minor": amount, "detail": detail,
            "term_sheet": sheet.digest}))
    ledger.append_many(ctx.actor, specs)


# --------------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------------

def first_open_date() -> dt.date | None:
    """The earliest business date some active loan still needs closed (None: no active loan)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT MIN({_date_in('closed_through')}) FROM loans_loan WHERE status = 'active'")
        (o,) = cur.fetchone()
    return dt.date.fromordinal(int(o) + 1) if o else None


def _customer_ranges(day: dt.date, chunk_size: int) -> tuple[list[tuple[int, int, int]], int]:
    """Chunks as (first customer id, last customer id, loans): whole customers, about chunk_size loans each."""
    with connection.cursor() as cur:
        cur.execute("SELECT customer_id, COUNT(*) FROM loans_loan WHERE status = 'active' AND closed_through < %s "
                    "GROUP BY customer_id ORDER BY customer_id", [day])
        rows = cur.fetchall()
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


def _begin(day: dt.date, actor: Any) -> CloseRun:
    with transaction.atomic():
        run = CloseRun.objects.select_for_update().filter(business_date=day).first()
        if run is None:
            run = CloseRun.objects.create(business_date=day, started_by=actor if getattr(actor, "pk", None) else None)
        elif run.status != "done":
            run.attempts += 1
            run.save(update_fields=["attempts"])
    return run


def _run_lock(day: dt.date) -> Callable[[], None]:
    """One close at a time (PostgreSQL advisory lock, released if the process dies); SQLite serialises writers."""
    if not _pg():
        return lambda: None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [0x636F62, day.toordinal()])
        (got,) = cur.fetchone()
    if not got:
        raise Conflict(f"the close of {day} is already running", code="close_running")

    def release() -> None:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [0x636F62, day.toordinal()])

    return release


def run_close(business_date: Any, *, actor: Any = None, chunk_size: int = 20_000,
              progress: Callable[[int, int], None] | None = None, stop_after_chunks: int | None = None
              ) -> CloseReport:
    """Close `business_date` for every active loan (see the module docstring). Restartable and idempotent.

    actor=None is the scheduler (system); a user needs the close_run permission. `progress(done, total)` is
    called after each chunk with loan counts of this run. `stop_after_chunks` stops after that many chunks
    of this run, leaving the date open (status running), as an interruption would."""
    if actor is not None:
        org.require(actor, Perm.CLOSE_RUN)
    day = loans.parse_date(business_date, "date")
    if day > loans.business_date():
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
    release = _run_lock(day)
    try:
        return _run(day, actor, chunk_size, progress, stop_after_chunks)
    finally:
        release()


def _run(day: dt.date, actor: Any, chunk_size: int, progress: Callable[[int, int], None] | None,
         stop_after_chunks: int | None) -> CloseReport:
    started = time.perf_counter()
    run = _begin(day, actor)
    ctx = _Context.load(actor)
    ranges, total = _customer_ranges(day, chunk_size)
    done = 0
    chunks = 0
    for lo, hi, _count in ranges:
        if stop_after_chunks is not None and chunks >= stop_after_chunks:
            report = CloseReport(day, "running", _sum_totals(CloseChunk.objects.filter(run=run)
                                                             .values_list("totals", flat=True)),
                                 CloseChunk.objects.filter(run=run).count(), loans_this_run=done,
                                 chunks_this_run=chunks, seconds=time.perf_counter() - started, attempts=run.attempts)
            return report
        t = time.perf_counter()
        _point("chunk_start")
        with transaction.atomic():
            out = _close_chunk(ctx, run, day, lo, hi, t)
            _point("before_commit")
        _point("after_commit")
        chunks += 1
        done += out
        if progress is not None:
            progress(done, total)
    _fault("before_finish")
    report = _finish(run, day, actor, started, done, chunks)
    _fault("after_finish")
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


def _close_chunk(ctx: _Context, run: CloseRun, day: dt.date, lo: int, hi: int, t: float) -> int:
    out = _close_loans(ctx, day, "l.customer_id >= %s AND l.customer_id <= %s", [lo, hi], record=True,
                       batch_ref=f"close:{day.isoformat()}:{{first}}")
    if out is None:
        return 0
    chunk, totals = out
    CloseChunk.objects.create(run=run, first_loan_id=int(chunk.ids[0]), loans=len(chunk), totals=totals,
                              seconds=round(time.perf_counter() - t, 4))
    return len(chunk)


def _finish(run: CloseRun, day: dt.date, actor: Any, started: float, done: int, chunks: int) -> CloseReport:
    with transaction.atomic():
        run = CloseRun.objects.select_for_update().get(pk=run.pk)
        parts = list(CloseChunk.objects.filter(run=run).values_list("totals", "seconds"))
        totals = _sum_totals(p[0] for p in parts)
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
            "buckets": totals["buckets"], "npl_ratio": str(report.npl_ratio)})
    return report


# --------------------------------------------------------------------------------------------------------
# One loan, day by day
# --------------------------------------------------------------------------------------------------------

def advance_loan(loan: Loan, through: Any, *, record: bool = True) -> dict[str, Any]:
    """Apply the close to one loan for every day from loan.closed_through + 1 through `through`, with the same
    code as the nightly run. record=False (replaying a loan after a reversal or a backdated payment): only
    the loan's columns and installment rows change — no journal entry, activity or event; the caller posts
    one adjustment entry for the difference. Returns the totals summed over the days; reloads `loan`."""
    through = loans.parse_date(through, "through")
    ctx = _Context.load()
    parts: list[dict[str, Any]] = []
    with transaction.atomic():
        loan.refresh_from_db()
        day = loan.closed_through + dt.timedelta(days=1)
        while day <= through:
            out = _close_loans(ctx, day, "l.id = %s", [loan.pk], record=record, loan=loan,
                               batch_ref=f"advance:{day.isoformat()}:{{first}}")
            if out is None:  # closed or written off meanwhile
                break
            parts.append(out[1])
            day += dt.timedelta(days=1)
    loan.refresh_from_db()
    return _sum_totals(parts)
