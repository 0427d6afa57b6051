"""The ledger's one door: appending business events, reading them, the Merkle tree over them, signed tree heads,
proofs, verification. Every app calls it as `from creditplan.ledger import services as ledger; ledger.append(…)`.

What lives where (each module says why it works the way it does):

    append.py        append, append_many: numbering (gapless, in commit order) and writing events
    queries.py       a record's history, the auditor's search, the numbered stream system readers follow
    keys.py          the Ed25519 key that signs tree heads; the keys auditors trust
    tree.py          the node store (tiles, integrated lazily), signed tree heads, inclusion / consistency proofs
    verification.py  verify_ledger: everything recomputed from the events, records compared with their replay
    replay.py        the registry of record replays (an app registers its own from its AppConfig.ready())
    overview.py      the audit page's summary
    permissions.py   who may read the evidence and who may issue tree heads (core.access)
    sql.py           the hand-written statements, each with the benchmark that justifies it
"""

from __future__ import annotations

from creditplan.ledger import replay
from creditplan.ledger.append import EventSpec, append, append_many
from creditplan.ledger.keys import (
    SIGNING_KEY_ENV,
    TRUSTED_KEYS_ENV,
    public_key,
    signing_key,
    signing_key_configured,
    trusted_public_keys,
)
from creditplan.ledger.overview import LedgerHealth, VerificationSummary, last_verification, ledger_health
from creditplan.ledger.permissions import may_issue_tree_heads
from creditplan.ledger.queries import (
    EventRow,
    HistoryEntry,
    count_events,
    event_families,
    events_between,
    history,
    last_seq,
    list_events,
    search_events,
)
from creditplan.ledger.tree import (
    INTEGRATE_BATCH,
    ConsistencyProof,
    InclusionProof,
    TreeHead,
    _prove_inclusion,
    consistency_proof,
    export_tree_heads,
    inclusion_proof,
    integrate,
    issue_tree_head,
    latest_tree_head,
    tree_heads,
    verifier_source,
)
from creditplan.ledger.tree import fetch_tiles as _fetch_tiles
from creditplan.ledger.verification import Finding, VerificationReport, verify_ledger

# _fetch_tiles and _prove_inclusion: benchmarks/bench_ledger.py times the proof path below the service.
__all__ = [
    "INTEGRATE_BATCH", "SIGNING_KEY_ENV", "TRUSTED_KEYS_ENV", "ConsistencyProof", "EventRow", "EventSpec", "Finding",
    "HistoryEntry", "InclusionProof", "LedgerHealth", "TreeHead", "VerificationReport", "VerificationSummary",
    "_fetch_tiles", "_prove_inclusion", "append", "append_many", "consistency_proof", "count_events",
    "events_between", "export_tree_heads", "history", "inclusion_proof", "integrate", "issue_tree_head",
    "last_seq", "last_verification", "latest_tree_head", "ledger_health", "may_issue_tree_heads", "public_key",
    "replay", "search_events", "signing_key", "signing_key_configured", "tree_heads", "trusted_public_keys",
    "verifier_source", "verify_ledger",
    "event_families", "list_events",
]
