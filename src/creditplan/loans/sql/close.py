"""The raw SQL of the daily close (`loans.cob`), justified by benchmarks/bench_close.py: the close of a million
loans reads and writes them as columns — one SELECT per chunk into numpy arrays, one UPDATE … FROM unnest() of
binary arrays on PostgreSQL (the loan table has fillfactor 70 and no index on what the close writes, so the
updates are heap-only), COPY for the activities — where the ORM would build a million model instances and
send a million UPDATEs (the naive close the benchmark measures alongside, extrapolated per loan).

Dates travel as day ordinals (0 = NULL) both ways, so that a chunk's dates are int64 columns like the rest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from creditplan.core.errors import Conflict
from creditplan.loans.domain import kernel as K
from creditplan.loans.sql import batches, id_list, is_postgresql

__all__ = ["EXTRA_COLUMNS", "KEY_COLUMNS", "WRITE_COLUMNS", "WRITE_DATES", "Chunk", "active_loans_per_customer",
           "add_installment_payments", "date_in", "date_of", "due_installments", "first_open_date",
           "insert_activities", "iso_of", "load_rolling_installments", "loan_refs", "mark_closed", "read_chunk",
           "run_lock", "set_installment_status", "write_loans"]

# Columns the close writes back (the kernel's state less what it only reads, plus the reset fields). The close
# writes restructured_until (a missed repayment restarts the observation, issue 18) but only reads the manual class.
WRITE_COLUMNS: tuple[str, ...] = tuple(
    c for c in K.STATE_COLUMNS if c not in ("pre_restructure_class", "manual_class", "manual_class_until")
) + ("next_reset_date", "schedule_version")
WRITE_DATES = (K.DATE_COLUMNS | {"next_reset_date"}) & set(WRITE_COLUMNS)
KEY_COLUMNS = ("id", "customer_id", "branch_id", "product_id", "terms_key", "basis",
               "months_per_period", "non_retail")  # classification (issue 18): the cure, the debtor rule
EXTRA_COLUMNS = ("next_reset_date", "schedule_version", "start_date")


def date_in(col: str) -> str:
    if is_postgresql():
        return f"COALESCE(({col} - DATE '0001-01-01') + 1, 0)"
    return f"COALESCE(CAST(julianday({col}) - 1721424.5 AS INTEGER), 0)"


def date_of(o: int) -> dt.date | None:
    return dt.date.fromordinal(int(o)) if o else None


def iso_of(o: int) -> str | None:
    return dt.date.fromordinal(int(o)).isoformat() if o else None


def _select_list() -> str:
    basis = "CASE WHEN l.day_count IN ('ACT/360', '30/360') THEN 360 ELSE 365 END"
    cols = ["l.id", "l.customer_id", "l.branch_id", "l.product_id", "COALESCE(l.term_sheet_id, -l.product_id)",
            basis, "l.months_per_period", "0"]  # non_retail: filled in by read_chunk (`_companies`)
    for c in K.STATE_COLUMNS:
        if c in K.DATE_COLUMNS:
            cols.append(date_in(f"l.{c}"))
        elif c in K.BOOL_COLUMNS:
            cols.append(f"CASE WHEN l.{c} THEN 1 ELSE 0 END")
        elif c == "pre_restructure_class":
            cols.append("COALESCE(l.pre_restructure_class, 0)")
        else:
            cols.append(f"l.{c}")
    cols += [date_in("l.next_reset_date"), "l.schedule_version", date_in("l.start_date")]
    return ", ".join(cols)


@dataclass
class Chunk:
    """The loans of one chunk as columns, in (customer, id) order."""

    keys: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    extra: dict[str, np.ndarray]

    @property
    def ids(self) -> np.ndarray:
        return self.keys["id"]

    def __len__(self) -> int:
        return len(self.keys["id"])


def read_chunk(where: str, params: list[Any], day: int, *, lock: bool = True) -> Chunk:
    """The chunk's columns, rows locked (PostgreSQL) so a concurrent payment waits for the chunk to commit."""
    lock_sql = " FOR UPDATE" if lock and is_postgresql() else ""
    sql = (f"SELECT {_select_list()} FROM loans_loan l WHERE {where} AND l.status = 'active' "
           f"AND l.closed_through < %s ORDER BY l.customer_id, l.id{lock_sql}")
    with connection.cursor() as cur:
        if is_postgresql() and connection.in_atomic_block:
            # 20,000 rows of ~220 bytes outgrow the default 4 MB: the sort would spill to disk (≈ +0.1 s a chunk)
            cur.execute("SET LOCAL work_mem = '64MB'")
        cur.execute(sql, [*params, date_of(day)])
        rows = cur.fetchall()
    names = KEY_COLUMNS + K.STATE_COLUMNS + EXTRA_COLUMNS
    arr = np.array(rows, dtype=np.int64).reshape(len(rows), len(names))
    cols = {n: arr[:, i].copy() for i, n in enumerate(names)}
    cols["non_retail"] = np.isin(cols["customer_id"], _companies(cols["customer_id"])).astype(np.int64)
    return Chunk(keys={n: cols[n] for n in KEY_COLUMNS}, state={n: cols[n] for n in K.STATE_COLUMNS},
                  extra={n: cols[n] for n in EXTRA_COLUMNS})


