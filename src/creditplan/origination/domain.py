"""The application's life as plain data: its states, the transitions allowed between them, and the
approval rules (maker-checker, two approvals above a threshold). No Django: property- and table-tested.

Why an explicit table: an application is a regulated record. Every change of state must be one the bank's
procedure allows, named, and recorded with who, when and why; a table is what an auditor can read and what a
test can enumerate (every pair not in it is refused).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from creditplan.core.errors import Conflict, ValidationError


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REFERRED = "referred"
    DECLINED = "declined"
    INFO_REQUESTED = "info_requested"
    CONTRACT_OFFERED = "contract_offered"
    SIGNED = "signed"
    READY_TO_DISBURSE = "ready_to_disburse"
    DISBURSED = "disbursed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Channel(StrEnum):
    WEB = "web"  # the customer, online (mobile-friendly page)
    API = "api"  # a mobile app or a partner, through the JSON API
    BRANCH = "branch"  # a loan officer at the branch


# What may follow each state. The automated decision moves a submitted application; a reviewer moves a
# referred one; later steps (contract, signature, disbursement) belong to issue 6 and the loans domain.
_FORWARD: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.SUBMITTED}),
    Status.SUBMITTED: frozenset({Status.APPROVED, Status.REFERRED, Status.DECLINED}),
    Status.REFERRED: frozenset({Status.APPROVED, Status.DECLINED, Status.INFO_REQUESTED}),
    Status.INFO_REQUESTED: frozenset({Status.REFERRED}),  # the customer answered: back to the queue
    Status.APPROVED: frozenset({Status.CONTRACT_OFFERED}),
    Status.CONTRACT_OFFERED: frozenset({Status.SIGNED}),
    Status.SIGNED: frozenset({Status.READY_TO_DISBURSE}),
    Status.READY_TO_DISBURSE: frozenset({Status.DISBURSED}),
}
TERMINAL: frozenset[Status] = frozenset({Status.DECLINED, Status.DISBURSED, Status.WITHDRAWN, Status.EXPIRED})
OPEN: frozenset[Status] = frozenset(set(Status) - TERMINAL)
# withdrawn / expired from any open state
TRANSITIONS: dict[Status, frozenset[Status]] = {
    s: frozenset(_FORWARD.get(s, frozenset()) | ({Status.WITHDRAWN, Status.EXPIRED} if s in OPEN else set()))
    for s in Status
}
# States in which the credit-plan quota may be held for the application (released when it leaves them
# other than by disbursement).
HOLDS_QUOTA: frozenset[Status] = frozenset({Status.APPROVED, Status.CONTRACT_OFFERED, Status.SIGNED,
                                            Status.READY_TO_DISBURSE})


class IllegalTransition(Conflict):
    default_code = "illegal_transition"


def allowed(current: Status | str, target: Status | str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def transition(current: Status | str, target: Status | str) -> Status:
    """The new state, or IllegalTransition naming both states and what would have been allowed."""
    cur, tgt = Status(current), Status(target)
    if tgt not in TRANSITIONS[cur]:
        nexts = ", ".join(sorted(s.value for s in TRANSITIONS[cur])) or "nothing (final state)"
        raise IllegalTransition(f"an application that is {cur.value} cannot become {tgt.value} "
                                f"(allowed: {nexts})", extra={"from": cur.value, "to": tgt.value})
    return tgt


def outcome_status(outcome: str) -> Status:
    """The state an automated decision's outcome puts a submitted application in."""
    try:
        return {"approve": Status.APPROVED, "refer": Status.REFERRED, "decline": Status.DECLINED}[outcome]
    except KeyError:
        raise ValueError(f"unknown decision outcome {outcome!r}") from None


# Inputs every application carries whatever the product's policy asks: the purpose of the loan (a loan's use
# must be stated and is checked after disbursement). Fields the decision rules need are the policy's business:
# a missing one refers the case with that reason rather than refusing the submission.
REQUIRED_INPUTS: tuple[str, ...] = ("loan_purpose",)


# --- reason codes ---------------------------------------------------------------------------------------
# Stable codes (the pages translate them); "other" needs a note saying what.
APPROVE_REASONS: tuple[str, ...] = ("within_policy", "compensating_factors", "income_verified", "existing_customer",
                                    "other")
DECLINE_REASONS: tuple[str, ...] = ("insufficient_income", "high_debt_burden", "credit_history",
                                    "incomplete_information", "policy_exception_refused", "fraud_suspected",
                                    "other")
INFO_REASONS: tuple[str, ...] = ("income_proof", "id_document", "employment", "bank_statements", "other")
REASONS: dict[str, tuple[str, ...]] = {"approve": APPROVE_REASONS, "decline": DECLINE_REASONS,
                                       "request_info": INFO_REASONS}


def clean_reason(action: str, code: str | None, note: str | None) -> tuple[str, str]:
    """(reason code, note) for a reviewer's action, refusing an unknown code or "other" without a note."""
    code = (code or "").strip()
    note = (note or "").strip()[:500]
    allowed_codes = REASONS[action]
    if code not in allowed_codes:
        raise ValidationError(f"reason_code must be one of {', '.join(allowed_codes)}", field="reason_code",
                              code="unknown_reason_code")
    if code == "other" and not note:
        raise ValidationError("say why in the note when the reason is 'other'", field="note", code="required")
    return code, note


# --- approvals ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PriorApproval:
    user_id: int
    decision: str  # approve | decline


def maker_checker_problem(user_id: int, *, entered_by: int | None, reviewed_by: Iterable[int]) -> str | None:
    """Why this user may not decide the case (four eyes), or None."""
    if entered_by is not None and user_id == entered_by:
        return "maker-checker: you entered this application, so someone else must approve it"
    if user_id in set(reviewed_by):
        return "maker-checker: you reviewed this application, so someone else must approve it"
    return None


@dataclass(frozen=True)
class ApprovalStep:
    final: bool  # this approval completes the case
    count: int  # approvals on record after this one
    required: int


def next_approval(user_id: int, prior: Iterable[PriorApproval], required: int) -> ApprovalStep:
    """Add one approval. Above the threshold a case needs `required` approvals from different people; the
    same person approving twice is refused."""
    approvers = [p.user_id for p in prior if p.decision == "approve"]
    if user_id in approvers:
        raise Conflict("you have already approved this application; a second, different approver is needed",
                       code="already_approved")
    required = max(1, int(required))
    count = len(approvers) + 1
    return ApprovalStep(final=count >= required, count=count, required=required)


# --- references and idempotency ---------------------------------------------------------------------------

def new_ref(today: dt.date) -> str:
    """AP + date + 10 random digits (unguessable, sortable by day); uniqueness is the database's job."""
    return f"AP{today:%Y%m%d}{secrets.randbelow(10**10):010d}"


def idempotency_scope(actor_id: int, key: str) -> str:
    """Keys are per client: the same key from two users names two different requests."""
    return f"{actor_id}:{key}"


def normalised_key(key: str | None) -> str | None:
    key = (key or "").strip()
    if not key:
        return None
    if len(key) > 100 or not key.isprintable():
        raise ValidationError("Idempotency-Key must be 1-100 printable characters", field="idempotency_key",
                              code="idempotency_key_format")
    return key
