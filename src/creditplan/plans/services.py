"""Credit-plan use cases: plans and their quota tree, reservations that move with the loan, concentration
limits, reallocation requests, and the numbers of the execution dashboard.

Each use case is one transaction with its ledger event appended last; every counter change is also a
Movement row, so any figure on the dashboard can be explained application by application.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.core.money import Money
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm, sees_all_branches
from creditplan.org.models import Branch
from creditplan.plans import domain
from creditplan.plans.domain import ControlMode, Outcome, QuotaState
from creditplan.plans.models import Adjustment, DimensionCode, Movement, Plan, Quota, Reservation


def to_minor(value: Any, field: str, *, allow_zero: bool = True) -> int:
    """Yuan (decimal string, Decimal or int; never float) → fen, refusing negatives and sub-fen precision."""
    if isinstance(value, float):
        raise ValidationError("send amounts as decimal strings, not floats", field=field, code="float_money")
    if isinstance(value, Money):
        amount = value.amount
    else:
        try:
            amount = Decimal(str(value).replace(",", "").strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(f"{value!r} is not an amount", field=field, code="amount_format")
    if not amount.is_finite():
        raise ValidationError(f"{value!r} is not an amount", field=field, code="amount_format")
    if amount < 0:
        raise ValidationError("a quota or amount cannot be negative", field=field, code="negative_amount")
    if amount == 0 and not allow_zero:
        raise ValidationError("the amount must be positive", field=field, code="zero_amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError("amounts have at most 2 decimals (fen)", field=field, code="amount_precision")
    return int(amount * 100)


def yuan(minor: int) -> Decimal:
    """Fen → yuan, exactly (200000000 → Decimal('2000000.00')): the one conversion pages, API and Excel use."""
    return Money(minor, "CNY").amount


# --- views ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuotaView:
    id: int
    parent_id: int | None
    label: str
    branch: str
    product: str
    industry: str
    region: str
    segment: str
    control_mode: str
    state: QuotaState
    children: int


@dataclass(frozen=True)
class PlanView:
    id: int
    code: str
    name: str
    period_start: dt.date
    period_end: dt.date
    status: str
    net_capital_minor: int
    root: QuotaView | None


@dataclass(frozen=True)
class ReservationView:
    id: int
    application_ref: str
    status: str
    amount_minor: int
    disbursed_minor: int
    outstanding_minor: int
    large_exposure: bool
    reason: str
    quota_ids: list[int]


def _state(q: Quota) -> QuotaState:
    return QuotaState(q.new_lending_limit_minor, q.balance_limit_minor, q.reserved_minor, q.consumed_minor,
                      q.outstanding_minor)


def quota_label(q: Quota) -> str:
    parts = [q.branch.name if q.branch_id else ""]
    parts += [f"{k}:{v}" for k, v in (("product", q.product), ("industry", q.industry), ("region", q.region),
                                      ("segment", q.segment)) if v]
    return " · ".join(p for p in parts if p) or "全行 / whole institution"


def _quota_view(q: Quota) -> QuotaView:
    return QuotaView(
        id=q.pk, parent_id=q.parent_id, label=quota_label(q), branch=q.branch.code if q.branch_id else "",
        product=q.product, industry=q.industry, region=q.region, segment=q.segment, control_mode=q.control_mode,
        state=_state(q), children=q.children.count(),
    )


def _plan_view(p: Plan) -> PlanView:
    root = p.quotas.filter(parent__isnull=True).select_related("branch").first()
    return PlanView(p.pk, p.code, p.name, p.period_start, p.period_end, p.status, p.net_capital_minor,
                    _quota_view(root) if root else None)


def _reservation_view(r: Reservation, quota_ids: list[int] | None = None) -> ReservationView:
    ids = quota_ids if quota_ids is not None else list(r.quotas.values_list("pk", flat=True))
    return ReservationView(r.pk, r.application_ref, r.status, r.amount_minor, r.disbursed_minor,
                           r.outstanding_minor, r.large_exposure, r.reason, sorted(ids))


# --- plans and the quota tree --------------------------------------------------------------------------

def _parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", field=field, code="date_format")


@transaction.atomic
def create_plan(actor: Any, *, code: str, name: str, period_start: Any, period_end: Any, net_capital: Any,
                new_lending_limit: Any, balance_limit: Any, control_mode: str = "hard",
                alert_thresholds_pct: Any = (80, 100), pace_margin_pct: int = 20,
                approval_validity_days: int = 30) -> PlanView:
    org.require(actor, Perm.PLAN_MANAGE)
    code = (code or "").strip().lower()
    if not code or not code.replace("-", "").replace("_", "").isalnum() or len(code) > 40:
        raise ValidationError("plan code must be 1-40 letters, digits or dashes", field="code")
    if not (name or "").strip():
        raise ValidationError("plan name is required", field="name", code="required")
    start, end = _parse_date(period_start, "period_start"), _parse_date(period_end, "period_end")
    if end < start:
        raise ValidationError("the period ends before it starts", field="period_end", code="end_before_start")
    if (end - start).days > 366 * 5:
        raise ValidationError("a plan covers at most five years", field="period_end", code="period_too_long")
    net = to_minor(net_capital, "net_capital", allow_zero=False)
    new_limit, bal_limit = to_minor(new_lending_limit, "new_lending_limit"), to_minor(balance_limit, "balance_limit")
    mode = _mode(control_mode)
    thresholds = sorted({int(t) for t in alert_thresholds_pct})
    if any(t <= 0 or t > 200 for t in thresholds):
        raise ValidationError("alert thresholds are percentages between 1 and 200", field="alert_thresholds_pct")
    if Plan.objects.filter(code=code).exists():
        raise Conflict(f"plan {code} already exists", field="code", code="duplicate_plan")
    for other in Plan.objects.exclude(status="closed"):
        if domain.periods_overlap((start, end), (other.period_start, other.period_end)):
            raise ValidationError(f"the period overlaps plan {other.code} ({other.period_start} – {other.period_end}); "
                                  "close it first", field="period_start", code="overlapping_plan")
    plan = Plan.objects.create(
        code=code, name=name.strip(), period_start=start, period_end=end, net_capital_minor=net,
        alert_thresholds_pct=thresholds, pace_margin_pct=int(pace_margin_pct),
        approval_validity_days=int(approval_validity_days), created_by=actor,
    )
    root = Quota.objects.create(plan=plan, control_mode=mode, new_lending_limit_minor=new_limit,
                                balance_limit_minor=bal_limit)
    ledger.append(actor, "plan.created", "plan", plan.code,
                  {"period": [start, end], "net_capital_minor": net, "root_quota": root.pk,
                   "new_lending_limit_minor": new_limit, "balance_limit_minor": bal_limit, "mode": mode.value})
    return _plan_view(plan)


def _mode(value: str) -> ControlMode:
    try:
        return ControlMode(value or "hard")
    except ValueError:
        raise ValidationError("control mode must be hard, soft or monitor", field="control_mode",
                              code="unknown_control_mode")


@transaction.atomic
def add_dimension_code(actor: Any, dimension: str, code: str, name: str, *, system: bool = False) -> None:
    """Register a product or segment code plans may name. `system`: a loan product being created registers
    its own code (its creator need not be a planner)."""
    if not system:
        org.require(actor, Perm.PLAN_MANAGE)
    if dimension not in ("product", "segment"):
        raise ValidationError("dimension must be product or segment", field="dimension")
    code = (code or "").strip()
    if not code or len(code) > 30:
        raise ValidationError("code must be 1-30 characters", field="code")
    _, created = DimensionCode.objects.get_or_create(dimension=dimension, code=code, defaults={"name": name[:100]})
    if created:
        ledger.append(actor, "plan.dimension_added", "dimension", f"{dimension}:{code}", {"name": name})


def dimension_codes(dimension: str) -> list[tuple[str, str]]:
    return list(DimensionCode.objects.filter(dimension=dimension).order_by("code").values_list("code", "name"))


def _dimension_exists(dimension: str, code: str) -> bool:
    with connection.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {DimensionCode._meta.db_table} WHERE dimension = %s AND code = %s",
                    [dimension, code])
        return cur.fetchone() is not None


def _clean_dimensions(data: dict[str, Any], known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every dimension value must exist in its register: branches, products and segments configured here,
    GB/T 4754 sections, GB/T 2260 provinces. `known` carries look-ups already made by the caller (the
    reservation hot path fetches them with the plan in one statement)."""
    out: dict[str, Any] = {"branch": None, "product": "", "industry": "", "region": "", "segment": ""}
    if data.get("branch"):
        code = str(data["branch"]).strip().upper()
        if known is not None:
            out["branch"] = known.get("branch")
        else:
            try:
                out["branch"] = org.get_branch(code)
            except NotFound:
                out["branch"] = None
        if out["branch"] is None:
            raise ValidationError(f"no active branch {data['branch']!r}", field="branch", code="unknown_branch")
    for dim in ("product", "segment"):
        value = str(data.get(dim) or "").strip()
        exists = (known.get(f"{dim}_ok") if known is not None else None)
        if value and not (exists if exists is not None else _dimension_exists(dim, value)):
            raise ValidationError(f"{dim} {value!r} is not configured", field=dim, code=f"unknown_{dim}")
        out[dim] = value
    industry = str(data.get("industry") or "").strip().upper()
    if industry and industry not in INDUSTRY_SECTIONS:
        raise ValidationError(f"{industry!r} is not a GB/T 4754 section (A-T)", field="industry",
                              code="unknown_industry")
    out["industry"] = industry
    region = str(data.get("region") or "").strip()[:2]
    if region and region not in PROVINCES:
        raise ValidationError(f"{region!r} is not a GB/T 2260 province code", field="region", code="unknown_region")
    out["region"] = region
    return out


