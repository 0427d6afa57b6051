"""Post-loan management in a real browser, in Chinese and in English (issue 17, acceptance): a customer with a credit
line misses a payment; the daily closes run the early-warning signals after each date, as the after-close run does,
until the customer turns red; the BJ01 loan officer finds the review task on the dashboard, records the visit and
freezes the line; the line shows frozen; the customer then applies online for more than what remains and is
declined, with the reason in the page's language."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from creditplan.lines import services as lines
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.risk.models import ReviewTask, WatchEntry
from creditplan.risk.services import signals

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))
from application_data import make_world  # noqa: E402

pytestmark = pytest.mark.e2e

WORDS = {
    "zh-CN": {
        "card": "项待处理的贷后检查", "level": "红色", "why": "进入预警名单", "channel": "渠道", "findings": "检查情况",
        "action": "处置措施", "record": "登记检查结果", "recorded": "检查结果已登记", "frozen_now": "额度已立即冻结。",
        "line": "查看授信额度", "frozen": "已冻结", "product": "产品", "amount": "金额（元）", "term": "期限（月）",
        "offer": "查看报价并继续", "purpose": "贷款用途", "income": "月收入（元）", "debt": "现有每月还款额（元）",
        "employment": "就业情况", "months": "现单位工作月数", "housing": "住房情况", "continue": "继续",
        "consent": "本人同意银行为本次申请核查本人资料及征信记录", "send": "提交申请", "declined": "已拒绝",
        "reason": "您的授信额度已冻结：解除冻结前不能审批新的贷款，请联系您的开户网点。"},
    "en-US": {
        "card": "open review task", "level": "Red", "why": "Entered the watch list", "channel": "Channel",
        "findings": "Findings", "action": "Action", "record": "Record the review", "recorded": "The review was recorded.",
        "frozen_now": "The line was frozen at once.", "line": "The credit line", "frozen": "Frozen",
        "product": "Product", "amount": "Amount (yuan)", "term": "Term (months)", "offer": "See my offer and continue",
        "purpose": "Purpose of the loan", "income": "Monthly income (yuan)",
        "debt": "Existing monthly debt payments (yuan)", "employment": "Employment",
        "months": "Months with current employer", "housing": "Housing", "continue": "Continue",
        "consent": "I agree that the bank checks my data and credit history for this application",
        "send": "Send application", "declined": "Declined",
        "reason": "Your credit line is frozen: no new loan can be approved on it until the bank lifts the freeze."},
}


@pytest.fixture
def red_customer(bank: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                 ) -> dict[str, Any]:
    """The origination world (the `customer` log-in is the first BJ01 customer); that customer gets a revolving line
    of 200,000.00 and a loan of 100,000.00 on it about five weeks ago, and never pays. The bank weighs rising days
    past due heavily (80: red on its own). Every date is closed with the risk run after it (indicators, signals, the
    review job), until the day after the missed instalment turns the customer red."""
    settings.CREDITPLAN_BUREAU_CLIENT = "application_data.bureau_client"
    settings.DOCUMENT_DIR = tmp_path / "documents"
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "indicators"  # what production runs after each close
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
    world = make_world(bank)
    customer = world["customers"][0]
    today = dt.date.today()
    start = today - dt.timedelta(days=35)
    clock = {"day": start}
    monkeypatch.setattr(loans_clock, "business_date", lambda: clock["day"])
    loans.set_lpr(world["risk"], tenor="1y", effective_date=start - dt.timedelta(days=30), rate="0.0345")
    change = lines.propose_line(world["officer_bj"], customer_id=customer, amount="200000.00",
                                expires_on=(today + dt.timedelta(days=365)).isoformat(), reason="年度授信")
    lines.decide_change(world["approver_bj"], change.id, approve=True, note="ok")
    loan = loans.disburse(None, customer_id=customer, product="consumer", amount="100000.00", term=12,
                          start_date=start)
    signals.set_weights(world["risk"], {"dpd_rising": 80})
    first_due = loan.installments.order_by("due_date").first().due_date
    assert first_due < today - dt.timedelta(days=1)
    day = start
    while not ReviewTask.objects.filter(customer_id=customer).exists():
        assert day < today, "the customer never turned red"
        clock["day"] = day
        cob.run_close(day)
        day += dt.timedelta(days=1)
    clock["day"] = day
    entry = WatchEntry.objects.get(customer_id=customer)
    assert entry.level == "red" and entry.entered_on == first_due + dt.timedelta(days=1)
    return {**world, "line_id": change.line_id, "loan": loan}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_a_customer_turns_red_the_officer_freezes_the_line_and_the_customer_cannot_borrow_more(
        new_page: Any, log_in: Any, red_customer: dict[str, Any], locale: str) -> None:
    w = WORDS[locale]
    officer = new_page(locale)
    log_in(officer, "officer_bj")
    card = officer.locator("#review-tasks-card")
    expect(card).to_contain_text(w["card"])
    expect(card.locator(".v")).to_have_text("1")
    card.click()
    tasks = officer.locator("#tasks")
    expect(tasks).to_contain_text(w["level"])
    tasks.locator("tbody tr").first.get_by_role("link").first.click()
    expect(officer).to_have_url(re.compile(r"/post-loan/\d+/$"))
    expect(officer.locator("#why")).to_contain_text(w["why"])
    form = officer.locator("#review-form")
    form.get_by_label(w["channel"]).select_option("visit")
    form.get_by_label(w["findings"]).fill("上门走访：经营停滞，客户承认资金链紧张 / visited: business stalled")
    form.get_by_label(w["action"]).select_option("freeze")
    form.get_by_role("button", name=w["record"]).click()
    expect(officer.locator(".msg.success")).to_contain_text(w["recorded"])
    expect(officer.locator("#review-result")).to_have_text(w["frozen_now"])
    officer.get_by_role("link", name=w["line"]).click()
    expect(officer.locator("h1 .badge")).to_have_text(w["frozen"])
    assert lines.get_line(red_customer["risk"], red_customer["line_id"]).state == "frozen"

    # the customer applies online for more than what remains (100,000.00 were left before the freeze)
    me = new_page(locale)
    log_in(me, "customer")
    me.goto("/applications/apply/")
    me.get_by_label(w["product"]).select_option("consumer")
    me.get_by_label(w["amount"]).fill("150000")
    me.get_by_label(w["term"]).fill("12")
    me.get_by_role("button", name=w["offer"]).click()
    me.get_by_label(w["purpose"]).select_option("consumption")
    me.get_by_label(w["income"]).fill("30000")
    me.get_by_label(w["debt"]).fill("2000")
    me.get_by_label(w["employment"]).select_option("employed")
    me.get_by_label(w["months"]).fill("60")
    me.get_by_label(w["housing"]).select_option("own")
    me.get_by_role("button", name=w["continue"]).click()
    me.get_by_label(w["consent"]).check()
    me.get_by_role("button", name=w["send"]).click()
    outcome = me.locator("#outcome")
    expect(outcome).to_contain_text(w["declined"])
    expect(outcome.locator(".reasons")).to_contain_text(w["reason"])
