"""The credit-plan API: create, split, reserve (hard → 409), consume, explain, and bad input naming the field."""

from __future__ import annotations

import datetime as dt

import pytest

from creditplan.ledger.models import Event
from creditplan.plans.models import Plan, Quota
from factories import PASSWORD

YEAR = dt.date.today().year


@pytest.fixture
def call(client, bank):
    tokens = {}

    def _call(method, path, user, body=None):
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD}, content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, **kw)
        return getattr(client, method)(path, body or {}, content_type="application/json", **kw)

    return _call


PLAN = {"code": "y", "name": "年度计划", "period_start": f"{YEAR}-01-01", "period_end": f"{YEAR}-12-31",
        "net_capital": "1000000000", "new_lending_limit": "10000000", "balance_limit": "9000000"}


def test_plan_flow_over_the_api(call):
    r = call("post", "/api/v1/plans", "planner", PLAN)
    assert r.status_code == 201, r.content
    plan_id, root = r.json()["id"], r.json()["root"]["id"]
    r = call("post", f"/api/v1/plans/quotas/{root}/split", "planner", {"children": [
        {"branch": "BJ", "new_lending_limit": "3000000", "balance_limit": "3000000"}]})
    assert r.status_code == 201, r.content
    bj = r.json()[0]["id"]
    assert call("post", f"/api/v1/plans/{plan_id}/activate", "planner").status_code == 200
    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "APP-9", "amount": "2500000.50", "branch": "BJ01"})
    assert r.status_code == 201 and r.json()["status"] == "reserved"
    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "APP-10", "amount": "600000", "branch": "BJ01"})
    assert r.status_code == 409 and r.json()["code"] == "quota_exceeded"
    r = call("post", "/api/v1/plans/reservations/APP-9/consume", "approver_bj", {"amount": "2000000"})
    assert r.json()["status"] == "consumed" and r.json()["outstanding"] == "2000000.00"
    r = call("get", f"/api/v1/plans/quotas/{bj}/reservations", "planner")
    assert [x["application_ref"] for x in r.json()] == ["APP-9"]
    q = {x["id"]: x for x in call("get", f"/api/v1/plans/{plan_id}/quotas", "planner").json()}
    assert q[bj]["consumed"] == "2000000.00" and q[bj]["available"] == "1000000.00" and q[bj]["reserved"] == "0.00"
    d = call("get", f"/api/v1/plans/{plan_id}/dashboard?branch=BJ", "planner").json()
    assert d["focus"]["consumed"] == 200_000_000 and d["series"]


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"new_lending_limit": "-1"}, "new_lending_limit", "negative_amount"),
    ({"period_end": f"{YEAR - 1}-01-01"}, "period_end", "end_before_start"),
    ({"net_capital": "abc"}, "net_capital", "amount_format"),
    ({"control_mode": "maybe"}, "control_mode", None),
])
def test_bad_plan_input_is_refused_and_nothing_written(call, change, field, code):
    call("get", "/api/v1/plans", "planner")  # log in first: issuing the token is itself an event
    before = (Plan.objects.count(), Quota.objects.count(), Event.objects.count())
    r = call("post", "/api/v1/plans", "planner", {**PLAN, **change})
    assert r.status_code == 422, r.content
    assert field in {e["field"] for e in r.json()["errors"]}
    if code:
        assert r.json()["errors"][0]["code"] == code
    assert (Plan.objects.count(), Quota.objects.count(), Event.objects.count()) == before


def test_overlapping_plan_and_unknown_dimension(call):
    root = call("post", "/api/v1/plans", "planner", PLAN).json()["root"]["id"]
    r = call("post", "/api/v1/plans", "planner", {**PLAN, "code": "y2", "period_start": f"{YEAR}-06-01"})
    assert r.status_code == 422 and r.json()["code"] == "overlapping_plan"
    for child, code in [({"branch": "NOPE"}, "unknown_branch"), ({"product": "mortgage"}, "unknown_product"),
                        ({"industry": "Z"}, "unknown_industry"), ({"region": "99"}, "unknown_region")]:
        before = Quota.objects.count()
        r = call("post", f"/api/v1/plans/quotas/{root}/split", "planner",
                 {"children": [{**child, "new_lending_limit": "1", "balance_limit": "1"}]})
        assert r.status_code == 422 and r.json()["code"] == code, r.content
        assert Quota.objects.count() == before
    assert call("post", "/api/v1/plans", "officer_bj", {**PLAN, "code": "z"}).status_code == 403
