"""Issue 20 §3 in a real browser: operations open the daily close page, see the next date to close and its rule,
click the run button, confirm the question, and see the close done (the button gone, its report one click away);
the loan list sorts by a column header and offers its export."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from creditplan.customers import services as customers
from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.loans.models import CloseRun
from factories import individual

pytestmark = pytest.mark.e2e

CONSUMER = {"code": "consumer", "name": "个人消费贷", "name_en": "Personal consumer loan", "min_amount": "1000",
            "max_amount": "2000000", "max_term": 360, "method": "equal-installment", "day_count": "30/360",
            "rate": "0.0435", "grace_days": 3, "late_fee": "50.00"}


@pytest.fixture
def open_today(bank: dict[str, Any], settings: Any) -> dt.date:
    """A BJ01 loan 3 days old, closed through yesterday: today's close is the next one. The close runs in the
    request (the live server's test database is not shared with a background thread)."""
    settings.CLOSE_IN_BACKGROUND = False
    c = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    loans.create_product(bank["risk"], **CONSUMER)
    today = loans.business_date()
    loans.disburse(None, customer_id=c.id, product="consumer", amount="12000.00", term=12,
                   start_date=today - dt.timedelta(days=3))
    for back in (2, 1):
        cob.run_close(today - dt.timedelta(days=back))
    return today


def test_operations_run_the_close_from_its_page(page, log_in, open_today):  # type: ignore[no-untyped-def]
    log_in(page, "ops")
    page.goto("/loans/close/")
    control = page.locator("#close-control")
    expect(control.locator("#close-rule")).to_contain_text("记账日")
    # the click asks first (creditplan.js: data-confirm; the fixture's dialog handler confirms it)
    expect(control.locator("#close-start-form")).to_have_attribute("data-confirm", re.compile("日终"))
    control.locator("#close-start").click()
    expect(page.locator("#close-control #close-status")).to_contain_text("今日账务已关闭")
    expect(page.locator("#close-start")).to_have_count(0)
    assert CloseRun.objects.get(business_date=open_today).status == "done"
    page.locator("#close-last-report").click()
    expect(page).to_have_url(re.compile(f"/loans/close/{open_today.isoformat()}/$"))


def test_the_loan_list_sorts_by_a_column_and_exports(new_page, log_in, open_today):  # type: ignore[no-untyped-def]
    page = new_page("en-GB")
    log_in(page, "officer_bj")
    page.goto("/loans/")
    expect(page.locator("#loan-table")).to_contain_text("Personal consumer loan")
    page.locator("#loan-table thead a", has_text="DPD").click()
    expect(page.locator('#loan-table thead th[aria-sort="ascending"]')).to_have_count(1)
    expect(page.locator('a[href*="export=csv"]')).to_be_visible()
