"""Model registry: upload, four-eyes approval, champion/challenger, and every change recorded."""

from __future__ import annotations

import json

import pytest

from creditplan.core.errors import Conflict, Forbidden, ValidationError
from creditplan.ledger.models import Event
from creditplan.scoring import services
from creditplan.scoring.domain.lifecycle import ModelStatus, VersionFacts, route_bucket, transition_problem


@pytest.fixture(scope="module")
def german_artifact():
    """A real scorecard trained once on the German credit data (70/30, seed 0)."""
    from creditplan.scoring.domain import datasets
    from creditplan.scoring.domain.train import train_scorecard

    df, target, bad = datasets.german_credit()
    from creditplan.scoring.domain.data import prepare_target

    X, y = prepare_target(df, target, bad)
    return train_scorecard(X, y, seed=0, holdout=0.3).artifact


@pytest.fixture
def second_risk_manager(bank):
    from creditplan.org import services as org

    return org.create_user(
        None, username="risk2", password="test-pass-123", role="risk_manager", branch_code="HO"
    )


def _register(bank, artifact, report="<html>report</html>"):
    return services.register_version(
        bank["risk"], model_name="retail-pd", artifact=artifact, report_html=report
    )


def test_lifecycle_rules_on_plain_values():
    draft = VersionFacts(ModelStatus.DRAFT, author_id=1, has_report=False)
    assert "validation report" in transition_problem(draft, ModelStatus.VALIDATED, 1)
    validated = VersionFacts(ModelStatus.VALIDATED, author_id=1, has_report=True)
    assert "four eyes" in transition_problem(validated, ModelStatus.APPROVED, 1)
    assert transition_problem(validated, ModelStatus.APPROVED, 2) is None
    assert transition_problem(validated, ModelStatus.CHAMPION, 2) is not None  # must be approved first
    approved_by_self = VersionFacts(ModelStatus.APPROVED, author_id=1, has_report=True, approved_by_id=1)
    assert transition_problem(approved_by_self, ModelStatus.CHAMPION, 1) is not None
    retired = VersionFacts(ModelStatus.RETIRED, author_id=1, has_report=True, approved_by_id=2)
    assert all(transition_problem(retired, s, 2) for s in ModelStatus)
    assert 0 <= route_bucket("APP-1") < 100 and route_bucket("APP-1") == route_bucket("APP-1")


def test_champion_needs_report_and_an_approval_by_someone_else(bank, german_artifact, second_risk_manager):
    v = _register(bank, german_artifact)
    assert v.status == "draft" and v.metrics["holdout"]["auc"] > 0.7
    with pytest.raises(Conflict):  # straight to champion: refused
        services.promote_champion(bank["risk"], v.id)
    services.validate_version(bank["risk"], v.id)
    with pytest.raises(Conflict, match="four eyes"):
        services.approve_version(bank["risk"], v.id)
    with pytest.raises(Forbidden):  # an auditor may look but not approve
        services.approve_version(bank["auditor"], v.id)
    approved = services.approve_version(second_risk_manager, v.id)
    assert approved.approved_by == "risk2"
    champion = services.promote_champion(bank["risk"], v.id)
    assert champion.status == "champion"
    kinds = list(
        Event.objects.filter(subject_type="model_version", subject_id=str(v.id)).values_list(
            "kind", flat=True
        )
    )
    assert kinds == ["model.registered", "model.validated", "model.approved", "model.champion"]


def test_a_model_without_a_report_cannot_be_validated(bank, german_artifact):
    v = _register(bank, german_artifact, report="")
    with pytest.raises(Conflict, match="validation report"):
        services.validate_version(bank["risk"], v.id)
    assert services.get_version(bank["risk"], v.id).status == "draft"


