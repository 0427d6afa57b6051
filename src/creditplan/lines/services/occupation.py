"""The line moving with the loan: an approval reserves on it, a withdrawal or expiry releases, the disbursement
turns the reservation into use, repaid principal restores a revolving line and a reversed repayment takes the
room again. Each is called by the app that owns the event, inside its own transaction (origination, decisions,
loans — all above lines), locks the line's row first, and appends a ledger event last. A customer without a line
is not touched: each returns quietly ("none").

Lock order, the same everywhere so two use cases never deadlock: the line's row before the credit plan's quota
rows (origination's submission locks the line in its look-up, before the plan; the review, the disbursement and
the payments call the line before the plan).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import LimitExceeded
from creditplan.core.money import format_minor
from creditplan.ledger import services as ledger
from creditplan.lines import domain, sql
from creditplan.lines.models import CreditLine, Occupation
from creditplan.lines.services.lifecycle import line_in_force_for_update
from creditplan.lines.services.records import line_of, store

DEFAULT_RESERVATION_DAYS = 30


def line_for_decision(customer_id: int) -> domain.Line | None:
    """The customer's line in force, locked to the caller's commit (decisions.decide outside a submission; the
    submission reads it in origination's look-up)."""
    row = line_in_force_for_update(customer_id)
    return line_of(row) if row is not None else None


def write_reservation(actor: Actor | None, line: domain.Line, after: domain.Line, *, application_ref: str,
                      product: str, amount: int) -> ledger.EventSpec:
    """Store a reservation the caller checked with `domain.reserve` on a line it holds locked (the decision's
    straight-through approval: one statement, lines.sql.reserve) and hand back its ledger event for the caller
    to append with its own."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("write_reservation must be called inside the caller's transaction")
    sql.reserve(line, after, application_ref=application_ref, product=product, amount=amount)
    return ledger.EventSpec("line.reserved", "credit_line", str(line.id), {
        "application_ref": application_ref, "product": product, "amount_minor": amount,
        "reserved_minor": after.reserved, "used_minor": after.used, "available_minor": after.available,
        "by": getattr(actor, "username", None) or "system"})


@transaction.atomic
def reserve(actor: Actor | None, *, customer_id: int, application_ref: str, product: str, amount_minor: int,
            currency: str = "CNY") -> str:
    """Hold the approved amount of an application on the customer's line (a referred case approved by a
    person). Refused before anything is written: a frozen, expired or closed line (Conflict `line_frozen` …),
    an amount above what the product may take (LimitExceeded, `amount`). "none": the customer has no line (or
    the product lends in another currency); "reserved" (again, for the same application: idempotent)."""
    row = line_in_force_for_update(customer_id)
    if row is None or row.currency != currency:
        return "none"
    existing = Occupation.objects.filter(application_ref=application_ref, line=row).first()
    if existing is not None and existing.status == "reserved" and existing.reserved_minor == amount_minor:
        return "reserved"
    line = line_of(row)
    after = domain.reserve(line, product, amount_minor, timezone.localdate())
    store(row, after)
    now = timezone.now()
    Occupation.objects.update_or_create(application_ref=application_ref, defaults={
        "line": row, "product": product, "status": "reserved", "reserved_minor": amount_minor, "disbursed_minor": 0,
        "outstanding_minor": 0, "restored_minor": 0, "updated_at": now}, create_defaults={
        "line": row, "product": product, "status": "reserved", "reserved_minor": amount_minor, "created_at": now,
        "updated_at": now})
    ledger.append(actor, "line.reserved", "credit_line", row.pk, {
        "application_ref": application_ref, "product": product, "amount_minor": amount_minor,
        "reserved_minor": after.reserved, "used_minor": after.used, "available_minor": after.available})
    return "reserved"


def _occupation_for_update(application_ref: str) -> tuple[Occupation, CreditLine] | None:
    """The application's occupation and its line, the line locked first (the lock order of every use case)."""
    found = Occupation.objects.filter(application_ref=application_ref).values_list("line_id", flat=True).first()
    if found is None:
        return None
    row = CreditLine.objects.select_for_update().get(pk=found)
    occupation = Occupation.objects.select_for_update().filter(application_ref=application_ref).first()
    if occupation is None:  # pragma: no cover - occupations are never deleted
        return None
    return occupation, row


@transaction.atomic
def release(actor: Actor | None, *, application_ref: str, reason: str, expired: bool = False) -> str:
    """An approval withdrawn, declined or expired: its reservation goes back to the line ("none" when it held
    none)."""
    found = _occupation_for_update(application_ref)
    if found is None or found[0].status != "reserved":
        return "none"
    o, row = found
    after = domain.release(line_of(row), o.product, o.reserved_minor)
    store(row, after)
    amount, o.status, o.reserved_minor = o.reserved_minor, "expired" if expired else "released", 0
    o.updated_at = timezone.now()
    o.save(update_fields=["status", "reserved_minor", "updated_at"])
    ledger.append(actor, "line.reservation_expired" if expired else "line.released", "credit_line", row.pk, {
        "application_ref": application_ref, "amount_minor": amount, "reason": str(reason or "")[:300],
        "available_minor": after.available})
    return o.status


