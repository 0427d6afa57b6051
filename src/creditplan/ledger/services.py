"""The ledger: appending business events, the Merkle tree over them, signed tree heads, proofs, verification.

Called by every domain's services inside their own transaction (`append`, `append_many`); read by auditors.

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

The node store is extended lazily (`integrate`), not in `append`: when a tree head is issued or a proof is
asked, the events past the integrated size are read in seq order under the `TreeState` row lock (so two
integrators do not both extend the tiles) and added to the tiles. Appenders never wait for integration.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from creditplan.core.errors import Forbidden, NotAuthenticated, NotFound, ValidationError
from creditplan.ledger import merkle
from creditplan.ledger.domain import canonical_entry, canonical_json, leaf_hash
from creditplan.ledger.models import (
    Event,
    MerkleTile,
    Sequencer,
    SignedTreeHead,
    TreeState,
    VerificationRun,
)
from creditplan.ledger.verifier import key_id as _key_id
from creditplan.ledger.verifier import tree_head_message
from creditplan.org.domain import Perm, Role, has_perm

log = logging.getLogger(__name__)


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


def _build(actor: Any, spec: EventSpec, when: Any, seq: int) -> Event:
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
    qn = conn.ops.quote_name
    table, events = qn(Sequencer._meta.db_table), qn(Event._meta.db_table)
    with conn.cursor() as cur:
        for _attempt in range(2):
            cur.execute(f"UPDATE {table} SET next_seq = next_seq + %s WHERE id = 1 RETURNING next_seq", [count])
            row = cur.fetchone()
            if row is not None:
                return int(row[0]) - count
            # First append of a new (or flushed) database: create the row, continuing any existing numbering.
            cur.execute(f"INSERT INTO {table} (id, next_seq) SELECT 1, COALESCE(MAX(seq), 0) + 1 FROM {events} WHERE 1 = 1 "
                        f"ON CONFLICT (id) DO NOTHING")
    raise RuntimeError("the ledger sequencer row cannot be created")


def _require_transaction(what: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"ledger.{what} must be called inside the use case's transaction")


def append(actor: Any, kind: str, subject_type: str, subject_id: Any, data: dict[str, Any]) -> Event:
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


def _insert_numbered(conn: Any, actor_id: int | None, actor_name: str, when: Any,
                     entries: list[tuple[EventSpec, tuple[str, str]]]) -> int | None:
    """PostgreSQL: number and insert a few events in ONE statement (the sequencer's UPDATE … RETURNING in a CTE,
    one VALUES row per event: plain parameters, nothing to escape); the first number, or None when the sequencer
    row does not exist yet (nothing written: the caller takes the path that creates it)."""
    table, events = conn.ops.quote_name(Sequencer._meta.db_table), conn.ops.quote_name(Event._meta.db_table)
    n = len(entries)
    rows = ", ".join(f"({i}, %s, %s, %s, %s, %s)" for i in range(n))
    params: list[Any] = [n, n, when, actor_id, actor_name]
    for spec, (entry, leaf) in entries:
        params += [spec.kind, spec.subject_type, spec.subject_id, entry, leaf]
    with conn.cursor() as cur:
        cur.execute(
            f"WITH s AS (UPDATE {table} SET next_seq = next_seq + %s WHERE id = 1 RETURNING next_seq) "
            f"INSERT INTO {events} (seq, occurred_at, actor_id, actor_name, kind, subject_type, subject_id, entry, "
            "leaf_hash) SELECT s.next_seq - %s + v.i, %s::timestamptz, %s::bigint, %s, v.kind, v.subject_type, "
            f"v.subject_id, v.entry, v.leaf_hash FROM s, (VALUES {rows}) AS v(i, kind, subject_type, subject_id, "
            "entry, leaf_hash) RETURNING (SELECT next_seq FROM s)", params)
        row = cur.fetchone()
    return None if row is None else int(row[0]) - n


def append_many(actor: Any, specs: Iterable[EventSpec]) -> int:
    """Bulk append for imports and batch jobs; same guarantees as `append`, one sequencer lock per call.

    On PostgreSQL the rows are streamed with COPY while the next ones are built, so the server indexes them
    while Python serialises and hashes (Django's bulk insert escaped every quote of every JSON entry through a
    regular expression, and was the bottleneck). A bad event (a float) aborts the whole call, numbers included.
    """
    _require_transaction("append_many")
    specs = list(specs)
    if not specs:
        return 0
    when = timezone.now()
    when_iso = when.isoformat()
    actor_name = getattr(actor, "username", None) or "system"
    actor_id = actor.pk if getattr(actor, "pk", None) else None
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
            table = conn.ops.quote_name(Event._meta.db_table)
            with conn.cursor() as cur, cur.cursor.copy(
                    f"COPY {table} (seq, occurred_at, actor_id, actor_name, kind, subject_type, subject_id, entry, "
                    "leaf_hash) FROM STDIN") as copy:
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


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    occurred_at: Any
    actor: str
    kind: str
    data: dict[str, Any]


def history(actor: Any, subject_type: str, subject_id: Any, *, limit: int = 200) -> Sequence[HistoryEntry]:
    """A record's audit trail, newest first. Staff who may see the record may see its history."""
    if not (has_perm(actor.role, Perm.CUSTOMER_VIEW) or has_perm(actor.role, Perm.AUDIT_VIEW)):
        raise Forbidden("you may not read the audit trail")
    rows = Event.objects.filter(subject_type=subject_type, subject_id=str(subject_id)).order_by("-seq")[:limit]
    return [
        HistoryEntry(r.seq, r.occurred_at, r.actor_name, r.kind, json.loads(r.entry)["data"]) for r in rows
    ]


