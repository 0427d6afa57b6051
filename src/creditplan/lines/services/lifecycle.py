"""A line's life: proposed by a maker, approved by a checker with the authority, then changed the same way —
increase, reduce, freeze, unfreeze, close, extend the expiry, set sub-limits. A risk manager (or the post-loan
review, as trusted code) may freeze or reduce a line at once (`freeze_line`, `reduce_line`).

Who approves what (docs/lines.md): a change that grants or prolongs credit (open, increase, unfreeze, extend,
sub-limits) needs authority over the line's amount after it — an approver up to `LINE_APPROVER_MAX_MINOR`
(Django setting, default 1,000,000.00 yuan) for customers of their branch subtree, a risk manager any amount;
a change that takes credit away (reduce, freeze, close) needs either of them. Never the person who proposed it.

Every use case checks the permission first, locks the line's row before it reads its figures, refuses bad input
naming the field before it writes anything, and appends its ledger event last.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

import creditplan.lines.services.sources as sources
from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.customers.models import Customer
from creditplan.ledger import services as ledger
from creditplan.lines import domain
from creditplan.lines.domain import MAX_LINE_AMOUNT_MINOR, ChangeKind, LineStatus
from creditplan.lines.models import CreditLine, LineChange, Occupation
from creditplan.lines.services.records import (
    ChangeView,
    LineView,
    OccupationView,
    change_view,
    line_of,
    line_view,
    occupation_view,
    store,
    with_terms,
)
from creditplan.org import services as org

DEFAULT_APPROVER_MAX_MINOR = 100_000_000  # 1,000,000.00 yuan


def approver_max_minor() -> int:
    return int(getattr(settings, "LINE_APPROVER_MAX_MINOR", DEFAULT_APPROVER_MAX_MINOR))


# --- reading ------------------------------------------------------------------------------------------------

def _base() -> Any:
    return CreditLine.objects.select_related("customer", "branch", "approved_by")


def _missing(line_id: Any) -> NotFound:
    return NotFound(f"no credit line {line_id}", code="line_not_found", field="line_id")


def _scoped_line(actor: Actor | None, line_id: Any, *, lock: bool = False) -> CreditLine:
    """The line, in the actor's branch scope (another branch's line is answered as one that does not exist)."""
    try:
        pk = int(line_id)
    except (TypeError, ValueError):
        raise _missing(line_id) from None
    qs = _base().select_for_update(of=("self",)) if lock else _base()
    row = qs.filter(pk=pk).first()
    if row is None:
        raise _missing(line_id)
    org.require_in_scope(actor, row.branch, message=f"no credit line {line_id}", code="line_not_found",
                         field="line_id")
    return row


def _pending(row: CreditLine) -> LineChange | None:
    return row.changes.filter(status="pending").first()


def get_line(actor: Actor, line_id: Any) -> LineView:
    """One line with its pending change and its changes, newest first (staff of its branch subtree)."""
    require(actor, Perm.CUSTOMER_VIEW)
    row = _scoped_line(actor, line_id)
    changes = list(row.changes.all()[:50])
    return line_view(row, pending=next((c for c in changes if c.status == "pending"), None), changes=changes,
                     names=dict(sources.products()))


def list_lines(actor: Actor, *, status: str = "", customer: str = "", limit: int = 200) -> list[LineView]:
    """Lines in the actor's branch scope, newest first; `status` one of the statuses or "expired" / "pending"
    (a change waits for approval); `customer` a customer number or part of a name."""
    require(actor, Perm.CUSTOMER_VIEW)
    qs = org.scope_to_branches(actor, _base())
    today = timezone.localdate()
    if status == "expired":
        qs = qs.filter(status=LineStatus.ACTIVE, expires_on__lt=today)
    elif status == "pending":
        qs = qs.filter(changes__status="pending")
    elif status == LineStatus.ACTIVE:
        qs = qs.filter(status=status, expires_on__gte=today)
    elif status in set(LineStatus):
        qs = qs.filter(status=status)
    text = (customer or "").strip()
    if text.isdigit():
        qs = qs.filter(customer_id=int(text))
    elif text:
        qs = qs.filter(customer__name__icontains=text[:50])
    rows = list(qs[: max(1, min(int(limit), 1000))])
    pending = {c.line_id: c for c in LineChange.objects.filter(line__in=rows, status="pending")}
    return [line_view(r, pending=pending.get(r.pk), today=today) for r in rows]


def customer_lines(actor: Actor, customer_id: int) -> list[LineView]:
    """A customer's lines, newest first (the customer page)."""
    require(actor, Perm.CUSTOMER_VIEW)
    rows = list(org.scope_to_branches(actor, _base()).filter(customer_id=customer_id))
    pending = {c.line_id: c for c in LineChange.objects.filter(line__in=rows, status="pending")}
    return [line_view(r, pending=pending.get(r.pk)) for r in rows]


