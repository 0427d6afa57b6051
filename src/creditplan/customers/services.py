"""Customer use cases: create, update, archive, find, read — with permissions, branch scope, PII
protection and an audit event inside each transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from creditplan.core.crypto import PiiCipher, derive_key
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.ids import mask_phone
from creditplan.core.money import Money
from creditplan.customers.domain import CleanCustomer, CustomerStatus, clean_customer, parse_date
from creditplan.customers.models import Customer
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role

PAGE_SIZE = 25


@cache
def cipher() -> PiiCipher:
    keys = [k.encode() for k in settings.PII_KEYS] or [derive_key(settings.SECRET_KEY, "pii-encryption")]
    return PiiCipher(keys, index_key=derive_key(settings.SECRET_KEY + "|" + keys[-1].decode(), "pii-index"))


def mask_id(number: str) -> str:
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


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
    region_code: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    pii_visible: bool


def _view(actor: Any, c: Customer, *, reveal: bool = False) -> CustomerView:
    show = reveal and org.may(actor, Perm.CUSTOMER_VIEW_PII)
    id_number = (cipher().decrypt(c.id_number_enc) if show else c.id_masked) if c.id_number_enc else None
    phone = (cipher().decrypt(c.phone_enc) if show else c.phone_masked) if c.phone_enc else None
    income = Money(c.monthly_income_minor, c.currency) if c.monthly_income_minor is not None else None
    return CustomerView(
        id=c.pk, kind=c.kind, status=c.status, name=c.name, branch_code=c.branch.code, branch_name=c.branch.name,
        id_number=id_number, phone=phone, birth_date=c.birth_date, sex=c.sex, monthly_income=income,
        employer=c.employer, uscc=c.uscc, industry_code=c.industry_code, region_code=c.region_code,
        version=c.version, created_at=c.created_at, updated_at=c.updated_at, pii_visible=show,
    )


def _resolve_branch(actor: Any, code: str | None) -> Any:
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
    c.uscc, c.industry_code = clean.uscc, clean.industry_code


def _audit_snapshot(c: Customer) -> dict[str, Any]:
    """The audited state of a record: masked identifiers only, so the log holds no personal data in clear."""
    return {
        "kind": c.kind, "status": c.status, "name": c.name, "branch": c.branch.code, "id_number": c.id_masked,
        "phone": c.phone_masked, "birth_date": c.birth_date, "sex": c.sex,
        "monthly_income_minor": c.monthly_income_minor, "currency": c.currency, "employer": c.employer,
        "uscc": c.uscc, "industry_code": c.industry_code, "region_code": c.region_code,
        "onboarded_on": c.onboarded_on,
    }


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
def create_customer(actor: Any, data: dict[str, Any]) -> CustomerView:
    org.require(actor, Perm.CUSTOMER_CREATE)
    branch = _resolve_branch(actor, data.get("branch"))
    clean = clean_customer(data, today=timezone.localdate())
    c = Customer(branch=branch, created_by=actor, updated_by=actor, onboarded_on=timezone.localdate())
    _apply(c, clean)
    _check_duplicates(c)
    _save_unique(c)
    ledger.append(actor, "customer.created", "customer", c.pk, {"after": _audit_snapshot(c)})
    return _view(actor, c, reveal=True)


_UPDATABLE = {"name", "phone", "monthly_income", "employer", "region_code", "industry_code", "branch",
              "id_number", "birth_date", "uscc"}


@transaction.atomic
def update_customer(actor: Any, customer_id: int, changes: dict[str, Any],
                    expected_version: int | None = None) -> CustomerView:
    org.require(actor, Perm.CUSTOMER_UPDATE)
    c = _get_for_update(actor, customer_id)
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0],
                              code="not_updatable")
    if expected_version is not None and expected_version != c.version:
        raise Conflict(f"customer was changed by someone else (version {c.version}, you had {expected_version})",
                       code="stale_version", field="version")
    if c.status != CustomerStatus.ACTIVE:
        raise Conflict("an archived customer cannot be changed", code="archived")
    before = _audit_snapshot(c)
    current = _current_values(c)
    merged = {**current, **{k: v for k, v in changes.items() if k != "branch"}}
    clean = clean_customer(merged, today=timezone.localdate())
    if "branch" in changes:
        c.branch = _resolve_branch(actor, changes["branch"])
    _apply(c, clean)
    _check_duplicates(c)
    after = _audit_snapshot(c)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not diff:
        return _view(actor, c, reveal=True)
    c.version += 1
    c.updated_by = actor
    _save_unique(c)
    ledger.append(actor, "customer.updated", "customer", c.pk, {"changed": diff, "version": c.version})
    return _view(actor, c, reveal=True)


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
def archive_customer(actor: Any, customer_id: int, reason: str) -> CustomerView:
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


def _scoped(actor: Any) -> Any:
    qs = Customer.objects.select_related("branch")
    if actor.role == Role.CUSTOMER:
        return qs.filter(user=actor)
    org.require(actor, Perm.CUSTOMER_VIEW)
    return org.scope_to_branches(actor, qs)


def _get_for_update(actor: Any, customer_id: int) -> Customer:
    try:
        return _scoped(actor).select_for_update().get(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")


def get_customer(actor: Any, customer_id: int, *, reveal: bool = False) -> CustomerView:
    """One customer, if in the actor's scope. `reveal` asks for PII in clear (granted only with the permission;
    each reveal is itself recorded)."""
    try:
        c = _scoped(actor).get(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")
    view = _view(actor, c, reveal=reveal)
    if view.pii_visible:
        with transaction.atomic():
            ledger.append(actor, "customer.pii_viewed", "customer", c.pk, {})
    return view


@dataclass(frozen=True)
class CustomerPage:
    items: list[CustomerView]
    total: int
    page: int
    pages: int


def search_customers(actor: Any, query: str = "", *, page: int = 1, kind: str | None = None,
                     status: str | None = CustomerStatus.ACTIVE, page_size: int = PAGE_SIZE) -> CustomerPage:
    """Search by name, masked ID tail, full ID number (blind index), USCC or customer number."""
    qs = _scoped(actor)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    q = (query or "").strip()
    if q:
        cond = Q(name__icontains=q) | Q(uscc__iexact=q)
        if q.isdigit():
            cond |= Q(pk=int(q)) if len(q) < 12 else Q()
        if len(q) == 18:
            cond |= Q(id_index=cipher().blind_index(q.upper()))
        if len(q) == 4 and (q[:3].isdigit()):
            cond |= Q(id_masked__endswith=q.upper())
        qs = qs.filter(cond)
    page_size = max(1, min(page_size, 200))
    total = qs.count()
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    rows = list(qs.order_by("-id")[(page - 1) * page_size : page * page_size])
    return CustomerPage([_view(actor, c) for c in rows], total, page, pages)


def customer_history(actor: Any, customer_id: int) -> list[ledger.HistoryEntry]:
    get_customer(actor, customer_id)  # scope check
    return list(ledger.history(actor, "customer", customer_id))


def customer_count(actor: Any) -> int:
    return _scoped(actor).filter(status=CustomerStatus.ACTIVE).count()


@transaction.atomic
def import_customers(actor: Any, rows: Iterable[dict[str, Any]], *, batch_size: int = 500) -> int:
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


def onboarding_by_month(actor: Any, months: int = 12) -> list[tuple[str, int]]:
    """New customers per calendar month, oldest first, for the dashboard chart."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    rows = (
        _scoped(actor).annotate(m=TruncMonth("onboarded_on")).values("m").annotate(n=Count("id")).order_by("m")
    )
    series = [(r["m"].strftime("%Y-%m"), r["n"]) for r in rows if r["m"] is not None]
    return series[-months:]


def count_by(actor: Any, field: str) -> list[tuple[str, int]]:
    """Active customers grouped by kind / branch / region province, for the dashboard."""
    from django.db.models import Count

    allowed = {"kind": "kind", "branch": "branch__name", "industry": "industry_code"}
    col = allowed[field]
    rows = _scoped(actor).filter(status=CustomerStatus.ACTIVE).values(col).annotate(n=Count("id")).order_by("-n")
    return [(r[col] or "-", r["n"]) for r in rows]
