"""The audit trail in a real browser: the auditor finds customer events; a loan officer has no menu item."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from creditplan.customers.services import create_customer
from factories import individual

pytestmark = pytest.mark.e2e


def test_auditor_sees_customer_created_and_officer_has_no_audit_menu(new_page, log_in, bank):  # type: ignore[no-untyped-def]
    wang = create_customer(bank["officer_bj"], individual(1, name="王小明"))

    auditor = new_page()
    log_in(auditor, "auditor")
    nav = auditor.get_by_role("navigation")
    expect(nav.get_by_role("link", name="客户", exact=True)).to_be_visible()
    nav.get_by_role("link", name="审计追踪").click()
    expect(auditor.get_by_role("heading", name="审计追踪")).to_be_visible()
    event = auditor.get_by_role("row").filter(has_text="customer.created")
    expect(event).to_have_count(1)
    expect(event).to_contain_text(f"客户 {wang.id}")  # the record in words (its code is the filter link)
    expect(event).to_contain_text("officer_bj")

    auditor.get_by_placeholder("事件类型，如 customer.").fill("customer.updated")
    auditor.get_by_role("button", name="筛选").click()
    expect(auditor.get_by_role("row").filter(has_text="customer.created")).to_have_count(0)

    officer = new_page()
    log_in(officer, "officer_bj")
    nav = officer.get_by_role("navigation")
    expect(nav.get_by_role("link", name="客户", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="审计追踪")).to_have_count(0)
    response = officer.goto("/audit/")
    assert response is not None and response.status == 403
    expect(officer.get_by_role("heading", name="无权访问")).to_be_visible()
