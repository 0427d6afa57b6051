#!/usr/bin/env python3
"""Standalone verifier for creditplan ledger proofs — for auditors and regulators.

This one file checks, without trusting the institution's database or software, that

  * an event is in the ledger                 (inclusion proof,   RFC 9162 §2.1.3),
  * a later ledger extends an earlier one     (consistency proof, RFC 9162 §2.1.4): nothing recorded
                                                before was changed, removed or reordered,
  * a tree head was signed by the ledger key  (Ed25519, RFC 8032; signed bytes: RFC 9162 TreeHeadDataV2).

It needs Python 3.8 or later and nothing outside the standard library (hashlib, json, base64, argparse);
Ed25519 signature verification is written out below from the RFC 8032 reference code. Read it: it is
about 500 lines, and every step cites the RFC section it implements.

Usage
-----
    python verifier.py inclusion   proof.json   [--public-key KEY] [--tree-head sth.json ...]
    python verifier.py consistency proof.json   [--public-key KEY] [--tree-head sth.json ...]
    python verifier.py sth         sth.json      --public-key KEY

KEY is the ledger's Ed25519 public key (32 bytes, base64) or a file holding it. Obtain it from the
institution once, out of band (a letter, a regulator filing), and keep it: a key taken from the same
file as the proof proves nothing. `--tree-head FILE` names a signed tree head you kept yourself (from
`creditplan ledger export-sth`, an earlier download, a webhook); the proof must lead to exactly its root.

Exit status: 0 every check passed; 1 a check failed (the reason is printed); 2 the input is unreadable.

What the files hold (hashes are base64; the platform writes them with `creditplan ledger prove-inclusion`,
`prove-consistency`, `export-sth`, or the API /api/v1/ledger/...):

    inclusion:   {"leaf_index", "tree_size", "leaf_hash", "inclusion_path": [...], "root_hash",
                  "entry": the event's canonical JSON text (optional), "tree_head": {...} (optional)}
    consistency: {"tree_size_1", "tree_size_2", "root_hash_1", "root_hash_2", "consistency_path": [...],
                  "tree_head_1": {...}, "tree_head_2": {...} (optional)}
    tree head:   {"tree_size", "timestamp" (ms since 1970), "root_hash", "signature", "key_id", ...}
                 or {"tree_heads": [ ... ]}

The published RFC 6962/9162 test vectors (transparency-dev/merkle testdata: leafIdx, treeSize, root,
leafHash, proof / size1, size2, root1, root2, proof) are read as well.

How the hashes are defined (RFC 9162 §2.1.1): an event's leaf hash is SHA-256(0x00 ‖ entry), where entry
is the UTF-8 bytes of its canonical JSON (sorted keys, no spaces, no floats); an interior node is
SHA-256(0x01 ‖ left ‖ right); the root of the empty ledger is SHA-256 of nothing.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import os
import struct
import sys
from collections.abc import Iterable
from typing import Any

HASH_SIZE = 32


class VerificationFailed(Exception):
    """A check did not pass; the message says which and why."""


class BadInput(Exception):
    """The file cannot be read as a proof or tree head."""


# --------------------------------------------------------------------------------------------------------
# RFC 9162 §2.1.1 hashing
# --------------------------------------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --------------------------------------------------------------------------------------------------------
# RFC 9162 §2.1.3.2: verifying an inclusion proof
# --------------------------------------------------------------------------------------------------------


def verify_inclusion(leaf: bytes, index: int, size: int, path: list, root: bytes) -> None:
    """Raise VerificationFailed unless `path` proves that leaf number `index` (from 0) with hash `leaf` is
    in the tree of `size` leaves whose root is `root`."""
    # Step 1: the leaf must be inside the tree.
    if index < 0 or index >= size:
        raise VerificationFailed(f"leaf index {index} is not below the tree size {size}")
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in path):
        raise VerificationFailed("the leaf hash or a path element is not a 32-byte SHA-256 hash")
    # Step 2: fn is the leaf's position, sn the last position; step 3: r starts as the leaf hash.
    fn, sn, r = index, size - 1, leaf
    # Step 4: climb one level per path element.
    for p in path:
        if sn == 0:  # 4a: more elements than levels
            raise VerificationFailed("the inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:  # 4b: we are a right child (or the last node of a level): sibling on the left
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:  # skip levels where the last node has no sibling
                fn >>= 1
                sn >>= 1
        else:  # otherwise the sibling is on the right
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    # Step 5: all levels used, and the result is the root.
    if sn != 0:
        raise VerificationFailed("the inclusion path is shorter than the tree is deep")
    if r != root:
        raise VerificationFailed("the inclusion path does not lead to the root hash")


# --------------------------------------------------------------------------------------------------------
# RFC 9162 §2.1.4.2: verifying a consistency proof
# --------------------------------------------------------------------------------------------------------


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list) -> None:
    """Raise VerificationFailed unless `path` proves that the tree of the first `first` leaves (root
    `first_root`) is the beginning of the tree of `second` leaves (root `second_root`)."""
    if second < first:
        raise VerificationFailed(f"the second tree ({second}) is smaller than the first ({first})")
    if first == 0:
        raise VerificationFailed("a consistency proof from the empty tree proves nothing")
    if first == second:
        if path:
            raise VerificationFailed("equal tree sizes must come with an empty proof")
        if first_root != second_root:
            raise VerificationFailed("equal tree sizes but different root hashes")
        return
    # Step 1: an empty proof fails.
    if not path:
        raise VerificationFailed("the consistency proof is empty")
    if any(len(p) != HASH_SIZE for p in path):
        raise VerificationFailed("a proof element is not a 32-byte SHA-256 hash")
    path = list(path)
    # Step 2: when the first tree is a complete (power-of-two) tree, its root is the proof's first node.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # Steps 3-4: positions of the last leaf of each tree, skipping levels where the first tree is complete.
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5: both running roots start from the first element.
    fr = sr = path[0]
    # Step 6: fold in every other element; fr rebuilds the first root, sr the second.
    for c in path[1:]:
        if sn == 0:  # 6a
            raise VerificationFailed("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:  # 6b: node on the left, shared by both trees
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:  # node on the right, only in the second tree
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise VerificationFailed("the consistency proof is shorter than the tree is deep")
    if fr != first_root:
        raise VerificationFailed("the proof does not rebuild the first root hash")
    if sr != second_root:
        raise VerificationFailed("the proof does not rebuild the second root hash")


# --------------------------------------------------------------------------------------------------------
# Ed25519 signature verification, RFC 8032 §5.1.7, after the reference code of RFC 8032 §6
# (points in extended homogeneous coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z).
# --------------------------------------------------------------------------------------------------------

_P = 2**255 - 19  # the field prime
_L = 2**252 + 27742317777372353535851937790883648493  # order of the base point
_D = -121665 * pow(121666, _P - 2, _P) % _P  # curve constant d = -121665/121666
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)  # a square root of -1


def _inv(x: int) -> int:
    return pow(x, _P - 2, _P)


def _point_add(p: tuple, q: tuple) -> tuple:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(s: int, p: tuple) -> tuple:
    q = (0, 1, 1, 0)  # the neutral element
    while s > 0:
        if s & 1:
            q = _point_add(q, p)
        p = _point_add(p, p)
        s >>= 1
    return q


def _point_equal(p: tuple, q: tuple) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * _inv(_D * y * y + 1) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * _inv(5) % _P
_GX = _recover_x(_GY, 0) or 0  # the base point's x (never None: 4/5 is a valid y)
_G = (_GX, _GY, 1, _GX * _GY % _P)  # the base point


def _decompress(s: bytes) -> tuple[int, int, int, int] | None:
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` under `public_key` (RFC 8032 §5.1.7)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decompress(public_key)
    if a is None:
        return False
    r_bytes = signature[:32]
    r = _decompress(r_bytes)
    if r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(r_bytes + public_key + message).digest(), "little") % _L
    return _point_equal(_point_mul(s, _G), _point_add(r, _point_mul(h, a)))


# --------------------------------------------------------------------------------------------------------
# Signed tree heads: the signed bytes are the TLS encoding of RFC 9162 §4.10 TreeHeadDataV2
#   uint64 timestamp (ms since 1970-01-01 UTC) ‖ uint64 tree_size ‖ uint8 len(root)=32 ‖ root
#   ‖ uint16 len(extensions)=0
# --------------------------------------------------------------------------------------------------------


def tree_head_message(timestamp_ms: int, tree_size: int, root: bytes) -> bytes:
    return struct.pack(">QQB", timestamp_ms, tree_size, len(root)) + root + b"\x00\x00"


def key_id(public_key: bytes) -> str:
    """How the platform names a key: the first 16 hex digits of SHA-256(public key)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def verify_tree_head(head: dict, public_key: bytes) -> None:
    size, ts, root, sig = _int(head, "tree_size"), _int(head, "timestamp"), _hash(head, "root_hash"), _b64(
        head.get("signature"), "signature")
    kid = head.get("key_id")
    if kid and kid != key_id(public_key):
        raise VerificationFailed(f"the tree head names key {kid}, not the key you gave ({key_id(public_key)})")
    if not ed25519_verify(public_key, tree_head_message(ts, size, root), sig):
        raise VerificationFailed(f"the signature of the tree head of size {size} is not valid for this key")


