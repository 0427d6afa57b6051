"""Bank files: good lines post, bad lines are reported by line number and reason and leave nothing behind,
importing a file twice posts nothing twice, and a line means exactly what post_payment means."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError
from loan_checks import books_ok

from creditplan.core.errors import ValidationError
from creditplan.core.money import to_major
from creditplan.ledger.models import Event
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob, payments
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Payment
from creditplan.loans.payments import bankfile

START = dt.date(2025, 1, 15)
TODAY = dt.date(2025, 2, 16)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loans_clock, "business_date", lambda: TODAY)


@pytest.fixture
def book(make_loan: Any, clock: None, loan_world: Any) -> list[Loan]:
    """Three loans whose first installment fell due on 15 Feb (closed through it), and one repaid loan."""
    out = []
    for k in range(3):
        loan = make_loan(amount="12000.00", term=12, start=START, customer=k % 2)
        cob.advance_loan(loan, dt.date(2025, 2, 15))
        out.append(loan)
    closed = make_loan(amount="5000.00", term=1, start=START)
    cob.advance_loan(closed, dt.date(2025, 2, 15))
    row = closed.installments.get()
    payments.post_payment(loan_world["ops"], loan_ref=closed.ref, reference="PAID-OFF",
                          amount=to_major(row.principal_minor + row.interest_minor))
    closed.refresh_from_db()
    assert closed.status == "closed"
    out.append(closed)
    return out


def test_good_lines_post_and_bad_lines_are_reported_by_number(loan_world: Any, book: list[Loan]) -> None:
    a, b, c, closed = (x.ref for x in book)
    content = "\n".join([
        "reference,loan_ref,amount,value_date",  # 1 header
        f"BK-1,{a},100.00,2025-02-16",  # 2 good
        "BK-2,LN-NOPE,100.00,2025-02-16",  # 3 unknown loan
        f"BK-3,{closed},100.00,2025-02-16",  # 4 closed loan
        f"BK-4,{b},-5.00,2025-02-16",  # 5 negative amount
        f"BK-5,{b},100.00,2025-02-17",  # 6 future date
        f"BK-6,{b},100.00",  # 7 malformed
        "",  # 8 blank: skipped
        f"BK-1,{b},100.00,2025-02-16",  # 9 duplicate reference within the file
        f"BK-7,{b},12.345,2025-02-16",  # 10 too many decimals
        f"BK-8,{b},100.00,2025-13-01",  # 11 bad date
        f"BK-9,{b},250.00,2025-02-16",  # 12 good
        f"BK-10,{c},1500.00,2025-02-16",  # 13 good: pays the installment, the rest is credit
        f"BK-11,{a},50.00,2025-02-16",  # 14 good: the same loan again in the batch
    ]) + "\n"
    report = payments.import_bank_file(loan_world["ops"], content.encode("utf-8"), filename="bank.csv")
    assert (report.lines, report.posted, report.duplicates) == (12, 4, 0)
    reasons = {r.line: (r.reference, r.reason) for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 9, 10, 11]
    assert reasons[3][0] == "BK-2" and reasons[3][1].startswith("unknown loan")
    assert reasons[4][1].startswith("closed loan")
    assert reasons[5][1].startswith("negative amount")
    assert reasons[6][1].startswith("future date")
    assert reasons[7][1].startswith("malformed")
    assert reasons[9][1].startswith("duplicate reference in this file (first on line 2)")
    assert "decimals" in reasons[10][1] and reasons[11][1].startswith("malformed date")
    assert set(Payment.objects.values_list("reference", flat=True)) == {"BK-1", "BK-9", "BK-10", "BK-11", "PAID-OFF"}
    assert report.totals["posted_minor"] == 190_000
    assert Payment.objects.get(reference="BK-10").allocation["credit"] > 0
    # the second payment of loan a saw the state the first one left
    first, second = Payment.objects.get(reference="BK-1"), Payment.objects.get(reference="BK-11")
    assert second.state_before["loan"]["overdue_interest_minor"] == 0 < first.state_before["loan"][
        "overdue_interest_minor"]
    assert JournalEntry.objects.filter(kind="repayment").count() == 4 + 1  # + the fixture's payoff
    assert LoanActivity.objects.filter(kind="repayment").count() == 4 + 1
    assert Event.objects.filter(kind="loan.repayment").count() == 4 + 1
    assert Event.objects.filter(kind="loan.bank_file_imported").count() == 1
    books_ok()


def test_importing_the_same_file_twice_posts_nothing_twice(loan_world: Any, book: list[Loan]) -> None:
    a, b = book[0].ref, book[1].ref
    content = f"R-1,{a},100.00,2025-02-16\nR-2,{b},200.00,2025-02-16\n"
    first = payments.import_bank_file(loan_world["ops"], content)
    second = payments.import_bank_file(loan_world["ops"], content)
    assert (first.posted, first.duplicates) == (2, 0)
    assert (second.posted, second.duplicates, second.rejected) == (0, 2, [])
    assert Payment.objects.filter(channel="file").count() == 2
    assert JournalEntry.objects.filter(kind="repayment").count() == 2 + 1
    # a reference reused for another amount is a rejected line, not a duplicate
    third = payments.import_bank_file(loan_world["ops"], f"R-1,{a},101.00,2025-02-16\n")
    assert third.posted == 0 and third.rejected[0].line == 1 and "reference already used" in third.rejected[0].reason
    books_ok()


def test_a_line_means_what_post_payment_means(loan_world: Any, book: list[Loan]) -> None:
    a, b = book[0], book[1]
    payments.import_bank_file(loan_world["ops"], f"S-1,{a.ref},700.00,2025-02-16\nS-2,{a.ref},700.00,2025-02-16\n")
    payments.post_payment(loan_world["ops"], loan_ref=b.ref, amount="700.00", reference="T-1")
    payments.post_payment(loan_world["ops"], loan_ref=b.ref, amount="700.00", reference="T-2")
    a.refresh_from_db()
    b.refresh_from_db()
    for f in ("principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor", "credit_minor",
              "oldest_due_date", "dpd", "status"):
        assert getattr(a, f) == getattr(b, f), f
    for x, y in (("S-1", "T-1"), ("S-2", "T-2")):
        px, py = Payment.objects.get(reference=x), Payment.objects.get(reference=y)
        assert px.allocation == py.allocation
        assert {k: v for k, v in px.state_before["loan"].items() if k != "version"} == {
            k: v for k, v in py.state_before["loan"].items() if k != "version"}
    rows = lambda loan: list(Installment.objects.filter(loan=loan).order_by("seq").values_list(  # noqa: E731
        "status", "paid_principal_minor", "paid_interest_minor", "paid_on"))
    assert rows(a) == rows(b)
    books_ok()


def test_encodings_bom_and_gbk(loan_world: Any, book: list[Loan]) -> None:
    a = book[0].ref
    bom = ("\ufeffreference,loan_ref,amount,value_date\r\n" + f"U-1,{a},10.00,2025-02-16\r\n").encode("utf-8")
    assert payments.import_bank_file(loan_world["ops"], bom).posted == 1
    gbk = ("流水号,贷款,金额,日期\n" + f"G-1,{a},10.00,2025-02-16\n").encode("gbk")
    report = payments.import_bank_file(loan_world["ops"], gbk)
    assert report.posted == 1 and report.rejected[0].line == 1  # a header we do not know is a bad line
    with pytest.raises(ValidationError) as exc:
        payments.import_bank_file(loan_world["ops"], b"\xff\xfe\x00\x81")
    assert exc.value.field == "content"


def test_a_database_error_in_a_batch_falls_back_to_line_by_line(loan_world: Any, book: list[Loan],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = book[0].ref, book[1].ref
    calls = {"n": 0}
    real = bankfile._checked_entries

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise DatabaseError("simulated: connection hiccup in the middle of the batch")
        return real(*args, **kwargs)

    monkeypatch.setattr(bankfile, "_checked_entries", flaky)  # mid-write: payments already inserted
    monkeypatch.setattr(bankfile, "BANK_FILE_BATCH", 2)
    content = "".join(f"F-{k},{a if k % 2 else b},30.00,2025-02-16\n" for k in range(5))
    report = payments.import_bank_file(loan_world["ops"], content)
    assert report.posted == 5 and report.batches_retried == 1 and not report.rejected
    assert Payment.objects.filter(channel="file").count() == 5  # the failed batch left nothing behind
    assert JournalEntry.objects.filter(kind="repayment").count() == 5 + 1
    books_ok()


def test_a_failing_line_leaves_nothing_half_applied(loan_world: Any, book: list[Loan],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A line that fails after writing part of itself (here: the ledger event, written last) is rolled back
    on its own; the other lines post."""
    a = book[0].ref
    from creditplan.ledger import services as ledger

    real_append, real_many = ledger.append, ledger.append_many

    def append(actor: Any, kind: str, subject_type: str, subject_id: Any, data: dict) -> Any:
        if data.get("reference") == "H-2":
            raise ValidationError("simulated failure at the very end", code="simulated")
        return real_append(actor, kind, subject_type, subject_id, data)

    def append_many(actor: Any, specs: Any) -> int:
        specs = list(specs)
        if any(s.data.get("reference") == "H-2" for s in specs):
            raise ValidationError("simulated failure at the very end", code="simulated")
        return real_many(actor, specs)

    monkeypatch.setattr(ledger, "append", append)
    monkeypatch.setattr(ledger, "append_many", append_many)
    before = Installment.objects.filter(loan__ref=a).order_by("id").values_list("paid_principal_minor", "status")
    before = list(before)
    content = f"H-1,{book[1].ref},10.00,2025-02-16\nH-2,{a},500.00,2025-02-16\nH-3,{book[2].ref},10.00,2025-02-16\n"
    report = payments.import_bank_file(loan_world["ops"], content)
    assert report.posted == 2 and [r.line for r in report.rejected] == [2]
    assert not Payment.objects.filter(reference="H-2").exists()
    assert list(Installment.objects.filter(loan__ref=a).order_by("id").values_list(
        "paid_principal_minor", "status")) == before
    books_ok()


