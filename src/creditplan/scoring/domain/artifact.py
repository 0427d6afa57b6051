"""The compiled model artifact, format ``creditplan.model/1``: a self-contained JSON document.

Why a compiled artifact rather than a pickle: what serves a credit decision must be readable by a model
reviewer, diffable, signable (its SHA-256 goes into the ledger) and scorable with numpy alone in the web
process, the CLI and Spark, years after the training libraries have moved on. The artifact therefore
holds everything scoring needs and nothing it must execute:

``format``        ``"creditplan.model/1"``
``kind``          ``"scorecard"`` | ``"tree"`` | ``"gbm"``
``inputs``        raw columns read, each ``{"name", "type": "numeric"|"categorical"}``
``derived``       features computed from inputs, each ``{"name", "op", "inputs"}`` (see ``features.py``)
``scaling``       ``{"pdo", "base_odds", "base_score", "factor", "offset"}``:
                  score = offset − factor · ln(odds of bad) = base_score at good:bad = base_odds, and
                  every ``pdo`` points double the odds. Higher score = lower risk.
``master_scale``  grades from best to worst, ``{"grade", "pd_max", "score_min"}``; a row gets the first
                  grade whose ``pd_max`` is at least its PD (``score_min`` is the same boundary in points)
``reason_texts``  ``{feature: {"en", "zh"}}`` customer-readable factor names
``scorecard``     (kind scorecard) ``{"intercept_points", "features": [...]}``; a numeric feature has
                  sorted ``splits`` (bin i holds splits[i-1] ≤ x < splits[i]; values below the first or
                  above the last split fall in the outer bins), ``points`` per bin, ``special_codes`` /
                  ``special_points`` and ``missing_points``; a categorical feature has ``bins`` (lists of
                  categories), ``points`` per bin, ``missing_points`` and ``unseen_bin`` — the bin with the
                  fewest points, the documented most conservative fallback for a category never seen in
                  training. ``stats`` keeps the training counts, event rates, WoE and IV per bin.
``model_features``/``ensemble``/``calibration`` (kinds tree and gbm) the features in model order
                  (categories encoded by training bad-rate rank, unseen → the riskiest code), every tree
                  flattened into arrays (``feature``, ``threshold``, ``left``, ``right``, ``value``,
                  ``default_left``, ``missing_type`` 0 none / 1 zero / 2 NaN; leaves point to themselves)
                  and the map from raw margin to probability (``platt``: pd = σ(a·margin + b); ``isotonic``:
                  linear interpolation through ``x``/``y``; ``none``: pd = σ(margin)).
``training``      metadata: data fingerprint, rows, bad rate, metrics, selected features, created_at,
                  library versions, seed.

Floats are plain JSON numbers (scores and PDs are not money); no NaN or infinity is ever written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from creditplan.core.errors import ValidationError

FORMAT = "creditplan.model/1"
KINDS = ("scorecard", "tree", "gbm")

#: Default master scale, best grade first: (grade, highest PD in the grade).
DEFAULT_MASTER_SCALE: tuple[tuple[str, float], ...] = (
    ("A", 0.02),
    ("B", 0.05),
    ("C", 0.10),
    ("D", 0.20),
    ("E", 0.35),
    ("F", 0.50),
    ("G", 1.0),
)


@dataclass(frozen=True)
class Scaling:
    """Points-to-odds scaling: ``base_score`` points at good:bad odds ``base_odds``, ``pdo`` points per doubling."""

    pdo: float = 20.0
    base_odds: float = 50.0
    base_score: float = 600.0

    def __post_init__(self) -> None:
        for name in ("pdo", "base_odds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValidationError(
                    f"{name} must be a positive number, got {value!r}", code="invalid_scaling", field=name
                )
        if not (isinstance(self.base_score, int | float) and math.isfinite(self.base_score)):
            raise ValidationError(
                f"base_score must be a number, got {self.base_score!r}",
                code="invalid_scaling",
                field="base_score",
            )

    @property
    def factor(self) -> float:
        return float(self.pdo / np.log(2))

    @property
    def offset(self) -> float:
        return float(self.base_score - self.factor * np.log(self.base_odds))

    def score_from_pd(self, pd: np.ndarray) -> np.ndarray:
        """Score of a PD: offset − factor · ln(pd / (1 − pd))."""
        p = np.clip(np.asarray(pd, dtype=np.float64), 1e-9, 1 - 1e-9)
        return self.offset - self.factor * np.log(p / (1.0 - p))

    def pd_from_score(self, score: np.ndarray) -> np.ndarray:
        """Inverse of ``score_from_pd``: σ((offset − score) / factor)."""
        z = (self.offset - np.asarray(score, dtype=np.float64)) / self.factor
        return 1.0 / (1.0 + np.exp(-z))

    def as_json(self) -> dict[str, float]:
        return {
            "pdo": float(self.pdo),
            "base_odds": float(self.base_odds),
            "base_score": float(self.base_score),
            "factor": self.factor,
            "offset": self.offset,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scaling:
        return cls(
            pdo=float(data["pdo"]), base_odds=float(data["base_odds"]), base_score=float(data["base_score"])
        )


def master_scale_json(
    scale: Sequence[tuple[str, float]] | Sequence[Mapping[str, Any]] | None, scaling: Scaling
) -> list[dict[str, Any]]:
    """Validate a master scale and add each grade's score boundary.

    Why both PD and score: credit policy speaks PD, loan officers speak points; the two boundaries are the
    same cut expressed twice, so they can never disagree.
    """
    items: list[tuple[str, float]] = []
    for entry in DEFAULT_MASTER_SCALE if scale is None else scale:
        if isinstance(entry, Mapping):
            items.append((str(entry["grade"]), float(entry["pd_max"])))
        else:
            items.append((str(entry[0]), float(entry[1])))
    if not items:
        raise ValidationError(
            "the master scale needs at least one grade", code="invalid_master_scale", field="master_scale"
        )
    grades = [g for g, _ in items]
    bounds = [b for _, b in items]
    if len(set(grades)) != len(grades):
        raise ValidationError(
            "grade names in the master scale must be unique",
            code="invalid_master_scale",
            field="master_scale",
        )
    if any(not (0 < b <= 1) for b in bounds) or any(
        b2 <= b1 for b1, b2 in zip(bounds, bounds[1:], strict=False)
    ):
        raise ValidationError(
            "master-scale PD bounds must increase strictly from the best grade to the worst, within (0, 1]",
            code="invalid_master_scale",
            field="master_scale",
        )
    if bounds[-1] < 1.0:
        bounds[-1] = 1.0  # the worst grade catches every PD
    out = []
    for grade, bound in zip(grades, bounds, strict=True):
        score_min = None if bound >= 1.0 else float(scaling.score_from_pd(np.array([bound]))[0])
        out.append({"grade": grade, "pd_max": float(bound), "score_min": score_min})
    return out


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types only: numpy scalars and arrays become Python numbers and lists; NaN is refused."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        if not math.isfinite(f):
            raise ValueError("NaN or infinity cannot be written to a model artifact")
        return f
    return obj


def dumps(artifact: Mapping[str, Any]) -> str:
    """Canonical JSON text of an artifact (sorted keys, UTF-8), the text whose SHA-256 identifies it."""
    return json.dumps(
        to_jsonable(artifact), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def save_artifact(artifact: Mapping[str, Any], path: str | Path) -> Path:
    """Write an artifact as indented UTF-8 JSON (readable in review, still canonical in content)."""
    validate_artifact(artifact)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(artifact), sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False)
    p.write_text(text + "\n", encoding="utf-8")
    return p


def load_artifact(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """An artifact from a dict, a JSON string or a file path, validated."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            p = Path(text)
            if not p.exists():
                raise ValidationError(
                    f"model file {text!r} does not exist", code="file_not_found", field="model"
                )
            text = p.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"the model file is not JSON: {exc.msg} at line {exc.lineno}",
                code="artifact_not_json",
                field="model",
            )
    validate_artifact(data)
    artifact: dict[str, Any] = data
    return artifact


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError(
        f"invalid model artifact at {path}: {message}", code="artifact_invalid", field="artifact"
    )