def count_events(kind: str | None = None) -> int:
    qs = Event.objects.all()
    return qs.filter(kind=kind).count() if kind else qs.count()


def last_seq() -> int:
    """The number of the last event appended (0 for an empty log). Numbers are handed out under the
    sequencer's row lock, held to the commit, so every event up to the last visible one has committed: a
    reader that follows the log by number (an outbox) never skips one that commits later."""
    return int(Event.objects.aggregate(m=Max("seq"))["m"] or 0)


def events_between(after: int, upto: int, kind_prefixes: Iterable[str]) -> list[tuple[int, str, str, str, str, str]]:
    """(seq, kind, subject_type, subject_id, entry, leaf_hash) of the events numbered after..upto whose kind
    starts with one of the prefixes, in order — for system readers that follow the log (integration's outbox);
    no permission check, as no user asks."""
    q = Q()
    for prefix in kind_prefixes:
        q |= Q(kind__startswith=prefix)
    return list(Event.objects.filter(q, seq__gt=after, seq__lte=upto).order_by("seq")
                .values_list("seq", "kind", "subject_type", "subject_id", "entry", "leaf_hash"))


@dataclass(frozen=True)
class EventRow:
    seq: int
    occurred_at: Any
    actor: str
    kind: str
    subject_type: str
    subject_id: str
    leaf_hash: str
    entry: str


def search_events(actor: Any, *, kind: str = "", subject: str = "", limit: int = 100) -> list[EventRow]:
    """The auditor's view of the log: newest first, filtered by kind prefix and subject ("customer:42")."""
    if not has_perm(actor.role, Perm.AUDIT_VIEW):
        raise Forbidden("only auditors and administrators may search the audit trail")
    qs = Event.objects.all().order_by("-seq")
    if kind:
        qs = qs.filter(kind__startswith=kind.strip())
    if subject:
        stype, _, sid = subject.strip().partition(":")
        qs = qs.filter(subject_type=stype)
        if sid:
            qs = qs.filter(subject_id=sid)
    return [
        EventRow(e.seq, e.occurred_at, e.actor_name, e.kind, e.subject_type, e.subject_id, e.leaf_hash, e.entry)
        for e in qs[: max(1, min(limit, 1000))]
    ]


# ---------------------------------------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------------------------------------

# Issuing a tree head changes nothing but adds evidence: operations schedule it, auditors may ask for one.
TREE_HEAD_ISSUERS = frozenset({Role.ADMIN, Role.OPERATIONS, Role.AUDITOR})


def _require_reader(actor: Any) -> None:
    """Proofs, tree heads and verification are the auditor's tools. `actor=None` is the operator's shell."""
    if actor is None:
        return
    if not getattr(actor, "is_authenticated", False):
        raise NotAuthenticated("log in first")
    if not has_perm(actor.role, Perm.AUDIT_VIEW):
        raise Forbidden("only auditors and administrators may read ledger proofs", code="permission_denied")


def _require_issuer(actor: Any) -> None:
    if actor is None:
        return
    if not getattr(actor, "is_authenticated", False):
        raise NotAuthenticated("log in first")
    if actor.role not in TREE_HEAD_ISSUERS:
        raise Forbidden("only administrators, operations and auditors may issue tree heads",
                        code="permission_denied")


def may_issue_tree_heads(actor: Any) -> bool:
    return getattr(actor, "role", None) in TREE_HEAD_ISSUERS


def _actor_name(actor: Any) -> str:
    return getattr(actor, "username", None) or "system"


# ---------------------------------------------------------------------------------------------------------
# The signing key
# ---------------------------------------------------------------------------------------------------------

SIGNING_KEY_ENV = "CREDITPLAN_LEDGER_SIGNING_KEY"
TRUSTED_KEYS_ENV = "CREDITPLAN_LEDGER_TRUSTED_KEYS"


@lru_cache(maxsize=8)
def _load_key(configured: str) -> Ed25519PrivateKey:
    if not configured:
        raise ImproperlyConfigured(
            f"{SIGNING_KEY_ENV} is not set: make one with `creditplan ledger new-key` (or, on a development "
            "machine, set CREDITPLAN_DEVELOPMENT=1)")
    try:
        seed = base64.b64decode(configured, validate=True)
    except ValueError:
        raise ImproperlyConfigured(f"{SIGNING_KEY_ENV} is not base64")
    if len(seed) != 32:
        raise ImproperlyConfigured(f"{SIGNING_KEY_ENV} must be a 32-byte Ed25519 private key in base64")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _configured_signing_key() -> str:
    return (os.environ.get(SIGNING_KEY_ENV) or getattr(settings, "LEDGER_SIGNING_KEY", "") or "").strip()


def signing_key_configured() -> bool:
    return bool(_configured_signing_key())


def signing_key() -> Ed25519PrivateKey:
    """Ed25519 key that signs tree heads: CREDITPLAN_LEDGER_SIGNING_KEY (base64 of the raw 32-byte private key;
    make one with `creditplan ledger new-key`); in development mode, the machine's random development key
    (settings.LEDGER_SIGNING_KEY). Never derived from anything else: ImproperlyConfigured when there is none."""
    return _load_key(_configured_signing_key())


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key() -> bytes:
    """The ledger's Ed25519 public key (32 raw bytes): what auditors keep to check tree heads."""
    return _raw_public(signing_key())


