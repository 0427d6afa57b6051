"""The application record as the rest of origination — and the apps above it (documents) — use it: the views
the pages and the API read (`ApplicationView`…), who may see which application (`application_record`,
`application_for_update`), and `move`: one state change, checked against the state machine and recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound
from creditplan.core.money import Money
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role
from creditplan.origination import domain
from creditplan.origination.domain import Status
from creditplan.origination.models import Application, Transition


@dataclass(frozen=True)
class TransitionView:
    from_status: str
    to_status: str
    actor: str
    reason: str
    at: dt.datetime


@dataclass(frozen=True)
class ApprovalView:
    user: str
    user_id: int
    decision: str
    reason_code: str
    note: str
    level: str
    at: dt.datetime


@dataclass(frozen=True)
class ApplicationView:
    id: int
    ref: str
    status: str
    customer_id: int
    customer_name: str
    branch_code: str
    branch_name: str
    product: str
    currency: str
    amount_minor: int
    term: int
    channel: str
    inputs: dict[str, Any]
    auto_approved: bool
    entered_by: str
    reviewed_by: str
    decision_id: int | None
    decision_outcome: str
    score: int | None
    grade: str
    approved_amount_minor: int | None
    rate_ppm: int | None
    installment_minor: int | None
    required_level: str
    required_approvals: int
    approvals: int
    quota_status: str
    reasons: list[str]
    reasons_zh: list[str]
    reason_codes: list[str]
    decision: dict[str, Any]
    queued_at: dt.datetime | None
    decided_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    replayed: bool = False  # the same Idempotency-Key again: this is the application the first request made
    input_sources: dict[str, str] = field(default_factory=dict)  # input → stated | records | bureau | derived
    requested_inputs: list[str] = field(default_factory=list)  # what the last request for information asked for
    branch_name_en: str = ""  # the branch's English name, where it has one (issue 20)

    @property
    def amount(self) -> Decimal:
        return Money(self.amount_minor, self.currency).amount

    @property
    def approved_amount(self) -> Decimal | None:
        return None if self.approved_amount_minor is None else Money(self.approved_amount_minor, self.currency).amount

    @property
    def installment(self) -> Decimal | None:
        return None if self.installment_minor is None else Money(self.installment_minor, self.currency).amount

    @property
    def rate(self) -> Decimal | None:
        return None if self.rate_ppm is None else Decimal(self.rate_ppm) / Decimal(1_000_000)

    @property
    def open(self) -> bool:
        return Status(self.status) in domain.OPEN


def user_name(user: Any) -> str:
    """How a person (org.models.User, or None) is named on the pages: their display name, else their
    log-in."""
    return "" if user is None else (user.display_name or user.username)


def application_view(a: Application, *, approvals: int | None = None, replayed: bool = False
                     ) -> ApplicationView:
    """The application as the pages and the API read it (`approvals`: the count of approvals, when known)."""
    if approvals is None:
        approvals = getattr(a, "n_approvals", None)
        if approvals is None:
            approvals = a.approvals.filter(decision="approve").count() if a.pk else 0
    return ApplicationView(
        id=a.pk, ref=a.ref, status=a.status, customer_id=a.customer_id, customer_name=a.customer.name,
        branch_code=a.branch.code, branch_name=a.branch.name, product=a.product, currency=a.currency,
        amount_minor=a.amount_minor, term=a.term, channel=a.channel, inputs=dict(a.inputs or {}),
        auto_approved=a.auto_approved, entered_by=user_name(a.entered_by) if a.entered_by_id else "",
        reviewed_by=user_name(a.reviewed_by) if a.reviewed_by_id else "", decision_id=a.decision_id,
        decision_outcome=a.decision_outcome, score=a.score, grade=a.grade,
        approved_amount_minor=a.approved_amount_minor, rate_ppm=a.rate_ppm, installment_minor=a.installment_minor,
        required_level=a.required_level, required_approvals=a.required_approvals, approvals=approvals,
        quota_status=a.quota_status, reasons=[_reason(r, "en") for r in a.reasons or []],
        reasons_zh=[_reason(r, "zh") for r in a.reasons or []], reason_codes=[_reason(r, "code") for r in a.reasons or []],
        decision=dict(a.decision_snapshot or {}),
        queued_at=a.queued_at, decided_at=a.decided_at, created_at=a.created_at, updated_at=a.updated_at,
        replayed=replayed, input_sources=dict(a.input_sources or {}), requested_inputs=list(a.requested_inputs or []),
        branch_name_en=getattr(a.branch, "name_en", "") or "",
    )


def _reason(r: Any, key: str) -> str:
    return str(r.get(key) or r.get("en") or "") if isinstance(r, dict) else ("" if key == "code" else str(r))


def transition_row(a: Application, frm: str, to: str, actor: Actor | None, reason: str, at: dt.datetime
                   ) -> Transition:
    """A transition not yet saved (the submission inserts its first two with the application)."""
    return Transition(application=a, from_status=frm, to_status=to, actor=actor if actor is not None else None,
                      actor_name=getattr(actor, "username", None) or "system", reason=(reason or "")[:500], at=at)


def base_query() -> QuerySet[Application]:
    return Application.objects.select_related("customer", "branch", "entered_by", "reviewed_by")


def visible(actor: Actor, qs: QuerySet[Application] | None = None) -> QuerySet[Application]:
    """Customers see their own applications; staff the applications of their branch subtree."""
    org.require(actor, Perm.APPLICATION_VIEW)
    qs = base_query() if qs is None else qs
    if actor.role == Role.CUSTOMER:
        return qs.filter(customer__user=actor)
    return org.scope_to_branches(actor, qs)


def _get(actor: Actor, ref: str, *, for_update: bool) -> Application:
    qs = visible(actor)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    a = qs.filter(ref=str(ref or "").strip()).first()
    if a is None:
        raise NotFound(f"application {ref} not found", code="application_not_found")
    return a


def application_record(actor: Actor, ref: str) -> Application:
    """The application (its model row, with customer, branch and the people named) if the actor may see it —
    a customer their own, staff their branch subtree — else NotFound, as for an unknown reference."""
    return _get(actor, ref, for_update=False)


def application_for_update(actor: Actor, ref: str) -> Application:
    """`application_record`, row-locked until the transaction ends: for a use case that changes the
    application (or records something about it: documents, contracts) — two at once leave exactly one
    outcome."""
    return _get(actor, ref, for_update=True)


def get_application(actor: Actor, ref: str) -> ApplicationView:
    return application_view(application_record(actor, ref))


def list_applications(actor: Actor, *, status: str | None = None, limit: int = 100) -> list[ApplicationView]:
    """The actor's applications (a customer's own; staff: their branch's), newest first."""
    qs = visible(actor).annotate(n_approvals=Count("approvals", filter=Q(approvals__decision="approve")))
    if status:
        qs = qs.filter(status=status)
    return [application_view(a) for a in qs.order_by("-id")[: max(1, min(limit, 500))]]


def move(a: Application, target: Status, actor: Actor | None, reason: str, now: dt.datetime,
         fields: Iterable[str] = ()) -> None:
    """Move the application (row-locked by the caller) to `target` — refused with 409 illegal_transition where
    origination.domain.TRANSITIONS has no such step — and record the transition: who (None: the system), when,
    why. `fields`: other columns the caller changed, saved with it."""
    frm = a.status
    a.status = domain.transition(frm, target).value
    a.version += 1
    a.save(update_fields=["status", "version", "updated_at", *fields])
    Transition.objects.create(application=a, from_status=frm, to_status=a.status, actor=actor,
                              actor_name=getattr(actor, "username", None) or "system", reason=reason[:500], at=now)


def customers_of(refs: Iterable[str]) -> dict[str, int]:
    """Application ref → customer id, for system readers (integration's notifications); no permission check."""
    return dict(Application.objects.filter(ref__in=list(refs)).values_list("ref", "customer_id"))
