"""Administration in a real browser (issue 20 §6): the administrator creates a user from the pages, in Chinese and
in English; the new user logs in with the temporary password, is sent to choose their own, then works."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from creditplan.org.models import User

pytestmark = pytest.mark.e2e


def _create(page, *, menu: str, new: str, username: str, role: str, branch: str, submit: str) -> str:  # type: ignore[no-untyped-def]
    page.get_by_role("navigation").get_by_role("link", name=menu).click()
    page.get_by_role("link", name=new, exact=True).click()
    page.locator("#id_username").fill(username)
    page.locator("#id_role").select_option(label=role)
    page.locator("#id_branch").select_option(value=branch)
    page.get_by_role("button", name=submit).click()
    temporary = page.get_by_test_id("temporary-password")
    expect(temporary).to_be_visible()
    return temporary.inner_text().strip()


def test_admin_creates_users_in_chinese_and_in_english_and_the_user_must_choose_a_password(
        new_page, log_in, bank) -> None:  # type: ignore[no-untyped-def]
    zh = new_page()
    log_in(zh, "admin")
    temp_zh = _create(zh, menu="系统管理", new="新建用户", username="teller_zh", role="客户经理", branch="BJ01",
                      submit="创建用户")
    expect(zh.get_by_role("heading", name="用户 teller_zh 已创建")).to_be_visible()
    expect(zh.locator("main")).to_contain_text("临时密码只显示这一次")

    en = new_page("en-US")
    log_in(en, "admin")
    temp_en = _create(en, menu="Administration", new="New user", username="teller_en", role="Loan officer",
                      branch="SH01", submit="Create user")
    expect(en.get_by_role("heading", name="User teller_en created")).to_be_visible()
    en.get_by_role("link", name="Users", exact=True).click()
    expect(en.get_by_role("row").filter(has_text="teller_en")).to_contain_text("Must change password")
    assert User.objects.get(username="teller_zh").branch.code == "BJ01"
    assert User.objects.get(username="teller_en").role == "loan_officer"
    assert temp_zh != temp_en

    user = new_page()
    user.goto("/login/")
    user.locator("#id_username").fill("teller_zh")
    user.locator("#id_password").fill(temp_zh)
    user.locator(".login button[type=submit]").click()
    expect(user.get_by_role("heading", name="修改密码")).to_be_visible()
    user.goto("/customers/")  # every other page sends the user back to choose a password
    expect(user).to_have_url(re.compile(r"/org/password/$"))
    user.locator("#id_current").fill(temp_zh)
    user.locator("#id_new").fill("my-own-secret-9")
    user.locator("#id_new2").fill("my-own-secret-9")
    user.get_by_role("button", name="修改密码").click()
    expect(user.locator(".msg.success")).to_contain_text("密码已修改")
    user.goto("/customers/")
    expect(user.get_by_role("heading", name="客户")).to_be_visible()