def test_new_champion_retires_the_old_one_and_challenger_routing(bank, german_artifact, second_risk_manager):
    ids = []
    for _ in range(2):
        v = _register(bank, german_artifact)
        services.validate_version(bank["risk"], v.id)
        services.approve_version(second_risk_manager, v.id)
        ids.append(v.id)
    services.promote_champion(bank["risk"], ids[0])
    services.set_challenger(bank["risk"], "retail-pd", ids[1], 20)
    routed = [services.champion_for("retail-pd", f"APP-{i}") for i in range(2000)]
    share = routed.count(ids[1]) / len(routed)
    assert 0.16 < share < 0.24
    with pytest.raises(ValidationError):
        services.set_challenger(bank["risk"], "retail-pd", ids[1], 80)
    services.promote_champion(bank["risk"], ids[1])
    assert services.get_version(bank["risk"], ids[0]).status == "retired"
    assert all(services.champion_for("retail-pd", f"APP-{i}") == ids[1] for i in range(50))


def test_bad_uploads_are_refused_with_the_reason(bank, german_artifact):
    with pytest.raises(ValidationError) as exc:
        services.register_version(bank["risk"], model_name="retail-pd", artifact="{not json")
    assert exc.value.code == "artifact_not_json"
    broken = json.loads(json.dumps(german_artifact))
    del broken["scaling"]
    with pytest.raises(ValidationError):
        services.register_version(bank["risk"], model_name="retail-pd", artifact=broken)
    with pytest.raises(Forbidden):
        services.register_version(bank["officer_bj"], model_name="retail-pd", artifact=german_artifact)
    assert not Event.objects.filter(kind="model.registered").exists()


def test_api_four_eyes_and_scoring(client, bank, german_artifact, second_risk_manager):
    from factories import PASSWORD

    def token(user):
        r = client.post(
            "/api/v1/auth/token", {"username": user, "password": PASSWORD}, content_type="application/json"
        )
        return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}

    risk, risk2, officer = token("risk"), token("risk2"), token("officer_bj")
    r = client.post(
        "/api/v1/models",
        {"model": "retail-pd", "artifact": german_artifact, "report_html": "<p>r</p>"},
        content_type="application/json",
        **risk,
    )
    assert r.status_code == 201, r.content
    vid = r.json()["id"]
    assert (
        client.post(f"/api/v1/models/{vid}/validate", {}, content_type="application/json", **risk).status_code
        == 200
    )
    r = client.post(f"/api/v1/models/{vid}/approve", {}, content_type="application/json", **risk)
    assert r.status_code == 409 and r.json()["code"] == "model_transition"
    r = client.post(f"/api/v1/models/{vid}/approve", {}, content_type="application/json", **officer)
    assert r.status_code == 403
    assert (
        client.post(f"/api/v1/models/{vid}/approve", {}, content_type="application/json", **risk2).status_code
        == 200
    )
    record = {"checking_status": "A11", "duration_months": 24, "credit_amount": 5000, "age_years": 30}
    r = client.post(
        f"/api/v1/models/{vid}/score", {"record": record}, content_type="application/json", **officer
    )
    assert r.status_code == 200, r.content
    row = r.json()["results"][0]
    assert 0 < row["pd"] < 1 and row["grade"] and len(row["reasons"]) == 4 and len(row["reasons_zh"]) == 4
    r = client.post(f"/api/v1/models/{vid}/score", {}, content_type="application/json", **officer)
    assert r.status_code == 422


def test_training_in_the_app_reads_only_the_data_directory(bank, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with pytest.raises(ValidationError) as exc:
        services.train_version(bank["risk"], model_name="x", data_path="/etc/passwd", target="class", bad_value=2)
    assert exc.value.code == "data_path_outside"
    with pytest.raises(ValidationError) as exc:
        services.train_version(bank["risk"], model_name="x", data_path="../../etc/passwd", target="class", bad_value=2)
    assert exc.value.code == "data_path_outside"
    v = services.train_version(bank["risk"], model_name="german", data_path="german_credit/german_credit.csv",
                               target="class", bad_value=2)
    assert v.has_report and v.metrics["holdout"]["auc"] >= 0.78
