"""Training: a WoE scorecard, a shallow segmentation tree and a LightGBM challenger, each compiled to an artifact.

Why three kinds: the scorecard is the model a credit committee approves (additive points, monotonic bins,
reasons that explain themselves); the tree gives readable segments that the decision engine can run as a
GoRules decision table; the LightGBM challenger shows how much accuracy the scorecard leaves on the table
and can run on a share of traffic. All three share the feature plan (``data.build_feature_plan``), the
stratified train/hold-out split (``train_test_split(stratify=y, random_state=seed)``) and the compiled
scorer, and every metric in the summary is computed by scoring the compiled artifact — so the numbers
describe exactly what will serve decisions.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain import metrics
from creditplan.scoring.domain.artifact import (
    FORMAT,
    Scaling,
    master_scale_json,
    to_jsonable,
    validate_artifact,
)
from creditplan.scoring.domain.data import (
    FeaturePlan,
    apply_feature_plan,
    build_feature_plan,
    data_fingerprint,
)
from creditplan.scoring.domain.reason_texts import reason_text
from creditplan.scoring.domain.scorer import CompiledModel

Progress = Callable[[str, float], None]

MAX_TREE_DEPTH = 3


@dataclass
class TrainResult:
    """A trained model: its artifact, the summary the CLI prints, and what the report and benchmark need.

    ``X_train`` / ``X_holdout`` are model-ready frames (``apply_feature_plan`` output); ``estimator`` is the
    fitted library object (optbinning ``Scorecard``, sklearn tree or LightGBM booster) kept for comparison.
    """

    kind: str
    artifact: dict[str, Any]
    summary: dict[str, Any]
    plan: FeaturePlan
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_holdout: pd.DataFrame | None
    y_holdout: np.ndarray | None
    estimator: Any
    extra: dict[str, Any] = field(default_factory=dict)
    train_rows: np.ndarray | None = None  # positions in the input X of the training rows
    holdout_rows: np.ndarray | None = None  # and of the hold-out rows (empty with an explicit hold-out)

    @property
    def scorecard(self) -> Any:
        """The fitted optbinning ``Scorecard`` (scorecard kind only)."""
        return self.estimator if self.kind == "scorecard" else None

    def compiled(self) -> CompiledModel:
        return CompiledModel.from_artifact(self.artifact)


# --- helpers -------------------------------------------------------------------------------------------------


def _noop(_stage: str, _fraction: float) -> None:
    return None


def _library_versions() -> dict[str, str]:
    out = {}
    for pkg in ("numpy", "pandas", "scikit-learn", "optbinning", "lightgbm"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "absent"
    return out


def _check_xy(X: pd.DataFrame, y: Any, holdout: float) -> np.ndarray:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError("features must be a pandas DataFrame", code="invalid_data", field="data")
    yy = np.asarray(y)
    if yy.ndim != 1 or yy.shape[0] != len(X):
        raise ValidationError(
            f"target has {yy.shape[0] if yy.ndim else 0} values for {len(X)} rows",
            code="target_length",
            field="target",
        )
    if not np.isin(yy, [0, 1]).all():
        raise ValidationError(
            "the target must be 0 (good) / 1 (bad); use prepare_target", code="invalid_target", field="target"
        )
    yy = yy.astype(np.int8)
    if yy.min() == yy.max():
        raise ValidationError("the target has a single class", code="single_class", field="target")
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


def _base_artifact(
    kind: str,
    plan: FeaturePlan,
    used: Sequence[str],
    scaling: Scaling,
    master_scale: Any,
    name: str | None,
) -> dict[str, Any]:
    """The parts every kind shares; inputs and derived features are pruned to what the model reads."""
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


def _finish(
    artifact: dict[str, Any],
    *,
    kind: str,
    X_all: pd.DataFrame,
    y_all: np.ndarray,
    Xtr: pd.DataFrame,
    ytr: np.ndarray,
    Xho: pd.DataFrame | None,
    yho: np.ndarray | None,
    fingerprint: str | None,
    target: str | None,
    bad_value: Any,
    seed: int,
    holdout: float,
    params: dict[str, Any],
    features_info: list[dict[str, Any]],
    started: float,
    dropped: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score the compiled artifact on train and hold-out, then write metrics and metadata into it."""
    artifact = to_jsonable(artifact)
    model = CompiledModel.from_artifact(artifact)
    block = {"train": _metric_block(ytr, model.score_frame(Xtr, reasons=False).pd)}
    if Xho is not None and yho is not None and yho.size:
        block["holdout"] = _metric_block(yho, model.score_frame(Xho, reasons=False).pd)
    fp = fingerprint or data_fingerprint(X_all.assign(__target__=y_all))
    artifact["training"] = to_jsonable(
        {
            "data_fingerprint": fp,
            "target": {"column": target, "bad_value": None if bad_value is None else str(bad_value)},
            "rows": int(y_all.size),
            "rows_train": int(ytr.size),
            "rows_holdout": int(0 if yho is None else yho.size),
            "bad_rate": round(float(y_all.mean()), 6),
            "holdout_share": float(holdout),
            "split": "sklearn.model_selection.train_test_split(stratify=y, random_state=seed)",
            "seed": int(seed),
            "metrics": block,
            "features": features_info,
            "params": params,
            "dropped_columns": dropped,
            "created_at": artifact["created_at"],
            "libraries": _library_versions(),
            "train_seconds": round(time.perf_counter() - started, 3),
        }
    )
    validate_artifact(artifact)
    summary = {
        "kind": kind,
        "name": artifact["name"],
        "rows": int(y_all.size),
        "rows_train": int(ytr.size),
        "rows_holdout": int(0 if yho is None else yho.size),
        "bad_rate": round(float(y_all.mean()), 6),
        "features": features_info,
        "metrics": block,
        "derived_features": len(artifact.get("derived", [])),
        "dropped_columns": dropped,
        "data_fingerprint": fp,
        "train_seconds": artifact["training"]["train_seconds"],
    }
    return artifact, summary


