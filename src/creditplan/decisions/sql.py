"""The decision engine's raw SQL: the statements of the submission path that the ORM would make several round
trips (or much slower Python) of. Every other read and write of the decisions app goes through the ORM.

Each statement names the benchmark that justifies it: benchmarks/bench_decision_http.py (a submission over
HTTP in 6 SQL statements, median ~9-10 ms; it counts the statements) and benchmarks/profile_submission.py
(where the time of one submission goes, stage by stage). The value adaptation is shared with origination's
statements (creditplan.common.sql).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection

from creditplan.common.sql import Columns
from creditplan.decisions.models import (
    AuthorityRule,
    Decision,
    GradeTerms,
    Policy,
    PolicyVersion,
    ProductSettings,
)
from creditplan.org.models import Branch

# --- the configuration snapshot: everything a decision reads besides the application, in ONE statement --

PRODUCT_FIELDS = ("code", "is_active", "min_amount_minor", "max_amount_minor", "min_term", "max_term",
                  "rate_floor_ppm", "rate_cap_ppm", "rate_ppm", "months_per_period", "method", "upfront_fee_bp",
                  "installment_fee_minor", "lpr_tenor")
SETTINGS_FIELDS = ("product", "model_name", "segment_models", "dsr_pct", "dual_approval_above_minor",
                   "amount_step_minor")
BRANCH_FIELDS = ("id", "code", "name", "name_en", "level", "parent_id", "path", "region_code")
_snapshot_sql: dict[str, str] = {}


def _build_snapshot_sql(vendor: str) -> str:
    """The statement behind `configuration_row`: the branch's columns, then one JSON text per kind of
    configuration (product, product settings, pricing grid, LPR in force, published policy version, scoring
    models with their champion, authority matrix), each ordered so that the same data always gives the same
    text."""
    from creditplan.loans.models import LprRate, Product
    from creditplan.scoring.models import ModelVersion, ScoringModel

    pg = vendor == "postgresql"
    product, lpr, settings = Product._meta.db_table, LprRate._meta.db_table, ProductSettings._meta.db_table
    grades, policy, version = GradeTerms._meta.db_table, Policy._meta.db_table, PolicyVersion._meta.db_table
    model, mversion = ScoringModel._meta.db_table, ModelVersion._meta.db_table
    rule, branch = AuthorityRule._meta.db_table, Branch._meta.db_table

    def obj(pairs: Iterable[tuple[str, str]]) -> str:
        args = ", ".join(f"'{k}', {v}" for k, v in pairs)
        return f"{'json_build_object' if pg else 'json_object'}({args})"

    def of(alias: str, names: Iterable[str]) -> list[tuple[str, str]]:
        return [(n, f"{alias}.{n}") for n in names]

    def one(expr: str, source: str) -> str:
        return f"(SELECT {expr} FROM {source} LIMIT 1)" + ("::text" if pg else "")

    def many(expr: str, source: str, order: str) -> str:
        if pg:
            return f"(SELECT json_agg({expr} ORDER BY {order}) FROM {source})::text"
        return f"(SELECT json_group_array(json(j)) FROM (SELECT {expr} AS j FROM {source} ORDER BY {order}))"

    def version_of(where: str, column: str) -> str:
        return f"(SELECT mv.{column} FROM {mversion} mv WHERE {where} ORDER BY mv.number DESC LIMIT 1)"

    champion = "mv.model_id = m.id AND mv.status = 'champion'"
    models = [("name", "m.name"), ("challenger_id", "m.challenger_id"), ("challenger_pct", "m.challenger_pct"),
              ("champion_id", version_of(champion, "id")),
              ("champion_sha256", version_of(champion, "artifact_sha256")),
              ("challenger_sha256", version_of("mv.id = m.challenger_id", "artifact_sha256"))]
    settings_fields = [(n, "json(s.segment_models)" if n == "segment_models" and not pg else f"s.{n}")
                       for n in SETTINGS_FIELDS]
    columns = [f"b.{c}" for c in BRANCH_FIELDS] + [
        one(obj(of("p", PRODUCT_FIELDS)), f"{product} p WHERE p.code = %s"),
        one(obj(settings_fields), f"{settings} s WHERE s.product = %s"),
        many(obj(of("g", ("grade", "spread_bp", "limit_minor", "auto_approve_max_minor"))),
             f"{grades} g WHERE g.product = %s", "g.grade"),
        one(obj(of("l", ("rate_ppm", "effective_date"))),
            f"{lpr} l JOIN {product} lp ON l.tenor = lp.lpr_tenor WHERE lp.code = %s AND l.effective_date <= %s "
            "ORDER BY l.effective_date DESC"),
        one(obj(of("v", ("id", "number", "jdm_sha256"))),
            f"{version} v JOIN {policy} pp ON pp.id = v.policy_id WHERE pp.product = %s AND v.status = 'published' "
            "ORDER BY v.number DESC"),
        many(obj(models), f"{model} m", "m.id"),
        many(obj(of("r", ("role", "branch_level", "product", "max_amount_minor", "worst_grade"))),
             f"{rule} r WHERE r.is_active", "r.branch_level, r.role, r.product, r.max_amount_minor, r.id"),
    ]
    return (f"SELECT {', '.join(columns)} FROM (SELECT 1 AS one) x "
            f"LEFT JOIN {branch} b ON b.code = %s AND b.is_active")


def configuration_row(product: str, branch: str, day: dt.date) -> tuple[Any, ...]:
    """The (active) branch's columns (BRANCH_FIELDS, all None for no such branch), then the product's decision
    configuration as seven JSON texts, in ONE statement (decisions.services.snapshot builds and caches from
    it).

    Justified by benchmarks/bench_decision_http.py: read through the ORM, the configuration of one decision is
    eight queries (product, settings, grid, LPR, policy, models, champion, authority matrix) and the branch a
    ninth, each a round trip on every submission; one statement keeps a submission at 6 statements. The kernel
    itself decides in well under a millisecond (benchmarks/bench_decisions.py: over 5,000 decisions/s), so
    nine round trips would cost more than the decision. The texts are also what decides whether the
    configuration built last can be reused (benchmarks/profile_submission.py, stage
    "decisions: configuration")."""
    vendor = connection.vendor
    sql = _snapshot_sql.get(vendor)
    if sql is None:
        sql = _snapshot_sql[vendor] = _build_snapshot_sql(vendor)
    day_param: Any = day if vendor == "postgresql" else day.isoformat()
    with connection.cursor() as cur:
        cur.execute(sql, [product, product, product, product, day_param, product, branch])
        row: tuple[Any, ...] = cur.fetchone()
    return row


# --- the stored decision ----------------------------------------------------------------------------------

DECISION = Columns(f for f in Decision._meta.concrete_fields if not f.primary_key)
#: What the plan's answer may change in a decision already written.
QUOTA_FIELDS = ("outcome", "reasons", "quota_status", "quota_detail")
_decision_sql: dict[str, str] = {}


def decision_insert(d: Decision) -> tuple[str, list[Any]]:
    """The INSERT … RETURNING id that stores a decision, and its parameters (a caller may run it in a CTE of
    its own statement: origination.sql.insert_submission stores the decision, the application and its
    transitions in one).

    Justified by benchmarks/bench_decision_http.py and benchmarks/profile_submission.py: `Model.save()` costs
    a round trip of its own and the ORM's per-field adaptation on every submission; the values here are
    adapted ahead (creditplan.common.sql) and the statement is built once per database vendor."""
    sql = _decision_sql.get(connection.vendor)
    if sql is None:
        sql = _decision_sql[connection.vendor] = (
            f"INSERT INTO {Decision._meta.db_table} ({DECISION.names}) "
            f"VALUES ({', '.join(DECISION.slot(f) for f in DECISION.fields)}) RETURNING id")
    return sql, DECISION.values(d)


def run_insert(sql: str, params: list[Any]) -> int:
    """Run a `decision_insert` statement on its own (decisions.services.decide, outside a submission); the new
    decision's id. The same statement as the submission's (justified there): a decision is stored one way."""
    with connection.cursor() as cur:
        cur.execute(sql, params)
        decision_id: int = cur.fetchone()[0]
    return decision_id


def mark_stored(d: Decision, decision_id: int) -> None:
    """The decision row now exists (inserted by a hand-written statement): the instance behaves as one the ORM
    read back."""
    d.pk = d.id = decision_id
    d._state.adding, d._state.db = False, connection.alias


def update_quota_answer(d: Decision) -> None:
    """Write what the plan's answer changed in a stored decision (QUOTA_FIELDS), in one UPDATE.

    Justified by benchmarks/bench_decision_http.py: the decision is written before the quota is reserved (so
    the plan's row locks are held only from the reservation to the commit); this statement corrects it in the
    rare case the plan answers otherwise than the decision assumed, without the ORM's read-modify-write."""
    fields = [Decision._meta.get_field(name) for name in QUOTA_FIELDS]
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {Decision._meta.db_table} SET "
                    f"{', '.join(f'{f.column} = {DECISION.slot(f)}' for f in fields)} WHERE id = %s",
                    [*(DECISION.value(f, getattr(d, f.attname)) for f in fields), d.pk])
