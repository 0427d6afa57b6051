"""Origination's raw SQL: the statements of a submission (the hot path: origination.services.submission) that
the ORM would make several round trips of. Every other read and write of origination goes through the ORM.

Each statement names the benchmark that justifies it: benchmarks/bench_decision_http.py (a submission over
HTTP in 6 SQL statements, median ~9-10 ms; it counts the statements) and benchmarks/profile_submission.py
(where the time of one submission goes, stage by stage). The value adaptation is shared with the decision's
statements (creditplan.common.sql); the decision's INSERT itself is decisions.sql.decision_insert.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection

from creditplan.common.sql import Columns
from creditplan.customers.models import Customer
from creditplan.lines import domain as lines_domain
from creditplan.lines import sql as lines_sql
from creditplan.loans.models import Loan, Product
from creditplan.org.models import Branch
from creditplan.origination.models import Application, Transition

# --- the submission's look-up ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProductTerms:
    """What the submission checks of a product (read with the customer, `lookup`)."""

    code: str
    is_active: bool
    currency: str
    min_amount_minor: int
    max_amount_minor: int
    min_term: int
    max_term: int


CUSTOMER_COLUMNS = ("id", "kind", "status", "name", "branch_id", "user_id", "id_number_enc", "birth_date",
                    "monthly_income_minor", "currency", "region_code", "industry_code", "onboarded_on")
BRANCH_COLUMNS = ("code", "name", "name_en", "level", "path")
PRODUCT_COLUMNS = ("code", "is_active", "currency", "min_amount_minor", "max_amount_minor", "min_term", "max_term")


def lookup(customer_id: int | None, product_code: str
           ) -> tuple[Customer | None, ProductTerms | None, bool, lines_domain.Line | None]:
    """The customer (with their branch), the product, whether the customer is overdue at this bank and the
    customer's credit line in force (None: no line; on PostgreSQL locked to the submission's commit, see
    lines.sql.lookup_join) — in ONE statement.

    Justified by benchmarks/bench_decision_http.py: this is the hot path of every submission, and each round
    trip to the database counts (through the ORM: customer, branch, product and the overdue check are four
    queries; a submission is 6 statements in all). benchmarks/profile_submission.py times it in the stage
    "origination: _validate (look-up + checks)"."""
    c, b, p, loan = (Customer._meta.db_table, Branch._meta.db_table, Product._meta.db_table, Loan._meta.db_table)
    cols = ", ".join([*(f"c.{x}" for x in CUSTOMER_COLUMNS), *(f"b.{x}" for x in BRANCH_COLUMNS),
                      *(f"p.{x}" for x in PRODUCT_COLUMNS)])
    sql = (f"SELECT {cols}, EXISTS(SELECT 1 FROM {loan} l WHERE l.customer_id = c.id AND l.dpd > 0 "
           f"AND l.status <> 'closed'), {lines_sql.lookup_select()} FROM (SELECT 1 AS one) x "
           f"LEFT JOIN {c} c ON c.id = %s "
           f"LEFT JOIN {b} b ON b.id = c.branch_id LEFT JOIN {p} p ON p.code = %s {lines_sql.lookup_join()}")
    cid = customer_id if customer_id is not None else -1
    with connection.cursor() as cur:
        cur.execute(sql, [cid, product_code, cid])
        row = cur.fetchone()
    nc, nb = len(CUSTOMER_COLUMNS), len(BRANCH_COLUMNS)
    customer = None
    if row[0] is not None:
        values = dict(zip(CUSTOMER_COLUMNS, row[:nc], strict=True))
        for key in ("birth_date", "onboarded_on"):  # SQLite hands dates back as text
            if isinstance(values[key], str):
                values[key] = dt.date.fromisoformat(values[key])
        customer = Customer(**values)
        customer.branch = Branch(id=values["branch_id"], **dict(zip(BRANCH_COLUMNS, row[nc:nc + nb], strict=True)))
    product_row = row[nc + nb:nc + nb + len(PRODUCT_COLUMNS)]
    product = None
    if product_row[0] is not None:
        product = ProductTerms(**dict(zip(PRODUCT_COLUMNS, product_row, strict=True)))
        product = dataclasses.replace(product, is_active=bool(product.is_active))
    at = nc + nb + len(PRODUCT_COLUMNS)
    return customer, product, bool(row[at]), lines_sql.line_of(row[at + 1:])



# --- the submission's rows ---------------------------------------------------------------------------------

APPLICATION = Columns(f for f in Application._meta.concrete_fields if not f.primary_key)
TRANSITION = Columns(f for f in Transition._meta.concrete_fields
                     if not f.primary_key and f.attname != "application_id")


class Rows:
    """The application's and its transitions' INSERT values, adapted ahead (the application's decision_id is
    filled in by the statement: the decision is inserted with it)."""

    __slots__ = ("app", "transitions")

    def __init__(self, a: Application, transitions: list[Transition]) -> None:
        self.app = APPLICATION.values(a)
        self.transitions = [TRANSITION.value(f, getattr(t, f.attname))
                            for t in transitions for f in TRANSITION.fields]


_app_sql: dict[str, str] = {}


def _app_insert_sql(pg: bool) -> str:
    """The application's INSERT (on PostgreSQL its decision_id is the decision inserted by the same
    statement)."""
    sql = _app_sql.get(connection.vendor)
    if sql is None:
        sql = _app_sql[connection.vendor] = (
            f"INSERT INTO {Application._meta.db_table} ({APPLICATION.names}) VALUES ("
            + ", ".join("(SELECT id FROM d)" if pg and f.attname == "decision_id" else APPLICATION.slot(f)
                        for f in APPLICATION.fields)
            + ") RETURNING id")
    return sql


def insert_submission(decision_sql: str, decision_params: list[Any], a: Application,
                      transitions: list[Transition], rows: Rows) -> int:
    """INSERT the decision (its statement and parameters: decisions.sql.decision_insert), the application
    (naming the decision) and its first transitions: one statement on PostgreSQL (data-modifying CTEs), one by
    one elsewhere. Values go through each field's own adaptation (JSON, datetimes), as the ORM would do. Sets
    the application's id and decision id, and returns the decision's id.

    Justified by benchmarks/bench_decision_http.py: through the ORM this is three INSERTs (four with the
    second transition) and as many round trips on every submission; here it is one.
    benchmarks/profile_submission.py times it in the stage "origination: insert_submission"."""
    pg = connection.vendor == "postgresql"
    fields = APPLICATION.fields
    app_params = [v for f, v in zip(fields, rows.app, strict=True) if not (pg and f.attname == "decision_id")]
    insert = _app_insert_sql(pg)
    if pg:
        width = len(TRANSITION.fields)
        tvalues = ", ".join(f"((SELECT id FROM a), {', '.join(['%s'] * width)})" for _ in transitions)
        with connection.cursor() as cur:
            cur.execute(f"WITH d AS ({decision_sql}), a AS ({insert}) INSERT INTO {Transition._meta.db_table} "
                        f"(application_id, {TRANSITION.names}) VALUES {tvalues} "
                        "RETURNING application_id, (SELECT id FROM d)",
                        [*decision_params, *app_params, *rows.transitions])
            a.pk, decision_id = cur.fetchone()
    else:
        with connection.cursor() as cur:
            cur.execute(decision_sql, decision_params)
            decision_id = cur.fetchone()[0]
            app_params[[f.attname for f in fields].index("decision_id")] = decision_id
            cur.execute(insert, app_params)
            a.pk = cur.fetchone()[0]
        for t in transitions:
            t.application = a
        Transition.objects.bulk_create(transitions)
    a.id, a.decision_id = a.pk, decision_id
    return int(decision_id)


def correct_submission(stored: Application, stored_rows: Rows, a: Application, transitions: list[Transition],
                       rows: Rows) -> tuple[Application, list[Transition], Rows]:
    """The plan did not grant the quota after the rows were written (rare): UPDATE the application and its
    transitions where they differ from the rows built from the corrected decision.

    Justified by benchmarks/bench_decision_http.py: the rows are written before the quota is reserved, so that
    the plan's row locks are held only from the reservation to the commit; in the rare case the plan answers
    otherwise, only the columns that differ are written, without the ORM's read-modify-write."""
    a.pk = a.id = stored.pk
    a.decision_id = stored.decision_id
    changed = [(f, v) for f, old, v in zip(APPLICATION.fields, stored_rows.app, rows.app, strict=True)
               if f.attname != "decision_id" and old != v]
    n, at_from = len(TRANSITION.fields), [f.attname for f in TRANSITION.fields].index("from_status")
    with connection.cursor() as cur:
        if changed:
            cur.execute(f"UPDATE {Application._meta.db_table} SET "
                        f"{', '.join(f'{f.column} = {APPLICATION.slot(f)}' for f, _v in changed)} WHERE id = %s",
                        [*(v for _f, v in changed), a.pk])
        for i in range(len(transitions)):
            old, new = stored_rows.transitions[i * n:(i + 1) * n], rows.transitions[i * n:(i + 1) * n]
            diff = [(f, v) for f, o, v in zip(TRANSITION.fields, old, new, strict=True) if o != v]
            if diff:
                cur.execute(f"UPDATE {Transition._meta.db_table} SET "
                            f"{', '.join(f'{f.column} = %s' for f, _v in diff)} "
                            "WHERE application_id = %s AND from_status = %s",
                            [*(v for _f, v in diff), a.pk, old[at_from]])
    return a, transitions, rows