def _numbers(value: Any, path: str, *, finite: bool = True) -> list[float]:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise _fail(path, "expected a list of numbers")
    if finite and not all(math.isfinite(v) for v in value):
        raise _fail(path, "numbers must be finite")
    return [float(v) for v in value]


def validate_artifact(data: Any) -> None:
    """Check an artifact's structure; raises ``ValidationError(code="artifact_invalid")`` naming the place.

    Why strict: an artifact can be uploaded by hand; a malformed one must be refused at registration,
    not fail on the first application it scores.
    """
    if not isinstance(data, Mapping):
        raise _fail("$", "an artifact is a JSON object")
    if data.get("format") != FORMAT:
        raise _fail("format", f"expected {FORMAT!r}, got {data.get('format')!r}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise _fail("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    inputs = data.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _fail("inputs", "a non-empty list of input columns is required")
    names = set()
    for i, item in enumerate(inputs):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise _fail(f"inputs[{i}]", "each input needs a name")
        if item.get("type") not in ("numeric", "categorical"):
            raise _fail(f"inputs[{i}].type", "must be 'numeric' or 'categorical'")
        names.add(item["name"])
    from creditplan.scoring.domain.features import DERIVED_OPS

    for i, spec in enumerate(data.get("derived", [])):
        if not isinstance(spec, Mapping) or spec.get("op") not in DERIVED_OPS:
            raise _fail(f"derived[{i}]", f"op must be one of {', '.join(sorted(DERIVED_OPS))}")
        missing = [n for n in spec.get("inputs", []) if n not in names]
        if missing or not spec.get("inputs"):
            raise _fail(f"derived[{i}].inputs", f"unknown inputs {missing}")
        names.add(spec["name"])
    scaling = data.get("scaling")
    if not isinstance(scaling, Mapping):
        raise _fail("scaling", "scaling parameters are required")
    try:
        Scaling.from_json(scaling)
    except ValidationError as exc:
        raise _fail("scaling", exc.message)
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail("scaling", str(exc))
    scale = data.get("master_scale")
    if not isinstance(scale, list) or not scale:
        raise _fail("master_scale", "a non-empty list of grades is required")
    try:
        master_scale_json(scale, Scaling.from_json(scaling))
    except ValidationError as exc:
        raise _fail("master_scale", exc.message)
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail("master_scale", str(exc))
    if not isinstance(data.get("reason_texts", {}), Mapping):
        raise _fail("reason_texts", "must map feature names to {en, zh}")
    if kind == "scorecard":
        _validate_scorecard(data.get("scorecard"), names)
    else:
        _validate_ensemble(data, names)


def _validate_scorecard(section: Any, names: set[str]) -> None:
    if (
        not isinstance(section, Mapping)
        or not isinstance(section.get("features"), list)
        or not section["features"]
    ):
        raise _fail("scorecard.features", "a scorecard needs at least one feature")
    _numbers([section.get("intercept_points", 0.0)], "scorecard.intercept_points")
    for i, f in enumerate(section["features"]):
        path = f"scorecard.features[{i}]"
        if not isinstance(f, Mapping) or f.get("name") not in names:
            raise _fail(
                path,
                f"feature {f.get('name') if isinstance(f, Mapping) else f!r} is neither an input nor derived",
            )
        points = _numbers(f.get("points"), f"{path}.points")
        _numbers([f.get("missing_points")], f"{path}.missing_points")
        if f.get("type") == "numeric":
            splits = _numbers(f.get("splits"), f"{path}.splits")
            if any(b <= a for a, b in zip(splits, splits[1:], strict=False)):
                raise _fail(f"{path}.splits", "split points must increase strictly")
            if len(points) != len(splits) + 1:
                raise _fail(
                    f"{path}.points", f"{len(splits)} splits need {len(splits) + 1} points, got {len(points)}"
                )
            _numbers(f.get("special_codes", []), f"{path}.special_codes")
            _numbers([f.get("special_points", 0.0)], f"{path}.special_points")
        elif f.get("type") == "categorical":
            bins = f.get("bins")
            if not isinstance(bins, list) or len(bins) != len(points):
                raise _fail(f"{path}.bins", "one list of categories per points entry is required")
            seen: set[str] = set()
            for b in bins:
                if not isinstance(b, list) or not all(isinstance(c, str) for c in b):
                    raise _fail(f"{path}.bins", "each bin is a list of category strings")
                if seen & set(b):
                    raise _fail(f"{path}.bins", f"categories {sorted(seen & set(b))} appear in two bins")
                seen |= set(b)
            unseen = f.get("unseen_bin")
            if not isinstance(unseen, int) or not 0 <= unseen < len(points):
                raise _fail(f"{path}.unseen_bin", "must index a bin")
        else:
            raise _fail(f"{path}.type", "must be 'numeric' or 'categorical'")


def _validate_ensemble(data: Mapping[str, Any], names: set[str]) -> None:
    feats = data.get("model_features")
    if not isinstance(feats, list) or not feats:
        raise _fail("model_features", "the features in model order are required")
    for i, f in enumerate(feats):
        if not isinstance(f, Mapping) or f.get("name") not in names:
            raise _fail(f"model_features[{i}]", "unknown feature")
        if f.get("type") == "categorical":
            cats = f.get("categories")
            if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
                raise _fail(f"model_features[{i}].categories", "a list of category strings is required")
    ens = data.get("ensemble")
    if not isinstance(ens, Mapping):
        raise _fail("ensemble", "the flattened trees are required")
    arrays = {}
    for key in ("feature", "threshold", "left", "right", "value"):
        arrays[key] = _numbers(ens.get(key), f"ensemble.{key}")
    n = len(arrays["value"])
    for key in ("feature", "threshold", "left", "right"):
        if len(arrays[key]) != n:
            raise _fail(f"ensemble.{key}", f"expected {n} entries")
    for key in ("default_left", "missing_type"):
        if not isinstance(ens.get(key), list) or len(ens[key]) != n:
            raise _fail(f"ensemble.{key}", f"expected {n} entries")
    roots = _numbers(ens.get("roots"), "ensemble.roots")
    idx = roots + arrays["left"] + arrays["right"]
    if any(v < 0 or v >= n or v != int(v) for v in idx):
        raise _fail("ensemble", "node references out of range")
    if any(v < 0 or v >= len(feats) or v != int(v) for v in arrays["feature"]):
        raise _fail("ensemble.feature", "feature index out of range")
    if not isinstance(ens.get("depth"), int) or ens["depth"] < 0:
        raise _fail("ensemble.depth", "a non-negative integer is required")
    cal = data.get("calibration", {"method": "none"})
    method = cal.get("method") if isinstance(cal, Mapping) else None
    if method not in ("none", "platt", "isotonic"):
        raise _fail("calibration.method", "must be none, platt or isotonic")
    if method == "platt":
        _numbers([cal.get("a"), cal.get("b")], "calibration")
    if method == "isotonic":
        x = _numbers(cal.get("x"), "calibration.x")
        y = _numbers(cal.get("y"), "calibration.y")
        if len(x) != len(y) or len(x) < 2 or any(b < a for a, b in zip(x, x[1:], strict=False)):
            raise _fail("calibration", "isotonic breakpoints must be sorted pairs")