def test_a_line_dated_before_the_last_close_is_replayed(loan_world: Any, book: list[Loan]) -> None:
    a = book[0]
    report = payments.import_bank_file(loan_world["ops"], f"B-1,{a.ref},300.00,2025-02-10\n")
    assert report.posted == 1 and report.replayed == 1
    p = Payment.objects.get(reference="B-1")
    assert p.allocation["credit"] == 30_000  # nothing was due on 10 Feb; auto-debit applied it on the 15th
    a.refresh_from_db()
    assert a.credit_minor == 0 and a.overdue_interest_minor == 0
    books_ok()


def test_batches(loan_world: Any, book: list[Loan], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bankfile, "BANK_FILE_BATCH", 3)
    refs = [x.ref for x in book[:3]]
    content = "".join(f"M-{k},{refs[k % 3]},{k + 1}.00,2025-02-16\n" for k in range(10))
    report = payments.import_bank_file(loan_world["ops"], content)
    assert report.posted == 10 and report.totals["posted_minor"] == sum(range(1, 11)) * 100
    books_ok()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_pipelined_batches_on_postgresql_equal_posting_one_by_one(loan_world: Any, make_loan: Any, clock: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches in flight (PostgreSQL, outside a transaction): a loan paid in several batches sees each
    batch's result; the end state equals posting the same lines one by one on twin loans."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CREDITPLAN_TEST_DB=postgresql)")
    from creditplan.plans import services as plans

    plan = plans.create_plan(loan_world["planner"], code="fy2025", name="2025", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="100000000", new_lending_limit="10000000",
                             balance_limit="10000000")
    plans.activate_plan(loan_world["planner"], plan.id)  # the loans are quota-tracked: the tail locks quota rows
    twins = []
    for k in range(3):
        pair = [make_loan(amount="12000.00", term=12, start=START, customer=k % 2) for _ in range(2)]
        for loan in pair:
            cob.advance_loan(loan, dt.date(2025, 2, 15))
        twins.append(pair)
    monkeypatch.setattr(bankfile, "BANK_FILE_BATCH", 2)
    amounts = ["300.00", "500.00", "250.00", "400.00", "90.00", "700.00", "60.00", "310.00", "125.00"]
    lines = [(f"PL-{k}", twins[k % 3][0].ref, amount) for k, amount in enumerate(amounts)]
    report = payments.import_bank_file(loan_world["ops"], "".join(f"{r},{loan},{a},2025-02-16\n" for r, loan, a in lines))
    assert report.posted == len(amounts) and not report.rejected and report.batches_retried == 0
    assert "wait" in report.phases  # the pipelined path ran (a batch waits for the one before it)
    for k, amount in enumerate(amounts):
        payments.post_payment(loan_world["ops"], loan_ref=twins[k % 3][1].ref, amount=amount, reference=f"ONE-{k}")
    for a, b in twins:
        a.refresh_from_db()
        b.refresh_from_db()
        for f in ("principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor", "credit_minor",
                  "oldest_due_date", "penalty_minor", "fees_minor"):
            assert getattr(a, f) == getattr(b, f), f
    for k in range(len(amounts)):
        assert Payment.objects.get(reference=f"PL-{k}").allocation == Payment.objects.get(
            reference=f"ONE-{k}").allocation
    books_ok()
    root = plans.plan_quotas(loan_world["planner"], plan.id)[0]
    repaid = sum(Payment.objects.get(reference=f"PL-{k}").allocation["principal"]
                 + Payment.objects.get(reference=f"ONE-{k}").allocation["principal"] for k in range(len(amounts)))
    assert repaid > 0 and root.state.outstanding == 6 * 1_200_000 - repaid
