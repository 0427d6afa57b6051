"""Expected credit loss: a hand-computed portfolio of twelve loans across the three stages reconciles to the fen;
staging and the cure rule on constructed histories; the IASB's illustrative examples for IFRS 9 impairment that
measure 12-month and lifetime ECL; bad parameters refused naming the field.

IFRS 9 Illustrative Examples reproduced here (the examples' figures, in CU):
- Example 8, "12-month expected credit loss measurement using an explicit 'probability of default' approach",
  scenario 1: one 10-year amortising loan of CU1,000,000, a 12-month PD of 0.5 % and an LGD of 25 %: a 12-month ECL
  of CU1,250 (0.5 % × 25 % × CU1,000,000).
- Example 9, "12-month expected credit loss measurement based on a loss rate approach": two groups of 1,000 loans —
  CU200 each (CU200,000; 4 defaults a year, CU800 at default, present value of observed loss CU600: a 0.3 % loss
  rate) and CU300 each (CU300,000; 2 defaults, CU600 at default, CU450: 0.15 %) — allowances of CU600 and CU450.
The examples' figures are undiscounted (Example 9's losses are already present values): EIR 0 here.
"""

from __future__ import annotations

import numpy as np
import pytest

from creditplan.risk.domain.ecl import (
    EclError,
    Scenario,
    StagingRules,
    amortising_exposure,
    check_lgd,
    check_scenarios,
    cumulative_pd_from_matrix,
    expected_loss,
    flat_curve,
    raw_stage,
    scale_curve,
    stage_loans,
)

# stage, outstanding (fen), principal repaid a month (fen), EIR, 12-month PD, LGD, months to maturity
PORTFOLIO = [
    (1, 10_000_000, 500_000, 0.06, 0.01, 0.45, 20),
    (1, 50_000_000, 2_000_000, 0.05, 0.005, 0.40, 24),
    (1, 8_000_000, 1_000_000, 0.08, 0.02, 0.50, 8),
    (1, 120_000_000, 0, 0.045, 0.003, 0.25, 36),
    (1, 3_000_000, 250_000, 0.12, 0.03, 0.60, 12),
    (2, 20_000_000, 1_000_000, 0.06, 0.08, 0.45, 20),
    (2, 60_000_000, 1_000_000, 0.05, 0.05, 0.40, 60),
    (2, 5_000_000, 500_000, 0.10, 0.15, 0.55, 10),
    (2, 15_000_000, 0, 0.07, 0.10, 0.35, 18),
    (3, 9_000_000, 0, 0.06, 1.0, 0.60, 12),
    (3, 40_000_000, 0, 0.05, 1.0, 0.45, 30),
    (3, 1_234_567, 0, 0.09, 1.0, 0.75, 5),
]
# Computed by hand, loan by loan: Σ_t [(1 − (1 − PD)^(t/12)) − (1 − (1 − PD)^((t−1)/12))] × LGD × EAD_t × (1 + EIR)^(−t/12)
# over 12 months (stage 1, or to maturity if sooner) or the whole life (stage 2); LGD × EAD (stage 3). In fen.
EXPECTED = [31_765, 76_183, 29_526, 87_888, 28_136, 605_245, 2_657_420, 189_510, 728_725, 5_400_000, 18_000_000,
            925_925]


def _portfolio_ecl(scenarios: tuple[Scenario, ...] = (Scenario("base", 1.0),)) -> np.ndarray:
    cols = list(zip(*PORTFOLIO, strict=True))
    stage, out, step, eir, pd12, lgd, life = (np.array(c) for c in cols)
    horizon = int(max(life))
    cum = flat_curve(pd12, horizon)
    ead = amortising_exposure(out, step, horizon)
    return expected_loss(stage, cum, lgd, ead, eir, life, scenarios)


def test_a_hand_computed_portfolio_of_twelve_loans_reconciles_to_the_fen() -> None:
    ecl = _portfolio_ecl()
    assert ecl.tolist() == EXPECTED
    assert int(ecl.sum()) == 28_760_323  # the provision: 287,603.23 yuan


def test_scenarios_are_weighted_and_a_harsher_downside_costs_more() -> None:
    base = _portfolio_ecl()
    weighted = _portfolio_ecl((Scenario("upside", 0.2, 0.8, 0.9), Scenario("base", 0.5),
                               Scenario("downside", 0.3, 1.6, 1.2)))
    assert int(weighted.sum()) > int(base.sum())
    # stage 3 moves only with LGD: 0.2·0.9 + 0.5 + 0.3·1.2 = 1.04 times the base
    assert weighted[9] == round(5_400_000 * 1.04)


def test_ifrs9_example_8_twelve_month_ecl_with_an_explicit_pd() -> None:
    ecl = expected_loss(np.array([1]), flat_curve(np.array([0.005]), 120), np.array([0.25]),
                        np.full((1, 120), 1_000_000.0), np.array([0.0]), np.array([120]))
    assert ecl.tolist() == [1_250]


