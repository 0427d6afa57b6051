"""Issue 20 §3: operations after the daily close, from the pages. Once today's close has run, today's books are
closed: a signed contract is paid out from its page with a value date (the next booking day by default), the
refusal of a closed date is a sentence in the page's language, and a repayment follows the same rule — value-dated
the booking day by default, or back-valued to the day the customer paid with its entry booked on the booking day,
so the closed day's trial balance does not move."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor
from creditplan.loans import accounting, cob, payments
from creditplan.loans import services as loans
from creditplan.loans.models import JournalEntry, Loan

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
ONE = dt.timedelta(days=1)


def _messages(page: str) -> str:
    return " ".join(re.findall(r'class="msg[^"]*"[^>]*>(.*?)</', page, re.S))


def test_a_signed_contract_is_paid_out_from_its_page_after_the_close_on_the_next_booking_day(
        client: Any, app_world: dict[str, Any], signed_application: Any, compiled_catalogue: None) -> None:
    today = loans.business_date()
    v = signed_application()
    cob.run_close(today)  # today's close has run: today's books are closed
    client.force_login(app_world["ops"])
    page = client.get(f"/applications/{v.ref}/", **ZH).content.decode()
    # the form has a value date, the next booking day by default, and states the rule of the close in Chinese
    field = re.search(r'<input type="date" name="value_date" id="disburse-value-date"[^>]*>', page).group(0)
    assert f'value="{(today + ONE).isoformat()}"' in field and f'min="{(today + ONE).isoformat()}"' in field
    rule = re.search(r'id="disburse-rule">(.*?)</p>', page, re.S).group(1)
    assert "日终" in rule and "下一记账日" in rule and not re.search(r"[A-Za-z]{3,}", rule)
    # a value date on the closed day is refused with a sentence in the page's language, and nothing is paid out
    url = f"/documents/applications/{v.ref}/contract/disburse/"
    refused = client.post(url, {"value_date": today.isoformat()}, follow=True, **ZH).content.decode()
    said = _messages(refused)
    assert "日终" in said and "has run" not in said and not Loan.objects.exists()
    english = client.post(url, {"value_date": today.isoformat()}, follow=True, **EN).content.decode()
    assert "next booking day" in _messages(english)
    # the proposed date pays it out: the loan starts the next booking day
    done = client.post(url, {"value_date": (today + ONE).isoformat()}, follow=True, **EN).content.decode()
    assert "Disbursed as loan" in _messages(done), _messages(done)
    loan = Loan.objects.get()
    assert loan.start_date == loan.closed_through == today + ONE and loan.application_ref == v.ref
    assert JournalEntry.objects.get(loan=loan, kind="disbursement").entry_date == today + ONE


def test_the_value_date_of_a_disbursement_around_the_close(make_loan: Any) -> None:
    today = loans.business_date()
    assert make_loan(start=None).start_date == today  # before the close: today
    cob.run_close(today)
    with pytest.raises(ValidationError) as e:
        make_loan(start=today)
    assert e.value.code == "disbursement_date_closed" and e.value.field == "start_date"
    assert e.value.extra["closed"] == today.isoformat() and e.value.extra["earliest"] == (today + ONE).isoformat()
    with pytest.raises(ValidationError) as e:
        make_loan(start=today + 2 * ONE)
    assert e.value.code == "disbursement_date_future"
    assert make_loan(start=None).start_date == today + ONE  # after the close: the next booking day
    assert make_loan(start=today + ONE).start_date == today + ONE


@pytest.fixture
def closed_book(loan_world: dict[str, Any], make_loan: Any) -> dict[str, Any]:
    """A BJ01 loan 40 days old, one installment overdue, closed through today (today's close has run)."""
    today = loans.business_date()
    loan = make_loan(start=today - 40 * ONE)
    day = loan.start_date + ONE
    while day <= today:
        cob.run_close(day)
        day += ONE
    return {**loan_world, "loan": Loan.objects.get(pk=loan.pk), "today": today}


def test_a_repayment_after_the_close_is_booked_on_the_next_booking_day(closed_book: dict[str, Any]) -> None:
    today, loan = closed_book["today"], closed_book["loan"]
    before = {r.code: (r.debit_minor, r.credit_minor) for r in accounting.trial_balance(as_of=today)}
    # the customer paid today, before the close: the payment keeps today's value date (back-valued: the close is
    # replayed for the loan), its entry is booked on the next booking day — the closed day's books do not move
    due = loans.balances(loan).total_due_minor
    paid = payments.post_payment(closed_book["officer_bj"], loan_ref=loan.ref, amount=format_minor(due, grouping=False),
                                 reference="PAY-AFTER-CLOSE-1", value_date=today.isoformat())
    assert paid.value_date == today and paid.backdated
    assert JournalEntry.objects.filter(loan=loan, kind="repayment").get().entry_date == today + ONE
    after = {r.code: (r.debit_minor, r.credit_minor) for r in accounting.trial_balance(as_of=today)}
    assert after == before
    # a repayment without a date is value-dated the booking day (what the form proposes), not a closed day
    second = payments.post_payment(closed_book["officer_bj"], loan_ref=loan.ref, amount="100.00",
                                   reference="PAY-AFTER-CLOSE-2")
    assert second.value_date == today + ONE and not second.backdated
    with pytest.raises(ValidationError) as e:  # beyond the booking day: refused
        payments.post_payment(closed_book["officer_bj"], loan_ref=loan.ref, amount="100.00",
                              reference="PAY-AFTER-CLOSE-3", value_date=(today + 2 * ONE).isoformat())
    assert e.value.code == "date_in_future"
    assert all(r.difference_minor == 0 for r in accounting.reconcile())


def test_the_payment_form_proposes_the_booking_day_and_states_the_rule(
        client: Any, closed_book: dict[str, Any], compiled_catalogue: None) -> None:
    today, loan = closed_book["today"], closed_book["loan"]
    client.force_login(closed_book["officer_bj"])
    page = client.get(f"/loans/{loan.ref}/", **ZH).content.decode()
    pay = page[page.index('id="action-pay"'):page.index('id="action-prepay"')]
    assert re.search(rf'name="value_date" value="{(today + ONE).isoformat()}"', pay)
    rule = re.search(r'id="rule-pay">(.*?)</p>', pay, re.S).group(1)
    assert "日终" in rule and "下一记账日" in rule and not re.search(r"[A-Za-z]{3,}", rule)
    english = client.get(f"/loans/{loan.ref}/", **EN).content.decode()
    assert "back-valued" in re.search(r'id="rule-pay">(.*?)</p>', english, re.S).group(1)
