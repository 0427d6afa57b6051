"""Model monitoring in production: is each scoring model still scoring the population it was built for, and does
it still rank and predict risk as it did in development?

Pure: figures in, judgements out, as JSON-ready dicts (they are stored as they are and drawn by the pages and the
monthly report). The service (risk.services.monitoring) gathers a model version's decisions of a week, the loans
they became and those loans' outcomes from the kept snapshots of the book.

What is measured, with its verdict — ``stable`` / ``watch`` / ``act``, or ``insufficient_data`` when the sample is
smaller than the minimum (``MODEL_MONITOR_MIN_SAMPLE``, 500 by default: a small sample says nothing, and must
never raise a false alarm):

- score stability (PSI): the week's application scores against the development sample's score deciles (the
  reference recorded at training, scoring.domain.reference). PSI = Σ (cur% − ref%) · ln(cur% / ref%) over the
  bins, an empty bin counted as a share of 0.0001 (scoring.domain.metrics.psi_from_counts). Below 0.10 stable,
  0.10 to 0.25 watch, above 0.25 act (the industry's thresholds);
- characteristic stability (CSI) of each model feature: the same formula over the feature's development bins;
- the grade mix of the week's applications against development (the same formula over the grades), with the
  approval rate of each grade;
- discrimination by origination cohort (the month the loan started), once the cohort's outcomes have matured:
  AUC, KS and Gini with 95 % bootstrap intervals (metrics.metric_summary). A *bad* is a loan that reached
  ``BAD_DPD`` (90) days past due within ``OUTCOME_MONTHS`` (12) months; a cohort has matured when the kept
  snapshot of the book reaches the end of the month ``OUTCOME_MONTHS`` months after its origination month, so
  every one of its loans has had its full window. Verdict against the development Gini (the hold-out's, else the
  training part's): a relative decline below 10 % stable, 10 % to 20 % watch, beyond 20 % act;
- calibration over the matured loans, by grade and for all grades together: the mean predicted PD against the
  observed bad rate with its Wilson interval — predicted inside the 95 % interval stable, inside the 99 % one
  watch, outside act (each row needs the minimum sample itself).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditplan.scoring.domain.metrics import metric_summary, psi_from_counts

PSI_WATCH = 0.10
PSI_ACT = 0.25
GINI_WATCH = 0.10  # relative decline against development
GINI_ACT = 0.20
Z95 = 1.959964
Z99 = 2.575829


class Verdict(StrEnum):
    STABLE = "stable"
    WATCH = "watch"
    ACT = "act"
    INSUFFICIENT = "insufficient_data"


_SEVERITY = {Verdict.INSUFFICIENT: 0, Verdict.STABLE: 1, Verdict.WATCH: 2, Verdict.ACT: 3}


@dataclass(frozen=True)
class Settings:
    """The knobs of monitoring (Django settings MODEL_MONITOR_MIN_SAMPLE, BAD_DPD, OUTCOME_MONTHS)."""

    min_sample: int = 500
    bad_dpd: int = 90
    outcome_months: int = 12
    n_boot: int = 200
    seed: int = 0


def worst(verdicts: Iterable[Verdict | str]) -> Verdict:
    """The most severe verdict; insufficient_data only when nothing could be judged."""
    out = Verdict.INSUFFICIENT
    for v in verdicts:
        verdict = Verdict(v)
        if _SEVERITY[verdict] > _SEVERITY[out]:
            out = verdict
    return out


def psi_verdict(value: float | None, n_ref: int, n_cur: int, min_sample: int) -> Verdict:
    """The industry's reading of a PSI (or CSI): < 0.10 stable, 0.10–0.25 watch, > 0.25 act — or
    insufficient_data when either sample is below the minimum."""
    if value is None or min(n_ref, n_cur) < min_sample or not math.isfinite(value):
        return Verdict.INSUFFICIENT
    if value < PSI_WATCH:
        return Verdict.STABLE
    if value <= PSI_ACT:
        return Verdict.WATCH
    return Verdict.ACT


def stability(ref_counts: Sequence[int], cur_counts: Sequence[int], labels: Sequence[str], min_sample: int
              ) -> dict[str, Any]:
    """PSI of the current counts against the reference counts over the same bins, with each bin's shares and
    its contribution to the index."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    if r.shape != c.shape:
        raise ValueError("the current counts must be over the reference's bins")
    n_ref, n_cur = int(r.sum()), int(c.sum())
    value: float | None = None
    bins: list[dict[str, Any]] = []
    rp = r / n_ref if n_ref else np.zeros_like(r)
    cp = c / n_cur if n_cur else np.zeros_like(c)
    if n_ref and n_cur:
        value = psi_from_counts(r, c)
        rs = np.maximum(rp, 1e-4)
        cs = np.maximum(cp, 1e-4)
        parts = (cs - rs) * np.log(cs / rs)
    else:
        parts = np.zeros_like(r)
    for k in range(r.size):
        bins.append({"label": str(labels[k]) if k < len(labels) else str(k), "ref": int(r[k]), "cur": int(c[k]),
                     "ref_share": float(rp[k]), "cur_share": float(cp[k]), "contribution": float(parts[k])})
    return {"psi": value, "verdict": psi_verdict(value, n_ref, n_cur, min_sample).value, "n_ref": n_ref,
            "n_cur": n_cur, "min_sample": min_sample, "bins": bins}


