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
    customer_ref: str = Field("", description="the customer's id; its groups come from the registry, never from "
                                              "the request")


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
    name_en: str = Field("", description="the English name (optional; English pages show it)")


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
    services.add_dimension_code(_actor(request), payload.dimension, payload.code, payload.name,
                                name_en=payload.name_en)
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


# --- the capital base (资本净额) of the concentration limits, maker-checker (issue 19) ----------------------------
# (two segments: a single one would be taken by "/{plan_id}" above)

class CapitalBaseRequest(Schema):
    amount: Amount = Field(description="yuan, more than zero, e.g. \"100000000.00\"")
    effective_from: str = Field(description="the first day it applies, YYYY-MM-DD")
    note: str = ""


class CapitalBaseDecision(Schema):
    approve: bool
    note: str = ""


class CapitalBaseRead(Schema):
    id: int
    amount: str
    effective_from: dt.date
    note: str
    status: str
    proposed_by: str
    decided_by: str | None


class CapitalBaseList(Schema):
    current: CapitalBaseRead | None = Field(description="the approved base in force today (none: each plan's own "
                                                        "net capital is used)")
    proposals: list[CapitalBaseRead]


def _capital(c: services.CapitalBaseView) -> CapitalBaseRead:
    return CapitalBaseRead(id=c.id, amount=_yuan(c.amount_minor), effective_from=c.effective_from, note=c.note,
                           status=c.status, proposed_by=c.proposed_by, decided_by=c.decided_by)


@router.get("/capital-base/proposals", response=CapitalBaseList, summary="The capital base in force and every proposal")
def capital_bases(request: HttpRequest) -> CapitalBaseList:
    rows = services.list_capital_bases(_actor(request))
    current = services.current_capital_base()
    return CapitalBaseList(current=_capital(current) if current else None, proposals=[_capital(c) for c in rows])


@router.post("/capital-base/proposals", response={201: CapitalBaseRead},
             summary="Propose a capital base from a date (another planner approves it)")
def propose_capital_base(request: HttpRequest, payload: CapitalBaseRequest) -> Status:
    return Status(201, _capital(services.propose_capital_base(_actor(request), **payload.model_dump())))


@router.post("/capital-base/proposals/{capital_id}/decision", response=CapitalBaseRead,
             summary="Approve or reject a proposed capital base (not its proposer)")
def decide_capital_base(request: HttpRequest, capital_id: int, payload: CapitalBaseDecision) -> CapitalBaseRead:
    return _capital(services.decide_capital_base(_actor(request), capital_id, approve=payload.approve,
                                                 note=payload.note))


# --- issue 19 §3: quota transfers (调剂规模余缺) and freezing ------------------------------------------------------

class TransferRequest(Schema):
    source: int = Field(description="the quota giving quota (id)")
    target: int = Field(description="the quota receiving it (id)")
    amount: Amount = Field(description="yuan, decimal string")
    measure: str = Field("new_lending", description="new_lending or balance")
    reason: str


class TransferDecision(Schema):
    approve: bool
    note: str = ""


class TransferRead(Schema):
    id: int
    plan_id: int
    source: int
    source_label: str
    target: int
    target_label: str
    measure: str
    amount: str
    reason: str
    status: str = Field(description="pending, applied, rejected or refused")
    refusal: str
    refusal_code: str
    refusal_available: str | None = Field(None, description="yuan the source had available when refused")
    requested_by: str
    decided_by: str | None
    decision_note: str


def _transfer(t: services.TransferView) -> TransferRead:
    return TransferRead(id=t.id, plan_id=t.plan_id, source=t.source_id, source_label=t.source_label,
                        target=t.target_id, target_label=t.target_label, measure=t.measure,
                        amount=_yuan(t.amount_minor), reason=t.reason, status=t.status, refusal=t.refusal,
                        refusal_code=t.refusal_code,
                        refusal_available=None if t.refusal_available_minor is None
                        else _yuan(t.refusal_available_minor),
                        requested_by=t.requested_by, decided_by=t.decided_by, decision_note=t.decision_note)


