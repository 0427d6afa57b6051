"""Integration use cases: outbound webhooks (the ledger is the outbox), customer notifications, inbound customer
sync.

How events leave the system
---------------------------
Every application and loan change already appends a ledger event inside its own transaction, numbered gaplessly in
commit order (see ledger/append.py). `dispatch` reads the events after `DispatchCursor.last_seq`, creates one
`WebhookDelivery` per subscribed endpoint and one `Notification` per customer channel, and moves the cursor — all
in one transaction, with unique keys (endpoint, seq) and (customer, seq, channel): run it twice, or in two
processes at once, and nothing is duplicated. No domain had to change to publish its events.

`deliver_due` then POSTs each due delivery (outside any transaction: a slow receiver holds no lock), signed with
HMAC-SHA256 (domain.sign), and records the attempt; failures are retried on domain.RETRY_DELAYS, then the delivery
is dead until someone redelivers it. `send_due` hands due notifications to the configured sender.
A delivery is claimed before it is sent (its next_attempt_at pushed forward by a lease), so two runners never post
the same attempt; a runner that dies mid-request leaves it to be retried when the lease ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from creditplan.core.access import Actor, sees_all_branches
from creditplan.core.errors import CreditplanError, Forbidden, NotFound, ValidationError
from creditplan.customers import services as customers
from creditplan.customers.models import Customer
from creditplan.integration import domain, egress, senders
from creditplan.integration.models import (
    DeliveryAttempt,
    DeliveryStatus,
    DispatchCursor,
    ExternalCustomerRef,
    Notification,
    NotificationStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role

DEFAULT_SENDER = "creditplan.integration.senders.console"
CLAIM_LEASE = dt.timedelta(minutes=5)
RESPONSE_EXCERPT = egress.RESPONSE_EXCERPT  # characters of a receiver's answer kept and shown (200)
NOTIFICATION_MAX_ATTEMPTS = domain.MAX_ATTEMPTS


def _setting(name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(name) or default
    return value


def webhook_timeout() -> float:
    """Seconds a receiver has to connect and to answer each read (CREDITPLAN_WEBHOOK_TIMEOUT, default 5)."""
    return float(_setting("CREDITPLAN_WEBHOOK_TIMEOUT", 5))


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


# =============================================================================================================
# Endpoints
# =============================================================================================================


@dataclass(frozen=True)
class EndpointView:
    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    secret_hint: str
    created_at: dt.datetime
    created_by: str
    deactivated_at: dt.datetime | None
    delivered: int = 0
    waiting: int = 0
    dead: int = 0


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: EndpointView
    secret: str  # shown once


def _endpoint_view(e: WebhookEndpoint, counts: dict[str, int] | None = None) -> EndpointView:
    c = counts or {}
    return EndpointView(e.pk, e.name, e.url, list(e.events), e.active, e.secret_hint, e.created_at,
                        getattr(e.created_by, "username", "") or "", e.deactivated_at,
                        c.get(DeliveryStatus.DELIVERED, 0),
                        c.get(DeliveryStatus.PENDING, 0) + c.get(DeliveryStatus.FAILED, 0), c.get(DeliveryStatus.DEAD, 0))


def webhook_allowed_networks() -> tuple[domain.Network, ...]:
    """The bank's own networks a webhook may post to although they are internal (an in-house CRM): the Django
    setting WEBHOOK_ALLOWED_NETWORKS (a list or a comma-separated text), else the environment variable
    CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS, e.g. ``10.20.0.0/16,127.0.0.1/32``. Empty by default: public addresses
    only."""
    raw = getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", None)
    if raw is None:
        raw = os.environ.get("CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS", "")
    try:
        return domain.parse_networks(raw)
    except ValueError as exc:
        raise ValidationError(f"{exc} (CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS)", field="url",
                              code="webhook_allowlist_invalid") from None


def _https_only() -> bool:
    """Webhooks carry customers' events: https everywhere but on a development machine (settings.DEVELOPMENT)."""
    return not getattr(settings, "DEVELOPMENT", False)


