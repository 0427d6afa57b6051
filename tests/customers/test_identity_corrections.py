"""Security issue 14, finding 9 (customers side): a customer's identity — kind, resident ID number and so birth
date, a company's credit code — changes only by a four-eyes correction: asked for by one user, approved by
another who may approve identity corrections (operations, administrators). Updates refuse it, naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from creditplan.core.errors import Conflict, Forbidden, ValidationError
from creditplan.customers import services
from creditplan.customers.models import Customer
from creditplan.ledger import services as ledger
from creditplan.ledger.models import Event
from factories import PASSWORD, company, individual, resident_id

NEW = resident_id(7, birth=dt.date(1986, 7, 16))


@pytest.mark.parametrize(("field", "value"), [("id_number", NEW), ("birth_date", "1986-07-16"),
                                              ("kind", "company")])
def test_an_update_cannot_change_an_identity_field(bank, field, value):
    v = services.create_customer(bank["officer_bj"], individual(1))
    with pytest.raises(ValidationError) as exc:
        services.update_customer(bank["ops"], v.id, {field: value})
    assert exc.value.field == field and exc.value.code == "identity_immutable"
    row = Customer.objects.get(pk=v.id)
    assert (row.id_index, row.birth_date, row.kind, row.version) == (
        services.cipher().blind_index(resident_id(1)), dt.date(1985, 6, 15), "individual", 1)
    # repeating the current identity is no change and goes through
    same = services.update_customer(bank["ops"], v.id, {"id_number": resident_id(1), "birth_date": "1985-06-15",
                                                        "employer": "美团"})
    assert same.version == 2 and same.employer == "美团"


def test_a_correction_needs_a_second_user_and_changes_the_identity_only_when_approved(bank):
    v = services.create_customer(bank["officer_bj"], individual(1))
    corr = services.request_identity_correction(bank["officer_bj"], v.id, {"id_number": NEW},
                                                "身份证号码录入错误，依据身份证原件更正")
    assert corr.status == "pending" and corr.fields == ["id_number", "birth_date"]
    assert corr.new_values == {"id_number": "*" * 14 + NEW[-4:], "birth_date": None}
    assert Customer.objects.get(pk=v.id).birth_date == dt.date(1985, 6, 15)  # nothing changed yet

    with pytest.raises(Forbidden):  # a loan officer may not approve identity corrections
        services.decide_identity_correction(bank["officer_bj"], corr.id, approve=True)
    done = services.decide_identity_correction(bank["ops"], corr.id, approve=True, note="已核对原件")
    assert done.status == "approved" and done.decided_by == "ops"
    clear = services.get_customer(bank["ops"], v.id, reveal=True)
    assert (clear.id_number, clear.birth_date, clear.version) == (NEW, dt.date(1986, 7, 16), 2)
    assert services.search_customers(bank["ops"], NEW).total == 1
    assert services.search_customers(bank["ops"], resident_id(1)).total == 0
    with pytest.raises(Conflict):
        services.decide_identity_correction(bank["admin"], corr.id, approve=False, note="太晚了")

    events = Event.objects.filter(subject_type="customer", subject_id=str(v.id)).order_by("seq")
    kinds = [e.kind for e in events]
    assert kinds == ["customer.created", "customer.identity_correction_requested", "customer.identity_corrected",
                     "customer.pii_viewed"]
    for e in events:
        text = re.sub(r"hmac:[0-9a-f]{32}", "hmac", json.dumps(json.loads(e.entry)["data"]))
        assert NEW[-4:] not in text and "1986" not in text and "*" not in text
    corrected = json.loads(events[2].entry)["data"]
    assert set(corrected["changed"]) >= {"id_number", "birth_date"}
    assert all(value.startswith("hmac:") for value in corrected["changed"]["id_number"])
    requested = json.loads(events[1].entry)["data"]
    assert requested["after"]["id_number"] == corrected["changed"]["id_number"][1]  # the digest names the value
    assert ledger.verify_ledger(None, record=False).ok


def test_whoever_asked_cannot_approve_and_a_rejection_changes_nothing(bank):
    v = services.create_customer(bank["officer_bj"], individual(1))
    corr = services.request_identity_correction(bank["admin"], v.id, {"id_number": NEW}, "客户来电")
    with pytest.raises(Forbidden) as exc:
        services.decide_identity_correction(bank["admin"], corr.id, approve=True)
    assert exc.value.code == "four_eyes"
    with pytest.raises(ValidationError):  # a rejection says why
        services.decide_identity_correction(bank["ops"], corr.id, approve=False)
    rejected = services.decide_identity_correction(bank["ops"], corr.id, approve=False, note="证件不符")
    assert rejected.status == "rejected"
    assert Customer.objects.get(pk=v.id).id_index == services.cipher().blind_index(resident_id(1))


def test_a_correction_is_checked_like_a_new_identity(bank):
    a = services.create_customer(bank["officer_bj"], individual(1))
    services.create_customer(bank["officer_bj"], individual(2))
    ask = services.request_identity_correction
    with pytest.raises(Conflict) as dup:
        ask(bank["officer_bj"], a.id, {"id_number": resident_id(2)}, "录入错误")
    assert dup.value.code == "duplicate_id"
    with pytest.raises(ValidationError) as bad:
        ask(bank["officer_bj"], a.id, {"id_number": NEW[:-1] + ("0" if NEW[-1] != "0" else "1")}, "录入错误")
    assert bad.value.problems[0].field == "id_number"
    with pytest.raises(ValidationError) as same:
        ask(bank["officer_bj"], a.id, {"id_number": resident_id(1)}, "录入错误")
    assert same.value.code == "no_change"
    with pytest.raises(ValidationError) as kind:
        ask(bank["officer_bj"], a.id, {"kind": "company"}, "录入错误")
    assert kind.value.code == "kind_immutable"
    with pytest.raises(ValidationError):
        ask(bank["officer_bj"], a.id, {"id_number": NEW}, "  ")
    with pytest.raises(Forbidden):  # correcting an identity means seeing it: roles without view_pii may not
        ask(bank["risk"], a.id, {"id_number": NEW}, "录入错误")
    ask(bank["officer_bj"], a.id, {"id_number": NEW}, "录入错误")
    with pytest.raises(Conflict) as twice:
        ask(bank["officer_bj"], a.id, {"id_number": resident_id(8)}, "录入错误")
    assert twice.value.code == "correction_pending"
    # a company's credit code
    c = services.create_customer(bank["officer_bj"], company(1))
    corr = ask(bank["officer_bj"], c.id, {"uscc": company(2)["uscc"]}, "营业执照换发")
    services.decide_identity_correction(bank["ops"], corr.id, approve=True)
    assert services.get_customer(bank["ops"], c.id).uscc == company(2)["uscc"]


def test_the_correction_api_asks_approves_and_keeps_the_number_out_of_answers(bank, client):
    def token(user: str) -> dict[str, str]:
        r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                        content_type="application/json")
        return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}

    officer, ops = token("officer_bj"), token("ops")
    v = services.create_customer(bank["officer_bj"], individual(1))
    r = client.patch(f"/api/v1/customers/{v.id}", {"id_number": NEW}, content_type="application/json", **officer)
    assert r.status_code == 422 and r.json()["code"] == "identity_immutable"
    assert r.json()["errors"][0]["field"] == "id_number" and "identity correction" in r.json()["detail"]
    assert Customer.objects.get(pk=v.id).id_index == services.cipher().blind_index(resident_id(1))
    r = client.post(f"/api/v1/customers/{v.id}/identity-corrections", {"id_number": NEW, "reason": "录入错误"},
                    content_type="application/json", **officer)
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert NEW not in r.content.decode() and r.json()["new_values"]["id_number"] == "*" * 14 + NEW[-4:]
    pending = client.get("/api/v1/customers/identity-corrections", **ops).json()
    assert [p["id"] for p in pending] == [cid]
    shown = client.get(f"/api/v1/customers/identity-corrections/{cid}?reveal=true", **ops).json()
    assert shown["new_values"]["id_number"] == NEW  # the approver checks it against the documents: recorded
    assert Event.objects.filter(kind="customer.pii_viewed", subject_id=str(v.id)).count() == 1
    r = client.post(f"/api/v1/customers/identity-corrections/{cid}/approve", {}, content_type="application/json",
                    **officer)
    assert r.status_code == 403
    r = client.post(f"/api/v1/customers/identity-corrections/{cid}/approve", {"note": "已核对"},
                    content_type="application/json", **ops)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert services.get_customer(bank["ops"], v.id, reveal=True).id_number == NEW


def test_the_correction_pages_ask_then_another_user_approves(bank, client):
    v = services.create_customer(bank["officer_bj"], individual(1, name="王小明"))
    client.force_login(bank["officer_bj"])
    detail = client.get(f"/customers/{v.id}/").content.decode()
    assert f"/customers/{v.id}/identity/" in detail
    bad = client.post(f"/customers/{v.id}/identity/", {"id_number": resident_id(1), "reason": "录入错误"})
    assert bad.status_code == 422 and "与当前值相同，无需更正。" in bad.content.decode()
    r = client.post(f"/customers/{v.id}/identity/", {"id_number": NEW, "reason": "录入错误"})
    assert r.status_code == 302
    page = client.get(f"/customers/{v.id}/").content.decode()
    assert "等待另一位用户审批" in page and f"/customers/{v.id}/identity/" not in page

    client.force_login(bank["ops"])
    listing = client.get("/customers/identity-corrections/").content.decode()
    assert "王小明" in listing and "*" * 14 + NEW[-4:] in listing and NEW not in listing
    corr = services.list_identity_corrections(bank["ops"])[0]
    r = client.post("/customers/identity-corrections/", {"correction": corr.id, "decision": "approve"})
    assert r.status_code == 302
    assert "身份信息更正已批准。" in client.get(r["Location"]).content.decode()
    history = client.get(f"/customers/{v.id}/").content.decode()
    assert "身份信息已更正（已批准）" in history and "居民身份证号码: 已修改（不显示）" in history
    assert "hmac:" not in history
