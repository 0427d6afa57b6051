"""The audit page's ledger health box in a real browser: sign a tree head and verify the ledger with the HTMX
buttons (session + CSRF through the API), then download an inclusion proof the standalone verifier accepts."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from creditplan.customers.services import create_customer
from creditplan.ledger import services as ledger
from creditplan.ledger import verifier
from factories import individual

pytestmark = pytest.mark.e2e


def test_auditor_signs_verifies_and_downloads_a_proof(new_page, log_in, bank, tmp_path):  # type: ignore[no-untyped-def]
    create_customer(bank["officer_bj"], individual(1, name="王小明"))
    size = ledger.count_events()
    page = new_page()
    log_in(page, "auditor")
    page.goto("/audit/")
    box = page.get_by_role("region", name="账本健康状况")
    expect(box.get_by_test_id("latest-head")).to_contain_text("尚未签发任何树头")
    expect(box.get_by_test_id("last-verification")).to_contain_text("账本尚未校验")

    box.get_by_role("button", name="立即签发树头").click()
    expect(box.get_by_test_id("latest-head")).to_contain_text("覆盖事件 1–")
    box.get_by_role("button", name="立即校验账本").click()
    expect(box.get_by_test_id("last-verification")).to_contain_text("通过")
    head = ledger.latest_tree_head(None)
    assert head is not None and head.tree_size >= size and head.issued_by == "auditor"

    row = page.get_by_role("row").filter(has_text="customer.created")
    with page.expect_download() as info:
        row.get_by_role("link", name="下载").click()
    path = tmp_path / "proof.json"
    info.value.save_as(path)
    proof = json.loads(path.read_text())
    verifier.check_inclusion(proof, ledger.public_key(), report=verifier.Report(quiet=True))
    assert proof["tree_head"]["tree_size"] == head.tree_size