def _within(parent: Quota, dims: dict[str, Any]) -> str | None:
    """A child must narrow its parent: keep every dimension the parent fixes, and stay inside its branch."""
    if parent.branch_id:
        b = dims["branch"]
        if b is None or not b.path.startswith(parent.branch.path):
            return f"a child of {parent.branch.code}'s quota must be for {parent.branch.code} or a branch below it"
    for dim in ("product", "industry", "region", "segment"):
        if getattr(parent, dim) and dims[dim] != getattr(parent, dim):
            return f"a child must keep its parent's {dim} ({getattr(parent, dim)})"
    return None


@transaction.atomic
def split_quota(actor: Any, parent_quota_id: int, children: list[dict[str, Any]]) -> list[QuotaView]:
    """Add child quotas under a parent. Existing and new children together cannot exceed the parent."""
    org.require(actor, Perm.PLAN_MANAGE)
    try:
        parent = Quota.objects.select_for_update(of=("self",)).select_related("plan", "branch").get(pk=parent_quota_id)
    except Quota.DoesNotExist:
        raise NotFound(f"quota {parent_quota_id} not found", code="quota_not_found")
    if parent.plan.status == "closed":
        raise Conflict("the plan is closed", code="plan_closed")
    if not children:
        raise ValidationError("give at least one child quota", field="children", code="required")
    rows = []
    seen = set()
    for i, child in enumerate(children):
        try:
            dims = _clean_dimensions(child)
            new_limit = to_minor(child.get("new_lending_limit", 0), "new_lending_limit")
            bal_limit = to_minor(child.get("balance_limit", 0), "balance_limit")
            mode = _mode(child.get("control_mode") or parent.control_mode)
        except ValidationError as exc:
            raise ValidationError(f"child {i + 1}: {exc.message}", field=exc.field, code=exc.code,
                                  extra={"child": i + 1, "problem": exc.message})
        problem = _within(parent, dims)
        if problem:
            raise ValidationError(f"child {i + 1}: {problem}", field="branch", code="child_outside_parent",
                                  extra={"child": i + 1, "problem": problem})
        key = (dims["branch"].pk if dims["branch"] else None, dims["product"], dims["industry"], dims["region"],
               dims["segment"])
        exists = parent.children.filter(branch=dims["branch"], product=dims["product"], industry=dims["industry"],
                                        region=dims["region"], segment=dims["segment"]).exists()
        if key in seen or exists:
            raise ValidationError(f"child {i + 1}: the same dimensions appear twice", field="children",
                                  extra={"child": i + 1, "problem": "the same dimensions appear twice"},
                                  code="duplicate_child")
        if key == (parent.branch_id, parent.product, parent.industry, parent.region, parent.segment):
            raise ValidationError(f"child {i + 1}: a child must narrow its parent", field="children",
                                  extra={"child": i + 1, "problem": "a child must narrow its parent"},
                                  code="child_same_as_parent")
        seen.add(key)
        rows.append(Quota(plan=parent.plan, parent=parent, control_mode=mode.value, new_lending_limit_minor=new_limit,
                          balance_limit_minor=bal_limit, **dims))
    existing = [(c.new_lending_limit_minor, c.balance_limit_minor) for c in parent.children.all()]
    problem = domain.split_problem(parent.new_lending_limit_minor, parent.balance_limit_minor,
                                   existing + [(r.new_lending_limit_minor, r.balance_limit_minor) for r in rows])
    if problem:
        raise ValidationError(problem, field="new_lending_limit", code="split_above_parent")
    for r in rows:
        r.save()
    ledger.append(actor, "plan.quota_split", "quota", parent.pk,
                  {"plan": parent.plan.code, "children": [{"id": r.pk, "label": quota_label(r),
                                                           "new_lending_limit_minor": r.new_lending_limit_minor,
                                                           "balance_limit_minor": r.balance_limit_minor,
                                                           "mode": r.control_mode} for r in rows]})
    return [_quota_view(r) for r in rows]


