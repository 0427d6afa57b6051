"""The credit plan's hand-written SQL: the statements of the quota check a decision makes on every approval.

Why raw SQL here and the ORM everywhere else in the app: `reserve_quota` is on the decision's path, and its target
("a quota check adds <= 2 ms to a decision", issue 5) is measured by benchmarks/bench_plans.py — the ORM version
of these statements took several round trips and most of that budget in Python. Each statement below says what
it replaces; the use cases in plans.services call them inside their own transaction and row locks, and nothing
else in the project writes these tables' counters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict
from creditplan.customers.models import CustomerGroup, GroupMember
from creditplan.org.models import Branch
from creditplan.plans.models import CapitalBase, DimensionCode, Movement, Plan, Quota, Reservation

PLAN_COLUMNS = ("id", "code", "name", "period_start", "period_end", "status", "currency", "net_capital_minor",
                 "single_customer_bp", "group_bp", "large_exposure_bp", "pace_margin_pct", "approval_validity_days",
                 "created_by_id", "targets_version")  # targets_version: the ratio caps' cache key (services.targets)


QUOTA_COLUMNS = ("id", "plan_id", "parent_id", "branch_id", "product", "industry", "region", "segment",
                  "control_mode", "new_lending_limit_minor", "balance_limit_minor", "reserved_minor",
                  "consumed_minor", "outstanding_minor", "frozen", "version")


_OPEN = "status IN ('reserved', 'escalated')"


def _agg(item: str) -> str:
    """Join the rows of `item` with commas (group codes and figures; codes are slugs, no comma or colon)."""
    if connection.vendor == "postgresql":
        return f"string_agg({item}, ',' ORDER BY {item})"
    return f"group_concat({item}, ',')"


def checks_select(plan: str, plan_params: list[Any], ref: str, customer_ref: str, on: dt.date,
                  book: tuple[str, str] | None) -> tuple[str, list[Any]]:
    """Select-list items of the reservation's checks (issue 19: the whole book), five values:

    1. the id of a reservation already made for this application in this plan (idempotency);
    2. the customer's exposure: outstanding principal of every live loan of the customer (the book source's
       subquery, registered by loans — whatever plan the loan came under, or none) + the customer's open
       reservations (reserved or escalated) in ANY plan;
    3. the live loans already booked under this very application (a loan booked by trusted code is written
       before its reservation: counted once, not twice — the caller subtracts it);
    4. the customer's groups: for each root group (`root`, or the group itself at the top) of a group the
       customer belongs to on the day, "code:exposure" — every member, on the day, of every group under that root,
       loans + open reservations —, comma-separated (NULL: in no group);
    5. the capital base (资本净额) in force on the day: the approved row with the latest effective date (NULL: none
       approved; the caller falls back to the plan's net capital).

    A customer reference that is not a customer id (a number) names no loan and no group: 2. is its reservations
    alone. A blank one names nobody: summing the exposure of every reservation without one would scan the book
    for a figure never used, so the items are constants. `plan`/`plan_params`: the plan id's SQL and its
    parameters. `book`: the loan book's two subqueries (plans.services.sources: a customer's live loans, one
    `%s` = the customer id; the live loans booked under an application, one `%s` = its reference, or ""), None
    when no book is registered. Part of the one read of `plan_and_locked_quotas` (and of `recheck`):
    benchmarks/bench_plans.py."""
    t = Reservation._meta.db_table
    sql, params = f"(SELECT id FROM {t} WHERE plan_id = {plan} AND application_ref = %s)", [*plan_params, ref]
    if not customer_ref:
        return sql + ", 0, 0, NULL, NULL", params
    customer_id = int(customer_ref) if customer_ref.isdigit() and len(customer_ref) < 19 else None
    reserved = f"(SELECT COALESCE(SUM(amount_minor), 0) FROM {t} WHERE customer_ref = {{}} AND {_OPEN})"
    if book is not None and customer_id is not None:
        loans, own = book
        sql += f", {loans} + {reserved.format('%s')}, {own or '0'}"
        params += [customer_id, customer_ref] + ([ref] if own else [])
    else:
        sql += f", {reserved.format('%s')}, 0"
        params.append(customer_ref)
    if customer_id is not None:
        g, m = CustomerGroup._meta.db_table, GroupMember._meta.db_table
        current = "{a}.effective_from <= %s AND ({a}.effective_to IS NULL OR {a}.effective_to >= %s)"
        member_loans = book[0].replace("%s", "mm.customer_id") if book is not None else "0"
        member_reserved = reserved.format("CAST(mm.customer_id AS varchar(60))")
        # every member of every group under the root r, on the day, each once; their loans and reservations
        exposure = (f"(SELECT COALESCE(SUM({member_loans} + {member_reserved}), 0) FROM (SELECT DISTINCT "
                    f"m2.customer_id FROM {m} m2 WHERE m2.group_id IN (SELECT g2.id FROM {g} g2 WHERE "
                    f"(g2.id = r.id OR g2.root_id = r.id) AND g2.status = 'active') AND {current.format(a='m2')}) mm)")
        roots = (f"SELECT COALESCE(g.root_id, g.id) FROM {m} m JOIN {g} g ON g.id = m.group_id "
                 f"WHERE m.customer_id = %s AND g.status = 'active' AND {current.format(a='m')}")
        item = f"r.code || ':' || CAST({exposure} AS varchar(40))"
        sql += (f", (SELECT {_agg('x.item')} FROM (SELECT {item} AS item FROM {g} r "
                f"WHERE r.status = 'active' AND r.id IN ({roots})) x)")
        params += [on, on, customer_id, on, on]
    else:
        sql += ", NULL"
    c = CapitalBase._meta.db_table
    sql += (f", (SELECT amount_minor FROM {c} WHERE status = 'approved' AND effective_from <= %s "
            "ORDER BY effective_from DESC, id DESC LIMIT 1)")
    params.append(on)
    return sql, params


@dataclass(frozen=True, slots=True)
class Checks:
    """What the reservation's statement read for its checks (see `checks_select`)."""

    found: int | None
    customer_exposure: int = 0
    own_loans: int = 0
    groups: tuple[tuple[str, int], ...] = ()
    capital_base: int | None = None