def score_stability(reference: Mapping[str, Any], current_counts: Sequence[int], min_sample: int) -> dict[str, Any]:
    """PSI of the week's scores (counted over the reference's score bins) against development."""
    score = reference["score"]
    return stability(score["counts"], current_counts, score.get("labels", []), min_sample)


def feature_stability(reference: Mapping[str, Any], current: Mapping[str, Sequence[int]], min_sample: int
                      ) -> list[dict[str, Any]]:
    """CSI of each model feature (the PSI formula over the feature's development bins), worst first."""
    rows = []
    for f in reference.get("features") or []:
        counts = current.get(f["name"])
        if counts is None:
            continue
        row = stability(f["counts"], counts, f.get("labels", []), min_sample)
        row.update(name=f["name"], type=f.get("type", ""), method=f.get("method", ""))
        rows.append(row)
    rows.sort(key=lambda x: (-_SEVERITY[Verdict(x["verdict"])], -(x["psi"] or 0.0), x["name"]))
    return rows


def grade_mix(reference: Mapping[str, Any], grades: Sequence[str], approved: Sequence[bool], min_sample: int
              ) -> dict[str, Any]:
    """The week's applications by grade against the development grade mix (PSI over the grades), with each
    grade's approval rate (approved automatically or by a reviewer, over the grade's applications)."""
    order = [str(g) for g in reference["grades"]["order"]]
    ref = [int(c) for c in reference["grades"]["counts"]]
    g = np.asarray([str(x) for x in grades], dtype=object)
    a = np.asarray(approved, dtype=bool)
    cur = [int((g == name).sum()) for name in order]
    mix = stability(ref, cur, order, min_sample)
    rows = []
    for k, name in enumerate(order):
        mask = g == name
        n = int(mask.sum())
        ok = int(a[mask].sum())
        rows.append({"grade": name, "ref_share": mix["bins"][k]["ref_share"], "decisions": n,
                     "share": mix["bins"][k]["cur_share"], "approved": ok, "approval_rate": ok / n if n else None})
    total = int(g.size)
    return {"psi": mix["psi"], "verdict": mix["verdict"], "n_ref": mix["n_ref"], "n_cur": mix["n_cur"],
            "min_sample": min_sample, "rows": rows, "decisions": total, "approved": int(a.sum()),
            "approval_rate": float(a.sum()) / total if total else None}


# --- outcomes ----------------------------------------------------------------------------------------------