@transaction.atomic
def activate_plan(actor: Any, plan_id: int) -> PlanView:
    org.require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    if plan.status != "draft":
        raise Conflict(f"only a draft plan can be activated (this one is {plan.status})", code="plan_status")
    plan.status = "active"
    plan.save(update_fields=["status"])
    ledger.append(actor, "plan.activated", "plan", plan.code, {})
    return _plan_view(plan)


@transaction.atomic
def close_plan(actor: Any, plan_id: int) -> PlanView:
    org.require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    plan.status = "closed"
    plan.save(update_fields=["status"])
    ledger.append(actor, "plan.closed", "plan", plan.code, {})
    return _plan_view(plan)


def _plan_for_update(plan_id: int) -> Plan:
    try:
        return Plan.objects.select_for_update().get(pk=plan_id)
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")


# --- the quota moves with the loan ---------------------------------------------------------------------

_PLAN_COLUMNS = ("id", "code", "name", "period_start", "period_end", "status", "currency", "net_capital_minor",
                 "single_customer_bp", "group_bp", "large_exposure_bp", "pace_margin_pct", "approval_validity_days",
                 "created_by_id")


_QUOTA_COLUMNS = ("id", "plan_id", "parent_id", "branch_id", "product", "industry", "region", "segment",
                  "control_mode", "new_lending_limit_minor", "balance_limit_minor", "reserved_minor",
                  "consumed_minor", "outstanding_minor", "version")


_EXPOSURE = ("(SELECT COALESCE(SUM(CASE WHEN status IN ('reserved', 'escalated') THEN amount_minor "
             "WHEN status = 'consumed' THEN outstanding_minor ELSE 0 END), 0) FROM {t} WHERE plan_id = {plan} "
             "AND {col} = %s)")


def _checks_sql(plan: str, ref: str, customer_ref: str, group_ref: str) -> tuple[str, list[Any]]:
    """Select-list items: the id of a reservation already made for this application, and the exposure of the
    customer and of the group. A blank customer or group reference names nobody: summing the exposure of every
    reservation without one would scan the plan (and grow with it) for a figure never used."""
    t = Reservation._meta.db_table
    sql, params = f"(SELECT id FROM {t} WHERE plan_id = {plan} AND application_ref = %s)", [ref]
    for col, value in (("customer_ref", customer_ref), ("group_ref", group_ref)):
        if value:
            sql += ", " + _EXPOSURE.format(t=t, plan=plan, col=col)
            params.append(value)
        else:
            sql += ", 0"
    return sql, params


