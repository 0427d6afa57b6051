"""Credit-line pages, in Chinese by default and in English: the list with its HTMX filter, proposing a line (bad
input shown next to its field, nothing written), a line's page with the change form whose fields follow the
kind chosen (HTMX), the approvals page deciding in place, the risk manager's freeze, the customer page (staff)
and the customer's own home page with the line available to them. No page shows a raw code."""

from __future__ import annotations

import html
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


def test_sub_limits_and_what_occupies_the_line_show_the_product_by_its_name(as_user, world, give_line, apply):
    line = give_line("50000.00", sub_limits={"consumer": "30000.00"})
    apply("20000.00")
    lines.propose_change(world["officer_bj"], line.id, kind="sub_limits", sub_limits={"consumer": "40000.00"},
                         reason="more for consumption")
    for page in (as_user("approver_bj").get(f"/lines/{line.id}/").content.decode(),
                 as_user("approver_bj").get("/lines/approvals/").content.decode(),
                 as_user("approver_bj").get(f"/lines/{line.id}/", **EN).content.decode()):
        text = _text(page)
        assert "个人消费贷 40,000.00" in text  # the product's name (data), never its code
        assert not re.search(r"\bconsumer\b", text)
    detail = as_user("approver_bj").get(f"/lines/{line.id}/").content.decode()
    assert re.search(r"<td>个人消费贷</td><td><span class=\"badge", detail)  # the occupation's product


def test_approve_is_offered_only_within_the_users_authority(as_user, world, give_line, settings):
    settings.LINE_APPROVER_MAX_MINOR = 5_000_000  # an approver decides lines up to 50,000.00 yuan
    line = give_line("50000.00")
    up = lines.propose_change(world["officer_bj"], line.id, kind="increase", amount="60000.00", reason="more")
    page = as_user("approver_bj").get("/lines/approvals/").content.decode()
    assert f"/lines/changes/{up.id}/approve/" not in page  # the service would refuse: not offered
    assert f"/lines/changes/{up.id}/reject/" in page  # rejecting needs no authority over the amount
    assert "需由风险经理审批" in page  # …and says who may approve it
    assert "Approval needs a risk manager." in as_user("approver_bj").get("/lines/approvals/", **EN).content.decode()
    risk = as_user("risk").get("/lines/approvals/").content.decode()
    assert f"/lines/changes/{up.id}/approve/" in risk and "需由风险经理审批" not in risk
    assert lines.may_decide(world["risk"], up) and not lines.may_decide(world["approver_bj"], up)
    lines.decide_change(world["approver_bj"], up.id, approve=False, note="no")
    down = lines.propose_change(world["officer_bj"], line.id, kind="reduce", amount="40000.00", reason="less")
    page = as_user("approver_bj").get("/lines/approvals/").content.decode()
    assert f"/lines/changes/{down.id}/approve/" in page and "需由风险经理审批" not in page  # taking credit away
    assert "需由" not in as_user("officer_bj").get("/lines/approvals/").content.decode()  # no checker: no note


def test_a_reason_stored_in_both_languages_is_shown_in_the_pages_language(as_user, world, give_line):
    line = give_line("50000.00")
    both = '{"code":"warning_red","en":"Dynamic limit rules: Red warning level","zh":"动态额度规则：红色预警"}'
    lines.rule_change(world["customers"][0], kind="freeze", reason=both, at_once=True)
    zh = _text(as_user("approver_bj").get(f"/lines/{line.id}/").content.decode())
    en = html.unescape(_text(as_user("approver_bj").get(f"/lines/{line.id}/", **EN).content.decode()))
    assert "动态额度规则：红色预警" in zh and "Dynamic limit rules" not in zh and "warning_red" not in zh
    assert "Dynamic limit rules: Red warning level" in en and "动态额度规则" not in en and '"en"' not in en
    assert "银行规则" in zh and "the bank's rules" in en  # proposed by the rules, no person: never "system"
    assert not re.search(r">\s*system\s*<", zh)


def test_the_line_page_names_people_by_their_display_name_not_their_user_name(as_user, world, give_line):
    for username, name in (("officer_bj", "客户经理 张伟"), ("approver_bj", "审批人 刘洋")):
        world[username].display_name = name
        world[username].save(update_fields=["display_name"])
    line = give_line()
    page = _text(as_user("risk").get(f"/lines/{line.id}/").content.decode())
    assert "审批人 刘洋" in page and "客户经理 张伟" in page  # who approved the line and who proposed it
    assert "approver_bj" not in page and "officer_bj" not in page
    lines.propose_change(world["officer_bj"], line.id, kind="increase", amount="60000.00", reason="more")
    approvals = _text(as_user("risk").get("/lines/approvals/").content.decode())
    assert "客户经理 张伟" in approvals and "officer_bj" not in approvals
