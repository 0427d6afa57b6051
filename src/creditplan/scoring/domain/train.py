"""The training harness: one path from a labelled table to a compiled, measured artifact, for every kind.

The three kinds are scikit-learn estimators — ``ScorecardModel`` (scorecard.py), the model a credit
committee approves; ``TreeModel`` (trees.py), readable segments the decision engine can run as a decision
table; ``GbmModel`` (trees.py), the LightGBM challenger that shows how much accuracy the scorecard leaves
on the table. What every kind needs around ``fit`` is here, once:

1. the checks of the table and the 0/1 target, and the feature plan, decided on the whole table;
2. the stratified train / hold-out split (``train_test_split(stratify=y, random_state=seed)``), or a given
   hold-out;
3. ``fit`` on the training part (a clone of the estimator: the one passed in stays unfitted);
4. the metrics, computed by scoring the compiled artifact — so the numbers describe exactly what will
   serve decisions — and the ``training`` record written into the artifact (data fingerprint, split,
   seed, parameters, features, library versions), which is then validated;
5. the validation report of the result (``TrainResult.validation_report``);
6. the development sample's reference profile (``TrainResult.reference``, ``reference.build_reference``: score
   deciles, grade mix, each feature's bins with their counts) that monitoring in production compares each
   week's applications with; the registry keeps it in the version's metrics, not in the artifact.

``train_model(kind, X, y, …)`` is the CLI's ``--kind``; ``train_estimator(estimator, X, y, …)`` takes any
configured estimator.
"""

from __future__ import annotations

import importlib.metadata
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import has_fit_parameter

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain import metrics, report
from creditplan.scoring.domain.artifact import to_jsonable, validate_artifact
from creditplan.scoring.domain.data import (
    FeaturePlan,
    apply_feature_plan,
    build_feature_plan,
    data_fingerprint,
)
from creditplan.scoring.domain.estimator import (
    CreditModel,
    Progress,
    check_target,
    check_weights,
    noop_progress,
)
from creditplan.scoring.domain.reference import build_reference
from creditplan.scoring.domain.scorecard import ScorecardModel
from creditplan.scoring.domain.scorer import CompiledModel
from creditplan.scoring.domain.trees import GbmModel, TreeModel

#: The model kinds by name (the CLI's and the API's ``kind``).
ESTIMATORS: dict[str, type[CreditModel]] = {"scorecard": ScorecardModel, "tree": TreeModel, "gbm": GbmModel}

SPLIT = "sklearn.model_selection.train_test_split(stratify=y, random_state=seed)"


@dataclass
class TrainResult:
    """A trained model: its artifact, the summary the CLI prints, and what the report and benchmark need.

    ``model`` is the fitted estimator; ``X_train`` / ``X_holdout`` are model-ready frames
    (``apply_feature_plan`` output); ``train_rows`` / ``holdout_rows`` the positions in the input X of the
    training and hold-out rows (the hold-out ones empty with an explicit hold-out).
    """

    kind: str
    artifact: dict[str, Any]
    summary: dict[str, Any]
    plan: FeaturePlan
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_holdout: pd.DataFrame | None
    y_holdout: np.ndarray | None
    model: CreditModel
    train_rows: np.ndarray
    holdout_rows: np.ndarray
    reference: dict[str, Any] = field(default_factory=dict)
    """The development sample's profile for monitoring in production (``reference.build_reference`` over the
    training part): kept in the registered version's metrics, never in the artifact."""

    @property
    def estimator(self) -> Any:
        """The fitted library object (optbinning ``Scorecard``, sklearn tree, LightGBM booster)."""
        return self.model.library_model

    @property
    def scorecard(self) -> Any:
        """The fitted optbinning ``Scorecard`` (scorecard kind only)."""
        return self.estimator if self.kind == "scorecard" else None

    @property
    def extra(self) -> dict[str, Any]:
        """Scorecards: IV and the verdict on each feature; GBM: the monotone trend of each feature."""
        if self.kind == "scorecard":
            return {"iv": self.model.iv_, "selection": self.model.selection_}
        if self.kind == "gbm":
            return {"trends": self.model.monotone_trends_}
        return {}

    def compiled(self) -> CompiledModel:
        return CompiledModel.from_artifact(self.artifact)

    def validation_report(self) -> dict[str, Any]:
        """The report's measures on the training part and the hold-out (``report.build_report``)."""
        return report.build_report(
            self.compiled(), self.X_train, self.y_train, self.X_holdout, self.y_holdout
        )


