"""The type of an upload is read from its bytes: real PDF, JPEG and PNG files are accepted (and recorded as what
they are), anything else — or a file whose content contradicts its name — is refused with the reason."""

from __future__ import annotations

import pytest
from document_files import jpeg_bytes, pdf_bytes, png_bytes

from creditplan.core.errors import ValidationError
from creditplan.documents import domain

PNG, JPEG, PDF = png_bytes(), jpeg_bytes(), pdf_bytes()


@pytest.mark.parametrize(("data", "name", "content_type"), [
    (PDF, "payslip.pdf", "application/pdf"),
    (PDF, "PAYSLIP.PDF", "application/pdf"),
    (PNG, "id-front.png", "image/png"),
    (JPEG, "id-back.jpeg", "image/jpeg"),
    (JPEG, "scan.jpg", "image/jpeg"),
    (PNG, "photo.jpg", "image/png"),  # a PNG named .jpg: an image all the same, recorded as PNG
    (PNG, "from-phone", "image/png"),  # no extension: the content decides
])
def test_real_files_are_accepted_as_what_their_content_is(data: bytes, name: str, content_type: str) -> None:
    assert domain.detect(data, name).content_type == content_type


@pytest.mark.parametrize(("data", "name", "code"), [
    (b"", "empty.pdf", "empty_file"),
    (b"just some text, not a pdf\n", "something.pdf", "content_mismatch"),
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60, "setup.pdf", "content_mismatch"),  # a Windows executable
    (b"MZ\x90\x00" + b"\x00" * 60, "setup.exe", "unsupported_type"),
    (PDF, "payslip.exe", "unsupported_type"),  # a real PDF under a dangerous name is refused by its name
    (PNG, "id.pdf", "content_mismatch"),  # an image calling itself a PDF
    (PDF, "scan.png", "content_mismatch"),
    (b"%PDF-1.7\nthis is not really a pdf", "fake.pdf", "unreadable_file"),  # right magic, no PDF inside
    (PNG[:40], "truncated.png", "unreadable_file"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 30, "broken.jpg", "unreadable_file"),
    (b"GIF89a" + b"\x00" * 30, "anim.gif", "unsupported_type"),
    (b"<html><script>alert(1)</script>", "page", "unsupported_type"),
    # bytes before the header: readers tolerate them, and they are how an HTML page and a PDF become one file
    (b"junk\n" + PDF, "leading-junk.pdf", "pdf_not_at_start"),
    (b"<html><script>alert(1)</script></html>\n" + PDF, "payslip.pdf", "pdf_not_at_start"),
])
def test_anything_else_is_refused_naming_the_problem(data: bytes, name: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        domain.detect(data, name)
    assert exc.value.code == code and exc.value.field == "file"
    assert exc.value.message


def test_a_file_over_the_limit_is_refused_with_its_size() -> None:
    with pytest.raises(ValidationError) as exc:
        domain.detect(PDF, "big.pdf", max_bytes=len(PDF) - 1)
    assert exc.value.code == "file_too_large" and exc.value.field == "file"
    with pytest.raises(ValidationError, match="11.0 MB; at most 10 MB"):
        domain.check_size(11 * 1_048_576)


@pytest.mark.parametrize(("raw", "clean"), [
    ("payslip.pdf", "payslip.pdf"),
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Users\\me\\收入证明.pdf", "收入证明.pdf"),
    ("a\x00b\r\n<script>.png", "ab_script.png"),
    (".hidden.jpg", "hidden.jpg"),
    ("", "document"),
    ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
])
def test_file_names_are_made_safe_to_store_and_show(raw: str, clean: str) -> None:
    assert domain.safe_filename(raw) == clean


def test_a_name_without_a_usable_extension_gets_the_detected_one() -> None:
    assert domain.safe_filename("from-phone", domain.PNG) == "from-phone.png"


def test_only_the_uploadable_kinds_are_accepted() -> None:
    assert domain.clean_kind("income_proof") is domain.Kind.INCOME_PROOF
    for bad in ("contract", "passport-ish", "", None):
        with pytest.raises(ValidationError) as exc:
            domain.clean_kind(bad)
        assert exc.value.field == "kind"
