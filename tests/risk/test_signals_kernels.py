"""The early-warning kernels on constructed snapshots: each signal fires exactly when it should — and not one day or
one figure earlier — with the explanation a risk manager reads, in both languages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from creditplan.risk.domain import signals as sig
from creditplan.risk.signals_engine import run_local

ALL = sig.References(week=True, month=True, month_end=True)


def _loans(*rows: dict[str, int]) -> dict[str, Any]:
    """Loan rows (defaults: on the book, current, class 1, on the book at every earlier snapshot with the same
    figures, no group)."""
    base = {"loan": 0, "customer": 0, "group": 0, "dpd": 0, "risk_class": 1, "closed": 0, "written_off": 0,
            "week_dpd": 0, "week_on": 1, "month_dpd": 0, "month_on": 1, "month_worst": 0, "me_class": 1, "me_on": 1}
    filled = [{**base, "loan": i + 1, **r} for i, r in enumerate(rows)]
    return {k: np.array([r[k] for r in filled], dtype=np.int64) for k in base}


def _inputs(**columns: list[int]) -> dict[str, Any]:
    return {k: np.array(v, dtype=np.int64) for k, v in columns.items()}


NO_INPUTS = _inputs(customer=[])


def _run(loans: dict[str, Any], inputs: dict[str, Any] = NO_INPUTS, refs: sig.References = ALL,
         weights: dict[str, int] | None = None) -> dict[int, dict[str, int]]:
    out = run_local(loans, inputs, weights or sig.DEFAULT_WEIGHTS, refs)
    return {int(c): {k: int(v[i]) for k, v in out.items()} for i, c in enumerate(out["customer"])}


def _fired(row: dict[str, int]) -> list[str]:
    return sig.codes_of(row["mask"])


def _explain(code: str, row: dict[str, int], refs: dict[str, str] | None = None, **kw: Any) -> tuple[str, str]:
    figures = sig.figures_of(code, row, refs or {"week": "2025-03-03", "month": "2025-02-10",
                                                  "month_end": "2025-02-28"}, **kw)
    return sig.explain(code, figures, False), sig.explain(code, figures, True)


def test_first_missed_payment_fires_only_for_a_customer_never_past_due_before() -> None:
    rows = _run(_loans(
        {"customer": 1, "dpd": 3},                                   # first time late: fires
        {"customer": 2, "dpd": 3, "month_worst": 12},                # was 12 days late before: not a first
        {"customer": 3, "dpd": 0},                                   # never late, not late now
        {"customer": 4, "dpd": 0, "month_worst": 0}, {"customer": 4, "dpd": 2, "month_on": 0, "week_on": 0},  # new
        {"customer": 5, "dpd": 2}, {"customer": 5, "dpd": 0, "month_worst": 1},  # another loan was late once
    ))
    assert [c for c, r in rows.items() if r["f_first_missed_payment"]] == [1, 4]
    en, zh = _explain("first_missed_payment", rows[1])
    assert en == ("First missed payment: 3 days past due now; no loan of the customer had been past due up to "
                  "2025-02-10.")
    assert zh == "首次逾期：当前逾期3天；截至2025-02-10，该客户所有贷款从未逾期。"
    # without a snapshot a month old the signal cannot be judged: it does not fire
    assert not _run(_loans({"customer": 1, "dpd": 3}), refs=sig.References(week=True))[1]["f_first_missed_payment"]


def test_rising_days_past_due_is_above_a_week_ago_and_a_month_ago() -> None:
    rows = _run(_loans(
        {"customer": 1, "dpd": 35, "week_dpd": 28, "month_dpd": 5},   # rising: fires
        {"customer": 2, "dpd": 35, "week_dpd": 35, "month_dpd": 5},   # flat over the week: no
        {"customer": 3, "dpd": 35, "week_dpd": 28, "month_dpd": 40},  # was worse a month ago: no
        {"customer": 4, "dpd": 10, "week_dpd": 3, "month_dpd": 0},
        {"customer": 4, "dpd": 0, "week_dpd": 0, "month_dpd": 50, "closed": 1},  # repaid: not on the book now
        {"customer": 5, "dpd": 0, "week_dpd": 0, "month_dpd": 0},     # current: no
    ))
    assert [c for c, r in rows.items() if r["f_dpd_rising"]] == [1]
    # the month-ago max counts loans on the book then: customer 4's repaid loan was, so 10 is not above 50
    assert rows[4]["dpd_month"] == 50
    en, zh = _explain("dpd_rising", rows[1])
    assert en == "Days past due rose from 5 a month ago and 28 a week ago to 35."
    assert zh == "逾期天数由一个月前5天、一周前28天升至35天。"
    only_week = _run(_loans({"customer": 1, "dpd": 35, "week_dpd": 28, "month_dpd": 40}),
                     refs=sig.References(week=True))[1]
    assert only_week["f_dpd_rising"] == 1
    assert _explain("dpd_rising", only_week, {"week": "2025-03-03"})[0] == "Days past due rose from 28 a week ago to 35."


def test_a_class_downgrade_against_the_previous_month_end_names_the_worst_loan() -> None:
    rows = _run(_loans(
        {"customer": 1, "risk_class": 2, "me_class": 1, "dpd": 5},
        {"customer": 1, "risk_class": 3, "me_class": 2, "dpd": 95},   # the worse class now: quoted
        {"customer": 2, "risk_class": 2, "me_class": 2, "dpd": 40},   # unchanged: no
        {"customer": 3, "risk_class": 2, "me_class": 0, "me_on": 0, "dpd": 4},  # opened since the month end: no
        {"customer": 4, "risk_class": 1, "me_class": 2},              # upgraded: no
    ))
    assert [c for c, r in rows.items() if r["f_class_downgrade"]] == [1]
    assert sig.unpack_downgrade(rows[1]["downgrade_pack"]) == (2, 2, 3) and rows[1]["downgrades"] == 2
    en, zh = _explain("class_downgrade", rows[1])
    assert en == ("Loan 2: five-category class fell from Special mention at the month end 2025-02-28 to Substandard "
                  "(1 more loan downgraded).")
    assert zh == "贷款2的五级分类由2025-02-28月末的关注下调为次级（另有1笔贷款下调）。"
    assert not _run(_loans({"customer": 1, "risk_class": 2, "me_class": 1}),
                    refs=sig.References(week=True, month=True))[1]["f_class_downgrade"]


def test_a_worse_behaviour_grade_and_a_jump_in_line_use() -> None:
    loans = _loans({"customer": 1}, {"customer": 2}, {"customer": 3}, {"customer": 4})
    inputs = _inputs(customer=[1, 2, 3, 4], bh_grade=[3, 1, 2, 4], bh_prev=[1, 1, 3, -1],
                     line_amount=[1_000_000, 1_000_000, 1_000_000, 0], line_used=[900_000, 600_000, 100_000, 0],
                     line_amount_month=[1_000_000, 1_000_000, -1, -1], line_used_month=[350_000, 400_000, 0, 0])
    rows = _run(loans, inputs)
    assert [c for c, r in rows.items() if r["f_behaviour_worse"]] == [1]  # 3 < 1 better; 4 was not rated before
    assert [c for c, r in rows.items() if r["f_utilisation_jump"]] == [1]  # +55 points; +20 is not a jump
    grades = ("A", "B", "C", "D", "E")
    en, zh = _explain("behaviour_worse", rows[1], {"behaviour_month": "2025-02"}, grades=grades)
    assert en == "Behaviour grade fell from B to D in the re-rating of 2025-02."
    assert zh == "2025-02行为评分重评：行为等级由B降至D。"
    en, zh = _explain("utilisation_jump", rows[1])
    assert en == "Credit line use rose from 35.0% to 90.0% of the line in a month."
    assert zh == "授信额度使用率一个月内由35.0%升至90.0%。"


def test_a_fall_in_inflows_needs_a_known_month_and_a_baseline() -> None:
    loans = _loans(*({"customer": c} for c in (1, 2, 3, 4)))
    inputs = _inputs(customer=[1, 2, 3, 4], inflow_last=[400_000, 600_000, -1, 100_000],
                     inflow_base_sum=[3_000_000, 3_000_000, 3_000_000, 1_000_000], inflow_base_n=[3, 3, 3, 1])
    rows = _run(loans, inputs)
    # 1: 4,000 against 10,000 a month (−60 %); 2: −40 %; 3: last month unknown; 4: one month of history only
    assert [c for c, r in rows.items() if r["f_inflow_fall"]] == [1]
    en, zh = _explain("inflow_fall", rows[1], {"inflow_month": "2025-02"})
    assert en == ("Inflows on linked accounts were 4,000.00 yuan in 2025-02, 60% below the average of 10,000.00 yuan "
                  "over the 3 months before.")
    assert zh == "2025-02关联账户流入资金4,000.00元，较此前3个月平均10,000.00元下降60%。"


def test_a_negative_external_record_and_a_group_member_gone_bad() -> None:
    day = dt.date(2025, 3, 1).toordinal()
    loans = _loans({"customer": 1, "group": 7}, {"customer": 2, "group": 7, "dpd": 95, "risk_class": 3,
                                                  "me_class": 3, "week_dpd": 88, "month_dpd": 64},
                   {"customer": 3, "group": 7}, {"customer": 4, "group": 8},
                   {"customer": 5, "group": 8, "written_off": 1, "dpd": 200, "risk_class": 5, "me_class": 5},
                   {"customer": 6})
    inputs = _inputs(customer=[3], ext_count=[2], ext_day=[day], ext_kind=[1])
    rows = _run(loans, inputs)
    assert [c for c, r in rows.items() if r["f_external_negative"]] == [3]
    # 1 and 3 share group 7 with customer 2 (95 days past due); 4 shares group 8 with 5 (written off: no row of its
    # own, its loans have left the book); customer 2's own bad loan is not a group member's
    assert {c: r["group_member"] for c, r in rows.items() if r["f_group_member_bad"]} == {1: 2, 3: 2, 4: 5}
    assert 5 not in rows
    en, zh = _explain("external_negative", rows[3], external={"source": "中国裁判文书网"})
    assert en == "Court judgment reported by China Judgements Online on 2025-03-01 (2 negative record(s) in the last 90 days)."
    assert zh == "中国裁判文书网于2025-03-01记录法院判决（近90天共2条负面记录）。"
    en, zh = _explain("group_member_bad", rows[1])
    assert en.startswith("A loan of group member no. 2 has gone bad")
    assert zh.startswith("集团成员（客户编号2）有贷款已形成不良")


def test_two_bad_members_each_see_the_other() -> None:
    rows = _run(_loans({"customer": 10, "group": 1, "dpd": 120}, {"customer": 20, "group": 1, "dpd": 91},
                       {"customer": 30, "group": 1}))
    assert (rows[10]["group_member"], rows[20]["group_member"], rows[30]["group_member"]) == (20, 10, 10)


def test_the_score_is_the_sum_of_the_weights_of_what_fired_and_the_table_facts_follow() -> None:
    rows = _run(_loans({"customer": 1, "dpd": 3, "risk_class": 2, "week_dpd": 0, "month_dpd": 0}))
    r = rows[1]
    assert _fired(r) == ["first_missed_payment", "dpd_rising", "class_downgrade"]
    assert r["score"] == 10 + 15 + 25
    heavy = _run(_loans({"customer": 1, "dpd": 3, "risk_class": 2}), weights={**sig.DEFAULT_WEIGHTS,
                                                                              "class_downgrade": 100})[1]
    assert heavy["score"] == 125
    facts = sig.facts_of(r["mask"], r["score"])
    assert facts == {"score": 50, "first_missed_payment": True, "dpd_rising": True, "class_downgrade": True,
                     "behaviour_worse": False, "utilisation_jump": False, "inflow_fall": False,
                     "external_negative": False, "group_member_bad": False}


def test_weights_are_refused_when_not_a_signal_or_not_a_whole_number() -> None:
    assert sig.weights_checked({"dpd_rising": 40})["dpd_rising"] == 40
    for bad in ({"nope": 1}, {"dpd_rising": -1}, {"dpd_rising": 1.5}, {"dpd_rising": True}, {"dpd_rising": 1001}):
        with pytest.raises(ValueError):
            sig.weights_checked(bad)


@pytest.mark.slow
def test_spark_gives_exactly_the_local_columns_on_a_random_book() -> None:
    """Every stage on Spark (batches, group-bys, joins with defaults) against numpy, on 20,000 random loans of
    7,000 customers in 300 groups with every customer-level input."""
    pytest.importorskip("pyspark")
    from creditplan.risk.signals_engine import run_spark

    rng = np.random.default_rng(7)
    n = 20_000
    customer = rng.integers(1, 7_001, n)
    group_of = np.where(rng.random(7_001) < 0.3, rng.integers(1, 301, 7_001), 0)
    dpd = np.where(rng.random(n) < 0.15, rng.integers(1, 200, n), 0)
    loans = {"loan": np.arange(1, n + 1), "customer": customer, "group": group_of[customer], "dpd": dpd,
             "risk_class": np.searchsorted([1, 91, 271, 361], dpd, side="right") + 1,
             "closed": (rng.random(n) < 0.05).astype(int), "written_off": (rng.random(n) < 0.01).astype(int),
             "week_dpd": np.maximum(dpd - 7, 0), "week_on": (rng.random(n) < 0.95).astype(int),
             "month_dpd": np.maximum(dpd - rng.integers(0, 40, n), 0), "month_on": (rng.random(n) < 0.9).astype(int),
             "month_worst": np.where(rng.random(n) < 0.1, rng.integers(1, 60, n), 0),
             "me_class": rng.integers(0, 4, n), "me_on": (rng.random(n) < 0.9).astype(int)}
    loans = {k: np.asarray(v, dtype=np.int64) for k, v in loans.items()}
    ids = np.sort(rng.choice(np.arange(1, 7_500), 3_000, replace=False))
    m = ids.size
    inputs = {"customer": ids, "bh_grade": rng.integers(0, 8, m), "bh_prev": rng.integers(-1, 8, m),
              "line_amount": rng.integers(0, 3, m) * 500_000, "line_used": rng.integers(0, 500_000, m),
              "line_amount_month": rng.integers(-1, 3, m) * 500_000, "line_used_month": rng.integers(0, 500_000, m),
              "inflow_last": rng.integers(-1, 2_000_000, m), "inflow_base_sum": rng.integers(0, 6_000_000, m),
              "inflow_base_n": rng.integers(0, 4, m), "ext_count": rng.integers(0, 3, m),
              "ext_day": rng.integers(738_000, 739_000, m), "ext_kind": rng.integers(0, 7, m)}
    inputs = {k: np.asarray(v, dtype=np.int64) for k, v in inputs.items()}
    weights = {**sig.DEFAULT_WEIGHTS, "group_member_bad": 33}
    local = run_local(loans, inputs, weights, ALL)
    spark = run_spark(loans, inputs, weights, ALL)
    for name in sig.CUSTOMER_OUTPUTS:
        assert np.array_equal(local[name], spark[name]), name
    for code in sig.CODES:  # the random book makes every signal fire for someone
        assert local[f"f_{code}"].any(), code
