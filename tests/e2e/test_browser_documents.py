"""Documents in a real browser (issue 6, acceptance): a customer uploads a text file named something.pdf on their
application's page and is told it is refused (in Chinese, next to the file field, the kind they chose kept); a
real PNG is then accepted, listed with its detected type and opens in the browser."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))
from application_data import GOOD, make_world  # noqa: E402

pytestmark = pytest.mark.e2e


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 24), "green").save(buf, format="PNG")
    return buf.getvalue()


def test_a_document_with_a_fake_extension_is_refused_and_a_real_png_accepted(  # type: ignore[no-untyped-def]
        page, log_in, bank, settings, tmp_path):
    from creditplan.origination import services as origination

    settings.DOCUMENT_DIR = tmp_path / "documents"
    world = make_world(bank)
    ref = origination.submit_application(world["officer_bj"], customer_id=world["customers"][0], product="consumer",
                                         amount="30000.00", term=12, inputs=dict(GOOD), channel="branch").ref
    log_in(page, "customer")
    page.goto(f"/applications/{ref}/")
    expect(page.locator("#no-documents")).to_be_visible()
    page.get_by_label("类型").select_option("bank_statement")
    page.locator("#doc-file").set_input_files(files=[{"name": "something.pdf", "mimeType": "application/pdf",
                                                      "buffer": b"this is plain text pretending to be a PDF\n"}])
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#file-error")).to_have_text("文件内容与文件名不符：仅接受真实的 PDF、JPEG 或 PNG 文件。")
    expect(page.get_by_label("类型")).to_have_value("bank_statement")  # what they chose is kept

    page.locator("#doc-file").set_input_files(files=[{"name": "流水截图.png", "mimeType": "image/png",
                                                      "buffer": _png()}])
    page.get_by_role("button", name="上传").click()
    expect(page.locator(".msg.success")).to_contain_text("流水截图.png")
    documents = page.get_by_role("table", name="证明材料")
    expect(documents).to_contain_text("银行流水")
    expect(documents).to_contain_text("PNG")  # issue 20: the type in words, not its MIME name
    with page.context.expect_page() as opened:
        documents.get_by_role("link", name="流水截图.png").click()
    viewer = opened.value
    response = viewer.wait_for_load_state() or viewer.request.get(viewer.url)
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
