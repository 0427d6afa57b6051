"""Decision-engine fixtures: a tiny hand-made scorecard (so every score below is computed by hand), a consumer
product with the LPR, the default policies, and a credit plan whose BJ quota is hard and SH quota soft.

The scorecard: 470 intercept points, ``months_employed`` (splits 12 and 36 → 10 / 30 / 50 points) and
``housing`` (own 40, rent 20, free 10; missing 15; unseen → free). So a home owner employed 5 years scores
470 + 50 + 40 = 560; a renter employed 2 years 470 + 30 + 20 = 520; a lodger employed 6 months 490.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from decisions_data import CONSUMER, GOOD, TINY_SCORECARD, TODAY


@pytest.fixture
def risk2(bank: dict[str, Any]) -> Any:
    from creditplan.org import services as org

    return org.create_user(None, username="risk2", password="test-pass-123", role="risk_manager", branch_code="HO")


@pytest.fixture
def world(bank: dict[str, Any], risk2: Any) -> dict[str, Any]:
    """bank + risk2, the consumer product, LPR 1y 3.45 %, the tiny model as champion of `retail-pd`, the default
    policies, pricing grid and authority matrix, and an active plan (root 50 m; BJ 1 m hard, SH 100 k soft)."""
    from creditplan.customers import services as customers
    from creditplan.decisions import services as decisions
    from creditplan.loans import services as loans
    from creditplan.plans import services as plans
    from creditplan.scoring import services as scoring
    from factories import individual

    loans.create_product(bank["risk"], **CONSUMER)
    loans.set_lpr(bank["risk"], tenor="1y", effective_date=TODAY - dt.timedelta(days=30), rate="0.0345")
    v = scoring.register_version(bank["risk"], model_name="retail-pd", artifact=TINY_SCORECARD,
                                 report_html="<p>hand-made</p>")
    scoring.validate_version(bank["risk"], v.id)
    scoring.approve_version(risk2, v.id)
    scoring.promote_champion(bank["risk"], v.id)
    decisions.seed_default_policies()
    p = plans.create_plan(bank["planner"], code="dec-plan", name="决策测试计划",
                          period_start=TODAY.replace(month=1, day=1), period_end=TODAY.replace(month=12, day=31),
                          net_capital="1000000000", new_lending_limit="50000000", balance_limit="40000000")
    plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": "1000000", "balance_limit": "1000000"},
        {"branch": "SH", "new_lending_limit": "100000", "balance_limit": "100000", "control_mode": "soft"},
    ])
    plans.activate_plan(bank["planner"], p.id)
    customer = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    return {**bank, "risk2": risk2, "model_version": v.id, "plan": p, "customer_id": customer.id}


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
