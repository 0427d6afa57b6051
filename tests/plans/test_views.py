"""Credit-plan pages through Django's test client: permissions, rendering, form errors that write nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from creditplan.plans import services as plans
from factories import PASSWORD

TODAY = dt.date.today()
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def plan(bank):
    p = plans.create_plan(bank["planner"], code="y2026", name="2026 信贷计划", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="500000000",
                          new_lending_limit="100000000", balance_limit="80000000")
    return p


def login(client, username: str):  # type: ignore[no-untyped-def]
    assert client.login(username=username, password=PASSWORD)
    return client


def test_loan_officer_cannot_create_a_plan(client, bank, plan):
    login(client, "officer_bj")
    assert client.get("/plans/").status_code == 200  # may view
    response = client.get("/plans/new/")
    assert response.status_code == 403
    assert "permission_denied" in response.content.decode()
    response = client.post("/plans/new/", {"code": "x1", "name": "x", "period_start": "2030-01-01",
                                           "period_end": "2030-12-31", "net_capital": "1", "new_lending_limit": "1",
                                           "balance_limit": "1", "control_mode": "hard"})
    assert response.status_code == 403
    assert [p.code for p in plans.list_plans(bank["planner"])] == ["y2026"]
    assert client.post(f"/plans/{plan.id}/activate/").status_code == 403
    assert b"New plan" not in client.get("/plans/", **EN).content


def test_customer_cannot_see_plans(client, bank, plan):
    login(client, "customer")
    assert client.get("/plans/").status_code == 403


def test_pages_render_for_the_planner(client, bank, plan):
    plans.split_quota(bank["planner"], plan.root.id, [
        {"branch": "BJ", "new_lending_limit": "20000000", "balance_limit": "15000000"},
        {"branch": "SH", "new_lending_limit": "30000000", "balance_limit": "25000000", "control_mode": "soft"},
    ])
    plans.activate_plan(bank["planner"], plan.id)
    plans.reserve_quota(bank["approver_bj"], application_ref="APP-1", amount="2000000", branch="BJ01")
    login(client, "planner")
    listing = client.get("/plans/", **EN)
    assert listing.status_code == 200 and b"y2026" in listing.content and b"New plan" in listing.content
    assert b"100,000,000.00" in listing.content
    assert client.get("/plans/new/").status_code == 200
    detail = client.get(f"/plans/{plan.id}/", **EN).content.decode()
    assert "北京分行" in detail and "20,000,000.00" in detail and "2,000,000.00" in detail and "10.0 %" in detail
    bj = next(q for q in plans.plan_quotas(bank["planner"], plan.id) if q.branch == "BJ")
    fragment = client.get(f"/plans/{plan.id}/quotas/{bj.id}/", HTTP_HX_REQUEST="true").content.decode()
    assert "APP-1" in fragment and "<html" not in fragment
    assert "APP-1" in client.get(f"/plans/{plan.id}/quotas/{bj.id}/").content.decode()
    dash = client.get(f"/plans/{plan.id}/dashboard/?branch=BJ", **EN).content.decode()
    assert "10.0 %" in dash and "2,000,000.00" in dash and 'id="chart-data"' in dash
    whole = client.get(f"/plans/{plan.id}/dashboard/", **EN).content.decode()
    assert "Branch ranking" in whole and "上海分行" in whole
    assert client.get(f"/plans/{plan.id}/adjustments/").status_code == 200
    export = client.get(f"/plans/{plan.id}/export.xlsx")
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get(f"/plans/{plan.id}/dashboard/export.xlsx?branch=BJ").status_code == 200


def test_create_form_keeps_input_and_shows_errors_next_to_fields(client, bank):
    login(client, "planner")
    data = {"code": "y2027", "name": "2027", "period_start": "2027-01-01", "period_end": "2026-12-31",
            "net_capital": "500000000", "new_lending_limit": "-5", "balance_limit": "80000000", "control_mode": "hard"}
    response = client.post("/plans/new/", data, **EN)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="err-' in html and 'value="y2027"' in html and 'value="500000000"' in html
    assert plans.list_plans(bank["planner"]) == []
    data.update(period_end="2027-12-31", new_lending_limit="100000000")
    response = client.post("/plans/new/", data)
    assert response.status_code == 302
    assert [p.code for p in plans.list_plans(bank["planner"])] == ["y2027"]


def test_split_above_parent_shows_the_reason_and_writes_nothing(client, bank, plan):
    login(client, "planner")
    form = {"parent": plan.root.id, "child-TOTAL_FORMS": "3", "child-INITIAL_FORMS": "0",
            "child-0-branch": "BJ", "child-0-new_lending_limit": "60000000", "child-0-balance_limit": "10000000",
            "child-1-branch": "SH", "child-1-new_lending_limit": "50000000", "child-1-balance_limit": "10000000"}
    response = client.post(f"/plans/{plan.id}/split/", form, **EN)
    assert response.status_code == 422
    html = response.content.decode()
    assert "children&#x27;s new-lending quotas add up to 110,000,000.00 yuan, above the parent" in html
    assert 'value="60000000"' in html  # input kept
    assert len(plans.plan_quotas(bank["planner"], plan.id)) == 1
    zh = client.post(f"/plans/{plan.id}/split/", form).content.decode()
    assert "110,000,000.00" in zh
    form["child-1-new_lending_limit"] = "40000000"
    assert client.post(f"/plans/{plan.id}/split/", form).status_code == 302
    assert len(plans.plan_quotas(bank["planner"], plan.id)) == 3


def test_adjustment_request_and_maker_checker(client, bank, plan):
    bj, = plans.split_quota(bank["planner"], plan.root.id, [
        {"branch": "BJ", "new_lending_limit": "20000000", "balance_limit": "15000000"}])
    login(client, "approver_bj")
    response = client.post(f"/plans/{plan.id}/adjustments/", {"quota": bj.id, "delta": "5000000",
                                                               "reason": "strong pipeline"})
    assert response.status_code == 302
    (a,) = plans.list_adjustments(bank["planner"], plan.id)
    assert a.status == "pending" and a.delta_minor == 500_000_000
    client.logout()
    login(client, "planner")
    page = client.get(f"/plans/{plan.id}/adjustments/", **EN).content.decode()
    assert "Approve" in page and "strong pipeline" in page
    assert client.post(f"/plans/{plan.id}/adjustments/{a.id}/approve/", {"note": "ok"}).status_code == 302
    assert plans.list_adjustments(bank["planner"], plan.id)[0].status == "approved"
    assert plans.quota_states(plan.id)[bj.id].new_lending_limit == 2_500_000_000


@pytest.mark.parametrize(("typed", "chinese"), [
    ("100000000.001", "金额最多两位小数（分）。"),  # too_many_decimals (was the plans' own amount_precision)
    ("0", "金额必须大于零。"),  # not_positive (was zero_amount)
    ("1e8", "金额格式不正确，例如 12345.67。"),  # amount_format: no exponent notation
    ("", "此项为必填项。"),  # required (was amount_format)
])
def test_a_refused_amount_is_explained_in_chinese_next_to_its_field(client, bank, typed, chinese):
    """The unified money codes (issue 15) are translated on the plan form: no English and no raw code."""
    login(client, "planner")
    data = {"code": "y2027", "name": "2027", "period_start": "2027-01-01", "period_end": "2027-12-31",
            "net_capital": typed, "new_lending_limit": "100000000", "balance_limit": "80000000", "control_mode": "hard"}
    response = client.post("/plans/new/", data)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="err-net_capital"' in html and chinese in html
    assert "net_capital" not in html.split('id="err-net_capital"', 1)[1].split("</", 1)[0]
    assert plans.list_plans(bank["planner"]) == []