def _checks(row: tuple[Any, ...] | list[Any]) -> Checks:
    found, customer, own, groups, capital = row
    parsed = tuple((code, int(figure)) for code, figure in (g.rsplit(":", 1) for g in (groups or "").split(",") if g))
    return Checks(found, int(customer or 0), int(own or 0), parsed, None if capital is None else int(capital))


def plan_and_locked_quotas(on: dt.date, *, branch: str, product: str, industry: str, region: str, segment: str,
                           ref: str, customer_ref: str, book: tuple[str, str] | None
                           ) -> tuple[Plan, dict[str, Any], list[Quota], Checks | None]:
    """The reservation hot path's one read: the plan covering `on`, the branch and product / segment codes the
    reservation names, and every quota the loan falls in (its branch and each branch above it — a prefix of
    the branch's materialised path —, and each dimension it matches), locked in id order so concurrent
    reservations cannot deadlock. One statement, one round trip: on a database across a network every round
    trip of a decision counts. (Names that do not exist come back as NULL and are refused by the caller; the
    rollback releases the locks.)

    The same statement reads the duplicate and exposure checks (`checks_select`: the customer's and its groups'
    exposure on the whole book, the capital base). They are only valid if nothing moved between the statement's
    snapshot and the moment its locks were granted: every movement of a reservation bumps the `version` of every
    quota it touches — always including the root, which every reservation locks —, so the snapshot's version of
    each locked quota (a subquery, evaluated in the statement's snapshot) is compared with the version of the row
    as locked (PostgreSQL re-reads a row it had to wait for). Equal everywhere: the checks are fresh. Otherwise
    they come back None and the caller reads them again under the locks (`recheck`). On SQLite the transaction
    began with BEGIN IMMEDIATE: no other writer is half-way through anything, the read is always fresh. Why one
    hand-written statement: benchmarks/bench_plans.py (the ORM took a round trip for the plan, one per look-up
    and one per check, each on the decision's critical path)."""
    b, d, q_t, p_t = Branch._meta.db_table, DimensionCode._meta.db_table, Quota._meta.db_table, Plan._meta.db_table
    path = f"(SELECT path FROM {b} WHERE code = %s AND is_active)"
    # The plan id comes from a CTE that every subquery reads: uncorrelated, each runs once per statement
    # (correlated with the joined plan row, PostgreSQL ran the exposure sums once per locked quota).
    checks, check_params = checks_select("(SELECT id FROM pl)", [], ref, customer_ref, on, book)
    periods, period_params = period_select(on)  # issue 19 §7, the last items of the select list
    sql = (f"WITH pl AS (SELECT id FROM {p_t} WHERE status = 'active' AND period_start <= %s AND period_end >= %s "
           "ORDER BY id LIMIT 1) "
           f"SELECT {', '.join('p.' + c for c in PLAN_COLUMNS)}, "
           f"(SELECT id FROM {b} WHERE code = %s AND is_active), {path}, "
           f"(SELECT name FROM {b} WHERE code = %s AND is_active), "
           f"(SELECT COUNT(*) FROM {d} WHERE dimension = 'product' AND code = %s), "
           f"(SELECT COUNT(*) FROM {d} WHERE dimension = 'segment' AND code = %s), "
           f"{checks}, (SELECT s.version FROM {q_t} s WHERE s.id = q.id), "
           f"{', '.join('q.' + c for c in QUOTA_COLUMNS)}, {periods} "
           f"FROM {p_t} p JOIN {q_t} q ON q.plan_id = p.id "
           "WHERE p.id = (SELECT id FROM pl) "
           f"AND (q.branch_id IS NULL OR q.branch_id IN (SELECT a.id FROM {b} a "
           f"WHERE substr({path}, 1, length(a.path)) = a.path)) "
           "AND (q.product = '' OR q.product = %s) AND (q.industry = '' OR q.industry = %s) "
           "AND (q.region = '' OR q.region = %s) AND (q.segment = '' OR q.segment = %s) ORDER BY q.id")
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF q"
    with connection.cursor() as cur:
        cur.execute(sql, [on, on, branch, branch, branch, product, segment, *check_params, *period_params, branch,
                          product, industry, region, segment])
        rows = cur.fetchall()
    if not rows:
        raise Conflict(f"no active credit plan covers {on}", code="no_active_plan")
    n = len(PLAN_COLUMNS)
    values = dict(zip(PLAN_COLUMNS, rows[0][:n], strict=True))
    for key in ("period_start", "period_end"):  # SQLite hands dates back as text
        if isinstance(values[key], str):
            values[key] = dt.date.fromisoformat(values[key])
    branch_id, branch_path, name, product_n, segment_n = rows[0][n:n + 5]
    known: dict[str, Any] = {
        "branch": Branch(id=branch_id, code=branch, path=branch_path, name=name) if branch_id else None,
        "product_ok": bool(product_n), "segment_ok": bool(segment_n)}
    k = n + 5 + CHECK_COLUMNS  # the snapshot's version, then the quota's columns
    quotas = [Quota(**dict(zip(QUOTA_COLUMNS, row[k + 1:k + 1 + len(QUOTA_COLUMNS)], strict=True))) for row in rows]
    fresh = all(row[k] == q.version for row, q in zip(rows, quotas, strict=True))
    known["period"] = period_read(rows, k + 1 + len(QUOTA_COLUMNS), on, [q.pk for q in quotas], fresh)
    return Plan(**values), known, quotas, _checks(rows[0][n + 5:k]) if fresh else None


