"""Self-executing contract terms (issue 8, item 5): a generated portfolio lives through 24 months of daily
closes, and every clause of its term sheets runs on exactly the dates a person works out by hand from the
contract — rate resets on the reset anniversaries, auto-debit on each due date, penalty interest from the day
after the grace days, the late fee once per missed due date, the limit freeze at 30 days past due, maturity on
the last due date — each execution a ledger event that names its clause and the term sheet's digest.

The expected dates below are computed from the contract rules alone (schedule due dates plus the clause
parameters), never read back from the close.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from loan_checks import BusinessClock, books_ok, business_clock

from creditplan.core.daycount import add_months
from creditplan.ledger.models import Event
from creditplan.loans import cob, payments
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, Loan, LoanActivity

START = dt.date(2024, 3, 1)
END = add_months(START, 24)  # 24 simulated months of daily closes
GRACE, FREEZE_DPD = 3, 30


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> BusinessClock:
    return business_clock(monkeypatch, START)


def _due_dates(loan: Loan) -> list[dt.date]:
    return list(Installment.objects.filter(loan=loan, version=1).order_by("seq").values_list("due_date", flat=True))


def _prefund(loan: Loan, world: dict[str, Any], margin: Decimal = Decimal("1.15"), on: dt.date | None = None
             ) -> None:
    """Pay in advance everything the schedule asks (and a margin for rate rises): from then on only the
    contract's auto-debit pays the installments."""
    total = sum(i.principal_minor + i.interest_minor + i.fee_minor for i in Installment.objects.filter(loan=loan))
    amount = (Decimal(total) * margin / 100).quantize(Decimal("0.01"))
    payments.post_payment(world["ops"], loan_ref=loan.ref, amount=str(amount), reference=f"PRE-{loan.ref}",
                          value_date=on or loan.start_date + dt.timedelta(days=1))