def webhook_target(url: Any) -> domain.Target:
    """The receiver's URL checked for form and address, as at creation (ValidationError on field `url`): http(s)
    with a host (https outside development), and a host that is — or resolves to — only public addresses or
    addresses of the allowlist. A name that does not resolve yet is accepted here: every send resolves again and
    checks again (egress.post)."""
    target = domain.parse_target(url, https_only=_https_only())
    allowed = webhook_allowed_networks()
    try:
        addresses = egress.resolve(target.host, target.port)
    except (OSError, UnicodeError):
        return target
    problem = egress.refusal(target, addresses, allowed)
    if problem is not None:
        raise ValidationError(problem.message.removeprefix("refused: "), field="url", code=problem.code)
    return target


def _clean_url(url: Any) -> str:
    webhook_target(url)
    return str(url).strip()


def create_endpoint(actor: Actor, *, name: Any, url: Any, events: Any) -> CreatedEndpoint:
    """Register a receiver. It gets the events appended from now on (no history), signed with a new secret
    that is returned here and never shown again (it is stored encrypted)."""
    import secrets

    org.require(actor, Perm.INTEGRATION_MANAGE)
    clean_name = str(name or "").strip()
    if not clean_name:
        raise ValidationError("give the receiver a name", field="name", code="required")
    if len(clean_name) > 100:
        raise ValidationError("the name is at most 100 characters", field="name", code="too_long")
    clean_url = _clean_url(url)
    patterns = domain.clean_patterns(events if events is not None else "")
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        head = ledger.last_seq()
        e = WebhookEndpoint.objects.create(name=clean_name, url=clean_url, secret_enc=customers.cipher().encrypt(secret),
                                           secret_hint=secret[-4:], events=patterns, start_seq=head, created_by=actor)
        ledger.append(actor, "integration.webhook_created", "webhook", e.pk,
                      {"name": clean_name, "url": clean_url, "events": patterns, "from_event": head})
    return CreatedEndpoint(_endpoint_view(e), secret)


def list_endpoints(actor: Actor) -> list[EndpointView]:
    org.require(actor, Perm.INTEGRATION_MANAGE)
    counts: dict[int, dict[str, int]] = {}
    for row in WebhookDelivery.objects.values("endpoint_id", "status").annotate(n=Count("id")):
        counts.setdefault(row["endpoint_id"], {})[row["status"]] = row["n"]
    return [_endpoint_view(e, counts.get(e.pk)) for e in WebhookEndpoint.objects.select_related("created_by")]


def deactivate_endpoint(actor: Actor, endpoint_id: int) -> EndpointView:
    """Stop sending to a receiver: no new deliveries, and waiting ones are not sent (the log is kept)."""
    org.require(actor, Perm.INTEGRATION_MANAGE)
    with transaction.atomic():
        try:
            e = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        except WebhookEndpoint.DoesNotExist:
            raise NotFound(f"webhook {endpoint_id} not found", code="webhook_not_found")
        if e.active:
            e.active = False
            e.deactivated_at = timezone.now()
            e.save(update_fields=["active", "deactivated_at"])
            ledger.append(actor, "integration.webhook_deactivated", "webhook", e.pk, {"name": e.name})
    return _endpoint_view(e)


# =============================================================================================================
# The delivery log
# =============================================================================================================


@dataclass(frozen=True)
class DeliveryView:
    id: int
    endpoint_id: int
    endpoint_name: str
    seq: int
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


@dataclass(frozen=True)
class AttemptView:
    number: int
    at: dt.datetime
    request_headers: dict[str, str]
    status_code: int | None
    error: str
    response_excerpt: str
    duration_ms: int
    manual: bool


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: DeliveryView
    url: str
    body: str  # the JSON posted (pretty-printed for reading)
    attempts: list[AttemptView]


def _delivery_view(d: WebhookDelivery) -> DeliveryView:
    return DeliveryView(d.pk, d.endpoint_id, d.endpoint.name, int(d.seq), d.kind, d.subject_id, d.status, d.attempts,
                        d.next_attempt_at if d.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED) else None,
                        d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at)


