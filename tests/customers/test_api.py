"""The JSON API: token log-in, customers CRUD, and bad input that never yields a 500 nor a half-write."""

from __future__ import annotations

import pytest

from creditplan.customers.models import Customer
from creditplan.ledger.models import Event
from factories import PASSWORD, individual, resident_id


@pytest.fixture
def api(client, bank):  # type: ignore[no-untyped-def]
    def login(username: str = "officer_bj") -> dict[str, str]:
        r = client.post("/api/v1/auth/token", {"username": username, "password": PASSWORD},
                        content_type="application/json")
        assert r.status_code == 200, r.content
        return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}

    class Api:
        def __init__(self) -> None:
            self.headers = login()

        def as_user(self, username: str) -> Api:
            self.headers = login(username)
            return self

        def post(self, path: str, body: dict) -> object:
            return client.post(path, body, content_type="application/json", **self.headers)

        def get(self, path: str) -> object:
            return client.get(path, **self.headers)

        def patch(self, path: str, body: dict) -> object:
            return client.patch(path, body, content_type="application/json", **self.headers)

        def delete(self, path: str) -> object:
            return client.delete(path, **self.headers)

    return Api()


def test_openapi_is_published(client, db):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/customers" in paths and "/api/v1/auth/token" in paths


def test_wrong_password_and_missing_token_are_401_problems(client, bank):
    r = client.post("/api/v1/auth/token", {"username": "officer_bj", "password": "nope"},
                    content_type="application/json")
    assert r.status_code == 401 and r.json()["code"] == "bad_credentials"
    r = client.get("/api/v1/customers")
    assert r.status_code == 401 and r["Content-Type"] == "application/problem+json"
    r = client.get("/api/v1/customers", HTTP_AUTHORIZATION="Bearer cp_forged")
    assert r.status_code == 401


def test_create_read_update_archive(api):
    r = api.post("/api/v1/customers", individual(1))
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert r.json()["monthly_income"] == "15000.00" and r.json()["branch"] == "BJ01"
    r = api.get(f"/api/v1/customers/{cid}")
    assert r.json()["id_number"] == "*" * 14 + resident_id(1)[-4:]
    r = api.get(f"/api/v1/customers/{cid}?reveal=true")
    assert r.json()["id_number"] == resident_id(1)
    r = api.patch(f"/api/v1/customers/{cid}", {"version": 1, "employer": "国家电网有限公司"})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = api.patch(f"/api/v1/customers/{cid}", {"version": 1, "employer": "美团"})
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = api.get("/api/v1/customers?q=张三")
    assert r.json()["total"] == 1
    r = api.delete(f"/api/v1/customers/{cid}?reason=closed")
    assert r.status_code == 403  # a loan officer may not archive
    r = api.as_user("ops").delete(f"/api/v1/customers/{cid}?reason=customer%20left")
    assert r.status_code == 200 and r.json()["status"] == "archived"


BAD_INPUTS = [
    ("wrong check digit", dict(id_number=resident_id(1)[:-1] + ("0" if resident_id(1)[-1] != "0" else "1")),
     422, "id_number", "resident_id_check"),
    ("malformed date", dict(birth_date="1985-13-45"), 422, "birth_date", None),
    ("negative income", dict(monthly_income="-100"), 422, "monthly_income", "negative_amount"),
    ("unknown branch", dict(branch="NOPE"), 422, "branch", "unknown_branch"),
    ("ID too short", dict(id_number="11010819850615"), 422, "id_number", "resident_id_length"),
    ("text income", dict(monthly_income="lots"), 422, "monthly_income", None),
    # a JSON number with a fraction is a float: refused at the edge (it used to become Decimal('15000.5'))
    ("float income", dict(monthly_income=15000.5), 422, "monthly_income", None),
    ("empty name", dict(name=""), 422, "name", "required"),
    ("bad phone", dict(phone="12345"), 422, "phone", "phone_format"),
]


@pytest.mark.parametrize(("label", "change", "status", "field", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_4xx_naming_the_field_and_writes_nothing(api, label, change, status, field, code):
    before = (Customer.objects.count(), Event.objects.count())
    r = api.post("/api/v1/customers", individual(1, **change))
    assert r.status_code == status, r.content
    body = r.json()
    assert r["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in body["errors"]}, body
    if code:
        assert code in {e["code"] for e in body["errors"]}, body
    assert body["detail"]
    assert (Customer.objects.count(), Event.objects.count()) == before


def test_duplicate_id_is_409_naming_the_field(api):
    assert api.post("/api/v1/customers", individual(1)).status_code == 201
    before = (Customer.objects.count(), Event.objects.count())
    r = api.post("/api/v1/customers", individual(1, name="另一个人"))
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_id" and r.json()["errors"][0]["field"] == "id_number"
    assert (Customer.objects.count(), Event.objects.count()) == before


def test_not_json_and_unknown_customer(api):
    r = api.post("/api/v1/customers", {"kind": "alien"})
    assert r.status_code == 422
    r = api.get("/api/v1/customers/999999")
    assert r.status_code == 404 and r.json()["code"] == "customer_not_found"
