"""The review of a referred case: approve (within the approval authority, maker-checker, two approvers above
the product's threshold; the last approval reserves the plan quota), decline, ask the customer for more
information and their answer, withdraw, and expiry of cases left waiting.

Every use case checks the permission first, runs in one transaction, row-locks the application before it
changes state (two approvers at once leave exactly one outcome), records each transition (who, when, why)
and appends its ledger event last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, CreditplanError, Forbidden, ValidationError
from creditplan.core.money import Money
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.decisions import services as decisions
from creditplan.ledger import services as ledger
from creditplan.lines import services as lines
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role
from creditplan.origination import domain
from creditplan.origination.domain import Status
from creditplan.origination.models import Application, Approval, Transition
from creditplan.origination.services.records import (
    ApplicationView,
    application_for_update,
    application_view,
    base_query,
    move,
)
from creditplan.origination.services.submission import clean_inputs
from creditplan.plans import services as plans


class Refusal(str):
    """Why an action is not open to the actor: the refusal's (English) sentence, carrying its stable `code` and
    figures (`extra`) so that a page says it in its own language (issue 20)."""

    code: str = ""
    extra: dict[str, Any] = {}  # noqa: RUF012 — read-only default, replaced per instance

    def __new__(cls, message: str, code: str = "", extra: dict[str, Any] | None = None) -> Refusal:
        self = super().__new__(cls, message)
        self.code, self.extra = code, dict(extra or {})
        return self


def answer(check: Callable[[], object]) -> tuple[bool, str]:
    """Whether a check passes, and if not, why: (True, "") or (False, the refusal: its sentence, with its code) —
    for showing an action only to those who may take it (the case page, the queue)."""
    try:
        check()
    except CreditplanError as exc:
        return False, Refusal(exc.message, exc.code, exc.extra)
    return True, ""


def _decision_amount(a: Application) -> int:
    """What the approver puts their name to: the decision's approved amount, else the request."""
    return a.approved_amount_minor if a.approved_amount_minor else a.amount_minor


def _reviewers(a: Application) -> set[int]:
    ids = set(Transition.objects.filter(application=a, to_status=Status.INFO_REQUESTED, actor__isnull=False)
              .values_list("actor_id", flat=True))
    if a.reviewed_by_id:
        ids.add(a.reviewed_by_id)
    return ids


def approval_checks(actor: Actor, a: Application, action: str, *, already_mine: bool | None = None,
                    reviewers: set[int] | None = None, memo: dict[tuple, tuple[bool, str]] | None = None) -> None:
    """Raise the reason this actor may not approve / decline this case now; return quietly if they may.
    (The queue passes what it has read for all its rows at once: reviewers, approvals, and a memo of the
    authority answers, which depend on product, branch, amount and grade only.)"""
    org.require(actor, Perm.APPLICATION_APPROVE)
    if a.status != Status.REFERRED:
        raise Conflict(f"application {a.ref} is {a.status}; only a referred case can be decided",
                       code="not_in_review")
    problem = domain.maker_checker_problem(actor.pk, entered_by=a.entered_by_id,
                                           reviewed_by=_reviewers(a) if reviewers is None else reviewers)
    if problem:
        raise Forbidden(problem, code="maker_checker")
    key = (a.product, a.branch.code, _decision_amount(a), a.grade)
    if memo is not None and key in memo:
        ok, why = memo[key]
    else:
        ok, why = decisions.may_approve(actor, product=a.product, branch_code=a.branch.code,
                                        amount_minor=_decision_amount(a), grade=a.grade)
        if memo is not None:
            memo[key] = (ok, why)
    if not ok:
        raise Forbidden(f"not enough approval authority: {why}" if why else "not enough approval authority",
                        code="insufficient_authority",  # extra: what the page says (issue 20 §1)
                        extra={"amount_minor": _decision_amount(a), "grade": a.grade or "",
                               "required_level": a.required_level or "", "role": actor.role})
    if action == "approve":
        mine = already_mine if already_mine is not None else a.approvals.filter(user=actor, decision="approve").exists()
        if mine:
            raise Conflict("you have already approved this application; a second, different approver is needed",
                           code="already_approved")


def review_checks(actor: Actor, a: Application) -> None:
    org.require(actor, Perm.APPLICATION_REVIEW)
    if a.status != Status.REFERRED:
        raise Conflict(f"application {a.ref} is {a.status}; only a referred case can be sent back for information",
                       code="not_in_review")


