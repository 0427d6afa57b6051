"""A 5,000-row sample of the Taiwan data: derived features, codes as categories and the compiled scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditplan.scoring.domain import train
from creditplan.scoring.domain.scorer import WARN_UNSEEN_CATEGORY


@pytest.fixture(scope="module")
def taiwan_scorecard(taiwan_sample: tuple[pd.DataFrame, np.ndarray]) -> train.TrainResult:
    X, y = taiwan_sample
    return train.train_scorecard(X, y, seed=0)


def test_derived_features_are_compiled_and_replayed(taiwan_scorecard: train.TrainResult) -> None:
    art = taiwan_scorecard.artifact
    derived = {d["name"] for d in art["derived"]}
    used = {f["name"] for f in art["scorecard"]["features"]}
    assert derived and derived <= used  # only the derived features the model uses are kept
    raw_inputs = {i["name"] for i in art["inputs"]}
    assert not derived & raw_inputs
    model = taiwan_scorecard.compiled()
    X = taiwan_scorecard.X_holdout
    ours = model.score_frame(X)
    theirs = taiwan_scorecard.scorecard.score(X)
    same = (ours.warnings & WARN_UNSEEN_CATEGORY) == 0  # optbinning sends unseen codes to the missing bin
    assert same.mean() > 0.99
    assert np.max(np.abs(ours.score[same] - theirs[same])) <= 1e-9
    # the raw columns alone are enough: derived features are recomputed by the scorer
    raw = X[[c for c in X.columns if c in raw_inputs]]
    assert np.array_equal(model.score_frame(raw).score, ours.score)


def test_repayment_codes_are_categories(taiwan_scorecard: train.TrainResult) -> None:
    feats = {f["name"]: f for f in taiwan_scorecard.artifact["scorecard"]["features"]}
    assert feats["PAY_0"]["type"] == "categorical"
    cats = {c for b in feats["PAY_0"]["bins"] for c in b}
    assert {"-1", "0", "2"} <= cats
    model = taiwan_scorecard.compiled()
    row = taiwan_scorecard.X_holdout.iloc[[0]].copy()
    a = model.score_frame(row.assign(PAY_0="2")).score[0]
    b = model.score_frame(row.assign(PAY_0=2)).score[0]
    c = model.score_frame(row.assign(PAY_0=2.0)).score[0]
    assert a == b == c  # "2", 2 and 2.0 are one category
    assert taiwan_scorecard.summary["metrics"]["holdout"]["auc"] > 0.72
