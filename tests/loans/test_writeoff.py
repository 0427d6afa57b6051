"""Write-off and recovery: a write-off on one of the write-off conditions, by four eyes, consumes the loss
allowance (topped up first when short) and keeps the loan on record off balance (账销案存) where its interest
runs on; recoveries pay the written-off principal back into the allowance first, then interest as income;
every refusal leaves no trace."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import transaction
from loan_checks import books_ok

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


COURT = {"condition": "court", "evidence": "(2025)京0105执1234号"}


def _provision(day: dt.date, branch: str, amount: int) -> None:
    with transaction.atomic():
        accounting.post_provision(day, {(branch, "CNY"): amount}, batch_ref="test")


def test_write_off_consumes_the_allowance_and_keeps_the_loan_on_record(loan_world: dict[str, Any],
                                                                       bad_loan: Loan) -> None:
    loan = bad_loan
    assert loan.non_accrual  # 100 days past due: its interest and penalty are off the balance sheet already
    principal, fees = loan.principal_outstanding_minor, loan.fees_minor
    interest = loan.accrued_interest_minor + loan.overdue_interest_minor + loan.penalty_minor
    _provision(D(2025, 5, 26), "BJ01", principal + fees + 50_000)  # the ECL run left more than enough
    loan = write_off(loan_world["risk"], loan.ref, reason="borrower insolvent", on="2025-05-27", **COURT)
    entry = JournalEntry.objects.get(loan=loan, kind="write_off")
    assert entry.entry_date == D(2025, 5, 27)
    got = {p.account: p.amount_minor for p in entry.postings.all()}
    total = principal + fees + interest
    assert got == {"1304": principal + fees, "1301": -principal, "1324": -fees,  # against the allowance
                   "7001": -interest, "7002": interest,  # the non-accrual interest leaves its memo …
                   "7101": total, "7102": -total}  # … and all the borrower owes is kept on record
    assert not JournalEntry.objects.filter(loan=loan, kind="write_off_provision").exists()  # no top-up needed
    assert loan.status == "written_off" and loan.written_off_on == D(2025, 5, 27) and loan.risk_class == 5
    assert (loan.written_off_minor, loan.written_off_principal_minor, loan.recovered_minor) == (total, principal, 0)
    assert (loan.principal_outstanding_minor, loan.overdue_principal_minor, loan.overdue_interest_minor,
            loan.accrued_interest_minor, loan.penalty_minor, loan.fees_minor) == (0, 0, 0, 0, 0, 0)
    assert loan.current_seq == 0 and loan.next_due_date is None
    gl = accounting.account_balances()
    assert all(gl.get(a, 0) == 0 for a in ("1301", "1321", "1322", "1323", "1324", "7001"))
    assert gl["1304"] == -50_000 and gl["7101"] == total and "6701" not in gl
    last = Event.objects.order_by("-seq").first()
    data = json.loads(last.entry)["data"]
    assert last.kind == "loan.written_off" and data["written_off_minor"] == total and data["condition"] == "court"
    act = LoanActivity.objects.get(loan=loan, kind="written_off")
    assert act.amount_minor == total and act.detail["state_before"]["principal"] == principal
    books_ok()
    # the close no longer runs the written-off loan's schedule
    cob.advance_loan(loan, D(2025, 6, 30))
    after = Loan.objects.get(pk=loan.pk)
    assert (after.penalty_minor, after.accrued_interest_minor, after.principal_outstanding_minor) == (0, 0, 0)


def test_an_allowance_short_of_the_loan_is_topped_up_first(loan_world: dict[str, Any], bad_loan: Loan) -> None:
    principal, fees = bad_loan.principal_outstanding_minor, bad_loan.fees_minor
    _provision(D(2025, 5, 26), "BJ01", 100_000)  # 1,000.00: short of the loan
    write_off(loan_world["risk"], bad_loan.ref, reason="uncollectable", on="2025-05-27", **COURT)
    topup = JournalEntry.objects.get(loan=bad_loan, kind="write_off_provision")
    assert {p.account: p.amount_minor for p in topup.postings.all()} == {
        "6703": principal + fees - 100_000, "1304": -(principal + fees - 100_000)}
    assert accounting.account_balances()["1304"] == 0  # used up exactly
    books_ok()
    # the top-up is not an ECL provision: the month-end run of an earlier date may still be posted after it
    _provision(D(2025, 5, 27) - dt.timedelta(days=1), "BJ01", 120_000)
    assert accounting.allowance_balances(D(2025, 5, 26))[("BJ01", "CNY")] == 120_000


def test_interest_runs_on_in_the_written_off_record(loan_world: dict[str, Any], bad_loan: Loan) -> None:
    """Penalty interest on the principal written off: 4.35 % × (1 + 50 %) = 6.525 % a year over 360 days (30/360
    product). For principal P the day's interest is P × 43,500 × 150 / (100 × 1,000,000 × 360) fen, the rest
    carried."""
    loan = write_off(loan_world["risk"], bad_loan.ref, reason="uncollectable", on="2025-05-26", **COURT)
    p = loan.written_off_principal_minor
    assert p == 12_000_00  # nothing was ever repaid
    cob.run_close(D(2025, 5, 27))
    cob.run_close(D(2025, 5, 28))
    loan = Loan.objects.get(pk=loan.pk)
    two_days = p * 43_500 * 150 * 2 // (100 * 1_000_000 * 360)
    assert loan.memo_interest_minor == two_days and loan.closed_through == D(2025, 5, 28)
    gl = accounting.account_balances()
    assert gl["7101"] == loan.written_off_minor + two_days == -gl["7102"]
    cob.run_close(D(2025, 5, 28))  # a rerun of a closed date adds nothing
    assert Loan.objects.get(pk=loan.pk).memo_interest_minor == two_days
    books_ok()


def test_a_credit_balance_survives_the_write_off(loan_world: dict[str, Any], bad_loan: Loan, today: dt.date
                                                 ) -> None:
    # an overpayment arrives: it pays what is due and the rest is held as credit
    owed = bad_loan.overdue_principal_minor + bad_loan.overdue_interest_minor + bad_loan.penalty_minor + (
        bad_loan.fees_minor)
    # (dated back more than 3 days: an administrator holds the back-dating authority)
    payments.post_payment(loan_world["admin"], loan_ref=bad_loan.ref, amount=format_minor(owed + 10_000, grouping=False),
                          reference="PAY-OVER", value_date="2025-05-27")
    loan = Loan.objects.get(pk=bad_loan.pk)
    assert loan.credit_minor == 10_000
    Loan.objects.filter(pk=loan.pk).update(risk_class=3)  # classification is the close's; keep it non-performing
    loan = write_off(loan_world["risk"], loan.ref, reason="fraud", on="2025-05-27", **COURT)
    assert loan.credit_minor == 10_000 and accounting.account_balances()["2241"] == -10_000
    books_ok()


@pytest.mark.parametrize("setup, kwargs, error, field", [
    ({"risk_class": 2}, {"reason": "r"}, Conflict, "loan"),
    ({"status": "closed"}, {"reason": "r"}, Conflict, "loan"),
    ({"status": "written_off"}, {"reason": "r"}, Conflict, "loan"),
    ({}, {"reason": " "}, ValidationError, "reason"),
    ({}, {"reason": "r", "on": "2025-05-01"}, ValidationError, "on"),  # before the last close
    ({}, {"reason": "r", "on": "2999-01-01"}, ValidationError, "on"),
    ({}, {"reason": "r", "on": "not a date"}, ValidationError, "on"),
    ({}, {"reason": "r", "condition": "tired of it"}, ValidationError, "condition"),
    ({}, {"reason": "r", "evidence": " "}, ValidationError, "evidence"),  # a court ruling needs its number
    ({}, {"reason": "r", "condition": "small_claim", "evidence": ""}, Conflict, "condition"),  # 100 < 180 days
])
def test_bad_write_offs_are_refused_and_write_nothing(loan_world: dict[str, Any], bad_loan: Loan, setup: dict,
                                                      kwargs: dict, error: type, field: str) -> None:
    if setup:
        Loan.objects.filter(pk=bad_loan.pk).update(**setup)
    before = _counts()
    with pytest.raises(error) as err:
        write_off(loan_world["risk"], bad_loan.ref, **{**COURT, **kwargs})
    assert err.value.field == field, err.value.message
    assert _counts() == before
    assert Loan.objects.get(pk=bad_loan.pk).version == bad_loan.version


def test_only_risk_may_write_off(loan_world: dict[str, Any], bad_loan: Loan) -> None:
    for who in ("approver_bj", "ops", "officer_bj"):
        with pytest.raises(Forbidden):
            write_off(loan_world[who], bad_loan.ref, reason="r", **COURT)


@pytest.fixture
def written_off(loan_world: dict[str, Any], bad_loan: Loan) -> Loan:
    return write_off(loan_world["risk"], bad_loan.ref, reason="uncollectable", on="2025-05-27", **COURT)


def test_a_recovery_is_income_and_is_booked_once_per_reference(loan_world: dict[str, Any],
                                                               written_off: Loan) -> None:
    ops = loan_world["ops"]
    p = record_recovery(ops, written_off.ref, amount="1000.00", reference="REC-1", value_date="2025-06-10")
    assert (p.kind, p.channel, p.amount_minor, p.value_date) == ("recovery", "recovery", 100_000, D(2025, 6, 10))
    entry = JournalEntry.objects.get(loan=written_off, kind="recovery")
    # principal first: it goes back to the allowance it was written off against; the record comes down
    assert {a.account: a.amount_minor for a in entry.postings.all()} == {"1001": 100_000, "1304": -100_000,
                                                                         "7101": -100_000, "7102": 100_000}
    assert p.allocation == {"recovery": 100_000, "principal": 100_000, "interest": 0}
    assert Loan.objects.get(pk=written_off.pk).recovered_minor == 100_000
    assert Event.objects.order_by("-seq").first().kind == "loan.recovered"
    before = _counts()
    again = record_recovery(ops, written_off.ref, amount="1000.00", reference="REC-1", value_date="2025-06-10")
    assert again.pk == p.pk and _counts() == before  # the same payment, nothing new
    with pytest.raises(Conflict) as err:
        record_recovery(ops, written_off.ref, amount="999.00", reference="REC-1")
    assert err.value.field == "reference" and err.value.code == "reference_reused"
    assert Loan.objects.get(pk=written_off.pk).recovered_minor == 100_000
    books_ok()


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
                          value_date="2025-06-18")
    with pytest.raises(Conflict) as err:
        record_recovery(loan_world["ops"], written_off.ref, amount="100.00", reference="PAY-1")
    assert err.value.field == "reference"
    with pytest.raises(Forbidden):
        record_recovery(loan_world["risk"], written_off.ref, amount="10", reference="R-RISK")  # no LOAN_REPAY


def test_recovered_beyond_the_principal_is_interest_income(loan_world: dict[str, Any], written_off: Loan) -> None:
    p = written_off.written_off_principal_minor
    record_recovery(loan_world["ops"], written_off.ref, amount=format_minor(p + 5_000, grouping=False),
                    reference="REC-ALL", value_date="2025-06-01")
    entry = JournalEntry.objects.get(loan=written_off, kind="recovery")
    assert {a.account: a.amount_minor for a in entry.postings.all()} == {
        "1001": p + 5_000, "1304": -p, "6011": -5_000, "7101": -(p + 5_000), "7102": p + 5_000}
    books_ok()


def test_a_write_off_takes_four_eyes_and_a_checker_with_the_authority(loan_world: dict[str, Any],
                                                                       bad_loan: Loan) -> None:
    from creditplan.loans import approvals
    from creditplan.loans.writeoff import propose_write_off

    req = propose_write_off(loan_world["risk"], bad_loan.ref, reason="court ruling", on="2025-05-27", **COURT)
    assert req.status == "pending" and Loan.objects.get(pk=bad_loan.pk).status == "active"
    with pytest.raises(Conflict) as err:
        approvals.decide(loan_world["risk"], req.pk, approve=True)
    assert err.value.code == "maker_checker"
    before = _counts()
    with pytest.raises(Forbidden):  # an approver decides loan changes, but holds no write-off authority
        approvals.decide(loan_world["approver_bj"], req.pk, approve=True)
    assert _counts() == before and Loan.objects.get(pk=bad_loan.pk).status == "active"
    done = approvals.decide(loan_world["admin"], req.pk, approve=True)
    assert done.status == "approved" and Loan.objects.get(pk=bad_loan.pk).status == "written_off"
    assert LoanActivity.objects.get(loan=bad_loan, kind="written_off").detail["request"] == req.pk
    books_ok()