def _companies(customer_ids: np.ndarray) -> np.ndarray:
    """The companies (non-retail debtors) among the chunk's customers: one range query on the partial index
    customer_company — cheaper than joining every loan of the chunk to its customer row."""
    if not len(customer_ids):
        return np.zeros(0, dtype=np.int64)
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM customers_customer WHERE kind = 'company' AND id BETWEEN %s AND %s",
                    [int(customer_ids.min()), int(customer_ids.max())])
        return np.array([r[0] for r in cur.fetchall()], dtype=np.int64)


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


def write_loans(chunk: Chunk, s: dict[str, np.ndarray]) -> None:
    values = {**s, "next_reset_date": chunk.extra["next_reset_date"],
              "schedule_version": chunk.extra["schedule_version"]}
    with connection.cursor() as cur:
        if is_postgresql():
            sets = []
            for c in WRITE_COLUMNS:
                if c in WRITE_DATES:
                    sets.append(f"{c} = DATE '0001-01-01' + (NULLIF(v.{c}, 0) - 1)::int")
                elif c in K.BOOL_COLUMNS:
                    sets.append(f"{c} = v.{c} <> 0")
                else:
                    sets.append(f"{c} = v.{c}")
            raw = cur.cursor
            _bind_arrays(raw)
            arrays = ", ".join(["%b"] * (len(WRITE_COLUMNS) + 1))
            raw.execute(f"UPDATE loans_loan AS l SET {', '.join(sets)}, version = l.version + 1 "
                        f"FROM unnest({arrays}) AS v(id, {', '.join(WRITE_COLUMNS)}) WHERE l.id = v.id",
                        [_Int8Array(np.ascontiguousarray(chunk.ids)),
                         *(_Int8Array(np.ascontiguousarray(values[c])) for c in WRITE_COLUMNS)])
            if raw.rowcount != len(chunk):
                raise Conflict(f"the close wrote {raw.rowcount} of {len(chunk)} loans", code="close_conflict")
        else:
            assignments = ", ".join(f"{c} = %s" for c in WRITE_COLUMNS)
            cols = [values[c].tolist() for c in WRITE_COLUMNS]
            rows = []
            for i, loan_id in enumerate(chunk.ids.tolist()):
                row: list[Any] = []
                for c, col in zip(WRITE_COLUMNS, cols, strict=True):
                    row.append(iso_of(col[i]) if c in WRITE_DATES else bool(col[i]) if c in K.BOOL_COLUMNS else col[i])
                row.append(loan_id)
                rows.append(row)
            cur.executemany(f"UPDATE loans_loan SET {assignments}, version = version + 1 WHERE id = %s", rows)


def load_rolling_installments(ids: Sequence[int]) -> dict[int, dict[int, tuple[Any, ...]]]:
    """loan id → seq → (id, start, due, principal, interest, fee, paid p, paid i, paid f, status) for the
    installment falling due (the loan's current seq, as still stored) and the next one."""
    out: dict[int, dict[int, tuple[Any, ...]]] = {}
    for part in batches(ids):
        where, params = id_list(part, "l.id")
        sql = (f"SELECT i.loan_id, i.seq, i.id, {date_in('i.start_date')}, {date_in('i.due_date')}, "
               "i.principal_minor, i.interest_minor, i.fee_minor, i.paid_principal_minor, i.paid_interest_minor, "
               "i.paid_fee_minor, i.status FROM loans_installment i JOIN loans_loan l ON l.id = i.loan_id "
               f"WHERE {where} AND i.status <> 'superseded' AND (i.seq = l.current_seq OR i.seq = l.current_seq + 1)")
        with connection.cursor() as cur:
            cur.execute(sql, params)
            for loan_id, seq, *rest in cur.fetchall():
                out.setdefault(int(loan_id), {})[int(seq)] = tuple(rest)
    return out


def set_installment_status(updates: list[tuple[int, str]], day: dt.date) -> None:
    """[(installment id, 'due' | 'paid')]: paid ones get paid_on = day (if not already set)."""
    if not updates:
        return
    with connection.cursor() as cur:
        if is_postgresql():
            cur.execute("UPDATE loans_installment AS i SET status = v.status, paid_on = CASE WHEN v.status = 'paid' "
                        "THEN COALESCE(i.paid_on, %s) ELSE i.paid_on END "
                        "FROM unnest(%s::bigint[], %s::text[]) AS v(id, status) WHERE i.id = v.id",
                        [day, [u[0] for u in updates], [u[1] for u in updates]])
        else:
            cur.executemany("UPDATE loans_installment SET status = %s, paid_on = CASE WHEN %s = 'paid' "
                            "THEN COALESCE(paid_on, %s) ELSE paid_on END WHERE id = %s",
                            [(st, st, day.isoformat(), pk) for pk, st in updates])


