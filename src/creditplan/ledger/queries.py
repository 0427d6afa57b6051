"""Reading the log: a record's audit trail, the auditor's search, and the numbered stream that system readers
(integration's outbox) follow."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Q

from creditplan.core.access import Actor, Perm, may
from creditplan.core.errors import Forbidden
from creditplan.ledger.models import Event


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    occurred_at: dt.datetime
    actor: str
    kind: str
    data: dict[str, Any]


def history(actor: Actor, subject_type: str, subject_id: Any, *, limit: int = 200) -> Sequence[HistoryEntry]:
    """A record's audit trail, newest first. Staff who may see the record may see its history."""
    if not (may(actor, Perm.CUSTOMER_VIEW) or may(actor, Perm.AUDIT_VIEW)):
        raise Forbidden("you may not read the audit trail")
    rows = Event.objects.filter(subject_type=subject_type, subject_id=str(subject_id)).order_by("-seq")[:limit]
    return [
        HistoryEntry(r.seq, r.occurred_at, r.actor_name, r.kind, json.loads(r.entry)["data"]) for r in rows
    ]


def count_events(kind: str | None = None) -> int:
    qs = Event.objects.all()
    return int(qs.filter(kind=kind).count() if kind else qs.count())


def last_seq() -> int:
    """The number of the last event appended (0 for an empty log). Numbers are handed out under the
    sequencer's row lock, held to the commit, so every event up to the last visible one has committed: a
    reader that follows the log by number (an outbox) never skips one that commits later."""
    return int(Event.objects.aggregate(m=Max("seq"))["m"] or 0)


def events_between(after: int, upto: int, kind_prefixes: Iterable[str]) -> list[tuple[int, str, str, str, str, str]]:
    """(seq, kind, subject_type, subject_id, entry, leaf_hash) of the events numbered after..upto whose kind
    starts with one of the prefixes, in order — for system readers that follow the log (integration's outbox);
    no permission check, as no user asks."""
    q = Q()
    for prefix in kind_prefixes:
        q |= Q(kind__startswith=prefix)
    return list(Event.objects.filter(q, seq__gt=after, seq__lte=upto).order_by("seq")
                .values_list("seq", "kind", "subject_type", "subject_id", "entry", "leaf_hash"))


@dataclass(frozen=True)
class EventRow:
    seq: int
    occurred_at: dt.datetime
    actor: str
    kind: str
    subject_type: str
    subject_id: str
    leaf_hash: str
    entry: str


def search_events(actor: Actor, *, kind: str = "", subject: str = "", limit: int = 100) -> list[EventRow]:
    """The auditor's view of the log: newest first, filtered by kind prefix and subject ("customer:42")."""
    if not may(actor, Perm.AUDIT_VIEW):
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


EVENT_SORTS = {"seq": "seq", "kind": "kind", "actor": "actor_name", "subject": "subject_type"}


def list_events(actor: Actor, listing: Any, *, kind: str = "", family: str = "", who: str = "", subject: str = "",
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> Any:
    """The auditor's search as one page (common.listing.Page of EventRow; an export is every row, bounded): by
    kind prefix, family (the kind's first word: customer, loan, user…), who acted (user name), record
    ("customer:42" or "customer"), and a period [since, until). Newest first unless the listing sorts otherwise."""
    from creditplan.common.listing import paginate

    if not may(actor, Perm.AUDIT_VIEW):
        raise Forbidden("only auditors and administrators may search the audit trail")
    qs = Event.objects.all()
    if kind:
        qs = qs.filter(kind__startswith=kind.strip())
    if family:
        qs = qs.filter(kind__startswith=family.strip() + ".")
    if who:
        qs = qs.filter(actor_name=who.strip())
    if subject:
        stype, _, sid = subject.strip().partition(":")
        qs = qs.filter(subject_type=stype)
        if sid:
            qs = qs.filter(subject_id=sid)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    column = EVENT_SORTS.get(listing.sort, "seq")
    order = [f"-{column}" if listing.descending else column]
    if column != "seq":
        order.append("-seq")
    page = paginate(qs.order_by(*order).only("seq", "occurred_at", "actor_name", "kind", "subject_type",
                                             "subject_id", "leaf_hash", "entry"), listing)
    rows = [EventRow(e.seq, e.occurred_at, e.actor_name, e.kind, e.subject_type, e.subject_id, e.leaf_hash, e.entry)
            for e in page.items]
    return type(page)(items=rows, listing=page.listing, total=page.total)


def event_families() -> list[str]:
    """The first words of the event kinds on the log (customer, loan, user…), for the audit trail's filter."""
    kinds = Event.objects.values_list("kind", flat=True).distinct()
    return sorted({k.split(".", 1)[0] for k in kinds})

