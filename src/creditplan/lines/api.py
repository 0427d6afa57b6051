"""/api/v1/lines — customers' credit lines: read them, propose a line or a change (maker), approve or reject it
(checker, within the line authority), freeze or reduce a line at once for risk reasons, and a customer's own
line. Amounts are decimal text in yuan, as everywhere in the API."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.access import Actor
from creditplan.core.money import format_minor
from creditplan.lines import services
from creditplan.lines.domain import reason_languages
from creditplan.lines.services import ChangeView, LineView, OccupationView

router = Router(tags=["credit lines"])

Amount = str | int


def _yuan(minor: int | None) -> str | None:
    return None if minor is None else format_minor(minor, grouping=False)


def _actor(request: HttpRequest) -> Actor:
    actor: Actor = request.auth  # the API root authenticates every request (token or session)
    return actor


class SubLimitRead(Schema):
    product: str
    amount: str
    reserved: str
    used: str
    available: str


class ChangeRead(Schema):
    id: int
    line_id: int
    customer_id: int | None
    kind: str
    amount: str | None
    expires_on: dt.date | None
    sub_limits: dict[str, str] | None
    revolving: bool | None
    reason: str = Field(description="why, in English (the bank's rules write both languages; a person's words as written)")
    reason_zh: str = Field(description="why, in Chinese")
    status: str
    immediate: bool
    proposed_by: str
    decided_by: str
    decided_at: dt.datetime | None
    note: str


def _change(c: ChangeView) -> ChangeRead:
    return ChangeRead(id=c.id, line_id=c.line_id, customer_id=c.customer_id, kind=c.kind, amount=_yuan(c.amount_minor),
                      expires_on=c.expires_on,
                      sub_limits=None if c.sub_limits is None else {p: str(_yuan(v)) for p, v in c.sub_limits.items()},
                      revolving=c.revolving, reason=reason_languages(c.reason)[0],
                      reason_zh=reason_languages(c.reason)[1], status=c.status, immediate=c.immediate,
                      proposed_by=c.proposed_by, decided_by=c.decided_by, decided_at=c.decided_at, note=c.note)


class LineRead(Schema):
    id: int
    customer_id: int | None
    branch: str
    currency: str
    amount: str
    reserved: str
    used: str
    available: str = Field(description="what new applications may take now (0 unless the line is active)")
    over: str = Field(description="how far a reversed repayment took the line over its amount")
    revolving: bool
    status: str = Field(description="proposed, active, frozen, closed or rejected")
    state: str = Field(description="the status, \"expired\" for an active line past its expiry")
    expires_on: dt.date
    sub_limits: list[SubLimitRead]
    freeze_reason: str
    freeze_reason_zh: str
    pending_change: ChangeRead | None


def _line(v: LineView) -> LineRead:
    return LineRead(
        id=v.id, customer_id=v.customer_id, branch=v.branch_code, currency=v.currency, amount=str(_yuan(v.amount_minor)),
        reserved=str(_yuan(v.reserved_minor)), used=str(_yuan(v.used_minor)), available=str(_yuan(v.available_minor)),
        over=str(_yuan(v.over_minor)), revolving=v.revolving, status=v.status, state=v.state, expires_on=v.expires_on,
        sub_limits=[SubLimitRead(product=s.product, amount=str(_yuan(s.amount_minor)), reserved=str(_yuan(
            s.reserved_minor)), used=str(_yuan(s.used_minor)), available=str(_yuan(s.available_minor)))
            for s in v.sub_limits],
        freeze_reason=reason_languages(v.freeze_reason)[0], freeze_reason_zh=reason_languages(v.freeze_reason)[1],
        pending_change=_change(v.pending) if v.pending else None)


class OccupationRead(Schema):
    application_ref: str
    product: str
    status: str
    reserved: str
    disbursed: str
    outstanding: str
    restored: str


def _occupation(o: OccupationView) -> OccupationRead:
    return OccupationRead(application_ref=o.application_ref, product=o.product, status=o.status,
                          reserved=str(_yuan(o.reserved_minor)), disbursed=str(_yuan(o.disbursed_minor)),
                          outstanding=str(_yuan(o.outstanding_minor)), restored=str(_yuan(o.restored_minor)))


class LineProposal(Schema):
    customer_id: int | str
    amount: Amount = Field(description="yuan, decimal text")
    expires_on: str | dt.date = Field(description="YYYY-MM-DD, after today")
    revolving: bool = True
    sub_limits: dict[str, Amount] | None = Field(None, description="product code → yuan, each within the line")
    reason: str = ""


class ChangeProposal(Schema):
    kind: str = Field(description="increase, reduce, freeze, unfreeze, close, extend or sub_limits")
    amount: Amount | None = None
    expires_on: str | dt.date | None = None
    sub_limits: dict[str, Amount] | None = None
    reason: str = ""


class Decision(Schema):
    note: str = ""


class FreezeRequest(Schema):
    reason: str = ""


class ReduceRequest(Schema):
    amount: Amount
    reason: str = ""


@router.get("", response=list[LineRead], summary="Credit lines in your branch scope")
def list_lines(request: HttpRequest, status: str = "", customer: str = "") -> list[LineRead]:
    return [_line(v) for v in services.list_lines(_actor(request), status=status, customer=customer)]


@router.post("", response={201: ChangeRead},
             summary="Propose a customer's credit line (maker; in force once another user approves it)")
def propose_line(request: HttpRequest, payload: LineProposal) -> Status:
    return Status(201, _change(services.propose_line(_actor(request), **payload.model_dump())))


@router.get("/mine", response={200: LineRead, 204: None}, summary="The logged-in customer's own credit line")
def my_line(request: HttpRequest) -> Status:
    v = services.my_line(_actor(request))
    return Status(204, None) if v is None else Status(200, _line(v))


@router.get("/changes", response=list[ChangeRead], summary="Changes (by default those waiting for approval)")
def list_changes(request: HttpRequest, status: str = "pending") -> list[ChangeRead]:
    return [_change(c) for c in services.list_changes(_actor(request), status=status)]


@router.post("/changes/{change_id}/approve", response=ChangeRead,
             summary="Approve a proposed change (checker: not its proposer; within the line authority)")
def approve_change(request: HttpRequest, change_id: int, payload: Decision) -> ChangeRead:
    return _change(services.decide_change(_actor(request), change_id, approve=True, note=payload.note))


@router.post("/changes/{change_id}/reject", response=ChangeRead, summary="Reject a proposed change")
def reject_change(request: HttpRequest, change_id: int, payload: Decision) -> ChangeRead:
    return _change(services.decide_change(_actor(request), change_id, approve=False, note=payload.note))


@router.post("/customers/{customer_id}/freeze", response=LineRead,
             summary="Freeze a customer's line at once, for risk reasons (risk managers)")
def freeze(request: HttpRequest, customer_id: int, payload: FreezeRequest) -> LineRead:
    return _line(services.freeze_line(_actor(request), customer_id, payload.reason))


@router.post("/customers/{customer_id}/reduce", response=LineRead,
             summary="Reduce a customer's line at once, for risk reasons (risk managers)")
def reduce(request: HttpRequest, customer_id: int, payload: ReduceRequest) -> LineRead:
    return _line(services.reduce_line(_actor(request), customer_id, payload.amount, payload.reason))


@router.get("/{line_id}", response=LineRead, summary="One credit line")
def get_line(request: HttpRequest, line_id: int) -> LineRead:
    return _line(services.get_line(_actor(request), line_id))


@router.get("/{line_id}/changes", response=list[ChangeRead], summary="A line's changes, newest first")
def line_changes(request: HttpRequest, line_id: int) -> list[ChangeRead]:
    return [_change(c) for c in services.get_line(_actor(request), line_id).changes]


@router.get("/{line_id}/occupations", response=list[OccupationRead],
            summary="What occupies a line: approvals reserved, loans paid out")
def occupations(request: HttpRequest, line_id: int) -> list[OccupationRead]:
    return [_occupation(o) for o in services.line_occupations(_actor(request), line_id)]


@router.post("/{line_id}/changes", response={201: ChangeRead},
             summary="Propose a change of a line (maker): increase, reduce, freeze, unfreeze, close, extend, sub_limits")
def propose_change(request: HttpRequest, line_id: int, payload: ChangeProposal) -> Status:
    return Status(201, _change(services.propose_change(_actor(request), line_id, **payload.model_dump())))
