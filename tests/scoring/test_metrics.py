"""AUC, KS, Gini, bootstrap intervals, PSI and calibration against known values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from creditplan.scoring.domain import metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_sklearn_with_and_without_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    risk = rng.normal(size=2000) + y
    assert metrics.auc(y, risk) == pytest.approx(roc_auc_score(y, risk), abs=1e-12)
    tied = np.round(risk, 0)  # heavy ties
    assert metrics.auc(y, tied) == pytest.approx(roc_auc_score(y, tied), abs=1e-12)
    assert metrics.gini(y, risk) == pytest.approx(2 * roc_auc_score(y, risk) - 1, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-5, 5)), min_size=2, max_size=60))
def test_auc_property_against_sklearn(pairs: list[tuple[int, int]]) -> None:
    y = np.array([p[0] for p in pairs])
    r = np.array([p[1] for p in pairs], dtype=float)
    if y.min() == y.max():
        assert math.isnan(metrics.auc(y, r))
    else:
        assert metrics.auc(y, r) == pytest.approx(roc_auc_score(y, r), abs=1e-12)


def test_known_small_values() -> None:
    y = np.array([0, 0, 1, 1])
    assert metrics.auc(y, [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert metrics.auc(y, [1, 2, 3, 4]) == 1.0 and metrics.auc(y, [4, 3, 2, 1]) == 0.0
    assert metrics.ks(y, [1, 2, 3, 4]) == 1.0
    assert metrics.ks(y, [0.1, 0.4, 0.35, 0.8]) == 0.5


def test_ks_against_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    risk = rng.normal(size=500) + 0.8 * y
    cuts = np.unique(risk)
    direct = max(abs((risk[y == 1] >= c).mean() - (risk[y == 0] >= c).mean()) for c in cuts)
    assert metrics.ks(y, risk) == pytest.approx(direct, abs=1e-12)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    risk = rng.normal(size=800) + y
    a = metrics.bootstrap_ci(y, risk, n_boot=200, seed=7)
    b = metrics.bootstrap_ci(y, risk, n_boot=200, seed=7)
    assert a == b
    assert a[0] < metrics.auc(y, risk) < a[1] and a[1] - a[0] < 0.1


def test_psi_known_values() -> None:
    # two bins, 50/50 against 60/40: (0.5 − 0.6)·ln(0.5/0.6) + (0.5 − 0.4)·ln(0.5/0.4)
    expected = (0.5 - 0.6) * math.log(0.5 / 0.6) + (0.5 - 0.4) * math.log(0.5 / 0.4)
    assert metrics.psi_from_counts([50, 50], [60, 40]) == pytest.approx(expected, abs=1e-15)
    assert metrics.psi_from_counts([10, 20, 30], [10, 20, 30]) == 0.0
    assert metrics.psi_from_counts([1, 1], [2, 2]) == 0.0


def test_psi_status_thresholds_and_insufficient_data() -> None:
    assert metrics.psi_status(0.05, 1000, 1000) == "stable"
    assert metrics.psi_status(0.10, 1000, 1000) == "watch"
    assert metrics.psi_status(0.25, 1000, 1000) == "watch"
    assert metrics.psi_status(0.26, 1000, 1000) == "act"
    assert metrics.psi_status(0.90, 499, 1000) == "insufficient_data"
    rng = np.random.default_rng(0)
    small = metrics.psi(rng.normal(size=300), rng.normal(size=300) + 2)
    assert small["status"] == "insufficient_data" and small["psi"] > 0.25
    big = metrics.psi(rng.normal(size=5000), rng.normal(size=5000) + 1)
    assert big["status"] == "act"
    same = metrics.psi(rng.normal(size=5000), rng.normal(size=5000))
    assert same["status"] == "stable"


def test_calibration_by_grade() -> None:
    y = np.array([0, 1, 0, 0, 1, 1])
    pd_ = np.array([0.1, 0.1, 0.2, 0.2, 0.8, 0.9])
    grades = np.array(["A", "A", "B", "B", "C", "C"], dtype=object)
    rows = metrics.calibration_by_grade(y, pd_, grades, ["A", "B", "C", "D"])
    assert [r["rows"] for r in rows] == [2, 2, 2, 0]
    assert rows[0]["observed"] == 0.5 and rows[0]["mean_pd"] == pytest.approx(0.1)
    assert rows[2]["observed"] == 1.0 and rows[3]["observed"] is None
    lo, hi = rows[1]["observed_ci"]
    assert lo == 0.0 and 0 < hi < 1


def test_curves() -> None:
    y = np.array([0, 0, 1, 1])
    roc = metrics.roc_curve(y, [0.1, 0.4, 0.35, 0.8])
    assert roc["fpr"][0] == 0 and roc["tpr"][0] == 0 and roc["fpr"][-1] == 1 and roc["tpr"][-1] == 1
    kc = metrics.ks_curve(y, [600, 500, 520, 400])
    assert kc["ks"] == metrics.ks(y, [-600, -500, -520, -400])
