"""The credit plan's hand-written SQL: the statements of the quota check a decision makes on every approval.

Why raw SQL here and the ORM everywhere else in the app: `reserve_quota` is on the decision's path, and its target
("a quota check adds <= 2 ms to a decision", issue 5) is measured by benchmarks/bench_plans.py — the ORM version
of these statements took several round trips and most of that budget in Python. Each statement below says what
it replaces; the use cases in plans.services call them inside their own transaction and row locks, and nothing
else in the project writes these tables' counters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict
from creditplan.org.models import Branch
from creditplan.plans.models import DimensionCode, Movement, Plan, Quota, Reservation

PLAN_COLUMNS = ("id", "code", "name", "period_start", "period_end", "status", "currency", "net_capital_minor",
                 "single_customer_bp", "group_bp", "large_exposure_bp", "pace_margin_pct", "approval_validity_days",
                 "created_by_id")


QUOTA_COLUMNS = ("id", "plan_id", "parent_id", "branch_id", "product", "industry", "region", "segment",
                  "control_mode", "new_lending_limit_minor", "balance_limit_minor", "reserved_minor",
                  "consumed_minor", "outstanding_minor", "frozen", "version")


_EXPOSURE = ("(SELECT COALESCE(SUM(CASE WHEN status IN ('reserved', 'escalated') THEN amount_minor "
             "WHEN status = 'consumed' THEN outstanding_minor ELSE 0 END), 0) FROM {t} WHERE plan_id = {plan} "
             "AND {col} = %s)")


def checks_select(plan: str, ref: str, customer_ref: str, group_ref: str) -> tuple[str, list[Any]]:
    """Select-list items: the id of a reservation already made for this application, and the exposure of the
    customer and of the group. A blank customer or group reference names nobody: summing the exposure of every
    reservation without one would scan the plan (and grow with it) for a figure never used. Part of the one read
    of `plan_and_locked_quotas` (and of `recheck`): benchmarks/bench_plans.py."""
    t = Reservation._meta.db_table
    sql, params = f"(SELECT id FROM {t} WHERE plan_id = {plan} AND application_ref = %s)", [ref]
    for col, value in (("customer_ref", customer_ref), ("group_ref", group_ref)):
        if value:
            sql += ", " + _EXPOSURE.format(t=t, plan=plan, col=col)
            params.append(value)
        else:
            sql += ", 0"
    return sql, params


def plan_and_locked_quotas(on: dt.date, *, branch: str, product: str, industry: str, region: str, segment: str,
                           ref: str, customer_ref: str, group_ref: str
                           ) -> tuple[Plan, dict[str, Any], list[Quota], tuple[Any, int, int] | None]:
    """The reservation hot path's one read: the plan covering `on`, the branch and product / segment codes the
    reservation names, and every quota the loan falls in (its branch and each branch above it — a prefix of
    the branch's materialised path —, and each dimension it matches), locked in id order so concurrent
    reservations cannot deadlock. One statement, one round trip: on a database across a network every round
    trip of a decision counts. (Names that do not exist come back as NULL and are refused by the caller; the
    rollback releases the locks.)

    The same statement reads the duplicate and exposure checks. They are only valid if nothing moved between
    the statement's snapshot and the moment its locks were granted: every movement of a reservation bumps the
    `version` of every quota it touches — always including the root, which every reservation locks —, so the
    snapshot's version of each locked quota (a subquery, evaluated in the statement's snapshot) is compared
    with the version of the row as locked (PostgreSQL re-reads a row it had to wait for). Equal everywhere:
    the checks are fresh. Otherwise they come back None and the caller reads them again under the locks
    (`recheck`). Why one hand-written statement: benchmarks/bench_plans.py (the ORM took a round trip for the
    plan, one per look-up and one per check, each on the decision's critical path)."""
    b, d, q_t, p_t = Branch._meta.db_table, DimensionCode._meta.db_table, Quota._meta.db_table, Plan._meta.db_table
    path = f"(SELECT path FROM {b} WHERE code = %s AND is_active)"
    # The plan id comes from a CTE that every subquery reads: uncorrelated, each runs once per statement
    # (correlated with the joined plan row, PostgreSQL ran the exposure sums once per locked quota).
    checks, check_params = checks_select("(SELECT id FROM pl)", ref, customer_ref, group_ref)
    sql = (f"WITH pl AS (SELECT id FROM {p_t} WHERE status = 'active' AND period_start <= %s AND period_end >= %s "
           "ORDER BY id LIMIT 1) "
           f"SELECT {', '.join('p.' + c for c in PLAN_COLUMNS)}, "
           f"(SELECT id FROM {b} WHERE code = %s AND is_active), {path}, "
           f"(SELECT name FROM {b} WHERE code = %s AND is_active), "
           f"(SELECT COUNT(*) FROM {d} WHERE dimension = 'product' AND code = %s), "
           f"(SELECT COUNT(*) FROM {d} WHERE dimension = 'segment' AND code = %s), "
           f"{checks}, (SELECT s.version FROM {q_t} s WHERE s.id = q.id), "
           f"{', '.join('q.' + c for c in QUOTA_COLUMNS)} "
           f"FROM {p_t} p JOIN {q_t} q ON q.plan_id = p.id "
           "WHERE p.id = (SELECT id FROM pl) "
           f"AND (q.branch_id IS NULL OR q.branch_id IN (SELECT a.id FROM {b} a "
           f"WHERE substr({path}, 1, length(a.path)) = a.path)) "
           "AND (q.product = '' OR q.product = %s) AND (q.industry = '' OR q.industry = %s) "
           "AND (q.region = '' OR q.region = %s) AND (q.segment = '' OR q.segment = %s) ORDER BY q.id")
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF q"
    with connection.cursor() as cur:
        cur.execute(sql, [on, on, branch, branch, branch, product, segment, *check_params, branch, product,
                          industry, region, segment])
        rows = cur.fetchall()
    if not rows:
        raise Conflict(f"no active credit plan covers {on}", code="no_active_plan")
    n = len(PLAN_COLUMNS)
    values = dict(zip(PLAN_COLUMNS, rows[0][:n], strict=True))
    for key in ("period_start", "period_end"):  # SQLite hands dates back as text
        if isinstance(values[key], str):
            values[key] = dt.date.fromisoformat(values[key])
    branch_id, branch_path, name, product_n, segment_n, found, customer_exposure, group_exposure = rows[0][n:n + 8]
    known = {"branch": Branch(id=branch_id, code=branch, path=branch_path, name=name) if branch_id else None,
             "product_ok": bool(product_n), "segment_ok": bool(segment_n)}
    quotas = [Quota(**dict(zip(QUOTA_COLUMNS, row[n + 9:], strict=True))) for row in rows]
    fresh = all(row[n + 8] == q.version for row, q in zip(rows, quotas, strict=True))
    checks_read = (found, int(customer_exposure), int(group_exposure)) if fresh else None
    return Plan(**values), known, quotas, checks_read


def recheck(plan_id: int, ref: str, customer_ref: str, group_ref: str) -> tuple[Any, int, int]:
    """The duplicate and exposure checks of `checks_select`, read again under the locks `plan_and_locked_quotas` holds
    (when it found that something moved while it waited for them). One statement, the same select list:
    benchmarks/bench_plans.py (taken only when reservations race for the same plan)."""
    select, _ = checks_select("%s", ref, customer_ref, group_ref)
    params: list[Any] = [plan_id, ref]
    for value in (customer_ref, group_ref):
        params += [plan_id, value] if value else []
    with connection.cursor() as cur:
        cur.execute(f"SELECT {select}", params)
        found, customer_exposure, group_exposure = cur.fetchone()
    return found, int(customer_exposure), int(group_exposure)

def move(quotas: list[Quota], r: Reservation | None, kind: str, actor: Actor | None, *, reserved: int = 0,
         consumed: int = 0, outstanding: int = 0, limit: int = 0, on: dt.date | None = None) -> None:
    """Apply the same deltas to every quota the loan falls in — one UPDATE computed by the database under the
    row locks already held — and record one Movement per quota (one multi-row INSERT). Two statements whatever
    the number of quotas, where the ORM saved each quota and each Movement in turn: benchmarks/bench_plans.py
    (a reservation locks 4 quotas in its tree; consume, release and repay move them the same way)."""
    ids = [q.pk for q in quotas]
    if not ids:
        return
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {Quota._meta.db_table} SET reserved_minor = reserved_minor + %s, "
            "consumed_minor = consumed_minor + %s, outstanding_minor = outstanding_minor + %s, "
            "new_lending_limit_minor = new_lending_limit_minor + %s, version = version + 1 "
            f"WHERE id IN ({', '.join(['%s'] * len(ids))})", [reserved, consumed, outstanding, limit, *ids])
        day = on or timezone.localdate()
        name = getattr(actor, "username", None) or "system"
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        row = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        params: list[Any] = []
        for q in quotas:
            params += [q.pk, r.pk if r else None, kind, reserved, consumed, outstanding, limit, day, now, name]
        cur.execute(
            f"INSERT INTO {Movement._meta.db_table} (quota_id, reservation_id, kind, reserved_delta, consumed_delta, "
            f"outstanding_delta, limit_delta, on_date, at, actor_name) VALUES {', '.join([row] * len(quotas))}",
            params)
    for q in quotas:  # keep the in-memory copies true for the caller
        q.reserved_minor += reserved
        q.consumed_minor += consumed
        q.outstanding_minor += outstanding
        q.new_lending_limit_minor += limit


