"""Credit-line pages, in Chinese by default and in English: the list with its HTMX filter, proposing a line (bad
input shown next to its field, nothing written), a line's page with the change form whose fields follow the
kind chosen (HTMX), the approvals page deciding in place, the risk manager's freeze, the customer page (staff)
and the customer's own home page with the line available to them. No page shows a raw code."""

from __future__ import annotations

import re

import pytest
from line_data import EN, in_a_year

from creditplan.lines import services as lines
from creditplan.lines.models import CreditLine

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def as_user(client, world):
    def login(username: str):
        client.force_login(world[username])
        return client

    return login


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_the_list_speaks_chinese_and_filters_with_htmx(as_user, world, give_line):
    give_line("50000.00", customer=0)
    give_line("70000.00", customer=1)
    lines.freeze_line(world["risk"], world["customers"][1], "fraud alert")
    c = as_user("approver_bj")
    page = c.get("/lines/").content.decode()
    assert "授信额度" in page and "有效" in page and "已冻结" in page and "50,000.00" in page
    assert not re.search(r">\s*(active|frozen)\s*<", page)  # statuses in words, never codes
    rows = c.get("/lines/?status=frozen", **HX).content.decode()
    assert "<html" not in rows and "70,000.00" in rows and "50,000.00" not in rows
    assert re.search(r"<a[^>]*>授信额度</a>", c.get("/").content.decode())  # in the menu


def test_proposing_a_line_on_the_page(as_user, world):
    c = as_user("officer_bj")
    form = {"customer_id": str(world["customers"][0]), "amount": "50000.00", "expires_on": in_a_year(),
            "revolving": "yes", "reason": "年度授信", "sub_product_0": "consumer", "sub_amount_0": "60000.00"}
    r = c.post("/lines/new/", form)
    assert r.status_code == 422 and "分项额度不能高于其所属的授信额度" in r.content.decode()
    assert not CreditLine.objects.exists()
    r = c.post("/lines/new/", {**form, "sub_amount_0": "30000.00"})
    assert r.status_code == 302
    line = CreditLine.objects.get()
    assert line.status == "proposed" and r["Location"] == f"/lines/{line.id}/"
    page = c.get(r["Location"], **EN).content.decode()
    assert "Awaiting approval" in page and "New line" in page and "30,000.00" in page


def test_the_change_form_shows_the_fields_of_the_change_chosen(as_user, world, give_line):
    line = give_line()
    c = as_user("officer_bj")
    part = c.get(f"/lines/{line.id}/?part=change&kind=extend", **HX).content.decode()
    assert 'name="expires_on"' in part and 'name="amount"' not in part and "<html" not in part
    part = c.get(f"/lines/{line.id}/?part=change&kind=increase", **HX).content.decode()
    assert 'name="amount"' in part and 'name="expires_on"' not in part
    r = c.post(f"/lines/{line.id}/", {"kind": "reduce", "amount": "60000.00", "reason": "r"})
    assert r.status_code == 422 and "减额后的金额必须低于当前额度" in r.content.decode()
    r = c.post(f"/lines/{line.id}/", {"kind": "increase", "amount": "60000.00", "reason": "more"})
    assert r.status_code == 302 and lines.get_line(world["risk"], line.id).pending.kind == "increase"


def test_approving_in_place_and_maker_checker_on_the_page(as_user, world, give_line):
    line = give_line()
    change = lines.propose_change(world["approver_bj"], line.id, kind="increase", amount="60000.00", reason="more")
    own = as_user("approver_bj").get("/lines/approvals/").content.decode()
    assert f"/lines/changes/{change.id}/approve/" not in own  # the proposer is not offered the decision
    r = as_user("approver_bj").post(f"/lines/changes/{change.id}/approve/", {}, **HX)
    assert "另一位用户" in r.content.decode()  # …and told why if they post anyway
    c = as_user("risk")
    page = c.get("/lines/approvals/").content.decode()
    assert f"/lines/changes/{change.id}/approve/" in page and "提额" in page
    row = c.post(f"/lines/changes/{change.id}/approve/", {"note": "ok"}, **HX).content.decode()
    assert row.startswith("<tr") and "已批准" in row
    assert lines.get_line(world["risk"], line.id).amount_minor == 6_000_000


def test_a_risk_manager_freezes_on_the_line_page(as_user, world, give_line):
    line = give_line()
    assert "立即执行" not in as_user("approver_bj").get(f"/lines/{line.id}/").content.decode()
    c = as_user("risk")
    r = c.post(f"/lines/{line.id}/risk/", {"action": "freeze", "reason": "fraud alert"})
    assert r.status_code == 302
    page = c.get(f"/lines/{line.id}/").content.decode()
    assert "已冻结" in page and "fraud alert" in page


def test_the_customer_page_shows_the_line_and_the_customer_home_what_is_available(as_user, world, give_line,
                                                                                   apply):
    give_line("50000.00")
    apply("20000.00")
    staff = as_user("officer_bj").get(f"/customers/{world['customers'][0]}/").content.decode()
    assert 'id="customer-lines"' in staff and "50,000.00" in staff and "30,000.00" in staff
    other = as_user("officer_bj").get(f"/customers/{world['customers'][1]}/").content.decode()
    assert "提议授信" in other  # no line yet: the officer may propose one
    home = as_user("customer").get("/").content.decode()
    assert 'id="my-line"' in home and "可借额度：30,000.00 元" in _text(home)
    assert "Available to borrow: 30,000.00 yuan" in _text(as_user("customer").get("/", **EN).content.decode())
    lines.freeze_line(world["risk"], world["customers"][0], "fraud alert")
    assert "您的授信额度已冻结" in as_user("customer").get("/").content.decode()