def my_line(actor: Actor) -> LineView | None:
    """The logged-in customer's own line in force (None when they have none): their home page."""
    if actor is None or getattr(actor, "role", "") != "customer" or not getattr(actor, "is_authenticated", False):
        return None
    row = _in_force(_base().filter(customer__user_id=actor.pk)).first()
    return line_view(row, names=dict(sources.products())) if row is not None else None


def line_occupations(actor: Actor, line_id: Any, *, limit: int = 100) -> list[OccupationView]:
    require(actor, Perm.CUSTOMER_VIEW)
    row = _scoped_line(actor, line_id)
    return [occupation_view(o) for o in row.occupations.all()[:limit]]


def list_changes(actor: Actor, *, status: str = "pending", limit: int = 200) -> list[ChangeView]:
    """Changes in the actor's branch scope (the approval page: those waiting)."""
    require(actor, Perm.CUSTOMER_VIEW)
    qs = LineChange.objects.select_related("line", "line__customer", "line__branch").order_by("-id")
    qs = org.scope_to_branches(actor, qs, "line__branch")
    if status:
        qs = qs.filter(status=status)
    return [change_view(c) for c in qs[: max(1, min(int(limit), 1000))]]


def _in_force(qs: Any) -> Any:
    """The newest line in force first: active or frozen before closed."""
    closed_last = Case(When(status=LineStatus.CLOSED, then=Value(1)), default=Value(0), output_field=IntegerField())
    return qs.filter(status__in=domain.IN_FORCE).order_by(closed_last, "-id")


def line_in_force_for_update(customer_id: int) -> CreditLine | None:
    """The customer's line in force, locked (None: no line)."""
    return _in_force(CreditLine.objects.select_for_update().filter(customer_id=customer_id)).first()


# --- input --------------------------------------------------------------------------------------------------

def _date(value: Any, name: str, problems: list[FieldProblem]) -> dt.date | None:
    if value in (None, ""):
        problems.append(FieldProblem(name, "the date is required", "required"))
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(FieldProblem(name, "not a date (YYYY-MM-DD)", "date_format"))
        return None


def _amount(value: Any, name: str, problems: list[FieldProblem]) -> int | None:
    try:
        return parse_minor(value, name, allow_zero=False, maximum=MAX_LINE_AMOUNT_MINOR)
    except ValidationError as exc:
        problems.extend(exc.problems or [FieldProblem(name, exc.message, exc.code)])
        return None