# --------------------------------------------------------------------------------------------------------
# Reading the files
# --------------------------------------------------------------------------------------------------------


def _b64(value: Any, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise BadInput(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"{what} is not valid base64")


def _hash(obj: dict, *names: str) -> bytes:
    for n in names:
        if n in obj:
            return _b64(obj[n], n)
    raise BadInput(f"missing {names[0]}")


def _int(obj: dict, *names: str) -> int:
    for n in names:
        if n in obj:
            v = obj[n]
            if isinstance(v, bool) or not isinstance(v, int):
                raise BadInput(f"{n} must be an integer")
            return v
    raise BadInput(f"missing {names[0]}")


def _path(obj: dict, *names: str) -> list:
    for n in names:
        if n in obj:
            return [_b64(p, n) for p in (obj[n] or [])]
    raise BadInput(f"missing {names[0]}")


def load_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read {path}: {exc}")
    if not isinstance(data, dict):
        raise BadInput(f"{path} does not hold a JSON object")
    return data


def load_public_key(text: str) -> bytes:
    """KEY on the command line: base64 of the 32-byte key, or a file holding that."""
    if os.path.exists(text):
        with open(text, encoding="utf-8") as f:
            text = f.read().strip()
    key = _b64(text.strip(), "public key")
    if len(key) != 32:
        raise BadInput("an Ed25519 public key is 32 bytes (44 base64 characters)")
    return key


def _describe_head(head: dict) -> str:
    ts = head.get("timestamp")
    when = ""
    if isinstance(ts, int):
        when = datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc).strftime(  # noqa: UP017
            " at %Y-%m-%d %H:%M:%S UTC")
    return f"tree head of size {head.get('tree_size')}{when}"


