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
    t = type(value)  # fast paths for the plain types events are made of (batch appends run this millions of times)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict:
        return {k if type(k) is str else str(k): _normalise(v) for k, v in value.items()}
    if t is list:
        return [_normalise(v) for v in value]
    if isinstance(value, int | str):  # bool is an int; enums of both
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


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))  # = json.dumps(...)


def canonical_json(value: Any) -> bytes:
    return _ENCODER.encode(_normalise(value)).encode("utf-8")


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def canonical_entry(*, kind: str, subject_type: str, subject_id: str, actor: str, at: str,
                    data: dict[str, Any]) -> bytes:
    """The canonical JSON of one ledger event: {"actor", "at", "data", "kind", "subject": {"id", "type"}}.

    Same bytes as canonical_json of that dict; only `data` needs normalising (the rest are strings), which
    matters when a batch job appends millions of events."""
    return _ENCODER.encode({
        "actor": str(actor), "at": str(at), "data": _normalise(data), "kind": str(kind),
        "subject": {"id": str(subject_id), "type": str(subject_type)},
    }).encode("utf-8")