def _sub_limits(value: Any, problems: list[FieldProblem]) -> dict[str, int]:
    """{product code: amount} — amounts as text in yuan (or Money); blank amounts drop the product."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        problems.append(FieldProblem("sub_limits", "sub-limits are an object of product code → amount",
                                     "sub_limits_format"))
        return {}
    known = {code for code, _name in sources.products()}
    out: dict[str, int] = {}
    for key, amount in value.items():
        product = str(key or "").strip().lower()
        name = f"sub_limits.{product or key}"
        if not product or len(product) > 30:
            problems.append(FieldProblem(name, "a sub-limit names a product code", "unknown_product"))
            continue
        if known and product not in known:
            problems.append(FieldProblem(name, f"no product {product!r}", "unknown_product"))
            continue
        if amount in (None, ""):
            continue
        minor = _amount(amount, name, problems)
        if minor is not None:
            out[product] = minor
    return out


def _reason(value: Any, problems: list[FieldProblem]) -> str:
    text = str(value or "").strip()
    if not text:
        problems.append(FieldProblem("reason", "a reason is required", "required"))
    return text[:300]


def _raise(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationError.collect(problems)


def _exposure_line(customer_id: int, currency: str) -> tuple[domain.Line, list[sources.Exposure]]:
    """What the customer already holds (loans owing principal, approvals not paid out) as a line's counters."""
    held = [e for e in sources.exposures(customer_id) if e.currency == currency]
    line = domain.Line(amount=0)
    for e in held:
        line = domain.occupy(line, e.product, reserved=e.reserved_minor, used=e.outstanding_minor)
    return line, held


def _event(row: CreditLine) -> dict[str, Any]:
    return {"customer": row.customer_id, "branch": row.branch.code, "amount_minor": row.amount_minor,
            "reserved_minor": row.reserved_minor, "used_minor": row.used_minor, "revolving": row.revolving,
            "status": row.status, "expires_on": row.expires_on.isoformat(), "sub_limits": dict(row.sub_limits)}


# --- proposing ----------------------------------------------------------------------------------------------

@transaction.atomic
def propose_line(actor: Actor, *, customer_id: Any, amount: Any, expires_on: Any, revolving: bool = True,
                 sub_limits: Any = None, reason: Any = "") -> ChangeView:
    """Propose a line for a customer (maker). It is in force once another user with the authority approves it
    (`decide_change`). Refused, naming the field: a customer outside the actor's branch or not active
    (`customer_id`), a customer who already has a line (`customer_id`), an amount below what the customer
    already holds (`amount`), a sub-limit above the line (`sub_limits.<product>`), an expiry not in the
    future (`expires_on`), no reason (`reason`)."""
    require(actor, Perm.LINE_PROPOSE)
    try:
        cid = int(customer_id)
    except (TypeError, ValueError):
        cid = -1
    customer = Customer.objects.select_related("branch").filter(pk=cid).first()
    missing = f"no customer {customer_id} in your branch"
    if customer is None:
        raise NotFound(missing, code="customer_not_found", field="customer_id")
    org.require_in_scope(actor, customer.branch, message=missing, code="customer_not_found", field="customer_id")
    if customer.status != "active":
        raise Conflict(f"customer {cid} is {customer.status}", code="customer_inactive", field="customer_id")
    problems: list[FieldProblem] = []
    minor = _amount(amount, "amount", problems)
    expiry = _date(expires_on, "expires_on", problems)
    subs = _sub_limits(sub_limits, problems)
    text = _reason(reason, problems)
    if not isinstance(revolving, bool):
        problems.append(FieldProblem("revolving", "revolving is true or false", "invalid"))
    _raise(problems)
    assert minor is not None
    held, _ = _exposure_line(customer.pk, "CNY")  # (lines are in yuan)
    _raise(domain.term_problems(held, amount=minor, sub_limits=subs, expires_on=expiry,
                                today=timezone.localdate()))
    if CreditLine.objects.filter(customer=customer, status__in=domain.OPEN).exists():
        raise Conflict(f"customer {cid} already has a credit line: change it instead", code="line_exists",
                       field="customer_id")
    try:
        with transaction.atomic():
            row = CreditLine.objects.create(
                customer=customer, branch=customer.branch, currency="CNY", amount_minor=minor, revolving=revolving,
                status=LineStatus.PROPOSED, expires_on=expiry, sub_limits=subs, proposed_by=actor)
    except IntegrityError:  # another proposal for the customer committed first
        raise Conflict(f"customer {cid} already has a credit line: change it instead", code="line_exists",
                       field="customer_id") from None
    change = LineChange.objects.create(line=row, kind=ChangeKind.OPEN, amount_minor=minor, expires_on=expiry,
                                       sub_limits=subs, revolving=revolving, reason=text, proposed_by=actor,
                                       proposed_by_name=actor.username)
    ledger.append(actor, "line.proposed", "credit_line", row.pk, {**_event(row), "change": change.pk,
                                                                   "reason": text})
    return change_view(change, row)


