"""Document use cases: upload (type checked by content, versioned, stored encrypted outside the database),
list and open for viewing — for staff who may see the application (branch scope) and the customer who owns it.

Also the persistence of the contract and its signature, called by `documents.contracts` inside its own
transaction (that module checks the permission and the application's state first).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.documents import domain, storage
from creditplan.documents.domain import Kind
from creditplan.documents.models import Contract, Document, DocumentVersion, Signature, SigningAttempt
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role
from creditplan.origination import domain as states
from creditplan.origination import services as origination
from creditplan.origination.models import Application


@dataclass(frozen=True)
class VersionView:
    id: int
    application_ref: str
    kind: str
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    at: dt.datetime
    # only in upload's answer: what was removed from an uploaded PDF (its scripts, actions, embedded files), so the
    # stored file differs from the upload; the ledger event keeps both SHA-256s and this list
    removed: tuple[str, ...] = ()
    original_sha256: str = ""


@dataclass(frozen=True)
class DocumentView:
    kind: str
    versions: list[VersionView]  # newest first

    @property
    def latest(self) -> VersionView:
        return self.versions[0]


def _name(user: Actor | None) -> str:
    return "system" if user is None else (getattr(user, "display_name", "") or user.username)


def _version_view(v: DocumentVersion, ref: str, kind: str) -> VersionView:
    return VersionView(id=v.pk, application_ref=ref, kind=kind, version=v.version, filename=v.filename,
                       content_type=v.content_type, size=v.size, sha256=v.sha256, uploaded_by=v.uploaded_by_name,
                       at=v.at)


def may_upload(actor: Actor, a: Application) -> bool:
    """The customer who owns the application, or staff who enter or review applications (in their branch scope,
    which reading the application through origination has already checked), while the application is open."""
    if states.Status(a.status) not in states.OPEN:
        return False
    if actor.role == Role.CUSTOMER:
        return org.may(actor, Perm.APPLICATION_APPLY) and a.customer.user_id == actor.pk
    return org.may(actor, Perm.APPLICATION_CREATE) or org.may(actor, Perm.APPLICATION_REVIEW)


def _add_version(actor: Actor, a: Application, kind: Kind, filename: str, claimed_type: str, found: domain.FileType,
                 digest: str, rel: str, size: int, now: dt.datetime) -> DocumentVersion:
    doc, _created = Document.objects.get_or_create(application=a, kind=kind.value)
    doc = Document.objects.select_for_update().get(pk=doc.pk)  # version numbers are given one at a time
    number = (doc.versions.aggregate(m=Max("version"))["m"] or 0) + 1
    return DocumentVersion.objects.create(
        document=doc, version=number, filename=filename, content_type=found.content_type,
        claimed_type=(claimed_type or "")[:100], size=size, sha256=digest, storage_path=rel,
        uploaded_by=actor if getattr(actor, "pk", None) else None, uploaded_by_name=_name(actor), at=now)


def upload(actor: Actor, ref: str, *, kind: str, filename: str | None, data: bytes | None,
           claimed_type: str = "") -> VersionView:
    """Add a document (or a new version of one) to an application. Refused with ValidationError(field="file")
    when the file is missing, empty, too large or not really a PDF / JPEG / PNG (a PDF must start with its header).
    A PDF with active content (scripts, actions, embedded files) is stored without it (domain.clean_pdf): the
    version's SHA-256 is the stored file's, the ledger event also keeps the upload's. The file is written
    (encrypted) before the row that names it is committed."""
    org.require(actor, Perm.APPLICATION_VIEW)
    a = origination.application_record(actor, ref)
    if not may_upload(actor, a):
        if states.Status(a.status) not in states.OPEN:
            raise Conflict(f"application {a.ref} is {a.status}: documents can no longer be added",
                           code="application_closed")
        raise Forbidden("only the customer or the staff handling the application can add documents",
                        code="permission_denied")
    k = domain.clean_kind(kind)
    if data is None:
        raise ValidationError("choose a file to upload", field="file", code="required")
    found = domain.detect(data, filename, max_bytes=storage.max_bytes())
    name = domain.safe_filename(filename, found)
    original_sha256 = hashlib.sha256(data).hexdigest()
    removed: tuple[str, ...] = ()
    if found is domain.PDF:  # stored without scripts, actions or embedded files (a clean PDF: byte for byte)
        cleaned = domain.clean_pdf(data)
        data, removed = cleaned.data, cleaned.removed
    digest, rel = storage.put(data)  # before the row: a committed row always names a file that exists
    now = timezone.now()
    with transaction.atomic():
        a = origination.application_for_update(actor, ref)
        if not may_upload(actor, a):
            raise Conflict(f"application {a.ref} is {a.status}: documents can no longer be added",
                           code="application_closed")
        v = _add_version(actor, a, k, name, claimed_type, found, digest, rel, len(data), now)
        event = {"kind": k.value, "version": v.version, "filename": name, "content_type": found.content_type,
                 "size": len(data), "sha256": digest}
        if removed:
            event.update(original_sha256=original_sha256, active_content_removed=list(removed))
        ledger.append(actor, "document.uploaded", "application", a.ref, event)
    view = _version_view(v, a.ref, k.value)
    return dataclasses.replace(view, removed=removed, original_sha256=original_sha256) if removed else view


def list_documents(actor: Actor, ref: str) -> list[DocumentView]:
    """The application's documents, each with every version (newest first)."""
    a = origination.application_record(actor, ref)
    return _documents_of(a)


