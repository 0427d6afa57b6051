"""The four-eyes queue of loan changes (maker-checker): one user proposes a change of a loan with a reason, a
second user with Perm.LOAN_CHANGE_APPROVE decides it. Each kind of change (a manual classification, a
restructuring, a write-off…) registers a `ChangeKind`: who may propose it, how its parameters are checked (at
the proposal AND again at the decision, since the loan may have moved in between) and what runs on approval —
with the CHECKER as actor, inside `decide`'s transaction, so that an error leaves nothing written.

Kinds register at import; the loans app imports the modules that register (apps.LoansConfig.ready).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, LoanActivity, LoanChangeRequest
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["ChangeKind", "clean_reason", "decide", "get_request", "kind_of", "kinds", "pending", "propose",
           "register"]

MAX_REASON = 300


@dataclass(frozen=True)
class ChangeKind:
    name: str  # "classification", "restructure", "write_off", ...
    label: tuple[str, str]  # (English, 中文) for pages
    propose_perm: Perm
    check: Callable[[Actor, Loan, dict[str, Any]], dict[str, Any]]  # raise core.errors; return cleaned params
    execute: Callable[[Actor, LoanChangeRequest], dict[str, Any]]  # the checker's; result stored on the request


_KINDS: dict[str, ChangeKind] = {}


def register(kind: ChangeKind) -> None:
    """Make a kind of change available (re-registering a name replaces it: module reloads in tests)."""
    _KINDS[kind.name] = kind


def kinds() -> dict[str, ChangeKind]:
    return dict(_KINDS)


def kind_of(name: str) -> ChangeKind:
    try:
        return _KINDS[str(name)]
    except KeyError:
        raise ValidationError(f"kind must be one of {', '.join(sorted(_KINDS))}, got {name!r}", field="kind",
                              code="invalid_kind") from None


def clean_reason(text: Any, field: str = "reason", *, required: bool = True) -> str:
    """The reason (or note) of a loan change: trimmed, required unless said otherwise, at most 300 characters."""
    why = str(text or "").strip()
    if required and not why:
        raise ValidationError("a loan change needs a reason", field=field, code="required")
    if len(why) > MAX_REASON:
        raise ValidationError(f"{field}: at most {MAX_REASON} characters", field=field, code="too_long")
    return why


def _activity(loan: Loan, kind: str, detail: dict[str, Any]) -> None:
    LoanActivity.objects.create(loan=loan, business_date=loans.business_date(), kind=kind, detail=detail)


def propose(actor: Actor, kind: str, loan_ref: Any, *, params: dict[str, Any], reason: str) -> LoanChangeRequest:
    """A pending change of a loan. Refused: an unknown kind, no reason, a loan outside the actor's branches
    (NotFound, as if it did not exist), parameters the kind's check refuses, a change of the same kind already
    pending for the loan (Conflict `change_pending`)."""
    spec = kind_of(kind)
    org.require(actor, spec.propose_perm)
    why = clean_reason(reason)
    if not isinstance(params, dict):
        raise ValidationError("params must be an object", field="params", code="invalid")
    with transaction.atomic():
        loan = loans.loan_for_update(loan_ref)
        org.require_in_scope(actor, loan.branch, message=f"no loan {loan_ref}", code="unknown_loan", field="loan")
        cleaned = spec.check(actor, loan, dict(params))
        if LoanChangeRequest.objects.filter(loan=loan, kind=spec.name, status="pending").exists():
            raise Conflict(f"a {spec.name} change of loan {loan.ref} is already waiting for a decision",
                           field="kind", code="change_pending")
        try:
            with transaction.atomic():
                req = LoanChangeRequest.objects.create(loan=loan, kind=spec.name, params=cleaned, reason=why,
                                                       proposed_by=actor)
        except IntegrityError:
            raise Conflict(f"a {spec.name} change of loan {loan.ref} is already waiting for a decision",
                           field="kind", code="change_pending") from None
        _activity(loan, "change_proposed", {"request": req.pk, "change": spec.name, "params": cleaned,
                                            "reason": why, "by": actor.username})
        ledger.append(actor, "loan.change_proposed", "loan", loan.ref, {
            "request": req.pk, "kind": spec.name, "params": cleaned, "reason": why})
    return req


def get_request(actor: Actor, request_id: Any) -> LoanChangeRequest:
    """One request, in the actor's scope (another branch's: NotFound, as if it did not exist)."""
    try:
        pk = int(str(request_id))
        req = LoanChangeRequest.objects.select_related("loan", "loan__branch", "proposed_by", "decided_by").get(pk=pk)
    except (ValueError, LoanChangeRequest.DoesNotExist):
        raise NotFound(f"no loan change request {request_id}", field="request", code="unknown_request") from None
    org.require_in_scope(actor, req.loan.branch, message=f"no loan change request {request_id}",
                         code="unknown_request", field="request")
    return req


def decide(actor: Actor, request_id: int, *, approve: bool, note: str = "") -> LoanChangeRequest:
    """Approve or reject a pending change. Needs Perm.LOAN_CHANGE_APPROVE; the proposer may not decide their
    own change (Conflict `maker_checker`). On approval the kind's parameters are checked again against the loan
    as it is now and the change runs with the checker as actor; any refusal leaves nothing written."""
    org.require(actor, Perm.LOAN_CHANGE_APPROVE)
    if not isinstance(approve, bool):
        raise ValidationError("approve must be true or false", field="approve", code="invalid")
    text = clean_reason(note, "note", required=False)
    with transaction.atomic():
        req = get_request(actor, request_id)
        req = LoanChangeRequest.objects.select_for_update().select_related("loan", "proposed_by").get(pk=req.pk)
        if req.status != "pending":
            raise Conflict(f"loan change request {req.pk} was already {req.status}", field="request",
                           code="already_decided")
        if req.proposed_by_id == getattr(actor, "pk", None):
            raise Conflict("the user who proposed a loan change may not decide it (four eyes)", field="request",
                           code="maker_checker")
        spec = kind_of(req.kind)
        result: dict[str, Any] = {}
        if approve:
            loan = loans.loan_for_update(req.loan_id)
            req.params = spec.check(actor, loan, dict(req.params))
            result = spec.execute(actor, req) or {}
        req.status = "approved" if approve else "rejected"
        req.decided_by = actor
        req.decided_at = timezone.now()
        req.note = text
        req.result = result
        req.save()
        _activity(req.loan, "change_decided", {"request": req.pk, "change": req.kind, "status": req.status,
                                               "note": text, "by": actor.username,
                                               "proposed_by": req.proposed_by.username})
        ledger.append(actor, "loan.change_decided", "loan", req.loan.ref, {
            "request": req.pk, "kind": req.kind, "status": req.status, "note": text,
            "proposed_by": req.proposed_by.username, "result": result})
    return req


def pending(actor: Actor, *, loan: Any = None) -> list[LoanChangeRequest]:
    """Pending changes in the actor's branches (of one loan, given a Loan or its ref), oldest first."""
    if actor is None or getattr(actor, "role", "") == "customer":
        return []
    org.require(actor, Perm.LOAN_VIEW)
    qs = org.scope_to_branches(actor, LoanChangeRequest.objects.filter(status="pending"), "loan__branch")
    if loan is not None:
        qs = qs.filter(loan__ref=loan.ref if isinstance(loan, Loan) else str(loan))
    return list(qs.select_related("loan", "proposed_by").order_by("proposed_at", "id"))
