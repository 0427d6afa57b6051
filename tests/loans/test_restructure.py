"""Restructuring: every kind keeps the old schedule, reschedules exactly the principal it should, keeps the
interest already accrued exactly once, floors the classification during observation, and refuses bad input
without writing anything."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from loan_checks import books_ok

from creditplan.core.errors import Conflict, CreditplanError, Forbidden, NotFound, ValidationError
from creditplan.ledger.models import Event
from creditplan.loans import accounting, cob
from creditplan.loans import services as loans
from creditplan.loans.domain import kernel
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Product, Restructuring
from creditplan.loans.restructure import restructure
from creditplan.org import services as org

D = dt.date

def close_loan_through(loan: Loan, day: dt.date) -> Loan:
    """The daily close applied to this one loan through `day` (cob.advance_loan: the nightly code)."""
    cob.advance_loan(loan, day)
    return Loan.objects.select_related("product", "branch").get(pk=loan.pk)


def _counts() -> tuple[int, ...]:
    return (Installment.objects.count(), JournalEntry.objects.count(), Restructuring.objects.count(),
            LoanActivity.objects.count(), Event.objects.count())


def _rows(loan: Loan, version: int) -> list[Installment]:
    return list(Installment.objects.filter(loan=loan, version=version).order_by("seq"))


@pytest.fixture
def approver(loan_world: dict[str, Any]) -> Any:
    return loan_world["approver_bj"]


# --- each kind --------------------------------------------------------------------------------------------

def test_extend_term_keeps_the_old_schedule_and_spreads_the_remaining_principal(make_loan: Any, approver: Any
                                                                                 ) -> None:
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 10))
    accrued = loan.accrued_interest_minor
    assert accrued > 0 and loan.current_seq == 1
    old = _rows(loan, 1)
    loan = restructure(approver, loan.ref, kind="extend_term", extend_periods=6, reason="income fell")
    assert all(r.status == "superseded" for r in _rows(loan, 1)) and len(_rows(loan, 1)) == len(old) == 12
    new = _rows(loan, 2)
    assert [r.seq for r in new] == list(range(1, 19))
    assert sum(r.principal_minor for r in new) == 1_200_000  # exactly the remaining principal
    assert new[0].start_date == D(2025, 1, 15) and new[0].due_date == D(2025, 2, 15)
    assert new[-1].due_date == D(2026, 7, 15) == loan.maturity_date and loan.term == 18
    # the current period is the first new installment; what was accrued stays accrued and is part of it
    assert loan.accrued_interest_minor == accrued and new[0].interest_minor > accrued
    assert (loan.current_seq, loan.period_start_date, loan.next_due_date, loan.period_interest_minor) == (
        1, D(2025, 1, 15), D(2025, 2, 15), new[0].interest_minor)
    assert loan.schedule_version == 2 and loan.restructure_count == 1
    assert (loan.risk_class, loan.pre_restructure_class) == (2, 1)
    # observation (2023 rules, issue 18): from the first repayment date after the change (2025-02-15, the first
    # new due date, not the effective date 2025-02-11), one year — longer than two monthly periods
    assert loan.restructured_until == D(2026, 2, 15)
    r = Restructuring.objects.get(loan=loan)
    assert (r.kind, r.old_version, r.new_version, r.class_before, r.observation_until, r.effective_date) == (
        "extend_term", 1, 2, 1, D(2026, 2, 15), D(2025, 2, 11))
    assert LoanActivity.objects.filter(loan=loan, clause="restructuring").count() == 1
    last = Event.objects.order_by("-seq").first()
    assert last.kind == "loan.restructured" and last.subject_id == loan.ref
    data = json.loads(last.entry)["data"]
    assert data["old_schedule"]["principal_minor"] == data["new_schedule"]["principal_minor"] == 1_200_000
    assert len(data["old_schedule"]["installments"]) == 12 and len(data["new_schedule"]["installments"]) == 18
    books_ok()


def test_change_method_reschedules_only_what_has_not_fallen_due(make_loan: Any, approver: Any) -> None:
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 20))
    assert loan.current_seq == 2 and loan.overdue_principal_minor > 0
    remaining = loan.principal_outstanding_minor - loan.overdue_principal_minor
    loan = restructure(approver, loan.ref, kind="change_method", new_method="equal-principal",
                       reason="customer asked for falling payments")
    assert loan.method == "equal-principal"
    first = Installment.objects.get(loan=loan, version=1, seq=1)
    assert first.status == "due"  # what fell due stays due, with its arrears
    assert loan.overdue_principal_minor == first.principal_minor and loan.dpd == 5
    new = _rows(loan, 2)
    assert [r.seq for r in new] == list(range(2, 13)) and sum(r.principal_minor for r in new) == remaining
    parts = [r.principal_minor for r in new]
    assert max(parts) - min(parts) <= 1  # equal principal
    assert [r.seq for r in loans.current_schedule(loan)] == list(range(1, 13))
    assert loan.risk_class == 2 and loan.pre_restructure_class == 2 and loan.term == 12
    books_ok()


def test_capitalise_turns_arrears_into_principal_and_resets_dpd_but_not_the_class(make_loan: Any,
                                                                                 approver: Any) -> None:
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 3, 10))
    assert loan.penalty_minor > 0 and loan.fees_minor == 5000 and loan.dpd == 23 and loan.risk_class == 2
    arrears = loan.overdue_interest_minor + loan.penalty_minor + loan.fees_minor
    total = loan.principal_outstanding_minor + arrears
    gl_before = accounting.account_balances()
    loan = restructure(approver, loan.ref, kind="capitalise", reason="arrears capitalised")
    assert loan.principal_outstanding_minor == total
    assert (loan.overdue_principal_minor, loan.overdue_interest_minor, loan.penalty_minor, loan.fees_minor,
            loan.penalty_carry) == (0, 0, 0, 0, 0)
    assert (loan.dpd, loan.bucket, loan.oldest_due_date) == (0, 0, None)
    assert loan.risk_class == 2 and loan.pre_restructure_class == 2
    assert all(r.status == "superseded" for r in _rows(loan, 1) if r.seq < 3)  # the due ones too
    new = _rows(loan, 2)
    assert sum(r.principal_minor for r in new) == total and [r.seq for r in new] == list(range(1, 12))
    entry = JournalEntry.objects.get(loan=loan, kind="capitalisation")
    assert sorted((p.account, p.amount_minor) for p in entry.postings.all()) == sorted([
        ("1301", arrears), ("1322", -(gl_before["1322"])), ("1323", -gl_before["1323"]),
        ("1324", -gl_before["1324"])])
    books_ok()
    # the next close: no days past due, but still special mention (observation floor)
    loan = close_loan_through(loan, D(2025, 3, 11))
    assert loan.dpd == 0 and loan.risk_class == 2


def test_holiday_is_interest_only_for_n_periods_then_amortises_over_the_rest(make_loan: Any, approver: Any
                                                                              ) -> None:
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 1, 31))
    loan = restructure(approver, loan.ref, kind="holiday", holiday_periods=3, reason="medical leave")
    new = _rows(loan, 2)
    assert len(new) == 15 and loan.term == 15 and loan.maturity_date == D(2026, 4, 15)
    assert [r.principal_minor for r in new[:3]] == [0, 0, 0] and all(r.interest_minor > 0 for r in new[:3])
    assert all(r.principal_minor > 0 for r in new[3:]) and sum(r.principal_minor for r in new) == 1_200_000
    # interest only means the balance is untouched: each holiday month costs the same 30/360 interest
    assert new[1].interest_minor == new[2].interest_minor == 4350
    assert Restructuring.objects.get(loan=loan).params["holiday_periods"] == 3
    books_ok()


@pytest.mark.parametrize("kind, extra, end", [
    ("extend_term", {"extend_periods": 3}, D(2025, 2, 10)),
    ("change_method", {"new_method": "equal-principal"}, D(2025, 2, 1)),
    ("holiday", {"holiday_periods": 2}, D(2025, 1, 16)),
    ("capitalise", {}, D(2025, 3, 10)),
    ("capitalise", {"extend_periods": 12}, D(2025, 4, 2)),
])
def test_interest_accrued_before_is_neither_lost_nor_counted_twice(make_loan: Any, approver: Any, kind: str,
                                                                    extra: dict, end: dt.date) -> None:
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), end)
    accrued, income = loan.accrued_interest_minor, loan.interest_income_minor
    due_before = loan.overdue_interest_minor
    loan = restructure(approver, loan.ref, kind=kind, reason="hardship", **extra)
    first = Installment.objects.get(loan=loan, version=loan.schedule_version, seq=loan.current_seq)
    # the first new installment = what was accrued + the new terms' interest from the effective date
    assert first.interest_minor == loan.period_interest_minor >= accrued
    due_date = first.due_date
    loan = close_loan_through(loan, due_date)
    assert loan.interest_income_minor - income == first.interest_minor - accrued  # only the rest is new
    assert loan.overdue_interest_minor - (0 if kind == "capitalise" else due_before) == first.interest_minor
    assert loan.accrued_interest_minor == 0
    books_ok()


def test_observation_floor_holds_until_restructured_until_then_the_class_follows_dpd(make_loan: Any,
                                                                                      approver: Any) -> None:
    # a product that stops accrual only past 180 days: at 100 days past due the loan still accrues, so its arrears
    # may be capitalised (a non-accrual loan's interest is off the balance sheet and is not: test_non_accrual_2023)
    Product.objects.filter(code="consumer").update(non_accrual_dpd=180)
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 5, 26))
    assert loan.dpd == 100 and loan.risk_class == 3 and not loan.non_accrual
    loan = restructure(approver, loan.ref, kind="capitalise", reason="workout")
    assert (loan.risk_class, loan.pre_restructure_class, loan.dpd) == (3, 3, 0)
    until = loan.restructured_until
    assert until == D(2026, 6, 15)  # first repayment after the change 2025-06-15 + 1 year (2023 rules, issue 18)

    def fresh(day: dt.date) -> int:
        return int(kernel.classify(np.array([0]), np.array([loan.principal_outstanding_minor]), np.array([1]),
                                   day.toordinal(), np.array([until.toordinal()]),
                                   np.array([loan.pre_restructure_class]))[0])

    assert fresh(D(2025, 6, 1)) == 3 and fresh(until) == 3  # no upgrade while observed, even at dpd 0
    assert fresh(until + dt.timedelta(days=1)) == 1  # afterwards the days past due decide
    loan = close_loan_through(loan, D(2025, 6, 10))
    assert loan.dpd == 0 and loan.risk_class == 3


def test_observation_lasts_at_least_two_repayment_periods(loan_world: dict[str, Any], approver: Any) -> None:
    loans.create_product(loan_world["risk"], code="yearly", name="年付", rate="0.05", months_per_period=12,
                         max_term=30, min_amount="1000", max_amount="1000000")
    loan = loans.disburse(None, customer_id=loan_world["customers"][0], product="yearly",  # trusted booking
                          amount="50000.00", term=3, start_date=D(2025, 1, 15))
    loan = restructure(approver, loan.ref, kind="extend_term", extend_periods=1, reason="harvest failed")
    # from the first repayment date after the change (2026-01-15), two yearly repayment periods (2023 rules,
    # issue 18) are longer than one year: 2028-01-15
    assert loan.restructured_until == D(2028, 1, 15)


def test_a_second_restructuring_takes_the_next_version(make_loan: Any, approver: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    loan = restructure(approver, loan.ref, kind="extend_term", extend_periods=2, reason="one")
    loan = restructure(approver, loan.ref, kind="change_method", new_method="equal-principal", reason="two")
    assert loan.schedule_version == 3 and loan.restructure_count == 2 and loan.term == 14
    assert Installment.objects.filter(loan=loan, version=2, status="superseded").count() == 14
    assert sum(r.principal_minor for r in _rows(loan, 3)) == 1_200_000
    assert [(r.old_version, r.new_version) for r in Restructuring.objects.filter(loan=loan).order_by("id")] == [
        (1, 2), (2, 3)]
    books_ok()


def test_a_matured_loan_can_only_be_capitalised_onto_new_periods(make_loan: Any, approver: Any) -> None:
    loan = close_loan_through(make_loan(amount="6000.00", term=1, start=D(2025, 1, 15)), D(2025, 2, 20))
    assert loan.current_seq == 0 and loan.next_due_date is None and loan.overdue_principal_minor == 600_000
    with pytest.raises(Conflict) as err:
        restructure(approver, loan.ref, kind="extend_term", extend_periods=3, reason="x")
    assert err.value.code == "nothing_to_reschedule"
    with pytest.raises(ValidationError) as err:
        restructure(approver, loan.ref, kind="capitalise", reason="x")
    assert err.value.field == "extend_periods"
    total = loan.principal_outstanding_minor + loan.overdue_interest_minor + loan.penalty_minor + loan.fees_minor
    loan = restructure(approver, loan.ref, kind="capitalise", extend_periods=3, reason="x")
    new = _rows(loan, 2)
    assert [r.due_date for r in new] == [D(2025, 3, 15), D(2025, 4, 15), D(2025, 5, 15)]
    assert new[0].start_date == D(2025, 2, 20) and sum(r.principal_minor for r in new) == total
    assert loan.current_seq == 1 and loan.term == 3  # the superseded seq 1 is replaced: numbering restarts
    books_ok()


# --- refusals ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, field", [
    ({"kind": "extend_term", "extend_periods": 3, "reason": "  "}, ValidationError, "reason"),
    ({"kind": "extend_term", "extend_periods": 0, "reason": "r"}, ValidationError, "extend_periods"),
    ({"kind": "extend_term", "extend_periods": -2, "reason": "r"}, ValidationError, "extend_periods"),
    ({"kind": "extend_term", "extend_periods": True, "reason": "r"}, ValidationError, "extend_periods"),
    ({"kind": "extend_term", "extend_periods": "two", "reason": "r"}, ValidationError, "extend_periods"),
    ({"kind": "extend_term", "reason": "r"}, ValidationError, "extend_periods"),
    ({"kind": "extend_term", "extend_periods": 700, "reason": "r"}, ValidationError, "extend_periods"),
    ({"kind": "change_method", "new_method": "equal-installment", "reason": "r"}, ValidationError, "new_method"),
    ({"kind": "change_method", "new_method": "fortnightly", "reason": "r"}, ValidationError, "new_method"),
    ({"kind": "change_method", "reason": "r"}, ValidationError, "new_method"),
    ({"kind": "holiday", "holiday_periods": 0, "reason": "r"}, ValidationError, "holiday_periods"),
    ({"kind": "extend_term", "holiday_periods": 2, "extend_periods": 1, "reason": "r"}, ValidationError,
     "holiday_periods"),
    ({"kind": "refinance", "reason": "r"}, ValidationError, "kind"),
    ({"kind": "capitalise", "reason": "r"}, Conflict, "kind"),  # nothing overdue
    ({"kind": "extend_term", "extend_periods": 1, "reason": "r", "effective_date": "2025-02-01"},
     ValidationError, "effective_date"),  # before closed_through
    ({"kind": "extend_term", "extend_periods": 1, "reason": "r", "effective_date": "2025-03-01"},
     ValidationError, "effective_date"),  # days not yet closed
    ({"kind": "extend_term", "extend_periods": 1, "reason": "r", "effective_date": "tomorrow"},
     ValidationError, "effective_date"),
])
def test_bad_restructurings_are_refused_by_field_and_write_nothing(make_loan: Any, approver: Any, kwargs: dict,
                                                                   error: type, field: str) -> None:
    loan = close_loan_through(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 5))
    before, version = _counts(), loan.version
    with pytest.raises(error) as err:
        restructure(approver, loan.ref, **kwargs)
    assert err.value.field == field, err.value.message
    assert _counts() == before and Loan.objects.get(pk=loan.pk).version == version


@pytest.mark.parametrize("status", ["closed", "written_off"])
def test_closed_and_written_off_loans_cannot_be_restructured(make_loan: Any, approver: Any, status: str) -> None:
    loan = make_loan()
    Loan.objects.filter(pk=loan.pk).update(status=status)
    before = _counts()
    with pytest.raises(Conflict) as err:
        restructure(approver, loan.ref, kind="extend_term", extend_periods=1, reason="r")
    assert err.value.field == "loan" and err.value.code == "loan_not_active" and _counts() == before


def test_only_permitted_staff_in_scope_may_restructure(loan_world: dict[str, Any], make_loan: Any) -> None:
    loan = make_loan()
    with pytest.raises(Forbidden):
        restructure(loan_world["officer_bj"], loan.ref, kind="extend_term", extend_periods=1, reason="r")
    outsider = org.create_user(None, username="approver_sh", password="x-pass-123456", role="approver",
                               branch_code="SH", display_name="approver_sh")
    with pytest.raises(NotFound) as err:  # another branch's loan is answered as one that does not exist
        restructure(outsider, loan.ref, kind="extend_term", extend_periods=1, reason="r")
    assert (err.value.code, err.value.field, err.value.message) == ("unknown_loan", "loan",
                                                                    f"no loan {loan.ref}")
    with pytest.raises(CreditplanError) as missing:
        restructure(loan_world["admin"], "LN-NOPE", kind="extend_term", extend_periods=1, reason="r")
    assert missing.value.code == "unknown_loan"