def list_deliveries(actor: Actor, *, status: str | None = None, endpoint: int | str | None = None,
                    limit: int = 100) -> list[DeliveryView]:
    qs = _deliveries(actor, status=status, endpoint=endpoint)
    return [_delivery_view(d) for d in qs.order_by("-id")[: max(1, min(int(limit), 500))]]


DELIVERY_SORTS = {"id": "id", "webhook": "endpoint__name", "kind": "kind", "status": "status",
                  "attempts": "attempts", "next": "next_attempt_at"}


def page_deliveries(actor: Actor, listing: Any, *, status: str | None = None, endpoint: int | str | None = None,
                    kind: str = "") -> Any:
    """The delivery log as one page (common.listing.Page of DeliveryView; an export holds every matching row up to
    the export bound): by status, webhook and event kind (a prefix), sorted by one of DELIVERY_SORTS."""
    from creditplan.common.listing import paginate

    qs = _deliveries(actor, status=status, endpoint=endpoint)
    if kind:
        qs = qs.filter(kind__startswith=kind.strip()[:60])
    page = paginate(qs.order_by(*listing.order_by(DELIVERY_SORTS, "id")), listing)
    return type(page)(items=[_delivery_view(d) for d in page.items], listing=page.listing, total=page.total)


def _deliveries(actor: Actor, *, status: str | None, endpoint: int | str | None) -> Any:
    org.require(actor, Perm.INTEGRATION_MANAGE)
    qs = WebhookDelivery.objects.select_related("endpoint")
    if status:
        if status not in DeliveryStatus.values:
            raise ValidationError(f"status is one of {', '.join(DeliveryStatus.values)}", field="status",
                                  code="bad_status")
        qs = qs.filter(status=status)
    if endpoint not in (None, ""):
        try:
            qs = qs.filter(endpoint_id=int(endpoint))
        except (TypeError, ValueError):
            raise ValidationError("endpoint is a webhook number", field="endpoint", code="bad_endpoint")
    return qs


def get_delivery(actor: Actor, delivery_id: int) -> DeliveryDetail:
    org.require(actor, Perm.INTEGRATION_MANAGE)
    try:
        d = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    except WebhookDelivery.DoesNotExist:
        raise NotFound(f"delivery {delivery_id} not found", code="delivery_not_found")
    attempts = [AttemptView(a.number, a.at, dict(a.request_headers), a.status_code, a.error,
                            a.response_excerpt[:RESPONSE_EXCERPT],  # older attempts kept up to 2,000
                            a.duration_ms, a.manual) for a in d.attempt_log.order_by("number")]
    return DeliveryDetail(_delivery_view(d), d.endpoint.url, json.dumps(d.payload, ensure_ascii=False, indent=2),
                          attempts)


def redeliver(actor: Actor, delivery_id: int, *, now: dt.datetime | None = None, send: bool = True) -> DeliveryView:
    """Send a delivery again (any status: a dead one after the receiver is fixed, a delivered one the receiver
    lost). It gets a fresh set of attempts; with `send` the first one is made at once."""
    org.require(actor, Perm.INTEGRATION_MANAGE)
    now = _now(now)
    with transaction.atomic():
        try:
            d = WebhookDelivery.objects.select_related("endpoint").select_for_update(of=("self",)).get(pk=delivery_id)
        except WebhookDelivery.DoesNotExist:
            raise NotFound(f"delivery {delivery_id} not found", code="delivery_not_found")
        if not d.endpoint.active:
            raise ValidationError("this webhook is deactivated: nothing is sent to it", field="endpoint",
                                  code="webhook_inactive")
        d.status, d.attempts, d.next_attempt_at = DeliveryStatus.PENDING, 0, now
        d.save(update_fields=["status", "attempts", "next_attempt_at"])
        ledger.append(actor, "integration.redelivery_requested", "webhook", d.endpoint_id,
                      {"delivery": d.pk, "event": d.seq})
    if send and _claim(d.pk, now, now):
        _attempt(d.pk, now, webhook_timeout(), manual=True)
    d.refresh_from_db()
    return _delivery_view(d)