CHECK_COLUMNS = 5  # the items of `checks_select`


def recheck(plan_id: int, ref: str, customer_ref: str, on: dt.date, book: tuple[str, str] | None) -> Checks:
    """The duplicate and exposure checks of `checks_select`, read again under the locks `plan_and_locked_quotas`
    holds (when it found that something moved while it waited for them). One statement, the same select list:
    benchmarks/bench_plans.py (taken only when reservations race for the same plan). Under READ COMMITTED this
    statement's snapshot is taken now, after every transaction that held the plan's root quota committed."""
    select, params = checks_select("%s", [plan_id], ref, customer_ref, on, book)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {select}", params)
        return _checks(cur.fetchone())


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
    """The book source's per-customer subquery, added up over customers in ONE statement (the group page: a few
    dozen members; not on the decision's path)."""
    if not customer_ids:
        return 0
    with connection.cursor() as cur:
        cur.execute("SELECT " + " + ".join([customer_sql] * len(customer_ids)), list(customer_ids))
        return int(cur.fetchone()[0] or 0)


# --- issue 19 §3: quota transfers and freezing (plans.services.transfers) -----------------------------------------

def move_limits(changes: list[tuple[Quota, int, int]], kind: str, actor: Actor | None, *,
                on: dt.date | None = None) -> None:
    """Move the two limits of some quotas already locked by the caller — each (quota, new-lending limit delta,
    balance limit delta) — bump their versions (so a reservation that read them before waiting for its locks sees
    that they moved) and record one Movement each (`limit_delta`, `balance_limit_delta`). A transfer moves two
    quotas (kinds transfer_out / transfer_in); a freeze moves none of the figures (zero deltas, kind freeze /
    unfreeze, see `set_frozen`). Here beside `move` because this module is the one place that writes the quota
    counters and limits; not on the decision's path (two quotas, a planner's decision), so no benchmark."""
    if not changes:
        return
    day = on or timezone.localdate()
    name = getattr(actor, "username", None) or "system"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cur:
        for q, new_lending, balance in changes:
            cur.execute(
                f"UPDATE {Quota._meta.db_table} SET new_lending_limit_minor = new_lending_limit_minor + %s, "
                "balance_limit_minor = balance_limit_minor + %s, version = version + 1 WHERE id = %s",
                [new_lending, balance, q.pk])
        cur.execute(
            f"INSERT INTO {Movement._meta.db_table} (quota_id, reservation_id, kind, reserved_delta, consumed_delta, "
            "outstanding_delta, limit_delta, balance_limit_delta, on_date, at, actor_name) VALUES "
            + ", ".join(["(%s, NULL, %s, 0, 0, 0, %s, %s, %s, %s, %s)"] * len(changes)),
            [v for q, n, b in changes for v in (q.pk, kind, n, b, day, now, name)])
    for q, new_lending, balance in changes:  # keep the in-memory copies true for the caller
        q.new_lending_limit_minor += new_lending
        q.balance_limit_minor += balance
        q.version += 1


