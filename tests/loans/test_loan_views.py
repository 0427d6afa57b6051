"""Loan pages through Django's test client: who sees which page and which loans, the numbers they show, the
staff forms (posting writes through the services; bad input shows next to the field and writes nothing),
the calculator, the trial balance and the close runs."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from creditplan.core.money import format_minor
from creditplan.customers import services as customers
from creditplan.loans import accounting, cob, payments, reports
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, LoanChangeRequest, Payment
from factories import PASSWORD, individual

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


def money(minor: int) -> str:
    return format_minor(minor)


@pytest.fixture
def book(loan_world: dict[str, Any], make_loan: Any) -> dict[str, Any]:
    """Two unpaid BJ01 loans 75 days old (two installments overdue each, class 2 关注) and one SH01 loan,
    with the daily close run for every day since they started."""
    today = loans.business_date()
    start = today - dt.timedelta(days=75)
    a = make_loan(start=start)
    b = make_loan(start=start, customer=1, amount="50000.00", term=24)
    sh = customers.create_customer(loan_world["officer_sh"], individual(3, branch="SH01", name="李四"))
    c = loans.disburse(None, customer_id=sh.id, product="consumer", amount="30000", term=12,
                       start_date=start)  # booked by trusted code
    day = start + dt.timedelta(days=1)
    while day <= today:
        cob.run_close(day)
        day += dt.timedelta(days=1)
    fresh = {k: Loan.objects.get(pk=v.pk) for k, v in (("a", a), ("b", b), ("sh", c))}
    return {**loan_world, **fresh, "today": today}


# --- the loan list -----------------------------------------------------------------------------------------

def test_officer_sees_the_loans_of_the_branch_with_totals(client, book):
    a, b = book["a"], book["b"]
    login(client, "officer_bj")
    page = client.get("/loans/", **EN).content.decode()
    assert a.ref in page and b.ref in page and book["sh"].ref not in page
    overdue = sum(x.overdue_principal_minor + x.overdue_interest_minor for x in (a, b))
    assert overdue > 0
    totals = page[page.index('id="loan-totals"'):]
    assert "2 loans" in totals and "62,000.00" in totals and money(overdue) in totals
    assert a.dpd == 45 and a.risk_class == 2
    row = re.search(rf"<tr>\s*<td class=\"mono\"><a href=\"/loans/{a.ref}/\">.*?</tr>", page, re.S).group(0)
    assert "Special mention" in row and "31–60" in row and ">45<" in row and "12,000.00" in row


@pytest.mark.parametrize(("query", "expected"), [
    ("risk_class=2", {"a", "b"}), ("risk_class=1", set()), ("risk_class=3", set()), ("bucket=2", {"a", "b"}),
    ("bucket=0", set()), ("q=张三1", {"a"}), ("status=closed", set()), ("status=active", {"a", "b"}),
    ("product=consumer", {"a", "b"}), ("product=nope", {"a", "b"}), ("product=nope&q=张三2", {"b"}),
])
def test_list_filters(client, book, query, expected):
    login(client, "officer_bj")
    page = client.get(f"/loans/?{query}", **EN).content.decode()
    shown = {k for k in ("a", "b", "sh") if f"/loans/{book[k].ref}/" in page}
    assert shown == expected
    if not expected:
        assert "No loan matches." in page


def test_head_office_filters_by_branch_and_htmx_gets_the_rows_only(client, book):
    login(client, "ops")
    page = client.get("/loans/?branch=SH01", **EN).content.decode()
    assert book["sh"].ref in page and book["a"].ref not in page and "30,000.00" in page
    fragment = client.get("/loans/?risk_class=2", HTTP_HX_REQUEST="true", **EN).content.decode()
    assert "<html" not in fragment and book["sh"].ref in fragment and "3 loans" in fragment


def test_pagination_keeps_the_totals_of_every_matching_loan(book):
    page = reports.loan_page(book["ops"], reports.LoanFilters(), page=2, page_size=1)
    assert (page.total, page.pages, page.page, len(page.items)) == (3, 3, 2, 1)
    assert page.outstanding_minor == 9_200_000


def test_other_branch_cannot_see_the_loan(client, book):
    login(client, "officer_sh")
    page = client.get("/loans/", **EN).content.decode()
    assert book["sh"].ref in page and book["a"].ref not in page
    assert client.get(f"/loans/{book['a'].ref}/").status_code == 404


def test_anonymous_is_sent_to_log_in(client, book):
    for url in ("/loans/", f"/loans/{book['a'].ref}/", "/loans/calculator/", "/loans/ledger/trial-balance/",
                "/loans/close/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- the customer's own view -------------------------------------------------------------------------------

def test_customer_sees_only_their_own_loans_with_next_payment_and_payoff(client, book):
    a, b = book["a"], book["b"]
    customers.link_customer_user(a.customer_id, book["customer"])
    login(client, "customer")
    page = client.get("/loans/", **EN).content.decode()
    assert "My loans" in page and a.ref in page and b.ref not in page and book["sh"].ref not in page
    quote = payments.payoff_quote(book["customer"], a.ref)
    assert money(quote.total_minor) in page
    nxt = reports.next_installment(a)
    assert nxt is not None and nxt.status == "due"
    assert money(nxt.principal_minor + nxt.interest_minor + nxt.fee_minor) in page
    detail = client.get(f"/loans/{a.ref}/", **EN).content.decode()
    assert "Schedule" in detail and money(quote.total_minor) in detail
    assert "Post a payment" not in detail and "/actions/" not in detail
    assert client.get(f"/loans/{b.ref}/").status_code == 404
    assert client.post(f"/loans/{a.ref}/actions/pay/", {"amount": "10", "reference": "X1"}).status_code == 403
    assert client.get("/loans/ledger/trial-balance/").status_code == 403
    assert client.get("/loans/close/").status_code == 403
    assert client.get("/loans/calculator/").status_code == 200
    assert Payment.objects.count() == 0


def test_a_customers_home_page_leads_with_what_to_pay_next(client, book):
    a, b = book["a"], book["b"]
    customers.link_customer_user(a.customer_id, book["customer"])
    login(client, "customer")
    page = client.get("/", **EN).content.decode()
    cards = page[page.index('id="my-loans"'):page.index('id="my-applications"')]
    assert a.ref in cards and b.ref not in cards
    nxt = reports.next_installment(a)
    assert money(nxt.principal_minor + nxt.interest_minor + nxt.fee_minor) in cards and "overdue" in cards
    assert money(payments.payoff_quote(book["customer"], a.ref).total_minor) in cards
    assert "No application yet." in page and "No message yet." in page and 'href="/applications/apply/"' in page
    login(client, "officer_bj")
    staff = client.get("/", **EN).content.decode()
    assert 'id="my-loans"' not in staff and "Dashboard" in staff


def test_the_staff_dashboard_opens_with_the_loan_book_they_may_see(client, book):
    login(client, "officer_bj")
    page = client.get("/", **EN).content.decode()
    overview = page[page.index('id="overview"'):page.index("</div>\n", page.index('id="overview"'))]
    mine = [ln for ln in Loan.objects.filter(status="active") if ln.branch.code.startswith("BJ")]
    outstanding = sum(ln.principal_outstanding_minor for ln in mine)
    npl = sum(ln.principal_outstanding_minor for ln in mine if ln.risk_class >= 3)
    assert f"{round(outstanding / 100):,}" in overview and f"{len(mine)} active loan" in overview
    assert f"{round(100 * npl / outstanding, 2)} %" in overview
    assert book["sh"].branch.code.startswith("SH")  # a Shanghai loan exists and is not counted
    assert sum(ln.principal_outstanding_minor for ln in Loan.objects.filter(status="active")) > outstanding


def test_customer_without_loans_sees_an_empty_list(client, book):
    login(client, "customer")
    page = client.get("/loans/", **EN).content.decode()
    assert "You have no loan with us." in page and book["a"].ref not in page


# --- one loan ----------------------------------------------------------------------------------------------

def test_loan_page_shows_terms_balances_schedule_activities_and_chart(client, book):
    a = book["a"]
    login(client, "officer_bj")
    response = client.get(f"/loans/{a.ref}/", **EN)
    page = response.content.decode()
    assert response.status_code == 200
    assert "4.35 %" in page and "Equal installment" in page and "12 periods" in page
    terms = page[page.index('id="terms"'):page.index("</dl>", page.index('id="terms"'))]
    assert "round half up · Exact schedule, fen carried (default)" in terms
    cards = page[page.index('id="cards"'):page.index('id="terms"')]
    assert money(a.principal_outstanding_minor) in cards
    assert money(loans.balances(a).total_due_minor) in cards
    assert money(payments.payoff_quote(book["officer_bj"], a.ref).total_minor) in cards
    schedule = page[page.index('id="schedule"'):page.index('id="payments"')]
    body = schedule[schedule.index("<tbody>"):schedule.index("</tbody>")]
    assert body.count("<tr class=") == 12 and "980.22" in body and "1,023.72" in body
    assert schedule.count(">Due</span>") == 2 and "12,000.00" in schedule
    activities = page[page.index('id="activities"'):page.index('id="accrual"')]
    # the clause each activity executed, in words: never its code
    assert "Installment due" in activities and "<td>Late fee</td>" in activities
    assert "<td>Penalty interest</td>" in activities
    assert "late_fee" not in activities and "penalty_interest" not in activities
    assert "Normal → Special mention" in activities
    accrual = page[page.index('id="accrual"'):]
    assert money(a.accrued_interest_minor) in accrual
    chart = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page).group(1))
    assert chart["scheduled"][0] == [a.start_date.isoformat(), "12000.00"]
    assert chart["scheduled"][-1][1] == "0.00" and len(chart["scheduled"]) == 13
    assert chart["actual"][-1][1] == "12000.00"  # nothing paid yet
    # a loan officer may post payments and prepay, not reverse, restructure or write off
    assert 'id="action-pay"' in page and 'id="action-prepay"' in page
    for action in ("reverse", "restructure", "write-off"):
        assert f'id="action-{action}"' not in page


def test_posting_a_payment_through_the_form_changes_the_balances(client, book):
    a = book["a"]
    due = loans.balances(a).total_due_minor
    login(client, "officer_bj")
    form = client.get(f"/loans/{a.ref}/", **EN).content.decode()
    proposed = re.search(r'name="reference" value="(PAY-[^"]+)"', form).group(1)
    data = {"amount": format_minor(due, grouping=False), "value_date": book["today"].isoformat(), "reference": proposed}
    response = client.post(f"/loans/{a.ref}/actions/pay/", data, **EN)
    assert response.status_code == 302 and response["Location"] == f"/loans/{a.ref}/"
    again = client.post(f"/loans/{a.ref}/actions/pay/", data, **EN)  # double submit: one payment
    assert again.status_code == 302 and Payment.objects.filter(loan=a).count() == 1
    a.refresh_from_db()
    assert a.overdue_principal_minor == a.overdue_interest_minor == a.penalty_minor == a.fees_minor == 0
    assert a.principal_outstanding_minor < 1_200_000
    page = client.get(f"/loans/{a.ref}/", **EN).content.decode()
    assert "Payment of" in page and proposed in page
    assert money(a.principal_outstanding_minor) in page[page.index('id="cards"'):page.index('id="terms"')]
    payments_table = page[page.index('id="payments"'):page.index('id="activities"')]
    assert "Principal" in payments_table and ">Posted<" in payments_table


def test_form_errors_show_next_to_the_field_keep_the_input_and_write_nothing(client, book, compiled_catalogue):
    a = book["a"]
    login(client, "officer_bj")
    url = f"/loans/{a.ref}/actions/pay/"
    cases = [
        ({"amount": "abc", "value_date": "", "reference": "R-1"}, "amount", "abc"),
        ({"amount": "12.345", "value_date": "", "reference": "R-2"}, "amount", "12.345"),
        ({"amount": "-5", "value_date": "", "reference": "R-3"}, "amount", "-5"),
        ({"amount": "100", "value_date": "", "reference": ""}, "reference", "100"),
        ({"amount": "100", "value_date": "2999-01-01", "reference": "R-4"}, "value_date", "2999-01-01"),
        ({"amount": "100", "value_date": "01/02/2026", "reference": "R-5"}, "value_date", "01/02/2026"),
    ]
    for data, field, kept in cases:
        response = client.post(url, data, **EN)
        page = response.content.decode()
        assert response.status_code == 422, data
        assert f'id="err-{field}"' in page, (data, page[page.find("errorlist") - 300:page.find("errorlist") + 300])
        assert f'value="{kept}"' in page
        assert "<details class=\"box\" id=\"action-pay\" open>" in page
    assert Payment.objects.count() == 0
    # the same problem in Chinese
    page = client.post(url, {"amount": "100", "value_date": "2999-01-01", "reference": "R-6"}, **ZH)
    assert "日期不能晚于今天" in page.content.decode()


def test_reversal_restructuring_and_write_off_forms(client, book):
    a, b = book["a"], book["b"]
    payments.post_payment(book["ops"], loan_ref=a.ref, amount="500.00", reference="CHQ-1")
    login(client, "officer_bj")
    assert client.post(f"/loans/{a.ref}/actions/reverse/", {"payment": "CHQ-1", "reason": "x"}).status_code == 403
    assert client.post(f"/loans/{a.ref}/actions/write-off/", {"reason": "x"}).status_code == 403

    login(client, "ops")
    page = client.get(f"/loans/{a.ref}/", **EN).content.decode()
    assert 'id="action-reverse"' in page and "CHQ-1" in page
    missing = client.post(f"/loans/{a.ref}/actions/reverse/", {"payment": "CHQ-1", "reason": ""}, **EN)
    assert missing.status_code == 422 and 'id="err-reason"' in missing.content.decode()
    done = client.post(f"/loans/{a.ref}/actions/reverse/", {"payment": "CHQ-1", "reason": "cheque returned"},
                       **EN)
    assert done.status_code == 302 and Payment.objects.get(reference="CHQ-1").status == "reversed"
    page = client.get(f"/loans/{a.ref}/", **EN).content.decode()
    assert ">Reversed<" in page and "cheque returned" in page

    # a restructuring is proposed on the page and takes effect when another user approves it (four eyes,
    # issue 18): before, the approver's form restructured the loan at once
    login(client, "approver_bj")
    data = {"kind": "extend_term", "extend_periods": "6", "reason": "borrower lost a job", "effective_date": ""}
    assert client.post(f"/loans/{b.ref}/actions/restructure/", data, **EN).status_code == 302
    b.refresh_from_db()
    assert b.schedule_version == 1
    page = client.get(f"/loans/{b.ref}/", **EN).content.decode()
    assert 'id="pending-changes"' in page and "borrower lost a job" in page and "Another user decides" in page
    login(client, "risk")
    queue = client.get("/loans/changes/", **EN).content.decode()
    assert b.ref in queue and "approver_bj" in queue and ">Approve<" in queue
    pk = LoanChangeRequest.objects.get(loan=b, status="pending").pk
    assert client.post(f"/loans/changes/{pk}/decide/", {"decision": "approve", "next": "/loans/changes/"},
                       **EN).status_code == 302
    b.refresh_from_db()
    assert b.schedule_version == 2 and b.restructure_count == 1
    login(client, "approver_bj")
    page = client.get(f"/loans/{b.ref}/", **EN).content.decode()
    assert "Earlier schedule versions" in page and 'id="version-1"' in page and "Restructured" in page
    bad = client.post(f"/loans/{b.ref}/actions/restructure/", {"kind": "extend_term", "extend_periods": "x",
                                                               "reason": "r"}, **EN)
    assert bad.status_code == 422 and 'id="err-extend_periods"' in bad.content.decode()

    login(client, "risk")
    page = client.get(f"/loans/{a.ref}/", **EN).content.decode()
    assert 'id="action-write-off"' not in page  # class 2: not non-performing, no write-off form
    refused = client.post(f"/loans/{a.ref}/actions/write-off/", {"reason": "gone", "on": "", "condition": "court",
                                                                  "evidence": "(2025)京执1号"}, **EN)
    assert refused.status_code == 422 and "non-performing" in refused.content.decode()
    assert Loan.objects.get(pk=a.pk).status == "active"


# --- the calculator ----------------------------------------------------------------------------------------

CALC = {"amount": "1,000,000", "rate": "3.95", "term": "360", "method": "equal-installment", "day_count": "30/360",
        "frequency": "1", "start": "2026-01-01"}


def test_calculator_for_any_logged_in_user(client, book):
    login(client, "customer")
    empty = client.get("/loans/calculator/", **EN)
    assert empty.status_code == 200 and 'id="calc-schedule"' not in empty.content.decode()
    page = client.get("/loans/calculator/", CALC, **EN).content.decode()
    assert re.search(r'id="first-payment">4,745\.37<', page)
    totals = page[page.index('id="calc-totals"'):]
    assert "1,000,000.00" in totals and "708,334.05" in totals
    assert page.count("<tr><td class=\"num\">") == 360
    chart = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page).group(1))
    assert len(chart["principal"]) == 360 and chart["principal"][0] == "1453.70" and chart["interest"][0] == "3291.67"
    ep = client.get("/loans/calculator/", {**CALC, "method": "equal-principal"}, **EN).content.decode()
    assert "6,069.44" in ep and "2,786.92" in ep and "594,145.83" in ep
    per_line = client.get("/loans/calculator/", {**CALC, "interest_rule": "per-line"}, **EN).content.decode()
    assert "708,334.90" in per_line[per_line.index('id="calc-totals"'):]
    quarterly = client.get("/loans/calculator/", {**CALC, "term": "8", "frequency": "3"}, **EN).content.decode()
    assert quarterly.count("<tr><td class=\"num\">") == 8 and "2028" in quarterly


def test_calculator_shows_bad_input_next_to_each_field(client, book):
    login(client, "officer_bj")
    response = client.get("/loans/calculator/", {**CALC, "amount": "-5", "rate": "abc", "term": "0",
                                                 "start": "2026-02-30"}, **EN)
    page = response.content.decode()
    assert response.status_code == 422
    for field in ("amount", "rate", "term", "start"):
        assert f'id="err-{field}"' in page, field
    assert 'value="abc"' in page and 'value="-5"' in page and 'id="calc-schedule"' not in page
    too_long = client.get("/loans/calculator/", {**CALC, "term": "601"}, **EN)
    assert too_long.status_code == 422 and 'id="err-term"' in too_long.content.decode()
    high = client.get("/loans/calculator/", {**CALC, "rate": "40"}, **EN)
    assert high.status_code == 422 and 'id="err-rate"' in high.content.decode()
    fen = client.get("/loans/calculator/", {**CALC, "amount": "100.001"}, **EN)
    assert fen.status_code == 422 and 'id="err-amount"' in fen.content.decode()


# --- the general ledger and the close ----------------------------------------------------------------------

def test_trial_balance_debits_equal_credits_and_the_subledger_agrees(client, book):
    rows = accounting.trial_balance()
    debit = sum(r.debit_minor for r in rows)
    assert debit == sum(r.credit_minor for r in rows) > 0
    for user in ("ops", "auditor", "risk", "admin"):
        login(client, user)
        page = client.get("/loans/ledger/trial-balance/", **EN).content.decode()
        totals = page[page.index('id="tb-totals"'):]
        assert re.search(rf'id="tb-debit">{re.escape(money(debit))}<', totals)
        assert re.search(rf'id="tb-credit">{re.escape(money(debit))}<', totals)
        assert 'id="tb-balanced"' in page and 'id="recon-ok"' in page and 'class="diff-bad"' not in page
    past = client.get(f"/loans/ledger/trial-balance/?as_of={book['a'].start_date}", **EN).content.decode()
    assert re.search(r'id="tb-debit">92,000\.00<', past)  # the three disbursements only
    assert client.get("/loans/ledger/trial-balance/?as_of=nope", **EN).status_code == 422
    for user in ("officer_bj", "approver_bj", "planner"):
        login(client, user)
        assert client.get("/loans/ledger/trial-balance/").status_code == 403


def test_reconciliation_highlights_a_difference(client, book):
    Loan.objects.filter(pk=book["a"].pk).update(fees_minor=book["a"].fees_minor + 1)  # a subledger that drifted
    login(client, "auditor")
    page = client.get("/loans/ledger/trial-balance/", **EN).content.decode()
    assert 'id="recon-bad"' in page
    bad = re.findall(r'<tr class="diff-bad"><td class="mono">(\d+)</td>', page)
    assert bad == ["1324"]


def test_close_runs_page(client, book):
    login(client, "ops")
    page = client.get("/loans/close/", **EN).content.decode()
    today = book["today"]
    # issue 20: the runs are paged (50 a page, the shared pager); the chart still covers every date shown here
    table = page[page.index('id="close-runs"'):page.index("</table>", page.index('id="close-runs"'))]
    assert table.count('href="/loans/close/') == 50 and "Page 1 of 2" in page
    assert f"/loans/close/{today.isoformat()}/" in table
    chart = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page).group(1))
    assert len(chart["dates"]) == 75 and chart["dates"][-1] == today.isoformat()
    assert "Special mention" in page[page.index('id="class-distribution"'):]
    detail = client.get(f"/loans/close/{today.isoformat()}/", **EN).content.decode()
    assert "Loans processed" in detail and ">3<" in detail and "0.00 %" in detail
    assert client.get("/loans/close/1999-01-01/").status_code == 404
    assert client.get("/loans/close/not-a-date/").status_code == 404
    login(client, "auditor")  # GL_VIEW may read the close runs too
    assert client.get("/loans/close/").status_code == 200
    login(client, "officer_bj")
    assert client.get("/loans/close/").status_code == 403


def test_statement_pdf(client, book):
    login(client, "officer_bj")
    response = client.get(f"/loans/{book['a'].ref}/statement.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    start = book["a"].start_date
    narrow = client.get(f"/loans/{book['a'].ref}/statement.pdf?from={start}&to={start + dt.timedelta(days=40)}")
    assert narrow.status_code == 200 and narrow.content.startswith(b"%PDF")
    assert client.get(f"/loans/{book['a'].ref}/statement.pdf?from=nope").status_code == 422
    assert 'id="statement-link"' in client.get(f"/loans/{book['a'].ref}/").content.decode()
    login(client, "officer_sh")
    assert client.get(f"/loans/{book['a'].ref}/statement.pdf").status_code == 404
    customers.link_customer_user(book["a"].customer_id, book["customer"])
    login(client, "customer")
    assert client.get(f"/loans/{book['a'].ref}/statement.pdf").status_code == 200
    assert client.get(f"/loans/{book['b'].ref}/statement.pdf").status_code == 404


# --- in Chinese --------------------------------------------------------------------------------------------

def test_pages_speak_chinese(client, book, compiled_catalogue):
    login(client, "officer_bj")
    page = client.get("/loans/", **ZH).content.decode()
    assert "<h1>贷款</h1>" in page and "关注" in page and "五级分类" in page and "逾期天数" in page
    detail = client.get(f"/loans/{book['a'].ref}/", **ZH).content.decode()
    for text in ("还款计划", "应还日", "本金", "利息", "已还", "余额变化", "提前还款结清金额", "逾期", "登记还款"):
        assert text in detail, text
    calc = client.get("/loans/calculator/", CALC, **ZH).content.decode()
    assert "还款计划试算" in calc and "4,745.37" in calc and "等额本息" in calc
    login(client, "ops")
    assert "试算平衡表" in client.get("/loans/ledger/trial-balance/", **ZH).content.decode()
    assert "日终批处理" in client.get("/loans/close/", **ZH).content.decode()


# --- the demo book -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_demo_seed_makes_a_book_that_reconciles_and_the_pages_show_it(client, bank):
    from django.utils import timezone

    from creditplan.customers import demo as customer_demo
    from creditplan.loans.demo import lpr_history, seed_loans

    rows = list(customer_demo.customer_rows(40, seed=3, today=timezone.localdate(), branch_codes=["BJ01", "SH01"]))
    customers.import_customers(None, rows)
    book = seed_loans(bank["admin"], count=24, seed=5)
    assert book.loans == 24 and book.closes >= 400 and book.payments > 50 and book.products == 3
    assert all(r.difference_minor == 0 for r in accounting.reconcile())
    rows_tb = accounting.trial_balance()
    assert sum(r.debit_minor for r in rows_tb) == sum(r.credit_minor for r in rows_tb)
    assert loans.lpr_on("5y", loans.business_date()) == 35_000 and loans.lpr_on("1y", dt.date(2024, 8, 1)) == 33_500
    assert ("5y", dt.date(2024, 10, 21), "3.60") in lpr_history(dt.date(2025, 1, 1))
    assert Loan.objects.filter(product__code="mortgage", rate_type="floating").exists()
    login(client, "ops")
    page = client.get("/loans/?sort=dpd", **EN).content.decode()
    assert "24 loans" in page
    assert client.get("/loans/close/", **EN).status_code == 200
