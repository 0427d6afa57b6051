"""Discrimination, calibration and stability measures in plain numpy.

Why our own: the report, monitoring and the tests need the same definitions everywhere (including on a
Spark driver without scikit-learn), with ties handled exactly and bootstrap intervals reproducible from a
seed. Conventions: ``y`` is 1 for bad, ``risk`` grows with risk (pass the PD, or minus the score).

PSI follows the design guide: PSI = Σ (ref% − cur%) · ln(ref% / cur%); below 0.10 stable, 0.10–0.25
watch, above 0.25 act; with fewer than 500 observations on either side the status is "insufficient_data"
rather than an alert. Empty bins get a share of 0.0001 so the logarithm stays finite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

PSI_MIN_OBSERVATIONS = 500
PSI_EMPTY_SHARE = 1e-4


def _xy(y: Any, risk: Any) -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y).astype(np.int8).ravel()
    rr = np.asarray(risk, dtype=np.float64).ravel()
    if yy.shape != rr.shape:
        raise ValueError("y and risk must have the same length")
    if np.isnan(rr).any():
        raise ValueError("risk contains NaN")
    return yy, rr


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (the Mann–Whitney convention)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    boundaries = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [xs.size]])
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(xs.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auc(y: Any, risk: Any) -> float:
    """Area under the ROC curve: the probability a random bad is ranked riskier than a random good."""
    yy, rr = _xy(y, risk)
    n_bad = int(yy.sum())
    n_good = yy.size - n_bad
    if n_bad == 0 or n_good == 0:
        return float("nan")
    ranks = _average_ranks(rr)
    return float((ranks[yy == 1].sum() - n_bad * (n_bad + 1) / 2.0) / (n_bad * n_good))


def gini(y: Any, risk: Any) -> float:
    """Accuracy ratio / Gini coefficient = 2·AUC − 1."""
    return 2.0 * auc(y, risk) - 1.0


def _cumulative(y: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds from riskiest down, with the cumulative share of bads and goods at or above each."""
    order = np.argsort(-risk, kind="mergesort")
    rs, ys = risk[order], y[order]
    last = np.concatenate([np.flatnonzero(np.diff(rs) != 0), [rs.size - 1]])
    cum_bad = np.cumsum(ys)[last] / max(1, int(y.sum()))
    cum_good = np.cumsum(1 - ys)[last] / max(1, int(y.size - y.sum()))
    return rs[last], cum_bad, cum_good


def ks(y: Any, risk: Any) -> float:
    """Kolmogorov–Smirnov: the largest gap between the cumulative bad and good distributions."""
    yy, rr = _xy(y, risk)
    if yy.sum() in (0, yy.size):
        return float("nan")
    _, cb, cg = _cumulative(yy, rr)
    return float(np.max(np.abs(cb - cg)))


