"""The applications API end to end: submit (idempotent with Idempotency-Key), read, the queue, approve / decline /
request-info, the authority matrix and maker-checker as 403 problem+json, and bad input as 422 naming the field."""

from __future__ import annotations

import pytest
from application_data import GOOD, REFER

from creditplan.origination.models import Application
from factories import PASSWORD

URL = "/api/v1/applications"


@pytest.fixture
def call(client, world):
    tokens: dict[str, str] = {}

    def _call(method, path, user, body=None, **headers):
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}", **{f"HTTP_{k.upper().replace('-', '_')}": v
                                                                 for k, v in headers.items()}}
        if method == "get":
            return client.get(path, **kw)
        return client.post(path, body or {}, content_type="application/json", **kw)

    return _call


def _body(world, **change):
    return {"customer_id": world["customers"][0], "product": "consumer", "amount": "30000.00", "term": 12,
            "inputs": dict(GOOD), **change}


def test_submit_read_and_idempotent_resubmission(call, world):
    r = call("post", URL, "officer_bj", _body(world), **{"Idempotency-Key": "app-42"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "approved" and body["auto_approved"] and body["channel"] == "api"
    assert body["amount"] == "30000.00" and body["decision"]["outcome"] == "approve"
    assert body["decision"]["quota_status"] == "reserved" and body["decision"]["grade"] == "C"
    assert body["decision"]["approved_amount"] == "30000.00" and body["decision"]["installment"]
    assert r["Location"] == f"{URL}/{body['ref']}"
    again = call("post", URL, "officer_bj", _body(world), **{"Idempotency-Key": "app-42"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["ref"] == body["ref"] and Application.objects.count() == 1
    clash = call("post", URL, "officer_bj", _body(world, amount="31000.00"), **{"Idempotency-Key": "app-42"})
    assert clash.status_code == 409 and clash.json()["code"] == "idempotency_key_reused"
    got = call("get", f"{URL}/{body['ref']}", "approver_bj")
    assert got.status_code == 200 and got.json()["ref"] == body["ref"]
    assert call("get", f"{URL}/{body['ref']}", "officer_sh").status_code == 404
    assert call("get", f"{URL}/AP000", "approver_bj").json()["code"] == "application_not_found"
    listed = call("get", URL, "officer_bj").json()
    assert [x["ref"] for x in listed] == [body["ref"]]


def test_a_customer_applies_through_the_mobile_api(call, world):
    """The app's steps: an indicative offer, then the application with the applicant's consent."""
    r = call("get", f"{URL}/offer?product=consumer&amount=30000.00&term=12", "customer")
    offer = r.json()
    assert r.status_code == 200 and offer["indicative"] is True and offer["amount"] == "30000.00"
    assert offer["term"] == 12 and offer["rate"] == "0.0435" and offer["first_payment"] == "2559.30"
    r = call("get", f"{URL}/offer?product=consumer&amount=30000.00&term=999", "customer")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "term"
    r = call("post", URL, "customer", _body(world))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "consent"
    assert not Application.objects.exists()
    r = call("post", URL, "customer", _body(world, consent=True))
    assert r.status_code == 201 and r.json()["status"] == "approved" and r.json()["channel"] == "api"
    r = call("post", URL, "customer", _body(world, customer_id=world["customers"][1], consent=True))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer_id"


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"customer_id": 123456}, "customer_id", "unknown_customer"),
    ({"product": "nope"}, "product", "unknown_product"),
    ({"amount": "999999999"}, "amount", "amount_out_of_range"),
    ({"amount": 10.5}, "amount", None),  # refused by the schema: money is never a float
    ({"term": 0}, "term", "term_out_of_range"),
    ({"inputs": {"housing": "own"}}, "inputs.loan_purpose", "required"),
])
def test_bad_input_is_a_422_naming_the_field(call, world, change, field, code):
    r = call("post", URL, "officer_bj", _body(world, **change))
    assert r.status_code == 422, r.content
    assert r["Content-Type"] == "application/problem+json"
    errors = [{"field": e["field"], "code": e["code"] if code else None} for e in r.json()["errors"]]
    assert {"field": field, "code": code} in errors
    assert Application.objects.count() == 0


