"""Repayment that does what the borrower expects (issue 18 §3): allocation installment by installment (逐期) or
by component, the choice fixed in the term sheet; back-dated corrections posted on today's accounting date, with
authority to go beyond the back-dating limit.

Every figure below is worked by hand in the comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from loan_checks import BusinessClock, business_clock
from tests.loans.conftest import CONSUMER

from creditplan.core.errors import Forbidden, ValidationError
from creditplan.loans import accounting, cob, payments
from creditplan.loans import services as loans
from creditplan.loans.domain.terms import make_sheet, sheet_for_product
from creditplan.loans.domain.waterfall import Due, Rule, allocate
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Payment, TermSheet

START = dt.date(2025, 1, 15)
DAY = dt.timedelta(days=1)

# Two overdue installments, hand-made: #1 interest 43.50, principal 981.00; #2 interest 39.94, principal
# 984.56; penalty 12.34; late fees 100.00 (two of 50.00); no installment fees.
DUES = [Due(1, interest=4350, principal=98100), Due(2, interest=3994, principal=98456)]


def test_by_component_pays_all_penalty_fees_and_interest_before_any_principal() -> None:
    # 1,000.00 by component: penalty 12.34 (left 987.66), fees 100.00 (887.66), interest 43.50 + 39.94 = 83.44
    # (804.22), principal of #1: 804.22 of 981.00 (0.00). #1 keeps 176.78 of principal unpaid, #2 only its
    # principal 984.56.
    a = allocate(100000, penalty=1234, fees=10000, dues=DUES)
    assert (a.penalty, a.fee, a.interest, a.principal, a.left) == (1234, 10000, 8344, 80422, 0)
    assert dict(a.interest_by_seq) == {1: 4350, 2: 3994}
    assert dict(a.principal_by_seq) == {1: 80422}


def test_installment_by_installment_pays_the_oldest_in_full_before_the_next() -> None:
    # 1,000.00 逐期: the oldest installment carries the loan-level penalty and late fees: penalty 12.34 (left
    # 987.66), late fees 100.00 (887.66), #1 interest 43.50 (844.16), #1 principal 844.16 of 981.00 (0.00).
    # #2 gets nothing: its interest 39.94 stays unpaid; #1 keeps 136.84 of principal unpaid.
    a = allocate(100000, penalty=1234, fees=10000, dues=DUES, by="installment")
    assert (a.penalty, a.fee, a.interest, a.principal, a.left) == (1234, 10000, 4350, 84416, 0)
    assert dict(a.interest_by_seq) == {1: 4350}
    assert dict(a.principal_by_seq) == {1: 84416}
    # 1,200.00 逐期: 12.34 + 100.00 + 43.50 + 981.00 = 1,136.84 settles #1; the 63.16 left pays #2's interest
    # 39.94 and 23.22 of its principal.
    b = allocate(120000, penalty=1234, fees=10000, dues=DUES, by="installment")
    assert dict(b.interest_by_seq) == {1: 4350, 2: 3994}
    assert dict(b.principal_by_seq) == {1: 98100, 2: 2322}
    # the order inside an installment is the clause's: interest, principal first, then the charges: #1
    # interest 43.50 and principal 981.00 (1,024.50) come before the penalty; 1,100.00 leaves 75.50 for the
    # penalty 12.34 and the late fees 63.16 of 100.00; #2 gets nothing.
    c = allocate(110000, penalty=1234, fees=10000, dues=DUES, by="installment",
                 order=("interest", "principal", "penalty", "fee"))
    assert (c.penalty, c.fee, c.interest, c.principal) == (1234, 6316, 4350, 98100)


def test_installment_fees_go_with_their_installment() -> None:
    # installment fees 5.00 each, late fees 50.00 (fees = 5 + 5 + 50 = 60.00), no penalty; 1,100.00 逐期:
    # late 50.00 (1,050.00), #1 fee 5.00 (1,045.00), #1 interest 43.50 (1,001.50), #1 principal 981.00
    # (20.50), #2 fee 5.00 (15.50), #2 interest 15.50 of 39.94.
    dues = [Due(1, interest=4350, principal=98100, fee=500), Due(2, interest=3994, principal=98456, fee=500)]
    a = allocate(110000, penalty=0, fees=6000, dues=dues, by="installment")
    assert a.fee == 6000 and dict(a.fee_by_seq) == {1: 500, 2: 500}
    assert dict(a.interest_by_seq) == {1: 4350, 2: 1550}


def test_the_choice_is_a_term_sheet_clause_and_default_sheets_keep_their_digest(loan_world: Any) -> None:
    p = loan_world["product"]
    before = sheet_for_product(p).digest
    assert p.allocation == "component" and sheet_for_product(p).clause("allocation") is None
    assert sheet_for_product(p).allocation_rule(p.waterfall) == Rule("component", tuple(p.waterfall))
    p.allocation = "installment"
    sheet = sheet_for_product(p)
    assert sheet.digest != before
    assert sheet.clause("allocation") == {"by": "installment", "order": "penalty,fee,interest,principal"}
    assert sheet.allocation_rule(["principal", "interest", "fee", "penalty"]) == Rule(
        "installment", ("penalty", "fee", "interest", "principal"))  # the clause wins over the product
    with pytest.raises(ValidationError):
        make_sheet("CNY", [{"kind": "allocation", "by": "sometimes", "order": "penalty,fee,interest,principal"}])
    with pytest.raises(ValidationError):
        loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "bad", "allocation": "sometimes"})


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> BusinessClock:
    return business_clock(monkeypatch, START + DAY)


def _two_overdue(make_loan: Any, product: str) -> Loan:
    loan = make_loan(product=product)
    cob.advance_loan(loan, dt.date(2025, 3, 25))  # #1 due 15 Feb and #2 due 15 Mar, both unpaid, penalty running
    loan.refresh_from_db()
    return loan


def test_every_path_follows_the_loans_term_sheet(loan_world: Any, make_loan: Any, today: Any) -> None:
    """The same overdue loan under both products; penalty + fees + #1 in full paid by a teller, a bank file and a
    back-dated (replayed) payment: by installment #1 is paid and #2's principal untouched; by component #2's
    interest takes a part and #1 stays open by exactly that much."""
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "zhuqi", "name": "逐期", "allocation": "installment",
                                                "auto_debit": False})
    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "bycomp", "name": "按项", "auto_debit": False})
    today.day = dt.date(2025, 3, 26)
    results = {}
    for code, path in (("zhuqi", "teller"), ("zhuqi", "file"), ("zhuqi", "replay"), ("bycomp", "teller")):
        loan = _two_overdue(make_loan, code)
        assert TermSheet.objects.get(pk=loan.term_sheet_id).body["clauses"][-1]["kind"] == (
            "allocation" if code == "zhuqi" else "maturity")
        one, two = (Installment.objects.get(loan=loan, seq=s) for s in (1, 2))
        assert one.status == two.status == "due" and loan.penalty_minor > 0 and loan.fees_minor == 10000
        amount = loan.penalty_minor + loan.fees_minor + one.interest_minor + one.principal_minor
        text = f"{amount // 100}.{amount % 100:02d}"
        ref = f"PAY-{code}-{path}"
        if path == "file":
            report = payments.import_bank_file(loan_world["ops"], f"{ref},{loan.ref},{text},2025-03-26\n")
            assert report.posted == 1, report.rejected
        else:  # the replay: dated 25 Mar, a day already closed (by a user with loan.backdate)
            payments.post_payment(loan_world["admin"], loan_ref=loan.ref, amount=text, reference=ref,
                                  value_date="2025-03-25" if path == "replay" else None)
        one.refresh_from_db()
        two.refresh_from_db()
        results[(code, path)] = (one.status, two.paid_principal_minor, two.paid_interest_minor,
                                 one.principal_minor - one.paid_principal_minor, two.interest_minor)
    for path in ("teller", "file"):
        assert results[("zhuqi", path)][:4] == ("paid", 0, 0, 0)
    # replayed from the close of 24 Mar: one day less penalty is owed, so the rest goes on to #2's interest
    status, two_principal, two_interest, _, two_owed = results[("zhuqi", "replay")]
    assert status == "paid" and two_principal == 0 and 0 < two_interest < two_owed
    status, two_principal, two_interest, one_left, two_owed = results[("bycomp", "teller")]
    # by component #2's interest is paid before #1's principal: #1 keeps exactly that much principal unpaid
    assert status == "due" and two_interest == two_owed and one_left == two_owed and two_principal == 0
    diffs = [r for r in accounting.reconcile() if r.difference_minor]
    assert not diffs