def _documents_of(a: Application) -> list[DocumentView]:
    order = {k.value: i for i, k in enumerate(Kind)}
    out = []
    for doc in sorted(Document.objects.filter(application=a).prefetch_related("versions"),
                      key=lambda d: order.get(d.kind, 99)):
        versions = [_version_view(v, a.ref, doc.kind) for v in sorted(doc.versions.all(), key=lambda v: -v.version)]
        if versions:
            out.append(DocumentView(doc.kind, versions))
    return out


def open_version(actor: Actor, version_id: Any) -> tuple[VersionView, bytes]:
    """A version's metadata and plain content, for someone who may see its application (else NotFound, so that
    the existence of another customer's document is not revealed)."""
    org.require(actor, Perm.APPLICATION_VIEW)
    try:
        v = DocumentVersion.objects.select_related("document__application").get(pk=int(version_id))
    except (DocumentVersion.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"document {version_id} not found", code="document_not_found") from None
    try:
        a = origination.application_record(actor, v.document.application.ref)
    except NotFound:
        raise NotFound(f"document {version_id} not found", code="document_not_found") from None
    return _version_view(v, a.ref, v.document.kind), storage.get(v.storage_path, v.sha256)


@dataclass(frozen=True)
class Panel:
    """What the application page shows about documents."""

    documents: list[DocumentView]
    may_upload: bool
    kinds: tuple[str, ...]


def panel(actor: Actor, ref: str) -> Panel:
    a = origination.application_record(actor, ref)
    return Panel(_documents_of(a), may_upload(actor, a), tuple(k.value for k in domain.UPLOAD_KINDS))


# --- contract and signature persistence (called by documents.contracts inside its transaction) -------------

@dataclass(frozen=True)
class ContractView:
    application_ref: str
    sha256: str
    version_id: int
    terms: dict[str, Any]
    offered_by: str
    offered_at: dt.datetime
    signed_at: dt.datetime | None
    signer: str
    signature_method: str
    signature_ip: str
    signature_sha256: str
    loan_ref: str
    disbursed_by: str
    disbursed_at: dt.datetime | None


def _contract_view(c: Contract, ref: str) -> ContractView:
    s = Signature.objects.filter(contract=c).first()
    return ContractView(
        application_ref=ref, sha256=c.sha256, version_id=c.version_id, terms=dict(c.terms),
        offered_by=_name(c.offered_by) if c.offered_by_id else "system", offered_at=c.offered_at,
        signed_at=c.signed_at, signer=s.signer_name if s else "", signature_method=s.method if s else "",
        signature_ip=s.ip if s else "", signature_sha256=s.sha256 if s else "", loan_ref=c.loan_ref,
        disbursed_by=_name(c.disbursed_by) if c.disbursed_by_id else "", disbursed_at=c.disbursed_at)


def contract_of(a: Application) -> ContractView | None:
    c = Contract.objects.filter(application=a).first()
    return None if c is None else _contract_view(c, a.ref)


def store_contract(actor: Actor, a: Application, *, pdf: bytes, filename: str, terms: dict[str, Any],
                   now: dt.datetime) -> ContractView:
    """Store the generated contract PDF as a version of the application's contract document and record the
    contract. The caller holds the application's row lock and is inside a transaction."""
    if Contract.objects.filter(application=a).exists():
        raise Conflict(f"a contract was already offered on {a.ref}", code="contract_exists")
    found = domain.detect(pdf, filename, max_bytes=max(storage.max_bytes(), len(pdf)))
    digest, rel = storage.put(pdf)
    v = _add_version(actor, a, Kind.CONTRACT, domain.safe_filename(filename, found), "", found, digest, rel,
                     len(pdf), now)
    c = Contract.objects.create(application=a, version=v, sha256=digest, terms=terms,
                                offered_by=actor if getattr(actor, "pk", None) else None, offered_at=now)
    return _contract_view(c, a.ref)


def record_signature(a: Application, user: Actor, *, method: str, sha256: str, ip: str, user_agent: str,
                     now: dt.datetime) -> ContractView:
    c = Contract.objects.select_for_update().get(application=a)
    if c.signed_at is not None:
        raise Conflict(f"the contract of {a.ref} is already signed", code="already_signed")
    Signature.objects.create(contract=c, user=user, signer_name=_name(user), method=method, sha256=sha256,
                             ip=(ip or "")[:45], user_agent=(user_agent or "")[:300], at=now)
    c.signed_at = now
    c.save(update_fields=["signed_at"])
    return _contract_view(c, a.ref)


def record_failed_signing(a: Application, user: Actor, *, reason: str, ip: str, now: dt.datetime) -> int:
    """Count a refused signature; the number of refusals so far."""
    SigningAttempt.objects.create(application=a, user=user, reason=reason[:40], ip=(ip or "")[:45], at=now)
    return failed_signings(a, user)


def failed_signings(a: Application, user: Actor) -> int:
    return SigningAttempt.objects.filter(application=a, user=user).count()


def record_disbursement(a: Application, actor: Actor, *, loan_ref: str, now: dt.datetime) -> ContractView:
    c = Contract.objects.select_for_update().get(application=a)
    c.loan_ref, c.disbursed_by, c.disbursed_at = loan_ref, actor, now
    c.save(update_fields=["loan_ref", "disbursed_by", "disbursed_at"])
    return _contract_view(c, a.ref)
