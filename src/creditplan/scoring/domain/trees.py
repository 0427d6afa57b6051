"""Tree models: a shallow segmentation tree (scikit-learn) and a LightGBM challenger, compiled to flat arrays.

Why trees beside the scorecard: the tree gives readable segments that the decision engine can run as a
GoRules decision table (``jdm.export_jdm``); the LightGBM challenger shows how much accuracy the scorecard
leaves on the table and can run on a share of traffic. Both read categories as their training bad-rate
rank and compile every tree into the artifact's flat arrays, which the numpy scorer walks
(``scorer.CompiledModel``). ``TreeModel`` and ``GbmModel`` are scikit-learn estimators
(``estimator.CreditModel``); the harness (``train.py``) splits, measures and records them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from creditplan.scoring.domain import metrics
from creditplan.scoring.domain.artifact import to_jsonable
from creditplan.scoring.domain.data import FeaturePlan
from creditplan.scoring.domain.estimator import (
    CreditModel,
    ModelInputError,
    Progress,
    refusing_as_value_errors,
)
from creditplan.scoring.domain.features import CategoryLookup
from creditplan.scoring.domain.scorecard import binning_process

#: The deepest segmentation tree: every leaf is one row of a decision table a credit officer reads.
MAX_TREE_DEPTH = 3


# --- shared encoding and compilation ------------------------------------------------------------------


def rank_encoding(
    Xtr: pd.DataFrame, ytr: np.ndarray, plan: FeaturePlan, names: Sequence[str], *, prior: float = 20.0
) -> dict[str, list[str]]:
    """Categories ordered by smoothed training bad rate (ties by name): a category's code is its rank.

    Why rank encoding: a split ``code <= 2.5`` is then a set of categories with similar risk, the same
    grouping the WoE binning would make, and an unseen category can take the riskiest code. The rate is
    shrunk towards the overall bad rate with ``prior`` pseudo-rows, so a category seen twice does not jump
    to either end of the order.
    """
    enc = {}
    overall = float(np.mean(ytr))
    for n in names:
        if plan.feature_type(n) != "categorical":
            continue
        cats = Xtr[n].to_numpy(dtype=object)
        present = np.array([c is not None for c in cats], dtype=bool)
        stats = (
            pd.Series(ytr[present], dtype=np.float64).groupby(cats[present].astype(str)).agg(["sum", "size"])
        )
        rate = (stats["sum"] + prior * overall) / (stats["size"] + prior)
        enc[n] = sorted(rate.index, key=lambda c: (float(rate[c]), c))
    return enc


def encode(X: pd.DataFrame, names: Sequence[str], enc: dict[str, list[str]]) -> np.ndarray:
    """The model matrix the trees see; the compiled scorer builds the same one (``_EnsembleFeature``)."""
    out = np.empty((len(X), len(names)), dtype=np.float64)
    for j, n in enumerate(names):
        if n in enc:
            table = np.concatenate(
                [np.arange(len(enc[n]), dtype=np.float64), [np.nan, float(len(enc[n]) - 1)]]
            )
            out[:, j] = table[CategoryLookup(enc[n]).codes(X[n].to_numpy(dtype=object))]
        else:
            out[:, j] = X[n].to_numpy(dtype=np.float64)
    return out


def model_features(
    names: Sequence[str], enc: dict[str, list[str]], Xtr: pd.DataFrame
) -> list[dict[str, Any]]:
    feats = []
    for n in names:
        if n in enc:
            feats.append(
                {"name": n, "type": "categorical", "categories": enc[n], "unseen_code": len(enc[n]) - 1}
            )
        else:
            col = Xtr[n].to_numpy(dtype=np.float64)
            finite = col[np.isfinite(col)]
            feats.append(
                {
                    "name": n,
                    "type": "numeric",
                    "train_min": float(finite.min()) if finite.size else None,
                    "train_max": float(finite.max()) if finite.size else None,
                }
            )
    return feats


def flatten_lightgbm(dump: dict[str, Any]) -> dict[str, Any]:
    """LightGBM's ``dump_model()`` trees as flat arrays; leaves point to themselves."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    default_left: list[bool] = []
    missing_type: list[int] = []
    roots: list[int] = []
    depth = 0
    mt_code = {"None": 0, "Zero": 1, "NaN": 2}

    def visit(node: dict[str, Any], level: int) -> int:
        nonlocal depth
        i = len(value)
        feature.append(0)
        threshold.append(0.0)
        left.append(i)
        right.append(i)
        default_left.append(True)
        missing_type.append(0)
        if "leaf_value" in node or "split_feature" not in node:
            value.append(float(node.get("leaf_value", 0.0)))
            depth = max(depth, level)
            return i
        if node.get("decision_type", "<=") != "<=":
            raise ModelInputError(
                "categorical LightGBM splits are not compiled; encode categories first",
                code="unsupported_split",
            )
        value.append(float(node.get("internal_value", 0.0)))
        feature[i] = int(node["split_feature"])
        threshold[i] = float(node["threshold"])
        default_left[i] = bool(node.get("default_left", True))
        missing_type[i] = mt_code[node.get("missing_type", "None")]
        left[i] = visit(node["left_child"], level + 1)
        right[i] = visit(node["right_child"], level + 1)
        return i

    for tree in dump["tree_info"]:
        roots.append(visit(tree["tree_structure"], 0))
    return {
        "n_trees": len(roots),
        "roots": roots,
        "feature": feature,
        "threshold": threshold,
        "left": left,
        "right": right,
        "value": value,
        "default_left": default_left,
        "missing_type": missing_type,
        "depth": depth,
        "precision": "float64",
        "base": 0.0,
    }


