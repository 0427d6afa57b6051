"""The statement of account: lines that add up per component, closing balances that are the loan's own,
accruals measured to the fen, the right people only — and a real PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.errors import NotFound, ValidationError
from creditplan.core.money import format_minor
from creditplan.customers.models import Customer
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob, payments
from creditplan.loans import statement as stmt
from creditplan.loans.models import Loan
from creditplan.loans.restructure import restructure
from creditplan.loans.statement import COMPONENTS, balances_of, pdf_text, statement, statement_pdf
from creditplan.loans.writeoff import record_recovery, write_off

D = dt.date


_CLOCK = {"today": D(2025, 1, 15)}


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dict[str, dt.date]:
    """The business date: it moves on as the nightly close runs (payments take value dates near it)."""
    _CLOCK["today"] = D(2025, 1, 15)
    monkeypatch.setattr(loans_clock, "business_date", lambda: _CLOCK["today"])
    return _CLOCK


def close_book_through(day: dt.date) -> None:
    """The nightly close (run_close: the close's entries per branch, its activities per loan) up to `day`;
    the next business day begins."""
    _CLOCK["today"] = max(_CLOCK["today"], day)
    start = cob.first_open_date()
    while start is not None and start <= day:
        cob.run_close(start)
        start += dt.timedelta(days=1)
    _CLOCK["today"] = max(_CLOCK["today"], day + dt.timedelta(days=1))


def assert_adds_up(st: stmt.Statement) -> None:
    """Per component: opening + movements = closing, line by line and in the totals."""
    running = dict(st.opening)
    for line in st.lines:
        for c, v in line.changes.items():
            running[c] += v
        assert line.balances == running, line
        assert line.date >= st.date_from and line.date <= st.date_to
    assert running == st.closing
    for t in st.totals:
        assert t.opening_minor + t.increases_minor - t.decreases_minor == t.closing_minor
        assert (t.opening_minor, t.closing_minor) == (st.opening[t.component], st.closing[t.component])


def test_a_statement_over_the_whole_life_ends_at_the_loans_balances(loan_world: dict[str, Any], make_loan: Any,
                                                                    today: dict) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    close_book_through(D(2025, 4, 20))
    payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="1500.00", reference="P-1",
                          value_date="2025-04-21")
    close_book_through(D(2025, 6, 3))
    loan = Loan.objects.get(pk=loan.pk)
    st = statement(loan_world["ops"], loan.ref)
    assert st.opening == dict.fromkeys(COMPONENTS, 0) and st.reconciled is True
    assert st.closing == balances_of(loan) and st.date_to == D(2025, 6, 3)
    assert_adds_up(st)
    kinds = [line.kind for line in st.lines]
    assert kinds[0] == "disbursement" and kinds.count("installment_due") == 4 and "late_fee" in kinds
    assert "adjustment" not in kinds  # every change is itemised or measured as accrual
    # what was measured at the checkpoints is exactly what the close recognised as income
    assert sum(line.changes.get("accrued_interest", 0) for line in st.lines if line.kind == "accrual") == (
        loan.interest_income_minor)
    assert sum(line.changes.get("penalty", 0) for line in st.lines if line.kind == "penalty") == (
        loan.penalty_income_minor)
    assert sum(line.changes.get("fees", 0) for line in st.lines if line.changes.get("fees", 0) > 0) == (
        loan.fee_income_minor)  # no upfront fee on this product
    paid = next(line for line in st.lines if line.kind == "repayment")
    assert paid.amount_minor == 150_000 and paid.detail["reference"] == "P-1"
    assert sum(-v for v in paid.changes.values()) == 150_000  # the whole payment went to what was due
    assert st.received_minor == 150_000
    # the accrual of each period is measured at its due date: Feb 15 books 30/360 interest of a full month
    first = next(line for line in st.lines if line.kind == "accrual")
    assert (first.date, first.changes) == (D(2025, 2, 15), {"accrued_interest": 4350})
    assert [r.seq for r in st.schedule] == list(range(1, 13))


def test_a_window_opens_where_the_lines_before_it_left_off(loan_world: dict[str, Any], make_loan: Any,
                                                           today: dict) -> None:
    loan = make_loan(amount="24000.00", term=12, start=D(2025, 1, 15))
    close_book_through(D(2025, 2, 20))
    payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="3000.00", reference="P-W1",
                          value_date="2025-02-21")
    close_book_through(D(2025, 5, 1))
    whole = statement(loan_world["ops"], loan.ref)
    part = statement(loan_world["ops"], loan.ref, date_from="2025-03-01", date_to="2025-04-30")
    before = [line for line in whole.lines if line.date < D(2025, 3, 1)]
    assert part.opening == before[-1].balances and part.opening["credit"] > 0  # the overpayment is held
    assert all(D(2025, 3, 1) <= line.date <= D(2025, 4, 30) for line in part.lines)
    assert part.reconciled is None  # the window ends before the latest close
    assert_adds_up(part)
    # the credit held is applied when the next installments fall due (auto-debit)
    debits = [line for line in part.lines if line.kind == "auto_debit"]
    assert debits and sum(-line.changes["credit"] for line in debits) == part.opening["credit"] - (
        part.closing["credit"])
    assert_adds_up(whole)
    assert whole.reconciled is True
    with pytest.raises(ValidationError) as err:
        statement(loan_world["ops"], loan.ref, date_from="2025-05-01", date_to="2025-04-01")
    assert err.value.field == "date_to"


def test_restructuring_write_off_and_recovery_appear_with_their_movements(loan_world: dict[str, Any],
                                                                          make_loan: Any, today: dict) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    close_book_through(D(2025, 3, 10))
    restructure(loan_world["approver_bj"], loan.ref, kind="capitalise", reason="arrears")
    close_book_through(D(2025, 7, 20))
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.risk_class >= 3
    write_off(loan_world["risk"], loan.ref, reason="no prospect", condition="court", evidence="(2025)京执1号")
    record_recovery(loan_world["ops"], loan.ref, amount="800.00", reference="REC-S1")
    loan = Loan.objects.get(pk=loan.pk)
    st = statement(loan_world["auditor"], loan.ref)
    assert_adds_up(st)
    assert st.reconciled is True and st.closing == dict.fromkeys(COMPONENTS, 0)
    r = next(line for line in st.lines if line.kind == "restructuring")
    assert r.changes["principal"] == r.amount_minor > 0 and r.changes["fees"] == -5000
    assert r.changes["principal"] + r.changes["interest_due"] + r.changes["penalty"] + r.changes["fees"] == 0
    w = next(line for line in st.lines if line.kind == "write_off")
    assert w.amount_minor == loan.written_off_minor == -sum(w.changes.values())
    assert w.balances == dict.fromkeys(COMPONENTS, 0)
    rec = st.lines[-1]
    assert (rec.kind, rec.amount_minor, rec.changes) == ("recovery", 80_000, {})
    assert st.received_minor == 80_000 and st.recovered_minor == 80_000
    assert {line.kind for line in st.lines} >= {"class_changed", "penalty", "accrual"}
    assert "adjustment" not in {line.kind for line in st.lines}


def test_the_close_run_for_one_loan_gives_the_same_statement(loan_world: dict[str, Any], make_loan: Any,
                                                              today: dict) -> None:
    """cob.advance_loan books the close's entries per loan: the statement must not count them twice."""
    nightly = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    single = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15), customer=1)
    cob.advance_loan(single, D(2025, 4, 1))
    close_book_through(D(2025, 4, 1))  # the nightly run finds `single` already closed through each date
    a = statement(loan_world["ops"], nightly.ref)
    b = statement(loan_world["ops"], single.ref)
    assert_adds_up(b)
    assert b.reconciled is True and a.closing == b.closing
    assert [(x.date, x.kind, x.changes) for x in a.lines] == [(x.date, x.kind, x.changes) for x in b.lines]


