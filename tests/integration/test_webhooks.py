"""Outbound webhooks against a real HTTP receiver on 127.0.0.1: signed, retried on a fixed schedule (time is
stepped with `now`, nothing sleeps), dead after the last attempt, redelivered by hand, never duplicated."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.db import transaction

from creditplan.core.errors import Forbidden, ValidationError
from creditplan.integration import domain
from creditplan.integration import services as integration
from creditplan.ledger import services as ledger

T0 = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC)


def _event(kind: str = "application.approved", ref: str = "AP-TEST-1", **data: Any) -> None:
    with transaction.atomic():
        ledger.append(None, kind, kind.split(".")[0], ref, data or {"amount_minor": 100})


def _endpoint(bank: dict[str, Any], url: str, events: str = "application.*") -> integration.CreatedEndpoint:
    return integration.create_endpoint(bank["admin"], name="CRM", url=url, events=events)


def test_a_subscribed_event_arrives_signed_with_the_secret_shown_once(bank: dict[str, Any], receiver: Any) -> None:
    created = _endpoint(bank, receiver.url)
    _event("application.approved", "AP-1", amount_minor=3_000_000)
    _event("loan.repayment", "LN-1", amount_minor=1)  # not subscribed
    integration.dispatch(now=T0)
    report = integration.deliver_due(now=T0, timeout=5)
    assert (report.attempted, report.delivered) == (1, 1)
    [req] = receiver.requests
    h = req["headers"]
    assert h["X-Creditplan-Event"] == "application.approved"
    expected = hmac.new(created.secret.encode(), h["X-Creditplan-Timestamp"].encode() + b"." + req["body"],
                        hashlib.sha256).hexdigest()
    assert h["X-Creditplan-Signature"] == f"sha256={expected}"
    body = json.loads(req["body"])
    assert body["event"]["subject"] == {"type": "application", "id": "AP-1"}
    assert body["event"]["data"]["amount_minor"] == 3_000_000
    [d] = integration.list_deliveries(bank["admin"])
    assert h["X-Creditplan-Delivery"] == str(d.id) and d.status == "delivered" and d.last_status_code == 200
    # the secret is never shown again: lists show only its last characters
    [e] = integration.list_endpoints(bank["admin"])
    assert e.secret_hint == created.secret[-4:] and created.secret not in repr(e)


def test_dispatching_twice_never_duplicates_and_history_is_not_replayed(bank: dict[str, Any], receiver: Any) -> None:
    _event("application.approved", "AP-OLD")  # before the endpoint existed
    _endpoint(bank, receiver.url)
    _event("application.declined", "AP-2")
    first = integration.dispatch(now=T0)
    again = integration.dispatch(now=T0)
    assert first.deliveries == 1 and again.events == 0
    assert [d.subject_id for d in integration.list_deliveries(bank["admin"])] == ["AP-2"]


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(bank: dict[str, Any], receiver: Any) -> None:
    receiver.script = [500, 503, 200]
    _endpoint(bank, receiver.url)
    _event()
    integration.dispatch(now=T0)
    assert integration.deliver_due(now=T0, timeout=5).failed == 1
    [d] = integration.list_deliveries(bank["admin"])
    assert (d.status, d.last_status_code, d.next_attempt_at) == ("failed", 500, T0 + dt.timedelta(minutes=1))
    assert integration.deliver_due(now=T0 + dt.timedelta(seconds=59), timeout=5).attempted == 0  # not yet due
    assert integration.deliver_due(now=T0 + dt.timedelta(minutes=1), timeout=5).failed == 1
    [d] = integration.list_deliveries(bank["admin"])
    assert d.next_attempt_at == T0 + dt.timedelta(minutes=6)  # 1 min, then 5 more
    assert integration.deliver_due(now=T0 + dt.timedelta(minutes=6), timeout=5).delivered == 1
    detail = integration.get_delivery(bank["admin"], d.id)
    assert [(a.number, a.status_code) for a in detail.attempts] == [(1, 500), (2, 503), (3, 200)]
    assert detail.attempts[0].response_excerpt == "answer 500"
    ids = {r["headers"]["X-Creditplan-Delivery"] for r in receiver.requests}
    assert ids == {str(d.id)}  # the same delivery id on every attempt: receivers can drop duplicates


def test_after_the_last_attempt_the_delivery_is_dead_until_redelivered(bank: dict[str, Any], receiver: Any) -> None:
    receiver.script = [500]
    _endpoint(bank, receiver.url)
    _event()
    integration.dispatch(now=T0)
    now = T0
    for _ in range(domain.MAX_ATTEMPTS):
        integration.deliver_due(now=now, timeout=5)
        [d] = integration.list_deliveries(bank["admin"])
        now = d.next_attempt_at or now
    assert (d.status, d.attempts, d.next_attempt_at) == ("dead", domain.MAX_ATTEMPTS, None)
    assert integration.deliver_due(now=now + dt.timedelta(days=30), timeout=5).attempted == 0
    assert len(integration.list_deliveries(bank["admin"], status="dead")) == 1
    receiver.script = [200]
    view = integration.redeliver(bank["admin"], d.id, now=now + dt.timedelta(days=1))
    assert view.status == "delivered"
    assert integration.get_delivery(bank["admin"], d.id).attempts[-1].manual


def test_a_receiver_that_does_not_answer_is_cut_off_by_the_timeout(bank: dict[str, Any], receiver: Any) -> None:
    receiver.script = ["hang"]
    _endpoint(bank, receiver.url)
    _event()
    integration.dispatch(now=T0)
    assert integration.deliver_due(now=T0, timeout=0.3).failed == 1
    [d] = integration.list_deliveries(bank["admin"])
    assert d.status == "failed" and d.last_status_code is None and "timeout" in d.last_error


def test_a_deactivated_endpoint_gets_nothing_more(bank: dict[str, Any], receiver: Any) -> None:
    e = _endpoint(bank, receiver.url).endpoint
    integration.deactivate_endpoint(bank["admin"], e.id)
    _event()
    integration.dispatch(now=T0)
    assert integration.deliver_due(now=T0, timeout=5).attempted == 0 and receiver.requests == []


def test_only_administrators_manage_webhooks_and_bad_input_names_the_field(bank: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        integration.create_endpoint(bank["officer_bj"], name="x", url="https://crm.example.com/h", events="loan.*")
    with pytest.raises(ValidationError) as e:
        integration.create_endpoint(bank["admin"], name="CRM", url="ftp://crm.example.com", events="loan.*")
    assert e.value.field == "url"
    with pytest.raises(ValidationError) as e:
        integration.create_endpoint(bank["admin"], name="CRM", url="https://crm.example.com/h", events="customer.*")
    assert e.value.field == "events"
    assert integration.list_endpoints(bank["admin"]) == []
