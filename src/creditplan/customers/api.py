from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.customers import services
from creditplan.customers.services import CustomerView

router = Router(tags=["customers"])


class CustomerCreate(Schema):
    kind: Literal["individual", "company"] = "individual"
    name: str = Field(max_length=100)
    branch: str | None = Field(None, description="branch code; defaults to the user's own branch")
    id_number: str | None = Field(None, description="18-character resident ID (GB 11643), individuals")
    birth_date: dt.date | None = None
    phone: str | None = None
    monthly_income: Decimal | None = Field(None, description="major units, e.g. \"12345.67\"")
    employer: str | None = None
    uscc: str | None = Field(None, description="unified social credit code (GB 32100), companies")
    industry_code: str | None = Field(None, description="GB/T 4754 code, e.g. C39")
    region_code: str | None = Field(None, description="GB/T 2260 6-digit code")


class CustomerUpdate(Schema):
    version: int | None = Field(None, description="the version you read; a stale one gets 409")
    name: str | None = None
    branch: str | None = None
    phone: str | None = None
    monthly_income: Decimal | None = None
    employer: str | None = None
    region_code: str | None = None
    industry_code: str | None = None


class CustomerRead(Schema):
    id: int
    kind: str
    status: str
    name: str
    branch: str
    id_number: str | None = Field(description="masked unless your role may see it and you asked with reveal")
    phone: str | None
    birth_date: dt.date | None
    sex: str
    monthly_income: str | None
    currency: str
    employer: str
    uscc: str | None
    industry_code: str
    region_code: str
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
        monthly_income=str(v.monthly_income.amount) if v.monthly_income else None,
        currency=v.monthly_income.currency if v.monthly_income else "CNY", employer=v.employer, uscc=v.uscc,
        industry_code=v.industry_code, region_code=v.region_code, version=v.version, pii_visible=v.pii_visible,
    )


class ListParams(Schema):
    q: str = ""
    page: int = Field(1, ge=1)
    page_size: int = Field(25, ge=1, le=200)
    kind: Literal["individual", "company"] | None = None
    status: Literal["active", "archived"] | None = "active"


@router.get("", response=CustomerList, summary="Search customers in your branch scope")
def list_customers(request: HttpRequest, params: Query[ListParams]) -> CustomerList:
    page = services.search_customers(request.auth, params.q, page=params.page, kind=params.kind,  # type: ignore[attr-defined]
                                     status=params.status, page_size=params.page_size)
    return CustomerList(items=[_read(v) for v in page.items], total=page.total, page=page.page, pages=page.pages)


@router.post("", response={201: CustomerRead}, summary="Create a customer")
def create_customer(request: HttpRequest, payload: CustomerCreate) -> Status:
    data = payload.model_dump(exclude_none=True)
    return Status(201, _read(services.create_customer(request.auth, data)))  # type: ignore[attr-defined]


@router.get("/{customer_id}", response=CustomerRead, summary="Read a customer (reveal=true shows PII if allowed)")
def get_customer(request: HttpRequest, customer_id: int, reveal: bool = False) -> CustomerRead:
    return _read(services.get_customer(request.auth, customer_id, reveal=reveal))  # type: ignore[attr-defined]


@router.patch("/{customer_id}", response=CustomerRead, summary="Change a customer")
def update_customer(request: HttpRequest, customer_id: int, payload: CustomerUpdate) -> CustomerRead:
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    return _read(services.update_customer(request.auth, customer_id, data, expected_version=version))  # type: ignore[attr-defined]


@router.delete("/{customer_id}", response=CustomerRead,
               summary="Archive a customer (records are kept, never deleted)")
def archive_customer(request: HttpRequest, customer_id: int, reason: str = "") -> CustomerRead:
    return _read(services.archive_customer(request.auth, customer_id, reason))  # type: ignore[attr-defined]
