"""Applications over the JSON API: submit (idempotent with `Idempotency-Key`), read, the review queue, and
approve / decline / request-info. Errors are problem+json with a stable `code` (see creditplan.api)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Header, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor, from_ppm
from creditplan.org.domain import Role
from creditplan.origination import drafts, services
from creditplan.origination.domain import STATED_INPUTS
from creditplan.origination.services import ApplicationView, QueueItem

router = Router(tags=["origination"])

Amount = str | int


class ApplicationCreate(Schema):
    customer_id: int
    product: str = Field(description="loan product code, e.g. consumer")
    amount: Amount = Field(description="yuan, as a decimal string (\"50000.00\"); never a float")
    term: int = Field(description="number of repayment periods")
    inputs: dict[str, Any] = Field(default_factory=dict,
                                   description="what the applicant states, under these names only: "
                                               f"{', '.join(STATED_INPUTS)} (loan_purpose is required; money in "
                                               "fen). Any other name is refused (422, inputs.<name>, "
                                               "input_not_allowed). Where the bank's records or the credit bureau "
                                               "hold the same name, theirs is used.")
    channel: Literal["web", "api", "branch"] = "api"
    consent: bool = Field(False, description="the applicant agrees that the bank checks their data and credit "
                                             "history for this application: required when customers apply for "
                                             "themselves (a branch keeps the signed paper form)")


class OfferRead(Schema):
    product: str
    product_name: str
    amount: str
    term: int
    months_per_period: int
    rate: str = Field(description="the product's standard annual rate (a fraction), before the applicant's grade")
    rate_floor: str
    rate_cap: str
    first_payment: str
    last_payment: str
    total_interest: str
    indicative: bool = True


class DecisionSummary(Schema):
    id: int | None
    outcome: str
    reasons: list[str]
    score: int | None
    grade: str
    approved_amount: str | None
    rate: str | None
    apr: str | None
    installment: str | None
    required_level: str
    required_approvals: int
    approvals: int
    quota_status: str
    policy_version: str | None


class ApplicationRead(Schema):
    ref: str
    status: str
    auto_approved: bool
    customer_id: int
    branch: str
    product: str
    amount: str
    currency: str
    term: int
    channel: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision: DecisionSummary
    requested_inputs: list[str] = Field(default_factory=list,
                                        description="the fields the last request for information asked for: "
                                                    "provide-info accepts these and nothing else")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _plain(minor: int, currency: str = "CNY") -> str:
    """An amount in an answer: "12345.67" (core.money.format_minor's plain form)."""
    return format_minor(minor, currency, grouping=False)


def _plain_or_none(minor: int | None, currency: str) -> str | None:
    return None if minor is None else _plain(minor, currency)


def _data(v: ApplicationView) -> dict[str, Any]:
    """ApplicationRead's fields as a plain dict: an endpoint that returns it has it validated once, by ninja on the
    way out (a model built here would be validated twice: here, then again from its attributes)."""
    policy = v.decision.get("policy_version")
    return dict(
        ref=v.ref, status=v.status, auto_approved=v.auto_approved, customer_id=v.customer_id, branch=v.branch_code,
        product=v.product, amount=_plain(v.amount_minor, v.currency), currency=v.currency, term=v.term,
        channel=v.channel,
        created_at=v.created_at, decided_at=v.decided_at, requested_inputs=list(v.requested_inputs),
        decision=dict(
            id=v.decision_id, outcome=v.decision_outcome, reasons=v.reasons, score=v.score, grade=v.grade,
            approved_amount=_plain_or_none(v.approved_amount_minor, v.currency), rate=_text(v.rate),
            apr=_text(v.decision.get("apr")),
            installment=_plain_or_none(v.installment_minor, v.currency), required_level=v.required_level,
            required_approvals=v.required_approvals, approvals=v.approvals, quota_status=v.quota_status,
            policy_version=None if policy is None else str(policy)),
    )


def _read(v: ApplicationView) -> ApplicationRead:
    return ApplicationRead(**_data(v))


class ReviewAction(Schema):
    reason_code: str = Field(description="approve: within_policy, compensating_factors, income_verified, "
                                         "existing_customer, other; decline: insufficient_income, high_debt_burden, "
                                         "credit_history, incomplete_information, policy_exception_refused, "
                                         "fraud_suspected, other; request-info: income_proof, id_document, "
                                         "employment, bank_statements, other")
    note: str = ""


class InfoRequest(ReviewAction):
    inputs: list[str] = Field(default_factory=list,
                              description="the applicant fields the customer is to send (names an applicant may "
                                          f"state: {', '.join(STATED_INPUTS)}; not one the bank's records or the "
                                          "bureau hold for this case)")


class InfoProvided(Schema):
    inputs: dict[str, Any] = Field(default_factory=dict)
    note: str = ""


class Withdrawal(Schema):
    reason: str = ""


class QueueRead(Schema):
    application: ApplicationRead
    customer_name: str
    age_hours: float
    may_approve: bool
    why_not: str
    approved_by_me: bool


class QueueFilters(Schema):
    branch: str | None = None
    product: str | None = None
    grade: str | None = Field(None, description="one grade or several, comma-separated")
    min_amount: str | None = None
    max_amount: str | None = None
    min_age_hours: float | None = None
    max_age_hours: float | None = None
    status: Literal["referred", "info_requested"] | None = None
    scope: Literal["approvable", "all"] | None = None


def _queue(item: QueueItem) -> QueueRead:
    return QueueRead(application=_read(item.application), customer_name=item.application.customer_name,
                     age_hours=item.age_hours, may_approve=item.may_approve, why_not=item.why_not,
                     approved_by_me=item.approved_by_me)


def _actor(request: HttpRequest) -> Any:
    return request.auth


@router.post("", response={200: ApplicationRead, 201: ApplicationRead},
             summary="Submit an application; decided at once (approve / refer / decline)",
             description="Send `Idempotency-Key: <your request id>` to make a retry safe: the same key returns the "
                         "application the first request created (200, `Idempotent-Replayed: true`), never a second one.")
def submit(request: HttpRequest, response: HttpResponse, payload: ApplicationCreate,
           idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                description="your request's id: a retry with it never creates "
                                                            "a second application")) -> Status:
    actor = _actor(request)
    if getattr(actor, "role", None) == Role.CUSTOMER and not payload.consent:
        raise ValidationError("agree that the bank checks your data and credit history (consent: true) to apply",
                              field="consent", code="consent_required")
    view = services.submit_application(
        actor, customer_id=payload.customer_id, product=payload.product, amount=payload.amount,
        term=payload.term, inputs=payload.inputs, channel=payload.channel, idempotency_key=idempotency_key)
    response["Location"] = f"/api/v1/applications/{view.ref}"
    if view.replayed:
        response["Idempotent-Replayed"] = "true"
        return Status(200, _data(view))
    return Status(201, _data(view))