def test_malformed_bodies_never_500(call, world):
    for body in ({}, {"customer_id": "x"}, {"customer_id": 1, "product": None, "amount": [], "term": "x"},
                 _body(world, channel="carrier-pigeon"), _body(world, inputs="text")):
        r = call("post", URL, "officer_bj", body)
        assert r.status_code == 422, (body, r.content)
    r = call("post", f"{URL}/APX/approve", "approver_bj", {"reason_code": 7})
    assert r.status_code in (404, 422)


def test_missing_field_a_rule_needs_is_referred_not_approved(call, world, settings):
    settings.CREDITPLAN_BUREAU_CLIENT = ""  # no bureau: no flags (and the applicant cannot state them)
    r = call("post", URL, "officer_bj", _body(world))
    assert r.status_code == 201 and r.json()["status"] == "referred"
    assert any("bureau_flags" in x for x in r.json()["decision"]["reasons"])


def test_authority_matrix_and_maker_checker_over_the_api(call, world):
    ref = call("post", URL, "officer_bj", _body(world, amount="250000.00", term=36)).json()["ref"]
    r = call("post", f"{URL}/{ref}/approve", "approver_bj01", {"reason_code": "within_policy"})
    assert r.status_code == 403 and r["Content-Type"] == "application/problem+json"
    assert r.json()["code"] == "insufficient_authority" and "authority" in r.json()["detail"]
    r = call("post", f"{URL}/{ref}/approve", "officer_bj", {"reason_code": "within_policy"})
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = call("post", f"{URL}/{ref}/request-info", "approver_bj", {"reason_code": "employment", "note": "letter",
                                                                   "inputs": ["months_employed"]})
    assert r.status_code == 200 and r.json()["status"] == "info_requested"
    assert r.json()["requested_inputs"] == ["months_employed"]
    r = call("post", f"{URL}/{ref}/provide-info", "customer", {"inputs": {"months_employed": 72}})
    assert r.status_code == 200 and r.json()["status"] == "referred"
    r = call("post", f"{URL}/{ref}/approve", "approver_bj", {"reason_code": "within_policy"})
    assert r.status_code == 403 and r.json()["code"] == "maker_checker"
    r = call("post", f"{URL}/{ref}/approve", "approver_bj2", {"reason_code": "nonsense"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason_code"
    r = call("post", f"{URL}/{ref}/approve", "approver_bj2", {"reason_code": "income_verified", "note": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["decision"]["approvals"] == 1 and r.json()["decision"]["quota_status"] == "reserved"
    r = call("post", f"{URL}/{ref}/decline", "approver_ho", {"reason_code": "credit_history"})
    assert r.status_code == 409 and r.json()["code"] == "not_in_review"


def test_the_queue_and_decline_over_the_api(call, world):
    ref = call("post", URL, "officer_bj", _body(world, inputs=REFER)).json()["ref"]
    assert call("get", f"{URL}/queue", "approver_bj").json() == []
    rows = call("get", f"{URL}/queue?scope=all", "approver_bj").json()
    assert rows[0]["application"]["ref"] == ref and not rows[0]["may_approve"] and rows[0]["why_not"]
    rows = call("get", f"{URL}/queue?grade=E&min_amount=10000", "approver_ho").json()
    assert [x["application"]["ref"] for x in rows] == [ref] and rows[0]["customer_name"]
    assert call("get", f"{URL}/queue?max_amount=100", "approver_ho").json() == []
    assert call("get", f"{URL}/queue?min_amount=abc", "approver_ho").status_code == 422
    assert call("get", f"{URL}/queue", "customer").status_code == 403
    r = call("post", f"{URL}/{ref}/decline", "approver_ho", {"reason_code": "other", "note": "unstable income"})
    assert r.status_code == 200 and r.json()["status"] == "declined"
    r = call("post", f"{URL}/{ref}/withdraw", "customer", {})
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