@transaction.atomic
def propose_change(actor: Actor, line_id: Any, *, kind: Any, amount: Any = None, expires_on: Any = None,
                   sub_limits: Any = None, reason: Any = "") -> ChangeView:
    """Propose a change to a line in force (maker); another user with the authority decides it. `kind`:
    increase / reduce (`amount`, and optionally new `sub_limits`), freeze, unfreeze, close, extend
    (`expires_on`), sub_limits (`sub_limits`: the whole new set; an empty set removes them). Refused, naming the
    field, when the change cannot apply to the line as it stands."""
    require(actor, Perm.LINE_PROPOSE)
    row = _scoped_line(actor, line_id, lock=True)
    problems: list[FieldProblem] = []
    try:
        k = ChangeKind(str(kind or "").strip())
    except ValueError:
        k = None
    if k is None or k is ChangeKind.OPEN:
        problems.append(FieldProblem("kind", "the change is increase, reduce, freeze, unfreeze, close, extend or "
                                             "sub_limits", "unknown_kind"))
    text = _reason(reason, problems)
    _raise(problems)
    assert k is not None
    if row.status not in (LineStatus.ACTIVE, LineStatus.FROZEN):
        raise Conflict(f"credit line {row.pk} is {row.status}: it cannot be changed", code="line_status",
                       field="kind")
    if _pending(row) is not None:
        raise Conflict(f"a change of credit line {row.pk} is waiting for approval: decide it first",
                       code="change_pending", field="kind")
    change = LineChange(line=row, kind=k, reason=text, proposed_by=actor, proposed_by_name=actor.username)
    if k in (ChangeKind.INCREASE, ChangeKind.REDUCE):
        change.amount_minor = _amount(amount, "amount", problems)
        if sub_limits not in (None, ""):
            change.sub_limits = _sub_limits(sub_limits, problems)
    elif k is ChangeKind.EXTEND:
        change.expires_on = _date(expires_on, "expires_on", problems)
    elif k is ChangeKind.SUB_LIMITS:
        if sub_limits is None:
            problems.append(FieldProblem("sub_limits", "the new sub-limits are required", "required"))
        change.sub_limits = _sub_limits(sub_limits, problems)
    _raise(problems)
    _apply(row, change, timezone.localdate())  # refuses now what could never be approved (nothing is written)
    change.save()
    ledger.append(actor, "line.change_proposed", "credit_line", row.pk, {
        "change": change.pk, "kind": k.value, "amount_minor": change.amount_minor,
        "expires_on": change.expires_on.isoformat() if change.expires_on else None,
        "sub_limits": change.sub_limits, "reason": text})
    return change_view(change, row)


