"""Issue 20, the page walk's findings on the application pages: a sent online form whose application is not named
on it gave a server error (500); someone else's form or application was refused in English on a Chinese page; the
demo's case histories said "demo history" on every page; the lists and the analytics named branches and products
in Chinese on English pages."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from creditplan.org.models import Branch
from creditplan.origination.models import ApplicationDraft, Transition

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def _main(response) -> str:
    html = response.content.decode()
    return html.split("<main", 1)[1].split("</main>", 1)[0] if "<main" in html else html


@pytest.fixture
def english_names(world):
    Branch.objects.filter(code="BJ").update(name_en="Beijing branch")
    Branch.objects.filter(code="BJ01").update(name_en="Beijing Haidian sub-branch")
    Branch.objects.filter(code="SH").update(name_en="Shanghai branch")
    Branch.objects.filter(code="SH01").update(name_en="Shanghai Pudong sub-branch")
    from creditplan.loans.models import Product

    Product.objects.filter(code="consumer").update(name_en="Personal consumer loan")


@pytest.mark.parametrize("headers, words", [(EN, "This application form was already sent"),
                                            (ZH, "此申请表已经提交")])
def test_a_sent_form_that_does_not_name_its_application_leads_to_the_customers_list_not_an_error(
        client, world, headers, words):
    now = timezone.now()
    ApplicationDraft.objects.create(token="sent-long-ago", user=world["customer"], channel="web", furthest_step=4,
                                    created_at=now, updated_at=now, submitted_at=now, application_ref="")
    client.force_login(world["customer"])
    r = client.get("/applications/apply/sent-long-ago/", **headers)
    assert r.status_code == 302 and r["Location"] == "/applications/"
    page = client.get(r["Location"], **headers)
    assert page.status_code == 200 and words in page.content.decode()


def test_someone_elses_form_is_refused_in_the_pages_language(client, world):
    now = timezone.now()
    ApplicationDraft.objects.create(token="the-customers-own", user=world["customer"], channel="web",
                                    created_at=now, updated_at=now)
    client.force_login(world["admin"])
    zh = client.get("/applications/apply/the-customers-own/", **ZH)
    assert zh.status_code == 404 and "没有该申请表" in _main(zh)
    assert "application form" not in _main(zh).lower()
    en = client.get("/applications/apply/the-customers-own/", **EN)
    assert en.status_code == 404 and "No such application form" in _main(en)


def test_an_application_a_customer_may_not_see_is_refused_in_chinese_on_a_chinese_page(client, world, submit):
    other = submit(customer=1)  # not the customer whose log-in is used
    client.force_login(world["customer"])
    r = client.get(f"/applications/{other.ref}/", **ZH)
    assert r.status_code == 404 and "没有该申请" in _main(r)
    assert "not found" not in _main(r) and other.ref not in _main(r)


def test_the_demo_history_says_each_step_in_the_pages_language(client, world):
    from creditplan.origination import labels
    from creditplan.origination.demo import seed_applications

    made, _ = seed_applications(count=40, drafts=0)
    assert made == 40
    assert not Transition.objects.filter(actor_name="demo").exists()
    assert not Transition.objects.filter(reason__icontains="demo").exists()
    from django.utils import translation

    with translation.override("zh-hans"):
        for reason in set(Transition.objects.values_list("reason", flat=True)):
            said = labels.transition_text(reason)
            assert not set(re.findall(r"\b[A-Za-z]{3,}\b", said)) - {"SHA", "API"}, (reason, said)
    reviewed = (Transition.objects.filter(actor_name="approver_bj", to_status__in=("approved", "declined"))
                .select_related("application").first())
    assert reviewed is not None  # a reviewer's step is made by an approver of the bank, by name
    with translation.override("zh-hans"):
        line = labels.transition_text(reviewed.reason)
    client.force_login(world["admin"])
    page = _main(client.get(f"/applications/{reviewed.application.ref}/", **ZH))
    assert line in page and "审批人" in line  # e.g. 审批人批准（符合政策）
    assert "demo" not in page and "history" not in page


def test_the_review_queue_names_branches_in_english_on_an_english_page(client, world, english_names, submit):
    from application_data import REFER

    submit(REFER)
    client.force_login(world["admin"])
    en = _main(client.get("/applications/", **EN))
    assert "Beijing Haidian sub-branch" in en and "Shanghai branch" in en
    assert not HAN.findall(en.replace(world["customer"].display_name, "")), HAN.findall(en)[:10]
    zh = _main(client.get("/applications/", **ZH))
    assert "北京海淀支行" in zh and "Beijing" not in zh


def test_the_analytics_name_branches_and_products_in_english_on_an_english_page(client, world, english_names,
                                                                                   submit):
    submit()
    client.force_login(world["admin"])
    en = _main(client.get("/applications/analytics/", **EN))
    table = en.split('id="by-branch"', 1)[1].split("</table>", 1)[0]
    assert "Beijing Haidian sub-branch" in table and "北京" not in table
    assert "Personal consumer loan" in en and "Shanghai branch" in en
    assert not HAN.findall(en), sorted(set(HAN.findall(en)))[:10]
    zh = _main(client.get("/applications/analytics/", **ZH))
    assert "北京海淀支行" in zh and "个人消费贷" in zh and "Beijing" not in zh
