"""The key that signs tree heads (Ed25519), and the public keys auditors check them with.

One key from the environment (CREDITPLAN_LEDGER_SIGNING_KEY), never derived from anything else; after a rotation
the earlier public keys are listed in CREDITPLAN_LEDGER_TRUSTED_KEYS so old heads stay checkable.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from creditplan.ledger.verifier import key_id as _key_id

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


def raw_public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key() -> bytes:
    """The ledger's Ed25519 public key (32 raw bytes): what auditors keep to check tree heads."""
    return raw_public_key(signing_key())


def trusted_public_keys() -> dict[str, bytes]:
    """key id → key: the current key, plus earlier ones listed (base64, comma-separated) in
    CREDITPLAN_LEDGER_TRUSTED_KEYS after a rotation."""
    keys = [public_key()]
    for item in os.environ.get(TRUSTED_KEYS_ENV, "").split(","):
        if item.strip():
            keys.append(base64.b64decode(item.strip()))
    return {_key_id(k): k for k in keys}

