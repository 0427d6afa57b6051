"""Decision-engine use cases on the database: every outcome path of `decide` (with the quota reservation), the
authority matrix, the policy life-cycle with four eyes, examples and the simulation on a hand-made set."""

from __future__ import annotations

import copy
import json

import pytest
from decisions_data import GOOD

from creditplan.core.errors import Conflict, Forbidden, ValidationError
from creditplan.decisions import services
from creditplan.decisions.domain import defaults
from creditplan.decisions.models import Decision, PolicyVersion
from creditplan.ledger.models import Event
from creditplan.plans import services as plans


def test_straight_through_approval_reserves_quota_and_records_everything(world, decide):
    d = decide("APP-OK")
    assert d.outcome == "approve" and d.quota_status == "reserved"
    assert (d.score, d.grade, d.approved_amount_minor, d.rate_ppm) == (560, "C", 5_000_000, 44_500)
    assert d.installment_minor == 426_778 and str(d.apr) == "0.044500"
    assert d.policy_version == PolicyVersion.objects.get(policy__product="consumer", status="published").pk
    assert d.policy_label == "consumer v1" and d.model_version == world["model_version"]
    assert d.required_level == "sub_branch" and d.required_approvals == 1
    assert [r["reason"] for r in d.rules_fired] == ["CUT_APPROVE_STD"]
    assert {s["step"] for s in d.limit_steps} >= {"requested", "product_max", "affordability", "grade_limit"}
    assert d.price_steps[0]["rate_ppm"] == 34_500
    stored = Decision.objects.get(pk=d.id)
    assert stored.inputs == GOOD and stored.inputs_hash == services.inputs_hash(GOOD)
    assert stored.facts["dti"] == pytest.approx((200_000 + 426_778) / 3_000_000, abs=1e-4)
    event = Event.objects.get(kind="decision.made", subject_id=str(d.id))
    assert json.loads(event.entry)["data"]["inputs_sha256"] == stored.inputs_hash
    reservation = plans.explain_quota(world["planner"], world["plan"].root.id)
    assert [r.application_ref for r in reservation] == ["APP-OK"]
    assert Event.objects.filter(kind="plan.quota_reserved", actor_name="decision-engine").count() == 1


def test_refer_decline_and_knock_outs(world, decide):
    refer = decide("APP-GREY", housing="rent", months_employed=24)  # 520: review zone
    assert refer.outcome == "refer" and refer.reason_codes[0] == "CUT_REFER_STD" and refer.quota_status == "not_checked"
    low = decide("APP-LOW", housing="free", months_employed=6)  # 490
    assert low.outcome == "decline" and low.reason_codes[0] == "CUT_DECLINE_STD"
    assert any("评分" in r for r in low.reasons_zh)
    ko = decide("APP-KO", blacklist=True, bureau_flags=["court_judgement"])
    assert ko.outcome == "decline" and {"KO_BLACKLIST", "KO_BUREAU"} <= set(ko.reason_codes)
    assert Decision.objects.count() == 3 and not plans.explain_quota(world["planner"], world["plan"].root.id)


def test_a_missing_field_refers_naming_it(world, decide):
    inputs = {k: v for k, v in GOOD.items() if k != "residency"}
    d = decide("APP-MISSING", inputs=inputs)
    assert d.outcome == "refer" and any("residency" in r for r in d.reasons)
    assert "MISSING_FIELD" in d.reason_codes
    d = decide("APP-ONLY-MODEL", inputs={"months_employed": 60, "housing": "own"})  # scores 560, nothing else
    assert d.outcome == "refer" and d.score == 560 and d.quota_status == "not_checked"
    missing = " ".join(d.reasons)
    assert all(f in missing for f in ("age", "blacklist", "residency", "existing_overdue", "bureau_flags",
                                      "monthly_income_minor"))
    d = decide("APP-EMPTY", inputs={})  # the model's missing bins score it 495: below the cut-off
    assert d.outcome == "decline" and d.score == 495


