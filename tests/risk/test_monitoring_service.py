"""Model monitoring on a small book: a champion scorecard's decisions of a week, the loans some became and their
outcomes in the kept snapshots — the verdicts a risk manager reads, and "insufficient data" below the minimum."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from django.core.management import call_command
from monitoring_book import (
    add_decisions,
    german_scorecard,
    keep_snapshot,
    moment,
    pay_out,
    records,
    register_champion,
)

from creditplan.ledger.models import Event
from creditplan.risk.models import ModelMonitor
from creditplan.risk.services import monitoring

WEEK = dt.date(2026, 11, 23)  # a Monday
START = dt.date(2025, 1, 15)  # the loans' start: cohort 2025-01, outcomes read at the end of January 2026


@pytest.fixture
def book(bank: dict[str, Any], settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.RISK_DIR = str(tmp_path / "risk")
    version = register_champion(bank)
    result, X = german_scorecard()
    development = records(X.iloc[result.train_rows])
    return {**bank, "version": version, "development": development, "result": result, "X": X}


def _shifted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same applicants, every one now with the riskiest checking-account status."""
    return [{**r, "current_account": "overdrawn"} for r in rows]


def test_a_week_like_the_development_sample_is_stable_and_a_shifted_one_calls_for_action(book: dict[str, Any]) -> None:
    add_decisions(book["version"], book["development"], at=moment(WEEK + dt.timedelta(days=2)), prefix="W1")
    add_decisions(book["version"], _shifted(book["development"]), at=moment(WEEK + dt.timedelta(days=9)),
                  prefix="W2")

    [same] = monitoring.monitor_models(WEEK)
    assert (same.week, same.decisions, same.role) == (WEEK, 700, "champion")
    assert same.psi is not None and same.psi < 1e-12 and same.psi_verdict == "stable"
    row = ModelMonitor.objects.get(version_id=book["version"], week=WEEK)
    assert {f["name"]: f["verdict"] for f in row.result["features"]} == {
        f["name"]: "stable" for f in book["result"].reference["features"]}
    assert all(f["psi"] < 1e-12 for f in row.result["features"])
    mix = row.result["grades"]
    assert mix["verdict"] == "stable" and mix["decisions"] == 700
    for g in mix["rows"]:  # the decisions approved grades A–D and declined the rest
        if g["decisions"]:
            assert g["approval_rate"] == (1.0 if g["grade"] in "ABCD" else 0.0)

    [moved] = monitoring.monitor_models(WEEK + dt.timedelta(days=7))
    assert moved.decisions == 700 and moved.psi > 0.25 and moved.psi_verdict == "act" and moved.verdict == "act"
    result = ModelMonitor.objects.get(version_id=book["version"], week=WEEK + dt.timedelta(days=7)).result
    csi = {f["name"]: f for f in result["features"]}
    assert result["features"][0]["name"] == "current_account"  # worst first
    assert csi["current_account"]["verdict"] == "act"
    assert csi["current_account"]["bins"][0]["label"] != "" and sum(b["cur"] for b in csi["current_account"]["bins"]) == 700
    assert all(f["verdict"] == "stable" for name, f in csi.items() if name != "current_account")
    # the figures are stored and recorded in the ledger
    assert ModelMonitor.objects.count() == 2
    assert Event.objects.filter(kind="risk.models_monitored").count() == 2


def test_below_the_minimum_sample_the_verdict_is_insufficient_data_never_an_alarm(book: dict[str, Any]) -> None:
    add_decisions(book["version"], _shifted(book["development"])[:120], at=moment(WEEK), prefix="SMALL")
    [s] = monitoring.monitor_models(WEEK)
    assert s.decisions == 120 and s.psi is not None and s.psi > 0.25  # the scores did move …
    assert s.psi_verdict == "insufficient_data" and s.verdict == "insufficient_data"  # … but 120 < 500
    result = ModelMonitor.objects.get(week=WEEK).result
    assert {f["verdict"] for f in result["features"]} == {"insufficient_data"}
    assert result["grades"]["verdict"] == "insufficient_data" and result["settings"]["min_sample"] == 500


def _book_with_outcomes(book: dict[str, Any]) -> dict[str, Any]:
    """60 decisions of January 2025 paid out as loans; the 15 riskiest went 90+ days past due within the year, one
    more only in its fourteenth month (after the outcome window)."""
    first = book["development"][:60]
    made = add_decisions(book["version"], first, at=moment(dt.date(2025, 1, 10)), prefix="JAN")
    paid = pay_out(book, [d.application_ref for d in made], START)
    order = sorted(range(60), key=lambda k: -made[k].pd)
    bad = {paid[k].pk for k in order[:15]}
    late = paid[order[30]].pk
    keep_snapshot(dt.date(2025, 12, 31), {p.pk: (95 if p.pk in bad else 0) for p in paid})
    keep_snapshot(dt.date(2026, 1, 31), {p.pk: (120 if p.pk in bad else 0) for p in paid})
    keep_snapshot(dt.date(2026, 3, 31), {p.pk: (150 if p.pk in bad else 95 if p.pk == late else 0) for p in paid})
    return {"made": made, "paid": paid, "bad": bad}


