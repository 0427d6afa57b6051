"""Issue 20 §1, amounts bounded everywhere: the plan form and the quota-adjustment form refuse absurd amounts next to
their field, in the page's language and with the largest amount allowed — never a 500, and nothing is written.
(`POST /plans/new/` with a capital of 1e400 or a 27-digit quota, `POST /plans/1/adjustments/` with
99999999999999999999 or 1e30 were server errors; an amount a BIGINT holds but no bank has was accepted, and a limit
plus such an adjustment overflowed the database.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from creditplan.plans import services as plans
from factories import PASSWORD

TODAY = dt.date.today()
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
PLAN = {"code": "y2030", "name": "2030", "period_start": "2030-01-01", "period_end": "2030-12-31",
        "net_capital": "500000000", "new_lending_limit": "100000000", "balance_limit": "80000000",
        "control_mode": "hard"}


@pytest.fixture
def plan(bank):
    p = plans.create_plan(bank["planner"], code="y2026", name="2026", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="500000000",
                          new_lending_limit="100000000", balance_limit="80000000")
    plans.split_quota(bank["planner"], p.root.id, [{"branch": "BJ", "new_lending_limit": "20000000",
                                                     "balance_limit": "15000000"}])
    plans.activate_plan(bank["planner"], p.id)
    return p


def _client(username: str) -> Client:
    client = Client(raise_request_exception=False)
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.mark.parametrize("field, typed", [
    ("net_capital", "1e400"),
    ("new_lending_limit", "1" * 27),
    ("balance_limit", "1e30"),
    ("net_capital", "92233720368547758.07"),  # a BIGINT of fen: was accepted, and sums over it overflow
    ("new_lending_limit", "1000000000000000.01"),  # one fen above the ceiling (core.money.AMOUNT_CEILING_MINOR)
])
def test_the_plan_form_refuses_an_absurd_amount_next_to_its_field(bank, field, typed):
    client = _client("planner")
    response = client.post("/plans/new/", {**PLAN, field: typed}, **ZH)
    html = response.content.decode()
    assert response.status_code == 422, html[-2000:]
    assert f'value="{typed}"' in html  # what was typed is kept
    assert "1,000,000,000,000,000.00" in html or "1e" in typed  # the largest amount allowed, said
    assert "out of range" not in html and "is not an amount" not in html  # no English on the Chinese page
    assert plans.list_plans(bank["planner"]) == []


def test_the_plan_form_says_the_largest_amount_in_english_without_field_names(bank):
    client = _client("planner")
    html = client.post("/plans/new/", {**PLAN, "new_lending_limit": "9" * 27}, **EN).content.decode()
    assert "1,000,000,000,000,000.00" in html
    errors = html.split('class="errorlist"', 1)[1].split("<li>", 1)[1].split("</ul>", 1)[0]
    assert "1,000,000,000,000,000.00" in errors and "new_lending_limit" not in errors  # words, not the field's code


@pytest.mark.parametrize("typed", ["99999999999999999999", "1e30", "-1e30", "90000000000000000",
                                   "-90000000000000000"])
def test_an_absurd_adjustment_is_refused_not_a_server_error(bank, plan, typed):
    from creditplan.plans.models import Adjustment, Quota

    quota = Quota.objects.get(plan_id=plan.id, branch__code="BJ").pk
    client = _client("approver_bj")
    response = client.post(f"/plans/{plan.id}/adjustments/", {"quota": quota, "delta": typed, "reason": "x"}, **ZH)
    assert response.status_code == 422
    assert not Adjustment.objects.exists()


def test_a_large_but_real_amount_is_still_accepted(bank):
    """The ceiling is above any bank: a plan of 30 trillion yuan (a large bank's book) is created."""
    client = _client("planner")
    response = client.post("/plans/new/", {**PLAN, "net_capital": "4,000,000,000,000.00",
                                           "new_lending_limit": "30000000000000", "balance_limit": "30000000000000"})
    assert response.status_code == 302
    assert [p.code for p in plans.list_plans(bank["planner"])] == ["y2030"]
