"""Security issue 14 (low): an uploaded "PDF" must not be a web page in disguise, must not act on its own when a
reviewer opens it, and whatever is opened is served so that the browser neither guesses its type nor lets it act
in the viewer's session."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from document_files import active_pdf_bytes, pdf_bytes, png_bytes
from pypdf import PdfReader

from creditplan.core.errors import ValidationError
from creditplan.documents import domain
from creditplan.documents import services as documents
from creditplan.documents.models import DocumentVersion
from creditplan.ledger.models import Event
from factories import PASSWORD

POLYGLOT = b"<html><script>fetch('/api/v1/applications').then(r => r.text()).then(alert)</script></html>\n" + \
    pdf_bytes("Payslip")


def _no_active_content(data: bytes) -> None:
    """What a PDF reader would find to run or open: nothing."""
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    assert "/OpenAction" not in root and "/AA" not in root
    names = root.get("/Names") or {}
    assert "/JavaScript" not in names and "/EmbeddedFiles" not in names
    assert reader.attachments == {}
    for page in reader.pages:
        assert "/AA" not in page
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            assert annot["/Subtype"] != "/FileAttachment"
            assert "/A" not in annot or annot["/A"]["/S"] not in ("/JavaScript", "/Launch")
    for token in (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"app.alert", b"MZ\x90"):
        assert token not in data, token


def test_a_pdf_must_start_with_its_header_so_an_html_pdf_polyglot_is_refused() -> None:
    assert PdfReader(io.BytesIO(POLYGLOT)).pages  # a PDF reader would open it …
    for name in ("payslip.pdf", "payslip.html", None):
        with pytest.raises(ValidationError) as exc:
            domain.detect(POLYGLOT, name)  # … and a browser sniffing it would run the page: refused either way
        assert exc.value.field == "file" and exc.value.code in ("pdf_not_at_start", "unsupported_type")
    with pytest.raises(ValidationError) as exc:
        domain.detect(POLYGLOT, "payslip.pdf")
    assert exc.value.code == "pdf_not_at_start"
    with pytest.raises(ValidationError) as exc:
        domain.detect(b"\n" + pdf_bytes(), "payslip.pdf")  # not even one byte before it
    assert exc.value.code == "pdf_not_at_start"


def test_a_polyglot_upload_is_refused_and_nothing_is_stored(world: Any, approved: Any, doc_dir: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        documents.upload(world["customer"], approved.ref, kind="income_proof", filename="payslip.pdf", data=POLYGLOT)
    assert exc.value.code == "pdf_not_at_start"
    assert not DocumentVersion.objects.exists() and not any(p.is_file() for p in doc_dir.rglob("*"))


def test_scripts_actions_and_embedded_files_are_removed_and_the_pages_kept() -> None:
    evil = active_pdf_bytes("Payslip April")
    reader = PdfReader(io.BytesIO(evil))
    assert "/OpenAction" in reader.trailer["/Root"] and "/JavaScript" in reader.trailer["/Root"]["/Names"]
    clean = domain.clean_pdf(evil)
    assert clean.changed and {"/OpenAction", "/JavaScript", "/AA", "/Launch", "/EmbeddedFiles",
                              "/FileAttachment"} <= set(clean.removed)
    assert clean.data.startswith(b"%PDF-")
    _no_active_content(clean.data)
    assert [p.extract_text() for p in PdfReader(io.BytesIO(clean.data)).pages] == ["Payslip April"]
    assert domain.clean_pdf(clean.data).data == clean.data  # cleaning again changes nothing


def test_a_pdf_without_active_content_is_stored_byte_for_byte() -> None:
    plain = pdf_bytes("Bank statement")  # fpdf2 writes /OpenAction [page /FitH null]: a destination, not an action
    assert b"/OpenAction" in plain
    assert domain.clean_pdf(plain) == domain.CleanPdf(plain, ())


def test_an_uploaded_pdf_with_javascript_is_stored_without_it(world: Any, approved: Any, doc_dir: Path) -> None:
    evil = active_pdf_bytes()
    v = documents.upload(world["customer"], approved.ref, kind="income_proof", filename="payslip.pdf", data=evil)
    meta, stored = documents.open_version(world["officer_bj"], v.id)
    _no_active_content(stored)
    assert meta.sha256 == hashlib.sha256(stored).hexdigest() != hashlib.sha256(evil).hexdigest()
    assert meta.size == len(stored)
    assert "/JavaScript" in v.removed and v.original_sha256 == hashlib.sha256(evil).hexdigest()
    event = json.loads(Event.objects.get(kind="document.uploaded").entry)["data"]
    assert event["sha256"] == meta.sha256 and event["original_sha256"] == v.original_sha256
    assert "/OpenAction" in event["active_content_removed"]


def _headers_sandboxed(r: Any) -> None:
    directives = [d.strip() for d in r["Content-Security-Policy"].split(";")]
    assert "sandbox" in directives and "default-src 'none'" in directives
    assert r["X-Content-Type-Options"] == "nosniff"


def test_documents_are_served_sandboxed_inline_on_the_pages_and_as_downloads_over_the_api(
        world: Any, approved: Any, client: Any) -> None:
    pdf = documents.upload(world["customer"], approved.ref, kind="income_proof", filename="payslip.pdf",
                           data=pdf_bytes())
    png = documents.upload(world["customer"], approved.ref, kind="id_document", filename="id.png", data=png_bytes())
    client.force_login(world["officer_bj"])
    for v, content_type in ((pdf, "application/pdf"), (png, "image/png")):
        r = client.get(f"/documents/versions/{v.id}/")  # opened from the application page: shown by the browser
        assert r.status_code == 200 and r["Content-Type"] == content_type
        assert r["Content-Disposition"].startswith("inline")
        _headers_sandboxed(r)
    token = client.post("/api/v1/auth/token", {"username": "officer_bj", "password": PASSWORD},
                        content_type="application/json").json()["token"]
    r = client.get(f"/api/v1/documents/versions/{pdf.id}/content", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    _headers_sandboxed(r)


def test_the_upload_page_says_what_was_removed(world: Any, approved: Any, client: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world["customer"])
    for language, text in (("en", "embedded files were removed from the PDF"), ("zh-hans", "已从 PDF 中删除")):
        f = SimpleUploadedFile("payslip.pdf", active_pdf_bytes(), content_type="application/pdf")
        r = client.post(f"/documents/applications/{approved.ref}/upload/", {"kind": "income_proof", "file": f},
                        HTTP_ACCEPT_LANGUAGE=language, follow=True)
        assert r.status_code == 200 and text in r.content.decode()
        f = SimpleUploadedFile("payslip.pdf", POLYGLOT, content_type="application/pdf")
        r = client.post(f"/documents/applications/{approved.ref}/upload/", {"kind": "income_proof", "file": f},
                        HTTP_ACCEPT_LANGUAGE=language)
        assert r.status_code == 422
        expected = "before its PDF header" if language == "en" else "PDF 文件头之前"
        assert expected in r.content.decode()
