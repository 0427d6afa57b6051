"""Disbursement: the loan, its schedule, its accounting, its quota and its event — or nothing at all."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from creditplan.core.errors import CreditplanError
from creditplan.ledger.models import Event
from creditplan.loans import accounting
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, JournalEntry, Loan
from creditplan.plans import services as plans


def test_a_disbursed_loan_has_its_schedule_postings_and_event(make_loan: Any) -> None:
    loan = make_loan(amount="120000.00", term=12, start=dt.date(2025, 1, 15))
    rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    assert len(rows) == 12 and sum(r.principal_minor for r in rows) == 12_000_000
    assert rows[0].due_date == dt.date(2025, 2, 15) and loan.maturity_date == dt.date(2026, 1, 15)
    # 30/360 at 4.35 %: the first month's interest is 120,000 × 4.35 % / 12 = 435.00
    assert rows[0].interest_minor == 43_500
    assert (loan.current_seq, loan.next_due_date, loan.period_interest_minor) == (1, dt.date(2025, 2, 15), 43_500)
    assert loan.closed_through == dt.date(2025, 1, 15) and loan.principal_outstanding_minor == 12_000_000
    assert loan.term_sheet is not None and loan.term_sheet.body["clauses"]
    tb = accounting.trial_balance()
    assert sum(r.debit_minor for r in tb) == sum(r.credit_minor for r in tb) == 12_000_000
    assert all(r.difference_minor == 0 for r in accounting.reconcile())
    event = Event.objects.filter(kind="loan.disbursed", subject_id=loan.ref).get()
    data = json.loads(event.entry)["data"]
    assert data["principal_minor"] == 12_000_000 and data["term_sheet"] == loan.term_sheet.digest


def test_disbursement_consumes_the_credit_plan_quota(loan_world: dict[str, Any], make_loan: Any) -> None:
    plan = plans.create_plan(loan_world["planner"], code="fy2025", name="2025", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="100000000",
                             new_lending_limit="10000000", balance_limit="10000000")
    plans.activate_plan(loan_world["planner"], plan.id)
    loan = make_loan(amount="50000.00", start=dt.date(2025, 3, 1))
    assert loan.application_ref == loan.ref
    root = plans.plan_quotas(loan_world["planner"], plan.id)[0]
    assert root.state.consumed == 5_000_000 and root.state.outstanding == 5_000_000


@pytest.mark.parametrize("change, field", [
    ({"amount": "-5"}, "amount"),
    ({"amount": "500.00"}, "amount"),  # below the product minimum
    ({"amount": "1000.001"}, "amount"),
    ({"term": 0}, "term"),
    ({"term": 361}, "term"),
    ({"start": dt.date(2099, 1, 1)}, "start_date"),
    ({"product": "nope"}, "product"),
    ({"rate": "0.50"}, "rate"),
])
def test_bad_disbursements_are_refused_by_field_and_write_nothing(make_loan: Any, change: dict, field: str) -> None:
    kwargs: dict[str, Any] = {"amount": "10000.00", "term": 12, "start": dt.date(2025, 1, 15)}
    kwargs.update(change)
    before = (Loan.objects.count(), Installment.objects.count(), JournalEntry.objects.count(),
              Event.objects.count())
    with pytest.raises(CreditplanError) as e:
        make_loan(**kwargs)
    assert e.value.field == field
    assert (Loan.objects.count(), Installment.objects.count(), JournalEntry.objects.count(),
            Event.objects.count()) == before


def test_only_operations_may_disburse(loan_world: dict[str, Any]) -> None:
    with pytest.raises(CreditplanError) as e:
        loans.disburse(loan_world["officer_bj"], customer_id=loan_world["customers"][0], product="consumer",
                       amount="10000", term=12)
    assert e.value.code == "permission_denied"


def test_upfront_fee_is_income_and_the_customer_receives_the_net(loan_world: dict[str, Any]) -> None:
    loans.create_product(loan_world["risk"], code="feeloan", name="fee", rate="0.06", upfront_fee_bp=100)
    loan = loans.disburse(None, customer_id=loan_world["customers"][0], product="feeloan",  # trusted booking
                          amount="10000.00", term=6, start_date="2025-02-01")
    balances = accounting.account_balances()
    assert balances["6021"] == -10_000 and balances["1001"] == -1_000_000 + 10_000
    assert loan.fee_income_minor == 10_000


@pytest.mark.parametrize("rule", ["running-total", "per-line"])
def test_the_products_interest_rule_is_the_loans_and_every_rebuild_keeps_it(loan_world: dict[str, Any],
                                                                            make_loan: Any, rule: str) -> None:
    from tests.loans.conftest import CONSUMER

    from creditplan.loans.domain.schedule import ScheduleTerms, build_schedule, totals

    loans.create_product(loan_world["risk"], **{**CONSUMER, "code": f"c-{rule}", "interest_rule": rule})
    loan = make_loan(amount="1000000.00", term=360, start=dt.date(2025, 1, 1), product=f"c-{rule}")
    assert loan.interest_rule == rule
    rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    expected = build_schedule(ScheduleTerms(principal_minor=100_000_000, annual_rate=loans.from_ppm(43_500),
                                            periods=360, method="equal-installment", start=dt.date(2025, 1, 1),
                                            interest_rule=rule))
    assert [(r.principal_minor, r.interest_minor) for r in rows] == [(ln.principal, ln.interest) for ln in expected]
    # 4.35 % over 30 years: the exact A × 360 − P is 792,122.45(378); rounding each month on the balance leaves 0.86 less
    assert sum(r.interest_minor for r in rows) == totals(expected)["interest"]
    assert totals(expected)["interest"] == {"running-total": 79_212_245, "per-line": 79_212_159}[rule]
    rebuilt = loans.terms_for(loan, principal_minor=50_000_000, periods=100, start=dt.date(2026, 1, 1),
                              first_due=dt.date(2026, 2, 1))
    assert rebuilt.interest_rule.value == rule


def test_an_unknown_interest_rule_is_refused_by_name(loan_world: dict[str, Any]) -> None:
    from tests.loans.conftest import CONSUMER

    with pytest.raises(CreditplanError) as err:
        loans.create_product(loan_world["risk"], **{**CONSUMER, "code": "odd", "interest_rule": "exact"})
    assert err.value.field == "interest_rule" and "running-total, per-line" in err.value.message
