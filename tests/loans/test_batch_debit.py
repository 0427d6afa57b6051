"""The close debits the borrower's settlement account (代扣, issue 18 §3): on the due date what is owed is debited
through the settlement gateway and posted as a payment (channel "debit"); a short debit is retried on the next
business days; a loan without a mandate is never touched; the books reconcile.

The loan: 12,000.00 at 4.35 % over 12 months from 15 Jan 2025 (equal installments, 30/360), first due
15 Feb 2025: interest 12,000.00 × 4.35 % / 12 = 43.50, installment 12,000.00 × 0.3625 % / (1 − 1.003625^−12)
= 1,023.72 (principal 980.22). Grace 3 days: no penalty or late fee before 19 Feb."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from loan_checks import books_ok
from tests.loans.conftest import CONSUMER

from creditplan.core.errors import ValidationError
from creditplan.loans import cob, settlement
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, Loan, LoanActivity, Payment, SettlementAccount
from creditplan.loans.sql import debit as debit_sql

START = dt.date(2025, 1, 15)
DUE = dt.date(2025, 2, 15)
DAY = dt.timedelta(days=1)
ACCOUNT = "6222020200112233445"
INSTALLMENT = 102372  # 1,023.72, worked by hand above


@pytest.fixture
def world(loan_world: dict[str, Any]) -> dict[str, Any]:
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "debit", "name": "代扣", "debit_retry_days": 2})
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "whole", "name": "全额代扣",
                                                "debit_partial": False, "debit_retry_days": 2})
    return loan_world


def mandated(world: dict[str, Any], make_loan: Any, balance: int, product: str = "debit") -> Loan:
    loan = make_loan(product=product)
    v = settlement.set_mandate(world["ops"], loan_ref=loan.ref, account_no=ACCOUNT)
    assert v.account == "*" * 15 + "3445"  # masked: the last 4 only
    settlement.fund_account(ACCOUNT, balance)
    return loan


def balance() -> int:
    return SettlementAccount.objects.get(account_no=ACCOUNT).balance_minor


def attempts(loan: Loan) -> list[tuple[str, int, int, int]]:
    return [(a.business_date.isoformat(), a.detail["asked_minor"], a.detail["debited_minor"], a.detail["left_minor"])
            for a in LoanActivity.objects.filter(loan=loan, kind="debit_attempt").order_by("business_date", "id")]


def test_the_installment_is_debited_in_full_on_its_due_date(world: dict[str, Any], make_loan: Any) -> None:
    loan = mandated(world, make_loan, 500000)  # 5,000.00 available
    first = Installment.objects.get(loan=loan, seq=1)
    assert first.principal_minor + first.interest_minor == INSTALLMENT and first.interest_minor == 4350
    cob.advance_loan(loan, DUE)
    p = Payment.objects.get(loan=loan)
    assert (p.reference, p.channel, p.value_date, p.amount_minor) == (f"DEBIT-{loan.ref}-20250215-1", "debit", DUE,
                                                                     INSTALLMENT)
    assert p.allocation["interest"] == 4350 and p.allocation["principal"] == 98022
    first.refresh_from_db()
    loan.refresh_from_db()
    assert first.status == "paid" and loan.dpd == 0 and loan.overdue_principal_minor == 0
    assert balance() == 500000 - INSTALLMENT  # 3,976.28 left in the account
    assert attempts(loan) == [("2025-02-15", INSTALLMENT, INSTALLMENT, 0)]
    cob.advance_loan(loan, DUE + 5 * DAY)  # nothing left: no retry
    assert attempts(loan) == [("2025-02-15", INSTALLMENT, INSTALLMENT, 0)] and Payment.objects.count() == 1
    books_ok()


def test_a_partial_debit_is_retried_the_next_day(world: dict[str, Any], make_loan: Any) -> None:
    loan = mandated(world, make_loan, 50000)  # 500.00 available
    cob.advance_loan(loan, DUE)
    # 1,023.72 asked, 500.00 debited, 523.72 left; paid interest first: 43.50, then 456.50 of principal
    assert attempts(loan) == [("2025-02-15", INSTALLMENT, 50000, 52372)]
    p = Payment.objects.get(loan=loan)
    assert p.allocation["interest"] == 4350 and p.allocation["principal"] == 45650
    loan.refresh_from_db()
    assert loan.overdue_principal_minor == 98022 - 45650 == 52372 and loan.overdue_interest_minor == 0
    settlement.fund_account(ACCOUNT, 100000)  # the salary comes in: 1,000.00
    cob.advance_loan(loan, DUE + DAY)  # in grace: no penalty yet, the rest is exactly 523.72
    assert attempts(loan)[1:] == [("2025-02-16", 52372, 52372, 0)]
    assert balance() == 100000 - 52372
    assert Installment.objects.get(loan=loan, seq=1).status == "paid"
    loan.refresh_from_db()
    assert loan.dpd == 0 and loan.overdue_principal_minor == 0
    assert sorted(Payment.objects.filter(loan=loan).values_list("reference", flat=True)) == [
        f"DEBIT-{loan.ref}-20250215-1", f"DEBIT-{loan.ref}-20250216-2"]
    books_ok()
    # the statement of account: both debits received, each attempt in words, and it reconciles
    from creditplan.loans.statement import statement

    st = statement(world["ops"], loan.ref)
    assert st.reconciled is True and st.received_minor == INSTALLMENT
    texts = [line.description for line in st.lines if line.kind == "debit_attempt"]
    assert texts == ["Settlement account ***************3445: asked 1,023.72, debited 500.00, left 523.72",
                     "Settlement account ***************3445: asked 523.72, debited 523.72, left 0.00"]


def test_retries_stop_after_the_products_retry_days(world: dict[str, Any], make_loan: Any) -> None:
    loan = mandated(world, make_loan, 0)  # nothing in the account
    cob.advance_loan(loan, DUE + 4 * DAY)
    # the due date and 2 retries (debit_retry_days = 2); none on 18 and 19 Feb
    assert attempts(loan) == [("2025-02-15", INSTALLMENT, 0, INSTALLMENT), ("2025-02-16", INSTALLMENT, 0, INSTALLMENT),
                              ("2025-02-17", INSTALLMENT, 0, INSTALLMENT)]
    assert not Payment.objects.filter(loan=loan).exists()
    settlement.fund_account(ACCOUNT, 500000)
    cob.advance_loan(loan, DUE + 10 * DAY)  # retries exhausted: the money waits for the next due date
    assert len(attempts(loan)) == 3 and balance() == 500000
    loan.refresh_from_db()
    assert loan.dpd == 10 and loan.penalty_minor > 0
    books_ok()


def test_no_partial_debit_when_the_product_refuses_it(world: dict[str, Any], make_loan: Any) -> None:
    loan = mandated(world, make_loan, 50000, product="whole")
    cob.advance_loan(loan, DUE)
    assert attempts(loan) == [("2025-02-15", INSTALLMENT, 0, INSTALLMENT)] and balance() == 50000
    settlement.fund_account(ACCOUNT, INSTALLMENT)  # exactly enough on the retry
    cob.advance_loan(loan, DUE + DAY)
    assert attempts(loan)[1:] == [("2025-02-16", INSTALLMENT, INSTALLMENT, 0)] and balance() == 0
    books_ok()


def test_the_nightly_close_touches_only_mandated_loans_with_something_due(world: dict[str, Any],
                                                                          make_loan: Any) -> None:
    loan = mandated(world, make_loan, 500000)
    other = make_loan(product="debit", customer=1)  # no mandate
    # before the due date, and for a loan without a mandate, the one query finds nothing
    assert debit_sql.loans_to_debit("l.id IN (%s, %s)", [loan.pk, other.pk], DUE - DAY) == []
    assert debit_sql.loans_to_debit("l.id IN (%s, %s)", [loan.pk, other.pk], DUE) == [loan.pk]
    day = START + DAY
    while day <= DUE:
        report = cob.run_close(day)
        day += DAY
    assert report.totals["debits"] == 1 and report.totals["debit_minor"] == INSTALLMENT
    assert not LoanActivity.objects.filter(loan=other, kind="debit_attempt").exists()
    assert not Payment.objects.filter(loan=other).exists()
    other.refresh_from_db()
    assert other.overdue_principal_minor == 98022  # its installment fell due, unpaid
    assert Installment.objects.get(loan=loan, seq=1).status == "paid"
    books_ok()


def test_a_revoked_mandate_is_not_debited_and_bad_accounts_are_refused(world: dict[str, Any],
                                                                      make_loan: Any) -> None:
    loan = mandated(world, make_loan, 500000)
    with pytest.raises(ValidationError) as e:
        settlement.set_mandate(world["ops"], loan_ref=loan.ref, account_no="12-34")
    assert e.value.code == "invalid_account_no"
    settlement.revoke_mandate(world["ops"], loan_ref=loan.ref)
    cob.advance_loan(loan, DUE)
    assert attempts(loan) == [] and balance() == 500000


def test_a_debit_returned_by_the_bank_is_reversed_like_any_payment(world: dict[str, Any], make_loan: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The debit's payment keeps the state it found (the day before, its installment falling due), so reversing
    it puts the loan where an unpaid due date leaves it."""
    from creditplan.loans import clock as loans_clock
    from creditplan.loans import payments

    loan = mandated(world, make_loan, 500000)
    never = make_loan(product="debit", customer=1)
    cob.advance_loan(loan, DUE + 2 * DAY)
    cob.advance_loan(never, DUE + 2 * DAY)
    monkeypatch.setattr(loans_clock, "business_date", lambda: DUE + 3 * DAY)
    payments.reverse_payment(world["ops"], reference=f"DEBIT-{loan.ref}-20250215-1", reason="returned by the bank")
    loan.refresh_from_db()
    never.refresh_from_db()
    for f in ("overdue_principal_minor", "overdue_interest_minor", "dpd", "principal_outstanding_minor"):
        assert getattr(loan, f) == getattr(never, f), f
    assert loan.overdue_principal_minor == 98022 and loan.overdue_interest_minor == 4350
    books_ok()


def test_the_loan_page_shows_the_mandate_masked_and_the_debits_in_words(world: dict[str, Any], make_loan: Any,
                                                                       client: Any) -> None:
    from factories import PASSWORD

    loans.create_product(world["risk"], **{**CONSUMER, "code": "zhuqi", "name": "逐期", "allocation": "installment"})
    loan = mandated(world, make_loan, 50000, product="zhuqi")
    cob.advance_loan(loan, DUE)
    assert client.login(username="ops", password=PASSWORD)
    page = client.get(f"/loans/{loan.ref}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert ACCOUNT not in page and "*" * 15 + "3445" in page
    assert "代扣授权" in page and "结算账户代扣" in page and "尚余 3 次重试" in page  # the default 3 retry days
    assert "逐期还款" in page and "还款顺序" in page
    assert ">debit_attempt<" not in page and "Settlement account debit" not in page  # (kinds only in titles)
