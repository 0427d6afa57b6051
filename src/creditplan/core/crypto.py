"""Encryption of personal data at rest, and blind indexes to find it again.

Why both: ID and phone numbers must be unreadable in the database and in backups, yet the product must
refuse a second customer with the same ID number. Fernet (AES-128-CBC + HMAC) gives authenticated
encryption with key rotation (MultiFernet: the first key encrypts, every key decrypts); an HMAC-SHA256
"blind index" of the normalised value, under a key derived separately, gives equality look-ups without
storing anything that can be reversed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from creditplan.core.errors import ValidationError


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte urlsafe-base64 key for `purpose`, derived from a master secret (development default)."""
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