def library_versions() -> dict[str, str]:
    out = {}
    for pkg in ("numpy", "pandas", "scikit-learn", "optbinning", "lightgbm"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "absent"
    return out


def make_estimator(kind: str, *, seed: int = 0, **params: Any) -> CreditModel:
    """The estimator of a kind (``scorecard`` | ``tree`` | ``gbm``); ``seed`` is its ``random_state`` unless
    ``params`` give one."""
    if kind not in ESTIMATORS:
        raise ValidationError(
            f"unknown model kind {kind!r}; use scorecard, tree or gbm", code="invalid_kind", field="kind"
        )
    cls = ESTIMATORS[kind]
    if "random_state" in cls().get_params(deep=False):
        params.setdefault("random_state", seed)
    return cls(**params)


def _check_xy(X: pd.DataFrame, y: Any, holdout: float) -> np.ndarray:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError("features must be a pandas DataFrame", code="invalid_data", field="data")
    yy = check_target(y, len(X))
    if X.shape[1] == 0:
        raise ValidationError("the data has no feature columns", code="no_usable_feature", field="data")
    if not 0.0 <= float(holdout) < 0.9:
        raise ValidationError(
            "holdout must be a share between 0 and 0.9", code="invalid_holdout", field="holdout"
        )
    return yy


def _split(n: int, y: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    if holdout <= 0:
        return idx, np.array([], dtype=np.int64)
    tr, ho = train_test_split(idx, test_size=holdout, stratify=y, random_state=seed)
    return np.asarray(tr), np.asarray(ho)


def _metric_block(y: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    auc = metrics.auc(y, risk)
    return {
        "auc": round(auc, 6),
        "ks": round(metrics.ks(y, risk), 6),
        "gini": round(2 * auc - 1, 6),
        "rows": int(y.size),
        "bad_rate": round(float(y.mean()), 6),
    }


def train_estimator(
    estimator: CreditModel,
    X: pd.DataFrame,
    y: Any,
    *,
    seed: int = 0,
    holdout: float = 0.3,
    holdout_data: tuple[pd.DataFrame, Any] | None = None,
    sample_weight: Any = None,
    name: str | None = None,
    target: str | None = None,
    bad_value: Any = None,
    fingerprint: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Split, fit a clone of ``estimator``, measure the compiled artifact and write its training record.

    ``holdout`` is the share held out (stratified, ``seed``); ``holdout_data`` = (X, y) replaces the random
    hold-out with a given one (all of X then trains). ``sample_weight`` weights the rows of X (scorecards).
    ``name`` names the artifact; ``target`` / ``bad_value`` / ``fingerprint`` are recorded as given
    (the fingerprint is computed from X and y when absent); ``progress(stage, fraction)`` is called as
    training goes.
    """
    started = time.perf_counter()
    (progress or noop_progress)("preparing features", 0.02)
    y_all = _check_xy(X, y, holdout)
    weights = check_weights(sample_weight, len(X))
    if weights is not None and not has_fit_parameter(estimator, "sample_weight"):
        raise ValidationError(
            f"a {estimator.kind} model takes no sample weights", code="invalid_weights", field="sample_weight"
        )
    given = estimator.get_params(deep=False)
    plan = given["feature_plan"] or build_feature_plan(
        X, categorical=given["categorical"], numeric=given["numeric"], auto_features=given["auto_features"]
    )
    prepared = apply_feature_plan(X, plan)
    if holdout_data is not None:
        y_holdout: np.ndarray | None = _check_xy(holdout_data[0], holdout_data[1], 0.0)
        X_holdout: pd.DataFrame | None = apply_feature_plan(holdout_data[0], plan)
        train_rows, holdout_rows = np.arange(len(prepared)), np.array([], dtype=np.int64)
        X_train, y_train, X_fit = prepared, y_all, X
    else:
        train_rows, holdout_rows = _split(len(prepared), y_all, holdout, seed)
        X_train, y_train = prepared.iloc[train_rows].reset_index(drop=True), y_all[train_rows]
        X_holdout = prepared.iloc[holdout_rows].reset_index(drop=True) if holdout_rows.size else None
        y_holdout = y_all[holdout_rows] if holdout_rows.size else None
        X_fit = X.iloc[train_rows]
    model: CreditModel = clone(estimator).set_params(feature_plan=plan)
    fit_params: dict[str, Any] = {"progress": progress}
    if weights is not None:
        fit_params["sample_weight"] = weights[train_rows]
    model.fit(X_fit, y_train, **fit_params)

    compiled = model.compiled_
    scored_train = compiled.score_frame(X_train, reasons=False)
    block = {"train": _metric_block(y_train, scored_train.pd)}
    if X_holdout is not None and y_holdout is not None and y_holdout.size:
        block["holdout"] = _metric_block(y_holdout, compiled.score_frame(X_holdout, reasons=False).pd)
    artifact: dict[str, Any] = to_jsonable(model.artifact_)
    if name:
        artifact["name"] = name
    fp = fingerprint or data_fingerprint(X.assign(__target__=y_all))
    dropped = dict(X.attrs.get("dropped", {}))
    rows_holdout = int(0 if y_holdout is None else y_holdout.size)
    artifact["training"] = to_jsonable(
        {
            "data_fingerprint": fp,
            "target": {"column": target, "bad_value": None if bad_value is None else str(bad_value)},
            "rows": int(y_all.size),
            "rows_train": int(y_train.size),
            "rows_holdout": rows_holdout,
            "bad_rate": round(float(y_all.mean()), 6),
            "holdout_share": float(holdout),
            "split": SPLIT,
            "seed": int(seed),
            "metrics": block,
            "features": model.features_info_,
            "params": model.training_params_,
            "dropped_columns": dropped,
            "created_at": artifact["created_at"],
            "libraries": library_versions(),
            "train_seconds": round(time.perf_counter() - started, 3),
        }
    )
    validate_artifact(artifact)
    summary = {
        "kind": model.kind,
        "name": artifact["name"],
        "rows": int(y_all.size),
        "rows_train": int(y_train.size),
        "rows_holdout": rows_holdout,
        "bad_rate": round(float(y_all.mean()), 6),
        "features": model.features_info_,
        "metrics": block,
        "derived_features": len(artifact.get("derived", [])),
        "dropped_columns": dropped,
        "data_fingerprint": fp,
        "train_seconds": artifact["training"]["train_seconds"],
    }
    reference = build_reference(compiled, X_train, scored_train.score, scored_train.grade, sample="train")
    (progress or noop_progress)("done", 1.0)
    return TrainResult(
        model.kind,
        artifact,
        summary,
        plan,
        X_train,
        y_train,
        X_holdout,
        y_holdout,
        model,
        train_rows,
        holdout_rows,
        reference,
    )


def train_model(
    kind: str,
    X: pd.DataFrame,
    y: Any,
    *,
    seed: int = 0,
    holdout: float = 0.3,
    holdout_data: tuple[pd.DataFrame, Any] | None = None,
    sample_weight: Any = None,
    name: str | None = None,
    target: str | None = None,
    bad_value: Any = None,
    fingerprint: str | None = None,
    progress: Progress | None = None,
    **params: Any,
) -> TrainResult:
    """``train_estimator`` with the estimator of ``kind`` (the CLI's ``--kind``) built from ``params``.

    ``seed`` drives the split and is the estimator's ``random_state`` (tree, gbm) unless ``params`` names one.
    """
    return train_estimator(
        make_estimator(kind, seed=seed, **params),
        X,
        y,
        seed=seed,
        holdout=holdout,
        holdout_data=holdout_data,
        sample_weight=sample_weight,
        name=name,
        target=target,
        bad_value=bad_value,
        fingerprint=fingerprint,
        progress=progress,
    )


def train_scorecard(X: pd.DataFrame, y: Any, **options: Any) -> TrainResult:
    """``train_model("scorecard", X, y, **options)``."""
    return train_model("scorecard", X, y, **options)


def train_tree(X: pd.DataFrame, y: Any, **options: Any) -> TrainResult:
    """``train_model("tree", X, y, **options)``."""
    return train_model("tree", X, y, **options)


def train_gbm(X: pd.DataFrame, y: Any, **options: Any) -> TrainResult:
    """``train_model("gbm", X, y, **options)``."""
    return train_model("gbm", X, y, **options)
