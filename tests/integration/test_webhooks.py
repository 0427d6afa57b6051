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


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings: Any) -> None:
    """The test receivers listen on 127.0.0.1 over plain http: allowed explicitly, the way a bank allows its own
    CRM's network (an internal address is refused otherwise) on a development machine (https otherwise)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.DEVELOPMENT = True


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


# --- security issue 14, finding 11: webhooks never reach internal addresses ------------------------------------

LOOPBACK_SPELLINGS = ["127.0.0.1", "localhost", "[::1]", "0x7f000001", "2130706433", "0177.0.0.1", "127.1",
                      "[::ffff:127.0.0.1]", "rebind.crm.example"]  # the last: a name resolving to 127.0.0.1
OTHER_INTERNAL = ["10.20.0.5", "192.168.1.10", "169.254.169.254", "[fe80::1]", "[fd00::1]", "0.0.0.0", "224.0.0.1",
                  "100.64.0.1", "[2002:7f00:1::]"]
PUBLIC = "93.184.215.14"


class Network:
    """The resolver and the connections as the sender sees them: `answers` maps a name to the addresses it
    resolves to (changeable between calls, as a DNS server controlled by an attacker would); every lookup and
    every connection attempt is recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import socket

        self.answers: dict[str, list[str]] = {"rebind.crm.example": ["127.0.0.1"]}
        self.lookups: list[str] = []
        self.connections: list[tuple[str, int]] = []
        real_lookup, real_connect = socket.getaddrinfo, socket.create_connection

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            self.lookups.append(str(host))
            if host in self.answers:
                return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                         (ip, int(port or 0))) for ip in self.answers[host]]
            return real_lookup(host, port, *args, **kwargs)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
            self.connections.append(address)
            return real_connect(address, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    return Network(monkeypatch)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + OTHER_INTERNAL)
def test_an_internal_address_is_refused_when_the_webhook_is_created(bank: dict[str, Any], settings: Any,
                                                                   network: Network, host: str) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError) as e:
        _endpoint(bank, f"http://{host}:8080/hooks")
    assert (e.value.field, e.value.code) == ("url", "webhook_address_refused")
    assert integration.list_endpoints(bank["admin"]) == [] and network.connections == []


def _stored(bank: dict[str, Any], url: str) -> None:
    """An endpoint whose URL is `url` although creation would refuse it now (created before the rules, or
    resolving elsewhere since), with one delivery waiting."""
    from creditplan.integration.models import WebhookEndpoint

    e = _endpoint(bank, f"https://{PUBLIC}/hooks").endpoint
    WebhookEndpoint.objects.filter(pk=e.id).update(url=url)
    _event()
    integration.dispatch(now=T0)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_an_internal_address_is_refused_at_send_time_without_a_connection(bank: dict[str, Any], settings: Any,
                                                                         receiver: Any, network: Network,
                                                                         host: str) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    _stored(bank, f"http://{host}:{port}/hooks")  # the loopback receiver is listening there
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    report = integration.deliver_due(now=T0, timeout=5)
    assert (report.attempted, report.delivered) == (1, 0)
    [d] = integration.list_deliveries(bank["admin"])
    assert d.status == "failed" and d.last_status_code is None and d.last_error.startswith("refused:")
    assert "loopback" in d.last_error
    [attempt] = integration.get_delivery(bank["admin"], d.id).attempts
    assert attempt.response_excerpt == ""
    assert network.connections == [] and receiver.requests == []  # nothing left the machine


def test_a_name_resolving_to_loopback_at_send_time_is_refused_although_it_was_public_at_creation(
        bank: dict[str, Any], settings: Any, receiver: Any, network: Network) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    port = receiver.url.split(":")[2].split("/")[0]
    network.answers["crm.example"] = [PUBLIC]
    _endpoint(bank, f"http://crm.example:{port}/hooks")  # public when checked at creation
    network.answers["crm.example"] = ["127.0.0.1"]  # then the name is pointed at the bank's own machine
    _event()
    integration.dispatch(now=T0)
    integration.deliver_due(now=T0, timeout=5)
    [d] = integration.list_deliveries(bank["admin"])
    assert d.last_error.startswith("refused:") and "resolves to a loopback address" in d.last_error
    assert network.connections == [] and receiver.requests == []
    network.answers["crm.example"] = [PUBLIC, "127.0.0.1"]  # one bad address among good ones is enough
    integration.deliver_due(now=T0 + dt.timedelta(minutes=1), timeout=5)
    [d] = integration.list_deliveries(bank["admin"])
    assert d.attempts == 2 and d.last_error.startswith("refused:") and network.connections == []


