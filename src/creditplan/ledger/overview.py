"""The auditor's overview: what the audit page and `GET /api/v1/ledger/public-key` show — the ledger's size, the
latest signed tree heads, the last verification, the public key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from creditplan.core.access import Actor
from creditplan.ledger.keys import public_key
from creditplan.ledger.models import Event, SignedTreeHead, VerificationRun
from creditplan.ledger.permissions import require_reader
from creditplan.ledger.tree import TreeHead, b64, head_view, tree_state
from creditplan.ledger.verifier import key_id as _key_id


@dataclass(frozen=True)
class VerificationSummary:
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    actor: str
    ok: bool
    events_checked: int
    heads_checked: int
    records_checked: int
    first_bad_seq: int | None
    first_problem: str
    duration_ms: int


@dataclass(frozen=True)
class LedgerHealth:
    events: int
    integrated: int
    latest_head: TreeHead | None
    previous_head: TreeHead | None
    heads: int
    last_verification: VerificationSummary | None
    public_key: str
    key_id: str


def last_verification(actor: Actor | None = None) -> VerificationSummary | None:
    require_reader(actor)
    r = VerificationRun.objects.order_by("-id").first()
    if r is None:
        return None
    return VerificationSummary(r.pk, r.started_at, r.finished_at, r.actor_name, r.ok, int(r.events_checked),
                               r.heads_checked, r.records_checked, r.first_bad_seq, r.first_problem, r.duration_ms)


def ledger_health(actor: Actor | None = None) -> LedgerHealth:
    """What the audit page shows: size, the latest signed head, the last verification, the public key."""
    require_reader(actor)
    last_two = list(SignedTreeHead.objects.order_by("-id")[:2])
    pub = public_key()
    return LedgerHealth(
        events=Event.objects.count(), integrated=tree_state()[0],
        latest_head=head_view(last_two[0]) if last_two else None,
        previous_head=head_view(last_two[1]) if len(last_two) > 1 else None,
        heads=SignedTreeHead.objects.count(), last_verification=last_verification(actor),
        public_key=b64(pub), key_id=_key_id(pub),
    )

