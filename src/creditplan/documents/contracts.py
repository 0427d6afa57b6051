"""The contract steps of an application: offer the contract (generated PDF), the customer's electronic signature
(click-to-sign with identity re-check) and the hand-off to disbursement.

    approved ──offer_contract (staff: application.review, in scope)──▶ contract_offered
    contract_offered ──sign_contract (the customer, password + last 4 of ID)──▶ signed
    signed ──(at once, by the system, in the same transaction)──▶ ready_to_disburse
    ready_to_disburse ──disburse_application (staff: loan.disburse, in scope)──▶ disbursed

Why signed → ready_to_disburse at once: the checks a disbursement needs (approval, quota held, terms agreed)
are all settled by the time the customer signs; the state is kept so that a later pre-disbursement check (e.g.
an officer verifying originals) can be slotted in without changing the table. Why the offer is a staff step,
also after a straight-through approval: the submission is the hot path (one round trip per step counts there),
and rendering a PDF does not belong inside it; an officer (or a batch) offers the contract.

Each step row-locks the application (origination.services.application_for_update), moves it through
origination.domain.TRANSITIONS (origination.services.move: an illegal order is refused with 409
illegal_transition, the transition is recorded: who, when, why) and appends its ledger event. The contract
itself, its signature and the refused attempts are stored by creditplan.documents.services.

Why here and not in origination: these steps keep records about an application (its contract document, the
signature) and hand it to loans; documents sits above origination and reads it through origination's public
services, so origination never imports documents. Loans asks about the application it pays out through the
gate registered in DocumentsConfig.ready (`signed_for_payout`, `paid_out`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.daycount import DayCount, add_months
from creditplan.core.errors import Conflict, CreditplanError, Forbidden, NotFound, ValidationError
from creditplan.core.money import Rounding, format_minor, from_ppm, round_fraction
from creditplan.documents import contract_pdf
from creditplan.documents import services as documents
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.loans.domain.schedule import Method, ScheduleTerms, build_schedule
from creditplan.loans.models import Loan
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role
from creditplan.org.models import User
from creditplan.origination import domain
from creditplan.origination import services as origination
from creditplan.origination.domain import Status
from creditplan.origination.models import Application

MAX_FAILED_SIGNINGS = 5
SIGN_METHOD = "click_to_sign+password+id_last4"


# --- the terms and the PDF ------------------------------------------------------------------------------

def _id_last4(a: Application) -> str:
    from creditplan.customers import services as customers

    if not a.customer.id_number_enc:
        return ""
    return customers.cipher().decrypt(a.customer.id_number_enc)[-4:].upper()


def contract_terms(a: Application, today: dt.date | None = None) -> dict[str, Any]:
    """What the contract says, as data: the parties, the approved amount, rate and APR, the product's repayment
    method, the full schedule from the assumed value date (today's business date), and the penalty clause."""
    p = loans.get_product(a.product)
    amount = a.approved_amount_minor or a.amount_minor
    rate_ppm = a.rate_ppm or p.rate_ppm
    start = today or loans.business_date()
    first_due = add_months(start, p.months_per_period)
    lines = build_schedule(ScheduleTerms(
        principal_minor=amount, annual_rate=from_ppm(rate_ppm), periods=a.term, method=Method.coerce(p.method),
        start=start, first_due=first_due, months_per_period=p.months_per_period,
        day_count=DayCount.coerce(p.day_count), rounding=Rounding.coerce(p.rounding), grace_periods=p.grace_periods,
        fee_per_installment_minor=p.installment_fee_minor, interest_rule=p.interest_rule,
        payment_roll=loans.payment_roll(p.due_date_roll)))  # due dates as the loan will have them (issue 18)
    apr = (a.decision_snapshot or {}).get("apr")
    upfront = round_fraction(Fraction(amount * p.upfront_fee_bp, 10_000), p.rounding)  # as disbursement charges it
    return {
        "template": contract_pdf.TEMPLATE, "application": a.ref, "prepared_on": timezone.localdate().isoformat(),
        "lender": "creditplan", "branch_code": a.branch.code, "branch_name": a.branch.name,
        "borrower": a.customer.name, "borrower_id_last4": _id_last4(a), "customer_id": a.customer_id,
        "product_code": p.code, "product_name": p.name, "currency": a.currency, "amount_minor": amount,
        "rate_ppm": rate_ppm, "rate": f"{from_ppm(rate_ppm) * 100:.2f}",
        "apr": f"{float(apr) * 100:.2f}" if apr not in (None, "", "0") else "",
        "rate_type": p.rate_type, "term": a.term, "months_per_period": p.months_per_period, "method": p.method,
        "day_count": p.day_count, "interest_rule": p.interest_rule, "start": start.isoformat(),
        "first_due": lines[0].due_date.isoformat(),
        "maturity": lines[-1].due_date.isoformat(), "purpose": str((a.inputs or {}).get("loan_purpose") or ""),
        "installments": [[ln.seq, ln.due_date.isoformat(), ln.principal, ln.interest, ln.fee, ln.payment,
                          ln.balance_after] for ln in lines],
        "first_installment_minor": lines[0].payment,
        "total_interest_minor": sum(ln.interest for ln in lines),
        "total_payment_minor": sum(ln.payment for ln in lines),
        "upfront_fee_minor": upfront, "penalty_markup_pct": p.penalty_markup_pct, "grace_days": p.grace_days,
        "late_fee_minor": p.late_fee_minor,
    }


# --- offer -----------------------------------------------------------------------------------------------

def _may_offer(actor: Actor) -> bool:
    return actor.role != Role.CUSTOMER and (org.may(actor, Perm.APPLICATION_REVIEW)
                                            or org.may(actor, Perm.APPLICATION_APPROVE))


@transaction.atomic
def offer_contract(actor: Actor, ref: str) -> documents.ContractView:
    """Generate the contract PDF for an approved application, store it (a `contract` document with its SHA-256)
    and move the application to contract_offered."""
    org.require(actor, Perm.APPLICATION_VIEW)
    if not _may_offer(actor):
        raise Forbidden("only staff who review applications can offer a contract", code="permission_denied")
    a = origination.application_for_update(actor, ref)
    domain.transition(a.status, Status.CONTRACT_OFFERED)
    now = timezone.now()
    terms = contract_terms(a)
    pdf = contract_pdf.contract_pdf(terms)
    c = documents.store_contract(actor, a, pdf=pdf, filename=f"contract-{a.ref}.pdf", terms=terms, now=now)
    origination.move(a, Status.CONTRACT_OFFERED, actor, f"contract offered (SHA-256 {c.sha256[:16]}…)", now)
    ledger.append(actor, "application.contract_offered", "application", a.ref, {
        "sha256": c.sha256, "document_version": c.version_id, "template": terms["template"],
        "amount_minor": terms["amount_minor"], "rate_ppm": terms["rate_ppm"], "term": a.term})
    return c


# --- signature -------------------------------------------------------------------------------------------

def _signing_checks(actor: Actor, a: Application) -> documents.ContractView:
    if actor.role != Role.CUSTOMER or a.customer.user_id != actor.pk:
        raise Forbidden("only the customer can sign their contract, with their own log-in", code="permission_denied")
    domain.transition(a.status, Status.SIGNED)
    c = documents.contract_of(a)
    if c is None:  # pragma: no cover - contract_offered always has one
        raise Conflict("no contract has been offered", code="no_contract")
    if documents.failed_signings(a, actor) >= MAX_FAILED_SIGNINGS:
        raise Forbidden(f"signing is locked after {MAX_FAILED_SIGNINGS} failed identity checks: please contact your "
                        f"branch", code="signing_locked")
    return c


def sign_contract(actor: Actor, ref: str, *, password: str, id_last4: str = "", seen_sha256: str = "",
                  ip: str = "", user_agent: str = "") -> documents.ContractView:
    """The customer signs the offered contract: their password again and, when an ID number is on file, its
    last 4 characters. A wrong answer is refused (ValidationError on that field), counted, and nothing is
    signed; after MAX_FAILED_SIGNINGS refusals signing is locked. On success: a Signature (who, when, IP, device,
    the SHA-256 of the contract they saw, the method), `application.signed` on the ledger, and the application
    moves signed → ready_to_disburse."""
    org.require(actor, Perm.APPLICATION_APPLY)
    a = origination.application_record(actor, ref)
    c = _signing_checks(actor, a)
    if seen_sha256 and seen_sha256.strip().lower() != c.sha256:
        raise Conflict("the contract changed after you opened it: please read it again", code="contract_changed")
    problem = None
    user = cast(User, actor)  # a customer's own log-in: _signing_checks has established it
    if not password or not user.check_password(password):
        problem = ValidationError("the password is not correct", field="password", code="wrong_password")
    else:
        last4 = _id_last4(a)
        if last4 and (id_last4 or "").strip().upper() != last4:
            problem = ValidationError("the last 4 characters of your ID number do not match", field="id_last4",
                                      code="wrong_id_last4")
    if problem is not None:
        with transaction.atomic():
            n = documents.record_failed_signing(a, actor, reason=problem.code, ip=ip, now=timezone.now())
            ledger.append(actor, "application.signing_refused", "application", a.ref,
                          {"reason": problem.code, "attempts": n})
        left = MAX_FAILED_SIGNINGS - n
        problem.extra["attempts_left"] = max(left, 0)
        raise problem
    with transaction.atomic():
        a = origination.application_for_update(actor, ref)
        c = _signing_checks(actor, a)
        now = timezone.now()
        c = documents.record_signature(a, actor, method=SIGN_METHOD if _id_last4(a) else "click_to_sign+password",
                                       sha256=c.sha256, ip=ip, user_agent=user_agent, now=now)
        origination.move(a, Status.SIGNED, actor, f"signed online (SHA-256 {c.sha256[:16]}…)", now)
        ledger.append(actor, "application.signed", "application", a.ref, {
            "sha256": c.sha256, "method": c.signature_method, "ip": c.signature_ip, "at": now.isoformat()})
        origination.move(a, Status.READY_TO_DISBURSE, None, "contract signed: ready to disburse", now)
        ledger.append(None, "application.ready_to_disburse", "application", a.ref, {"sha256": c.sha256})
    return c


# --- disbursement ----------------------------------------------------------------------------------------

def payout_dates() -> dict[str, Any]:
    """The value dates a payout may take now (issue 20): `booking` (the default: today, or the next day once
    today's close has run), `earliest` (the day after the last close), `closed` (the last close) and
    `closed_today` (today's close has run)."""
    closed = loans.last_closed_date()
    booking = loans.booking_date()
    return {"booking": booking, "closed": closed, "earliest": closed + dt.timedelta(days=1) if closed else None,
            "closed_today": closed is not None and closed >= loans.business_date()}


@transaction.atomic
def disburse_application(actor: Actor, ref: str, value_date: Any = None) -> documents.ContractView:
    """Pay out a signed application: loans.disburse on the contract's terms, consuming the plan reservation the
    approval made. The loan service calls back `paid_out` (registered in DocumentsConfig.ready) in the same
    transaction, so the contract keeps the loan's reference and the application becomes disbursed."""
    org.require(actor, Perm.LOAN_DISBURSE)
    a = origination.application_for_update(actor, ref)
    if a.status == Status.DISBURSED:
        raise Conflict(f"application {ref} has already been paid out", code="application_disbursed")
    domain.transition(a.status, Status.DISBURSED)
    c = documents.contract_of(a)
    if c is None or c.signed_at is None:  # pragma: no cover - ready_to_disburse is only reached by signing
        raise Conflict("the contract is not signed", code="not_signed")
    t = c.terms
    amount = format_minor(t["amount_minor"], a.currency, grouping=False)  # "12345.67", as loans reads yuan
    loans.disburse(actor, customer_id=a.customer_id, product=a.product, amount=amount, term=a.term,
                   rate=None if t.get("rate_type") == "floating" else str(from_ppm(t["rate_ppm"])),
                   application_ref=a.ref, start_date=value_date or None)  # blank: the booking day (issue 20)
    c = documents.contract_of(origination.application_record(actor, ref))
    assert c is not None
    return c


def signed_for_payout(actor: Actor, ref: str) -> loans.SignedApplication:
    """The gate loans asks before paying out (loans.ApplicationGate.signed): the application in the actor's scope
    (else the same 404 as an unknown one), ready to disburse, with the terms its contract was signed on."""
    try:
        a = origination.application_for_update(actor, ref)
    except NotFound as exc:
        raise NotFound(exc.message, code=exc.code, field="application_ref") from None
    c = documents.contract_of(a)
    if a.status == Status.DISBURSED or (c is not None and c.loan_ref):
        raise Conflict(f"application {ref} has already been paid out", field="application_ref",
                       code="application_disbursed")
    if a.status != Status.READY_TO_DISBURSE or c is None or c.signed_at is None:
        raise Conflict(f"application {ref} is {str(a.status).replace('_', ' ')}: only an approved application "
                       "whose contract the customer has signed can be paid out", field="application_ref",
                       code="application_not_ready")
    t = c.terms
    customer_id: int = a.customer_id
    rate = None if t.get("rate_type") == "floating" else t.get("rate_ppm")
    return loans.SignedApplication(
        a.ref, int(t.get("customer_id", customer_id)), str(t.get("product_code", a.product)),
        str(t.get("currency", a.currency)), int(t.get("amount_minor", 0)), int(t.get("term", a.term)),
        int(rate) if rate is not None else None, a.quota_status in ("reserved", "escalated"),
        segment=str((a.inputs or {}).get("segment") or ""))  # the plan segment, when configured (loans decide)


def paid_out(actor: Actor, ref: str, loan: Loan) -> None:
    """The loan is booked (loans.ApplicationGate.paid_out): the contract keeps its reference, the reservation is
    consumed and the application becomes disbursed — in the disbursement's own transaction."""
    a = origination.application_for_update(actor, ref)
    now = timezone.now()
    c = documents.record_disbursement(a, actor, loan_ref=loan.ref, now=now)
    if a.quota_status in ("reserved", "escalated"):
        a.quota_status = "consumed"
    origination.move(a, Status.DISBURSED, actor, f"disbursed as loan {loan.ref}", now, fields=["quota_status"])
    ledger.append(actor, "application.disbursed", "application", a.ref, {
        "loan": loan.ref, "amount_minor": loan.principal_minor, "contract_sha256": c.sha256,
        "quota": a.quota_status})


# --- what the page shows ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContractPanel:
    status: str
    contract: documents.ContractView | None
    may_offer: bool
    may_sign: bool
    may_disburse: bool
    needs_id_last4: bool
    attempts_left: int
    why_not_sign: str
    why_not_code: str = ""  # the refusal's code: the page says it in its language (issue 20)


def contract_panel(actor: Actor, ref: str) -> ContractPanel:
    a = origination.application_record(actor, ref)
    c = documents.contract_of(a)
    may_offer = _may_offer(actor) and domain.allowed(a.status, Status.CONTRACT_OFFERED)
    may_sign, why, why_code = False, "", ""
    if a.status == Status.CONTRACT_OFFERED and actor.role == Role.CUSTOMER:
        try:
            _signing_checks(actor, a)
            may_sign = True
        except CreditplanError as exc:
            why, why_code = exc.message, exc.code
    may_disburse = org.may(actor, Perm.LOAN_DISBURSE) and a.status == Status.READY_TO_DISBURSE
    left = MAX_FAILED_SIGNINGS - documents.failed_signings(a, actor) if actor.role == Role.CUSTOMER else 0
    return ContractPanel(a.status, c, may_offer, may_sign, may_disburse, bool(_id_last4(a)) if may_sign else False,
                         max(left, 0), why, why_code)

