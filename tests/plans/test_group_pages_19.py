"""Issue 19 §2, the customer group pages and API: the groups with their whole-book exposure against the group limit
(15 % of the capital base in force), a group's members with their exposure, the maker-checker queue, the forms that
propose each change and the import of a file — in English and in Chinese, with relation types in words and identity
numbers never shown in clear.

The figures, by hand: capital base in force 400,000,000.00 yuan (approved, above the plan's 500,000,000.00), group
limit 15 % = 60,000,000.00. Group HX: 华信控股 (open approval 3,000,000.00) and 华信科技 (2,000,000.00); HX-LOG, inside
HX: 华信物流 (1,000,000.00). HX's tree: 6,000,000.00 = 10.0 % of the limit; HX's own members 5,000,000.00."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import Workbook

from creditplan.customers import groups
from creditplan.customers import services as customers
from creditplan.customers.models import CustomerGroup, GroupChange, GroupMember
from creditplan.ledger.models import Event
from creditplan.org import services as org
from creditplan.plans import services as plans
from factories import PASSWORD, company, individual, resident_id

TODAY = dt.date.today()
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture(autouse=True)
def _catalogue(compiled_catalogue: None) -> None:
    """Every page here is read in Chinese: the compiled catalogue first (tests/conftest.py)."""


def login(client, username: str):  # type: ignore[no-untyped-def]
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def world(bank):
    bank["risk2"] = org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager",
                                    branch_code="HO", display_name="risk2")
    officer = bank["officer_bj"]
    made = {
        "parent_co": customers.create_customer(officer, company(1, name="华信控股集团有限公司")),
        "sub_a": customers.create_customer(officer, company(2, name="华信科技有限公司")),
        "sub_b": customers.create_customer(officer, company(3, name="华信物流有限公司")),
        "wang": customers.create_customer(officer, individual(1, name="王大明")),
    }
    plan = plans.create_plan(bank["planner"], code="y-groups", name="集团测试计划",
                             period_start=TODAY.replace(month=1, day=1), period_end=TODAY.replace(month=12, day=31),
                             net_capital="500000000", new_lending_limit="100000000", balance_limit="100000000")
    plans.activate_plan(bank["planner"], plan.id)
    base = plans.propose_capital_base(bank["planner"], amount="400000000", effective_from=TODAY.replace(day=1))
    plans.decide_capital_base(bank["admin"], base.id, approve=True)
    risk, risk2 = bank["risk"], bank["risk2"]

    def ok(change):  # type: ignore[no-untyped-def]
        return groups.decide_change(risk2, change.id, approve=True)

    ok(groups.propose_change(risk, "create_group", {"code": "HX", "name": "华信集团"}))
    hx = CustomerGroup.objects.get(code="HX")
    ok(groups.propose_change(risk, "create_group", {"code": "HX-LOG", "name": "华信物流板块", "parent": hx.pk}))
    log = CustomerGroup.objects.get(code="HX-LOG")
    start = TODAY.replace(month=1, day=1).isoformat()
    for group, who in ((hx, "parent_co"), (hx, "sub_a"), (log, "sub_b")):
        ok(groups.propose_change(risk, "add_member", {"customer": made[who].id, "relation": "control",
                                                      "effective_from": start}, group_id=group.pk))
    for ref, who, amount in (("G-1", "parent_co", "3000000"), ("G-2", "sub_a", "2000000"),
                             ("G-3", "sub_b", "1000000")):
        plans.reserve_quota(bank["approver_bj"], application_ref=ref, amount=amount, branch="BJ01",
                            customer_ref=str(made[who].id))
    return {**bank, **made, "hx": hx, "log": log}


def _row(html: str, code: str) -> str:
    return re.search(rf"<tr>\s*<td[^>]*><a href=\"/plans/groups/\d+/\">{re.escape(code)}</a>.*?</tr>", html, re.S)[0]


def test_the_list_shows_each_tree_exposure_against_the_limit_in_both_languages(client, world):
    login(client, "risk")
    page = client.get("/plans/groups/", **EN).content.decode()
    assert "60,000,000.00" in page and "400,000,000.00" in page  # 15 % of the approved capital base
    top = _row(page, "HX")
    assert "华信集团" in top and ">3<" in top and "6,000,000.00" in top and "10.0 %" in top
    assert "counted in group HX" in _row(page, "HX-LOG")
    zh = client.get("/plans/groups/", **ZH).content.decode()
    assert "客户集团" in zh and "6,000,000.00" in zh and "60,000,000.00" in zh and "计入集团 HX" in zh
    assert "Group limit" not in zh and "counted in" not in zh
    # the plan list leads there
    assert "/plans/groups/" in client.get("/plans/", **EN).content.decode()


def test_a_group_page_shows_members_with_their_exposure_and_relation_in_words(client, world):
    login(client, "planner")
    url = f"/plans/groups/{world['hx'].pk}/"
    page = client.get(url, **EN).content.decode()
    members = page[page.index('id="members"'):page.index('id="children"')]
    assert "华信控股集团有限公司" in members and "3,000,000.00" in members and "2,000,000.00" in members
    assert company(1)["uscc"] in members and "Control (parent and subsidiaries)" in members
    assert "6,000,000.00" in page and "5,000,000.00" in page and "60,000,000.00" in page and "10.0 %" in page
    assert "HX-LOG" in page[page.index('id="children"'):]
    assert "Propose a new member" not in page  # a planner sees, a risk manager proposes
    zh = client.get(url, **ZH).content.decode()
    zh_members = zh[zh.index('id="members"'):zh.index('id="children"')]
    assert "控制关系（母子公司）" in zh_members and "Control" not in zh_members
    assert ">control<" not in zh and "Members" not in zh


def test_the_queue_lets_another_user_decide_and_never_shows_an_id_number(client, world):
    login(client, "risk")
    url = f"/plans/groups/{world['hx'].pk}/"
    response = client.post(f"{url}propose/add_member/", {
        "customer": resident_id(1), "relation": "family", "effective_from": TODAY.isoformat()}, **EN)
    assert response.status_code == 302
    change = GroupChange.objects.get(status="pending")
    queue = client.get("/plans/groups/changes/", **EN).content.decode()
    pending = queue[queue.index('id="pending"'):queue.index('id="decided"')]
    assert "王大明" in pending and "*" * 14 + resident_id(1)[-4:] in pending and "Family" in pending
    assert "Your proposal: another user decides." in pending and "/approve/" not in pending
    for page in (queue, client.get(url, **EN).content.decode()):
        assert resident_id(1) not in page
    refused = client.post(f"/plans/groups/changes/{change.id}/approve/", {"note": ""}, follow=True, **ZH)
    assert "双人复核：变更的提议人不能审批该变更。" in refused.content.decode()
    assert GroupChange.objects.get(pk=change.id).status == "pending"

    client.logout()
    login(client, "risk2")
    zh_queue = client.get("/plans/groups/changes/", **ZH).content.decode()
    assert "王大明" in zh_queue and "家族" in zh_queue and "/approve/" in zh_queue and "family" not in zh_queue
    done = client.post(f"/plans/groups/changes/{change.id}/approve/", {"note": "核对户口簿", "next": url})
    assert done.status_code == 302 and done["Location"] == url
    assert GroupMember.objects.filter(group=world["hx"], customer_id=world["wang"].id, relation="family").exists()
    assert "王大明" in client.get(url, **EN).content.decode().split('id="members"')[1]


@pytest.mark.parametrize(("lang", "expected"), [
    (EN, "The membership cannot end before it starts."),
    (ZH, "成员关系的终止日期不能早于生效日期。"),
])
def test_a_refused_member_is_explained_next_to_the_field_and_writes_nothing(client, world, lang, expected):
    login(client, "risk")
    url = f"/plans/groups/{world['hx'].pk}/propose/add_member/"
    response = client.post(url, {"customer": resident_id(1), "relation": "family",
                                 "effective_from": "2026-05-01", "effective_to": "2026-04-01"}, **lang)
    assert response.status_code == 422
    html = response.content.decode()
    assert expected in html and "effective_to_before_from" not in html
    assert resident_id(1) not in html  # the typed ID number is not sent back
    same = client.post(url, {"customer": world["sub_b"].id, "relation": "control",
                             "effective_from": TODAY.isoformat()}, **lang).content.decode()
    assert "HX-LOG" in same and ("by the same relation type" in same or "同一关系类型" in same)
    assert ">control<" not in same and "(control)" not in same
    assert not GroupChange.objects.filter(status="pending").exists()


def test_a_move_into_its_own_subgroup_is_refused_in_words(client, world):
    login(client, "risk")
    response = client.post(f"/plans/groups/{world['hx'].pk}/propose/set_parent/", {"parent": world["log"].pk}, **ZH)
    assert response.status_code == 422
    assert "集团不能包含自身" in response.content.decode()
    assert not GroupChange.objects.filter(kind="set_parent").exists()


def test_a_loan_officer_sees_the_groups_of_the_branch_but_proposes_nothing(client, world):
    login(client, "officer_bj")
    page = client.get("/plans/groups/", **EN).content.decode()
    assert "HX" in page and "Propose a new group" not in page and "Import group relations" not in page
    assert client.post("/plans/groups/new/", {"code": "X", "name": "x"}).status_code == 403
    assert client.get("/plans/groups/changes/").status_code == 403
    login(client, "officer_sh")
    assert "HX" not in client.get("/plans/groups/", **EN).content.decode().split('id="groups"')[1]
    missing = client.get(f"/plans/groups/{world['hx'].pk}/", **ZH)
    assert missing.status_code == 404 and "没有该集团，或该集团没有您所在机构的客户。" in missing.content.decode()


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(["group_code,group_name,parent_group,customer,relation,effective_from,effective_to", *rows])
            + "\n").encode()


def test_an_uploaded_file_becomes_proposed_changes_a_second_user_approves_at_once(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, "risk")
    data = _csv([f"WANG,王氏家族,,{resident_id(1)},亲属,2026-01-01,"])
    response = client.post("/plans/groups/import/", {"file": SimpleUploadedFile("家族.csv", data)}, **EN)
    assert response.status_code == 302 and response["Location"] == "/plans/groups/changes/"
    queue = client.get("/plans/groups/changes/", **EN).content.decode()
    assert "家族.csv:2" in queue and "Create group WANG 王氏家族" in queue
    client.logout()
    login(client, "risk2")
    batch = GroupChange.objects.filter(status="pending").first().batch
    assert client.post("/plans/groups/changes/file/approve/", {"batch": batch}).status_code == 302
    assert CustomerGroup.objects.get(code="WANG").members.get().customer_id == world["wang"].id


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_with_bad_rows_is_refused_with_each_line_and_reason_in_chinese(client, world, kind):
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = [
        ["DS", "鼎盛集团", "", str(world["wang"].id), "家族", "2026-01-01", ""],
        ["DS", "", "", resident_id(9), "家族", "2026-01-01", ""],  # nobody has this ID number
        ["DS", "", "", str(world["sub_a"].id), "控制", "2026-01-01", ""],  # already in HX by control
        ["DS", "", "HX-LOG", str(world["parent_co"].id), "朋友", "2026-01-01", ""],  # no such relation
    ]
    if kind == "csv":
        data = _csv([",".join(r) for r in rows])
    else:
        wb = Workbook()
        wb.active.append(["group_code", "group_name", "parent_group", "customer", "relation", "effective_from",
                          "effective_to"])
        for r in rows:
            wb.active.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    login(client, "risk")
    before = Event.objects.count()
    response = client.post("/plans/groups/import/", {"file": SimpleUploadedFile(f"bad.{kind}", data)}, **ZH)
    assert response.status_code == 422
    html = response.content.decode()
    table = html[html.index('id="import-problems"'):]
    found = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table)
    assert found == [
        ("3", "客户", "没有该客户号、身份证号码或统一社会信用代码对应的客户。"),
        ("4", "客户", "该客户已以同一关系类型属于集团 HX：每种关系类型下，一个客户只能属于一个集团。"),
        ("5", "关系", "不是有效的关系类型：控制、互保联保、同一实际控制人或家族。"),
    ]
    assert "bad." + kind in html and "3 行有误" in html
    assert not GroupChange.objects.filter(status="pending").exists()
    assert Event.objects.count() == before


def test_the_api_lists_groups_with_exposure_and_runs_the_maker_checker(client, world):
    login(client, "risk")
    listing = client.get("/api/v1/groups").json()
    hx = next(g for g in listing if g["code"] == "HX")
    assert (hx["exposure"], hx["limit"], hx["members"], hx["over_limit"]) == ("6000000.00", "60000000.00", 3, False)
    assert next(g for g in listing if g["code"] == "HX-LOG")["exposure"] is None
    detail = client.get(f"/api/v1/groups/{world['hx'].pk}").json()
    assert detail["tree_exposure"] == "6000000.00" and detail["members_exposure"] == "5000000.00"
    assert {m["customer_name"]: m["exposure"] for m in detail["members"]} == {
        "华信控股集团有限公司": "3000000.00", "华信科技有限公司": "2000000.00"}
    assert detail["limit"] == {"capital_base": "400000000.00", "source": "capital_base", "group_share_bp": 1500,
                               "limit": "60000000.00"}
    bad = client.post("/api/v1/groups/changes", {"kind": "set_parent", "group_id": world["hx"].pk,
                                                       "parent_id": world["log"].pk}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["code"] == "group_cycle"
    assert bad.json()["errors"][0]["field"] == "parent"
    made = client.post("/api/v1/groups/changes", {
        "kind": "add_member", "group_id": world["hx"].pk, "customer": resident_id(1), "relation": "family",
        "effective_from": TODAY.isoformat()}, content_type="application/json")
    assert made.status_code == 201 and made.json()["customer_identity"] == "*" * 14 + resident_id(1)[-4:]
    change_id = made.json()["id"]
    assert [c["id"] for c in client.get("/api/v1/groups/changes").json()] == [change_id]
    headed = client.post("/api/v1/groups/changes", {"kind": "create_group", "code": "WANG", "name": "王氏家族",
                                                    "head": world["wang"].id}, content_type="application/json")
    assert headed.status_code == 201 and headed.json()["group_code"] == "WANG"
    headed_id = headed.json()["id"]
    own = client.post(f"/api/v1/groups/changes/{change_id}/decision", {"approve": True},
                      content_type="application/json")
    assert own.status_code == 403 and own.json()["code"] == "maker_checker"
    client.logout()
    login(client, "risk2")
    done = client.post(f"/api/v1/groups/changes/{change_id}/decision", {"approve": True},
                       content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "approved"
    rejected = client.post(f"/api/v1/groups/changes/{headed_id}/decision", {"approve": False},
                           content_type="application/json")
    assert rejected.status_code == 422 and rejected.json()["errors"][0]["field"] == "note"
