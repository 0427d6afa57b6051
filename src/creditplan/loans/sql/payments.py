"""The raw SQL of payments (`loans.payments`), justified by benchmarks/bench_bankfile.py: 100,000 payments of a
bank file in batches of 2,000, where the ORM's bulk INSERT escapes every quote of every JSON document (each
payment's state snapshot and allocation) through a regular expression — it was most of the time — and one
UPDATE per changed installment or loan would be a statement per row. PostgreSQL gets COPY for new rows and one
UPDATE … FROM unnest() per table; any other database bulk INSERTs (the ORM) and executemany UPDATEs.

The layout query and the installment UPDATE serve a single payment too (a teller's, an API call, a replay):
the same statements, so a payment is written the same way however it arrives.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.allocation import InstallmentRow
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Payment, Posting
from creditplan.loans.sql import is_postgresql

__all__ = ["LOAN_PAYMENT_COLUMNS", "ROW_PAYMENT_COLUMNS", "copy_activities", "copy_journal", "copy_payments",
           "dumps", "installment_layout", "update_installments", "update_installments_pg", "update_loans",
           "update_loans_pg"]

# Loan columns a payment changes (what the bank-file path writes back).
LOAN_PAYMENT_COLUMNS = ("principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor",
                        "penalty_minor", "fees_minor", "credit_minor", "oldest_due_date", "dpd", "bucket", "status",
                        "closed_on", "version", "accrued_interest_minor", "period_interest_minor",
                        "period_principal_minor", "period_fee_minor", "interest_income_minor", "fee_income_minor")
ROW_PAYMENT_COLUMNS = ("paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status", "paid_on")

dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
"""JSON text as COPY sends it: compact, no circularity check (the documents are plain data)."""

Entry = tuple[Any, dt.date, str, list[Line]]  # (loan, entry date, memo, balanced lines)


def installment_layout(loan_ids: Sequence[int]) -> tuple[int, list[tuple[int, int, int, int]]]:
    """The installment table's highest id, and (loan id, lowest id, highest id, rows) of each loan's rows not yet
    due (one aggregate over the `installment_open` index): what a payment's compact snapshot records."""
    table = Installment._meta.db_table
    params: list[Any]
    if is_postgresql():
        where, params = "loan_id = ANY(%s)", [list(loan_ids)]
    else:
        where, params = f"loan_id IN ({', '.join(['%s'] * len(loan_ids))})", list(loan_ids)
    with connection.cursor() as cur:
        cur.execute(f"SELECT MAX(id) FROM {table}")
        top = cur.fetchone()[0] or 0
        cur.execute(f"SELECT loan_id, MIN(id), MAX(id), COUNT(*) FROM {table} WHERE {where} AND status = 'scheduled' "
                    "GROUP BY loan_id", params)
        found = cur.fetchall()
    return top, found


def update_installments(dirty: Sequence[InstallmentRow]) -> None:
    """Write back the paid columns of the rows a payment changed (one statement, executemany)."""
    table = Installment._meta.db_table
    sets = ", ".join(f"{c} = %s" for c in ROW_PAYMENT_COLUMNS)
    with connection.cursor() as cur:
        cur.executemany(f"UPDATE {table} SET {sets} WHERE id = %s",
                        [[getattr(r, c) for c in ROW_PAYMENT_COLUMNS] + [r.id] for r in dirty])


def update_loans(loans: Sequence[Any]) -> None:
    """Write back the columns payments changed on these loans (LOAN_PAYMENT_COLUMNS; executemany)."""
    values = [[getattr(loan, c) for c in LOAN_PAYMENT_COLUMNS] + [loan.pk] for loan in loans]
    sets = ", ".join(f"{c} = %s" for c in LOAN_PAYMENT_COLUMNS)
    with connection.cursor() as cur:
        cur.executemany(f"UPDATE {Loan._meta.db_table} SET {sets} WHERE id = %s", values)


# --- PostgreSQL ---------------------------------------------------------------------------------------------

