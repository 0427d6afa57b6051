"""Origination fixtures: the decision engine's world (a consumer product, the LPR, a hand-made champion scorecard,
the default policies, pricing grid and authority matrix, an active credit plan) plus customers and a helper that
submits applications (see application_data.py for the scores each applicant gets)."""

from __future__ import annotations

from typing import Any

import application_data
import pytest
from application_data import make_world


@pytest.fixture
def world(bank: dict[str, Any], settings: Any) -> Any:
    """bank + risk2, an approver at BJ01 (sub-branch authority) and one at head office, the consumer product
    (1,000–2,000,000 yuan, 3–60 months), LPR 1y 3.45 %, the tiny champion, default policies, a plan with ample
    quota (BJ hard 20 m, SH soft 5 m) and three customers in BJ01 (the first with a log-in of their own); the
    tests' bureau (a clean file: application_data.BUREAU, its BUREAU_FILE empty at the start)."""
    settings.CREDITPLAN_BUREAU_CLIENT = application_data.BUREAU
    application_data.BUREAU_FILE.clear()
    yield make_world(bank)
    application_data.BUREAU_FILE.clear()


@pytest.fixture
def submit(world: dict[str, Any]):  # type: ignore[no-untyped-def]
    """submit(inputs=GOOD, amount="30000.00", term=12, customer=0, actor=officer_bj, **kw) → ApplicationView."""
    from application_data import GOOD

    from creditplan.origination import services as origination

    def run(inputs: dict[str, Any] | None = None, amount: str = "30000.00", term: int = 12, customer: int = 0,
            actor: Any = None, **kw: Any) -> Any:
        kw.setdefault("channel", "branch")
        return origination.submit_application(actor or world["officer_bj"], customer_id=world["customers"][customer],
                                              product="consumer", amount=amount, term=term,
                                              inputs=dict(GOOD if inputs is None else inputs), **kw)

    return run