def _apply(row: CreditLine, change: LineChange, today: dt.date) -> tuple[domain.Line, dict[str, Any]]:
    """The line after `change` and the row fields it sets — or the refusal, naming the field. Nothing is
    written. (Called when a change is proposed and again, under the line's lock, when it is approved.)"""
    line = line_of(row)
    k = ChangeKind(change.kind)
    fields: dict[str, Any] = {}
    amount, subs, expiry = line.amount, dict(line.sub_limits), row.expires_on
    if k is ChangeKind.OPEN:
        if row.status != LineStatus.PROPOSED:
            raise Conflict(f"credit line {row.pk} is {row.status}", code="line_status", field="kind")
        amount, subs, expiry = int(change.amount_minor or 0), dict(change.sub_limits or {}), change.expires_on
        fields["status"] = LineStatus.ACTIVE
    elif k in (ChangeKind.INCREASE, ChangeKind.REDUCE):
        amount = int(change.amount_minor or 0)
        if change.sub_limits is not None:
            subs = dict(change.sub_limits)
        if k is ChangeKind.INCREASE and amount <= line.amount:
            raise ValidationError("an increase must be above the line's amount", field="amount",
                                  code="not_an_increase")
        if k is ChangeKind.REDUCE and amount >= line.amount:
            raise ValidationError("a reduction must be below the line's amount", field="amount",
                                  code="not_a_reduction")
    elif k is ChangeKind.FREEZE:
        if row.status != LineStatus.ACTIVE:
            raise Conflict(f"credit line {row.pk} is {row.status}: only an active line can be frozen",
                           code="line_status", field="kind")
        fields.update(status=LineStatus.FROZEN, freeze_reason=change.reason)
    elif k is ChangeKind.UNFREEZE:
        if row.status != LineStatus.FROZEN:
            raise Conflict(f"credit line {row.pk} is not frozen", code="line_status", field="kind")
        fields.update(status=LineStatus.ACTIVE, freeze_reason="")
    elif k is ChangeKind.CLOSE:
        if line.reserved:
            raise Conflict("approvals not yet paid out hold part of the line: withdraw them or pay them out before "
                           "closing it", code="line_has_reservations", field="kind")
        fields["status"] = LineStatus.CLOSED
    elif k is ChangeKind.EXTEND:
        expiry = change.expires_on
        if expiry is not None and expiry == row.expires_on:
            raise ValidationError("the new expiry is the line's expiry already", field="expires_on",
                                  code="expiry_unchanged")
    elif k is ChangeKind.SUB_LIMITS:
        subs = dict(change.sub_limits or {})
    if k in (ChangeKind.OPEN, ChangeKind.INCREASE, ChangeKind.REDUCE, ChangeKind.EXTEND, ChangeKind.SUB_LIMITS):
        # the expiry is checked when it is set (an expired line may still be increased only with a new expiry)
        check_expiry = expiry if k in (ChangeKind.OPEN, ChangeKind.EXTEND) else today + dt.timedelta(days=1)
        _raise(domain.term_problems(line, amount=amount, sub_limits=subs, expires_on=check_expiry, today=today))
    if expiry is not None and expiry != row.expires_on:
        fields["expires_on"] = expiry
    return with_terms(line, amount=amount, sub_limits=subs), fields


# --- deciding -----------------------------------------------------------------------------------------------

def _authority_problem(role: str, kind: str, amount: int) -> str:
    """Why a person of `role` may not decide a change of `kind` leaving the line at `amount` ("" if they may):
    granting or prolonging credit needs the authority over the amount after it, taking it away any line authority."""
    return domain.authority_problem(role, amount if kind in domain.GRANTING else 0, approver_max_minor())


def _authority(actor: Actor, row: CreditLine, change: LineChange, amount: int) -> None:
    problem = _authority_problem(actor.role, change.kind, amount)
    if problem:
        # extra: what the page says (issue 20 §1): the amount and the least role that may approve it
        needed = "approver" if not _authority_problem("approver", change.kind, amount) else "risk_manager"
        raise Forbidden(f"not enough authority to approve this credit line: {problem}",
                        code="insufficient_authority",
                        extra={"role": actor.role, "amount_minor": amount, "required_role": needed})


def _amount_after(change: ChangeView) -> int:
    """The line's amount once `change` applies (what `_apply` gives when nothing else changed meanwhile)."""
    if change.kind in (ChangeKind.OPEN, ChangeKind.INCREASE, ChangeKind.REDUCE):
        return int(change.amount_minor or 0)
    return change.line_amount_minor


def decision_refusal(actor: Actor | None, change: ChangeView, *, approve: bool = True) -> str:
    """Why `decide_change` would refuse `actor` approving (or rejecting) `change`, as its code — "" when it would
    not refuse them for who they are: "change_decided", "permission_denied", "maker_checker" or
    "insufficient_authority" (the same authority check as the decision's, on the line as it stands now). The change
    comes from `list_changes` or `get_line`, so in the actor's branch scope; whether it still fits the line is
    checked only when it is decided."""
    if change.status != "pending":
        return "change_decided"
    if actor is None or not org.may(actor, Perm.LINE_APPROVE):
        return "permission_denied"
    if change.proposed_by_id is not None and change.proposed_by_id == actor.pk:
        return "maker_checker"
    if _authority_problem(actor.role, change.kind, _amount_after(change) if approve else 0):
        return "insufficient_authority"
    return ""


