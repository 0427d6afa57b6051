"""The development sample's reference profile: what monitoring in production compares each week with.

Why recorded at training time: the population stability index (PSI) of the scores and the characteristic
stability index (CSI) of each feature compare this week's applications with the sample the model was
developed on, over the *same* bins. The development rows are not kept, so their profile is: score bins
(edges at the development scores' deciles, and counts), the grade mix, and per model feature its bins with
the development counts. It lives in the version's metrics (``metrics["reference"]``), never in the artifact,
so artifacts stay byte-identical and a model trained before this existed still scores the same.

Bins per feature, "as the model reads it":

* scorecards: the binning's own bins — the regular bins, then the special-codes bin, then the missing bin
  (``CompiledModel.bin_indices``: an unseen category counts in the bin the scorecard gives it);
* trees and GBM: numeric features by the deciles of their development values, plus a missing bin;
  categorical features one bin per category (as the model encodes it: an unseen category is read as the
  riskiest one), plus a missing bin.

Training (``train.py``) and monitoring (``creditplan.risk``) call the same functions below to bin, so the two
sides of every comparison are counted by one rule. Score bins are half-open, ``[edge_i, edge_i+1)``, exactly as
``metrics.psi`` bins a score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditplan.scoring.domain.scorer import CompiledModel

FORMAT = 1
SCORE_BINS = 10
FEATURE_DECILES = 10


def _ints(counts: NDArray[np.int64]) -> list[int]:
    return [int(c) for c in counts.tolist()]


def decile_edges(values: NDArray[np.float64], bins: int = SCORE_BINS) -> list[float]:
    """The interior edges at the deciles of the finite values (duplicates merged); [] when there are none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return [float(e) for e in edges.tolist()]


def bin_by_edges(values: NDArray[np.float64], edges: Sequence[float]) -> NDArray[np.int64]:
    """Bin index per value: 0 … len(edges) for [edge_i, edge_i+1); NaN goes to len(edges) + 1 (missing)."""
    x = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="right").astype(np.int64)
    idx[np.isnan(x)] = len(edges) + 1
    return idx


def edge_labels(edges: Sequence[float], *, digits: int = 4) -> list[str]:
    """"< a", "[a, b)", …, "≥ z" for the regular bins of these edges."""
    if not edges:
        return ["all"]
    fmt = [f"{e:.{digits}g}" for e in edges]
    out = [f"< {fmt[0]}"]
    out += [f"[{a}, {b})" for a, b in zip(fmt, fmt[1:], strict=False)]
    out.append(f"≥ {fmt[-1]}")
    return out


def score_counts(reference: Mapping[str, Any], scores: Any) -> list[int]:
    """Counts of `scores` over the reference's score bins (a missing score is not counted)."""
    edges = [float(e) for e in reference["score"]["edges"]]
    s = np.asarray(scores, dtype=np.float64)
    s = s[~np.isnan(s)]
    idx = bin_by_edges(s, edges)
    return _ints(np.bincount(idx, minlength=len(edges) + 1)[: len(edges) + 1])


def grade_counts(reference: Mapping[str, Any], grades: Any) -> list[int]:
    """Counts per grade of the reference's master scale (grades not on it are not counted)."""
    order = [str(g) for g in reference["grades"]["order"]]
    values = [str(g) for g in np.asarray(grades, dtype=object).tolist()]
    return [sum(1 for v in values if v == g) for g in order]


def _scorecard_feature(spec: Mapping[str, Any], counts: NDArray[np.int64]) -> dict[str, Any]:
    if spec["type"] == "numeric":
        splits = [float(s) for s in spec["splits"]]
        labels = edge_labels(splits)
        return {"name": str(spec["name"]), "type": "numeric", "method": "scorecard_bins", "edges": splits,
                "labels": [*labels, "special", "missing"], "counts": _ints(counts)}
    bins = [[str(c) for c in b] for b in spec["bins"]]
    return {"name": str(spec["name"]), "type": "categorical", "method": "scorecard_bins", "categories": bins,
            "labels": [", ".join(b) for b in bins] + ["special", "missing"], "counts": _ints(counts)}