def trusted_public_keys() -> dict[str, bytes]:
    """key id → key: the current key, plus earlier ones listed (base64, comma-separated) in
    CREDITPLAN_LEDGER_TRUSTED_KEYS after a rotation."""
    keys = [public_key()]
    for item in os.environ.get(TRUSTED_KEYS_ENV, "").split(","):
        if item.strip():
            keys.append(base64.b64decode(item.strip()))
    return {_key_id(k): k for k in keys}


# ---------------------------------------------------------------------------------------------------------
# The node store: tiles, extended lazily
# ---------------------------------------------------------------------------------------------------------

INTEGRATE_BATCH = 50_000


def _b64(data: bytes) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _lock_tree_state() -> TreeState:
    state = TreeState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        TreeState.objects.bulk_create([TreeState(id=1, tile_height=merkle.DEFAULT_TILE_HEIGHT)],
                                      ignore_conflicts=True)
        state = TreeState.objects.select_for_update().get(pk=1)
    return state


def _tree_state() -> tuple[int, int]:
    """(integrated size, tile height), without locking."""
    row = TreeState.objects.filter(pk=1).values_list("size", "tile_height").first()
    return (int(row[0]), int(row[1])) if row else (0, merkle.DEFAULT_TILE_HEIGHT)


def _fetch_tiles(keys: Iterable[merkle.TileKey]) -> dict[merkle.TileKey, bytes]:
    """The stored tiles among `keys`, in one query (raw SQL: the ORM's overhead was most of a proof's time)."""
    packed = [MerkleTile.pack(level, index) for level, index in keys]
    if not packed:
        return {}
    conn = transaction.get_connection()
    qn = conn.ops.quote_name
    with conn.cursor() as cur:
        cur.execute(f"SELECT {qn('level')}, {qn('index')}, {qn('hashes')} FROM {qn(MerkleTile._meta.db_table)} "
                    f"WHERE {qn('key')} IN ({', '.join(['%s'] * len(packed))})", packed)
        return {(int(level), int(index)): bytes(h) for level, index, h in cur.fetchall()}


def _reader(size: int, height: int) -> merkle.TileReader:
    return merkle.TileReader(height, size, _fetch_tiles)


def _write_tiles(tiles: dict[merkle.TileKey, bytes]) -> None:
    MerkleTile.objects.bulk_create(
        [MerkleTile(key=MerkleTile.pack(level, index), level=level, index=index, hashes=h)
         for (level, index), h in tiles.items()],
        update_conflicts=True, unique_fields=["key"], update_fields=["hashes"], batch_size=500,
    )


def integrate(*, batch: int = INTEGRATE_BATCH) -> int:
    """Add the committed events past the integrated size to the tiles, in seq order; return the new size.

    Safe to call from anywhere at any time (it is what proofs and tree heads call first). Under the TreeState
    row lock, so concurrent callers extend the tiles once. Stops at a gap in seq (only a deleted event can
    make one), which `verify_ledger` then reports.
    """
    while True:
        with transaction.atomic():
            state = _lock_tree_state()
            size, height = int(state.size), int(state.tile_height)
            rows = list(Event.objects.filter(seq__gt=size).order_by("seq").values_list("seq", "leaf_hash")[:batch])
            leaves = []
            for i, (seq, hex_hash) in enumerate(rows):
                if seq != size + i + 1:
                    log.error("ledger: event %s is missing; the tree stops at %s events", size + i + 1, size + i)
                    break
                leaves.append(bytes.fromhex(hex_hash))
            if not leaves:
                return size
            edge = _fetch_tiles(merkle.edge_tiles(height, size))
            _write_tiles(merkle.extend_tiles(height, size, edge, leaves))
            state.size = size + len(leaves)
            state.updated_at = timezone.now()
            state.save(update_fields=["size", "updated_at"])
        if len(leaves) < batch:
            return size + len(leaves)


# ---------------------------------------------------------------------------------------------------------
# Signed tree heads
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeHead:
    id: int
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    issued_at: dt.datetime
    signature: bytes
    key_id: str
    public_key: bytes
    issued_by: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """RFC 9162 §4.10 fields (hashes and signature in base64), as the standalone verifier reads them."""
        return {
            "format": "creditplan-ledger/signed-tree-head/v1",
            "id": self.id,
            "tree_size": self.tree_size,
            "timestamp": self.timestamp_ms,
            "issued_at": self.issued_at.isoformat(),
            "root_hash": _b64(self.root_hash),
            "signature_algorithm": "ed25519",
            "signed_data": "TLS encoding of RFC 9162 TreeHeadDataV2: timestamp, tree_size, root_hash, no extensions",
            "signature": _b64(self.signature),
            "key_id": self.key_id,
            "public_key": _b64(self.public_key),
            "issued_by": self.issued_by,
            "reason": self.reason,
        }


def _head_view(h: SignedTreeHead) -> TreeHead:
    return TreeHead(h.pk, int(h.tree_size), bytes(h.root_hash), int(h.timestamp_ms), h.issued_at,
                    bytes(h.signature), h.key_id, bytes(h.public_key), h.issued_by, h.reason)


