"""Repayments: the waterfall's paths, idempotency (also under concurrency on PostgreSQL), and every bad input
refused by field with nothing written. After every posting the general ledger balances and reconciles with
the loans to the fen."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from loan_checks import books_ok

from creditplan.core.errors import Conflict, CreditplanError, NotFound, ValidationError
from creditplan.core.money import to_major
from creditplan.ledger.models import Event
from creditplan.loans import accounting, cob, payments
from creditplan.loans import clock as loans_clock
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Payment, Posting

START = dt.date(2025, 1, 15)
FIRST_DUE = dt.date(2025, 2, 15)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Set the business date: today.set(date)."""

    class Clock:
        day = dt.date(2025, 1, 20)

        def set(self, day: dt.date) -> None:
            self.day = day

    clock = Clock()
    monkeypatch.setattr(loans_clock, "business_date", lambda: clock.day)
    return clock


def close_through(loan: Loan, day: dt.date) -> Loan:
    """The daily close for this loan up to `day` (with its GL), then the loan reloaded."""
    cob.advance_loan(loan, day)
    loan.refresh_from_db()
    return loan


def first_row(loan: Loan) -> Installment:
    return Installment.objects.get(loan=loan, seq=1, version=1)


@pytest.fixture
def due_loan(make_loan: Any, today: Any) -> Loan:
    """A 12,000.00 loan over 12 months whose first installment fell due on 15 Feb 2025; today is 16 Feb."""
    loan = make_loan(amount="12000.00", term=12, start=START)
    close_through(loan, FIRST_DUE)
    today.set(FIRST_DUE + dt.timedelta(days=1))
    return loan


def installment_minor(row: Installment) -> int:
    return row.principal_minor + row.interest_minor + row.fee_minor


def test_a_partial_payment_pays_the_interest_first_then_principal(loan_world: Any, due_loan: Loan) -> None:
    row = first_row(due_loan)
    assert row.status == "due" and row.interest_minor == 4_350  # 12,000 × 4.35 % / 12
    assert due_loan.overdue_interest_minor == 4_350 and due_loan.oldest_due_date == FIRST_DUE
    r = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="100.00", reference="P-1")
    assert r.allocation["interest"] == 4_350 and r.allocation["principal"] == 5_650
    assert r.allocation["credit"] == r.allocation["refund"] == 0 and not r.duplicate
    due_loan.refresh_from_db()
    row.refresh_from_db()
    assert (row.paid_interest_minor, row.paid_principal_minor, row.status) == (4_350, 5_650, "due")
    assert due_loan.overdue_interest_minor == 0
    assert due_loan.overdue_principal_minor == row.principal_minor - 5_650
    assert due_loan.principal_outstanding_minor == 1_200_000 - 5_650
    assert due_loan.oldest_due_date == FIRST_DUE  # still something unpaid on it
    books_ok()
    entry = JournalEntry.objects.filter(loan=due_loan, kind="repayment").get()
    assert sorted(entry.postings.values_list("account", "amount_minor")) == [
        ("1001", 10_000), ("1301", -5_650), ("1322", -4_350)]


def test_an_exact_payment_settles_the_installment(loan_world: Any, due_loan: Loan) -> None:
    row = first_row(due_loan)
    r = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount=to_major(installment_minor(row)),
                              reference="P-EXACT", value_date="2025-02-16")
    row.refresh_from_db()
    due_loan.refresh_from_db()
    assert row.status == "paid" and row.paid_on == dt.date(2025, 2, 16)
    assert due_loan.oldest_due_date is None and due_loan.dpd == 0 and due_loan.bucket == 0
    assert due_loan.overdue_principal_minor == due_loan.overdue_interest_minor == 0
    assert r.allocation["credit"] == 0 and r.balances.total_due_minor == 0
    books_ok()
    act = LoanActivity.objects.get(loan=due_loan, kind="repayment")
    assert act.detail["reference"] == "P-EXACT"
    assert Event.objects.filter(kind="loan.repayment", subject_id=due_loan.ref).count() == 1


def test_an_overpayment_is_kept_as_credit(loan_world: Any, due_loan: Loan) -> None:
    amount = installment_minor(first_row(due_loan)) + 10_000
    r = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount=to_major(amount), reference="P-OVER")
    due_loan.refresh_from_db()
    assert r.allocation["credit"] == 10_000 and due_loan.credit_minor == 10_000
    assert accounting.account_balances()["2241"] == -10_000
    books_ok()