# --------------------------------------------------------------------------------------------------------
# The three checks
# --------------------------------------------------------------------------------------------------------


class Report:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.warnings: list = []

    def ok(self, text: str) -> None:
        if not self.quiet:
            print(f"OK    {text}")

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        if not self.quiet:
            print(f"NOTE  {text}")


def _check_heads(report: Report, heads: list[Any], public_key: bytes | None,
                 sizes_roots: dict[int, bytes]) -> None:
    """Each head must match the proof's root for its size, and carry a valid signature when a key is given."""
    for head in heads:
        size = _int(head, "tree_size")
        if size not in sizes_roots:
            raise VerificationFailed(f"the {_describe_head(head)} is not one of the proof's tree sizes "
                                     f"({', '.join(str(s) for s in sorted(sizes_roots))})")
        if _hash(head, "root_hash") != sizes_roots[size]:
            raise VerificationFailed(f"the proof's root for size {size} differs from the {_describe_head(head)}")
        if public_key is None:
            report.warn(f"the signature of the {_describe_head(head)} was NOT checked: pass --public-key")
        else:
            verify_tree_head(head, public_key)
            report.ok(f"{_describe_head(head)}: root matches, signature valid (key {key_id(public_key)})")


def check_inclusion(proof: dict[str, Any], public_key: bytes | None = None, kept_heads: Iterable[Any] = (),
                    report: Report | None = None) -> Report:
    report = report or Report()
    index = _int(proof, "leaf_index", "leafIdx")
    size = _int(proof, "tree_size", "treeSize")
    root = _hash(proof, "root_hash", "root")
    path = _path(proof, "inclusion_path", "proof")
    leaf = _hash(proof, "leaf_hash", "leafHash")
    entry = proof.get("entry")
    if entry is not None:
        if not isinstance(entry, str):
            raise BadInput("entry must be the event's canonical JSON text")
        if leaf_hash(entry.encode("utf-8")) != leaf:
            raise VerificationFailed("the event's text does not hash to the leaf hash: the event was altered")
        report.ok(f"event text hashes to the leaf hash ({_summary(entry)})")
    else:
        report.warn("the proof carries no event text; only its leaf hash is proven")
    verify_inclusion(leaf, index, size, path, root)
    report.ok(f"leaf {index} is included in the tree of {size} leaves (path of {len(path)} hashes)")
    heads = [h for h in [proof.get("tree_head")] if h] + list(kept_heads)
    if not heads:
        report.warn("no signed tree head accompanies the proof: the root hash itself is not authenticated")
    _check_heads(report, heads, public_key, {size: root})
    return report


