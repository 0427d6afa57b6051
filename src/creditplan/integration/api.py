"""Integration over the JSON API: manage webhooks and read their delivery log (administrators), and the inbound
customer sync for another system (a CRM) that keeps customers in step with its own records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.errors import ValidationError
from creditplan.integration import services
from creditplan.integration.services import DeliveryView, EndpointView

router = Router(tags=["integration"])


class WebhookCreate(Schema):
    name: str = Field(max_length=100)
    url: str = Field(description="the receiver's http(s) URL")
    events: list[str] = Field(description="patterns: application.*, loan.*, risk.* (risk alerts raised, "
                                          "acknowledged, resolved), or event names such as application.approved")


class WebhookRead(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    secret_hint: str = Field(description="the secret's last characters (the secret itself is shown only once)")
    created_at: dt.datetime
    created_by: str
    deactivated_at: dt.datetime | None
    delivered: int
    waiting: int
    dead: int


class WebhookCreated(WebhookRead):
    secret: str = Field(description="the signing secret: store it now, it is never shown again")


class DeliveryRead(Schema):
    id: int
    webhook_id: int
    webhook: str
    event_seq: int
    kind: str
    subject_id: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class AttemptRead(Schema):
    number: int
    at: dt.datetime
    request_headers: dict[str, str]
    status_code: int | None
    error: str
    response_excerpt: str
    duration_ms: int
    manual: bool


class DeliveryDetailRead(DeliveryRead):
    url: str
    payload: dict[str, Any]
    attempt_log: list[AttemptRead]


class DeliveryFilters(Schema):
    status: Literal["pending", "failed", "delivered", "dead"] | None = None
    webhook: int | None = None
    limit: int = Field(100, ge=1, le=500)


def _webhook(v: EndpointView) -> dict[str, Any]:
    return dict(id=v.id, name=v.name, url=v.url, events=v.events, active=v.active, secret_hint=v.secret_hint,
                created_at=v.created_at, created_by=v.created_by, deactivated_at=v.deactivated_at,
                delivered=v.delivered, waiting=v.waiting, dead=v.dead)


def _delivery(v: DeliveryView) -> dict[str, Any]:
    return dict(id=v.id, webhook_id=v.endpoint_id, webhook=v.endpoint_name, event_seq=v.seq, kind=v.kind,
                subject_id=v.subject_id, status=v.status, attempts=v.attempts, next_attempt_at=v.next_attempt_at,
                last_attempt_at=v.last_attempt_at, last_status_code=v.last_status_code, last_error=v.last_error,
                delivered_at=v.delivered_at, created_at=v.created_at)


@router.get("/webhooks", response=list[WebhookRead], summary="Webhook receivers and their delivery counts")
def list_webhooks(request: HttpRequest) -> list[WebhookRead]:
    return [WebhookRead(**_webhook(v)) for v in services.list_endpoints(request.auth)]


@router.post("/webhooks", response={201: WebhookCreated},
             summary="Register a receiver (the signing secret is in this answer only)")
def create_webhook(request: HttpRequest, payload: WebhookCreate) -> Status:
    created = services.create_endpoint(request.auth, name=payload.name, url=payload.url,
                                       events=payload.events)
    return Status(201, WebhookCreated(**_webhook(created.endpoint), secret=created.secret))


@router.post("/webhooks/{webhook_id}/deactivate", response=WebhookRead, summary="Stop sending to a receiver")
def deactivate_webhook(request: HttpRequest, webhook_id: int) -> WebhookRead:
    return WebhookRead(**_webhook(services.deactivate_endpoint(request.auth, webhook_id)))


@router.get("/deliveries", response=list[DeliveryRead], summary="The delivery log, newest first")
def list_deliveries(request: HttpRequest, filters: Query[DeliveryFilters]) -> list[DeliveryRead]:
    rows = services.list_deliveries(request.auth, status=filters.status, endpoint=filters.webhook,
                                    limit=filters.limit)
    return [DeliveryRead(**_delivery(v)) for v in rows]


@router.get("/deliveries/{delivery_id}", response=DeliveryDetailRead,
            summary="One delivery: what was sent, each attempt and what the receiver answered")
def get_delivery(request: HttpRequest, delivery_id: int) -> DeliveryDetailRead:
    d = services.get_delivery(request.auth, delivery_id)
    return DeliveryDetailRead(**_delivery(d.delivery), url=d.url, payload=json.loads(d.body),
                              attempt_log=[AttemptRead(**vars(a)) for a in d.attempts])


@router.post("/deliveries/{delivery_id}/redeliver", response=DeliveryRead,
             summary="Send a delivery again now (a fresh set of attempts)")
def redeliver(request: HttpRequest, delivery_id: int) -> DeliveryRead:
    return DeliveryRead(**_delivery(services.redeliver(request.auth, delivery_id)))


class SyncResultRead(Schema):
    index: int
    external_ref: str
    result: Literal["created", "updated", "unchanged", "error"]
    customer_id: int | None = None
    field: str | None = None
    code: str | None = None
    message: str | None = None
    problems: list[dict[str, str]] = []


class SyncAnswer(Schema):
    created: int
    updated: int
    unchanged: int
    errors: int
    results: list[SyncResultRead]


@router.post("/customers/sync", response=SyncAnswer,
             summary="Create or update customers from another system, keyed by its reference",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {
                 "type": "object", "required": ["customers"], "properties": {
                     "source": {"type": "string", "description": "the sending system, e.g. crm (default: default)"},
                     "customers": {"type": "array", "maxItems": services.MAX_SYNC_RECORDS, "items": {
                         "type": "object", "required": ["external_ref"],
                         "properties": {"external_ref": {"type": "string"}}}}}}}}}})
def sync_customers(request: HttpRequest) -> SyncAnswer:
    """The body is read raw so that its signature (X-Creditplan-Signature, required: unsigned requests pass only in
    development without an inbound secret) is checked on the exact bytes sent, and so that one malformed record is
    reported on its own rather than refusing the whole batch. The identity of an existing customer (kind, ID number,
    birth date, credit code) is never changed by a sync: such a record is an error naming the field."""
    body = request.body
    services.check_inbound_signature(body, request.headers.get("X-Creditplan-Timestamp"),
                                     request.headers.get("X-Creditplan-Signature"))
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the body is not JSON", field="body", code="bad_json")
    if not isinstance(data, dict) or not isinstance(data.get("customers"), list):
        raise ValidationError('send {"customers": [{"external_ref": …, …}, …]}', field="customers",
                              code="required")
    results = services.sync_customers(request.auth, data["customers"], source=str(data.get("source") or "default"))
    counts = {k: sum(1 for r in results if r.result == k) for k in ("created", "updated", "unchanged", "error")}
    return SyncAnswer(created=counts["created"], updated=counts["updated"], unchanged=counts["unchanged"],
                      errors=counts["error"], results=[SyncResultRead(**vars(r)) for r in results])
