from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor
from creditplan.customers import services
from creditplan.customers.services import CorrectionView, CustomerView

router = Router(tags=["customers"])


class CustomerCreate(Schema):
    kind: Literal["individual", "company"] = "individual"
    name: str = Field(max_length=100)
    branch: str | None = Field(None, description="branch code; defaults to the user's own branch")
    id_number: str | None = Field(None, description="18-character resident ID (GB 11643), individuals")
    birth_date: dt.date | None = None
    phone: str | None = None
    monthly_income: str | int | None = Field(None, description="major units as text, e.g. \"12345.67\" (never a float)")
    employer: str | None = None
    uscc: str | None = Field(None, description="unified social credit code (GB 32100), companies")
    industry_code: str | None = Field(None, description="GB/T 4754 code, e.g. C39")
    region_code: str | None = Field(None, description="GB/T 2260 6-digit code")


class CustomerUpdate(Schema):
    version: int | None = Field(None, description="the version you read; a stale one gets 409")
    name: str | None = None
    branch: str | None = None
    phone: str | None = None
    monthly_income: str | int | None = None
    employer: str | None = None
    region_code: str | None = None
    industry_code: str | None = None
    id_number: str | None = Field(None, description="identity: refused (422 identity_immutable) unless it is the "
                                                    "current value; see POST /customers/{id}/identity-corrections")
    birth_date: dt.date | None = Field(None, description="identity, as id_number")
    uscc: str | None = Field(None, description="identity, as id_number")
    kind: str | None = Field(None, description="identity, never changes")


class CustomerRead(Schema):
    id: int
    kind: str
    status: str
    name: str
    branch: str
    id_number: str | None = Field(description="last 4 characters only, unless your role may see it and you asked "
                                  "with reveal (recorded as customer.pii_viewed)")
    phone: str | None = Field(description="last 4 digits only, unless revealed")
    birth_date: dt.date | None = Field(description="individuals: null unless revealed")
    sex: str
    monthly_income: str | None
    currency: str
    employer: str
    uscc: str | None
    industry_code: str
    region_code: str | None = Field(description="individuals: null unless revealed (with the birth date and the "
                                    "last 4 characters it would give the whole ID number)")
    version: int
    pii_visible: bool


class CustomerList(Schema):
    items: list[CustomerRead]
    total: int
    page: int
    pages: int


def _read(v: CustomerView) -> CustomerRead:
    return CustomerRead(
        id=v.id, kind=v.kind, status=v.status, name=v.name, branch=v.branch_code, id_number=v.id_number,
        phone=v.phone, birth_date=v.birth_date, sex=v.sex,
        monthly_income=format_minor(v.monthly_income.minor, v.monthly_income.currency, grouping=False)
        if v.monthly_income else None,
        currency=v.monthly_income.currency if v.monthly_income else "CNY", employer=v.employer, uscc=v.uscc,
        industry_code=v.industry_code, region_code=v.region_code, version=v.version, pii_visible=v.pii_visible,
    )


class ListParams(Schema):
    q: str = Field("", description="a name, a customer number, the last 4 characters of an ID number or a USCC; "
                                   "ID and phone numbers go in the body of POST /customers/search instead")
    page: int = Field(1, ge=1)
    page_size: int = Field(25, ge=1, le=200)
    kind: Literal["individual", "company"] | None = None
    status: Literal["active", "archived"] | None = "active"


class SearchParams(Schema):
    q: str = Field("", max_length=100, description="as for GET, and full ID or phone numbers")
    page: int = Field(1, ge=1)
    page_size: int = Field(25, ge=1, le=200)
    kind: Literal["individual", "company"] | None = None
    status: Literal["active", "archived"] | None = "active"


def _page(request: HttpRequest, params: ListParams | SearchParams) -> CustomerList:
    page = services.search_customers(request.auth, params.q, page=params.page, kind=params.kind,
                                     status=params.status, page_size=params.page_size)
    return CustomerList(items=[_read(v) for v in page.items], total=page.total, page=page.page, pages=page.pages)


@router.get("", response=CustomerList, summary="Search customers in your branch scope")
def list_customers(request: HttpRequest, params: Query[ListParams]) -> CustomerList:
    if services.looks_like_identifier(params.q):
        raise ValidationError("an ID or phone number must not be sent in the address (it would be kept in access "
                              "logs): search with POST /api/v1/customers/search and {\"q\": …} in the body",
                              field="q", code="identifier_in_address")
    return _page(request, params)


