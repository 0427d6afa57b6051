"""The decision engine reads the customer's line: the approved amount is capped at what the line has available
(the reason in the explanation), a straight-through approval reserves it, a frozen / expired / closed line
declines with a clear reason in both languages — over the API and on the pages. The line then moves with the
loan: the payout turns the reservation into use, repaid principal restores a revolving line (not a non-revolving
one), a reversed repayment takes the room again, a withdrawal releases it. Customers without a line are decided
exactly as before, with no statement more."""

from __future__ import annotations

import datetime as dt

import pytest
from line_data import EN

from creditplan.ledger.models import Event
from creditplan.lines import services as lines
from creditplan.lines.models import CreditLine


def _reasons(v):
    return [{"code": c, "en": en, "zh": zh} for c, en, zh in zip(v.reason_codes, v.reasons, v.reasons_zh, strict=True)]


def _line(world, customer=0):
    return lines.list_lines(world["risk"], customer=str(world["customers"][customer]))[0]


def test_the_approved_amount_is_capped_at_the_line_and_says_why(world, give_line, apply):
    give_line("50000.00")
    first = apply("30000.00")
    assert first.status == "approved" and first.approved_amount_minor == 3_000_000
    assert _line(world).available_minor == 2_000_000 and _line(world).reserved_minor == 3_000_000
    second = apply("30000.00")
    assert second.status == "approved" and second.approved_amount_minor == 2_000_000  # capped
    reduced = [r for r in _reasons(second) if r["code"] == "AMOUNT_REDUCED"]
    assert reduced and "credit line" in reduced[0]["en"] and "授信额度" in reduced[0]["zh"]
    assert _line(world).available_minor == 0
    third = apply("30000.00")
    assert third.status == "declined" and third.approved_amount_minor == 0
    assert any("credit line" in r["en"] for r in _reasons(third) if r["code"] == "NO_LIMIT")
    assert CreditLine.objects.get().reserved_minor == 5_000_000  # never more than the line
    assert Event.objects.filter(kind="line.reserved").count() == 2


def test_a_sub_limit_caps_its_product(world, give_line, apply):
    give_line("100000.00", sub_limits={"consumer": "12000.00"})
    a = apply("30000.00")
    assert a.status == "approved" and a.approved_amount_minor == 1_200_000
    assert any("sub-limit" in r["en"] for r in _reasons(a))


@pytest.mark.parametrize(("how", "code", "en", "zh"), [
    ("freeze", "LINE_FROZEN", "Your credit line is frozen", "您的授信额度已冻结"),
    ("expire", "LINE_EXPIRED", "Your credit line expired on", "您的授信额度已于"),
    ("close", "LINE_CLOSED", "Your credit line is closed", "您的授信额度已关闭"),
])
def test_a_blocked_line_declines_with_a_clear_reason(world, give_line, apply, how, code, en, zh):
    line = give_line("50000.00")
    if how == "freeze":
        lines.freeze_line(world["risk"], world["customers"][0], "fraud alert")
    elif how == "expire":
        CreditLine.objects.filter(pk=line.id).update(expires_on=dt.date.today() - dt.timedelta(days=1))
    else:
        c = lines.propose_change(world["officer_bj"], line.id, kind="close", reason="customer asked")
        lines.decide_change(world["approver_bj"], c.id, approve=True)
    a = apply("30000.00")
    assert a.status == "declined"
    reason = next(r for r in _reasons(a) if r["code"] == code)
    assert reason["en"].startswith(en) and reason["zh"].startswith(zh)
    assert CreditLine.objects.get(pk=line.id).reserved_minor == 0