def _prepare(
    X: pd.DataFrame,
    y: Any,
    *,
    holdout: float,
    seed: int,
    categorical: Iterable[str],
    numeric: Iterable[str],
    auto_features: bool,
    holdout_data: tuple[pd.DataFrame, Any] | None,
) -> tuple[
    FeaturePlan,
    pd.DataFrame,
    np.ndarray,
    pd.DataFrame,
    np.ndarray,
    pd.DataFrame | None,
    np.ndarray | None,
    np.ndarray,
    np.ndarray,
]:
    """Feature plan, model-ready frames and the stratified split (row positions in X of each part)."""
    yy = _check_xy(X, y, holdout)
    plan = build_feature_plan(X, categorical=categorical, numeric=numeric, auto_features=auto_features)
    Xp = apply_feature_plan(X, plan)
    if holdout_data is not None:
        Xh_raw, yh_raw = holdout_data
        yh = _check_xy(Xh_raw, yh_raw, 0.0)
        Xh = apply_feature_plan(Xh_raw, plan)
        return plan, Xp, yy, Xp, yy, Xh, yh, np.arange(len(Xp)), np.array([], dtype=np.int64)
    tr, ho = _split(len(Xp), yy, holdout, seed)
    Xtr, ytr = Xp.iloc[tr].reset_index(drop=True), yy[tr]
    Xho = Xp.iloc[ho].reset_index(drop=True) if ho.size else None
    yho = yy[ho] if ho.size else None
    return plan, Xp, yy, Xtr, ytr, Xho, yho, tr, ho


# --- scorecard -----------------------------------------------------------------------------------------------


def _binning_process(
    names: list[str], plan: FeaturePlan, *, monotonic_trend: str | None, special_codes: Sequence[float] | None
) -> Any:
    from optbinning import BinningProcess

    categorical = [n for n in names if plan.feature_type(n) == "categorical"]
    fit_params = {
        n: {"monotonic_trend": monotonic_trend} for n in names if n not in categorical and monotonic_trend
    }
    return BinningProcess(
        variable_names=list(names),
        categorical_variables=categorical or None,
        special_codes=list(special_codes) if special_codes else None,
        binning_fit_params=fit_params or None,
        verbose=False,
    )


