"""The early-warning API, mounted at /api/v1/early-warning (src/creditplan/api.py; docs/early-warning.md):

    POST /external-records          negative external records (court judgments, blacklists…): all or nothing
    POST /inflows                   monthly inflows on linked accounts
    GET  /customers/{id}            a customer's latest warning level and signals, explained in both languages
    GET  /watch?status=open&since=  the watch list (review tasks read it: entries, their level and reason)

A refused import is problem+json 422 naming each field (`rows[3].record_date` in a batch) with a stable code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from creditplan.core.access import Actor
from creditplan.risk.services import signals

router = Router(tags=["early warning"])


def _actor(request: HttpRequest) -> Actor:
    actor: Actor = request.auth  # the API root authenticates every request (token or session)
    return actor


class ExternalRecordsIn(Schema):
    records: list[dict[str, Any]] = Field(description=(
        "each: customer_id, kind (court_judgment, enforcement, dishonest_debtor, blacklist, administrative_penalty, "
        "other), source, reference (the source's own id: the same source and reference is stored once), record_date "
        "(YYYY-MM-DD), amount (yuan, optional), note (optional)"))


class InflowsIn(Schema):
    rows: list[dict[str, Any]] = Field(description="each: customer_id, account, month (YYYY-MM), amount (yuan), "
                                                   "source (optional)")


class ImportRead(Schema):
    received: int
    created: int
    unchanged: int
    updated: int


class SignalRead(Schema):
    code: str
    weight: int
    label_en: str
    label_zh: str
    explain_en: str
    explain_zh: str
    figures: dict[str, Any]


class WarningRead(Schema):
    customer_id: int
    as_of: dt.date
    level: str = Field(description="green, yellow, orange or red")
    score: int
    rule: str = Field(description="the reason code of the level table's row that gave the level")
    table_version: int
    signals: list[SignalRead]
    on_watch_list: bool


class WatchRead(Schema):
    id: int
    customer_id: int
    customer_name: str
    branch: str
    status: str = Field(description="open or closed")
    entered_on: dt.date
    entry_level: str
    level: str
    peak_level: str
    score: int
    rule: str
    message_en: str
    message_zh: str
    signals: list[SignalRead]
    below_since: dt.date | None
    left_on: dt.date | None


def _signal(s: signals.SignalView) -> SignalRead:
    return SignalRead(code=s.code, weight=s.weight, label_en=s.label_en, label_zh=s.label_zh, explain_en=s.explain_en,
                      explain_zh=s.explain_zh, figures=s.figures)


def _import(r: signals.ImportResult) -> ImportRead:
    return ImportRead(received=r.received, created=r.created, unchanged=r.unchanged, updated=r.updated)


@router.post("/external-records", response={201: ImportRead}, summary="Import negative external records")
def import_external_records(request: HttpRequest, payload: ExternalRecordsIn) -> Status:
    return Status(201, _import(signals.import_external_records(_actor(request), payload.records)))


@router.post("/inflows", response={201: ImportRead}, summary="Import monthly inflows on linked accounts")
def import_inflows(request: HttpRequest, payload: InflowsIn) -> Status:
    return Status(201, _import(signals.import_inflows(_actor(request), payload.rows)))


@router.get("/customers/{customer_id}", response={200: WarningRead, 204: None},
            summary="A customer's latest warning level and signals (204 before any run)")
def customer_warning(request: HttpRequest, customer_id: int) -> Any:
    w = signals.customer_warning(_actor(request), customer_id)
    if w is None:
        return Status(204, None)
    return WarningRead(customer_id=w.customer_id, as_of=w.as_of, level=w.level, score=w.score, rule=w.rule,
                       table_version=w.policy_number, signals=[_signal(s) for s in w.signals],
                       on_watch_list=bool(w.watch and w.watch.status == "open"))


class WatchQuery(Schema):
    status: str = Field("open", description="open, closed or all")
    level: str = Field("", description="green, yellow, orange or red (the current level); empty: any")
    limit: int = Field(500, ge=1, le=5000)


@router.get("/watch", response=list[WatchRead], summary="The watch list in the caller's branch scope")
def watch_list(request: HttpRequest, query: Query[WatchQuery]) -> list[WatchRead]:
    return [WatchRead(id=e.id, customer_id=e.customer_id, customer_name=e.customer_name, branch=e.branch,
                      status=e.status, entered_on=e.entered_on, entry_level=e.entry_level, level=e.level,
                      peak_level=e.peak_level, score=e.score, rule=e.rule, message_en=e.message_en,
                      message_zh=e.message_zh, signals=[_signal(s) for s in e.reason_signals],
                      below_since=e.below_since, left_on=e.left_on)
            for e in signals.watch_list(_actor(request), status=query.status, level=query.level, limit=query.limit)]
