"""Application pages: the officer's branch form, the customer's online form with its instant outcome, the review
queue with HTMX filters, and the case page whose approve / decline forms only users who may decide see (and a
user without enough authority who posts anyway gets the refusal on the page, 403)."""

from __future__ import annotations

import re

import pytest
from application_data import GOOD, REFER

from creditplan.origination.models import Application

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def as_user(client, world):
    def login(username: str):
        client.force_login(world[username])
        return client

    return login


FORM = {"product": "consumer", "amount": "30000.00", "term": "12", "loan_purpose": "consumption",
        "monthly_income": "30,000.00", "monthly_debt_payments": "2000", "employment": "employed",
        "months_employed": "60", "housing": "own", "dependants": "1"}


def test_a_loan_officer_enters_an_application_at_the_branch(as_user, world, settings):
    settings.CREDITPLAN_BUREAU_CLIENT = "creditplan.origination.sources.demo_bureau"
    c = as_user("officer_bj")
    page = c.get("/applications/new/", **EN)
    assert page.status_code == 200 and b"Customer no." in page.content and b'name="idempotency_key"' in page.content
    r = c.post("/applications/new/", {**FORM, "customer_id": str(world["customers"][1]), "idempotency_key": "f-1"},
               **EN)
    assert r.status_code == 302, r.content.decode()[:2000]
    a = Application.objects.get()
    assert r["Location"] == f"/applications/{a.ref}/"
    assert a.channel == "branch" and a.status == "approved" and a.inputs["monthly_income_minor"] == 3_000_000
    assert a.inputs["existing_debt_service_minor"] == 200_000 and a.inputs["months_employed"] == 60
    page = c.get(r["Location"], **EN)
    assert b"approved straight through" in page.content and a.ref.encode() in page.content
    # the same form posted twice (double click, reload) makes one application
    r = c.post("/applications/new/", {**FORM, "customer_id": str(world["customers"][1]), "idempotency_key": "f-1"},
               **EN)
    assert r.status_code == 302 and Application.objects.count() == 1


def test_the_branch_form_shows_problems_next_to_the_fields_and_keeps_the_input(as_user, world):
    c = as_user("officer_bj")
    r = c.post("/applications/new/", {**FORM, "customer_id": "999999", "amount": "5", "monthly_income": "lots",
                                      "loan_purpose": ""}, **EN)
    assert r.status_code == 422
    html = r.content.decode()
    assert "Monthly income (&#x27;lots&#x27;) is not an amount like 12345.67" in html  # the edge's own words
    assert 'value="lots"' in html
    r = c.post("/applications/new/", {**FORM, "customer_id": "999999", "amount": "5", "loan_purpose": ""}, **EN)
    html = r.content.decode()
    assert r.status_code == 422 and "No such customer" not in html  # English page: the service's own words
    assert "No customer 999999" in html and "between" in html and "required" in html
    assert Application.objects.count() == 0
    assert as_user("approver_bj").get("/applications/new/").status_code == 403


def test_a_mistyped_income_is_refused_in_chinese_not_read_as_another_amount(as_user, world):
    """The money edge reads the form's amounts: "1e3" and "1,0,0" were read as 1,000 and 100 yuan of income,
    "NaN" was called negative; each is now refused next to its field, in the page's language, and nothing is
    created."""
    c = as_user("officer_bj")
    for field, typed, text in (("monthly_income", "1e3", "金额格式不正确"),
                               ("monthly_debt_payments", "1,0,0", "金额格式不正确"),
                               ("monthly_income", "NaN", "金额格式不正确"),
                               ("monthly_income", "-1", "金额不能为负数"),
                               ("monthly_debt_payments", "12.345", "金额最多两位小数")):
        r = c.post("/applications/new/", {**FORM, "customer_id": str(world["customers"][0]), field: typed})
        html = r.content.decode()
        assert r.status_code == 422 and text in html and f'value="{typed}"' in html, (field, typed)
    assert Application.objects.count() == 0


def test_a_customer_applies_online_and_sees_the_outcome_at_once(as_user, world, settings):
    settings.CREDITPLAN_BUREAU_CLIENT = "creditplan.origination.sources.demo_bureau"
    c = as_user("customer")
    page = c.get("/applications/apply/", **EN)
    assert page.status_code == 200 and b"Apply for a loan" in page.content and b"Customer no." not in page.content
    r = c.post("/applications/apply/", {**FORM, "idempotency_key": "web-1"}, **EN)
    assert r.status_code == 422 and b"Please agree" in r.content  # consent first
    r = c.post("/applications/apply/", {**FORM, "consent": "on", "idempotency_key": "web-1"}, **EN)
    assert r.status_code == 302
    a = Application.objects.get()
    assert a.channel == "web" and a.customer_id == world["customers"][0] and a.auto_approved
    outcome = c.get(r["Location"], **EN).content.decode()
    assert "Approved" in outcome and "30,000.00" in outcome and "Repayment per month" in outcome
    assert "Rules fired" not in outcome  # the customer sees the offer, not the bank's workings
    mine = c.get("/applications/", **EN).content.decode()
    assert a.ref in mine and "My applications" in mine
    assert c.get("/applications/new/").status_code == 403


def test_a_customer_without_a_record_is_told_to_visit_a_branch(client, world):
    from creditplan.org import services as org

    stranger = org.create_user(None, username="stranger", password="pass-word-1", role="customer")
    client.force_login(stranger)
    r = client.post("/applications/apply/", {**FORM, "consent": "on"}, **EN)
    assert r.status_code == 422 and b"visit a branch" in r.content