def _sign_constrained_logit(
    W: np.ndarray, y: np.ndarray, *, C: float, sample_weight: np.ndarray | None
) -> np.ndarray:
    """L2 logistic regression on WoE with every coefficient forced ≤ 0; returns [intercept, coefficients].

    Why constrained: optbinning's WoE is high for good bins, so a sound coefficient on P(bad) is negative.
    A positive one (the mark of collinearity) would give a riskier bin more points. Solving the
    constrained problem lets such a feature drop to exactly zero instead of being removed by hand.
    """
    from scipy.optimize import minimize

    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    yf = y.astype(np.float64)
    k = W.shape[1]

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = beta[0] + W @ beta[1:]
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that never overflows
        loss = float(np.sum(w * (np.logaddexp(0.0, z) - yf * z)) + 0.5 / C * beta[1:] @ beta[1:])
        r = w * (p - yf)
        return loss, np.concatenate([[r.sum()], W.T @ r + beta[1:] / C])

    bounds = [(None, None)] + [(None, 0.0)] * k
    start = np.zeros(k + 1)
    start[0] = np.log(max(yf @ w, 1e-9) / max((1 - yf) @ w, 1e-9))
    res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 10_000})
    return np.asarray(res.x)


def _select_features(
    bp: Any,
    Xtr: pd.DataFrame,
    ytr: np.ndarray,
    *,
    min_iv: float,
    max_corr: float,
    max_features: int,
    C: float,
    sample_weight: np.ndarray | None,
) -> tuple[list[str], dict[str, float], dict[str, str]]:
    """IV filter, correlation filter, then a sign-constrained logistic regression picks the features.

    Why this order: features are considered from the strongest IV down; one that correlates above
    ``max_corr`` with a stronger one already kept is left out (it adds little and blurs the points). The
    logistic regression, with every coefficient forced to the sound sign, then keeps exactly the features
    that still add evidence; if more than ``max_features`` do, the ones contributing least (|coefficient| ×
    spread of their WoE) go. Binning is per feature, so the bins here are the final scorecard's bins.
    """
    ivs: dict[str, float] = {}
    for name in bp.variable_names:
        table = bp.get_binned_variable(name).binning_table
        table.build()
        ivs[name] = float(table.iv)
    verdict: dict[str, str] = {}
    order = list(bp.variable_names)
    ranked = sorted(ivs, key=lambda n: (-ivs[n], order.index(n)))
    candidates = []
    for name in ranked:
        if ivs[name] < min_iv:
            verdict[name] = f"IV {ivs[name]:.4f} below {min_iv}"
        else:
            candidates.append(name)
    if not candidates:
        return [], ivs, verdict
    woe = bp.transform(Xtr[bp.variable_names], metric="woe")[candidates].to_numpy(dtype=np.float64)
    with np.errstate(all="ignore"):
        corr = np.corrcoef(woe, rowvar=False) if len(candidates) > 1 else np.ones((1, 1))
    corr = np.nan_to_num(corr, nan=0.0)
    kept: list[int] = []
    for i, name in enumerate(candidates):
        clash = next((j for j in kept if abs(corr[i, j]) > max_corr), None)
        if clash is not None:
            verdict[name] = f"correlated with {candidates[clash]} (|r| = {abs(corr[i, clash]):.2f})"
        else:
            kept.append(i)
    beta = _sign_constrained_logit(woe[:, kept], ytr, C=C, sample_weight=sample_weight)[1:]
    weight = -beta * woe[:, kept].std(axis=0)
    active = [(kept[j], weight[j]) for j in range(len(kept)) if beta[j] < -1e-6]
    for j in range(len(kept)):
        if beta[j] >= -1e-6:
            verdict[candidates[kept[j]]] = (
                "no evidence once stronger features are in (coefficient 0 under the sign constraint)"
            )
    active.sort(key=lambda t: -t[1])
    for i, _ in active[max_features:]:
        verdict[candidates[i]] = f"beyond the {max_features} strongest features"
    selected = sorted((i for i, _ in active[:max_features]))
    for i in selected:
        verdict[candidates[i]] = "selected"
    return [candidates[i] for i in selected], ivs, verdict


