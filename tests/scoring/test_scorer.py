"""The compiled scorer on awkward input: unseen categories, missing and out-of-range values, reasons."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain import train
from creditplan.scoring.domain.artifact import Scaling, master_scale_json
from creditplan.scoring.domain.data import apply_feature_plan
from creditplan.scoring.domain.scorer import (
    WARN_INVALID_NUMBER,
    WARN_OUT_OF_RANGE,
    WARN_UNSEEN_CATEGORY,
    CompiledModel,
)


def _features(result: train.TrainResult) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in result.artifact["scorecard"]["features"]}


def _value_in_bin(f: dict[str, Any], b: int) -> Any:
    """A raw value that falls in bin ``b`` of feature ``f`` (bins are [s[b-1], s[b]))."""
    if f["type"] == "categorical":
        return f["bins"][b][0]
    splits = f["splits"]
    return splits[0] - 1.0 if b == 0 else splits[b - 1]


def _best_row(result: train.TrainResult) -> dict[str, Any]:
    return {n: _value_in_bin(f, int(np.argmax(f["points"]))) for n, f in _features(result).items()}


def test_unseen_category_takes_most_conservative_bin(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    feats = _features(scorecard)
    X = scorecard.X_holdout.iloc[:5].copy()
    X["checking_status"] = ["A19", "zzz", "A11", None, "A14"]
    r = model.score_frame(X)
    base = model.score_frame(scorecard.X_holdout.iloc[:5])
    worst = min(feats["checking_status"]["points"])
    row_points = base.score - _points_of(scorecard, scorecard.X_holdout.iloc[:5], "checking_status")
    assert np.allclose(r.score[:2], row_points[:2] + worst, atol=1e-9)
    assert not np.isnan(r.score).any() and not np.isnan(r.pd).any()
    assert (r.warnings[:2] & WARN_UNSEEN_CATEGORY).all() and not (r.warnings[2:] & WARN_UNSEEN_CATEGORY).any()
    assert r.warning_counts()["unseen_category"] == 2
    assert r.row_warnings(0) == ["unseen_category"]


def _points_of(result: train.TrainResult, X: pd.DataFrame, feature: str) -> np.ndarray:
    """Points of one feature per row, from optbinning's own per-feature transform."""
    return result.scorecard.transform(X)[feature].to_numpy()


