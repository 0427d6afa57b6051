"""Canonical JSON and entry hashing for the event log, without Django.

Why canonical: an auditor must be able to recompute an event's hash anywhere, in any language, so the
bytes are fixed: sorted keys, UTF-8, no insignificant whitespace, and no floats (whose text form varies
between implementations); decimals and dates are written as strings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        raise TypeError("floats are not allowed in ledger events; use integers or decimal strings")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if hasattr(value, "minor") and hasattr(value, "currency"):  # Money
        return {"minor": value.minor, "currency": value.currency}
    raise TypeError(f"cannot put {type(value).__name__} in a ledger event")


def canonical_json(value: Any) -> bytes:
    return json.dumps(_normalise(value), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()
