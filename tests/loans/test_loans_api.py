"""The loans API end to end with the test client: disburse, pay twice with one Idempotency-Key (one
payment), reverse, payoff, prepay, a bank file, the calculator — and bad input as 4xx problem+json naming
the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from loan_checks import books_ok

from creditplan.loans import clock as loans_clock
from creditplan.loans import cob
from creditplan.loans.models import Loan, Payment
from factories import PASSWORD

TODAY = dt.date(2025, 2, 16)


def _caller(client: Any, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(loans_clock, "business_date", lambda: TODAY)
    tokens: dict[str, str] = {}

    def _call(method: str, url: str, user: str = "ops", body: Any = None, **headers: str) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}", **headers}
        if method == "get":
            return client.get(url, **kw)
        if isinstance(body, bytes):
            return client.post(url, body, content_type="text/csv", **kw)
        return getattr(client, method)(url, body or {}, content_type="application/json", **kw)

    return _call


@pytest.fixture
def call(client: Any, loan_world: Any, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The API as a user of `loan_world` (loans booked by trusted code through `make_loan`)."""
    return _caller(client, monkeypatch)


@pytest.fixture
def app_call(client: Any, app_world: Any, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The API as a user of `app_world`, where loans are paid out against signed applications."""
    return _caller(client, monkeypatch)


def problem(r: Any, status: int, field: str) -> dict[str, Any]:
    assert r.status_code == status, r.content
    assert r["Content-Type"].startswith("application/problem+json")
    body = r.json()
    fields = {e.get("field") for e in body.get("errors", [])} | {body.get("field")}
    assert field in fields, body
    return body


def test_loan_life_over_the_api(app_call: Any, app_world: Any, signed_application: Any) -> None:
    call = app_call
    r = call("get", "/api/v1/loans/products")
    assert r.status_code == 200 and r.json()[0]["code"] == "consumer" and r.json()[0]["rate"] == "0.043500"
    app = signed_application(amount="12000.00", term=12)  # approved straight through, signed by the customer
    r = call("post", "/api/v1/loans", body={"customer_id": app_world["customers"][0], "product": "consumer",
                                            "amount": "12000.00", "term": 12, "start_date": "2025-01-15",
                                            "application_ref": app.ref})
    assert r.status_code == 201, r.content
    ref = r.json()["ref"]
    assert r.json()["balances"]["principal_outstanding"] == "12000.00"
    assert Loan.objects.get(ref=ref).rate_ppm == app.rate_ppm  # the rate the customer signed
    sched = call("get", f"/api/v1/loans/{ref}/schedule").json()
    interest = Decimal(sched[0]["interest"])  # 30/360: 12,000 × the signed rate / 12
    assert interest == (Decimal(12_000) * app.rate_ppm / 1_000_000 / 12).quantize(Decimal("0.01"))
    assert len(sched) == 12 and sched[0]["due_date"] == "2025-02-15"
    cob.advance_loan(Loan.objects.get(ref=ref), dt.date(2025, 2, 15))

    first = call("post", f"/api/v1/loans/{ref}/payments", body={"amount": "500.00"}, HTTP_IDEMPOTENCY_KEY="K-1")
    assert first.status_code == 201, first.content
    again = call("post", f"/api/v1/loans/{ref}/payments", body={"amount": "500.00"}, HTTP_IDEMPOTENCY_KEY="K-1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Payment.objects.filter(loan__ref=ref).count() == 1
    body = first.json()
    assert body["reference"] == "K-1" and body["allocation"]["interest"] == str(interest)
    assert Decimal(body["allocation"]["principal"]) == 500 - interest
    assert body["balances"]["overdue_interest"] == "0.00"

    r = call("get", f"/api/v1/loans/{ref}")
    assert Decimal(r.json()["balances"]["principal_outstanding"]) == 12_000 - (500 - interest)
    listing = call("get", "/api/v1/loans?status=active&bucket=0&class=2&branch=BJ01").json()
    assert listing["total"] in (0, 1)
    listing = call("get", "/api/v1/loans?status=active&page_size=10").json()
    assert listing["total"] == 1 and listing["items"][0]["ref"] == ref

    r = call("post", "/api/v1/loans/payments/K-1/reversal", body={"reason": "duplicate transfer"})
    assert r.status_code == 200 and r.json()["status"] == "reversed"
    assert call("get", f"/api/v1/loans/{ref}").json()["balances"]["overdue_interest"] == str(interest)
    problem(call("post", "/api/v1/loans/payments/K-1/reversal", body={"reason": "again"}), 409, "reference")

    q = call("get", f"/api/v1/loans/{ref}/payoff?on=2025-02-16")
    assert q.status_code == 200, q.content
    total = q.json()["total"]
    r = call("post", f"/api/v1/loans/{ref}/prepayments", body={"amount": total, "mode": "full"},
             HTTP_IDEMPOTENCY_KEY="PAYOFF-1")
    assert r.status_code == 201, r.content
    assert r.json()["loan_status"] == "closed" and r.json()["kind"] == "prepay_full"
    books_ok()


def test_bank_file_over_the_api(call: Any, make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=dt.date(2025, 1, 15))
    cob.advance_loan(loan, dt.date(2025, 2, 15))
    csv = f"reference,loan_ref,amount,value_date\nB-1,{loan.ref},100.00,2025-02-16\nB-2,NOPE,1.00,2025-02-16\n"
    r = call("post", "/api/v1/loans/bank-files", body=csv.encode())
    assert r.status_code == 200, r.content
    assert r.json()["posted"] == 1 and r.json()["rejected"] == [
        {"line": 3, "reference": "B-2", "reason": "unknown loan: no loan NOPE"}]
    assert r.json()["totals"]["posted"] == "100.00"
    again = call("post", "/api/v1/loans/bank-files", body=csv.encode())
    assert again.json()["posted"] == 0 and again.json()["duplicates"] == 1
    problem(call("post", "/api/v1/loans/bank-files", body=b""), 422, "file")


def test_multipart_bank_file(client: Any, call: Any, make_loan: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=dt.date(2025, 1, 15))
    cob.advance_loan(loan, dt.date(2025, 2, 15))
    call("get", "/api/v1/loans/products")  # log in
    token = client.post("/api/v1/auth/token", {"username": "ops", "password": PASSWORD},
                        content_type="application/json").json()["token"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("bank.csv", f"M-1,{loan.ref},10.00,2025-02-16\n".encode(), content_type="text/csv")
    r = client.post("/api/v1/loans/bank-files", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200, r.content
    assert r.json()["filename"] == "bank.csv" and r.json()["posted"] == 1


def test_calculator(call: Any) -> None:
    r = call("get", "/api/v1/loans/schedule?amount=1000000&rate=0.0395&term=360&start=2025-01-15")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["installments"][0]["payment"] == "4745.37" and len(body["installments"]) == 360
    assert body["totals"]["principal"] == "1000000.00"
    assert Decimal(body["totals"]["interest"]) == sum(Decimal(i["interest"]) for i in body["installments"])
    r = call("get", "/api/v1/loans/schedule?amount=1000000&rate=0.0395&term=360&start=2025-01-15"
                    "&method=equal-principal")
    assert r.json()["installments"][0]["payment"] == "6069.44" and r.json()["installments"][-1]["payment"] == "2786.92"
    problem(call("get", "/api/v1/loans/schedule?amount=abc&rate=0.0395&term=12"), 422, "amount")
    problem(call("get", "/api/v1/loans/schedule?amount=1000&rate=0.5&term=12"), 422, "annual_rate")
    problem(call("get", "/api/v1/loans/schedule?amount=1000&rate=0.04&term=0"), 422, "term")
    problem(call("get", "/api/v1/loans/schedule?amount=1000&rate=0.04&term=12&method=magic"), 422, "method")


def test_bad_input_is_problem_json_naming_the_field(call: Any, make_loan: Any, loan_world: Any) -> None:
    loan = make_loan(amount="12000.00", term=12, start=dt.date(2025, 1, 15))
    url = f"/api/v1/loans/{loan.ref}/payments"
    problem(call("post", url, body={"amount": 10.5, "reference": "F"}), 422, "amount")
    problem(call("post", url, body={"amount": "-1.00", "reference": "F"}), 422, "amount")
    problem(call("post", url, body={"amount": "1.001", "reference": "F"}), 422, "amount")
    problem(call("post", url, body={"amount": "1.00"}), 422, "reference")  # no reference, no Idempotency-Key
    problem(call("post", url, body={"amount": "1.00", "reference": "F", "value_date": "2099-01-01"}), 422,
            "value_date")
    problem(call("post", url, body={"amount": "1.00", "reference": "F", "value_date": "yesterday"}), 422,
            "value_date")
    problem(call("post", "/api/v1/loans/NOPE/payments", body={"amount": "1.00", "reference": "F"}), 404, "loan_ref")
    problem(call("get", f"/api/v1/loans/{loan.ref}/payoff?on=2026-01-01"), 422, "on")
    problem(call("post", f"/api/v1/loans/{loan.ref}/prepayments", body={"amount": "1.00", "reference": "P",
                                                                     "mode": "sideways"}), 422, "mode")
    problem(call("post", "/api/v1/loans/payments/NOPE/reversal", body={"reason": "x"}), 404, "reference")
    problem(call("post", "/api/v1/loans", body={"customer_id": loan_world["customers"][0], "product": "consumer",
                                                "amount": "5", "term": 12}), 422, "application_ref")
    problem(call("post", "/api/v1/loans", body={"customer_id": loan_world["customers"][0], "product": "consumer",
                                                "amount": 5000.5, "term": 12, "application_ref": "AP-X"}),
            422, "amount")
    r = call("post", url, user="auditor", body={"amount": "1.00", "reference": "F"})
    assert r.status_code == 403
    assert Payment.objects.count() == 0
