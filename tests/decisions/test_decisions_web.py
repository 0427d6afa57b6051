"""Decisions over the JSON API (problem+json errors, four eyes, dry evaluation) and the pages (policy list,
version, grid editor, validation report, examples, simulation chart, a decision in plain words)."""

from __future__ import annotations

import json

import pytest
from decisions_data import GOOD

from creditplan.decisions import services
from creditplan.decisions.domain import defaults
from creditplan.decisions.models import Decision, PolicyVersion
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def call(client, world):  # type: ignore[no-untyped-def]
    tokens: dict[str, str] = {}

    def _call(method, path, user, body=None):  # type: ignore[no-untyped-def]
        if user not in tokens:
            pw = "test-pass-123" if user == "risk2" else PASSWORD
            r = client.post("/api/v1/auth/token", {"username": user, "password": pw}, content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, **kw)
        return getattr(client, method)(path, body or {}, content_type="application/json", **kw)

    return _call


def test_evaluate_over_the_api(call):
    body = {"product": "consumer", "branch": "BJ01", "amount": "50000.00", "term": 12, "inputs": GOOD}
    r = call("post", "/api/v1/decisions/evaluate", "officer_bj", body)
    assert r.status_code == 200, r.content
    d = r.json()
    assert (d["outcome"], d["score"], d["grade"], d["approved_amount"], d["rate"], d["installment"]) == (
        "approve", 560, "C", "50000.00", "0.044500", "4267.78")
    assert d["id"] is None and Decision.objects.count() == 0
    r = call("post", "/api/v1/decisions/evaluate", "officer_bj", {**body, "inputs": {"months_employed": 60, "housing": "own"}})
    assert r.json()["outcome"] == "refer" and "MISSING_FIELD" in r.json()["reason_codes"]
    r = call("post", "/api/v1/decisions/evaluate", "officer_bj", {**body, "amount": 12.5})
    assert r.status_code == 422 and r["content-type"] == "application/problem+json"
    r = call("post", "/api/v1/decisions/evaluate", "planner", body)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


