"""Inbound customer sync over the API: a CRM sends its customers keyed by its own reference; each record is
created, updated, left unchanged or refused on its own, and sending the same batch again changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from creditplan.customers import services as customers
from creditplan.integration import domain
from factories import PASSWORD, company, individual, resident_id

URL = "/api/v1/integration/customers/sync"
SECRET = "inbound-secret"


@pytest.fixture
def post(client: Any, bank: dict[str, Any], settings: Any) -> Any:
    """post(user, body, sign=True): as in production — the inbound secret configured, every request signed."""
    settings.DEVELOPMENT = False
    settings.CREDITPLAN_INBOUND_SECRET = SECRET
    tokens: dict[str, str] = {}

    def _post(user: str, body: Any, *, sign: bool = True, **headers: str) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if sign and not headers:
            ts = int(time.time())
            headers = {"X-Creditplan-Timestamp": str(ts), "X-Creditplan-Signature": domain.sign(SECRET, ts, raw)}
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        return client.post(URL, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tokens[user]}",
                           **extra)

    return _post


def test_a_batch_creates_updates_and_leaves_unchanged_and_reports_each_record(bank: dict[str, Any], post: Any) -> None:
    existing = customers.create_customer(bank["officer_bj"], individual(3, branch="BJ01"))
    batch = {"source": "crm", "customers": [
        {"external_ref": "CRM-1", **individual(1, branch="BJ01")},
        {"external_ref": "CRM-2", **company(2, branch="BJ01")},
        {"external_ref": "CRM-3", **individual(3, branch="BJ01", employer="新雇主有限公司")},  # matched by ID number
        {"external_ref": "CRM-4", **individual(4, branch="BJ01", id_number="110108198506150000")},  # bad check digit
        {"external_ref": "", "name": "无编号"},
        {"external_ref": "CRM-6", **individual(6, branch="BJ01"), "favourite_colour": "red"},
    ]}
    r = post("officer_bj", batch)
    assert r.status_code == 200, r.content
    answer = r.json()
    assert [x["result"] for x in answer["results"]] == ["created", "created", "updated", "error", "error", "error"]
    assert (answer["created"], answer["updated"], answer["errors"]) == (2, 1, 3)
    assert answer["results"][2]["customer_id"] == existing.id
    assert customers.get_customer(bank["officer_bj"], existing.id).employer == "新雇主有限公司"
    bad = answer["results"][3:]
    assert [(b["field"], b["index"]) for b in bad] == [("id_number", 3), ("external_ref", 4), ("favourite_colour", 5)]
    assert all(b["message"] for b in bad)
    total = customers.search_customers(bank["officer_bj"]).total
    assert total == 3  # nothing half-written for the refused records

    # the same batch again: nothing changes, nothing is duplicated
    again = post("officer_bj", batch).json()
    assert [x["result"] for x in again["results"][:3]] == ["unchanged"] * 3
    assert customers.search_customers(bank["officer_bj"]).total == 3

    # a change in the CRM updates the customer it names
    first_id = answer["results"][0]["customer_id"]
    change = {"source": "crm", "customers": [{"external_ref": "CRM-1", **individual(1, branch="BJ01",
                                                                                     phone="13900139000")}]}
    assert post("officer_bj", change).json()["results"][0] == {
        "index": 0, "external_ref": "CRM-1", "result": "updated", "customer_id": first_id, "field": None,
        "code": None, "message": None, "problems": []}
    assert customers.get_customer(bank["officer_bj"], first_id).phone == "*******9000"


def test_a_user_without_customer_rights_is_refused(bank: dict[str, Any], post: Any) -> None:
    r = post("auditor", {"customers": [{"external_ref": "CRM-1", **individual(1, branch="BJ01")}]})
    assert r.status_code == 403 and r["Content-Type"] == "application/problem+json"
    assert customers.search_customers(bank["admin"]).total == 0


def test_with_an_inbound_secret_only_correctly_signed_requests_are_accepted(bank: dict[str, Any], post: Any) -> None:
    body = json.dumps({"customers": [{"external_ref": "CRM-1", **individual(1, branch="BJ01")}]}).encode()
    ts = str(int(time.time()))
    unsigned = post("officer_bj", body, sign=False)
    forged = post("officer_bj", body, **{"X-Creditplan-Timestamp": ts,
                                         "X-Creditplan-Signature": domain.sign("wrong", int(ts), body)})
    assert (unsigned.status_code, forged.status_code) == (403, 403)
    assert forged.json()["code"] == "bad_signature"
    assert customers.search_customers(bank["officer_bj"]).total == 0
    good = post("officer_bj", body, **{"X-Creditplan-Timestamp": ts,
                                       "X-Creditplan-Signature": domain.sign("inbound-secret", int(ts), body)})
    assert good.status_code == 200 and good.json()["created"] == 1


@pytest.mark.parametrize("body", [b"not json", b'{"customers": "x"}', b"[]"])
def test_a_malformed_body_is_a_422_naming_what_is_wrong(bank: dict[str, Any], post: Any, body: bytes) -> None:
    r = post("officer_bj", body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] in ("body", "customers")


def test_outside_development_no_inbound_secret_refuses_every_sync(bank: dict[str, Any], post: Any,
                                                                  settings: Any) -> None:
    """Finding 9: without a secret, an API token alone could rewrite customers. Only development accepts that."""
    settings.CREDITPLAN_INBOUND_SECRET = ""
    body = {"customers": [{"external_ref": "CRM-1", **individual(1, branch="BJ01")}]}
    r = post("officer_bj", body, sign=False)
    assert r.status_code == 403 and r.json()["code"] == "inbound_secret_missing"
    assert "CREDITPLAN_INBOUND_SECRET" in r.json()["detail"]
    assert customers.search_customers(bank["officer_bj"]).total == 0
    settings.DEVELOPMENT = True  # a developer's machine
    assert post("officer_bj", body, sign=False).json()["created"] == 1


def test_a_sync_never_changes_the_identity_of_an_existing_customer(bank: dict[str, Any], post: Any) -> None:
    """Finding 9: the ID number and birth date of an existing customer change only by a four-eyes correction."""
    first = post("officer_bj", {"customers": [{"external_ref": "CRM-1", **individual(1, branch="BJ01")}]}).json()
    cid = first["results"][0]["customer_id"]
    other = resident_id(9, birth=dt.date(1990, 1, 2))
    r = post("officer_bj", {"customers": [
        {"external_ref": "CRM-1", **individual(1, branch="BJ01", id_number=other)},
        {"external_ref": "CRM-1", **individual(1, branch="BJ01", birth_date="1990-01-02")},
        {"external_ref": "CRM-1", **individual(1, branch="BJ01", employer="新雇主有限公司")},
    ]}).json()
    assert [(x["result"], x["field"], x["code"]) for x in r["results"]] == [
        ("error", "id_number", "identity_immutable"), ("error", "birth_date", "identity_immutable"),
        ("updated", None, None)]
    assert "identity correction" in r["results"][0]["message"]
    kept = customers.get_customer(bank["approver_bj"], cid, reveal=True)
    assert (kept.id_number, kept.birth_date, kept.employer) == (resident_id(1), dt.date(1985, 6, 15), "新雇主有限公司")