class FreezeRequest(Schema):
    reason: str


class FreezeRead(Schema):
    id: int
    label: str
    frozen: bool


class TransferRule(Schema):
    across_dimensions: bool


class QuotaEventRead(Schema):
    at: dt.datetime
    kind: str = Field(description="transfer_in, transfer_out, freeze or unfreeze")
    status: str
    transfer_id: int | None
    other_quota: int | None
    other_label: str
    measure: str
    amount: str
    proposed_by: str
    decided_by: str
    reason: str


@router.post("/{plan_id}/transfers", response={201: TransferRead},
             summary="Propose moving available quota from one quota to another (another planner approves it)")
def propose_transfer(request: HttpRequest, plan_id: int, payload: TransferRequest) -> Status:
    return Status(201, _transfer(services.propose_transfer(_actor(request), plan_id, payload.source, payload.target,
                                                           payload.amount, payload.measure, payload.reason)))


@router.get("/{plan_id}/transfers", response=list[TransferRead], summary="A plan's transfers, newest first")
def list_transfers(request: HttpRequest, plan_id: int) -> list[TransferRead]:
    return [_transfer(t) for t in services.list_transfers(_actor(request), plan_id)]


@router.post("/transfers/{transfer_id}/decision", response=TransferRead,
             summary="Approve (applied at once; 409 transfer_source_short when the source lacks it now) or reject")
def decide_transfer(request: HttpRequest, transfer_id: int, payload: TransferDecision) -> TransferRead:
    return _transfer(services.decide_transfer(_actor(request), transfer_id, approve=payload.approve,
                                              note=payload.note))


@router.put("/{plan_id}/transfer-rule", response=TransferRule, summary="Allow transfers across dimensions or not")
def set_transfer_rule(request: HttpRequest, plan_id: int, payload: TransferRule) -> TransferRule:
    return TransferRule(across_dimensions=services.set_transfer_rule(_actor(request), plan_id,
                                                                     across_dimensions=payload.across_dimensions))


@router.post("/quotas/{quota_id}/freeze", response=FreezeRead, summary="Freeze a quota: no new reservations")
def freeze(request: HttpRequest, quota_id: int, payload: FreezeRequest) -> FreezeRead:
    q = services.freeze_quota(_actor(request), quota_id, payload.reason)
    return FreezeRead(id=q.id, label=q.label, frozen=q.frozen)


@router.post("/quotas/{quota_id}/unfreeze", response=FreezeRead, summary="Unfreeze a quota")
def unfreeze(request: HttpRequest, quota_id: int, payload: FreezeRequest) -> FreezeRead:
    q = services.unfreeze_quota(_actor(request), quota_id, payload.reason)
    return FreezeRead(id=q.id, label=q.label, frozen=q.frozen)


@router.get("/quotas/{quota_id}/history", response=list[QuotaEventRead],
            summary="A quota's transfers in and out and its freezes, newest first")
def quota_history(request: HttpRequest, quota_id: int) -> list[QuotaEventRead]:
    return [QuotaEventRead(at=e.at, kind=e.kind, status=e.status, transfer_id=e.transfer_id, other_quota=e.other_id,
                           other_label=e.other_label, measure=e.measure, amount=_yuan(e.amount_minor),
                           proposed_by=e.proposed_by, decided_by=e.decided_by, reason=e.reason)
            for e in services.quota_history(_actor(request), quota_id)]


# --- plan periods (issue 19 §7) -------------------------------------------------------------------------------------

class PeriodRead(Schema):
    seq: int
    start: dt.date
    end: dt.date
    share_bp: int = Field(description="basis points of the year's limits (10000 = the whole year)")