def _plan_and_locked_quotas(on: dt.date, *, branch: str, product: str, industry: str, region: str, segment: str,
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
    the checks are fresh. Otherwise they come back None and the caller reads them again under the locks."""
    b, d, q_t, p_t = Branch._meta.db_table, DimensionCode._meta.db_table, Quota._meta.db_table, Plan._meta.db_table
    path = f"(SELECT path FROM {b} WHERE code = %s AND is_active)"
    # The plan id comes from a CTE that every subquery reads: uncorrelated, each runs once per statement
    # (correlated with the joined plan row, PostgreSQL ran the exposure sums once per locked quota).
    checks, check_params = _checks_sql("(SELECT id FROM pl)", ref, customer_ref, group_ref)
    sql = (f"WITH pl AS (SELECT id FROM {p_t} WHERE status = 'active' AND period_start <= %s AND period_end >= %s "
           "ORDER BY id LIMIT 1) "
           f"SELECT {', '.join('p.' + c for c in _PLAN_COLUMNS)}, "
           f"(SELECT id FROM {b} WHERE code = %s AND is_active), {path}, "
           f"(SELECT name FROM {b} WHERE code = %s AND is_active), "
           f"(SELECT COUNT(*) FROM {d} WHERE dimension = 'product' AND code = %s), "
           f"(SELECT COUNT(*) FROM {d} WHERE dimension = 'segment' AND code = %s), "
           f"{checks}, (SELECT s.version FROM {q_t} s WHERE s.id = q.id), "
           f"{', '.join('q.' + c for c in _QUOTA_COLUMNS)} "
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
    n = len(_PLAN_COLUMNS)
    values = dict(zip(_PLAN_COLUMNS, rows[0][:n], strict=True))
    for key in ("period_start", "period_end"):  # SQLite hands dates back as text
        if isinstance(values[key], str):
            values[key] = dt.date.fromisoformat(values[key])
    branch_id, branch_path, name, product_n, segment_n, found, customer_exposure, group_exposure = rows[0][n:n + 8]
    known = {"branch": Branch(id=branch_id, code=branch, path=branch_path, name=name) if branch_id else None,
             "product_ok": bool(product_n), "segment_ok": bool(segment_n)}
    quotas = [Quota(**dict(zip(_QUOTA_COLUMNS, row[n + 9:], strict=True))) for row in rows]
    fresh = all(row[n + 8] == q.version for row, q in zip(rows, quotas, strict=True))
    checks_read = (found, int(customer_exposure), int(group_exposure)) if fresh else None
    return Plan(**values), known, quotas, checks_read


def _value_date(on: dt.date | None) -> dt.date:
    """Movements may be back-dated (loading history from a legacy system), never dated in the future."""
    today = timezone.localdate()
    if on is None:
        return today
    if on > today:
        raise ValidationError("a quota movement cannot be dated in the future", field="on", code="date_in_future")
    return on


def _move(quotas: list[Quota], r: Reservation | None, kind: str, actor: Any, *, reserved: int = 0,
          consumed: int = 0, outstanding: int = 0, limit: int = 0, on: dt.date | None = None) -> None:
    """Apply the same deltas to every quota the loan falls in — one UPDATE computed by the database under the
    row locks already held — and record one Movement per quota (one multi-row INSERT)."""
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


def _exposure(plan: Plan, field: str, value: str) -> int:
    """Current exposure of a customer or group in this plan: approvals not yet paid out + outstanding."""
    if not value:
        return 0
    with connection.cursor() as cur:
        cur.execute(
            "SELECT COALESCE(SUM(CASE WHEN status IN ('reserved', 'escalated') THEN amount_minor ELSE 0 END), 0) + "
            "COALESCE(SUM(CASE WHEN status = 'consumed' THEN outstanding_minor ELSE 0 END), 0) "
            f"FROM {Reservation._meta.db_table} WHERE plan_id = %s AND {field} = %s", [plan.pk, value])
        return int(cur.fetchone()[0])


_RESERVATION_COLUMNS = ("plan_id", "application_ref", "status", "amount_minor", "disbursed_minor",
                        "outstanding_minor", "branch_id", "product", "industry", "region", "segment", "customer_ref",
                        "group_ref", "large_exposure", "reason", "expires_at", "created_at", "updated_at")


def _insert_reservation(r: Reservation, quotas: list[Quota], actor: Any, on: dt.date) -> None:
    """Store the reservation, link it to its quotas, move their counters and record the movements.

    On PostgreSQL this is ONE statement (data-modifying CTEs); elsewhere the same four steps run one by one."""
    now = timezone.now()
    r.created_at = r.updated_at = now
    stamp = connection.ops.adapt_datetimefield_value  # the backend's own storage form (SQLite: naive UTC text)
    values = [stamp(v) if isinstance(v, dt.datetime) else v for v in (getattr(r, c) for c in _RESERVATION_COLUMNS)]
    t, link, mv, qt = (Reservation._meta.db_table, Reservation.quotas.through._meta.db_table, Movement._meta.db_table,
                       Quota._meta.db_table)
    ids = [q.pk for q in quotas]
    insert = (f"INSERT INTO {t} ({', '.join(_RESERVATION_COLUMNS)}) "
              f"VALUES ({', '.join(['%s'] * len(_RESERVATION_COLUMNS))}) RETURNING id")
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
    _move(quotas, r, "reserve", actor, reserved=r.amount_minor, on=on)


@transaction.atomic
def reserve_quota(actor: Any, *, application_ref: str, amount: Any, branch: str, product: str = "",
                  industry: str = "", region: str = "", segment: str = "", customer_ref: str = "",
                  group_ref: str = "", on: dt.date | None = None) -> ReservationView:
    """Hold plan quota for an approved application. Hard quotas refuse (LimitExceeded), soft ones escalate,
    monitor-only ones record. Concentration limits are checked at the same moment. Idempotent per
    application: asking again returns the existing reservation. Every refusal is raised before the first write
    (`reserve_quota_in_transaction` relies on it). `actor` None is trusted code (a loan booked by the demo
    seed or a legacy import, see loans.services.disburse): no permission or branch to check."""
    if actor is not None:
        org.require(actor, Perm.QUOTA_RESERVE)
    ref = (application_ref or "").strip()
    if not ref or len(ref) > 60:
        raise ValidationError("application reference is required (at most 60 characters)", field="application_ref")
    minor = to_minor(amount, "amount", allow_zero=False)
    today = _value_date(on)
    raw = {"branch": branch, "product": product, "industry": industry, "region": region, "segment": segment}
    pre = _clean_dimensions({**raw, "branch": None, "product": None, "segment": None})  # industry, region
    plan, known, quotas, checks = _plan_and_locked_quotas(
        today, branch=str(branch or "").strip().upper(), product=str(product or "").strip(),
        industry=pre["industry"], region=pre["region"], segment=str(segment or "").strip(), ref=ref,
        customer_ref=customer_ref, group_ref=group_ref)
    dims = _clean_dimensions(raw, known)
    if dims["branch"] is None:
        raise ValidationError("the branch of the loan is required", field="branch", code="required")
    if actor is not None and not org.branch_in_scope(actor, dims["branch"]):  # (head office: every branch)
        raise Forbidden("the loan's branch is outside your branch", code="branch_out_of_scope")
    r = Reservation(plan=plan, application_ref=ref, amount_minor=minor, customer_ref=customer_ref[:60],
                    group_ref=group_ref[:60], expires_at=timezone.now() + dt.timedelta(days=plan.approval_validity_days),
                    **dims)
    if checks is None:
        # Something moved while we waited for the locks (another reservation for the plan committed): read the
        # duplicate and exposure checks again, now that no other transaction can be half-way through reserving.
        sql, _ = _checks_sql("%s", ref, customer_ref, group_ref)
        params: list[Any] = [plan.pk, ref]
        for value in (customer_ref, group_ref):
            params += [plan.pk, value] if value else []
        with connection.cursor() as cur:
            cur.execute(f"SELECT {sql}", params)
            checks = cur.fetchone()
    found, customer_exposure, group_exposure = checks
    if found is not None:
        existing = Reservation.objects.get(pk=found)
        if existing.amount_minor != minor:
            raise Conflict(f"application {ref} already holds {yuan(existing.amount_minor)}", code="reservation_exists")
        return _reservation_view(existing)
    limits = domain.ConcentrationLimits(plan.single_customer_bp, plan.group_bp, plan.large_exposure_bp)
    conc = domain.check_concentration(
        limits, plan.net_capital_minor, customer_exposure=int(customer_exposure),
        group_exposure=int(group_exposure) if group_ref else None, amount=minor,
    ) if customer_ref else domain.ConcentrationCheck()
    if conc.refused:
        raise LimitExceeded(conc.refused, code="concentration_exceeded", field="amount")
    outcome, reasons = Outcome.RESERVED, []
    for q in quotas:
        check = domain.check_reserve(_state(q), minor, ControlMode(q.control_mode))
        if check.outcome is Outcome.REFUSED:
            raise LimitExceeded(f"{quota_label(q)}: {check.reason}", code="quota_exceeded", field="amount",
                                extra={"quota_id": q.pk})
        if check.outcome is Outcome.ESCALATED:
            outcome = Outcome.ESCALATED
        if check.reason:
            reasons.append(f"{quota_label(q)}: {check.reason}")
    r.status, r.large_exposure, r.reason = outcome.value, conc.large_exposure, "; ".join(reasons)[:300]
    _insert_reservation(r, quotas, actor, today)
    ledger.append(actor, "plan.quota_reserved", "reservation", r.application_ref,
                  {"plan": plan.code, "amount_minor": minor, "status": r.status, "quotas": [q.pk for q in quotas],
                   "large_exposure": r.large_exposure, "reason": r.reason})
    return _reservation_view(r, [q.pk for q in quotas])


def reserve_quota_in_transaction(actor: Any, **kwargs: Any) -> ReservationView:
    """`reserve_quota` for a caller already inside its own transaction, without a savepoint of its own (two round
    trips fewer: the decision engine calls it on every straight-through approval). Every refusal (LimitExceeded,
    Conflict, ValidationError, Forbidden) is raised before the first write, so the caller may catch it and carry
    on; the quota rows it locked stay locked to the caller's commit. Any other error (the database's) leaves the
    caller's transaction to be rolled back whole."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve_quota_in_transaction must be called inside the caller's transaction")
    return reserve_quota.__wrapped__(actor, **kwargs)  # the body, without @transaction.atomic