RESERVATION_COLUMNS = ("plan_id", "application_ref", "status", "amount_minor", "disbursed_minor",
                        "outstanding_minor", "branch_id", "product", "industry", "region", "segment", "customer_ref",
                        "group_ref", "large_exposure", "reason", "expires_at", "created_at", "updated_at")


def insert_reservation(r: Reservation, quotas: list[Quota], actor: Actor | None, on: dt.date) -> None:
    """Store the reservation, link it to its quotas, move their counters and record the movements.

    On PostgreSQL this is ONE statement (data-modifying CTEs); elsewhere the same four steps run one by one.
    Why: benchmarks/bench_plans.py — on a database across a network each of the four round trips of the ORM
    (insert, links, counters, movements) added to every straight-through approval."""
    now = timezone.now()
    r.created_at = r.updated_at = now
    stamp = connection.ops.adapt_datetimefield_value  # the backend's own storage form (SQLite: naive UTC text)
    values = [stamp(v) if isinstance(v, dt.datetime) else v for v in (getattr(r, c) for c in RESERVATION_COLUMNS)]
    t, link, mv, qt = (Reservation._meta.db_table, Reservation.quotas.through._meta.db_table, Movement._meta.db_table,
                       Quota._meta.db_table)
    ids = [q.pk for q in quotas]
    insert = (f"INSERT INTO {t} ({', '.join(RESERVATION_COLUMNS)}) "
              f"VALUES ({', '.join(['%s'] * len(RESERVATION_COLUMNS))}) RETURNING id")
    name = getattr(actor, "username", None) or "system"
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                f"WITH r AS ({insert}), "
                f"l AS (INSERT INTO {link} (reservation_id, quota_id) SELECT r.id, q FROM r, unnest(%s::bigint[]) q), "
                f"m AS (INSERT INTO {mv} (quota_id, reservation_id, kind, reserved_delta, consumed_delta, "
                "outstanding_delta, limit_delta, on_date, at, actor_name) "
                "SELECT q, r.id, 'reserve', %s, 0, 0, 0, %s, %s, %s FROM r, unnest(%s::bigint[]) q), "
                f"u AS (UPDATE {qt} SET reserved_minor = reserved_minor + %s, version = version + 1 "
                "WHERE id = ANY(%s)) SELECT id FROM r",
                [*values, ids, r.amount_minor, on, stamp(now), name, ids, r.amount_minor, ids])
            r.pk = r.id = cur.fetchone()[0]
        for q in quotas:
            q.reserved_minor += r.amount_minor
        return
    with connection.cursor() as cur:
        cur.execute(insert, values)
        r.pk = r.id = cur.fetchone()[0]
        cur.execute(f"INSERT INTO {link} (reservation_id, quota_id) VALUES " + ", ".join(["(%s, %s)"] * len(ids)),
                    [v for q in ids for v in (r.pk, q)])
    move(quotas, r, "reserve", actor, reserved=r.amount_minor, on=on)


def loans_outstanding(customer_sql: str, customer_ids: list[int]) -> int:
    """The book source's per-customer subquery, added up over customers (the group page: a few dozen members;
    not on the decision's path)."""
    total = 0
    with connection.cursor() as cur:
        for cid in customer_ids:
            cur.execute(f"SELECT {customer_sql}", [cid])
            total += int(cur.fetchone()[0] or 0)
    return total