# =============================================================================================================
# Dispatch: ledger events → deliveries and notifications
# =============================================================================================================


@dataclass
class DispatchReport:
    events: int = 0  # ledger events read (all kinds)
    deliveries: int = 0
    notifications: int = 0
    last_seq: int = 0


def _payload(seq: int, kind: str, stype: str, sid: str, entry: str, leaf: str) -> dict[str, Any]:
    body = json.loads(entry)
    return {"event": {"seq": seq, "kind": kind, "subject": {"type": stype, "id": sid}, "occurred_at": body.get("at"),
                      "actor": body.get("actor"), "data": body.get("data") or {}},
            "ledger": {"leaf_hash": leaf}}


def dispatch(*, limit: int = 20_000, batch: int = 1000, now: dt.datetime | None = None) -> DispatchReport:
    """Turn the ledger's new application and loan events into deliveries and notifications (idempotent)."""
    report = DispatchReport()
    DispatchCursor.objects.get_or_create(id=1)
    while report.events < limit:
        with transaction.atomic():
            cursor = DispatchCursor.objects.select_for_update().get(id=1)
            # Every event up to the highest visible number has committed (the ledger numbers in commit order).
            head = ledger.last_seq()
            report.last_seq = int(cursor.last_seq)
            if head <= cursor.last_seq:
                break
            upto = min(head, cursor.last_seq + batch, cursor.last_seq + limit - report.events)
            rows = ledger.events_between(int(cursor.last_seq), upto, domain.relevant_prefixes())
            when = _now(now)
            report.deliveries += _create_deliveries(rows, when)
            report.notifications += _create_notifications(rows, when)
            report.events += upto - int(cursor.last_seq)
            cursor.last_seq, cursor.updated_at = upto, when
            cursor.save(update_fields=["last_seq", "updated_at"])
            report.last_seq = upto
    return report


def _create_deliveries(rows: list[tuple[Any, ...]], when: dt.datetime) -> int:
    endpoints = list(WebhookEndpoint.objects.filter(active=True))
    if not endpoints or not rows:
        return 0
    out = []
    for seq, kind, stype, sid, entry, leaf in rows:
        payload = None
        for e in endpoints:
            if seq > e.start_seq and domain.matches(e.events, kind):
                payload = payload or _payload(seq, kind, stype, sid, entry, leaf)
                out.append(WebhookDelivery(endpoint=e, seq=seq, kind=kind, subject_id=sid[:40], payload=payload,
                                           next_attempt_at=when, created_at=when))
    WebhookDelivery.objects.bulk_create(out, ignore_conflicts=True, batch_size=500)
    return len(out)


def _customer_of(rows: list[tuple[Any, Any, Any, dict[str, Any]]]) -> dict[int, int]:
    """seq → customer id, for the events that concern one customer's application or loan."""
    from creditplan.origination import services as origination

    refs = {sid for _seq, kind, sid, _data in rows if kind.startswith("application.")}
    by_ref = origination.customers_of(refs) if refs else {}
    out: dict[int, int] = {}
    for seq, kind, sid, data in rows:
        cid = by_ref.get(sid) if kind.startswith("application.") else data.get("customer")
        if isinstance(cid, int):
            out[seq] = cid
    return out


def _staff_for(owner_role: str, branch_code: str) -> list[Any]:
    """The active users of the alert's owner role who see it: every one of them for an alert about no branch or
    for a head-office role; otherwise those whose branch scope holds the alert's branch (risk.services.alerts,
    visible_alerts, routes alerts the same way)."""
    from creditplan.org.models import Branch, User

    users = list(User.objects.filter(role=owner_role, is_active=True).exclude(email="").select_related("branch")
                 .order_by("id"))
    if not branch_code or sees_all_branches(owner_role):
        return users
    branch = Branch.objects.filter(code=branch_code).first()
    if branch is None:
        return []
    return [u for u in users if u.branch is not None and branch.path.startswith(u.branch.path)]


