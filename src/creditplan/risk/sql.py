"""The raw statements of risk monitoring: reading the whole book as columns.

Why raw SQL: the indicators run over every loan after each close (a million loans in the benchmark,
benchmarks/bench_risk.py, target ≤ 30 s with the close's own time beside it). Building a million model objects
costs minutes; one SELECT of plain columns, turned into numpy arrays, costs seconds. On PostgreSQL the rows do not
even become Python tuples: `COPY (SELECT …) TO STDOUT` streams them as CSV into Arrow's multi-threaded reader,
which hands back typed columns (a million loans in about a second where fetching tuples and converting them took
several). Dates travel as day numbers (`date.toordinal()`, -1 when missing) and flags as 0/1 on every database, so
both paths return the same columns. Tables and columns are taken from the models' metadata, so a renamed column
breaks here loudly rather than silently.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection, transaction
from numpy.typing import NDArray

from creditplan.customers.models import Customer
from creditplan.loans.models import CloseRun, Loan, Product
from creditplan.org.models import Branch
from creditplan.origination.models import Application
from creditplan.plans.models import Plan, Quota

BOOK_COLUMNS: tuple[str, ...] = (
    "loan", "customer", "branch", "product", "industry", "region", "channel", "grade", "score", "start", "first_due",
    "oldest_due", "principal", "outstanding", "overdue_principal", "dpd", "bucket", "risk_class", "restructured",
    "written_off", "closed", "currency")
"""What the book statement returns, in order."""

_TEXT = frozenset({"customer", "branch", "product", "industry", "region", "channel", "grade", "currency"})
_DATES = frozenset({"start", "first_due", "oldest_due"})
_REALS = frozenset({"score"})


def _postgresql() -> bool:
    return bool(connection.vendor == "postgresql")


def _day_number(column: str) -> str:
    """A DATE column as its day number (`date.toordinal()`), -1 when NULL."""
    if _postgresql():
        return f"COALESCE(({column} - DATE '0001-01-01') + 1, -1)"
    return f"COALESCE(CAST(julianday({column}) - 1721424.5 AS INTEGER), -1)"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _date(day: dt.date) -> str:
    """A date as a literal: `day` is a dt.date, whose ISO text cannot carry anything else. Inlined, so that the
    same statement runs as a COPY, which takes no parameters."""
    if not isinstance(day, dt.date):
        raise TypeError("a date is expected")
    return f"DATE '{day.isoformat()}'" if _postgresql() else f"'{day.isoformat()}'"


def _book_sql(as_of: dt.date, since: dt.date) -> str:
    lo, cu, br, pr, ap = (Loan._meta.db_table, Customer._meta.db_table, Branch._meta.db_table,
                          Product._meta.db_table, Application._meta.db_table)
    written_off, closed = _flag("l.status = 'written_off'"), _flag("l.status = 'closed'")
    return (
        f"SELECT l.id, CAST(l.customer_id AS TEXT), b.code, p.code, COALESCE(c.industry_code, ''), "
        f"COALESCE(c.region_code, ''), COALESCE(a.channel, ''), COALESCE(a.grade, ''), a.score, "
        f"{_day_number('l.start_date')}, {_day_number('l.first_due_date')}, {_day_number('l.oldest_due_date')}, "
        f"COALESCE(l.principal_minor, 0), COALESCE(l.principal_outstanding_minor, 0), "
        f"COALESCE(l.overdue_principal_minor, 0), COALESCE(l.dpd, 0), COALESCE(l.bucket, 0), "
        f"COALESCE(l.risk_class, 0), COALESCE(l.restructure_count, 0), {written_off}, {closed}, "
        f"COALESCE(l.currency, '') "
        f"FROM {lo} l JOIN {cu} c ON c.id = l.customer_id JOIN {br} b ON b.id = l.branch_id "
        f"JOIN {pr} p ON p.id = l.product_id LEFT JOIN {ap} a ON a.ref = l.application_ref "
        f"WHERE l.start_date <= {_date(as_of)} AND (l.status = 'active' "
        f"OR l.closed_on >= {_date(since)} OR l.written_off_on >= {_date(since)}) "
        f"ORDER BY l.id")


def read_book(as_of: dt.date, *, retention_days: int = 400) -> dict[str, NDArray[Any]]:
    """Every loan on the book at the close of `as_of`, and those that left it in the last `retention_days` (so a
    roll rate sees a repaid or written-off loan where it went), as columns."""
    since = as_of - dt.timedelta(days=retention_days)
    return _read(_book_sql(as_of, since), BOOK_COLUMNS, _TEXT, _REALS)


def _read(sql: str, names: Sequence[str], text: frozenset[str], reals: frozenset[str]) -> dict[str, NDArray[Any]]:
    """The statement's rows as named columns: text as object arrays of str, reals as float64 (NaN for NULL), the
    rest int64."""
    if _postgresql():
        return _read_copy(sql, names, text, reals)
    with connection.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    out: dict[str, NDArray[Any]] = {}
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    for name, values in zip(names, transposed, strict=True):
        if name in text:
            out[name] = np.array([str(v or "") for v in values], dtype=object)
        elif name in reals:
            out[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        else:
            out[name] = np.array([int(v or 0) for v in values], dtype=np.int64)
    return out


def _read_copy(sql: str, names: Sequence[str], text: frozenset[str], reals: frozenset[str]
               ) -> dict[str, NDArray[Any]]:
    """PostgreSQL: the statement's rows through COPY … TO STDOUT as CSV, parsed by Arrow into typed columns."""
    buffer = io.BytesIO()
    with transaction.atomic(), connection.cursor() as cur:
        # a million rows joined and sorted outgrow the default 4 MB: the hash join and the sort would spill to disk
        cur.execute("SET LOCAL work_mem = '256MB'")
        with cur.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
    types = {n: pa.string() if n in text else pa.float64() if n in reals else pa.int64() for n in names}
    if buffer.tell() == 0:
        return {n: np.array([], dtype=object if n in text else np.float64 if n in reals else np.int64)
                for n in names}
    table = pacsv.read_csv(
        io.BytesIO(buffer.getbuffer()), read_options=pacsv.ReadOptions(column_names=list(names)),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    out: dict[str, NDArray[Any]] = {}
    for n in names:
        column = table.column(n)
        if n in text:  # each distinct text once as a str object, shared by its rows (branch codes, regions…)
            coded = column.combine_chunks().dictionary_encode()
            words = np.asarray(coded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
            out[n] = words[np.asarray(coded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
        elif n in reals:
            out[n] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)  # NULL → NaN
        else:
            out[n] = np.ascontiguousarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
    return out


def in_transaction() -> bool:
    """Whether the caller holds a transaction open (`transaction.atomic`) on the default connection."""
    return bool(connection.in_atomic_block)


def close_begun_after(as_of: dt.date) -> bool:
    """Whether the close of a date after `as_of` has begun: the book as it stood after `as_of` is then gone."""
    return CloseRun.objects.filter(business_date__gt=as_of).exists()


QUOTA_COLUMNS: tuple[str, ...] = ("quota", "branch", "product", "industry", "region", "limit", "used", "start", "end")


def read_quotas(as_of: dt.date) -> dict[str, NDArray[Any]]:
    """The leaf quotas (those not split further) of the plan active on `as_of`: limit and use of new lending."""
    q, p, b = Quota._meta.db_table, Plan._meta.db_table, Branch._meta.db_table
    day = _date(as_of)
    sql = (f"SELECT q.id, COALESCE(b.code, ''), COALESCE(q.product, ''), COALESCE(q.industry, ''), "
           f"COALESCE(q.region, ''), COALESCE(q.new_lending_limit_minor, 0), "
           f"COALESCE(q.reserved_minor, 0) + COALESCE(q.consumed_minor, 0), {_day_number('p.period_start')}, "
           f"{_day_number('p.period_end')} FROM {q} q "
           f"JOIN {p} p ON p.id = q.plan_id LEFT JOIN {b} b ON b.id = q.branch_id "
           f"WHERE p.status = 'active' AND p.period_start <= {day} AND p.period_end >= {day} "
           f"AND NOT EXISTS (SELECT 1 FROM {q} c WHERE c.parent_id = q.id) ORDER BY q.id")
    return _read(sql, QUOTA_COLUMNS, frozenset({"branch", "product", "industry", "region"}), frozenset())


APPLICATION_COLUMNS: tuple[str, ...] = ("branch", "product", "industry", "region", "channel", "grade", "outcome",
                                        "status", "auto_approved", "score", "requested", "approved_amount")


def read_applications(since: dt.datetime, until: dt.datetime) -> dict[str, NDArray[Any]]:
    """Applications submitted in [since, until) with their automated decision and where they stand."""
    ap, cu, br = Application._meta.db_table, Customer._meta.db_table, Branch._meta.db_table
    sql = (f"SELECT b.code, COALESCE(a.product, ''), COALESCE(c.industry_code, ''), COALESCE(c.region_code, ''), "
           f"COALESCE(a.channel, ''), COALESCE(a.grade, ''), COALESCE(a.decision_outcome, ''), "
           f"COALESCE(a.status, ''), {_flag('a.auto_approved')}, a.score, COALESCE(a.amount_minor, 0), "
           f"COALESCE(a.approved_amount_minor, 0) FROM {ap} a JOIN {cu} c ON c.id = a.customer_id "
           f"JOIN {br} b ON b.id = a.branch_id WHERE a.created_at >= %s AND a.created_at < %s "
           f"AND a.decision_outcome <> '' ORDER BY a.id")
    text = frozenset({"branch", "product", "industry", "region", "channel", "grade", "outcome", "status"})
    # a window of applications (thousands, not millions): plain rows with the times as parameters
    with connection.cursor() as cur:
        cur.execute(sql, [since, until])
        rows = cur.fetchall()
    out: dict[str, NDArray[Any]] = {}
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in APPLICATION_COLUMNS]
    for name, values in zip(APPLICATION_COLUMNS, transposed, strict=True):
        if name in text:
            out[name] = np.array([str(v or "") for v in values], dtype=object)
        elif name == "score":
            out[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        else:
            out[name] = np.array([int(v or 0) for v in values], dtype=np.int64)
    return out


# --- expected credit loss, behaviour re-rating and stress tests (issue 17) ----------------------------------------
# benchmarks/bench_ecl.py: the month-end ECL run and the re-rating cover every loan of the book (a million, target
# ≤ 60 s each on PostgreSQL): the loan terms and the instalments' payments are read as columns (COPY on
# PostgreSQL, as above), and the per-loan results (a row per loan, a row per customer) are written with one COPY
# where bulk_create would take a minute (`insert_columns`).

TERM_COLUMNS: tuple[str, ...] = ("loan", "rate_ppm", "method", "months_per_period", "maturity", "pd_origination")


def _on_book(as_of: dt.date) -> str:
    day = _date(as_of)
    return f"l.start_date <= {day} AND (l.status = 'active' OR l.closed_on > {day} OR l.written_off_on > {day})"


def read_terms(as_of: dt.date) -> dict[str, NDArray[Any]]:
    """For every loan on the book at the close of `as_of` (in id order): the terms its exposure schedule needs and
    the PD of the automated decision that approved it (NaN for a loan booked without one)."""
    from creditplan.decisions.models import Decision

    lo, ap, de = Loan._meta.db_table, Application._meta.db_table, Decision._meta.db_table
    sql = (f"SELECT l.id, l.rate_ppm, l.method, l.months_per_period, {_day_number('l.maturity_date')}, d.pd "
           f"FROM {lo} l LEFT JOIN {ap} a ON a.ref = l.application_ref AND l.application_ref <> '' "
           f"LEFT JOIN {de} d ON d.id = a.decision_id WHERE {_on_book(as_of)} ORDER BY l.id")
    return _read_once(sql, TERM_COLUMNS, frozenset({"method"}), frozenset({"pd_origination"}))


def read_segments(as_of: dt.date) -> dict[str, NDArray[Any]]:
    """Every loan on the book at the close of `as_of` (in id order) with its customer's kind (individual /
    company): the segment a stress scenario's PD multipliers are set by."""
    lo, cu = Loan._meta.db_table, Customer._meta.db_table
    sql = (f"SELECT l.id, c.kind FROM {lo} l JOIN {cu} c ON c.id = l.customer_id WHERE {_on_book(as_of)} "
           f"ORDER BY l.id")
    return _read_once(sql, ("loan", "segment"), frozenset({"segment"}), frozenset())


PAYMENT_COLUMNS: tuple[str, ...] = ("loan", "due_3m", "paid_3m", "due_6m", "paid_6m")


def read_payments(as_of: dt.date, since_3m: dt.date, since_6m: dt.date) -> dict[str, NDArray[Any]]:
    """Per loan: what its instalments due in (since, as_of] asked (principal, interest, fee) and what had been paid
    on them by `as_of` (an instalment paid in full after `as_of` counts as unpaid; the replaced instalments of an
    earlier schedule are left out), over the last three and six months."""
    from creditplan.loans.models import Installment

    it = Installment._meta.db_table
    day, s3, s6 = _date(as_of), _date(since_3m), _date(since_6m)
    due = "(i.principal_minor + i.interest_minor + i.fee_minor)"
    paid = (f"(CASE WHEN i.paid_on IS NOT NULL AND i.paid_on > {day} THEN 0 ELSE "
            f"i.paid_principal_minor + i.paid_interest_minor + i.paid_fee_minor END)")
    sql = (f"SELECT i.loan_id, SUM(CASE WHEN i.due_date > {s3} THEN {due} ELSE 0 END), "
           f"SUM(CASE WHEN i.due_date > {s3} THEN {paid} ELSE 0 END), SUM({due}), SUM({paid}) "
           f"FROM {it} i WHERE i.due_date > {s6} AND i.due_date <= {day} AND i.status <> 'superseded' "
           f"GROUP BY i.loan_id ORDER BY i.loan_id")
    return _read_once(sql, PAYMENT_COLUMNS, frozenset(), frozenset())


def _read_once(sql: str, names: Sequence[str], text: frozenset[str], reals: frozenset[str]
               ) -> dict[str, NDArray[Any]]:
    """`_read` of a statement run once a month over the whole book: on PostgreSQL without JIT, whose compilation of
    the statement's expressions (seconds) costs more than it saves on one pass."""
    if not _postgresql():
        return _read(sql, names, text, reals)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL jit = off")
        return _read(sql, names, text, reals)


LINE_COLUMNS: tuple[str, ...] = ("line", "customer", "segment", "branch", "currency", "undrawn", "expires")


def read_lines(as_of: dt.date) -> dict[str, NDArray[Any]]:
    """Active revolving credit lines of customers that have not expired by `as_of`, with what is left to draw
    (limit less used and reserved; the lines as they stand now: lines keep no history)."""
    from creditplan.lines.models import CreditLine

    li, br, cu = CreditLine._meta.db_table, Branch._meta.db_table, Customer._meta.db_table
    sql = (f"SELECT l.id, l.customer_id, c.kind, b.code, l.currency, "
           f"l.amount_minor - l.used_minor - l.reserved_minor, {_day_number('l.expires_on')} "
           f"FROM {li} l JOIN {br} b ON b.id = l.branch_id JOIN {cu} c ON c.id = l.customer_id "
           f"WHERE l.status = 'active' AND {_flag('l.revolving')} = 1 AND l.customer_id IS NOT NULL "
           f"AND l.expires_on >= {_date(as_of)} AND l.amount_minor - l.used_minor - l.reserved_minor > 0 "
           f"ORDER BY l.id")
    return _read(sql, LINE_COLUMNS, frozenset({"segment", "branch", "currency"}), frozenset())


def read_plan(as_of: dt.date) -> dict[str, Any] | None:
    """The credit plan active on `as_of`: its net capital, single-customer limit and its root quota's limits and use
    (None when no plan is active)."""
    p, q = Plan._meta.db_table, Quota._meta.db_table
    sql = (f"SELECT p.code, p.name, p.currency, p.net_capital_minor, p.single_customer_bp, q.balance_limit_minor, "
           f"q.new_lending_limit_minor, q.outstanding_minor, q.reserved_minor + q.consumed_minor "
           f"FROM {p} p JOIN {q} q ON q.plan_id = p.id AND q.parent_id IS NULL "
           f"WHERE p.status = 'active' AND p.period_start <= %s AND p.period_end >= %s "
           f"ORDER BY p.period_start DESC, q.id")
    with connection.cursor() as cur:
        cur.execute(sql, [as_of, as_of])
        row = cur.fetchone()
    if row is None:
        return None
    keys = ("code", "name", "currency", "net_capital", "single_customer_bp", "balance_limit", "new_lending_limit",
            "outstanding", "used")
    return dict(zip(keys, row, strict=True))


def read_rows(model: Any, names: Sequence[str], date_field: str, day: dt.date, *, order: str,
              text: frozenset[str] = frozenset(), reals: frozenset[str] = frozenset()) -> dict[str, NDArray[Any]]:
    """Columns (`names`: fields of one of risk's own tables) of the rows of one date (`date_field` = `day`), in
    `order` (a field)."""
    cols = ", ".join(model._meta.get_field(n).column for n in names)
    sql = (f"SELECT {cols} FROM {model._meta.db_table} WHERE {model._meta.get_field(date_field).column} = "
           f"{_date(day)} ORDER BY {model._meta.get_field(order).column}")
    return _read(sql, names, text, reals)


def delete_rows(model: Any, date_field: str, day: dt.date) -> None:
    """Delete the rows of one date of one of risk's own tables (a date computed again)."""
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {model._meta.db_table} WHERE {model._meta.get_field(date_field).column} = %s",
                    [day])


def insert_columns(model: Any, columns: dict[str, NDArray[Any]]) -> int:
    """Insert a row per element of the columns (fields of `model`; text as str objects, dates as datetime64[D], NaN
    floats as NULL). PostgreSQL: one COPY of CSV written by Arrow; elsewhere: executemany."""
    names = list(columns)
    n = int(np.asarray(columns[names[0]]).size) if names else 0
    if n == 0:
        return 0
    table = model._meta.db_table
    col_sql = ", ".join(model._meta.get_field(name).column for name in names)
    if _postgresql():
        arrays = []
        for name in names:
            a = np.asarray(columns[name])
            if a.dtype == object:
                try:  # str objects: straight into Arrow
                    arrays.append(pa.array(a, type=pa.string()))
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    arrays.append(pa.array([None if v is None else str(v) for v in a.tolist()], type=pa.string()))
            elif a.dtype.kind == "f":
                arrays.append(pa.array(a, from_pandas=True))  # NaN → null
            else:
                arrays.append(pa.array(a))
        buffer = io.BytesIO()
        pacsv.write_csv(pa.table(arrays, names=names), buffer, pacsv.WriteOptions(include_header=False))
        with connection.cursor() as cur, cur.cursor.copy(f"COPY {table} ({col_sql}) FROM STDIN WITH (FORMAT csv)"
                                                         ) as copy:
            view = buffer.getbuffer()
            for start in range(0, len(view), 1 << 22):
                copy.write(bytes(view[start:start + (1 << 22)]))
        return n
    lists: list[list[Any]] = []
    for name in names:
        a = np.asarray(columns[name])
        if a.dtype.kind == "M":  # dates: ISO text, as Django writes them
            lists.append([str(v) for v in a.astype("datetime64[D]").tolist()])
        else:
            lists.append([None if v != v else float(v) for v in a.tolist()] if a.dtype.kind == "f" else a.tolist())
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({col_sql}) VALUES ({', '.join(['%s'] * len(names))})",
                        list(zip(*lists, strict=True)))
    return n
