"""Stress tests: a macro shock mapped to PD multipliers by segment and industry and to LGDs, the stressed figures of a
small book equal to a direct computation, the capital and plan headroom they cost, and scenarios that cannot be meant
refused naming the field."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from creditplan.core.errors import ValidationError
from creditplan.risk.domain.ecl import BASE_ONLY, EclError, EclSetup, StagingRules, expected_loss, flat_curve
from creditplan.risk.domain.stress import StressScenario, capital_impact, from_macro, plan_headroom
from creditplan.risk.models import StressScenario as ScenarioRow
from creditplan.risk.services import ecl, stress


def test_a_macro_shock_becomes_pd_multipliers_by_segment_and_industry() -> None:
    s = from_macro("t", unemployment_pp=2, gdp_pp=4, property_fall=0.3)
    assert s.pd_segment == {"individual": 1.5, "company": 1.0}  # a quarter per point of unemployment
    assert s.pd_industry["E"] == pytest.approx(1.96)  # construction, β 1.6: 1 + 0.15 × 1.6 × 4
    assert s.pd_industry["S"] == pytest.approx(1.36) and s.pd_industry["*"] == pytest.approx(1.6)
    assert from_macro("recovery", unemployment_pp=-8).pd_segment["individual"] == 0.0  # floored, never negative


@pytest.mark.parametrize(("scenario", "field"), [
    (StressScenario("t", pd_industry={"E": -1.0}), "pd_industry.E"),
    (StressScenario("t", pd_segment={"individual": float("nan")}), "pd_segment.individual"),
    (StressScenario("t", property_fall=1.5), "property_fall"),
    (StressScenario("t", lgd_multiplier=-0.2), "lgd_multiplier"),
])
def test_a_scenario_that_cannot_be_meant_is_refused_naming_the_field(scenario: StressScenario, field: str) -> None:
    with pytest.raises(EclError) as exc:
        scenario.check()
    assert exc.value.field == field


@pytest.mark.django_db
def test_the_service_refuses_a_bad_scenario_by_field_and_stores_nothing(bank: dict[str, Any]) -> None:
    data = {"code": "my-shock", "name_en": "My shock", "name_zh": "我的冲击", "unemployment_pp": "2", "gdp_pp": "3",
            "property_fall": "1.5", "pd_segment": {"individual": "-0.5"}, "pd_industry": {"E": "2"}}
    with pytest.raises(ValidationError) as exc:
        stress.define_scenario(bank["risk"], data)
    assert {p.field for p in exc.value.problems} == {"property_fall", "pd_segment.individual"}
    assert not ScenarioRow.objects.filter(code="my-shock").exists()
    view = stress.define_scenario(bank["risk"], {**data, "property_fall": "0.25", "pd_segment": {"individual": "1.8"}})
    assert view.property_fall == "0.25" and view.pd_segment == {"individual": "1.8"}
    assert stress.install_standard(None) == 2 and stress.install_standard(None) == 0


# one small book: (segment, industry, collateral, outstanding fen, PD12, PD at origination, LGD, DPD, class)
BOOK = [
    ("individual", "", "none", 10_000_000, 0.02, 0.01, 0.45, 0, 1),
    ("individual", "", "property", 80_000_000, 0.01, math.nan, 0.20, 0, 1),
    ("company", "E47", "none", 30_000_000, 0.05, math.nan, 0.40, 0, 1),
    ("company", "C13", "guarantee", 25_000_000, 0.03, math.nan, 0.40, 0, 1),
    ("company", "E48", "none", 20_000_000, 0.90, math.nan, 0.45, 120, 3),
    ("individual", "", "none", 5_000_000, 0.20, math.nan, 0.45, 40, 2),
]
SCENARIO = StressScenario("t", pd_segment={"individual": 2.0, "company": 1.0}, pd_industry={"E": 3.0, "*": 1.5},
                          property_fall=0.5)
AS_OF = dt.date(2025, 6, 30)
RATE = 0.05


def _prepared() -> ecl.Prepared:
    cols = list(zip(*BOOK, strict=True))
    n = len(BOOK)
    seg, ind, coll, out, pd12, pd0, lgd, dpd, cls = (np.array(c) for c in cols)
    maturity = np.full(n, dt.date(2026, 6, 30).toordinal())  # twelve months to go, all at maturity: EAD flat
    inputs = {"dpd": dpd.astype(np.int64), "risk_class": cls.astype(np.int64), "watch": np.zeros(n, dtype=bool),
              "pd12": pd12.astype(float), "pd_origination": pd0.astype(float), "pd_multiplier": np.ones(n),
              "prev_stage": np.zeros(n, dtype=np.int64), "prev_cured": np.zeros(n, dtype=np.int64),
              "state": np.minimum((dpd.astype(np.int64) + 29) // 30, 4), "lgd": lgd.astype(float),
              "undrawn_ead": np.zeros(n), "scheduled": out.astype(np.int64), "overdue": np.zeros(n, dtype=np.int64),
              "first_due": maturity, "maturity": maturity, "months_per_period": np.ones(n, dtype=np.int64),
              "method": np.full(n, 2, dtype=np.int64), "eir": np.full(n, RATE)}
    setup = EclSetup(AS_OF.toordinal(), np.full((5, ecl.MAX_HORIZON), np.nan), BASE_ONLY, StagingRules())
    ids = {"loan": np.arange(1, n + 1), "customer": np.array([1, 2, 3, 4, 4, 5]),
           "branch": np.full(n, "B", dtype=object), "product": np.full(n, "p", dtype=object),
           "currency": np.full(n, "CNY", dtype=object), "outstanding": out.astype(np.int64)}
    extra = {"segment": seg.astype(object), "industry": ind.astype(object), "collateral": coll.astype(object)}
    return ecl.Prepared(AS_OF, None, inputs, ids, setup, None, {}, None, {}, extra)  # type: ignore[arg-type]


def test_stressed_figures_of_a_small_book_equal_a_direct_computation() -> None:
    prepared = _prepared()
    figures, out = stress.apply(prepared, SCENARIO)

    # directly: each loan's stressed PD and LGD, its stage, and the ECL of the lead's kernel over twelve flat months
    pd_s = np.array([0.04, 0.02, 0.15, 0.045, 1.0, 0.40])  # ×2, ×2, ×3 (E), ×1.5 (*), capped, ×2
    lgd_s = np.array([0.45, 1 - 0.8 * 0.5, 0.40, 0.40, 0.45, 0.45])  # property: what the collateral recovers halves
    stage = np.array([2, 1, 1, 1, 3, 2])  # the first loan's PD quadrupled since origination: stage 2
    out_fen = np.array([b[3] for b in BOOK], dtype=float)
    direct = expected_loss(stage, flat_curve(pd_s, 12), lgd_s, np.repeat(out_fen[:, None], 12, axis=1),
                           np.full(6, RATE), np.full(6, 12))
    assert out["stage"].tolist() == stage.tolist()
    assert out["ecl"].tolist() == direct.tolist()
    assert figures["provision"] == int(direct.sum())
    loss = np.where(stage == 3, lgd_s * out_fen, pd_s * lgd_s * out_fen)
    assert figures["expected_loss"] == math.floor(loss.sum() + 0.5)
    total = out_fen.sum()
    assert figures["npl_now"] == 20_000_000 / total
    migrating = (out_fen * pd_s)[[0, 1, 2, 3, 5]].sum()
    assert figures["npl_ratio"] == pytest.approx((20_000_000 + migrating) / total, abs=1e-15)
    assert figures["stage_loans"] == [3, 2, 1]

    base = ecl.compute(prepared)
    assert base["stage"].tolist() == [1, 1, 1, 1, 3, 2]
    extra = figures["provision"] - int(base["ecl"].sum())
    assert extra > 0
    capital = capital_impact(int(base["ecl"].sum()), figures["provision"], 1_000_000_000)
    assert capital == {"extra_provision": extra, "net_capital": 1_000_000_000,
                       "share_of_capital": extra / 1_000_000_000, "capital_after": 1_000_000_000 - extra}

    plan = {"code": "p", "net_capital": 1_000_000_000, "single_customer_bp": 1000, "balance_limit": 500_000_000,
            "new_lending_limit": 300_000_000, "outstanding": 170_000_000, "used": 200_000_000}
    room = plan_headroom(plan, 100_000_000, prepared.ids["customer"], prepared.ids["outstanding"])
    assert room is not None
    # a tenth of capital lost: quotas shrink by a tenth; the single-customer limit to 90 million fen, under which
    # customer 2 (80 million) still fits and customer 4 (45 million) too
    assert (room["balance_limit_after"], room["balance_headroom"], room["balance_headroom_after"]) == (
        450_000_000, 330_000_000, 280_000_000)
    assert (room["new_lending_limit_after"], room["new_lending_headroom_after"]) == (270_000_000, 70_000_000)
    assert (room["single_customer_limit"], room["single_customer_limit_after"]) == (100_000_000, 90_000_000)
    tight = plan_headroom({**plan, "single_customer_bp": 850}, 100_000_000, prepared.ids["customer"],
                          prepared.ids["outstanding"])
    assert tight is not None and (tight["customers_over_limit"], tight["customers_over_limit_after"]) == (0, 1)
