"""The judgements of model monitoring on plain numbers: the industry's PSI thresholds, the minimum sample, the
Gini decline against development, calibration intervals and when a cohort's outcomes have matured."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from creditplan.risk.domain import monitoring as mon


@pytest.mark.parametrize(("value", "expected"), [
    (0.0, "stable"), (0.0999, "stable"), (0.10, "watch"), (0.25, "watch"), (0.2501, "act"), (3.0, "act")])
def test_psi_thresholds_are_the_industrys(value: float, expected: str) -> None:
    assert mon.psi_verdict(value, 5000, 800, 500).value == expected


def test_below_the_minimum_a_psi_is_never_an_alarm() -> None:
    assert mon.psi_verdict(2.0, 5000, 499, 500) is mon.Verdict.INSUFFICIENT
    assert mon.psi_verdict(2.0, 499, 5000, 500) is mon.Verdict.INSUFFICIENT
    assert mon.psi_verdict(None, 5000, 5000, 500) is mon.Verdict.INSUFFICIENT
    empty = mon.stability([10, 20, 30], [0, 0, 0], ["a", "b", "c"], 500)
    assert empty["psi"] is None and empty["verdict"] == "insufficient_data"


def test_stability_shares_and_contributions_add_up() -> None:
    s = mon.stability([250, 250, 250, 250], [100, 200, 300, 400], ["q1", "q2", "q3", "q4"], 500)
    expected = sum((c - r) * np.log(c / r) for r, c in zip([0.25] * 4, [0.1, 0.2, 0.3, 0.4], strict=True))
    assert s["psi"] == pytest.approx(expected, abs=1e-12) and s["verdict"] == "watch"
    assert sum(b["contribution"] for b in s["bins"]) == pytest.approx(s["psi"], abs=1e-12)
    assert [b["cur_share"] for b in s["bins"]] == [0.1, 0.2, 0.3, 0.4]


def test_the_worst_verdict_wins_and_insufficient_data_only_when_nothing_was_judged() -> None:
    assert mon.worst(["stable", "insufficient_data", "watch"]) is mon.Verdict.WATCH
    assert mon.worst(["stable", "act", "watch"]) is mon.Verdict.ACT
    assert mon.worst(["insufficient_data"]) is mon.Verdict.INSUFFICIENT
    assert mon.worst([]) is mon.Verdict.INSUFFICIENT


@pytest.mark.parametrize(("gini", "expected"), [(0.60, "stable"), (0.55, "stable"), (0.53, "watch"),
                                                (0.48, "watch"), (0.47, "act"), (None, "insufficient_data")])
def test_gini_is_judged_against_development(gini: float | None, expected: str) -> None:
    assert mon.gini_verdict(gini, 0.60).value == expected  # 10 % lower: 0.54; 20 % lower: 0.48


def test_a_cohorts_window_closes_at_the_end_of_its_twelfth_month() -> None:
    assert mon.window_end("2025-01", 12) == dt.date(2026, 1, 31)
    assert mon.window_end("2025-12", 12) == dt.date(2026, 12, 31)
    assert mon.window_end("2024-02", 12) == dt.date(2025, 2, 28)
    assert mon.window_end("2025-03", 6) == dt.date(2025, 9, 30)


def test_a_cohort_is_judged_only_once_matured_and_large_enough() -> None:
    rng = np.random.default_rng(0)
    pd_ = rng.uniform(0.01, 0.5, 800)
    y = (rng.uniform(size=800) < pd_).astype(np.int8)
    conf = mon.Settings()
    matured = mon.cohort_performance("2025-01", y, pd_, matured=True, matures_on=dt.date(2026, 1, 31),
                                     development_gini=0.5, settings=conf)
    assert matured["auc"] is not None and matured["gini_ci"][0] <= matured["gini"] <= matured["gini_ci"][1]
    assert matured["verdict"] in ("stable", "watch", "act")
    waiting = mon.cohort_performance("2025-01", y, pd_, matured=False, matures_on=dt.date(2026, 1, 31),
                                     development_gini=0.5, settings=conf)
    assert waiting["verdict"] == "insufficient_data" and waiting["auc"] is None
    small = mon.cohort_performance("2025-01", y[:499], pd_[:499], matured=True, matures_on=dt.date(2026, 1, 31),
                                   development_gini=0.5, settings=conf)
    assert small["verdict"] == "insufficient_data"


def test_calibration_by_grade_reads_the_wilson_intervals() -> None:
    n = 1000
    y_ok = np.r_[np.ones(50), np.zeros(n - 50)].astype(np.int8)  # 5 % observed
    y_off = np.r_[np.ones(150), np.zeros(n - 150)].astype(np.int8)  # 15 % observed
    y = np.r_[y_ok, y_off]
    pd_ = np.full(2 * n, 0.05)
    grades = ["A"] * n + ["B"] * n
    out = mon.calibration(y, pd_, grades, ["A", "B", "C"], 500)
    rows = {r["grade"]: r for r in out["rows"]}
    assert rows["A"]["verdict"] == "stable" and rows["B"]["verdict"] == "act"
    assert rows["C"]["rows"] == 0 and rows["C"]["verdict"] == "insufficient_data"
    assert rows["A"]["ci95"][0] < 0.05 < rows["A"]["ci95"][1] and rows["A"]["ci99"][0] < rows["A"]["ci95"][0]
    assert out["verdict"] == "act"
    assert mon.calibration(y[:400], pd_[:400], grades[:400], ["A"], 500)["verdict"] == "insufficient_data"


def test_the_development_gini_is_the_holdouts() -> None:
    assert mon.development_gini({"train": {"gini": 0.7}, "holdout": {"gini": 0.6}}) == 0.6
    assert mon.development_gini({"train": {"gini": 0.7}}) == 0.7
    assert mon.development_gini({}) is None
