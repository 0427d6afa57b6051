"""RFC 9162 (Certificate Transparency v2) §2.1 Merkle trees, without Django.

What this module proves and how:

* ``MTH`` (§2.1.1): the root of a list of leaves. A leaf hash is SHA-256(0x00 ‖ entry), an interior node
  SHA-256(0x01 ‖ left ‖ right), the empty tree SHA-256(""). A tree of n > 1 leaves is split at k, the largest
  power of two below n: MTH(D[0:n]) = H(MTH(D[0:k]), MTH(D[k:n])).
* inclusion proofs (§2.1.3): the audit path of leaf m in the tree of the first n leaves, and its check.
* consistency proofs (§2.1.4): that the tree of the first m leaves is a prefix of the tree of the first n,
  and its check.

Generation works over a *node source*: anything that returns the hash of a *perfect* subtree (2**level
leaves, aligned: leaves [index·2**level, (index+1)·2**level)). Every subtree a proof needs is either
perfect or the ragged right edge of the tree, which is a short right fold of perfect subtrees, so a proof
is O(log n) node look-ups, asked for in one batch (one database query).

The persistent node source is a store of *tiles* (the layout of the Go checksum database and C2SP
tlog-tiles): tile (L, N) holds the hashes of the 2**h consecutive nodes at tree level h·L with indices
N·2**h … N·2**h + 2**h − 1. Level-0 tiles hold the leaf hashes; an entry of a tile at level L is the root of
one full tile at level L − 1. The rightmost tile of each level is partial (fewer entries) until it fills.
Any perfect node is read from one tile and at most h − 1 levels of hashing inside it. Tiles only ever grow
on the right: appending never rewrites a finished tile, so every earlier tree size stays provable.

Tile height h = 4 (16 hashes, 512 bytes a tile): an inclusion proof at 10 million leaves reads about a dozen
tiles in one query and does about 80 hashes; with h = 8 it read 6 tiles but hashed about 700 times, which
in Python cost more than the query. Storage is the leaf hashes plus 1/15 for the upper levels.

Verification (``verify_inclusion``, ``verify_consistency``) follows the RFC algorithms step by step and is
duplicated, deliberately, in the standalone auditor's file ``verifier.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
DEFAULT_TILE_HEIGHT = 4

Node = tuple[int, int]  # (level, index) of a perfect subtree
TileKey = tuple[int, int]  # (tile level, tile index)


class ProofError(ValueError):
    """A proof that does not verify, or a request for one that cannot exist; the message says why."""


def hash_leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n >= 2): where RFC 9162 splits a tree of n leaves."""
    if n < 2:
        raise ValueError("n must be at least 2")
    return 1 << ((n - 1).bit_length() - 1)


