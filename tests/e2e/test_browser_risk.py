"""Risk monitoring in a real browser, in Chinese and in English: the indicators run after the close find the NPL
ratio red and raise alerts; a risk manager sees them on the dashboard and the risk overview, drills down from the
alert to the loan behind it, acknowledges the alert and resolves it with a reason."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from creditplan.core.money import format_minor
from creditplan.customers import services as customers
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob, payments
from creditplan.loans import services as loans
from creditplan.risk import services as risk
from creditplan.risk.models import Alert
from factories import individual

pytestmark = pytest.mark.e2e

CONSUMER = {"code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
            "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
            "late_fee": "0", "penalty_markup_pct": 50, "max_backdate_days": 30}
START, LAST = dt.date(2025, 1, 15), dt.date(2025, 5, 20)


@pytest.fixture
def red_book(bank: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Four loans of 100,000 yuan from 15 January 2025, two in BJ01 and two in SH01; the second never pays. Closed
    day by day to 20 May with the indicators run at the end of April and on 20 May: the bad loan is 90+ days past
    due, the NPL ratio red, and its alerts raised."""
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "off"  # the indicators run on the two dates below, as `creditplan risk run` would
    today = {"day": START}
    monkeypatch.setattr(loans_clock, "business_date", lambda: today["day"])
    made = []
    for k, branch in enumerate(("BJ01", "BJ01", "SH01", "SH01"), start=1):
        officer = bank["officer_bj"] if branch == "BJ01" else bank["officer_sh"]
        made.append(customers.create_customer(officer, individual(k, branch=branch)).id)
    loans.create_product(bank["risk"], **CONSUMER)
    for tenor, rate in (("1y", "0.0345"), ("5y", "0.0395")):
        loans.set_lpr(bank["risk"], tenor=tenor, effective_date="2024-01-20", rate=rate)
    booked = [loans.disburse(None, customer_id=c, product="consumer", amount="100000.00", term=12, start_date=START)
              for c in made]
    risk.install_standard(None)
    payers = [booked[0], booked[2], booked[3]]
    day = START
    while day <= LAST:
        today["day"] = day
        for loan in payers:
            fresh = loans.get_loan(bank["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(bank["ops"], loan_ref=loan.ref, amount=format_minor(due, grouping=False),
                                      value_date=day, reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")
        cob.run_close(day)
        if day in (dt.date(2025, 4, 30), LAST):
            risk.run_indicators(day)
        day += dt.timedelta(days=1)
    today["day"] = day
    return {**bank, "bad": booked[1]}


def _handle(page: Any, row: Any, *, drill: str, ref: str, acknowledge: str, acknowledged: str, reason: str,
            resolve: str, resolved: str) -> None:
    """Open the alert of `row`, drill down to the loan behind it, come back, acknowledge, resolve with `reason`."""
    row.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/risk/alerts/\d+/$"))
    alert_url = page.url
    page.get_by_role("link", name=drill).click()
    expect(page).to_have_url(re.compile(r"/risk/loans/\?source=indicator"))
    loans_table = page.locator("#t-loans tbody")
    expect(loans_table.locator("tr")).to_have_count(1)  # the numerator's loans: the one that never paid
    loans_table.get_by_role("link", name=ref).click()
    expect(page).to_have_url(re.compile(rf"/loans/{ref}/$"))
    page.goto(alert_url)
    page.get_by_role("button", name=acknowledge).click()
    expect(page.locator("#alert-status")).to_have_text(acknowledged)
    page.locator("#id_reason").select_option(label=reason)
    page.locator("#id_note").fill("催收已介入 / collections engaged")
    page.get_by_role("button", name=resolve, exact=True).click()
    expect(page.locator("#alert-status")).to_have_text(resolved)
    expect(page.locator("#alert-resolution")).to_contain_text(reason)


def test_a_red_indicator_raises_an_alert_that_a_risk_manager_drills_acknowledges_and_resolves(
        new_page: Any, log_in: Any, red_book: dict[str, Any]) -> None:
    bad = red_book["bad"]
    npl = Alert.objects.filter(indicator__code="npl_ratio", rule_kind="red", status="open")
    assert {(a.dimension, a.member) for a in npl} >= {("total", ""), ("branch", "BJ01")}

    # in Chinese: from the dashboard to the alert of the whole institution
    page = new_page("zh-CN")
    log_in(page, "risk")
    expect(page.locator("#risk-alerts-card")).to_contain_text("红灯")
    page.get_by_role("navigation").get_by_role("link", name="风险监测", exact=True).click()
    expect(page.get_by_role("heading", name="风险监测", exact=True)).to_be_visible()
    expect(page.locator("#t-attention tbody tr").first.locator(".badge")).to_have_text("红灯")
    expect(page.locator("#t-attention")).to_contain_text("不良贷款率")
    expect(page.locator("#heat canvas")).to_have_count(1)  # ECharts drew the indicators × branches heat map
    page.locator("nav.risk-tabs").get_by_role("link", name="预警", exact=True).click()
    row = page.locator("#t-alerts tbody tr").filter(has_text="不良贷款率").filter(has_text="全行").first
    expect(row).to_contain_text("红灯")
    _handle(page, row, drill="查看贷款明细", ref=bad.ref, acknowledge="确认预警", acknowledged="已确认",
            reason="已采取措施", resolve="解决预警", resolved="已解决")
    expect(page.locator("#trend canvas")).to_have_count(1)  # the indicator's trend on the alert page

    # in English: the branch's alert
    page = new_page("en-US")
    log_in(page, "risk")
    page.get_by_role("navigation").get_by_role("link", name="Risk", exact=True).click()
    page.locator("nav.risk-tabs").get_by_role("link", name="Alerts", exact=True).click()
    row = page.locator("#t-alerts tbody tr").filter(has_text="NPL ratio").filter(has_text="BJ01").first
    expect(row).to_contain_text("Red")
    _handle(page, row, drill="The loans behind it", ref=bad.ref, acknowledge="Acknowledge",
            acknowledged="Acknowledged", reason="Within the risk appetite after review", resolve="Resolve",
            resolved="Resolved")

    done = {(a.dimension, a.member): a for a in Alert.objects.filter(indicator__code="npl_ratio", rule_kind="red")}
    assert (done["total", ""].status, done["total", ""].resolution) == ("resolved", "action_taken")
    assert (done["branch", "BJ01"].status, done["branch", "BJ01"].resolution) == ("resolved", "within_appetite")
    assert done["total", ""].acknowledged_by.username == "risk"
