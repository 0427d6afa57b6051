"""What the three model kinds share as scikit-learn estimators: input checks, the feature plan, the artifact.

Why scikit-learn's shape: a model is then configured by its parameters alone (``get_params`` /
``set_params`` / ``clone`` work, a grid search or a pipeline can hold it), ``fit(X, y)`` is the only step
that learns, and what it learns is in attributes ending in ``_``. The training harness (``train.py``) adds
only what every kind needs around ``fit``: the hold-out split, the metrics and the training record.

Each estimator compiles itself during ``fit``: ``artifact_`` is the ``creditplan.model/1`` document
(without the ``training`` record, which the harness adds) and ``compiled_`` its numpy scorer, so
``predict_proba`` gives exactly the PDs that will serve decisions — not the training library's.

The target is the credit convention, not a free label: 1 = bad (default), 0 = good. A model can only
be binary, and labels such as ``"good"`` / ``"bad"`` are refused rather than guessed (scikit-learn would
take the alphabetically second label as the positive class, which would turn ``"good"`` into the event).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.validation import check_is_fitted

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain.artifact import FORMAT, Scaling, master_scale_json, to_jsonable
from creditplan.scoring.domain.data import FeaturePlan, apply_feature_plan, build_feature_plan
from creditplan.scoring.domain.reason_texts import reason_text
from creditplan.scoring.domain.scorer import CompiledModel

Progress = Callable[[str, float], None]


class ModelInputError(ValidationError, ValueError):
    """Input an estimator cannot use: a ``ValidationError`` with a stable code for the edges (CLI, API,
    pages), and a ``ValueError`` as scikit-learn expects of an estimator refusing its input."""


@contextmanager
def refusing_as_value_errors() -> Any:
    """In ``fit``: a ``ValidationError`` (bad scaling, master scale, column) becomes a ``ModelInputError``."""
    try:
        yield
    except ModelInputError:
        raise
    except ValidationError as exc:
        raise ModelInputError(exc.message, code=exc.code, field=exc.field, extra=exc.extra) from exc


def noop_progress(_stage: str, _fraction: float) -> None:
    return None


def target_labels(y: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The target as int8 0/1 (1 = bad) and its two labels (``classes_``), or a ``ModelInputError``.

    0 / 1 is the credit convention. Any other pair of numbers is read the scikit-learn way, the larger one
    being the event (bad). Text labels are refused: which of "good" / "bad" is the event cannot be read
    from their order.
    """
    if y is None:
        raise ModelInputError(
            "this model requires y to be passed, but the target y is None",
            code="invalid_target",
            field="target",
        )
    yy = np.asarray(y)
    if yy.ndim == 2 and yy.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was flattened",
            DataConversionWarning,
            stacklevel=3,
        )
        yy = yy.ravel()
    if yy.ndim != 1 or yy.shape[0] != n_rows:
        raise ModelInputError(
            f"target has {yy.shape[0] if yy.ndim else 0} values for {n_rows} rows",
            code="target_length",
            field="target",
        )
    if yy.dtype.kind == "O" and all(isinstance(v, numbers.Real) for v in yy.tolist()):
        yy = yy.astype(np.float64)  # numbers held as Python objects (an object column of 0 / 1)
    if yy.dtype.kind not in "biuf":
        raise ModelInputError(
            "Unknown label type: the target must be numbers, 0 (good) / 1 (bad), not text; "
            "use prepare_target",
            code="invalid_target",
            field="target",
        )
    if yy.dtype.kind == "f":
        if not np.all(np.isfinite(yy)):
            raise ModelInputError(
                "Input y contains NaN or infinity: the target must be 0 (good) or 1 (bad) on every row",
                code="invalid_target",
                field="target",
            )
        if not np.all(np.mod(yy, 1) == 0):
            raise ModelInputError(
                "Unknown label type: the target must be 0 (good) or 1 (bad), not a continuous value; "
                "use prepare_target",
                code="invalid_target",
                field="target",
            )
    classes = np.unique(yy)
    if classes.size > 2:
        raise ModelInputError(
            f"Only binary classification is supported. The target has {classes.size} distinct values; "
            "it must be 0 (good) / 1 (bad) (use prepare_target)",
            code="invalid_target",
            field="target",
        )
    if classes.size < 2:
        raise ModelInputError(
            "the target has only one class; a model needs both good (0) and bad (1) outcomes",
            code="single_class",
            field="target",
        )
    return (yy == classes[1]).astype(np.int8), classes


