"""The standalone auditor's verifier (src/creditplan/ledger/verifier.py): standard library only, RFC 8032
Ed25519, and a command line whose exit status an auditor can script against."""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from creditplan.ledger import merkle
from creditplan.ledger import verifier as V

VERIFIER = Path(V.__file__)
VECTORS = Path(os.environ.get("CREDITPLAN_DATA_DIR", "../shared/data")) / "merkle_vectors"

# RFC 8032 §7.1, TEST 1–3: (secret key, public key, message, signature), hex.
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


def run(*args: str) -> subprocess.CompletedProcess:
    # -I -S: isolated, without site-packages: proves the file needs nothing but the standard library.
    return subprocess.run([sys.executable, "-I", "-S", str(VERIFIER), *args], capture_output=True, text=True,
                          timeout=60)


def test_imports_only_the_standard_library() -> None:
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names


@pytest.mark.parametrize("sk,pk,msg,sig", RFC8032)
def test_ed25519_rfc8032_vectors(sk: str, pk: str, msg: str, sig: str) -> None:
    """Source: RFC 8032 §7.1 test vectors 1–3."""
    pub, m, s = bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)
    assert V.ed25519_verify(pub, m, s)
    assert not V.ed25519_verify(pub, m + b"\x00", s)
    assert not V.ed25519_verify(pub, m, s[:10] + bytes([s[10] ^ 4]) + s[11:])
    assert not V.ed25519_verify(pub, m, s[:32] + (int.from_bytes(s[32:], "little") + V._L).to_bytes(32, "little"))


def test_ed25519_agrees_with_cryptography() -> None:
    for i in range(8):
        key = Ed25519PrivateKey.generate()
        pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        msg = os.urandom(i * 13)
        sig = key.sign(msg)
        assert V.ed25519_verify(pub, msg, sig)
        other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                      serialization.PublicFormat.Raw)
        assert not V.ed25519_verify(other, msg, sig)


def _signed_head(key: Ed25519PrivateKey, size: int, root: bytes, ts: int) -> dict:
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"tree_size": size, "timestamp": ts, "root_hash": base64.b64encode(root).decode(),
            "signature": base64.b64encode(key.sign(V.tree_head_message(ts, size, root))).decode(),
            "key_id": V.key_id(pub)}


def test_command_line_exit_status(tmp_path: Path) -> None:
    happy = VECTORS / "inclusion" / "1" / "happy-path.json"
    mutated = VECTORS / "inclusion" / "1" / "modified-proof[1]-bit-@3.json"
    r = run("inclusion", str(happy))
    assert r.returncode == 0 and "VERIFIED" in r.stdout, r.stdout + r.stderr
    r = run("inclusion", str(mutated))
    assert r.returncode == 1 and "FAIL" in r.stdout
    r = run("consistency", str(VECTORS / "consistency" / "2" / "happy-path.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("consistency", str(VECTORS / "consistency" / "2" / "swapped-roots.json"))
    assert r.returncode == 1
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert run("inclusion", str(bad)).returncode == 2


def test_tree_heads_signature_key_and_shrinking(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keyfile = tmp_path / "ledger.pub"
    keyfile.write_text(base64.b64encode(pub).decode())
    root = merkle.hash_leaf(b"x")
    heads = [_signed_head(key, 1, root, 1_700_000_000_000), _signed_head(key, 1, root, 1_700_000_060_000)]
    good = tmp_path / "heads.json"
    good.write_text(json.dumps({"tree_heads": heads}))
    assert run("sth", str(good), "--public-key", str(keyfile)).returncode == 0
    r = run("sth", str(good), "--public-key", base64.b64encode(Ed25519PrivateKey.generate().public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode())
    assert r.returncode == 1 and "key" in r.stdout
    forged = dict(heads[0], tree_size=2)
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert run("sth", str(tmp_path / "forged.json"), "--public-key", str(keyfile)).returncode == 1
    shrinking = [_signed_head(key, 5, root, 1_700_000_000_000), _signed_head(key, 3, root, 1_700_000_001_000)]
    (tmp_path / "shrink.json").write_text(json.dumps({"tree_heads": shrinking}))
    r = run("sth", str(tmp_path / "shrink.json"), "--public-key", str(keyfile))
    assert r.returncode == 1 and "shrank" in r.stdout
