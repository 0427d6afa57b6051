"""Ledger services: gapless numbering, lazy integration, signed tree heads, proofs, keys, permissions."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from creditplan.core.errors import Forbidden, NotFound, ValidationError
from creditplan.ledger import merkle
from creditplan.ledger import services as ledger
from creditplan.ledger import verifier as standalone
from creditplan.ledger.models import AppendOnlyError, Event, SignedTreeHead


def _seqs() -> list[int]:
    return list(Event.objects.order_by("seq").values_list("seq", flat=True))


def _leaves() -> list[bytes]:
    return [bytes.fromhex(h) for h in Event.objects.order_by("seq").values_list("leaf_hash", flat=True)]


def test_numbers_are_gapless_and_a_rolled_back_append_gives_its_number_back(bank, specs):  # type: ignore[no-untyped-def]
    start = ledger.count_events()
    with transaction.atomic():
        ledger.append(bank["admin"], "loan.repaid", "loan", 1, {"n": 1})
    try:
        with transaction.atomic():
            ledger.append(bank["admin"], "loan.repaid", "loan", 1, {"n": 2})
            ledger.append_many(bank["admin"], specs(5))
            raise RuntimeError("use case failed")
    except RuntimeError:
        pass
    with transaction.atomic():
        assert ledger.append_many(bank["admin"], specs(3)) == 3
        assert ledger.append_many(bank["admin"], []) == 0
    assert _seqs() == list(range(1, start + 5))


def test_append_refuses_floats_without_leaving_a_gap(bank, specs):  # type: ignore[no-untyped-def]
    before = _seqs()
    with pytest.raises(TypeError), transaction.atomic():
        ledger.append(bank["admin"], "loan.repaid", "loan", 1, {"amount": 1.5})
    bad = [*specs(3), ledger.EventSpec("loan.repaid", "loan", "1", {"rate": 0.0395}), *specs(2)]
    with transaction.atomic():
        with pytest.raises(TypeError):
            ledger.append_many(bank["admin"], bad)  # caught inside the transaction: still no gap
        ledger.append(bank["admin"], "loan.repaid", "loan", 1, {"amount": "1.50"})
    assert _seqs() == [*before, len(before) + 1]


def test_one_event_a_few_and_a_batch_are_numbered_in_order_and_verify_alike(bank, specs):  # type: ignore[no-untyped-def]
    """A use case's one or two events are written in one statement with their numbers (PostgreSQL), a batch job's
    thousands through COPY: the same rows either way — numbers in order, the actor, the time, a ledger that
    verifies."""
    before = _seqs()
    with transaction.atomic():
        one = ledger.append(bank["admin"], "loan.repaid", "loan", 7, {"amount": "1.50"})
        assert ledger.append_many(bank["admin"], specs(2)) == 2
        assert ledger.append_many(None, specs(30, start=2)) == 30
    n = len(before)
    assert one.seq == n + 1 and one.pk == n + 1
    assert _seqs() == [*before, *range(n + 1, n + 34)]
    rows = list(Event.objects.filter(seq__gt=n).order_by("seq").values_list("actor_id", "actor_name", "kind"))
    assert rows[0] == (bank["admin"].pk, bank["admin"].username, "loan.repaid")
    assert {r[:2] for r in rows[1:3]} == {(bank["admin"].pk, bank["admin"].username)}
    assert {r[:2] for r in rows[3:]} == {(None, "system")}
    stored = Event.objects.get(seq=one.seq)
    assert (stored.entry, stored.leaf_hash, stored.occurred_at) == (one.entry, one.leaf_hash, one.occurred_at)
    assert ledger.verify_ledger(bank["auditor"], record=False).ok


def test_events_and_heads_are_append_only(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(20)
    with pytest.raises(AppendOnlyError):
        Event.objects.first().save()
    head = SignedTreeHead.objects.first()
    with pytest.raises(AppendOnlyError):
        head.save()
    with pytest.raises(AppendOnlyError):
        head.delete()


def test_the_node_store_is_extended_lazily_and_stops_at_a_gap(make_ledger, bank, specs):  # type: ignore[no-untyped-def]
    make_ledger(50)
    with transaction.atomic():
        ledger.append_many(bank["admin"], specs(30))
    assert ledger.ledger_health(bank["auditor"]).integrated == 50  # appending does not touch the tiles
    assert ledger.integrate() == 80 and ledger.integrate() == 80
    with transaction.atomic():
        ledger.append_many(bank["admin"], specs(5))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM ledger_event WHERE seq = 82")
    assert ledger.integrate() == 81


def test_every_inclusion_proof_and_consistency_between_heads(make_ledger, bank, specs):  # type: ignore[no-untyped-def]
    make_ledger(140, head=False)
    heads = []
    for extra in (0, 1, 120, 0, 260):
        if extra:
            with transaction.atomic():
                ledger.append_many(bank["admin"], specs(extra))
        heads.append(ledger.issue_tree_head(bank["ops"], reason="schedule"))
    leaves = _leaves()
    for head in heads:
        assert head.root_hash == merkle.mth(leaves[: head.tree_size])
        assert head.key_id == standalone.key_id(ledger.public_key())
    last = heads[-1]
    for seq in range(1, last.tree_size + 1):
        p = ledger.inclusion_proof(bank["auditor"], seq)
        assert p.tree_size == last.tree_size and p.tree_head == last
        merkle.verify_inclusion(p.leaf_hash, p.leaf_index, p.tree_size, p.inclusion_path, last.root_hash)
        assert merkle.hash_leaf(p.entry.encode()) == p.leaf_hash
    for a in heads:
        for b in heads:
            if a.tree_size <= b.tree_size and a.tree_size:
                c = ledger.consistency_proof(bank["auditor"], a.tree_size, b.tree_size)
                merkle.verify_consistency(a.tree_size, b.tree_size, a.root_hash, b.root_hash, c.consistency_path)
                standalone.check_consistency(c.as_dict(), ledger.public_key(), report=standalone.Report(True))
    assert [h.tree_size for h in ledger.tree_heads(bank["auditor"])] == [h.tree_size for h in heads]
    assert [h.tree_size for h in ledger.tree_heads(bank["auditor"], limit=2)] == [h.tree_size for h in heads[-2:]]


def test_proof_of_an_event_newer_than_the_latest_head(make_ledger, bank):  # type: ignore[no-untyped-def]
    info = make_ledger(30)
    with transaction.atomic():
        event = ledger.append(bank["admin"], "loan.repaid", "loan", 9, {"n": 1})
    p = ledger.inclusion_proof(bank["auditor"], event.seq)
    assert p.tree_size == info["size"] + 1 and p.tree_head is None
    older = ledger.inclusion_proof(bank["auditor"], index=4, tree_size=info["size"])
    assert older.seq == 5 and older.tree_head == info["head"]
    with pytest.raises(ValidationError):
        ledger.inclusion_proof(bank["auditor"], 5, tree_size=4)
    with pytest.raises(ValidationError):
        ledger.inclusion_proof(bank["auditor"])
    with pytest.raises(NotFound):
        ledger.inclusion_proof(bank["auditor"], 10_000)


def test_signing_key_from_the_environment_and_rotation(make_ledger, bank, monkeypatch):  # type: ignore[no-untyped-def]
    make_ledger(20, head=False)
    dev_head = ledger.issue_tree_head(bank["admin"])
    seed = os.urandom(32)
    monkeypatch.setenv(ledger.SIGNING_KEY_ENV, base64.b64encode(seed).decode())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert ledger.public_key() == expected and ledger.signing_key_configured()
    head = ledger.issue_tree_head(bank["admin"])
    assert head.public_key == expected and head.key_id != dev_head.key_id
    standalone.verify_tree_head(head.as_dict(), expected)
    report = ledger.verify_ledger(bank["auditor"], record=False)  # the development key is no longer trusted
    assert not report.ok and "not a ledger key" in report.first.reason
    monkeypatch.setenv(ledger.TRUSTED_KEYS_ENV, base64.b64encode(dev_head.public_key).decode())
    assert ledger.verify_ledger(bank["auditor"], record=False).ok
    monkeypatch.setenv(ledger.SIGNING_KEY_ENV, "c2hvcnQ=")
    with pytest.raises(ImproperlyConfigured):
        ledger.issue_tree_head(bank["admin"])


def test_system_check_refuses_a_derived_key_in_production(monkeypatch, settings):  # type: ignore[no-untyped-def]
    from creditplan.ledger.checks import ledger_signing_key

    monkeypatch.delenv(ledger.SIGNING_KEY_ENV, raising=False)
    settings.LEDGER_SIGNING_KEY = ""
    settings.DEVELOPMENT = True  # development mode has a random key of its own (settings.py): nothing to say
    assert ledger_signing_key(None) == []
    settings.DEVELOPMENT, settings.DEBUG = False, True  # debug pages on no longer silence the check
    assert [p.id for p in ledger_signing_key(None)] == ["creditplan.E011"]
    with pytest.raises(ImproperlyConfigured, match=ledger.SIGNING_KEY_ENV):
        ledger.signing_key()  # and nothing is derived from another secret
    settings.DEBUG = False
    assert [p.id for p in ledger_signing_key(None)] == ["creditplan.E011"]
    monkeypatch.setenv(ledger.SIGNING_KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    assert ledger_signing_key(None) == []


def test_permissions(make_ledger, bank):  # type: ignore[no-untyped-def]
    make_ledger(10)
    for name in ("officer_bj", "risk", "customer"):
        with pytest.raises(Forbidden):
            ledger.issue_tree_head(bank[name])
    for name in ("officer_bj", "ops", "customer"):
        with pytest.raises(Forbidden):
            ledger.verify_ledger(bank[name])
        with pytest.raises(Forbidden):
            ledger.inclusion_proof(bank[name], 1)
    ledger.issue_tree_head(bank["auditor"])
    assert ledger.may_issue_tree_heads(bank["ops"]) and not ledger.may_issue_tree_heads(bank["risk"])


def test_the_sequencer_row_is_recreated_and_continues_the_numbering(make_ledger, bank):  # type: ignore[no-untyped-def]
    info = make_ledger(15)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM ledger_sequencer")
    with transaction.atomic():
        event = ledger.append(bank["admin"], "loan.repaid", "loan", 1, {})
    assert event.seq == info["size"] + 1
    assert ledger.verify_ledger(bank["auditor"], record=False).ok


def test_export_sth_posts_the_head_to_a_webhook(make_ledger, bank, tmp_path):  # type: ignore[no-untyped-def]
    make_ledger(10)
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    err = StringIO()
    call_command("ledger", "export-sth", "--out", str(tmp_path / "sth.json"), "--webhook",
                 f"http://127.0.0.1:{server.server_port}/sth", stdout=StringIO(), stderr=err)
    thread.join(5)
    server.server_close()
    payload = ledger.export_tree_heads(bank["auditor"])
    assert received == [payload] and json.loads((tmp_path / "sth.json").read_text()) == payload
    assert "HTTP 204" in err.getvalue()
    with pytest.raises(CommandError, match="http"):
        call_command("ledger", "export-sth", "--out", str(tmp_path / "again.json"), "--webhook", "file:///etc/passwd",
                     stdout=StringIO(), stderr=StringIO())


def test_history_and_search_still_read_the_log(make_ledger, bank):  # type: ignore[no-untyped-def]
    info = make_ledger(10)
    cid = info["customers"][0]
    kinds = [h.kind for h in ledger.history(bank["auditor"], "customer", cid)]
    assert kinds == ["customer.updated", "customer.created"]
    rows = ledger.search_events(bank["auditor"], subject=f"customer:{cid}")
    assert [r.seq for r in rows] == sorted((r.seq for r in rows), reverse=True)
