"""/api/v1/lines end to end: propose (maker), approve (checker, not the proposer, within the authority), read,
change, freeze at once for risk, the customer's own line — and bad input as 422 problem+json naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from line_data import in_a_year

from factories import PASSWORD

URL = "/api/v1/lines"


@pytest.fixture
def call(client, world):
    tokens: dict[str, str] = {}

    def _call(method, path, user, body=None):
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, **auth)
        return client.post(path, body or {}, content_type="application/json", **auth)

    return _call


def _errors(r) -> dict[str, str]:
    return {e["field"]: e["code"] for e in r.json()["errors"]}


def test_propose_approve_read_and_change_over_the_api(call, world):
    cid = world["customers"][0]
    r = call("post", URL, "officer_bj", {"customer_id": cid, "amount": "80000.00", "expires_on": in_a_year(),
                                         "sub_limits": {"consumer": "50000.00"}, "reason": "annual review"})
    assert r.status_code == 201, r.content
    change = r.json()
    assert change["kind"] == "open" and change["status"] == "pending" and change["amount"] == "80000.00"
    denied = call("post", f"{URL}/changes/{change['id']}/approve", "officer_bj")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    pending = call("get", f"{URL}/changes", "approver_bj").json()
    assert [c["id"] for c in pending] == [change["id"]]
    ok = call("post", f"{URL}/changes/{change['id']}/approve", "approver_bj", {"note": "fine"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    line = call("get", f"{URL}/{change['line_id']}", "officer_bj").json()
    assert line["status"] == "active" and line["available"] == "80000.00" and line["state"] == "active"
    assert line["sub_limits"] == [{"product": "consumer", "amount": "50000.00", "reserved": "0.00", "used": "0.00",
                                   "available": "50000.00"}]
    assert call("get", f"{URL}/{change['line_id']}", "officer_sh").status_code == 404
    inc = call("post", f"{URL}/{line['id']}/changes", "officer_bj", {"kind": "increase", "amount": "90000.00",
                                                                     "reason": "more business"})
    assert inc.status_code == 201 and inc.json()["kind"] == "increase"
    assert call("post", f"{URL}/changes/{inc.json()['id']}/reject", "approver_bj").json()["status"] == "rejected"
    mine = call("get", f"{URL}/mine", "customer")
    assert mine.status_code == 200 and mine.json()["available"] == "80000.00"
    assert [c["kind"] for c in call("get", f"{URL}/{line['id']}/changes", "risk").json()] == ["increase", "open"]


def test_bad_input_is_refused_naming_the_field(call, world, give_line):
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    r = call("post", URL, "officer_bj", {"customer_id": world["customers"][0], "amount": "10000.00",
                                         "expires_on": yesterday, "sub_limits": {"consumer": "20000.00"},
                                         "reason": "r"})
    assert r.status_code == 422
    assert _errors(r) == {"sub_limits.consumer": "sub_limit_above_line", "expires_on": "expiry_in_past"}
    r = call("post", URL, "officer_bj", {"customer_id": world["customers"][0], "amount": "ten", "expires_on": "soon",
                                         "reason": ""})
    assert r.status_code == 422 and set(_errors(r)) == {"amount", "expires_on", "reason"}
    line = give_line("50000.00")
    r = call("post", f"{URL}/{line.id}/changes", "officer_bj", {"kind": "grow", "reason": "r"})
    assert r.status_code == 422 and _errors(r) == {"kind": "unknown_kind"}
    r = call("post", f"{URL}/customers/{world['customers'][0]}/reduce", "risk", {"amount": "0", "reason": "r"})
    assert r.status_code == 422 and _errors(r) == {"amount": "not_positive"}


def test_a_risk_manager_freezes_at_once_and_the_customer_is_told(call, world, give_line):
    give_line("50000.00")
    r = call("post", f"{URL}/customers/{world['customers'][0]}/freeze", "officer_bj", {"reason": "r"})
    assert r.status_code == 403
    r = call("post", f"{URL}/customers/{world['customers'][0]}/freeze", "risk", {"reason": "fraud alert"})
    assert r.status_code == 200 and r.json()["state"] == "frozen" and r.json()["available"] == "0.00"
    assert call("get", f"{URL}/mine", "customer").json()["state"] == "frozen"
    assert call("get", f"{URL}?status=frozen", "approver_bj").json()[0]["freeze_reason"] == "fraud alert"