def may_decide(actor: Actor | None, change: ChangeView, *, approve: bool = True) -> bool:
    """Whether `decide_change` would let `actor` approve (or reject) `change`: for offering the buttons."""
    return decision_refusal(actor, change, approve=approve) == ""


def authority_needed(change: ChangeView) -> str:
    """The least role that may approve `change`: "approver" (an approver or a risk manager) or "risk_manager"."""
    return "approver" if not _authority_problem("approver", change.kind, _amount_after(change)) else "risk_manager"


@transaction.atomic
def decide_change(actor: Actor, change_id: Any, *, approve: bool, note: Any = "") -> ChangeView:
    """Approve or reject a proposed change (checker). Refused: the proposer themselves (`maker_checker`), an
    approval beyond the actor's authority (`insufficient_authority`), a change no longer pending, a change that
    no longer fits the line (naming the field). Approving a proposed line takes over what the customer already
    holds (loans owing principal, approvals not paid out) as its first occupation."""
    require(actor, Perm.LINE_APPROVE)
    try:
        pk = int(change_id)
    except (TypeError, ValueError):
        pk = -1
    found = LineChange.objects.filter(pk=pk).values_list("line_id", flat=True).first()
    missing = NotFound(f"no credit-line change {change_id}", code="change_not_found", field="change_id")
    if found is None:
        raise missing
    row = _scoped_line(actor, found, lock=True)  # the line first: every use case locks it before its rows
    change = LineChange.objects.select_for_update().get(pk=pk)
    if change.status != "pending":
        raise Conflict(f"change {pk} is already {change.status}", code="change_decided")
    if change.proposed_by_id == actor.pk:
        raise Forbidden("maker-checker: another user must decide the change you proposed", code="maker_checker")
    now, today = timezone.now(), timezone.localdate()
    note_text = str(note or "").strip()[:300]
    change.decided_by, change.decided_by_name, change.decided_at, change.note = actor, actor.username, now, note_text
    if not approve:
        _authority(actor, row, change, 0)  # only those who could approve it may reject it
        change.status = "rejected"
        change.save()
        if change.kind == ChangeKind.OPEN:
            row.status = LineStatus.REJECTED
            row.save(update_fields=["status", "updated_at"])
        ledger.append(actor, "line.change_rejected", "credit_line", row.pk,
                      {"change": pk, "kind": change.kind, "note": note_text})
        return change_view(change, row)
    after, fields = _apply(row, change, today)
    _authority(actor, row, change, after.amount)
    adopted: list[str] = []
    if change.kind == ChangeKind.OPEN:
        after, adopted = _adopt(row, after, today)
        row.approved_by, row.approved_at = actor, now
        fields.update(approved_by=actor, approved_at=now)
    for name, value in fields.items():
        setattr(row, name, value)
    store(row, after, fields=tuple(fields))
    change.status = "approved"
    change.save()
    kind = "line.activated" if change.kind == ChangeKind.OPEN else "line.changed"
    ledger.append(actor, kind, "credit_line", row.pk, {**_event(row), "change": pk, "kind": change.kind,
                                                        "note": note_text, "adopted": adopted})
    return change_view(change, row)


