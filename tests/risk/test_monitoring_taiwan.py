"""Acceptance on the public Taiwan credit-card data: the product's PSI and CSI equal a direct computation of the
formula, and optbinning's ScorecardMonitoring finds the same PSI over the same bins.

The development sample is a scorecard's training part; the "current" population is the hold-out's applicants with a
credit limit below the development median — a population that has really moved, so the indexes are far from 0.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from creditplan.risk.domain import monitoring as mon
from creditplan.scoring.domain import data, datasets, train
from creditplan.scoring.domain import reference as refs


@functools.cache
def _taiwan() -> tuple[train.TrainResult, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    df, target, bad = datasets.taiwan_default()
    sample = df.groupby(target, group_keys=False).sample(frac=12_000 / len(df), random_state=1)
    X, y = data.prepare_target(sample.reset_index(drop=True), target, bad)
    result = train.train_model("scorecard", X, y, seed=0, holdout=0.3)
    assert result.X_holdout is not None and result.y_holdout is not None
    limit = result.X_train["LIMIT_BAL"].median()
    moved = (result.X_holdout["LIMIT_BAL"] < limit).to_numpy()
    return result, result.X_train, result.y_train, result.X_holdout[moved].reset_index(drop=True), \
        result.y_holdout[moved]


@pytest.fixture(scope="module")
def taiwan() -> tuple[train.TrainResult, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    return _taiwan()


def _direct_psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI written out: Σ (actual% − expected%) · ln(actual% / expected%), an empty bin counted as 0.01 %."""
    e = np.maximum(expected / expected.sum(), 1e-4)
    a = np.maximum(actual / actual.sum(), 1e-4)
    return float(sum((ai - ei) * math.log(ai / ei) for ai, ei in zip(a, e, strict=True)))


def test_score_psi_equals_the_formula_over_the_development_deciles(taiwan: Any) -> None:
    result, X_dev, _y_dev, X_cur, _y_cur = taiwan
    model = result.compiled()
    dev_scores = model.score_frame(X_dev, reasons=False).score
    cur_scores = model.score_frame(X_cur, reasons=False).score
    # the reference recorded at training: deciles of the development scores, counted [edge, next edge)
    edges = np.quantile(dev_scores, np.arange(1, 10) / 10)
    assert np.allclose(result.reference["score"]["edges"], edges, rtol=0, atol=1e-9)
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    expected = np.array([((dev_scores >= lo) & (dev_scores < hi)).sum() for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])
    actual = np.array([((cur_scores >= lo) & (cur_scores < hi)).sum() for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])
    assert result.reference["score"]["counts"] == expected.tolist()

    product = mon.score_stability(result.reference, refs.score_counts(result.reference, cur_scores), 500)
    direct = _direct_psi(expected.astype(float), actual.astype(float))
    print(f"\nTaiwan score PSI: product {product['psi']:.10f}, direct formula {direct:.10f} "
          f"({product['n_ref']} development, {product['n_cur']} current) → {product['verdict']}")
    assert product["n_ref"] == len(X_dev) and product["n_cur"] == len(X_cur)
    assert math.isclose(product["psi"], direct, rel_tol=0, abs_tol=1e-12)
    assert product["psi"] > 0.1  # the population did move
    assert math.isclose(sum(b["contribution"] for b in product["bins"]), product["psi"], abs_tol=1e-12)