def _thin(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def roc_curve(y: Any, risk: Any, *, max_points: int = 200) -> dict[str, list[float]]:
    """False- and true-positive rates (goods and bads declined) as the cut-off moves; thinned for charts."""
    yy, rr = _xy(y, risk)
    _, cb, cg = _cumulative(yy, rr)
    fpr = np.concatenate([[0.0], cg])
    tpr = np.concatenate([[0.0], cb])
    keep = _thin(fpr.size, max_points)
    return {"fpr": fpr[keep].round(6).tolist(), "tpr": tpr[keep].round(6).tolist()}


def ks_curve(y: Any, score: Any, *, max_points: int = 200) -> dict[str, Any]:
    """Cumulative bad and good shares by score (ascending: worst scores first) and where KS peaks."""
    yy, ss = _xy(y, score)
    thresholds, cb, cg = _cumulative(yy, -ss)  # riskiest = lowest score first
    keep = _thin(thresholds.size, max_points)
    gap = np.abs(cb - cg)
    at = int(np.argmax(gap))
    return {
        "score": (-thresholds[keep]).round(4).tolist(),
        "cum_bad": cb[keep].round(6).tolist(),
        "cum_good": cg[keep].round(6).tolist(),
        "ks": float(gap[at]),
        "ks_score": float(-thresholds[at]),
    }


def bootstrap_ci(
    y: Any,
    risk: Any,
    statistic: Callable[[np.ndarray, np.ndarray], float] = auc,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic, reproducible from ``seed``.

    Why stratified resampling: every resample keeps the sample's numbers of bads and goods, so AUC and
    KS are always defined even on small validation sets.
    """
    yy, rr = _xy(y, risk)
    rng = np.random.default_rng(seed)
    bad_idx, good_idx = np.flatnonzero(yy == 1), np.flatnonzero(yy == 0)
    if bad_idx.size == 0 or good_idx.size == 0:
        return float("nan"), float("nan")
    values = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(bad_idx, bad_idx.size), rng.choice(good_idx, good_idx.size)])
        values[b] = statistic(yy[idx], rr[idx])
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def metric_summary(y: Any, risk: Any, *, n_boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """AUC, KS and Gini with 95 % bootstrap intervals."""
    yy, rr = _xy(y, risk)
    a = auc(yy, rr)
    lo, hi = bootstrap_ci(yy, rr, auc, n_boot=n_boot, seed=seed)
    klo, khi = bootstrap_ci(yy, rr, ks, n_boot=n_boot, seed=seed)
    return {
        "rows": int(yy.size),
        "bads": int(yy.sum()),
        "bad_rate": float(yy.mean()) if yy.size else float("nan"),
        "auc": a,
        "auc_ci": [lo, hi],
        "gini": 2 * a - 1,
        "gini_ci": [2 * lo - 1, 2 * hi - 1],
        "ks": ks(yy, rr),
        "ks_ci": [klo, khi],
    }


def psi_status(value: float, n_ref: int, n_cur: int) -> str:
    """stable / watch / act, or insufficient_data when either side has fewer than 500 observations."""
    if min(n_ref, n_cur) < PSI_MIN_OBSERVATIONS:
        return "insufficient_data"
    if value < 0.10:
        return "stable"
    if value <= 0.25:
        return "watch"
    return "act"


def psi_from_counts(ref_counts: Sequence[float] | np.ndarray, cur_counts: Sequence[float] | np.ndarray) -> float:
    """PSI of two histograms over the same bins."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    if r.shape != c.shape or r.sum() <= 0 or c.sum() <= 0:
        raise ValueError("PSI needs two non-empty histograms over the same bins")
    rp = np.maximum(r / r.sum(), PSI_EMPTY_SHARE)
    cp = np.maximum(c / c.sum(), PSI_EMPTY_SHARE)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


def psi(reference: Any, current: Any, *, bins: int | Sequence[float] = 10) -> dict[str, Any]:
    """PSI of a numeric variable (a score): bins are the reference deciles unless edges are given."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return {
            "psi": None,
            "status": "insufficient_data",
            "n_ref": int(ref.size),
            "n_cur": int(cur.size),
            "bins": [],
        }
    if isinstance(bins, int):
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    else:
        edges = np.asarray(bins, dtype=np.float64)
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    value = psi_from_counts(r, c)
    return {
        "psi": value,
        "status": psi_status(value, int(ref.size), int(cur.size)),
        "n_ref": int(ref.size),
        "n_cur": int(cur.size),
        "edges": edges.tolist(),
        "ref_share": (r / r.sum()).tolist(),
        "cur_share": (c / c.sum()).tolist(),
    }


def calibration_by_grade(y: Any, pd: Any, grades: Any, order: Sequence[str]) -> list[dict[str, Any]]:
    """Per grade: rows, bads, mean predicted PD and observed bad rate (with a Wilson 95 % interval)."""
    yy = np.asarray(y).astype(np.int8)
    pp = np.asarray(pd, dtype=np.float64)
    gg = np.asarray(grades, dtype=object)
    out = []
    for g in order:
        m = gg == g
        n = int(m.sum())
        bads = int(yy[m].sum())
        row: dict[str, Any] = {"grade": g, "rows": n, "bads": bads, "share": n / max(1, yy.size)}
        if n:
            rate = bads / n
            z = 1.96
            centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
            half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
            row.update(
                {
                    "mean_pd": float(pp[m].mean()),
                    "observed": rate,
                    "observed_ci": [float(max(0.0, centre - half)), float(min(1.0, centre + half))],
                }
            )
        else:
            row.update({"mean_pd": None, "observed": None, "observed_ci": None})
        out.append(row)
    return out


def score_histogram(
    score: Any, y: Any, *, bins: int = 20, edges: Sequence[float] | None = None
) -> dict[str, Any]:
    """Counts of goods and bads per score band (equal-width bands over the observed range)."""
    ss = np.asarray(score, dtype=np.float64)
    yy = np.asarray(y).astype(np.int8)
    if edges is None:
        lo, hi = float(np.floor(ss.min())), float(np.ceil(ss.max()))
        if hi <= lo:
            hi = lo + 1
        e = np.linspace(lo, hi, bins + 1)
    else:
        e = np.asarray(edges, dtype=np.float64)
    idx = np.clip(np.searchsorted(e, ss, side="right") - 1, 0, e.size - 2)
    good = np.bincount(idx[yy == 0], minlength=e.size - 1)
    bad = np.bincount(idx[yy == 1], minlength=e.size - 1)
    return {"edges": e.round(4).tolist(), "good": good.tolist(), "bad": bad.tolist()}