def flatten_sklearn_tree(tree: Any) -> dict[str, Any]:
    """A fitted sklearn decision tree as one flat tree whose node values are smoothed log-odds of bad."""
    t = tree.tree_
    n = t.node_count
    frac = t.value[:, 0, :]
    frac = frac / frac.sum(axis=1, keepdims=True)
    counts = t.n_node_samples.astype(np.float64)
    bad = frac[:, list(tree.classes_).index(1)] * counts
    p = (bad + 0.5) / (counts + 1.0)  # Jeffreys-style smoothing: no leaf is ever certain
    value = np.log(p / (1 - p))
    left = np.where(t.children_left < 0, np.arange(n), t.children_left)
    right = np.where(t.children_right < 0, np.arange(n), t.children_right)
    leaf = t.children_left < 0
    missing_left = getattr(t, "missing_go_to_left", np.ones(n, dtype=np.uint8))

    def node_depth(i: int) -> int:
        return 0 if leaf[i] else 1 + max(node_depth(int(left[i])), node_depth(int(right[i])))

    return {
        "n_trees": 1,
        "roots": [0],
        "feature": np.where(leaf, 0, t.feature).astype(int),
        "threshold": np.where(leaf, 0.0, t.threshold),
        "left": left.astype(int),
        "right": right.astype(int),
        "value": value,
        "default_left": missing_left.astype(bool),
        "missing_type": np.where(leaf, 0, 2).astype(int),
        "depth": node_depth(0),
        "precision": "float32",
        "base": 0.0,
        "node_count": counts,
        "node_bad": bad,
    }


# --- tree ---------------------------------------------------------------------------------------------------


class TreeModel(CreditModel):
    """A shallow decision tree (depth ≤ 3) for segmentation: each leaf is a segment with its own PD.

    Why shallow: every leaf becomes one row of a decision table that a credit officer reads and the
    decision engine runs (``jdm.export_jdm``). Categories are split as bad-rate-ranked groups
    (``rank_encoding``); missing values follow scikit-learn's learned direction. The leaf PD is the
    smoothed training bad rate. ``min_samples_leaf`` below 1 is a share of the training rows, from 1 up a
    count; ``random_state`` is the tree's seed.

    Learned, besides ``CreditModel``'s: ``classifier_`` (the fitted ``DecisionTreeClassifier``, on every
    feature of the plan), ``categories_`` (each categorical feature's categories in code order) and
    ``n_leaves_``.
    """

    kind = "tree"

    def __init__(
        self,
        *,
        pdo: float = 20,
        base_odds: float = 50,
        base_score: float = 600,
        master_scale: Any = None,
        categorical: Iterable[str] = (),
        numeric: Iterable[str] = (),
        auto_features: bool = False,
        feature_plan: FeaturePlan | None = None,
        max_depth: int = 3,
        min_samples_leaf: float = 0.05,
        random_state: int | None = 0,
    ) -> None:
        self.pdo = pdo
        self.base_odds = base_odds
        self.base_score = base_score
        self.master_scale = master_scale
        self.categorical = categorical
        self.numeric = numeric
        self.auto_features = auto_features
        self.feature_plan = feature_plan
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    @property
    def library_model(self) -> Any:
        return self.classifier_

    def fit(self, X: Any, y: Any, *, progress: Progress | None = None) -> Self:
        from sklearn.tree import DecisionTreeClassifier

        with refusing_as_value_errors():
            if not 1 <= int(self.max_depth) <= MAX_TREE_DEPTH:
                raise ModelInputError(
                    f"max_depth must be between 1 and {MAX_TREE_DEPTH}",
                    code="invalid_depth",
                    field="max_depth",
                )
            Xtr, ytr, _w, plan, _scaling, report = self._prepare_fit(X, y, None, progress)
            names = plan.feature_names
            enc = rank_encoding(Xtr, ytr, plan, names)
            Xm = encode(Xtr, names, enc)
            report("growing the tree", 0.3)
            share = self.min_samples_leaf
            leaf = max(1, int(round(share * len(Xtr)))) if share < 1 else int(share)
            tree = DecisionTreeClassifier(
                max_depth=int(self.max_depth), min_samples_leaf=leaf, random_state=self.random_state
            )
            tree.fit(Xm, ytr)
            flat = flatten_sklearn_tree(tree)
            is_leaf = np.asarray(flat["left"]) == np.arange(len(flat["left"]))
            used_idx = sorted({int(f) for f, lf in zip(flat["feature"], is_leaf, strict=True) if not lf})
            if not used_idx:
                raise ModelInputError(
                    "the tree found no split; the features do not separate good from bad",
                    code="no_usable_feature",
                    field="data",
                )
            remap = {old: new for new, old in enumerate(used_idx)}
            flat["feature"] = [
                remap.get(int(f), 0) if not lf else 0 for f, lf in zip(flat["feature"], is_leaf, strict=True)
            ]
            used = [names[i] for i in used_idx]
            report("compiling the artifact", 0.8)
            node_count, node_bad = flat.pop("node_count"), flat.pop("node_bad")
            ensemble = to_jsonable(flat)
            ensemble["node_count"] = to_jsonable(node_count)
            ensemble["node_bad"] = to_jsonable(node_bad)
            self.classifier_ = tree
            self.categories_ = enc
            self.n_leaves_ = int(is_leaf.sum())
            importance = dict(zip(names, tree.feature_importances_, strict=True))
            self.features_info_ = [{"name": n, "importance": round(float(importance[n]), 6)} for n in used]
            self.training_params_ = {
                "max_depth": int(self.max_depth),
                "min_samples_leaf": leaf,
                "auto_features": self.auto_features,
                "leaves": self.n_leaves_,
            }
            self._compile(
                used,
                {
                    "model_features": model_features(used, enc, Xtr),
                    "ensemble": ensemble,
                    "calibration": {"method": "none"},
                },
            )
        return self


