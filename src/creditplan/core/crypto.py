"""Encryption of personal data at rest, and blind indexes to find it again.

Why both: ID and phone numbers must be unreadable in the database and in backups, yet the product must
refuse a second customer with the same ID number. Fernet (AES-128-CBC + HMAC) gives authenticated
encryption with key rotation (MultiFernet: the first key encrypts, every key decrypts); an HMAC-SHA256
"blind index" of the normalised value, under a key derived separately, gives equality look-ups without
storing anything that can be reversed.

Keys come from the configuration, never from the repository: in development mode (CREDITPLAN_DEVELOPMENT=1)
`development_keys` makes random ones once and keeps them in a file of the machine's var/ directory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from creditplan.core.errors import ValidationError


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte urlsafe-base64 key for `purpose`, derived from a configured master secret (HKDF-SHA256)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"creditplan", info=purpose.encode()).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(raw)


class PiiCipher:
    def __init__(self, keys: list[bytes], index_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one PII key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._index_key = index_key

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise ValidationError("encrypted value cannot be read with the configured keys", code="pii_key") from exc

    def blind_index(self, normalised: str) -> str:
        return hmac.new(self._index_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key (used by key rotation)."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


# ---------------------------------------------------------------------------------------------------------
# Development keys
# ---------------------------------------------------------------------------------------------------------

DEVELOPMENT_KEY_NAMES = ("secret_key", "pii_key", "ledger_signing_key")


def new_development_keys() -> dict[str, str]:
    """Fresh random keys in the formats the configuration takes: a Django secret, a Fernet key, and the base64
    of a raw 32-byte Ed25519 private key (what `creditplan ledger new-key` prints)."""
    return {
        "secret_key": secrets.token_urlsafe(50),
        "pii_key": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"),
        "ledger_signing_key": base64.b64encode(os.urandom(32)).decode("ascii"),
    }


def development_keys(path: str | os.PathLike[str]) -> dict[str, str]:
    """The development machine's keys, made once and kept in `path` (mode 0600).

    Two processes starting together (the web server and `creditplan integration run`, two gunicorn workers) must
    agree: the keys are written to a private temporary file beside `path` and hard-linked to `path`, which fails
    when `path` already exists, so exactly one writer wins and every process then reads what it wrote; a reader
    never sees a half-written file. Where the file system has no hard links, O_EXCL creation does the same."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        data = json.dumps(new_development_keys(), indent=2).encode("ascii") + b"\n"
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".keys-", suffix=".part")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass  # another process was first: use its keys
            except OSError:  # no hard links here
                with contextlib.suppress(FileExistsError):
                    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(out, "wb") as fh:
                        fh.write(data)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    keys = json.loads(target.read_text(encoding="ascii"))
    missing = [name for name in DEVELOPMENT_KEY_NAMES if not keys.get(name)]
    if missing:
        raise ValueError(f"{target} lacks {', '.join(missing)}: delete it to make new development keys")
    return {name: str(keys[name]) for name in DEVELOPMENT_KEY_NAMES}
