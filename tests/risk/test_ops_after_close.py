"""Risk monitoring run by the close itself (CREDITPLAN_RISK_AFTER_CLOSE): the snapshot and the indicators after
each date, a failure that neither fails nor undoes the close and is redone by `creditplan risk run`, and the
book of a date never lost — taken before the next date closes, or that close refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from creditplan.core.errors import Conflict, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.loans.models import CloseRun, Loan
from creditplan.risk import store
from creditplan.risk.domain.catalogue import STANDARD
from creditplan.risk.models import Indicator, IndicatorValue, Run, Snapshot
from creditplan.risk.services import nightly

D1 = dt.date(2025, 1, 15)


def _failures(book: dict[str, Any], day: dt.date) -> list[dict[str, Any]]:
    return [e.data for e in ledger.history(book["auditor"], "risk", day.isoformat()) if e.kind == "risk.run_failed"]


def _closed_through() -> set[dt.date]:
    return set(Loan.objects.values_list("closed_through", flat=True))


@pytest.mark.django_db
def test_each_close_keeps_the_book_and_computes_the_indicators(risk_book: dict[str, Any], close_days: Any,
                                                               settings: Any) -> None:
    settings.RISK_AFTER_CLOSE = "indicators"
    Indicator.objects.all().delete()  # none installed: the run after the close installs the standard set
    close_days(D1, D1 + dt.timedelta(days=2))
    days = [D1 + dt.timedelta(days=k) for k in range(3)]
    assert list(Snapshot.objects.order_by("as_of").values_list("as_of", flat=True)) == days
    assert Indicator.objects.filter(standard=True).count() == len(STANDARD)
    for day in days:
        npl = IndicatorValue.objects.get(indicator__code="npl_ratio", as_of=day, dimension="total")
        assert npl.value == 0.0 and npl.denominator == 4 * 100_000_00  # four loans, nothing overdue yet
    assert list(Run.objects.values_list("recompute", flat=True)) == [False, False, False]


@pytest.mark.django_db
def test_snapshot_only_keeps_the_book_and_the_command_computes_it_later(risk_book: dict[str, Any], close_days: Any,
                                                                        settings: Any) -> None:
    settings.RISK_AFTER_CLOSE = "snapshot"
    close_days(D1, D1 + dt.timedelta(days=1))
    assert Snapshot.objects.count() == 2 and not IndicatorValue.objects.exists()
    call_command("risk", "run", "--date", D1.isoformat())
    assert IndicatorValue.objects.filter(as_of=D1, indicator__code="npl_ratio", dimension="total").exists()


@pytest.mark.django_db
def test_off_keeps_nothing_and_never_holds_the_close_back(risk_book: dict[str, Any], close_days: Any,
                                                          settings: Any) -> None:
    settings.RISK_AFTER_CLOSE = "off"
    close_days(D1, D1 + dt.timedelta(days=2))
    assert not Snapshot.objects.exists() and not IndicatorValue.objects.exists()
    assert _closed_through() == {D1 + dt.timedelta(days=2)}


@pytest.mark.django_db
def test_a_failed_indicator_run_neither_fails_nor_undoes_the_close_and_is_redone_by_the_command(
        risk_book: dict[str, Any], close_days: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.RISK_AFTER_CLOSE = "indicators"

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(nightly, "run_indicators", broken)
    close_days(D1, D1)
    assert CloseRun.objects.get(business_date=D1).status == "done" and _closed_through() == {D1}
    assert Snapshot.objects.filter(as_of=D1).exists()  # the book is kept: only the computing failed
    assert not IndicatorValue.objects.filter(as_of=D1).exists()
    failed = _failures(risk_book, D1)
    assert [(f["step"], f["code"], f["reason"]) for f in failed] == [("indicators", "RuntimeError", "the disk is full")]

    monkeypatch.undo()
    call_command("risk", "run", "--date", D1.isoformat())
    assert IndicatorValue.objects.get(indicator__code="npl_ratio", as_of=D1, dimension="total").value == 0.0


@pytest.mark.django_db
def test_a_snapshot_missed_after_a_close_is_taken_before_the_next_date_closes(
        risk_book: dict[str, Any], close_days: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.RISK_AFTER_CLOSE = "snapshot"
    real_write = store.write
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("the risk folder is not mounted")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(store, "write", flaky)
    close_days(D1, D1)
    assert not Snapshot.objects.filter(as_of=D1).exists()
    assert [f["step"] for f in _failures(risk_book, D1)] == ["snapshot"]
    close_days(D1 + dt.timedelta(days=1), D1 + dt.timedelta(days=1))
    assert list(Snapshot.objects.order_by("as_of").values_list("as_of", "loans")) == [
        (D1, 4), (D1 + dt.timedelta(days=1), 4)]


@pytest.mark.django_db
def test_when_the_book_cannot_be_kept_the_next_close_is_refused_and_cob_run_stops_with_the_reason(
        risk_book: dict[str, Any], close_days: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.RISK_AFTER_CLOSE = "indicators"

    def broken(*_args: Any, **_kwargs: Any) -> str:
        raise OSError("the risk folder is not mounted")

    monkeypatch.setattr(store, "write", broken)
    close_days(D1, D1)  # the close of D1 itself succeeds
    d2 = D1 + dt.timedelta(days=1)
    with pytest.raises(Conflict) as exc:
        cob.run_close(d2)
    assert exc.value.code == "risk_snapshot_missing"
    assert f"creditplan risk run --date {D1}" in exc.value.message
    assert _closed_through() == {D1} and not CloseRun.objects.filter(business_date=d2).exists()

    with pytest.raises(CommandError) as stopped:  # the nightly `cob run` stops at the first refused date
        call_command("cob", "run", "--date", d2.isoformat(), "--through", (d2 + dt.timedelta(days=1)).isoformat(),
                     "--plain")
    assert "could not be kept for risk monitoring" in str(stopped.value)
    assert _closed_through() == {D1} and loans.last_closed_date() == D1

    monkeypatch.undo()  # the cause fixed: the snapshot is taken first, then the dates close
    call_command("cob", "run", "--date", d2.isoformat(), "--through", (d2 + dt.timedelta(days=1)).isoformat(),
                 "--plain")
    assert _closed_through() == {d2 + dt.timedelta(days=1)}
    assert list(Snapshot.objects.order_by("as_of").values_list("as_of", flat=True)) == [
        D1, d2, d2 + dt.timedelta(days=1)]


@pytest.mark.slow
@pytest.mark.django_db
def test_the_command_on_spark_stores_exactly_the_values_of_the_local_run(risk_book: dict[str, Any],
                                                                         close_days: Any) -> None:
    pytest.importorskip("pyspark")
    day = dt.date(2025, 4, 30)
    close_days(D1, day, run_on=[dt.date(2025, 3, 31), day])  # month-ends: roll rates compare with March
    fields = ("indicator__code", "dimension", "member", "value", "numerator", "denominator", "previous", "rag")
    local = sorted(IndicatorValue.objects.filter(as_of=day).values_list(*fields))
    assert any(v[0] == "roll_1_30_31_60" for v in local) and any(v[0] == "top10_customers" for v in local)
    call_command("risk", "run", "--date", day.isoformat(), "--engine", "spark")
    assert Run.objects.filter(as_of=day).order_by("-id").values_list("engine", "recompute")[0] == ("spark", True)
    assert sorted(IndicatorValue.objects.filter(as_of=day).values_list(*fields)) == local


@pytest.mark.django_db
def test_pruning_keeps_recent_days_and_month_ends_and_a_kept_month_end_recomputes_the_same(
        risk_book: dict[str, Any], close_days: Any, settings: Any) -> None:
    from creditplan.risk import services as risk
    from creditplan.risk.services.retention import prune_snapshots

    settings.RISK_AFTER_CLOSE = "snapshot"
    last = dt.date(2025, 3, 10)
    close_days(D1, last)
    feb = dt.date(2025, 2, 28)
    risk.run_indicators(feb)
    fields = ("indicator__code", "dimension", "member", "value", "numerator", "denominator", "rag")
    before = sorted(IndicatorValue.objects.filter(as_of=feb).values_list(*fields))

    with pytest.raises(ValidationError) as short:
        prune_snapshots(3)
    assert short.value.code == "keep_days_too_short"
    call_command("risk", "prune", "--keep-days", "10", "--dry-run")
    assert Snapshot.objects.count() == (last - D1).days + 1  # a dry run removes nothing

    call_command("risk", "prune", "--keep-days", "10")
    month_ends = {dt.date(2025, 1, 31), feb}
    compared = {d - dt.timedelta(days=k) for d in month_ends for k in (1, 7)}
    recent = {last - dt.timedelta(days=k) for k in range(10)}
    kept = set(Snapshot.objects.values_list("as_of", flat=True))
    assert kept == month_ends | compared | recent
    assert sorted(p.name for p in store.root().iterdir()) == sorted(d.isoformat() for d in kept)
    assert ledger.count_events("risk.snapshots_pruned") == 1

    risk.run_indicators(feb)  # recomputed from what was kept: the same answer
    assert sorted(IndicatorValue.objects.filter(as_of=feb).values_list(*fields)) == before
    with pytest.raises(Conflict) as gone:
        risk.run_indicators(dt.date(2025, 2, 10))
    assert gone.value.code == "snapshot_not_kept"
    close_days(last + dt.timedelta(days=1), last + dt.timedelta(days=1))  # the next snapshot still carries history
    assert Snapshot.objects.filter(as_of=last + dt.timedelta(days=1)).exists()