# --- gbm ----------------------------------------------------------------------------------------------------


def monotone_trends(
    Xtr: pd.DataFrame, ytr: np.ndarray, plan: FeaturePlan, names: Sequence[str]
) -> dict[str, int]:
    """+1 / −1 where the scorecard binning, left free to choose its shape, finds risk rising / falling.

    Why free: the scorecard itself forces a direction on every numeric feature; to decide where a monotone
    constraint is justified, the binning runs with ``monotonic_trend="auto"`` (which may also choose a peak
    or a valley) and only strictly ascending or descending event rates across ≥ 2 bins count.
    """
    numeric = [n for n in names if plan.feature_type(n) == "numeric"]
    trends = dict.fromkeys(names, 0)
    if not numeric:
        return trends
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bp = binning_process(numeric, plan, monotonic_trend="auto", special_codes=None)
        bp.fit(Xtr[numeric], ytr)
        for n in numeric:
            optb = bp.get_binned_variable(n)
            nb = len(optb.splits) + 1
            if nb < 2:
                continue
            rates = optb.binning_table.build()["Event rate"].to_numpy(dtype=np.float64)[:nb]
            d = np.diff(rates)
            if np.all(d > 0):
                trends[n] = 1
            elif np.all(d < 0):
                trends[n] = -1
    return trends


