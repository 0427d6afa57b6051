"""Reject inference: scorecards trained on approved-only data, with the rejected applicants put back.

Why: a lender only learns the outcome of loans it granted. A scorecard fitted on those alone describes
the approved population; applied to everyone who applies ("through the door") it tends to be too
optimistic about applicants like the ones the old policy rejected. Reject inference assigns the rejected
applicants an inferred outcome so the new scorecard is fitted on the whole applicant population.

Two methods:

* **Fuzzy augmentation** – score each reject with the approved-only model; add it twice, as a bad with
  weight p·w and as a good with weight (1 − p)·w, where p is its PD (times ``uplift``, capped at 1) and w
  the reject weight. No randomness; the expected number of bads is preserved.
* **Parcelling** – band the rejects by score (bands from the approved applicants' score quantiles); in
  each band, draw "bad" with probability = the approved bad rate of that band × ``uplift`` (seeded);
  add the rejects with weight w.

Limits, which the docs repeat because they matter to a model reviewer:

* Neither method creates information. The inferred outcomes come from the approved-only model (fuzzy)
  or from the approved bad rates (parcelling), so the result can only be as good as the assumption that
  rejects behave like similarly scored approvals — "missing at random" given the score. Where the old
  policy rejected on information the model does not see (an officer's judgement, a bureau hit), rejects
  are riskier than their score says; ``uplift`` > 1 is the usual, judgemental correction, and its value
  cannot be validated from the approved data.
* Without ``uplift`` fuzzy augmentation mostly re-weights the approved-only model and changes ranking
  little; its main effect is on the level of PD (calibration to the applicant population).
* The hold-out used to report the result contains approved applicants only (real outcomes). The
  through-the-door performance cannot be measured without outcomes for rejects — for that, approve a
  small random sample below the cut-off (a "test below cut-off"), the only method that removes the bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain.train import TrainResult, train_model

METHODS = ("fuzzy", "parcelling")


@dataclass
class AugmentedData:
    """Approved and inferred rows together, with weights; ``inferred_bad_rate`` is the rejects' weighted bad rate."""

    X: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray
    is_reject: np.ndarray
    accepted_bad_rate: float
    inferred_bad_rate: float
    augmented_bad_rate: float


def _check(
    X_acc: pd.DataFrame, y_acc: Any, X_rej: pd.DataFrame, uplift: float, reject_weight: float
) -> np.ndarray:
    y = np.asarray(y_acc)
    if len(X_rej) == 0:
        raise ValidationError("no rejected applications to infer", code="no_rejects", field="rejects")
    missing = [c for c in X_acc.columns if c not in X_rej.columns]
    if missing:
        raise ValidationError(
            f"the rejected applications lack columns: {', '.join(missing)}",
            code="missing_columns",
            field="rejects",
        )
    if not uplift > 0:
        raise ValidationError("uplift must be positive", code="invalid_uplift", field="uplift")
    if not reject_weight > 0:
        raise ValidationError("reject weight must be positive", code="invalid_weight", field="reject_weight")
    return y.astype(np.int8)


