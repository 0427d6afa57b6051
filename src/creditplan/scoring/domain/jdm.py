"""A segmentation tree as a GoRules JDM decision table (JSON Decision Model) for the decision engine.

Why export: risk officers read and edit segments in the JDM editor, and the decision service runs them
with zen-engine, without Python model code in the request path. The graph is
``inputNode → decisionTableNode → outputNode``; the table has one input column per feature the tree uses,
one rule per leaf (hit policy ``first``; the rules are mutually exclusive anyway) and the outputs
``segment``, ``pd``, ``score`` and ``grade`` — the same numbers the compiled scorer gives.

Cell syntax (ZEN unary tests with ``$`` as the input value), chosen because every form evaluates
``null`` to false without error:

* numeric: ``$ <= 22.5``, ``$ > 22.5``, ``$ in (11.5..22.5]``;
* categorical: ``$ in ["A11", "A12"]``; the branch holding the riskiest categories is written
  ``not($ in [...])`` so a category never seen in training lands there, as in the scorer;
  numeric-looking categories are written as numbers (send ``2``, not ``"2"``);
* missing values follow the tree's learned direction: ``$ == null or <test>`` where missing values go,
  ``$ != null`` (or nothing, when the test already rejects null) where they do not.

Thresholds are compared as written; the scorer compares in float32 as scikit-learn does, which can only
differ for a value within float32 rounding of a threshold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain.scorer import CompiledModel

CONTENT_TYPE = "application/vnd.gorules.decision"


def _number(x: float) -> str:
    f = float(x)
    return str(int(f)) if f.is_integer() else repr(f)


def _literal(category: str) -> str:
    try:
        f = float(category)
    except ValueError:
        return json.dumps(category, ensure_ascii=False)
    return _number(f) if math.isfinite(f) else json.dumps(category, ensure_ascii=False)


def _numeric_test(lo: float, hi: float) -> str | None:
    if lo == -math.inf and hi == math.inf:
        return None
    if lo == -math.inf:
        return f"$ <= {_number(hi)}"
    if hi == math.inf:
        return f"$ > {_number(lo)}"
    return f"$ in ({_number(lo)}..{_number(hi)}]"


def _categorical_test(
    lo: float, hi: float, categories: list[str], unseen_code: int
) -> tuple[str | None, bool]:
    """The test for codes in (lo, hi]; the flag says whether it is a ``not(...)`` form (true for null)."""
    codes = range(len(categories))
    allowed = [c for c in codes if lo < c <= hi]
    if len(allowed) == len(categories):
        return None, False
    if unseen_code in allowed:
        banned = [_literal(categories[c]) for c in codes if c not in allowed]
        return f"not($ in [{', '.join(banned)}])", True
    return f"$ in [{', '.join(_literal(categories[c]) for c in allowed)}]", False


def _cell(feature: Mapping[str, Any], bound: dict[str, Any]) -> str:
    lo, hi, missing = bound["lo"], bound["hi"], bound["missing"]
    if feature["type"] == "categorical":
        test, negated = _categorical_test(lo, hi, feature["categories"], int(feature["unseen_code"]))
    else:
        test, negated = _numeric_test(lo, hi), False
    if missing:
        return "" if test is None else f"$ == null or {test}"
    if test is None:
        return "$ != null"
    return f"$ != null and {test}" if negated else test


def _describe(feature: Mapping[str, Any], cell: str) -> str:
    return f"{feature['name']}: {cell}"


def export_jdm(artifact: Mapping[str, Any], *, name: str | None = None) -> dict[str, Any]:
    """The JDM graph of a ``tree`` artifact (see the module docstring for the exact shape)."""
    model = CompiledModel.from_artifact(artifact)
    if model.kind != "tree":
        raise ValidationError(
            "only a segmentation tree (kind 'tree') exports to a decision table", code="not_a_tree"
        )
    derived = {d["name"] for d in artifact.get("derived", [])}
    feats: list[dict[str, Any]] = list(artifact["model_features"])
    if any(f["name"] in derived for f in feats):
        raise ValidationError(
            "the tree splits on derived features, which a decision table cannot compute; train it with auto_features=False",
            code="derived_feature_in_tree",
        )
    ens = artifact["ensemble"]
    left, right = ens["left"], ens["right"]
    feature, threshold, default_left = ens["feature"], ens["threshold"], ens["default_left"]
    counts = ens.get("node_count")
    bads = ens.get("node_bad")
    used = sorted({int(feature[i]) for i in range(len(left)) if left[i] != i})
    leaves: list[tuple[int, dict[int, dict[str, Any]]]] = []

    def walk(node: int, bounds: dict[int, dict[str, Any]]) -> None:
        if left[node] == node:
            leaves.append((node, bounds))
            return
        f, t, d = int(feature[node]), float(threshold[node]), bool(default_left[node])
        base = bounds.get(f, {"lo": -math.inf, "hi": math.inf, "missing": True})
        lb = {**bounds, f: {"lo": base["lo"], "hi": min(base["hi"], t), "missing": base["missing"] and d}}
        rb = {**bounds, f: {"lo": max(base["lo"], t), "hi": base["hi"], "missing": base["missing"] and not d}}
        walk(int(left[node]), lb)
        walk(int(right[node]), rb)

    walk(int(ens["roots"][0]), {})
    values = np.array([float(ens["value"][leaf]) for leaf, _ in leaves])
    pd_ = model._calibrate(values)
    scores = model.scaling.score_from_pd(pd_)
    grades, _ = model._grade(pd_)
    order = np.argsort(pd_, kind="mergesort")  # best segment first: easier to read
    in_ids = {f: f"in_{feats[f]['name']}" for f in used}
    rules = []
    for rank, k in enumerate(order, start=1):
        leaf, bounds = leaves[int(k)]
        rule: dict[str, Any] = {"_id": f"rule_{rank}"}
        parts = []
        for f in used:
            cell = _cell(feats[f], bounds[f]) if f in bounds else ""
            rule[in_ids[f]] = cell
            if cell:
                parts.append(_describe(feats[f], cell))
        stats = ""
        if counts is not None and bads is not None:
            n, b = float(counts[leaf]), float(bads[leaf])
            stats = f" (training: {int(round(n))} rows, bad rate {b / max(n, 1):.1%})"
        rule["_description"] = "; ".join(parts) + stats
        rule["out_segment"] = json.dumps(f"S{rank}")
        rule["out_pd"] = repr(float(pd_[k]))
        rule["out_score"] = repr(round(float(scores[k]), 2))
        rule["out_grade"] = json.dumps(str(grades[k]))
        rules.append(rule)
    title = name or str(artifact.get("name", "segments"))
    return {
        "contentType": CONTENT_TYPE,
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 80, "y": 200}},
            {
                "id": "segments",
                "type": "decisionTableNode",
                "name": title,
                "position": {"x": 380, "y": 200},
                "content": {
                    "hitPolicy": "first",
                    "inputs": [
                        {
                            "id": in_ids[f],
                            "type": "expression",
                            "field": feats[f]["name"],
                            "name": feats[f]["name"],
                        }
                        for f in used
                    ],
                    "outputs": [
                        {"id": "out_segment", "type": "expression", "field": "segment", "name": "Segment"},
                        {"id": "out_pd", "type": "expression", "field": "pd", "name": "PD"},
                        {"id": "out_score", "type": "expression", "field": "score", "name": "Score"},
                        {"id": "out_grade", "type": "expression", "field": "grade", "name": "Grade"},
                    ],
                    "rules": rules,
                },
            },
            {"id": "response", "type": "outputNode", "name": "Response", "position": {"x": 700, "y": 200}},
        ],
        "edges": [
            {"id": "edge_request_segments", "sourceId": "request", "targetId": "segments", "type": "edge"},
            {"id": "edge_segments_response", "sourceId": "segments", "targetId": "response", "type": "edge"},
        ],
    }