def set_frozen(q: Quota, frozen: bool, actor: Actor | None, *, on: dt.date | None = None) -> None:
    """Freeze or unfreeze a quota the caller has locked: the flag the reservation reads from the row it locks
    (QUOTA_COLUMNS), its version bumped, and a Movement of kind freeze / unfreeze with zero deltas."""
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {Quota._meta.db_table} SET frozen = %s WHERE id = %s", [frozen, q.pk])
    q.frozen = frozen
    move_limits([(q, 0, 0)], "freeze" if frozen else "unfreeze", actor, on=on)


# --- issue 19 §5: the plan over the whole book (plans.services.book) -------------------------------------------------

def move_quotas(rows: list[tuple[int, int, int, int, int]], kind: str, reservation_id: int | None,
                actor: Actor | None, on: dt.date) -> None:
    """Apply per-quota deltas — (quota id, reserved, consumed, outstanding, opening balance) — to quotas the caller
    has locked, bump their versions, and record one Movement per quota (the opening balance moves only with the
    outstanding balance of a movement dated before the plan's first day: its Movement is of kind "opening").
    Two statements whatever the number of quotas (an executemany UPDATE, a multi-row INSERT): the close moves the
    book once per chunk (benchmarks/bench_close.py), a counter payment once."""
    rows = [r for r in rows if any(r[1:])]
    if not rows:
        return
    name = getattr(actor, "username", None) or "system"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cur:
        cur.executemany(
            f"UPDATE {Quota._meta.db_table} SET reserved_minor = reserved_minor + %s, "
            "consumed_minor = consumed_minor + %s, outstanding_minor = outstanding_minor + %s, "
            "opening_balance_minor = opening_balance_minor + %s, version = version + 1 WHERE id = %s",
            [(r, c, o, op, qid) for qid, r, c, o, op in rows])
        for part in _batches(rows):
            params: list[Any] = []
            for qid, r, c, o, op in part:
                params += [qid, reservation_id, "opening" if op else kind, r, c, o, on, now, name]
            cur.execute(
                f"INSERT INTO {Movement._meta.db_table} (quota_id, reservation_id, kind, reserved_delta, "
                "consumed_delta, outstanding_delta, limit_delta, on_date, at, actor_name) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, 0, %s, %s, %s)"] * len(part)), params)


