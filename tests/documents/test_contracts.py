"""The contract steps: approved → contract offered (a generated PDF with the agreed terms) → signed by the
customer with an identity re-check → ready to disburse → disbursed as a loan that consumes the plan reservation."""

from __future__ import annotations

import io
from typing import Any

import pytest

from creditplan.core.errors import Conflict, Forbidden, ValidationError
from creditplan.documents import contracts
from creditplan.documents import services as documents
from creditplan.documents.models import Contract, Signature, SigningAttempt
from creditplan.ledger.models import Event
from creditplan.origination import services as origination
from factories import PASSWORD, resident_id

ID_LAST4 = resident_id(1)[-4:]  # the first customer's ID number (tests/factories.py)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_contract_pdf_states_the_amount_rate_schedule_and_penalty(world: Any, approved: Any,
                                                                    real_pdf_font: None) -> None:
    c = contracts.offer_contract(world["officer_bj"], approved.ref)
    view, pdf = documents.open_version(world["customer"], c.version_id)
    assert view.kind == "contract" and view.content_type == "application/pdf" and view.sha256 == c.sha256
    text = _pdf_text(pdf)
    t = c.terms
    first = t["installments"][0]
    assert "30,000.00" in text and approved.ref in text
    assert f"{first[5] // 100:,}.{first[5] % 100:02d}" in text  # the first installment
    assert first[5] == approved.installment_minor  # the same figure the decision offered
    assert len(t["installments"]) == 12 and sum(row[2] for row in t["installments"]) == 3_000_000
    assert f"{t['rate']} %" in text and "penalty" in text.lower() and t["maturity"] in text
    assert origination.get_application(world["officer_bj"], approved.ref).status == "contract_offered"


def test_a_wrong_password_is_refused_counted_and_nothing_is_signed(world: Any, approved: Any) -> None:
    contracts.offer_contract(world["officer_bj"], approved.ref)
    customer = world["customer"]
    with pytest.raises(ValidationError) as exc:
        contracts.sign_contract(customer, approved.ref, password="not-my-password", id_last4=ID_LAST4)
    assert exc.value.field == "password" and exc.value.extra["attempts_left"] == contracts.MAX_FAILED_SIGNINGS - 1
    with pytest.raises(ValidationError) as exc:
        contracts.sign_contract(customer, approved.ref, password=PASSWORD, id_last4="0000")
    assert exc.value.field == "id_last4"
    assert SigningAttempt.objects.count() == 2 and not Signature.objects.exists()
    assert origination.get_application(customer, approved.ref).status == "contract_offered"
    assert Event.objects.filter(kind="application.signing_refused").count() == 2
    for _ in range(contracts.MAX_FAILED_SIGNINGS - 2):
        with pytest.raises(ValidationError):
            contracts.sign_contract(customer, approved.ref, password="wrong")
    with pytest.raises(Forbidden) as locked:  # even the right password, once locked
        contracts.sign_contract(customer, approved.ref, password=PASSWORD, id_last4=ID_LAST4)
    assert locked.value.code == "signing_locked"


def test_the_full_path_from_approval_to_a_disbursed_loan(world: Any, approved: Any) -> None:
    from creditplan.loans.models import Loan
    from creditplan.plans.models import Reservation

    c = contracts.offer_contract(world["officer_bj"], approved.ref)
    signed = contracts.sign_contract(world["customer"], approved.ref, password=PASSWORD, id_last4=ID_LAST4,
                                     seen_sha256=c.sha256, ip="10.1.2.3", user_agent="Mobile Safari")
    assert signed.signature_sha256 == c.sha256 and signed.signature_ip == "10.1.2.3"
    s = Signature.objects.get()
    assert (s.user_id, s.user_agent, s.method) == (world["customer"].pk, "Mobile Safari", contracts.SIGN_METHOD)
    event = Event.objects.get(kind="application.signed")
    assert c.sha256 in event.entry
    assert origination.get_application(world["ops"], approved.ref).status == "ready_to_disburse"

    done = contracts.disburse_application(world["ops"], approved.ref)
    loan = Loan.objects.get(ref=done.loan_ref)
    assert loan.principal_minor == 3_000_000 and loan.term == 12 and loan.application_ref == approved.ref
    assert loan.rate_ppm == c.terms["rate_ppm"]
    assert Reservation.objects.get(application_ref=approved.ref).status == "consumed"
    assert Contract.objects.get().loan_ref == loan.ref
    case = origination.application_case(world["officer_bj"], approved.ref)
    assert [(t.from_status, t.to_status) for t in case.transitions][-4:] == [
        ("approved", "contract_offered"), ("contract_offered", "signed"), ("signed", "ready_to_disburse"),
        ("ready_to_disburse", "disbursed")]
    assert case.application.status == "disbursed" and case.application.quota_status == "consumed"
    assert Event.objects.filter(kind="application.disbursed", subject_id=approved.ref).exists()
    with pytest.raises(Conflict):  # and only once
        contracts.disburse_application(world["ops"], approved.ref)


