"""Quota transfers (调剂) in a real browser, in Chinese and in English: a planner proposes moving 5,000,000 yuan of
new-lending quota from 北京分行 (20 m) to 上海分行 (30 m); a second planner approves it; the execution dashboard
then shows both quotas moved: 北京分行 15,000,000.00 and 上海分行 35,000,000.00."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from creditplan.org import services as org
from creditplan.plans import services as plans
from factories import PASSWORD

pytestmark = pytest.mark.e2e

WORDS = {
    "zh-CN": {"transfers": "额度调剂", "source": "调出额度", "target": "调入额度", "amount": "金额（元）", "reason": "原因",
              "propose": "提交调剂", "pending": "待审批", "approve": "审批通过", "applied": "已执行"},
    "en-US": {"transfers": "Quota transfers", "source": "From quota", "target": "To quota", "amount": "Amount (yuan)",
              "reason": "Reason", "propose": "Propose transfer", "pending": "Pending", "approve": "Approve",
              "applied": "Applied"},
}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_a_planner_proposes_another_approves_and_the_dashboard_shows_both_quotas_moved(
        new_page: Any, log_in: Any, bank: dict[str, Any], locale: str) -> None:
    w = WORDS[locale]
    org.create_user(None, username="planner2", password=PASSWORD, role="planner", branch_code="HO",
                    display_name="planner2")  # the fixtures' bank has one planner: maker-checker needs two
    today = dt.date.today()
    plan = plans.create_plan(bank["planner"], code="y-e2e", name="调剂计划", period_start=today.replace(month=1, day=1),
                             period_end=today.replace(month=12, day=31), net_capital="500000000",
                             new_lending_limit="100000000", balance_limit="80000000")
    bj, sh = plans.split_quota(bank["planner"], plan.root.id, [
        {"branch": "BJ", "new_lending_limit": "20000000", "balance_limit": "15000000"},
        {"branch": "SH", "new_lending_limit": "30000000", "balance_limit": "25000000"}])
    plans.activate_plan(bank["planner"], plan.id)

    maker = new_page(locale)
    log_in(maker, "planner")
    maker.goto(f"/plans/{plan.id}/")
    maker.get_by_role("link", name=w["transfers"]).click()
    expect(maker.get_by_role("heading", level=1)).to_contain_text(w["transfers"])
    maker.get_by_label(w["source"]).select_option(label="北京分行")
    maker.get_by_label(w["target"]).select_option(label="上海分行")
    maker.get_by_label(w["amount"], exact=True).fill("5,000,000")
    maker.get_by_label(w["reason"], exact=True).fill("上海分行四季度需求旺盛")
    maker.get_by_role("button", name=w["propose"]).click()
    expect(maker.locator(".msg.success")).to_be_visible()
    [t] = plans.list_transfers(bank["planner"], plan.id)
    row = maker.locator(f"tr[data-transfer='{t.id}']")
    expect(row).to_contain_text(w["pending"])
    expect(row).to_contain_text("5,000,000.00")
    expect(row.get_by_role("button", name=w["approve"])).to_have_count(0)  # maker-checker: not the proposer

    checker = new_page(locale)
    log_in(checker, "planner2")
    checker.goto(f"/plans/{plan.id}/transfers/")
    row = checker.locator(f"tr[data-transfer='{t.id}']")
    row.get_by_role("button", name=w["approve"]).click()
    expect(checker.locator(".msg.success")).to_contain_text("5,000,000.00")
    expect(checker.locator(f"tr[data-transfer='{t.id}']")).to_contain_text(w["applied"])

    checker.goto(f"/plans/{plan.id}/dashboard/")
    quotas = checker.locator("#quotas")
    expect(quotas.get_by_role("row", name=re.compile("北京分行"))).to_contain_text("15,000,000.00")
    expect(quotas.get_by_role("row", name=re.compile("上海分行"))).to_contain_text("35,000,000.00")
    if locale == "zh-CN":  # a Chinese page holds no English (the quota labels here are branch names)
        checker.goto(f"/plans/{plan.id}/transfers/")
        text = checker.locator("main").inner_text()
        assert not re.search(r"[A-Za-z]{3,}", text.replace("planner2", "").replace("planner", "")), text
    assert (bj.id, sh.id) == (t.source_id, t.target_id)
