"""Risk alerts leave the system like every other event: through the ledger outbox to the webhooks that subscribe to
them (signed like the others, one delivery per alert raised), and as an e-mail to each member of staff the alert is
routed to (its indicator's owner role, within their branch scope) — customer notifications unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_run import _pay_on_time

from creditplan.integration import senders
from creditplan.integration import services as integration
from creditplan.integration.models import Notification
from creditplan.org import services as org
from creditplan.risk import services as risk
from creditplan.risk.models import Alert, Indicator
from factories import PASSWORD

T0 = dt.datetime(2025, 5, 20, 9, 0, tzinfo=dt.UTC)
RAISED_ON = dt.date(2025, 5, 18)  # the never-paying loan makes the NPL ratio red (test_run.py)


class Receiver:
    """A loopback receiver that answers 200 and keeps what it got."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"headers": dict(self.headers.items()), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the bank's own receiver, over http on this machine
    settings.DEVELOPMENT = True
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def outbox(settings: Any) -> Iterator[senders.MemorySender]:
    settings.CREDITPLAN_NOTIFICATION_SENDER = "creditplan.integration.senders.memory"
    senders.memory.clear()
    yield senders.memory
    senders.memory.clear()


def _raise_alerts(book: dict[str, Any], close_days: Any) -> list[Alert]:
    close_days(dt.date(2025, 1, 15), dt.date(2025, 5, 19), run_on=[RAISED_ON, dt.date(2025, 5, 19)],
               pay=_pay_on_time(book))
    raised = list(Alert.objects.order_by("id"))
    assert raised and {a.raised_on for a in raised} == {RAISED_ON}  # the second run raised nothing new
    return raised


@pytest.mark.django_db
def test_a_webhook_subscribed_to_risk_alerts_gets_one_signed_delivery_per_alert(
        risk_book: dict[str, Any], close_days: Any, receiver: Receiver) -> None:
    admin = risk_book["admin"]
    hook = integration.create_endpoint(admin, name="Risk desk", url=receiver.url, events="risk.*")
    integration.create_endpoint(admin, name="CRM", url=receiver.url + "/crm", events=["application.*"])
    raised = _raise_alerts(risk_book, close_days)
    risk.acknowledge(risk_book["risk"], raised[0].pk)
    risk.comment(risk_book["risk"], raised[0].pk, "collections called the borrower")  # not sent out

    integration.dispatch(now=T0)
    integration.deliver_due(now=T0, timeout=5)
    got = [(r["headers"]["X-Creditplan-Event"], json.loads(r["body"])) for r in receiver.requests]
    assert sorted(kind for kind, _b in got) == sorted(["risk.alert_raised"] * len(raised)
                                                      + ["risk.alert_acknowledged"])
    assert sorted(int(b["event"]["subject"]["id"]) for kind, b in got if kind == "risk.alert_raised") == sorted(
        a.pk for a in raised)
    npl = next(b["event"]["data"] for kind, b in got if kind == "risk.alert_raised"
               and b["event"]["data"]["indicator"] == "npl_ratio" and b["event"]["data"]["dimension"] == "total")
    assert (npl["rule"], npl["rag"], npl["as_of"], npl["owner_role"]) == ("red", "red", "2025-05-18", "risk_manager")
    for r in receiver.requests:  # signed with the webhook's secret, like every other delivery
        h = r["headers"]
        expected = hmac.new(hook.secret.encode(), h["X-Creditplan-Timestamp"].encode() + b"." + r["body"],
                            hashlib.sha256).hexdigest()
        assert h["X-Creditplan-Signature"] == f"sha256={expected}"
    assert all(not r["headers"].get("X-Creditplan-Event", "").startswith("application") for r in receiver.requests)

    again = integration.dispatch(now=T0)
    assert again.deliveries == 0 and integration.deliver_due(now=T0, timeout=5).attempted == 0


@pytest.mark.django_db
def test_only_alerts_of_the_risk_family_can_be_subscribed_to(risk_book: dict[str, Any], receiver: Receiver) -> None:
    from creditplan.core.errors import ValidationError

    for bad in ("risk.indicators_computed", "risk.alert_commented"):
        with pytest.raises(ValidationError) as exc:
            integration.create_endpoint(risk_book["admin"], name="X", url=receiver.url, events=bad)
        assert exc.value.code == "bad_event_pattern"
    e = integration.create_endpoint(risk_book["admin"], name="Y", url=receiver.url, events="risk.alert_raised")
    assert e.endpoint.events == ["risk.alert_raised"]


@pytest.mark.django_db
def test_each_member_of_staff_an_alert_is_routed_to_is_emailed_within_their_branch_scope(
        risk_book: dict[str, Any], close_days: Any, outbox: senders.MemorySender) -> None:
    users = {name: risk_book[name] for name in ("risk", "auditor", "approver_bj")}
    for name, user in users.items():
        user.email = f"{name}@bank.example"
        user.save(update_fields=["email"])
    org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager", branch_code="HO",
                    email="risk2@bank.example")
    org.create_user(None, username="risk3", password=PASSWORD, role="risk_manager", branch_code="HO")  # no e-mail
    org.create_user(None, username="approver_sh", password=PASSWORD, role="approver", branch_code="SH",
                    email="approver_sh@bank.example")
    # the NPL ratio routed to the approvers (branch staff): its BJ01 alert is for Beijing's approver only
    Indicator.objects.filter(code="npl_ratio").update(owner_role="approver")
    raised = _raise_alerts(risk_book, close_days)

    integration.run_once(now=T0, timeout=5)
    staff = [m for m in outbox.outbox if m.recipient == "staff"]
    to: dict[str, list[str]] = {}
    for m in staff:
        assert m.channel == "email"
        to.setdefault(m.to, []).append(m.subject_en)
    risk_owned = [a for a in raised if a.owner_role == "risk_manager"]
    assert len(to["risk@bank.example"]) == len(to["risk2@bank.example"]) == len(risk_owned) > 0
    npl = [a for a in raised if a.indicator.code == "npl_ratio"]
    assert {(a.dimension, a.member) for a in npl} >= {("total", ""), ("branch", "BJ01")}
    assert not any(a.member == "SH01" for a in npl)  # Shanghai's loans are paid on time
    assert len(to["approver_bj@bank.example"]) == len(npl)  # BJ01 is in Beijing's scope
    assert len(to["approver_sh@bank.example"]) == len(npl) - 1  # every NPL alert but Beijing's branch alert
    assert not any("BJ01" in subject for subject in to["approver_sh@bank.example"])
    assert "auditor@bank.example" not in to  # not the owner role
    bj = next(m for m in staff if m.to == "approver_bj@bank.example" and "BJ01" in m.subject_zh)
    assert bj.subject_zh.startswith("风险预警（红色）：不良贷款率") and "2025-05-18 日终后" in bj.body_zh
    assert "%" in bj.body_en and "red threshold" in bj.body_en

    # customers are still told about their loans (SMS), and nothing is queued twice
    customers_told = Notification.objects.filter(customer__isnull=False)
    assert customers_told.filter(kind="loan.disbursed").count() == 4
    assert all(m.recipient == "customer" for m in outbox.outbox if m.channel == "sms")
    before = Notification.objects.count()
    integration.dispatch(now=T0)
    assert Notification.objects.count() == before