def _tb(day: dt.date) -> list[tuple[str, int, int]]:
    return [(r.code, r.debit_minor, r.credit_minor) for r in accounting.trial_balance(as_of=day)]


def test_a_backdated_payment_posts_on_todays_date_and_closed_days_keep_their_books(loan_world: Any, make_loan: Any,
                                                                                   today: Any) -> None:
    """Paid at the counter on 15 Feb (the due date) but keyed on 26 Feb after the closes through 25 Feb: the
    replay recomputes from 15 Feb (no arrears, no penalty, no late fee), and its ONE adjusting entry is dated
    26 Feb — the trial balance of every closed day, 15 Jan to 25 Feb, stays what it was."""
    loan = make_loan()
    cob.advance_loan(loan, dt.date(2025, 2, 25))
    loan.refresh_from_db()
    assert loan.dpd == 10 and loan.penalty_minor > 0 and loan.fees_minor == 5000  # overdue: penalty, late fee
    closed = [START + k * DAY for k in range((dt.date(2025, 2, 25) - START).days + 1)]
    before = {d: _tb(d) for d in closed}
    today.day = dt.date(2025, 2, 26)
    first = Installment.objects.get(loan=loan, seq=1)
    amount = first.principal_minor + first.interest_minor  # 1,023.72
    r = payments.post_payment(loan_world["admin"], loan_ref=loan.ref, amount=f"{amount // 100}.{amount % 100:02d}",
                              reference="BACK-15", value_date="2025-02-15")
    assert r.backdated
    adj = JournalEntry.objects.filter(loan=loan, kind="repayment").latest("id")
    assert adj.entry_date == dt.date(2025, 2, 26)
    assert {d: _tb(d) for d in closed} == before  # no closed day moved
    p = Payment.objects.get(reference="BACK-15")
    assert p.value_date == dt.date(2025, 2, 15)
    act = LoanActivity.objects.filter(loan=loan, kind="repayment").latest("id")
    assert act.business_date == dt.date(2025, 2, 26) and act.detail["value_date"] == "2025-02-15"
    loan.refresh_from_db()
    assert loan.dpd == 0 and loan.penalty_minor == loan.fees_minor == 0  # recomputed from the value date
    diffs = [r for r in accounting.reconcile() if r.difference_minor]
    assert not diffs


