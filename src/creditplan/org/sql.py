"""The organisation app's hand-written SQL, each statement with what justifies it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection

from creditplan.org.models import ApiToken, Branch, User


def token_row() -> str:
    """The live token's row with its user's and the user's branch's, in one indexed statement (parameters: the
    token's SHA-256, False, now). It runs on every API call (org.services.user_for_token), before anything else
    the call does: the ORM's select_related query costs about a millisecond of Python per call to build the user,
    which the service then only does when one of the three rows changed — bench_decision_http.py (p99 of
    `POST /api/v1/applications`, whose statement count leaves this one out) and profile_submission.py (stage
    `auth: token look-up`)."""
    t, u, b = ApiToken._meta, User._meta, Branch._meta
    cols = [f"t.{f.column}" for f in t.concrete_fields] + [f"u.{f.column}" for f in u.concrete_fields] + [
        f"b.{f.column}" for f in b.concrete_fields]
    return (f"SELECT {', '.join(cols)} FROM {t.db_table} t JOIN {u.db_table} u ON u.id = t.user_id "
            f"LEFT JOIN {b.db_table} b ON b.id = u.branch_id WHERE t.key_hash = %s AND t.revoked = %s "
            "AND t.expires_at > %s")


_TOKEN_ROW_SQL = token_row()


def fetch_token_row(key_hash: str, now: dt.datetime) -> tuple[Any, ...] | None:
    """The token row (token, user and branch columns) for a live token's hash, or None (see `token_row`)."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cur:
        cur.execute(_TOKEN_ROW_SQL, [key_hash, False, at])
        row = cur.fetchone()
    return tuple(row) if row is not None else None
