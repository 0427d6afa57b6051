"""Tree and LightGBM artifacts reproduce their libraries; the tree exports to a working JDM table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain import jdm, train, trees
from creditplan.scoring.domain.scorer import CompiledModel


def _encoded(result: train.TrainResult, X: pd.DataFrame) -> np.ndarray:
    names = [f["name"] for f in result.artifact["model_features"]]
    enc = {
        f["name"]: f["categories"] for f in result.artifact["model_features"] if f["type"] == "categorical"
    }
    return trees.encode(X, names, enc)


def test_gbm_compiled_trees_equal_lightgbm(gbm: train.TrainResult) -> None:
    model = gbm.compiled()
    X = gbm.X_holdout.copy()
    X.loc[:20, "duration_months"] = np.nan  # LightGBM's missing-value rules too
    X.loc[21:40, "credit_amount"] = 0.0
    M = _encoded(gbm, X)
    mine, _ = model._ensemble_margin(M, contributions=False)
    theirs = gbm.estimator.predict(M, raw_score=True)
    assert np.max(np.abs(mine - theirs)) < 1e-9
    cal = gbm.artifact["calibration"]
    assert cal["method"] == "platt"
    expected_pd = 1 / (1 + np.exp(-(cal["a"] * theirs + cal["b"])))
    assert np.max(np.abs(model.score_frame(X).pd - expected_pd)) < 1e-9


def test_gbm_contributions_add_up(gbm: train.TrainResult) -> None:
    model = gbm.compiled()
    M = _encoded(gbm, gbm.X_holdout)
    margin, contrib = model._ensemble_margin(M, contributions=True)
    roots = np.asarray(gbm.artifact["ensemble"]["value"])[gbm.artifact["ensemble"]["roots"]].sum()
    assert np.max(np.abs(contrib.sum(axis=1) + roots - margin)) < 1e-6
    r = model.score_frame(gbm.X_holdout)
    assert (r.reason_codes[:, 0] >= 0).all()  # every applicant has at least one risk-raising factor


def test_gbm_monotone_constraints_follow_the_binning(gbm: train.TrainResult) -> None:
    trends = gbm.extra["trends"]
    assert set(trends.values()) <= {-1, 0, 1} and any(trends.values())
    assert trends["duration_months"] == 1  # longer loans, more defaults
    model = gbm.compiled()
    X = pd.concat([gbm.X_holdout.iloc[[0]]] * 60, ignore_index=True)
    X["duration_months"] = np.linspace(4, 72, 60)
    pd_ = model.score_frame(X, reasons=False).pd
    assert np.all(np.diff(pd_) >= -1e-12)  # the constraint holds in the compiled model


def test_tree_compiled_equals_sklearn(tree: train.TrainResult) -> None:
    model = tree.compiled()
    X = tree.X_holdout.copy()
    X.loc[:10, "duration_months"] = np.nan
    M = _encoded(tree, X)
    names = [f["name"] for f in tree.artifact["model_features"]]
    all_names = tree.plan.feature_names
    full = np.full((len(X), len(all_names)), 0.0)
    for j, n in enumerate(names):
        full[:, all_names.index(n)] = M[:, j]
    leaves = tree.estimator.apply(full.astype(np.float32))
    frac = tree.estimator.tree_.value[:, 0, 1] / tree.estimator.tree_.value[:, 0, :].sum(axis=1)
    n = tree.estimator.tree_.n_node_samples
    smoothed = (frac * n + 0.5) / (n + 1.0)
    assert np.max(np.abs(model.score_frame(X).pd - smoothed[leaves])) < 1e-9
    assert tree.artifact["ensemble"]["depth"] <= 3


def test_jdm_export_structure(tree: train.TrainResult) -> None:
    doc = jdm.export_jdm(tree.artifact)
    doc = json.loads(json.dumps(doc))  # valid JSON
    assert doc["contentType"] == "application/vnd.gorules.decision"
    types = [n["type"] for n in doc["nodes"]]
    assert types == ["inputNode", "decisionTableNode", "outputNode"]
    ids = {n["id"] for n in doc["nodes"]}
    assert all(e["sourceId"] in ids and e["targetId"] in ids for e in doc["edges"])
    table = doc["nodes"][1]["content"]
    assert table["hitPolicy"] == "first"
    assert [o["field"] for o in table["outputs"]] == ["segment", "pd", "score", "grade"]
    leaves = tree.artifact["training"]["params"]["leaves"]
    assert len(table["rules"]) == leaves <= 8
    input_ids = {i["id"] for i in table["inputs"]}
    for rule in table["rules"]:
        assert input_ids <= set(rule) and rule["_description"]
        assert 0 < float(rule["out_pd"]) < 1
    pds = [float(r["out_pd"]) for r in table["rules"]]
    assert pds == sorted(pds)  # best segment first


def test_jdm_decisions_equal_the_scorer(tree: train.TrainResult) -> None:
    zen = pytest.importorskip("zen")
    doc = jdm.export_jdm(tree.artifact)
    decision = zen.ZenEngine().create_decision(json.dumps(doc))
    X = tree.X_holdout.iloc[:150].copy()
    X.loc[0, "checking_status"] = None  # missing
    X.loc[1, "checking_status"] = "A19"  # unseen: the riskiest side, like the scorer
    X.loc[2, "duration_months"] = np.nan
    expected = tree.compiled().score_frame(X)
    for i, rec in enumerate(X.to_dict(orient="records")):
        clean = {
            k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in rec.items()
        }
        out = decision.evaluate(clean)["result"]
        assert float(out["pd"]) == pytest.approx(expected.pd[i], abs=1e-12)
        assert out["grade"] == expected.grade[i]


def test_jdm_only_for_trees(scorecard: train.TrainResult) -> None:
    with pytest.raises(ValidationError) as err:
        jdm.export_jdm(scorecard.artifact)
    assert err.value.code == "not_a_tree"


def test_tree_depth_is_limited(german: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = german
    with pytest.raises(ValidationError) as err:
        train.train_tree(X, y, max_depth=5)
    assert err.value.code == "invalid_depth"


def test_unknown_kind(german: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = german
    with pytest.raises(ValidationError) as err:
        train.train_model("neural", X, y)
    assert err.value.code == "invalid_kind"


def test_tree_and_gbm_artifacts_round_trip(tree: train.TrainResult, gbm: train.TrainResult) -> None:
    for result in (tree, gbm):
        again = CompiledModel.from_artifact(json.dumps(result.artifact))
        assert np.array_equal(
            again.score_frame(result.X_holdout).score, result.compiled().score_frame(result.X_holdout).score
        )