def test_csi_of_each_feature_equals_the_formula_over_the_scorecards_own_bins(taiwan: Any) -> None:
    result, X_dev, _y_dev, X_cur, _y_cur = taiwan
    model = result.compiled()
    reference = result.reference
    current = refs.feature_counts(model, reference, X_cur)
    product = {f["name"]: f for f in mon.feature_stability(reference, current, 500)}
    bp = result.scorecard.binning_process_
    assert set(product) == set(bp.get_support(names=True))
    lines = []
    for f in reference["features"]:
        optb = bp.get_binned_variable(f["name"])
        # the bins as optbinning itself assigns them: regular bins, then special, then missing
        n = len(f["counts"])
        dev = np.bincount(optb.transform(X_dev[f["name"]], metric="indices"), minlength=n)
        cur = np.bincount(optb.transform(X_cur[f["name"]], metric="indices"), minlength=n)
        assert f["counts"] == dev.tolist(), f["name"]
        direct = _direct_psi(dev.astype(float), cur.astype(float))
        got = product[f["name"]]
        if current[f["name"]] == cur.tolist():
            assert math.isclose(got["psi"], direct, rel_tol=0, abs_tol=1e-12), f["name"]
        else:  # a category never seen in development: optbinning counts it as missing, the scorecard in its
            # most conservative bin (scoring.domain.scorer); the product counts it where the model read it
            assert sum(current[f["name"]]) == sum(cur)
            ours = _direct_psi(np.asarray(f["counts"], float), np.asarray(current[f["name"]], float))
            assert math.isclose(got["psi"], ours, rel_tol=0, abs_tol=1e-12), f["name"]
        lines.append(f"{f['name']} {got['psi']:.6f} ({got['verdict']})")
    print("\nTaiwan CSI: " + ", ".join(lines))
    assert any(v["verdict"] in ("watch", "act") for v in product.values())  # LIMIT_BAL-driven features moved


def test_optbinning_scorecard_monitoring_gives_the_same_psi_on_the_same_bins(taiwan: Any) -> None:
    from optbinning.scorecard import ScorecardMonitoring

    result, X_dev, y_dev, X_cur, y_cur = taiwan
    sc = result.scorecard
    names = list(sc.binning_process_.variable_names)
    monitoring = ScorecardMonitoring(scorecard=sc, psi_method="cart", psi_n_bins=20, psi_min_bin_size=0.05,
                                     show_digits=6, verbose=False)
    monitoring.fit(X_cur[names], y_cur, X_dev[names], y_dev)
    table = monitoring.psi_table()
    theirs = float(table.loc["Totals", "PSI"])
    counts_e = table["Count E"].to_numpy()[:-1].astype(np.int64)
    counts_a = table["Count A"].to_numpy()[:-1].astype(np.int64)
    # the product's PSI over optbinning's bins (PreBinning on the development scores), counted by the product
    splits = monitoring._splits
    model = result.compiled()
    ours_e = np.bincount(np.digitize(model.score_only(X_dev), splits, right=True), minlength=len(splits) + 1)
    ours_a = np.bincount(np.digitize(model.score_only(X_cur), splits, right=True), minlength=len(splits) + 1)
    assert ours_e.tolist() == counts_e.tolist() and ours_a.tolist() == counts_a.tolist()
    assert (counts_e > 0).all() and (counts_a > 0).all()  # no empty bin: the floor of 0.01 % never applies
    product = mon.stability(counts_e.tolist(), counts_a.tolist(), [str(k) for k in range(counts_e.size)], 500)
    print(f"\noptbinning ScorecardMonitoring PSI {theirs:.10f} over {counts_e.size} bins; product over the same "
          f"bins {product['psi']:.10f} → {product['verdict']}")
    assert math.isclose(product["psi"], theirs, rel_tol=1e-12, abs_tol=1e-12)
    per_bin = table["PSI"].to_numpy()[:-1].astype(float)
    assert np.allclose([b["contribution"] for b in product["bins"]], per_bin, rtol=0, atol=1e-12)
    # and optbinning's per-variable PSI equals the product's CSI where both count the same rows in each bin
    variables = monitoring.psi_variable_table(style="detailed")
    reference = result.reference
    current = refs.feature_counts(model, reference, X_cur)
    csi = {f["name"]: f for f in mon.feature_stability(reference, current, 500)}
    compared = 0
    for f in reference["features"]:
        rows = variables[variables.Variable == f["name"]]
        a, e = rows["Count A"].to_numpy(), rows["Count E"].to_numpy()
        if (a > 0).all() and (e > 0).all() and current[f["name"]][: a.size] == a.tolist() \
                and sum(current[f["name"]]) == a.sum():
            assert math.isclose(csi[f["name"]]["psi"], float(rows["PSI"].sum()), rel_tol=1e-12, abs_tol=1e-12)
            compared += 1
    print(f"optbinning per-variable PSI equal to the product's CSI for {compared} of {len(reference['features'])} features")
    assert compared >= len(reference["features"]) // 2
