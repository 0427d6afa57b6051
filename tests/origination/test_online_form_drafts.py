"""The online form, step by step (product and indicative offer → details → consent → send), saved as a draft after
each step; missing fields named next to the field with the input kept; and an expired session in the middle of
the form: the post is kept, the customer logs in again and finds the same step with what they typed."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import unquote

import pytest

from creditplan.origination.models import Application, ApplicationDraft

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
OFFER = {"step": "offer", "product": "consumer", "amount": "30000.00", "term": "12"}
DETAILS = {"step": "details", "loan_purpose": "consumption", "monthly_income": "30,000.00",
           "monthly_debt_payments": "2000", "employment": "employed", "months_employed": "60", "housing": "own",
           "dependants": "1"}


@pytest.fixture
def customer_client(client, world, settings):
    settings.CREDITPLAN_BUREAU_CLIENT = "creditplan.origination.sources.demo_bureau"
    client.force_login(world["customer"])
    return client


def _start(c) -> str:
    page = c.get("/applications/apply/", **EN)
    assert page.status_code == 200 and b"Product and offer" in page.content
    token = ApplicationDraft.objects.get().token
    assert f'action="/applications/apply/{token}/"' in page.content.decode()
    return token


def _monthly(amount: Decimal, annual: Decimal, n: int) -> Decimal:
    r = annual / 12
    return (amount * r * (1 + r) ** n / ((1 + r) ** n - 1)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_a_customer_goes_through_the_steps_and_each_is_saved(customer_client, world):
    c = customer_client
    token = _start(c)
    url = f"/applications/apply/{token}/"
    r = c.post(url, {**OFFER, "amount": ""}, **EN)
    assert r.status_code == 422 and "This field is required." in r.content.decode()
    r = c.post(url, {**OFFER, "amount": "500"}, **EN)  # below the product's minimum: said next to the field
    assert r.status_code == 422 and 'value="500"' in r.content.decode() and "between" in r.content.decode()
    assert ApplicationDraft.objects.get().furthest_step == 1
    r = c.post(url, OFFER, **EN)
    assert r.status_code == 302 and r["Location"] == f"{url}?step=details"
    d = ApplicationDraft.objects.get()
    assert d.furthest_step == 2 and d.data["amount"] == "30000.00" and set(d.step_times) == {"offer", "details"}
    page = c.get(r["Location"], **EN).content.decode()
    # the indicative offer: the product's standard rate (4.35 %) and its equal installment, labelled as such
    expected = _monthly(Decimal("30000"), Decimal("0.0435"), 12)
    assert "Indicative offer" in page and "4.35 %" in page and f"{expected:,.2f}" in page
    r = c.post(url, {**DETAILS, "loan_purpose": ""}, **EN)
    html = r.content.decode()
    assert r.status_code == 422 and "This field is required." in html and 'value="30,000.00"' in html
    r = c.post(url, DETAILS, **EN)
    assert r.status_code == 302 and r["Location"] == f"{url}?step=consent"
    page = c.get(r["Location"], **EN).content.decode()
    assert "30,000.00" in page and "Household consumption" in page  # a summary before sending
    r = c.post(url, {"step": "consent"}, **EN)
    assert r.status_code == 422 and "Please agree" in r.content.decode()
    assert Application.objects.count() == 0
    r = c.post(url, {"step": "consent", "consent": "on"}, **EN)
    a = Application.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/applications/{a.ref}/"
    assert a.channel == "web" and a.auto_approved and a.customer_id == world["customers"][0]
    assert a.inputs["monthly_income_minor"] == 3_000_000 and a.amount_minor == 3_000_000
    d = ApplicationDraft.objects.get()
    assert d.furthest_step == 4 and d.application_ref == a.ref and d.submitted_at is not None
    # sending again (double click, back button) changes nothing
    assert c.post(url, {"step": "consent", "consent": "on"}, **EN)["Location"] == f"/applications/{a.ref}/"
    assert Application.objects.count() == 1
    # the next visit starts a new form
    _ = c.get("/applications/apply/", **EN)
    assert ApplicationDraft.objects.count() == 2


def test_an_expired_session_mid_form_loses_nothing(customer_client, world, client):
    c = customer_client
    token = _start(c)
    url = f"/applications/apply/{token}/"
    assert c.post(url, OFFER, **EN).status_code == 302
    c.logout()  # the session expired while the customer was typing their details
    r = c.post(url, DETAILS, **EN)
    assert r.status_code == 302
    login, _, nxt = r["Location"].partition("?next=")
    assert login == "/login/" and unquote(nxt) == f"{url}?step=details"
    assert ApplicationDraft.objects.get().stash["data"]["monthly_income"] == "30,000.00"
    # someone else with the link sees nothing
    from creditplan.org import services as org

    other = org.create_user(None, username="other", password="pass-word-1", role="customer")
    c.force_login(other)
    assert c.get(unquote(nxt)).status_code == 404
    c.force_login(world["customer"])
    page = c.get(unquote(nxt), **EN)
    html = page.content.decode()
    assert page.status_code == 200 and "Your details" in html and "Welcome back" in html
    assert 'value="30,000.00"' in html and 'value="60"' in html and '<option value="own" selected>' in html
    d = ApplicationDraft.objects.get()
    assert d.stash == {} and d.data["months_employed"] == "60" and d.furthest_step == 2
    # and the customer carries on from there
    assert c.post(url, DETAILS, **EN)["Location"] == f"{url}?step=consent"
