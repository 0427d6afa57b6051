"""The engine's fast paths (members numbered by hashing, `top_share` over integer arrays, chunks) give exactly
what the formula module computes directly over the whole table, for every standard indicator and dimension."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine import KINDS, loan_book, tasks

from creditplan.risk import engine
from creditplan.risk.domain.catalogue import FACTS
from creditplan.risk.domain.formula import compile_formula, evaluate


def _direct(facts: dict[str, np.ndarray], formula_text: str, dimension: str
            ) -> tuple[list[str], np.ndarray, list[tuple[float, float] | None]]:
    formula = compile_formula(formula_text, KINDS)
    n = facts["loan"].size
    if dimension == "total":
        members, codes = np.array([""]), np.zeros(n, dtype=np.int64)
    else:
        members, codes = np.unique(np.asarray(facts[dimension]).astype(str), return_inverse=True)
    values, parts = evaluate(formula, facts, codes, len(members), KINDS)
    return [str(m) for m in members], values, parts


def test_every_standard_indicator_by_every_dimension_equals_the_direct_computation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    facts = loan_book(12_000, seed=11)
    # few customers with many loans each: ties among the largest exposures, and several chunks per member
    facts["customer"] = np.array([str(c) for c in np.random.default_rng(5).integers(0, 40, 12_000)], dtype=object)
    monkeypatch.setattr(engine, "CHUNK", 5_000)
    formulas = {t.code: t.formula.text for t in tasks()}
    results = engine.run_local(facts, tasks(), KINDS)
    assert {r.code for r in results} == set(formulas) and any(r.code == "top10_customers" for r in results)
    for r in results:
        members, values, parts = _direct(facts, formulas[r.code], r.dimension)
        assert r.members == members, (r.code, r.dimension)
        np.testing.assert_array_equal(r.values, values, err_msg=f"{r.code} by {r.dimension}")
        assert r.parts == parts, (r.code, r.dimension)


def test_a_top_share_counts_the_largest_exposures_whatever_their_order() -> None:
    facts = loan_book(6, seed=1)
    facts["customer"] = np.array(["a", "b", "b", "c", "d", "e"], dtype=object)
    facts["outstanding"] = np.array([50, 30, 20, 50, 10, 40], dtype=np.int64)  # a, b and c tie at 50
    formula = compile_formula("top_share(customer, 2)", FACTS["loans"])
    [total] = engine.run_local(facts, [engine.Task("t", formula, ("total",))], FACTS["loans"])
    assert total.values[0] == 100 / 200