def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def window_end(cohort: str, outcome_months: int) -> dt.date:
    """The last day of the month `outcome_months` months after the cohort's month ('YYYY-MM'): by then every
    loan of the cohort has been on the book at least `outcome_months` months."""
    year, month = (int(p) for p in cohort.split("-"))
    index = year * 12 + (month - 1) + outcome_months + 1
    first_after = dt.date(index // 12, index % 12 + 1, 1)
    return first_after - dt.timedelta(days=1)


def gini_verdict(gini: float | None, development: float | None) -> Verdict:
    """A cohort's Gini against development: relative decline < 10 % stable, 10–20 % watch, > 20 % act."""
    if gini is None or development is None or not math.isfinite(gini) or development <= 0:
        return Verdict.INSUFFICIENT
    decline = (development - gini) / development
    if decline < GINI_WATCH:
        return Verdict.STABLE
    if decline <= GINI_ACT:
        return Verdict.WATCH
    return Verdict.ACT


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def cohort_performance(cohort: str, y: NDArray[np.int8] | Sequence[int], pd: NDArray[np.float64] | Sequence[float],
                       *, matured: bool, matures_on: dt.date, development_gini: float | None, settings: Settings,
                       loans: int | None = None) -> dict[str, Any]:
    """One origination cohort: AUC, KS and Gini with 95 % bootstrap intervals over its loans with a known
    outcome (once matured), and its verdict. `y` 1 = bad; `pd` the PD the decision used."""
    yy = np.asarray(y, dtype=np.int8)
    pp = np.asarray(pd, dtype=np.float64)
    n = int(yy.size)
    bads = int(yy.sum())
    row: dict[str, Any] = {"cohort": cohort, "loans": n if loans is None else loans, "rows": n, "bads": bads,
                           "bad_rate": bads / n if n else None, "matured": matured,
                           "matures_on": matures_on.isoformat(), "min_sample": settings.min_sample,
                           "auc": None, "auc_ci": None, "ks": None, "ks_ci": None, "gini": None, "gini_ci": None,
                           "development_gini": development_gini, "verdict": Verdict.INSUFFICIENT.value}
    if not matured or n < settings.min_sample or bads == 0 or bads == n:
        return row
    m = metric_summary(yy, pp, n_boot=settings.n_boot, seed=settings.seed)
    row.update(auc=_finite(m["auc"]), auc_ci=[_finite(v) for v in m["auc_ci"]], ks=_finite(m["ks"]),
               ks_ci=[_finite(v) for v in m["ks_ci"]], gini=_finite(m["gini"]),
               gini_ci=[_finite(v) for v in m["gini_ci"]])
    row["verdict"] = gini_verdict(row["gini"], development_gini).value
    return row


def wilson(bads: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a bad rate."""
    if n <= 0:
        return (0.0, 1.0)
    rate = bads / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _calibration_row(name: str, y: NDArray[np.int8], pd: NDArray[np.float64], min_sample: int) -> dict[str, Any]:
    n = int(y.size)
    bads = int(y.sum())
    row: dict[str, Any] = {"grade": name, "rows": n, "bads": bads, "mean_pd": None, "observed": None,
                           "ci95": None, "ci99": None, "verdict": Verdict.INSUFFICIENT.value}
    if n:
        predicted = float(pd.mean())
        lo95, hi95 = wilson(bads, n, Z95)
        lo99, hi99 = wilson(bads, n, Z99)
        row.update(mean_pd=predicted, observed=bads / n, ci95=[lo95, hi95], ci99=[lo99, hi99])
        if n >= min_sample:
            verdict = (Verdict.STABLE if lo95 <= predicted <= hi95 else
                       Verdict.WATCH if lo99 <= predicted <= hi99 else Verdict.ACT)
            row["verdict"] = verdict.value
    return row


def calibration(y: Sequence[int] | NDArray[np.int8], pd: Sequence[float] | NDArray[np.float64],
                grades: Sequence[str], order: Sequence[str], min_sample: int) -> dict[str, Any]:
    """Per grade of the master scale, and over all grades together: loans with a matured outcome, mean predicted
    PD, observed bad rate with its 95 % and 99 % Wilson intervals, and the verdict (predicted inside the 95 %
    interval stable, inside the 99 % one watch, outside act; fewer loans than the minimum: insufficient_data).
    The table's verdict is the worst of them."""
    yy = np.asarray(y, dtype=np.int8)
    pp = np.asarray(pd, dtype=np.float64)
    gg = np.asarray([str(g) for g in grades], dtype=object)
    rows = [_calibration_row(name, yy[gg == name], pp[gg == name], min_sample) for name in order]
    pooled = _calibration_row("", yy, pp, min_sample)
    return {"rows": rows, "pooled": pooled, "loans": int(yy.size), "bads": int(yy.sum()), "min_sample": min_sample,
            "verdict": worst([pooled["verdict"], *(r["verdict"] for r in rows)]).value}


def development_gini(metrics: Mapping[str, Any]) -> float | None:
    """The Gini a version was developed with: its hold-out's, else its training part's (metrics JSON)."""
    for block in ("holdout", "validation", "train"):
        values = metrics.get(block)
        if isinstance(values, Mapping) and isinstance(values.get("gini"), int | float):
            g = float(values["gini"])
            if math.isfinite(g):
                return g
    return None


def summary_verdict(result: Mapping[str, Any]) -> Verdict:
    """A version-week's overall verdict: the worst of score PSI, the features' CSI, the grade mix, the matured
    cohorts' discrimination and calibration."""
    parts: list[str] = []
    for key in ("score", "grades", "calibration"):
        block = result.get(key)
        if isinstance(block, Mapping) and "verdict" in block:
            parts.append(str(block["verdict"]))
    parts += [str(f["verdict"]) for f in result.get("features") or []]
    parts += [str(c["verdict"]) for c in result.get("cohorts") or []]
    return worst(parts)
