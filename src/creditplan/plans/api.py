from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.access import Actor
from creditplan.core.money import format_minor
from creditplan.plans import services
from creditplan.plans.services import AdjustmentView, PlanView, QuotaView, ReservationView

router = Router(tags=["credit plan"])

Amount = str | int


def _yuan(minor: int) -> str:
    """The plain form API answers carry: "2000000.00"."""
    return format_minor(minor, grouping=False)


class QuotaRead(Schema):
    id: int
    parent_id: int | None
    label: str
    branch: str
    product: str
    industry: str
    region: str
    segment: str
    control_mode: str
    new_lending_limit: str
    balance_limit: str
    reserved: str
    consumed: str
    available: str
    outstanding: str
    utilisation: str = Field(description="reserved + consumed over the new-lending limit, 4 decimals")


def _quota(q: QuotaView) -> QuotaRead:
    s = q.state
    return QuotaRead(id=q.id, parent_id=q.parent_id, label=q.label, branch=q.branch, product=q.product,
                     industry=q.industry, region=q.region, segment=q.segment, control_mode=q.control_mode,
                     new_lending_limit=_yuan(s.new_lending_limit), balance_limit=_yuan(s.balance_limit),
                     reserved=_yuan(s.reserved), consumed=_yuan(s.consumed), available=_yuan(s.available),
                     outstanding=_yuan(s.outstanding),
                     utilisation=f"{s.utilisation.numerator / s.utilisation.denominator:.4f}")


class PlanRead(Schema):
    id: int
    code: str
    name: str
    period_start: dt.date
    period_end: dt.date
    status: str
    net_capital: str
    root: QuotaRead | None


def _plan(p: PlanView) -> PlanRead:
    return PlanRead(id=p.id, code=p.code, name=p.name, period_start=p.period_start, period_end=p.period_end,
                    status=p.status, net_capital=_yuan(p.net_capital_minor), root=_quota(p.root) if p.root else None)


class PlanCreate(Schema):
    code: str
    name: str
    period_start: dt.date
    period_end: dt.date
    net_capital: Amount = Field(description="yuan, decimal string")
    new_lending_limit: Amount
    balance_limit: Amount
    control_mode: Literal["hard", "soft", "monitor"] = "hard"
    alert_thresholds_pct: list[int] = [80, 100]
    pace_margin_pct: int = 20
    approval_validity_days: int = Field(30, ge=1, le=365)


class ChildQuota(Schema):
    branch: str | None = None
    product: str = ""
    industry: str = ""
    region: str = ""
    segment: str = ""
    new_lending_limit: Amount
    balance_limit: Amount
    control_mode: Literal["hard", "soft", "monitor"] | None = None


class SplitRequest(Schema):
    children: list[ChildQuota]


class ReserveRequest(Schema):
    application_ref: str
    amount: Amount
    branch: str
    product: str = ""
    industry: str = ""
    region: str = ""
    segment: str = ""
    customer_ref: str = ""
    group_ref: str = ""


class ReservationRead(Schema):
    id: int
    application_ref: str
    status: str
    amount: str
    disbursed: str
    outstanding: str
    large_exposure: bool
    reason: str
    quota_ids: list[int]


def _res(r: ReservationView) -> ReservationRead:
    return ReservationRead(id=r.id, application_ref=r.application_ref, status=r.status, amount=_yuan(r.amount_minor),
                           disbursed=_yuan(r.disbursed_minor), outstanding=_yuan(r.outstanding_minor),
                           large_exposure=r.large_exposure, reason=r.reason, quota_ids=r.quota_ids)


class ConsumeRequest(Schema):
    amount: Amount | None = None


class ReleaseRequest(Schema):
    reason: str


class RepayRequest(Schema):
    amount: Amount


class AdjustmentRequest(Schema):
    quota_id: int
    delta: str = Field(description="yuan; negative gives quota back, e.g. \"-500000\"")
    reason: str


class AdjustmentDecision(Schema):
    approve: bool
    note: str = ""


class AdjustmentRead(Schema):
    id: int
    quota_id: int
    quota_label: str
    delta: str
    reason: str
    status: str
    requested_by: str
    decided_by: str | None
    decision_note: str


def _adj(a: AdjustmentView) -> AdjustmentRead:
    return AdjustmentRead(id=a.id, quota_id=a.quota_id, quota_label=a.quota_label, delta=_yuan(a.delta_minor),
                          reason=a.reason, status=a.status, requested_by=a.requested_by, decided_by=a.decided_by,
                          decision_note=a.decision_note)


class DimensionCreate(Schema):
    dimension: Literal["product", "segment"]
    code: str
    name: str


