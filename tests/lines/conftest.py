"""Credit-line fixtures: the origination world (tests/origination/application_data.py: the consumer product, the
LPR, a champion scorecard — GOOD applicants score 560, grade C, approved straight through up to 150,000 yuan —,
the default policies, an active plan, three BJ01 customers, the first with the `customer` log-in) and a helper
that gives a customer an approved line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ORIGINATION_TESTS = str(Path(__file__).resolve().parents[1] / "origination")
if ORIGINATION_TESTS not in sys.path:
    sys.path.insert(0, ORIGINATION_TESTS)
LINES_TESTS = str(Path(__file__).resolve().parent)
if LINES_TESTS not in sys.path:
    sys.path.insert(0, LINES_TESTS)

from line_data import in_a_year  # noqa: E402


@pytest.fixture
def world(bank: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import application_data

    settings.CREDITPLAN_BUREAU_CLIENT = application_data.BUREAU
    settings.DOCUMENT_DIR = tmp_path / "documents"
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
    application_data.BUREAU_FILE.clear()
    yield application_data.make_world(bank)
    application_data.BUREAU_FILE.clear()


@pytest.fixture
def give_line(world: Any):  # type: ignore[no-untyped-def]
    """give_line(amount="50000.00", customer=0, revolving=True, sub_limits=None) → the active line's view
    (proposed by the BJ01 officer, approved by the BJ approver)."""
    from creditplan.lines import services as lines

    def build(amount: str = "50000.00", customer: int = 0, revolving: bool = True, sub_limits: Any = None,
              expires_on: str | None = None) -> Any:
        cid = world["customers"][customer]
        change = lines.propose_line(world["officer_bj"], customer_id=cid, amount=amount,
                                    expires_on=expires_on or in_a_year(), revolving=revolving,
                                    sub_limits=sub_limits, reason="annual review")
        lines.decide_change(world["approver_bj"], change.id, approve=True, note="ok")
        return lines.get_line(world["risk"], change.line_id)

    return build


@pytest.fixture
def apply(world: Any):  # type: ignore[no-untyped-def]
    """apply(amount="30000.00", customer=0, inputs=GOOD, actor=officer_bj) → the application's view."""
    from application_data import GOOD

    from creditplan.origination import services as origination

    def run(amount: str = "30000.00", customer: int = 0, inputs: Any = None, actor: Any = None, **kw: Any) -> Any:
        kw.setdefault("channel", "branch")
        return origination.submit_application(actor or world["officer_bj"], customer_id=world["customers"][customer],
                                              product="consumer", amount=amount, term=12,
                                              inputs=dict(GOOD if inputs is None else inputs), **kw)

    return run