class PeriodsRead(Schema):
    plan_id: int
    period_control: str = Field(description="none | roll (a month's unused quota rolls over) | lapse (it lapses)")
    months: list[PeriodRead]
    quarters: list[PeriodRead]
    source: str = Field("", description="shares | previous_plan | book | equal (the previous year had no lending)")


class PeriodsRequest(Schema):
    months: list[int] | None = Field(None, description="one share per month, basis points, adding up to 10000")
    quarters: list[int] | None = Field(None, description="one share per quarter (split evenly over its months)")
    period_control: str | None = None


class PeriodControlRequest(Schema):
    period_control: str


def _periods(v: services.PeriodsView) -> PeriodsRead:
    def one(p: Any) -> PeriodRead:
        return PeriodRead(seq=p.seq, start=p.start, end=p.end, share_bp=p.share_bp)

    return PeriodsRead(plan_id=v.plan_id, period_control=v.control, months=[one(p) for p in v.months],
                       quarters=[one(p) for p in v.quarters], source=v.source)


@router.get("/{plan_id}/periods", response=PeriodsRead, summary="The plan's months and quarters and their shares")
def get_periods(request: HttpRequest, plan_id: int) -> PeriodsRead:
    return _periods(services.plan_periods(_actor(request), plan_id))


@router.put("/{plan_id}/periods", response=PeriodsRead,
            summary="Split the plan by shares (months and/or quarters, basis points adding up to 10000)")
def put_periods(request: HttpRequest, plan_id: int, payload: PeriodsRequest) -> PeriodsRead:
    return _periods(services.set_periods(_actor(request), plan_id, months=payload.months, quarters=payload.quarters,
                                         period_control=payload.period_control))


@router.post("/{plan_id}/periods/previous-year", response=PeriodsRead,
             summary="Split the plan by the previous year's new lending month by month (equal shares without any)")
def periods_previous_year(request: HttpRequest, plan_id: int, payload: PeriodControlRequest | None = None
                          ) -> PeriodsRead:
    control = payload.period_control if payload is not None else None
    return _periods(services.periods_from_previous_year(_actor(request), plan_id, period_control=control))


@router.put("/{plan_id}/period-control", response=PeriodsRead,
            summary="What happens to a month's unused new-lending quota: none, roll or lapse")
def put_period_control(request: HttpRequest, plan_id: int, payload: PeriodControlRequest) -> PeriodsRead:
    return _periods(services.set_period_control(_actor(request), plan_id, payload.period_control))


@router.delete("/{plan_id}/periods", response=PeriodsRead, summary="Remove the plan's months and quarters")
def delete_periods(request: HttpRequest, plan_id: int) -> PeriodsRead:
    return _periods(services.clear_periods(_actor(request), plan_id))


# --- customer groups (issue 19 §2): the registry is the customers app's; the figures are plans.services.groups ---
# Their own router, mounted at /api/v1/groups (a path under /plans would meet GET /plans/{plan_id}).
groups_router = Router(tags=["customer groups"])


class GroupRefRead(Schema):
    id: int
    code: str
    name: str
    status: str


class GroupLimitRead(Schema):
    capital_base: str = Field(description="the capital base in force, yuan")
    source: str = Field(description="capital_base (an approved one), plan (the active plan's net capital) or none")
    group_share_bp: int = Field(description="the group limit's share of the capital base, basis points (1500 = 15 %)")
    limit: str = Field(description="the group limit, yuan")


class GroupRead(Schema):
    id: int
    code: str
    name: str
    name_en: str = Field("", description="the English name (blank: the group has only `name`)")
    status: str
    parent: GroupRefRead | None
    root: GroupRefRead = Field(description="the top of the group's tree, where the limit applies")
    depth: int
    members: int = Field(description="current members: of the whole tree on a top group, of the group otherwise")
    exposure: str | None = Field(description="the whole tree's exposure (yuan) on a top group; null below it")
    limit: str
    over_limit: bool


