"""Post-loan pages in Chinese and English (no English on a Chinese page, no raw code on any): the dashboard card and
the menu, the officer's task list and a task with the visit form (a freeze recorded, bad input refused field by field
in the page's language), the approver's branch view and assignment, the limit proposals with their reasons decided
in place."""

from __future__ import annotations

import datetime as dt
import html
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from creditplan.lines import services as lines
from creditplan.risk.models import LimitProposal, ReviewTask, WatchEntry
from creditplan.risk.services import limits, reviews, signals
from factories import PASSWORD

TESTS = Path(__file__).resolve().parents[1]
for folder in ("origination", "lines"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from line_data import in_a_year  # noqa: E402

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
RAW = re.compile(r"\b(warning_red|warning_orange|good_payer|dpd_30|past_due|no_change|behaviour_worse|risk_manager|"
                 r"loan_officer|nothing_to_cut|change_pending|already_frozen|dpd_rising|score_red)\b")


def visible(page: str) -> str:
    body = page.split("<main>", 1)[1].split("</main>", 1)[0]
    body = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def assert_chinese(page: str) -> None:
    assert not RAW.findall(visible(page)), RAW.findall(visible(page))
    users = {"officer_bj", "officer_bj2", "approver_bj", "risk", "system"}  # user names are data, not words
    words = set(re.findall(r"\b[A-Za-z][A-Za-z_]+\b", visible(page))) - {"consumer"} - users
    assert not words, sorted(words)


def assert_english(page: str) -> None:
    assert not RAW.findall(visible(page)), RAW.findall(visible(page))
    main = page.split("<main>", 1)[1]
    cells = re.findall(r"<(?:td|dd|option|th|span|li)\b[^>]*>\s*([^<]*?)\s*<", main)
    codes = {"watch", "disbursement", "annual", "pending", "applied", "skipped", "frozen", "keep", "reduce", "freeze",
             "collateral", "visit", "call", "orange", "red", "open", "done"}
    assert not [c for c in cells if c.strip() in codes], [c for c in cells if c.strip() in codes]


@pytest.fixture
def world(bank: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import application_data

    settings.CREDITPLAN_BUREAU_CLIENT = application_data.BUREAU
    settings.DOCUMENT_DIR = tmp_path / "documents"
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
    w = application_data.make_world(bank)
    change = lines.propose_line(w["officer_bj"], customer_id=w["customers"][0], amount="50000.00",
                                expires_on=in_a_year(), reason="年度授信")
    lines.decide_change(w["approver_bj"], change.id, approve=True, note="ok")
    from creditplan.customers.models import Customer

    cid, day = w["customers"][0], dt.date.today()
    entry = WatchEntry.objects.create(
        customer_id=cid, branch_id=Customer.objects.get(pk=cid).branch_id, entered_on=day, entry_level="red",
        level="red", peak_level="red", updated_on=day, reason={
            "score": 85, "rule": "score_red", "message_en": "Weighted score of 80 or more",
            "message_zh": "加权得分80分及以上", "signals": [{"code": "dpd_rising", "weight": 70, "figures": {
                "to": 20, "week": 13, "month": 0}}]})
    reviews.on_watch_changes(signals.WatchChanges(day, (signals.WatchChange(entry.pk, cid, "entered", "red", day),)))
    return {**w, "line_id": change.line_id, "task": ReviewTask.objects.get(customer_id=cid)}


def login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_the_officer_opens_the_task_from_the_dashboard_and_freezes_the_line_in_chinese(client, world):
    login(client, "officer_bj")
    home = client.get("/", **ZH).content.decode()
    assert 'id="review-tasks-card"' in home
    assert "1 项待处理的贷后检查 · 0 项已逾期，0 项已升级" in " ".join(visible(home).split()), visible(home)
    assert ">贷后检查<" in home  # the menu
    page = client.get("/post-loan/", **ZH)
    assert page.status_code == 200
    assert_chinese(page.content.decode())
    text = visible(page.content.decode())
    assert "张三1" in text and "预警名单" in text and "红色" in text
    task = world["task"]
    page = client.get(f"/post-loan/{task.pk}/", **ZH).content.decode()
    assert_chinese(page)
    text = visible(page)
    assert "进入预警名单：加权得分80分及以上" in text and "逾期天数由一个月前0天、一周前13天升至20天。" in text
    assert "客户所属机构的客户经理" in text
    assert "冻结额度" in page and "贷款重组" in page
    bad = client.post(f"/post-loan/{task.pk}/", {"contact_on": "", "channel": "visit", "findings": "",
                                                     "action": "reduce", "amount": "abc"}, **ZH)
    assert bad.status_code == 422
    assert_chinese(bad.content.decode())
    errors = visible(bad.content.decode())
    assert errors.count("此项为必填项。") == 2  # the date and the findings
    assert "金额格式不正确，例如 12345.67。" in errors
    assert ReviewTask.objects.get(pk=task.pk).status == "open"
    done = client.post(f"/post-loan/{task.pk}/", {
        "contact_on": dt.date.today().isoformat(), "channel": "visit", "findings": "企业停产，法人失联",
        "action": "freeze", "amount": ""}, **ZH, follow=True)
    text = visible(done.content.decode())
    assert "检查结果已登记" in text and "额度已立即冻结" in text and "企业停产，法人失联" in text
    assert_chinese(done.content.decode())
    assert lines.get_line(world["risk"], world["line_id"]).state == "frozen"


@pytest.mark.django_db
def test_the_pages_in_english_refuse_a_future_visit_naming_the_field(client, world):
    login(client, "officer_bj")
    task = world["task"]
    for url in ("/post-loan/", f"/post-loan/{task.pk}/", "/post-loan/?status=all"):
        page = client.get(url, **EN)
        assert page.status_code == 200, url
        assert_english(page.content.decode())
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    bad = client.post(f"/post-loan/{task.pk}/", {"contact_on": tomorrow, "channel": "call", "findings": "x",
                                                     "action": "keep"}, **EN)
    assert bad.status_code == 422
    assert "The visit or call cannot be after today" in visible(bad.content.decode())
    text = visible(client.get(f"/post-loan/{task.pk}/", **EN).content.decode())
    assert "Entered the watch list on" in text and "Weighted score of 80 or more" in text
    assert "Red" in text and "Watch list" in text


@pytest.mark.django_db
def test_the_approver_sees_the_branch_and_assigns_others_see_nothing(client, world):
    from creditplan.org import services as org

    officer2 = org.create_user(None, username="officer_bj2", password=PASSWORD, role="loan_officer",
                               branch_code="BJ01")
    task = world["task"]
    login(client, "approver_bj")
    page = client.get(f"/post-loan/{task.pk}/", **ZH).content.decode()
    assert 'id="assign"' in page and "officer_bj2" in page
    assert_chinese(page)
    done = client.post(f"/post-loan/{task.pk}/assign/", {"owner": officer2.pk}, **ZH, follow=True)
    assert "任务已指派给 officer_bj2" in visible(done.content.decode())
    client.logout()
    login(client, "officer_bj")
    assert client.get(f"/post-loan/{task.pk}/", **ZH).status_code == 404  # no longer theirs
    client.logout()
    login(client, "officer_sh")
    assert client.get(f"/post-loan/{task.pk}/", **ZH).status_code == 404
    client.logout()
    login(client, "planner")
    assert client.get("/post-loan/", **ZH).status_code == 403
    assert "/post-loan/" not in client.get("/", **ZH).content.decode()


@pytest.mark.django_db
def test_limit_proposals_show_their_reasons_and_an_approver_decides_in_place(client, world, monkeypatch):
    from creditplan.risk.domain.reviews import LimitFacts

    good = LimitFacts(warning=0, dpd=0, months_clean=12, months_on_book=12, behaviour_grade=1, behaviour_worse=False,
                      utilisation_pct=80)
    monkeypatch.setattr(limits, "customer_facts", lambda day, rows: ({r.customer_id: good for r in rows}, []))
    monkeypatch.setattr(limits, "policy", lambda: limits.rules.LimitPolicy(auto_increase_max=100_000))
    limits.run_limits(dt.date.today())
    p = LimitProposal.objects.get()
    assert (p.status, p.amount_after_minor) == ("pending", 6_000_000)  # +10,000.00 is above a 1,000.00 cap
    login(client, "approver_bj")
    page = client.get("/post-loan/limits/", **ZH).content.decode()
    assert_chinese(page)
    text = visible(page)
    assert "提高额度" in text and "按时还款：连续6个月以上无逾期" in text and "待审批" in text and "60,000.00" in text
    assert_english(client.get("/post-loan/limits/", **EN).content.decode())
    done = client.post(f"/post-loan/limits/{p.pk}/decide/", {"decision": "approve", "note": "经营稳定"}, **ZH,
                       follow=True)
    assert "调整建议已审批通过，并已通知客户" in visible(done.content.decode())
    assert lines.get_line(world["risk"], world["line_id"]).amount_minor == 6_000_000
    assert LimitProposal.objects.get().status == "approved"


@pytest.mark.django_db
def test_the_task_list_and_the_task_show_the_owner_by_name_not_by_user_name(client, world):
    officer = world["officer_bj"]
    officer.display_name = "王晓明"
    officer.save(update_fields=["display_name"])
    login(client, "approver_bj")
    for url in ("/post-loan/", f"/post-loan/{world['task'].pk}/"):
        text = visible(client.get(url, **ZH).content.decode())
        assert "王晓明" in text and "officer_bj" not in text, url


@pytest.mark.django_db
def test_a_limit_proposal_beyond_the_approvers_authority_offers_no_approve_and_says_who_may(client, world, settings,
                                                                                              monkeypatch):
    from creditplan.risk.domain.reviews import LimitFacts

    settings.LINE_APPROVER_MAX_MINOR = 5_000_000  # an approver decides lines up to 50,000.00 yuan
    good = LimitFacts(warning=0, dpd=0, months_clean=12, months_on_book=12, behaviour_grade=1, behaviour_worse=False,
                      utilisation_pct=80)
    monkeypatch.setattr(limits, "customer_facts", lambda day, rows: ({r.customer_id: good for r in rows}, []))
    monkeypatch.setattr(limits, "policy", lambda: limits.rules.LimitPolicy(auto_increase_max=100_000))
    limits.run_limits(dt.date.today())
    p = LimitProposal.objects.get()
    assert (p.status, p.amount_after_minor) == ("pending", 6_000_000)  # 60,000.00: above the approver's authority
    login(client, "approver_bj")
    page = client.get("/post-loan/limits/", **ZH).content.decode()
    assert 'value="approve"' not in page and 'value="reject"' in page
    assert "需由风险经理审批" in visible(page)
    assert_chinese(page)
    assert "Approval needs a risk manager." in visible(client.get("/post-loan/limits/", **EN).content.decode())
    client.logout()
    login(client, "risk")
    page = client.get("/post-loan/limits/", **ZH).content.decode()
    assert 'value="approve"' in page and "需由风险经理审批" not in visible(page)
