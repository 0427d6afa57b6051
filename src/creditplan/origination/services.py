"""Origination use cases: submit an application (and decide it straight away), the review queue, approve /
decline / ask for more information under the approval authority and maker-checker, withdraw and expire.

Every use case checks the permission first, runs in one transaction, row-locks the application before it
changes state (two approvers at once leave exactly one outcome), records each transition (who, when, why)
and appends its ledger event last.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from creditplan.core.errors import (
    Conflict,
    CreditplanError,
    FieldProblem,
    Forbidden,
    NotFound,
    ValidationError,
)
from creditplan.core.money import Money
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.customers.models import Customer
from creditplan.decisions import services as decisions
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, Product
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role, sees_all_branches
from creditplan.org.models import Branch
from creditplan.origination import domain, sources
from creditplan.origination.domain import Channel, Status
from creditplan.origination.models import Application, Approval, Transition
from creditplan.plans import services as plans
from creditplan.plans.models import Plan, Quota, Reservation

MAX_INPUT_KEYS = 80
MAX_INPUT_BYTES = 16_000
QUEUE_LIMIT = 200


# --- views ---------------------------------------------------------------------------------------------

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


def _name(user: Any) -> str:
    return "" if user is None else (user.display_name or user.username)


def _view(a: Application, *, approvals: int | None = None, replayed: bool = False) -> ApplicationView:
    if approvals is None:
        approvals = getattr(a, "n_approvals", None)
        if approvals is None:
            approvals = a.approvals.filter(decision="approve").count() if a.pk else 0
    return ApplicationView(
        id=a.pk, ref=a.ref, status=a.status, customer_id=a.customer_id, customer_name=a.customer.name,
        branch_code=a.branch.code, branch_name=a.branch.name, product=a.product, currency=a.currency,
        amount_minor=a.amount_minor, term=a.term, channel=a.channel, inputs=dict(a.inputs or {}),
        auto_approved=a.auto_approved, entered_by=_name(a.entered_by) if a.entered_by_id else "",
        reviewed_by=_name(a.reviewed_by) if a.reviewed_by_id else "", decision_id=a.decision_id,
        decision_outcome=a.decision_outcome, score=a.score, grade=a.grade,
        approved_amount_minor=a.approved_amount_minor, rate_ppm=a.rate_ppm, installment_minor=a.installment_minor,
        required_level=a.required_level, required_approvals=a.required_approvals, approvals=approvals,
        quota_status=a.quota_status, reasons=[_reason(r, "en") for r in a.reasons or []],
        reasons_zh=[_reason(r, "zh") for r in a.reasons or []], reason_codes=[_reason(r, "code") for r in a.reasons or []],
        decision=dict(a.decision_snapshot or {}),
        queued_at=a.queued_at, decided_at=a.decided_at, created_at=a.created_at, updated_at=a.updated_at,
        replayed=replayed, input_sources=dict(a.input_sources or {}), requested_inputs=list(a.requested_inputs or []),
    )


def _reason(r: Any, key: str) -> str:
    return str(r.get(key) or r.get("en") or "") if isinstance(r, dict) else ("" if key == "code" else str(r))


def _transition_row(a: Application, frm: str, to: str, actor: Any, reason: str, at: dt.datetime) -> Transition:
    return Transition(application=a, from_status=frm, to_status=to, actor=actor if actor is not None else None,
                      actor_name=getattr(actor, "username", None) or "system", reason=(reason or "")[:500], at=at)


# --- submission ------------------------------------------------------------------------------------------

def _clean_inputs(inputs: Any, *, declared_only: bool = True) -> dict[str, Any]:
    """Applicant data: a flat JSON object of named values (no floats on money: amounts as decimal text), under the
    names an applicant may state (domain.STATED_INPUTS) only — every other name is refused, each by name."""
    if inputs is None:
        return {}
    if not isinstance(inputs, dict):
        raise ValidationError("inputs must be an object of named values", field="inputs", code="inputs_format")
    if len(inputs) > MAX_INPUT_KEYS:
        raise ValidationError(f"at most {MAX_INPUT_KEYS} inputs", field="inputs", code="inputs_too_many")
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 60:
            raise ValidationError("input names are 1-60 characters", field="inputs", code="inputs_format")
        if isinstance(value, dict):
            raise ValidationError(f"input {key!r} must be a plain value or a list", field=f"inputs.{key}",
                                  code="inputs_format")
        out[key.strip()] = value
    try:
        size = len(json.dumps(out, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError):
        raise ValidationError("inputs must be JSON values (text, numbers, true/false, lists)", field="inputs",
                              code="inputs_format") from None
    if size > MAX_INPUT_BYTES:
        raise ValidationError("the inputs are too large", field="inputs", code="inputs_too_large")
    problems = domain.undeclared(out) if declared_only else []
    if problems:
        raise ValidationError.collect(problems)
    return out


def _request_hash(customer_id: int, product: str, amount_minor: int, term: int, channel: str,
                  inputs: dict[str, Any]) -> str:
    body = json.dumps({"c": customer_id, "p": product, "a": amount_minor, "t": term, "ch": channel, "i": inputs},
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class _ProductTerms:
    code: str
    is_active: bool
    currency: str
    min_amount_minor: int
    max_amount_minor: int
    min_term: int
    max_term: int


_CUSTOMER_COLUMNS = ("id", "kind", "status", "name", "branch_id", "user_id", "id_number_enc", "birth_date",
                     "monthly_income_minor", "currency", "region_code", "industry_code", "onboarded_on")
_BRANCH_COLUMNS = ("code", "name", "name_en", "level", "path")
_PRODUCT_COLUMNS = ("code", "is_active", "currency", "min_amount_minor", "max_amount_minor", "min_term", "max_term")


def _lookup(customer_id: int | None, product_code: str) -> tuple[Customer | None, _ProductTerms | None, bool]:
    """The customer (with their branch), the product and whether the customer is overdue at this bank — in ONE
    statement: this is the hot path of every submission, and each round trip to the database counts."""
    c, b, p, loan = (Customer._meta.db_table, Branch._meta.db_table, Product._meta.db_table, Loan._meta.db_table)
    cols = ", ".join([*(f"c.{x}" for x in _CUSTOMER_COLUMNS), *(f"b.{x}" for x in _BRANCH_COLUMNS),
                      *(f"p.{x}" for x in _PRODUCT_COLUMNS)])
    sql = (f"SELECT {cols}, EXISTS(SELECT 1 FROM {loan} l WHERE l.customer_id = c.id AND l.dpd > 0 "
           f"AND l.status <> 'closed') FROM (SELECT 1 AS one) x LEFT JOIN {c} c ON c.id = %s "
           f"LEFT JOIN {b} b ON b.id = c.branch_id LEFT JOIN {p} p ON p.code = %s")
    with connection.cursor() as cur:
        cur.execute(sql, [customer_id if customer_id is not None else -1, product_code])
        row = cur.fetchone()
    nc, nb = len(_CUSTOMER_COLUMNS), len(_BRANCH_COLUMNS)
    customer = None
    if row[0] is not None:
        values = dict(zip(_CUSTOMER_COLUMNS, row[:nc], strict=True))
        for key in ("birth_date", "onboarded_on"):  # SQLite hands dates back as text
            if isinstance(values[key], str):
                values[key] = dt.date.fromisoformat(values[key])
        customer = Customer(**values)
        customer.branch = Branch(id=values["branch_id"], **dict(zip(_BRANCH_COLUMNS, row[nc:nc + nb], strict=True)))
    product_row = row[nc + nb:nc + nb + len(_PRODUCT_COLUMNS)]
    product = None
    if product_row[0] is not None:
        product = _ProductTerms(**dict(zip(_PRODUCT_COLUMNS, product_row, strict=True)))
        product = dataclasses.replace(product, is_active=bool(product.is_active))
    return customer, product, bool(row[-1])


def _customer_id(customer_id: Any) -> int | None:
    if isinstance(customer_id, bool):
        return None
    try:
        cid = int(customer_id)
    except (TypeError, ValueError):
        return None
    return cid if 0 < cid < 2**62 else None


def _check_customer(actor: Any, cid: int | None, c: Customer | None) -> Customer:
    if cid is None:
        raise ValidationError("customer_id must be a customer number", field="customer_id", code="unknown_customer")
    if actor.role == Role.CUSTOMER:  # customers apply for themselves only
        if c is None or c.user_id != actor.pk:
            raise ValidationError("you can only apply for yourself", field="customer_id", code="unknown_customer")
    elif c is None or not org.branch_in_scope(actor, c.branch):
        raise ValidationError(f"no customer {cid} in your branch", field="customer_id", code="unknown_customer")
    if c.status != "active":
        raise ValidationError(f"customer {cid} is {c.status}", field="customer_id", code="customer_inactive")
    return c


def _channel_for(actor: Any, channel: str | None) -> Channel:
    if actor.role == Role.CUSTOMER:
        allowed, default = (Channel.WEB, Channel.API), Channel.WEB
    else:
        allowed, default = (Channel.BRANCH, Channel.API), Channel.BRANCH
    try:
        ch = Channel(channel or default)
    except ValueError:
        raise ValidationError("channel must be web, api or branch", field="channel", code="unknown_channel") from None
    if ch not in allowed:
        raise ValidationError(f"a {actor.role} cannot submit through the {ch.value} channel", field="channel",
                              code="channel_not_allowed")
    return ch


def _validate(actor: Any, customer_id: Any, product: Any, amount: Any, term: Any, inputs: Any,
              channel: Any) -> tuple[Customer, _ProductTerms, int, int, dict[str, Any], Channel, bool]:
    """Every problem with the request at once, each naming its field."""
    problems: list[FieldProblem] = []

    def attempt(fn: Any) -> Any:
        try:
            return fn()
        except ValidationError as exc:
            problems.extend(exc.problems or [FieldProblem(exc.field or "", exc.message, exc.code)])
            return None

    cid = _customer_id(customer_id)
    code = str(product or "").strip().lower()
    found, p, overdue = _lookup(cid, code)
    customer = attempt(lambda: _check_customer(actor, cid, found))
    ch = attempt(lambda: _channel_for(actor, channel))
    clean_inputs = attempt(lambda: _clean_inputs(inputs))
    if not code:
        problems.append(FieldProblem("product", "product is required", "required"))
    elif p is None:
        problems.append(FieldProblem("product", f"no product {code!r}", "unknown_product"))
    elif not p.is_active:
        problems.append(FieldProblem("product", f"product {code} is not offered", "product_inactive"))
        p = None
    minor = attempt(lambda: loans.to_minor(amount, "amount"))
    if p is not None and minor is not None and not p.min_amount_minor <= minor <= p.max_amount_minor:
        problems.append(FieldProblem("amount", f"amount must be between {loans.yuan(p.min_amount_minor)} and "
                                               f"{loans.yuan(p.max_amount_minor)}", "amount_out_of_range"))
    n: int | None = None
    if isinstance(term, bool) or not (isinstance(term, int) or (isinstance(term, str) and term.strip().isdigit())):
        problems.append(FieldProblem("term", "term must be a whole number of periods", "term_format"))
    else:
        n = int(term)
        if p is not None and not p.min_term <= n <= p.max_term:
            problems.append(FieldProblem("term", f"term must be from {p.min_term} to {p.max_term} periods",
                                         "term_out_of_range"))
    if clean_inputs is not None:
        missing = [k for k in domain.REQUIRED_INPUTS if clean_inputs.get(k) in (None, "")]
        problems += [FieldProblem(f"inputs.{k}", f"{k} is required", "required") for k in missing]
    if problems:
        raise ValidationError.collect(problems)
    return customer, p, minor, n, clean_inputs, ch, overdue  # type: ignore[return-value]


def submit_application(actor: Any, *, customer_id: Any, product: Any, amount: Any, term: Any,
                       inputs: Any = None, channel: str | None = None,
                       idempotency_key: str | None = None) -> ApplicationView:
    """Create an application and decide it at once (score → policy → limit and price → authority → quota).
    Approve: approved straight through, no human touch. Refer: into the review queue. Decline: with reasons.

    The same Idempotency-Key again returns the application the first request made (no duplicate, even when
    both arrive at the same moment: the key is unique in the database, and the loser of the race reads the
    winner's application once it has committed)."""
    if actor is not None and getattr(actor, "role", None) == Role.CUSTOMER:
        org.require(actor, Perm.APPLICATION_APPLY)
    else:
        org.require(actor, Perm.APPLICATION_CREATE)
    key = domain.normalised_key(idempotency_key)
    scoped_key = domain.idempotency_scope(actor.pk, key) if key else None
    # No look-up first: the INSERT claims the key (unique index). A repeat fails there, its transaction is
    # rolled back whole, and the application the key already names is returned. Saves a round trip per call.
    for attempt in range(3):
        try:
            return _submit(actor, customer_id, product, amount, term, inputs, channel, scoped_key)
        except IntegrityError:
            if scoped_key:
                existing = _replay(scoped_key)
                if existing is not None:
                    return _check_replay(existing, actor, customer_id, product, amount, term, inputs, channel)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _replay(scoped_key: str) -> Application | None:
    return (Application.objects.select_related("customer", "branch", "entered_by", "reviewed_by")
            .filter(idempotency_key=scoped_key).first())


def _check_replay(a: Application, actor: Any, customer_id: Any, product: Any, amount: Any, term: Any,
                  inputs: Any, channel: Any) -> ApplicationView:
    """The same key for a different request is a client bug: say so rather than return the wrong thing."""
    try:
        minor = loans.to_minor(amount, "amount")
        same = (str(a.customer_id) == str(customer_id) and a.product == str(product or "").strip().lower()
                and a.amount_minor == minor and str(a.term) == str(term))
    except ValidationError:
        same = False
    if not same:
        raise Conflict("this Idempotency-Key was already used for a different application", field="idempotency_key",
                       code="idempotency_key_reused", extra={"ref": a.ref})
    return _view(a, replayed=True)


@transaction.atomic
def _submit(actor: Any, customer_id: Any, product: Any, amount: Any, term: Any, inputs: Any, channel: Any,
            scoped_key: str | None) -> ApplicationView:
    customer, p, minor, n, clean_inputs, ch, overdue = _validate(actor, customer_id, product, amount, term, inputs,
                                                                 channel)
    now = timezone.now()
    today = timezone.localdate(now)
    gathered = sources.gather(customer, clean_inputs, today, overdue_here=overdue)
    ref = domain.new_ref(today)
    pending = decisions.begin_decision(actor, application_ref=ref, customer_id=customer.pk, product=p.code,
                                       branch=customer.branch.code, amount_minor=minor, term=n, inputs=gathered.inputs,
                                       channel=ch.value, reserve=True)
    request_hash = _request_hash(customer.pk, p.code, minor, n, ch.value, clean_inputs)

    def rows(d: Any) -> tuple[Application, list[Transition], _Rows]:
        """The application and its first transitions, from the decision as it stands."""
        target = domain.transition(Status.SUBMITTED, domain.outcome_status(d.outcome))
        a = Application(ref=ref, customer=customer, branch=customer.branch, product=p.code, currency=p.currency,
                        amount_minor=minor, term=n, channel=ch.value, inputs=gathered.inputs,
                        input_sources=gathered.sources, status=target.value,
                        auto_approved=target is Status.APPROVED, entered_by=actor, idempotency_key=scoped_key,
                        request_hash=request_hash, queued_at=now if target is Status.REFERRED else None,
                        decided_at=now if target in (Status.APPROVED, Status.DECLINED) else None,
                        created_at=now, updated_at=now)
        _apply_decision(a, d)
        why = "; ".join(d.reasons[:5]) if d.reasons else d.outcome
        transitions = [_transition_row(a, Status.DRAFT, Status.SUBMITTED, actor, f"submitted via {ch.value}", now),
                       _transition_row(a, Status.SUBMITTED, target, None, f"automated decision: {why}", now)]
        return a, transitions, _Rows(a, transitions)

    # The rows are written before the quota is reserved: a straight-through approval holds the plan's quota rows
    # and the ledger's sequencer from its reservation to the commit, and other approvals wait for them. Written
    # as the plan usually answers; corrected in the rare case it answers otherwise (the case is then referred).
    # A second request with the same Idempotency-Key fails at this INSERT on the unique index, and its whole
    # transaction rolls back.
    a, transitions, built = rows(pending.view)
    _insert(pending, a, transitions, built)
    if pending.reserve():
        a, transitions, built = _correct(a, built, *rows(pending.view))
    d = pending.view
    # Both events in one append (one sequencer round trip), last: the sequencer's row lock is held from here to
    # the commit, so nothing else of this transaction runs while other submissions wait for it.
    ledger.append_many(actor, [pending.event(), ledger.EventSpec("application.submitted", "application", a.ref, {
        "customer": customer.pk, "branch": customer.branch.code, "product": p.code, "amount_minor": minor,
        "term": n, "channel": ch.value, "decision": d.id, "outcome": d.outcome, "status": a.status,
        "auto_approved": a.auto_approved, "quota": a.quota_status})])
    return _view(a, approvals=0)


_APP_FIELDS = [f for f in Application._meta.concrete_fields if not f.primary_key]
_TRANSITION_FIELDS = [f for f in Transition._meta.concrete_fields
                      if not f.primary_key and f.attname != "application_id"]


_JSON_FIELDS = frozenset(f for f in (*_APP_FIELDS, *_TRANSITION_FIELDS) if f.get_internal_type() == "JSONField")


#: Fields whose adaptation gives back a value of this exact type unchanged (None too): skipped on the hot path.
_PLAIN = {"CharField": str, "TextField": str, "BigIntegerField": int, "IntegerField": int, "PositiveIntegerField": int,
          "PositiveSmallIntegerField": int, "BooleanField": bool, "FloatField": float, "ForeignKey": int}
_PASS_TYPE = {f: _PLAIN.get(f.get_internal_type()) for f in (*_APP_FIELDS, *_TRANSITION_FIELDS)}


def _db_value(field: Any, value: Any) -> Any:
    """A value as the INSERT sends it: JSON already serialised (as the field would: ``json.dumps`` with its
    encoder; the statement casts it), text, numbers and ids as they are, the rest through the field's own
    adaptation."""
    if value is None and field not in _JSON_FIELDS or type(value) is _PASS_TYPE.get(field):
        return value
    if field in _JSON_FIELDS:
        return None if value is None else json.dumps(value, cls=field.encoder)
    return field.get_db_prep_save(value, connection)


class _Rows:
    """The application's and its transitions' INSERT values, adapted ahead (the application's decision_id is
    filled in by the statement: the decision is inserted with it)."""

    def __init__(self, a: Application, transitions: list[Transition]) -> None:
        self.app = [_db_value(f, getattr(a, f.attname)) for f in _APP_FIELDS]
        self.transitions = [_db_value(f, getattr(t, f.attname)) for t in transitions for f in _TRANSITION_FIELDS]


def _slot(f: Any) -> str:
    return "%s::jsonb" if f in _JSON_FIELDS and connection.vendor == "postgresql" else "%s"


_app_sql: dict[str, str] = {}


def _app_insert_sql(pg: bool) -> str:
    """The application's INSERT (on PostgreSQL its decision_id is the decision inserted by the same statement)."""
    sql = _app_sql.get(connection.vendor)
    if sql is None:
        sql = _app_sql[connection.vendor] = (
            f"INSERT INTO {Application._meta.db_table} ({', '.join(f.column for f in _APP_FIELDS)}) VALUES ("
            + ", ".join("(SELECT id FROM d)" if pg and f.attname == "decision_id" else _slot(f) for f in _APP_FIELDS)
            + ") RETURNING id")
    return sql


def _insert(pending: Any, a: Application, transitions: list[Transition], rows: _Rows) -> None:
    """INSERT the decision, the application (naming the decision) and its first transitions: one statement on
    PostgreSQL (data-modifying CTEs), one by one elsewhere. Values go through each field's own adaptation (JSON,
    datetimes), as the ORM would do."""
    decision_sql, decision_params = pending.insert()
    pg = connection.vendor == "postgresql"
    app_params = [v for f, v in zip(_APP_FIELDS, rows.app, strict=True) if not (pg and f.attname == "decision_id")]
    insert = _app_insert_sql(pg)
    tcols = ", ".join(f.column for f in _TRANSITION_FIELDS)
    if pg:
        tvalues = ", ".join(f"((SELECT id FROM a), {', '.join(['%s'] * len(_TRANSITION_FIELDS))})" for _ in transitions)
        with connection.cursor() as cur:
            cur.execute(f"WITH d AS ({decision_sql}), a AS ({insert}) INSERT INTO {Transition._meta.db_table} "
                        f"(application_id, {tcols}) VALUES {tvalues} RETURNING application_id, (SELECT id FROM d)",
                        [*decision_params, *app_params, *rows.transitions])
            a.pk, decision_id = cur.fetchone()
    else:
        with connection.cursor() as cur:
            cur.execute(decision_sql, decision_params)
            decision_id = cur.fetchone()[0]
            app_params[[f.attname for f in _APP_FIELDS].index("decision_id")] = decision_id
            cur.execute(insert, app_params)
            a.pk = cur.fetchone()[0]
        for t in transitions:
            t.application = a
        Transition.objects.bulk_create(transitions)
    a.id, a.decision_id = a.pk, decision_id
    pending.inserted(decision_id)


def _correct(stored: Application, stored_rows: _Rows, a: Application, transitions: list[Transition], rows: _Rows
             ) -> tuple[Application, list[Transition], _Rows]:
    """The plan did not grant the quota after the rows were written (rare): UPDATE the application and its
    transitions where they differ from the rows built from the corrected decision."""
    a.pk = a.id = stored.pk
    a.decision_id = stored.decision_id
    changed = [(f, v) for f, old, v in zip(_APP_FIELDS, stored_rows.app, rows.app, strict=True)
               if f.attname != "decision_id" and old != v]
    n, at_from = len(_TRANSITION_FIELDS), [f.attname for f in _TRANSITION_FIELDS].index("from_status")
    with connection.cursor() as cur:
        if changed:
            cur.execute(f"UPDATE {Application._meta.db_table} SET "
                        f"{', '.join(f'{f.column} = {_slot(f)}' for f, _v in changed)} WHERE id = %s",
                        [*(v for _f, v in changed), a.pk])
        for i in range(len(transitions)):
            old, new = stored_rows.transitions[i * n:(i + 1) * n], rows.transitions[i * n:(i + 1) * n]
            diff = [(f, v) for f, o, v in zip(_TRANSITION_FIELDS, old, new, strict=True) if o != v]
            if diff:
                cur.execute(f"UPDATE {Transition._meta.db_table} SET "
                            f"{', '.join(f'{f.column} = %s' for f, _v in diff)} "
                            "WHERE application_id = %s AND from_status = %s",
                            [*(v for _f, v in diff), a.pk, old[at_from]])
    return a, transitions, rows


def _apply_decision(a: Application, d: Any) -> None:
    a.decision_id = d.id
    a.decision_outcome = d.outcome
    a.score = None if d.score is None else int(d.score)
    a.grade = d.grade or ""
    a.approved_amount_minor = d.approved_amount_minor
    a.rate_ppm = d.rate_ppm
    a.installment_minor = d.installment_minor
    a.required_level = str(d.required_level or "")
    a.required_approvals = max(1, int(d.required_approvals or 1))
    a.quota_status = str(d.quota_status or "")
    en, zh, codes = list(d.reasons or []), list(getattr(d, "reasons_zh", []) or []), list(
        getattr(d, "reason_codes", []) or [])
    a.reasons = [{"code": codes[i] if i < len(codes) else "", "en": str(text), "zh": zh[i] if i < len(zh) else str(text)}
                 for i, text in enumerate(en)]
    a.decision_snapshot = _jsonable({
        "policy_version": d.policy_version, "rules_fired": d.rules_fired, "limit_steps": d.limit_steps,
        "price_steps": d.price_steps, "apr": d.apr,
    })


def _jsonable(value: Any) -> Any:
    """Decision explanations may carry Decimals, dates or dataclasses: store them as text."""
    import dataclasses

    if value is None or type(value) in _JSON_LEAVES:  # the usual case first (same answers, fewer checks)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | str):
        return value
    return str(value)


_JSON_LEAVES = frozenset({str, int, bool})


# --- reading ---------------------------------------------------------------------------------------------

def _base() -> QuerySet[Application]:
    return Application.objects.select_related("customer", "branch", "entered_by", "reviewed_by")


def _visible(actor: Any, qs: QuerySet[Application] | None = None) -> QuerySet[Application]:
    """Customers see their own applications; staff the applications of their branch subtree."""
    org.require(actor, Perm.APPLICATION_VIEW)
    qs = _base() if qs is None else qs
    if actor.role == Role.CUSTOMER:
        return qs.filter(customer__user=actor)
    return org.scope_to_branches(actor, qs)


def _get(actor: Any, ref: str, *, for_update: bool = False) -> Application:
    qs = _visible(actor)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    a = qs.filter(ref=str(ref or "").strip()).first()
    if a is None:
        raise NotFound(f"application {ref} not found", code="application_not_found")
    return a


def get_application(actor: Any, ref: str) -> ApplicationView:
    return _view(_get(actor, ref))


def list_applications(actor: Any, *, status: str | None = None, limit: int = 100) -> list[ApplicationView]:
    """The actor's applications (a customer's own; staff: their branch's), newest first."""
    qs = _visible(actor).annotate(n_approvals=Count("approvals", filter=Q(approvals__decision="approve")))
    if status:
        qs = qs.filter(status=status)
    return [_view(a) for a in qs.order_by("-id")[: max(1, min(limit, 500))]]


@dataclass(frozen=True)
class QuotaLine:
    label: str
    mode: str
    limit_minor: int
    reserved_minor: int
    consumed_minor: int
    available_minor: int


@dataclass(frozen=True)
class CaseView:
    """Everything about one case, for the application page."""

    application: ApplicationView
    customer: Any  # customers.services.CustomerView (masked)
    transitions: list[TransitionView]
    approvals: list[ApprovalView]
    reservation: dict[str, Any] | None
    quotas: list[QuotaLine]
    may_approve: tuple[bool, str]
    may_decline: tuple[bool, str]
    may_request_info: tuple[bool, str]
    may_withdraw: bool
    may_provide_info: bool
    extra: dict[str, Any] = field(default_factory=dict)


def application_case(actor: Any, ref: str) -> CaseView:
    from creditplan.customers import services as customers

    a = _get(actor, ref)
    view = _view(a)
    customer = customers.get_customer(actor, a.customer_id) if actor.role != Role.CUSTOMER else None
    transitions = [TransitionView(t.from_status, t.to_status, t.actor_name, t.reason, t.at)
                   for t in a.transitions.all()]
    approvals = [ApprovalView(_name(x.user), x.user_id, x.decision, x.reason_code, x.note, x.level, x.at)
                 for x in a.approvals.select_related("user")]
    reservation, quotas = _quota_position(a)
    return CaseView(
        application=view, customer=customer, transitions=transitions, approvals=approvals,
        reservation=reservation, quotas=quotas,
        may_approve=_check(lambda: _approval_checks(actor, a, "approve")),
        may_decline=_check(lambda: _approval_checks(actor, a, "decline")),
        may_request_info=_check(lambda: _review_checks(actor, a)),
        may_withdraw=_may_withdraw(actor, a),
        may_provide_info=a.status == Status.INFO_REQUESTED and _may_act_for_customer(actor, a),
    )


def _check(fn: Any) -> tuple[bool, str]:
    try:
        fn()
    except CreditplanError as exc:
        return False, exc.message
    return True, ""


def _quota_position(a: Application) -> tuple[dict[str, Any] | None, list[QuotaLine]]:
    """The credit-plan quotas this application falls in, with what is left in each; and its reservation."""
    r = Reservation.objects.filter(application_ref=a.ref).order_by("-id").first()
    if r is not None:
        qs = r.quotas.select_related("branch").order_by("id")
        reservation = {"status": r.status, "amount_minor": r.amount_minor, "reason": r.reason,
                       "large_exposure": r.large_exposure, "expires_at": r.expires_at}
    else:
        reservation = None
        today = timezone.localdate()
        plan = Plan.objects.filter(status="active", period_start__lte=today, period_end__gte=today).order_by("id").first()
        if plan is None:
            return None, []
        ancestors = [code for code in a.branch.path.strip("/").split("/") if code]
        qs = (Quota.objects.filter(plan=plan).filter(Q(branch__isnull=True) | Q(branch__code__in=ancestors))
              .filter(Q(product="") | Q(product=a.product))
              .filter(Q(industry="") | Q(industry=(a.customer.industry_code or "")[:1]))
              .filter(Q(region="") | Q(region=(a.customer.region_code or "")[:2]))
              .filter(segment="").select_related("branch").order_by("id"))
    lines = [QuotaLine(plans.quota_label(q), q.control_mode, q.new_lending_limit_minor, q.reserved_minor,
                       q.consumed_minor, q.new_lending_limit_minor - q.reserved_minor - q.consumed_minor) for q in qs]
    return reservation, lines


# --- the review queue ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueItem:
    application: ApplicationView
    age_hours: float
    may_approve: bool
    why_not: str
    approved_by_me: bool


def _amount_filter(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    return loans.to_minor(value, name, allow_zero=True)


def review_queue(actor: Any, filters: dict[str, Any] | None = None) -> list[QueueItem]:
    """Referred applications the actor may approve: in the actor's branch scope, within the authority matrix
    (`decisions.may_approve`), not entered or reviewed by the actor, and not already approved by the actor.
    `filters`: branch, product, grade, min_amount, max_amount (yuan), min_age_hours, max_age_hours, status
    (referred | info_requested), scope ("approvable", default for approvers; "all": every case in scope, each
    marked with whether the actor may approve it and why not)."""
    org.require(actor, Perm.APPLICATION_REVIEW)
    f = dict(filters or {})
    scope = f.get("scope") or ("approvable" if org.may(actor, Perm.APPLICATION_APPROVE) else "all")
    status = f.get("status") or Status.REFERRED
    if status not in (Status.REFERRED, Status.INFO_REQUESTED):
        raise ValidationError("status must be referred or info_requested", field="status", code="unknown_status")
    qs = org.scope_to_branches(actor, _base().filter(status=status))
    if f.get("branch"):
        try:
            b = org.get_branch(str(f["branch"]).strip().upper())
        except NotFound:
            raise ValidationError(f"no active branch {f['branch']!r}", field="branch", code="unknown_branch") from None
        qs = qs.filter(branch__path__startswith=b.path)
    if f.get("product"):
        qs = qs.filter(product=str(f["product"]).strip().lower())
    if f.get("grade"):
        grades = f["grade"] if isinstance(f["grade"], list | tuple) else str(f["grade"]).split(",")
        qs = qs.filter(grade__in=[g.strip() for g in grades if g.strip()])
    low, high = _amount_filter(f.get("min_amount"), "min_amount"), _amount_filter(f.get("max_amount"), "max_amount")
    if low is not None:
        qs = qs.filter(amount_minor__gte=low)
    if high is not None:
        qs = qs.filter(amount_minor__lte=high)
    now = timezone.now()
    for key, lookup in (("min_age_hours", "queued_at__lte"), ("max_age_hours", "queued_at__gte")):
        if f.get(key) not in (None, ""):
            try:
                hours = float(f[key])
            except (TypeError, ValueError):
                raise ValidationError(f"{key} must be a number of hours", field=key, code="age_format") from None
            qs = qs.filter(**{lookup: now - dt.timedelta(hours=hours)})
    qs = qs.annotate(
        n_approvals=Count("approvals", filter=Q(approvals__decision="approve")),
        mine=Exists(Approval.objects.filter(application=OuterRef("pk"), user=actor, decision="approve")),
    ).order_by("queued_at", "id")
    items: list[QueueItem] = []
    rows = list(qs[: QUEUE_LIMIT * 2])
    reviewers: dict[int, set[int]] = {a.pk: ({a.reviewed_by_id} if a.reviewed_by_id else set()) for a in rows}
    for app_id, user_id in (Transition.objects.filter(application_id__in=list(reviewers),
                                                      to_status=Status.INFO_REQUESTED, actor__isnull=False)
                            .values_list("application_id", "actor_id")):
        reviewers[app_id].add(user_id)
    memo: dict[tuple, tuple[bool, str]] = {}
    may_decide = org.may(actor, Perm.APPLICATION_APPROVE)
    for a in rows:
        if may_decide:
            ok, why = _check(lambda a=a: _approval_checks(actor, a, "approve", already_mine=a.mine,
                                                          reviewers=reviewers[a.pk], memo=memo))
        else:
            ok, why = False, "your role does not approve applications"
        if scope == "approvable" and not ok:
            continue
        age = (now - (a.queued_at or a.created_at)).total_seconds() / 3600
        items.append(QueueItem(_view(a), round(age, 1), ok, why, bool(a.mine)))
        if len(items) >= QUEUE_LIMIT:
            break
    return items


# --- review actions --------------------------------------------------------------------------------------

def _decision_amount(a: Application) -> int:
    """What the approver puts their name to: the decision's approved amount, else the request."""
    return a.approved_amount_minor if a.approved_amount_minor else a.amount_minor


def _reviewers(a: Application) -> set[int]:
    ids = set(Transition.objects.filter(application=a, to_status=Status.INFO_REQUESTED, actor__isnull=False)
              .values_list("actor_id", flat=True))
    if a.reviewed_by_id:
        ids.add(a.reviewed_by_id)
    return ids


def _approval_checks(actor: Any, a: Application, action: str, *, already_mine: bool | None = None,
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
                        code="insufficient_authority")
    if action == "approve":
        mine = already_mine if already_mine is not None else a.approvals.filter(user=actor, decision="approve").exists()
        if mine:
            raise Conflict("you have already approved this application; a second, different approver is needed",
                           code="already_approved")


def _review_checks(actor: Any, a: Application) -> None:
    org.require(actor, Perm.APPLICATION_REVIEW)
    if a.status != Status.REFERRED:
        raise Conflict(f"application {a.ref} is {a.status}; only a referred case can be sent back for information",
                       code="not_in_review")


def _move(a: Application, target: Status, actor: Any, reason: str, now: dt.datetime,
          fields: Iterable[str] = ()) -> None:
    frm = a.status
    a.status = domain.transition(frm, target).value
    a.version += 1
    a.save(update_fields=["status", "version", "updated_at", *fields])
    Transition.objects.create(application=a, from_status=frm, to_status=a.status, actor=actor,
                              actor_name=getattr(actor, "username", None) or "system", reason=reason[:500], at=now)


@transaction.atomic
def approve(actor: Any, ref: str, reason_code: str, note: str = "") -> ApplicationView:
    """Approve a referred case. Refused (Forbidden, with the reason) without enough authority or against
    maker-checker. Above the threshold the first approval is recorded and the case stays in the queue for
    a second, different approver; the last approval reserves the credit-plan quota (a hard limit refuses)."""
    org.require(actor, Perm.APPLICATION_APPROVE)
    code, note = domain.clean_reason("approve", reason_code, note)
    a = _get(actor, ref, for_update=True)
    _approval_checks(actor, a, "approve")
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
        return _view(a, approvals=step.count)
    if a.quota_status not in ("reserved", "escalated"):
        a.quota_status = _reserve(actor, a)
    a.decided_at = now
    _move(a, Status.APPROVED, actor, f"approved ({code}){': ' + note if note else ''}", now,
          fields=["quota_status", "decided_at"])
    ledger.append(actor, "application.approved", "application", a.ref, {
        "approvals": step.count, "required": step.required, "reason_code": code, "note": note,
        "amount_minor": _decision_amount(a), "quota": a.quota_status})
    return _view(a, approvals=step.count)


def _authority_level(actor: Any) -> str:
    level = getattr(decisions, "authority_level", None)
    if callable(level):
        try:
            return str(level(actor) or "")[:30]
        except CreditplanError:
            return ""
    return actor.role


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
    is_authenticated: bool = True
    is_active: bool = True


def _reserve(actor: Any, a: Application) -> str:
    """Hold the credit-plan quota for the approved amount. Hard limit: LimitExceeded (the approval is refused,
    with the reason). No active plan: nothing to track (as loans do)."""
    principal = actor if org.may(actor, Perm.QUOTA_RESERVE) else _Approval(actor.username)
    industry = (a.customer.industry_code or "")[:1].upper()
    region = (a.customer.region_code or "")[:2]
    try:
        r = plans.reserve_quota(principal, application_ref=a.ref, amount=loans.yuan(_decision_amount(a)),
                                branch=a.branch.code, product=a.product,
                                industry=industry if industry in INDUSTRY_SECTIONS else "",
                                region=region if region in PROVINCES else "", customer_ref=str(a.customer_id))
    except Conflict as exc:
        if exc.code == "no_active_plan":
            return "untracked"
        raise
    return r.status


@transaction.atomic
def decline(actor: Any, ref: str, reason_code: str, note: str = "") -> ApplicationView:
    """Decline a referred case (one decline with authority ends it, whatever the approvals required)."""
    org.require(actor, Perm.APPLICATION_APPROVE)
    code, note = domain.clean_reason("decline", reason_code, note)
    a = _get(actor, ref, for_update=True)
    _approval_checks(actor, a, "decline")
    now = timezone.now()
    Approval.objects.create(application=a, user=actor, decision="decline", reason_code=code, note=note,
                            level=_authority_level(actor))
    a.decided_at = now
    _move(a, Status.DECLINED, actor, f"declined ({code}){': ' + note if note else ''}", now, fields=["decided_at"])
    ledger.append(actor, "application.declined", "application", a.ref, {"reason_code": code, "note": note})
    return _view(a)


@transaction.atomic
def request_info(actor: Any, ref: str, reason_code: str, note: str = "", inputs: Any = None) -> ApplicationView:
    """Send a referred case back to the customer for more information. The reviewer may not then approve it.
    `inputs`: the applicant fields the customer is to send (names an applicant may state and the bank does not
    hold for this case); the answer may carry those and nothing else."""
    org.require(actor, Perm.APPLICATION_REVIEW)
    code, note = domain.clean_reason("request_info", reason_code, note)
    a = _get(actor, ref, for_update=True)
    _review_checks(actor, a)
    asked = domain.clean_requested(inputs, a.inputs or {}, a.input_sources or {})
    now = timezone.now()
    a.reviewed_by = actor
    a.requested_inputs = list(asked)
    _move(a, Status.INFO_REQUESTED, actor, f"information requested ({code}){': ' + note if note else ''}", now,
          fields=["reviewed_by", "requested_inputs"])
    ledger.append(actor, "application.info_requested", "application", a.ref,
                  {"reason_code": code, "note": note, "inputs": list(asked)})
    return _view(a)


def requestable_inputs(v: ApplicationView) -> tuple[str, ...]:
    """The applicant fields a reviewer may ask for on this case (those the bank does not hold)."""
    return domain.requestable(v.inputs, v.input_sources)


def _may_act_for_customer(actor: Any, a: Application) -> bool:
    if actor.role == Role.CUSTOMER:
        return org.may(actor, Perm.APPLICATION_APPLY) and a.customer.user_id == actor.pk
    return org.may(actor, Perm.APPLICATION_CREATE) and org.branch_in_scope(actor, a.branch)


@transaction.atomic
def provide_info(actor: Any, ref: str, inputs: Any, note: str = "") -> ApplicationView:
    """The customer (or their loan officer) answers: the fields the reviewer asked for are added (as stated) and
    the case goes back to the queue. Any other field is refused by name, and so is a value the bank's records or
    the bureau hold for this case: an answer never overwrites them."""
    org.require(actor, Perm.APPLICATION_VIEW)
    a = _get(actor, ref, for_update=True)
    if not _may_act_for_customer(actor, a):
        raise Forbidden("only the customer or their loan officer can add information", code="permission_denied")
    if a.status != Status.INFO_REQUESTED:
        raise Conflict(f"application {a.ref} is {a.status}; no information was requested", code="not_info_requested")
    added = _clean_inputs(inputs, declared_only=False)  # answer_problems names every field not allowed
    problems = domain.answer_problems(added, a.requested_inputs or [], a.inputs or {}, a.input_sources or {})
    if problems:
        raise ValidationError.collect(problems)
    if not added and not (note or "").strip():
        raise ValidationError("send the information asked for (inputs or a note)", field="inputs", code="required")
    a.inputs = {**(a.inputs or {}), **added}
    a.input_sources = {**(a.input_sources or {}), **{k: domain.Source.STATED.value for k in added}}
    now = timezone.now()
    _move(a, Status.REFERRED, actor, f"information provided: {', '.join(sorted(added)) or (note or '').strip()}"[:500],
          now, fields=["inputs", "input_sources"])
    ledger.append(actor, "application.info_provided", "application", a.ref,
                  {"inputs": sorted(added), "note": (note or "").strip()[:500]})
    return _view(a)


def _may_withdraw(actor: Any, a: Application) -> bool:
    return Status(a.status) in domain.OPEN and Status(a.status) is not Status.DRAFT and _may_act_for_customer(actor, a)


@transaction.atomic
def withdraw(actor: Any, ref: str, reason: str = "") -> ApplicationView:
    """The customer changes their mind (or their officer records it). Any quota held goes back to the plan."""
    org.require(actor, Perm.APPLICATION_VIEW)
    a = _get(actor, ref, for_update=True)
    if not _may_act_for_customer(actor, a):
        raise Forbidden("only the customer or their loan officer can withdraw an application", code="permission_denied")
    reason = (reason or "").strip()[:300] or "withdrawn by the applicant"
    _leave(actor, a, Status.WITHDRAWN, reason)
    ledger.append(actor, "application.withdrawn", "application", a.ref, {"reason": reason})
    return _view(a)


def _leave(actor: Any, a: Application, target: Status, reason: str) -> None:
    domain.transition(a.status, target)  # refuse before touching the quota
    if a.quota_status in ("reserved", "escalated"):
        plans.release_quota(None, application_ref=a.ref, reason=reason, kind="expire" if target is Status.EXPIRED
                            else "release")
        a.quota_status = "released" if target is Status.WITHDRAWN else "expired"
    _move(a, target, actor, reason, timezone.now(), fields=["quota_status"])


def expire_applications(*, older_than_days: int = 30, now: dt.datetime | None = None) -> int:
    """Close cases left waiting (referred, info requested) longer than the limit; run daily by the system."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=older_than_days)
    refs = list(Application.objects.filter(status__in=(Status.REFERRED, Status.INFO_REQUESTED), updated_at__lt=cutoff)
                .values_list("ref", flat=True))
    for ref in refs:
        with transaction.atomic():
            a = _base().select_for_update(of=("self",)).get(ref=ref)
            if a.status not in (Status.REFERRED, Status.INFO_REQUESTED):
                continue
            reason = f"no decision within {older_than_days} days"
            _leave(None, a, Status.EXPIRED, reason)
            ledger.append(None, "application.expired", "application", a.ref, {"reason": reason})
    return len(refs)


def reason_codes(action: str) -> tuple[str, ...]:
    return domain.REASONS[action]


def may_submit(actor: Any) -> bool:
    return org.may(actor, Perm.APPLICATION_APPLY if actor.role == Role.CUSTOMER else Perm.APPLICATION_CREATE)


def own_customer_id(actor: Any) -> int | None:
    """The customer record a customer log-in belongs to (None for staff or an unlinked log-in)."""
    if actor.role != Role.CUSTOMER:
        return None
    return Customer.objects.filter(user=actor).values_list("pk", flat=True).first()


def products_on_offer() -> list[Any]:
    return [p for p in loans.list_products() if p.is_active]


def branch_choices(actor: Any) -> list[tuple[str, str]]:
    if sees_all_branches(actor.role) or actor.branch_id:
        return [(b.code, b.name) for b in org.list_branches(actor)]
    return []


def customers_of(refs: Iterable[str]) -> dict[str, int]:
    """Application ref → customer id, for system readers (integration's notifications); no permission check."""
    return dict(Application.objects.filter(ref__in=list(refs)).values_list("ref", "customer_id"))
