"""Model governance rules without Django: the version life-cycle and champion/challenger routing.

Why pure: these are the controls a model-risk reviewer checks (no self-approval, nothing becomes
champion without a validation report and an independent approval); they are tested exhaustively on
plain values, and the service layer only applies them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class ModelStatus(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"
    APPROVED = "approved"
    CHAMPION = "champion"
    RETIRED = "retired"


_NEXT: dict[ModelStatus, frozenset[ModelStatus]] = {
    ModelStatus.DRAFT: frozenset({ModelStatus.VALIDATED, ModelStatus.RETIRED}),
    ModelStatus.VALIDATED: frozenset({ModelStatus.APPROVED, ModelStatus.RETIRED}),
    ModelStatus.APPROVED: frozenset({ModelStatus.CHAMPION, ModelStatus.RETIRED}),
    ModelStatus.CHAMPION: frozenset({ModelStatus.RETIRED}),
    ModelStatus.RETIRED: frozenset(),
}


@dataclass(frozen=True)
class VersionFacts:
    """What the rules need to know about a version."""

    status: ModelStatus
    author_id: int
    has_report: bool
    approved_by_id: int | None = None


def transition_problem(facts: VersionFacts, target: ModelStatus, actor_id: int) -> str | None:
    """Why `actor_id` may not move the version to `target`, or None when the move is allowed."""
    if target not in _NEXT[facts.status]:
        return f"a {facts.status.value} model cannot become {target.value}"
    if target is ModelStatus.VALIDATED and not facts.has_report:
        return "a model needs a validation report before it is validated"
    if target is ModelStatus.APPROVED:
        if actor_id == facts.author_id:
            return "four eyes: the author of a model cannot approve it"
        if not facts.has_report:
            return "a model needs a validation report before approval"
    if target is ModelStatus.CHAMPION:
        if not facts.has_report:
            return "a model needs a validation report before it becomes champion"
        if facts.approved_by_id is None or facts.approved_by_id == facts.author_id:
            return "a model needs an approval by someone other than its author before it becomes champion"
    return None


def route_bucket(key: str) -> int:
    """A stable bucket 0..99 for an application key, so the same applicant always meets the same model."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % 100


def use_challenger(key: str, challenger_pct: int) -> bool:
    if not 0 <= challenger_pct <= 100:
        raise ValueError("challenger share must be 0..100 %")
    return route_bucket(key) < challenger_pct