def issue_tree_head(actor: Any = None, *, reason: str = "manual") -> TreeHead:
    """Integrate every committed event and sign the tree: size, root, time (RFC 9162 §4.10, Ed25519).

    Run on a schedule (cron: `creditplan ledger sth`) and after each daily close; export the heads outside the
    institution (`creditplan ledger export-sth`), where the database administrator cannot reach them.
    """
    _require_issuer(actor)
    key = signing_key()
    pub = _raw_public(key)
    integrate()
    with transaction.atomic():
        state = _lock_tree_state()
        size, height = int(state.size), int(state.tile_height)
        root = merkle.root_hash(size, _reader(size, height))
        last = SignedTreeHead.objects.order_by("-id").first()
        now = timezone.now()
        ts = max(int(now.timestamp() * 1000), int(last.timestamp_ms) if last else 0)
        head = SignedTreeHead(
            tree_size=size, root_hash=root, timestamp_ms=ts, issued_at=now,
            signature=key.sign(tree_head_message(ts, size, root)), key_id=_key_id(pub), public_key=pub,
            issued_by=_actor_name(actor), reason=(reason or "manual")[:40],
        )
        head.save(force_insert=True)
    return _head_view(head)


def latest_tree_head(actor: Any = None) -> TreeHead | None:
    _require_reader(actor)
    head = SignedTreeHead.objects.order_by("-id").first()
    return _head_view(head) if head else None


def tree_heads(actor: Any = None, *, limit: int | None = None) -> list[TreeHead]:
    """Every head issued, oldest first (the last `limit` when given)."""
    _require_reader(actor)
    qs = SignedTreeHead.objects.order_by("-id")
    rows = list(qs[:limit] if limit else qs)
    return [_head_view(h) for h in reversed(rows)]


def _head_for_size(size: int) -> TreeHead | None:
    head = SignedTreeHead.objects.filter(tree_size=size).order_by("-id").first()
    return _head_view(head) if head else None


# ---------------------------------------------------------------------------------------------------------
# Proofs
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    inclusion_path: list[bytes]
    root_hash: bytes
    entry: str
    tree_head: TreeHead | None

    def as_dict(self) -> dict[str, Any]:
        """RFC 9162 §4.12 InclusionProofDataV2 fields plus the root, the event and its signed head."""
        return {
            "format": "creditplan-ledger/inclusion-proof/v1",
            "seq": self.seq,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": _b64(self.leaf_hash),
            "inclusion_path": [_b64(p) for p in self.inclusion_path],
            "root_hash": _b64(self.root_hash),
            "entry": self.entry,
            "tree_head": self.tree_head.as_dict() if self.tree_head else None,
        }


@dataclass(frozen=True)
class ConsistencyProof:
    tree_size_1: int
    tree_size_2: int
    root_hash_1: bytes
    root_hash_2: bytes
    consistency_path: list[bytes]
    tree_head_1: TreeHead | None
    tree_head_2: TreeHead | None

    def as_dict(self) -> dict[str, Any]:
        """RFC 9162 §4.13 ConsistencyProofDataV2 fields plus both roots and their signed heads."""
        return {
            "format": "creditplan-ledger/consistency-proof/v1",
            "tree_size_1": self.tree_size_1,
            "tree_size_2": self.tree_size_2,
            "root_hash_1": _b64(self.root_hash_1),
            "root_hash_2": _b64(self.root_hash_2),
            "consistency_path": [_b64(p) for p in self.consistency_path],
            "tree_head_1": self.tree_head_1.as_dict() if self.tree_head_1 else None,
            "tree_head_2": self.tree_head_2.as_dict() if self.tree_head_2 else None,
        }


def _integrated_at_least(size: int) -> tuple[int, int]:
    integrated, height = _tree_state()
    if size > integrated:
        integrated = integrate()
    return integrated, height


def inclusion_proof(actor: Any = None, seq: int | None = None, *, index: int | None = None,
                    tree_size: int | None = None) -> InclusionProof:
    """Prove that event `seq` (or leaf `index` = seq − 1) is in the tree of `tree_size` events.

    Without `tree_size`: the latest signed tree head when it covers the event (so the proof comes with a
    signed root), else the whole integrated ledger (root unsigned until the next head).
    """
    _require_reader(actor)
    if (seq is None) == (index is None):
        raise ValidationError("give either seq or index", field="seq")
    if seq is None:
        seq = int(index) + 1  # type: ignore[arg-type]
    if seq < 1:
        raise ValidationError("seq starts at 1", field="seq", code="bad_seq")
    event = Event.objects.filter(pk=seq).values_list("entry", flat=True).first()
    if event is None:
        raise NotFound(f"event {seq} not found", code="event_not_found")
    leaf = seq - 1
    latest_row = SignedTreeHead.objects.order_by("-id").first()
    latest = _head_view(latest_row) if latest_row else None
    if tree_size is None and latest and latest.tree_size > leaf:
        tree_size = latest.tree_size
    integrated, height = _integrated_at_least(seq if tree_size is None else tree_size)
    if tree_size is None:
        tree_size = integrated
    if not leaf < tree_size <= integrated:
        raise ValidationError(f"tree_size must be between {seq} and {integrated} for event {seq}",
                              field="tree_size", code="bad_tree_size")
    leaf_h, path, root = _prove_inclusion(leaf, tree_size, height)
    head = latest if latest and latest.tree_size == tree_size else _head_for_size(tree_size)
    return InclusionProof(seq, leaf, tree_size, leaf_h, path, root, event, head)


def _prove_inclusion(index: int, size: int, height: int) -> tuple[bytes, list[bytes], bytes]:
    """Leaf hash, audit path and root from the tiles: O(log n) node look-ups in one query."""
    ranges = merkle.inclusion_ranges(index, size)
    hashes = merkle.range_hashes([*ranges, (index, index + 1), (0, size)], _reader(size, height))
    return hashes[-2], hashes[:-2], hashes[-1]