def _scorecard_counts(model: CompiledModel, data: Any) -> dict[str, NDArray[np.int64]]:
    specs = {f["name"]: f for f in model.artifact["scorecard"]["features"]}
    out: dict[str, NDArray[np.int64]] = {}
    for name, idx in model.bin_indices(data).items():
        spec = specs[name]
        n_regular = len(spec["points"])
        out[str(name)] = np.bincount(np.asarray(idx, dtype=np.int64), minlength=n_regular + 2)[: n_regular + 2]
    return out


def _ensemble_columns(model: CompiledModel, data: Any) -> dict[str, NDArray[np.float64]]:
    matrix = model.model_matrix(data)
    return {name: matrix[:, j] for j, name in enumerate(model.features)}


def _categorical_index(values: NDArray[np.float64], n_categories: int) -> NDArray[np.int64]:
    idx = np.full(values.shape[0], n_categories, dtype=np.int64)  # missing
    present = ~np.isnan(values)
    idx[present] = values[present].astype(np.int64)
    return idx


def build_reference(model: CompiledModel, data: Any, scores: Any, grades: Any, *,
                    sample: str = "train") -> dict[str, Any]:
    """The reference profile of the development rows `data` (model-ready frame or dict of columns) scored as
    `scores` and graded as `grades` by the compiled artifact `model`."""
    s = np.asarray(scores, dtype=np.float64)
    edges = decile_edges(s)
    order = [str(g) for g in model.grades.tolist()]
    reference: dict[str, Any] = {
        "format": FORMAT,
        "sample": sample,
        "rows": int(s.size),
        "score": {"edges": edges, "labels": edge_labels(edges), "counts": []},
        "grades": {"order": order, "counts": []},
        "features": [],
    }
    reference["score"]["counts"] = score_counts(reference, s)
    reference["grades"]["counts"] = grade_counts(reference, grades)
    features: list[dict[str, Any]] = []
    if model.kind == "scorecard":
        counts = _scorecard_counts(model, data)
        for spec in model.artifact["scorecard"]["features"]:
            features.append(_scorecard_feature(spec, counts[spec["name"]]))
    else:
        columns = _ensemble_columns(model, data)
        for spec in model.artifact["model_features"]:
            values = columns[spec["name"]]
            if spec["type"] == "categorical":
                cats = [str(c) for c in spec["categories"]]
                idx = _categorical_index(values, len(cats))
                features.append({"name": str(spec["name"]), "type": "categorical", "method": "categories",
                                 "categories": [[c] for c in cats], "labels": [*cats, "missing"],
                                 "counts": _ints(np.bincount(idx, minlength=len(cats) + 1))})
            else:
                fedges = decile_edges(values, FEATURE_DECILES)
                idx = bin_by_edges(values, fedges)
                features.append({"name": str(spec["name"]), "type": "numeric", "method": "deciles", "edges": fedges,
                                 "labels": [*edge_labels(fedges), "missing"],
                                 "counts": _ints(np.bincount(idx, minlength=len(fedges) + 2))})
    reference["features"] = features
    return reference


def feature_counts(model: CompiledModel, reference: Mapping[str, Any], data: Any) -> dict[str, list[int]]:
    """Counts of the rows of `data` (raw inputs as the model reads them: a frame, an Arrow table or a dict of
    columns; absent columns are missing values) over each reference feature's bins, by the same rule as
    `build_reference`."""
    features = list(reference.get("features") or [])
    out: dict[str, list[int]] = {}
    if model.kind == "scorecard":
        counts = _scorecard_counts(model, data)
        for f in features:
            if f["name"] in counts:
                out[f["name"]] = _ints(counts[f["name"]][: len(f["counts"])])
        return out
    columns = _ensemble_columns(model, data)
    for f in features:
        values = columns.get(f["name"])
        if values is None:
            continue
        n = len(f["counts"])
        if f["method"] == "categories":
            idx = _categorical_index(values, n - 1)
        else:
            idx = bin_by_edges(values, [float(e) for e in f["edges"]])
        out[f["name"]] = _ints(np.bincount(idx, minlength=n)[:n])
    return out


def is_reference(value: Any) -> bool:
    """Whether a version's metrics hold a usable reference profile (models trained before it have none)."""
    if not isinstance(value, Mapping) or value.get("format") != FORMAT:
        return False
    score = value.get("score")
    return isinstance(score, Mapping) and isinstance(score.get("counts"), list) and bool(score["counts"]) and \
        all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in score["counts"]) and \
        not any(math.isnan(float(e)) for e in score.get("edges", []))
