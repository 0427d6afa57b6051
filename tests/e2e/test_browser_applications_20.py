"""Decisive actions on an application ask first (issue 20): declining needs a reason the approver chose (nothing is
preselected, the browser will not send the form without one), then a confirmation; dismissing it leaves the case
as it was, accepting it declines the case. The quota panel beside the actions names every measure that can
refuse."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from creditplan.origination.models import Application

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))
from application_data import REFER, make_world  # noqa: E402

pytestmark = pytest.mark.e2e


def test_decline_asks_for_a_chosen_reason_and_a_confirmation(browser, live_server, log_in, bank, settings):  # type: ignore[no-untyped-def]
    from creditplan.origination import services as origination

    settings.CREDITPLAN_BUREAU_CLIENT = "creditplan.origination.sources.demo_bureau"
    world = make_world(bank)
    a = origination.submit_application(world["officer_bj"], customer_id=world["customers"][0], product="consumer",
                                       amount="30000.00", term=12, inputs=dict(REFER), channel="branch")
    assert a.status == "referred"

    # a page of our own: the shared one accepts every question, this test answers them itself
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    questions: list[str] = []
    answer = {"accept": False}

    def on_dialog(dialog):  # type: ignore[no-untyped-def]
        questions.append(dialog.message)
        if answer["accept"]:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, "approver_ho")
    page.goto(f"/applications/{a.ref}/")
    expect(page.locator("#quota-measures")).to_contain_text("余额额度")
    form = page.locator("#decline-form")
    reason = form.locator("select")
    expect(reason).to_have_value("")  # nothing chosen for the approver

    form.get_by_role("button", name="拒绝").click()  # no reason: the browser refuses to send it, nothing asked
    assert questions == [] and Application.objects.get(ref=a.ref).status == "referred"

    reason.select_option("credit_history")
    form.get_by_role("button", name="拒绝").click()  # dismissed: nothing happens
    expect(page.locator("#decline-form")).to_be_visible()
    assert len(questions) == 1 and a.ref in questions[0] and "拒绝" in questions[0]
    assert Application.objects.get(ref=a.ref).status == "referred"

    answer["accept"] = True
    form.get_by_role("button", name="拒绝").click()  # accepted: declined
    expect(page.locator("#status")).to_have_text("已拒绝")
    assert len(questions) == 2 and Application.objects.get(ref=a.ref).status == "declined"
    context.close()
