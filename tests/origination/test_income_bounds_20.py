"""Issue 20 §1, amounts bounded everywhere: a monthly income of 99,999,999,999,999,999,999,999 (or any income no
person has) on the officer's application form and on the customer's online form is refused next to the field, in the
page's language — it was accepted and approved straight through, while the customer record refuses the same value."""

from __future__ import annotations

import pytest

from creditplan.origination.models import Application

FORM = {"product": "consumer", "amount": "30000.00", "term": "12", "loan_purpose": "consumption",
        "monthly_income": "30,000.00", "monthly_debt_payments": "2000", "employment": "employed",
        "months_employed": "60", "housing": "own", "dependants": "1"}
ABSURD = ["99,999,999,999,999,999,999,999", "999,999,999,999,999", "100000000000.01"]


@pytest.mark.parametrize("income", ABSURD)
def test_the_officer_form_refuses_an_absurd_income(client, world, income):
    client.force_login(world["officer_bj"])
    response = client.post("/applications/new/", {**FORM, "customer_id": str(world["customers"][1]),
                                                  "idempotency_key": "b-1", "monthly_income": income},
                           HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert response.status_code == 422 and f'value="{income}"' in html
    assert "100,000,000,000.00" in html and "out of range" not in html  # the bound, in Chinese words
    assert not Application.objects.exists()


@pytest.mark.parametrize("income", ABSURD)
def test_the_online_form_refuses_an_absurd_income(client, world, income):
    client.force_login(world["customer"])
    response = client.post("/applications/apply/", {**FORM, "consent": "on", "idempotency_key": "web-b",
                                                    "monthly_income": income}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422 and "100,000,000,000.00" in response.content.decode()
    assert not Application.objects.exists()
