"""Appending business events. Called by every domain's services inside their own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.errors import Forbidden
from creditplan.ledger.domain import canonical_json, leaf_hash
from creditplan.ledger.models import Event
from creditplan.org.domain import Perm, has_perm


@dataclass(frozen=True)
class EventSpec:
    kind: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]


def _build(actor: Any, spec: EventSpec, when: Any) -> Event:
    actor_name = getattr(actor, "username", None) or "system"
    body = {
        "kind": spec.kind,
        "subject": {"type": spec.subject_type, "id": spec.subject_id},
        "actor": actor_name,
        "at": when.isoformat(),
        "data": spec.data,
    }
    entry = canonical_json(body)
    return Event(
        occurred_at=when,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name,
        kind=spec.kind,
        subject_type=spec.subject_type,
        subject_id=spec.subject_id,
        entry=entry.decode("utf-8"),
        leaf_hash=leaf_hash(entry).hex(),
    )


def append(actor: Any, kind: str, subject_type: str, subject_id: Any, data: dict[str, Any]) -> Event:
    """Append one event; must run inside the caller's transaction so the change and its record commit together."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.append must be called inside the use case's transaction")
    event = _build(actor, EventSpec(kind, subject_type, str(subject_id), data), timezone.now())
    event.save()
    return event


def append_many(actor: Any, specs: Iterable[EventSpec]) -> int:
    """Bulk append for imports; same guarantees as `append`."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.append_many must be called inside the use case's transaction")
    when = timezone.now()
    rows = [_build(actor, s, when) for s in specs]
    Event.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    occurred_at: Any
    actor: str
    kind: str
    data: dict[str, Any]


def history(actor: Any, subject_type: str, subject_id: Any, *, limit: int = 200) -> Sequence[HistoryEntry]:
    """A record's audit trail, newest first. Staff who may see the record may see its history."""
    if not (has_perm(actor.role, Perm.CUSTOMER_VIEW) or has_perm(actor.role, Perm.AUDIT_VIEW)):
        raise Forbidden("you may not read the audit trail")
    rows = Event.objects.filter(subject_type=subject_type, subject_id=str(subject_id)).order_by("-seq")[:limit]
    return [
        HistoryEntry(r.seq, r.occurred_at, r.actor_name, r.kind, json.loads(r.entry)["data"]) for r in rows
    ]


def count_events(kind: str | None = None) -> int:
    qs = Event.objects.all()
    return qs.filter(kind=kind).count() if kind else qs.count()


@dataclass(frozen=True)
class EventRow:
    seq: int
    occurred_at: Any
    actor: str
    kind: str
    subject_type: str
    subject_id: str
    leaf_hash: str
    entry: str


def search_events(actor: Any, *, kind: str = "", subject: str = "", limit: int = 100) -> list[EventRow]:
    """The auditor's view of the log: newest first, filtered by kind prefix and subject ("customer:42")."""
    if not has_perm(actor.role, Perm.AUDIT_VIEW):
        raise Forbidden("only auditors and administrators may search the audit trail")
    qs = Event.objects.all().order_by("-seq")
    if kind:
        qs = qs.filter(kind__startswith=kind.strip())
    if subject:
        stype, _, sid = subject.strip().partition(":")
        qs = qs.filter(subject_type=stype)
        if sid:
            qs = qs.filter(subject_id=sid)
    return [
        EventRow(e.seq, e.occurred_at, e.actor_name, e.kind, e.subject_type, e.subject_id, e.leaf_hash, e.entry)
        for e in qs[: max(1, min(limit, 1000))]
    ]