def _create_staff_notifications(rows: list[tuple[Any, ...]], when: dt.datetime) -> int:
    """An e-mail to each member of staff a risk alert is routed to, when it is raised (its indicator's owner role,
    within their branch scope)."""
    pii = customers.cipher()
    out = []
    for seq, kind, _stype, sid, entry, _leaf in rows:
        if kind != "risk.alert_raised":
            continue
        data = json.loads(entry).get("data") or {}
        w = domain.staff_notification_for(kind, sid, data)
        if w is None:
            continue
        for user in _staff_for(str(data.get("owner_role") or ""), str(data.get("branch") or "")):
            out.append(Notification(user=user, channel="email", to_enc=pii.encrypt(user.email),
                                    to_masked=domain.mask_email(user.email)[:120], subject_zh=w.subject_zh[:200],
                                    body_zh=w.body_zh, subject_en=w.subject_en[:200], body_en=w.body_en, seq=seq,
                                    kind=kind, subject_id=sid[:40], next_attempt_at=when, created_at=when))
    Notification.objects.bulk_create(out, ignore_conflicts=True, batch_size=500)
    return len(out)


def _create_notifications(rows: list[tuple[Any, ...]], when: dt.datetime) -> int:
    staff = _create_staff_notifications(rows, when)
    wanted: list[tuple[int, str, str, dict[str, Any], domain.Wording]] = []
    for seq, kind, _stype, sid, entry, _leaf in rows:
        if kind.startswith("application.") or kind == "loan.disbursed" or kind in domain.CUSTOMER_RISK_EVENTS:
            data = (json.loads(entry).get("data") or {})
            wording = domain.notification_for(kind, sid, data)
            if wording is not None:
                wanted.append((seq, kind, sid, data, wording))
    if not wanted:
        return staff
    owner = _customer_of([(seq, kind, sid, data) for seq, kind, sid, data, _w in wanted])
    people = Customer.objects.select_related("user").in_bulk({c for c in owner.values()})
    pii = customers.cipher()
    out = []
    for seq, kind, sid, _data, w in wanted:
        c = people.get(owner.get(seq, -1))
        if c is None:
            continue
        channels: list[tuple[str, str, str]] = []
        if c.phone_enc:
            channels.append(("sms", c.phone_enc, c.phone_masked))
        email = getattr(c.user, "email", "") if c.user_id else ""
        if email:
            channels.append(("email", pii.encrypt(email), domain.mask_email(email)))
        for channel, to_enc, masked in channels:
            out.append(Notification(customer=c, channel=channel, to_enc=to_enc, to_masked=masked[:120],
                                    subject_zh=w.subject_zh[:200], body_zh=w.body_zh, subject_en=w.subject_en[:200],
                                    body_en=w.body_en, seq=seq, kind=kind, subject_id=sid[:40],
                                    next_attempt_at=when, created_at=when))
    Notification.objects.bulk_create(out, ignore_conflicts=True, batch_size=500)
    return staff + len(out)


# =============================================================================================================
# Delivering webhooks
# =============================================================================================================


@dataclass
class DeliverReport:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0  # will be retried
    dead: int = 0


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str, str]:
    """(status code or None, response excerpt, error) of one POST. Never raises. The URL is checked again as at
    creation (https outside development, the address rules) and its host resolved once: the connection goes to the
    address that was checked (egress). A refused target is not contacted at all."""
    try:
        target = domain.parse_target(url, https_only=_https_only())
        allowed = webhook_allowed_networks()
    except ValidationError as exc:
        return None, "", f"refused: {exc.message}"[:500]
    answer = egress.post(target, body, headers, timeout, allowed)
    return answer.status, answer.excerpt, answer.error


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed): compact JSON, UTF-8, keys sorted."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _claim(delivery_id: int, due_before: dt.datetime, now: dt.datetime) -> bool:
    """Take a due delivery for this runner: only one runner's update matches."""
    return bool(WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=(DeliveryStatus.PENDING, DeliveryStatus.FAILED), next_attempt_at__lte=due_before,
        endpoint__active=True).update(next_attempt_at=now + CLAIM_LEASE))


