"""The raw reads of the early-warning run (risk.services.signals): other apps' tables read as columns.

Why raw SQL: the run covers every customer of the book after each close (benchmarks/bench_signals.py: a million
loans, target ≤ 60 s for signals, levels and the watch list on PostgreSQL). The customers' branches and the credit
lines' use are read for every customer at once, as columns (COPY on PostgreSQL, through risk.sql's reader), not as
model objects. Tables and columns come from the models' metadata.

The credit-lines app (creditplan.lines) keeps no history of its lines and offers no bulk read: its current use is
read here, and the run keeps what it read (risk.services.signals) so that a month later it can be compared with.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

from creditplan.customers.models import Customer
from creditplan.org.models import Branch
from creditplan.risk.sql import _read

LINE_USE_COLUMNS: tuple[str, ...] = ("customer", "line_amount", "line_used")


def read_line_use() -> dict[str, NDArray[Any]]:
    """Per customer with a line in force (active or frozen): its limit and what is drawn on it, in fen (customer
    ascending; a customer holds at most one open line)."""
    from creditplan.lines.models import CreditLine

    li = CreditLine._meta.db_table
    sql = (f"SELECT l.customer_id, SUM(l.amount_minor), SUM(l.used_minor) FROM {li} l "
           f"WHERE l.customer_id IS NOT NULL AND l.status IN ('active', 'frozen') "
           f"GROUP BY l.customer_id ORDER BY l.customer_id")
    return _read(sql, LINE_USE_COLUMNS, frozenset(), frozenset())


BRANCH_COLUMNS: tuple[str, ...] = ("customer", "branch_id", "branch")


def read_customer_branches() -> dict[str, NDArray[Any]]:
    """Every customer's branch (id and code), customer ascending."""
    cu, br = Customer._meta.db_table, Branch._meta.db_table
    sql = f"SELECT c.id, c.branch_id, b.code FROM {cu} c JOIN {br} b ON b.id = c.branch_id ORDER BY c.id"
    return _read(sql, BRANCH_COLUMNS, frozenset({"branch"}), frozenset())


def existing_customers(ids: set[int]) -> set[int]:
    """Which of these customer numbers exist (an import names customers by number)."""
    found: set[int] = set()
    wanted = sorted(ids)
    for start in range(0, len(wanted), 1000):
        found.update(Customer.objects.filter(pk__in=wanted[start:start + 1000]).values_list("pk", flat=True))
    return found