def _batches(rows: list[Any], size: int = 500) -> list[list[Any]]:
    """Rows in batches small enough for one statement's parameters (SQLite allows 32,766)."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def upsert_cells(plan_id: int, rows: list[tuple[tuple[int, str, str, str, str], int, int, int]]) -> None:
    """Add (opening, outstanding, new lending) deltas to the plan's book cells, creating the cells a loan enters
    for the first time: ONE INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24 and PostgreSQL) for every cell of the
    movement, where the ORM took a read and a write per cell (benchmarks/bench_close.py: a chunk's cells)."""
    from creditplan.plans.models import BookCell

    rows = [r for r in rows if any(r[1:])]
    if not rows:
        return
    t = BookCell._meta.db_table
    with connection.cursor() as cur:
        for part in _batches(rows):
            params: list[Any] = []
            for (branch_id, product, industry, region, segment), opening, outstanding, new_lending in part:
                params += [plan_id, branch_id, product, industry, region, segment, opening, outstanding, new_lending]
            cur.execute(
                f"INSERT INTO {t} AS c (plan_id, branch_id, product, industry, region, segment, opening_minor, "
                "outstanding_minor, new_lending_minor) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
                + " ON CONFLICT (plan_id, branch_id, product, industry, region, segment) DO UPDATE SET "
                "opening_minor = c.opening_minor + excluded.opening_minor, "
                "outstanding_minor = c.outstanding_minor + excluded.outstanding_minor, "
                "new_lending_minor = c.new_lending_minor + excluded.new_lending_minor", params)


def quota_cell_sums(plan_id: int, quota_ids: list[int] | None = None) -> dict[int, tuple[int, int, int]]:
    """(opening, outstanding, new lending) of the book cells each quota of the plan covers — its branch or a branch
    below it (a prefix of the cell branch's materialised path), each other dimension blank or equal. ONE statement
    for the whole plan (or the quotas named), where reading the cells into Python and matching them there grew with
    quotas × cells: taken when a plan is activated, a quota split, and on the dashboard."""
    from creditplan.plans.models import BookCell

    q_t, c_t, b_t = Quota._meta.db_table, BookCell._meta.db_table, Branch._meta.db_table
    sql = (f"SELECT q.id, COALESCE(SUM(c.opening_minor), 0), COALESCE(SUM(c.outstanding_minor), 0), "
           f"COALESCE(SUM(c.new_lending_minor), 0) FROM {q_t} q LEFT JOIN {b_t} qb ON qb.id = q.branch_id "
           f"JOIN {c_t} c ON c.plan_id = q.plan_id JOIN {b_t} cb ON cb.id = c.branch_id "
           "WHERE q.plan_id = %s AND (q.branch_id IS NULL OR substr(cb.path, 1, length(qb.path)) = qb.path) "
           "AND (q.product = '' OR q.product = c.product) AND (q.industry = '' OR q.industry = c.industry) "
           "AND (q.region = '' OR q.region = c.region) AND (q.segment = '' OR q.segment = c.segment)")
    params: list[Any] = [plan_id]
    if quota_ids is not None:
        if not quota_ids:
            return {}
        sql += f" AND q.id IN ({', '.join(['%s'] * len(quota_ids))})"
        params += quota_ids
    with connection.cursor() as cur:
        cur.execute(sql + " GROUP BY q.id", params)
        return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in cur.fetchall()}


def move_reservations(plan_id: int, deltas: dict[str, int], *, settle: bool = True) -> None:
    """The loan's principal moved: the outstanding balance its plan reservation keeps (a disbursed reservation,
    consumed or repaid) moves with it; `settle`: a reservation whose loan owes nothing is "repaid" (a write-off
    leaves its status). One executemany over the loans of the movement."""
    rows = [(d, ref) for ref, d in deltas.items() if ref and d]
    if not rows:
        return
    t = Reservation._meta.db_table
    status = ("CASE WHEN outstanding_minor + %s <= 0 THEN 'repaid' ELSE 'consumed' END" if settle else "status")
    sql = (f"UPDATE {t} SET outstanding_minor = outstanding_minor + %s, status = {status}, updated_at = %s "
           "WHERE plan_id = %s AND application_ref = %s AND status IN ('consumed', 'repaid')")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cur:
        cur.executemany(sql, [(d, d, now, plan_id, ref) if settle else (d, now, plan_id, ref) for d, ref in rows])


# --- issue 19 §7: plan periods in the reservation's one statement (plans.services.periods.check_month) --------------

PERIOD_COLUMNS = 4  # the items of `period_select`, at the very end of `plan_and_locked_quotas`' select list