def consistency_proof(actor: Any = None, first: int = 0, second: int | None = None) -> ConsistencyProof:
    """Prove that the ledger of `first` events is the beginning of the ledger of `second` events (default:
    the latest signed tree head)."""
    _require_reader(actor)
    if second is None:
        latest = SignedTreeHead.objects.order_by("-id").values_list("tree_size", flat=True).first()
        second = int(latest) if latest else _integrated_at_least(0)[0]
    if first < 1:
        raise ValidationError("first must be at least 1 (nothing is proven about the empty ledger)",
                              field="first", code="bad_tree_size")
    if second < first:
        raise ValidationError("second must not be smaller than first", field="second", code="bad_tree_size")
    integrated, height = _integrated_at_least(second)
    if second > integrated:
        raise ValidationError(f"the ledger has {integrated} events", field="second", code="bad_tree_size")
    ranges = merkle.consistency_ranges(first, second) if first < second else []
    hashes = merkle.range_hashes([*ranges, (0, first), (0, second)], _reader(second, height))
    return ConsistencyProof(first, second, hashes[-2], hashes[-1], hashes[:-2], _head_for_size(first),
                            _head_for_size(second))


def verifier_source() -> str:
    """The standalone verifier (one file, standard library only), for auditors to download and read."""
    from creditplan.ledger import verifier

    with open(verifier.__file__, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing wrong. `seq` names the first event concerned (None when it is a record or a tree head)."""

    seq: int | None
    reason: str
    subject: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "subject": self.subject, "reason": self.reason}

    def __str__(self) -> str:
        where = f"event {self.seq}" if self.seq is not None else (self.subject or "ledger")
        return f"{where}: {self.reason}"


@dataclass
class VerificationReport:
    ok: bool
    events_checked: int
    tree_size: int
    heads_checked: int
    records_checked: int
    findings: list[Finding]
    duration_s: float
    run_id: int | None = None

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["findings"] = [f.as_dict() for f in self.findings]
        d["first"] = self.first.as_dict() if self.first else None
        return d


class _Findings:
    """Collects findings; a cascade (every tile after a deleted event differs) is reported once per kind."""

    LIMIT = 200

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._kinds: set[str] = set()

    def add(self, seq: int | None, reason: str, subject: str = "", *, once: str | None = None) -> None:
        if once is not None:
            if once in self._kinds:
                return
            self._kinds.add(once)
        if len(self.items) < self.LIMIT:
            self.items.append(Finding(seq, reason, subject))

    def ordered(self) -> list[Finding]:
        return sorted(self.items, key=lambda f: (f.seq is None, f.seq or 0))


class _RecordReplay:
    """Replays one kind of business record from its events, to compare with the record's current row.

    Customers: customer.created carries the full audited snapshot (`after`), customer.updated and
    customer.identity_corrected the changed fields as [old, new], customer.archived sets the status,
    customer.pii_digested replaces the masked / clear personal values of the first releases' events by keyed
    digests (checked against its keyed digest of those values). Other domains add a replay here as they gain
    audited records.
    """

    subject_type = "customer"

    def __init__(self, findings: _Findings) -> None:
        self.findings = findings
        self.state: dict[str, dict[str, Any]] = {}
        self.last_seq: dict[str, int] = {}

    def feed(self, seq: int, kind: str, sid: str, data: dict[str, Any]) -> None:
        subject = f"customer:{sid}"
        snap = self.state.get(sid)
        if kind == "customer.created":
            if snap is not None:
                self.findings.add(seq, f"customer {sid} is created a second time", subject)
            self.state[sid] = dict(data.get("after") or {})
        elif kind in ("customer.updated", "customer.archived", "customer.identity_corrected",
                      "customer.pii_digested"):
            if snap is None:
                self.findings.add(seq, f"{kind} for customer {sid} before any customer.created", subject)
                return
            if kind == "customer.archived":
                snap["status"] = "archived"
            elif kind == "customer.pii_digested":
                from creditplan.customers import services as customers  # see compare

                after = data.get("after") or {}
                if customers.legacy_audit_digest({k: snap.get(k) for k in after}) != data.get("legacy"):
                    self.findings.add(seq, f"customer {sid}: the personal data this event replaces by digests "
                                           "differ from what the events before it left", subject)
                snap.update(after)
            else:
                for field, change in (data.get("changed") or {}).items():
                    old, new = change
                    if snap.get(field) != old:
                        self.findings.add(seq, f"customer {sid}: the update says {field} was {old!r}, but the "
                                               f"events before it left {snap.get(field)!r}", subject)
                    snap[field] = new
        else:
            return
        self.last_seq[sid] = seq

    def compare(self) -> int:
        from creditplan.customers import services as customers  # the ledger imports no domain at module level

        seen: set[str] = set()
        count = 0
        for pk, snapshot in customers.audited_snapshots():
            count += 1
            sid = str(pk)
            seen.add(sid)
            subject = f"customer:{sid}"
            current = json.loads(canonical_json(snapshot))
            replayed = self.state.get(sid)
            if replayed is None:
                self.findings.add(None, f"customer {sid} has no customer.created event: the record was written "
                                        "without an event", subject)
                continue
            diff = sorted(k for k in set(current) | set(replayed) if current.get(k) != replayed.get(k))
            if diff:
                k = diff[0]
                self.findings.add(None, f"customer {sid}: {k} is {current.get(k)!r} but its events (last: event "
                                        f"{self.last_seq.get(sid)}) say {replayed.get(k)!r}; changed without an "
                                        f"event ({', '.join(diff)})", subject)
        for sid in sorted(set(self.state) - seen, key=lambda s: (len(s), s)):
            self.findings.add(self.last_seq.get(sid), f"customer {sid} has events but no record (deleted?)",
                              f"customer:{sid}")
        return count


def _check_head_signature(head: SignedTreeHead, trusted: dict[str, bytes], findings: _Findings) -> None:
    pub = bytes(head.public_key)
    where = f"tree_head:{head.pk}"
    if _key_id(pub) != head.key_id:
        findings.add(None, f"tree head #{head.pk}: key id {head.key_id} does not belong to its public key", where)
        return
    if head.key_id not in trusted or trusted[head.key_id] != pub:
        findings.add(None, f"tree head #{head.pk} is signed by key {head.key_id}, which is not a ledger key "
                           f"({', '.join(trusted)})", where)
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(
            bytes(head.signature), tree_head_message(int(head.timestamp_ms), int(head.tree_size), bytes(head.root_hash)))
    except (InvalidSignature, ValueError):
        findings.add(None, f"tree head #{head.pk} (size {head.tree_size}) has an invalid signature", where)


def verify_ledger(actor: Any = None, *, record: bool = True, chunk: int = 20_000,
                  progress: Callable[[int, int], None] | None = None) -> VerificationReport:
    """Check the whole ledger from its stored events, trusting nothing derived from them:

    1. seq runs 1, 2, 3 … without gaps and below the sequencer's counter (deletions, insertions);
    2. every event's text hashes to its stored leaf hash, and its columns agree with its text;
    3. the tiles (stored subtree hashes) equal the ones recomputed from the events;
    4. every signed tree head ever issued has a valid signature by a ledger key, never shrinks the ledger,
       and its root equals MTH of the first `tree_size` recomputed leaves;
    5. every customer's current record equals the replay of its events.

    Findings are ordered by seq; the first names the first bad entry. The run is recorded for the audit page.
    """
    _require_reader(actor)
    started, t0 = timezone.now(), time.perf_counter()
    findings = _Findings()
    integrated, height = _tree_state()
    heads = list(SignedTreeHead.objects.order_by("id"))
    trusted = trusted_public_keys()
    largest = 0
    for head in heads:
        _check_head_signature(head, trusted, findings)
        if head.tree_size < largest:
            findings.add(None, f"tree head #{head.pk} shrinks the ledger from {largest} to {head.tree_size} events",
                         f"tree_head:{head.pk}")
        largest = max(largest, int(head.tree_size))
    heads_by_size: dict[int, list[SignedTreeHead]] = {}
    for head in heads:
        heads_by_size.setdefault(int(head.tree_size), []).append(head)
    pending_sizes = sorted(heads_by_size)
    for head in heads_by_size.get(0, []):
        if bytes(head.root_hash) != merkle.EMPTY_ROOT:
            findings.add(None, f"tree head #{head.pk} of the empty ledger has a wrong root", f"tree_head:{head.pk}")
    next_pending = 1 if pending_sizes and pending_sizes[0] == 0 else 0

    total = Event.objects.count()
    counter = Sequencer.objects.filter(pk=1).values_list("next_seq", flat=True).first()
    if counter is not None:
        beyond = Event.objects.filter(seq__gte=counter).order_by("seq").values_list("seq", flat=True).first()
        if beyond is not None:
            findings.add(beyond, f"event {beyond} was not numbered by the ledger's sequencer (next number "
                                 f"{counter}): inserted behind the ledger's back")
        highest = Event.objects.aggregate(m=Max("seq"))["m"] or 0
        if highest < counter - 1:
            findings.add(highest + 1, f"events {highest + 1}–{counter - 1} were numbered by the sequencer but are "
                                      "gone: removed from the end of the ledger")

    replay = _RecordReplay(findings)
    rebuilt_upper: dict[merkle.TileKey, bytes] = {}  # tiles above the leaves, rebuilt from the events
    edge: dict[merkle.TileKey, bytes] = {}
    position = 0  # leaves rebuilt so far (leaf index of the next event read)
    last_seq = 0
    leaf_trouble = False  # a stored leaf already differs: differences higher up follow from it
    sha256 = hashlib.sha256
    customer = _RecordReplay.subject_type
    prefixes: dict[str, str] = {}
    suffixes: dict[tuple[str, str], tuple[str, str]] = {}
    for rows in _verification_chunks(chunk):
        leaves: list[bytes] = []
        for seq, entry, stored_hash, kind, stype, sid, actor_name, at in rows:
            if seq != last_seq + 1:
                gap = f"events {last_seq + 1}–{seq - 1} are" if seq - 2 > last_seq else f"event {last_seq + 1} is"
                findings.add(last_seq + 1, f"{gap} missing: deleted, or the ledger renumbered")
            last_seq = seq
            h = sha256(b"\x00" + entry.encode("utf-8")).digest()
            if h.hex() != stored_hash:
                findings.add(seq, "the event's text does not hash to its stored leaf hash: the event was changed")
            # The columns (what search and history pages read) must say what the hashed text says. Canonical JSON
            # sorts keys (actor, at, data, kind, subject), so the text starts and ends exactly like this:
            pre = prefixes.get(actor_name)
            if pre is None:
                pre = prefixes[actor_name] = f'{{"actor":{_json_string(actor_name)},"at":"'
            suf = suffixes.get((kind, stype))
            if suf is None:
                suf = suffixes[(kind, stype)] = (f',"kind":{_json_string(kind)},"subject":{{"id":',
                                                 f',"type":{_json_string(stype)}}}}}')
            sid_json = f'"{sid}"' if sid.isalnum() else _json_string(sid)
            body = None
            if not (entry.startswith(pre + at + '","data":') and entry.endswith(suf[0] + sid_json + suf[1])):
                body = _columns_disagree(seq, entry, (kind, stype, sid, actor_name, at), findings)
            if stype == customer:
                try:
                    body = body or json.loads(entry)
                    replay.feed(seq, body["kind"], str(body["subject"]["id"]), body.get("data") or {})
                except (ValueError, KeyError, TypeError, AttributeError):
                    pass  # reported by _columns_disagree / the leaf hash
            leaves.append(h)
        # Rebuild the tiles from the recomputed leaves; the stored leaves must equal them.
        changed = merkle.extend_tiles(height, position, edge, leaves)
        new_size = position + len(leaves)
        if position < integrated:
            leaf_trouble |= _compare_leaf_tiles(position, leaves, integrated, height, rows, findings)
        rebuilt_upper.update({k: v for k, v in changed.items() if k[0] > 0})
        # Signed heads whose size ends in this chunk: their root must be MTH of the recomputed leaves.
        while next_pending < len(pending_sizes) and pending_sizes[next_pending] <= new_size:
            size = pending_sizes[next_pending]
            bottom = {**{k: v for k, v in edge.items() if k[0] == 0}, **changed}
            reader = merkle.TileReader(height, size, lambda keys, bottom=bottom: {
                k: bottom[k] if k[0] == 0 else rebuilt_upper[k] for k in keys})
            root = merkle.root_hash(size, reader)
            for head in heads_by_size[size]:
                if bytes(head.root_hash) != root:
                    findings.add(None, f"tree head #{head.pk} (size {head.tree_size}) does not match the events: "
                                       f"one of events 1–{head.tree_size} was changed, removed or reordered after it"
                                       " was signed", f"tree_head:{head.pk}")
            next_pending += 1
        edge = {k: changed.get(k) or edge[k] for k in merkle.edge_tiles(height, new_size)}
        position = new_size
        if progress:
            progress(position, total)

    if position < integrated:
        findings.add(position + 1, f"the tree covers {integrated} events but only {position} remain: events from "
                                   f"{position + 1} on were removed")
    for size in pending_sizes[next_pending:]:
        for head in heads_by_size[size]:
            findings.add(position + 1, f"tree head #{head.pk} covers {size} events but the ledger holds {position}:"
                                       " events were removed", f"tree_head:{head.pk}")
    if not leaf_trouble:
        _compare_upper_tiles(rebuilt_upper, height, min(integrated, position), findings)
    records = replay.compare()

    ordered = findings.ordered()
    report = VerificationReport(not ordered, position, integrated, len(heads), records, ordered,
                                time.perf_counter() - t0)
    if record:
        first = report.first
        run = VerificationRun.objects.create(
            started_at=started, finished_at=timezone.now(), actor_name=_actor_name(actor), ok=report.ok,
            events_checked=position, tree_size=integrated, heads_checked=len(heads), records_checked=records,
            first_bad_seq=first.seq if first else None, first_problem=str(first) if first else "",
            findings=[f.as_dict() for f in ordered[:50]], duration_ms=int(report.duration_s * 1000),
        )
        report.run_id = run.pk
    return report


def _json_string(text: str, _cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate memo
    """`text` as canonical JSON writes it (json.dumps(ensure_ascii=False) of a string), memoised."""
    out = _cache.get(text)
    if out is None:
        out = json.dumps(text, ensure_ascii=False)
        if len(_cache) < 100_000:
            _cache[text] = out
    return out


def _iso_utc(value: Any) -> str:
    """A timestamp column as `datetime.isoformat()` writes it in UTC (the form the event text holds)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    text = str(value)  # PostgreSQL's to_char below: always six fraction digits
    if text.endswith(".000000"):
        text = text[:-7]
    return text + "+00:00"


def _verification_chunks(chunk: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every event in seq order, `chunk` rows at a time, the timestamp as ISO text (parsing a million
    timestamps into datetimes took a fifth of the verification time).

    On PostgreSQL the next chunk is fetched by a helper thread on the same connection (psycopg connections are
    thread-safe; same transaction, same snapshot rules) while this one is checked: the server's work and the
    hashing overlap instead of taking turns.
    """
    conn = transaction.get_connection()
    qn = conn.ops.quote_name
    at = "occurred_at"
    if conn.vendor == "postgresql":
        at = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    sql = (f"SELECT seq, entry, leaf_hash, kind, subject_type, subject_id, actor_name, {at} "
           f"FROM {qn(Event._meta.db_table)} WHERE seq > %s ORDER BY seq LIMIT %s")

    def convert(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        return [(*r[:7], _iso_utc(r[7])) for r in rows]

    if conn.vendor != "postgresql":
        last = 0
        while True:
            with conn.cursor() as cur:
                cur.execute(sql, [last, chunk])
                rows = cur.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield convert(rows)
        return
    conn.ensure_connection()
    raw = conn.connection

    def fetch(after: int) -> list[Any]:
        with raw.cursor() as cur:
            cur.execute(sql, [after, chunk])
            return cur.fetchall()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-verify") as pool:
        pending = pool.submit(fetch, 0)
        while True:
            rows = pending.result()
            if not rows:
                return
            pending = pool.submit(fetch, rows[-1][0])
            yield convert(rows)


def _columns_disagree(seq: int, entry: str, columns: tuple[str, ...], findings: _Findings) -> dict | None:
    """The slow path when an event's text does not start and end as its columns say: parse and compare."""
    try:
        body = json.loads(entry)
        subject = body["subject"]
        kind, stype, sid, actor_name, at = columns
        if (body["kind"], subject["type"], subject["id"], body["actor"]) != (kind, stype, sid, actor_name) or (
                dt.datetime.fromisoformat(body["at"]) != dt.datetime.fromisoformat(at)):
            findings.add(seq, "the event's columns (kind, subject, actor, time) disagree with its text")
        return body if isinstance(body, dict) else None
    except (ValueError, KeyError, TypeError):
        findings.add(seq, "the event's text is not a well-formed ledger entry")
        return None


def _compare_leaf_tiles(position: int, leaves: list[bytes], integrated: int, height: int,
                        rows: Sequence[Sequence[Any]], findings: _Findings) -> bool:
    """The stored leaf hashes (level-0 tiles) must equal the recomputed ones, position by position.
    True when one differs (reported once, at the first such leaf)."""
    end = min(position + len(leaves), integrated)
    if end <= position:
        return False
    width = 1 << height
    keys = [(0, t) for t in range(position >> height, ((end - 1) >> height) + 1)]
    stored = _fetch_tiles(keys)
    for _level, t in keys:
        lo, hi = max(position, t * width), min(end, (t + 1) * width)
        theirs = stored.get((0, t), b"")[(lo - t * width) * 32 : (hi - t * width) * 32]
        if b"".join(leaves[lo - position : hi - position]) == theirs:
            continue
        for i in range(lo, hi):
            if leaves[i - position] != theirs[(i - lo) * 32 : (i - lo + 1) * 32]:
                seq = rows[i - position][0]
                findings.add(seq, f"leaf {i} of the tree differs from event {seq}: the event was changed, removed "
                                  "or reordered after it entered the tree (or the node store was altered)",
                             once="leaf")
                return True
    return False


def _compare_upper_tiles(rebuilt: dict[merkle.TileKey, bytes], height: int, size: int,
                         findings: _Findings) -> None:
    stored = {(int(level), int(index)): bytes(h) for level, index, h in
              MerkleTile.objects.filter(level__gt=0).values_list("level", "index", "hashes")}
    for key in sorted(rebuilt):
        level, index = key
        mine = rebuilt[key]
        n = merkle.tile_width_at(height, size, key)
        theirs = stored.get(key, b"")[: n * 32]
        if mine[: n * 32] == theirs:
            continue
        for e in range(n):
            if mine[e * 32 : (e + 1) * 32] != theirs[e * 32 : (e + 1) * 32]:
                first_leaf = ((index << height) + e) << (height * level)
                findings.add(first_leaf + 1, f"stored subtree hash (level {height * level}, node "
                                             f"{(index << height) + e}) differs from the events: the node store "
                                             "was altered", once="node")
                return


# ---------------------------------------------------------------------------------------------------------
# The auditor's overview
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationSummary:
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    actor: str
    ok: bool
    events_checked: int
    heads_checked: int
    records_checked: int
    first_bad_seq: int | None
    first_problem: str
    duration_ms: int


@dataclass(frozen=True)
class LedgerHealth:
    events: int
    integrated: int
    latest_head: TreeHead | None
    previous_head: TreeHead | None
    heads: int
    last_verification: VerificationSummary | None
    public_key: str
    key_id: str


def last_verification(actor: Any = None) -> VerificationSummary | None:
    _require_reader(actor)
    r = VerificationRun.objects.order_by("-id").first()
    if r is None:
        return None
    return VerificationSummary(r.pk, r.started_at, r.finished_at, r.actor_name, r.ok, int(r.events_checked),
                               r.heads_checked, r.records_checked, r.first_bad_seq, r.first_problem, r.duration_ms)


def ledger_health(actor: Any = None) -> LedgerHealth:
    """What the audit page shows: size, the latest signed head, the last verification, the public key."""
    _require_reader(actor)
    last_two = list(SignedTreeHead.objects.order_by("-id")[:2])
    pub = public_key()
    return LedgerHealth(
        events=Event.objects.count(), integrated=_tree_state()[0],
        latest_head=_head_view(last_two[0]) if last_two else None,
        previous_head=_head_view(last_two[1]) if len(last_two) > 1 else None,
        heads=SignedTreeHead.objects.count(), last_verification=last_verification(actor),
        public_key=_b64(pub), key_id=_key_id(pub),
    )


def export_tree_heads(actor: Any = None, *, all_heads: bool = False) -> dict[str, Any]:
    """The latest head (or all of them), in the form the standalone verifier reads."""
    _require_reader(actor)
    if all_heads:
        return {"format": "creditplan-ledger/tree-heads/v1",
                "tree_heads": [h.as_dict() for h in tree_heads(actor)]}
    head = latest_tree_head(actor)
    if head is None:
        raise NotFound("no tree head has been issued yet", code="no_tree_head")
    return head.as_dict()


def send_to_webhook(url: str, payload: dict[str, Any], *, timeout: float = 10.0) -> int:
    """POST a tree head (JSON) to a receiver outside the institution; returns the HTTP status."""
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise ValidationError("the webhook must be an http(s) URL", field="webhook")
    req = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-given URL
        return int(resp.status)

