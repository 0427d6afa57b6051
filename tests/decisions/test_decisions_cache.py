"""The decision's configuration cache: one statement per decision reads the configuration, and whatever changed
— a policy published, a model promoted, settings, the pricing grid, the authority matrix, the LPR, the product,
the branch, even an edit made outside the services — is used by the very next decision, in this process.

The cache keeps, per product, the configuration built from the last snapshot it read; a decision reuses it only
while the snapshot reads back identical (decisions.services.snapshot.configuration)."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from decisions_data import GOOD, TINY_SCORECARD, TODAY
from django.db import connection
from django.test.utils import CaptureQueriesContext

from creditplan.core.errors import ValidationError
from creditplan.decisions import services
from creditplan.decisions.domain import defaults
from creditplan.decisions.models import AuthorityRule, Decision, GradeTerms, PolicyVersion, ProductSettings
from creditplan.decisions.services import serving, snapshot
from creditplan.loans import services as loans
from creditplan.loans.models import Product
from creditplan.org.models import Branch
from creditplan.scoring import services as scoring


def _stricter() -> dict:
    """The default policy with the standard approval cut-off raised from 530 to 570 (560 becomes a referral)."""
    doc = defaults.default_policy("consumer")
    for rule in doc["nodes"][2]["content"]["rules"]:
        if rule["_id"] == "CUT_APPROVE_STD":
            rule["in_score"] = ">= 570"
        if rule["_id"] == "CUT_REFER_STD":
            rule["in_score"] = "[505..570)"
    return doc


def _publish(world, doc: dict) -> int:
    v = services.upload_policy(world["risk"], product="consumer", jdm=doc)
    services.validate_version(world["risk"], v.id)
    services.submit_version(world["risk"], v.id)
    return services.approve_version(world["risk2"], v.id).id


def _promote(world, artifact: dict) -> int:
    v = scoring.register_version(world["risk"], model_name="retail-pd", artifact=artifact, report_html="<p>v2</p>")
    scoring.validate_version(world["risk"], v.id)
    scoring.approve_version(world["risk2"], v.id)
    scoring.promote_champion(world["risk"], v.id)
    return v.id


def _kinder_scorecard() -> dict:
    """The tiny scorecard with 20 more intercept points (a home owner employed 5 years: 580 instead of 560)."""
    artifact = copy.deepcopy(TINY_SCORECARD)
    artifact["scorecard"]["intercept_points"] = 490.0
    return artifact


def test_one_statement_reads_the_configuration_and_it_is_reused_while_nothing_changes(world, decide):
    decide("WARM")  # builds the configuration (and installs the policy, compiles the model) once
    built = snapshot._configs["consumer"][1]
    with CaptureQueriesContext(connection) as ctx:
        d = services.evaluate(world["officer_bj"], product="consumer", branch="BJ01", amount_minor=5_000_000,
                              term=12, inputs=GOOD)
    assert d.outcome == "approve" and d.score == 560
    assert len(ctx.captured_queries) == 1  # the snapshot: product, settings, grid, LPR, policy, models, authority
    assert snapshot._configs["consumer"][1] is built  # nothing changed: the built configuration is reused
    decide("AGAIN")
    assert snapshot._configs["consumer"][1] is built


def test_a_newly_published_policy_decides_the_very_next_application(world, decide):
    assert decide("BEFORE").outcome == "approve"  # 560 ≥ 530, and the configuration is now cached
    new_version = _publish(world, _stricter())
    d = decide("AFTER")
    assert d.outcome == "refer" and d.policy_version == new_version and d.policy_label == "consumer v2"
    assert Decision.objects.get(pk=d.id).policy_version_id == new_version


def test_a_policy_retired_outside_the_services_is_not_used_any_more(world, decide):
    decide("BEFORE")
    PolicyVersion.objects.filter(status="published").update(status="retired")  # e.g. by an administrator
    d = decide("AFTER")
    assert d.outcome == "refer" and d.reason_codes[0] == "NO_POLICY" and d.policy_version is None


def test_a_newly_promoted_model_scores_the_very_next_application(world, decide):
    first = decide("BEFORE")
    assert (first.model_version, first.score) == (world["model_version"], 560)
    v2 = _promote(world, _kinder_scorecard())
    d = decide("AFTER")
    assert (d.model_version, d.score) == (v2, 580)


def test_a_challenger_share_takes_effect_at_once(world, decide):
    decide("BEFORE")
    v = scoring.register_version(world["risk"], model_name="retail-pd", artifact=_kinder_scorecard(),
                                 report_html="<p>challenger</p>")
    scoring.validate_version(world["risk"], v.id)
    scoring.approve_version(world["risk2"], v.id)
    scoring.set_challenger(world["risk"], "retail-pd", v.id, 50)
    served = {decide(f"CH-{i}").model_version for i in range(40)}
    assert served == {world["model_version"], v.id}  # both serve: the challenger for its share of keys
    scoring.set_challenger(world["risk"], "retail-pd", None, 0)
    assert {decide(f"NOCH-{i}").model_version for i in range(10)} == {world["model_version"]}


def test_product_settings_grid_and_authority_changes_are_seen_at_once(world, decide):
    d = decide("BEFORE")
    assert (d.rate_ppm, d.required_level) == (44_500, "sub_branch")  # LPR 3.45 % + grade C spread 100 bp
    grades = [{"grade": g, "spread_bp": s + (100 if g == "C" else 0), "limit_minor": lim, "auto_approve_max_minor": a}
              for g, (s, lim, a) in defaults.GRADE_GRID.items()]
    services.set_product_settings(world["risk"], "consumer", grades=grades)
    assert decide("GRID").rate_ppm == 54_500
    services.set_product_settings(world["risk"], "consumer", model_name="no-such-model")
    d = decide("NOMODEL")
    assert d.outcome == "refer" and "NO_SCORE" in d.reason_codes
    services.set_product_settings(world["risk"], "consumer", model_name="retail-pd")
    rules = [{"role": r, "branch_level": lv, "product": p, "max_amount_minor": amt, "worst_grade": g}
             for r, lv, p, amt, g in defaults.AUTHORITY if lv != "sub_branch"]
    services.set_authority_rules(world["admin"], rules)
    assert decide("AUTH").required_level == "branch"
    ProductSettings.objects.filter(product="consumer").update(dual_approval_above_minor=1_000_000)  # outside
    assert decide("DUAL").required_approvals == 2


def test_lpr_product_and_branch_changes_are_seen_at_once(world, decide):
    assert decide("BEFORE").rate_ppm == 44_500
    loans.set_lpr(world["risk"], tenor="1y", effective_date=TODAY - dt.timedelta(days=1), rate="0.0300")
    assert decide("LPR").rate_ppm == 40_000
    Product.objects.filter(code="consumer").update(rate_floor_ppm=45_000)  # an edit with no service of its own
    assert decide("FLOOR").rate_ppm == 45_000
    Product.objects.filter(code="consumer").update(is_active=False)
    with pytest.raises(ValidationError) as exc:
        decide("INACTIVE")
    assert exc.value.code == "product_inactive"
    Product.objects.filter(code="consumer").update(is_active=True)
    Branch.objects.filter(code="BJ01").update(is_active=False)
    with pytest.raises(ValidationError) as exc:
        decide("CLOSED")
    assert exc.value.code == "unknown_branch"


def test_rows_deleted_and_recreated_identically_are_still_right(world, decide):
    """Content, not row identity, decides whether the cache is still right."""
    decide("BEFORE")
    rows = list(GradeTerms.objects.filter(product="consumer").values("grade", "spread_bp", "limit_minor",
                                                                     "auto_approve_max_minor"))
    GradeTerms.objects.filter(product="consumer").delete()
    assert decide("NOGRID").outcome != "approve"  # no grid: the grade is not lent to
    GradeTerms.objects.bulk_create([GradeTerms(product="consumer", **r) for r in rows])
    assert decide("GRID").outcome == "approve"
    AuthorityRule.objects.all().delete()
    assert decide("NOAUTH").required_level == "head_office"  # nobody holds authority: the top


def test_a_reused_model_version_id_is_never_served_a_stale_artifact(world, decide):
    """The compiled-model caches are keyed by the artifact's SHA-256 too (a restored database, a test run)."""
    d = decide("BEFORE")
    vid = d.model_version
    serving._scorers[vid] = ("another artifact", object())  # as if the id had meant another artifact before
    assert decide("AFTER").score == 560


def test_the_snapshot_text_is_stable_and_json(world):
    """Same data, same text (so the cache is reused), on this database's dialect."""
    snapshot._configs.clear()
    first, _branch = snapshot.configuration("consumer", "BJ01", TODAY)
    text = snapshot._configs["consumer"][0]
    second, branch = snapshot.configuration("consumer", "BJ01", TODAY)
    assert second is first and snapshot._configs["consumer"][0] == text and branch.code == "BJ01"
    for part in text:
        assert part is None or isinstance(json.loads(part) if isinstance(part, str) else part, dict | list)
    assert first.product.code == "consumer" and set(first.grades) == set(defaults.GRADE_GRID)