class GroupMemberRead(Schema):
    id: int
    customer_id: int
    customer_name: str
    identity: str = Field(description="an individual's resident ID number masked (last 4), a company's credit code")
    branch: str
    relation: str = Field(description="control, guarantee (mutual guarantee), controller (same actual controller) or "
                                      "family")
    effective_from: dt.date
    effective_to: dt.date | None
    current: bool
    exposure: str | None = Field(description="the customer's whole-book exposure (yuan); null once it ended")


class GroupDetailRead(Schema):
    group: GroupRead
    children: list[GroupRefRead]
    members: list[GroupMemberRead]
    hidden_members: int = Field(description="members of branches outside yours, not listed")
    members_exposure: str
    tree_exposure: str = Field(description="every current member of the tree under the group's top (yuan)")
    limit: GroupLimitRead


class GroupChangeRequest(Schema):
    kind: Literal["create_group", "add_member", "end_member", "set_parent", "dissolve"]
    group_id: int | None = Field(None, description="the group changed (every kind but create_group)")
    code: str = Field("", description="create_group: the new group's code")
    name: str = Field("", description="create_group: its name")
    name_en: str = Field("", description="create_group: its English name (optional; English pages show it)")
    parent_id: int | None = Field(None, description="create_group / set_parent: the parent group (null: a top group)")
    head: str | int = Field("", description="create_group: the head customer (number, resident ID number or credit "
                                            "code)")
    customer: str | int = Field("", description="add_member: customer number, resident ID number or credit code")
    relation: str = Field("", description="add_member: control, guarantee, controller or family")
    effective_from: str = Field("", description="add_member: YYYY-MM-DD")
    effective_to: str = Field("", description="add_member (optional), end_member, dissolve: the last day")
    member_id: int | None = Field(None, description="end_member: the membership")


class GroupChangeRead(Schema):
    id: int
    kind: str
    status: str
    group: GroupRefRead | None
    group_code: str
    name: str
    parent: GroupRefRead | None
    customer_id: int | None
    customer_name: str
    customer_identity: str
    relation: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    member_id: int | None
    source: str
    proposed_by: str
    decided_by: str | None
    decision_note: str


class GroupDecision(Schema):
    approve: bool
    note: str = Field("", description="required to reject")


def _one_ref(r: Any) -> GroupRefRead:
    return GroupRefRead(id=r.id, code=r.code, name=r.name, status=r.status)


def _ref(r: Any) -> GroupRefRead | None:
    return None if r is None else _one_ref(r)


def _group(g: Any, exposure: int | None, limit: services.GroupLimit) -> GroupRead:
    top = g.root.id == g.id
    return GroupRead(id=g.id, code=g.code, name=g.name, name_en=g.name_en, status=g.status, parent=_ref(g.parent), root=_one_ref(g.root),
                     depth=g.depth, members=g.tree_member_count if top else g.member_count,
                     exposure=_yuan(exposure) if exposure is not None else None, limit=_yuan(limit.limit_minor),
                     over_limit=exposure is not None and limit.limit_minor > 0 and exposure > limit.limit_minor)


def _change(c: services.GroupChangeView) -> GroupChangeRead:
    return GroupChangeRead(id=c.id, kind=c.kind, status=c.status, group=_ref(c.group), group_code=c.group_code,
                           name=c.name, parent=_ref(c.parent), customer_id=c.customer_id,
                           customer_name=c.customer_name, customer_identity=c.customer_identity, relation=c.relation,
                           effective_from=c.effective_from, effective_to=c.effective_to, member_id=c.member_id,
                           source=c.source, proposed_by=c.proposed_by, decided_by=c.decided_by,
                           decision_note=c.decision_note)


@groups_router.get("", response=list[GroupRead], summary="Customer groups with their exposure against the limit")
def list_groups(request: HttpRequest) -> list[GroupRead]:
    return [_group(r.group, r.exposure_minor, r.limit) for r in services.group_overview(_actor(request))]