def augment(
    model: Any,
    X_accepted: pd.DataFrame,
    y_accepted: Any,
    X_rejected: pd.DataFrame,
    *,
    method: str = "fuzzy",
    uplift: float = 1.0,
    reject_weight: float = 1.0,
    bands: int = 10,
    seed: int = 0,
) -> AugmentedData:
    """Approved rows plus rejects with inferred outcomes, scored with ``model`` (a ``CompiledModel``)."""
    if method not in METHODS:
        raise ValidationError(
            f"unknown reject-inference method {method!r}; use fuzzy or parcelling",
            code="invalid_method",
            field="method",
        )
    y_acc = _check(X_accepted, y_accepted, X_rejected, uplift, reject_weight)
    cols = list(X_accepted.columns)
    rej = X_rejected[cols].reset_index(drop=True)
    acc = X_accepted[cols].reset_index(drop=True)
    rej_res = model.score_frame(rej, reasons=False, allow_missing_columns=True)
    if method == "fuzzy":
        p = np.clip(rej_res.pd * uplift, 0.0, 1.0)
        X = pd.concat([acc, rej, rej], ignore_index=True)
        y = np.concatenate([y_acc, np.ones(len(rej), np.int8), np.zeros(len(rej), np.int8)])
        w = np.concatenate([np.ones(len(acc)), p * reject_weight, (1 - p) * reject_weight])
        is_rej = np.concatenate([np.zeros(len(acc), bool), np.ones(2 * len(rej), bool)])
        inferred = float(p.mean())
    else:
        acc_score = model.score_frame(acc, reasons=False, allow_missing_columns=True).score
        edges = np.unique(np.quantile(acc_score, np.linspace(0, 1, bands + 1)[1:-1]))
        acc_band = np.searchsorted(edges, acc_score, side="right")
        rej_band = np.searchsorted(edges, rej_res.score, side="right")
        n_bands = edges.size + 1
        bad = np.bincount(acc_band, weights=y_acc, minlength=n_bands)
        cnt = np.bincount(acc_band, minlength=n_bands)
        rate = np.where(cnt > 0, bad / np.maximum(cnt, 1), float(y_acc.mean()))
        p = np.clip(rate[rej_band] * uplift, 0.0, 1.0)
        draw = (np.random.default_rng(seed).random(len(rej)) < p).astype(np.int8)
        X = pd.concat([acc, rej], ignore_index=True)
        y = np.concatenate([y_acc, draw])
        w = np.concatenate([np.ones(len(acc)), np.full(len(rej), reject_weight)])
        is_rej = np.concatenate([np.zeros(len(acc), bool), np.ones(len(rej), bool)])
        inferred = float(draw.mean())
    return AugmentedData(
        X=X,
        y=y,
        weight=w,
        is_reject=is_rej,
        accepted_bad_rate=float(y_acc.mean()),
        inferred_bad_rate=inferred,
        augmented_bad_rate=float(np.sum(w * y) / np.sum(w)),
    )


def train_with_reject_inference(
    X_accepted: pd.DataFrame,
    y_accepted: Any,
    X_rejected: pd.DataFrame,
    *,
    method: str = "fuzzy",
    uplift: float = 1.0,
    reject_weight: float = 1.0,
    seed: int = 0,
    holdout: float = 0.3,
    **scorecard_kwargs: Any,
) -> tuple[TrainResult, TrainResult, AugmentedData]:
    """Approved-only scorecard → inferred rejects → scorecard on the augmented data.

    The hold-out is drawn from the approved applicants only (stratified, ``seed``) and used for both
    models, so their AUCs compare on real outcomes. Returns (approved-only, inferred, augmented data).
    """
    from sklearn.model_selection import train_test_split

    y_acc = np.asarray(y_accepted).astype(np.int8)
    idx = np.arange(len(X_accepted))
    tr, ho = train_test_split(idx, test_size=holdout, stratify=y_acc, random_state=seed)
    acc_tr, acc_ho = X_accepted.iloc[tr].reset_index(drop=True), X_accepted.iloc[ho].reset_index(drop=True)
    base = train_model(
        "scorecard", acc_tr, y_acc[tr], seed=seed, holdout_data=(acc_ho, y_acc[ho]), **scorecard_kwargs
    )
    data = augment(
        base.compiled(),
        acc_tr,
        y_acc[tr],
        X_rejected,
        method=method,
        uplift=uplift,
        reject_weight=reject_weight,
        seed=seed,
    )
    inferred = train_model(
        "scorecard",
        data.X,
        data.y,
        seed=seed,
        sample_weight=data.weight,
        holdout_data=(acc_ho, y_acc[ho]),
        **scorecard_kwargs,
    )
    inferred.artifact["training"]["reject_inference"] = {
        "method": method,
        "uplift": float(uplift),
        "reject_weight": float(reject_weight),
        "rejects": int(len(X_rejected)),
        "accepted_bad_rate": round(data.accepted_bad_rate, 6),
        "inferred_reject_bad_rate": round(data.inferred_bad_rate, 6),
        "augmented_bad_rate": round(data.augmented_bad_rate, 6),
    }
    inferred.summary["reject_inference"] = inferred.artifact["training"]["reject_inference"]
    return base, inferred, data