class GbmModel(CreditModel):
    """LightGBM challenger, monotone where the binning finds a monotone trend, Platt-calibrated.

    The number of boosting rounds is chosen by ``folds``-fold cross-validation with early stopping on the
    rows ``fit`` is given (the harness's hold-out stays untouched); the out-of-fold margins fit the Platt
    calibration (pd = σ(a·margin + b)), and the final model is refitted on all of them. ``monotone``: a
    numeric feature whose binning finds strictly rising / falling risk is constrained that way
    (``monotone_trends``). ``random_state`` seeds LightGBM and the folds (None is read as 0: training is
    always reproducible); ``n_jobs`` threads (None: the CPUs, at most 8). The compiled trees are checked
    against ``Booster.predict(raw_score=True)`` before ``fit`` returns.

    Learned, besides ``CreditModel``'s: ``booster_`` (the LightGBM ``Booster``), ``categories_``,
    ``monotone_trends_`` (+1 / −1 / 0 per feature), ``n_rounds_``, ``cv_rounds_`` (the best round of
    each fold) and ``calibration_`` ({"method": "platt", "a", "b"}).
    """

    kind = "gbm"

    def __init__(
        self,
        *,
        pdo: float = 20,
        base_odds: float = 50,
        base_score: float = 600,
        master_scale: Any = None,
        categorical: Iterable[str] = (),
        numeric: Iterable[str] = (),
        auto_features: bool = True,
        feature_plan: FeaturePlan | None = None,
        monotone: bool = True,
        num_leaves: int = 15,
        learning_rate: float = 0.03,
        max_rounds: int = 2000,
        folds: int = 5,
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.pdo = pdo
        self.base_odds = base_odds
        self.base_score = base_score
        self.master_scale = master_scale
        self.categorical = categorical
        self.numeric = numeric
        self.auto_features = auto_features
        self.feature_plan = feature_plan
        self.monotone = monotone
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.max_rounds = max_rounds
        self.folds = folds
        self.n_jobs = n_jobs
        self.random_state = random_state

    @property
    def library_model(self) -> Any:
        return self.booster_

    def fit(self, X: Any, y: Any, *, progress: Progress | None = None) -> Self:
        with refusing_as_value_errors():
            Xtr, ytr, _w, plan, _scaling, report = self._prepare_fit(X, y, None, progress)
            self._fit_gbm(Xtr, ytr, plan, report)
        return self

    def _fit_gbm(self, Xtr: pd.DataFrame, ytr: np.ndarray, plan: FeaturePlan, report: Progress) -> None:
        import lightgbm as lgb
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        seed = 0 if self.random_state is None else int(self.random_state)
        folds, max_rounds = int(self.folds), int(self.max_rounds)
        names = plan.feature_names
        report("finding monotone trends", 0.08)
        trends = monotone_trends(Xtr, ytr, plan, names) if self.monotone else dict.fromkeys(names, 0)
        enc = rank_encoding(Xtr, ytr, plan, names)
        Xm = encode(Xtr, names, enc)
        threads = self.n_jobs or max(1, min(os.cpu_count() or 1, 8))
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": max(20, int(0.005 * len(Xtr))),
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.7,
            "lambda_l2": 5.0,
            "monotone_constraints": [trends[n] for n in names],
            "monotone_constraints_method": "intermediate",
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": threads,
            "verbose": -1,
        }
        oof = np.zeros(len(ytr))
        rounds = []
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (a, b) in enumerate(skf.split(Xm, ytr)):
            report(f"cross-validating fold {k + 1}/{folds}", 0.1 + 0.6 * k / folds)
            booster = lgb.train(
                params,
                lgb.Dataset(Xm[a], ytr[a], feature_name=list(map(str, range(len(names))))),
                num_boost_round=max_rounds,
                valid_sets=[lgb.Dataset(Xm[b], ytr[b])],
                callbacks=[lgb.early_stopping(150, verbose=False)],
            )
            rounds.append(booster.best_iteration or max_rounds)
            oof[b] = booster.predict(Xm[b], num_iteration=booster.best_iteration, raw_score=True)
        n_rounds = int(round(float(np.mean(rounds))))
        report(f"fitting {n_rounds} rounds on the training part", 0.75)
        booster = lgb.train(
            params,
            lgb.Dataset(Xm, ytr, feature_name=list(map(str, range(len(names))))),
            num_boost_round=n_rounds,
        )
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof.reshape(-1, 1), ytr)
        report("compiling the artifact", 0.9)
        calibration = {"method": "platt", "a": float(platt.coef_[0, 0]), "b": float(platt.intercept_[0])}
        self.booster_ = booster
        self.categories_ = enc
        self.monotone_trends_ = trends
        self.n_rounds_ = n_rounds
        self.cv_rounds_ = rounds
        self.calibration_ = calibration
        gain = booster.feature_importance(importance_type="gain")
        info: list[dict[str, Any]] = [
            {"name": n, "gain": round(float(g), 3), "monotone": trends[n]}
            for n, g in zip(names, gain, strict=True)
        ]
        self.features_info_ = sorted(info, key=lambda d: -d["gain"])
        self.training_params_ = {
            k: v for k, v in params.items() if k not in {"monotone_constraints", "num_threads", "verbose"}
        }
        self.training_params_.update(
            {
                "rounds": n_rounds,
                "cv_rounds": rounds,
                "folds": folds,
                "auto_features": self.auto_features,
                "oof_auc": round(metrics.auc(ytr, oof), 6),
                "calibration": "platt on out-of-fold margins",
            }
        )
        self._compile(
            names,
            {
                "model_features": model_features(names, enc, Xtr),
                "ensemble": to_jsonable(flatten_lightgbm(booster.dump_model())),
                "calibration": calibration,
            },
        )
        # guard: the compiled trees must reproduce LightGBM exactly
        probe = Xm[: min(len(Xm), 5000)]
        mine, _ = self.compiled_._ensemble_margin(probe, contributions=False)
        theirs = booster.predict(probe, raw_score=True)
        if not np.allclose(mine, theirs, rtol=0, atol=1e-9):  # pragma: no cover - a bug guard
            raise RuntimeError(
                f"compiled LightGBM trees differ from the booster by {np.abs(mine - theirs).max():g}"
            )