def test_above_the_auto_approval_amount_refers_to_the_right_level(world, decide):
    d = decide("APP-BIG", amount_minor=14_000_000)  # grade C may go straight through up to 100,000
    assert d.outcome == "refer" and "ABOVE_AUTO_APPROVAL" in d.reason_codes
    assert d.policy_outcome == "approve" and d.required_level == "sub_branch"
    assert d.quota_status == "not_checked"
    d = decide("APP-BIGGER", amount_minor=40_000_000, monthly_income_minor=20_000_000)
    assert d.required_level == "branch" and d.approved_amount_minor == 40_000_000


def test_hard_quota_refused_and_soft_quota_escalated_refer(world, decide):
    plans.reserve_quota(world["approver_bj"], application_ref="FILL-BJ", amount="980000", branch="BJ01")
    d = decide("APP-HARD")
    assert d.outcome == "refer" and d.quota_status == "refused" and "QUOTA_REFUSED" in d.reason_codes
    plans.reserve_quota(world["admin"], application_ref="FILL-SH", amount="90000", branch="SH01")
    d = decide("APP-SOFT", branch="SH01", actor=world["officer_sh"])
    assert d.outcome == "refer" and d.quota_status == "escalated" and "QUOTA_ESCALATION" in d.reason_codes
    d = decide("APP-NORES", branch="SH01", actor=world["officer_sh"], reserve=False)
    assert d.outcome == "approve" and d.quota_status == "not_requested"


def test_no_model_or_no_policy_refers(world, decide):
    services.set_product_settings(world["risk"], "consumer", model_name="no-such-model")
    d = decide("APP-NOMODEL")
    assert d.outcome == "refer" and "NO_SCORE" in d.reason_codes and d.score is None
    assert any("no-such-model" in r for r in d.reasons)
    services.set_product_settings(world["risk"], "consumer", model_name="retail-pd")
    PolicyVersion.objects.filter(status="published").update(status="retired")
    d = decide("APP-NOPOLICY")
    assert d.outcome == "refer" and d.reason_codes[0] == "NO_POLICY" and d.policy_version is None


