"""The risk monitoring API: indicators (list, read, define, change), their values, the alerts routed to the caller
(acknowledge, comment, resolve) and the runs. Every refusal is problem+json with the stable code and the field the
service named (a formula naming an unknown field, amber beyond red, a dimension the data does not have)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from creditplan.core.access import Actor
from creditplan.risk import services as risk
from creditplan.risk.services import analytics
from creditplan.risk.services.alerts import AlertView
from creditplan.risk.services.indicators import IndicatorView

router = Router(tags=["risk monitoring"])

Threshold = str | int | float


def _actor(request: HttpRequest) -> Actor:
    actor: Actor = request.auth  # the API root authenticates every request (token or session)
    return actor


class RuleIO(Schema):
    kind: str = Field(description="red, amber or worsening")
    periods: int = Field(3, description="for worsening: how many periods in a row (2–24)")


class IndicatorRead(Schema):
    code: str
    name_en: str
    name_zh: str
    explain_en: str
    explain_zh: str
    fact: str = Field(description="loans, applications or quotas")
    formula: str
    unit: str = Field(description="ratio or number")
    dimensions: list[str]
    amber: str = Field(description="decimal text; a ratio is a share (0.02 = 2 %)")
    red: str
    worse: str = Field(description="up or down: the direction in which the indicator worsens")
    mode: str = Field(description="level, or change from the previous period")
    owner_role: str
    frequency: str
    standard: bool
    active: bool
    rules: list[RuleIO]


def _indicator(i: IndicatorView) -> IndicatorRead:
    return IndicatorRead(code=i.code, name_en=i.name_en, name_zh=i.name_zh, explain_en=i.explain_en,
                         explain_zh=i.explain_zh, fact=i.fact, formula=i.formula, unit=i.unit, dimensions=i.dimensions,
                         amber=format(i.amber, "f"), red=format(i.red, "f"), worse=i.worse, mode=i.mode,
                         owner_role=i.owner_role, frequency=i.frequency, standard=i.standard, active=i.active,
                         rules=[RuleIO(kind=k, periods=p) for k, p in i.rules])


class IndicatorCreate(Schema):
    code: str
    name_en: str
    name_zh: str
    explain_en: str = ""
    explain_zh: str = ""
    fact: str
    formula: str
    unit: str = "ratio"
    dimensions: list[str] = ["total"]
    amber: Threshold
    red: Threshold
    worse: str = "up"
    mode: str = "level"
    owner_role: str = "risk_manager"
    frequency: str = "daily"
    rules: list[RuleIO] | None = None


class IndicatorPatch(Schema):
    name_en: str | None = None
    name_zh: str | None = None
    explain_en: str | None = None
    explain_zh: str | None = None
    fact: str | None = None
    formula: str | None = None
    unit: str | None = None
    dimensions: list[str] | None = None
    amber: Threshold | None = None
    red: Threshold | None = None
    worse: str | None = None
    mode: str | None = None
    owner_role: str | None = None
    frequency: str | None = None
    rules: list[RuleIO] | None = None
    active: bool | None = None


def _data(payload: Schema, *, unset: bool) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=unset, exclude_none=unset)
    if data.get("rules") is None:
        data.pop("rules", None)
    return data


@router.get("/indicators", response=list[IndicatorRead], summary="The key risk indicators and their definitions")
def list_indicators(request: HttpRequest) -> list[IndicatorRead]:
    return [_indicator(i) for i in risk.list_indicators(_actor(request))]


@router.get("/indicators/{code}", response=IndicatorRead, summary="One indicator's definition")
def get_indicator(request: HttpRequest, code: str) -> IndicatorRead:
    return _indicator(risk.get_indicator(_actor(request), code))


@router.post("/indicators", response={201: IndicatorRead},
             summary="Define an indicator (risk managers); every problem is named by its field")
def define_indicator(request: HttpRequest, payload: IndicatorCreate) -> Status:
    return Status(201, _indicator(risk.define_indicator(_actor(request), _data(payload, unset=False))))


@router.patch("/indicators/{code}", response=IndicatorRead,
              summary="Change an indicator (risk managers): thresholds, formula, dimensions, rules, active")
def update_indicator(request: HttpRequest, code: str, payload: IndicatorPatch) -> IndicatorRead:
    return _indicator(risk.update_indicator(_actor(request), code, _data(payload, unset=True)))


class ValueRead(Schema):
    as_of: dt.date
    indicator: str
    dimension: str
    member: str
    value: float | None
    previous: float | None
    numerator: float | None
    denominator: float | None
    rag: str = Field(description="green, amber, red or none (no value)")


class ValueQuery(Schema):
    date: dt.date | None = Field(None, description="default: the latest date computed")
    indicator: str | None = None
    dimension: str | None = None


@router.get("/values", response=list[ValueRead],
            summary="Indicator values of a date (in the caller's branch scope), by indicator and dimension")
def list_values(request: HttpRequest, params: Query[ValueQuery]) -> list[ValueRead]:
    actor = _actor(request)
    day = params.date or analytics.pick_date(actor, "")
    if day is None:
        return []
    return [ValueRead(as_of=v.as_of, indicator=v.indicator, dimension=v.dimension, member=v.member, value=v.value,
                      previous=v.previous, numerator=v.numerator, denominator=v.denominator, rag=v.rag)
            for v in analytics.values(actor, day, indicator=params.indicator, dimension=params.dimension)]


class CommentRead(Schema):
    author: str
    text: str
    at: dt.datetime


class AlertRead(Schema):
    id: int
    indicator: str
    rule: str
    dimension: str
    member: str
    branch: str
    owner_role: str
    status: str = Field(description="open, acknowledged or resolved")
    raised_on: dt.date
    value: float | None
    rag: str
    acknowledged_by: str
    acknowledged_at: dt.datetime | None
    resolved_by: str
    resolved_at: dt.datetime | None
    resolution: str
    resolution_note: str
    comments: list[CommentRead]


def _alert(a: AlertView) -> AlertRead:
    return AlertRead(id=a.id, indicator=a.indicator, rule=a.rule_kind, dimension=a.dimension, member=a.member,
                     branch=a.branch, owner_role=a.owner_role, status=a.status, raised_on=a.raised_on, value=a.value,
                     rag=a.rag, acknowledged_by=a.acknowledged_by, acknowledged_at=a.acknowledged_at,
                     resolved_by=a.resolved_by, resolved_at=a.resolved_at, resolution=a.resolution,
                     resolution_note=a.resolution_note,
                     comments=[CommentRead(author=c.author, text=c.text, at=c.at) for c in a.comments])


class AlertQuery(Schema):
    status: str = Field("open", description="open (open and acknowledged), acknowledged, resolved or all")
    limit: int = Field(200, ge=1, le=1000)


@router.get("/alerts", response=list[AlertRead], summary="The alerts routed to the caller")
def list_alerts(request: HttpRequest, params: Query[AlertQuery]) -> list[AlertRead]:
    return [_alert(a) for a in risk.list_alerts(_actor(request), status=params.status, limit=params.limit)]


@router.get("/alerts/{alert_id}", response=AlertRead, summary="One alert with its comments")
def get_alert(request: HttpRequest, alert_id: int) -> AlertRead:
    return _alert(risk.get_alert(_actor(request), alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response=AlertRead, summary="Acknowledge an open alert")
def acknowledge(request: HttpRequest, alert_id: int) -> AlertRead:
    return _alert(risk.acknowledge(_actor(request), alert_id))


class CommentIn(Schema):
    text: str


@router.post("/alerts/{alert_id}/comment", response=AlertRead, summary="Comment on an alert")
def comment(request: HttpRequest, alert_id: int, payload: CommentIn) -> AlertRead:
    return _alert(risk.comment(_actor(request), alert_id, payload.text))


class ResolveIn(Schema):
    reason: str = Field(description="action_taken, within_appetite, data_error, threshold_reviewed or other")
    note: str = ""


@router.post("/alerts/{alert_id}/resolve", response=AlertRead,
             summary="Resolve an alert with a reason (other needs a note)")
def resolve(request: HttpRequest, alert_id: int, payload: ResolveIn) -> AlertRead:
    return _alert(risk.resolve(_actor(request), alert_id, reason=payload.reason, note=payload.note))


class RunRead(Schema):
    as_of: dt.date
    engine: str
    recompute: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    loans: int
    values: int
    alerts: int
    seconds: float


class RunQuery(Schema):
    limit: int = Field(50, ge=1, le=500)


@router.get("/runs", response=list[RunRead], summary="The indicator runs, newest first")
def list_runs(request: HttpRequest, params: Query[RunQuery]) -> list[RunRead]:
    return [RunRead(**asdict(r)) for r in analytics.list_runs(_actor(request), limit=params.limit)]

