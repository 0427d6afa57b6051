"""Submitting an application — the hot path (benchmarks/bench_decision_http.py: 6 SQL statements, median ~9-10
ms): validate everything at once, gather the inputs, decide it at once (decisions.begin_decision), write the
decision, the application and its transitions in one statement (origination.sql), reserve the quota, append
both ledger events in one call. Idempotent with an Idempotency-Key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, FieldProblem, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.customers.models import Customer
from creditplan.decisions import services as decisions
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role
from creditplan.origination import domain, sources, sql
from creditplan.origination.domain import Channel, Status
from creditplan.origination.models import Application, Transition
from creditplan.origination.services.records import ApplicationView, application_view, transition_row

MAX_INPUT_KEYS = 80
MAX_INPUT_BYTES = 16_000


def clean_inputs(inputs: Any, *, declared_only: bool = True) -> dict[str, Any]:
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
    problems += domain.stated_bounds_problems(out)  # issue 20: an income of 10^26 yuan is a typo, not an approval
    if problems:
        raise ValidationError.collect(problems)
    return out


def _request_hash(customer_id: int, product: str, amount_minor: int, term: int, channel: str,
                  inputs: dict[str, Any]) -> str:
    body = json.dumps({"c": customer_id, "p": product, "a": amount_minor, "t": term, "ch": channel, "i": inputs},
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _customer_id(customer_id: Any) -> int | None:
    if isinstance(customer_id, bool):
        return None
    try:
        cid = int(customer_id)
    except (TypeError, ValueError):
        return None
    return cid if 0 < cid < 2**62 else None


def _check_customer(actor: Actor, cid: int | None, c: Customer | None) -> Customer:
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


def _channel_for(actor: Actor, channel: str | None) -> Channel:
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


def _validate(actor: Actor, customer_id: Any, product: Any, amount: Any, term: Any, inputs: Any,
              channel: Any) -> tuple[Customer, sql.ProductTerms, int, int, dict[str, Any], Channel, bool, Any]:
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
    found, p, overdue, line = sql.lookup(cid, code)
    customer = attempt(lambda: _check_customer(actor, cid, found))
    ch = attempt(lambda: _channel_for(actor, channel))
    stated = attempt(lambda: clean_inputs(inputs))
    if not code:
        problems.append(FieldProblem("product", "product is required", "required"))
    elif p is None:
        problems.append(FieldProblem("product", f"no product {code!r}", "unknown_product"))
    elif not p.is_active:
        problems.append(FieldProblem("product", f"product {code} is not offered", "product_inactive"))
        p = None
    minor = attempt(lambda: parse_minor(amount, "amount", allow_zero=False))
    if p is not None and minor is not None and not p.min_amount_minor <= minor <= p.max_amount_minor:
        problems.append(FieldProblem("amount", f"amount must be between {format_minor(p.min_amount_minor)} "
                                               f"and {format_minor(p.max_amount_minor)}", "amount_out_of_range"))
    n: int | None = None
    if isinstance(term, bool) or not (isinstance(term, int) or (isinstance(term, str) and term.strip().isdigit())):
        problems.append(FieldProblem("term", "term must be a whole number of periods", "term_format"))
    else:
        n = int(term)
        if p is not None and not p.min_term <= n <= p.max_term:
            problems.append(FieldProblem("term", f"term must be from {p.min_term} to {p.max_term} periods",
                                         "term_out_of_range"))
    if stated is not None:
        missing = [k for k in domain.REQUIRED_INPUTS if stated.get(k) in (None, "")]
        problems += [FieldProblem(f"inputs.{k}", f"{k} is required", "required") for k in missing]
    if problems:
        raise ValidationError.collect(problems)
    if line is not None and p is not None and line.currency != p.currency:
        line = None  # a line in one currency does not cover a product lending in another
    return customer, p, minor, n, stated, ch, overdue, line  # type: ignore[return-value]


def submit_application(actor: Actor, *, customer_id: Any, product: Any, amount: Any, term: Any,
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


def _check_replay(a: Application, actor: Actor, customer_id: Any, product: Any, amount: Any, term: Any,
                  inputs: Any, channel: Any) -> ApplicationView:
    """The same key for a different request is a client bug: say so rather than return the wrong thing."""
    try:
        minor = parse_minor(amount, "amount", allow_zero=False)
        same = (str(a.customer_id) == str(customer_id) and a.product == str(product or "").strip().lower()
                and a.amount_minor == minor and str(a.term) == str(term))
    except ValidationError:
        same = False
    if not same:
        raise Conflict("this Idempotency-Key was already used for a different application", field="idempotency_key",
                       code="idempotency_key_reused", extra={"ref": a.ref})
    return application_view(a, replayed=True)


@transaction.atomic
def _submit(actor: Actor, customer_id: Any, product: Any, amount: Any, term: Any, inputs: Any, channel: Any,
            scoped_key: str | None) -> ApplicationView:
    customer, p, minor, n, stated, ch, overdue, line = _validate(actor, customer_id, product, amount, term, inputs,
                                                                 channel)
    now = timezone.now()
    today = timezone.localdate(now)
    gathered = sources.gather(customer, stated, today, overdue_here=overdue)
    ref = domain.new_ref(today)
    pending = decisions.begin_decision(actor, application_ref=ref, customer_id=customer.pk, product=p.code,
                                       branch=customer.branch.code, amount_minor=minor, term=n, inputs=gathered.inputs,
                                       channel=ch.value, reserve=True, line=line)
    request_hash = _request_hash(customer.pk, p.code, minor, n, ch.value, stated)

    def rows(d: Any) -> tuple[Application, list[Transition], sql.Rows]:
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
        transitions = [transition_row(a, Status.DRAFT, Status.SUBMITTED, actor, f"submitted via {ch.value}", now),
                       transition_row(a, Status.SUBMITTED, target, None, f"automated decision: {why}", now)]
        return a, transitions, sql.Rows(a, transitions)

    # The rows are written before the quota is reserved: a straight-through approval holds the plan's quota rows
    # and the ledger's sequencer from its reservation to the commit, and other approvals wait for them. Written
    # as the plan usually answers; corrected in the rare case it answers otherwise (the case is then referred).
    # A second request with the same Idempotency-Key fails at this INSERT on the unique index, and its whole
    # transaction rolls back.
    a, transitions, built = rows(pending.view)
    decision_sql, decision_params = pending.insert()
    pending.inserted(sql.insert_submission(decision_sql, decision_params, a, transitions, built))
    if pending.reserve():
        a, transitions, built = sql.correct_submission(a, built, *rows(pending.view))
    d = pending.view
    # Both events in one append (one sequencer round trip), last: the sequencer's row lock is held from here to
    # the commit, so nothing else of this transaction runs while other submissions wait for it.
    ledger.append_many(actor, [pending.event(), *pending.line_events(), ledger.EventSpec(
        "application.submitted", "application", a.ref, {
        "customer": customer.pk, "branch": customer.branch.code, "product": p.code, "amount_minor": minor,
        "term": n, "channel": ch.value, "decision": d.id, "outcome": d.outcome, "status": a.status,
        "auto_approved": a.auto_approved, "quota": a.quota_status})])
    return application_view(a, approvals=0)


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