def _adopt(row: CreditLine, after: domain.Line, today: dt.date) -> tuple[domain.Line, list[str]]:
    """A line coming into force takes over what the customer already holds: each approval not paid out and each
    loan still owing principal becomes an occupation of the line (moved from the customer's earlier, closed line
    when it was there). Refused (`amount`) when that is more than the line."""
    assert row.customer_id is not None
    held, exposures = _exposure_line(row.customer_id, row.currency)
    after = domain.Line(amount=after.amount, reserved=held.reserved, used=held.used, revolving=after.revolving,
                        status=LineStatus.ACTIVE, expires_on=after.expires_on, sub_limits=after.sub_limits,
                        usage=held.usage, currency=after.currency, id=after.id)
    _raise(domain.term_problems(after, amount=after.amount, sub_limits=dict(after.sub_limits),
                                expires_on=after.expires_on or row.expires_on, today=today))
    now = timezone.now()
    refs = []
    for e in exposures:
        old = Occupation.objects.select_for_update().filter(application_ref=e.application_ref).first()
        if old is not None and old.line_id != row.pk:
            _leave_old_line(old)
        # a loan is taken over for what it still owes (as if paid out now): its repayments restore that much
        values = {"line": row, "product": e.product, "status": "reserved" if e.reserved_minor else "used",
                  "reserved_minor": e.reserved_minor, "disbursed_minor": e.outstanding_minor,
                  "outstanding_minor": e.outstanding_minor, "restored_minor": 0, "updated_at": now}
        Occupation.objects.update_or_create(application_ref=e.application_ref, defaults=values,
                                            create_defaults={**values, "created_at": now})
        refs.append(e.application_ref)
    return after, refs


def _leave_old_line(old: Occupation) -> None:
    """An occupation moving to the customer's new line leaves the old (closed) line's counters."""
    prev = CreditLine.objects.select_for_update().get(pk=old.line_id)
    used = old.disbursed_minor - old.restored_minor if prev.revolving else old.disbursed_minor
    store(prev, domain.occupy(line_of(prev), old.product, reserved=-old.reserved_minor, used=-used))


# --- at once, for risk reasons ------------------------------------------------------------------------------

def _require_risk(actor: Actor | None) -> None:
    """A risk manager, or trusted code (actor None: the post-loan review acting for the system)."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)


def _customer_line(actor: Actor | None, customer_id: Any) -> CreditLine:
    try:
        cid = int(customer_id)
    except (TypeError, ValueError):
        cid = -1
    row = line_in_force_for_update(cid)
    missing = f"customer {customer_id} has no credit line"
    if row is None:
        raise NotFound(missing, code="line_not_found", field="customer_id")
    org.require_in_scope(actor, row.branch, message=missing, code="line_not_found", field="customer_id")
    return row


def _immediate(actor: Actor | None, row: CreditLine, kind: ChangeKind, reason: str, **values: Any) -> LineChange:
    name = getattr(actor, "username", None) or "system"
    person = actor if getattr(actor, "pk", None) else None
    return LineChange.objects.create(line=row, kind=kind, reason=reason, status="approved", immediate=True,
                                     proposed_by=person, proposed_by_name=name, decided_by=person,
                                     decided_by_name=name, decided_at=timezone.now(), **values)


@transaction.atomic
def freeze_line(actor: Actor | None, customer_id: Any, reason: Any) -> LineView:
    """Freeze a customer's line at once, for risk reasons: a risk manager, or trusted code (the post-loan review
    as `actor` None). New applications are then declined, approvals not yet paid out cannot be paid out, and
    repayments still restore a revolving line's room. Unfreezing goes through maker-checker."""
    _require_risk(actor)
    problems: list[FieldProblem] = []
    text = _reason(reason, problems)
    _raise(problems)
    row = _customer_line(actor, customer_id)
    if row.status != LineStatus.ACTIVE:
        raise Conflict(f"credit line {row.pk} is {row.status}: only an active line can be frozen", code="line_status",
                       field="customer_id")
    row.status, row.freeze_reason = LineStatus.FROZEN, text
    store(row, line_of(row), fields=("status", "freeze_reason"))
    change = _immediate(actor, row, ChangeKind.FREEZE, text)
    ledger.append(actor, "line.frozen", "credit_line", row.pk, {**_event(row), "change": change.pk, "reason": text,
                                                                 "immediate": True})
    return line_view(row)