@groups_router.get("/changes", response=list[GroupChangeRead],
            summary="Group changes: pending (the maker-checker queue) by default, or approved / rejected")
def list_group_changes(request: HttpRequest, status: Literal["pending", "approved", "rejected"] = "pending"
                       ) -> list[GroupChangeRead]:
    return [_change(c) for c in services.list_group_changes(_actor(request), status=status)]


@groups_router.post("/changes", response={201: GroupChangeRead},
             summary="Propose a change of the group registry (applied when another user approves it)")
def propose_group_change(request: HttpRequest, payload: GroupChangeRequest) -> Status:
    data = payload.model_dump()
    data["parent"], data["member"] = data.pop("parent_id"), data.pop("member_id")
    group_id = data.pop("group_id")
    return Status(201, _change(services.propose_group_change(_actor(request), data.pop("kind"), data,
                                                             group_id=group_id)))


@groups_router.post("/changes/{change_id}/decision", response=GroupChangeRead,
             summary="Approve (checked again, then applied) or reject a group change: never its proposer")
def decide_group_change(request: HttpRequest, change_id: int, payload: GroupDecision) -> GroupChangeRead:
    return _change(services.decide_group_change(_actor(request), change_id, approve=payload.approve,
                                                note=payload.note))


@groups_router.get("/{group_id}", response=GroupDetailRead,
            summary="A group: its members with their exposure, the groups inside it, the tree's exposure and limit")
def get_group(request: HttpRequest, group_id: int) -> GroupDetailRead:
    page = services.group_page(_actor(request), group_id)
    g, lim = page.detail.group, page.limit
    members = [GroupMemberRead(id=r.member.id, customer_id=r.member.customer_id, customer_name=r.member.customer_name,
                               identity=r.member.identity, branch=r.member.branch_name, relation=r.member.relation,
                               effective_from=r.member.effective_from, effective_to=r.member.effective_to,
                               current=r.member.current,
                               exposure=_yuan(r.exposure_minor) if r.exposure_minor is not None else None)
               for r in page.members]
    return GroupDetailRead(
        group=_group(g, page.tree_exposure_minor if g.root.id == g.id else None, lim),
        children=[_one_ref(c) for c in g.children], members=members, hidden_members=page.detail.hidden_members,
        members_exposure=_yuan(page.members_exposure_minor), tree_exposure=_yuan(page.tree_exposure_minor),
        limit=GroupLimitRead(capital_base=_yuan(lim.capital_base_minor), source=lim.source,
                             group_share_bp=lim.group_bp, limit=_yuan(lim.limit_minor)))


# --- targets and ratio limits (issue 19 §6; docs/plan-targets.md) ---------------------------------------------

class TargetWrite(Schema):
    code: str
    name: str
    kind: str = Field(description="min_amount | min_growth | min_borrowers | max_share | min_share | min_growth_vs")
    measure: str = Field("", description="balance | new_lending | borrowers (empty: the kind's usual one)")
    numerator: list[dict[str, str]] = Field([], description='filters, any of which matches: [{"product": '
                                                             '"mortgage"}, {"industry": "K"}]; [] = all loans')
    denominator: list[dict[str, str]] = Field([], description="shares and growth comparisons; [] = all loans")
    threshold: Amount = Field(description="yuan (min_amount), a count (min_borrowers), a percentage "
                                          "(\"22.5\" = 22.5 %) for rates, shares and the growth margin")
    base_value: Amount | None = Field(None, description="the base period's figure: yuan, or a count of borrowers")
    control: Literal["refuse", "escalate", "monitor"] = "monitor"


class TargetChange(Schema):
    name: str | None = None
    kind: str | None = None
    measure: str | None = None
    numerator: list[dict[str, str]] | None = None
    denominator: list[dict[str, str]] | None = None
    threshold: Amount | None = None
    base_value: Amount | None = None
    control: Literal["refuse", "escalate", "monitor"] | None = None


