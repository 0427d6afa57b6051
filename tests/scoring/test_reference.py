"""The development sample's reference profile recorded at training: what monitoring in production compares each
week's applications with (docs/model-monitoring.md). It lives in the version's metrics, never in the artifact."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from creditplan.scoring import engine
from creditplan.scoring.domain import datasets, train
from creditplan.scoring.domain import reference as refs


def _check(result: train.TrainResult) -> None:
    ref = result.reference
    rows = int(result.y_train.size)
    assert refs.is_reference(ref) and ref["sample"] == "train" and ref["rows"] == rows
    assert sum(ref["score"]["counts"]) == rows and len(ref["score"]["counts"]) == len(ref["score"]["edges"]) + 1
    assert sum(ref["grades"]["counts"]) == rows
    assert ref["grades"]["order"] == [g["grade"] for g in result.artifact["master_scale"]]
    for f in ref["features"]:
        assert sum(f["counts"]) == rows, f["name"]
        assert len(f["labels"]) == len(f["counts"]), f["name"]
    # the same rule bins the development rows again: the counts come back exactly
    model = result.compiled()
    again = refs.feature_counts(model, ref, result.X_train)
    assert again == {f["name"]: f["counts"] for f in ref["features"]}
    scores = model.score_frame(result.X_train, reasons=False).score
    assert refs.score_counts(ref, scores) == ref["score"]["counts"]
    # and the reference is JSON, outside the artifact
    assert json.loads(json.dumps(ref)) == ref
    assert "reference" not in result.artifact and "reference" not in result.artifact["training"]


def test_a_scorecard_records_its_own_bins_and_score_deciles(scorecard: train.TrainResult) -> None:
    _check(scorecard)
    ref = scorecard.reference
    features = scorecard.artifact["scorecard"]["features"]
    assert [f["name"] for f in ref["features"]] == [f["name"] for f in features]
    for f, spec in zip(ref["features"], features, strict=True):
        assert f["method"] == "scorecard_bins"
        assert len(f["counts"]) == len(spec["points"]) + 2  # the regular bins, special codes, missing
        assert f["labels"][-2:] == ["special", "missing"]
    # deciles: ten bins of (nearly) equal size
    counts = ref["score"]["counts"]
    assert len(counts) == 10 and max(counts) - min(counts) <= 0.02 * sum(counts)


def test_trees_and_gbm_record_deciles_of_numbers_and_their_categories(tree: train.TrainResult,
                                                                       gbm: train.TrainResult) -> None:
    for result in (tree, gbm):
        _check(result)
        specs = {f["name"]: f for f in result.artifact["model_features"]}
        for f in result.reference["features"]:
            spec = specs[f["name"]]
            if spec["type"] == "categorical":
                assert f["method"] == "categories"
                assert [c for b in f["categories"] for c in b] == spec["categories"]
                assert f["labels"][-1] == "missing"
            else:
                assert f["method"] == "deciles" and len(f["counts"]) == len(f["edges"]) + 2
                assert len(f["edges"]) <= 9


def test_raw_inputs_as_a_decision_stores_them_fall_in_the_same_bins(scorecard: train.TrainResult,
                                                                     german_raw: pd.DataFrame) -> None:
    """A decision keeps the applicant's inputs as sent (text and numbers): binned through the artifact they land
    where the model-ready training frame did."""
    rows = german_raw.iloc[scorecard.train_rows]
    records = json.loads(rows.to_json(orient="records"))
    model = scorecard.compiled()
    columns = {n: np.array([r.get(n) for r in records], dtype=object) for n in model.required_inputs}
    counts = refs.feature_counts(model, scorecard.reference, columns)
    assert counts == {f["name"]: f["counts"] for f in scorecard.reference["features"]}


def test_training_in_the_registry_keeps_the_reference_in_the_metrics() -> None:
    trained = engine.train(data_path=datasets.german_credit_path(), target="class", bad_value=2, kind="tree",
                           seed=0)
    assert refs.is_reference(trained.metrics["reference"])
    assert trained.metrics["train"]["rows"] == trained.metrics["reference"]["rows"]
    assert "reference" not in json.dumps(trained.artifact)


def test_metrics_without_a_reference_are_recognised() -> None:
    assert not refs.is_reference(None)
    assert not refs.is_reference({"train": {"auc": 0.8}})
    assert not refs.is_reference({"format": 1, "score": {"edges": [], "counts": []}})