def test_who_may_read_a_statement(loan_world: dict[str, Any], make_loan: Any) -> None:
    mine = make_loan(customer=0)
    theirs = make_loan(customer=1)
    Customer.objects.filter(pk=loan_world["customers"][0]).update(user=loan_world["customer"])
    assert statement(loan_world["customer"], mine.ref).loan_ref == mine.ref
    with pytest.raises(NotFound):
        statement(loan_world["customer"], theirs.ref)
    with pytest.raises(NotFound):
        statement(loan_world["officer_sh"], mine.ref)  # another branch
    assert statement(loan_world["officer_bj"], mine.ref).reconciled is True


def test_the_pdf_carries_the_loan_and_its_totals(loan_world: dict[str, Any], make_loan: Any, today: dict
                                                ) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    close_book_through(D(2025, 3, 20))
    st = statement(loan_world["ops"], loan.ref)
    data = statement_pdf(st)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    text = pdf_text(data)
    assert loan.ref.encode() in text
    closing = f"{st.closing_owed_minor // 100:,}.{st.closing_owed_minor % 100:02d}".encode()
    assert closing in text and b"12,000.00" in text
    for t in st.totals:
        assert f"{t.closing_minor // 100:,}.{t.closing_minor % 100:02d}".encode() in text


def test_without_a_chinese_font_the_pdf_is_latin_only(loan_world: dict[str, Any], make_loan: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stmt, "cjk_font", lambda: None)
    loan = make_loan()
    data = statement_pdf(statement(loan_world["ops"], loan.ref))
    text = pdf_text(data)
    assert data.startswith(b"%PDF-") and loan.ref.encode() in text and b"FontFile" not in data