class TargetRead(Schema):
    id: int
    code: str
    name: str
    template: str
    kind: str
    measure: str
    numerator: list[dict[str, str]]
    denominator: list[dict[str, str]]
    unit: str = Field(description="fen (threshold in yuan), bp (a percentage) or count")
    threshold: str
    base_value: str | None
    control: str


def _target(v: services.TargetView) -> TargetRead:
    return TargetRead(id=v.id, code=v.code, name=v.name, template=v.template, kind=v.kind, measure=v.measure,
                      numerator=v.numerator, denominator=v.denominator, unit=v.unit, threshold=v.threshold_text,
                      base_value=v.base_text or None, control=v.control)


class TargetStatusRead(Schema):
    target: TargetRead
    status: str = Field(description="met | on_pace | behind | missed | within | breached | not_measured")
    unit: str
    value: str | None = Field(description="now, in the target's unit (yuan, a percentage or a count)")
    goal: str | None = Field(description="what the value must reach (a minimum) or stay at or below (a cap)")
    progress_pct: str | None = Field(description="share of a minimum target achieved since the start")
    pace: str | None = Field(description="progress ÷ share of the period elapsed (1.00 on plan)")
    elapsed_pct: str
    numerator_now: str | None
    numerator_base: str | None
    denominator_now: str | None
    denominator_base: str | None
    reference_pct: str | None = Field(description="min_growth_vs: the denominator's growth")
    share_with_reserved_pct: str | None = Field(description="a cap: the share with approvals not yet paid out")
    headroom: str | None = Field(description="a cap: yuan of lending the cap still allows")


class TemplateRead(Schema):
    code: str
    name_en: str
    name_zh: str
    regulation: str
    params: dict[str, str] = Field(description="parameter → its default")


class TemplateApply(Schema):
    params: dict[str, Any] = {}


@router.get("/targets/templates", response=list[TemplateRead], summary="The shipped targets templates")
def target_templates(request: HttpRequest) -> list[TemplateRead]:
    _actor(request)
    return [TemplateRead(code=i.code, name_en=i.name_en, name_zh=i.name_zh, regulation=i.regulation,
                         params=i.params) for i in services.target_templates()]


@router.get("/{plan_id}/targets", response=list[TargetStatusRead],
            summary="A plan's targets and ratio limits with their value, goal, status and pace")
def targets(request: HttpRequest, plan_id: int, today: dt.date | None = None) -> list[TargetStatusRead]:
    return [TargetStatusRead(target=_target(s.target), **services.status_texts(s))
            for s in services.evaluate_targets(_actor(request), plan_id, today)]


@router.post("/{plan_id}/targets", response={201: TargetRead}, summary="Add a minimum target or a ratio limit")
def add_target(request: HttpRequest, plan_id: int, payload: TargetWrite) -> Status:
    return Status(201, _target(services.add_target(_actor(request), plan_id, **payload.model_dump())))


@router.post("/{plan_id}/targets/templates/{template}", response={201: list[TargetRead]},
             summary="Apply a shipped template (inclusive_sme, real_estate, green, manufacturing_mlt)")
def apply_target_template(request: HttpRequest, plan_id: int, template: str, payload: TemplateApply) -> Status:
    made = services.apply_template(_actor(request), plan_id, template, payload.params)
    return Status(201, [_target(v) for v in made])


@router.patch("/targets/{target_id}", response=TargetRead, summary="Change a target (its code stays)")
def update_target(request: HttpRequest, target_id: int, payload: TargetChange) -> TargetRead:
    return _target(services.update_target(_actor(request), target_id, **payload.model_dump(exclude_unset=True)))


@router.delete("/targets/{target_id}", response={204: None}, summary="Remove a target")
def remove_target(request: HttpRequest, target_id: int) -> Status:
    services.remove_target(_actor(request), target_id)
    return Status(204, None)