@transaction.atomic
def draw(actor: Actor | None, *, customer_id: int, application_ref: str, product: str, amount_minor: int,
         currency: str = "CNY") -> str:
    """A loan paid out. With a reservation on the line: it becomes use ("converted"; any part of the approval not
    paid out is released). Without one (a loan booked by trusted code, or approved when the customer had no
    line): the loan is drawn on the customer's line in force ("drawn"). A person (`actor` not None) cannot pay
    out on a frozen, expired or closed line, nor draw beyond the room without a reservation (Conflict /
    LimitExceeded, `amount`); trusted code (`actor` None: the demo seed, an import) is never refused — the loan
    exists, the line counts it. "none": no line (or another currency)."""
    found = _occupation_for_update(application_ref)
    today = timezone.localdate()
    if found is not None and found[0].status in ("used", "repaid"):
        return "drawn already"  # (a loan is paid out once per application)
    if found is not None and found[0].status == "reserved":
        o, row = found
        line = line_of(row)
        state = line.state_on(today)
        if actor is not None and state != "active":
            raise domain.blocked_error(state)
        if amount_minor > o.reserved_minor:
            raise LimitExceeded(f"{format_minor(amount_minor)} is above the {format_minor(o.reserved_minor)} held on "
                                "the customer's credit line for this application", code="above_reservation",
                                field="amount")
        after = domain.convert(line, o.product, o.reserved_minor, amount_minor)
        outcome = "converted"
    else:
        in_force = line_in_force_for_update(customer_id)
        if in_force is None or in_force.currency != currency:
            return "none"
        row, line = in_force, line_of(in_force)
        if actor is not None:
            domain.reserve(line, product, amount_minor, today)  # the same refusals as an approval (nothing kept)
        after = domain.draw(line, product, amount_minor)
        o = found[0] if found is not None else Occupation(application_ref=application_ref, created_at=timezone.now())
        o.line, o.product = row, product
        outcome = "drawn"
    store(row, after)
    o.status, o.reserved_minor, o.disbursed_minor, o.outstanding_minor, o.restored_minor = (
        "used", 0, amount_minor, amount_minor, 0)
    o.updated_at = timezone.now()
    o.save()
    ledger.append(actor, "line.drawn", "credit_line", row.pk, {
        "application_ref": application_ref, "product": o.product, "amount_minor": amount_minor, "how": outcome,
        "reserved_minor": after.reserved, "used_minor": after.used, "available_minor": after.available,
        "over_minor": after.over_by})
    return outcome


def _on_a_line(application_ref: str, principal_minor: int) -> bool:
    """Whether a loan's repayment concerns a line at all: one indexed read, and no savepoint, for the many loans
    not on a line (the payment path, bank files included, calls restore / unrestore for every loan)."""
    return principal_minor > 0 and Occupation.objects.filter(application_ref=application_ref,
                                                               status__in=("used", "repaid")).exists()


def restore(application_ref: str, principal_minor: int) -> int:
    """Principal repaid on the loan of `application_ref`: its outstanding principal on the line goes down, and a
    revolving line gets the room back. The system acts (loans' payment path, already checked); never refuses.
    Returns the room restored (0 for a non-revolving line or a loan not on a line)."""
    return _restore(application_ref, principal_minor) if _on_a_line(application_ref, principal_minor) else 0


@transaction.atomic
def _restore(application_ref: str, principal_minor: int) -> int:
    found = _occupation_for_update(application_ref)
    if found is None or found[0].status not in ("used", "repaid"):
        return 0
    o, row = found
    paid = min(principal_minor, o.outstanding_minor)
    if paid <= 0:
        return 0
    after, back = domain.restore(line_of(row), o.product, paid)
    o.outstanding_minor -= paid
    o.restored_minor += back
    o.status = "repaid" if o.outstanding_minor == 0 else "used"
    o.updated_at = timezone.now()
    o.save(update_fields=["outstanding_minor", "restored_minor", "status", "updated_at"])
    if back:
        store(row, after)
        ledger.append(None, "line.restored", "credit_line", row.pk, {
            "application_ref": application_ref, "principal_minor": paid, "restored_minor": back,
            "used_minor": after.used, "available_minor": after.available})
    return back


def unrestore(application_ref: str, principal_minor: int) -> int:
    """A repayment reversed: the principal is outstanding again and, on a revolving line, occupies it again (at
    most what repayments had restored). Returns the room taken back."""
    return _unrestore(application_ref, principal_minor) if _on_a_line(application_ref, principal_minor) else 0


@transaction.atomic
def _unrestore(application_ref: str, principal_minor: int) -> int:
    found = _occupation_for_update(application_ref)
    if found is None or found[0].status not in ("used", "repaid"):
        return 0
    o, row = found
    owed = min(principal_minor, o.disbursed_minor - o.outstanding_minor)
    if owed <= 0:
        return 0
    take = min(owed, o.restored_minor) if row.revolving else 0
    after = domain.unrestore(line_of(row), o.product, take)
    o.outstanding_minor += owed
    o.restored_minor -= take
    o.status = "used"
    o.updated_at = timezone.now()
    o.save(update_fields=["outstanding_minor", "restored_minor", "status", "updated_at"])
    if take:
        store(row, after)
        ledger.append(None, "line.restore_reversed", "credit_line", row.pk, {
            "application_ref": application_ref, "principal_minor": owed, "taken_minor": take,
            "used_minor": after.used, "available_minor": after.available, "over_minor": after.over_by})
    return take


def expire_reservations(now: dt.datetime | None = None, *, days: int | None = None) -> int:
    """Release reservations held longer than `days` (Django setting LINE_RESERVATION_DAYS, default 30): an
    approval not paid out in time gives the room back. Run daily (`creditplan lines expire`)."""
    now = now or timezone.now()
    days = int(days if days is not None else getattr(settings, "LINE_RESERVATION_DAYS", DEFAULT_RESERVATION_DAYS))
    refs = list(Occupation.objects.filter(status="reserved", created_at__lt=now - dt.timedelta(days=days))
                .values_list("application_ref", flat=True))
    n = 0
    for ref in refs:
        if release(None, application_ref=ref, reason=f"not paid out within {days} days", expired=True) != "none":
            n += 1
    return n

