"""The daily close against the database: a loan's life, refusals, idempotence, restartability (in process and
with SIGKILL in a child process), contract clauses (auto-debit, maturity, rate reset, freeze), the borrower
rule, the replay of one loan, the command, and the bulk generator — with the GL reconciled throughout."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from loan_checks import books_ok

from creditplan.core.errors import ValidationError
from creditplan.customers import services as customers
from creditplan.customers.models import Customer
from creditplan.loans import accounting, bulk, cob
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.models import (
    CloseChunk,
    CloseRun,
    Installment,
    JournalEntry,
    Loan,
    LoanActivity,
    LprRate,
    Posting,
)
from factories import individual

D = dt.date
ROOT = Path(__file__).resolve().parents[2]
USE_POSTGRES = os.environ.get("CREDITPLAN_TEST_DB", "sqlite") == "postgresql"


def close_through(first: dt.date, last: dt.date, **kw: Any) -> cob.CloseReport:
    day, report = first, None
    while day <= last:
        report = cob.run_close(day, **kw)
        day += dt.timedelta(days=1)
    assert report is not None
    return report


def give_credit(loan: Loan, amount: int, on: dt.date) -> None:
    """What an overpayment leaves behind: money held for the customer (Dr cash / Cr customer credit)."""
    with transaction.atomic():
        Loan.objects.filter(pk=loan.pk).update(credit_minor=loan.credit_minor + amount)
        accounting.post_entry(on, "repayment", [Line(accounts.CASH, loan.branch.code, amount),
                                                Line(accounts.CUSTOMER_CREDIT, loan.branch.code, -amount)], loan=loan)
    loan.refresh_from_db()


def activities(loan: Loan) -> list[tuple[str, str, str, int]]:
    return [(a.business_date.isoformat(), a.kind, a.clause, a.amount_minor)
            for a in LoanActivity.objects.filter(loan=loan).exclude(kind="disbursed").order_by("business_date", "id")]


_LOAN_SKIP = {"id", "created_at", "version"}


def dump_state() -> dict[str, Any]:
    """Everything the close writes, without surrogate ids or timestamps: equal dumps = equal books."""

    def plain(v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.date) else v

    fields = [f.attname for f in Loan._meta.concrete_fields if f.attname not in _LOAN_SKIP]
    out: dict[str, Any] = {
        "loans": [[plain(v) for v in row] for row in Loan.objects.order_by("ref").values_list("ref", *fields)],
        "installments": [[plain(v) for v in row] for row in Installment.objects.order_by(
            "loan__ref", "version", "seq").values_list(
            "loan__ref", "version", "seq", "start_date", "due_date", "principal_minor", "interest_minor", "fee_minor",
            "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status", "paid_on")],
        "activities": sorted([plain(v) for v in (*row[:5], json.dumps(row[5], sort_keys=True))]
                             for row in LoanActivity.objects.values_list(
                                 "loan__ref", "business_date", "kind", "clause", "amount_minor", "detail")),
        "entries": sorted(
            [e.entry_date.isoformat(), e.kind, e.batch_ref, e.loan_id is not None,
             sorted([p.account, p.branch_code, p.amount_minor] for p in e.postings.all())]
            for e in JournalEntry.objects.prefetch_related("postings")),
        "chunks": sorted([c.run.business_date.isoformat(), c.first_loan_id, c.loans, json.dumps(c.totals, sort_keys=True)]
                         for c in CloseChunk.objects.select_related("run")),
        "runs": [[r.business_date.isoformat(), r.status, json.dumps((r.report or {}).get("totals"), sort_keys=True),
                  (r.report or {}).get("chunks")] for r in CloseRun.objects.order_by("business_date")],
    }
    sums: dict[str, int] = {}
    for p in Posting.objects.all():
        key = f"{p.account}/{p.branch_code}"
        sums[key] = sums.get(key, 0) + p.amount_minor
    out["account_sums"] = sorted(sums.items())
    return out


# --- a loan's life ------------------------------------------------------------------------------------------

def test_a_loan_closed_every_day_through_its_life_reconciles_every_day(make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=3, start=D(2025, 1, 15))  # 4,350 + 2,905 + 1,455 interest
    day = D(2025, 1, 16)
    while day <= D(2025, 5, 20):
        report = cob.run_close(day)
        assert report.status == "done" and report.loans == 1
        books_ok()
        day += dt.timedelta(days=1)
    loan.refresh_from_db()
    # owed in full; but 91 days past due on 17 May it stopped accruing (issue 18): its interest left income
    assert loan.overdue_interest_minor == 4_350 + 2_905 + 1_455 and loan.non_accrual
    assert loan.interest_income_minor == 0 and loan.penalty_income_minor == 0
    assert loan.overdue_principal_minor == loan.principal_outstanding_minor == 1_200_000
    assert (loan.current_seq, loan.next_due_date, loan.accrued_interest_minor) == (0, None, 0)
    assert loan.oldest_due_date == D(2025, 2, 15) and loan.dpd == (D(2025, 5, 20) - D(2025, 2, 15)).days == 94
    assert (loan.bucket, loan.risk_class, loan.frozen) == (4, 3, True)
    assert loan.closed_through == D(2025, 5, 20) and loan.status == "active"
    assert list(Installment.objects.filter(loan=loan).order_by("seq").values_list("status", flat=True)) == ["due"] * 3
    kinds = [(d, k, c) for d, k, c, _ in activities(loan)]
    assert kinds[:5] == [("2025-02-15", "installment_due", ""), ("2025-02-16", "class_changed", ""),
                         ("2025-02-19", "penalty_started", "penalty_interest"), ("2025-02-19", "late_fee", "late_fee"),
                         ("2025-03-15", "installment_due", "")]
    assert ("2025-03-17", "frozen", "limit_freeze") in kinds and ("2025-04-15", "matured", "maturity") in kinds
    assert [a for a in kinds if a[1] == "late_fee"] == [("2025-02-19", "late_fee", "late_fee"),
                                                        ("2025-03-19", "late_fee", "late_fee"),
                                                        ("2025-04-19", "late_fee", "late_fee")]
    assert ("2025-05-17", "class_changed", "") in kinds  # dpd 91: substandard
    assert ("2025-05-17", "non_accrual", "non_accrual") in kinds  # and non-accrual, the same night
    assert loan.fees_minor == 3 * 5_000 == loan.fee_income_minor
    # income recognised in the GL equals the subledger's
    gl = accounting.account_balances()
    assert -gl[accounts.INTEREST_INCOME] == loan.interest_income_minor
    assert -gl[accounts.PENALTY_INCOME] == loan.penalty_income_minor == 0 < loan.penalty_minor
    # what it owes in interest and penalty is off the balance sheet
    assert gl[accounts.OFF_BALANCE_INTEREST] == loan.overdue_interest_minor + loan.penalty_minor
    run = CloseRun.objects.get(business_date=D(2025, 2, 15))
    assert run.report["totals"]["installments_due"] == 1 and run.report["totals"]["reclass_minor"] == 4_350


def test_the_close_refuses_a_future_date_and_a_gap(make_loan: Any) -> None:
    make_loan(start=D(2025, 1, 15))
    with pytest.raises(ValidationError) as exc:
        cob.run_close(loans.business_date() + dt.timedelta(days=1))
    assert exc.value.field == "date" and exc.value.code == "date_in_future"
    with pytest.raises(ValidationError) as exc:
        cob.run_close(D(2025, 1, 20))
    assert exc.value.field == "date" and "close 2025-01-16 first" in exc.value.message
    with pytest.raises(ValidationError):
        cob.run_close("2025-13-01")
    assert not CloseRun.objects.exists() and not JournalEntry.objects.filter(kind="accrual").exists()


def test_loans_that_start_later_do_not_block_an_earlier_date(make_loan: Any) -> None:
    early = make_loan(start=D(2025, 1, 15))
    late = make_loan(start=D(2025, 1, 18), customer=1)
    report = close_through(D(2025, 1, 16), D(2025, 1, 18))
    assert report.loans == 1  # the loan disbursed on the 18th starts accruing from the 19th
    cob.run_close(D(2025, 1, 19))
    early.refresh_from_db()
    late.refresh_from_db()
    assert early.closed_through == late.closed_through == D(2025, 1, 19)
    assert late.accrued_interest_minor > 0


def test_running_a_date_twice_changes_nothing(make_loan: Any) -> None:
    make_loan(start=D(2025, 1, 15))
    make_loan(amount="30000.00", start=D(2025, 1, 15), customer=1)
    close_through(D(2025, 1, 16), D(2025, 2, 15))
    before = dump_state()
    again = cob.run_close(D(2025, 2, 15))
    assert again.already_done and again.loans_this_run == 0 and again.loans == 2 and again.status == "done"
    assert dump_state() == before


def test_a_finished_close_is_recorded_in_the_ledger_and_signed(make_loan: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    from creditplan.ledger import services as ledger
    from creditplan.ledger.models import Event, SignedTreeHead

    monkeypatch.setenv(ledger.SIGNING_KEY_ENV, base64.b64encode(bytes(range(32))).decode())
    make_loan(start=D(2025, 1, 15))
    report = cob.run_close(D(2025, 1, 16))
    event = Event.objects.get(kind="loan.close_completed", subject_id="2025-01-16")
    data = json.loads(event.entry)["data"]
    assert data["loans"] == 1 and data["accrual_minor"] == report.totals["accrual_minor"] > 0
    assert data["npl_ratio"] == "0.000000" and data["classes"] == [1, 0, 0, 0, 0]
    head = SignedTreeHead.objects.get(reason="close")
    assert report.tree_head_size == head.tree_size >= event.seq
    assert CloseRun.objects.get(business_date=D(2025, 1, 16)).report["tree_head_size"] == head.tree_size
    assert ledger.verify_ledger(None, record=False).ok


# --- restartability ---------------------------------------------------------------------------------------

@pytest.fixture
def five_customers(loan_world: dict[str, Any], make_loan: Any) -> list[Loan]:
    ids = list(loan_world["customers"])
    for n in (3, 4, 5):
        ids.append(customers.create_customer(loan_world["officer_bj"], individual(n, branch="BJ01")).id)
    loan_world["customers"][:] = ids
    made = []
    for k, cid in enumerate(ids):
        for j in range(1 + k % 3):
            made.append(make_loan(amount=f"{10_000 + 1_000 * (k + j)}.00", term=6, start=D(2025, 1, 15),
                                  customer=ids.index(cid)))
    return made


def test_a_stopped_close_resumes_to_the_state_of_an_uninterrupted_one(five_customers: list[Loan]) -> None:
    close_through(D(2025, 1, 16), D(2025, 2, 14))
    sid = transaction.savepoint()
    whole = cob.run_close(D(2025, 2, 15), chunk_size=1)
    reference = dump_state()
    transaction.savepoint_rollback(sid)
    assert whole.chunks == 5 and whole.loans == len(five_customers)  # chunks of whole customers: 1,2,3,1,2 loans
    part = cob.run_close(D(2025, 2, 15), chunk_size=1, stop_after_chunks=2)
    assert part.status == "running" and part.loans_this_run == 3 and part.chunks == 2
    assert Loan.objects.filter(closed_through=D(2025, 2, 15)).count() == 3
    with pytest.raises(ValidationError):  # the next date waits for this one
        cob.run_close(D(2025, 2, 16))
    rest = cob.run_close(D(2025, 2, 15), chunk_size=1)
    assert rest.status == "done" and rest.loans_this_run == len(five_customers) - 3 and rest.attempts == 2
    assert rest.loans == whole.loans and rest.totals == whole.totals
    assert dump_state() == reference
    books_ok()


def test_chunks_never_split_a_customer(five_customers: list[Loan]) -> None:
    report = cob.run_close(D(2025, 1, 16), chunk_size=1)
    per_customer = Counter(loan.customer_id for loan in five_customers)
    assert report.chunks == len(per_customer)
    assert sorted(c.loans for c in CloseChunk.objects.all()) == sorted(per_customer.values())
    refs = set(JournalEntry.objects.filter(kind="accrual").values_list("batch_ref", flat=True))
    assert refs == {f"close:2025-01-16:{c.first_loan_id}" for c in CloseChunk.objects.all()}


# --- contract clauses ---------------------------------------------------------------------------------------

def test_auto_debit_applies_a_credit_by_the_waterfall_on_the_due_date(make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=3, start=D(2025, 1, 15))
    give_credit(loan, 500_000, D(2025, 1, 20))  # more than the first installment of 402,903
    close_through(D(2025, 1, 16), D(2025, 2, 15))
    loan.refresh_from_db()
    assert loan.credit_minor == 500_000 - 402_903
    assert (loan.overdue_principal_minor, loan.overdue_interest_minor, loan.oldest_due_date, loan.dpd) == (0, 0, None, 0)
    assert loan.principal_outstanding_minor == 1_200_000 - 398_553
    first = Installment.objects.get(loan=loan, seq=1)
    assert (first.status, first.paid_on, first.paid_interest_minor, first.paid_principal_minor) == (
        "paid", D(2025, 2, 15), 4_350, 398_553)
    debit = LoanActivity.objects.get(loan=loan, kind="auto_debit")
    assert (debit.clause, debit.amount_minor, debit.detail["interest"], debit.detail["principal"]) == (
        "auto_debit", 402_903, 4_350, 398_553)
    books_ok()
    # the next due date: 97,097 of credit pays interest first, then part of the principal; the rest is overdue
    close_through(D(2025, 2, 16), D(2025, 3, 20))
    loan.refresh_from_db()
    second = Installment.objects.get(loan=loan, seq=2)
    assert second.status == "due" and second.paid_interest_minor == 2_905
    assert second.paid_principal_minor == 97_097 - 2_905 and loan.credit_minor == 0
    assert loan.oldest_due_date == D(2025, 3, 15) and loan.dpd == 5 and loan.penalty_minor > 0
    books_ok()


def test_a_loan_paid_off_by_its_credit_on_the_last_due_date_closes_and_the_rest_is_refunded(
        make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=1, start=D(2025, 1, 15))  # one installment: 12,000 + 43.50
    give_credit(loan, 1_204_350 + 10_000, D(2025, 1, 20))
    report = close_through(D(2025, 1, 16), D(2025, 2, 15))
    loan.refresh_from_db()
    assert (loan.status, loan.closed_on, loan.credit_minor, loan.principal_outstanding_minor) == (
        "closed", D(2025, 2, 15), 0, 0)
    assert report.totals["closed"] == 1 and report.totals["refund_minor"] == 10_000
    kinds = [(k, c, a) for _, k, c, a in activities(loan)]
    assert kinds[-4:] == [("installment_due", "", 1_204_350), ("matured", "maturity", 0),
                          ("auto_debit", "auto_debit", 1_204_350), ("closed", "maturity", 10_000)]
    assert accounting.account_balances()[accounts.CUSTOMER_CREDIT] == 0
    books_ok()
    assert cob.run_close(D(2025, 2, 16)).loans == 0  # closed loans are not closed again


@pytest.fixture
def floating(loan_world: dict[str, Any]) -> dict[str, Any]:
    def product(code: str, months_per_period: int) -> None:
        loans.create_product(loan_world["risk"], code=code, name=code, rate_type="floating", lpr_tenor="1y",
                             spread_bp=100, reset_months=1, months_per_period=months_per_period, min_term=1,
                             max_term=60, day_count="30/360", late_fee="0", rate_floor="0.02", rate_cap="0.24")

    product("float-monthly", 1)
    product("float-quarterly", 3)
    return loan_world


def test_a_floating_loan_resets_on_a_due_date_and_rebuilds_its_schedule(floating: dict[str, Any],
                                                                       make_loan: Any) -> None:
    loan = make_loan(amount="120000.00", term=12, start=D(2025, 1, 15), product="float-monthly")
    assert loan.rate_ppm == 34_500 + 10_000 and loan.next_reset_date == D(2025, 2, 15)
    loans.set_lpr(floating["risk"], tenor="1y", effective_date="2025-01-20", rate="0.0300")
    close_through(D(2025, 1, 16), D(2025, 2, 15))
    loan.refresh_from_db()
    assert loan.rate_ppm == 40_000 and loan.next_reset_date == D(2025, 3, 15) and loan.schedule_version == 2
    rows = list(Installment.objects.filter(loan=loan).exclude(status="superseded").order_by("seq"))
    assert [r.version for r in rows] == [1] + [2] * 11 and rows[0].status == "due"
    assert Installment.objects.filter(loan=loan, status="superseded").count() == 11
    balance = 12_000_000 - rows[0].principal_minor
    assert sum(r.principal_minor for r in rows[1:]) == balance
    assert rows[1].interest_minor == (balance + 150) // 300  # 30/360 month at the new 4 %: balance/300, half up
    assert (loan.current_seq, loan.period_interest_minor) == (2, rows[1].interest_minor)
    reset = LoanActivity.objects.get(loan=loan, kind="rate_reset")
    assert (reset.clause, reset.detail["from_ppm"], reset.detail["to_ppm"], reset.detail["lpr_ppm"]) == (
        "rate_reset", 44_500, 40_000, 30_000)
    # the current period accrues at the new rate and sums to the rebuilt installment's interest
    close_through(D(2025, 2, 16), D(2025, 3, 15))
    loan.refresh_from_db()
    assert loan.overdue_interest_minor == rows[0].interest_minor + rows[1].interest_minor
    books_ok()


def test_a_loan_due_on_the_31st_stays_due_on_the_month_end_through_a_rate_reset(floating: dict[str, Any],
                                                                               make_loan: Any) -> None:
    """Paid out on 31 January: due on 28 February, then 31 March and 30 April — the contract's day, clamped to
    short months — and the schedule rebuilt by the rate reset on 28 February keeps that day (no drift to the
    28th)."""
    loan = make_loan(amount="60000.00", term=6, start=D(2025, 1, 31), product="float-monthly")
    assert loans.contract_due_day(loan) == 31
    first = [r.due_date for r in Installment.objects.filter(loan=loan).order_by("seq")]
    assert first == [D(2025, 2, 28), D(2025, 3, 31), D(2025, 4, 30), D(2025, 5, 31), D(2025, 6, 30), D(2025, 7, 31)]
    loans.set_lpr(floating["risk"], tenor="1y", effective_date="2025-02-20", rate="0.0300")
    close_through(D(2025, 2, 1), D(2025, 2, 28))
    loan.refresh_from_db()
    assert loan.schedule_version == 2 and loan.rate_ppm == 40_000
    rebuilt = [r.due_date for r in Installment.objects.filter(loan=loan).exclude(status="superseded")
               .order_by("seq")]
    assert rebuilt == first
    books_ok()


def test_a_reset_inside_a_period_splits_the_accruing_installment(floating: dict[str, Any], make_loan: Any) -> None:
    """Issue 18 (分段计息): the period a reset falls into is charged at the old rate up to the reset and at the new
    rate after it (before, it kept the old rate to its due date, and this test asserted that).

    120,000.00 quarterly at 1-year LPR 3.45 % + 100 bp = 4.45 %, 30/360, from 15 Jan 2025: quarter 1 (15 Jan →
    15 Apr, 90 days) = 120,000 × 4.45 % / 4 = 1,335.00. Reset on 15 Feb at 3.00 + 1.00 = 4.00 %: old part
    1,335.00 × 31 // 90 = 459.83 (what the close accrued); new part 120,000 × 4 % / 4 × 59 / 90 = 786.666… →
    786.67; installment 1: 1,246.50, its principal unchanged."""
    loan = make_loan(amount="120000.00", term=4, start=D(2025, 1, 15), product="float-quarterly")
    first = Installment.objects.get(loan=loan, seq=1)
    assert first.interest_minor == 133_500
    loans.set_lpr(floating["risk"], tenor="1y", effective_date="2025-01-20", rate="0.0300")
    close_through(D(2025, 1, 16), D(2025, 2, 15))  # reset on 15 Feb, inside the first quarter
    loan.refresh_from_db()
    rows = list(Installment.objects.filter(loan=loan).exclude(status="superseded").order_by("seq"))
    assert (rows[0].seq, rows[0].start_date, rows[0].due_date, rows[0].version) == (1, D(2025, 1, 15),
                                                                                    D(2025, 4, 15), 2)
    assert (rows[0].principal_minor, rows[0].interest_minor) == (first.principal_minor, 124_650)
    assert loan.period_interest_minor == 124_650 and loan.accrued_interest_minor == 45_983
    assert [r.version for r in rows[1:]] == [2, 2, 2]
    assert rows[1].interest_minor == (12_000_000 - first.principal_minor + 50) // 100  # a quarter at 4 %, half up
    close_through(D(2025, 2, 16), D(2025, 4, 15))
    loan.refresh_from_db()
    assert loan.overdue_interest_minor == 124_650  # the split interest fell due, all of it accrued
    books_ok()


def test_a_reset_without_a_published_lpr_waits_for_one(floating: dict[str, Any], make_loan: Any) -> None:
    LprRate.objects.all().delete()
    LprRate.objects.create(tenor="1y", effective_date=D(2025, 1, 10), rate_ppm=34_500)
    loan = make_loan(amount="12000.00", term=6, start=D(2025, 1, 15), product="float-monthly")
    LprRate.objects.all().delete()
    close_through(D(2025, 1, 16), D(2025, 2, 16))
    loan.refresh_from_db()
    assert loan.next_reset_date == D(2025, 2, 15) and loan.rate_ppm == 44_500
    assert LoanActivity.objects.filter(loan=loan, kind="rate_reset_skipped").count() == 2
    LprRate.objects.create(tenor="1y", effective_date=D(2025, 2, 17), rate_ppm=30_000)
    cob.run_close(D(2025, 2, 17))
    loan.refresh_from_db()
    assert loan.rate_ppm == 40_000 and loan.next_reset_date == D(2025, 3, 15)


# --- classification over several loans -------------------------------------------------------------------

def test_the_ten_percent_rule_and_the_restructuring_floor_in_the_database(make_loan: Any) -> None:
    big = make_loan(amount="100000.00", term=12, start=D(2025, 1, 15))
    small = make_loan(amount="20000.00", term=12, start=D(2025, 1, 15))
    other = make_loan(amount="10000.00", term=12, start=D(2025, 1, 15), customer=1)
    # `small` is 95 days past due (its arrears set directly: this test is about classes, not money)
    Loan.objects.filter(pk=small.pk).update(oldest_due_date=D(2024, 10, 13), overdue_principal_minor=100_000, dpd=94)
    Loan.objects.filter(pk=other.pk).update(restructured_until=D(2025, 12, 31), pre_restructure_class=3)
    # the debtor rule is for non-retail debtors (2023 rules, issue 18): this borrower is a company
    Customer.objects.filter(pk=big.customer_id).update(kind="company")
    cob.run_close(D(2025, 1, 16))
    big.refresh_from_db()
    small.refresh_from_db()
    other.refresh_from_db()
    assert (small.dpd, small.risk_class) == (95, 3)
    # 20,000 of the customer's 120,000 (16.7 %) is non-performing: the current loan is substandard too
    assert (big.dpd, big.risk_class) == (0, 3)
    assert (other.dpd, other.risk_class) == (0, 3)  # restructured: no better than before restructuring
    change = LoanActivity.objects.get(loan=big, kind="class_changed")
    assert (change.detail["from"], change.detail["to"]) == (1, 3)


# --- one loan, day by day -----------------------------------------------------------------------------------

def test_advance_loan_replays_a_loan_exactly_as_the_nightly_close(make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=3, start=D(2025, 1, 15))
    give_credit(loan, 100_000, D(2025, 1, 16))
    snap = loans.snapshot(loan)
    close_through(D(2025, 1, 16), D(2025, 3, 25))
    loan.refresh_from_db()
    nightly = loans.snapshot(loan)
    entries = JournalEntry.objects.count()
    loans.restore(loan, snap)  # as a reversal does: back to the state before, then replay
    assert loan.closed_through == D(2025, 1, 15)
    totals = cob.advance_loan(loan, D(2025, 3, 25), record=False)
    assert loans.snapshot(loan)["loan"] == nightly["loan"]
    assert loans.snapshot(loan)["installments"] == nightly["installments"]
    assert JournalEntry.objects.count() == entries  # record=False: nothing posted
    assert totals["installments_due"] == 2 and totals["auto_debits"] == 1
    assert totals["accrual_minor"] == loan.interest_income_minor == 4_350 + 2_905 + 1_455 * 10 // 31
    books_ok()  # the columns are what the GL already says


def test_advance_loan_with_record_posts_the_loans_own_entries(make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=3, start=D(2025, 1, 15))
    cob.advance_loan(loan, D(2025, 2, 20))
    assert loan.closed_through == D(2025, 2, 20) and loan.oldest_due_date == D(2025, 2, 15)
    own = JournalEntry.objects.filter(loan=loan, batch_ref__startswith="advance:")
    assert own.filter(kind="accrual").count() == 36 and own.filter(kind="due").count() == 1
    assert LoanActivity.objects.filter(loan=loan, kind="installment_due").count() == 1
    books_ok()
    assert cob.advance_loan(loan, D(2025, 2, 10)) == cob.advance_loan(loan, D(2025, 2, 20))  # nothing to do


# --- the command ----------------------------------------------------------------------------------------------

def test_the_cob_command_runs_dates_and_prints_a_schedule(make_loan: Any, capsys: pytest.CaptureFixture) -> None:
    make_loan(start=D(2025, 1, 15))
    call_command("cob", "run", "--date", "2025-01-16", "--through", "2025-01-18", "--plain", "--chunk-size", "5")
    out = capsys.readouterr().out
    assert "2025-01-16 closed: 1 loans" in out and "2025-01-18 closed" in out
    call_command("cob", "run", "--date", "2025-01-18", "--plain")
    assert "already closed" in capsys.readouterr().out
    call_command("cob", "status")
    assert "first open date: 2025-01-19" in capsys.readouterr().out
    from creditplan.loans.management.commands.cob import Command

    # without --date: from the first open date (through yesterday, or --through)
    assert Command()._dates({"date": None, "through": D(2025, 1, 21)}) == [D(2025, 1, 19), D(2025, 1, 20),
                                                                         D(2025, 1, 21)]
    call_command("cob", "schedule", "--time", "01:15")
    text = capsys.readouterr().out
    assert "OnCalendar=*-*-* 01:15:00 Asia/Shanghai" in text and "cob run --plain" in text and "15 1 * * *" in text
    # the schedule also runs the daily jobs of the apps that release held room: applications and credit lines
    service = text.split("[Service]")[1].split("# ----")[0]
    assert "applications expire" in service and "lines expire" in service
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="close 2025-01-19 first"):
        call_command("cob", "run", "--date", "2025-01-25")


# --- the bulk generator -----------------------------------------------------------------------------------

def test_generated_loans_are_consistent_and_close(loan_world: dict[str, Any]) -> None:
    from creditplan.ledger import services as ledger

    book = bulk.generate_loans(300, start_range=(D(2024, 7, 1), D(2025, 3, 31)), seed=3, delinquent_share=0.2,
                               credit_share=0.1)
    assert book.loans == 300 and book.customers_created == 150 and book.as_of == D(2025, 3, 31)
    assert Loan.objects.filter(status="active", closed_through=D(2025, 3, 31)).count() == 300
    books_ok()
    for loan in Loan.objects.all()[:40]:
        rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
        assert sum(r.principal_minor for r in rows) == loan.principal_minor
        unpaid = sum(r.principal_minor - r.paid_principal_minor for r in rows)
        assert unpaid == loan.principal_outstanding_minor
        assert sum(r.principal_minor for r in rows if r.status == "due") == loan.overdue_principal_minor
    assert Loan.objects.filter(risk_class__gte=2).exists() and Loan.objects.filter(credit_minor__gt=0).exists()
    report = close_through(D(2025, 4, 1), D(2025, 4, 3), chunk_size=50)
    assert report.loans == 300
    books_ok()
    assert ledger.verify_ledger(None, record=False).ok


# --- killed with SIGKILL at many points, then run again -------------------------------------------------------
#
# A driver process (a fresh interpreter on a file database: SQLite here, a database of the test server in the
# PostgreSQL run) builds a small book, then for each kill point forks a child that runs the close of two dates
# with CREDITPLAN_COB_FAULT="point:n": the child kills itself with SIGKILL the n-th time it reaches the point
# (between chunks, inside a chunk before its commit, right after a commit, before and after a date's finish).
# The driver then runs the same closes again on every killed database and on an untouched copy, and compares
# the books: loans, installments, activities, journal entries, postings per account, chunks and runs.

FAULT_DAYS = ("2025-04-01", "2025-04-02")
FAULT_POINTS = [(p, n) for p in ("chunk_start", "after_read", "after_installments", "after_resets", "after_assess",
                                 "after_loans", "after_activities", "after_gl", "before_commit", "after_commit")
                for n in (1, 5)] + [("before_finish", 1), ("after_finish", 1), ("before_finish", 2),
                                    ("after_read", 14)]
FAULT_CHUNK = 8


def make_fault_world() -> None:
    """Branches, the LPR and 90 generated loans of 36 customers, as of 2025-03-31."""
    from creditplan.org import services as org

    org.create_branch(None, code="HO", name="总行", level="head_office")
    for code, region in (("BJ", "110100"), ("SH", "310100")):
        org.create_branch(None, code=code, name=code, level="branch", parent_code="HO", region_code=region)
        org.create_branch(None, code=f"{code}01", name=f"{code}01", level="sub_branch", parent_code=code,
                          region_code=region[:4] + "08")
    LprRate.objects.create(tenor="1y", effective_date=D(2024, 1, 20), rate_ppm=34_500)
    bulk.generate_loans(90, start_range=(D(2024, 11, 1), D(2025, 3, 31)), seed=11, loans_per_customer=2.5,
                        delinquent_share=0.3, credit_share=0.3)


_DRIVER = """
import datetime as dt, json, os, sys, traceback
sys.path[:0] = [{tests!r}, {here!r}]
import django
django.setup()
from django.core.management import call_command
from django.db import connections
from creditplan.loans import cob
import test_cob_close as T

