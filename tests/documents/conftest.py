"""Documents fixtures: the origination world (tests/origination/application_data.py), a document store in a
temporary directory per test, and small real files made on the spot (PNG/JPEG by Pillow, PDF by fpdf2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))


@pytest.fixture
def doc_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DOCUMENT_DIR = tmp_path / "documents"
    return settings.DOCUMENT_DIR


@pytest.fixture
def world(bank: dict[str, Any], doc_dir: Path, settings: Any) -> dict[str, Any]:
    from application_data import BUREAU, make_world

    settings.CREDITPLAN_BUREAU_CLIENT = BUREAU  # a clean bureau file, as the origination tests use
    return make_world(bank)


@pytest.fixture
def approved(world: dict[str, Any]) -> Any:
    """An application of the first customer (who has a log-in), approved straight through (quota reserved)."""
    from application_data import GOOD

    from creditplan.origination import services as origination

    v = origination.submit_application(world["officer_bj"], customer_id=world["customers"][0], product="consumer",
                                       amount="30000.00", term=12, inputs=dict(GOOD), channel="branch")
    assert v.status == "approved" and v.quota_status == "reserved"
    return v


@pytest.fixture
def real_pdf_font() -> None:
    """Asked for by the test that reads the contract PDF: render it with the CJK font as in production."""


@pytest.fixture(autouse=True)
def _latin_only_contracts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the CJK font costs about a second per PDF; tests about the steps rather than the PDF's looks
    render it in Helvetica only (the English text, the same figures)."""
    if "real_pdf_font" not in request.fixturenames:
        monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
