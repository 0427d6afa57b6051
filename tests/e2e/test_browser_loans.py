"""Loans in a real browser: a loan officer opens the loan list, filters it by five-category class (HTMX), opens
a loan, sees its schedule and balance chart, posts a payment and sees the balances change; the schedule
calculator gives 4,745.37 a month for 1,000,000 yuan at 3.95 % over 360 months."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from creditplan.core.money import format_minor
from creditplan.customers import services as customers
from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.loans.models import Loan
from factories import individual

pytestmark = pytest.mark.e2e


CONSUMER = {"code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "max_term": 360,
            "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
            "late_fee": "50.00"}


@pytest.fixture
def late_and_current(bank: dict[str, Any]) -> dict[str, Any]:
    """Two loans 75 days old with nothing paid (关注, 45 days past due) and one 10 days old (正常), all in BJ01,
    with the daily close run for every day since."""
    c1 = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    c2 = customers.create_customer(bank["officer_bj"], individual(2, branch="BJ01"))
    loans.create_product(bank["risk"], **CONSUMER)
    today = loans.business_date()

    def make(customer: int, amount: str, term: int, days_ago: int) -> Loan:
        return loans.disburse(None, customer_id=customer, product="consumer", amount=amount, term=term,
                              start_date=today - dt.timedelta(days=days_ago))

    late = make(c1.id, "12000.00", 12, 75)
    other = make(c2.id, "50000.00", 24, 75)
    current = make(c2.id, "8000.00", 6, 10)
    day = today - dt.timedelta(days=74)
    while day <= today:
        cob.run_close(day)
        day += dt.timedelta(days=1)
    return {"late": Loan.objects.get(pk=late.pk), "other": other, "current": current}


def test_officer_filters_opens_a_loan_and_posts_a_payment(page, log_in, late_and_current):  # type: ignore[no-untyped-def]
    late, current = late_and_current["late"], late_and_current["current"]
    assert late.risk_class == 2 and late.overdue_principal_minor > 0
    due = loans.balances(late).total_due_minor

    log_in(page, "officer_bj")
    page.get_by_role("navigation").get_by_role("link", name="贷款", exact=True).click()
    expect(page.get_by_role("heading", name="贷款", exact=True)).to_be_visible()
    rows = page.locator("#loan-table tbody")
    expect(rows.get_by_role("link", name=current.ref)).to_be_visible()
    expect(page.locator("#loan-totals")).to_contain_text("共 3 笔贷款")

    page.get_by_label("五级分类").select_option(label="关注")  # HTMX: the rows change, the URL can be bookmarked
    expect(rows.get_by_role("link", name=current.ref)).to_have_count(0)
    expect(rows.get_by_role("link", name=late.ref)).to_be_visible()
    expect(page).to_have_url(re.compile(r"risk_class=2"))
    expect(page.locator("#loan-totals")).to_contain_text("共 2 笔贷款")
    expect(page.locator("#loan-totals")).to_contain_text("62,000.00")

    rows.get_by_role("link", name=late.ref).click()
    expect(page).to_have_url(re.compile(rf"/loans/{late.ref}/$"))
    expect(page.get_by_role("heading", name=re.compile(late.ref))).to_be_visible()
    expect(page.locator("#loan-class")).to_have_text("关注")
    schedule = page.get_by_role("table", name="还款计划")
    expect(schedule.locator("tbody tr")).to_have_count(12)
    expect(schedule.locator("tbody tr").first).to_contain_text("980.22")
    expect(schedule.locator("tbody tr").first).to_contain_text("已到期")
    expect(page.locator("#balance-chart canvas")).to_have_count(1)  # ECharts drew the balance chart
    expect(page.locator("#card-outstanding")).to_have_text("12,000.00")
    expect(page.locator("#card-due")).to_have_text(format_minor(due))

    page.locator("#action-pay summary").click()
    expect(page.get_by_label("金额（元）").first).to_have_value(format_minor(due, grouping=False))
    page.get_by_role("button", name="入账").click()
    expect(page.locator(".msg.success")).to_contain_text("已入账")
    expect(page.locator("#card-due")).to_have_text("0.00")
    late.refresh_from_db()
    assert late.overdue_principal_minor == 0 and late.principal_outstanding_minor < 1_200_000
    expect(page.locator("#card-outstanding")).to_have_text(format_minor(late.principal_outstanding_minor))
    expect(page.get_by_role("table", name="还款记录")).to_contain_text("已入账")
    expect(schedule.locator("tbody tr").first).to_contain_text("已还")


def test_schedule_calculator(page, log_in, bank):  # type: ignore[no-untyped-def]
    log_in(page, "customer")  # any logged-in user
    page.get_by_role("navigation").get_by_role("link", name="还款计划试算", exact=True).click()
    page.get_by_label("金额（元）").fill("1,000,000")
    page.get_by_label("年利率（%）").fill("3.95")
    page.get_by_label("期数").fill("360")
    page.get_by_label("还款方式").select_option("equal-installment")
    page.get_by_role("button", name="计算").click()
    expect(page.locator("#first-payment")).to_have_text("4,745.37")
    expect(page.get_by_role("table", name="还款计划").locator("tbody tr")).to_have_count(360)
    expect(page.locator("#calc-chart canvas")).to_have_count(1)

    page.get_by_label("期数").fill("0")
    page.get_by_role("button", name="计算").click()
    expect(page.locator("#err-term")).to_be_visible()
    expect(page.get_by_label("金额（元）")).to_have_value("1,000,000")  # what was typed stays