def _attempt(delivery_id: int, now: dt.datetime, timeout: float, *, manual: bool = False) -> str:
    d = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    secret = customers.cipher().decrypt(d.endpoint.secret_enc)
    body = body_bytes(d.payload)
    ts = int(now.timestamp())
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "creditplan-webhooks/1",
               domain.EVENT_HEADER: d.kind, domain.DELIVERY_HEADER: str(d.pk), domain.TIMESTAMP_HEADER: str(ts),
               domain.SIGNATURE_HEADER: domain.sign(secret, ts, body)}
    started = time.perf_counter()
    code, excerpt, error = _post(d.endpoint.url, body, headers, timeout)
    took = int((time.perf_counter() - started) * 1000)
    ok = domain.delivered(code)
    if not ok and not error:
        error = f"HTTP {code}"
    with transaction.atomic():
        d = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        d.attempts += 1
        number = DeliveryAttempt.objects.filter(delivery=d).count() + 1
        shown = {k: v for k, v in headers.items() if k != domain.SIGNATURE_HEADER}
        shown[domain.SIGNATURE_HEADER] = headers[domain.SIGNATURE_HEADER][:15] + "…"
        DeliveryAttempt.objects.create(delivery=d, number=number, at=now, request_headers=shown, status_code=code,
                                       error=error[:500], response_excerpt=excerpt, duration_ms=took, manual=manual)
        d.last_attempt_at, d.last_status_code, d.last_error = now, code, error[:500]
        if ok:
            d.status, d.delivered_at, d.next_attempt_at = DeliveryStatus.DELIVERED, now, None
        else:
            retry = domain.next_attempt(d.attempts, now)
            d.status = DeliveryStatus.FAILED if retry else DeliveryStatus.DEAD
            d.next_attempt_at = retry
        d.save()
    return d.status


def deliver_due(*, now: dt.datetime | None = None, limit: int = 200, timeout: float | None = None) -> DeliverReport:
    """POST every delivery whose time has come (oldest first), one attempt each."""
    now = _now(now)
    timeout = webhook_timeout() if timeout is None else timeout
    report = DeliverReport()
    due = list(WebhookDelivery.objects.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.FAILED),
                                              next_attempt_at__lte=now, endpoint__active=True)
               .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
    for delivery_id in due:
        if not _claim(delivery_id, now, now):
            continue  # another runner has it
        status = _attempt(delivery_id, now, timeout)
        report.attempted += 1
        if status == DeliveryStatus.DELIVERED:
            report.delivered += 1
        elif status == DeliveryStatus.DEAD:
            report.dead += 1
        else:
            report.failed += 1
    return report


# =============================================================================================================
# Notifications
# =============================================================================================================


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@lru_cache(maxsize=8)
def _sender_for(path: str) -> Any:
    return senders.resolve(path)


def sender() -> Any:
    """The configured sender's send(message) (CREDITPLAN_NOTIFICATION_SENDER; console by default)."""
    return _sender_for(str(_setting("CREDITPLAN_NOTIFICATION_SENDER", DEFAULT_SENDER)))


def send_due(*, now: dt.datetime | None = None, limit: int = 200) -> SendReport:
    """Hand every due notification to the sender; a sender error is retried like a webhook, then given up."""
    now = _now(now)
    send = sender()
    pii = customers.cipher()
    report = SendReport()
    due = list(Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
               .order_by("id").values_list("id", "next_attempt_at")[:limit])
    for nid, was_due in due:
        if not Notification.objects.filter(pk=nid, status=NotificationStatus.PENDING, next_attempt_at=was_due).update(
                next_attempt_at=now + CLAIM_LEASE):
            continue
        n = Notification.objects.select_related("customer__user", "user").get(pk=nid)
        person = n.user if n.user_id else (n.customer.user if n.customer is not None and n.customer.user_id else None)
        lang = getattr(person, "preferred_language", "") or "zh-hans"
        error = ""
        try:
            send(senders.OutgoingMessage(n.pk, n.channel, pii.decrypt(n.to_enc), n.to_masked, n.subject_zh,
                                         n.body_zh, n.subject_en, n.body_en, lang,
                                         recipient="staff" if n.user_id else "customer"))
        except Exception as exc:  # noqa: BLE001 - any sender failure is recorded and retried
            error = f"{type(exc).__name__}: {exc}"[:500] or "send failed"
        n.attempts += 1
        if not error:
            n.status, n.sent_at, n.error, n.next_attempt_at = NotificationStatus.SENT, now, "", None
            report.sent += 1
        else:
            retry = domain.next_attempt(n.attempts, now) if n.attempts < NOTIFICATION_MAX_ATTEMPTS else None
            n.error, n.next_attempt_at = error, retry
            if retry is None:
                n.status = NotificationStatus.FAILED
                report.failed += 1
            else:
                report.retrying += 1
        n.save(update_fields=["status", "sent_at", "error", "next_attempt_at", "attempts"])
    return report


