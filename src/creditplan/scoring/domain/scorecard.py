"""The WoE scorecard: optimal monotonic binning (optbinning), IV / correlation / sign-constrained selection,
a logistic regression, and points.

Why this is the model a credit committee approves: its points are additive, each bin's points can be read
and challenged, a riskier bin never earns more points (the sign constraint), and its reasons explain
themselves. ``ScorecardModel`` is a scikit-learn estimator (``estimator.CreditModel``); the harness
(``train.py``) splits, measures and records it like the other kinds.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from creditplan.scoring.domain.data import FeaturePlan
from creditplan.scoring.domain.estimator import (
    CreditModel,
    ModelInputError,
    Progress,
    refusing_as_value_errors,
)


def binning_process(
    names: list[str], plan: FeaturePlan, *, monotonic_trend: str | None, special_codes: Sequence[float] | None
) -> Any:
    """optbinning's ``BinningProcess`` over ``names``; numeric features get ``monotonic_trend``."""
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
    start[0] = np.log(max(float(yf @ w), 1e-9) / max(float((1 - yf) @ w), 1e-9))
    res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 10_000})
    return np.asarray(res.x)


def select_features(
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
    Returns (selected, IV per feature, the verdict on every feature).
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
    active = [(kept[j], float(weight[j])) for j in range(len(kept)) if beta[j] < -1e-6]
    for j in range(len(kept)):
        if beta[j] >= -1e-6:
            verdict[candidates[kept[j]]] = (
                "no evidence once stronger features are in (coefficient 0 under the sign constraint)"
            )
    active.sort(key=lambda t: -t[1])
    for i, _ in active[max_features:]:
        verdict[candidates[i]] = f"beyond the {max_features} strongest features"
    selected = sorted(i for i, _ in active[:max_features])
    for i in selected:
        verdict[candidates[i]] = "selected"
    return [candidates[i] for i in selected], ivs, verdict


def scorecard_section(scorecard: Any, Xtr: pd.DataFrame) -> dict[str, Any]:
    """Compile a fitted optbinning ``Scorecard`` into bin edges / categories and points per bin."""
    from optbinning.binning.binning_statistics import bin_categorical

    bp = scorecard.binning_process_
    table = scorecard.table(style="detailed")
    features = []
    for name in bp.get_support(names=True):
        optb = bp.get_binned_variable(name)
        rows = table[table["Variable"] == name]
        pts = rows["Points"].to_numpy(dtype=np.float64)
        n_special = len(optb.special_codes) if isinstance(optb.special_codes, dict) else 1
        if n_special != 1:  # pragma: no cover - ScorecardModel only passes a list of special codes
            raise ModelInputError("grouped special codes are not supported", code="unsupported_special_codes")
        stats = {
            "count": rows["Count"].to_numpy(dtype=np.float64),
            "event": rows["Event"].to_numpy(dtype=np.float64),
            "event_rate": np.nan_to_num(rows["Event rate"].to_numpy(dtype=np.float64)),
            "woe": np.nan_to_num(rows["WoE"].to_numpy(dtype=np.float64)),
            "iv": float(np.nansum(rows["IV"].to_numpy(dtype=np.float64))),
            "coefficient": float(rows["Coefficient"].iloc[0]),
        }
        entry: dict[str, Any]
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


class ScorecardModel(CreditModel):
    """Optimal monotonic WoE binning, IV / correlation / sign-constrained selection, logistic regression.

    Selection (``select_features``): IV ≥ ``min_iv``, then no two features with WoE correlation above
    ``max_corr``, then a logistic regression whose coefficients are constrained to the sound sign keeps the
    features that still add evidence (at most ``max_features``). optbinning's ``Scorecard`` then fits the
    logistic regression (``C``) and scales it with ``pdo_odds``: ``base_score`` points at good:bad odds
    ``base_odds``, ``pdo`` points to double the odds, so a higher score is a lower risk. Should the
    unconstrained refit still give a coefficient the wrong sign, that feature is dropped and the model
    refitted. Numeric features are binned with ``monotonic_trend``; ``special_codes`` (such as −999 "not
    applicable") get a bin of their own. ``fit`` takes ``sample_weight`` (reject inference weights rows).

    Learned, besides ``CreditModel``'s: ``scorecard_`` (the fitted optbinning ``Scorecard``), ``iv_`` (IV of
    every feature), ``selection_`` (why each feature was kept or left out), ``coef_`` (the logistic
    regression's coefficient per feature of ``features_``) and ``intercept_``.
    """

    kind = "scorecard"

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
        special_codes: Sequence[float] | None = None,
        min_iv: float = 0.005,
        max_corr: float = 0.95,
        max_features: int = 30,
        monotonic_trend: str | None = "auto_asc_desc",
        C: float = 1.0,
    ) -> None:
        self.pdo = pdo
        self.base_odds = base_odds
        self.base_score = base_score
        self.master_scale = master_scale
        self.categorical = categorical
        self.numeric = numeric
        self.auto_features = auto_features
        self.feature_plan = feature_plan
        self.special_codes = special_codes
        self.min_iv = min_iv
        self.max_corr = max_corr
        self.max_features = max_features
        self.monotonic_trend = monotonic_trend
        self.C = C

    @property
    def library_model(self) -> Any:
        return self.scorecard_

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, progress: Progress | None = None) -> Self:
        with refusing_as_value_errors():
            Xm, yy, weights, plan, scaling, report = self._prepare_fit(X, y, sample_weight, progress)
            self._fit_scorecard(Xm, yy, weights, plan, report)
        return self

    def _fit_scorecard(
        self,
        Xtr: pd.DataFrame,
        ytr: np.ndarray,
        weights: np.ndarray | None,
        plan: FeaturePlan,
        report: Progress,
    ) -> None:
        from optbinning import Scorecard
        from sklearn.linear_model import LogisticRegression

        scaling = self.scaling_
        special_codes = self.special_codes
        names = plan.feature_names
        report(f"binning {len(names)} features", 0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bp = binning_process(
                names, plan, monotonic_trend=self.monotonic_trend, special_codes=special_codes
            )
            bp.fit(Xtr[names], ytr, sample_weight=weights)
            report("selecting features", 0.45)
            selected, ivs, verdict = select_features(
                bp,
                Xtr,
                ytr,
                min_iv=self.min_iv,
                max_corr=self.max_corr,
                max_features=self.max_features,
                C=self.C,
                sample_weight=weights,
            )
            if not selected:
                raise ModelInputError(
                    f"no feature separates good from bad among the {len(names)} feature(s) "
                    f"(information value ≥ {self.min_iv}); "
                    + "; ".join(f"{n}: {v}" for n, v in list(verdict.items())[:10]),
                    code="no_usable_feature",
                    field="data",
                )
            scorecard: Any = None
            for attempt in range(len(selected)):
                report(
                    f"fitting logistic regression on {len(selected)} features",
                    0.55 + 0.3 * attempt / max(1, len(selected)),
                )
                scorecard = Scorecard(
                    binning_process=binning_process(
                        selected, plan, monotonic_trend=self.monotonic_trend, special_codes=special_codes
                    ),
                    estimator=LogisticRegression(C=self.C, max_iter=2000),
                    scaling_method="pdo_odds",
                    scaling_method_params={
                        "pdo": scaling.pdo,
                        "odds": scaling.base_odds,
                        "scorecard_points": scaling.base_score,
                    },
                )
                scorecard.fit(Xtr[selected], ytr, sample_weight=weights)
                coefs = scorecard.estimator_.coef_.ravel()
                # the unconstrained refit can still tip a coefficient over zero: drop it and refit
                if len(selected) == 1 or coefs.max() <= 0:
                    break
                worst = selected[int(np.argmax(coefs))]
                verdict[worst] = "dropped: coefficient with the wrong sign"
                selected = [s for s in selected if s != worst]
        report("compiling the artifact", 0.9)
        self.scorecard_ = scorecard
        self.iv_ = ivs
        self.selection_ = verdict
        self.coef_ = np.asarray(scorecard.estimator_.coef_, dtype=np.float64).ravel()
        self.intercept_ = float(np.ravel(scorecard.estimator_.intercept_)[0])
        coef_of = dict(zip(selected, self.coef_, strict=True))
        self.features_info_ = [
            {"name": n, "iv": round(ivs[n], 6), "coefficient": round(float(coef_of[n]), 6)} for n in selected
        ]
        self.training_params_ = {
            "pdo": scaling.pdo,
            "base_odds": scaling.base_odds,
            "base_score": scaling.base_score,
            "min_iv": self.min_iv,
            "max_corr": self.max_corr,
            "max_features": self.max_features,
            "monotonic_trend": self.monotonic_trend,
            "C": self.C,
            "auto_features": self.auto_features,
            "special_codes": list(special_codes or []),
            "weighted": weights is not None,
            "selection": verdict,
        }
        self._compile(selected, {"scorecard": scorecard_section(scorecard, Xtr)})