def _scorecard_section(scorecard: Any, Xtr: pd.DataFrame, plan: FeaturePlan) -> dict[str, Any]:
    """Compile a fitted optbinning Scorecard into bin edges / categories and points per bin."""
    from optbinning.binning.binning_statistics import bin_categorical

    bp = scorecard.binning_process_
    table = scorecard.table(style="detailed")
    features = []
    for name in bp.get_support(names=True):
        optb = bp.get_binned_variable(name)
        rows = table[table["Variable"] == name]
        pts = rows["Points"].to_numpy(dtype=np.float64)
        n_special = len(optb.special_codes) if isinstance(optb.special_codes, dict) else 1
        if n_special != 1:  # pragma: no cover - train_scorecard only passes a list of special codes
            raise ValidationError("grouped special codes are not supported", code="unsupported_special_codes")
        stats = {
            "count": rows["Count"].to_numpy(dtype=np.float64),
            "event": rows["Event"].to_numpy(dtype=np.float64),
            "event_rate": np.nan_to_num(rows["Event rate"].to_numpy(dtype=np.float64)),
            "woe": np.nan_to_num(rows["WoE"].to_numpy(dtype=np.float64)),
            "iv": float(np.nansum(rows["IV"].to_numpy(dtype=np.float64))),
            "coefficient": float(rows["Coefficient"].iloc[0]),
        }
        if optb.dtype == "numerical":
            splits = np.asarray(optb.splits, dtype=np.float64)
            nb = splits.size + 1
            col = Xtr[name].to_numpy(dtype=np.float64)
            finite = col[np.isfinite(col)]
            entry = {
                "name": name,
                "type": "numeric",
                "splits": splits,
                "labels": [str(b) for b in rows["Bin"].iloc[:nb]],
                "points": pts[:nb],
                "special_codes": [float(s) for s in (optb.special_codes or [])],
                "special_points": float(pts[nb]),
                "missing_points": float(pts[nb + 1]),
                "train_min": float(finite.min()) if finite.size else None,
                "train_max": float(finite.max()) if finite.size else None,
            }
        else:
            bins = bin_categorical(optb._splits_optimal, optb._categories, optb._cat_others, optb.user_splits)
            bins = [[str(c) for c in b] for b in bins]
            nb = len(bins)
            regular = pts[:nb]
            entry = {
                "name": name,
                "type": "categorical",
                "bins": bins,
                "labels": [", ".join(b) for b in bins],
                "points": regular,
                "special_points": float(pts[nb]),
                "missing_points": float(pts[nb + 1]),
                "unseen_bin": int(np.argmin(regular)),  # most conservative: fewest points
            }
        entry["stats"] = stats
        entry["iv"] = stats["iv"]
        features.append(entry)
    return {"intercept_points": float(scorecard.intercept_), "features": features}