# ---------------------------------------------------------------------------------------------------------
# Reference implementation: the RFC's recursive definitions over a list of leaf hashes. Used by tests to
# cross-check the store-based code, and by the benchmark as the "recompute everything" baseline.
# ---------------------------------------------------------------------------------------------------------


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, by the recursive definition (§2.1.1)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return hash_children(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def reference_inclusion_path(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) by the recursive definition (§2.1.3.1)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ProofError(f"leaf index {index} is outside a tree of {n} leaves")
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if index < k:
        return reference_inclusion_path(index, leaf_hashes[:k]) + [mth(leaf_hashes[k:])]
    return reference_inclusion_path(index - k, leaf_hashes[k:]) + [mth(leaf_hashes[:k])]


def reference_consistency_path(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) by the recursive definition (§2.1.4.1)."""

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [mth(d)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return subproof(m, d[:k], complete) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    if not 0 < first <= len(leaf_hashes):
        raise ProofError(f"no consistency proof from size {first} to size {len(leaf_hashes)}")
    return subproof(first, leaf_hashes, True)


# ---------------------------------------------------------------------------------------------------------
# Which subtrees a proof is made of, as leaf ranges [start, end). Pure arithmetic, no hashing.
# ---------------------------------------------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees whose roots form PATH(index, D[size]), deepest first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    out: list[tuple[int, int]] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if m < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The subtrees whose roots form PROOF(first, D[second]) (§2.1.4.1), in proof order."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    out: list[tuple[int, int]] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = largest_power_of_two_below(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        out.append((start, end))
    out.reverse()
    return out


def perfect_nodes(start: int, end: int) -> list[Node]:
    """Split [start, end) into perfect aligned subtrees, largest (leftmost) first.

    For the ranges that occur in RFC 9162 trees (start is a multiple of a power of two at least as large as
    the range), MTH(D[start:end]) is the right fold of these: H(P1, H(P2, … Pk)).
    """
    if end <= start:
        raise ValueError("empty range")
    out: list[Node] = []
    pos, remaining = start, end - start
    for level in range(remaining.bit_length() - 1, -1, -1):
        if remaining >> level & 1:
            if pos % (1 << level):
                raise ValueError(f"range [{start}, {end}) is not a Merkle subtree")
            out.append((level, pos >> level))
            pos += 1 << level
    return out


def fold_right(hashes: Sequence[bytes]) -> bytes:
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = hash_children(h, root)
    return root


# ---------------------------------------------------------------------------------------------------------
# Proof generation over a node source.
# ---------------------------------------------------------------------------------------------------------


class NodeSource(Protocol):
    def nodes(self, keys: Iterable[Node]) -> Mapping[Node, bytes]:
        """Hashes of the perfect subtrees named by (level, index); raise ProofError for one not stored."""
        ...


def range_hashes(ranges: Sequence[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """MTH of each leaf range, asking `source` for all the perfect subtrees involved in one batch."""
    split = [perfect_nodes(a, b) for a, b in ranges]
    found = source.nodes({n for parts in split for n in parts})
    return [fold_right([found[n] for n in parts]) for parts in split]


def root_hash(size: int, source: NodeSource) -> bytes:
    """MTH of the first `size` leaves."""
    if size == 0:
        return EMPTY_ROOT
    return range_hashes([(0, size)], source)[0]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    return range_hashes(inclusion_ranges(index, size), source)


def consistency_proof(first: int, second: int, source: NodeSource) -> list[bytes]:
    return range_hashes(consistency_ranges(first, second), source)


# ---------------------------------------------------------------------------------------------------------
# Tiles: the persistent node store.
# ---------------------------------------------------------------------------------------------------------


def tile_width_at(height: int, size: int, key: TileKey) -> int:
    """How many hashes tile `key` holds once the tree has `size` leaves (0 when it does not exist yet)."""
    level, index = key
    entries = size >> (height * level)
    return max(0, min(1 << height, entries - (index << height)))


def edge_tiles(height: int, size: int) -> list[TileKey]:
    """The partial (rightmost, not yet full) tile of each level: what appending must extend."""
    keys = []
    level = 0
    while True:
        entries = size >> (height * level)
        if entries == 0:
            break
        if entries % (1 << height):
            keys.append((level, entries >> height))
        level += 1
    return keys


def tile_root(hashes: bytes) -> bytes:
    """Root of a full tile (its entries are the 2**h bottom nodes of one perfect subtree)."""
    row = [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
    while len(row) > 1:
        row = [hash_children(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def extend_tiles(height: int, size: int, edge: Mapping[TileKey, bytes],
                 new_leaves: Sequence[bytes]) -> dict[TileKey, bytes]:
    """Tiles to write after appending `new_leaves` to a tree of `size` leaves.

    `edge` holds the current partial tiles (``edge_tiles(height, size)``). Returns every tile that is new or
    has grown, each with its full content; finished tiles are never returned twice.
    """
    width = 1 << height
    changed: dict[TileKey, bytes] = {}
    entries = list(new_leaves)
    level = 0
    while entries:
        count = size >> (height * level)
        first_tile, offset = count >> height, count & (width - 1)
        head = b""
        if offset:
            head = bytes(edge.get((level, first_tile), b""))[: offset * HASH_SIZE]
            if len(head) != offset * HASH_SIZE:
                raise ProofError(f"node store is missing the edge tile {(level, first_tile)}")
        data = head + b"".join(entries)
        total = offset + len(entries)
        parents: list[bytes] = []
        step = width * HASH_SIZE
        for t in range((total + width - 1) // width):
            chunk = data[t * step : (t + 1) * step]
            changed[(level, first_tile + t)] = chunk
            if len(chunk) == step:
                parents.append(tile_root(chunk))
        entries = parents
        level += 1
    return changed


class TileReader:
    """A node source over tiles; `fetch` returns the stored tiles among the keys asked (one round trip)."""

    def __init__(self, height: int, size: int, fetch: Callable[[set[TileKey]], Mapping[TileKey, bytes]]) -> None:
        self.height = height
        self.size = size
        self.fetch = fetch

    def _locate(self, node: Node) -> tuple[TileKey, int, int]:
        level, index = node
        tile_level, r = divmod(level, self.height)
        first = index << r  # first entry (at level height·tile_level) under this node
        return (tile_level, first >> self.height), first & ((1 << self.height) - 1), r

    def nodes(self, keys: Iterable[Node]) -> dict[Node, bytes]:
        keys = list(keys)
        for level, index in keys:
            if (index + 1) << level > self.size:
                raise ProofError(f"subtree {(level, index)} is not complete in a tree of {self.size} leaves")
        located = {k: self._locate(k) for k in keys}
        tiles = self.fetch({loc[0] for loc in located.values()})
        memo: dict[tuple[TileKey, int, int], bytes] = {}

        def inner(tile: bytes, key: TileKey, r: int, offset: int) -> bytes:
            """Node r levels above the tile's bottom row, over entries offset … offset + 2**r − 1."""
            if r == 0:
                h = tile[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]
                if len(h) != HASH_SIZE:
                    raise ProofError(f"node store tile {key} is too short")
                return h
            m = (key, r, offset)
            if m not in memo:
                half = 1 << (r - 1)
                memo[m] = hash_children(inner(tile, key, r - 1, offset), inner(tile, key, r - 1, offset + half))
            return memo[m]

        out = {}
        for node, (tkey, offset, r) in located.items():
            tile = tiles.get(tkey)
            if tile is None:
                raise ProofError(f"node store is missing tile {tkey}")
            out[node] = inner(bytes(tile), tkey, r, offset)
        return out


class TileStore:
    """An in-memory tile store: the pure model of what the database holds (tests, benchmarks)."""

    def __init__(self, height: int = DEFAULT_TILE_HEIGHT) -> None:
        self.height = height
        self.size = 0
        self.tiles: dict[TileKey, bytes] = {}

    def append(self, leaf_hashes: Sequence[bytes]) -> dict[TileKey, bytes]:
        edge = {k: self.tiles[k] for k in edge_tiles(self.height, self.size)}
        changed = extend_tiles(self.height, self.size, edge, leaf_hashes)
        self.tiles.update(changed)
        self.size += len(leaf_hashes)
        return changed

    def reader(self, size: int | None = None) -> TileReader:
        return TileReader(self.height, self.size if size is None else size,
                          lambda keys: {k: self.tiles[k] for k in keys if k in self.tiles})


class CompactRange:
    """Roots of the perfect subtrees covering the leaves seen so far: MTH of every prefix in O(log n) memory
    (a streaming cross-check of MTH; a monitor can follow a log with it without storing the leaves)."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing

    def append(self, leaf_hash: bytes) -> None:
        level, h = 0, leaf_hash
        stack = self._stack
        while stack and stack[-1][0] == level:
            h = hash_children(stack.pop()[1], h)
            level += 1
        stack.append((level, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        return fold_right([h for _level, h in self._stack])


# ---------------------------------------------------------------------------------------------------------
# Verification, exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 (with the edge cases of the published vectors).
# ---------------------------------------------------------------------------------------------------------


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """Run §2.1.3.2 steps 1–5 and return the root the path leads to; ProofError if the path is malformed."""
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError("the leaf hash is not a SHA-256 hash")
    if any(len(p) != HASH_SIZE for p in path):
        raise ProofError("a path element is not a SHA-256 hash")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion path is shorter than the tree is deep")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `path` proves leaf `index` with `leaf_hash` is in the tree with `root`."""
    if root_from_inclusion_proof(leaf_hash, index, size, path) != root:
        raise ProofError("the inclusion path does not lead to the root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes]) -> None:
    """Raise ProofError unless `path` proves the tree (first, first_root) is a prefix of (second, second_root)."""
    if second < first:
        raise ProofError(f"the second tree ({second}) is smaller than the first ({first})")
    if first == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if first == second:
        if path:
            raise ProofError("equal tree sizes need an empty proof")
        if first_root != second_root:
            raise ProofError("equal tree sizes with different roots")
        return
    if not path:
        raise ProofError("the consistency proof is empty")
    if any(len(p) != HASH_SIZE for p in path):
        raise ProofError("a proof element is not a SHA-256 hash")
    path = list(path)
    if first & (first - 1) == 0:  # step 2: first is a power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != first_root:
        raise ProofError("the proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("the proof does not lead to the second root")