def _actor(request: HttpRequest) -> Actor:
    actor: Actor = request.auth  # the API root authenticates every request (token or session)
    return actor


@router.get("", response=list[PlanRead], summary="Credit plans")
def list_plans(request: HttpRequest) -> list[PlanRead]:
    return [_plan(p) for p in services.list_plans(_actor(request))]


@router.post("", response={201: PlanRead}, summary="Create a plan and its root quota (planners)")
def create_plan(request: HttpRequest, payload: PlanCreate) -> Status:
    return Status(201, _plan(services.create_plan(_actor(request), **payload.model_dump())))


@router.post("/dimensions", summary="Configure a product or customer-segment code")
def add_dimension(request: HttpRequest, payload: DimensionCreate) -> dict[str, str]:
    services.add_dimension_code(_actor(request), payload.dimension, payload.code, payload.name)
    return {"dimension": payload.dimension, "code": payload.code}


@router.post("/reservations", response={201: ReservationRead},
             summary="Reserve quota for an approved application (hard: 409 limit_exceeded; soft: escalated)")
def reserve(request: HttpRequest, payload: ReserveRequest) -> Status:
    return Status(201, _res(services.reserve_quota(_actor(request), **payload.model_dump())))


@router.post("/reservations/{application_ref}/consume", response=ReservationRead, summary="Disbursement")
def consume(request: HttpRequest, application_ref: str, payload: ConsumeRequest) -> ReservationRead:
    return _res(services.consume_quota(_actor(request), application_ref=application_ref, amount=payload.amount))


@router.post("/reservations/{application_ref}/release", response=ReservationRead, summary="Cancelled approval")
def release(request: HttpRequest, application_ref: str, payload: ReleaseRequest) -> ReservationRead:
    return _res(services.release_quota(_actor(request), application_ref=application_ref, reason=payload.reason))


@router.post("/reservations/{application_ref}/repay", response=ReservationRead, summary="Principal repaid")
def repay(request: HttpRequest, application_ref: str, payload: RepayRequest) -> ReservationRead:
    return _res(services.repay_principal(_actor(request), application_ref=application_ref, amount=payload.amount))


@router.post("/adjustments", response={201: AdjustmentRead}, summary="Ask for more quota or give some back")
def request_adjustment(request: HttpRequest, payload: AdjustmentRequest) -> Status:
    return Status(201, _adj(services.request_adjustment(_actor(request), payload.quota_id, payload.delta,
                                                        payload.reason)))


@router.post("/adjustments/{adjustment_id}/decision", response=AdjustmentRead, summary="Approve or reject")
def decide(request: HttpRequest, adjustment_id: int, payload: AdjustmentDecision) -> AdjustmentRead:
    return _adj(services.decide_adjustment(_actor(request), adjustment_id, approve=payload.approve,
                                           note=payload.note))


@router.get("/{plan_id}", response=PlanRead)
def get_plan(request: HttpRequest, plan_id: int) -> PlanRead:
    return _plan(services.get_plan(_actor(request), plan_id))


@router.get("/{plan_id}/quotas", response=list[QuotaRead], summary="The quota tree, depth first")
def quotas(request: HttpRequest, plan_id: int) -> list[QuotaRead]:
    return [_quota(q) for q in services.plan_quotas(_actor(request), plan_id)]


@router.post("/quotas/{quota_id}/split", response={201: list[QuotaRead]}, summary="Split a quota into children")
def split(request: HttpRequest, quota_id: int, payload: SplitRequest) -> Status:
    children = [c.model_dump() for c in payload.children]
    return Status(201, [_quota(q) for q in services.split_quota(_actor(request), quota_id, children)])


@router.get("/quotas/{quota_id}/reservations", response=list[ReservationRead],
            summary="Why is this much reserved here? The applications behind a quota")
def explain(request: HttpRequest, quota_id: int) -> list[ReservationRead]:
    return [_res(r) for r in services.explain_quota(_actor(request), quota_id)]


@router.post("/{plan_id}/activate", response=PlanRead)
def activate(request: HttpRequest, plan_id: int) -> PlanRead:
    return _plan(services.activate_plan(_actor(request), plan_id))


@router.get("/{plan_id}/adjustments", response=list[AdjustmentRead])
def adjustments(request: HttpRequest, plan_id: int) -> list[AdjustmentRead]:
    return [_adj(a) for a in services.list_adjustments(_actor(request), plan_id)]


@router.get("/{plan_id}/dashboard", summary="Execution: utilisation, pace, daily series, forecast, alerts, ranking")
def dashboard(request: HttpRequest, plan_id: int, branch: str | None = None) -> dict[str, Any]:
    return services.plan_dashboard(_actor(request), plan_id, branch=branch)