def test_discrimination_and_calibration_of_a_matured_cohort(book: dict[str, Any], settings: Any) -> None:
    settings.MODEL_MONITOR_MIN_SAMPLE = 20
    _book_with_outcomes(book)
    [s] = monitoring.monitor_models(WEEK)
    result = ModelMonitor.objects.get(week=WEEK).result
    [cohort] = result["cohorts"]
    assert cohort["cohort"] == "2025-01" and cohort["matured"] and cohort["as_of"] == "2026-01-31"
    assert (cohort["loans"], cohort["rows"], cohort["bads"]) == (60, 60, 15)  # the late one is not counted
    assert cohort["auc"] == 1.0 and cohort["gini"] == 1.0  # the bads are exactly the riskiest PDs
    lo, hi = cohort["gini_ci"]
    assert lo <= cohort["gini"] <= hi
    assert cohort["verdict"] == "stable"  # better than development: no decline
    calibration = result["calibration"]
    assert calibration["loans"] == 60 and calibration["bads"] == 15
    assert sum(r["rows"] for r in calibration["rows"]) == 60
    for r in calibration["rows"]:
        if r["rows"] >= 20:
            assert r["verdict"] in ("stable", "watch", "act")
            assert r["ci95"][0] <= r["observed"] <= r["ci95"][1]
        else:
            assert r["verdict"] == "insufficient_data"
    assert s.has_reference and result["as_of"] == "2026-01-31"


def test_an_immature_cohort_waits_for_its_outcomes(book: dict[str, Any], settings: Any) -> None:
    settings.MODEL_MONITOR_MIN_SAMPLE = 20
    _book_with_outcomes(book)
    [s] = monitoring.monitor_models(dt.date(2026, 1, 5))  # the week of 5 January 2026: the window not yet over
    [cohort] = ModelMonitor.objects.get(week=dt.date(2026, 1, 5)).result["cohorts"]
    assert not cohort["matured"] and cohort["matures_on"] == "2026-01-31"
    assert cohort["verdict"] == "insufficient_data" and cohort["gini"] is None
    assert cohort["bads"] == 15  # already known to be bad, shown as they come


def test_the_default_minimum_keeps_a_small_book_insufficient(book: dict[str, Any]) -> None:
    _book_with_outcomes(book)
    monitoring.monitor_models(WEEK)
    result = ModelMonitor.objects.get(week=WEEK).result
    assert result["cohorts"][0]["verdict"] == "insufficient_data" and result["cohorts"][0]["gini"] is None
    assert result["calibration"]["verdict"] == "insufficient_data"


def test_a_version_without_a_development_profile_is_monitored_for_outcomes_only(bank: dict[str, Any],
                                                                              settings: Any, tmp_path: Any) -> None:
    settings.RISK_DIR = str(tmp_path / "risk")
    version = register_champion(bank, with_reference=False)
    result, X = german_scorecard()
    add_decisions(version, records(X.iloc[result.train_rows]), at=moment(WEEK), prefix="OLD")
    [s] = monitoring.monitor_models(WEEK)
    assert not s.has_reference and s.psi is None and s.psi_verdict == "insufficient_data"
    stored = ModelMonitor.objects.get(week=WEEK).result
    assert stored["score"] is None and stored["features"] == [] and stored["approval"]["decisions"] == 700


def test_a_week_computed_again_is_replaced_and_the_command_names_the_week(book: dict[str, Any], capsys: Any) -> None:
    add_decisions(book["version"], book["development"], at=moment(WEEK), prefix="W1")
    call_command("risk", "monitor-models", "--week", "2026-11-26")  # a Thursday: its week starts on the 23rd
    call_command("risk", "monitor-models", "--week", "2026-11-23")
    out = capsys.readouterr().out
    assert "2026-11-23: retail-pd v1 (champion) 700 decisions, PSI 0.0000 stable, overall stable" in out
    assert ModelMonitor.objects.filter(week=WEEK).count() == 1
    assert math.isclose(ModelMonitor.objects.get(week=WEEK).psi, 0.0, abs_tol=1e-12)


def test_the_last_whole_week_is_the_default() -> None:
    assert monitoring.last_complete_week(dt.date(2026, 12, 7)) == dt.date(2026, 11, 30)  # a Monday
    assert monitoring.last_complete_week(dt.date(2026, 12, 13)) == dt.date(2026, 11, 30)  # a Sunday
    assert monitoring.parse_week("2026-12-06") == dt.date(2026, 11, 30)


def test_where_the_windows_last_day_was_not_kept_the_first_snapshot_after_it_is_read(book: dict[str, Any],
                                                                                       settings: Any) -> None:
    settings.MODEL_MONITOR_MIN_SAMPLE = 20
    made = add_decisions(book["version"], book["development"][:40], at=moment(dt.date(2025, 1, 10)), prefix="F")
    paid = pay_out(book, [d.application_ref for d in made], START)
    keep_snapshot(dt.date(2026, 3, 31), {p.pk: (120 if k % 4 == 0 else 0) for k, p in enumerate(paid)})
    monitoring.monitor_models(WEEK)
    [cohort] = ModelMonitor.objects.get(week=WEEK).result["cohorts"]
    assert cohort["matured"] and cohort["as_of"] == "2026-03-31" and (cohort["rows"], cohort["bads"]) == (40, 10)
