"""The integration pages and the command: an administrator registers a receiver (the secret is shown once), bad
input keeps what was typed, the delivery log filters, other staff are refused; `creditplan integration run`."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.db import transaction

from creditplan.integration import services as integration
from creditplan.ledger import services as ledger
from factories import PASSWORD


def _login(client: Any, user: str) -> Any:
    assert client.login(username=user, password=PASSWORD)
    return client


def test_an_administrator_creates_a_webhook_and_sees_its_secret_only_once(bank: dict[str, Any], client: Any,
                                                                         receiver: Any, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the test receiver is on loopback, plain http
    settings.DEVELOPMENT = True
    c = _login(client, "admin")
    bad = c.post("/integration/", {"name": "CRM", "url": "crm.example.com", "events": "application.*"})
    assert bad.status_code == 422
    assert 'value="crm.example.com"' in bad.content.decode() and 'value="CRM"' in bad.content.decode()
    r = c.post("/integration/", {"name": "CRM", "url": receiver.url, "events": "application.*"})
    html = r.content.decode()
    [e] = integration.list_endpoints(bank["admin"])
    secret = html.split('id="webhook-secret" class="mono">')[1].split("<")[0]
    assert secret.startswith("whsec_") and secret.endswith(e.secret_hint)
    listing = c.get("/integration/").content.decode()
    assert receiver.url in listing and secret not in listing

    with transaction.atomic():
        ledger.append(None, "application.approved", "application", "AP-PAGE-1", {"amount_minor": 1})
    out = io.StringIO()
    call_command("integration", "run", "--once", stdout=out)
    assert "1 delivered" in out.getvalue()
    log = c.get("/integration/deliveries/?status=delivered").content.decode()
    assert "AP-PAGE-1" in log
    assert "AP-PAGE-1" not in c.get("/integration/deliveries/?status=dead").content.decode()
    [d] = integration.list_deliveries(bank["admin"])
    detail = c.get(f"/integration/deliveries/{d.id}/").content.decode()
    assert "HTTP 200" in detail and "answer 200" in detail


def test_other_staff_cannot_open_the_integration_pages(bank: dict[str, Any], client: Any) -> None:
    c = _login(client, "officer_bj")
    assert c.get("/integration/").status_code == 403
    assert c.get("/integration/deliveries/").status_code == 403


def test_the_schedule_command_prints_a_minutely_timer(db: Any) -> None:
    out = io.StringIO()
    call_command("integration", "schedule", "--user", "svc", "--workdir", "/srv/creditplan", stdout=out)
    text = out.getvalue()
    assert "integration run --once" in text and "OnCalendar=*-*-* *:*:00" in text and "User=svc" in text