def _reservation_for_update(actor: Any, application_ref: str) -> Reservation:
    """The application's reservation, locked — and in the actor's branch scope: a reservation of a branch
    outside it is answered exactly as one that does not exist (404, the same body), before anything else is
    checked or said about it. `actor` None is trusted code (the close, a payment already checked, origination
    releasing on withdrawal or expiry)."""
    r = (Reservation.objects.select_for_update(of=("self",)).select_related("plan", "branch")
         .filter(application_ref=application_ref).order_by("-id").first())
    missing = f"no reservation for application {application_ref}"
    if r is None:
        raise NotFound(missing, code="reservation_not_found")
    org.require_in_scope(actor, r.branch, message=missing, code="reservation_not_found")
    return r


def _locked_quotas(r: Reservation) -> list[Quota]:
    return list(Quota.objects.select_for_update().filter(pk__in=r.quotas.values("pk")).order_by("id"))


@transaction.atomic
def consume_quota(actor: Any, *, application_ref: str, amount: Any = None, on: dt.date | None = None
                  ) -> ReservationView:
    """Disbursement: the reserved amount becomes consumed lending and outstanding balance; any part of the
    approval not paid out is released. Branch scope first (see `_reservation_for_update`); `actor` None is
    trusted code (loans.services.disburse booking a loan for the demo seed or an import)."""
    if actor is not None:
        org.require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    if r.status not in ("reserved", "escalated"):
        raise Conflict(f"application {application_ref} is {r.status}, not awaiting disbursement",
                       code="reservation_status")
    paid = r.amount_minor if amount is None else to_minor(amount, "amount", allow_zero=False)
    if paid > r.amount_minor:
        raise ValidationError("cannot disburse more than was approved", field="amount", code="above_approval")
    quotas = _locked_quotas(r)
    _move(quotas, r, "consume", actor, reserved=-r.amount_minor, consumed=paid, outstanding=paid,
          on=_value_date(on))
    r.status, r.disbursed_minor, r.outstanding_minor = "consumed", paid, paid
    r.save(update_fields=["status", "disbursed_minor", "outstanding_minor", "updated_at"])
    ledger.append(actor, "plan.quota_consumed", "reservation", r.application_ref,
                  {"approved_minor": r.amount_minor, "disbursed_minor": paid})
    return _reservation_view(r)


