"""Loan fixtures: a bank with two borrowers, a consumer product and the LPR, and a builder for loans."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from creditplan.customers import services as customers
from creditplan.loans import services as loans
from factories import individual

CONSUMER = {
    "code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
    "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
    "late_fee": "50.00", "penalty_markup_pct": 50, "max_backdate_days": 30,
}


@pytest.fixture
def loan_world(bank: dict[str, Any]) -> dict[str, Any]:
    """Users of `bank`, two borrowers in BJ01, the `consumer` product and the 1-year and 5-year LPR."""
    c1 = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    c2 = customers.create_customer(bank["officer_bj"], individual(2, branch="BJ01"))
    product = loans.create_product(bank["risk"], **CONSUMER)
    for tenor, rate in (("1y", "0.0345"), ("5y", "0.0395")):
        loans.set_lpr(bank["risk"], tenor=tenor, effective_date="2024-01-20", rate=rate)
    return {**bank, "customers": [c1.id, c2.id], "product": product}


@pytest.fixture
def make_loan(loan_world: dict[str, Any]):  # type: ignore[no-untyped-def]
    """make_loan(amount="12000.00", term=12, start=date(2025, 1, 15), customer=0, product="consumer", **kw).

    The loan is booked by trusted code (`actor` None, as the demo seed or a legacy import does): these tests
    are about what happens to a loan once it exists. A person pays out only against an approved, signed
    application (loans.services.disburse): see `signed_application` below for that path."""

    def build(amount: str = "12000.00", term: int = 12, start: dt.date = dt.date(2025, 1, 15), customer: int = 0,
              product: str = "consumer", **kw: Any) -> Any:
        return loans.disburse(None, customer_id=loan_world["customers"][customer], product=product,
                              amount=amount, term=term, start_date=start, **kw)

    return build


@pytest.fixture
def app_world(bank: dict[str, Any], tmp_path: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
              ) -> dict[str, Any]:
    """The origination world (tests/origination/application_data.py: the consumer product, the LPR, a champion
    scorecard, the default policies, an active plan, three BJ01 customers — the first with the `customer`
    log-in — and one SH01 customer), a document store in a temporary directory and contracts rendered without
    the CJK font (faster; the same figures). Use instead of `loan_world`, not with it (both make a consumer
    product)."""
    origination_tests = str(Path(__file__).resolve().parents[1] / "origination")
    if origination_tests not in sys.path:
        sys.path.insert(0, origination_tests)
    import application_data

    bureau = getattr(application_data, "BUREAU", None)
    if bureau:  # the tests' bureau client, a clean file (as the origination and documents worlds use)
        settings.CREDITPLAN_BUREAU_CLIENT = bureau
        application_data.BUREAU_FILE.clear()
    settings.DOCUMENT_DIR = tmp_path / "documents"
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
    return application_data.make_world(bank)


@pytest.fixture
def signed_application(app_world: dict[str, Any]):  # type: ignore[no-untyped-def]
    """signed_application(amount="30000.00", term=12, customer=0) → the application's view once it is approved
    straight through (quota reserved), its contract offered by the BJ01 officer and signed by the customer
    (password + last 4 of the ID): status ready_to_disburse, what a person may pay out. Only customer 0 has a
    log-in of their own; another customer is given one (customer{n}) to sign with."""
    from application_data import GOOD

    from creditplan.customers import services as customers
    from creditplan.documents import contracts
    from creditplan.org import services as org
    from creditplan.origination import services as origination
    from factories import PASSWORD, resident_id

    def build(amount: str = "30000.00", term: int = 12, customer: Any = 0, officer: str = "officer_bj"
              ) -> Any:
        customer_id = (app_world["customer_sh"] if customer == "sh" else app_world["customers"][customer])
        signer = app_world["customer"]
        if customer != 0:
            signer = org.create_user(None, username=f"customer{customer}", password=PASSWORD, role="customer")
            customers.link_customer_user(customer_id, signer)
        v = origination.submit_application(app_world[officer], customer_id=customer_id, product="consumer",
                                           amount=amount, term=term, inputs=dict(GOOD), channel="branch")
        assert v.status == "approved" and v.quota_status == "reserved", v
        c = contracts.offer_contract(app_world[officer], v.ref)
        n = {0: 1, 1: 2, 2: 3, "sh": 4}[customer]  # tests/origination/application_data.py: individual(n)
        contracts.sign_contract(signer, v.ref, password=PASSWORD, id_last4=resident_id(n)[-4:],
                                seen_sha256=c.sha256)
        done = origination.get_application(app_world["ops"], v.ref)
        assert done.status == "ready_to_disburse"
        return done

    return build
