"""The indicator engines: broken down by dimension, the local engine equals a direct computation, and Spark
(mapInArrow over partitions) gives identical figures."""

from __future__ import annotations

import numpy as np
import pytest

from creditplan.risk.domain.catalogue import FACTS, STANDARD
from creditplan.risk.domain.formula import compile_formula
from creditplan.risk.engine import Task, run_local, run_spark

KINDS = FACTS["loans"]


def loan_book(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    rnd = np.random.default_rng(seed)
    bucket = rnd.choice(8, n, p=[0.85, 0.05, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01])
    prev_bucket = np.clip(bucket - rnd.integers(-1, 2, n), 0, 7)
    risk_class = np.select([bucket == 0, bucket <= 3, bucket <= 5, bucket == 6], [1, 2, 3, 4], 5)
    outstanding = rnd.integers(1_000_00, 500_000_00, n).astype(np.int64)
    return {
        "loan": np.arange(n), "customer": np.array([f"{c}" for c in rnd.integers(0, n // 3 + 1, n)], dtype=object),
        "branch": rnd.choice(np.array(["BJ01", "BJ02", "SH01"], dtype=object), n),
        "product": rnd.choice(np.array(["consumer", "business"], dtype=object), n),
        "industry": rnd.choice(np.array(["C", "F", "-"], dtype=object), n),
        "region": rnd.choice(np.array(["110000", "310000"], dtype=object), n),
        "channel": rnd.choice(np.array(["web", "api", "branch", "booked"], dtype=object), n),
        "grade": rnd.choice(np.array(list("ABCDEFG"), dtype=object), n),
        "vintage": rnd.choice(np.array(["2026-01", "2026-02", "2026-03"], dtype=object), n),
        "score": np.where(rnd.random(n) < 0.1, np.nan, rnd.normal(600, 40, n)),
        "principal": outstanding + 10_000, "outstanding": outstanding, "overdue_principal": outstanding // 10,
        "dpd": bucket * 30, "bucket": bucket, "risk_class": risk_class, "months_on_book": rnd.integers(0, 36, n),
        "worst_dpd": bucket * 30, "fpd": rnd.random(n) < 0.02, "fpd_known": rnd.random(n) < 0.9,
        "default_3m": rnd.random(n) < 0.03, "default_3m_known": rnd.random(n) < 0.8,
        "restructured": rnd.random(n) < 0.01, "written_off": np.zeros(n, dtype=bool),
        "allowance": outstanding // 50, "has_prev": rnd.random(n) < 0.95,
        "prev_outstanding": outstanding + 5_000, "prev_bucket": prev_bucket,
        "prev_risk_class": np.clip(risk_class - rnd.integers(0, 2, n), 1, 5),
    }


def tasks() -> list[Task]:
    return [Task(s.code, compile_formula(s.formula, KINDS), s.dimensions) for s in STANDARD if s.fact == "loans"]


def test_local_engine_equals_a_direct_computation_by_branch() -> None:
    facts = loan_book(5_000)
    results = {(r.code, r.dimension): r for r in run_local(facts, tasks(), KINDS)}
    npl = results[("npl_ratio", "branch")]
    assert npl.members == ["BJ01", "BJ02", "SH01"]
    for i, b in enumerate(npl.members):
        m = facts["branch"] == b
        expected = facts["outstanding"][m & (facts["risk_class"] >= 3)].sum() / facts["outstanding"][m].sum()
        assert npl.values[i] == expected
    total = results[("npl_ratio", "total")]
    assert total.members == [""] and total.parts[0] == (
        float(facts["outstanding"][facts["risk_class"] >= 3].sum()), float(facts["outstanding"].sum()))


@pytest.mark.slow
def test_spark_gives_identical_figures_to_the_local_engine() -> None:
    pytest.importorskip("pyspark")
    facts = loan_book(20_000)
    local = run_local(facts, tasks(), KINDS)
    spark = run_spark(facts, tasks(), KINDS, partitions=3)
    assert len(local) == len(spark)
    for a, b in zip(local, spark, strict=True):
        assert (a.code, a.dimension, a.members) == (b.code, b.dimension, b.members)
        np.testing.assert_array_equal(a.values, b.values, err_msg=f"{a.code} by {a.dimension}")
        assert a.parts == b.parts
