"""Ledger API (/api/v1/ledger): signed tree heads, RFC 9162 proofs, verification, the standalone verifier.

Hashes, signatures and keys are base64, proofs are lists of base64 hashes in RFC 9162 order; every response
is exactly what `python verifier.py …` reads, so an auditor can save it to a file and check it offline.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.responses import Status

from creditplan.core.errors import Conflict
from creditplan.ledger import services

router = Router(tags=["ledger"])


class TreeHeadOut(Schema):
    format: str
    id: int
    tree_size: int = Field(description="number of events covered (events 1 … tree_size)")
    timestamp: int = Field(description="milliseconds since 1970-01-01 UTC (RFC 9162 TreeHeadDataV2.timestamp)")
    issued_at: str
    root_hash: str = Field(description="RFC 9162 Merkle tree hash of the first tree_size events, base64")
    signature_algorithm: str
    signed_data: str
    signature: str = Field(description="Ed25519 over TLS-encoded TreeHeadDataV2, base64")
    key_id: str
    public_key: str = Field(description="for convenience only: check against the key you hold")
    issued_by: str
    reason: str


class TreeHeadList(Schema):
    format: str
    tree_heads: list[TreeHeadOut]


class InclusionProofOut(Schema):
    format: str
    seq: int
    leaf_index: int = Field(description="seq − 1")
    tree_size: int
    leaf_hash: str
    inclusion_path: list[str] = Field(description="RFC 9162 §2.1.3 audit path, deepest sibling first, base64")
    root_hash: str
    entry: str = Field(description="the event's canonical JSON; SHA-256(0x00 ‖ UTF-8 entry) = leaf_hash")
    tree_head: TreeHeadOut | None = Field(description="the signed head of this tree size, when one was issued")


class ConsistencyProofOut(Schema):
    format: str
    tree_size_1: int
    tree_size_2: int
    root_hash_1: str
    root_hash_2: str
    consistency_path: list[str] = Field(description="RFC 9162 §2.1.4 consistency proof, base64")
    tree_head_1: TreeHeadOut | None
    tree_head_2: TreeHeadOut | None


class FindingOut(Schema):
    seq: int | None
    subject: str
    reason: str


class VerificationOut(Schema):
    ok: bool
    events_checked: int
    tree_size: int
    heads_checked: int
    records_checked: int
    duration_s: float
    run_id: int | None
    first: FindingOut | None = Field(description="the first bad entry (lowest seq), if any")
    findings: list[FindingOut]


class PublicKeyOut(Schema):
    algorithm: str
    public_key: str
    key_id: str


def _actor(request: HttpRequest) -> Any:
    return request.auth


@router.get("/tree-heads/latest", response=TreeHeadOut, summary="The latest signed tree head")
def latest_tree_head(request: HttpRequest) -> dict[str, Any]:
    return services.export_tree_heads(_actor(request))


@router.get("/tree-heads", response=TreeHeadList, summary="Signed tree heads, oldest first")
def list_tree_heads(request: HttpRequest, limit: int = 100) -> dict[str, Any]:
    heads = services.tree_heads(_actor(request), limit=max(1, min(limit, 10_000)))
    return {"format": "creditplan-ledger/tree-heads/v1", "tree_heads": [h.as_dict() for h in heads]}


@router.post("/tree-heads", response={201: TreeHeadOut},
             summary="Integrate new events and issue a signed tree head (administrators, operations, auditors)")
def issue_tree_head(request: HttpRequest, reason: str = "manual") -> Status:
    """`reason` (query): schedule, close, manual … No body, so the audit page's HTMX button can post it."""
    head = services.issue_tree_head(_actor(request), reason=reason)
    return Status(201, head.as_dict())


@router.get("/proofs/inclusion/{seq}", response=InclusionProofOut,
            summary="RFC 9162 inclusion proof of event `seq` (default tree size: the latest signed head)")
def inclusion_proof(request: HttpRequest, seq: int, tree_size: int | None = None) -> dict[str, Any]:
    return services.inclusion_proof(_actor(request), seq, tree_size=tree_size).as_dict()


@router.get("/proofs/consistency", response=ConsistencyProofOut,
            summary="RFC 9162 consistency proof between two tree sizes (second defaults to the latest head)")
def consistency_proof(request: HttpRequest, first: int, second: int | None = None) -> dict[str, Any]:
    return services.consistency_proof(_actor(request), first, second).as_dict()


@router.post("/verifications", response=VerificationOut,
             summary="Verify the whole ledger now (auditors, administrators); the run is recorded")
def verify(request: HttpRequest) -> dict[str, Any]:
    """One verification at a time in this process (issue 20): a second request while one runs is answered 409
    `verification_running` at once instead of checking the whole ledger twice."""
    actor = _actor(request)
    if not _verifying.acquire(blocking=False):
        raise Conflict("a verification of the ledger is already running: wait for its result",
                       code="verification_running")
    try:
        return services.verify_ledger(actor).as_dict()
    finally:
        _verifying.release()


_verifying = threading.Lock()


@router.get("/public-key", response=PublicKeyOut, summary="The ledger's Ed25519 public key")
def public_key(request: HttpRequest) -> dict[str, Any]:
    health = services.ledger_health(_actor(request))
    return {"algorithm": "ed25519", "public_key": health.public_key, "key_id": health.key_id}


@router.get("/verifier.py", summary="The standalone verifier (one Python file, standard library only)",
            response={200: str}, openapi_extra={"responses": {200: {"content": {"text/x-python": {}}}}})
def verifier_file(request: HttpRequest) -> HttpResponse:
    services.ledger_health(_actor(request))  # permission check
    response = HttpResponse(services.verifier_source(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verifier.py"'
    return response
