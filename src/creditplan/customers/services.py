"""Customer use cases: create, update, archive, find, read — with permissions, branch scope, PII
protection and an audit event inside each transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.crypto import PiiCipher, derive_key
from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.core.ids import mask_phone
from creditplan.core.money import Money
from creditplan.customers.domain import (
    CleanCustomer,
    CustomerKind,
    CustomerStatus,
    clean_customer,
    parse_date,
)
from creditplan.customers.models import CorrectionStatus, Customer, IdentityCorrection
from creditplan.ledger import services as ledger
from creditplan.ledger.domain import canonical_json
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role

PAGE_SIZE = 25


@cache
def cipher() -> PiiCipher:
    """Fernet under the configured PII keys (CREDITPLAN_PII_KEY; in development mode the machine's random key);
    the blind index under a key derived from the secret key and the oldest PII key, so that it stays the same
    while PII keys are rotated. Never a key derived from anything in the repository: no PII key, no cipher."""
    if not settings.PII_KEYS:
        raise ImproperlyConfigured(
            "CREDITPLAN_PII_KEY is not set: personal data cannot be encrypted or read (make one with python3 -c "
            "'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())', or on a development "
            "machine set CREDITPLAN_DEVELOPMENT=1)")
    keys = [k.encode() for k in settings.PII_KEYS]
    return PiiCipher(keys, index_key=derive_key(settings.SECRET_KEY + "|" + keys[-1].decode(), "pii-index"))


def mask_tail(value: str | None) -> str:
    """Only the last 4 characters shown ("**************123X", "*******5678"); never more than half of a short
    value. Applied to whatever is stored, so a value masked by an earlier release (first 3 kept) is masked again."""
    text = (value or "").strip()
    tail = min(4, len(text) // 2)
    return "*" * (len(text) - tail) + (text[len(text) - tail:] if tail else "")


def mask_id(number: str) -> str:
    return mask_tail(number)


# Personal data in the ledger: never in clear nor masked, a keyed digest (HMAC-SHA256 under the blind-index key)
# that identifies a value (two events name the same number) without revealing it. The ledger can never be
# edited; a digest is worthless without the key.
PII_AUDIT_FIELDS = ("id_number", "phone", "birth_date", "region_code")
DIGEST_PREFIX = "hmac:"
IDENTITY_FIELDS = ("kind", "id_number", "birth_date", "uscc")  # changed only by a four-eyes identity correction


def pii_digest(field: str, value: Any) -> str | None:
    """The keyed digest of one personal value as the ledger records it (None for no value)."""
    if value is None or value == "":
        return None
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return DIGEST_PREFIX + cipher().blind_index(f"ledger|{field}|{text}")[:32]


def legacy_audit_digest(values: dict[str, Any]) -> str:
    """Keyed digest of the personal values a first-format event recorded (masked / clear): what a
    customer.pii_digested event carries so the ledger's replay can check the hand-over without repeating them."""
    return DIGEST_PREFIX + cipher().blind_index("ledger|legacy|" + canonical_json(values).decode("utf-8"))[:32]


@dataclass(frozen=True)
class CustomerView:
    """What a caller may see of a customer: PII in clear only for roles that may see it."""

    id: int
    kind: str
    status: str
    name: str
    branch_code: str
    branch_name: str
    id_number: str | None
    phone: str | None
    birth_date: dt.date | None
    sex: str
    monthly_income: Money | None
    employer: str
    uscc: str | None
    industry_code: str
    region_code: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    pii_visible: bool
    branch_name_en: str = ""  # the branch's English name (English pages), "" where it has none


def _view(actor: Actor | None, c: Customer, *, reveal: bool = False) -> CustomerView:
    """Masked unless the caller asked (`reveal`) and may: the ID and phone show their last 4 only, and an
    individual's birth date and region (which with those 4 would give the whole ID number) are left out. The
    caller that hands a revealed view out records it (`_record_reveal`)."""
    show = reveal and org.may(actor, Perm.CUSTOMER_VIEW_PII)
    id_number = (cipher().decrypt(c.id_number_enc) if show else mask_tail(c.id_masked)) if c.id_number_enc else None
    phone = (cipher().decrypt(c.phone_enc) if show else mask_tail(c.phone_masked)) if c.phone_enc else None
    income = Money(c.monthly_income_minor, c.currency) if c.monthly_income_minor is not None else None
    personal = c.kind == CustomerKind.INDIVIDUAL
    return CustomerView(
        id=c.pk, kind=c.kind, status=c.status, name=c.name, branch_code=c.branch.code, branch_name=c.branch.name,
        id_number=id_number, phone=phone, birth_date=c.birth_date if show else None, sex=c.sex,
        monthly_income=income, employer=c.employer, uscc=c.uscc, industry_code=c.industry_code,
        region_code=c.region_code if show or not personal else None,
        version=c.version, created_at=c.created_at, updated_at=c.updated_at, pii_visible=show,
        branch_name_en=c.branch.name_en,
    )


def _record_reveal(actor: Actor | None, view: CustomerView, **data: Any) -> CustomerView:
    """Every answer that carries personal data in clear is a ledger event (inside the caller's transaction)."""
    if view.pii_visible:
        ledger.append(actor, "customer.pii_viewed", "customer", view.id, data)
    return view


def _resolve_branch(actor: Actor, code: str | None) -> Any:
    if not code:
        if actor.branch_id is None:
            raise ValidationError("branch is required", field="branch", code="required")
        return actor.branch
    try:
        branch = org.get_branch(code)
    except NotFound as exc:
        raise ValidationError(exc.message, field="branch", code="unknown_branch")
    if not org.branch_in_scope(actor, branch):
        raise ValidationError(f"branch {code} is outside your branch", field="branch", code="branch_out_of_scope")
    return branch


def _apply(c: Customer, clean: CleanCustomer) -> None:
    pii = cipher()
    c.kind = clean.kind.value
    c.name = clean.name
    c.region_code = clean.region_code
    if clean.id_number:
        c.id_number_enc = pii.encrypt(clean.id_number)
        c.id_index = pii.blind_index(clean.id_number)
        c.id_masked = mask_id(clean.id_number)
    c.birth_date, c.sex, c.employer = clean.birth_date, clean.sex, clean.employer
    c.monthly_income_minor = clean.monthly_income.minor if clean.monthly_income else None
    c.currency = clean.monthly_income.currency if clean.monthly_income else "CNY"
    c.phone_enc = pii.encrypt(clean.phone) if clean.phone else ""
    c.phone_masked = mask_phone(clean.phone) if clean.phone else ""
    c._phone_clear = clean.phone or ""  # for the audit digest, saves a decryption
    c.uscc, c.industry_code = clean.uscc, clean.industry_code


def _phone_clear(c: Customer) -> str:
    cached = getattr(c, "_phone_clear", None)
    if cached is None:
        cached = cipher().decrypt(c.phone_enc) if c.phone_enc else ""
        c._phone_clear = cached
    return cached


def _pii_digests(c: Customer) -> dict[str, Any]:
    """The personal fields of the audited state, as keyed digests (a company's region is no personal data)."""
    return {
        "id_number": pii_digest("id_number", c.id_index), "phone": pii_digest("phone", _phone_clear(c)),
        "birth_date": pii_digest("birth_date", c.birth_date),
        "region_code": pii_digest("region_code", c.region_code) if c.kind == CustomerKind.INDIVIDUAL
        else c.region_code,
    }


def _legacy_pii(c: Customer) -> dict[str, Any]:
    """The personal fields as the first releases audited them (masks as stored then, birth date and region clear)."""
    return {"id_number": c.id_masked, "phone": c.phone_masked, "birth_date": c.birth_date,
            "region_code": c.region_code}


def _audit_snapshot(c: Customer) -> dict[str, Any]:
    """The audited state of a record; personal data only as keyed digests (first-format records: as they were
    audited then, until their next change hands them over with a customer.pii_digested event)."""
    return {
        "kind": c.kind, "status": c.status, "name": c.name, "branch": c.branch.code, "sex": c.sex,
        "monthly_income_minor": c.monthly_income_minor, "currency": c.currency, "employer": c.employer,
        "uscc": c.uscc, "industry_code": c.industry_code, "onboarded_on": c.onboarded_on,
        **(_legacy_pii(c) if c.audit_format == 1 else _pii_digests(c)),
    }


def _hand_over_audit(c: Customer) -> ledger.EventSpec | None:
    """For a first-format record about to change: the event that replaces, in the ledger's replay, its masked /
    clear personal values by digests (checked there against a keyed digest of those values); None otherwise.
    Call before changing the record, append after its own writes."""
    if c.audit_format != 1:
        return None
    legacy = _legacy_pii(c)
    c.audit_format = 2
    return ledger.EventSpec("customer.pii_digested", "customer", str(c.pk),
                            {"legacy": legacy_audit_digest(legacy), "after": _pii_digests(c)})


def audited_snapshots() -> Iterator[tuple[int, dict[str, Any]]]:
    """(customer id, current audited snapshot) for every customer, read-only: what the ledger's verification
    replays the customer events against (a record changed without an event shows up as a difference)."""
    for c in Customer.objects.select_related("branch").order_by("pk").iterator(chunk_size=2000):
        yield c.pk, _audit_snapshot(c)


def _check_duplicates(c: Customer) -> None:
    others = Customer.objects.exclude(pk=c.pk)
    if c.id_index and others.filter(id_index=c.id_index).exists():
        raise Conflict("a customer with this ID number already exists", field="id_number", code="duplicate_id")
    if c.uscc and others.filter(uscc=c.uscc).exists():
        raise Conflict("a company with this unified social credit code already exists", field="uscc",
                       code="duplicate_uscc")


def _save_unique(c: Customer) -> None:
    """Save; a unique index that fires despite the pre-check (a concurrent insert) is still a 409."""
    try:
        with transaction.atomic():
            c.save()
    except IntegrityError:
        _check_duplicates(c)
        raise


@transaction.atomic
def create_customer(actor: Actor, data: dict[str, Any], *, reveal: bool = False) -> CustomerView:
    """Create; the answer is masked unless `reveal` is asked (and allowed: then recorded like any reveal)."""
    org.require(actor, Perm.CUSTOMER_CREATE)
    branch = _resolve_branch(actor, data.get("branch"))
    clean = clean_customer(data, today=timezone.localdate())
    c = Customer(branch=branch, created_by=actor, updated_by=actor, onboarded_on=timezone.localdate())
    _apply(c, clean)
    _check_duplicates(c)
    _save_unique(c)
    ledger.append(actor, "customer.created", "customer", c.pk, {"after": _audit_snapshot(c)})
    return _record_reveal(actor, _view(actor, c, reveal=reveal))


_UPDATABLE = {"name", "phone", "monthly_income", "employer", "region_code", "industry_code", "branch"}


def _same_identity(c: Customer, field: str, value: Any) -> bool:
    if field == "kind":
        return str(value) == c.kind
    if field == "id_number":
        number = str(value).strip().upper()
        return bool(c.id_index) and cipher().blind_index(number) == c.id_index
    if field == "birth_date":
        return parse_date(value) == c.birth_date
    return str(value).strip().upper() == (c.uscc or "")


def _without_identity(c: Customer, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` less the identity fields that repeat the current values; one that differs is refused, naming
    the field: identity is corrected only through request_identity_correction (four eyes)."""
    kept = {}
    for field, value in changes.items():
        if field not in IDENTITY_FIELDS:
            kept[field] = value
        elif value not in (None, "") and not _same_identity(c, field, value):
            raise ValidationError(
                f"{field} of an existing customer cannot be changed by an update or a sync: ask for an identity "
                "correction, which another user approves", field=field, code="identity_immutable")
    return kept


@transaction.atomic
def update_customer(actor: Actor, customer_id: int, changes: dict[str, Any],
                    expected_version: int | None = None, *, reveal: bool = False) -> CustomerView:
    """Change the fields that may change. The answer is masked unless `reveal` is asked (and allowed: recorded)."""
    org.require(actor, Perm.CUSTOMER_UPDATE)
    c = _get_for_update(actor, customer_id)
    changes = _without_identity(c, changes)
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0],
                              code="not_updatable")
    if expected_version is not None and expected_version != c.version:
        raise Conflict(f"customer was changed by someone else (version {c.version}, you had {expected_version})",
                       code="stale_version", field="version")
    if c.status != CustomerStatus.ACTIVE:
        raise Conflict("an archived customer cannot be changed", code="archived")
    current = _current_values(c)
    merged = {**current, **{k: v for k, v in changes.items() if k != "branch"}}
    clean = clean_customer(merged, today=timezone.localdate())
    hand_over = _hand_over_audit(c)
    before = _audit_snapshot(c)
    if "branch" in changes:
        c.branch = _resolve_branch(actor, changes["branch"])
    _apply(c, clean)
    _check_duplicates(c)
    after = _audit_snapshot(c)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not diff:
        return _record_reveal(actor, _view(actor, c, reveal=reveal))
    c.version += 1
    c.updated_by = actor
    _save_unique(c)
    if hand_over:
        ledger.append(actor, hand_over.kind, "customer", c.pk, hand_over.data)
    ledger.append(actor, "customer.updated", "customer", c.pk, {"changed": diff, "version": c.version})
    return _record_reveal(actor, _view(actor, c, reveal=reveal))


def _current_values(c: Customer) -> dict[str, Any]:
    pii = cipher()
    return {
        "kind": c.kind, "name": c.name, "region_code": c.region_code, "employer": c.employer,
        "id_number": pii.decrypt(c.id_number_enc) if c.id_number_enc else None,
        "birth_date": c.birth_date, "phone": pii.decrypt(c.phone_enc) if c.phone_enc else None,
        "monthly_income": Money(c.monthly_income_minor, c.currency).amount if c.monthly_income_minor is not None
        else None,
        "uscc": c.uscc, "industry_code": c.industry_code,
    }


@transaction.atomic
def archive_customer(actor: Actor, customer_id: int, reason: str) -> CustomerView:
    """Customers are never deleted (records must be kept); archiving hides them from daily work."""
    org.require(actor, Perm.CUSTOMER_ARCHIVE)
    if not (reason or "").strip():
        raise ValidationError("a reason is required to archive a customer", field="reason", code="required")
    c = _get_for_update(actor, customer_id)
    if c.status == CustomerStatus.ARCHIVED:
        raise Conflict("customer is already archived", code="archived")
    c.status = CustomerStatus.ARCHIVED
    c.version += 1
    c.updated_by = actor
    c.save()
    ledger.append(actor, "customer.archived", "customer", c.pk, {"reason": reason.strip(), "version": c.version})
    return _view(actor, c)


def _scoped(actor: Actor) -> Any:
    qs = Customer.objects.select_related("branch")
    if actor.role == Role.CUSTOMER:
        return qs.filter(user=actor)
    org.require(actor, Perm.CUSTOMER_VIEW)
    return org.scope_to_branches(actor, qs)


def _get_for_update(actor: Actor, customer_id: int) -> Customer:
    try:
        return _scoped(actor).select_for_update().get(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")


def get_customer(actor: Actor, customer_id: int, *, reveal: bool = False) -> CustomerView:
    """One customer, if in the actor's scope. `reveal` asks for PII in clear (granted only with the permission;
    each reveal is itself recorded)."""
    try:
        c = _scoped(actor).get(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")
    with transaction.atomic():
        return _record_reveal(actor, _view(actor, c, reveal=reveal))


@dataclass(frozen=True)
class CustomerPage:
    items: list[CustomerView]
    total: int
    page: int
    pages: int


_IDENTIFIER_RUN = re.compile(r"\d{7,}")


def looks_like_identifier(query: str) -> bool:
    """Whether a search text holds (part of) an ID or phone number: seven digits or more in a row, spaces and
    dashes ignored. Such a text must travel in a request body, never in an address (it would sit in access logs,
    browser history and proxies); customer numbers and the last 4 characters of an ID stay shorter."""
    return bool(_IDENTIFIER_RUN.search(re.sub(r"[\s\-]", "", query or "")))


def search_customers(actor: Actor, query: str = "", *, page: int = 1, kind: str | None = None,
                     status: str | None = CustomerStatus.ACTIVE, page_size: int = PAGE_SIZE) -> CustomerPage:
    """Search by name, masked ID tail, full ID number (blind index), USCC or customer number."""
    qs = _scoped(actor)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    qs = _search_filter(qs, query)
    page_size = max(1, min(page_size, 200))
    total = qs.count()
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    rows = list(qs.order_by("-id")[(page - 1) * page_size : page * page_size])
    return CustomerPage([_view(actor, c) for c in rows], total, page, pages)


def _search_filter(qs: Any, query: str) -> Any:
    q = (query or "").strip()
    if not q:
        return qs
    cond = Q(name__icontains=q) | Q(uscc__iexact=q)
    if q.isdigit():
        cond |= Q(pk=int(q)) if len(q) < 12 else Q()
    if len(q) == 18:
        cond |= Q(id_index=cipher().blind_index(q.upper()))
    if len(q) == 4 and (q[:3].isdigit()):
        cond |= Q(id_masked__endswith=q.upper())
    return qs.filter(cond)


CUSTOMER_SORTS = {"no": "id", "name": "name", "branch": "branch__path", "income": "monthly_income_minor",
                  "since": "created_at"}
CUSTOMER_STATUS_FILTERS = ("active", "archived", "all")


def list_customers(actor: Actor, listing: Any, *, query: str = "", kind: str = "", branch: str = "",
                   status: str = "active") -> Any:
    """One page (common.listing.Page of CustomerView, always masked: a list, and its export, never carries an ID
    or phone number in clear, whatever the role) of the customers in the actor's scope: the search of
    `search_customers`, by kind, by branch (and everything below it, within the scope), by status, sorted by one
    of CUSTOMER_SORTS. Unknown filter values are ignored."""
    from creditplan.common.listing import paginate

    qs = _scoped(actor)
    if status in ("active", "archived"):
        qs = qs.filter(status=status)
    elif status != "all":
        qs = qs.filter(status=CustomerStatus.ACTIVE)
    if kind in ("individual", "company"):
        qs = qs.filter(kind=kind)
    if branch:
        path = org.branch_path(branch)
        qs = qs.filter(branch__path__startswith=path) if path else qs.none()
    qs = _search_filter(qs, query)
    with transaction.atomic():
        page = paginate(qs.order_by(*listing.order_by(CUSTOMER_SORTS, "no")), listing)
        if listing.export:  # a bulk export is itself on the ledger: who took how many, with which filters
            ledger.append(actor, "customer.list_exported", "customer_list", "export", {
                "rows": len(page.items), "kind": kind or None, "branch": branch or None, "status": status,
                "searched": bool((query or "").strip())})
    return type(page)(items=[_view(actor, c) for c in page.items], listing=page.listing, total=page.total)


def active_customers_in_branch(branch_id: int) -> int:
    """How many customers (not archived) a branch holds: a branch with any cannot be closed (org registers this)."""
    return int(Customer.objects.filter(branch_id=branch_id).exclude(status=CustomerStatus.ARCHIVED).count())


def _history_data(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data as the customer page shows it: personal fields named, never valued (events written by the
    first releases carry masks and a clear birth date; digests mean nothing to a reader)."""
    out = {k: v for k, v in data.items() if k not in ("after", "legacy")}
    changed = data.get("changed")
    if isinstance(changed, dict):
        out["changed"] = {k: v for k, v in changed.items() if k not in PII_AUDIT_FIELDS}
        out["changed_personal"] = [k for k in changed if k in PII_AUDIT_FIELDS]
    return out


def customer_history(actor: Actor, customer_id: int) -> list[ledger.HistoryEntry]:
    get_customer(actor, customer_id)  # scope check
    return [dataclasses.replace(h, data=_history_data(h.data))
            for h in ledger.history(actor, "customer", customer_id)]


# --------------------------------------------------------------------------------------------------------------
# Identity corrections: the only way to change a customer's identity, four eyes
# --------------------------------------------------------------------------------------------------------------

_CORRECTABLE = {CustomerKind.INDIVIDUAL: ("id_number", "birth_date"), CustomerKind.COMPANY: ("uscc",)}


@dataclass(frozen=True)
class CorrectionView:
    id: int
    customer_id: int
    customer_name: str
    branch_name: str
    status: str
    fields: list[str]
    new_values: dict[str, str | None]  # masked unless values_visible
    reason: str
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    values_visible: bool


def _correction_view(actor: Actor, corr: IdentityCorrection, *, reveal: bool = False) -> CorrectionView:
    show = reveal and org.may(actor, Perm.CUSTOMER_VIEW_PII)
    fields = [f for f in corr.fields.split(",") if f]
    if show:
        values = json.loads(cipher().decrypt(corr.values_enc))
        new_values = {f: values.get(f) for f in fields}
    else:  # a company's new USCC is no personal data: shown as it is
        new_values = {f: (corr.new_masked if f in ("id_number", "uscc") else None) for f in fields}
    return CorrectionView(
        id=corr.pk, customer_id=corr.customer_id, customer_name=corr.customer.name,
        branch_name=corr.customer.branch.name, status=corr.status, fields=fields, new_values=new_values,
        reason=corr.reason, requested_by=corr.requested_by.username, requested_at=corr.requested_at,
        decided_by=corr.decided_by.username if corr.decided_by else None, decided_at=corr.decided_at,
        decision_note=corr.decision_note, values_visible=show,
    )


def _correction_digests(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field == "id_number":
            out[field] = pii_digest(field, cipher().blind_index(value))
        elif field in PII_AUDIT_FIELDS:
            out[field] = pii_digest(field, value)
        else:
            out[field] = value
    return out


@transaction.atomic
def request_identity_correction(actor: Actor, customer_id: int, changes: dict[str, Any], reason: str, *,
                                expected_version: int | None = None) -> CorrectionView:
    """Ask for a change of identity (an individual's resident ID number — birth date and sex follow from it —, a
    company's unified social credit code). Nothing changes until another user approves it; the new values wait
    encrypted; the ledger records which fields and their digests."""
    org.require(actor, Perm.CUSTOMER_UPDATE)
    org.require(actor, Perm.CUSTOMER_VIEW_PII)  # correcting an identity means reading the documents in clear
    c = _get_for_update(actor, customer_id)
    if c.status != CustomerStatus.ACTIVE:
        raise Conflict("an archived customer cannot be changed", code="archived")
    if expected_version is not None and expected_version != c.version:
        raise Conflict(f"customer was changed by someone else (version {c.version}, you had {expected_version})",
                       code="stale_version", field="version")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required for an identity correction", field="reason", code="required")
    if "kind" in changes:
        raise ValidationError("a customer's kind cannot be corrected: archive the customer and create a new one",
                              field="kind", code="kind_immutable")
    allowed = _CORRECTABLE[CustomerKind(c.kind)]
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationError(f"{unknown[0]} is not an identity field of this customer (correctable: "
                              f"{', '.join(allowed)})", field=unknown[0], code="not_correctable")
    if c.kind == CustomerKind.INDIVIDUAL:
        if not changes.get("id_number"):
            raise ValidationError("the corrected resident ID number is required (the birth date follows from it)",
                                  field="id_number", code="required")
        proposed = {"id_number": changes["id_number"], "birth_date": changes.get("birth_date") or None}
    else:
        if not changes.get("uscc"):
            raise ValidationError("the corrected unified social credit code is required", field="uscc",
                                  code="required")
        proposed = {"uscc": changes["uscc"]}
    clean = clean_customer({**_current_values(c), **proposed}, today=timezone.localdate())
    if c.kind == CustomerKind.INDIVIDUAL:
        assert clean.id_number is not None
        new_index = cipher().blind_index(clean.id_number)
        if new_index == c.id_index:
            raise ValidationError("this is the customer's current ID number: nothing to correct", field="id_number",
                                  code="no_change")
        if Customer.objects.exclude(pk=c.pk).filter(id_index=new_index).exists():
            raise Conflict("a customer with this ID number already exists", field="id_number", code="duplicate_id")
        values: dict[str, Any] = {"id_number": clean.id_number}
        if clean.birth_date != c.birth_date:
            values["birth_date"] = clean.birth_date
        new_masked = mask_tail(clean.id_number)
    else:
        assert clean.uscc is not None
        new_index = ""
        if clean.uscc == c.uscc:
            raise ValidationError("this is the company's current credit code: nothing to correct", field="uscc",
                                  code="no_change")
        if Customer.objects.exclude(pk=c.pk).filter(uscc=clean.uscc).exists():
            raise Conflict("a company with this unified social credit code already exists", field="uscc",
                           code="duplicate_uscc")
        values = {"uscc": clean.uscc}
        new_masked = clean.uscc
    if IdentityCorrection.objects.filter(customer=c, status=CorrectionStatus.PENDING).exists():
        raise Conflict("an identity correction of this customer is already waiting for a decision",
                       code="correction_pending")
    corr = IdentityCorrection(
        customer=c, fields=",".join(values), new_index=new_index, new_masked=new_masked, reason=reason,
        values_enc=cipher().encrypt(json.dumps({k: str(v) for k, v in values.items()})),
        customer_version=c.version, requested_by=actor)
    try:
        with transaction.atomic():
            corr.save()
    except IntegrityError:  # another request for the same customer committed first
        raise Conflict("an identity correction of this customer is already waiting for a decision",
                       code="correction_pending")
    ledger.append(actor, "customer.identity_correction_requested", "customer", c.pk,
                  {"correction": corr.pk, "fields": list(values), "after": _correction_digests(values),
                   "reason": reason})
    return _correction_view(actor, corr)


def _correction_for_update(actor: Actor, correction_id: int) -> tuple[IdentityCorrection, Customer]:
    corr = IdentityCorrection.objects.select_for_update().filter(pk=correction_id).first()
    if corr is None or not _scoped(actor).filter(pk=corr.customer_id).exists():
        raise NotFound(f"identity correction {correction_id} not found", code="correction_not_found")
    return corr, _get_for_update(actor, corr.customer_id)


@transaction.atomic
def decide_identity_correction(actor: Actor, correction_id: int, *, approve: bool, note: str = "") -> CorrectionView:
    """Approve (the customer's identity changes, one customer.identity_corrected event with digests) or reject a
    pending correction. Four eyes: never the user who asked for it."""
    org.require(actor, Perm.CUSTOMER_IDENTITY_APPROVE)
    corr, c = _correction_for_update(actor, correction_id)
    if corr.status != CorrectionStatus.PENDING:
        raise Conflict(f"identity correction {corr.pk} is already {corr.status}", code="correction_decided")
    if corr.requested_by_id == actor.pk:
        raise Forbidden("four eyes: whoever asked for an identity correction cannot decide it", code="four_eyes")
    note = (note or "").strip()
    corr.decided_by, corr.decided_at, corr.decision_note = actor, timezone.now(), note
    if not approve:
        if not note:
            raise ValidationError("say why the correction is rejected", field="note", code="required")
        corr.status = CorrectionStatus.REJECTED
        corr.save()
        ledger.append(actor, "customer.identity_correction_rejected", "customer", c.pk,
                      {"correction": corr.pk, "note": note})
        return _correction_view(actor, corr)
    if c.status != CustomerStatus.ACTIVE:
        raise Conflict("an archived customer cannot be changed", code="archived")
    values = json.loads(cipher().decrypt(corr.values_enc))
    proposed = {"id_number": values["id_number"], "birth_date": None} if "id_number" in values else values
    clean = clean_customer({**_current_values(c), **proposed}, today=timezone.localdate())
    hand_over = _hand_over_audit(c)
    before = _audit_snapshot(c)
    _apply(c, clean)
    _check_duplicates(c)
    after = _audit_snapshot(c)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    c.version += 1
    c.updated_by = actor
    _save_unique(c)
    corr.status = CorrectionStatus.APPROVED
    corr.save()
    if hand_over:
        ledger.append(actor, hand_over.kind, "customer", c.pk, hand_over.data)
    ledger.append(actor, "customer.identity_corrected", "customer", c.pk,
                  {"changed": diff, "version": c.version, "correction": corr.pk,
                   "requested_by": corr.requested_by.username, "note": note})
    return _correction_view(actor, corr)


def list_identity_corrections(actor: Actor, *, status: str | None = "pending",  # CorrectionStatus.PENDING
                              customer_id: int | None = None, limit: int = 200) -> list[CorrectionView]:
    """Corrections of the customers in the actor's scope, newest first (new values masked)."""
    qs = (IdentityCorrection.objects.filter(customer__in=_scoped(actor))
          .select_related("customer__branch", "requested_by", "decided_by"))
    if status:
        qs = qs.filter(status=status)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return [_correction_view(actor, corr) for corr in qs.order_by("-id")[:limit]]


def get_identity_correction(actor: Actor, correction_id: int, *, reveal: bool = False) -> CorrectionView:
    """One correction; `reveal` shows the new values in clear to a role that may (recorded as a reveal)."""
    corr = (IdentityCorrection.objects.filter(customer__in=_scoped(actor))
            .select_related("customer__branch", "requested_by", "decided_by").filter(pk=correction_id).first())
    if corr is None:
        raise NotFound(f"identity correction {correction_id} not found", code="correction_not_found")
    view = _correction_view(actor, corr, reveal=reveal)
    if view.values_visible:
        with transaction.atomic():
            ledger.append(actor, "customer.pii_viewed", "customer", corr.customer_id, {"correction": corr.pk})
    return view


def customer_count(actor: Actor) -> int:
    return _scoped(actor).filter(status=CustomerStatus.ACTIVE).count()


@transaction.atomic
def import_customers(actor: Actor | None, rows: Iterable[dict[str, Any]], *, batch_size: int = 500) -> int:
    """Bulk load (demo data, migrations from another system): all rows or none, one audit event per customer."""
    if actor is not None:
        org.require(actor, Perm.CUSTOMER_CREATE)
    today = timezone.localdate()
    branches = {b.code: b for b in org.list_all_branches()}
    seen: set[str] = set()
    objs: list[Customer] = []
    for n, row in enumerate(rows, start=1):
        try:
            clean = clean_customer(row, today=today)
        except ValidationError as exc:
            raise ValidationError(f"row {n}: {exc.message}", code=exc.code, problems=exc.problems)
        branch = branches.get(row.get("branch") or "")
        if branch is None:
            raise ValidationError(f"row {n}: unknown branch {row.get('branch')!r}", field="branch",
                                  code="unknown_branch")
        onboarded = parse_date(row.get("onboarded_on")) or today
        if onboarded > today:
            raise ValidationError(f"row {n}: onboarded_on is in the future", field="onboarded_on",
                                  code="date_in_future")
        c = Customer(branch=branch, created_by=actor, updated_by=actor, onboarded_on=onboarded)
        _apply(c, clean)
        key = c.id_index or c.uscc or ""
        if key in seen:
            raise Conflict(f"row {n}: duplicate identity in the file", code="duplicate_id")
        seen.add(key)
        objs.append(c)
    existing = set(Customer.objects.filter(id_index__in=[c.id_index for c in objs if c.id_index])
                   .values_list("id_index", flat=True))
    existing |= set(Customer.objects.filter(uscc__in=[c.uscc for c in objs if c.uscc]).values_list("uscc", flat=True))
    if existing:
        raise Conflict(f"{len(existing)} customers in the file already exist", code="duplicate_id")
    created = Customer.objects.bulk_create(objs, batch_size=batch_size)
    if any(c.pk is None for c in created):  # backends without RETURNING: re-read the ids
        created = list(Customer.objects.filter(id_index__in=[c.id_index for c in objs if c.id_index])) + list(
            Customer.objects.filter(uscc__in=[c.uscc for c in objs if c.uscc]))
    ledger.append_many(actor, (ledger.EventSpec("customer.created", "customer", str(c.pk),
                                                {"after": _audit_snapshot(c), "source": "import"}) for c in created))
    return len(created)


def link_customer_user(customer_id: int, user: Any) -> None:
    """Give a customer a log-in of their own (used when a customer registers online or by the demo seed)."""
    with transaction.atomic():
        updated = Customer.objects.filter(pk=customer_id, user__isnull=True).update(user=user)
        if not updated:
            raise Conflict("customer already has a log-in or does not exist", code="customer_user")
        ledger.append(None, "customer.user_linked", "customer", customer_id, {"username": user.username})


def onboarding_by_month(actor: Actor, months: int = 12) -> list[tuple[str, int]]:
    """New customers per calendar month, oldest first, for the dashboard chart."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    rows = (
        _scoped(actor).annotate(m=TruncMonth("onboarded_on")).values("m").annotate(n=Count("id")).order_by("m")
    )
    series = [(r["m"].strftime("%Y-%m"), r["n"]) for r in rows if r["m"] is not None]
    return series[-months:]


def count_by(actor: Actor, field: str) -> list[tuple[str, int]]:
    """Active customers grouped by kind / branch / region province, for the dashboard."""
    from django.db.models import Count

    allowed = {"kind": "kind", "branch": "branch__name", "industry": "industry_code"}
    col = allowed[field]
    rows = _scoped(actor).filter(status=CustomerStatus.ACTIVE).values(col).annotate(n=Count("id")).order_by("-n")
    return [(r[col] or "-", r["n"]) for r in rows]
