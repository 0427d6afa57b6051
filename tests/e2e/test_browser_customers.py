"""Customers in a real browser: find one in Chinese and in English, create one through the form, branch scope."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from creditplan.customers.models import Customer
from creditplan.customers.services import create_customer, mask_id
from factories import individual, resident_id

pytestmark = pytest.mark.e2e


def row(page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("#rows").get_by_role("row", name=re.compile(text))


def test_officer_logs_in_and_finds_a_customer_in_chinese_then_english(page, log_in, bank):  # type: ignore[no-untyped-def]
    wang = create_customer(bank["officer_bj"], individual(1, name="王小明"))
    create_customer(bank["officer_bj"], individual(2, name="李四"))
    number = resident_id(1)

    log_in(page, "officer_bj")
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    addresses: list[str] = []
    page.on("request", lambda r: addresses.append(r.url))
    page.get_by_role("navigation").get_by_role("link", name="客户", exact=True).click()
    expect(page.get_by_role("heading", name="客户", exact=True)).to_be_visible()
    expect(row(page, "李四")).to_be_visible()  # the whole list before searching
    page.get_by_role("searchbox", name="查询").fill(number)  # HTMX live search (a POST), no submit
    expect(row(page, "李四")).to_have_count(0)
    expect(row(page, "王小明")).to_be_visible()
    page.get_by_role("searchbox", name="查询").fill("王小明")
    expect(row(page, "李四")).to_have_count(0)
    expect(row(page, "王小明")).to_be_visible()
    # the search text travels in the body: neither the address bar nor any request address holds it
    expect(page).to_have_url(re.compile(r"/customers/$"))
    assert not [a for a in addresses if number in a or "q=" in a], addresses

    row(page, "王小明").get_by_role("link", name="王小明").click()
    expect(page).to_have_url(re.compile(rf"/customers/{wang.id}/$"))
    expect(page.get_by_role("heading", name="王小明")).to_be_visible()
    id_row = page.locator("dt", has_text="居民身份证号码").locator("xpath=following-sibling::dd[1]")
    expect(id_row).to_contain_text(mask_id(number))
    expect(page.locator("main")).not_to_contain_text(number)

    page.get_by_label("语言").select_option("en")  # posts to /i18n/setlang/ and comes back to this page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(rf"/customers/{wang.id}/$"))
    expect(page.get_by_role("navigation").get_by_role("link", name="Customers", exact=True)).to_be_visible()
    id_row = page.locator("dt", has_text="Resident ID number").locator("xpath=following-sibling::dd[1]")
    expect(id_row).to_contain_text(mask_id(number))

    page.get_by_role("navigation").get_by_role("link", name="Customers", exact=True).click()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    page.get_by_role("searchbox", name="Search").fill("王小明")
    expect(row(page, "李四")).to_have_count(0)
    expect(row(page, "王小明")).to_be_visible()
    expect(page.locator("#rows")).to_contain_text("1 customer · page 1 of 1")


def test_form_keeps_input_and_shows_the_check_digit_error_next_to_the_field(page, log_in, bank):  # type: ignore[no-untyped-def]
    good = resident_id(3)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    log_in(page, "officer_bj")
    page.get_by_role("navigation").get_by_role("link", name="客户", exact=True).click()
    page.get_by_role("link", name="新建客户").click()
    expect(page.get_by_role("heading", name="新建客户")).to_be_visible()
    page.get_by_label("客户类型").select_option("company")  # only the fields of the chosen kind are shown
    expect(page.get_by_label("统一社会信用代码")).to_be_visible()
    expect(page.get_by_label("居民身份证号码")).to_be_hidden()
    page.get_by_label("客户类型").select_option("individual")
    expect(page.get_by_label("统一社会信用代码")).to_be_hidden()

    page.get_by_label("姓名/名称").fill("赵六")
    page.get_by_label("居民身份证号码").fill(bad)
    page.get_by_label("手机号码").fill("139 1234 5678")
    page.get_by_label("月收入（人民币元）").fill("8,000.00")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="创建").click()
    assert posted.value.status == 422

    error = page.locator("#id_id_number ~ ul.errorlist")  # in the same cell as the input
    expect(error).to_have_text("居民身份证号码校验码错误，请核对号码。")
    expect(page.locator("ul.errorlist")).to_have_count(1)
    expect(page.get_by_label("姓名/名称")).to_have_value("赵六")
    expect(page.get_by_label("居民身份证号码")).to_have_value(bad)
    expect(page.get_by_label("月收入（人民币元）")).to_have_value("8,000.00")
    assert Customer.objects.count() == 0

    page.get_by_label("居民身份证号码").fill(good)
    page.get_by_role("button", name="创建").click()
    expect(page).to_have_url(re.compile(r"/customers/\d+/$"))
    expect(page.get_by_role("heading", name="赵六")).to_be_visible()
    expect(page.get_by_text("客户“赵六”已创建。")).to_be_visible()
    expect(page.locator("main")).to_contain_text(mask_id(good))
    expect(page.get_by_role("row").filter(has_text="新建客户")).to_contain_text("officer_bj")  # its history
    created = Customer.objects.get()
    assert created.name == "赵六" and created.branch.code == "BJ01"
    assert page.url.endswith(f"/customers/{created.pk}/")


def test_shanghai_officer_cannot_find_or_open_a_beijing_customer(page, log_in, bank):  # type: ignore[no-untyped-def]
    wang = create_customer(bank["officer_bj"], individual(1, name="王小明"))
    log_in(page, "officer_sh")
    page.get_by_role("navigation").get_by_role("link", name="客户", exact=True).click()
    expect(page.locator("#rows")).to_contain_text("没有符合条件的客户。")
    with page.expect_response(lambda r: r.request.method == "POST" and "/customers/" in r.url):
        page.get_by_role("searchbox", name="查询").fill("王小明")
    expect(page.locator("#rows")).to_contain_text("没有符合条件的客户。")
    expect(row(page, "王小明")).to_have_count(0)

    response = page.goto(f"/customers/{wang.id}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("客户不存在，或不在您的管辖范围内。")
    expect(page.locator("main")).not_to_contain_text("王小明")


def test_an_identity_correction_is_asked_by_one_user_and_approved_by_another(new_page, log_in, bank):  # type: ignore[no-untyped-def]
    wang = create_customer(bank["officer_bj"], individual(1, name="王小明"))
    corrected = resident_id(7)
    officer = new_page()
    log_in(officer, "officer_bj")
    officer.goto(f"/customers/{wang.id}/")
    expect(officer.locator("dt", has_text="出生日期").locator("xpath=following-sibling::dd[1]")).to_contain_text(
        "与完整证件号码一同显示")  # not revealed: no birth date
    officer.get_by_role("link", name="更正身份信息").click()
    officer.get_by_label("更正后的居民身份证号码").fill(corrected)
    officer.get_by_label("更正原因（依据的证件或材料）").fill("录入错误，依据身份证原件")
    officer.get_by_role("button", name="提交审批").click()
    expect(officer.get_by_text("已申请更正身份信息，须由另一位用户批准。")).to_be_visible()
    expect(officer.get_by_role("status")).to_contain_text("等待另一位用户审批")

    ops = new_page()
    log_in(ops, "ops")
    ops.goto("/customers/")
    ops.get_by_role("link", name=re.compile("身份信息更正等待您审批")).click()
    item = ops.get_by_role("row").filter(has_text="王小明")
    expect(item).to_contain_text(mask_id(corrected))
    item.get_by_role("button", name="审批通过").click()
    expect(ops.get_by_text("身份信息更正已批准。")).to_be_visible()
    ops.goto(f"/customers/{wang.id}/")
    expect(ops.locator("dt", has_text="居民身份证号码").locator("xpath=following-sibling::dd[1]")).to_contain_text(
        mask_id(corrected))
    expect(ops.get_by_role("row").filter(has_text="身份信息已更正（已批准）")).to_contain_text("ops")


def test_the_pager_keeps_the_search_in_the_form_not_in_the_address(page, log_in, bank):  # type: ignore[no-untyped-def]
    from creditplan.customers.services import import_customers

    import_customers(None, [dict(individual(i, name=f"赵{i:02d}"), branch="BJ01") for i in range(1, 31)])
    create_customer(bank["officer_bj"], individual(40, name="李四"))
    log_in(page, "officer_bj")
    page.goto("/customers/")
    page.get_by_role("searchbox", name="查询").fill("赵")
    expect(page.locator("#rows")).to_contain_text("共 30 位客户 · 第 1 / 2 页")
    expect(row(page, "李四")).to_have_count(0)
    with page.expect_request(lambda r: r.method == "POST") as posted:
        page.get_by_role("button", name="下一页").click()
    assert "page=2" in (posted.value.post_data or "") and "q=%E8%B5%B5" in (posted.value.post_data or "")
    expect(page.locator("#rows")).to_contain_text("共 30 位客户 · 第 2 / 2 页")
    expect(row(page, "李四")).to_have_count(0)  # still the search for 赵
    expect(page).to_have_url(re.compile(r"/customers/$"))