def test_a_chinese_font_is_found_where_fonts_noto_cjk_is_installed() -> None:
    font = stmt.cjk_font()
    # scripts/install-system-deps.sh installs fonts-noto-cjk (make test): a customer's statement needs it
    assert font is not None, "no CJK font found: install fonts-noto-cjk (make system-deps)"
    path, index = font
    if path.endswith(".ttc"):
        from fontTools.ttLib import TTCollection

        assert " SC" in str(TTCollection(path, lazy=True).fonts[index]["name"].getDebugName(4))


def test_backdated_payments_reversals_and_a_payoff_still_add_up(loan_world: dict[str, Any], make_loan: Any,
                                                               today: dict) -> None:
    loan = make_loan(amount="6000.00", term=6, start=D(2025, 1, 15))
    close_book_through(D(2025, 2, 20))
    ops = loan_world["ops"]
    payments.post_payment(ops, loan_ref=loan.ref, amount="500.00", reference="P-B1", value_date="2025-02-21")
    close_book_through(D(2025, 3, 25))
    # dated before the last close: replayed; 10 days back, beyond CREDITPLAN_BACKDATE_DAYS: loan.backdate (issue 18)
    payments.post_payment(loan_world["admin"], loan_ref=loan.ref, amount="700.00", reference="P-B2",
                          value_date="2025-03-16")
    payments.reverse_payment(loan_world["admin"], reference="P-B1", reason="bounced")
    quote = payments.payoff_quote(loan_world["ops"], loan.ref)
    payments.prepay(ops, loan_ref=loan.ref, amount=format_minor(quote.total_minor, grouping=False), reference="P-OFF",
                    mode="full")
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.status == "closed"
    st = statement(ops, loan.ref)
    assert_adds_up(st)
    assert st.reconciled is True and st.closing == dict.fromkeys(COMPONENTS, 0)
    kinds = [line.kind for line in st.lines]
    assert kinds.count("repayment") == 3 and "reversal" in kinds
    assert st.received_minor == 70_000 + quote.total_minor  # the reversed payment is not money received
    data = statement_pdf(st)
    assert b"P-OFF" in pdf_text(data)
