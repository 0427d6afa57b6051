"""The raw SQL of the generated loan book (`loans.bulk.generate_loans`), which benchmarks/bench_close.py (a million
loans) and benchmarks/bench_bankfile.py (a hundred thousand) run on: loans and their installments written with
COPY on PostgreSQL (a million loans and some fifteen million installments through the ORM would take longer than
the figures measured on them), executemany INSERTs elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

__all__ = ["copy_loans_and_installments", "insert_loans_and_installments", "reset_loan_id_sequence"]


def copy_loans_and_installments(names: Sequence[str], rows: Sequence[Sequence[Any]], inst_cols: Sequence[str],
                                parts: Sequence[str]) -> None:
    """PostgreSQL: COPY the loans (`names`: their columns, `rows`: the values) and the installments (`parts`:
    COPY text lines, tab-separated in `inst_cols` order, each ending in a newline)."""
    with connection.cursor() as cur:
        with cur.cursor.copy(f"COPY loans_loan ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        with cur.cursor.copy(f"COPY loans_installment ({', '.join(inst_cols)}) FROM STDIN") as copy:
            for s in range(0, len(parts), 50_000):
                copy.write("".join(parts[s:s + 50_000]))


def insert_loans_and_installments(names: Sequence[str], rows: Sequence[Sequence[Any]], inst_cols: Sequence[str],
                                  irows: Sequence[Sequence[Any]]) -> None:
    """Any other database: the same rows by executemany INSERTs."""
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO loans_loan ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                        rows)
        cur.executemany(f"INSERT INTO loans_installment ({', '.join(inst_cols)}) VALUES "
                        f"({', '.join(['%s'] * len(inst_cols))})", irows)


def reset_loan_id_sequence() -> None:
    """PostgreSQL: the loan id sequence after the COPY gave ids explicitly."""
    with connection.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence('loans_loan', 'id'), (SELECT MAX(id) FROM loans_loan))")
