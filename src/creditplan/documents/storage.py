"""Document files on disk, outside the database: content-addressed by the SHA-256 of the plain content,
encrypted at rest (income documents and ID scans are personal data) and written atomically.

Layout: ``<DOCUMENT_DIR>/ab/cd/<sha256>.fernet``. The same content uploaded twice is stored once. A file is
written (temp file, fsync, rename) before the row that names it is committed, so a row never points at a
missing file; a failed database write can leave an unreferenced file behind, which is harmless (it is
encrypted, and the same content uploaded again reuses it).

Key: the PII keys (CREDITPLAN_PII_KEY, newest first — MultiFernet decrypts with any of them, so keys can be
rotated); in development mode the machine's random PII key (settings.py). Without a key nothing is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from creditplan.core.errors import Conflict


def root() -> Path:
    configured = getattr(settings, "DOCUMENT_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "documents"


def max_bytes() -> int:
    from creditplan.documents.domain import DEFAULT_MAX_BYTES

    return int(getattr(settings, "DOCUMENT_MAX_BYTES", None) or DEFAULT_MAX_BYTES)


def _cipher() -> MultiFernet:
    if not settings.PII_KEYS:
        raise ImproperlyConfigured("CREDITPLAN_PII_KEY is not set: documents cannot be encrypted or read "
                                   "(on a development machine set CREDITPLAN_DEVELOPMENT=1)")
    return MultiFernet([Fernet(k.encode()) for k in settings.PII_KEYS])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_path(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}.fernet"


def put(data: bytes) -> tuple[str, str]:
    """Store the content (once per content): (sha256, path relative to the document directory)."""
    digest = sha256(data)
    rel = relative_path(digest)
    target = root() / rel
    if target.exists():
        return digest, rel
    target.parent.mkdir(parents=True, exist_ok=True)
    token = _cipher().encrypt(data)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(token)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return digest, rel


def get(rel: str, digest: str) -> bytes:
    """The plain content, checked against its recorded SHA-256 (a file changed on disk is refused)."""
    path = root() / rel
    try:
        token = path.read_bytes()
    except FileNotFoundError:
        raise Conflict("the document's file is missing from the document store", code="document_file_missing") \
            from None
    try:
        data = _cipher().decrypt(token)
    except InvalidToken:
        raise Conflict("the document's file cannot be decrypted with the configured keys",
                       code="document_key") from None
    if sha256(data) != digest:
        raise Conflict("the document's file does not match its recorded SHA-256", code="document_tampered")
    return data