@router.post("/search", response=CustomerList,
             summary="Search customers, the search text in the body (use it for ID and phone numbers)")
def search_customers(request: HttpRequest, payload: SearchParams) -> CustomerList:
    return _page(request, payload)


@router.post("", response={201: CustomerRead}, summary="Create a customer (reveal=true echoes PII if allowed)")
def create_customer(request: HttpRequest, payload: CustomerCreate, reveal: bool = False) -> Status:
    data = payload.model_dump(exclude_none=True)
    return Status(201, _read(services.create_customer(request.auth, data, reveal=reveal)))


class CorrectionCreate(Schema):
    id_number: str | None = Field(None, description="individuals: the corrected resident ID number")
    birth_date: dt.date | None = Field(None, description="individuals: optional, must match the ID number")
    uscc: str | None = Field(None, description="companies: the corrected unified social credit code")
    reason: str = Field(max_length=500, description="why, e.g. the document it is corrected from")
    version: int | None = Field(None, description="the customer version you read; a stale one gets 409")


class CorrectionDecision(Schema):
    note: str = Field("", max_length=500, description="required to reject")


class CorrectionRead(Schema):
    id: int
    customer_id: int
    customer_name: str
    status: str
    fields: list[str]
    new_values: dict[str, str | None] = Field(description="masked (an ID number's last 4) unless revealed")
    reason: str
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    values_visible: bool


def _correction(v: CorrectionView) -> CorrectionRead:
    return CorrectionRead(**{k: getattr(v, k) for k in CorrectionRead.model_fields})


@router.get("/identity-corrections", response=list[CorrectionRead],
            summary="Identity corrections in your branch scope (pending by default)")
def list_corrections(request: HttpRequest,
                     status: Literal["pending", "approved", "rejected"] | None = "pending") -> list[CorrectionRead]:
    return [_correction(v) for v in services.list_identity_corrections(request.auth, status=status)]


@router.get("/identity-corrections/{correction_id}", response=CorrectionRead,
            summary="One identity correction (reveal=true shows the new values if allowed; recorded)")
def get_correction(request: HttpRequest, correction_id: int, reveal: bool = False) -> CorrectionRead:
    return _correction(services.get_identity_correction(request.auth, correction_id, reveal=reveal))


@router.post("/identity-corrections/{correction_id}/approve", response=CorrectionRead,
             summary="Approve an identity correction (four eyes: not the user who asked)")
def approve_correction(request: HttpRequest, correction_id: int, payload: CorrectionDecision) -> CorrectionRead:
    return _correction(services.decide_identity_correction(request.auth, correction_id, approve=True,
                                                           note=payload.note))


@router.post("/identity-corrections/{correction_id}/reject", response=CorrectionRead,
             summary="Reject an identity correction, saying why (four eyes: not the user who asked)")
def reject_correction(request: HttpRequest, correction_id: int, payload: CorrectionDecision) -> CorrectionRead:
    return _correction(services.decide_identity_correction(request.auth, correction_id, approve=False,
                                                           note=payload.note))


@router.post("/{customer_id}/identity-corrections", response={201: CorrectionRead},
             summary="Ask for an identity correction (ID number / USCC); another user approves it")
def request_correction(request: HttpRequest, customer_id: int, payload: CorrectionCreate) -> Status:
    data = payload.model_dump(exclude_none=True)
    reason, version = data.pop("reason"), data.pop("version", None)
    return Status(201, _correction(services.request_identity_correction(
        request.auth, customer_id, data, reason, expected_version=version)))


@router.get("/{customer_id}", response=CustomerRead, summary="Read a customer (reveal=true shows PII if allowed)")
def get_customer(request: HttpRequest, customer_id: int, reveal: bool = False) -> CustomerRead:
    return _read(services.get_customer(request.auth, customer_id, reveal=reveal))


@router.patch("/{customer_id}", response=CustomerRead,
              summary="Change a customer (identity fields only by an identity correction; reveal=true as for GET)")
def update_customer(request: HttpRequest, customer_id: int, payload: CustomerUpdate,
                    reveal: bool = False) -> CustomerRead:
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    return _read(services.update_customer(request.auth, customer_id, data, expected_version=version,
                                          reveal=reveal))


@router.delete("/{customer_id}", response=CustomerRead,
               summary="Archive a customer (records are kept, never deleted)")
def archive_customer(request: HttpRequest, customer_id: int, reason: str = "") -> CustomerRead:
    return _read(services.archive_customer(request.auth, customer_id, reason))
