"""Issue 20 on the application pages: the list of applications pages, filters, sorts and exports (it stopped at
100); the case page's quota panel shows every measure that can refuse and the refusal names the quota and what is
left (it said 信贷计划额度不足 beside a panel showing 10 million available); codes shown as words (channel, outcome,
employment, history); decisive actions ask for a chosen reason; absurd incomes are refused on both forms."""

from __future__ import annotations

import csv
import io

import pytest
from application_data import GOOD, REFER

from creditplan.origination.models import Application

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def as_user(client, world):
    def login(username: str):
        client.force_login(world[username])
        return client

    return login


FORM = {"product": "consumer", "amount": "30000.00", "term": "12", "loan_purpose": "consumption",
        "monthly_income": "30,000.00", "monthly_debt_payments": "2000", "employment": "employed",
        "months_employed": "60", "housing": "own", "dependants": "1"}


# --- the list of applications ------------------------------------------------------------------------------

def test_the_list_of_applications_pages_past_the_first_page_and_counts_them_all(as_user, world, submit):
    refs = [submit(amount=f"{10_000 + i}.00").ref for i in range(27)]
    c = as_user("officer_bj")
    first = c.get("/applications/?view=all&per_page=25", **EN).content.decode()
    assert "Rows 1–25 of 27" in first and "Page 1 of 2" in first
    assert refs[-1] in first and refs[0] not in first  # newest first
    second = c.get("/applications/?view=all&per_page=25&page=2", **EN).content.decode()
    assert "Rows 26–27 of 27" in second and refs[0] in second and refs[1] in second
    cheapest = c.get("/applications/?view=all&per_page=25&sort=amount", **EN).content.decode()
    assert cheapest.index(refs[0]) < cheapest.index(refs[1])  # 10,000 before 10,001


def test_the_list_filters_by_status_channel_outcome_date_and_officer(as_user, world, submit):
    referred = submit(REFER)
    approved = submit(GOOD, channel="api")
    c = as_user("officer_bj")
    only = c.get("/applications/?view=all&status=referred", **EN).content.decode()
    assert referred.ref in only and approved.ref not in only
    api = c.get("/applications/?view=all&channel=api", **EN).content.decode()
    assert approved.ref in api and referred.ref not in api
    refer = c.get("/applications/?view=all&outcome=refer", **EN).content.decode()
    assert referred.ref in refer and approved.ref not in refer
    from django.utils import timezone

    today = timezone.localdate(referred.created_at).isoformat()  # the bank's day
    assert referred.ref in c.get(f"/applications/?view=all&date_from={today}&date_to={today}", **EN).content.decode()
    none = c.get("/applications/?view=all&date_from=2001-01-01&date_to=2001-01-31", **EN).content.decode()
    assert referred.ref not in none and "No application matches these filters." in none
    mine = c.get(f"/applications/?view=all&officer={world['officer_bj'].pk}", **EN).content.decode()
    assert referred.ref in mine
    assert approved.ref not in c.get("/applications/?view=all&officer=999999", **EN).content.decode()
    bad = c.get("/applications/?view=all&status=nonsense&date_from=soon")
    html = bad.content.decode()
    alerts = [a.split("</div>")[0] for a in html.split('role="alert">')[1:]]
    assert bad.status_code == 422 and any("请从列表中选择状态" in a for a in alerts)
    assert any("日期" in a for a in alerts) and not any("nonsense" in a or "soon" in a for a in alerts)


def test_the_list_exports_what_it_shows_in_words(as_user, world, submit):
    referred = submit(REFER)
    c = as_user("officer_bj")
    r = c.get("/applications/?view=all&export=csv", **ZH)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["申请", "提交时间"] and len(rows) == 2
    line = rows[1]
    assert referred.ref in line and "网点柜面" in line and "审批中" in line and "转人工审批" in line
    assert "branch" not in line and "referred" not in line and "refer" not in line  # labels, not codes
    x = c.get("/applications/?view=all&export=xlsx", **EN)
    assert x.status_code == 200 and "spreadsheetml" in x["Content-Type"]
    assert "Online" not in c.get("/applications/?view=all", **ZH).content.decode().split("<main")[1]


def test_a_customer_lists_only_their_own_applications(as_user, world, submit):
    own = submit(GOOD, customer=0)
    other = submit(GOOD, customer=1)
    page = as_user("customer").get("/applications/", **EN).content.decode()
    assert own.ref in page and other.ref not in page and "Rows 1–1 of 1" in page


# --- the case page ---------------------------------------------------------------------------------------

def _squeeze_balance(world, left_minor: int) -> None:
    """Leave `left_minor` of balance quota on the BJ quota, plenty of new-lending quota."""
    from creditplan.plans.models import Quota

    q = Quota.objects.get(plan_id=world["plan"].id, branch__code="BJ", product="")
    q.balance_limit_minor = q.outstanding_minor + q.reserved_minor + left_minor
    q.save(update_fields=["balance_limit_minor"])


