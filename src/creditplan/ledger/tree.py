"""The Merkle tree over the events (RFC 9162): the node store (tiles, extended lazily), signed tree heads, and
inclusion and consistency proofs.

The node store is extended lazily (`integrate`), not when events are appended: when a tree head is issued or a
proof is asked, the events past the integrated size are read in seq order under the `TreeState` row lock (so two
integrators do not both extend the tiles) and added to the tiles. Appenders never wait for integration.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound, ValidationError
from creditplan.ledger import merkle, sql, verifier
from creditplan.ledger.keys import raw_public_key, signing_key
from creditplan.ledger.models import Event, MerkleTile, SignedTreeHead, TreeState
from creditplan.ledger.permissions import actor_name, require_issuer, require_reader
from creditplan.ledger.verifier import key_id as _key_id
from creditplan.ledger.verifier import tree_head_message

log = logging.getLogger(__name__)

INTEGRATE_BATCH = 50_000


def b64(data: bytes) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _lock_tree_state() -> TreeState:
    state = TreeState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        TreeState.objects.bulk_create([TreeState(id=1, tile_height=merkle.DEFAULT_TILE_HEIGHT)],
                                      ignore_conflicts=True)
        state = TreeState.objects.select_for_update().get(pk=1)
    return state


def tree_state() -> tuple[int, int]:
    """(integrated size, tile height), without locking."""
    row = TreeState.objects.filter(pk=1).values_list("size", "tile_height").first()
    return (int(row[0]), int(row[1])) if row else (0, merkle.DEFAULT_TILE_HEIGHT)


def fetch_tiles(keys: Iterable[merkle.TileKey]) -> dict[merkle.TileKey, bytes]:
    """The stored tiles among `keys`, in one query (sql.fetch_tiles: the ORM's overhead was most of a proof's time)."""
    packed = [MerkleTile.pack(level, index) for level, index in keys]
    if not packed:
        return {}
    conn = transaction.get_connection()
    with conn.cursor() as cur:
        cur.execute(sql.fetch_tiles(conn, len(packed)), packed)
        return {(int(level), int(index)): bytes(h) for level, index, h in cur.fetchall()}


def _reader(size: int, height: int) -> merkle.TileReader:
    return merkle.TileReader(height, size, fetch_tiles)


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
            edge = fetch_tiles(merkle.edge_tiles(height, size))
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
            "root_hash": b64(self.root_hash),
            "signature_algorithm": "ed25519",
            "signed_data": "TLS encoding of RFC 9162 TreeHeadDataV2: timestamp, tree_size, root_hash, no extensions",
            "signature": b64(self.signature),
            "key_id": self.key_id,
            "public_key": b64(self.public_key),
            "issued_by": self.issued_by,
            "reason": self.reason,
        }


def head_view(h: SignedTreeHead) -> TreeHead:
    return TreeHead(h.pk, int(h.tree_size), bytes(h.root_hash), int(h.timestamp_ms), h.issued_at,
                    bytes(h.signature), h.key_id, bytes(h.public_key), h.issued_by, h.reason)


def issue_tree_head(actor: Actor | None = None, *, reason: str = "manual") -> TreeHead:
    """Integrate every committed event and sign the tree: size, root, time (RFC 9162 §4.10, Ed25519).

    Run on a schedule (cron: `creditplan ledger sth`) and after each daily close; export the heads outside the
    institution (`creditplan ledger export-sth`), where the database administrator cannot reach them.
    """
    require_issuer(actor)
    key = signing_key()
    pub = raw_public_key(key)
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
            issued_by=actor_name(actor), reason=(reason or "manual")[:40],
        )
        head.save(force_insert=True)
    return head_view(head)


def latest_tree_head(actor: Actor | None = None) -> TreeHead | None:
    require_reader(actor)
    head = SignedTreeHead.objects.order_by("-id").first()
    return head_view(head) if head else None


def tree_heads(actor: Actor | None = None, *, limit: int | None = None) -> list[TreeHead]:
    """Every head issued, oldest first (the last `limit` when given)."""
    require_reader(actor)
    qs = SignedTreeHead.objects.order_by("-id")
    rows = list(qs[:limit] if limit else qs)
    return [head_view(h) for h in reversed(rows)]


def _head_for_size(size: int) -> TreeHead | None:
    head = SignedTreeHead.objects.filter(tree_size=size).order_by("-id").first()
    return head_view(head) if head else None


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
            "leaf_hash": b64(self.leaf_hash),
            "inclusion_path": [b64(p) for p in self.inclusion_path],
            "root_hash": b64(self.root_hash),
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
            "root_hash_1": b64(self.root_hash_1),
            "root_hash_2": b64(self.root_hash_2),
            "consistency_path": [b64(p) for p in self.consistency_path],
            "tree_head_1": self.tree_head_1.as_dict() if self.tree_head_1 else None,
            "tree_head_2": self.tree_head_2.as_dict() if self.tree_head_2 else None,
        }


def _integrated_at_least(size: int) -> tuple[int, int]:
    integrated, height = tree_state()
    if size > integrated:
        integrated = integrate()
    return integrated, height


def inclusion_proof(actor: Actor | None = None, seq: int | None = None, *, index: int | None = None,
                    tree_size: int | None = None) -> InclusionProof:
    """Prove that event `seq` (or leaf `index` = seq − 1) is in the tree of `tree_size` events.

    Without `tree_size`: the latest signed tree head when it covers the event (so the proof comes with a
    signed root), else the whole integrated ledger (root unsigned until the next head).
    """
    require_reader(actor)
    if seq is None:
        if index is None:
            raise ValidationError("give either seq or index", field="seq")
        seq = int(index) + 1
    elif index is not None:
        raise ValidationError("give either seq or index", field="seq")
    if seq < 1:
        raise ValidationError("seq starts at 1", field="seq", code="bad_seq")
    event = Event.objects.filter(pk=seq).values_list("entry", flat=True).first()
    if event is None:
        raise NotFound(f"event {seq} not found", code="event_not_found")
    leaf = seq - 1
    latest_row = SignedTreeHead.objects.order_by("-id").first()
    latest = head_view(latest_row) if latest_row else None
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


def consistency_proof(actor: Actor | None = None, first: int = 0, second: int | None = None) -> ConsistencyProof:
    """Prove that the ledger of `first` events is the beginning of the ledger of `second` events (default:
    the latest signed tree head)."""
    require_reader(actor)
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
    with open(verifier.__file__, encoding="utf-8") as f:
        return f.read()


def export_tree_heads(actor: Actor | None = None, *, all_heads: bool = False) -> dict[str, Any]:
    """The latest head (or all of them), in the form the standalone verifier reads."""
    require_reader(actor)
    if all_heads:
        return {"format": "creditplan-ledger/tree-heads/v1",
                "tree_heads": [h.as_dict() for h in tree_heads(actor)]}
    head = latest_tree_head(actor)
    if head is None:
        raise NotFound("no tree head has been issued yet", code="no_tree_head")
    return head.as_dict()