@dataclass(frozen=True)
class NotificationView:
    id: int
    channel: str
    to: str  # masked
    subject: str
    body: str
    subject_id: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    error: str


def my_notifications(actor: Actor, *, language: str = "zh-hans", limit: int = 50) -> list[NotificationView]:
    """A customer's own messages, newest first (what was sent to them, in the page's language)."""
    if getattr(actor, "role", None) != Role.CUSTOMER:
        raise Forbidden("only customers have notifications", code="permission_denied")
    en = language.startswith("en")
    qs = Notification.objects.filter(customer__user=actor).order_by("-id")[:limit]
    return [NotificationView(n.pk, n.channel, n.to_masked, n.subject_en if en else n.subject_zh,
                             n.body_en if en else n.body_zh, n.subject_id, n.status, n.created_at, n.sent_at,
                             n.error) for n in qs]


# =============================================================================================================
# One pass of the runner
# =============================================================================================================


@dataclass(frozen=True)
class RunReport:
    dispatch: DispatchReport
    deliver: DeliverReport
    send: SendReport

    def summary(self) -> str:
        d, w, s = self.dispatch, self.deliver, self.send
        return (f"events read {d.events} (through #{d.last_seq}); deliveries created {d.deliveries}, attempted "
                f"{w.attempted}: {w.delivered} delivered, {w.failed} to retry, {w.dead} dead; notifications "
                f"created {d.notifications}, sent {s.sent}, retrying {s.retrying}, failed {s.failed}")


def run_once(*, now: dt.datetime | None = None, timeout: float | None = None) -> RunReport:
    return RunReport(dispatch(now=now), deliver_due(now=now, timeout=timeout), send_due(now=now))


# =============================================================================================================
# Inbound customer sync
# =============================================================================================================

SYNC_FIELDS = frozenset({"kind", "name", "branch", "id_number", "birth_date", "phone", "monthly_income", "employer",
                         "uscc", "industry_code", "region_code"})
MAX_SYNC_RECORDS = 500


@dataclass(frozen=True)
class SyncResult:
    index: int
    external_ref: str
    result: str  # created | updated | unchanged | error
    customer_id: int | None = None
    field: str | None = None
    code: str | None = None
    message: str | None = None
    problems: list[dict[str, str]] = dataclasses.field(default_factory=list)


def inbound_secret() -> str:
    return str(_setting("CREDITPLAN_INBOUND_SECRET", "") or "")


def check_inbound_signature(body: bytes, timestamp: str | None, signature: str | None) -> None:
    """Every sync request must be signed like our webhooks (domain.sign) with CREDITPLAN_INBOUND_SECRET. Only a
    development installation (settings.DEVELOPMENT) without a secret accepts unsigned requests; anywhere else a
    missing secret refuses them all, so that an API token alone can never rewrite customers."""
    secret = inbound_secret()
    if not secret:
        if getattr(settings, "DEVELOPMENT", False):
            return
        raise Forbidden("customer sync is refused: no inbound secret is configured (CREDITPLAN_INBOUND_SECRET); "
                        "outside development every sync request must be signed with it", code="inbound_secret_missing")
    problem = domain.verify(secret, timestamp, body, signature, now=int(time.time()))
    if problem:
        raise Forbidden(problem, code="bad_signature")