def copy_payments(made: Iterable[Any], actor_id: Any, now: dt.datetime) -> None:
    """COPY the new payments (reference, loan, value date, amount, channel, kind, allocation, state_before)."""
    encode = dumps
    with connection.cursor() as cur, cur.copy(
            f"COPY {Payment._meta.db_table} (reference, loan_id, value_date, amount_minor, channel, kind, "
            "allocation, state_before, status, reversal_reason, posted_by_id, posted_at) FROM STDIN") as cp:
        for p in made:
            cp.write_row((p.reference, p.loan.pk, p.value_date, p.amount_minor, p.channel, p.kind,
                          encode(p.allocation), encode(p.state_before), "posted", "", actor_id, now))


def update_installments_pg(rows: Sequence[InstallmentRow]) -> None:
    """The paid columns of the changed installments: one UPDATE … FROM unnest()."""
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {Installment._meta.db_table} AS i SET paid_principal_minor = v.pp, "
            "paid_interest_minor = v.pi, paid_fee_minor = v.pf, status = v.st, paid_on = v.po "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::date[]) "
            "AS v(id, pp, pi, pf, st, po) WHERE i.id = v.id",
            [[r.id for r in rows], [r.paid_principal_minor for r in rows], [r.paid_interest_minor for r in rows],
             [r.paid_fee_minor for r in rows], [r.status for r in rows], [r.paid_on for r in rows]])


def update_loans_pg(loans: Sequence[Any]) -> None:
    """The payment columns of the changed loans (LOAN_PAYMENT_COLUMNS): one UPDATE … FROM unnest()."""
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {Loan._meta.db_table} AS l SET principal_outstanding_minor = v.po, "
            "overdue_principal_minor = v.op, overdue_interest_minor = v.oi, penalty_minor = v.pen, "
            "fees_minor = v.fees, credit_minor = v.credit, oldest_due_date = v.oldest, dpd = v.dpd, "
            "bucket = v.bucket, status = v.status, closed_on = v.closed_on, version = v.version, "
            "accrued_interest_minor = v.ai, period_interest_minor = v.pi, period_principal_minor = v.pp, "
            "period_fee_minor = v.pf, interest_income_minor = v.ii, fee_income_minor = v.fi "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::date[], %s::int[], %s::int[], %s::text[], %s::date[], %s::int[], "
            "%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
            "AS v(id, po, op, oi, pen, fees, credit, oldest, dpd, bucket, status, closed_on, version, "
            "ai, pi, pp, pf, ii, fi) "
            "WHERE l.id = v.id",
            [[x.pk for x in loans], *([getattr(x, c) for x in loans] for c in LOAN_PAYMENT_COLUMNS)])


def copy_journal(checked: Sequence[Entry], kind: str, batch_ref: str, now: dt.datetime) -> None:
    """The journal entries (checked, none empty) and their postings: entry ids are taken from their sequence
    first, so the postings can name them in the same COPY pass."""
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [JournalEntry._meta.db_table, len(checked)])
        ids = [row[0] for row in cur.fetchall()]
        with cur.copy(f"COPY {JournalEntry._meta.db_table} (id, entry_date, kind, loan_id, batch_ref, memo, "
                      "created_at) FROM STDIN") as cp:
            for pk, (loan, day, memo, _) in zip(ids, checked, strict=True):
                cp.write_row((pk, day, kind, loan.pk, batch_ref, memo[:200], now))
        with cur.copy(f"COPY {Posting._meta.db_table} (entry_id, account, branch_code, currency, amount_minor) "
                      "FROM STDIN") as cp:
            for pk, (_, _, _, lines) in zip(ids, checked, strict=True):
                for ln in lines:
                    cp.write_row((pk, ln.account, ln.branch, ln.currency, ln.amount_minor))


def copy_activities(rows: Iterable[tuple[int, dt.date, str, str, int, str, dt.datetime]]) -> None:
    """COPY loan activities: (loan id, business date, kind, clause, amount, detail as JSON text, created at)."""
    with connection.cursor() as cur, cur.copy(
            f"COPY {LoanActivity._meta.db_table} (loan_id, business_date, kind, clause, amount_minor, detail, "
            "created_at) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