@pytest.mark.slow
def test_a_portfolio_run_through_24_months_executes_each_clause_on_the_right_dates(
        loan_world: dict[str, Any], clock: Any) -> None:
    risk = loan_world["risk"]
    loans.create_product(risk, code="mortgage", name="住房按揭", rate_type="floating", lpr_tenor="5y",
                         spread_bp=-30, reset_months=12, rate="0.0365", min_amount="10000", max_amount="5000000",
                         max_term=360, grace_days=GRACE, late_fee="0", penalty_markup_pct=50)
    for day, rate in (("2024-07-22", "0.0385"), ("2025-02-20", "0.0360"), ("2025-05-20", "0.0350")):
        loans.set_lpr(risk, tenor="5y", effective_date=day, rate=rate)
    rnd = random.Random(20240301)
    portfolio: list[tuple[Loan, str]] = []
    pending = []
    for k in range(12):
        behaviour = ["prefunded", "never_pays", "floating"][k % 3]
        start = START + dt.timedelta(days=rnd.randrange(0, 60))
        term = rnd.choice([6, 12]) if behaviour != "floating" else 36
        pending.append((start, behaviour, term, k % 2))
    # issue 18: two borrowers who fall more than 90 days behind — one catches up (cure: back to accrual), one is
    # written off on the court's ruling and later pays something back (recovery of principal, then interest)
    for k, behaviour in enumerate(("cures", "written_off")):
        pending.append((START + dt.timedelta(days=10 * k), behaviour, 12, k % 2))
    pending.sort()
    day = START
    while day <= END:
        clock.day = day
        for start, behaviour, term, who in [p for p in pending if p[0] == day]:
            product = "mortgage" if behaviour == "floating" else "consumer"
            amount = f"{rnd.randrange(20, 200) * 1000}.00"
            # booked by trusted code (actor None), as the demo seed does
            loan = loans.disburse(None, customer_id=loan_world["customers"][who], product=product,
                                  amount=amount, term=term, start_date=start)
            portfolio.append((loan, behaviour))
        for loan, behaviour in portfolio:
            if behaviour in ("prefunded", "floating") and day == loan.start_date + dt.timedelta(days=1):
                _prefund(loan, loan_world)
            if behaviour in ("cures", "written_off"):
                _lapse(loan, behaviour, day, loan_world)
        cob.run_close(day)
        day += dt.timedelta(days=1)
        if day.day == 1:  # the books hold every month: trial balance, off-balance memo, loan sub-ledger
            books_ok()

    books_ok()
    lapsed = [(loan, b) for loan, b in portfolio if b in ("cures", "written_off")]
    portfolio = [(loan, b) for loan, b in portfolio if b not in ("cures", "written_off")]
    for loan, behaviour in lapsed:
        loan.refresh_from_db()
        kinds = set(LoanActivity.objects.filter(loan=loan).values_list("kind", flat=True))
        first = _due_dates(loan)[0]
        entered = LoanActivity.objects.get(loan=loan, kind="non_accrual")
        assert entered.business_date == first + dt.timedelta(days=91)  # more than 90 days past due
        if behaviour == "cures":
            assert "accrual_resumed" in kinds and not loan.non_accrual and loan.status == "closed"
        else:
            assert loan.status == "written_off" and loan.memo_interest_minor > 0
            assert loan.recovered_minor > loan.written_off_principal_minor  # principal back, then interest
            assert kinds >= {"written_off", "recovery"}

    assert len(portfolio) == 12
    executed = {"prefunded": 0, "never_pays": 0, "floating": 0}
    for loan, behaviour in portfolio:
        loan.refresh_from_db()
        dues = _due_dates(loan)
        ran = sorted((a.clause, a.kind, a.business_date)
                     for a in LoanActivity.objects.filter(loan=loan).exclude(clause=""))
        expected: list[tuple[str, str, dt.date]] = []
        if behaviour in ("prefunded", "floating"):
            # auto-debit on every due date reached; the last one matures and closes the loan
            reached = [d for d in dues if d <= END]
            expected += [("auto_debit", "auto_debit", d) for d in reached]
            if dues[-1] <= END:
                expected += [("maturity", "matured", dues[-1]), ("maturity", "closed", dues[-1])]
                assert loan.status == "closed" and loan.closed_on == dues[-1]
        if behaviour == "floating":
            # reset every 12 months from the start, to the 5-year LPR in force that day less 30 bp
            resets = [add_months(loan.start_date, 12 * n) for n in (1, 2) if add_months(loan.start_date, 12 * n) <= END]
            expected += [("rate_reset", "rate_reset", d) for d in resets]
            last = resets[-1]
            lpr = Decimal("0.0350") if last >= dt.date(2025, 5, 20) else Decimal("0.0360")
            assert loan.rate_ppm == int((lpr - Decimal("0.0030")) * 1_000_000)
        if behaviour == "never_pays":
            first = dues[0]
            # penalty interest from the first day past the grace days; a late fee for each due date still in
            # arrears after them; the credit limit frozen at 30 days past due; no auto-debit (no money)
            expected.append(("penalty_interest", "penalty_started", first + dt.timedelta(days=GRACE + 1)))
            expected += [("late_fee", "late_fee", d + dt.timedelta(days=GRACE + 1)) for d in dues
                         if d + dt.timedelta(days=GRACE + 1) <= END]
            expected.append(("limit_freeze", "frozen", first + dt.timedelta(days=FREEZE_DPD)))
            expected += [("maturity", "matured", dues[-1])] if dues[-1] <= END else []
            # interest and penalty leave income more than 90 days past due (non-accrual, issue 18)
            expected.append(("non_accrual", "non_accrual", first + dt.timedelta(days=91)))
            assert loan.frozen and loan.status == "active" and loan.non_accrual
        assert ran == sorted(expected), (behaviour, loan.ref)
        executed[behaviour] += len(ran)
        # every execution is on the ledger, naming its clause and the term sheet the loan signed
        events = [json.loads(e.entry)["data"] for e in Event.objects.filter(kind="loan.clause_executed",
                                                                              subject_id=loan.ref)]
        assert sorted((e["clause"], e["action"], dt.date.fromisoformat(e["business_date"])) for e in events) == ran
        assert {e["term_sheet"] for e in events} == {loan.term_sheet.digest}
    # every behaviour really ran clauses (a vacuous pass is a failure)
    assert min(executed.values()) >= 12, executed


