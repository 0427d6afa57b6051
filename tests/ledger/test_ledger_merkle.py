"""RFC 9162 §2.1 conformance of ledger/merkle.py (and of the standalone verifier) on the published vectors.

Vectors: /work/shared/data/merkle_vectors (see its PROVENANCE.md) —
  * inclusion/ and consistency/: transparency-dev/merkle, testdata/ at commit
    417fb0c314750d94e53942e9f92e79b6d35915db (Apache-2.0): happy paths and mutated proofs that must fail;
  * tree8.json: the standard 8-leaf RFC 6962 test tree and the root of every prefix (sizes 0–8), as in
    transparency-dev/merkle testonly/constants.go.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from creditplan.ledger import merkle
from creditplan.ledger import verifier as standalone

VECTORS = Path(os.environ.get("CREDITPLAN_DATA_DIR", "../shared/data")) / "merkle_vectors"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def _b(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _tree8() -> tuple[list[bytes], list[str]]:
    data = json.loads((VECTORS / "tree8.json").read_text())
    return [merkle.hash_leaf(bytes.fromhex(x)) for x in data["leaf_inputs"]], data["root_hashes"]


def test_vector_files_are_present() -> None:
    assert len(INCLUSION) > 50 and len(CONSISTENCY) > 50, f"vectors missing under {VECTORS}"
    assert sum(json.loads(p.read_text())["wantErr"] for p in INCLUSION + CONSISTENCY) > 50  # mutated cases


def test_tree8_root_at_every_size() -> None:
    """Source: tree8.json — transparency-dev/merkle testonly/constants.go (RFC 6962 test tree)."""
    leaves, roots = _tree8()
    for n in range(9):
        assert merkle.mth(leaves[:n]).hex() == roots[n]
        for height in (1, 2, 3, 8):  # tile stores of several heights give the same roots
            store = merkle.TileStore(height)
            store.append(leaves[:n])
            assert merkle.root_hash(n, store.reader()).hex() == roots[n]
        acc = merkle.CompactRange()
        for leaf in leaves[:n]:
            acc.append(leaf)
        assert acc.root().hex() == roots[n]


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    """Source: transparency-dev/merkle testdata/inclusion @ 417fb0c3 — wantErr cases must be rejected by
    both ledger.merkle and the standalone verifier."""
    v = json.loads(path.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    try:
        merkle.verify_inclusion(_b(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b(v["root"]))
        failed = False
    except merkle.ProofError:
        failed = True
    assert failed == v["wantErr"], v["desc"]
    try:
        standalone.check_inclusion(v, report=standalone.Report(quiet=True))
        failed = False
    except (standalone.VerificationFailed, standalone.BadInput):
        failed = True
    assert failed == v["wantErr"], v["desc"]


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    """Source: transparency-dev/merkle testdata/consistency @ 417fb0c3 — wantErr cases must be rejected."""
    v = json.loads(path.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    try:
        merkle.verify_consistency(v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]), proof)
        failed = False
    except merkle.ProofError:
        failed = True
    assert failed == v["wantErr"], v["desc"]
    try:
        standalone.check_consistency(v, report=standalone.Report(quiet=True))
        failed = False
    except (standalone.VerificationFailed, standalone.BadInput):
        failed = True
    assert failed == v["wantErr"], v["desc"]


def test_generated_proofs_equal_the_published_happy_paths() -> None:
    """Our generator over the tree8 leaves reproduces every happy-path proof of the 8-leaf vectors."""
    leaves, _roots = _tree8()
    store = merkle.TileStore(2)
    store.append(leaves)
    checked = 0
    for path in INCLUSION + CONSISTENCY:
        v = json.loads(path.read_text())
        if v["wantErr"] or "additional" in path.parts or "single-entry" in path.parts:
            continue
        if "leafIdx" in v:
            if v["treeSize"] > 8:
                continue
            got = merkle.inclusion_proof(v["leafIdx"], v["treeSize"], store.reader(v["treeSize"]))
        else:
            if v["size1"] == v["size2"]:
                continue
            got = merkle.consistency_proof(v["size1"], v["size2"], store.reader(v["size2"]))
        assert got == [_b(p) for p in v["proof"] or []], path
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("height", [1, 2, 3, 8])
def test_tile_store_matches_the_rfc_definitions(height: int) -> None:
    """Roots, inclusion and consistency proofs from tiles equal the RFC's recursive definitions, for trees
    grown in uneven batches across several tile levels, at the current and at earlier sizes."""
    rnd = random.Random(height)
    store = merkle.TileStore(height)
    leaves: list[bytes] = []
    for _ in range(25):
        new = [hashlib.sha256(rnd.randbytes(8)).digest() for _ in range(rnd.randint(0, 41))]
        store.append(new)
        leaves += new
        for size in {len(leaves), rnd.randint(0, len(leaves))}:
            reader = store.reader(size)
            root = merkle.mth(leaves[:size])
            assert merkle.root_hash(size, reader) == root
            if not size:
                continue
            i = rnd.randrange(size)
            path = merkle.inclusion_proof(i, size, reader)
            assert path == merkle.reference_inclusion_path(i, leaves[:size])
            merkle.verify_inclusion(leaves[i], i, size, path, root)
            standalone.verify_inclusion(leaves[i], i, size, path, root)
            m = rnd.randint(1, size)
            cpath = merkle.consistency_proof(m, size, reader)
            assert cpath == merkle.reference_consistency_path(m, leaves[:size])
            merkle.verify_consistency(m, size, merkle.mth(leaves[:m]), root, cpath)
            standalone.verify_consistency(m, size, merkle.mth(leaves[:m]), root, cpath)


def test_every_proof_of_a_small_tree_verifies_and_every_single_bit_flip_fails() -> None:
    leaves = [merkle.hash_leaf(str(i).encode()) for i in range(13)]
    store = merkle.TileStore(2)
    store.append(leaves)
    for size in range(1, 14):
        reader = store.reader(size)
        root = merkle.root_hash(size, reader)
        for i in range(size):
            path = merkle.inclusion_proof(i, size, reader)
            merkle.verify_inclusion(leaves[i], i, size, path, root)
            for k in range(len(path)):
                bad = list(path)
                bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(leaves[i], i, size, bad, root)
            if i + 1 < size:  # wrong index
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(leaves[i], i + 1, size, path, root)
        for m in range(1, size):
            cpath = merkle.consistency_proof(m, size, reader)
            merkle.verify_consistency(m, size, merkle.root_hash(m, reader), root, cpath)
            for k in range(len(cpath)):
                bad = list(cpath)
                bad[k] = bad[k][:-1] + bytes([bad[k][-1] ^ 0x80])
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(m, size, merkle.root_hash(m, reader), root, bad)


def test_extend_tiles_never_rewrites_a_full_tile() -> None:
    store = merkle.TileStore(2)
    finished: dict = {}
    for n in range(40):
        changed = store.append([merkle.hash_leaf(bytes([n]))])
        for key, data in changed.items():
            assert key not in finished, f"tile {key} rewritten after it was full"
            if len(data) == 4 * merkle.HASH_SIZE:
                finished[key] = data


def test_requests_outside_the_tree_are_refused() -> None:
    store = merkle.TileStore(2)
    store.append([merkle.hash_leaf(b"a"), merkle.hash_leaf(b"b"), merkle.hash_leaf(b"c")])
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(3, 3, store.reader())
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(0, 3, store.reader())
    with pytest.raises(merkle.ProofError):
        merkle.root_hash(4, store.reader(4))  # leaf 3 is not stored