def test_the_queue_page_and_its_htmx_filters(as_user, world, submit):
    referred = submit(REFER)
    submit(amount="150000.00", term=36, customer=1)
    c = as_user("approver_ho")
    page = c.get("/applications/", **EN).content.decode()
    assert "Review queue" in page and referred.ref in page and page.count("You may approve") == 2
    rows = c.get("/applications/?grade=E", HTTP_HX_REQUEST="true", **EN).content.decode()
    assert "<html" not in rows and referred.ref in rows and rows.count("You may approve") == 1
    rows = c.get("/applications/?min_amount=oops", HTTP_HX_REQUEST="true", **EN).content.decode()
    assert 'role="alert"' in rows
    every = as_user("approver_bj01").get("/applications/?scope=all", **EN).content.decode()
    assert "does not cover this application" in every and "grade E" in every  # issue 20: words, not internals
    assert as_user("auditor").get("/applications/", **EN).status_code == 200  # a read-only list
    assert referred.ref in as_user("auditor").get("/applications/", **EN).content.decode()


def test_only_users_who_may_decide_see_the_forms_and_a_refusal_is_shown_on_the_page(as_user, world, submit):
    a = submit(amount="250000.00", term=36)  # grade C, above the sub-branch's authority
    weak = as_user("approver_bj01").get(f"/applications/{a.ref}/", **EN).content.decode()
    assert f'action="/applications/{a.ref}/approve/"' not in weak and "does not cover this application" in weak
    assert f'action="/applications/{a.ref}/request-info/"' in weak  # a reviewer still may ask for more
    r = as_user("approver_bj01").post(f"/applications/{a.ref}/approve/", {"approve-reason_code": "within_policy"},
                                      **EN)
    assert r.status_code == 403 and "does not cover this application" in r.content.decode()
    assert Application.objects.get(ref=a.ref).status == "referred"
    strong = as_user("approver_bj").get(f"/applications/{a.ref}/", **EN).content.decode()
    assert f'action="/applications/{a.ref}/approve/"' in strong and 'id="why-not"' not in strong
    for section in ("Applicant data", "Rules fired", "Limit", "Price", "Quota position", "Transitions", "Approvals"):
        assert section in strong, section
    assert "Score in the review zone" not in strong and "automatic approval" in strong
    r = as_user("approver_bj").post(f"/applications/{a.ref}/approve/",
                                    {"approve-reason_code": "income_verified", "approve-note": "ok"}, **EN)
    assert r.status_code == 302
    done = as_user("approver_bj").get(f"/applications/{a.ref}/", **EN).content.decode()
    assert 'id="actions"' not in done and "income verified" in done.lower()
    assert Application.objects.get(ref=a.ref).status == "approved"


def test_maker_checker_and_request_info_on_the_page(as_user, world, submit):
    a = submit(amount="150000.00", term=36)
    c = as_user("approver_bj")
    r = c.post(f"/applications/{a.ref}/request-info/", {"info-reason_code": "employment", "info-note": "letter",
                                                        "info-inputs": ["months_employed"]}, **EN)
    assert r.status_code == 302 and Application.objects.get(ref=a.ref).status == "info_requested"
    customer = as_user("customer")
    page = customer.get(f"/applications/{a.ref}/", **EN).content.decode()
    assert "Information requested" in page and 'name="info-months_employed"' in page
    assert 'name="info-monthly_income"' not in page  # only what the reviewer asked for
    r = customer.post(f"/applications/{a.ref}/provide-info/", {"info-months_employed": "70", "info-note": "sent"},
                      **EN)
    assert r.status_code == 302 and Application.objects.get(ref=a.ref).inputs["months_employed"] == 70
    page = as_user("approver_bj").get(f"/applications/{a.ref}/", **EN).content.decode()
    assert f'action="/applications/{a.ref}/approve/"' not in page and "reviewed this yourself" in page
    r = as_user("approver_bj").post(f"/applications/{a.ref}/approve/", {"approve-reason_code": "within_policy"}, **EN)
    assert r.status_code == 403 and "reviewed this yourself" in r.content.decode()  # issue 20: words, not internals
    r = as_user("approver_bj2").post(f"/applications/{a.ref}/decline/", {"decline-reason_code": "credit_history"},
                                     **EN)
    assert r.status_code == 302 and Application.objects.get(ref=a.ref).status == "declined"


def test_pages_speak_chinese_by_default(as_user, world, submit):
    a = submit(REFER)
    page = as_user("approver_ho").get(f"/applications/{a.ref}/").content.decode()
    assert "审批" in page and "评分" in page and "评分处于人工审查区间" in page
    queue = as_user("approver_ho").get("/applications/").content.decode()
    assert "审批队列" in queue
    assert re.search(r"<a[^>]*>贷款申请</a>", as_user("approver_ho").get("/").content.decode())


def test_withdraw_from_the_outcome_page(as_user, world, submit):
    a = submit(GOOD)
    c = as_user("customer")
    assert b"Withdraw my application" in c.get(f"/applications/{a.ref}/", **EN).content
    assert c.post(f"/applications/{a.ref}/withdraw/", {"withdraw-reason": ""}, **EN).status_code == 422  # chosen
    r = c.post(f"/applications/{a.ref}/withdraw/", {"withdraw-reason": "no_longer_needed",
                                                    "withdraw-note": "changed my mind"}, **EN)
    assert r.status_code == 302 and Application.objects.get(ref=a.ref).status == "withdrawn"
    assert c.get("/applications/AP0000/", **EN).status_code == 404