@transaction.atomic
def approve(actor: Actor, ref: str, reason_code: str, note: str = "") -> ApplicationView:
    """Approve a referred case. Refused (Forbidden, with the reason) without enough authority or against
    maker-checker. Above the threshold the first approval is recorded and the case stays in the queue for
    a second, different approver; the last approval reserves the credit-plan quota (a hard limit refuses)."""
    org.require(actor, Perm.APPLICATION_APPROVE)
    code, note = domain.clean_reason("approve", reason_code, note)
    a = application_for_update(actor, ref)
    approval_checks(actor, a, "approve")
    prior = [domain.PriorApproval(user_id, d) for user_id, d in a.approvals.values_list("user_id", "decision")]
    step = domain.next_approval(actor.pk, prior, a.required_approvals)
    now = timezone.now()
    level = _authority_level(actor)
    Approval.objects.create(application=a, user=actor, decision="approve", reason_code=code, note=note, level=level)
    if not step.final:
        a.version += 1
        a.save(update_fields=["version", "updated_at"])
        ledger.append(actor, "application.approval_recorded", "application", a.ref, {
            "approvals": step.count, "required": step.required, "reason_code": code, "note": note})
        return application_view(a, approvals=step.count)
    # the customer's credit line first (a frozen line or no room refuses the approval), then the plan's quota
    lines.reserve(actor, customer_id=a.customer_id, application_ref=a.ref, product=a.product,
                  amount_minor=_decision_amount(a), currency=a.currency)
    if a.quota_status not in ("reserved", "escalated"):
        a.quota_status = _reserve(actor, a)
    a.decided_at = now
    move(a, Status.APPROVED, actor, f"approved ({code}){': ' + note if note else ''}", now,
          fields=["quota_status", "decided_at"])
    ledger.append(actor, "application.approved", "application", a.ref, {
        "approvals": step.count, "required": step.required, "reason_code": code, "note": note,
        "amount_minor": _decision_amount(a), "quota": a.quota_status})
    return application_view(a, approvals=step.count)


def _authority_level(actor: Actor) -> str:
    """The authority the approver acts under, for the approval record ("" when it cannot be said)."""
    try:
        return str(decisions.authority_level(actor) or "")[:30]
    except CreditplanError:
        return ""


@dataclass(frozen=True)
class _Approval:
    """The principal that reserves plan quota for a case a person has just approved within their authority: the
    approval is the permission (a head-office risk manager holding approval authority need not also hold the
    planners' reservation right). It carries the approver's name, so the reservation and its ledger event say
    who approved. Never exposed outside this module."""

    username: str
    role: str = "admin"
    pk: None = None
    branch_id: None = None
    branch: None = None
    is_authenticated: bool = True
    is_active: bool = True


def _reserve(actor: Actor, a: Application) -> str:
    """Hold the credit-plan quota for the approved amount. Hard limit: LimitExceeded (the approval is refused,
    with the reason). No active plan: nothing to track (as loans do)."""
    principal = actor if org.may(actor, Perm.QUOTA_RESERVE) else _Approval(actor.username)
    industry = (a.customer.industry_code or "")[:1].upper()
    region = (a.customer.region_code or "")[:2]
    # the plan segment the application was made under (its inputs, as the straight-through decision reserves it;
    # the loan is booked under the same one: documents.contracts.signed_for_payout, loans.disbursement)
    segment = str((a.inputs or {}).get("segment") or "")
    known_segments = {c for c, _ in plans.dimension_codes("segment")} if segment else set()
    try:
        r = plans.reserve_quota(principal, application_ref=a.ref, amount=Money(_decision_amount(a)),
                                branch=a.branch.code, product=a.product,
                                industry=industry if industry in INDUSTRY_SECTIONS else "",
                                region=region if region in PROVINCES else "",
                                segment=segment if segment in known_segments else "", customer_ref=str(a.customer_id))
    except Conflict as exc:
        if exc.code == "no_active_plan":
            return "untracked"
        raise
    return r.status


@transaction.atomic
def decline(actor: Actor, ref: str, reason_code: str, note: str = "") -> ApplicationView:
    """Decline a referred case (one decline with authority ends it, whatever the approvals required)."""
    org.require(actor, Perm.APPLICATION_APPROVE)
    code, note = domain.clean_reason("decline", reason_code, note)
    a = application_for_update(actor, ref)
    approval_checks(actor, a, "decline")
    now = timezone.now()
    Approval.objects.create(application=a, user=actor, decision="decline", reason_code=code, note=note,
                            level=_authority_level(actor))
    a.decided_at = now
    move(a, Status.DECLINED, actor, f"declined ({code}){': ' + note if note else ''}", now, fields=["decided_at"])
    ledger.append(actor, "application.declined", "application", a.ref, {"reason_code": code, "note": note})
    return application_view(a)


@transaction.atomic
def request_info(actor: Actor, ref: str, reason_code: str, note: str = "", inputs: Any = None
                 ) -> ApplicationView:
    """Send a referred case back to the customer for more information. The reviewer may not then approve it.
    `inputs`: the applicant fields the customer is to send (names an applicant may state and the bank does not
    hold for this case); the answer may carry those and nothing else."""
    org.require(actor, Perm.APPLICATION_REVIEW)
    code, note = domain.clean_reason("request_info", reason_code, note)
    a = application_for_update(actor, ref)
    review_checks(actor, a)
    asked = domain.clean_requested(inputs, a.inputs or {}, a.input_sources or {})
    now = timezone.now()
    a.reviewed_by = actor
    a.requested_inputs = list(asked)
    move(a, Status.INFO_REQUESTED, actor, f"information requested ({code}){': ' + note if note else ''}", now,
          fields=["reviewed_by", "requested_inputs"])
    ledger.append(actor, "application.info_requested", "application", a.ref,
                  {"reason_code": code, "note": note, "inputs": list(asked)})
    return application_view(a)


