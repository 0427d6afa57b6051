"""The scorecard: the acceptance AUC, equality with optbinning, the artifact and the scaling."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from creditplan.scoring.domain import metrics, train
from creditplan.scoring.domain.artifact import FORMAT, Scaling, dumps, load_artifact, save_artifact
from creditplan.scoring.domain.scorer import CompiledModel


def test_german_holdout_auc_meets_acceptance(scorecard: train.TrainResult) -> None:
    """Acceptance: German credit hold-out AUC ≥ 0.78 (70/30 stratified split, seed 0)."""
    assert scorecard.summary["rows_train"] == 700 and scorecard.summary["rows_holdout"] == 300
    assert scorecard.y_holdout is not None and scorecard.y_holdout.sum() == 90  # stratified: 30 % bad
    auc = scorecard.summary["metrics"]["holdout"]["auc"]
    assert auc >= 0.78, auc
    # the summary's AUC is the compiled artifact's, recomputed here independently
    pd_ = scorecard.compiled().score_frame(scorecard.X_holdout).pd
    assert math.isclose(metrics.auc(scorecard.y_holdout, pd_), auc, abs_tol=1e-6)


def test_compiled_scores_equal_optbinning(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    for X in (scorecard.X_train, scorecard.X_holdout):
        theirs = scorecard.scorecard.score(X)
        assert np.max(np.abs(model.score_only(X) - theirs)) <= 1e-9
        assert np.max(np.abs(model.score_frame(X).score - theirs)) <= 1e-9


def test_pd_equals_the_logistic_regression(scorecard: train.TrainResult) -> None:
    pd_ = scorecard.compiled().score_frame(scorecard.X_holdout).pd
    assert np.max(np.abs(pd_ - scorecard.scorecard.predict_proba(scorecard.X_holdout)[:, 1])) < 1e-9


def test_artifact_round_trips_through_json(scorecard: train.TrainResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = dumps(scorecard.artifact)
    again = json.loads(text)
    assert again["format"] == FORMAT and again["kind"] == "scorecard"
    path = save_artifact(again, tmp_path / "model.json")
    loaded = load_artifact(path)
    a = scorecard.compiled().score_frame(scorecard.X_holdout)
    b = CompiledModel.from_artifact(loaded).score_frame(scorecard.X_holdout)
    assert np.array_equal(a.score, b.score) and np.array_equal(a.reason_codes, b.reason_codes)
    assert (a.grade == b.grade).all()
    # the artifact carries what the issue asks for
    t = loaded["training"]
    assert t["data_fingerprint"].startswith("sha256:") and t["rows"] == 1000 and t["bad_rate"] == 0.3
    assert set(t["libraries"]) >= {"numpy", "optbinning", "scikit-learn"}
    assert set(loaded["reason_texts"]["checking_status"]) == {"en", "zh"}
    assert (
        loaded["scaling"]["pdo"] == 20
        and loaded["scaling"]["base_odds"] == 50
        and loaded["scaling"]["base_score"] == 600
    )


def test_artifact_scores_raw_file_rows_like_prepared_rows(
    scorecard: train.TrainResult, german_raw: pd.DataFrame
) -> None:
    """The raw table (int columns, strings) scores the same as the prepared frame the model was trained on."""
    model = scorecard.compiled()
    raw = german_raw.drop(columns=["class"])
    from creditplan.scoring.domain.data import apply_feature_plan

    prepared = apply_feature_plan(raw, scorecard.plan)
    assert np.array_equal(model.score_frame(raw).score, model.score_frame(prepared).score)


def test_scaling_definition() -> None:
    s = Scaling(pdo=20, base_odds=50, base_score=600)
    # 600 points at good:bad odds of 50:1, 20 points more per doubling of the odds
    assert math.isclose(float(s.score_from_pd(np.array([1 / 51]))[0]), 600.0, abs_tol=1e-9)
    assert math.isclose(float(s.score_from_pd(np.array([1 / 101]))[0]), 620.0, abs_tol=1e-6)
    assert math.isclose(float(s.pd_from_score(np.array([600.0]))[0]), 1 / 51, rel_tol=1e-12)


def test_custom_scaling_moves_points(
    german: tuple[pd.DataFrame, np.ndarray], scorecard: train.TrainResult
) -> None:
    X, y = german
    other = train.train_scorecard(X, y, seed=0, pdo=40, base_odds=20, base_score=500)
    a = scorecard.compiled().score_frame(scorecard.X_holdout)
    b = other.compiled().score_frame(other.X_holdout)
    # same model, other scale: identical PDs, scores related by the two scalings
    assert np.max(np.abs(a.pd - b.pd)) < 1e-9
    expected = Scaling(40, 20, 500).score_from_pd(a.pd)
    assert np.max(np.abs(b.score - expected)) < 1e-6


def test_higher_score_means_lower_risk(scorecard: train.TrainResult) -> None:
    r = scorecard.compiled().score_frame(scorecard.X_holdout)
    order = np.argsort(r.score)
    assert np.all(np.diff(r.pd[order]) <= 1e-15)
    assert metrics.auc(scorecard.y_holdout, -r.score) > 0.78


def test_selection_is_recorded(scorecard: train.TrainResult) -> None:
    selection = scorecard.artifact["training"]["params"]["selection"]
    assert set(selection) == set(scorecard.plan.feature_names)
    chosen = [f["name"] for f in scorecard.summary["features"]]
    assert all(selection[n] == "selected" for n in chosen)
    assert all(f["coefficient"] < 0 for f in scorecard.summary["features"])  # sound signs only
    assert all(f["iv"] >= 0.005 for f in scorecard.summary["features"])


def test_special_codes_get_their_own_bin(german: tuple[pd.DataFrame, np.ndarray]) -> None:
    """A sentinel such as −999 ("not applicable") is binned apart, not mixed with real amounts."""
    X, y = german
    X = X.copy()
    rng = np.random.default_rng(0)
    special = rng.random(len(X)) < 0.1
    X.loc[special, "credit_amount"] = -999
    result = train.train_scorecard(X, y, seed=0, special_codes=[-999])
    feat = next(f for f in result.artifact["scorecard"]["features"] if f["name"] == "credit_amount")
    assert feat["special_codes"] == [-999.0]
    assert feat["splits"][0] > 0  # −999 did not drag the first split down
    model = result.compiled()
    for frame in (result.X_train, result.X_holdout):
        assert np.max(np.abs(model.score_only(frame) - result.scorecard.score(frame))) <= 1e-9
    row = result.X_holdout.iloc[[0]].assign(credit_amount=-999.0)
    other = result.X_holdout.iloc[[0]]
    per = result.scorecard.transform(other)["credit_amount"].iloc[0]
    assert model.score_only(row)[0] == pytest.approx(
        model.score_only(other)[0] - per + feat["special_points"], abs=1e-9
    )