def test_ifrs9_example_9_twelve_month_ecl_by_a_loss_rate() -> None:
    gross = np.array([200_000.0, 300_000.0])
    default_rate = np.array([4 / 1_000, 2 / 1_000])  # defaults a year over loans in the group
    loss_given_default = np.array([600 / 800, 450 / 600])  # present value of observed loss over what defaulted
    ecl = expected_loss(np.array([1, 1]), flat_curve(default_rate, 12), loss_given_default,
                        np.repeat(gross[:, None], 12, axis=1), np.zeros(2), np.array([12, 12]))
    assert ecl.tolist() == [600, 450]
    assert (ecl / gross).round(4).tolist() == [0.003, 0.0015]


def test_a_significant_increase_in_credit_risk_moves_the_loan_to_lifetime_ecl() -> None:
    rules = StagingRules()
    stage = raw_stage(np.array([0, 0, 35, 0, 0, 95, 0]), np.array([1, 1, 2, 2, 1, 3, 3]),
                      np.array([False, True, False, False, False, False, False]),
                      np.array([0.01, 0.01, 0.01, 0.01, 0.031, 0.5, 0.01]), np.full(7, 0.01), rules)
    assert stage.tolist() == [1, 2, 2, 2, 2, 3, 3]  # watch list, 30+, 关注, PD tripled, 90+, 次级
    one = dict(stage=np.array([1]), cumulative_pd=flat_curve(np.array([0.02]), 36), lgd=np.array([0.4]),
               ead=np.full((1, 36), 1_000_000.0), eir=np.array([0.05]), remaining_months=np.array([36]))
    twelve_month = expected_loss(**one)[0]
    lifetime = expected_loss(**{**one, "stage": np.array([2])})[0]
    assert lifetime > 2.5 * twelve_month  # three years of losses instead of one


def test_the_cure_rule_on_constructed_histories() -> None:
    """Monthly raw stages → reported stages: worse at once, better only after the probation (3 months out of
    stage 2, 6 months out of stage 3)."""
    rules = StagingRules()
    histories = {
        "cures from 2": [1, 2, 1, 1, 1, 1],
        "relapses": [2, 1, 1, 2, 1, 1, 1, 1],
        "cures from 3": [3, 1, 1, 1, 1, 1, 1, 1],
        "3 to 2 to 1": [3, 2, 2, 2, 2, 2, 2, 1, 1, 1],
    }
    expected = {
        "cures from 2": [1, 2, 2, 2, 1, 1],
        "relapses": [2, 2, 2, 2, 2, 2, 1, 1],
        "cures from 3": [3, 3, 3, 3, 3, 3, 1, 1],
        "3 to 2 to 1": [3, 3, 3, 3, 3, 3, 2, 2, 2, 1],
    }
    for name, raws in histories.items():
        prev, cured, got = np.array([0]), np.array([0]), []
        for r in raws:
            prev, cured = stage_loans(np.array([r]), prev, cured, rules)
            got.append(int(prev[0]))
        assert got == expected[name], name


def test_a_pd_term_structure_from_an_observed_transition_matrix() -> None:
    # current, 1-30, 31-60, 61-90, default (absorbing)
    monthly = np.array([[0.97, 0.03, 0, 0, 0], [0.5, 0.3, 0.2, 0, 0], [0.2, 0.1, 0.3, 0.4, 0],
                        [0.1, 0, 0.1, 0.3, 0.5], [0, 0, 0, 0, 1]])
    cum = cumulative_pd_from_matrix(monthly, default_state=4, horizon=24)
    assert cum[3, 0] == pytest.approx(0.5) and cum[0, 0] == 0.0
    assert (np.diff(cum, axis=1) >= -1e-15).all() and (cum[:, -1] <= 1).all()
    assert cum[0, 11] < cum[1, 11] < cum[2, 11] < cum[3, 11]  # worse buckets default sooner
    scaled = scale_curve(cum[[0, 1]], np.array([0.02, 0.10]))
    assert scaled[:, 11].round(12).tolist() == [0.02, 0.1]  # each loan's model PD at 12 months, the matrix's shape


@pytest.mark.parametrize(("call", "field"), [
    (lambda: check_scenarios([Scenario("downside", 1.0, pd_multiplier=-0.5)]), "scenarios.downside.pd_multiplier"),
    (lambda: check_scenarios([Scenario("base", 0.6), Scenario("downside", 0.3)]), "scenarios"),
    (lambda: check_lgd(np.array([0.4, 1.2])), "lgd"),
    (lambda: check_lgd(np.array([-0.1])), "lgd"),
    (lambda: StagingRules(pd_ratio=0.5).check(), "pd_ratio"),
])
def test_parameters_that_cannot_be_meant_are_refused_naming_the_field(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EclError) as exc:
        call()
    assert exc.value.field == field
