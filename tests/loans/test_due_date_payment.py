"""Money received on a due date pays that day's installment (issue 18): a payment dated D pays every installment
due on or before D — those the close has marked due and the one falling due on D itself, whose close has not run
yet — so the close of D finds it paid: no arrears, no penalty, no late fee, no credit balance, nothing refunded.
The replay (a reversal, a backdated payment) applies the same rule, and the books still reconcile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Sum
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from loan_checks import BusinessClock, books_ok, business_clock
from tests.loans.conftest import CONSUMER
from tests.loans.test_allocation_properties import DAY as ON
from tests.loans.test_allocation_properties import Loan as Columns
from tests.loans.test_allocation_properties import _row
from tests.loans.test_allocation_properties import loans as loan_cases

from creditplan.loans import cob, payments
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.domain.allocation import ACTIVE, InstallmentRow, apply_payment
from creditplan.loans.models import Installment, Loan, LoanActivity, Payment, Posting

START = dt.date(2025, 1, 15)
DUE = dt.date(2025, 2, 15)  # the first due date
DAY = dt.timedelta(days=1)
LATER = DUE + 20 * DAY  # after the grace days and the late-fee check (D + 3 + 1), before the next due date


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> BusinessClock:
    return business_clock(monkeypatch, START + DAY)


@pytest.fixture
def world(loan_world: dict[str, Any]) -> dict[str, Any]:
    """`consumer` plus `noauto` (no auto-debit clause) and `refund` (overpayments refunded)."""
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "noauto", "name": "无自动扣款", "auto_debit": False})
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "refund", "name": "溢缴退回",
                                                "overpayment": "refund", "auto_debit": False})
    return loan_world


def close_through(loan: Loan, day: dt.date) -> Loan:
    cob.advance_loan(loan, day)
    loan.refresh_from_db()
    return loan


def first_row(loan: Loan) -> Installment:
    return Installment.objects.get(loan=loan, seq=1, version=1)


def owed(row: Installment) -> str:
    minor = row.principal_minor + row.interest_minor + row.fee_minor
    return f"{minor // 100}.{minor % 100:02d}"


def gl_of(loan: Loan) -> dict[str, int]:
    got = dict(Posting.objects.filter(entry__loan=loan).values_list("account").annotate(s=Sum("amount_minor")))
    return {k: v for k, v in got.items() if v}


def state(loan: Loan) -> dict[str, Any]:
    loan.refresh_from_db()
    rows = list(Installment.objects.filter(loan=loan).order_by("version", "seq").values_list(
        "version", "seq", "status", "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "paid_on"))
    return {"loan": {f: getattr(loan, f) for f in loans.STATE_FIELDS}, "rows": rows, "gl": gl_of(loan)}


def pay_on_due_date(world: dict[str, Any], make_loan: Any, today: Any, product: str, ref: str) -> Loan:
    """A loan of `product` closed through the eve of its first due date; on the due date, before that night's
    close, the borrower pays exactly the installment."""
    loan = close_through(make_loan(product=product), DUE - DAY)
    today.day = DUE
    payments.post_payment(world["ops"], loan_ref=loan.ref, amount=owed(first_row(loan)), reference=ref)
    loan.refresh_from_db()
    return loan


def test_paying_the_installment_on_its_due_date_pays_it_and_nothing_goes_overdue(
        world: dict[str, Any], make_loan: Any, today: Any) -> None:
    unpaid = close_through(make_loan(product="noauto", customer=1), DUE - DAY)  # the same loan, never paid
    loan = pay_on_due_date(world, make_loan, today, "noauto", "DUE-1")
    row = first_row(loan)
    assert row.status == "paid" and row.paid_on == DUE
    assert (row.paid_principal_minor, row.paid_interest_minor) == (row.principal_minor, row.interest_minor)
    assert loan.credit_minor == 0 and loan.principal_outstanding_minor == 1_200_000 - row.principal_minor
    alloc = Payment.objects.get(reference="DUE-1").allocation
    assert alloc["credit"] == alloc["refund"] == 0
    assert alloc["interest"] == row.interest_minor and alloc["principal"] == row.principal_minor

    close_through(loan, LATER)
    close_through(unpaid, LATER)
    assert (loan.dpd, loan.bucket, loan.risk_class, loan.oldest_due_date) == (0, 0, 1, None)
    assert loan.penalty_minor == loan.fees_minor == loan.overdue_principal_minor == loan.overdue_interest_minor == 0
    assert loan.credit_minor == 0
    assert not LoanActivity.objects.filter(loan=loan, kind__in=("late_fee", "penalty_started")).exists()
    assert first_row(loan).status == "paid"
    # the loan that was not paid is what the borrower would have suffered: overdue, penalty, late fee, 关注
    assert unpaid.dpd == 20 and unpaid.risk_class == 2 and unpaid.penalty_minor > 0 and unpaid.fees_minor == 5_000
    # the period's interest is recognised exactly once, the scheduled amount
    assert loan.interest_income_minor == unpaid.interest_income_minor


def test_a_refund_product_refunds_nothing_of_a_payment_on_the_due_date(
        world: dict[str, Any], make_loan: Any, today: Any) -> None:
    loan = pay_on_due_date(world, make_loan, today, "refund", "DUE-R")
    act = LoanActivity.objects.get(loan=loan, kind="repayment")
    assert act.detail["allocation"]["refund"] == 0 and act.detail["allocation"]["cash"] == act.amount_minor
    assert first_row(loan).status == "paid"
    close_through(loan, LATER)
    assert (loan.dpd, loan.penalty_minor, loan.fees_minor, loan.risk_class) == (0, 0, 0, 1)


def test_the_books_reconcile_after_a_payment_on_the_due_date(world: dict[str, Any], make_loan: Any,
                                                           today: Any) -> None:
    loan = pay_on_due_date(world, make_loan, today, "noauto", "DUE-GL")
    books_ok()
    row = first_row(loan)
    gl = gl_of(loan)
    assert gl.get(accounts.LOAN_PRINCIPAL) == 1_200_000 - row.principal_minor  # the principal is repaid
    assert gl.get(accounts.CUSTOMER_CREDIT, 0) == 0  # nothing held for the customer
    close_through(loan, LATER)
    books_ok()
    gl = gl_of(loan)
    assert gl.get(accounts.LOAN_PRINCIPAL) == loan.principal_outstanding_minor == 1_200_000 - row.principal_minor
    assert gl.get(accounts.INTEREST_DUE, 0) == gl.get(accounts.CUSTOMER_CREDIT, 0) == 0
    assert -gl[accounts.INTEREST_INCOME] == loan.interest_income_minor


def test_a_backdated_payment_dated_the_due_date_equals_paying_on_time(world: dict[str, Any], make_loan: Any,
                                                                   today: Any) -> None:
    on_time = pay_on_due_date(world, make_loan, today, "noauto", "ON-TIME")
    close_through(on_time, LATER)
    late = close_through(make_loan(product="noauto"), LATER)  # went overdue: penalty, late fee
    assert late.dpd == 20 and late.penalty_minor > 0
    today.day = LATER + DAY
    # dated 21 days back, beyond CREDITPLAN_BACKDATE_DAYS: a user with loan.backdate (issue 18)
    r = payments.post_payment(world["admin"], loan_ref=late.ref, amount=owed(first_row(late)), reference="BACK",
                              value_date=DUE.isoformat())
    alloc = Payment.objects.get(reference="BACK").allocation
    assert r.backdated and alloc["credit"] == alloc["refund"] == 0
    assert r.allocation == alloc and alloc["principal"] > 0  # the answer says where the money went, as stored
    activity = LoanActivity.objects.filter(loan__ref=late.ref, kind="repayment").latest("id")
    assert activity.detail["allocation"] == alloc
    assert state(late) == state(on_time)
    assert late.dpd == 0 and late.penalty_minor == late.fees_minor == 0
    books_ok()


def test_reversing_a_payment_made_on_the_due_date_equals_never_paying(world: dict[str, Any], make_loan: Any,
                                                                    today: Any) -> None:
    never = close_through(make_loan(product="noauto"), LATER)
    loan = pay_on_due_date(world, make_loan, today, "noauto", "TO-UNDO")
    close_through(loan, LATER)
    assert loan.dpd == 0 and first_row(loan).status == "paid"
    today.day = LATER + DAY
    payments.reverse_payment(world["ops"], reference="TO-UNDO", reason="returned by the bank")
    assert state(loan) == state(never)  # the loan, its schedule and its own GL balances (the cash returned)
    assert loan.dpd == 20 and first_row(loan).status == "due"
    books_ok()


def test_two_part_payments_on_the_due_date_teller_and_bank_file_pay_it_and_replay_alike(
        world: dict[str, Any], make_loan: Any, today: Any) -> None:
    loan = close_through(make_loan(product="noauto"), DUE - DAY)
    twin = close_through(make_loan(product="noauto"), DUE - DAY)
    today.day = DUE
    row = first_row(loan)
    whole = row.principal_minor + row.interest_minor
    payments.post_payment(world["ops"], loan_ref=loan.ref, amount="500.00", reference="PART-1")
    row = first_row(loan)
    loan.refresh_from_db()
    # interest first, then principal; nothing is held as credit (the close marks the rest due tonight)
    assert (row.paid_interest_minor, row.paid_principal_minor) == (4_350, 50_000 - 4_350)
    assert loan.credit_minor == 0 and loan.principal_outstanding_minor == 1_200_000 - 50_000 + 4_350
    rest = whole - 50_000
    text = f"PART-2,{loan.ref},{rest // 100}.{rest % 100:02d},{DUE.isoformat()}\n"
    text += f"TWIN-2,{twin.ref},{rest // 100}.{rest % 100:02d},{DUE.isoformat()}\n"
    report = payments.import_bank_file(world["ops"], text.encode())
    assert report.posted == 2, report
    assert first_row(loan).status == "paid" and first_row(twin).status == "scheduled"  # due tonight, in part
    close_through(loan, LATER)
    close_through(twin, LATER)
    assert (loan.dpd, loan.penalty_minor, loan.fees_minor, loan.credit_minor) == (0, 0, 0, 0)
    assert twin.dpd == 20 and twin.penalty_minor > 0  # paid only part of it: in arrears
    books_ok()
    today.day = LATER + DAY
    payments.reverse_payment(world["ops"], reference="PART-1", reason="cheque bounced")
    assert state(loan) == state(twin)  # as if only the bank file's part had been paid
    books_ok()


@dataclass
class FallingColumns(Columns):
    period_interest_minor: int = 0
    period_principal_minor: int = 0
    period_fee_minor: int = 0
    interest_income_minor: int = 0
    fee_income_minor: int = 0


@settings(max_examples=300, deadline=None)
@given(case=loan_cases(), amount=st.integers(1, 200_000), fee=st.integers(0, 500))
def test_the_installment_falling_due_is_paid_last_in_each_component_and_the_books_balance(
        case: tuple[Columns, list[InstallmentRow]], amount: int, fee: int) -> None:
    """apply_payment with `falling` (the installment due on the value date, not yet marked due by the close):
    it is paid after the charges already due, component by component; what the close will move to the overdue
    balances (period_*) is exactly what is left unpaid of it; the journal lines balance; no credit or refund
    while anything of it is unpaid."""
    loan, rows = case
    assume(loan.status == ACTIVE and loan.current_seq)
    last = rows.pop()  # the strategy's installment not yet due: make it the one falling due today
    falling = _row(last.seq, last.principal_minor, last.interest_minor, fee, (0, 0, 0), "scheduled")
    cols = FallingColumns(**loan.__dict__, period_interest_minor=falling.interest_minor,
                          period_principal_minor=falling.principal_minor, period_fee_minor=fee)
    before = FallingColumns(**cols.__dict__)
    owed_due = before.penalty_minor + before.fees_minor + before.overdue_interest_minor + before.overdue_principal_minor
    whole = falling.principal_minor + falling.interest_minor + fee
    a = (applied := apply_payment(cols, rows, amount, ON, falling=falling)).allocation
    assert accounts.check_balanced(applied.lines)
    assert a["penalty"] + a["fee"] + a["interest"] + a["principal"] == min(amount, owed_due + whole)
    fi, fp, ff = falling.paid_interest_minor, falling.paid_principal_minor, falling.paid_fee_minor
    assert ff == max(0, a["fee"] - before.fees_minor)  # its fee after every fee already due
    assert cols.fees_minor == before.fees_minor - (a["fee"] - ff)
    assert cols.overdue_interest_minor == before.overdue_interest_minor - (a["interest"] - fi) >= 0
    assert cols.overdue_principal_minor == before.overdue_principal_minor - (a["principal"] - fp) >= 0
    assert cols.principal_outstanding_minor == before.principal_outstanding_minor - a["principal"]
    # what the close of the due date will move to the overdue balances: what is left of it
    assert (cols.period_interest_minor, cols.period_principal_minor, cols.period_fee_minor) == (
        falling.interest_minor - fi, falling.principal_minor - fp, fee - ff)
    assert (before.accrued_interest_minor - cols.accrued_interest_minor
            + cols.interest_income_minor - before.interest_income_minor) == fi
    assert cols.accrued_interest_minor >= 0 and cols.fee_income_minor - before.fee_income_minor == ff
    assert falling.status == ("paid" if fi + fp + ff == whole else "scheduled")
    if fi + fp + ff < whole:
        assert a["credit"] == a["refund"] == 0
