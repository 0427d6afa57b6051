"""Reversal and backdating replay the loan's history: the end state (loan, schedule, and the loan's own
general-ledger balances) equals posting only the payments that remain, at their dates, from the start."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import Sum
from loan_checks import BusinessClock, books_ok, business_clock

from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.money import to_major
from creditplan.ledger.models import Event
from creditplan.loans import cob, payments
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Payment, Posting

START = dt.date(2025, 1, 15)
D = dt.date


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> BusinessClock:
    return business_clock(monkeypatch, D(2025, 1, 20))


def state(loan: Loan) -> dict[str, Any]:
    loan.refresh_from_db()
    cols = {f: getattr(loan, f) for f in loans.STATE_FIELDS}
    rows = list(Installment.objects.filter(loan=loan).order_by("version", "seq").values_list(
        "version", "seq", "status", "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "paid_on"))
    gl = dict(Posting.objects.filter(entry__loan=loan).values_list("account").annotate(s=Sum("amount_minor")))
    return {"loan": cols, "rows": rows, "gl": {k: v for k, v in gl.items() if v}}


def run(world: Any, clock: Any, loans_and_payments: list[tuple[Loan, list[tuple[dt.date, str, str]]]],
        through: dt.date) -> None:
    """Live through the days: each morning the payments of that day, each night the close of every loan."""
    day = START + dt.timedelta(days=1)
    while day <= through:
        clock.day = day
        for loan, plan in loans_and_payments:
            for when, amount, ref in plan:
                if when == day:
                    payments.post_payment(world["ops"], loan_ref=loan.ref, amount=amount, reference=ref)
        for loan, _ in loans_and_payments:
            cob.advance_loan(loan, day)
        day += dt.timedelta(days=1)
    clock.day = through + dt.timedelta(days=1)


P1, P2, P3 = (D(2025, 2, 16), "300.00", "R-1"), (D(2025, 2, 20), "400.00", "R-2"), (D(2025, 2, 25), "500.00", "R-3")


def test_reversing_the_middle_payment_equals_never_having_posted_it(loan_world: Any, make_loan: Any,
                                                                   clock: Any) -> None:
    a = make_loan(amount="12000.00", term=12, start=START)
    b = make_loan(amount="12000.00", term=12, start=START, customer=1)
    run(loan_world, clock, [(a, [P1, P2, P3]), (b, [(P1[0], P1[1], "S-1"), (P3[0], P3[1], "S-3")])], D(2025, 3, 5))
    before_a = state(a)
    assert before_a["loan"]["credit_minor"] > 0  # 1,200 paid on a ~1,024 installment
    assert state(b)["loan"]["penalty_minor"] > 0  # b stayed in arrears: penalty ran
    result = payments.reverse_payment(loan_world["ops"], reference="R-2", reason="bounced cheque")
    assert result.status == "reversed" and result.adjustment
    sa, sb = state(a), state(b)
    skip = {"version"}
    assert {k: v for k, v in sa["loan"].items() if k not in skip} == {
        k: v for k, v in sb["loan"].items() if k not in skip}
    assert sa["rows"] == sb["rows"]
    assert sa["gl"] == sb["gl"]
    books_ok()
    assert Payment.objects.get(reference="R-2").status == "reversed"
    assert Payment.objects.get(reference="R-3").allocation == Payment.objects.get(reference="S-3").allocation
    assert Event.objects.filter(kind="loan.payment_reversed", subject_id=a.ref).count() == 1
    assert LoanActivity.objects.filter(loan=a, kind="payment_reversed").count() == 1
    assert JournalEntry.objects.filter(loan=a, kind="reversal").count() == 1
    with pytest.raises(Conflict) as exc:
        payments.reverse_payment(loan_world["ops"], reference="R-2", reason="again")
    assert exc.value.field == "reference" and exc.value.code == "already_reversed"


def test_a_backdated_payment_recomputes_the_close_after_it(loan_world: Any, make_loan: Any, clock: Any) -> None:
    a = make_loan(amount="12000.00", term=12, start=START)
    b = make_loan(amount="12000.00", term=12, start=START, customer=1)
    late = (D(2025, 2, 18), "1100.00")
    run(loan_world, clock, [(a, [P1, P3]), (b, [(P1[0], P1[1], "S-1"), (late[0], late[1], "S-LATE"),
                                             (P3[0], P3[1], "S-3")])],
        D(2025, 3, 1))
    assert state(a)["loan"]["penalty_minor"] > 0 and state(b)["loan"]["penalty_minor"] == 0
    # dated more than CREDITPLAN_BACKDATE_DAYS back: posted by a user with loan.backdate (issue 18)
    r = payments.post_payment(loan_world["admin"], loan_ref=a.ref, amount=late[1], reference="A-LATE",
                              value_date=late[0])
    assert r.backdated and r.adjustment
    sa, sb = state(a), state(b)
    assert {k: v for k, v in sa["loan"].items() if k != "version"} == {
        k: v for k, v in sb["loan"].items() if k != "version"}
    assert sa["rows"] == sb["rows"]
    assert sa["gl"] == sb["gl"]
    books_ok()
    assert Payment.objects.get(reference="A-LATE").allocation == Payment.objects.get(reference="S-LATE").allocation
    # the same reference again: nothing more happens
    again = payments.post_payment(loan_world["admin"], loan_ref=a.ref, amount=late[1], reference="A-LATE",
                                  value_date=late[0])
    assert again.duplicate and state(a) == sa


def test_a_backdated_payment_before_any_other_replays_from_the_disbursement(loan_world: Any, make_loan: Any,
                                                                           clock: Any) -> None:
    a = make_loan(amount="12000.00", term=12, start=START)
    b = make_loan(amount="12000.00", term=12, start=START, customer=1)
    first = (D(2025, 2, 10), "2000.00")
    run(loan_world, clock, [(a, []), (b, [(first[0], first[1], "S-FIRST")])], D(2025, 2, 20))
    # dated more than CREDITPLAN_BACKDATE_DAYS back: posted by a user with loan.backdate (issue 18)
    payments.post_payment(loan_world["admin"], loan_ref=a.ref, amount=first[1], reference="A-FIRST",
                          value_date=first[0])
    sa, sb = state(a), state(b)
    assert {k: v for k, v in sa["loan"].items() if k != "version"} == {
        k: v for k, v in sb["loan"].items() if k != "version"}
    assert sa["rows"] == sb["rows"] and sa["gl"] == sb["gl"]
    books_ok()


def test_reversing_the_payment_that_closed_a_loan_reopens_it(loan_world: Any, make_loan: Any, clock: Any) -> None:
    a = make_loan(amount="3000.00", term=1, start=START)
    run(loan_world, clock, [(a, [])], D(2025, 2, 15))
    owed = a.installments.get(seq=1)
    amount = to_major(owed.principal_minor + owed.interest_minor)
    payments.post_payment(loan_world["ops"], loan_ref=a.ref, amount=amount, reference="C-1")
    a.refresh_from_db()
    assert a.status == "closed"
    clock.day = D(2025, 2, 20)
    payments.reverse_payment(loan_world["ops"], reference="C-1", reason="paid in error")
    a.refresh_from_db()
    assert a.status == "active" and a.overdue_principal_minor == owed.principal_minor
    books_ok()


def test_reversal_input_errors(loan_world: Any, make_loan: Any, clock: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        payments.reverse_payment(loan_world["ops"], reference="X", reason="  ")
    assert exc.value.field == "reason"
    with pytest.raises(NotFound) as nf:
        payments.reverse_payment(loan_world["ops"], reference="NOPE", reason="why")
    assert nf.value.field == "reference"
    with pytest.raises(Exception):  # noqa: B017 - the officer may not reverse (permission)
        payments.reverse_payment(loan_world["officer_bj"], reference="NOPE", reason="why")


def test_a_reversed_repayment_takes_its_balance_quota_back(loan_world: Any, make_loan: Any, clock: Any) -> None:
    from creditplan.plans import services as plans

    planner = loan_world["planner"]
    plan = plans.create_plan(planner, code="fy2025r", name="2025", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="100000000", new_lending_limit="10000000",
                             balance_limit="10000000")
    plans.activate_plan(planner, plan.id)
    loan = make_loan(amount="12000.00", term=12, start=START)
    root = plan.root.id

    def outstanding() -> int:
        return next(q for q in plans.plan_quotas(planner, plan.id) if q.id == root).state.outstanding

    run(loan_world, clock, [(loan, [(D(2025, 2, 16), "2000.00", "RQ-1")])], D(2025, 2, 16))
    loan.refresh_from_db()
    repaid = 1_200_000 - loan.principal_outstanding_minor
    assert repaid > 0 and outstanding() == 1_200_000 - repaid
    payments.reverse_payment(loan_world["ops"], reference="RQ-1", reason="cheque bounced")
    assert outstanding() == 1_200_000  # the principal is owed again, and holds its balance quota again
    books_ok()