@transaction.atomic
def reduce_line(actor: Actor | None, customer_id: Any, amount: Any, reason: Any) -> LineView:
    """Reduce a customer's line at once, for risk reasons (a risk manager, or trusted code as `actor` None). Not
    below what is reserved and used (`amount`); sub-limits above the new amount come down to it."""
    _require_risk(actor)
    problems: list[FieldProblem] = []
    minor = _amount(amount, "amount", problems)
    text = _reason(reason, problems)
    _raise(problems)
    assert minor is not None
    row = _customer_line(actor, customer_id)
    if row.status not in (LineStatus.ACTIVE, LineStatus.FROZEN):
        raise Conflict(f"credit line {row.pk} is {row.status}", code="line_status", field="customer_id")
    line = line_of(row)
    if minor >= line.amount:
        raise ValidationError("a reduction must be below the line's amount", field="amount", code="not_a_reduction")
    if minor < line.occupied:
        raise ValidationError(f"the line cannot be below what is already reserved and used on it "
                              f"({format_minor(line.occupied)})", field="amount", code="below_used")
    subs = {p: min(cap, minor) for p, cap in line.sub_limits.items()}
    store(row, with_terms(line, amount=minor, sub_limits=subs))
    change = _immediate(actor, row, ChangeKind.REDUCE, text, amount_minor=minor, sub_limits=subs)
    ledger.append(actor, "line.reduced", "credit_line", row.pk, {**_event(row), "change": change.pk,
                                                                  "reason": text, "immediate": True})
    return line_view(row)



# --- by the bank's rules (risk's dynamic limits: trusted code) ----------------------------------------------------

@transaction.atomic
def rule_change(customer_id: Any, *, kind: Any, amount: Any = None, reason: Any, at_once: bool) -> ChangeView:
    """A change the bank's rules decided rather than a person (risk's dynamic limits; trusted code, no actor):
    `kind` increase or reduce (`amount`: the line's new amount) or freeze. `at_once`: applied now as an approved
    immediate change by "system" (the caller checked it is within the policy for changes without a person);
    otherwise proposed by "system", waiting like any proposal for a person with the authority (`decide_change`;
    anyone with the authority may decide it, as no person proposed it). Refused like `propose_change`: a line not in
    force (`customer_id`), a change already waiting (`kind`), an amount that does not fit (`amount`)."""
    problems: list[FieldProblem] = []
    try:
        k = ChangeKind(str(kind or "").strip())
    except ValueError:
        k = None
    if k not in (ChangeKind.INCREASE, ChangeKind.REDUCE, ChangeKind.FREEZE):
        problems.append(FieldProblem("kind", "the rules increase, reduce or freeze a line", "unknown_kind"))
    text = _reason(reason, problems)
    minor = _amount(amount, "amount", problems) if k in (ChangeKind.INCREASE, ChangeKind.REDUCE) else None
    _raise(problems)
    assert k is not None
    row = _customer_line(None, customer_id)
    if row.status not in (LineStatus.ACTIVE, LineStatus.FROZEN):
        raise Conflict(f"credit line {row.pk} is {row.status}: it cannot be changed", code="line_status",
                       field="customer_id")
    if _pending(row) is not None:
        raise Conflict(f"a change of credit line {row.pk} is waiting for approval: decide it first",
                       code="change_pending", field="kind")
    change = LineChange(line=row, kind=k, reason=text, amount_minor=minor, proposed_by=None, proposed_by_name="system")
    if k is ChangeKind.REDUCE and minor is not None:
        change.sub_limits = {p: min(cap, minor) for p, cap in line_of(row).sub_limits.items()}
    today = timezone.localdate()
    after, fields = _apply(row, change, today)  # refuses what could never apply (nothing is written)
    if not at_once:
        change.save()
        ledger.append(None, "line.change_proposed", "credit_line", row.pk, {
            "change": change.pk, "kind": k.value, "amount_minor": change.amount_minor, "sub_limits": change.sub_limits,
            "reason": text, "rules": True})
        return change_view(change, row)
    for name, value in fields.items():
        setattr(row, name, value)
    store(row, after, fields=tuple(fields))
    change.status, change.immediate = "approved", True
    change.decided_by_name, change.decided_at = "system", timezone.now()
    change.save()
    ledger.append(None, "line.changed", "credit_line", row.pk, {**_event(row), "change": change.pk, "kind": k.value,
                                                                 "reason": text, "immediate": True, "rules": True})
    return change_view(change, row)
