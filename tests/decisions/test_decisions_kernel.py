"""The decision engine's pure kernel, on plain values: limit and price arithmetic (computed by hand), APR,
the authority matrix, JDM validation, the missing-field rule, the single-record scorer against the numpy
scorer, and the simulation figures."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from decisions_data import GOOD, TINY_SCORECARD

from creditplan.core.errors import ValidationError
from creditplan.decisions.domain import authority as authz
from creditplan.decisions.domain import defaults, kernel, pricing
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain import simulation as sim
from creditplan.decisions.domain.engine import PolicyEngine
from creditplan.decisions.domain.fastscore import FastScorer, Scored
from creditplan.decisions.domain.lifecycle import PolicyStatus, VersionFacts, transition_problem
from creditplan.decisions.domain.pricing import GradeRow, LimitSettings, ProductTerms

PRODUCT = ProductTerms("consumer", min_amount_minor=100_000, max_amount_minor=50_000_000, min_term=3, max_term=60,
                       rate_floor_ppm=30_000, rate_cap_ppm=180_000, base_rate_ppm=43_500)
GRADES = {g: GradeRow(g, *v) for g, v in defaults.GRADE_GRID.items()}


# --- price ------------------------------------------------------------------------------------------

def test_rate_is_lpr_plus_grade_spread_within_floor_and_cap():
    p = pricing.price(PRODUCT, benchmark_ppm=34_500, benchmark_name="LPR 1y", spread_bp=100, grade="C")
    assert p.rate_ppm == 44_500  # 3.45 % + 100 bp = 4.45 %
    assert [s["step"] for s in p.steps] == ["benchmark", "spread", "rate"]
    low = pricing.price(PRODUCT, benchmark_ppm=34_500, benchmark_name="LPR 1y", spread_bp=-100, grade="A")
    assert low.rate_ppm == 30_000 and low.steps[2]["step"] == "floor"  # 2.45 % raised to the 3 % floor
    high = pricing.price(PRODUCT, benchmark_ppm=34_500, benchmark_name="LPR 1y", spread_bp=1600, grade="G")
    assert high.rate_ppm == 180_000 and high.steps[2]["step"] == "cap"  # 19.45 % lowered to the 18 % cap
    assert "4.45%" in p.steps[-1]["en"] and "4.45%" in p.steps[-1]["zh"]


def test_installment_is_the_textbook_annuity_and_matches_the_loan_schedule():
    # 50,000 yuan, 4.45 %, 12 months: A = P·r·(1+r)^n / ((1+r)^n − 1) = 4,267.7822… → 4,267.78
    assert pricing.level_installment(5_000_000, 44_500, 12) == 426_778
    # The reference loan (docs/loans.md): 1,000,000 at 3.95 % over 360 months → 4,745.37
    assert pricing.level_installment(100_000_000, 39_500, 360) == 474_537
    assert pricing.level_installment(1_200_000, 0, 12) == 100_000
    from creditplan.core.money import from_ppm
    from creditplan.loans.domain.schedule import ScheduleTerms, level_payment

    for principal, rate, n in ((5_000_000, 44_500, 12), (12_345_678, 61_000, 36), (99_999, 240_000, 7)):
        terms = ScheduleTerms(principal_minor=principal, annual_rate=from_ppm(rate), periods=n,
                              method="equal-installment", start=dt.date(2025, 1, 15))
        assert pricing.level_installment(principal, rate, n) == level_payment(terms)


def test_equal_principal_first_payment():
    # 12,000 over 12 at 12 %: 1,000 principal + 120 interest
    assert pricing.first_installment(1_200_000, 120_000, 12, method="equal-principal") == 112_000


# --- limit ------------------------------------------------------------------------------------------

def _limit(requested: int, income: int | None, debt: int | None, grade_limit: int | None, rate_ppm: int = 0,
           product: ProductTerms = PRODUCT, term: int = 12) -> pricing.Limit:
    return pricing.limit(product, LimitSettings(dsr_pct=50, amount_step_minor=10_000), requested_minor=requested,
                         term=term, rate_ppm=rate_ppm, monthly_income_minor=income, existing_debt_service_minor=debt,
                         grade_limit_minor=grade_limit, grade="C")


def test_limit_is_the_least_of_request_product_affordability_and_grade():
    # income 10,000 × 50 % − 3,000 existing = 2,000 a month; at 0 % over 12 months that repays 24,000
    lim = _limit(3_000_000, 1_000_000, 300_000, 50_000_000)
    assert lim.capacity_minor == 200_000
    assert (lim.approved_minor, lim.binding) == (2_400_000, "affordability")
    assert dict(lim.candidates) == {"requested": 3_000_000, "product_max": 50_000_000, "affordability": 2_400_000,
                                    "grade_limit": 50_000_000}
    assert _limit(3_000_000, 1_000_000, 300_000, 2_000_000).binding == "grade_limit"
    assert _limit(3_000_000, 1_000_000, 300_000, 2_000_000).approved_minor == 2_000_000
    assert _limit(1_000_000, 1_000_000, 300_000, 50_000_000).approved_minor == 1_000_000  # the request itself
    assert _limit(60_000_000, None, None, None).binding == "product_max"
    steps = _limit(3_000_000, 1_000_000, 300_000, 50_000_000).steps
    assert [s["step"] for s in steps] == ["requested", "product_max", "affordability", "grade_limit", "approved"]
    assert "2,000.00" in steps[2]["en"] and steps[2]["binding"]


def test_affordability_at_a_rate_is_the_inverse_annuity_rounded_down_to_the_step():
    # capacity 2,000 a month at 6 % over 12: PV = 2,000 × ((1+r)^12 − 1) / (r (1+r)^12) = 23,237.86… → 23,200
    lim = _limit(3_000_000, 1_000_000, 300_000, None, rate_ppm=60_000)
    assert dict(lim.candidates)["affordability"] == 2_323_786
    assert lim.approved_minor == 2_320_000 and lim.rounded_minor == 2_320_000
    assert pricing.level_installment(2_323_786, 60_000, 12) <= 200_000


def test_no_capacity_or_below_minimum_lends_nothing():
    lim = _limit(3_000_000, 1_000_000, 600_000, None)  # debt already above half the income
    assert lim.capacity_minor == 0 and lim.approved_minor == 0 and lim.below_minimum
    assert lim.steps[-2]["step"] == "below_minimum"


# --- APR --------------------------------------------------------------------------------------------

def test_apr_equals_the_rate_without_fees_and_is_the_irr_with_an_upfront_fee():
    assert pricing.apr(PRODUCT, 5_000_000, 44_500, 12) == Decimal("0.044500")
    fee = ProductTerms("fee", 100_000, 50_000_000, upfront_fee_bp=100, rate_cap_ppm=240_000)
    # 10,000 at 12 % for 12 months: 888.49 a month, but only 9,900 received (1 % fee)
    apr = pricing.apr(fee, 1_000_000, 120_000, 12)
    lo, hi = 0.0, 0.05  # independent bisection on the monthly IRR

    def npv(i: float) -> float:
        return sum(888.49 / (1 + i) ** k for k in range(1, 13)) - 9_900

    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if npv(mid) > 0 else (lo, mid)
    assert abs(float(apr) - lo * 12) < 2e-6
    assert Decimal("0.13") < apr < Decimal("0.14")


# --- authority ---------------------------------------------------------------------------------------

RULES = [authz.Authority(*r) for r in defaults.AUTHORITY]


def test_authority_matrix_true_and_false_cases():
    ok = dict(role="approver", level="branch", product="consumer")
    assert authz.authority_problem(RULES, **ok, amount_minor=50_000_000, grade="C") is None
    assert authz.authority_problem(RULES, **ok, amount_minor=100_000_000, grade="D") is None  # the edges count
    assert "above the authority" in authz.authority_problem(RULES, **ok, amount_minor=100_000_001, grade="C")
    assert "riskier" in authz.authority_problem(RULES, **ok, amount_minor=1_000_000, grade="E")
    assert "no approval authority" in authz.authority_problem(RULES, role="loan_officer", level="sub_branch",
                                                              product="consumer", amount_minor=1, grade="A")
    assert authz.required_level(RULES, product="consumer", amount_minor=10_000_000, grade="B") == "sub_branch"
    assert authz.required_level(RULES, product="consumer", amount_minor=50_000_000, grade="B") == "branch"
    assert authz.required_level(RULES, product="consumer", amount_minor=50_000_000, grade="E") == "head_office"
    assert authz.required_level(RULES, product="consumer", amount_minor=50_000_000, grade="G") is None
    only_mortgage = [authz.Authority("approver", "branch", "mortgage", 10**9, "F")]
    assert "for product consumer" in authz.authority_problem(only_mortgage, **ok, amount_minor=1, grade="A")


def test_four_eyes_on_plain_values():
    submitted = VersionFacts(PolicyStatus.SUBMITTED, author_id=1, validation_ok=True, submitted_by_id=1)
    assert "four eyes" in transition_problem(submitted, PolicyStatus.PUBLISHED, 1)
    assert transition_problem(submitted, PolicyStatus.PUBLISHED, 2) is None
    failed = VersionFacts(PolicyStatus.SUBMITTED, author_id=1, validation_ok=False)
    assert "failed validation" in transition_problem(failed, PolicyStatus.PUBLISHED, 2)
    draft = VersionFacts(PolicyStatus.DRAFT, author_id=1, validation_ok=True)
    assert transition_problem(draft, PolicyStatus.PUBLISHED, 2) is not None  # must be submitted first
    validated = VersionFacts(PolicyStatus.VALIDATED, author_id=1, validation_ok=True, examples_failed=2)
    assert "example" in transition_problem(validated, PolicyStatus.SUBMITTED, 1)


# --- JDM validation ----------------------------------------------------------------------------------

def test_the_default_policy_is_valid_and_reports_its_fields():
    report = pol.validate(defaults.default_policy("consumer"))
    assert report.ok, report.problems
    assert {"age", "blacklist", "residency", "dti", "existing_overdue", "bureau_flag_count", "score",
            "segment"} == set(report.fields)
    assert report.overlaps and all(o["table"] == "Score cut-offs" for o in report.overlaps)


def test_text_that_is_not_json_is_refused_with_the_place():
    with pytest.raises(ValidationError) as exc:
        pol.parse_jdm('{"nodes": [}')
    assert exc.value.code == "jdm_not_json" and "line 1" in exc.value.message


def test_an_invalid_expression_is_reported_with_table_row_and_column():
    doc = defaults.default_policy("consumer")
    doc["nodes"][1]["content"]["rules"][0]["in_age"] = "<< 18"
    report = pol.validate(doc)
    assert not report.ok
    bad = [p for p in report.problems if p.code == "jdm_invalid_expression"]
    assert len(bad) == 1 and "Knock-outs" in bad[0].message and "row 1" in bad[0].message and "<< 18" in bad[0].message


def test_schema_problems_and_forbidden_nodes():
    report = pol.validate({"nodes": [{"id": "f", "type": "functionNode", "content": {}}], "edges": []})
    codes = {p.code for p in report.problems}
    assert not report.ok and "jdm_node_type" in codes
    doc = defaults.default_policy("consumer")
    doc["nodes"][2]["content"]["outputs"] = [o for o in doc["nodes"][2]["content"]["outputs"] if o["field"] != "outcome"]
    assert "jdm_no_outcome" in {p.code for p in pol.validate(doc).problems}
    doc = defaults.default_policy("consumer")
    doc["nodes"][1]["content"]["rules"][0]["out_outcome"] = '"maybe"'
    assert "jdm_bad_outcome" in {p.code for p in pol.validate(doc).problems}


def test_unreachable_rules_are_errors_and_overlaps_are_reported():
    doc = defaults.default_policy("consumer")
    rules = doc["nodes"][2]["content"]["rules"]
    rules.insert(0, {**rules[6], "_id": "WIDE", "in_score": ">= 500", "in_segment": ""})
    rules.insert(1, {**rules[7], "_id": "NARROW", "in_score": "[520..540)", "in_segment": '"payroll"'})
    report = pol.validate(doc)
    unreachable = [p for p in report.problems if p.code == "jdm_unreachable_rule"]
    assert not report.ok and any("NARROW" in p.message and "WIDE" in p.message for p in unreachable)
    assert pol.cell_set("[560..620)") == ("num", 560.0, True, 620.0, False)
    assert pol.cell_set('"payroll", "salaried"') == ("str", frozenset({"payroll", "salaried"}))


# --- the kernel -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine() -> tuple[PolicyEngine, pol.CompiledPolicy]:
    e = PolicyEngine()
    return e, e.install_text(defaults.default_policy("consumer"))


def _run(engine, inputs, *, amount=5_000_000, term=12, scorer=None):  # type: ignore[no-untyped-def]
    e, p = engine
    app = kernel.Application("APP-1", "consumer", amount, term, inputs)
    return kernel.run(app, product=PRODUCT, grades=GRADES, settings=LimitSettings(), benchmark_ppm=34_500,
                      benchmark_name="LPR 1y", engine=e, policy=p, scorer=scorer or FastScorer(TINY_SCORECARD))


def test_each_outcome_path_in_the_kernel(engine):
    approve = _run(engine, GOOD)
    assert (approve.outcome, approve.grade, round(approve.scored.score)) == ("approve", "C", 560)
    assert [r["reason"] for r in approve.rules_fired] == ["CUT_APPROVE_STD"]
    refer = _run(engine, {**GOOD, "housing": "rent", "months_employed": 24})  # 470 + 30 + 20 = 520
    assert refer.outcome == "refer" and refer.reasons[0].code == "CUT_REFER_STD"
    decline = _run(engine, {**GOOD, "housing": "free", "months_employed": 6})  # 490
    assert decline.outcome == "decline" and decline.reasons[0].code == "CUT_DECLINE_STD"
    ko = _run(engine, {**GOOD, "blacklist": True, "age": 17})
    assert ko.outcome == "decline" and {"KO_BLACKLIST", "KO_AGE_MIN"} <= {r.code for r in ko.reasons}
    dti = _run(engine, {**GOOD, "existing_debt_service_minor": 1_500_000})  # (15,000 + 4,267.78) / 30,000 > 55 %
    assert dti.outcome == "decline" and dti.facts["dti"] == pytest.approx(0.6423, abs=1e-4)
    payroll = _run(engine, {**GOOD, "housing": "rent", "months_employed": 24, "segment": "payroll"})
    assert payroll.outcome == "approve"  # payroll cut-off is 10 points lower


def test_a_missing_field_refers_with_its_name_and_never_approves(engine):
    for missing in ("residency", "blacklist", "age", "existing_overdue", "bureau_flags"):
        inputs = {k: v for k, v in GOOD.items() if k != missing}
        r = _run(engine, inputs)
        assert r.outcome == "refer", missing
        texts = " ".join(x.en for x in r.reasons if x.code == "MISSING_FIELD")
        assert missing in texts
    r = _run(engine, {k: v for k, v in GOOD.items() if k != "monthly_income_minor"})
    assert r.outcome == "refer" and "monthly_income_minor" in " ".join(x.en for x in r.reasons)
    bad = _run(engine, {**GOOD, "monthly_income_minor": "lots"})  # unreadable, not a crash
    assert bad.outcome == "refer" and any(x.code == "INPUT_UNREADABLE" for x in bad.reasons)
    still_declined = _run(engine, {**{k: v for k, v in GOOD.items() if k != "residency"}, "blacklist": True})
    assert still_declined.outcome == "decline"  # a knock-out on data that is there still declines


def test_no_model_and_no_policy_refer(engine):
    e, _p = engine
    app = kernel.Application("APP-2", "consumer", 5_000_000, 12, GOOD)
    r = kernel.run(app, product=PRODUCT, grades=GRADES, settings=LimitSettings(), benchmark_ppm=34_500,
                   benchmark_name="LPR 1y", engine=e, policy=None, scorer=FastScorer(TINY_SCORECARD))
    assert r.outcome == "refer" and r.reasons[0].code == "NO_POLICY"
    r = kernel.run(
        app, product=PRODUCT, grades=GRADES, settings=LimitSettings(), benchmark_ppm=34_500,
        benchmark_name="LPR 1y", engine=e, policy=engine[1], scorer=None, model_problem="no champion")
    assert r.outcome == "refer" and any(x.code == "NO_SCORE" for x in r.reasons)


def test_term_outside_the_product_refers(engine):
    assert _run(engine, GOOD, term=120).outcome == "refer"


# --- the single-record scorer ------------------------------------------------------------------------

def test_fast_scorer_matches_the_numpy_scorer_on_the_tiny_card():
    from creditplan.scoring.domain.scorer import CompiledModel

    fast, slow = FastScorer(TINY_SCORECARD), CompiledModel.from_artifact(TINY_SCORECARD)
    records = [{"months_employed": m, "housing": h} for m in (None, 0, 11.9, 12, 35, 36, 500, "x", "24")
               for h in ("own", "rent", "free", "boat", None, " own ")]
    for rec, ref in zip(records, slow.score_records(records), strict=True):
        got = fast.score(rec)
        assert got.score == pytest.approx(ref["score"], abs=1e-9) and got.grade == ref["grade"]
        assert got.pd == pytest.approx(ref["pd"], rel=1e-12)
        assert [r["code"] for r in got.reasons] == [str(r["code"]) for r in ref["reasons"]]
        assert sorted(got.warnings) == sorted(ref["warnings"])


@pytest.mark.slow
def test_fast_scorer_matches_the_numpy_scorer_on_german_credit():
    from creditplan.scoring.domain import datasets
    from creditplan.scoring.domain.data import prepare_target
    from creditplan.scoring.domain.scorer import CompiledModel
    from creditplan.scoring.domain.train import train_scorecard

    df, target, bad = datasets.german_credit()
    X, y = prepare_target(df, target, bad)
    artifact = json.loads(json.dumps(train_scorecard(X, y, seed=0, holdout=0.3).artifact))
    fast, slow = FastScorer(artifact), CompiledModel.from_artifact(artifact)
    records = df.drop(columns=[target]).to_dict("records")
    for rec, ref in zip(records, slow.score_records(records), strict=True):
        got = fast.score(rec)
        assert got.score == pytest.approx(ref["score"], abs=1e-9)
        assert got.grade == ref["grade"]
        assert [r["code"] for r in got.reasons] == [str(r["code"]) for r in ref["reasons"]]


# --- simulation figures ------------------------------------------------------------------------------

def test_simulation_figures_on_a_hand_made_set():
    before = [sim.Case("approve", 1_000_000, 0.02, "A"), sim.Case("refer", 0, 0.10, "C"),
              sim.Case("decline", 0, 0.40, "E"), sim.Case("approve", 3_000_000, 0.06, "C")]
    after = [sim.Case("approve", 1_000_000, 0.02, "A"), sim.Case("approve", 2_000_000, 0.10, "C"),
             sim.Case("decline", 0, 0.40, "E"), sim.Case("refer", 0, 0.06, "C")]
    c = sim.compare(before, after)
    assert (c.before.approved, c.before.referred, c.before.declined) == (2, 1, 1)
    assert c.before.approval_rate == 0.5 and c.before.volume_minor == 4_000_000
    assert c.before.expected_bad_rate == pytest.approx((0.02 + 0.06) / 2)
    assert c.after.expected_bad_rate == pytest.approx((0.02 + 0.10) / 2)
    assert c.after.volume_minor == 3_000_000
    assert (c.changed, c.newly_approved, c.no_longer_approved) == (2, 1, 1)
    assert c.before.by_grade["C"] == {"applications": 2, "approved": 1, "volume_minor": 3_000_000}
    j = c.as_json()
    assert j["delta"]["approval_rate"] == 0 and j["delta"]["volume_minor"] == -1_000_000
    assert sim.figures([]).approval_rate == 0.0 and sim.figures([]).expected_bad_rate is None


def test_cutoff_shift_equals_lowering_the_score(engine):
    e, p = engine
    app = kernel.Application("S", "consumer", 5_000_000, 12, GOOD)
    base = dict(product=PRODUCT, grades=GRADES, settings=LimitSettings(), benchmark_ppm=34_500,
                benchmark_name="LPR", engine=e, policy=p, scorer=None)
    assert kernel.run(app, **base, scored=Scored(535, 0.05, "B", [], [])).outcome == "approve"
    assert kernel.run(app, **base, scored=Scored(535 - 10, 0.05, "B", [], [])).outcome == "refer"
