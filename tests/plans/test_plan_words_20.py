"""Issue 20, what the plan pages say: one label table (plans/labels.py) for levels, statuses, modes and roles;
quotas named by their branch's and dimensions' names in the page's language, never by a code; customer groups
with a Chinese and an English name; and a confirmation before every decisive plan action (activate the plan,
approve or reject a request, freeze a quota, change the month split)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from creditplan.customers import groups
from creditplan.customers.models import CustomerGroup
from creditplan.org import services as org
from creditplan.org.models import Branch
from creditplan.plans import labels
from creditplan.plans import services as plans
from factories import PASSWORD

TODAY = dt.date.today()
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def login(client, username: str):  # type: ignore[no-untyped-def]
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def plan(bank):
    Branch.objects.filter(code="BJ").update(name_en="Beijing branch")
    plans.add_dimension_code(bank["planner"], "product", "consumer", "个人消费贷", name_en="Consumer loan")
    p = plans.create_plan(bank["planner"], code="y-words", name="2026 年度信贷计划",
                          period_start=TODAY.replace(month=1, day=1), period_end=TODAY.replace(month=12, day=31),
                          net_capital="500000000", new_lending_limit="100000000", balance_limit="80000000")
    [bj] = plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": "40000000", "balance_limit": "30000000"}])
    plans.split_quota(bank["planner"], bj.id, [
        {"branch": "BJ", "product": "consumer", "new_lending_limit": "10000000", "balance_limit": "8000000"}])
    return p


@pytest.mark.parametrize(("kind", "code", "zh", "en"), [
    ("level", "head_office", "总行", "Head office"), ("level", "sub_branch", "支行", "Sub-branch"),
    ("role", "risk_manager", "风险经理", "Risk manager"), ("status", "active", "执行中", "Active"),
    ("status", "draft", "草稿", "Draft"), ("mode", "soft", None, "Soft")])
def test_one_label_table_says_each_code_in_the_pages_language(kind, code, zh, en):
    with translation.override("en"):
        assert labels.label(kind, code) == en
    with translation.override("zh-hans"):
        said = labels.label(kind, code)
        assert said != code and not said.isascii()
        if zh:
            assert zh in said


def test_a_quota_is_named_by_its_branch_and_product_in_the_pages_language(client, bank, plan):
    login(client, "planner")
    en = client.get(f"/plans/{plan.id}/", **EN).content.decode()
    assert "Beijing branch · product Consumer loan" in en and "北京分行" not in en
    zh = client.get(f"/plans/{plan.id}/", **ZH).content.decode()
    assert "北京分行 · 产品 个人消费贷" in zh
    assert "product consumer" not in en and "产品 consumer" not in zh  # the code itself is never the name


def test_activating_a_plan_asks_first_in_the_pages_language(client, bank, plan):
    login(client, "planner")
    zh = client.get(f"/plans/{plan.id}/", **ZH).content.decode()
    form = zh.split(f'action="/plans/{plan.id}/activate/"', 1)[1].split(">", 1)[0]
    assert 'data-confirm="确认启用计划 y-words？' in form
    en = client.get(f"/plans/{plan.id}/", **EN).content.decode()
    assert 'data-confirm="Activate plan y-words?' in en.split(f'action="/plans/{plan.id}/activate/"', 1)[1]
    assert 'src="/static/creditplan.js"' in en or "creditplan.js" in en  # the script that asks and disables


def test_decisive_plan_actions_ask_first(client, bank, plan):
    plans.activate_plan(bank["planner"], plan.id)
    bj = next(q for q in plans.plan_quotas(bank["planner"], plan.id) if q.branch == "BJ" and not q.product)
    plans.request_adjustment(bank["approver_bj"], bj.id, "1000000", "四季度需求")
    planner2 = org.create_user(None, username="planner2", password=PASSWORD, role="planner", branch_code="HO",
                               display_name="planner2")
    assert planner2
    login(client, "planner2")
    page = client.get(f"/plans/{plan.id}/adjustments/", **EN).content.decode()
    assert 'data-confirm="Approve this request? It takes effect at once."' in page
    assert 'data-confirm="Reject this request?"' in page
    detail = client.get(f"/plans/{plan.id}/", **ZH).content.decode()
    assert 'data-confirm="确认冻结额度' in detail
    periods = client.get(f"/plans/{plan.id}/periods/", **ZH).content.decode()
    assert 'data-confirm="确认修改计划的月度拆分' in periods


def test_a_group_has_an_english_name_shown_on_english_pages(client, bank):
    risk2 = org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager", branch_code="HO",
                            display_name="risk2")
    login(client, "risk")
    r = client.post("/plans/groups/new/", {"code": "HX", "name": "华信集团", "name_en": "Huaxin Group"}, **ZH)
    assert r.status_code == 302
    [pending] = groups.list_changes(risk2)
    assert pending.name_en == "Huaxin Group"
    groups.decide_change(risk2, pending.id, approve=True, note="")
    g = CustomerGroup.objects.get(code="HX")
    assert (g.name, g.name_en) == ("华信集团", "Huaxin Group")
    en = client.get("/plans/groups/", **EN).content.decode()
    zh = client.get("/plans/groups/", **ZH).content.decode()
    assert "Huaxin Group" in en and "华信集团" not in en
    assert "华信集团" in zh and "Huaxin Group" not in zh
    detail = client.get(f"/plans/groups/{g.pk}/", **EN).content.decode()
    assert "HX Huaxin Group" in detail