def due_installments(ids: Sequence[int]) -> dict[int, list[tuple[Any, ...]]]:
    """loan id → (id, seq, due date, principal, interest, fee, paid p, paid i, paid f) of its installments that
    have fallen due and are not paid, oldest first (the auto-debit's rows: few loans a day)."""
    dues: dict[int, list[tuple[Any, ...]]] = {}
    for part in batches(ids):
        where, params = id_list(part, "loan_id")
        with connection.cursor() as cur:
            cur.execute(f"SELECT loan_id, id, seq, {date_in('due_date')}, principal_minor, interest_minor, fee_minor, "
                        "paid_principal_minor, paid_interest_minor, paid_fee_minor FROM loans_installment "
                        f"WHERE {where} AND status = 'due' ORDER BY loan_id, seq", params)
            for loan_id, *rest in cur.fetchall():
                dues.setdefault(int(loan_id), []).append(tuple(rest))
    return dues


def add_installment_payments(paid_rows: Sequence[tuple[int, int, int, int, str]], day: dt.date) -> None:
    """[(installment id, +principal, +interest, +fee, 'due' | 'paid')]: what the auto-debit paid on each row."""
    if not paid_rows:
        return
    with connection.cursor() as cur:
        cur.executemany("UPDATE loans_installment SET paid_principal_minor = paid_principal_minor + %s, "
                        "paid_interest_minor = paid_interest_minor + %s, paid_fee_minor = paid_fee_minor + %s, "
                        "status = %s, paid_on = CASE WHEN %s = 'paid' THEN %s ELSE paid_on END WHERE id = %s",
                        [(dp, di, df, st, st, day, pk) for pk, dp, di, df, st in paid_rows])


def mark_closed(ids: Sequence[int], day: dt.date) -> None:
    """The loans repaid by the close of `day`: status closed, closed on `day`."""
    if not ids:
        return
    with connection.cursor() as cur:
        cur.executemany("UPDATE loans_loan SET status = 'closed', closed_on = %s WHERE id = %s",
                        [(day, pk) for pk in ids])


def insert_activities(rows: list[tuple[int, str, str, int, dict[str, Any]]], day: dt.date) -> None:
    if not rows:
        return
    now = timezone.now()
    with connection.cursor() as cur:
        if is_postgresql():
            with cur.cursor.copy("COPY loans_loanactivity (loan_id, business_date, kind, clause, amount_minor, detail, "
                                 "created_at) FROM STDIN") as copy:
                for loan_id, kind, clause, amount, detail in rows:
                    copy.write_row((loan_id, day, kind, clause, amount, json.dumps(detail), now))
        else:
            cur.executemany("INSERT INTO loans_loanactivity (loan_id, business_date, kind, clause, amount_minor, "
                            "detail, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(lid, day.isoformat(), k, c, a, json.dumps(d), now.isoformat()) for lid, k, c, a, d in rows])


def loan_refs(ids: Sequence[int]) -> dict[int, str]:
    """loan id → loan ref (the close's clause events name loans by reference)."""
    refs: dict[int, str] = {}
    for batch in batches(ids):
        sql, params = id_list(batch, "id")
        with connection.cursor() as cur:
            cur.execute(f"SELECT id, ref FROM loans_loan WHERE {sql}", params)
            refs.update(cur.fetchall())
    return refs


def first_open_date() -> dt.date | None:
    """The earliest business date some active loan still needs closed (None: no active loan)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT MIN({date_in('closed_through')}) FROM loans_loan WHERE status = 'active'")
        (o,) = cur.fetchone()
    return dt.date.fromordinal(int(o) + 1) if o else None


def active_loans_per_customer(day: dt.date) -> list[tuple[int, int]]:
    """(customer id, active loans not yet closed through `day`), by customer id: what the chunks are cut from."""
    with connection.cursor() as cur:
        cur.execute("SELECT customer_id, COUNT(*) FROM loans_loan WHERE status = 'active' AND closed_through < %s "
                    "GROUP BY customer_id ORDER BY customer_id", [day])
        return list(cur.fetchall())


def run_lock(day: dt.date) -> Callable[[], None]:
    """One close at a time (PostgreSQL advisory lock, released if the process dies); SQLite serialises writers."""
    if not is_postgresql():
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


def fresh_connection() -> None:
    """Close this thread's database connection (a close run in a background thread, issue 20: each thread has its
    own connection; closing it at the start and the end leaves none behind). No statement: no benchmark."""
    connection.close()