backend = T.fault_backend({kind!r}, {where!r})
days = [dt.date.fromisoformat(d) for d in T.FAULT_DAYS]

def use(name):
    conn = connections["default"]
    conn.close()
    conn.settings_dict["NAME"] = backend.db_name(name)

def close_all():
    return [cob.run_close(day, chunk_size=T.FAULT_CHUNK) for day in days]

use("tpl")
call_command("migrate", verbosity=0)
T.make_fault_world()
connections["default"].close()
signals, running = {{}}, {{}}
for k, (point, nth) in enumerate(T.FAULT_POINTS):
    backend.copy("tpl", f"fault{{k}}")
    pid = os.fork()
    if pid == 0:
        try:
            os.environ[cob.FAULT_ENV] = f"{{point}}:{{nth}}"
            use(f"fault{{k}}")
            close_all()
        except BaseException:
            traceback.print_exc()
        os._exit(3)  # reached only when the kill point was not
    running[pid] = k
    while len(running) >= 2 or (running and k == len(T.FAULT_POINTS) - 1):
        done, status = os.wait()
        signals[running.pop(done)] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
backend.copy("tpl", "reference")
use("reference")
reports = close_all()
reference = T.dump_state()
out = {{"reference_chunks": len(reference["chunks"]), "reference_runs": [r.status for r in reports],
        "reference_attempts": [r.attempts for r in reports], "points": []}}