def test_back_dating_beyond_the_limit_needs_the_authority(loan_world: Any, make_loan: Any, today: Any,
                                                         settings: Any) -> None:
    settings.BACKDATE_DAYS = 3
    loan = make_loan()
    cob.advance_loan(loan, dt.date(2025, 2, 25))
    today.day = dt.date(2025, 2, 26)
    with pytest.raises(Forbidden) as e:  # 4 days back: operations may not
        payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="100.00", reference="OLD",
                              value_date="2025-02-22")
    assert e.value.code == "backdate_needs_authority" and e.value.field == "value_date"
    assert "3 days" in e.value.message and "2025-02-23" in e.value.message
    assert not Payment.objects.filter(reference="OLD").exists()
    # 3 days back is within the limit; a risk-manager-level user (loan.backdate) may go further, up to the
    # product's max_backdate_days (30), which binds everyone
    assert payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="100.00", reference="IN-LIMIT",
                                 value_date="2025-02-23").backdated
    assert payments.post_payment(loan_world["admin"], loan_ref=loan.ref, amount="100.00", reference="OLD",
                                 value_date="2025-02-22").backdated
    with pytest.raises(ValidationError) as e2:
        payments.post_payment(loan_world["admin"], loan_ref=loan.ref, amount="100.00", reference="OLDER",
                              value_date="2025-01-20")
    assert e2.value.code == "backdate_too_old"