@router.get("", response=list[ApplicationRead], summary="Applications: a customer's own, or the branch's")
def list_applications(request: HttpRequest, status: str | None = None) -> list[ApplicationRead]:
    return [_read(v) for v in services.list_applications(_actor(request), status=status)]


@router.get("/queue", response=list[QueueRead],
            summary="The review queue: referred cases the caller may approve (authority, branch, maker-checker)")
def queue(request: HttpRequest, filters: Query[QueueFilters]) -> list[QueueRead]:
    return [_queue(i) for i in services.review_queue(_actor(request), filters.model_dump(exclude_none=True))]


def _fraction(rate_ppm: int) -> str:
    return format(from_ppm(rate_ppm).normalize(), "f")


@router.get("/offer", response=OfferRead,
            summary="An indicative offer for a product, amount and term (the product's standard terms; the decision "
                    "sets the real limit and price)")
def offer(request: HttpRequest, product: str, amount: str, term: int) -> OfferRead:
    o = drafts.indicative_offer(product, amount, term)
    return OfferRead(product=o.product, product_name=o.product_name, amount=_plain(o.amount_minor),
                     term=o.term,
                     months_per_period=o.months_per_period, rate=_fraction(o.rate_ppm),
                     rate_floor=_fraction(o.rate_floor_ppm), rate_cap=_fraction(o.rate_cap_ppm),
                     first_payment=_plain(o.first_payment_minor), last_payment=_plain(o.last_payment_minor),
                     total_interest=_plain(o.total_interest_minor))


@router.get("/{ref}", response=ApplicationRead, summary="One application: status and decision summary")
def get_application(request: HttpRequest, ref: str) -> ApplicationRead:
    return _read(services.get_application(_actor(request), ref))


@router.post("/{ref}/approve", response=ApplicationRead,
             summary="Approve a referred case (403 without enough authority or against maker-checker)")
def approve(request: HttpRequest, ref: str, payload: ReviewAction) -> ApplicationRead:
    return _read(services.approve(_actor(request), ref, payload.reason_code, payload.note))


@router.post("/{ref}/decline", response=ApplicationRead, summary="Decline a referred case")
def decline(request: HttpRequest, ref: str, payload: ReviewAction) -> ApplicationRead:
    return _read(services.decline(_actor(request), ref, payload.reason_code, payload.note))


@router.post("/{ref}/request-info", response=ApplicationRead, summary="Ask the customer for more information")
def request_info(request: HttpRequest, ref: str, payload: InfoRequest) -> ApplicationRead:
    return _read(services.request_info(_actor(request), ref, payload.reason_code, payload.note, payload.inputs))


@router.post("/{ref}/provide-info", response=ApplicationRead,
             summary="Answer a request for information (only the fields asked for: requested_inputs)")
def provide_info(request: HttpRequest, ref: str, payload: InfoProvided) -> ApplicationRead:
    return _read(services.provide_info(_actor(request), ref, payload.inputs, payload.note))


@router.post("/{ref}/withdraw", response=ApplicationRead, summary="Withdraw an open application")
def withdraw(request: HttpRequest, ref: str, payload: Withdrawal) -> ApplicationRead:
    return _read(services.withdraw(_actor(request), ref, payload.reason))