def test_an_overpayment_is_refunded_when_the_product_says_so(loan_world: Any, make_loan: Any, today: Any) -> None:
    loans.create_product(loan_world["risk"], code="refund", name="退款", min_amount="1000", max_amount="100000",
                         rate="0.0435", overpayment="refund")
    loan = make_loan(amount="12000.00", term=12, product="refund")
    close_through(loan, FIRST_DUE)
    today.set(FIRST_DUE + dt.timedelta(days=1))
    due = installment_minor(first_row(loan))
    r = payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount=to_major(due + 10_000),
                              reference="P-REFUND")
    loan.refresh_from_db()
    assert r.allocation["refund"] == 10_000 and r.allocation["credit"] == 0 and loan.credit_minor == 0
    assert r.allocation["cash"] == due  # the refunded part never enters the books
    assert accounting.account_balances().get("2241", 0) == 0
    books_ok()


def test_penalty_and_fees_come_first(loan_world: Any, due_loan: Loan, today: Any) -> None:
    close_through(due_loan, dt.date(2025, 2, 25))  # 10 days past due: penalty from day 4, the late fee on day 4
    today.set(dt.date(2025, 2, 26))
    due_loan.refresh_from_db()
    assert due_loan.penalty_minor > 0 and due_loan.fees_minor == 5_000 and due_loan.dpd == 10
    penalty = due_loan.penalty_minor
    r = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount=to_major(penalty + 2_000),
                              reference="P-PEN")
    assert (r.allocation["penalty"], r.allocation["fee"], r.allocation["interest"]) == (penalty, 2_000, 0)
    due_loan.refresh_from_db()
    assert due_loan.penalty_minor == 0 and due_loan.fees_minor == 3_000
    books_ok()


def test_paying_the_last_installment_closes_the_loan_and_refunds_the_credit(loan_world: Any, make_loan: Any,
                                                                           today: Any) -> None:
    loan = make_loan(amount="3000.00", term=1)
    close_through(loan, FIRST_DUE)
    today.set(FIRST_DUE + dt.timedelta(days=1))
    owed = installment_minor(first_row(loan))
    r = payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount=to_major(owed + 123), reference="P-LAST")
    loan.refresh_from_db()
    assert loan.status == "closed" and loan.closed_on == today.day
    assert r.loan_status == "closed" and r.allocation["refund"] == 123 and loan.credit_minor == 0
    books_ok()
    with pytest.raises(Conflict) as exc:
        payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="1.00", reference="P-AFTER")
    assert exc.value.field == "loan_ref" and exc.value.code == "loan_closed"


def test_the_same_reference_twice_is_one_payment(loan_world: Any, due_loan: Loan) -> None:
    first = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="50.00", reference="IDEM-1")
    again = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount=Decimal("50"), reference="IDEM-1")
    assert again.duplicate and not first.duplicate and again.allocation == first.allocation
    assert Payment.objects.filter(reference="IDEM-1").count() == 1
    assert JournalEntry.objects.filter(kind="repayment").count() == 1
    with pytest.raises(Conflict) as exc:
        payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="51.00", reference="IDEM-1")
    assert exc.value.field == "reference"
    books_ok()


def test_the_waterfall_order_is_the_products(loan_world: Any, make_loan: Any, today: Any) -> None:
    loans.create_product(loan_world["risk"], code="pfirst", name="本金优先", min_amount="1000", max_amount="100000",
                         rate="0.0435", waterfall=["principal", "interest", "fee", "penalty"])
    loan = make_loan(amount="12000.00", term=12, product="pfirst")
    close_through(loan, FIRST_DUE)
    today.set(FIRST_DUE + dt.timedelta(days=1))
    r = payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="100.00", reference="P-ORDER")
    assert r.allocation["principal"] == 10_000 and r.allocation["interest"] == 0
    books_ok()


def test_nothing_due_goes_to_credit(loan_world: Any, make_loan: Any, today: Any) -> None:
    loan = make_loan(amount="12000.00", term=12)
    close_through(loan, dt.date(2025, 1, 19))
    r = payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="500.00", reference="P-EARLY")
    assert r.allocation["credit"] == 50_000
    today.set(dt.date(2025, 2, 16))
    loan = close_through(loan, FIRST_DUE)  # auto-debit: the credit pays the installment when it falls due
    assert loan.credit_minor == 50_000 - min(50_000, installment_minor(first_row(loan)))
    books_ok()


# --- bad input: refused by field, nothing written -------------------------------------------------------

def _state() -> tuple[Any, ...]:
    return (Payment.objects.count(), Posting.objects.count(), LoanActivity.objects.count(),
            list(Loan.objects.order_by("id").values_list("principal_outstanding_minor", "overdue_interest_minor",
                                                         "credit_minor", "penalty_minor", "status", "version")),
            list(Installment.objects.order_by("id").values_list("paid_principal_minor", "paid_interest_minor",
                                                                "status")))


