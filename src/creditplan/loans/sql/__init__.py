"""The loans app's raw SQL, in one place: the statements of the daily close (`close.py`, justified by
benchmarks/bench_close.py), of bank-file payments (`payments.py`, benchmarks/bench_bankfile.py) and of the
generated book those benchmarks run on (`book.py`).

Everything else in the app goes through the ORM. A statement is hand-written here only where a benchmark shows
what the ORM costs on that path (model instances per row, Django's bulk INSERT escaping every JSON document,
one UPDATE per row): each says which benchmark it answers to. `django.db.connection` is used in this package
and nowhere else in the app.

This module: what the statements of every path share (which database, whether a transaction is open, `IN`
lists as one array parameter on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, connections

__all__ = ["batches", "close_connections", "id_list", "in_transaction", "is_postgresql", "where_in"]


def is_postgresql() -> bool:
    return bool(connection.vendor == "postgresql")


def in_transaction() -> bool:
    """Whether the caller holds a transaction open (`transaction.atomic`) on the default connection."""
    return bool(connection.in_atomic_block)


def close_connections() -> None:
    """Close this thread's database connections (a worker thread of the bank file, when it is done)."""
    connections.close_all()


def where_in(qs: Any, column: str, values: Sequence[Any]) -> Any:
    """`column IN values`, as `= ANY(%s)` on PostgreSQL: one array parameter instead of a thousand
    placeholders that the driver would parse on every batch (benchmarks/bench_bankfile.py)."""
    if is_postgresql():
        return qs.extra(where=[f'"{qs.model._meta.db_table}"."{column}" = ANY(%s)'], params=[list(values)])
    return qs.filter(**{f"{column}__in": list(values)})


def id_list(ids: Sequence[int], column: str) -> tuple[str, list[Any]]:
    """A `column IN ids` condition and its parameters: one array on PostgreSQL, a placeholder each elsewhere."""
    if is_postgresql():
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def batches(seq: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]
