"""The mobile app's whole journey over the API, end to end: indicative offer → application with consent (decided at
once, approved straight through) → a retry with the same Idempotency-Key → documents uploaded → the contract offered
by the branch → read and signed by the customer → disbursed by operations as a loan."""

from __future__ import annotations

from typing import Any

from application_data import GOOD
from django.core.files.uploadedfile import SimpleUploadedFile
from document_files import png_bytes

from creditplan.loans.models import Loan
from creditplan.origination.models import Application
from factories import PASSWORD, resident_id


def test_the_mobile_app_journey_from_offer_to_a_disbursed_loan(client: Any, world: Any) -> None:
    tokens = {u: client.post("/api/v1/auth/token", {"username": u, "password": PASSWORD},
                             content_type="application/json").json()["token"]
              for u in ("customer", "officer_bj", "ops")}

    def auth(user: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}

    offer = client.get("/api/v1/applications/offer?product=consumer&amount=30000.00&term=12", **auth("customer"))
    assert offer.status_code == 200 and offer.json()["indicative"] is True
    body = {"customer_id": world["customers"][0], "product": "consumer", "amount": "30000.00", "term": 12,
            "inputs": dict(GOOD), "consent": True}
    first = client.post("/api/v1/applications", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="m-1",
                        **auth("customer"))
    assert first.status_code == 201 and first.json()["status"] == "approved" and first.json()["auto_approved"]
    ref = first.json()["ref"]
    again = client.post("/api/v1/applications", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="m-1",
                        **auth("customer"))
    assert again.status_code == 200 and again.json()["ref"] == ref and again["Idempotent-Replayed"] == "true"
    assert Application.objects.count() == 1

    up = client.post(f"/api/v1/documents/applications/{ref}",
                     {"kind": "id_document", "file": SimpleUploadedFile("id.png", png_bytes(), "image/png")},
                     **auth("customer"))
    assert up.status_code == 201 and up.json()["content_type"] == "image/png"
    fake = client.post(f"/api/v1/documents/applications/{ref}",
                       {"kind": "income_proof", "file": SimpleUploadedFile("payslip.pdf", b"just text", "application/pdf")},
                       **auth("customer"))
    assert fake.status_code == 422 and fake.json()["errors"][0]["field"] == "file"

    offered = client.post(f"/api/v1/contracts/{ref}/offer", **auth("officer_bj"))
    assert offered.status_code == 201 and offered.json()["amount"] == "30000.00"
    contract = client.get(f"/api/v1/contracts/{ref}", **auth("customer")).json()
    pdf = client.get(contract["url"], **auth("customer"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    wrong = client.post(f"/api/v1/contracts/{ref}/sign", {"password": "not-mine", "id_last4": resident_id(1)[-4:]},
                        content_type="application/json", **auth("customer"))
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "password"
    signed = client.post(f"/api/v1/contracts/{ref}/sign", {"password": PASSWORD, "id_last4": resident_id(1)[-4:],
                                                           "sha256": contract["sha256"]},
                         content_type="application/json", **auth("customer"))
    assert signed.status_code == 200 and signed.json()["signed_at"] and signed.json()["signature_method"]

    paid = client.post(f"/api/v1/contracts/{ref}/disburse", **auth("ops"))
    assert paid.status_code == 200 and paid.json()["loan_ref"]
    loan = Loan.objects.get(ref=paid.json()["loan_ref"])
    assert loan.principal_minor == 3_000_000 and loan.application_ref == ref
    final = client.get(f"/api/v1/applications/{ref}", **auth("customer")).json()
    assert final["status"] == "disbursed"