def check_consistency(proof: dict[str, Any], public_key: bytes | None = None, kept_heads: Iterable[Any] = (),
                      report: Report | None = None) -> Report:
    report = report or Report()
    first = _int(proof, "tree_size_1", "size1")
    second = _int(proof, "tree_size_2", "size2")
    root1 = _hash(proof, "root_hash_1", "root1")
    root2 = _hash(proof, "root_hash_2", "root2")
    path = _path(proof, "consistency_path", "proof")
    verify_consistency(first, second, root1, root2, path)
    report.ok(f"the tree of {first} leaves is a prefix of the tree of {second} leaves "
              f"(proof of {len(path)} hashes)")
    heads = [h for h in [proof.get("tree_head_1"), proof.get("tree_head_2")] if h] + list(kept_heads)
    if not heads:
        report.warn("no signed tree heads accompany the proof: the root hashes themselves are not authenticated")
    _check_heads(report, heads, public_key, {first: root1, second: root2})
    return report


def check_tree_heads(data: dict[str, Any], public_key: bytes, report: Report | None = None) -> Report:
    report = report or Report()
    heads = data["tree_heads"] if isinstance(data.get("tree_heads"), list) else [data]
    if not heads:
        raise BadInput("no tree heads in the file")
    previous = None
    for head in heads:
        verify_tree_head(head, public_key)
        report.ok(f"{_describe_head(head)}: signature valid (key {key_id(public_key)})")
        if previous is not None and _int(head, "timestamp") >= _int(previous, "timestamp") and _int(
                head, "tree_size") < _int(previous, "tree_size"):
            raise VerificationFailed(f"the ledger shrank: {_describe_head(head)} is later than "
                                     f"the {_describe_head(previous)} but smaller")
        previous = head
    return report


def _summary(entry: str) -> str:
    try:
        body = json.loads(entry)
        subject = body.get("subject") or {}
        return f"{body.get('kind')} on {subject.get('type')}:{subject.get('id')} by {body.get('actor')} at {body.get('at')}"
    except (ValueError, AttributeError):
        return "unparsed event"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Verify creditplan ledger proofs and signed tree heads (RFC 9162, Ed25519).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (("inclusion", "an inclusion proof: this event is in the ledger"),
                       ("consistency", "a consistency proof: the later ledger extends the earlier one"),
                       ("sth", "signed tree heads: signed by the ledger key")):
        p = sub.add_parser(name, help=what)
        p.add_argument("file", help="JSON file written by the platform")
        p.add_argument("--public-key", required=(name == "sth"),
                       help="the ledger's Ed25519 public key (base64) or a file holding it")
        if name != "sth":
            p.add_argument("--tree-head", action="append", default=[],
                           help="a signed tree head you kept yourself; the proof must match its root")
        p.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    args = parser.parse_args(argv)
    try:
        key = load_public_key(args.public_key) if args.public_key else None
        data = load_json(args.file)
        report = Report(args.quiet)
        if args.command == "sth":
            if key is None:  # argparse requires --public-key for sth
                raise BadInput("--public-key is required")
            check_tree_heads(data, key, report)
        else:
            kept = [load_json(f) for f in args.tree_head]
            (check_inclusion if args.command == "inclusion" else check_consistency)(data, key, kept, report)
    except BadInput as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return 2
    except VerificationFailed as exc:
        print(f"FAIL  {exc}")
        return 1
    if not args.quiet:
        print("VERIFIED" + (" (with notes above)" if report.warnings else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
