"""The validation report (data and standalone HTML) and reject inference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain import metrics, reject_inference, report, train


def test_report_contents(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    rng = np.random.default_rng(0)
    d_train = np.datetime64("2024-01-01") + rng.integers(0, 180, len(scorecard.X_train))
    d_hold = np.datetime64("2024-01-01") + rng.integers(0, 180, len(scorecard.X_holdout))
    rep = report.build_report(
        model,
        scorecard.X_train,
        scorecard.y_train,
        scorecard.X_holdout,
        scorecard.y_holdout,
        dates_ref=d_train,
        dates_cur=d_hold,
        n_boot=50,
    )
    json.dumps(rep, allow_nan=False)  # strict JSON
    hold = rep["samples"][1]
    assert hold["label"] == "holdout" and hold["auc"] == pytest.approx(
        scorecard.summary["metrics"]["holdout"]["auc"], abs=1e-6
    )
    assert hold["auc_ci"][0] < hold["auc"] < hold["auc_ci"][1]
    assert len(hold["calibration"]) == 7 and sum(c["rows"] for c in hold["calibration"]) == 300
    assert rep["score_psi"]["status"] == "insufficient_data"  # 300 hold-out rows < 500
    assert [p["period"] for p in rep["stability"]] == [
        "2024-01",
        "2024-02",
        "2024-03",
        "2024-04",
        "2024-05",
        "2024-06",
    ]
    assert sum(p["rows"] for p in rep["stability"]) == 1000
    feats = {f["name"]: f for f in rep["features"]}
    cs = feats["checking_status"]
    assert sum(b["count"] for b in cs["bins"]) == 700
    assert cs["iv"] > 0.3 and "psi" in cs
    assert all({"woe", "iv", "event_rate", "points"} <= set(b) for b in cs["bins"])


def test_report_html_is_standalone(scorecard: train.TrainResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = report.build_report(
        scorecard.compiled(),
        scorecard.X_train,
        scorecard.y_train,
        scorecard.X_holdout,
        scorecard.y_holdout,
        n_boot=20,
    )
    html = report.render_report_html(rep)
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 4
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "AUC" in html and "模型验证报告" in html and "checking_status" in html
    (tmp_path / "r.html").write_text(html, encoding="utf-8")


def test_report_for_tree_models(gbm: train.TrainResult) -> None:
    rep = report.build_report(
        gbm.compiled(), gbm.X_train, gbm.y_train, gbm.X_holdout, gbm.y_holdout, n_boot=10
    )
    assert rep["samples"][1]["auc"] == pytest.approx(gbm.summary["metrics"]["holdout"]["auc"], abs=1e-6)
    assert rep["features"] and all(sum(b["count"] for b in f["bins"]) == 700 for f in rep["features"])
    assert "<svg" in report.render_report_html(rep)


@pytest.fixture(scope="module")
def policy_split(
    german: tuple[pd.DataFrame, np.ndarray],
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """An old policy that declined the riskiest 30 % (by a model fitted on everyone)."""
    X, y = german
    full = train.train_scorecard(X, y, seed=0, holdout=0.0)
    pd_ = full.compiled().score_frame(X, reasons=False).pd
    rejected = pd_ >= np.quantile(pd_, 0.7)
    return X[~rejected].reset_index(drop=True), y[~rejected], X[rejected].reset_index(drop=True), y[rejected]


def test_reject_inference_shifts_the_bad_rate(
    german: tuple[pd.DataFrame, np.ndarray],
    policy_split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    Xa, ya, Xr, yr = policy_split
    assert yr.mean() > 2 * ya.mean()  # the declined were much riskier (known here, never in practice)
    base, inferred, data = reject_inference.train_with_reject_inference(
        Xa, ya, Xr, method="fuzzy", uplift=1.5
    )
    # rejects are inferred riskier than approvals, the augmented population sits in between
    assert data.accepted_bad_rate < data.augmented_bad_rate < data.inferred_bad_rate < 1
    assert data.inferred_bad_rate > 1.5 * data.accepted_bad_rate
    # the inferred model predicts a higher PD for the applicants the old policy declined
    assert inferred.compiled().score_frame(Xr).pd.mean() > base.compiled().score_frame(Xr).pd.mean()
    # and ranks the whole applicant population no worse
    X, y = german
    auc_base = metrics.auc(y, base.compiled().score_frame(X).pd)
    auc_inferred = metrics.auc(y, inferred.compiled().score_frame(X).pd)
    assert auc_inferred >= auc_base - 0.01
    assert inferred.artifact["training"]["reject_inference"]["method"] == "fuzzy"
    # both models are evaluated on the same approved-only hold-out
    assert base.summary["rows_holdout"] == inferred.summary["rows_holdout"]


def test_parcelling_is_seeded(
    policy_split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    Xa, ya, Xr, _ = policy_split
    base = train.train_scorecard(Xa, ya, seed=0)
    a = reject_inference.augment(base.compiled(), Xa, ya, Xr, method="parcelling", uplift=1.5, seed=3)
    b = reject_inference.augment(base.compiled(), Xa, ya, Xr, method="parcelling", uplift=1.5, seed=3)
    assert np.array_equal(a.y, b.y) and a.inferred_bad_rate > a.accepted_bad_rate
    assert len(a.X) == len(Xa) + len(Xr)
    with pytest.raises(ValidationError) as err:
        reject_inference.augment(base.compiled(), Xa, ya, Xr, method="guess")
    assert err.value.code == "invalid_method"
    with pytest.raises(ValidationError) as err:
        reject_inference.augment(base.compiled(), Xa, ya, Xr.iloc[:0])
    assert err.value.code == "no_rejects"