@pytest.mark.parametrize("change, error, field", [
    ({"loan_ref": "LN-NOPE"}, NotFound, "loan_ref"),
    ({"loan_ref": ""}, ValidationError, "loan_ref"),
    ({"amount": "0"}, ValidationError, "amount"),
    ({"amount": "-5.00"}, ValidationError, "amount"),
    ({"amount": "abc"}, ValidationError, "amount"),
    ({"amount": 10.5}, ValidationError, "amount"),
    ({"amount": "10.001"}, ValidationError, "amount"),
    ({"amount": None}, ValidationError, "amount"),
    ({"amount": "NaN"}, ValidationError, "amount"),
    ({"reference": ""}, ValidationError, "reference"),
    ({"reference": "x" * 65}, ValidationError, "reference"),
    ({"value_date": "2025-02-17"}, ValidationError, "value_date"),  # tomorrow
    ({"value_date": "2025-01-10"}, ValidationError, "value_date"),  # before the loan started
    ({"value_date": "16/02/2025"}, ValidationError, "value_date"),
    ({"channel": "pigeon"}, ValidationError, "channel"),
])
def test_bad_payments_are_refused_by_field_and_write_nothing(loan_world: Any, due_loan: Loan, change: dict,
                                                             error: type, field: str) -> None:
    kwargs: dict[str, Any] = {"loan_ref": due_loan.ref, "amount": "10.00", "reference": "BAD-1"}
    kwargs.update(change)
    before = _state()
    with pytest.raises(error) as exc:
        payments.post_payment(loan_world["ops"], **kwargs)
    assert exc.value.field == field, exc.value
    assert _state() == before
    books_ok()


def test_a_value_date_beyond_the_backdating_window_is_refused(loan_world: Any, due_loan: Loan, today: Any) -> None:
    today.set(dt.date(2025, 4, 1))
    before = _state()
    with pytest.raises(ValidationError) as exc:
        payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="10.00", reference="OLD",
                              value_date="2025-02-20")  # 40 days back; the product allows 30
    assert exc.value.field == "value_date" and exc.value.code == "backdate_too_old"
    assert _state() == before


def test_closed_and_written_off_loans_refuse_payments(loan_world: Any, due_loan: Loan) -> None:
    for status, code in (("closed", "loan_closed"), ("written_off", "loan_written_off")):
        Loan.objects.filter(pk=due_loan.pk).update(status=status)
        before = _state()
        with pytest.raises(Conflict) as exc:
            payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="10.00", reference=f"X-{status}")
        assert exc.value.field == "loan_ref" and exc.value.code == code
        assert _state() == before


def test_permissions_and_branch_scope(loan_world: Any, due_loan: Loan) -> None:
    with pytest.raises(CreditplanError):
        payments.post_payment(loan_world["auditor"], loan_ref=due_loan.ref, amount="10.00", reference="NOPE-1")
    with pytest.raises(NotFound) as other:  # another branch's loan: as a loan that does not exist
        payments.post_payment(loan_world["officer_sh"], loan_ref=due_loan.ref, amount="10.00", reference="NOPE-2")
    assert (other.value.code, other.value.field) == ("unknown_loan", "loan_ref")
    r = payments.post_payment(loan_world["officer_bj"], loan_ref=due_loan.ref, amount="10.00", reference="OK-BJ")
    assert r.status == "posted"
    assert Payment.objects.count() == 1


# --- concurrency (PostgreSQL row locks and the unique reference) -----------------------------------------

@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_threads_posting_one_reference_apply_it_once(loan_world: Any, make_loan: Any, today: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CREDITPLAN_TEST_DB=postgresql)")
    loan = make_loan(amount="12000.00", term=12)
    other = make_loan(amount="12000.00", term=12, customer=1)
    close_through(loan, FIRST_DUE)
    close_through(other, FIRST_DUE)
    today.set(FIRST_DUE + dt.timedelta(days=1))
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def worker(k: int) -> None:
        try:
            barrier.wait(10)
            # half of them race on the same loan, the others post the same reference for another loan
            target = loan.ref if k % 2 == 0 else other.ref
            results.append(("ok", target, payments.post_payment(loan_world["ops"], loan_ref=target, amount="300.00",
                                                                reference="RACE-1")))
        except CreditplanError as exc:
            results.append(("error", exc.code, exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8
    assert Payment.objects.filter(reference="RACE-1").count() == 1
    winner = Payment.objects.get(reference="RACE-1").loan.ref
    ok = [r for r in results if r[0] == "ok"]
    assert sum(1 for r in ok if not r[2].duplicate) == 1
    assert all(r[1] == winner for r in ok)
    assert all(r[1] == "reference_reused" for r in results if r[0] == "error")
    assert JournalEntry.objects.filter(kind="repayment").count() == 1
    books_ok()
