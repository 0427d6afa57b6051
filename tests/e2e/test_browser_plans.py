"""Credit plan in a real browser: a planner creates a plan, splits it to two branches and activates it; an
approval reserves quota; the dashboard (filtered to the branch) shows the new utilisation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from creditplan.plans import services as plans

pytestmark = pytest.mark.e2e


def test_planner_creates_splits_activates_and_sees_utilisation(page, log_in, bank):  # type: ignore[no-untyped-def]
    year = dt.date.today().year
    log_in(page, "planner")
    page.get_by_role("navigation").get_by_role("link", name="信贷计划", exact=True).click()
    expect(page.get_by_role("heading", name="信贷计划", exact=True)).to_be_visible()
    page.get_by_role("link", name="新建计划").click()

    page.get_by_label("计划代码").fill(f"y{year}")
    page.get_by_label("计划名称").fill(f"{year} 年信贷计划")
    page.get_by_label("期间开始").fill(f"{year}-01-01")
    page.get_by_label("期间结束").fill(f"{year}-12-31")
    page.get_by_label("净资本（元）").fill("500,000,000.00")
    page.get_by_label("新增投放额度（元）").fill("100000000")
    page.get_by_label("余额额度（元）").fill("80000000")
    page.get_by_label("控制方式").select_option("hard")
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("heading", name=f"{year} 年信贷计划")).to_be_visible()
    expect(page.locator(".msg.success")).to_contain_text(f"y{year}")

    # split the whole-institution quota to BJ and SH with the split form
    expect(page.get_by_label("待拆分额度")).to_have_value(re.compile(r"\d+"))
    page.locator("[name=child-0-branch]").select_option("BJ")
    page.locator("[name=child-0-new_lending_limit]").fill("20000000")
    page.locator("[name=child-0-balance_limit]").fill("15000000")
    page.locator("[name=child-1-branch]").select_option("SH")
    page.locator("[name=child-1-new_lending_limit]").fill("30000000")
    page.locator("[name=child-1-balance_limit]").fill("25000000")
    page.locator("[name=child-1-control_mode]").select_option("soft")
    page.get_by_role("button", name="添加子额度").click()
    expect(page.locator(".msg.success")).to_contain_text("2")
    tree = page.get_by_role("table", name="额度树")
    expect(tree.get_by_role("row", name=re.compile("北京分行"))).to_contain_text("20,000,000.00")
    expect(tree.get_by_role("row", name=re.compile("上海分行"))).to_contain_text("柔性控制")
    page.get_by_role("button", name="启用").click()
    expect(page.locator("h1 .badge")).to_have_text("执行中")

    # the approval (origination will call this when an application is approved)
    plan = plans.list_plans(bank["planner"])[0]
    plans.reserve_quota(bank["approver_bj"], application_ref="APP-1", amount="2000000", branch="BJ01")

    page.reload()
    tree.get_by_role("link", name="北京分行").click()  # HTMX: the applications behind the quota
    expect(page.locator("#explain")).to_contain_text("APP-1")
    expect(page.locator("#explain")).to_contain_text("2,000,000.00")

    page.get_by_role("link", name="执行看板").click()
    expect(page).to_have_url(re.compile(rf"/plans/{plan.id}/dashboard/$"))
    page.get_by_label("所属机构", exact=True).select_option("BJ")  # the filter submits itself
    expect(page).to_have_url(re.compile(r"\?branch=BJ$"))
    expect(page.locator("#focus")).to_contain_text("北京分行")
    expect(page.locator("#card-utilisation")).to_have_text("10.0 %")
    expect(page.locator("#card-reserved")).to_have_text("2,000,000.00")
    expect(page.locator("#progress canvas")).to_have_count(1)  # ECharts drew the plan-vs-actual chart
    expect(page.locator("#bars canvas")).to_have_count(1)