@transaction.atomic
def release_quota(actor: Any, *, application_ref: str, reason: str, kind: str = "release") -> ReservationView:
    """An approval cancelled (or expired): its reservation goes back to the plan. Branch scope first (see
    `_reservation_for_update`); `actor` None is the system (expiry, origination releasing on withdrawal)."""
    if actor is not None:
        org.require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    if not (reason or "").strip():
        raise ValidationError("a reason is required", field="reason", code="required")
    if r.status not in ("reserved", "escalated"):
        raise Conflict(f"application {application_ref} is {r.status}; only a pending approval can be released",
                       code="reservation_status")
    quotas = _locked_quotas(r)
    _move(quotas, r, kind, actor, reserved=-r.amount_minor)
    r.status, r.reason = ("expired" if kind == "expire" else "released"), reason.strip()[:300]
    r.save(update_fields=["status", "reason", "updated_at"])
    ledger.append(actor, f"plan.quota_{r.status}", "reservation", r.application_ref,
                  {"amount_minor": r.amount_minor, "reason": r.reason})
    return _reservation_view(r)


@transaction.atomic
def repay_principal(actor: Any, *, application_ref: str, amount: Any, on: dt.date | None = None
                    ) -> ReservationView:
    """Principal repaid restores balance quota. `actor` None is the system (the close, a bank file)."""
    if actor is not None:
        org.require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    paid = to_minor(amount, "amount", allow_zero=False)
    if r.status not in ("consumed",) or paid > r.outstanding_minor:
        raise Conflict(f"application {application_ref} has {yuan(r.outstanding_minor)} outstanding",
                       code="repay_above_outstanding")
    quotas = _locked_quotas(r)
    _move(quotas, r, "repay", actor, outstanding=-paid, on=_value_date(on))
    r.outstanding_minor -= paid
    if r.outstanding_minor == 0:
        r.status = "repaid"
    r.save(update_fields=["status", "outstanding_minor", "updated_at"])
    ledger.append(actor, "plan.balance_restored", "reservation", r.application_ref,
                  {"principal_minor": paid, "outstanding_minor": r.outstanding_minor})
    return _reservation_view(r)


@transaction.atomic
def unrepay_principal(actor: Any, *, application_ref: str, amount: Any, on: dt.date | None = None
                      ) -> ReservationView:
    """A repayment reversed (a bounced payment): the principal it repaid is outstanding again, and takes its
    balance quota back. `actor` None is the system (the loan book's reversal)."""
    if actor is not None:
        org.require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    back = to_minor(amount, "amount", allow_zero=False)
    if r.status not in ("consumed", "repaid") or r.outstanding_minor + back > r.disbursed_minor:
        raise Conflict(f"application {application_ref} cannot owe more than it was paid out "
                       f"({yuan(r.disbursed_minor)})", code="unrepay_above_disbursed")
    quotas = _locked_quotas(r)
    _move(quotas, r, "unrepay", actor, outstanding=back, on=_value_date(on))
    r.outstanding_minor += back
    r.status = "consumed"
    r.save(update_fields=["status", "outstanding_minor", "updated_at"])
    ledger.append(actor, "plan.balance_reversed", "reservation", r.application_ref,
                  {"principal_minor": back, "outstanding_minor": r.outstanding_minor})
    return _reservation_view(r)


def expire_reservations(now: dt.datetime | None = None) -> int:
    """Release approvals not disbursed within the plan's validity (run daily)."""
    now = now or timezone.now()
    refs = list(Reservation.objects.filter(status__in=("reserved", "escalated"), expires_at__lt=now)
                .values_list("application_ref", flat=True))
    for ref in refs:
        release_quota(None, application_ref=ref, reason="approval expired", kind="expire")
    return len(refs)


# --- reallocation ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AdjustmentView:
    id: int
    quota_id: int
    quota_label: str
    delta_minor: int
    reason: str
    status: str
    requested_by: str
    decided_by: str | None
    decision_note: str
    created_at: dt.datetime


def _adjustment_view(a: Adjustment) -> AdjustmentView:
    return AdjustmentView(a.pk, a.quota_id, quota_label(a.quota), a.delta_minor, a.reason, a.status,
                          a.requested_by.username, a.decided_by.username if a.decided_by_id else None,
                          a.decision_note, a.created_at)