def train_scorecard(
    X: pd.DataFrame,
    y: Any,
    *,
    seed: int = 0,
    holdout: float = 0.3,
    pdo: float = 20,
    base_odds: float = 50,
    base_score: float = 600,
    master_scale: Any = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    auto_features: bool = True,
    special_codes: Sequence[float] | None = None,
    min_iv: float = 0.005,
    max_corr: float = 0.95,
    max_features: int = 30,
    monotonic_trend: str | None = "auto_asc_desc",
    C: float = 1.0,
    sample_weight: Any = None,
    holdout_data: tuple[pd.DataFrame, Any] | None = None,
    name: str | None = None,
    target: str | None = None,
    bad_value: Any = None,
    fingerprint: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Optimal monotonic WoE binning (optbinning), IV / correlation / sign-constrained selection, points.

    Selection (``_select_features``): IV ≥ ``min_iv``, then no two features with WoE correlation above
    ``max_corr``, then a logistic regression whose coefficients are constrained to the sound sign keeps
    the features that still add evidence (at most ``max_features``). optbinning's ``Scorecard`` then fits
    the logistic regression and scales it with ``pdo_odds``: ``base_score`` points at good:bad odds
    ``base_odds``, ``pdo`` points to double the odds, so a higher score is a lower risk. Should the
    unconstrained refit still give a coefficient the wrong sign, that feature is dropped and the model
    refitted. ``sample_weight`` (reject inference) weights the training rows; ``holdout_data`` replaces
    the random hold-out with a given one.
    """
    from optbinning import Scorecard
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    report = progress or _noop
    scaling = Scaling(pdo=float(pdo), base_odds=float(base_odds), base_score=float(base_score))
    report("preparing features", 0.02)
    plan, Xall, yall, Xtr, ytr, Xho, yho, tr_idx, ho_idx = _prepare(
        X,
        y,
        holdout=holdout,
        seed=seed,
        categorical=categorical,
        numeric=numeric,
        auto_features=auto_features,
        holdout_data=holdout_data,
    )
    weights = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape[0] != len(Xall) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValidationError(
                "sample weights must be finite, non-negative, one per row", code="invalid_weights"
            )
        weights = w[tr_idx]
    names = plan.feature_names
    report(f"binning {len(names)} features", 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bp = _binning_process(names, plan, monotonic_trend=monotonic_trend, special_codes=special_codes)
        bp.fit(Xtr[names], ytr, sample_weight=weights)
        report("selecting features", 0.45)
        selected, ivs, verdict = _select_features(
            bp,
            Xtr,
            ytr,
            min_iv=min_iv,
            max_corr=max_corr,
            max_features=max_features,
            C=C,
            sample_weight=weights,
        )
        if not selected:
            raise ValidationError(
                f"no feature separates good from bad (information value ≥ {min_iv}); "
                + "; ".join(f"{n}: {v}" for n, v in list(verdict.items())[:10]),
                code="no_usable_feature",
                field="data",
            )
        estimator = None
        for attempt in range(len(selected)):
            report(
                f"fitting logistic regression on {len(selected)} features",
                0.55 + 0.3 * attempt / max(1, len(selected)),
            )
            estimator = Scorecard(
                binning_process=_binning_process(
                    selected, plan, monotonic_trend=monotonic_trend, special_codes=special_codes
                ),
                estimator=LogisticRegression(C=C, max_iter=2000),
                scaling_method="pdo_odds",
                scaling_method_params={
                    "pdo": scaling.pdo,
                    "odds": scaling.base_odds,
                    "scorecard_points": scaling.base_score,
                },
            )
            estimator.fit(Xtr[selected], ytr, sample_weight=weights)
            coefs = estimator.estimator_.coef_.ravel()
            # the unconstrained refit can still tip a coefficient over zero: drop it and refit
            if len(selected) == 1 or coefs.max() <= 0:
                break
            worst = selected[int(np.argmax(coefs))]
            verdict[worst] = "dropped: coefficient with the wrong sign"
            selected = [s for s in selected if s != worst]
    report("compiling the artifact", 0.9)
    artifact = _base_artifact("scorecard", plan, selected, scaling, master_scale, name)
    artifact["scorecard"] = _scorecard_section(estimator, Xtr, plan)
    coef_of = dict(zip(selected, estimator.estimator_.coef_.ravel(), strict=True))
    features_info = [
        {"name": n, "iv": round(ivs[n], 6), "coefficient": round(float(coef_of[n]), 6)} for n in selected
    ]
    params = {
        "pdo": scaling.pdo,
        "base_odds": scaling.base_odds,
        "base_score": scaling.base_score,
        "min_iv": min_iv,
        "max_corr": max_corr,
        "max_features": max_features,
        "monotonic_trend": monotonic_trend,
        "C": C,
        "auto_features": auto_features,
        "special_codes": list(special_codes or []),
        "weighted": sample_weight is not None,
        "selection": verdict,
    }
    artifact, summary = _finish(
        artifact,
        kind="scorecard",
        X_all=X,
        y_all=yall,
        Xtr=Xtr,
        ytr=ytr,
        Xho=Xho,
        yho=yho,
        fingerprint=fingerprint,
        target=target,
        bad_value=bad_value,
        seed=seed,
        holdout=holdout,
        params=params,
        features_info=features_info,
        started=started,
        dropped=dict(X.attrs.get("dropped", {})),
    )
    report("done", 1.0)
    return TrainResult(
        "scorecard",
        artifact,
        summary,
        plan,
        Xtr,
        ytr,
        Xho,
        yho,
        estimator,
        extra={"iv": ivs, "selection": verdict},
        train_rows=tr_idx,
        holdout_rows=ho_idx,
    )


# --- trees: shared encoding and compilation -------------------------------------------------------------------


def _rank_encoding(
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


def _encode(X: pd.DataFrame, names: Sequence[str], enc: dict[str, list[str]]) -> np.ndarray:
    """The model matrix the trees see; the compiled scorer builds the same one (``_EnsembleFeature``)."""
    from creditplan.scoring.domain.features import CategoryLookup

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


def _model_features(
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


def _flatten_lightgbm(dump: dict[str, Any]) -> dict[str, Any]:
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
            raise ValidationError(
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


def _flatten_sklearn_tree(tree: Any) -> dict[str, Any]:
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


# --- tree ------------------------------------------------------------------------------------------------------


def train_tree(
    X: pd.DataFrame,
    y: Any,
    *,
    seed: int = 0,
    holdout: float = 0.3,
    max_depth: int = 3,
    min_samples_leaf: float = 0.05,
    pdo: float = 20,
    base_odds: float = 50,
    base_score: float = 600,
    master_scale: Any = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    auto_features: bool = False,
    name: str | None = None,
    target: str | None = None,
    bad_value: Any = None,
    fingerprint: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """A shallow decision tree (depth ≤ 3) for segmentation: each leaf is a segment with its own PD.

    Why shallow: every leaf becomes one row of a decision table that a credit officer reads and the
    decision engine runs (``jdm.export_jdm``). Categories are split as bad-rate-ranked groups; missing
    values follow scikit-learn's learned direction. The leaf PD is the smoothed training bad rate.
    """
    from sklearn.tree import DecisionTreeClassifier

    if not 1 <= int(max_depth) <= MAX_TREE_DEPTH:
        raise ValidationError(
            f"max_depth must be between 1 and {MAX_TREE_DEPTH}", code="invalid_depth", field="max_depth"
        )
    started = time.perf_counter()
    report = progress or _noop
    scaling = Scaling(pdo=float(pdo), base_odds=float(base_odds), base_score=float(base_score))
    report("preparing features", 0.05)
    plan, Xall, yall, Xtr, ytr, Xho, yho, tr_idx, ho_idx = _prepare(
        X,
        y,
        holdout=holdout,
        seed=seed,
        categorical=categorical,
        numeric=numeric,
        auto_features=auto_features,
        holdout_data=None,
    )
    names = plan.feature_names
    enc = _rank_encoding(Xtr, ytr, plan, names)
    Xm = _encode(Xtr, names, enc)
    report("growing the tree", 0.3)
    leaf = max(1, int(round(min_samples_leaf * len(Xtr)))) if min_samples_leaf < 1 else int(min_samples_leaf)
    tree = DecisionTreeClassifier(max_depth=int(max_depth), min_samples_leaf=leaf, random_state=seed)
    tree.fit(Xm, ytr)
    flat = _flatten_sklearn_tree(tree)
    is_leaf = np.asarray(flat["left"]) == np.arange(len(flat["left"]))
    used_idx = sorted({int(f) for f, lf in zip(flat["feature"], is_leaf, strict=True) if not lf})
    if not used_idx:
        raise ValidationError(
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
    artifact = _base_artifact("tree", plan, used, scaling, master_scale, name)
    artifact["model_features"] = _model_features(used, enc, Xtr)
    node_count, node_bad = flat.pop("node_count"), flat.pop("node_bad")
    artifact["ensemble"] = to_jsonable(flat)
    artifact["ensemble"]["node_count"] = to_jsonable(node_count)
    artifact["ensemble"]["node_bad"] = to_jsonable(node_bad)
    artifact["calibration"] = {"method": "none"}
    importance = dict(zip(names, tree.feature_importances_, strict=True))
    features_info = [{"name": n, "importance": round(float(importance[n]), 6)} for n in used]
    params = {
        "max_depth": int(max_depth),
        "min_samples_leaf": leaf,
        "auto_features": auto_features,
        "leaves": int(is_leaf.sum()),
    }
    artifact, summary = _finish(
        artifact,
        kind="tree",
        X_all=X,
        y_all=yall,
        Xtr=Xtr,
        ytr=ytr,
        Xho=Xho,
        yho=yho,
        fingerprint=fingerprint,
        target=target,
        bad_value=bad_value,
        seed=seed,
        holdout=holdout,
        params=params,
        features_info=features_info,
        started=started,
        dropped=dict(X.attrs.get("dropped", {})),
    )
    report("done", 1.0)
    return TrainResult(
        "tree", artifact, summary, plan, Xtr, ytr, Xho, yho, tree, train_rows=tr_idx, holdout_rows=ho_idx
    )


# --- gbm -------------------------------------------------------------------------------------------------------


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
        bp = _binning_process(numeric, plan, monotonic_trend="auto", special_codes=None)
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


def train_gbm(
    X: pd.DataFrame,
    y: Any,
    *,
    seed: int = 0,
    holdout: float = 0.3,
    pdo: float = 20,
    base_odds: float = 50,
    base_score: float = 600,
    master_scale: Any = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    auto_features: bool = True,
    monotone: bool = True,
    num_leaves: int = 15,
    learning_rate: float = 0.03,
    max_rounds: int = 2000,
    folds: int = 5,
    n_jobs: int | None = None,
    name: str | None = None,
    target: str | None = None,
    bad_value: Any = None,
    fingerprint: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """LightGBM challenger with monotone constraints where the binning finds a monotone trend, Platt-calibrated.

    The number of boosting rounds is chosen by ``folds``-fold cross-validation with early stopping on the
    training part only (the hold-out stays untouched); the out-of-fold margins fit the Platt calibration
    (pd = σ(a·margin + b)), and the final model is refitted on the whole training part. The compiled trees
    are checked against ``Booster.predict(raw_score=True)`` before the artifact is returned.
    """
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    report = progress or _noop
    scaling = Scaling(pdo=float(pdo), base_odds=float(base_odds), base_score=float(base_score))
    report("preparing features", 0.02)
    plan, Xall, yall, Xtr, ytr, Xho, yho, tr_idx, ho_idx = _prepare(
        X,
        y,
        holdout=holdout,
        seed=seed,
        categorical=categorical,
        numeric=numeric,
        auto_features=auto_features,
        holdout_data=None,
    )
    names = plan.feature_names
    report("finding monotone trends", 0.08)
    trends = monotone_trends(Xtr, ytr, plan, names) if monotone else dict.fromkeys(names, 0)
    enc = _rank_encoding(Xtr, ytr, plan, names)
    Xm = _encode(Xtr, names, enc)
    threads = n_jobs or max(1, min(os.cpu_count() or 1, 8))
    params = {
        "objective": "binary",
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
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
        params, lgb.Dataset(Xm, ytr, feature_name=list(map(str, range(len(names))))), num_boost_round=n_rounds
    )
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof.reshape(-1, 1), ytr)
    report("compiling the artifact", 0.9)
    artifact = _base_artifact("gbm", plan, names, scaling, master_scale, name)
    artifact["model_features"] = _model_features(names, enc, Xtr)
    artifact["ensemble"] = to_jsonable(_flatten_lightgbm(booster.dump_model()))
    artifact["calibration"] = {
        "method": "platt",
        "a": float(platt.coef_[0, 0]),
        "b": float(platt.intercept_[0]),
    }
    # guard: the compiled trees must reproduce LightGBM exactly
    compiled = CompiledModel(artifact)
    probe = Xm[: min(len(Xm), 5000)]
    mine, _ = compiled._ensemble_margin(probe, contributions=False)
    theirs = booster.predict(probe, raw_score=True)
    if not np.allclose(mine, theirs, rtol=0, atol=1e-9):  # pragma: no cover - a bug guard
        raise RuntimeError(
            f"compiled LightGBM trees differ from the booster by {np.abs(mine - theirs).max():g}"
        )
    gain = booster.feature_importance(importance_type="gain")
    features_info = sorted(
        (
            {"name": n, "gain": round(float(g), 3), "monotone": trends[n]}
            for n, g in zip(names, gain, strict=True)
        ),
        key=lambda d: -d["gain"],
    )
    params_out = {
        k: v for k, v in params.items() if k not in {"monotone_constraints", "num_threads", "verbose"}
    }
    params_out.update(
        {
            "rounds": n_rounds,
            "cv_rounds": rounds,
            "folds": folds,
            "auto_features": auto_features,
            "oof_auc": round(metrics.auc(ytr, oof), 6),
            "calibration": "platt on out-of-fold margins",
        }
    )
    artifact, summary = _finish(
        artifact,
        kind="gbm",
        X_all=X,
        y_all=yall,
        Xtr=Xtr,
        ytr=ytr,
        Xho=Xho,
        yho=yho,
        fingerprint=fingerprint,
        target=target,
        bad_value=bad_value,
        seed=seed,
        holdout=holdout,
        params=params_out,
        features_info=features_info,
        started=started,
        dropped=dict(X.attrs.get("dropped", {})),
    )
    report("done", 1.0)
    return TrainResult(
        "gbm",
        artifact,
        summary,
        plan,
        Xtr,
        ytr,
        Xho,
        yho,
        booster,
        extra={"trends": trends},
        train_rows=tr_idx,
        holdout_rows=ho_idx,
    )


def train_model(kind: str, X: pd.DataFrame, y: Any, **kwargs: Any) -> TrainResult:
    """Dispatch on ``kind`` (``scorecard`` | ``tree`` | ``gbm``) — the CLI's ``--kind``."""
    trainers: dict[str, Callable[..., TrainResult]] = {
        "scorecard": train_scorecard,
        "tree": train_tree,
        "gbm": train_gbm,
    }
    if kind not in trainers:
        raise ValidationError(
            f"unknown model kind {kind!r}; use scorecard, tree or gbm", code="invalid_kind", field="kind"
        )
    return trainers[kind](X, y, **kwargs)
