"""The raw statements of risk monitoring: reading the whole book as columns.

Why raw SQL: the indicators run over every loan after each close (a million loans in the benchmark,
benchmarks/bench_risk.py, target ≤ 30 s with the close's own time beside it). Building a million model objects
costs minutes; one SELECT of plain columns, turned into numpy arrays, costs seconds. Tables and columns are taken
from the models' metadata, so a renamed column breaks here loudly rather than silently.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import connection
from numpy.typing import NDArray

from creditplan.customers.models import Customer
from creditplan.loans.models import Loan, Product
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


def _book_sql(retention_days: int) -> tuple[str, list[Any]]:
    lo, cu, br, pr, ap = (Loan._meta.db_table, Customer._meta.db_table, Branch._meta.db_table,
                          Product._meta.db_table, Application._meta.db_table)
    sql = (
        f"SELECT l.id, l.customer_id, b.code, p.code, COALESCE(c.industry_code, ''), COALESCE(c.region_code, ''), "
        f"COALESCE(a.channel, ''), COALESCE(a.grade, ''), a.score, l.start_date, l.first_due_date, "
        f"l.oldest_due_date, l.principal_minor, l.principal_outstanding_minor, l.overdue_principal_minor, l.dpd, "
        f"l.bucket, l.risk_class, l.restructure_count, l.status = 'written_off', l.status = 'closed', l.currency "
        f"FROM {lo} l JOIN {cu} c ON c.id = l.customer_id JOIN {br} b ON b.id = l.branch_id "
        f"JOIN {pr} p ON p.id = l.product_id LEFT JOIN {ap} a ON a.ref = l.application_ref "
        f"WHERE l.start_date <= %s AND (l.status = 'active' OR l.closed_on >= %s OR l.written_off_on >= %s) "
        f"ORDER BY l.id")
    return sql, []


def read_book(as_of: dt.date, *, retention_days: int = 400) -> dict[str, NDArray[Any]]:
    """Every loan on the book at the close of `as_of`, and those that left it in the last `retention_days` (so a
    roll rate sees a repaid or written-off loan where it went), as columns."""
    sql, _ = _book_sql(retention_days)
    since = as_of - dt.timedelta(days=retention_days)
    with connection.cursor() as cur:
        cur.execute(sql, [as_of, since, since])
        rows = cur.fetchall()
    return _columns(rows)


def _day(value: Any) -> int:
    if value is None:
        return -1
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return int(value.toordinal())


def _columns(rows: list[tuple[Any, ...]]) -> dict[str, NDArray[Any]]:
    out: dict[str, NDArray[Any]] = {}
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in BOOK_COLUMNS]
    for name, values in zip(BOOK_COLUMNS, transposed, strict=True):
        if name in _TEXT:
            out[name] = np.array([str(v or "") for v in values], dtype=object)
        elif name in _DATES:
            out[name] = np.array([_day(v) for v in values], dtype=np.int64)
        elif name == "score":
            out[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        else:
            out[name] = np.array([int(v or 0) for v in values], dtype=np.int64)
    return out


QUOTA_COLUMNS: tuple[str, ...] = ("quota", "branch", "product", "industry", "region", "limit", "used", "start", "end")


def read_quotas(as_of: dt.date) -> dict[str, NDArray[Any]]:
    """The leaf quotas (those not split further) of the plan active on `as_of`: limit and use of new lending."""
    q, p, b = Quota._meta.db_table, Plan._meta.db_table, Branch._meta.db_table
    sql = (f"SELECT q.id, COALESCE(b.code, ''), q.product, q.industry, q.region, q.new_lending_limit_minor, "
           f"q.reserved_minor + q.consumed_minor, p.period_start, p.period_end FROM {q} q "
           f"JOIN {p} p ON p.id = q.plan_id LEFT JOIN {b} b ON b.id = q.branch_id "
           f"WHERE p.status = 'active' AND p.period_start <= %s AND p.period_end >= %s "
           f"AND NOT EXISTS (SELECT 1 FROM {q} c WHERE c.parent_id = q.id) ORDER BY q.id")
    with connection.cursor() as cur:
        cur.execute(sql, [as_of, as_of])
        rows = cur.fetchall()
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in QUOTA_COLUMNS]
    out: dict[str, NDArray[Any]] = {}
    for name, values in zip(QUOTA_COLUMNS, transposed, strict=True):
        if name in ("branch", "product", "industry", "region"):
            out[name] = np.array([str(v or "") for v in values], dtype=object)
        elif name in ("start", "end"):
            out[name] = np.array([_day(v) for v in values], dtype=np.int64)
        else:
            out[name] = np.array([int(v or 0) for v in values], dtype=np.int64)
    return out


APPLICATION_COLUMNS: tuple[str, ...] = ("branch", "product", "industry", "region", "channel", "grade", "outcome",
                                        "status", "auto_approved", "score", "requested", "approved_amount")


def read_applications(since: dt.datetime, until: dt.datetime) -> dict[str, NDArray[Any]]:
    """Applications submitted in [since, until) with their automated decision and where they stand."""
    ap, cu, br = Application._meta.db_table, Customer._meta.db_table, Branch._meta.db_table
    sql = (f"SELECT b.code, a.product, COALESCE(c.industry_code, ''), COALESCE(c.region_code, ''), a.channel, "
           f"a.grade, a.decision_outcome, a.status, a.auto_approved, a.score, a.amount_minor, "
           f"COALESCE(a.approved_amount_minor, 0) FROM {ap} a JOIN {cu} c ON c.id = a.customer_id "
           f"JOIN {br} b ON b.id = a.branch_id WHERE a.created_at >= %s AND a.created_at < %s "
           f"AND a.decision_outcome <> '' ORDER BY a.id")
    with connection.cursor() as cur:
        cur.execute(sql, [since, until])
        rows = cur.fetchall()
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in APPLICATION_COLUMNS]
    out: dict[str, NDArray[Any]] = {}
    for name, values in zip(APPLICATION_COLUMNS, transposed, strict=True):
        if name == "score":
            out[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        elif name in ("auto_approved", "requested", "approved_amount"):
            out[name] = np.array([int(v or 0) for v in values], dtype=np.int64)
        else:
            out[name] = np.array([str(v or "") for v in values], dtype=object)
    return out
