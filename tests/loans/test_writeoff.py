"""Write-off and recovery: the loss entry and the balances it clears, recoveries booked once per reference, and
every refusal without a trace."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from creditplan.core.errors import Conflict, Forbidden, ValidationError
from creditplan.core.money import format_minor
from creditplan.ledger.models import Event
from creditplan.loans import accounting, cob, payments
from creditplan.loans import clock as loans_clock
from creditplan.loans.models import JournalEntry, Loan, LoanActivity, Payment
from creditplan.loans.writeoff import record_recovery, write_off

D = dt.date


def _aged(loan: Loan, day: dt.date) -> Loan:
    cob.advance_loan(loan, day)
    return Loan.objects.select_related("product", "branch").get(pk=loan.pk)


def _books_agree() -> None:
    tb = accounting.trial_balance()
    assert sum(r.debit_minor for r in tb) == sum(r.credit_minor for r in tb)
    assert [r for r in accounting.reconcile() if r.difference_minor] == []


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """The business date these stories happen on (payments refuse value dates far in the past)."""
    day = D(2025, 6, 20)
    monkeypatch.setattr(loans_clock, "business_date", lambda: day)
    return day


def _counts() -> tuple[int, ...]:
    return (JournalEntry.objects.count(), LoanActivity.objects.count(), Payment.objects.count(),
            Event.objects.count())


@pytest.fixture
def bad_loan(make_loan: Any) -> Loan:
    """A loan 100 days past due: 次级 (class 3), with overdue interest, penalty and a late fee."""
    loan = _aged(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 5, 26))
    assert loan.dpd == 100 and loan.risk_class == 3 and loan.penalty_minor > 0 and loan.fees_minor > 0
    return loan


def test_write_off_moves_every_receivable_to_the_loss_account(loan_world: dict[str, Any], bad_loan: Loan) -> None:
    loan = bad_loan
    parts = {"1301": loan.principal_outstanding_minor, "1321": loan.accrued_interest_minor,
             "1322": loan.overdue_interest_minor, "1323": loan.penalty_minor, "1324": loan.fees_minor}
    total = sum(parts.values())
    loan = write_off(loan_world["risk"], loan.ref, reason="borrower insolvent", on="2025-05-27")
    entry = JournalEntry.objects.get(loan=loan, kind="write_off")
    assert entry.entry_date == D(2025, 5, 27)
    got = {p.account: p.amount_minor for p in entry.postings.all()}
    assert got == {"6701": total, **{a: -v for a, v in parts.items() if v}}
    assert loan.status == "written_off" and loan.written_off_on == D(2025, 5, 27) and loan.risk_class == 5
    assert loan.written_off_minor == total and loan.recovered_minor == 0
    assert (loan.principal_outstanding_minor, loan.overdue_principal_minor, loan.overdue_interest_minor,
            loan.accrued_interest_minor, loan.penalty_minor, loan.fees_minor) == (0, 0, 0, 0, 0, 0)
    assert loan.current_seq == 0 and loan.next_due_date is None
    gl = accounting.account_balances()
    assert all(gl.get(a, 0) == 0 for a in parts) and gl["6701"] == total
    last = Event.objects.order_by("-seq").first()
    assert last.kind == "loan.written_off" and json.loads(last.entry)["data"]["written_off_minor"] == total
    act = LoanActivity.objects.get(loan=loan, kind="written_off")
    assert act.amount_minor == total and act.detail["state_before"]["principal"] == parts["1301"]
    _books_agree()
    # the close leaves a written-off loan alone
    cob.advance_loan(loan, D(2025, 6, 30))
    after = Loan.objects.get(pk=loan.pk)
    assert (after.closed_through, after.penalty_minor, after.accrued_interest_minor) == (D(2025, 5, 26), 0, 0)


def test_a_credit_balance_survives_the_write_off(loan_world: dict[str, Any], bad_loan: Loan, today: dt.date
                                                 ) -> None:
    # an overpayment arrives: it pays what is due and the rest is held as credit
    owed = bad_loan.overdue_principal_minor + bad_loan.overdue_interest_minor + bad_loan.penalty_minor + (
        bad_loan.fees_minor)
    payments.post_payment(loan_world["ops"], loan_ref=bad_loan.ref, amount=format_minor(owed + 10_000, grouping=False),
                          reference="PAY-OVER", value_date="2025-05-27")
    loan = Loan.objects.get(pk=bad_loan.pk)
    assert loan.credit_minor == 10_000
    Loan.objects.filter(pk=loan.pk).update(risk_class=3)  # classification is the close's; keep it non-performing
    loan = write_off(loan_world["risk"], loan.ref, reason="fraud", on="2025-05-27")
    assert loan.credit_minor == 10_000 and accounting.account_balances()["2241"] == -10_000
    _books_agree()


@pytest.mark.parametrize("setup, kwargs, error, field", [
    ({"risk_class": 2}, {"reason": "r"}, Conflict, "loan"),
    ({"status": "closed"}, {"reason": "r"}, Conflict, "loan"),
    ({"status": "written_off"}, {"reason": "r"}, Conflict, "loan"),
    ({}, {"reason": " "}, ValidationError, "reason"),
    ({}, {"reason": "r", "on": "2025-05-01"}, ValidationError, "on"),  # before the last close
    ({}, {"reason": "r", "on": "2999-01-01"}, ValidationError, "on"),
    ({}, {"reason": "r", "on": "not a date"}, ValidationError, "on"),
])
def test_bad_write_offs_are_refused_and_write_nothing(loan_world: dict[str, Any], bad_loan: Loan, setup: dict,
                                                      kwargs: dict, error: type, field: str) -> None:
    if setup:
        Loan.objects.filter(pk=bad_loan.pk).update(**setup)
    before = _counts()
    with pytest.raises(error) as err:
        write_off(loan_world["risk"], bad_loan.ref, **kwargs)
    assert err.value.field == field, err.value.message
    assert _counts() == before
    assert Loan.objects.get(pk=bad_loan.pk).version == bad_loan.version


def test_only_risk_may_write_off(loan_world: dict[str, Any], bad_loan: Loan) -> None:
    for who in ("approver_bj", "ops", "officer_bj"):
        with pytest.raises(Forbidden):
            write_off(loan_world[who], bad_loan.ref, reason="r")


@pytest.fixture
def written_off(loan_world: dict[str, Any], bad_loan: Loan) -> Loan:
    return write_off(loan_world["risk"], bad_loan.ref, reason="uncollectable", on="2025-05-27")


def test_a_recovery_is_income_and_is_booked_once_per_reference(loan_world: dict[str, Any],
                                                               written_off: Loan) -> None:
    ops = loan_world["ops"]
    p = record_recovery(ops, written_off.ref, amount="1000.00", reference="REC-1", value_date="2025-06-10")
    assert (p.kind, p.channel, p.amount_minor, p.value_date) == ("recovery", "recovery", 100_000, D(2025, 6, 10))
    entry = JournalEntry.objects.get(loan=written_off, kind="recovery")
    assert {a.account: a.amount_minor for a in entry.postings.all()} == {"1001": 100_000, "6702": -100_000}
    assert Loan.objects.get(pk=written_off.pk).recovered_minor == 100_000
    assert Event.objects.order_by("-seq").first().kind == "loan.recovered"
    before = _counts()
    again = record_recovery(ops, written_off.ref, amount="1000.00", reference="REC-1", value_date="2025-06-10")
    assert again.pk == p.pk and _counts() == before  # the same payment, nothing new
    with pytest.raises(Conflict) as err:
        record_recovery(ops, written_off.ref, amount="999.00", reference="REC-1")
    assert err.value.field == "reference" and err.value.code == "reference_reused"
    assert Loan.objects.get(pk=written_off.pk).recovered_minor == 100_000
    _books_agree()


def test_recoveries_never_exceed_what_was_written_off(loan_world: dict[str, Any], written_off: Loan) -> None:
    ops, total = loan_world["ops"], written_off.written_off_minor
    record_recovery(ops, written_off.ref, amount=str(total // 100 - 1), reference="REC-A", value_date="2025-06-01")
    left = total - (total // 100 - 1) * 100
    before = _counts()
    with pytest.raises(ValidationError) as err:
        record_recovery(ops, written_off.ref, amount=format_minor(left + 1, grouping=False), reference="REC-B",
                        value_date="2025-06-02")
    assert err.value.field == "amount" and err.value.code == "exceeds_written_off" and _counts() == before
    record_recovery(ops, written_off.ref, amount=format_minor(left, grouping=False), reference="REC-C",
                    value_date="2025-06-02")
    assert Loan.objects.get(pk=written_off.pk).recovered_minor == total


@pytest.mark.parametrize("kwargs, error, field", [
    ({"amount": "0", "reference": "R1"}, ValidationError, "amount"),
    ({"amount": "-5", "reference": "R1"}, ValidationError, "amount"),
    ({"amount": "1.001", "reference": "R1"}, ValidationError, "amount"),
    ({"amount": "10", "reference": "  "}, ValidationError, "reference"),
    ({"amount": "10", "reference": "R1", "value_date": "2025-05-01"}, ValidationError, "value_date"),
    ({"amount": "10", "reference": "R1", "value_date": "2999-05-01"}, ValidationError, "value_date"),
])
def test_bad_recoveries_are_refused_and_write_nothing(loan_world: dict[str, Any], written_off: Loan,
                                                      kwargs: dict, error: type, field: str) -> None:
    before = _counts()
    with pytest.raises(error) as err:
        record_recovery(loan_world["ops"], written_off.ref, **kwargs)
    assert err.value.field == field, err.value.message
    assert _counts() == before


def test_recovery_needs_a_written_off_loan_and_an_unused_reference(loan_world: dict[str, Any], make_loan: Any,
                                                                   written_off: Loan, today: dt.date) -> None:
    active = make_loan(amount="5000.00", customer=1)
    with pytest.raises(Conflict) as err:
        record_recovery(loan_world["ops"], active.ref, amount="10", reference="R-ACTIVE")
    assert err.value.code == "not_written_off"
    _aged(active, D(2025, 6, 15))
    payments.post_payment(loan_world["ops"], loan_ref=active.ref, amount="100.00", reference="PAY-1",
                          value_date="2025-06-16")
    with pytest.raises(Conflict) as err:
        record_recovery(loan_world["ops"], written_off.ref, amount="100.00", reference="PAY-1")
    assert err.value.field == "reference"
    with pytest.raises(Forbidden):
        record_recovery(loan_world["risk"], written_off.ref, amount="10", reference="R-RISK")  # no LOAN_REPAY