def _find_existing(actor: Actor, data: dict[str, Any]) -> int | None:
    """The customer this record already is, by ID number or unified social credit code (within scope)."""
    key = str(data.get("id_number") or data.get("uscc") or "").strip().upper()
    if not key:
        return None
    for v in customers.search_customers(actor, key, status=None, page_size=5).items:
        return v.id
    return None


def _sync_one(actor: Actor, source: str, rec: Any) -> SyncResult:
    if not isinstance(rec, dict):
        raise ValidationError("each record is a JSON object", field="record", code="not_an_object")
    ref = str(rec.get("external_ref") or "").strip()
    if not ref:
        raise ValidationError("external_ref is required", field="external_ref", code="required")
    if len(ref) > 80:
        raise ValidationError("external_ref is at most 80 characters", field="external_ref", code="too_long")
    unknown = sorted(set(rec) - SYNC_FIELDS - {"external_ref"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}", field=unknown[0], code="unknown_field")
    data = {k: v for k, v in rec.items() if k in SYNC_FIELDS}
    link = ExternalCustomerRef.objects.filter(source=source, external_ref=ref).first()
    customer_id = link.customer_id if link else _find_existing(actor, data)
    if customer_id is None:
        view = customers.create_customer(actor, data)
        ExternalCustomerRef.objects.create(source=source, external_ref=ref, customer_id=view.id)
        return SyncResult(0, ref, "created", view.id)
    if link is None:
        if ExternalCustomerRef.objects.filter(source=source, customer_id=customer_id).exists():
            raise ValidationError("this customer is already synced under another external_ref", field="external_ref",
                                  code="ref_mismatch")
        ExternalCustomerRef.objects.create(source=source, external_ref=ref, customer_id=customer_id)
    before = customers.get_customer(actor, customer_id)
    if "kind" in data and data["kind"] != before.kind:
        raise ValidationError("a customer's kind cannot change", field="kind", code="not_updatable")
    after = customers.update_customer(actor, customer_id, {k: v for k, v in data.items() if k != "kind"})
    return SyncResult(0, ref, "updated" if after.version != before.version else "unchanged", customer_id)


def sync_customers(actor: Actor, records: Iterable[Any], *, source: str = "default") -> list[SyncResult]:
    """Create or update customers from another system, keyed by its reference. Each record is all-or-nothing on
    its own (a bad one does not stop the others); sending the same records again changes nothing."""
    org.require(actor, Perm.CUSTOMER_CREATE)
    org.require(actor, Perm.CUSTOMER_UPDATE)
    source = str(source or "default").strip()[:40] or "default"
    items = list(records)
    if len(items) > MAX_SYNC_RECORDS:
        raise ValidationError(f"at most {MAX_SYNC_RECORDS} records per request", field="records", code="too_many")
    results = []
    for i, rec in enumerate(items):
        ref = str(rec.get("external_ref") or "") if isinstance(rec, dict) else ""
        try:
            with transaction.atomic():
                r = _sync_one(actor, source, rec)
            results.append(SyncResult(i, r.external_ref, r.result, r.customer_id))
        except CreditplanError as exc:
            if exc.http_status in (401, 403) and exc.code == "permission_denied":
                raise
            first = exc.problems[0] if exc.problems else None
            results.append(SyncResult(i, ref, "error", None, first.field if first else exc.field, exc.code,
                                      exc.message, [{"field": p.field, "code": p.code, "message": p.message}
                                                    for p in exc.problems]))
    return results


def status_counts() -> dict[str, Any]:
    """For `creditplan integration status`: how far dispatching is and what waits."""
    cursor = DispatchCursor.objects.filter(id=1).values_list("last_seq", flat=True).first() or 0
    head = ledger.last_seq()
    deliveries = {s: 0 for s in DeliveryStatus.values}
    deliveries.update(dict(WebhookDelivery.objects.values_list("status").annotate(n=Count("id"))))
    notes = {s: 0 for s in NotificationStatus.values}
    notes.update(dict(Notification.objects.values_list("status").annotate(n=Count("id"))))
    return {"cursor": cursor, "head": head, "deliveries": deliveries, "notifications": notes}
