"""Roll rates, the monthly transition matrix and month-on-book vintage curves, computed by the product's kernels
from the public credit-card status panel, equal an independent computation written here with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
from panel import panel

from creditplan.risk.domain import portfolio

N = len(portfolio.BUCKETS)


def _pandas_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """Each account's state this month and next month, where both months were observed."""
    nxt = df.assign(month=df["month"] - 1).rename(columns={"bucket": "next_bucket"})
    return df.merge(nxt, on=["id", "month"], how="inner")


def test_pooled_transition_matrix_and_roll_rates_equal_pandas() -> None:
    df = panel()
    product = portfolio.panel_transitions(df["id"].to_numpy(), df["month"].to_numpy(), df["bucket"].to_numpy(), N)

    pairs = _pandas_pairs(df)
    expected = pd.crosstab(pairs["bucket"], pairs["next_bucket"]).reindex(index=range(N), columns=range(N),
                                                                          fill_value=0)
    assert product.counts.tolist() == expected.to_numpy().tolist()
    assert product.counts.sum() == len(pairs) > 700_000  # most of the panel's months pair with the next one

    rows = expected.sum(axis=1)
    for i, rate in enumerate(product.roll_rates()):
        if rows[i] == 0:
            assert rate is None
        else:
            assert rate == expected.loc[i, i + 1] / rows[i]
    # the panel's own story: deeper delinquency rolls on far more often, and written-off accounts stay there
    rolls = product.roll_rates()
    assert rolls[1] is not None and rolls[3] is not None and rolls[3] > 10 * rolls[1]
    assert product.rates[5, 5] > 0.9


def test_monthly_transition_matrices_equal_pandas() -> None:
    df = panel()
    by_month = portfolio.monthly_transitions(df["id"].to_numpy(), df["month"].to_numpy(), df["bucket"].to_numpy(), N)
    pairs = _pandas_pairs(df)
    assert sorted(by_month) == sorted(int(m) for m in pairs["month"].unique())
    for month, group in pairs.groupby("month"):
        expected = pd.crosstab(group["bucket"], group["next_bucket"]).reindex(index=range(N), columns=range(N),
                                                                              fill_value=0)
        assert by_month[int(month)].counts.tolist() == expected.to_numpy().tolist(), month


def _pandas_vintage(df: pd.DataFrame, bad_from: int) -> tuple[dict[int, int], dict[tuple[int, int], float]]:
    first = df.groupby("id")["month"].min().rename("cohort")
    bad = df[df["bucket"] >= bad_from].merge(first, left_on="id", right_index=True)
    bad = (bad["month"] - bad["cohort"]).groupby(bad["id"]).min().rename("bad_mob")
    accounts = first.to_frame().join(bad)
    last = int(df["month"].max())
    sizes = accounts.groupby("cohort").size().to_dict()
    rates: dict[tuple[int, int], float] = {}
    for cohort, members in accounts.groupby("cohort"):
        for k in range(0, last - int(cohort) + 1):
            rates[(int(cohort), k)] = float((members["bad_mob"] <= k).sum() / len(members))
    return sizes, rates


def test_vintage_curves_30_and_90_plus_equal_pandas() -> None:
    df = panel()
    for bad_from in (2, 4):  # 30+ (31-60 and worse) and 90+ (91-180 and worse)
        product = portfolio.vintage_curves(df["id"].to_numpy(), df["month"].to_numpy(), df["bucket"].to_numpy(),
                                           bad_from=bad_from)
        sizes, rates = _pandas_vintage(df, bad_from)
        assert product.sizes == sizes
        for (cohort, k), rate in rates.items():
            assert product.rates[cohort][k] == rate, (bad_from, cohort, k)
        # months a cohort has not reached yet are unknown, not zero
        youngest = max(product.cohorts)
        assert product.rates[youngest][1] is None
        # cumulative: a curve never falls
        for cohort in product.cohorts:
            known = [r for r in product.rates[cohort] if r is not None]
            assert all(b >= a for a, b in zip(known, known[1:], strict=False))
    thirty = portfolio.vintage_curves(df["id"].to_numpy(), df["month"].to_numpy(), df["bucket"].to_numpy(), bad_from=2)
    ninety = portfolio.vintage_curves(df["id"].to_numpy(), df["month"].to_numpy(), df["bucket"].to_numpy(), bad_from=4)
    oldest = min(thirty.cohorts)
    assert np.nanmax([r or 0 for r in ninety.rates[oldest]]) <= np.nanmax([r or 0 for r in thirty.rates[oldest]])
