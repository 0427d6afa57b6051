"""A credit plan: its period, net capital and root quota (created as a draft, activated, closed), and reading
plans. The quota tree below the root is plans.services.quotas'; the counters that move with loans,
plans.services.reservations'."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.plans import domain
from creditplan.plans.domain import ControlMode, parse_plan_amount
from creditplan.plans.models import Plan, Quota
from creditplan.plans.services.book import open_book
from creditplan.plans.services.records import PlanView, plan_view


def _parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", field=field, code="date_format")


@transaction.atomic
def create_plan(actor: Actor, *, code: str, name: str, period_start: Any, period_end: Any, net_capital: Any,
                new_lending_limit: Any, balance_limit: Any, control_mode: str = "hard",
                alert_thresholds_pct: Any = (80, 100), pace_margin_pct: int = 20,
                approval_validity_days: int = 30) -> PlanView:
    require(actor, Perm.PLAN_MANAGE)
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
    net = parse_plan_amount(net_capital, "net_capital", allow_zero=False)
    new_limit = parse_plan_amount(new_lending_limit, "new_lending_limit")
    bal_limit = parse_plan_amount(balance_limit, "balance_limit")
    mode = parse_control_mode(control_mode)
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
    return plan_view(plan)


def parse_control_mode(value: str) -> ControlMode:
    try:
        return ControlMode(value or "hard")
    except ValueError:
        raise ValidationError("control mode must be hard, soft or monitor", field="control_mode",
                              code="unknown_control_mode")


@transaction.atomic
def activate_plan(actor: Actor, plan_id: int, *, on: dt.date | None = None) -> PlanView:
    """Activate a draft plan: from now on approvals reserve its quotas. It starts from the opening book (issue 19
    §5, plans.services.book.open_book): the loans' outstanding principal by cell on `on` (the business date, today
    by default) becomes its cells and each quota's opening balance and balance."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    if plan.status != "draft":
        raise Conflict(f"only a draft plan can be activated (this one is {plan.status})", code="plan_status")
    plan.status = "active"
    plan.opening_date = on or timezone.localdate()
    plan.save(update_fields=["status", "opening_date"])
    cells, opening = open_book(plan, actor)
    ledger.append(actor, "plan.activated", "plan", plan.code,
                  {"opening_date": plan.opening_date, "opening_cells": cells, "opening_minor": opening})
    return plan_view(plan)


@transaction.atomic
def close_plan(actor: Actor, plan_id: int) -> PlanView:
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan_for_update(plan_id)
    plan.status = "closed"
    plan.save(update_fields=["status"])
    ledger.append(actor, "plan.closed", "plan", plan.code, {})
    return plan_view(plan)


def _plan_for_update(plan_id: int) -> Plan:
    try:
        return Plan.objects.select_for_update().get(pk=plan_id)
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")


def list_plans(actor: Actor) -> list[PlanView]:
    require(actor, Perm.PLAN_VIEW)
    return [plan_view(p) for p in Plan.objects.all()]


def get_plan(actor: Actor, plan_id: int) -> PlanView:
    require(actor, Perm.PLAN_VIEW)
    try:
        return plan_view(Plan.objects.get(pk=plan_id))
    except Plan.DoesNotExist:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")