def test_steps_out_of_order_are_refused(world: Any, approved: Any) -> None:
    from application_data import REFER

    referred = origination.submit_application(world["officer_bj"], customer_id=world["customers"][1],
                                              product="consumer", amount="30000.00", term=12, inputs=dict(REFER),
                                              channel="branch")
    assert referred.status == "referred"
    with pytest.raises(Conflict) as exc:
        contracts.offer_contract(world["officer_bj"], referred.ref)
    assert exc.value.code == "illegal_transition"
    with pytest.raises(Conflict):  # nothing to sign yet
        contracts.sign_contract(world["customer"], approved.ref, password=PASSWORD, id_last4=ID_LAST4)
    with pytest.raises(Conflict):  # not signed yet
        contracts.disburse_application(world["ops"], approved.ref)
    contracts.offer_contract(world["officer_bj"], approved.ref)
    with pytest.raises(Conflict):  # offered once
        contracts.offer_contract(world["officer_bj"], approved.ref)
    with pytest.raises(Conflict):
        contracts.disburse_application(world["ops"], approved.ref)
    assert not Signature.objects.exists() and Contract.objects.count() == 1


def test_each_step_belongs_to_its_role(world: Any, approved: Any) -> None:
    with pytest.raises(Forbidden):
        contracts.offer_contract(world["customer"], approved.ref)
    contracts.offer_contract(world["officer_bj"], approved.ref)
    with pytest.raises(Forbidden):  # staff cannot sign for the customer
        contracts.sign_contract(world["officer_bj"], approved.ref, password=PASSWORD)
    contracts.sign_contract(world["customer"], approved.ref, password=PASSWORD, id_last4=ID_LAST4.lower())
    with pytest.raises(Forbidden):  # a loan officer does not pay out loans
        contracts.disburse_application(world["officer_bj"], approved.ref)


def test_the_customer_signs_on_the_page_and_operations_disburse_it(world: Any, approved: Any, client: Any) -> None:
    client.force_login(world["officer_bj"])
    page = client.get(f"/applications/{approved.ref}/").content.decode()
    assert 'id="offer-contract"' in page
    assert client.post(f"/documents/applications/{approved.ref}/contract/offer/").status_code == 302
    client.force_login(world["customer"])
    page = client.get(f"/applications/{approved.ref}/").content.decode()
    assert 'id="sign-contract"' in page and 'id="contract-link"' in page
    url = f"/documents/applications/{approved.ref}/contract/sign/"
    r = client.post(url, {"password": "wrong", "id_last4": ID_LAST4}, HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 422 and "The password is not correct" in r.content.decode()
    assert ID_LAST4 in r.content.decode()  # what the customer typed is kept
    r = client.post(url, {"password": PASSWORD, "id_last4": ID_LAST4})
    assert r.status_code == 302
    client.force_login(world["ops"])
    assert 'id="disburse"' in client.get(f"/applications/{approved.ref}/").content.decode()
    client.post(f"/documents/applications/{approved.ref}/contract/disburse/")
    page = client.get(f"/applications/{approved.ref}/").content.decode()
    assert 'id="loan-ref"' in page and Contract.objects.get().loan_ref in page