@transaction.atomic
def request_adjustment(actor: Any, quota_id: int, delta: Any, reason: str) -> AdjustmentView:
    """A branch asks for more (positive delta) or gives unused quota back (negative)."""
    org.require(actor, Perm.QUOTA_REQUEST)
    q = _visible_quota(actor, quota_id)
    if q.branch_id and not org.branch_in_scope(actor, q.branch):  # a quota above theirs: seen, not theirs
        raise Forbidden("this quota belongs to another branch", code="branch_out_of_scope")
    text = str(delta).strip()
    sign = -1 if text.startswith("-") else 1
    minor = sign * to_minor(text.lstrip("+-"), "delta", allow_zero=False)
    if not (reason or "").strip():
        raise ValidationError("a reason is required", field="reason", code="required")
    a = Adjustment.objects.create(quota=q, delta_minor=minor, reason=reason.strip()[:300], requested_by=actor)
    ledger.append(actor, "plan.adjustment_requested", "adjustment", a.pk,
                  {"quota": q.pk, "delta_minor": minor, "reason": a.reason})
    return _adjustment_view(a)


def _quota(quota_id: int) -> Quota:
    try:
        return Quota.objects.select_related("plan", "branch", "parent").get(pk=quota_id)
    except Quota.DoesNotExist:
        raise NotFound(f"quota {quota_id} not found", code="quota_not_found")


def _sees_quota(actor: Any, q: Quota) -> bool:
    """What `plan_quotas` shows the actor: the institution-wide quotas, those of their branch subtree, and
    those of the branches above theirs (the frame their own quota sits in)."""
    return (q.branch_id is None or sees_all_branches(actor.role) or org.branch_in_scope(actor, q.branch)
            or bool(actor.branch_id and actor.branch.path.startswith(q.branch.path)))


def _visible_quota(actor: Any, quota_id: int) -> Quota:
    """The quota, or the same 404 as a quota that does not exist when it is one the actor is not shown."""
    q = _quota(quota_id)
    if not _sees_quota(actor, q):
        raise NotFound(f"quota {quota_id} not found", code="quota_not_found")
    return q


@transaction.atomic
def decide_adjustment(actor: Any, adjustment_id: int, *, approve: bool, note: str = "") -> AdjustmentView:
    """Head office decides. An approved increase must fit in the parent's unallocated room; a give-back
    cannot go below what is already used."""
    org.require(actor, Perm.PLAN_MANAGE)
    try:
        a = (Adjustment.objects.select_for_update(of=("self",)).select_related("quota", "requested_by")
             .get(pk=adjustment_id))
    except Adjustment.DoesNotExist:
        raise NotFound(f"adjustment {adjustment_id} not found", code="adjustment_not_found")
    if a.status != "pending":
        raise Conflict(f"adjustment {adjustment_id} is already {a.status}", code="adjustment_decided")
    if a.requested_by_id == actor.pk:
        raise Conflict("maker-checker: you cannot decide your own request", code="maker_checker")
    if approve:
        # lock the quota and its parent together, in id order like reserve_quota, so the two cannot deadlock
        locked = {x.pk: x for x in Quota.objects.select_for_update()
                  .filter(pk__in=[a.quota_id, a.quota.parent_id or a.quota_id]).order_by("id")}
        q = locked[a.quota_id]
        new_limit = q.new_lending_limit_minor + a.delta_minor
        if new_limit < q.reserved_minor + q.consumed_minor:
            raise Conflict("cannot give back quota that is already reserved or used", code="adjust_below_used")
        if q.parent_id:
            parent = locked[q.parent_id]
            siblings = [(c.new_lending_limit_minor + (a.delta_minor if c.pk == q.pk else 0), c.balance_limit_minor)
                        for c in parent.children.all()]
            problem = domain.split_problem(parent.new_lending_limit_minor, parent.balance_limit_minor, siblings)
            if problem:
                raise Conflict(f"not enough unallocated quota in the parent: {problem}", code="split_above_parent")
        _move([q], None, "adjust", actor, limit=a.delta_minor)
    a.status = "approved" if approve else "rejected"
    a.decided_by, a.decided_at, a.decision_note = actor, timezone.now(), (note or "")[:300]
    a.save()
    ledger.append(actor, f"plan.adjustment_{a.status}", "adjustment", a.pk, {"delta_minor": a.delta_minor,
                                                                             "note": a.decision_note})
    return _adjustment_view(a)


# --- reading ---------------------------------------------------------------------------------------------

def list_plans(actor: Any) -> list[PlanView]:
    org.require(actor, Perm.PLAN_VIEW)
    return [_plan_view(p) for p in Plan.objects.all()]


def get_plan(actor: Any, plan_id: int) -> PlanView:
    org.require(actor, Perm.PLAN_VIEW)
    try:
        return _plan_view(Plan.objects.get(pk=plan_id))
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")


def plan_quotas(actor: Any, plan_id: int) -> list[QuotaView]:
    """The quota tree in depth-first order; branch staff see their own subtree and the quotas above it."""
    get_plan(actor, plan_id)
    rows = list(Quota.objects.filter(plan_id=plan_id).select_related("branch").order_by("id"))
    by_parent: dict[int | None, list[Quota]] = {}
    for q in rows:
        by_parent.setdefault(q.parent_id, []).append(q)
    out: list[QuotaView] = []

    def walk(parent: int | None) -> None:
        for q in by_parent.get(parent, []):
            if _sees_quota(actor, q):
                out.append(QuotaView(q.pk, q.parent_id, quota_label(q), q.branch.code if q.branch_id else "",
                                     q.product, q.industry, q.region, q.segment, q.control_mode, _state(q),
                                     len(by_parent.get(q.pk, []))))
            walk(q.pk)

    walk(None)
    return out


def quota_states(plan_id: int) -> dict[int, QuotaState]:
    return {q.pk: _state(q) for q in Quota.objects.filter(plan_id=plan_id)}


