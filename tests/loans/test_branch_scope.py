"""Security issue 14, findings 5 and 6 and two low findings, over the API, the bank file and the loan page.

5. A person pays a loan out only against an application that was approved and signed by the customer, of the
   same customer, product, currency and term, for at most the approved amount and at the signed rate.
6. A payment reference already taken on another branch's loan reveals nothing about that loan (not its number,
   not an amount, not its balances): the branch scope is checked first, a duplicate on a loan the user
   cannot see is answered as an unknown loan, a reference clash names no other loan. The same in the bank-file
   import.
Low: the payment channel is the one the actor may use (no client-claimed "file" or "auto"); "not yours" and
"does not exist" are one answer, 404 with the same body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.errors import Conflict, ValidationError
from creditplan.customers import services as customers
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob, payments
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, Payment
from creditplan.org import services as org
from creditplan.plans.models import Reservation
from factories import PASSWORD, individual

TODAY = dt.date(2025, 2, 16)


def _caller(client: Any, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(loans_clock, "business_date", lambda: TODAY)
    tokens: dict[str, str] = {}

    def call(method: str, url: str, user: str, body: Any = None) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(url, **kw)
        if isinstance(body, bytes):
            return client.post(url, body, content_type="text/csv", **kw)
        return client.post(url, body or {}, content_type="application/json", **kw)

    return call


def _ops_sh() -> Any:
    """Operations staff of the Shanghai branch: may disburse, post and reverse payments — in Shanghai."""
    return org.create_user(None, username="ops_sh", password=PASSWORD, role="operations", branch_code="SH",
                           display_name="ops_sh")


def _same_answer(theirs: Any, missing: Any, their_ref: str, missing_ref: str) -> None:
    """Two API answers that must be indistinguishable but for the reference the caller typed."""
    assert theirs.status_code == missing.status_code == 404, (theirs.content, missing.content)
    said, unknown = theirs.content.decode(), missing.content.decode()
    assert said.replace(their_ref, "REF") == unknown.replace(missing_ref, "REF")


# --- finding 5: no payout without an approved, signed application -----------------------------------------

def test_the_api_pays_out_only_a_signed_application_on_its_terms(client: Any, app_world: Any,
                                                                  signed_application: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from application_data import GOOD

    from creditplan.origination import services as origination

    call = _caller(client, monkeypatch)
    loans.create_product(app_world["risk"], code="other", name="另一产品", rate="0.05", max_amount="2000000")
    app = signed_application(amount="30000.00", term=12)
    c0, c1 = app_world["customers"][:2]
    good = {"customer_id": c0, "product": "consumer", "amount": "30000.00", "term": 12,
            "application_ref": app.ref}

    def refused(change: dict[str, Any], status: int, field: str, code: str, user: str = "ops") -> Any:
        r = call("post", "/api/v1/loans", user, {**good, **change})
        assert r.status_code == status, (change, r.content)
        body = r.json()
        assert body["code"] == code and field in {e["field"] for e in body["errors"]}, (change, body)
        return r

    refused({"application_ref": ""}, 422, "application_ref", "application_required")  # the old hole: paid out
    approved_only = origination.submit_application(app_world["officer_bj"], customer_id=c1,
                                                   product="consumer", amount="20000.00", term=12,
                                                   inputs=dict(GOOD), channel="branch")
    assert approved_only.status == "approved"  # approved, contract never signed
    refused({"customer_id": c1, "amount": "20000.00", "application_ref": approved_only.ref}, 409,
            "application_ref", "application_not_ready")
    refused({"customer_id": c1}, 422, "customer_id", "application_mismatch")
    refused({"product": "other"}, 422, "product", "application_mismatch")
    refused({"currency": "USD"}, 422, "currency", "currency_mismatch")
    refused({"amount": "30000.01"}, 422, "amount", "above_approval")
    refused({"term": 24}, 422, "term", "application_mismatch")
    refused({"rate": "0.0999"}, 422, "rate", "application_mismatch")
    # another branch's operations: the application is as unknown to them as one that does not exist
    _ops_sh()
    theirs = refused({"customer_id": app_world["customer_sh"]}, 404, "application_ref",
                     "application_not_found", user="ops_sh")
    missing = call("post", "/api/v1/loans", "ops_sh", {**good, "customer_id": app_world["customer_sh"],
                                                       "application_ref": "AP-NO-SUCH"})
    _same_answer(theirs, missing, app.ref, "AP-NO-SUCH")
    assert not Loan.objects.exists()
    assert Reservation.objects.get(application_ref=app.ref).status == "reserved"

    r = call("post", "/api/v1/loans", "ops", {**good, "amount": "25000.00"})  # at most the approved amount
    assert r.status_code == 201, r.content
    loan = Loan.objects.get(ref=r.json()["ref"])
    assert (loan.application_ref, loan.principal_minor, loan.rate_ppm) == (app.ref, 2_500_000, app.rate_ppm)
    held = Reservation.objects.get(application_ref=app.ref)
    assert (held.status, held.disbursed_minor) == ("consumed", 2_500_000)
    from creditplan.origination import services as origination

    paid = origination.get_application(app_world["ops"], app.ref)  # the application follows the payout
    assert (paid.status, paid.quota_status) == ("disbursed", "consumed")
    refused({"amount": "25000.00"}, 409, "application_ref", "application_disbursed")  # only once
    from creditplan.documents import contracts

    with pytest.raises(Conflict) as again:  # nor a second time through the contract hand-off
        contracts.disburse_application(app_world["ops"], app.ref)
    assert again.value.code == "application_disbursed"
    assert Loan.objects.count() == 1


def test_the_contract_hand_off_pays_out_the_signed_application(app_world: Any,
                                                                signed_application: Any) -> None:
    from creditplan.documents import contracts
    from creditplan.origination import services as origination

    app = signed_application(amount="30000.00", term=12)
    done = contracts.disburse_application(app_world["ops"], app.ref)
    loan = Loan.objects.get(ref=done.loan_ref)
    assert (loan.application_ref, loan.principal_minor, loan.term, loan.rate_ppm) == (app.ref, 3_000_000, 12,
                                                                                       app.rate_ppm)
    assert origination.get_application(app_world["ops"], app.ref).status == "disbursed"
    assert Reservation.objects.get(application_ref=app.ref).status == "consumed"
    with pytest.raises(ValidationError) as e:  # and a person cannot pay out without an application
        loans.disburse(app_world["ops"], customer_id=app_world["customers"][1], product="consumer",
                       amount="10000.00", term=12)
    assert (e.value.code, e.value.field) == ("application_required", "application_ref")


def test_trusted_code_books_a_loan_without_an_application_and_may_not_name_one(loan_world: Any) -> None:
    with pytest.raises(ValidationError) as e:
        loans.disburse(None, customer_id=loan_world["customers"][0], product="consumer", amount="10000.00",
                       term=12, application_ref="AP-1")
    assert e.value.code == "application_not_allowed"
    loan = loans.disburse(None, customer_id=loan_world["customers"][0], product="consumer", amount="10000.00",
                          term=12, start_date="2025-01-15")
    assert loan.disbursed_by is None and loan.principal_minor == 1_000_000


# --- finding 6 and the low findings: payments -------------------------------------------------------------

@pytest.fixture
def two_branches(loan_world: Any, make_loan: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A BJ01 loan and an SH01 loan, their first installment due on 15 Feb; a bank transfer of 100.00 posted
    on the BJ01 loan under the bank's predictable reference BANK-20250216-<loan>."""
    monkeypatch.setattr(loans_clock, "business_date", lambda: TODAY)
    sh_customer = customers.create_customer(loan_world["officer_sh"], individual(7, branch="SH01", name="王五"))
    bj = make_loan(amount="12000.00", term=12, start=dt.date(2025, 1, 15))
    sh = loans.disburse(None, customer_id=sh_customer.id, product="consumer", amount="12000.00", term=12,
                        start_date=dt.date(2025, 1, 15))
    for loan in (bj, sh):
        cob.advance_loan(loan, dt.date(2025, 2, 15))
    taken = f"BANK-20250216-{bj.ref}"
    payments.post_payment(loan_world["ops"], loan_ref=bj.ref, amount="100.00", reference=taken)
    return {**loan_world, "bj": bj.ref, "sh": sh.ref, "taken": taken}