def test_the_quota_panel_shows_the_balance_quota_that_refuses_and_the_refusal_names_it(as_user, world, submit):
    a = submit(amount="150000.00", term=36)  # referred: grade C above the automatic approval amount
    assert a.status == "referred"
    _squeeze_balance(world, 10_000_000)  # 100,000 yuan of balance left; the new-lending quota has millions
    c = as_user("approver_bj")
    page = c.get(f"/applications/{a.ref}/", **ZH).content.decode()
    panel = page.split('id="quota-panel"')[1].split("</section>")[0]
    assert "余额额度" in panel and "新增投放额度" in panel and "单一客户集中度限额" in panel
    assert "100,000.00" in panel and "超出：审批将被拒绝" in panel
    r = c.post(f"/applications/{a.ref}/approve/", {"approve-reason_code": "within_policy"}, **ZH)
    error = r.content.decode().split('id="action-error">')[1].split("</div>")[0]
    assert r.status_code >= 400
    assert "余额额度" in error and "100,000.00" in error and "150,000.00" in error
    assert Application.objects.get(ref=a.ref).status == "referred"


def test_the_case_page_says_codes_in_words(as_user, world, submit):
    a = submit({**REFER, "employment": "retired"})
    page = as_user("approver_bj").get(f"/applications/{a.ref}/", **ZH).content.decode()
    main = page.split("<main")[1]
    assert '<span class="muted">网点柜面 ·' in main  # channel "branch": the counter, not 所属机构 (the home branch)
    assert "退休" in main and "已停用" not in main  # employment "retired" is not a retired model
    assert "转人工审批" in main and ">refer<" not in main  # the automated decision's outcome
    assert "提交渠道：网点柜面" in main and "submitted via" not in main  # the history in words
    assert "自动决策" in main and "automated decision" not in main


def test_the_history_of_a_signed_contract_is_said_in_words():
    from django.utils import translation

    from creditplan.origination.labels import transition_text

    with translation.override("zh-hans"):
        assert transition_text("contract offered (SHA-256 0123456789abcdef…)") == \
            "已发出合同（SHA-256 指纹 0123456789abcdef…）"
        assert transition_text("approved (income_verified): ok").startswith("审批人批准")
        assert transition_text("my own words") == "my own words"  # data stays as written
    with translation.override("en"):
        assert transition_text("submitted via web") == "Submitted via channel: Online"


# --- decisive actions: a chosen reason and a confirmation ----------------------------------------------------

def test_approve_decline_and_withdraw_ask_for_a_chosen_reason(as_user, world, submit):
    a = submit(REFER)
    page = as_user("approver_ho").get(f"/applications/{a.ref}/", **ZH).content.decode()
    for form in ("approve-form", "decline-form", "withdraw-form"):
        if form == "withdraw-form":
            page = as_user("officer_bj").get(f"/applications/{a.ref}/", **ZH).content.decode()
        block = page.split(f'id="{form}"')[1].split("</form>")[0]
        assert 'data-confirm="确认' in page.split(f'id="{form}"')[1][:200]
        select = block.split("<select")[1].split("</select>")[0]
        assert " required" in select and select.split("<option")[1].startswith(' value=""')
        assert all("selected" not in o for o in select.split("<option")[2:])  # nothing preselected
    c = as_user("approver_ho")
    r = c.post(f"/applications/{a.ref}/decline/", {"decline-reason_code": ""}, **ZH)
    assert r.status_code == 422 and "请选择原因" in r.content.decode()
    assert Application.objects.get(ref=a.ref).status == "referred"
    r = as_user("officer_bj").post(f"/applications/{a.ref}/withdraw/", {"withdraw-reason": ""}, **ZH)
    assert r.status_code == 422 and Application.objects.get(ref=a.ref).status == "referred"
    r = as_user("officer_bj").post(f"/applications/{a.ref}/withdraw/", {"withdraw-reason": "better_offer"}, **ZH)
    assert r.status_code == 302 and Application.objects.get(ref=a.ref).status == "withdrawn"
    history = as_user("officer_bj").get(f"/applications/{a.ref}/", **ZH).content.decode()
    assert "客户已选择其他机构的贷款" in history and "better_offer" not in history.split("<main")[1]


# --- absurd inputs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("income", ["99,999,999,999,999,999,999,999", "9,999,999,999,999,999", "100000000000.01"])
def test_the_officer_form_refuses_an_absurd_income(as_user, world, income):
    c = as_user("officer_bj")
    r = c.post("/applications/new/", {**FORM, "customer_id": str(world["customers"][1]), "monthly_income": income,
                                      "idempotency_key": "absurd"}, **ZH)
    html = r.content.decode()
    assert r.status_code == 422 and "最多 100,000,000,000.00 元" in html
    assert Application.objects.count() == 0


def test_the_online_form_refuses_an_absurd_income(as_user, world):
    c = as_user("customer")
    r = c.post("/applications/apply/", {**FORM, "consent": "on", "monthly_income": "9,999,999,999,999,999",
                                        "idempotency_key": "web-absurd"}, **ZH)
    assert r.status_code == 422 and "最多 100,000,000,000.00 元" in r.content.decode()
    assert Application.objects.count() == 0
    start = c.get("/applications/apply/", **ZH)  # the stepwise form: the details step refuses it too
    assert start.status_code in (200, 302)


def test_the_api_refuses_an_absurd_stated_income(world):
    from creditplan.core.errors import ValidationError
    from creditplan.origination import services as origination

    with pytest.raises(ValidationError) as err:
        origination.submit_application(world["officer_bj"], customer_id=world["customers"][0], product="consumer",
                                       amount="30000.00", term=12, channel="branch",
                                       inputs={**GOOD, "monthly_income_minor": 10**27})
    assert err.value.problems[0].field == "inputs.monthly_income_minor"
    assert err.value.problems[0].code == "input_out_of_range"
    assert Application.objects.count() == 0