def check_target(y: Any, n_rows: int) -> np.ndarray:
    """The target as int8 0/1 where it is 0 (good) / 1 (bad) exactly, as ``data.prepare_target`` makes it."""
    y01, classes = target_labels(y, n_rows)
    if classes[0] != 0 or classes[1] != 1:
        raise ModelInputError(
            "the target must be 0 (good) / 1 (bad); use prepare_target", code="invalid_target", field="target"
        )
    return y01


def check_weights(sample_weight: Any, n_rows: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_rows,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ModelInputError(
            "sample weights must be finite, non-negative, one per row",
            code="invalid_weights",
            field="sample_weight",
        )
    return w


def base_artifact(
    kind: str,
    plan: FeaturePlan,
    used: Sequence[str],
    scaling: Scaling,
    master_scale: Any,
    name: str | None,
) -> dict[str, Any]:
    """What every kind's artifact has; inputs and derived features pruned to what the model uses."""
    used_set = set(used)
    derived = [d for d in plan.derived if d["name"] in used_set]
    needed = {n for n in used if n in plan.types} | {i for d in derived for i in d["inputs"]}
    inputs = [{"name": n, "type": t} for n, t in plan.types.items() if n in needed]
    specs = {d["name"]: d for d in plan.derived}
    return {
        "format": FORMAT,
        "kind": kind,
        "name": name or f"{kind}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": inputs,
        "derived": derived,
        "scaling": scaling.as_json(),
        "master_scale": master_scale_json(master_scale, scaling),
        "reason_texts": {f: reason_text(f, specs.get(f)) for f in used},
    }


class CreditModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no type hints
    """The common part of ``ScorecardModel``, ``TreeModel`` and ``GbmModel``.

    Parameters every kind has (each subclass's ``__init__`` lists them, as scikit-learn requires):

    * ``pdo``, ``base_odds``, ``base_score`` — the points scale: ``base_score`` points at good:bad odds of
      ``base_odds``, ``pdo`` more points per doubling of the odds;
    * ``master_scale`` — grades as ``[(grade, highest PD), …]`` from best to worst (None: A…G);
    * ``categorical``, ``numeric``, ``auto_features`` — how ``fit`` decides the feature plan
      (``data.build_feature_plan``), unless ``feature_plan`` gives one: the harness decides the plan on
      the whole table before the split, so the hold-out's columns are read the way training read them.

    ``X`` is a DataFrame of raw columns (text, numbers, missing values — no preparation needed) or a 2-D
    array (its columns are then named ``x0``, ``x1``, …). Learned attributes: ``classes_`` (the two labels),
    ``n_features_in_``, ``feature_names_in_`` (DataFrame input), ``feature_plan_``, ``scaling_``,
    ``features_`` (the features the model reads), ``features_info_`` and ``training_params_`` (what the
    training record shows), ``artifact_`` and ``compiled_``, and each kind's own.
    """

    kind: ClassVar[str]

    pdo: float
    base_odds: float
    base_score: float
    master_scale: Any
    categorical: Iterable[str]
    numeric: Iterable[str]
    auto_features: bool
    feature_plan: FeaturePlan | None

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value takes its bin (scorecard) or learned direction
        tags.input_tags.string = True  # categories may be text
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False  # 1 = bad, 0 = good
        return tags

    # --- input -------------------------------------------------------------------------------------------

    @staticmethod
    def _as_frame(X: Any) -> pd.DataFrame:
        if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
            raise ModelInputError(
                "sparse input is not supported: pass a DataFrame or a dense 2-D array",
                code="invalid_data",
                field="data",
            )
        if isinstance(X, pd.DataFrame):
            if all(isinstance(c, str) for c in X.columns):
                return X
            return X.set_axis([str(c) for c in X.columns], axis=1)
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ModelInputError(
                f"Expected a 2-D table of features, got an array of {arr.ndim} dimension(s). "
                "Reshape your data: "
                "reshape(-1, 1) for a single feature, reshape(1, -1) for a single row",
                code="invalid_data",
                field="data",
            )
        if arr.dtype.kind == "c":
            raise ModelInputError("Complex data not supported", code="invalid_data", field="data")
        return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])

    def _prepare_fit(
        self, X: Any, y: Any, sample_weight: Any, progress: Progress | None
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, FeaturePlan, Scaling, Progress]:
        """Check the input, decide the plan, and return the model-ready frame (``apply_feature_plan``)."""
        report = progress or noop_progress
        frame = self._as_frame(X)
        yy, classes = target_labels(y, len(frame))
        if frame.shape[1] == 0:
            raise ModelInputError(
                f"the data has 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required.",
                code="no_usable_feature",
                field="data",
            )
        weights = check_weights(sample_weight, len(frame))
        if weights is not None and not weights.any():
            raise ModelInputError(
                "the sample weights are all zero; weight at least one good and one bad row",
                code="invalid_weights",
                field="sample_weight",
            )
        if weights is not None and min(weights[yy == 0].sum(), weights[yy == 1].sum()) <= 0:
            raise ModelInputError(
                "only one class has a positive sample weight; "
                "a model needs both good (0) and bad (1) outcomes",
                code="single_class",
                field="sample_weight",
            )
        scaling = Scaling(
            pdo=float(self.pdo), base_odds=float(self.base_odds), base_score=float(self.base_score)
        )
        master_scale_json(self.master_scale, scaling)  # refuse a bad master scale before training
        plan = self.feature_plan
        if plan is None:
            plan = build_feature_plan(
                frame, categorical=self.categorical, numeric=self.numeric, auto_features=self.auto_features
            )
        Xm = apply_feature_plan(frame, plan).reset_index(drop=True)
        self.n_features_in_ = frame.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.feature_plan_ = plan
        self.scaling_ = scaling
        self.classes_ = classes
        return Xm, yy, weights, plan, scaling, report

    def _compile(self, used: Sequence[str], sections: dict[str, Any]) -> None:
        """The artifact of what fit learned (``training`` comes from the harness) and its scorer."""
        artifact = base_artifact(self.kind, self.feature_plan_, used, self.scaling_, self.master_scale, None)
        artifact.update(sections)
        self.features_ = list(used)
        self.artifact_: dict[str, Any] = to_jsonable(artifact)
        self.compiled_ = CompiledModel.from_artifact(self.artifact_)

    def _scoring_frame(self, X: Any) -> Any:
        check_is_fitted(self, "compiled_")
        if isinstance(X, pd.DataFrame):
            frame = self._as_frame(X)
            missing = [c for c in self.compiled_.required_inputs if c not in frame.columns]
            if missing:
                raise ModelInputError(
                    f"the data lacks the model's input columns: {', '.join(missing)}",
                    code="missing_columns",
                    field="data",
                )
            return frame
        frame = self._as_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ModelInputError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input",
                code="missing_columns",
                field="data",
            )
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            warnings.warn(
                f"X does not have valid feature names, but {type(self).__name__} was fitted with "
                "feature names",
                UserWarning,
                stacklevel=3,
            )
            frame.columns = [str(n) for n in names]
        return frame

    # --- prediction --------------------------------------------------------------------------------------

    def predict_proba(self, X: Any) -> np.ndarray:
        """[P(good), P(bad)] per row, computed by the compiled artifact (what serves decisions)."""
        frame = self._scoring_frame(X)
        pd_ = self.compiled_.score_frame(frame, reasons=False).pd
        return np.column_stack([1.0 - pd_, pd_])

    def predict(self, X: Any) -> np.ndarray:
        """The bad label (1) where the PD is above one half, else the good one (decisions cut on scores)."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[(proba[:, 1] > 0.5).astype(np.intp)])

    def score_frame(self, X: Any) -> Any:
        """Score, PD, grade, reasons and warnings per row (``scorer.ScoreResult``)."""
        frame = self._scoring_frame(X)
        return self.compiled_.score_frame(frame)

    @property
    def library_model(self) -> Any:
        """The fitted library object (optbinning ``Scorecard``, scikit-learn tree, LightGBM booster)."""
        raise NotImplementedError  # pragma: no cover - each kind implements it