def requestable_inputs(v: ApplicationView) -> tuple[str, ...]:
    """The applicant fields a reviewer may ask for on this case (those the bank does not hold)."""
    return domain.requestable(v.inputs, v.input_sources)


def may_act_for_customer(actor: Actor, a: Application) -> bool:
    if actor.role == Role.CUSTOMER:
        return org.may(actor, Perm.APPLICATION_APPLY) and a.customer.user_id == actor.pk
    return org.may(actor, Perm.APPLICATION_CREATE) and org.branch_in_scope(actor, a.branch)


@transaction.atomic
def provide_info(actor: Actor, ref: str, inputs: Any, note: str = "") -> ApplicationView:
    """The customer (or their loan officer) answers: the fields the reviewer asked for are added (as stated) and
    the case goes back to the queue. Any other field is refused by name, and so is a value the bank's records or
    the bureau hold for this case: an answer never overwrites them."""
    org.require(actor, Perm.APPLICATION_VIEW)
    a = application_for_update(actor, ref)
    if not may_act_for_customer(actor, a):
        raise Forbidden("only the customer or their loan officer can add information", code="permission_denied")
    if a.status != Status.INFO_REQUESTED:
        raise Conflict(f"application {a.ref} is {a.status}; no information was requested", code="not_info_requested")
    added = clean_inputs(inputs, declared_only=False)  # answer_problems names every field not allowed
    problems = domain.answer_problems(added, a.requested_inputs or [], a.inputs or {}, a.input_sources or {})
    if problems:
        raise ValidationError.collect(problems)
    if not added and not (note or "").strip():
        raise ValidationError("send the information asked for (inputs or a note)", field="inputs", code="required")
    a.inputs = {**(a.inputs or {}), **added}
    a.input_sources = {**(a.input_sources or {}), **{k: domain.Source.STATED.value for k in added}}
    now = timezone.now()
    move(a, Status.REFERRED, actor, f"information provided: {', '.join(sorted(added)) or (note or '').strip()}"[:500],
          now, fields=["inputs", "input_sources"])
    ledger.append(actor, "application.info_provided", "application", a.ref,
                  {"inputs": sorted(added), "note": (note or "").strip()[:500]})
    return application_view(a)


def may_withdraw(actor: Actor, a: Application) -> bool:
    return Status(a.status) in domain.OPEN and Status(a.status) is not Status.DRAFT and may_act_for_customer(actor, a)


@transaction.atomic
def withdraw(actor: Actor, ref: str, reason: str = "") -> ApplicationView:
    """The customer changes their mind (or their officer records it). Any quota held goes back to the plan."""
    org.require(actor, Perm.APPLICATION_VIEW)
    a = application_for_update(actor, ref)
    if not may_act_for_customer(actor, a):
        raise Forbidden("only the customer or their loan officer can withdraw an application", code="permission_denied")
    reason = (reason or "").strip()[:300] or "withdrawn by the applicant"
    _leave(actor, a, Status.WITHDRAWN, reason)
    ledger.append(actor, "application.withdrawn", "application", a.ref, {"reason": reason})
    return application_view(a)


def _leave(actor: Actor | None, a: Application, target: Status, reason: str) -> None:
    domain.transition(a.status, target)  # refuse before touching the quota
    lines.release(actor, application_ref=a.ref, reason=reason, expired=target is Status.EXPIRED)
    if a.quota_status in ("reserved", "escalated"):
        plans.release_quota(None, application_ref=a.ref, reason=reason, kind="expire" if target is Status.EXPIRED
                            else "release")
        a.quota_status = "released" if target is Status.WITHDRAWN else "expired"
    move(a, target, actor, reason, timezone.now(), fields=["quota_status"])


def expire_applications(*, older_than_days: int = 30, now: dt.datetime | None = None) -> int:
    """Close cases left waiting (referred, info requested) longer than the limit; run daily by the system."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=older_than_days)
    refs = list(Application.objects.filter(status__in=(Status.REFERRED, Status.INFO_REQUESTED), updated_at__lt=cutoff)
                .values_list("ref", flat=True))
    for ref in refs:
        with transaction.atomic():
            a = base_query().select_for_update(of=("self",)).get(ref=ref)
            if a.status not in (Status.REFERRED, Status.INFO_REQUESTED):
                continue
            reason = f"no decision within {older_than_days} days"
            _leave(None, a, Status.EXPIRED, reason)
            ledger.append(None, "application.expired", "application", a.ref, {"reason": reason})
    return len(refs)


def reason_codes(action: str) -> tuple[str, ...]:
    return domain.REASONS[action]