def _lapse(loan: Loan, behaviour: str, day: dt.date, world: dict[str, Any]) -> None:
    """Nothing paid until 120 days past due; then `cures` pays every arrear and (prefunded) the rest of the
    schedule, `written_off` is written off on a court ruling and pays back its principal and 100.00 more in
    two recoveries 30 and 60 days later."""
    from creditplan.loans.writeoff import record_recovery, write_off

    loan.refresh_from_db()
    first = _due_dates(loan)[0]
    if day == first + dt.timedelta(days=121) and loan.status == "active":
        if behaviour == "cures":
            _prefund(loan, world, margin=Decimal("1.30"), on=day)
        else:
            write_off(world["risk"], loan.ref, reason="终结执行", condition="court", evidence="(2024)京执1号")
    if behaviour == "written_off" and loan.status == "written_off":
        for k, extra in ((1, 0), (2, 10_000)):
            if day == first + dt.timedelta(days=121 + 30 * k):
                half = loan.written_off_principal_minor // 2
                amount = half + extra if k == 1 else loan.written_off_principal_minor - half + extra
                record_recovery(world["ops"], loan.ref, amount=f"{amount // 100}.{amount % 100:02d}",
                                reference=f"REC-{loan.ref}-{k}", value_date=day)


def test_penalty_and_late_fee_of_a_missed_installment_by_hand(loan_world: dict[str, Any], make_loan: Any,
                                                              clock: Any) -> None:
    """One missed installment of a 12,000.00 consumer loan at 4.35 % (30/360, penalty +50 %, late fee 50.00,
    3 grace days): due 2025-02-15, nothing paid."""
    clock.day = dt.date(2025, 1, 15)
    loan = make_loan(amount="12000.00", term=12, start=dt.date(2025, 1, 15))
    first = Installment.objects.get(loan=loan, seq=1)
    overdue = first.principal_minor + first.interest_minor
    day = dt.date(2025, 1, 16)
    while day <= dt.date(2025, 2, 20):
        clock.day = day
        cob.run_close(day)
        day += dt.timedelta(days=1)
    loan.refresh_from_db()
    # dpd on 2025-02-20 is 5; penalty runs on days with dpd > 3: 02-19 and 02-20, on the overdue amount at
    # 4.35 % × 1.5 / 360 a day, with the sub-fen remainder carried
    daily = Fraction(overdue * 43_500 * 150, 1_000_000 * 100 * 360)
    assert loan.dpd == 5 and loan.penalty_minor == int(2 * daily)
    late = LoanActivity.objects.get(loan=loan, clause="late_fee")
    assert late.business_date == dt.date(2025, 2, 19) and late.amount_minor == 5_000
    started = LoanActivity.objects.get(loan=loan, clause="penalty_interest")
    assert started.business_date == dt.date(2025, 2, 19) and started.amount_minor == int(daily)
    assert loan.fees_minor == 5_000 and loan.risk_class == 2 and loan.bucket == 1


def test_the_customer_sees_each_clause_and_when_it_ran(loan_world: dict[str, Any], make_loan: Any, clock: Any,
                                                       client: Any) -> None:
    from creditplan.customers import services as customers
    from factories import PASSWORD

    clock.day = dt.date(2025, 1, 15)
    loan = make_loan(amount="12000.00", term=12, start=dt.date(2025, 1, 15))
    day = dt.date(2025, 1, 16)
    while day <= dt.date(2025, 3, 20):
        clock.day = day
        cob.run_close(day)
        day += dt.timedelta(days=1)
    customers.link_customer_user(loan.customer_id, loan_world["customer"])
    assert client.post("/login/", {"username": "customer", "password": PASSWORD}).status_code == 302
    page = client.get(f"/loans/{loan.ref}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    terms = page[page.index('id="clauses"'):page.index("</table>", page.index('id="clauses"'))]
    late = terms[terms.index("Late fee"):terms.index("</tr>", terms.index("Late fee"))]
    # missed 15 Feb and 15 Mar: a late fee on each, 4 days later; the freeze at 30 days past due (17 Mar)
    assert ">2<" in late and "2025" in late
    assert "Limit freeze" in terms and "50.00" in terms
    assert 'name="amount"' not in page  # no staff forms for a customer
