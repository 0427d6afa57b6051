"""The quota moves with the loan: an approval reserves it (hard quotas refuse, soft ones escalate, monitor-only
ones record; concentration limits checked at the same moment), the disbursement consumes it, a cancelled or
expired approval releases it, and repaid principal gives balance quota back (a reversed repayment takes it again).

Every change is one transaction: the counters of every quota the loan falls in move together (plans.sql, under
row locks taken in id order), one Movement row per quota records it, and the ledger event is appended last.
`reserve_quota` is on the decision's path: benchmarks/bench_plans.py measures it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.plans import domain, sql
from creditplan.plans.domain import ControlMode, Outcome
from creditplan.plans.models import Quota, Reservation
from creditplan.plans.services.book import book_moved, consume_into, key_of, reservation_moved
from creditplan.plans.services.case_panel import refusal_figures
from creditplan.plans.services.dimensions import clean_dimensions
from creditplan.plans.services.periods import check_month
from creditplan.plans.services.records import ReservationView, quota_label, reservation_view, state_of
from creditplan.plans.services.sources import Cell, book
from creditplan.plans.services.targets import check_ratio_caps


def _value_date(on: dt.date | None) -> dt.date:
    """Movements may be back-dated (loading history from a legacy system), never dated in the future."""
    today = timezone.localdate()
    if on is None:
        return today
    if on > today:
        raise ValidationError("a quota movement cannot be dated in the future", field="on", code="date_in_future")
    return on


@transaction.atomic
def reserve_quota(actor: Actor | None, *, application_ref: str, amount: Any, branch: str, product: str = "",
                  industry: str = "", region: str = "", segment: str = "", customer_ref: str = "",
                  on: dt.date | None = None) -> ReservationView:
    """Hold plan quota for an approved application. Hard quotas refuse (LimitExceeded), soft ones escalate,
    monitor-only ones record. Concentration limits are checked at the same moment, on the whole book (issue 19,
    plans.domain.exposure): the customer (`customer_ref`, the customer's id) and each group the registry puts it
    in on the day — never a group named by the caller —, against the capital base in force. Idempotent per
    application: asking again returns the existing reservation. Every refusal is raised before the first write
    (`reserve_quota_in_transaction` relies on it). `actor` None is trusted code (a loan booked by the demo
    seed or a legacy import, see loans.services.disburse): no permission or branch to check."""
    if actor is not None:
        require(actor, Perm.QUOTA_RESERVE)
    ref = (application_ref or "").strip()
    if not ref or len(ref) > 60:
        raise ValidationError("application reference is required (at most 60 characters)", field="application_ref")
    minor = parse_minor(amount, "amount", allow_zero=False)
    today = _value_date(on)
    raw = {"branch": branch, "product": product, "industry": industry, "region": region, "segment": segment}
    pre = clean_dimensions({**raw, "branch": None, "product": None, "segment": None})  # industry, region
    customer_ref = str(customer_ref or "").strip()
    book_sql = _book_sql()
    plan, known, quotas, checks = sql.plan_and_locked_quotas(
        today, branch=str(branch or "").strip().upper(), product=str(product or "").strip(),
        industry=pre["industry"], region=pre["region"], segment=str(segment or "").strip(), ref=ref,
        customer_ref=customer_ref, book=book_sql)
    dims = clean_dimensions(raw, known)
    if dims["branch"] is None:
        raise ValidationError("the branch of the loan is required", field="branch", code="required")
    if actor is not None and not org.branch_in_scope(actor, dims["branch"]):  # (head office: every branch)
        raise Forbidden("the loan's branch is outside your branch", code="branch_out_of_scope")
    r = Reservation(plan=plan, application_ref=ref, amount_minor=minor, customer_ref=customer_ref[:60],
                    expires_at=timezone.now() + dt.timedelta(days=plan.approval_validity_days), **dims)
    if checks is None:
        # Something moved while we waited for the locks (another reservation for the plan committed): read the
        # duplicate and exposure checks again, now that no other transaction can be half-way through reserving.
        checks = sql.recheck(plan.pk, ref, customer_ref, today, book_sql)
    if checks.found is not None:
        existing = Reservation.objects.get(pk=checks.found)
        if existing.amount_minor != minor:
            raise Conflict(f"application {ref} already holds {format_minor(existing.amount_minor)}",
                           code="reservation_exists")
        return reservation_view(existing)
    conc = _concentration(plan, checks, minor) if customer_ref else domain.ConcentrationCheck()
    if conc.refused:
        raise LimitExceeded(conc.refused, code="concentration_exceeded", field="amount", extra=conc.figures)
    r.group_ref = ",".join(code for code, _ in checks.groups)[:60]  # the groups checked, for the record
    outcome, reasons = Outcome.RESERVED, []
    for q in quotas:
        if q.frozen:
            raise LimitExceeded(f"{quota_label(q)} is frozen: no new reservations", code="quota_frozen",
                                field="branch", extra={"quota_id": q.pk})
        check = domain.check_reserve(state_of(q), minor, ControlMode(q.control_mode))
        if check.outcome is Outcome.REFUSED:
            raise LimitExceeded(f"{quota_label(q)}: {check.reason}", code="quota_exceeded", field="amount",
                                extra={"quota_id": q.pk, **refusal_figures(q, minor)})  # issue 20: which, how much
        if check.outcome is Outcome.ESCALATED:
            outcome = Outcome.ESCALATED
        if check.reason:
            reasons.append(f"{quota_label(q)}: {check.reason}")
    outcome, reasons = check_month(plan, known, quotas, minor, today, outcome, reasons)  # §7: read by the statement
    outcome = check_ratio_caps(plan, dims, minor, outcome, reasons)  # issue 19 §6: no query unless a cap matches
    r.status, r.large_exposure, r.reason = outcome.value, conc.large_exposure, "; ".join(reasons)[:300]
    sql.insert_reservation(r, quotas, actor, today)
    ledger.append(actor, "plan.quota_reserved", "reservation", r.application_ref,
                  {"plan": plan.code, "amount_minor": minor, "status": r.status, "quotas": [q.pk for q in quotas],
                   "large_exposure": r.large_exposure, "reason": r.reason})
    return reservation_view(r, [q.pk for q in quotas])


def _book_sql() -> tuple[str, str] | None:
    """The loan book's subqueries for the exposure check (plans.services.sources; None: no book registered)."""
    source = book()
    if source is None:
        return None
    own = getattr(source, "application_outstanding_sql", None)
    return source.customer_outstanding_sql(), own() if own is not None else ""


def _concentration(plan: Any, checks: sql.Checks, amount: int) -> domain.ConcentrationCheck:
    """The whole-book concentration check (plans.domain.exposure) on what the reservation's statement read: the
    capital base in force on the day (the plan's net capital when none is approved), the customer's exposure and
    each of its root groups', less any loan already booked under this application (counted once)."""
    limits = domain.ConcentrationLimits(plan.single_customer_bp, plan.group_bp, plan.large_exposure_bp)
    capital = checks.capital_base if checks.capital_base is not None else plan.net_capital_minor
    own = checks.own_loans
    return domain.check_concentration(limits, capital, customer_exposure=checks.customer_exposure - own,
                                      amount=amount, groups=[(code, e - own) for code, e in checks.groups])


def reserve_quota_in_transaction(actor: Actor | None, **kwargs: Any) -> ReservationView:
    """`reserve_quota` for a caller already inside its own transaction, without a savepoint of its own (two round
    trips fewer: the decision engine calls it on every straight-through approval). Every refusal (LimitExceeded,
    Conflict, ValidationError, Forbidden) is raised before the first write, so the caller may catch it and carry
    on; the quota rows it locked stay locked to the caller's commit. Any other error (the database's) leaves the
    caller's transaction to be rolled back whole."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve_quota_in_transaction must be called inside the caller's transaction")
    return reserve_quota.__wrapped__(actor, **kwargs)  # the body, without @transaction.atomic


def _reservation_for_update(actor: Actor | None, application_ref: str) -> Reservation:
    """The application's reservation, locked — and in the actor's branch scope: a reservation of a branch
    outside it is answered exactly as one that does not exist (404, the same body), before anything else is
    checked or said about it. `actor` None is trusted code (the close, a payment already checked, origination
    releasing on withdrawal or expiry)."""
    r = (Reservation.objects.select_for_update(of=("self",)).select_related("plan", "branch")
         .filter(application_ref=application_ref).order_by("-id").first())
    missing = f"no reservation for application {application_ref}"
    if r is None:
        raise NotFound(missing, code="reservation_not_found")
    org.require_in_scope(actor, r.branch, message=missing, code="reservation_not_found")
    return r


def _locked_quotas(r: Reservation) -> list[Quota]:
    return list(Quota.objects.select_for_update().filter(pk__in=r.quotas.values("pk")).order_by("id"))


@transaction.atomic
def consume_quota(actor: Actor | None, *, application_ref: str, amount: Any = None, on: dt.date | None = None,
                  cell: Cell | None = None) -> ReservationView:
    """Disbursement: the reserved amount becomes consumed lending and outstanding balance; any part of the
    approval not paid out is released. Branch scope first (see `_reservation_for_update`); `actor` None is
    trusted code (loans.services.disburse booking a loan for the demo seed or an import).

    The plan's book (issue 19 §5, plans.services.book): the loan's cell — `cell`, the dimensions the loan was
    booked with (loans pass them), else the reservation's — takes the principal paid, as does every quota
    covering it; every other plan with an open book (one activated ahead of its period) sees the loan too."""
    if actor is not None:
        require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    if r.status not in ("reserved", "escalated"):
        raise Conflict(f"application {application_ref} is {r.status}, not awaiting disbursement",
                       code="reservation_status")
    paid = r.amount_minor if amount is None else parse_minor(amount, "amount", allow_zero=False)
    if paid > r.amount_minor:
        raise ValidationError("cannot disburse more than was approved", field="amount", code="above_approval")
    day = _value_date(on)
    key = key_of(cell) if cell is not None else (r.branch_id, r.product, r.industry, r.region, r.segment)
    if r.plan.opening_date is None:  # a plan activated before it tracked the whole book: its own quotas only
        quotas = _locked_quotas(r)
        sql.move(quotas, r, "consume", actor, reserved=-r.amount_minor, consumed=paid, outstanding=paid, on=day)
    else:
        consume_into(r.plan, r, key, paid, actor, day)
    r.status, r.disbursed_minor, r.outstanding_minor = "consumed", paid, paid
    r.save(update_fields=["status", "disbursed_minor", "outstanding_minor", "updated_at"])
    book_moved(actor, on=day, cells=[Cell(key[0], key[1], key[2], key[3], key[4], paid)], kind="disbursement",
               exclude_plan=r.plan_id)
    ledger.append(actor, "plan.quota_consumed", "reservation", r.application_ref,
                  {"approved_minor": r.amount_minor, "disbursed_minor": paid})
    return reservation_view(r)


@transaction.atomic
def release_quota(actor: Actor | None, *, application_ref: str, reason: str, kind: str = "release") -> ReservationView:
    """An approval cancelled (or expired): its reservation goes back to the plan. Branch scope first (see
    `_reservation_for_update`); `actor` None is the system (expiry, origination releasing on withdrawal)."""
    if actor is not None:
        require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    if not (reason or "").strip():
        raise ValidationError("a reason is required", field="reason", code="required")
    if r.status not in ("reserved", "escalated"):
        raise Conflict(f"application {application_ref} is {r.status}; only a pending approval can be released",
                       code="reservation_status")
    quotas = _locked_quotas(r)
    sql.move(quotas, r, kind, actor, reserved=-r.amount_minor)
    r.status, r.reason = ("expired" if kind == "expire" else "released"), reason.strip()[:300]
    r.save(update_fields=["status", "reason", "updated_at"])
    ledger.append(actor, f"plan.quota_{r.status}", "reservation", r.application_ref,
                  {"amount_minor": r.amount_minor, "reason": r.reason})
    return reservation_view(r)


@transaction.atomic
def repay_principal(actor: Actor | None, *, application_ref: str, amount: Any, on: dt.date | None = None
                    ) -> ReservationView:
    """Principal repaid restores balance quota. `actor` None is the system (the close, a bank file)."""
    if actor is not None:
        require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    paid = parse_minor(amount, "amount", allow_zero=False)
    if r.status not in ("consumed",) or paid > r.outstanding_minor:
        raise Conflict(f"application {application_ref} has {format_minor(r.outstanding_minor)} outstanding",
                       code="repay_above_outstanding")
    if r.plan.opening_date is None:
        sql.move(_locked_quotas(r), r, "repay", actor, outstanding=-paid, on=_value_date(on))
    else:  # the plan's book: the reservation's cell and every quota covering it (issue 19 §5)
        reservation_moved(r.plan, r, -paid, "repay", actor, _value_date(on))
    r.outstanding_minor -= paid
    if r.outstanding_minor == 0:
        r.status = "repaid"
    r.save(update_fields=["status", "outstanding_minor", "updated_at"])
    ledger.append(actor, "plan.balance_restored", "reservation", r.application_ref,
                  {"principal_minor": paid, "outstanding_minor": r.outstanding_minor})
    return reservation_view(r)


@transaction.atomic
def unrepay_principal(actor: Actor | None, *, application_ref: str, amount: Any, on: dt.date | None = None
                      ) -> ReservationView:
    """A repayment reversed (a bounced payment): the principal it repaid is outstanding again, and takes its
    balance quota back. `actor` None is the system (the loan book's reversal)."""
    if actor is not None:
        require(actor, Perm.QUOTA_RESERVE)
    r = _reservation_for_update(actor, application_ref)
    back = parse_minor(amount, "amount", allow_zero=False)
    if r.status not in ("consumed", "repaid") or r.outstanding_minor + back > r.disbursed_minor:
        raise Conflict(f"application {application_ref} cannot owe more than it was paid out "
                       f"({format_minor(r.disbursed_minor)})", code="unrepay_above_disbursed")
    if r.plan.opening_date is None:
        sql.move(_locked_quotas(r), r, "unrepay", actor, outstanding=back, on=_value_date(on))
    else:  # the plan's book: the reservation's cell and every quota covering it (issue 19 §5)
        reservation_moved(r.plan, r, back, "unrepay", actor, _value_date(on))
    r.outstanding_minor += back
    r.status = "consumed"
    r.save(update_fields=["status", "outstanding_minor", "updated_at"])
    ledger.append(actor, "plan.balance_reversed", "reservation", r.application_ref,
                  {"principal_minor": back, "outstanding_minor": r.outstanding_minor})
    return reservation_view(r)


def expire_reservations(now: dt.datetime | None = None) -> int:
    """Release approvals not disbursed within the plan's validity (run daily)."""
    now = now or timezone.now()
    refs = list(Reservation.objects.filter(status__in=("reserved", "escalated"), expires_at__lt=now)
                .values_list("application_ref", flat=True))
    for ref in refs:
        release_quota(None, application_ref=ref, reason="approval expired", kind="expire")
    return len(refs)
