"""Verification: the whole ledger checked from its stored events, trusting nothing derived from them (the tiles,
the tree heads, the columns), and every audited record compared with the replay of its events (ledger/replay.py).
`creditplan ledger verify`, POST /api/v1/ledger/verifications and the audit page run it; the standalone verifier
(verifier.py) repeats the cryptographic part outside the institution.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.ledger import merkle, replay, sql
from creditplan.ledger.keys import trusted_public_keys
from creditplan.ledger.models import Event, MerkleTile, Sequencer, SignedTreeHead, VerificationRun
from creditplan.ledger.permissions import actor_name as _actor_name
from creditplan.ledger.permissions import require_reader
from creditplan.ledger.tree import fetch_tiles, tree_state
from creditplan.ledger.verifier import key_id as _key_id
from creditplan.ledger.verifier import tree_head_message


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


def verify_ledger(actor: Actor | None = None, *, record: bool = True, chunk: int = 20_000,
                  progress: Callable[[int, int], None] | None = None) -> VerificationReport:
    """Check the whole ledger from its stored events, trusting nothing derived from them:

    1. seq runs 1, 2, 3 … without gaps and below the sequencer's counter (deletions, insertions);
    2. every event's text hashes to its stored leaf hash, and its columns agree with its text;
    3. the tiles (stored subtree hashes) equal the ones recomputed from the events;
    4. every signed tree head ever issued has a valid signature by a ledger key, never shrinks the ledger,
       and its root equals MTH of the first `tree_size` recomputed leaves;
    5. every audited record (each subject type with a replay registered: ledger/replay.py; customers) equals the
       replay of its events.

    Findings are ordered by seq; the first names the first bad entry. The run is recorded for the audit page.
    """
    require_reader(actor)
    started, t0 = timezone.now(), time.perf_counter()
    findings = _Findings()
    integrated, height = tree_state()
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

    replays = {stype: factory(findings.add) for stype, factory in replay.registered().items()}
    rebuilt_upper: dict[merkle.TileKey, bytes] = {}  # tiles above the leaves, rebuilt from the events
    edge: dict[merkle.TileKey, bytes] = {}
    position = 0  # leaves rebuilt so far (leaf index of the next event read)
    last_seq = 0
    leaf_trouble = False  # a stored leaf already differs: differences higher up follow from it
    sha256 = hashlib.sha256
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
            replayer = replays.get(stype)
            if replayer is not None:
                try:
                    body = body or json.loads(entry)
                    replayer.feed(seq, body["kind"], str(body["subject"]["id"]), body.get("data") or {})
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
            reader = merkle.TileReader(height, size, _rebuilt_tiles(bottom, rebuilt_upper))
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
    records = sum(r.compare() for r in replays.values())

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


def _rebuilt_tiles(bottom: dict[merkle.TileKey, bytes], upper: dict[merkle.TileKey, bytes]
                   ) -> Callable[[set[merkle.TileKey]], dict[merkle.TileKey, bytes]]:
    """A tile source over the tiles rebuilt so far: the leaf tiles of `bottom`, the tiles above from `upper`."""
    def fetch(keys: set[merkle.TileKey]) -> dict[merkle.TileKey, bytes]:
        return {k: bottom[k] if k[0] == 0 else upper[k] for k in keys}

    return fetch


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
    statement = sql.verification_chunk(conn)

    def convert(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        return [(*r[:7], _iso_utc(r[7])) for r in rows]

    if conn.vendor != "postgresql":
        last = 0
        while True:
            with conn.cursor() as cur:
                cur.execute(statement, [last, chunk])
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
            cur.execute(statement, [after, chunk])
            return cur.fetchall()

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
    stored = fetch_tiles(keys)
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

