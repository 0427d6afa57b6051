"""Appending business events: called by every domain's services inside their own transaction (`append`,
`append_many`).

How events are numbered, and why (concurrency)
----------------------------------------------
Leaf i of the RFC 9162 tree is the event with seq i + 1: the tree follows seq order. A database sequence
would not do: on PostgreSQL a sequence value is taken at INSERT time but becomes visible at COMMIT, so seq
11 can be visible while seq 10 is still in flight (and 10 may still commit, or never: rolled-back
transactions leave gaps). A tree built from what is visible could then disagree with seq order.

So seq comes from `Sequencer`, one row updated with `UPDATE … SET next_seq = next_seq + n RETURNING`. The
row lock is held until the appending transaction ends, which gives
  * gapless numbers: a rolled-back append rolls the counter back, so a missing number is a deleted event;
  * commit order = seq order: the next appender cannot take a number before the previous one committed, so
    every snapshot sees a contiguous prefix 1…N and the tree can be extended from whatever is visible.
The price: appends from concurrent transactions queue for the span between their `append` and their commit.
Use cases append last (after their own row locks), which keeps that span to the commit itself and rules out
lock-order deadlocks; batch jobs append thousands of events per lock (`append_many`).

The node store is extended lazily (ledger/tree.py `integrate`), not here: appenders never wait for integration.
The statements are in ledger/sql.py, with the benchmarks that justify each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.ledger import sql
from creditplan.ledger.domain import canonical_entry, leaf_hash
from creditplan.ledger.models import Event


@dataclass(frozen=True)
class EventSpec:
    kind: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]


def _entry(actor_name: str, spec: EventSpec, when_iso: str) -> tuple[str, str]:
    """(canonical JSON text, hex leaf hash) of one event."""
    entry = canonical_entry(kind=spec.kind, subject_type=spec.subject_type, subject_id=spec.subject_id,
                            actor=actor_name, at=when_iso, data=spec.data)
    return entry.decode("utf-8"), leaf_hash(entry).hex()


def _build(actor: Actor | None, spec: EventSpec, when: dt.datetime, seq: int) -> Event:
    actor_name = getattr(actor, "username", None) or "system"
    entry, leaf = _entry(actor_name, spec, when.isoformat())
    return Event(
        seq=seq,
        occurred_at=when,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name,
        kind=spec.kind,
        subject_type=spec.subject_type,
        subject_id=spec.subject_id,
        entry=entry,
        leaf_hash=leaf,
    )


def _reserve_seqs(count: int) -> int:
    """Take `count` consecutive event numbers; returns the first. Holds the sequencer row lock until commit."""
    conn = transaction.get_connection()
    with conn.cursor() as cur:
        for _attempt in range(2):
            cur.execute(sql.take_numbers(conn), [count])
            row = cur.fetchone()
            if row is not None:
                return int(row[0]) - count
            # First append of a new (or flushed) database: create the row, continuing any existing numbering.
            cur.execute(sql.create_sequencer(conn))
    raise RuntimeError("the ledger sequencer row cannot be created")


def _require_transaction(what: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"ledger.{what} must be called inside the use case's transaction")


def append(actor: Actor | None, kind: str, subject_type: str, subject_id: Any, data: dict[str, Any]) -> Event:
    """Append one event; must run inside the caller's transaction so the change and its record commit together.

    Call it after the use case's own writes: from here to the commit, other appenders wait (see the module
    docstring)."""
    _require_transaction("append")
    spec = EventSpec(kind, subject_type, str(subject_id), data)
    when = timezone.now()
    event = _build(actor, spec, when, 0)  # build (and validate: no floats) before taking the lock
    conn = transaction.get_connection()
    if conn.vendor == "postgresql":
        # No savepoint of its own (two round trips): should the statement fail, the caller's transaction can
        # only roll back, and the number goes back with it (no gap, even if the error is caught).
        with transaction.atomic(savepoint=False):
            first = _insert_numbered(conn, event.actor_id, event.actor_name, when,
                                     [(spec, (event.entry, event.leaf_hash))])
        if first is not None:
            event.seq = first
            event._state.adding, event._state.db = False, conn.alias
            return event
    with transaction.atomic():  # should the insert fail, the number goes back too (no gap, even if caught)
        event.seq = _reserve_seqs(1)
        event.save(force_insert=True)
    return event


#: Up to this many events, `append_many` builds (and so validates) every entry before it takes the sequencer,
#: and writes them with the sequencer's UPDATE in one statement; larger batches stream through COPY.
_ONE_STATEMENT_MAX = 8


def _insert_numbered(conn: Any, actor_id: int | None, actor_name: str, when: dt.datetime,
                     entries: list[tuple[EventSpec, tuple[str, str]]]) -> int | None:
    """PostgreSQL: number and insert a few events in ONE statement (sql.insert_numbered); the first number, or None
    when the sequencer row does not exist yet (nothing written: the caller takes the path that creates it)."""
    n = len(entries)
    params: list[Any] = [n, n, when, actor_id, actor_name]
    for spec, (entry, leaf) in entries:
        params += [spec.kind, spec.subject_type, spec.subject_id, entry, leaf]
    with conn.cursor() as cur:
        cur.execute(sql.insert_numbered(conn, n), params)
        row = cur.fetchone()
    return None if row is None else int(row[0]) - n


def append_many(actor: Actor | None, specs: Iterable[EventSpec]) -> int:
    """Bulk append for imports and batch jobs; same guarantees as `append`, one sequencer lock per call.

    On PostgreSQL the rows are streamed with COPY (sql.copy_events) while the next ones are built, so the server
    indexes them while Python serialises and hashes. A bad event (a float) aborts the whole call, numbers included.
    """
    _require_transaction("append_many")
    specs = list(specs)
    if not specs:
        return 0
    when = timezone.now()
    when_iso = when.isoformat()
    actor_name = getattr(actor, "username", None) or "system"
    actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
    conn = transaction.get_connection()
    if conn.vendor == "postgresql" and len(specs) <= _ONE_STATEMENT_MAX:
        # A use case's few events (a submission: two): every entry built (and validated: a float raises here,
        # before anything is written), then one statement numbers and inserts them. No savepoint (two round
        # trips): should the statement fail, the caller's transaction can only roll back, numbers included.
        entries = [(s, _entry(actor_name, s, when_iso)) for s in specs]
        with transaction.atomic(savepoint=False):
            if _insert_numbered(conn, actor_id, actor_name, when, entries) is not None:
                return len(specs)
    with transaction.atomic():
        first = _reserve_seqs(len(specs))
        if conn.vendor == "postgresql":
            with conn.cursor() as cur, cur.cursor.copy(sql.copy_events(conn)) as copy:
                for i, s in enumerate(specs):
                    entry, leaf = _entry(actor_name, s, when_iso)
                    copy.write_row((first + i, when_iso, actor_id, actor_name, s.kind, s.subject_type,
                                    s.subject_id, entry, leaf))
        else:
            rows = []
            for i, s in enumerate(specs):
                entry, leaf = _entry(actor_name, s, when_iso)
                rows.append(Event(seq=first + i, occurred_at=when, actor_id=actor_id, actor_name=actor_name,
                                  kind=s.kind, subject_type=s.subject_type, subject_id=s.subject_id, entry=entry,
                                  leaf_hash=leaf))
            Event.objects.bulk_create(rows, batch_size=2000)
    return len(specs)
