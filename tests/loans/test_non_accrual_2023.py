"""Non-accrual (非应计): a loan more than 90 days past due stops recognising interest and penalty as income; what
it owes is tracked off the balance sheet (GL 7001/7002); money received is income when received; the loan
returns to accrual once its arrears are cleared. Figures worked by hand below.

The loan of these stories: 12,000.00 over 12 months at 4.35 % (30/360, equal instalments), disbursed 15 Jan 2025,
first due 15 Feb; monthly rate 0.3625 %, instalment 12,000 × 0.003625 / (1 − 1.003625^−12) = 1,023.72:
  #1 due 15 Feb: interest 12,000.00 × 0.003625 = 43.50, principal 980.22, left 11,019.78
  #2 due 15 Mar: interest 11,019.78 × 0.003625 = 39.95, principal 983.77, left 10,036.01
  #3 due 15 Apr: interest 10,036.01 × 0.003625 = 36.38, principal 987.34, left  9,048.67
  #4 due 15 May: interest  9,048.67 × 0.003625 = 32.80, principal 990.92, left  8,057.75
  #5 due 15 Jun: interest  8,057.75 × 0.003625 = 29.21 — accrued straight-line over the 31 actual days of
     (15 May, 15 Jun]: after 1 day 29.21 × 1/31 → 0.94, after 2 days 29.21 × 2/31 → 1.88.
Nothing is paid: the oldest unpaid due date is 15 Feb, so 16 May is 90 days past due (still accruing) and 17 May
is 91 (non-accrual from that night's close).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from loan_checks import books_ok

from creditplan.core.money import format_minor
from creditplan.loans import accounting, cob, payments
from creditplan.loans import clock as loans_clock
from creditplan.loans.models import Installment, JournalEntry, Loan, LoanActivity, Product

D = dt.date


def _loan(loan: Loan) -> Loan:
    return Loan.objects.select_related("product", "branch").get(pk=loan.pk)


def _postings(loan: Loan, kind: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in JournalEntry.objects.filter(loan=loan, kind=kind).prefetch_related("postings"):
        for p in e.postings.all():
            out[p.account] = out.get(p.account, 0) + p.amount_minor
    return out


def test_interest_of_the_four_unpaid_instalments_and_the_accrual_are_what_the_hand_says(make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    rows = list(Installment.objects.filter(loan=loan).order_by("seq").values_list("interest_minor", flat=True))
    assert rows[:5] == [4350, 3995, 3638, 3280, 2921]
    loan = _loan(cob.advance_loan(loan, D(2025, 5, 16)) and loan)
    assert (loan.dpd, loan.non_accrual, loan.overdue_interest_minor, loan.accrued_interest_minor) == (
        90, False, 4350 + 3995 + 3638 + 3280, 94)


def test_a_loan_400_days_overdue_books_no_interest_or_penalty_as_income(make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    cob.advance_loan(loan, D(2025, 5, 16))
    loan = _loan(loan)
    penalty_before = loan.penalty_minor
    assert loan.interest_income_minor == 15263 + 94 and loan.penalty_income_minor == penalty_before > 0
    cob.advance_loan(loan, D(2025, 5, 17))  # 91 days past due
    loan = _loan(loan)
    assert loan.non_accrual and loan.non_accrual_since == D(2025, 5, 17)
    # tonight: the interest owed (15,263 due + 188 accrued) and the penalty leave income and the balance sheet
    moved = _postings(loan, "non_accrual")
    assert moved == {"6011": 15263 + 188, "1321": -188, "1322": -15263, "6012": loan.penalty_minor,
                     "1323": -loan.penalty_minor, "7001": 15451 + loan.penalty_minor,
                     "7002": -(15451 + loan.penalty_minor)}
    assert (loan.interest_income_minor, loan.penalty_income_minor) == (0, 0)
    act = LoanActivity.objects.get(loan=loan, kind="non_accrual")
    assert act.amount_minor == 15451 + loan.penalty_minor and act.detail["dpd"] == 91

    cob.advance_loan(loan, D(2026, 3, 22))  # 400 days past due (15 Feb 2025 + 400 days)
    loan = _loan(loan)
    assert loan.dpd == 400 and loan.non_accrual
    total_interest = sum(Installment.objects.filter(loan=loan).values_list("interest_minor", flat=True))
    assert loan.overdue_interest_minor == total_interest and loan.accrued_interest_minor == 0  # all fallen due
    # the borrower owes every fen of interest and penalty; none of it is income
    gl = accounting.account_balances()
    assert (gl.get("6011", 0), gl.get("6012", 0)) == (0, 0)
    assert (gl.get("1321", 0), gl.get("1322", 0), gl.get("1323", 0)) == (0, 0, 0)
    assert gl["7001"] == total_interest + loan.penalty_minor == -gl["7002"]
    assert loan.penalty_minor > penalty_before  # penalty still runs — off the balance sheet
    assert (loan.interest_income_minor, loan.penalty_income_minor) == (0, 0)
    books_ok()


def test_money_received_on_a_non_accrual_loan_is_income_when_received(loan_world: dict[str, Any], make_loan: Any,
                                                                       monkeypatch: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    cob.advance_loan(loan, D(2025, 5, 20))
    monkeypatch.setattr(loans_clock, "business_date", lambda: D(2025, 5, 21))
    loan = _loan(loan)
    assert loan.non_accrual
    memo_before = accounting.account_balances()["7001"]
    penalty = loan.penalty_minor
    # 100.00 pays the penalty first (the consumer waterfall), then the oldest interest (43.50)
    r = payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount="100.00", reference="NA-1",
                              value_date="2025-05-21")
    assert r.allocation["penalty"] == min(penalty, 10_000)
    got = _postings(loan, "repayment")
    paid_interest = r.allocation["interest"]
    assert got == {k: v for k, v in {
        "1001": 10_000, "6012": -r.allocation["penalty"], "6011": -paid_interest, "1301": -r.allocation["principal"],
        "1324": -r.allocation["fee"],  # fees stay on the balance sheet whatever the accrual status
        "7001": -(r.allocation["penalty"] + paid_interest), "7002": r.allocation["penalty"] + paid_interest}.items()
        if v}
    assert accounting.account_balances()["7001"] == memo_before - r.allocation["penalty"] - paid_interest
    loan = _loan(loan)
    assert loan.interest_income_minor == paid_interest and loan.penalty_income_minor == r.allocation["penalty"]
    books_ok()


def test_a_loan_whose_arrears_are_cleared_returns_to_accrual(loan_world: dict[str, Any], make_loan: Any,
                                                            monkeypatch: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    cob.advance_loan(loan, D(2025, 5, 20))
    monkeypatch.setattr(loans_clock, "business_date", lambda: D(2025, 5, 21))
    loan = _loan(loan)
    owed = loan.overdue_principal_minor + loan.overdue_interest_minor + loan.penalty_minor + loan.fees_minor
    r = payments.post_payment(loan_world["ops"], loan_ref=loan.ref, amount=format_minor(owed, grouping=False),
                              reference="NA-ALL", value_date="2025-05-21")
    loan = _loan(loan)
    assert loan.dpd == 0 and loan.non_accrual  # the books change at the close, not at the counter
    cob.advance_loan(loan, D(2025, 5, 21))
    loan = _loan(loan)
    assert not loan.non_accrual and loan.non_accrual_since is None
    back = _postings(loan, "accrual_resumed")
    # what is still owed and not yet due — the accrued interest of #5 for (15 May, 21 May], 29.21 × 6/31 → 5.65 —
    # comes back on the balance sheet as income
    assert loan.accrued_interest_minor == 2921 * 6 // 31 == 565
    assert back == {"6011": -565, "1321": 565, "7001": -565, "7002": 565}
    # income: the overdue interest when it was received, and now the accrued interest back on the books
    assert loan.interest_income_minor == r.allocation["interest"] + 565
    assert loan.penalty_income_minor == r.allocation["penalty"]
    cob.advance_loan(loan, D(2025, 5, 22))
    assert _loan(loan).accrued_interest_minor == 2921 * 7 // 31  # accruing again, on the balance sheet
    gl = accounting.account_balances()
    assert gl.get("7001", 0) == 0 and gl["1321"] == 2921 * 7 // 31
    books_ok()


def test_the_product_may_stop_accrual_earlier_or_at_substandard(loan_world: dict[str, Any], make_loan: Any) -> None:
    Product.objects.filter(code="consumer").update(non_accrual_dpd=60, non_accrual_class=0)
    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    assert loan.term_sheet.body["clauses"][-2] == {"kind": "non_accrual", "after_dpd": 60, "from_class": 0}
    cob.advance_loan(loan, D(2025, 4, 16))  # 15 Feb + 60 days: still accruing
    assert not _loan(loan).non_accrual
    cob.advance_loan(loan, D(2025, 4, 17))  # 61 days past due
    assert _loan(loan).non_accrual
    books_ok()


def test_a_non_accrual_loans_interest_is_not_capitalised_in_a_restructuring(loan_world: dict[str, Any],
                                                                             make_loan: Any, monkeypatch: Any) -> None:
    """Its unpaid interest (152.63 due) and penalty sit in the memo account 7001, not in 1322/1323: capitalising
    them would book as principal what the bank does not expect to collect (and leave 1322/1323 negative). Refused,
    nothing written; restructuring without capitalising stays possible."""
    import pytest

    from creditplan.core.errors import Conflict
    from creditplan.loans.restructure import restructure

    loan = make_loan(amount="12000.00", term=12, start=D(2025, 1, 15))
    cob.advance_loan(loan, D(2025, 5, 17))  # 91 days past due: non-accrual
    monkeypatch.setattr(loans_clock, "business_date", lambda: D(2025, 5, 18))
    loan = _loan(loan)
    assert loan.non_accrual and loan.overdue_interest_minor == 15263
    with pytest.raises(Conflict) as exc:
        restructure(loan_world["approver_bj"], loan.ref, kind="extend_term", extend_periods=3, capitalise=True,
                    reason="hardship")
    assert exc.value.code == "capitalise_non_accrual" and exc.value.field == "capitalise"
    assert _loan(loan).principal_outstanding_minor == loan.principal_outstanding_minor
    restructure(loan_world["approver_bj"], loan.ref, kind="extend_term", extend_periods=3, reason="hardship")
    books_ok()
