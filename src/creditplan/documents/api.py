"""Documents and the contract over the JSON API: upload (multipart), list, download; offer, sign, disburse.
Errors are problem+json with a stable `code` and the field (see creditplan.api)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import Field

from creditplan.core.money import format_minor
from creditplan.documents import contracts, domain, services, storage
from creditplan.documents.services import ContractView, DocumentView, VersionView

router = Router(tags=["documents"])

#: Every document response, here and on the pages: the type is the one read from the content (nosniff: never
#: guessed again by the browser), and whatever is opened renders in a sandbox — an opaque origin with no scripts,
#: forms or plug-ins — so even a file that fooled the checks cannot act in the viewer's session.
DOCUMENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


def serving_headers(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOCUMENT_CSP
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response

_KIND = Form("", description="id_document, income_proof, bank_statement or other")
_FILE = File(None, description="PDF, JPEG or PNG, at most 10 MB")
contracts_router = Router(tags=["contracts"])


class VersionRead(Schema):
    id: int
    application_ref: str
    kind: str
    version: int
    filename: str
    content_type: str = Field(description="detected from the file's content")
    size: int
    sha256: str
    uploaded_by: str
    at: dt.datetime
    url: str
    active_content_removed: list[str] = Field(
        [], description="in the upload's answer only: what was removed from the PDF (scripts, actions, embedded "
                        "files); `sha256` is then the stored file's and `original_sha256` the uploaded one's")
    original_sha256: str = ""


class DocumentRead(Schema):
    kind: str
    versions: list[VersionRead]


def _version(v: VersionView) -> VersionRead:
    fields = {k: getattr(v, k) for k in VersionView.__dataclass_fields__ if k != "removed"}
    return VersionRead(**fields, active_content_removed=list(v.removed),
                       url=f"/api/v1/documents/versions/{v.id}/content")


def _document(d: DocumentView) -> DocumentRead:
    return DocumentRead(kind=d.kind, versions=[_version(v) for v in d.versions])


@router.post("/applications/{ref}", response={201: VersionRead}, summary="Upload a document (multipart)")
def upload(request: HttpRequest, ref: str, kind: str = _KIND, file: UploadedFile | None = _FILE) -> Status:
    """`kind`: id_document, income_proof, bank_statement or other; `file`: PDF, JPEG or PNG (checked by content),
    at most 10 MB. Uploading a kind again adds a version."""
    data = None
    if file is not None:
        domain.check_size(file.size or 0, storage.max_bytes())
        data = file.read()
    v = services.upload(request.auth, ref, kind=kind, filename=file.name if file else None, data=data,
                        claimed_type=(file.content_type or "") if file else "")
    return Status(201, _version(v))


@router.get("/applications/{ref}", response=list[DocumentRead], summary="An application's documents")
def list_documents(request: HttpRequest, ref: str) -> list[DocumentRead]:
    return [_document(d) for d in services.list_documents(request.auth, ref)]


@router.get("/versions/{version_id}/content", summary="Download a document version",
            response={200: None}, openapi_extra={"responses": {200: {"description": "the file"}}})
def download(request: HttpRequest, version_id: int) -> HttpResponse:
    v, data = services.open_version(request.auth, version_id)
    response = HttpResponse(data, content_type=v.content_type)
    response["Content-Disposition"] = content_disposition_header(True, v.filename)  # a download, never a page
    response["X-Content-SHA256"] = v.sha256
    return serving_headers(response)


class ContractRead(Schema):
    application_ref: str
    sha256: str
    document_version: int
    amount: str
    rate: str
    term: int
    first_installment: str
    offered_by: str
    offered_at: dt.datetime
    signed_at: dt.datetime | None
    signature_method: str
    loan_ref: str
    disbursed_at: dt.datetime | None
    url: str


def _plain(minor: int, terms: dict[str, Any]) -> str:
    """An amount of the contract in an answer: "12345.67" (core.money.format_minor's plain form)."""
    return format_minor(int(minor), terms.get("currency") or "CNY", grouping=False)


def _contract(c: ContractView) -> ContractRead:
    t = c.terms
    return ContractRead(
        application_ref=c.application_ref, sha256=c.sha256, document_version=c.version_id,
        amount=_plain(t["amount_minor"], t), rate=t["rate"], term=t["term"],
        first_installment=_plain(t["first_installment_minor"], t), offered_by=c.offered_by, offered_at=c.offered_at,
        signed_at=c.signed_at,
        signature_method=c.signature_method, loan_ref=c.loan_ref, disbursed_at=c.disbursed_at,
        url=f"/api/v1/documents/versions/{c.version_id}/content")


class SignIn(Schema):
    password: str
    id_last4: str = ""
    sha256: str = Field("", description="the SHA-256 of the contract the customer read (optional check)")


@contracts_router.post("/{ref}/offer", response={201: ContractRead}, summary="Offer the contract (staff)")
def offer(request: HttpRequest, ref: str) -> Status:
    return Status(201, _contract(contracts.offer_contract(request.auth, ref)))


@contracts_router.get("/{ref}", response=ContractRead, summary="The contract of an application")
def read(request: HttpRequest, ref: str) -> ContractRead:
    panel = contracts.contract_panel(request.auth, ref)
    if panel.contract is None:
        from creditplan.core.errors import NotFound

        raise NotFound(f"no contract on {ref}", code="no_contract")
    return _contract(panel.contract)


@contracts_router.post("/{ref}/sign", response=ContractRead, summary="Sign the contract (the customer)")
def sign(request: HttpRequest, ref: str, body: SignIn) -> ContractRead:
    return _contract(contracts.sign_contract(
        request.auth, ref, password=body.password, id_last4=body.id_last4, seen_sha256=body.sha256,
        ip=request.META.get("REMOTE_ADDR", ""), user_agent=request.META.get("HTTP_USER_AGENT", "")))


@contracts_router.post("/{ref}/disburse", response=ContractRead, summary="Disburse a signed application (staff)")
def disburse(request: HttpRequest, ref: str) -> ContractRead:
    return _contract(contracts.disburse_application(request.auth, ref))
