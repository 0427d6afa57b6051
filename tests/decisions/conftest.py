"""Decision-engine fixtures: a tiny hand-made scorecard (so every score below is computed by hand), a consumer
product with the LPR, the default policies, and a credit plan whose BJ quota is hard and SH quota soft.

The scorecard: 470 intercept points, ``months_employed`` (splits 12 and 36 → 10 / 30 / 50 points) and
``housing`` (own 40, rent 20, free 10; missing 15; unseen → free). So a home owner employed 5 years scores
470 + 50 + 40 = 560; a renter employed 2 years 470 + 30 + 20 = 520; a lodger employed 6 months 490.
"""

from __future__ import annotations

from typing import Any

import pytest
from decisions_data import CONSUMER, GOOD, TODAY

from decision_world import seed_decision_world


@pytest.fixture
def risk2(bank: dict[str, Any]) -> Any:
    from creditplan.org import services as org

    return org.create_user(None, username="risk2", password="test-pass-123", role="risk_manager", branch_code="HO")


@pytest.fixture
def world(bank: dict[str, Any], risk2: Any) -> dict[str, Any]:
    """bank + risk2, the consumer product, LPR 1y 3.45 %, the tiny model as champion of `retail-pd`, the default
    policies, pricing grid and authority matrix, and an active plan (root 50 m; BJ 1 m hard, SH 100 k soft)."""
    from creditplan.customers import services as customers
    from factories import individual

    model_version, p = seed_decision_world(bank, risk2, product=CONSUMER, today=TODAY, plan_code="dec-plan",
                                           plan_name="决策测试计划", bj=("1000000", "1000000"),
                                           sh=("100000", "100000"))
    customer = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    return {**bank, "risk2": risk2, "model_version": model_version, "plan": p, "customer_id": customer.id}


@pytest.fixture
def decide(world: dict[str, Any]):  # type: ignore[no-untyped-def]
    """decide(ref, amount_minor=..., term=12, branch="BJ01", actor=officer_bj, **input overrides)."""
    from creditplan.decisions import services as decisions

    def run(ref: str, amount_minor: int = 5_000_000, term: int = 12, branch: str = "BJ01", actor: Any = None,
            reserve: bool = True, inputs: dict[str, Any] | None = None, **overrides: Any) -> Any:
        data = dict(GOOD) if inputs is None else dict(inputs)
        data.update(overrides)
        return decisions.decide(actor or world["officer_bj"], application_ref=ref, customer_id=world["customer_id"],
                                product="consumer", branch=branch, amount_minor=amount_minor, term=term,
                                inputs=data, reserve=reserve)

    return run
