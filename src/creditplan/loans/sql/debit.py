"""The raw SQL of the close's debit of settlement accounts (`loans.cob.debit`): ONE query per chunk finds the
loans to debit — those with an active mandate AND something falling due that day or a retry pending — through
the mandate table (a join on the loan's primary key), so the close never looks at a loan without a mandate and
never asks per loan. Justified by benchmarks/bench_close.py: the chunk's other loans cost nothing more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection

__all__ = ["loans_to_debit"]


def loans_to_debit(where: str, params: list[Any], day: dt.date) -> list[int]:
    """Ids of the chunk's loans (`where` over alias l, as `close.read_chunk`) still open for `day` with an active
    mandate and an installment falling due on `day` or retries left, in id order (the lock order)."""
    sql = ("SELECT l.id FROM loans_loan l JOIN loans_debitmandate m ON m.loan_id = l.id "
           f"WHERE {where} AND l.status = 'active' AND l.closed_through < %s AND m.active "
           "AND ((l.current_seq > 0 AND l.next_due_date = %s) OR m.retries_left > 0) ORDER BY l.id")
    with connection.cursor() as cur:
        cur.execute(sql, [*params, day, day])
        return [int(r[0]) for r in cur.fetchall()]
