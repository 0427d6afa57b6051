"""Every amount field of the plans pages is bounded and refused in the page's language with the field named (issue
20; helper A's tests/plans/test_bounds_20.py covers the four examples of the issue on the plan and adjustment forms).
Here: each field of the plan form in both languages, the split rows, transfers, the capital base, and the services
(the API and the Excel import go through them) holding the same bound (plans.domain.MAX_PLAN_AMOUNT_MINOR, 10^15
yuan). A refused amount writes nothing: no plan, no quota, no request, no transfer, no capital base, no target."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from creditplan.core.errors import ValidationError
from creditplan.org import services as org
from creditplan.plans import services as plans
from creditplan.plans.models import Adjustment, CapitalBase, Plan, Quota, Target, Transfer
from factories import PASSWORD

TODAY = dt.date.today()
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
HUGE = ["1e400", "9" * 27, "1e30", "10000000000000000"]  # the last: 10^16 yuan, a BIGINT of fen holds it


def rows() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Plan, Quota, Adjustment, Transfer, CapitalBase, Target)}


def errors(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", e).strip() for e in re.findall(r'class="errorlist[^>]*>(.*?)</ul>', html, re.S)]


@pytest.fixture
def plan(bank):
    p = plans.create_plan(bank["planner"], code="y-bounds", name="界限", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="500000000",
                          new_lending_limit="100000000", balance_limit="80000000")
    bj, sh = plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": "20000000", "balance_limit": "15000000"},
        {"branch": "SH", "new_lending_limit": "20000000", "balance_limit": "15000000"}])
    plans.activate_plan(bank["planner"], p.id)
    return {"id": p.id, "root": p.root.id, "bj": bj.id, "sh": sh.id}


def login(client, user: str):  # type: ignore[no-untyped-def]
    assert client.login(username=user, password=PASSWORD)
    return client


PLAN_FORM = {"code": "y2031", "name": "x", "period_start": "2031-01-01", "period_end": "2031-12-31",
             "net_capital": "500000000", "new_lending_limit": "1", "balance_limit": "1", "control_mode": "hard"}


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(("field", "zh_name", "en_name"), [
    ("net_capital", "净资本", "Net capital"), ("new_lending_limit", "新增投放额度", "New-lending quota"),
    ("balance_limit", "余额额度", "Balance quota")])
def test_a_plan_with_a_huge_amount_is_refused_naming_the_field(client, bank, field, zh_name, en_name, value):
    login(client, "planner")
    before = rows()
    zh = client.post("/plans/new/", dict(PLAN_FORM, **{field: value}), **ZH)
    assert zh.status_code == 422
    [problem] = errors(zh.content.decode())
    assert zh_name in problem and not re.search(r"[A-Za-z_]{3,}", problem), problem
    en = client.post("/plans/new/", dict(PLAN_FORM, **{field: value}), **EN)
    assert en.status_code == 422
    [problem] = errors(en.content.decode())
    assert problem.startswith(en_name) and "_" not in problem and not re.search(r"[\u4e00-\u9fff]", problem)
    assert rows() == before


def test_a_negative_quota_is_said_in_words_on_the_english_page(client, bank):
    """The services' English names the field by its code ("New_lending_limit cannot be negative"): the page says
    the plan table's sentence instead."""
    login(client, "planner")
    html = client.post("/plans/new/", dict(PLAN_FORM, new_lending_limit="-5"), **EN).content.decode()
    assert "A quota or amount cannot be negative." in errors(html) and "New_lending_limit" not in html


@pytest.mark.parametrize("value", ["-1e30", "-99999999999999999999", "-10000000000000000"])
def test_an_adjustment_giving_back_a_huge_amount_is_refused_in_both_languages(client, bank, plan, value):
    login(client, "approver_bj")
    before = rows()
    for lang, name in ((ZH, "新增投放额度调整"), (EN, "Change of the new-lending quota")):
        r = client.post(f"/plans/{plan['id']}/adjustments/", {"quota": plan["bj"], "delta": value, "reason": "多"},
                        **lang)
        assert r.status_code == 422
        [problem] = errors(r.content.decode())
        assert name in problem, problem
    assert rows() == before


def test_a_split_child_transfer_and_capital_base_with_a_huge_amount_are_refused(client, bank, plan):
    org.create_user(None, username="planner2", password=PASSWORD, role="planner", branch_code="HO",
                    display_name="planner2")
    login(client, "planner")
    before = rows()
    split = {"parent": plan["bj"], "child-TOTAL_FORMS": "1", "child-INITIAL_FORMS": "0",
             "child-0-branch": "BJ01", "child-0-new_lending_limit": "1e400", "child-0-balance_limit": "9" * 27}
    r = client.post(f"/plans/{plan['id']}/split/", split, **EN)
    assert r.status_code == 422
    found = " ".join(errors(r.content.decode()))
    assert "New-lending quota (yuan): not an amount" in found and "Balance quota (yuan): at most" in found
    r = client.post(f"/plans/{plan['id']}/transfers/", {"source": plan["bj"], "target": plan["sh"],
                                                        "measure": "new_lending", "amount": "1e30",
                                                        "reason": "x"}, **ZH)
    assert r.status_code in (200, 422) and "金额（元）" in " ".join(errors(r.content.decode()))
    r = client.post("/plans/capital-base/", {"amount": "99999999999999999999", "effective_from": TODAY.isoformat()},
                    **ZH)
    assert r.status_code == 422 and "资本净额" in " ".join(errors(r.content.decode()))
    assert rows() == before


@pytest.mark.parametrize("call", [
    lambda b, p: plans.request_adjustment(b["approver_bj"], p["bj"], "-10000000000000000", "x"),
    lambda b, p: plans.propose_capital_base(b["planner"], amount="10000000000000000", effective_from=TODAY),
    lambda b, p: plans.split_quota(b["planner"], p["bj"], [{"branch": "BJ01", "balance_limit": "10000000000000000"}]),
    lambda b, p: plans.add_target(b["planner"], p["id"], code="big", name="big", kind="min_amount",
                                  measure="balance", threshold="10000000000000000"),
])
def test_the_services_hold_the_same_bound(bank, plan, call):
    """The API and the Excel import go through the services: an amount a BIGINT holds but the plan does not."""
    before = rows()
    with pytest.raises(ValidationError) as info:
        call(bank, plan)
    assert info.value.code == "amount_out_of_range"
    assert rows() == before