def explain_quota(actor: Any, quota_id: int) -> list[ReservationView]:
    """Why is this much reserved or used here? The applications behind it — those of the actor's own branch
    subtree (head-office roles: all): a quota above the actor's branch (the root, their branch's parent) also
    carries other branches' reservations, which are not theirs to see. A quota the actor is not shown at all
    answers like one that does not exist."""
    org.require(actor, Perm.PLAN_VIEW)
    q = _visible_quota(actor, quota_id)
    rows = org.scope_to_branches(actor, q.reservations.exclude(status__in=("released", "expired")))
    return [_reservation_view(r) for r in rows.order_by("-id")]


def list_adjustments(actor: Any, plan_id: int) -> list[AdjustmentView]:
    org.require(actor, Perm.PLAN_VIEW)
    rows = Adjustment.objects.filter(quota__plan_id=plan_id).select_related("quota", "quota__branch",
                                                                            "requested_by", "decided_by")
    return [_adjustment_view(a) for a in rows.order_by("-id")]


# --- execution dashboard ------------------------------------------------------------------------------

def plan_dashboard(actor: Any, plan_id: int, *, branch: str | None = None, today: dt.date | None = None
                   ) -> dict[str, Any]:
    """Plan vs actual for a plan (or one branch's quota): utilisation, pace, the daily series, a period-end
    forecast, alerts and a branch ranking. Amounts in fen; shares as floats for charts (display only)."""
    plan_view = get_plan(actor, plan_id)
    plan = Plan.objects.get(pk=plan_id)
    today = today or timezone.localdate()
    quotas = plan_quotas(actor, plan_id)
    if branch:
        heads = [q for q in quotas if q.branch == branch.upper()]
        if not heads:
            raise NotFound(f"no quota for branch {branch} in this plan", code="quota_not_found")
        subtree = {heads[0].id}
        for q in quotas:  # depth-first order: a parent always comes before its children
            if q.parent_id in subtree:
                subtree.add(q.id)
        quotas = [q for q in quotas if q.id in subtree]
    focus = quotas[0] if quotas else None
    pending = {q.id: q for q in quotas}

    def row(q: QuotaView) -> dict[str, Any]:
        s = q.state
        p = domain.pace(s, plan.period_start, plan.period_end, today)
        pipeline = Reservation.objects.filter(quotas=q.id, status__in=("reserved", "escalated")).count()
        forecast = domain.forecast_new_lending(s.consumed, s.reserved, 0, plan.period_start, plan.period_end, today)
        return {
            "id": q.id, "label": q.label, "branch": q.branch, "mode": q.control_mode, "parent_id": q.parent_id,
            "new_lending_limit": s.new_lending_limit, "balance_limit": s.balance_limit, "reserved": s.reserved,
            "consumed": s.consumed, "available": s.available, "outstanding": s.outstanding,
            "utilisation": float(s.utilisation), "pace": float(p) if p is not None else None,
            "forecast_new_lending": forecast, "pipeline_applications": pipeline,
            "balance_utilisation": float((s.outstanding + s.reserved) / s.balance_limit) if s.balance_limit else 0.0,
        }

    rows = [row(q) for q in quotas]
    alerts = []
    elapsed = float(domain.elapsed_share(plan.period_start, plan.period_end, today))
    for r in rows:
        used = r["utilisation"] * 100
        crossed = [t for t in plan.alert_thresholds_pct if used >= t]
        if crossed:
            alerts.append({"quota": r["label"], "kind": "utilisation", "level": "act" if max(crossed) >= 100 else "watch",
                           "message": f"utilisation {used:.1f} % ≥ {max(crossed)} %"})
        if r["pace"] is not None and abs(r["pace"] - 1) * 100 > plan.pace_margin_pct and elapsed >= 0.05:
            alerts.append({"quota": r["label"], "kind": "pace", "level": "watch",
                           "message": f"pace {r['pace']:.2f} (used {used:.1f} % vs {elapsed * 100:.1f} % of the period)"})
    series = []
    if focus is not None:
        daily = (Movement.objects.filter(quota_id=focus.id).values("on_date")
                 .annotate(r=Sum("reserved_delta"), c=Sum("consumed_delta"), o=Sum("outstanding_delta"))
                 .order_by("on_date"))
        acc_c = acc_r = acc_o = 0
        limit = focus.state.new_lending_limit
        total_days = (plan.period_end - plan.period_start).days + 1
        for d in daily:
            acc_c, acc_r, acc_o = acc_c + (d["c"] or 0), acc_r + (d["r"] or 0), acc_o + (d["o"] or 0)
            day_no = (d["on_date"] - plan.period_start).days + 1
            series.append({"date": d["on_date"].isoformat(), "consumed": acc_c, "reserved": acc_r,
                           "outstanding": acc_o, "plan": limit * max(0, min(day_no, total_days)) // total_days})
    children = [r for r in rows if focus is not None and r["parent_id"] == focus.id]
    adjustments = Adjustment.objects.filter(quota__plan_id=plan_id)
    ranking = []
    for r in children:
        deviation = (r["utilisation"] - elapsed) * 100
        ranking.append({"label": r["label"], "branch": r["branch"], "utilisation": r["utilisation"],
                        "deviation_pct_points": round(deviation, 1), "idle": r["available"],
                        "adjustments": adjustments.filter(quota_id=r["id"]).count()})
    ranking.sort(key=lambda x: abs(x["deviation_pct_points"]))
    return {"plan": {"id": plan_view.id, "code": plan_view.code, "name": plan_view.name,
                     "period": [plan.period_start.isoformat(), plan.period_end.isoformat()],
                     "status": plan.status, "elapsed": elapsed, "today": today.isoformat()},
            "focus": rows[0] if rows else None, "quotas": rows, "series": series, "alerts": alerts,
            "ranking": ranking, "pending_quota_ids": sorted(pending)}