def test_bad_requests_and_permissions(world, decide):
    with pytest.raises(ValidationError) as exc:
        decide("X", amount_minor=0)
    assert exc.value.field == "amount_minor"
    with pytest.raises(ValidationError):
        services.decide(world["officer_bj"], application_ref="X", customer_id=1, product="nope", branch="BJ01",
                        amount_minor=1, term=12, inputs={})
    with pytest.raises(ValidationError):
        services.decide(world["officer_bj"], application_ref="X", customer_id=1, product="consumer", branch="BJ01",
                        amount_minor=100_000, term=12, inputs=["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        decide("X", actor=world["planner"])
    with pytest.raises(Forbidden):  # an SH officer deciding a BJ application
        decide("X", actor=world["officer_sh"])
    assert Decision.objects.count() == 0


def test_dry_evaluation_stores_nothing(world):
    before = Event.objects.count()
    d = services.evaluate(world["officer_bj"], product="consumer", branch="BJ01", amount_minor=5_000_000, term=12,
                          inputs=GOOD)
    assert d.id is None and d.outcome == "approve" and d.quota_status == "not_checked"
    assert Decision.objects.count() == 0 and Event.objects.count() == before


# --- authority ------------------------------------------------------------------------------------------

def test_may_approve_true_and_false(world):
    ok, why = services.may_approve(world["approver_bj"], product="consumer", branch_code="BJ01",
                                   amount_minor=50_000_000, grade="C")
    assert ok, why
    assert not services.may_approve(world["approver_bj"], product="consumer", branch_code="BJ01",
                                    amount_minor=150_000_000, grade="C")[0]
    no, why = services.may_approve(world["approver_bj"], product="consumer", branch_code="BJ01",
                                   amount_minor=1_000_000, grade="E")
    assert not no and "riskier" in why
    no, why = services.may_approve(world["approver_bj"], product="consumer", branch_code="SH01",
                                   amount_minor=1_000_000, grade="A")
    assert not no and "outside" in why
    assert not services.may_approve(world["officer_bj"], product="consumer", branch_code="BJ01",
                                    amount_minor=1_000, grade="A")[0]
    assert services.may_approve(world["risk"], product="consumer", branch_code="SH01", amount_minor=500_000_000,
                                grade="F")[0]
    assert services.required_approvals(60_000_000, "consumer") == 2
    assert services.required_approvals(50_000_000, "consumer") == 1


def test_approvers_for_the_queue(world):
    found = services.approvers_for(product="consumer", branch_code="BJ01", amount_minor=50_000_000, grade="C")
    assert [u.username for u in found] == ["approver_bj", "risk", "risk2"]
    found = services.approvers_for(product="consumer", branch_code="BJ01", amount_minor=50_000_000, grade="C",
                                   exclude_user_ids=[world["approver_bj"].pk])
    assert [u.username for u in found] == ["risk", "risk2"]
    assert [u.username for u in services.approvers_for(product="consumer", branch_code="BJ01",
                                                       amount_minor=50_000_000, grade="F")] == ["risk", "risk2"]


# --- policy life-cycle ----------------------------------------------------------------------------------

def _stricter() -> dict:
    doc = defaults.default_policy("consumer")
    for rule in doc["nodes"][2]["content"]["rules"]:
        if rule["_id"] == "CUT_APPROVE_STD":
            rule["in_score"] = ">= 570"
        if rule["_id"] == "CUT_REFER_STD":
            rule["in_score"] = "[505..570)"
    return doc


def test_publish_needs_validation_and_a_second_person(world, decide):
    v = services.upload_policy(world["risk"], product="consumer", jdm=json.dumps(_stricter()), note="stricter")
    assert v.status == "draft" and v.number == 2
    with pytest.raises(Conflict):
        services.submit_version(world["risk"], v.id)  # not validated yet
    v = services.validate_version(world["risk"], v.id)
    assert v.status == "validated" and v.validation["ok"]
    v = services.submit_version(world["risk"], v.id)
    with pytest.raises(Conflict, match="four eyes"):
        services.approve_version(world["risk"], v.id)
    with pytest.raises(Forbidden):
        services.approve_version(world["officer_bj"], v.id)
    v = services.approve_version(world["risk2"], v.id)
    assert v.status == "published" and v.approved_by == "risk2"
    assert PolicyVersion.objects.get(number=1).status == "retired"
    d = decide("APP-V2")  # 560 is now only a referral
    assert d.outcome == "refer" and d.policy_label == "consumer v2"
    kinds = list(Event.objects.filter(subject_type="policy_version", subject_id=str(v.id)).values_list("kind", flat=True))
    assert kinds == ["policy.drafted", "policy.validated", "policy.submitted", "policy.published"]
    with pytest.raises(Conflict):
        services.update_draft(world["risk"], v.id, jdm=_stricter())  # published: immutable


def test_a_policy_failing_validation_cannot_be_published(world):
    doc = defaults.default_policy("consumer")
    rules = doc["nodes"][2]["content"]["rules"]
    rules.insert(0, {**copy.deepcopy(rules[6]), "_id": "WIDE", "in_score": ">= 400", "in_segment": ""})
    v = services.upload_policy(world["risk"], product="consumer", jdm=doc)  # stored: the expressions are fine
    v = services.validate_version(world["risk"], v.id)
    assert v.status == "draft" and not v.validation["ok"]
    assert any(p["code"] == "jdm_unreachable_rule" for p in v.validation["problems"])
    with pytest.raises(Conflict):
        services.submit_version(world["risk"], v.id)
    with pytest.raises(Conflict):
        services.approve_version(world["risk2"], v.id)
    PolicyVersion.objects.filter(pk=v.id).update(status="submitted")  # even if it got that far somehow
    with pytest.raises(Conflict, match="failed validation"):
        services.approve_version(world["risk2"], v.id)
    assert PolicyVersion.objects.get(pk=v.id).status == "submitted"


def test_bad_uploads_are_refused_with_the_reason(world):
    with pytest.raises(ValidationError) as exc:
        services.upload_policy(world["risk"], product="consumer", jdm='{"nodes": [ oops')
    assert exc.value.code == "jdm_not_json" and "line 1" in exc.value.message
    doc = defaults.default_policy("consumer")
    doc["nodes"][1]["content"]["rules"][1]["in_age"] = "> > 65"
    with pytest.raises(ValidationError) as exc:
        services.upload_policy(world["risk"], product="consumer", jdm=doc)
    assert exc.value.code == "jdm_invalid_expression" and "> > 65" in exc.value.message
    with pytest.raises(Forbidden):
        services.upload_policy(world["officer_bj"], product="consumer", jdm=defaults.default_policy("consumer"))
    assert PolicyVersion.objects.count() == 1


def test_examples_gate_submission_and_the_grid_edits_a_draft(world):
    services.add_example(world["risk"], product="consumer", name="good owner", expected_outcome="approve",
                         application={"amount_minor": 5_000_000, "term": 12, "inputs": GOOD})
    services.add_example(world["risk"], product="consumer", name="scored 540", expected_outcome="approve",
                         application={"amount_minor": 5_000_000, "term": 12, "score": 540, "grade": "C", "pd": 0.08,
                                      "inputs": GOOD})
    draft = services.new_draft_from(world["risk"], PolicyVersion.objects.get(number=1).pk)
    results = services.run_examples(world["risk"], draft.id)
    assert [r.passed for r in results] == [True, True]
    table = next(t for t in services.grid_of(world["risk"], draft.id) if t["id"] == "cutoffs")
    rows = table["rows"]
    approve_std = next(r for r in rows if r["id"] == "CUT_APPROVE_STD")
    approve_std["inputs"][1] = ">= 550"
    refer_std = next(r for r in rows if r["id"] == "CUT_REFER_STD")
    refer_std["inputs"][1] = "[505..550)"
    services.save_grid(world["risk"], draft.id, table_id="cutoffs", rows=rows)
    services.validate_version(world["risk"], draft.id)
    with pytest.raises(Conflict, match="example"):
        services.submit_version(world["risk"], draft.id)  # "scored 540" is now referred
    approve_std["inputs"][1] = "<<"
    with pytest.raises(ValidationError):
        services.save_grid(world["risk"], draft.id, table_id="cutoffs", rows=rows)


# --- simulation -----------------------------------------------------------------------------------------

def test_simulation_of_a_lower_cutoff_on_a_hand_made_set(world, decide):
    decide("SIM-1")  # 560, C: approve 50,000
    decide("SIM-2", housing="rent", months_employed=24)  # 520, E: refer
    decide("SIM-3", housing="free", months_employed=6)  # 490, F: decline
    decide("SIM-4", blacklist=True)  # 560 but blacklisted: decline
    pds = dict(Decision.objects.values_list("application_ref", "pd"))
    same = services.simulate(world["risk"], product="consumer")
    assert same.comparison["changed"] == 0 and same.comparison["before"]["approval_rate"] == 0.25
    lower = services.simulate(world["risk"], product="consumer", cutoff_shift=-15)  # approve from 515
    b, a = lower.comparison["before"], lower.comparison["after"]
    assert (b["approved"], a["approved"]) == (1, 2) and (b["approval_rate"], a["approval_rate"]) == (0.25, 0.5)
    assert b["expected_bad_rate"] == pytest.approx(pds["SIM-1"], abs=1e-6)
    assert a["expected_bad_rate"] == pytest.approx((pds["SIM-1"] + pds["SIM-2"]) / 2, abs=1e-6)
    assert (b["volume_minor"], a["volume_minor"]) == (5_000_000, 10_000_000)
    assert lower.comparison["newly_approved"] == 1 and lower.changed_examples[0]["application_ref"] == "SIM-2"
    with pytest.raises(ValidationError):
        services.simulate(world["risk"], product="consumer", cutoff_shift=1000)
    with pytest.raises(Forbidden):
        services.simulate(world["officer_bj"], product="consumer")


def test_seeding_is_idempotent(world):
    assert services.seed_default_policies() == []
    assert PolicyVersion.objects.count() == 1


def test_odd_input_types_never_crash(world, decide):
    import datetime as dt
    from decimal import Decimal

    d = decide("APP-ODD", months_employed=Decimal("60"), birth_date=dt.date(1990, 1, 1),
               monthly_income_minor=Decimal("3000000"), tags={"x": Decimal("1.5")})
    assert d.outcome == "refer" and "INPUT_UNREADABLE" in d.reason_codes  # money must be whole fen, not Decimal
    assert Decision.objects.get(pk=d.id).inputs["birth_date"] == "1990-01-01"
