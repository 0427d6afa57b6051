"""The policy version life-cycle and its four-eyes rule, on plain values.

draft ──validate (passes)──▶ validated ──submit──▶ submitted ──approve (someone else)──▶ published ──▶ retired

Editing a draft or validated version sends it back to draft (its validation no longer describes it); a
submitted version is frozen until approved or sent back; a published version is never edited — editing it
starts a new draft. Publishing a version retires the one published before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PolicyStatus(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    RETIRED = "retired"


_NEXT: dict[PolicyStatus, frozenset[PolicyStatus]] = {
    PolicyStatus.DRAFT: frozenset({PolicyStatus.VALIDATED, PolicyStatus.RETIRED}),
    PolicyStatus.VALIDATED: frozenset({PolicyStatus.VALIDATED, PolicyStatus.SUBMITTED, PolicyStatus.DRAFT,
                                       PolicyStatus.RETIRED}),
    PolicyStatus.SUBMITTED: frozenset({PolicyStatus.PUBLISHED, PolicyStatus.DRAFT}),
    PolicyStatus.PUBLISHED: frozenset({PolicyStatus.RETIRED}),
    PolicyStatus.RETIRED: frozenset(),
}


@dataclass(frozen=True)
class VersionFacts:
    status: PolicyStatus
    author_id: int | None
    validation_ok: bool
    examples_failed: int = 0
    submitted_by_id: int | None = None


def transition_problem(facts: VersionFacts, target: PolicyStatus, actor_id: int | None) -> str | None:
    """Why `actor_id` may not move the version to `target`, or None when the move is allowed."""
    if target not in _NEXT[facts.status]:
        return f"a {facts.status.value} policy version cannot become {target.value}"
    if target is PolicyStatus.VALIDATED and not facts.validation_ok:
        return "the policy failed validation; fix the errors in the report first"
    if target is PolicyStatus.SUBMITTED:
        if not facts.validation_ok:
            return "only a policy that passed validation can be submitted for approval"
        if facts.examples_failed:
            return f"{facts.examples_failed} example application(s) do not get their expected outcome"
    if target is PolicyStatus.PUBLISHED:
        if not facts.validation_ok:
            return "a policy that failed validation cannot be published"
        if actor_id is not None and actor_id in (facts.author_id, facts.submitted_by_id):
            return "four eyes: the author of a policy (or whoever submitted it) cannot approve it"
    return None


def editable(status: PolicyStatus) -> bool:
    return status in (PolicyStatus.DRAFT, PolicyStatus.VALIDATED)
