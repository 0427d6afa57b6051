"""The application's life as plain data: its states, the transitions allowed between them, and the
approval rules (maker-checker, two approvals above a threshold). No Django: property- and table-tested.

Why an explicit table: an application is a regulated record. Every change of state must be one the bank's
procedure allows, named, and recorded with who, when and why; a table is what an auditor can read and what a
test can enumerate (every pair not in it is refused).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from creditplan.core.errors import Conflict, FieldProblem, ValidationError


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


# --- what an applicant states, and where every other input comes from ------------------------------------

#: The only inputs an applicant may state — exactly what the online form, the branch form and the API collect
#: (money in fen): the purpose, their income and existing debt payments, employment, housing, dependants. Staff
#: entering an application at the branch are held to the same list: what the bank itself knows belongs on the
#: customer record (checked and audited there), not on an application. Anything else is refused by name.
STATED_INPUTS: tuple[str, ...] = ("loan_purpose", "monthly_income_minor", "existing_debt_service_minor",
                                  "employment", "months_employed", "housing", "dependants")
#: Bounds of what an applicant states (issue 20: a monthly income of 10^26 yuan was accepted and approved): a
#: monthly figure in fen at most 100,000,000,000 yuan — the customer record's bound (customers.domain
#: MAX_MONTHLY_INCOME) —, months with the employer and dependants as whole numbers in a human range.
MAX_STATED_MINOR = 100_000_000_000 * 100
MAX_MONTHS_EMPLOYED = 900
MAX_DEPENDANTS = 20
_STATED_BOUNDS = {"monthly_income_minor": MAX_STATED_MINOR, "existing_debt_service_minor": MAX_STATED_MINOR,
                  "months_employed": MAX_MONTHS_EMPLOYED, "dependants": MAX_DEPENDANTS}


def stated_bounds_problems(inputs: dict[str, object]) -> list[FieldProblem]:
    """A problem for each stated figure beyond its bound (money in fen), a whole number or its digits as text;
    a value that is no number at all is left to the decision (which reads it as unreadable and refers the case)."""
    problems = []
    for name, most in _STATED_BOUNDS.items():
        value = inputs.get(name)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 40:
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= most:
            problems.append(FieldProblem(f"inputs.{name}", f"{name} must be from 0 to {most}", "input_out_of_range"))
    return problems


class Source(StrEnum):
    """Where a decision input came from."""

    STATED = "stated"  # the applicant (or their loan officer for them) stated it
    RECORDS = "records"  # the bank's own records: the customer file
    BUREAU = "bureau"  # the credit bureau's answer (its flags, its blacklist, its file)
    DERIVED = "derived"  # worked out by the bank from several sources (an overdue: its loan book or the bureau)


HELD_BY_BANK: frozenset[str] = frozenset({Source.RECORDS, Source.BUREAU, Source.DERIVED})


def not_allowed(name: str) -> FieldProblem:
    return FieldProblem(f"inputs.{name}", f"{name} cannot be stated by the applicant: the bank takes it from its own "
                                          f"records or the credit bureau. An applicant may state only "
                                          f"{', '.join(STATED_INPUTS)}.", "input_not_allowed")


def undeclared(names: Iterable[str]) -> list[FieldProblem]:
    """A problem for each input name an applicant may not state (every one at once)."""
    return [not_allowed(n) for n in names if n not in STATED_INPUTS]


@dataclass(frozen=True)
class Gathered:
    """The decision's inputs and, for each, where it came from (a Source value)."""

    inputs: dict[str, Any]
    sources: dict[str, str]


def said_yes(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value > 0
    return isinstance(value, str) and value.strip().lower() in ("true", "yes", "y", "1", "是")


def merge_inputs(stated: Mapping[str, Any], records: Mapping[str, Any], bureau_file: Mapping[str, Any],
                 bureau_answer: Mapping[str, Any], overdue_here: bool) -> Gathered:
    """The decision's inputs from every source. Where two hold the same name the bureau's answer (flags,
    blacklist) wins, then the bureau's file, then the bank's records; the applicant's statement is used only where
    none of them holds that name, and only for the names an applicant may state. `existing_overdue` is the bank's
    loan book or'ed with the bureau: nobody can state an overdue away."""
    inputs: dict[str, Any] = {}
    sources: dict[str, str] = {}
    own = {k: v for k, v in stated.items() if k in STATED_INPUTS}
    for layer, source in ((own, Source.STATED), (records, Source.RECORDS), (bureau_file, Source.BUREAU),
                          (bureau_answer, Source.BUREAU)):
        for key, value in layer.items():
            inputs[key] = value
            sources[key] = source.value
    inputs["existing_overdue"] = bool(overdue_here or said_yes(bureau_answer.get("existing_overdue"))
                                      or said_yes(bureau_file.get("existing_overdue")))
    sources["existing_overdue"] = Source.DERIVED.value
    return Gathered(inputs, sources)


def requestable(inputs: Mapping[str, Any], sources: Mapping[str, str]) -> tuple[str, ...]:
    """The stated inputs a reviewer may ask the applicant for: those the bank does not hold for this case (a name
    whose source was not recorded — an application from before sources were kept — counts as held)."""
    return tuple(n for n in STATED_INPUTS if n not in inputs or sources.get(n) == Source.STATED)


def clean_requested(names: Any, inputs: Mapping[str, Any], sources: Mapping[str, str]) -> tuple[str, ...]:
    """The inputs a reviewer asks for, checked: a list of names an applicant may state and the bank does not
    already hold for this case."""
    if names is None:
        return ()
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValidationError("inputs must be a list of the applicant fields asked for", field="inputs",
                              code="inputs_format")
    wanted = list(dict.fromkeys(str(n).strip() for n in names if str(n).strip()))
    open_ = requestable(inputs, sources)
    problems = [not_allowed(n) if n not in STATED_INPUTS else FieldProblem(
        f"inputs.{n}", f"{n} comes from the bank's records or the credit bureau for this application; the applicant "
                       f"cannot be asked to change it.", "input_held_by_bank")
        for n in wanted if n not in open_]
    if problems:
        raise ValidationError.collect(problems)
    return tuple(wanted)


def answer_problems(added: Mapping[str, Any], requested: Iterable[str], inputs: Mapping[str, Any],
                    sources: Mapping[str, str]) -> list[FieldProblem]:
    """What is wrong with an applicant's answer to a request for information: a name an applicant may not state,
    one the reviewer did not ask for, or one the bank holds (records, bureau) — each named."""
    asked = list(requested)
    open_ = requestable(inputs, sources)
    problems: list[FieldProblem] = []
    for name in added:
        if name not in STATED_INPUTS:
            problems.append(not_allowed(name))
        elif name not in open_:
            problems.append(FieldProblem(f"inputs.{name}", f"{name} comes from the bank's records or the credit "
                                                           f"bureau for this application and cannot be changed by "
                                                           f"the applicant.", "input_held_by_bank"))
        elif name not in asked:
            problems.append(FieldProblem(f"inputs.{name}", f"{name} was not asked for: the reviewer asked for "
                                                           f"{', '.join(asked) or 'no figures (send a note)'}.",
                                         "input_not_requested"))
    return problems


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