def test_a_reference_taken_on_another_branchs_loan_reveals_nothing_over_the_api(
        client: Any, two_branches: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    call = _caller(client, monkeypatch)
    w = two_branches
    # re-sending the other branch's payment on its loan: once a duplicate with that loan's balances
    theirs = call("post", f"/api/v1/loans/{w['bj']}/payments", "officer_sh",
                  {"amount": "100.00", "reference": w["taken"]})
    missing = call("post", "/api/v1/loans/LN-NO-SUCH/payments", "officer_sh",
                   {"amount": "100.00", "reference": w["taken"]})
    _same_answer(theirs, missing, w["bj"], "LN-NO-SUCH")
    assert "balances" not in theirs.json() and theirs.json()["code"] == "unknown_loan"
    # the same reference on one's own loan: a clash, naming neither the other loan nor its amount
    clash = call("post", f"/api/v1/loans/{w['sh']}/payments", "officer_sh",
                 {"amount": "250.00", "reference": w["taken"]})
    assert clash.status_code == 409 and clash.json()["code"] == "reference_reused"
    text = clash.content.decode().replace(w["taken"], "")  # (the reference itself is the caller's own input)
    assert w["bj"] not in text and "100" not in text
    assert Payment.objects.count() == 1
    # the branch that owns the payment still gets the idempotent answer
    mine = call("post", f"/api/v1/loans/{w['bj']}/payments", "officer_bj",
                {"amount": "100.00", "reference": w["taken"]})
    assert mine.status_code == 200 and mine.json()["duplicate"] is True


def test_a_reference_taken_on_another_branchs_loan_reveals_nothing_in_the_bank_file(
        client: Any, two_branches: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    call = _caller(client, monkeypatch)
    w = two_branches
    def reasons(csv: str) -> tuple[dict[int, str], Any]:  # (a reference appears once a file: one file each)
        r = call("post", "/api/v1/loans/bank-files", "officer_sh", csv.encode())
        assert r.status_code == 200, r.content
        return {x["line"]: x["reason"] for x in r.json()["rejected"]}, r.json()

    theirs, body = reasons(f"{w['taken']},{w['bj']},100.00,2025-02-16\n"  # the other branch's payment again
                           f"SH-NEW-1,{w['bj']},10.00,2025-02-16\n"  # new, on the other branch's loan
                           f"SH-NEW-2,{w['sh']},10.00,2025-02-16\n")
    assert body["posted"] == 1 and body["duplicates"] == 0  # once: counted a duplicate, as if it were ours
    assert theirs == {1: f"unknown loan: no loan {w['bj']}", 2: f"unknown loan: no loan {w['bj']}"}
    assert "100.00" not in str(body["totals"]) and body["totals"]["posted"] == "10.00"
    missing, _ = reasons(f"{w['taken']},LN-NO-SUCH,100.00,2025-02-16\n")
    assert missing == {1: "unknown loan: no loan LN-NO-SUCH"}  # as for the other branch's loan
    clash, _ = reasons(f"{w['taken']},{w['sh']},250.00,2025-02-16\n")  # its reference on our own loan
    said = clash[1].replace(w["taken"], "")
    assert said.startswith("reference already used") and w["bj"] not in said and "100" not in said
    assert Payment.objects.filter(loan__ref=w["bj"]).count() == 1


def test_the_loan_page_does_not_name_another_branchs_loan(client: Any, two_branches: Any) -> None:
    w = two_branches
    assert client.login(username="officer_sh", password=PASSWORD)
    page = client.post(f"/loans/{w['sh']}/actions/pay/",
                       {"amount": "250.00", "value_date": "", "reference": w["taken"]},
                       HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 422
    text = page.content.decode().replace(w["taken"], "")
    assert "already used by another payment" in text and w["bj"] not in text and "100.00" not in text
    assert client.post(f"/loans/{w['bj']}/actions/pay/", {"amount": "100.00", "reference": w["taken"]}
                       ).status_code == 404
    zh = client.post(f"/loans/{w['sh']}/actions/pay/",
                     {"amount": "250.00", "value_date": "", "reference": w["taken"]},
                     HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 422 and "该流水号已被另一笔还款使用" in zh.content.decode()
    assert Payment.objects.count() == 1


def test_not_yours_and_does_not_exist_are_one_answer(client: Any, two_branches: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    call = _caller(client, monkeypatch)
    w = two_branches
    _ops_sh()
    for url, body, theirs_ref, missing_ref in (
        (f"/api/v1/loans/{w['bj']}/payments", {"amount": "5.00", "reference": "SH-X1"}, w["bj"],
         "LN-NO-SUCH"),
        (f"/api/v1/loans/{w['bj']}/prepayments", {"amount": "5.00", "reference": "SH-X2", "mode": "full"},
         w["bj"], "LN-NO-SUCH"),
        (f"/api/v1/loans/payments/{w['taken']}/reversal", {"reason": "bounced"}, w["taken"],
         "NO-SUCH-PAYMENT"),
    ):
        theirs = call("post", url, "ops_sh", body)
        missing = call("post", url.replace(theirs_ref, missing_ref), "ops_sh", body)
        _same_answer(theirs, missing, theirs_ref, missing_ref)
    assert call("get", f"/api/v1/loans/{w['bj']}", "ops_sh").status_code == 404
    assert Payment.objects.get(reference=w["taken"]).status == "posted" and Payment.objects.count() == 1


def test_the_channel_is_the_one_the_actor_may_use(client: Any, two_branches: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    call = _caller(client, monkeypatch)
    w = two_branches
    for channel in ("file", "auto", "recovery"):
        r = call("post", f"/api/v1/loans/{w['bj']}/payments", "officer_bj",
                 {"amount": "5.00", "reference": f"C-{channel}", "channel": channel})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel", r.content
        with pytest.raises(ValidationError) as e:
            payments.post_payment(w["officer_bj"], loan_ref=w["bj"], amount="5.00", reference=f"S-{channel}",
                                  channel=channel)
        assert e.value.field == "channel"
    ok = call("post", f"/api/v1/loans/{w['bj']}/payments", "officer_bj",
              {"amount": "5.00", "reference": "C-teller", "channel": "teller"})
    assert ok.status_code == 201 and ok.json()["channel"] == "teller"
    assert call("post", f"/api/v1/loans/{w['bj']}/payments", "officer_bj",
                {"amount": "5.00", "reference": "C-api"}).json()["channel"] == "api"
    report = payments.import_bank_file(w["ops"], f"F-1,{w['bj']},5.00,2025-02-16\n")
    assert report.posted == 1 and Payment.objects.get(reference="F-1").channel == "file"
    assert set(Payment.objects.values_list("channel", flat=True)) == {"teller", "api", "file"}
