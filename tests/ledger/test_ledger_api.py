"""The ledger API: RFC 9162 shapes the standalone verifier accepts as they are, permissions, problem+json."""

from __future__ import annotations

import base64

import pytest

from creditplan.ledger import services as ledger
from creditplan.ledger import verifier as standalone
from factories import PASSWORD


@pytest.fixture
def as_user(client):  # type: ignore[no-untyped-def]
    def headers(username: str) -> dict[str, str]:
        r = client.post("/api/v1/auth/token", {"username": username, "password": PASSWORD},
                        content_type="application/json")
        assert r.status_code == 200, r.content
        return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}

    return headers


def test_heads_and_proofs_verify_with_the_standalone_verifier(client, make_ledger, as_user):  # type: ignore[no-untyped-def]
    make_ledger(80, head=False)
    auditor = as_user("auditor")
    assert client.get("/api/v1/ledger/tree-heads/latest", **auditor).json()["code"] == "no_tree_head"
    r = client.post("/api/v1/ledger/tree-heads?reason=close", content_type="application/json", **as_user("ops"))
    assert r.status_code == 201, r.content
    first_head = r.json()
    size1 = first_head["tree_size"]
    assert first_head["reason"] == "close" and size1 >= 80 and len(base64.b64decode(first_head["root_hash"])) == 32
    key = base64.b64decode(client.get("/api/v1/ledger/public-key", **auditor).json()["public_key"])
    assert key == ledger.public_key()

    latest = client.get("/api/v1/ledger/tree-heads/latest", **auditor).json()
    standalone.check_tree_heads(latest, key, standalone.Report(quiet=True))

    r = client.get("/api/v1/ledger/proofs/inclusion/7", **auditor)
    assert r.status_code == 200, r.content
    proof = r.json()
    assert proof["seq"] == 7 and proof["leaf_index"] == 6 and proof["tree_size"] == size1
    assert proof["tree_head"]["root_hash"] == proof["root_hash"]
    standalone.check_inclusion(proof, key, report=standalone.Report(quiet=True))

    as_user("admin")  # a log-in is an event too: the ledger grows
    client.post("/api/v1/ledger/tree-heads", content_type="application/json", **auditor)
    size2 = client.get("/api/v1/ledger/tree-heads/latest", **auditor).json()["tree_size"]
    assert size2 == size1 + 1
    r = client.get(f"/api/v1/ledger/proofs/consistency?first={size1}&second={size2}", **auditor)
    assert r.status_code == 200, r.content
    cons = r.json()
    assert cons["tree_head_1"]["tree_size"] == size1 and cons["tree_head_2"]["tree_size"] == size2
    standalone.check_consistency(cons, key, report=standalone.Report(quiet=True))
    # An old tree size stays provable after the log grew.
    old = client.get(f"/api/v1/ledger/proofs/inclusion/7?tree_size={size1}", **auditor).json()
    standalone.check_inclusion(old, key, report=standalone.Report(quiet=True))

    heads = client.get("/api/v1/ledger/tree-heads", **auditor).json()["tree_heads"]
    assert [h["tree_size"] for h in heads] == [size1, size2]


def test_verification_endpoint_records_the_run(client, make_ledger, as_user):  # type: ignore[no-untyped-def]
    make_ledger(40)
    r = client.post("/api/v1/ledger/verifications", content_type="application/json", **as_user("auditor"))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["ok"] and body["first"] is None and body["run_id"]


def test_bad_requests_are_problems_not_500s(client, make_ledger, as_user):  # type: ignore[no-untyped-def]
    make_ledger(30)
    auditor = as_user("auditor")
    r = client.get("/api/v1/ledger/proofs/inclusion/99999", **auditor)
    assert r.status_code == 404 and r["Content-Type"] == "application/problem+json"
    for url in ("/api/v1/ledger/proofs/inclusion/5?tree_size=3", "/api/v1/ledger/proofs/inclusion/5?tree_size=999999",
                "/api/v1/ledger/proofs/inclusion/0", "/api/v1/ledger/proofs/consistency?first=0&second=5",
                "/api/v1/ledger/proofs/consistency?first=9&second=5",
                "/api/v1/ledger/proofs/consistency?first=1&second=99999",
                "/api/v1/ledger/proofs/inclusion/abc", "/api/v1/ledger/proofs/consistency?first=x"):
        r = client.get(url, **auditor)
        assert r.status_code == 422, (url, r.status_code, r.content)
        assert r["Content-Type"] == "application/problem+json"


def test_permissions(client, make_ledger, as_user):  # type: ignore[no-untyped-def]
    make_ledger(20)
    officer = as_user("officer_bj")
    for url in ("/api/v1/ledger/tree-heads/latest", "/api/v1/ledger/proofs/inclusion/1",
                "/api/v1/ledger/proofs/consistency?first=1&second=2", "/api/v1/ledger/verifier.py"):
        assert client.get(url, **officer).status_code == 403, url
    assert client.post("/api/v1/ledger/tree-heads", content_type="application/json", **officer).status_code == 403
    assert client.post("/api/v1/ledger/verifications", content_type="application/json",
                       **as_user("ops")).status_code == 403
    assert client.get("/api/v1/ledger/tree-heads/latest").status_code == 401


def test_the_standalone_verifier_can_be_downloaded(client, make_ledger, as_user):  # type: ignore[no-untyped-def]
    make_ledger(10)
    r = client.get("/api/v1/ledger/verifier.py", **as_user("auditor"))
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    assert b"def verify_inclusion" in r.content


def test_openapi_lists_the_ledger(client, db):  # type: ignore[no-untyped-def]
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/ledger/proofs/inclusion/{seq}" in paths and "/api/v1/ledger/tree-heads" in paths