def test_an_amount_the_money_edge_cannot_read_is_refused_by_name_over_the_api(call):
    """"5e4" was evaluated as 50,000 yuan and "-5" called not positive; each is refused with the code every app
    uses."""
    body = {"product": "consumer", "branch": "BJ01", "amount": "50000.00", "term": 12, "inputs": GOOD}
    for amount, code in (("5e4", "amount_format"), ("50,00,0", "amount_format"), ("-5", "negative_amount"),
                         ("0", "not_positive"), ("1.005", "too_many_decimals"), ("NaN", "not_finite")):
        r = call("post", "/api/v1/decisions/evaluate", "officer_bj", {**body, "amount": amount})
        assert r.status_code == 422, (amount, r.content)
        assert [(p["field"], p["code"]) for p in r.json()["errors"]] == [("amount", code)], amount
    r = call("post", "/api/v1/decisions/authority/check", "approver_bj",
             {"product": "consumer", "branch": "BJ01", "amount": "2e5", "grade": "C"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "amount_format"


def test_policy_upload_refused_with_reason_and_four_eyes_over_the_api(call):
    r = call("post", "/api/v1/decisions/policies", "risk", {"product": "consumer", "jdm": "{not json"})
    assert r.status_code == 422 and r.json()["code"] == "jdm_not_json"
    bad = defaults.default_policy("consumer")
    bad["nodes"][1]["content"]["rules"][0]["in_age"] = "<< 18"
    r = call("post", "/api/v1/decisions/policies", "risk", {"product": "consumer", "jdm": bad})
    assert r.status_code == 422 and r.json()["code"] == "jdm_invalid_expression"
    assert "<< 18" in r.json()["detail"] and r.json()["problems"]
    r = call("post", "/api/v1/decisions/policies", "risk", {"product": "consumer", "jdm": defaults.default_policy(
        "consumer"), "note": "same again"})
    assert r.status_code == 201, r.content
    vid = r.json()["id"]
    assert call("post", f"/api/v1/decisions/policies/versions/{vid}/validate", "risk").json()["status"] == "validated"
    assert call("post", f"/api/v1/decisions/policies/versions/{vid}/test", "risk").json() == []
    assert call("post", f"/api/v1/decisions/policies/versions/{vid}/submit", "risk").json()["status"] == "submitted"
    r = call("post", f"/api/v1/decisions/policies/versions/{vid}/approve", "risk")
    assert r.status_code == 409 and "four eyes" in r.json()["detail"]
    r = call("post", f"/api/v1/decisions/policies/versions/{vid}/approve", "risk2")
    assert r.status_code == 200 and r.json()["status"] == "published"
    listing = call("get", "/api/v1/decisions/policies", "auditor").json()
    assert listing[0]["published"]["id"] == vid
    assert call("get", f"/api/v1/decisions/policies/versions/{vid}/jdm", "risk").json()["nodes"]


def test_authority_check_and_decision_read_over_the_api(call, world, decide):
    d = decide("API-1")
    r = call("get", f"/api/v1/decisions/{d.id}", "officer_bj")
    assert r.status_code == 200 and r.json()["policy_label"] == "consumer v1"
    assert call("get", f"/api/v1/decisions/{d.id}", "officer_sh").status_code == 404  # another branch
    check = {"product": "consumer", "branch": "BJ01", "amount": "500000", "grade": "C"}
    assert call("post", "/api/v1/decisions/authority/check", "approver_bj", check).json()["may_approve"] is True
    r = call("post", "/api/v1/decisions/authority/check", "approver_bj", {**check, "grade": "E"})
    assert r.json()["may_approve"] is False and "riskier" in r.json()["reason"]
    r = call("post", "/api/v1/decisions/simulate", "risk", {"product": "consumer", "cutoff_shift": 100})
    assert r.status_code == 200 and r.json()["after"]["approved"] == 0 and r.json()["before"]["approved"] == 1


def login(client, username: str):  # type: ignore[no-untyped-def]
    assert client.login(username=username, password="test-pass-123" if username == "risk2" else PASSWORD)
    return client


def test_policy_pages_and_the_four_eyes_buttons(client, world):
    c = login(client, "risk")
    r = c.get("/decisions/", **EN)
    assert r.status_code == 200 and b"consumer" in r.content and b"Approval authority matrix" in r.content
    v1 = PolicyVersion.objects.get(number=1)
    r = c.get(f"/decisions/versions/{v1.id}/", **EN)
    assert r.status_code == 200 and b"Knock-outs" in r.content and b"Score cut-offs" in r.content
    r = c.post(f"/decisions/versions/{v1.id}/draft/")
    v2 = PolicyVersion.objects.get(number=2)
    assert r.status_code == 302 and r["Location"].endswith(f"/decisions/versions/{v2.id}/")
    grid = c.get(f"/decisions/versions/{v2.id}/tables/cutoffs/", **EN)
    assert grid.status_code == 200 and b"CUT_APPROVE_STD" in grid.content
    table = next(t for t in services.grid_of(world["risk"], v2.id) if t["id"] == "cutoffs")
    form = {"rows": str(len(table["rows"])), "hit_policy": "first"}
    for i, row in enumerate(table["rows"]):
        form[f"id-{i}"], form[f"desc-{i}"] = row["id"], row["description"]
        for j, x in enumerate(row["inputs"]):
            form[f"in-{i}-{j}"] = x
        for j, x in enumerate(row["outputs"]):
            form[f"out-{i}-{j}"] = x
    bad = {**form, "in-6-1": "> = 530"}
    r = c.post(f"/decisions/versions/{v2.id}/tables/cutoffs/", bad, **EN)
    assert r.status_code == 422 and b"not a valid expression" in r.content
    form["in-6-1"] = ">= 540"
    r = c.post(f"/decisions/versions/{v2.id}/tables/cutoffs/", form)
    assert r.status_code == 302
    assert '">= 540"' in json.dumps(services.version_document(world["risk"], v2.id))
    r = c.post(f"/decisions/versions/{v2.id}/validate/")
    assert r.status_code == 302 and r["Location"].endswith("/validation/")
    r = c.get(f"/decisions/versions/{v2.id}/validation/", **EN)
    assert b"passed" in r.content and b"Overlapping rules" in r.content
    r = c.post(f"/decisions/versions/{v2.id}/tests/", {"name": "owner", "expected": "approve",
                                                      "application": json.dumps({"amount_minor": 5_000_000, "term": 12,
                                                                                 "inputs": GOOD})})
    assert r.status_code == 302
    r = c.post(f"/decisions/versions/{v2.id}/tests/", {"run": "1"}, **EN)
    assert r.status_code == 200 and b"pass" in r.content
    c.post(f"/decisions/versions/{v2.id}/submit/")
    assert PolicyVersion.objects.get(pk=v2.id).status == "submitted"
    r = c.get(f"/decisions/versions/{v2.id}/", **EN)
    assert b"Approve and publish" not in r.content  # the author sees no approve button
    c.post(f"/decisions/versions/{v2.id}/approve/")  # and cannot approve by posting anyway
    assert PolicyVersion.objects.get(pk=v2.id).status == "submitted"
    c = login(client, "risk2")
    assert b"Approve and publish" in c.get(f"/decisions/versions/{v2.id}/", **EN).content
    c.post(f"/decisions/versions/{v2.id}/approve/")
    assert PolicyVersion.objects.get(pk=v2.id).status == "published"


def test_upload_page_refuses_bad_json_with_the_reason(client, world):
    c = login(client, "risk")
    r = c.post("/decisions/upload/", {"product": "consumer", "jdm_text": "{nope"}, follow=True, **EN)
    assert b"not valid JSON" in r.content and PolicyVersion.objects.count() == 1


def test_simulation_page_and_decision_page(client, world, decide):
    d = decide("PAGE-1")
    decide("PAGE-2", housing="rent", months_employed=24)
    c = login(client, "risk")
    r = c.get("/decisions/simulation/?product=consumer&shift=-15&run=1", **EN)
    assert r.status_code == 200 and b"sim-chart" in r.content and b"sim-data" in r.content
    assert b"PAGE-2" in r.content  # newly approved under the lower cut-off
    c = login(client, "officer_bj")
    r = c.get(f"/decisions/{d.id}/", **EN)
    assert r.status_code == 200 and b"Approve" in r.content and b"50,000.00" in r.content
    assert b"How the amount was worked out" in r.content and b"LPR 1y" in r.content
    r = c.get(f"/decisions/{d.id}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.status_code == 200 and "核定金额".encode() in r.content
    assert login(client, "officer_sh").get(f"/decisions/{d.id}/").status_code in (403, 404)
    assert login(client, "officer_bj").get("/decisions/").status_code in (302, 403)
