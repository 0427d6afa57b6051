"""Loans read every amount through the one money edge (creditplan.core.money.parse_minor): a payment, a
prepayment, a bank-file line, a disbursement, a recovery, a product's amounts and the calculator (page and API)
refuse what is not plainly an amount — "1e3" was posted as 1,000.00 yuan, "1_000" too, "1,0000" lent 10,000.00 —
each fault with the one code every app uses, and nothing is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.errors import ValidationError
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob, payments, writeoff
from creditplan.loans import services as loans
from creditplan.loans.models import JournalEntry, Loan, Payment, Product
from creditplan.loans.payments.checks import MAX_AMOUNT_MINOR

START = dt.date(2025, 1, 15)
TODAY = dt.date(2025, 2, 16)


@pytest.fixture
def due_loan(make_loan: Any, monkeypatch: pytest.MonkeyPatch) -> Loan:
    monkeypatch.setattr(loans_clock, "business_date", lambda: TODAY)
    loan = make_loan(amount="12000.00", term=12, start=START)
    cob.advance_loan(loan, dt.date(2025, 2, 15))
    loan.refresh_from_db()
    return loan


def _written() -> tuple[int, int, int]:
    return Payment.objects.count(), JournalEntry.objects.count(), Loan.objects.count()


PAYMENT_AMOUNTS = [
    ("1e3", "amount_format"),  # was posted as 1,000.00 yuan
    ("1E+2", "amount_format"),  # was posted as 100.00 yuan
    ("1_000", "amount_format"),  # Decimal reads the underscore: was posted as 1,000.00 yuan
    ("1,0,0", "amount_format"),
    ("¥100", "amount_format"),
    ("abc", "amount_format"),
    ("Infinity", "not_finite"),
    ("NaN", "not_finite"),
    ("-5.00", "negative_amount"),
    ("0", "not_positive"),
    ("0.00", "not_positive"),
    ("10.001", "too_many_decimals"),
    (10.5, "float_money"),
    ("", "required"),
    (None, "required"),
    (f"{MAX_AMOUNT_MINOR // 100}.01", "amount_out_of_range"),
    ("1" + "0" * 40, "amount_out_of_range"),
]


@pytest.mark.parametrize("amount, code", PAYMENT_AMOUNTS)
def test_a_payment_amount_is_read_exactly_or_refused_with_one_code(loan_world: Any, due_loan: Loan, amount: Any,
                                                                   code: str) -> None:
    before = _written()
    with pytest.raises(ValidationError) as err:
        payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount=amount, reference="EDGE-1")
    assert (err.value.field, err.value.code) == ("amount", code), err.value.message
    with pytest.raises(ValidationError) as err:
        payments.prepay(loan_world["ops"], loan_ref=due_loan.ref, amount=amount, reference="EDGE-2",
                        value_date=TODAY)
    assert (err.value.field, err.value.code) == ("amount", code), err.value.message
    assert _written() == before


def test_a_grouped_payment_amount_is_read_as_written(loan_world: Any, due_loan: Loan) -> None:
    """"1,000.00" (as a bank statement prints it) was refused as invalid_amount; it is 1,000.00 yuan."""
    r = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="1,000.00", reference="GROUPED")
    assert r.amount_minor == 100_000 and not r.duplicate
    again = payments.post_payment(loan_world["ops"], loan_ref=due_loan.ref, amount="1000.0", reference="GROUPED")
    assert again.duplicate and Payment.objects.filter(reference="GROUPED").count() == 1


def test_a_bank_file_line_in_exponent_notation_is_rejected_with_its_reason(loan_world: Any, due_loan: Loan) -> None:
    ref = due_loan.ref
    content = "\n".join([
        f"E-1,{ref},1e3,2025-02-16",  # was posted as 1,000.00 yuan
        f"E-2,{ref},NaN,2025-02-16",
        f"E-3,{ref},{MAX_AMOUNT_MINOR // 100 + 1},2025-02-16",
        f"E-4,{ref},-1.00,2025-02-16",
        f"E-5,{ref},0,2025-02-16",
        f"E-6,{ref},100.00,2025-02-16",  # good
    ]) + "\n"
    report = payments.import_bank_file(loan_world["ops"], content, filename="bank.csv")
    reasons = {r.reference: r.reason for r in report.rejected}
    assert report.posted == 1 and set(reasons) == {"E-1", "E-2", "E-3", "E-4", "E-5"}
    assert reasons["E-1"].startswith("malformed amount") and reasons["E-2"].startswith("malformed amount")
    assert reasons["E-3"].startswith("amount too large") and reasons["E-4"].startswith("negative amount")
    assert reasons["E-5"].startswith("zero amount")
    assert set(Payment.objects.filter(channel="file").values_list("reference", flat=True)) == {"E-6"}


@pytest.mark.parametrize("amount, code", [
    ("1e4", "amount_format"),  # was a loan of 10,000.00 yuan
    ("1,0000", "amount_format"),  # a comma out of place was dropped: 10,000.00 yuan
    ("10000.001", "too_many_decimals"),
    ("-10000", "negative_amount"),
    ("Infinity", "not_finite"),
])
def test_a_disbursement_amount_is_read_by_the_money_edge(make_loan: Any, amount: str, code: str) -> None:
    before = _written()
    with pytest.raises(ValidationError) as err:
        make_loan(amount=amount)
    assert (err.value.field, err.value.code) == ("amount", code), err.value.message
    assert _written() == before


def test_a_disbursement_amount_with_a_trailing_zero_is_taken(make_loan: Any) -> None:
    """"10000.100" is 10,000.10 exactly (it was refused as having more than 2 decimals)."""
    assert make_loan(amount="10000.100").principal_minor == 1_000_010


def test_a_recovery_amount_in_exponent_notation_is_refused(loan_world: Any, due_loan: Loan) -> None:
    loan = due_loan
    with pytest.raises(ValidationError) as err:
        writeoff.record_recovery(loan_world["ops"], loan.ref, amount="1e2", reference="REC-E")
    assert (err.value.field, err.value.code) == ("amount", "amount_format")
    assert not Payment.objects.filter(reference="REC-E").exists()


@pytest.mark.parametrize("field, value, code", [
    ("min_amount", "1e3", "amount_format"),  # was a minimum of 1,000.00 yuan
    ("max_amount", "1" + "0" * 30, "amount_out_of_range"),  # was stored past a BIGINT: a database error (500)
    ("late_fee", "-50", "negative_amount"),
    ("installment_fee", "0.005", "too_many_decimals"),
])
def test_product_amounts_are_read_by_the_money_edge(loan_world: Any, field: str, value: str, code: str) -> None:
    before = Product.objects.count()
    with pytest.raises(ValidationError) as err:
        loans.create_product(loan_world["risk"], code="edge", name="edge", **{field: value})
    assert (err.value.field, err.value.code) == (field, code), err.value.message
    assert Product.objects.count() == before


def test_the_api_calculator_reads_amounts_by_the_money_edge(client: Any, loan_world: Any) -> None:
    client.force_login(loan_world["ops"])
    r = client.get("/api/v1/loans/schedule?amount=1e6&rate=0.0395&term=12")  # was a schedule for 1,000,000.00
    body = r.json()
    assert r.status_code == 422 and body["code"] == "amount_format"
    assert [e["field"] for e in body["errors"]] == ["amount"]
    # a fee of "0.00" was refused as not positive (only "0" was let through)
    r = client.get("/api/v1/loans/schedule?amount=1,000,000&rate=0.0395&term=12&start=2025-01-15&fee=0.00")
    assert r.status_code == 200 and r.json()["amount"] == "1000000.00"
    assert r.json()["installments"][0]["payment"] == "85127.06"  # the annuity of 1,000,000 at 3.95 % over 12


def test_the_calculator_page_says_one_thing_about_sub_fen_amounts(client: Any, loan_world: Any) -> None:
    """"0.001" was two problems on one box (more than 2 decimals, and not positive once rounded to 0.00)."""
    client.force_login(loan_world["ops"])
    page = client.get("/loans/calculator/", {"amount": "0.001", "rate": "3.95", "term": "12",
                                                     "method": "equal-installment", "day_count": "30/360",
                                                     "frequency": "1", "start": "2026-01-01"},
                      HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 422
    text = page.content.decode()
    assert "金额最多两位小数（分）。" in text and "金额必须大于零。" not in text
