"""The credit lines' hand-written SQL: the two statements a submission for a customer with a line adds to the
hot path. Everything else of the app goes through the ORM.

Justified by benchmarks/bench_decision_http.py (a submission in 6 SQL statements; it counts them) and
benchmarks/profile_submission.py: the customer's line is read — and on PostgreSQL locked — inside
origination's one look-up statement (`LOOKUP_COLUMNS`, `lookup_join`), so a customer without a line costs
nothing and one with a line costs one statement more on a straight-through approval (`reserve`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from django.db import connection
from django.utils import timezone

from creditplan.lines import domain
from creditplan.lines.models import CreditLine, Occupation

LOOKUP_COLUMNS = ("id", "status", "currency", "amount_minor", "reserved_minor", "used_minor", "revolving",
                  "expires_on", "sub_limits", "usage")


def lookup_join() -> str:
    """A LEFT JOIN clause (alias ``ln``, one ``%s``: the customer id) that adds the customer's line in force —
    the newest active or frozen one, else the newest closed one — to a one-row statement. On PostgreSQL the row
    is locked (FOR UPDATE) until the submission commits: its figures are then the newest (a locked row is
    re-read after a wait), and two applications of one customer take the line one after the other, so they can
    never together exceed it. (SQLite: the submission's BEGIN IMMEDIATE transaction serialises them.)"""
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    statuses = ", ".join(f"'{s}'" for s in sorted(domain.IN_FORCE))
    return (f"LEFT JOIN (SELECT {', '.join(LOOKUP_COLUMNS)} FROM {CreditLine._meta.db_table} "
            f"WHERE customer_id = %s AND status IN ({statuses}) "
            f"ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, id DESC LIMIT 1{lock}) ln ON 1 = 1")


def lookup_select() -> str:
    """The select-list items of `lookup_join`, in LOOKUP_COLUMNS order."""
    return ", ".join(f"ln.{c}" for c in LOOKUP_COLUMNS)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else (value or {})


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):  # SQLite hands dates back as text
        return dt.date.fromisoformat(value)
    return value if isinstance(value, dt.date) else None


def line_of(values: Sequence[Any]) -> domain.Line | None:
    """The line from `lookup_select`'s values (None: the customer has no line in force)."""
    row = dict(zip(LOOKUP_COLUMNS, values, strict=True))
    if row["id"] is None:
        return None
    return line_from(id=row["id"], status=row["status"], currency=row["currency"], amount=row["amount_minor"],
                     reserved=row["reserved_minor"], used=row["used_minor"], revolving=bool(row["revolving"]),
                     expires_on=_date(row["expires_on"]), sub_limits=_json(row["sub_limits"]),
                     usage=_json(row["usage"]))


def line_from(*, id: int, status: str, currency: str, amount: int, reserved: int, used: int, revolving: bool,
              expires_on: dt.date | None, sub_limits: dict[str, Any], usage: dict[str, Any]) -> domain.Line:
    return domain.Line(
        amount=int(amount), reserved=int(reserved), used=int(used), revolving=revolving, status=status,
        expires_on=expires_on, currency=currency, id=int(id),
        sub_limits=MappingProxyType({str(k): int(v) for k, v in (sub_limits or {}).items()}),
        usage=MappingProxyType({str(k): domain.Usage(int(v[0]), int(v[1])) for k, v in (usage or {}).items()}))


def usage_json(line: domain.Line) -> dict[str, list[int]]:
    """The stored form of a line's per-product counters (products occupying nothing are left out)."""
    return {p: [u.reserved, u.used] for p, u in sorted(line.usage.items()) if u.reserved or u.used}


OCCUPATION_COLUMNS = ("line_id", "application_ref", "product", "status", "reserved_minor", "disbursed_minor",
                      "outstanding_minor", "restored_minor", "created_at", "updated_at")


def reserve(line: domain.Line, after: domain.Line, *, application_ref: str, product: str, amount: int) -> None:
    """Write a reservation the caller has checked (`domain.reserve`) on a line it holds locked: the line's
    counters and the occupation row — ONE statement on PostgreSQL (a data-modifying CTE), two elsewhere.

    Justified by benchmarks/bench_decision_http.py: this is the one statement a line adds to a straight-through
    approval (the line was read and locked by origination's look-up); through the ORM it would be a read-modify-
    write of the line and an INSERT, each a round trip."""
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    values = [line.id, application_ref, product, "reserved", amount, 0, 0, 0, stamp, stamp]
    usage = json.dumps(usage_json(after))
    t, o = CreditLine._meta.db_table, Occupation._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                f"WITH u AS (UPDATE {t} SET reserved_minor = reserved_minor + %s, usage = %s::jsonb, "
                "version = version + 1, updated_at = %s WHERE id = %s RETURNING id) "
                f"INSERT INTO {o} ({', '.join(OCCUPATION_COLUMNS)}) "
                f"SELECT u.id, {', '.join(['%s'] * (len(OCCUPATION_COLUMNS) - 1))} FROM u",
                [amount, usage, stamp, line.id, *values[1:]])
        return
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {t} SET reserved_minor = reserved_minor + %s, usage = %s, version = version + 1, "
                    "updated_at = %s WHERE id = %s", [amount, usage, stamp, line.id])
        cur.execute(f"INSERT INTO {o} ({', '.join(OCCUPATION_COLUMNS)}) "
                    f"VALUES ({', '.join(['%s'] * len(OCCUPATION_COLUMNS))})", values)
