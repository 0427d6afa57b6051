"""Uploading, versioning, storing and viewing an application's documents, and who may do it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from document_files import pdf_bytes, png_bytes

from creditplan.core.errors import NotFound, ValidationError
from creditplan.documents import services as documents
from creditplan.documents import storage
from creditplan.documents.models import DocumentVersion


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_uploading_a_kind_again_adds_a_version_and_keeps_the_old_one_viewable(world: Any, approved: Any,
                                                                               doc_dir: Path) -> None:
    officer = world["officer_bj"]
    first, second = pdf_bytes("Payslip February"), pdf_bytes("Payslip March")
    v1 = documents.upload(officer, approved.ref, kind="income_proof", filename="payslip.pdf", data=first)
    v2 = documents.upload(world["customer"], approved.ref, kind="income_proof", filename="payslip-new.pdf",
                          data=second)
    documents.upload(officer, approved.ref, kind="id_document", filename="id.png", data=png_bytes())
    assert (v1.version, v2.version) == (1, 2)
    docs = {d.kind: d for d in documents.list_documents(officer, approved.ref)}
    assert [v.version for v in docs["income_proof"].versions] == [2, 1]  # newest first, the old one kept
    assert docs["income_proof"].latest.uploaded_by == "customer"
    assert docs["id_document"].latest.content_type == "image/png"
    # each version opens with its own content, checked against its SHA-256
    assert documents.open_version(officer, v1.id)[1] == first
    assert documents.open_version(officer, v2.id)[1] == second
    import hashlib
    assert v2.sha256 == hashlib.sha256(second).hexdigest()


def test_files_live_outside_the_database_encrypted_and_named_by_their_hash(world: Any, approved: Any,
                                                                          doc_dir: Path) -> None:
    data = pdf_bytes("Bank statement 2024")
    v = documents.upload(world["officer_bj"], approved.ref, kind="bank_statement", filename="stmt.pdf", data=data)
    on_disk = doc_dir / storage.relative_path(v.sha256)
    assert _files(doc_dir) == [on_disk]
    stored = on_disk.read_bytes()
    assert stored != data and b"Bank statement" not in stored and b"%PDF" not in stored  # encrypted at rest
    row = DocumentVersion.objects.get(pk=v.id)
    assert row.storage_path == storage.relative_path(v.sha256) and row.size == len(data)
    # the same content again is stored once; a file changed on disk is refused when opened
    documents.upload(world["officer_bj"], approved.ref, kind="other", filename="copy.pdf", data=data)
    assert len(_files(doc_dir)) == 1
    on_disk.write_bytes(storage._cipher().encrypt(b"%PDF-1.4 swapped"))
    with pytest.raises(Exception, match="does not match its recorded SHA-256"):
        documents.open_version(world["officer_bj"], v.id)


@pytest.mark.parametrize(("filename", "data", "code"), [
    ("something.pdf", b"I am a text file, not a PDF\n", "content_mismatch"),
    ("virus.exe", b"MZ\x90\x00" + b"\x00" * 100, "unsupported_type"),
    ("empty.pdf", b"", "empty_file"),
    (None, None, "required"),
])
def test_a_bad_file_is_refused_and_leaves_nothing_behind(world: Any, approved: Any, doc_dir: Path,
                                                         filename: str | None, data: bytes | None, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        documents.upload(world["officer_bj"], approved.ref, kind="income_proof", filename=filename, data=data)
    assert exc.value.field == "file" and exc.value.code == code
    assert not DocumentVersion.objects.exists() and not _files(doc_dir)


def test_a_file_over_the_size_limit_is_refused(world: Any, approved: Any, settings: Any) -> None:
    settings.DOCUMENT_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as exc:
        documents.upload(world["officer_bj"], approved.ref, kind="income_proof", filename="big.png",
                         data=png_bytes((400, 400), "white") + b"\x00" * 1000)
    assert exc.value.code == "file_too_large" and "at most" in exc.value.message


def test_a_failed_database_write_leaves_no_row_pointing_anywhere(world: Any, approved: Any, monkeypatch: Any) -> None:
    from creditplan.ledger import services as ledger

    def broken(*args: Any, **kw: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(ledger, "append", broken)
    with pytest.raises(RuntimeError):
        documents.upload(world["officer_bj"], approved.ref, kind="income_proof", filename="p.pdf", data=pdf_bytes())
    assert not DocumentVersion.objects.exists()


def test_only_people_who_may_see_the_application_see_its_documents(world: Any, approved: Any) -> None:
    from creditplan.customers import services as customers
    from creditplan.org import services as org
    from factories import PASSWORD

    v = documents.upload(world["customer"], approved.ref, kind="id_document", filename="id.png", data=png_bytes())
    # the owner and staff of the branch (and head office) see it
    for user in (world["customer"], world["officer_bj"], world["approver_bj"], world["auditor"]):
        assert documents.open_version(user, v.id)[0].sha256 == v.sha256
    # another branch's officer and another customer get "not found" (its existence is not revealed)
    other = org.create_user(None, username="customer2", password=PASSWORD, role="customer")
    customers.link_customer_user(world["customers"][1], other)
    for user in (world["officer_sh"], other):
        with pytest.raises(NotFound):
            documents.open_version(user, v.id)
        with pytest.raises(NotFound):
            documents.list_documents(user, approved.ref)
        with pytest.raises(NotFound):
            documents.upload(user, approved.ref, kind="other", filename="x.png", data=png_bytes())
    # read-only staff cannot add documents
    with pytest.raises(Exception, match="only the customer or the staff"):
        documents.upload(world["auditor"], approved.ref, kind="other", filename="x.png", data=png_bytes())


def test_the_browser_shows_a_document_inline_with_its_detected_type(world: Any, approved: Any, client: Any) -> None:
    v = documents.upload(world["officer_bj"], approved.ref, kind="id_document", filename="身份证.jpg",
                         data=png_bytes())  # a PNG named .jpg
    client.force_login(world["customer"])
    r = client.get(f"/documents/versions/{v.id}/")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert r["Content-Disposition"].startswith("inline") and r["X-Content-Type-Options"] == "nosniff"
    assert r.content == png_bytes()
    client.force_login(world["officer_sh"])
    assert client.get(f"/documents/versions/{v.id}/").status_code == 404


def test_the_upload_page_shows_the_refusal_next_to_the_file_and_keeps_the_kind(world: Any, approved: Any,
                                                                               client: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world["customer"])
    fake = SimpleUploadedFile("something.pdf", b"hello, I am text\n", content_type="application/pdf")
    r = client.post(f"/documents/applications/{approved.ref}/upload/", {"kind": "bank_statement", "file": fake},
                    HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 422
    page = r.content.decode()
    assert "is not a PDF, JPEG or PNG although its name ends in .pdf" in page and 'id="file-error"' in page
    assert '<option value="bank_statement" selected>' in page
    good = SimpleUploadedFile("statement.pdf", pdf_bytes(), content_type="application/pdf")
    r = client.post(f"/documents/applications/{approved.ref}/upload/", {"kind": "bank_statement", "file": good})
    assert r.status_code == 302
    page = client.get(f"/applications/{approved.ref}/").content.decode()
    assert "statement.pdf" in page and 'id="documents"' in page


def test_the_api_uploads_lists_and_downloads(world: Any, approved: Any, client: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from factories import PASSWORD

    token = client.post("/api/v1/auth/token", {"username": "officer_bj", "password": PASSWORD},
                        content_type="application/json").json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = f"/api/v1/documents/applications/{approved.ref}"
    r = client.post(url, {"kind": "income_proof", "file": SimpleUploadedFile("a.png", png_bytes())}, **auth)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["content_type"] == "image/png" and body["version"] == 1 and len(body["sha256"]) == 64
    r = client.post(url, {"kind": "income_proof", "file": SimpleUploadedFile("fake.pdf", b"text")}, **auth)
    assert r.status_code == 422 and r["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "file" and r.json()["code"] == "content_mismatch"
    r = client.post(url, {"kind": "income_proof"}, **auth)
    assert r.status_code == 422 and r.json()["code"] == "required"
    listed = client.get(url, **auth).json()
    assert [d["kind"] for d in listed] == ["income_proof"] and len(listed[0]["versions"]) == 1
    r = client.get(body["url"], **auth)
    assert r.status_code == 200 and r.content == png_bytes() and r["X-Content-Type-Options"] == "nosniff"
