"""Tamper evidence: whatever is changed behind the application's back — an event's bytes, its place in the
log, the node store, a signed head, a business record — `verify_ledger` notices and names the first bad
entry. Changes are made with raw SQL (the models refuse them) inside a savepoint that is rolled back, so
each case starts from the same intact ledger."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.db.models import F

from creditplan.customers.models import Customer
from creditplan.ledger import merkle
from creditplan.ledger import services as ledger
from creditplan.ledger.models import Event

EVENT_COLUMNS = "entry, leaf_hash, kind, subject_type, subject_id, actor_name, occurred_at, actor_id"


class _Undo(Exception):
    pass


@contextmanager
def tampering() -> Iterator[None]:
    """Run the body in a savepoint and roll it back afterwards."""
    try:
        with transaction.atomic():
            yield
            raise _Undo
    except _Undo:
        pass


def sql(statement: str, params: tuple | list = ()) -> list:
    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def verify() -> ledger.VerificationReport:
    return ledger.verify_ledger(None, record=False)


def first_bad(report: ledger.VerificationReport) -> int | None:
    assert not report.ok, "tampering was not detected"
    return report.first.seq if report.first else None


def row(seq: int) -> tuple:
    return sql(f"SELECT {EVENT_COLUMNS} FROM ledger_event WHERE seq = %s", [seq])[0]


def put(seq: int, values: tuple) -> None:
    sets = ", ".join(f"{c.strip()} = %s" for c in EVENT_COLUMNS.split(","))
    sql(f"UPDATE ledger_event SET {sets} WHERE seq = %s", [*values, seq])


def test_an_intact_ledger_of_1000_events_verifies(make_ledger, bank):  # type: ignore[no-untyped-def]
    info = make_ledger(1000, n_customers=5)
    report = ledger.verify_ledger(bank["auditor"])
    assert report.ok, report.findings
    assert report.events_checked == 1000 and report.tree_size == 1000 and report.records_checked == 5
    assert report.run_id is not None and ledger.last_verification(bank["auditor"]).ok
    assert info["head"].tree_size == 1000


def test_byte_flips_in_events_are_detected_on_a_sample_of_a_1000_event_ledger(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(1000)
    rnd = random.Random(8)
    sample = sorted(rnd.sample(range(1, 1001), 120)) + [1, 1000]
    for seq in sample:
        entry = sql("SELECT entry FROM ledger_event WHERE seq = %s", [seq])[0][0]
        pos = rnd.randrange(len(entry))
        flipped = entry[:pos] + chr(ord(entry[pos]) ^ (1 << rnd.randrange(5))) + entry[pos + 1:]
        assert flipped != entry
        with tampering():
            sql("UPDATE ledger_event SET entry = %s WHERE seq = %s", [flipped, seq])
            assert first_bad(verify()) == seq, (seq, pos)


def test_a_changed_event_with_a_recomputed_leaf_hash_is_caught_by_the_tree_and_the_signed_head(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(300)
    for seq in (1, 150, 300):
        body = json.loads(sql("SELECT entry FROM ledger_event WHERE seq = %s", [seq])[0][0])
        body["data"]["forged"] = True
        from creditplan.ledger.domain import canonical_json, leaf_hash

        raw = canonical_json(body)
        with tampering():
            sql("UPDATE ledger_event SET entry = %s, leaf_hash = %s WHERE seq = %s",
                [raw.decode(), leaf_hash(raw).hex(), seq])
            report = verify()
            assert first_bad(report) == seq
            reasons = " ".join(f.reason for f in report.findings)
            assert "leaf" in reasons and "tree head" in reasons
            # An attacker who also rebuilds the whole node store is still caught by the signed head.
            sql("DELETE FROM ledger_merkletile")
            sql("UPDATE ledger_treestate SET size = 0")
            ledger.integrate()
            report = verify()
            assert not report.ok
            assert any("does not match the events" in f.reason for f in report.findings)


def test_every_deletion_is_detected(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(60)
    for seq in range(1, 61):
        with tampering():
            sql("DELETE FROM ledger_event WHERE seq = %s", [seq])
            assert first_bad(verify()) == seq


def test_deleting_recent_events_not_yet_in_any_tree_is_detected(make_ledger, bank):  # type: ignore[no-untyped-def]
    make_ledger(40)
    with transaction.atomic():
        ledger.append(bank["admin"], "loan.repaid", "loan", "7", {"n": 1})
        ledger.append(bank["admin"], "loan.repaid", "loan", "7", {"n": 2})
    with tampering():
        sql("DELETE FROM ledger_event WHERE seq = 42")
        assert first_bad(verify()) == 42
    with tampering():
        sql("DELETE FROM ledger_event WHERE seq >= 41")
        assert first_bad(verify()) == 41


def test_every_reordering_of_two_events_is_detected(make_ledger):  # type: ignore[no-untyped-def]
    """All 496 swaps of a 32-event ledger (events of the bank, customers and generated loans)."""
    make_ledger(32)
    rows = {seq: row(seq) for seq in range(1, 33)}
    for a in range(1, 33):
        for b in range(a + 1, 33):
            with tampering():
                put(a, rows[b])
                put(b, rows[a])
                assert first_bad(verify()) == a, (a, b)


@pytest.mark.parametrize("where", [1, 17, 33, 60])
def test_an_event_inserted_in_the_middle_is_detected(make_ledger, bank, where):  # type: ignore[no-untyped-def]
    make_ledger(60)
    forged = row(where % 60 + 1)  # a copy of another event, placed before the event at `where`
    with tampering():
        sql("UPDATE ledger_event SET seq = -(seq + 1) WHERE seq >= %s", [where])  # make room: renumber
        sql("UPDATE ledger_event SET seq = -seq WHERE seq < 0")
        sql(f"INSERT INTO ledger_event (seq, {EVENT_COLUMNS}) VALUES (%s, {', '.join(['%s'] * 8)})",
            [where, *forged])
        assert first_bad(verify()) == where


def test_an_event_appended_behind_the_sequencer_is_detected(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(60)
    for seq in (61, 99):
        with tampering():
            sql(f"INSERT INTO ledger_event (seq, {EVENT_COLUMNS}) VALUES (%s, {', '.join(['%s'] * 8)})",
                [seq, *row(5)])
            assert first_bad(verify()) == 61  # 61: not numbered; 99: also leaves 61–98 missing


@pytest.mark.parametrize("column,value", [("kind", "customer.deleted"), ("subject_id", "999"),
                                          ("actor_name", "admin"), ("subject_type", "loan")])
def test_a_changed_event_column_is_detected(make_ledger, column, value):  # type: ignore[no-untyped-def]
    """The columns search and history read must agree with the hashed text."""
    make_ledger(40)
    with tampering():
        sql(f"UPDATE ledger_event SET {column} = %s WHERE seq = 16", [value])
        report = verify()
        assert first_bad(report) == 16 and "columns" in report.first.reason
    with tampering():  # the time (a queryset update also bypasses the model's guard)
        Event.objects.filter(seq=16).update(occurred_at=F("occurred_at") - dt.timedelta(seconds=1))
        assert first_bad(verify()) == 16


@pytest.mark.parametrize("chunk", [1, 7, 16, 33, 20_000])
def test_verification_does_not_depend_on_how_the_events_are_read(make_ledger, bank, chunk, specs):  # type: ignore[no-untyped-def]
    """Heads end inside chunks and on their edges; the result is the same for any chunk size."""
    make_ledger(70, head=False)
    for extra in (0, 9, 16, 1):
        if extra:
            with transaction.atomic():
                ledger.append_many(bank["admin"], specs(extra))
        ledger.issue_tree_head(None)
    assert ledger.verify_ledger(None, record=False, chunk=chunk).ok
    with tampering():
        sql("UPDATE ledger_event SET entry = replace(entry, '测试', '测验') WHERE seq = 75")
        report = ledger.verify_ledger(None, record=False, chunk=chunk)
        assert report.first.seq == 75 and sum("does not match" in f.reason for f in report.findings) == 3


def test_a_business_record_changed_without_an_event_is_detected(make_ledger):  # type: ignore[no-untyped-def]
    info = make_ledger(60)
    first, second = info["customers"][0], info["customers"][1]
    with tampering():
        sql("UPDATE customers_customer SET name = %s WHERE id = %s", ["王五", first])
        report = verify()
        assert not report.ok and report.first.subject == f"customer:{first}" and "name" in report.first.reason
    with tampering():
        sql("UPDATE customers_customer SET monthly_income_minor = 1 WHERE id = %s", [first])
        assert verify().first.subject == f"customer:{first}"
    with tampering():  # un-archived behind the ledger's back
        sql("UPDATE customers_customer SET status = 'active' WHERE id = %s", [second])
        report = verify()
        assert report.first.subject == f"customer:{second}" and "status" in report.first.reason
    with tampering():  # a record that never had an event
        c = Customer.objects.get(pk=first)
        c.pk, c.id_index, c.uscc = None, "f" * 64, None
        c.save()
        report = verify()
        assert report.first.subject == f"customer:{c.pk}" and "no customer.created" in report.first.reason
    with tampering():  # a record deleted
        sql("DELETE FROM customers_customer WHERE id = %s", [first])
        assert "no record" in verify().first.reason


def test_an_altered_node_store_or_tree_head_is_detected(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(600)
    width = 1 << merkle.DEFAULT_TILE_HEIGHT
    with tampering():  # the leaf hashes of the second level-0 tile (leaves width … 2·width − 1)
        sql("UPDATE ledger_merkletile SET hashes = %s WHERE level = 0 AND " + '"index"' + " = 1",
            [bytes(32) * width])
        assert first_bad(verify()) == width + 1
    with tampering():  # the second entry of the first level-1 tile: root of leaves width … 2·width − 1
        tile = bytes(sql("SELECT hashes FROM ledger_merkletile WHERE level = 1 AND " + '"index"' + " = 0")[0][0])
        sql("UPDATE ledger_merkletile SET hashes = %s WHERE level = 1 AND " + '"index"' + " = 0",
            [tile[:32] + bytes(32) + tile[64:]])
        report = verify()
        assert first_bad(report) == width + 1 and "node store" in report.first.reason
    with tampering():  # the signed root
        sql("UPDATE ledger_signedtreehead SET root_hash = %s", [bytes(32)])
        report = verify()
        assert not report.ok and all(f.subject.startswith("tree_head:") for f in report.findings)
        assert {"invalid signature", "does not match"} <= {
            k for f in report.findings for k in ("invalid signature", "does not match") if k in f.reason}
    with tampering():  # a head claiming more events than exist
        sql("UPDATE ledger_signedtreehead SET tree_size = 900")
        assert not verify().ok