def test_the_cap_and_a_frozen_line_over_the_api_and_on_the_page(world, give_line, client):
    from application_data import GOOD

    from factories import PASSWORD

    give_line("50000.00")
    token = client.post("/api/v1/auth/token", {"username": "officer_bj", "password": PASSWORD},
                        content_type="application/json").json()["token"]

    def submit(amount: str):
        r = client.post("/api/v1/applications", {"customer_id": world["customers"][0], "product": "consumer",
                                                  "amount": amount, "term": 12, "inputs": dict(GOOD)},
                        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert r.status_code == 201, r.content
        return r.json()

    capped = submit("60000.00")
    assert capped["status"] == "approved" and capped["decision"]["approved_amount"] == "50000.00"
    assert any("Available on the customer's credit line" in text for text in capped["decision"]["reasons"])
    client.force_login(world["approver_bj"])  # the case page explains the limit, step by step
    assert "客户授信额度可用 50,000.00" in client.get(f"/applications/{capped['ref']}/").content.decode()
    lines.freeze_line(world["risk"], world["customers"][0], "fraud alert")
    body = submit("30000.00")
    assert body["status"] == "declined"
    assert any(text.startswith("Your credit line is frozen") for text in body["decision"]["reasons"])
    client.force_login(world["customer"])  # the customer's own page, in Chinese (the default) and English
    page = client.get(f"/applications/{body['ref']}/").content.decode()
    assert "您的授信额度已冻结" in page and "Your credit line" not in page
    assert "Your credit line is frozen" in client.get(f"/applications/{body['ref']}/", **EN).content.decode()


def test_the_line_moves_with_the_loan_revolving(world, give_line, apply, monkeypatch):
    from creditplan.documents import contracts
    from creditplan.loans import clock, payments
    from creditplan.loans.models import Loan
    from factories import PASSWORD, resident_id

    line = give_line("50000.00")
    a = apply("20000.00")
    c = contracts.offer_contract(world["officer_bj"], a.ref)
    contracts.sign_contract(world["customer"], a.ref, password=PASSWORD, id_last4=resident_id(1)[-4:],
                            seen_sha256=c.sha256)
    today = clock.business_date()
    with monkeypatch.context() as m:  # paid out yesterday, so that a prepayment may be made today
        m.setattr(clock, "business_date", lambda: today - dt.timedelta(days=1))
        contracts.disburse_application(world["ops"], a.ref)  # the reservation becomes use
    v = lines.get_line(world["risk"], line.id)
    assert (v.reserved_minor, v.used_minor, v.available_minor) == (0, 2_000_000, 3_000_000)
    loan = Loan.objects.get(application_ref=a.ref)
    payments.prepay(world["ops"], loan_ref=loan.ref, amount="5000.00", reference="PP-1", value_date=today,
                    mode="shorten_term")
    repaid = 2_000_000 - Loan.objects.get(pk=loan.pk).principal_outstanding_minor
    assert repaid > 0
    v = lines.get_line(world["risk"], line.id)  # repaid principal gives the room back
    assert (v.used_minor, v.available_minor) == (2_000_000 - repaid, 3_000_000 + repaid)
    payments.reverse_payment(world["ops"], reference="PP-1", reason="bounced")
    v = lines.get_line(world["risk"], line.id)  # …and a reversal takes it again
    assert (v.used_minor, v.available_minor) == (2_000_000, 3_000_000)
    kinds = set(Event.objects.filter(subject_type="credit_line").values_list("kind", flat=True))
    assert {"line.reserved", "line.drawn", "line.restored", "line.restore_reversed"} <= kinds


def test_a_frozen_line_stops_the_payout_of_an_approval(world, give_line, apply):
    from creditplan.core.errors import Conflict
    from creditplan.documents import contracts
    from factories import PASSWORD, resident_id

    give_line("50000.00")
    a = apply("20000.00")
    c = contracts.offer_contract(world["officer_bj"], a.ref)
    contracts.sign_contract(world["customer"], a.ref, password=PASSWORD, id_last4=resident_id(1)[-4:],
                            seen_sha256=c.sha256)
    lines.freeze_line(world["risk"], world["customers"][0], "fraud alert")
    with pytest.raises(Conflict) as exc:
        contracts.disburse_application(world["ops"], a.ref)
    assert exc.value.code == "line_frozen"
    assert _line(world).reserved_minor == 2_000_000 and _line(world).used_minor == 0


def test_a_non_revolving_line_gives_nothing_back(world, give_line):
    from creditplan.loans import services as loans
    from creditplan.loans.models import Loan

    line = give_line("50000.00", revolving=False)
    loan = loans.disburse(None, customer_id=world["customers"][0], product="consumer", amount="10000.00", term=12)
    v = lines.get_line(world["risk"], line.id)
    assert v.used_minor == 1_000_000 and v.available_minor == 4_000_000  # a loan booked by trusted code counts
    assert lines.restore(Loan.objects.get(pk=loan.pk).application_ref, 400_000) == 0
    assert lines.get_line(world["risk"], line.id).available_minor == 4_000_000


def test_withdrawing_an_approval_releases_the_line(world, give_line, apply):
    from creditplan.origination import services as origination

    line = give_line("50000.00")
    a = apply("30000.00")
    assert lines.get_line(world["risk"], line.id).available_minor == 2_000_000
    origination.withdraw(world["officer_bj"], a.ref, "changed their mind")
    assert lines.get_line(world["risk"], line.id).available_minor == 5_000_000
    assert Event.objects.filter(kind="line.released").count() == 1


def test_customers_without_a_line_are_decided_as_before_in_as_many_statements(world, give_line, apply):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    apply("30000.00", customer=1)  # warm the configuration snapshot
    with CaptureQueriesContext(connection) as plain:
        a = apply("30000.00", customer=1)
    assert a.status == "approved" and a.approved_amount_minor == 3_000_000
    assert not [q for q in plain.captured_queries if "lines_occupation" in q["sql"] or "UPDATE \"lines_" in q["sql"]]
    give_line("500000.00", customer=2)
    apply("30000.00", customer=2)
    with CaptureQueriesContext(connection) as with_line:
        b = apply("30000.00", customer=2)
    assert b.status == "approved" and b.approved_amount_minor == 3_000_000
    # the line is read in the look-up statement; writing its reservation is the only statement more
    # (one on PostgreSQL — a data-modifying CTE —, an UPDATE and an INSERT on SQLite)
    more = 1 if connection.vendor == "postgresql" else 2
    assert len(with_line.captured_queries) == len(plain.captured_queries) + more, [
        q["sql"][:80] for q in with_line.captured_queries]