def test_missing_values_take_the_missing_bin(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    feats = _features(scorecard)
    X = scorecard.X_holdout.iloc[:3].copy()
    X["duration_months"] = np.nan
    X["checking_status"] = None
    r = model.score_frame(X)
    assert np.isfinite(r.score).all() and np.isfinite(r.pd).all()
    # German credit has no missing values, so the missing bin carries neutral points (WoE 0)
    sc = scorecard.scorecard
    n = len(feats)
    s = Scaling(20, 50, 600)
    neutral = (s.offset - s.factor * float(sc.estimator_.intercept_[0])) / n
    assert feats["duration_months"]["missing_points"] == pytest.approx(neutral, abs=1e-9)
    other = model.score_frame(scorecard.X_holdout.iloc[:3]).score
    expected = (
        other
        - _points_of(scorecard, scorecard.X_holdout.iloc[:3], "duration_months")
        - _points_of(scorecard, scorecard.X_holdout.iloc[:3], "checking_status")
        + 2 * neutral
    )
    assert np.allclose(r.score, expected, atol=1e-9)
    # optbinning agrees on missing values
    assert np.allclose(r.score, sc.score(X), atol=1e-9)


def test_out_of_range_and_invalid_numbers(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    f = _features(scorecard)["duration_months"]
    X = scorecard.X_holdout.iloc[:4].copy().astype({"duration_months": object})
    X["duration_months"] = [10_000, -5, "abc", "12"]
    r = model.score_frame(X)
    pts = r.score - (
        model.score_frame(scorecard.X_holdout.iloc[:4]).score
        - _points_of(scorecard, scorecard.X_holdout.iloc[:4], "duration_months")
    )
    assert pts[0] == pytest.approx(f["points"][-1])  # above the training range: the last bin
    assert pts[1] == pytest.approx(f["points"][0])  # below: the first bin
    assert pts[2] == pytest.approx(f["missing_points"])  # not a number: treated as missing …
    assert r.warnings[2] & WARN_INVALID_NUMBER  # … and reported
    assert r.warnings[0] & WARN_OUT_OF_RANGE and r.warnings[1] & WARN_OUT_OF_RANGE
    assert not r.warnings[3] & (WARN_OUT_OF_RANGE | WARN_INVALID_NUMBER)  # "12" is a fine number


def test_reason_codes_hand_checked(scorecard: train.TrainResult) -> None:
    """An applicant in every feature's best bin but two: exactly those two are the reasons, biggest loss first."""
    model = scorecard.compiled()
    feats = _features(scorecard)
    row = _best_row(scorecard)
    perfect = model.score_records([row])[0]
    assert perfect["reasons"] == [] and perfect["reason_1"] is None
    cs, dur = feats["checking_status"], feats["duration_months"]
    row["checking_status"] = _value_in_bin(cs, int(np.argmin(cs["points"])))
    row["duration_months"] = _value_in_bin(dur, int(np.argmin(dur["points"])))
    out = model.score_records([row])[0]
    lost = {
        "checking_status": max(cs["points"]) - min(cs["points"]),
        "duration_months": max(dur["points"]) - min(dur["points"]),
    }
    expected = sorted(lost, key=lambda n: -lost[n])
    assert [r["code"] for r in out["reasons"]] == expected
    assert out["reasons"][0]["points_lost"] == pytest.approx(lost[expected[0]], abs=1e-4)
    assert out["reason_1"]["en"] == scorecard.artifact["reason_texts"][expected[0]]["en"]
    assert out["reason_1"]["zh"] == scorecard.artifact["reason_texts"][expected[0]]["zh"]
    assert out["reason_3"] is None
    assert out["score"] == pytest.approx(perfect["score"] - sum(lost.values()), abs=1e-9)


def test_reason_codes_match_an_independent_computation(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    X = scorecard.X_holdout
    r = model.score_frame(X)
    per_feature = scorecard.scorecard.transform(X)
    best = {f["name"]: max(f["points"]) for f in scorecard.artifact["scorecard"]["features"]}
    names = list(best)
    for i in range(0, len(X), 37):
        losses = [(best[n] - per_feature[n].iloc[i], k) for k, n in enumerate(names)]
        ranked = [k for loss, k in sorted(losses, key=lambda t: (-t[0], t[1])) if loss > 1e-9][:4]
        got = [int(c) for c in r.reason_codes[i] if c >= 0]
        assert got == ranked


def test_ties_are_broken_by_feature_order() -> None:
    lost = np.array([[1.0, 3.0, 3.0, 0.0, 3.0, 2.0]])
    codes, points = CompiledModel._top_reasons(lost)
    assert codes[0].tolist() == [1, 2, 4, 5]
    assert points[0].tolist() == [3.0, 3.0, 3.0, 2.0]


def test_score_records_equals_score_frame(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    X = scorecard.X_holdout.iloc[:50]
    records = [{k: v for k, v in rec.items()} for rec in X.to_dict(orient="records")]
    out = model.score_records(records)
    frame = model.score_frame(X)
    assert [o["score"] for o in out] == pytest.approx(frame.score.tolist(), abs=1e-12)
    assert [o["grade"] for o in out] == frame.grade.tolist()
    assert set(out[0]) >= {"score", "pd", "grade", "reason_1", "reason_2", "reason_3", "reason_4", "warnings"}
    # an absent key is a missing value, not an error
    partial = dict(records[0])
    partial.pop("duration_months")
    assert np.isfinite(model.score_records([partial])[0]["score"])
    with pytest.raises(ValidationError) as err:
        model.score_records([{**records[0], "age_years": {"nested": 1}}])
    assert err.value.code == "invalid_value"


def test_missing_columns_are_refused_for_batches(scorecard: train.TrainResult) -> None:
    with pytest.raises(ValidationError) as err:
        scorecard.compiled().score_frame(scorecard.X_holdout.drop(columns=["checking_status"]))
    assert err.value.code == "missing_columns" and "checking_status" in err.value.message


def test_output_columns_keep_input_order(scorecard: train.TrainResult) -> None:
    r = scorecard.compiled().score_frame(scorecard.X_holdout)
    cols = r.to_columns("both")
    assert list(cols)[:3] == ["score", "pd", "grade"]
    assert {"reason_1", "reason_1_en", "reason_1_zh", "reason_4_zh", "warnings"} <= set(cols)
    shuffled = scorecard.X_holdout.iloc[::-1]
    assert np.array_equal(scorecard.compiled().score_frame(shuffled).score, r.score[::-1])


def test_master_scale_is_monotone(scorecard: train.TrainResult) -> None:
    model = scorecard.compiled()
    scale = scorecard.artifact["master_scale"]
    assert [g["grade"] for g in scale] == list("ABCDEFG")
    bounds = [g["pd_max"] for g in scale]
    assert bounds == sorted(bounds) and bounds[-1] == 1.0
    mins = [g["score_min"] for g in scale[:-1]]
    assert mins == sorted(mins, reverse=True)  # better grade, higher score
    r = model.score_frame(scorecard.X_holdout)
    order = np.argsort(-r.score)
    assert np.all(np.diff(r.grade_index[order]) >= 0)
    for g, idx, s in zip(r.grade, r.grade_index, r.score, strict=True):
        assert scale[idx]["grade"] == g
        if scale[idx]["score_min"] is not None:
            assert s >= scale[idx]["score_min"] - 1e-9


def test_master_scale_is_configurable_and_checked() -> None:
    s = Scaling()
    scale = master_scale_json([("AAA", 0.01), ("BB", 0.1), ("C", 0.5)], s)
    assert [g["grade"] for g in scale] == ["AAA", "BB", "C"] and scale[-1]["pd_max"] == 1.0
    for bad in ([("A", 0.2), ("B", 0.1)], [("A", 0.1), ("A", 0.2)], [("A", 0.0)], []):
        with pytest.raises(ValidationError) as err:
            master_scale_json(bad, s)
        assert err.value.code == "invalid_master_scale"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda a: a.update(format="other/1"),
        lambda a: a.update(kind="neural"),
        lambda a: a["scorecard"]["features"][0].update(points=[1.0]),
        lambda a: a["scorecard"]["features"][3].update(splits=[5.0, 1.0]),
        lambda a: a["scorecard"]["features"][0].update(name="unknown"),
        lambda a: a["scorecard"]["features"][0].update(unseen_bin=99),
        lambda a: a.update(master_scale=[{"grade": "A", "pd_max": 0.5}, {"grade": "B", "pd_max": 0.2}]),
        lambda a: a.pop("inputs"),
    ],
)
def test_malformed_artifacts_are_refused(scorecard: train.TrainResult, mutate: Any) -> None:
    art = copy.deepcopy(scorecard.artifact)
    mutate(art)
    with pytest.raises(ValidationError) as err:
        CompiledModel.from_artifact(art)
    assert err.value.code == "artifact_invalid"


def test_artifact_text_and_errors(scorecard: train.TrainResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as err:
        CompiledModel.from_artifact("{not json")
    assert err.value.code == "artifact_not_json"
    with pytest.raises(ValidationError) as err:
        CompiledModel.from_artifact(tmp_path / "absent.json")
    assert err.value.code == "file_not_found"


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["A11", "A14", "A30", "A43", "A65", "12", "0", " "]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_never_a_nan_score(scorecard: train.TrainResult, data: st.DataObject) -> None:
    model = scorecard.compiled()
    records = [
        # now and then a key is absent altogether
        {name: data.draw(_SCALARS) for name in model.required_inputs if data.draw(st.integers(0, 9)) > 0}
        for _ in range(data.draw(st.integers(min_value=1, max_value=4)))
    ]
    for out in model.score_records(records):
        assert np.isfinite(out["score"]) and 0 < out["pd"] < 1 and out["grade"] in "ABCDEFG"


def test_every_input_layout_scores_the_same(scorecard: train.TrainResult, german_raw: pd.DataFrame) -> None:
    """pandas (object or Arrow text), a pyarrow table, a polars frame and plain dicts give one score."""
    import polars as pl
    import pyarrow as pa

    model = scorecard.compiled()
    raw = german_raw.drop(columns=["class"]).iloc[:200]
    expected = model.score_frame(raw)
    layouts = {
        "object": raw.astype({c: object for c in raw.columns if raw[c].dtype.kind not in "if"}),
        "arrow text": raw.astype({c: "str" for c in raw.columns if raw[c].dtype.kind not in "if"}),
        "pyarrow table": pa.Table.from_pandas(raw, preserve_index=False),
        "polars": pl.from_pandas(raw),
        "dict of lists": {c: raw[c].tolist() for c in raw.columns},
    }
    for name, data in layouts.items():
        got = model.score_frame(data)
        assert np.array_equal(got.score, expected.score), name
        assert np.array_equal(got.reason_codes, expected.reason_codes), name
    # Arrow text with a blank, an unseen category and a padded value
    table = pa.Table.from_pandas(raw.iloc[:3], preserve_index=False)
    cs = pa.array(["", "A19", " A11 "])
    table = table.set_column(table.schema.get_field_index("checking_status"), "checking_status", cs)
    got = model.score_frame(table)
    feat = next(f for f in scorecard.artifact["scorecard"]["features"] if f["name"] == "checking_status")
    base = model.score_frame(raw.iloc[:3]).score - _points_of(
        scorecard, apply_feature_plan(raw.iloc[:3], scorecard.plan), "checking_status"
    )
    assert got.score[0] == pytest.approx(base[0] + feat["missing_points"], abs=1e-9)
    assert got.score[1] == pytest.approx(base[1] + min(feat["points"]), abs=1e-9)
    a11 = feat["points"][next(i for i, b in enumerate(feat["bins"]) if "A11" in b)]
    assert got.score[2] == pytest.approx(base[2] + a11, abs=1e-9)
    assert got.warning_counts()["unseen_category"] == 1


def test_scoring_needs_only_numpy(scorecard: train.TrainResult, german_raw: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In a process where pandas, pyarrow and the training libraries cannot be imported, scores are identical."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from creditplan.scoring.domain.artifact import save_artifact

    save_artifact(scorecard.artifact, tmp_path / "model.json")
    raw = german_raw.drop(columns=["class"]).iloc[:100]
    (tmp_path / "rows.json").write_text(json.dumps({c: raw[c].tolist() for c in raw.columns}))
    expected = scorecard.compiled().score_frame(raw).score
    src = Path(__file__).resolve().parents[2] / "src"
    program = f"""
import sys, json, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("pandas", "pyarrow", "polars", "sklearn", "optbinning", "lightgbm", "scipy", "django"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(src)!r})
from creditplan.scoring.domain.scorer import CompiledModel
model = CompiledModel.from_artifact({str(tmp_path / "model.json")!r})
rows = json.load(open({str(tmp_path / "rows.json")!r}))
print(json.dumps(model.score_frame(rows).score.tolist()))
"""
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120
    )
    assert np.array_equal(np.array(json.loads(out.stdout)), expected)
