"""The indicator language: what it accepts, what it refuses (naming the problem), and that it computes the same
figures as a direct computation — over the whole book or over any split of it into chunks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.risk.domain.formula import (
    Field,
    FormulaError,
    Kind,
    compile_formula,
    evaluate,
    finish,
    partial,
)

FIELDS = {f.name: f for f in (
    Field("outstanding", Kind.AMOUNT, "Outstanding", "余额"),
    Field("prev_outstanding", Kind.AMOUNT, "Outstanding a period ago", "上期余额"),
    Field("dpd", Kind.NUMBER, "Days past due", "逾期天数"),
    Field("bucket", Kind.NUMBER, "Bucket", "逾期段"),
    Field("prev_bucket", Kind.NUMBER, "Bucket a period ago", "上期逾期段"),
    Field("risk_class", Kind.NUMBER, "Class", "五级分类"),
    Field("score", Kind.SCORE, "Score", "评分"),
    Field("outcome", Kind.CATEGORY, "Outcome", "决策结果"),
    Field("customer", Kind.CATEGORY, "Customer", "客户"),
    Field("restructured", Kind.FLAG, "Restructured", "重组"),
)}


def book(n: int = 500, seed: int = 1) -> dict[str, np.ndarray]:
    rnd = np.random.default_rng(seed)
    bucket = rnd.integers(0, 8, n)
    return {
        "outstanding": rnd.integers(0, 10**9, n).astype(np.int64),
        "prev_outstanding": rnd.integers(0, 10**9, n).astype(np.int64),
        "dpd": rnd.integers(0, 400, n), "bucket": bucket, "prev_bucket": np.clip(bucket - rnd.integers(-1, 2, n), 0, 7),
        "risk_class": rnd.integers(1, 6, n), "score": rnd.normal(600, 50, n),
        "outcome": rnd.choice(np.array(["approve", "refer", "decline"], dtype=object), n),
        "customer": rnd.choice(np.array([f"C{i}" for i in range(40)], dtype=object), n),
        "restructured": rnd.random(n) < 0.1,
    }


def test_npl_ratio_by_group_equals_a_direct_computation() -> None:
    cols = book()
    groups = np.arange(500) % 3
    f = compile_formula("sum(outstanding, risk_class >= 3) / sum(outstanding)", FIELDS)
    values, parts = evaluate(f, cols, groups, 3, FIELDS)
    for g in range(3):
        m = groups == g
        npl = int(cols["outstanding"][m & (cols["risk_class"] >= 3)].sum())
        whole = int(cols["outstanding"][m].sum())
        assert values[g] == npl / whole
        assert parts[g] == (npl, whole)  # the numerator and denominator are kept exactly (fen)


def test_counts_means_lists_and_flags() -> None:
    cols = book()
    one = np.zeros(500, dtype=np.int64)
    cases = {
        'count(outcome == "approve") / count()': (cols["outcome"] == "approve").mean(),
        'mean(score, outcome != "decline")': cols["score"][cols["outcome"] != "decline"].mean(),
        "sum(outstanding, bucket in (1, 2, 3)) / sum(outstanding)":
            cols["outstanding"][np.isin(cols["bucket"], [1, 2, 3])].sum() / cols["outstanding"].sum(),
        "count(restructured and not dpd > 90)": (cols["restructured"] & ~(cols["dpd"] > 90)).sum(),
        "sum(prev_outstanding, prev_bucket == 1 and bucket == 2) / sum(prev_outstanding, prev_bucket == 1)":
            cols["prev_outstanding"][(cols["prev_bucket"] == 1) & (cols["bucket"] == 2)].sum()
            / cols["prev_outstanding"][cols["prev_bucket"] == 1].sum(),
        "100 * count(bucket > prev_bucket) / count()": 100 * (cols["bucket"] > cols["prev_bucket"]).mean(),
        "count(30 < dpd <= 90)": ((cols["dpd"] > 30) & (cols["dpd"] <= 90)).sum(),
    }
    for text, expected in cases.items():
        value = evaluate(compile_formula(text, FIELDS), cols, one, 1, FIELDS)[0][0]
        assert value == pytest.approx(float(expected), rel=1e-9), text  # scores are summed in millionths


def test_top_share_ranks_customers_by_amount() -> None:
    cols = book()
    f = compile_formula("top_share(customer, 10)", FIELDS)
    value = evaluate(f, cols, np.zeros(500, dtype=np.int64), 1, FIELDS)[0][0]
    totals: dict[str, int] = {}
    for c, a in zip(cols["customer"], cols["outstanding"], strict=True):
        totals[c] = totals.get(c, 0) + int(a)
    top = sorted(totals.values(), reverse=True)[:10]
    assert value == sum(top) / sum(totals.values())


def test_no_rows_gives_no_value_rather_than_zero() -> None:
    cols = book(10)
    f = compile_formula("sum(outstanding, dpd > 10000) / sum(outstanding, dpd > 10000)", FIELDS)
    values, parts = evaluate(f, cols, np.zeros(10, dtype=np.int64), 1, FIELDS)
    assert np.isnan(values[0]) and parts[0] == (0.0, 0.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 499), max_size=6), st.sampled_from([
    "sum(outstanding, risk_class >= 3) / sum(outstanding)", "mean(score, bucket > 0)", "top_share(customer, 5)",
    'count(outcome == "refer") / count()']))
def test_any_split_into_chunks_gives_the_same_figures(cuts: list[int], text: str) -> None:
    """What makes Spark and the local engine agree: partial results of disjoint chunks merge to the whole."""
    cols = book()
    groups = (np.arange(500) * 7) % 4
    f = compile_formula(text, FIELDS)
    whole = evaluate(f, cols, groups, 4, FIELDS)
    edges = [0, *sorted(set(cuts)), 500]
    merged = None
    for a, b in zip(edges, edges[1:], strict=False):
        if a == b:
            continue
        chunk = {k: v[a:b] for k, v in cols.items()}
        p = partial(f, chunk, groups[a:b], 4, FIELDS)
        merged = p if merged is None else merged.merge(p)
    assert merged is not None
    split = finish(f, merged)
    np.testing.assert_array_equal(split[0], whole[0])  # identical, not merely close: sums are exact integers


@pytest.mark.parametrize(("text", "code", "subject"), [
    ("sum(balance) / sum(outstanding)", "unknown_field", "balance"),
    ("sum(outstanding, regionn == 'x')", "unknown_field", "regionn"),
    ("median(outstanding)", "unknown_function", "median"),
    ("sum(outcome)", "field_not_numeric", "outcome"),
    ("sum(outstanding, risk_class >= 'high')", "type_mismatch", "risk_class"),
    ("sum(outstanding, outcome > 'a')", "type_mismatch", "outcome"),
    ("sum(outstanding,", "formula_syntax", ""),
    ("outstanding / 2", "bare_field", "outstanding"),
    ("__import__('os').system('x')", "unknown_function", "__import__('os').system"),
    ("__import__('os')", "unknown_function", "__import__"),
    ("sum(outstanding).real", "formula_syntax", "sum(outstanding).real"),
    ("1 + 2", "formula_no_aggregate", ""),
    ("", "formula_required", ""),
    ("count(dpd)", "condition_not_flag", "dpd"),
])
def test_bad_definitions_are_refused_naming_the_problem(text: str, code: str, subject: str) -> None:
    with pytest.raises(FormulaError) as exc:
        compile_formula(text, FIELDS)
    assert exc.value.code == code
    if subject:
        assert exc.value.subject == subject and subject in exc.value.message