def period_select(on: dt.date) -> tuple[str, list[Any]]:
    """Select-list items for the monthly check, read in the reservation's one statement (no round trip of their
    own): the plan's period control (`p`, the plan row already joined); under roll or lapse the share of the month
    of `on` and the cumulative share to its end (basis points; uncorrelated, once per statement); under lapse each
    locked quota's use in that calendar month — the net change of reserved + consumed by its reserve, release,
    expire and consume movements dated in it (correlated with `q`, through the (quota, on_date) index of migration
    0007). Under "none" — the common case — the CASEs evaluate nothing. benchmarks/bench_plans.py."""
    from creditplan.plans.models import PlanPeriod

    pp, mv, end = PlanPeriod._meta.db_table, Movement._meta.db_table, connection.ops.quote_name("end")
    first = on.replace(day=1)
    last = dt.date(on.year + on.month // 12, on.month % 12 + 1, 1) - dt.timedelta(days=1)
    months = f"FROM {pp} WHERE plan_id = (SELECT id FROM pl) AND kind = 'month'"
    sql = ("p.period_control, "
           f"CASE WHEN p.period_control IN ('roll', 'lapse') THEN (SELECT share_bp {months} AND start <= %s "
           f"AND {end} >= %s) END, "
           f"CASE WHEN p.period_control IN ('roll', 'lapse') THEN (SELECT SUM(share_bp) {months} AND start <= %s) END, "
           "CASE WHEN p.period_control = 'lapse' THEN (SELECT COALESCE(SUM(m.reserved_delta + m.consumed_delta), 0) "
           f"FROM {mv} m WHERE m.quota_id = q.id AND m.on_date >= %s AND m.on_date <= %s "
           "AND m.kind IN ('reserve', 'release', 'expire', 'consume')) ELSE 0 END")
    return sql, [on, on, on, first, last]


def period_read(rows: list[Any], at: int, on: dt.date, quota_ids: list[int], fresh: bool) -> dict[str, Any]:
    """`known["period"]` from the items of `period_select` (starting at column `at` of each row)."""
    control, month_bp, cumulative_bp = rows[0][at:at + 3]
    first = on.replace(day=1)
    last = dt.date(on.year + on.month // 12, on.month % 12 + 1, 1) - dt.timedelta(days=1)
    return {"control": control or "none", "month_bp": None if month_bp is None else int(month_bp),
            "cumulative_bp": int(cumulative_bp or 0), "month_start": first, "month_end": last, "fresh": fresh,
            "month_use": {qid: int(row[at + 3] or 0) for qid, row in zip(quota_ids, rows, strict=True)}}


# --- issue 19 §6: the ratio caps in the reservation (plans.services.targets) ---------------------------------

_CAP_COLUMNS = ("outstanding_minor", "new_lending_minor")
_CAP_KEYS = ("branch", "product", "industry", "region", "segment")


def ratio_cap_sums(plan_id: int, selections: list[tuple[str, list[dict[str, str]]]]) -> list[int]:
    """For each (book column, filters): that column of the plan's book cells over the selection (any filter, every
    key of it; [] = the whole book) plus the amount of the plan's reservations not yet paid out over it. ONE
    statement, only for a loan inside a ratio cap's numerator: benchmarks/bench_plans.py (the ORM's subqueries took
    several milliseconds to build in Python, the statement itself a few hundredths of one)."""
    from creditplan.plans.models import BookCell  # (the header's imports are the reservation path's)

    cells, res, b = BookCell._meta.db_table, Reservation._meta.db_table, Branch._meta.db_table
    items: list[str] = []
    params: list[Any] = []
    for column, filters in selections:
        if column not in _CAP_COLUMNS:
            raise ValueError(f"not a book column: {column!r}")
        parts, where = [], []
        for f in filters:
            clause = []
            for key, value in f.items():
                if key not in _CAP_KEYS:
                    raise ValueError(f"not a dimension: {key!r}")
                clause.append(f"branch_id = (SELECT id FROM {b} WHERE code = %s)" if key == "branch" else f"{key} = %s")
                where.append(value)
            parts.append("(" + " AND ".join(clause) + ")")
        cond = f" AND ({' OR '.join(parts)})" if parts else ""
        items.append(f"(SELECT COALESCE(SUM({column}), 0) FROM {cells} WHERE plan_id = %s{cond}) + "
                     f"(SELECT COALESCE(SUM(amount_minor), 0) FROM {res} WHERE plan_id = %s "
                     f"AND status IN ('reserved', 'escalated'){cond})")
        params += [plan_id, *where, plan_id, *where]
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(items)}", params)
        row = cur.fetchone()
    return [int(v or 0) for v in row]