for k, (point, nth) in enumerate(T.FAULT_POINTS):
    use(f"fault{{k}}")
    reports = close_all()
    state = T.dump_state()
    out["points"].append({{"point": f"{{point}}:{{nth}}", "signal": signals[k], "runs": [r.status for r in reports],
                           "differs": sorted(key for key in reference if state[key] != reference[key])}})
connections["default"].close()
print(json.dumps(out))
"""


class _Sqlite:
    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def db_name(self, name: str) -> str:
        return str(self.folder / f"{name}.sqlite3")

    def copy(self, template: str, name: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            src = self.folder / f"{template}.sqlite3{suffix}"
            if src.exists():
                shutil.copy(src, self.folder / f"{name}.sqlite3{suffix}")


class _Postgres:
    def __init__(self, base: str) -> None:
        self.base = base  # postgresql://user@host:port

    def db_name(self, name: str) -> str:
        return f"cobfault_{name}"

    def create(self, name: str, template: str | None = None) -> None:
        import psycopg

        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.db_name(name)}")
            conn.execute(f"CREATE DATABASE {self.db_name(name)}"
                         + (f" TEMPLATE {self.db_name(template)}" if template else ""))

    def copy(self, template: str, name: str) -> None:
        self.create(name, template)

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'cobfault_%'")]
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fault_backend(kind: str, where: str) -> _Sqlite | _Postgres:
    return _Sqlite(where) if kind == "sqlite" else _Postgres(where)


def _run_fault_driver(kind: str, where: str, url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITPLAN_COB_")}
    env.update(DJANGO_SETTINGS_MODULE="creditplan.settings", CREDITPLAN_DATABASE_URL=url, CREDITPLAN_DEBUG="1")
    script = _DRIVER.format(tests=str(ROOT / "tests"), here=str(Path(__file__).parent), kind=kind, where=where)
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert out["reference_runs"] == ["done", "done"] and out["reference_attempts"] == [1, 1]
    assert out["reference_chunks"] >= 16  # two dates of 8+ chunks: the kill points fall in different chunks
    assert len(out["points"]) == len(FAULT_POINTS) >= 20
    for p in out["points"]:
        assert p["signal"] == signal.SIGKILL, f"{p['point']}: the child was not killed ({p['signal']})"
        assert p["runs"] == ["done", "done"], p
        assert p["differs"] == [], f"killed at {p['point']}: the resumed book differs in {p['differs']}"


@pytest.mark.slow
def test_a_close_killed_at_any_point_resumes_to_the_uninterrupted_state_sqlite(tmp_path: Path) -> None:
    _run_fault_driver("sqlite", str(tmp_path), f"sqlite:///{tmp_path / 'tpl.sqlite3'}")


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(not USE_POSTGRES, reason="PostgreSQL run only (CREDITPLAN_TEST_DB=postgresql)")
def test_a_close_killed_at_any_point_resumes_to_the_uninterrupted_state_postgres(request: pytest.FixtureRequest
                                                                              ) -> None:
    proc = request.getfixturevalue("postgresql_proc")
    base = f"postgresql://{proc.user}@{proc.host}:{proc.port}"
    backend = _Postgres(base)
    backend.create("tpl")
    try:
        _run_fault_driver("postgresql", base, f"{base}/{backend.db_name('tpl')}")
    finally:
        backend.drop_all()