def test_the_connection_goes_to_the_checked_address_and_the_request_names_the_host(
        bank: dict[str, Any], receiver: Any, network: Network) -> None:
    """One lookup per send, and the socket is opened to the address it gave (an answer that changes between a
    check and a second lookup — DNS rebinding — has no second lookup to change)."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    network.answers["crm.example"] = ["127.0.0.1"]  # allowed by this module's allowlist (127.0.0.1/32)
    _endpoint(bank, f"http://crm.example:{port}/hooks")
    _event()
    integration.dispatch(now=T0)
    network.lookups.clear()
    assert integration.deliver_due(now=T0, timeout=5).delivered == 1
    names = [h for h in network.lookups if domain.literal_address(h) is None]  # not the numeric look-up of 127.0.0.1
    assert names == ["crm.example"] and network.connections == [("127.0.0.1", port)]
    [req] = receiver.requests
    assert req["headers"]["Host"] == f"crm.example:{port}" and req["path"] == "/hooks"


def test_the_allowlist_admits_only_its_own_networks(bank: dict[str, Any], settings: Any, network: Network) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = "10.20.0.0/16, 127.0.0.1/32"  # as CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS
    for ok in ("10.20.3.4", "127.0.0.1", "[::ffff:10.20.0.1]", "0x7f000001"):
        _endpoint(bank, f"http://{ok}:8080/hooks")
    for refused in ("10.21.0.1", "127.0.0.2", "[::1]", "169.254.169.254", "0.0.0.0"):
        with pytest.raises(ValidationError) as e:
            _endpoint(bank, f"http://{refused}:8080/hooks")
        assert e.value.code == "webhook_address_refused"
    settings.WEBHOOK_ALLOWED_NETWORKS = "10.20.0.0/16, intranet"
    with pytest.raises(ValidationError) as e:
        _endpoint(bank, "http://10.20.3.4/hooks")
    assert e.value.code == "webhook_allowlist_invalid" and "'intranet'" in e.value.message
    assert network.connections == []


def test_outside_development_webhooks_must_be_https(bank: dict[str, Any], settings: Any, receiver: Any,
                                                    network: Network) -> None:
    settings.DEVELOPMENT = False
    with pytest.raises(ValidationError) as e:
        _endpoint(bank, receiver.url)
    assert (e.value.field, e.value.code) == ("url", "webhook_https_required")
    _stored(bank, receiver.url)  # an http endpoint kept from a development set-up
    integration.deliver_due(now=T0, timeout=5)
    [d] = integration.list_deliveries(bank["admin"])
    assert d.last_error.startswith("refused:") and "https" in d.last_error
    assert network.connections == [] and receiver.requests == []


def test_redirects_are_not_followed_and_only_a_short_answer_is_kept(bank: dict[str, Any]) -> None:
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(self.path)
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                self.wfile.write(b"internal page " * 100)
                return
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"x" * 5000)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        port = server.server_address[1]
        _endpoint(bank, f"http://127.0.0.1:{port}/moved")
        _endpoint(bank, f"http://127.0.0.1:{port}/error")
        _event()
        integration.dispatch(now=T0)
        integration.deliver_due(now=T0, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(hits) == ["/error", "/moved"]  # the redirect's target was never asked for
    by_url = {integration.get_delivery(bank["admin"], d.id).url: integration.get_delivery(bank["admin"], d.id)
              for d in integration.list_deliveries(bank["admin"])}
    moved = by_url[f"http://127.0.0.1:{port}/moved"]
    assert moved.delivery.last_status_code == 302 and "redirects are not followed" in moved.delivery.last_error
    assert moved.attempts[0].response_excerpt == ""  # the status line only
    error = by_url[f"http://127.0.0.1:{port}/error"]
    assert error.attempts[0].response_excerpt == "x" * 200


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.1", "loopback"), ("0x7f000001", "loopback"), ("2130706433", "loopback"), ("0177.0.0.1", "loopback"),
    ("127.1", "loopback"), ("0x7f.1", "loopback"), ("::1", "loopback"), ("[::ffff:127.0.0.1]", "loopback"),
    ("::ffff:7f00:1", "loopback"), ("2002:7f00:1::", "loopback"), ("10.1.2.3", "private"), ("fd00::1", "private"),
    ("172.16.0.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("100.64.0.1", "non-public"), ("8.8.8.8", None), ("2001:4860:4860::8888", None),
])
def test_every_spelling_of_an_address_is_judged_as_the_address_it_is(host: str, kind: str | None) -> None:
    address = domain.literal_address(host)
    assert address is not None and domain.address_problem(address) == kind
    assert domain.literal_address("crm.example.com") is None and domain.literal_address("1.2.3.4.5") is None


def test_the_pages_explain_a_refused_address_in_english_and_chinese(bank: dict[str, Any], client: Any,
                                                                     settings: Any, network: Network) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    client.force_login(bank["admin"])
    for language, text in (("en", "is a loopback address"), ("zh-hans", "该地址是内部地址")):
        r = client.post("/integration/", {"name": "CRM", "url": "https://0x7f000001/hooks", "events": "application.*"},
                        HTTP_ACCEPT_LANGUAGE=language)
        assert r.status_code == 422 and text in r.content.decode()
        assert 'value="https://0x7f000001/hooks"' in r.content.decode()  # what was typed is kept
    _stored(bank, "https://127.0.0.1/hooks")
    integration.deliver_due(now=T0, timeout=5)
    [d] = integration.list_deliveries(bank["admin"])
    for language, text in (("en", "refused: the receiver&#x27;s host is a loopback address"),
                           ("zh-hans", "未发送：接收方地址不被允许")):
        page = client.get(f"/integration/deliveries/{d.id}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert text in page
        assert text[:20] in client.get("/integration/deliveries/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert network.connections == []
