"""The scoring app's only hand-written SQL: the operator's own query as training data (`creditplan model train
--query "SELECT …"`).

Why raw SQL here, and which benchmark justifies it: none does — this is not a speed-up over the ORM. The
statement is the operator's, written against whatever tables hold the loan history, so there is no model to
query through; the code only runs it. What the code guarantees instead: only a statement starting with SELECT
or WITH is sent, and it runs inside a transaction that is always rolled back, so even a data-modifying
statement (a PostgreSQL `WITH … DELETE`) changes nothing. Training from a query, and the refusal of a DELETE,
are tested in tests/scoring/test_channels.py (`test_train_from_a_database_query`). The scoring path itself
(`engine.arrow_kernel`, the registry's `services._compiled`) uses no SQL of its own.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from creditplan.core.errors import ValidationError


def query_frame(sql: str) -> Any:
    """The rows of a SELECT on the configured database as a DataFrame (column names from the cursor)."""
    import pandas as pd

    if not sql.strip().lower().startswith(("select", "with")):
        raise ValidationError("the query must be a SELECT", field="query", code="query_not_select")
    with transaction.atomic(), connection.cursor() as cur:  # rolled back: a query cannot change anything
        cur.execute(sql)
        names = [c[0] for c in cur.description]
        rows = cur.fetchall()
        transaction.set_rollback(True)
    return pd.DataFrame.from_records(rows, columns=names)
