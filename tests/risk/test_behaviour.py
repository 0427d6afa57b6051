"""Behaviour scoring: the repayment-history features of the book and of the Taiwan training data (one definition, two
sources), the behaviour model trained through the scoring module and made champion, and the monthly re-rating that
moves customers' grades as their repayments move — the same scores on Spark."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ecl_book
import numpy as np
import pytest

from creditplan.org import services as org
from creditplan.risk.domain.behaviour import (
    MODEL_FEATURES,
    UNOBSERVED,
    behaviour_features,
    customer_worst,
    grade_moves,
    history_matrix,
    taiwan_features,
)
from creditplan.risk.models import BehaviourScore, RerateRun
from creditplan.risk.services import behaviour, ecl
from creditplan.scoring import services as scoring


def test_the_book_features_come_from_the_month_end_history_and_the_instalments() -> None:
    ids = np.array([1, 2, 3])
    month_ends = [(np.array([1, 2, 3]), np.array([0, 45, 0])),  # this month: loan 3 is new
                  (np.array([2, 1]), np.array([15, 10])), (np.array([1, 2]), np.array([0, 0])),
                  None,  # no snapshot kept that month
                  (np.array([1]), np.array([95])), (np.array([1, 2]), np.array([0, 0])),
                  (np.array([1]), np.array([0])), (np.array([1]), np.array([200]))] + [None] * 4
    history = history_matrix(ids, month_ends)
    assert history[2].tolist() == [0] + [UNOBSERVED] * 11
    f = behaviour_features(history, paid_3m=np.array([900_000, 0, 0]), due_3m=np.array([1_000_000, 600_000, 0]),
                           paid_6m=np.array([2_500_000, 600_000, 0]), due_6m=np.array([2_500_000, 1_200_000, 0]),
                           outstanding=np.array([4_000_000, 9_000_000, 5_000_000]),
                           limit=np.array([10_000_000, 10_000_000, 5_000_000]), months_on_book=np.array([13, 8, 0]))
    assert f["dpd_now"].tolist() == [0, 45, 0]
    assert f["worst_dpd_3m"].tolist() == [10, 45, 0]
    assert f["worst_dpd_6m"].tolist() == [95, 45, 0]
    assert f["worst_dpd_12m"].tolist() == [200, 45, 0]
    assert f["months_delinquent_6m"].tolist() == [2, 2, 0]
    assert f["pay_to_due_3m"][:2].tolist() == [0.9, 0.0] and np.isnan(f["pay_to_due_3m"][2])  # nothing fell due
    assert f["pay_to_due_6m"][:2].tolist() == [1.0, 0.5]
    assert f["utilisation"].tolist() == [0.4, 0.9, 1.0]


def test_the_taiwan_data_is_read_into_the_same_features() -> None:
    row = {"PAY_0": [2, -1], "PAY_2": [0, -1], "PAY_3": [-1, -2], "PAY_4": [3, 0], "PAY_5": [-2, 0], "PAY_6": [0, 0],
           "BILL_AMT1": [5000, 0], "BILL_AMT2": [4000, -20], "BILL_AMT3": [3000, 0], "BILL_AMT4": [2000, 0],
           "BILL_AMT5": [1000, 0], "BILL_AMT6": [0, 0], "PAY_AMT1": [4000, 0], "PAY_AMT2": [1500, 0],
           "PAY_AMT3": [0, 0], "PAY_AMT4": [1000, 0], "PAY_AMT5": [500, 0], "PAY_AMT6": [0, 0],
           "LIMIT_BAL": [20000, 50000]}
    f = taiwan_features({k: np.array(v) for k, v in row.items()})
    assert set(f) == set(MODEL_FEATURES)
    assert f["dpd_now"].tolist() == [60, 0]  # two months late: 60 days past due; paid in full: current
    assert f["worst_dpd_3m"].tolist() == [60, 0] and f["worst_dpd_6m"].tolist() == [90, 0]
    assert f["months_delinquent_6m"].tolist() == [2, 0]
    # September's payment settles August's statement: (4,000 + 1,500 + 0) / (4,000 + 3,000 + 2,000)
    assert f["pay_to_due_3m"][0] == pytest.approx(5500 / 9000)
    assert f["pay_to_due_6m"][0] == pytest.approx(7000 / 10000)
    assert np.isnan(f["pay_to_due_3m"][1])  # nothing was billed
    assert f["utilisation"].tolist() == [0.25, 0.0]


def test_a_customer_is_rated_by_the_riskiest_loan_and_grade_moves_are_counted() -> None:
    customers, pd, score, grade, loans = customer_worst(np.array([7, 5, 7, 5, 9]),
                                                        np.array([0.02, 0.30, 0.15, 0.05, 0.01]),
                                                        np.array([600, 480, 530, 570, 640.0]),
                                                        np.array([0, 5, 3, 1, 0]))
    assert customers.tolist() == [5, 7, 9] and pd.tolist() == [0.30, 0.15, 0.01]
    assert grade.tolist() == [5, 3, 0] and loans.tolist() == [2, 2, 1]
    moves = grade_moves(np.array([1, 1, 3, -1]), np.array([3, 1, 2, 0]), 7)
    assert moves[1, 3] == 1 and moves[1, 1] == 1 and moves[3, 2] == 1 and moves[7, 0] == 1  # last row: new


@pytest.fixture
def approver(bank: dict[str, Any]) -> Any:
    return org.create_user(None, username="risk2", password="test-pass-123", role="risk_manager", branch_code="HO",
                           display_name="risk2")


@pytest.mark.django_db
def test_the_behaviour_model_is_trained_through_the_scoring_module_and_made_champion(
        bank: dict[str, Any], approver: Any) -> None:
    version = behaviour.train_behaviour_model(bank["risk"], approver)
    assert version.model == "behaviour-pd" and version.status == "champion" and version.kind == "scorecard"
    assert version.metrics["holdout"]["auc"] >= 0.72  # published logistic scorecards on this data: about 0.73
    champion, artifact = scoring.champion_artifact("behaviour-pd")
    assert champion.id == version.id
    used = [f["name"] for f in artifact["inputs"]]
    assert used and set(used) <= set(MODEL_FEATURES)
    assert {"dpd_now", "worst_dpd_6m"} & set(used)


@pytest.mark.django_db
def test_rerating_moves_the_grades_of_the_customers_who_stop_paying_and_spark_agrees(
        bank: dict[str, Any], approver: Any, settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "snapshot"
    book = ecl_book.build(bank)
    ecl_book.close(ecl_book.START, dt.date(2025, 6, 30), ecl_book.paying(book), monkeypatch)
    behaviour.train_behaviour_model(bank["risk"], approver)

    may = behaviour.rerate("2025-05", actor=bank["risk"])
    june = behaviour.rerate("2025-06", actor=bank["risk"])
    assert (may.loans, may.customers, june.customers) == (13, 13, 13)
    assert may.new == 13 and june.new == 0
    rows = {r.customer_id: r for r in BehaviourScore.objects.filter(month=dt.date(2025, 6, 30))}
    by_how: dict[str, list[BehaviourScore]] = {}
    for row in book["book"]:
        by_how.setdefault(row["how"], []).append(rows[row["customer"]])
    # the three who stopped paying in May fell in June, below every customer who pays
    assert all(r.grade_index > r.previous_index >= 0 for r in by_how["late"])
    assert min(r.pd for r in by_how["late"]) > max(r.pd for r in by_how["pay"])
    assert all(r.previous_grade and r.grade for r in rows.values())
    run = RerateRun.objects.get(month=dt.date(2025, 6, 30))
    assert run.downgrades >= 3 and sum(map(sum, run.moves)) == 13
    assert run.grades == ["A", "B", "C", "D", "E", "F", "G"]

    # the ECL takes its PD from the ratings
    summary = ecl.run_ecl(dt.date(2025, 6, 30), post=False)
    assert summary.pd_sources["behaviour"] == 13

    # Spark scores with the same compiled artifact: the same scores, PDs and grades
    pytest.importorskip("pyspark")
    local = list(BehaviourScore.objects.filter(month=dt.date(2025, 6, 30)).order_by("customer_id")
                 .values_list("customer_id", "score", "pd", "grade", "previous_grade"))
    behaviour.rerate("2025-06", engine="spark")
    spark = list(BehaviourScore.objects.filter(month=dt.date(2025, 6, 30)).order_by("customer_id")
                 .values_list("customer_id", "score", "pd", "grade", "previous_grade"))
    assert spark == local
    assert RerateRun.objects.get(month=dt.date(2025, 6, 30)).engine == "spark"
