"""Early warning over a real (small) book closed day by day: the signals the book calls for with their figures, the
level the published table gives, the watch list entering and leaving, a risk manager's new table published by four
eyes changing the level, the run after the close, and Spark giving exactly the local figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from signal_book import pay_on_time

from creditplan.core.errors import ValidationError
from creditplan.decisions import services as decisions
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.risk.domain import signals as sig
from creditplan.risk.models import CustomerSignal, SignalRun, WatchEntry
from creditplan.risk.services import signals

START = dt.date(2025, 1, 15)


@pytest.fixture
def kept_book(risk_book: dict[str, Any], close_days: Any, settings: Any) -> dict[str, Any]:
    """The risk book closed from 15 January to 20 March 2025, the book kept after every close (snapshot mode), the
    second customer never paying (first instalment due 15 February), a court judgment about them dated 1 March."""
    settings.RISK_AFTER_CLOSE = "snapshot"
    settings.WATCH_EXIT_DAYS = 3
    bad = risk_book["customers"][1]
    close_days(START, dt.date(2025, 2, 28), pay=pay_on_time(risk_book))
    signals.import_external_records(risk_book["risk"], [{
        "customer_id": str(bad), "kind": "court_judgment", "source": "中国裁判文书网", "reference": "(2025)京0108民初123号",
        "record_date": "2025-03-01", "amount": "52000.00"}], today=dt.date(2025, 3, 1))
    close_days(dt.date(2025, 3, 1), dt.date(2025, 3, 20), pay=pay_on_time(risk_book))
    risk2 = org.create_user(None, username="risk2", password="test-pass-123", role="risk_manager", branch_code="HO")
    return {**risk_book, "bad": bad, "risk2": risk2}


def _row(day: dt.date, customer: int) -> CustomerSignal:
    return CustomerSignal.objects.get(as_of=day, customer_id=customer)


def _explained(row: CustomerSignal) -> dict[str, str]:
    return {s.code: s.explain_en for s in signals.signal_views(row.signals)}


@pytest.mark.django_db
def test_the_book_calls_for_the_signals_the_table_for_the_level_and_the_watch_list_follows(
        kept_book: dict[str, Any]) -> None:
    bad, d1 = kept_book["bad"], dt.date(2025, 3, 10)
    summary = signals.run_signals(d1)
    # 23 days past due on 10 March (first instalment due 15 February); a month ago (10 February) it was not yet due
    row = _row(d1, bad)
    assert sig.codes_of(row.mask) == ["first_missed_payment", "dpd_rising", "external_negative"]
    assert _explained(row) == {
        "first_missed_payment": "First missed payment: 23 days past due now; no loan of the customer had been past "
                                "due up to 2025-02-10.",
        "dpd_rising": "Days past due rose from 0 a month ago and 16 a week ago to 23.",
        "external_negative": "Court judgment reported by China Judgements Online on 2025-03-01 (1 negative record(s) in the "
                             "last 90 days)."}
    assert (row.score, row.level, row.rule) == (10 + 15 + 30, "orange", "score_orange")
    # the three customers who pay on time have no signal and no row: green
    assert summary.levels == {"green": 3, "yellow": 0, "orange": 1, "red": 0} and summary.stored == 1
    assert summary.absent == ["behaviour_worse", "utilisation_jump", "inflow_fall", "group_member_bad"]
    # the month end before (28 February): the loan was already 关注 then, so no downgrade since
    assert not row.mask & sig.BIT["class_downgrade"]

    entry = WatchEntry.objects.get(customer_id=bad)
    assert (entry.status, entry.entered_on, entry.entry_level, entry.level) == ("open", d1, "orange", "orange")
    assert entry.reason["message_zh"] == "加权得分55至79分"
    assert [c.kind for c in signals.watch_changes(d1).changes] == ["entered"]
    assert [e.customer_id for e in signals.open_watch_entries(entered_on=d1)] == [bad]
    assert ledger.history(kept_book["auditor"], "watch_entry", str(entry.pk))[0].kind == "risk.watch_entered"

    # a week on: the first missed payment is more than a month old, the judgment keeps the customer orange
    d2 = dt.date(2025, 3, 17)
    signals.run_signals(d2)
    row = _row(d2, bad)
    assert (sig.codes_of(row.mask), row.score, row.level, row.rule) == (
        ["dpd_rising", "external_negative"], 45, "orange", "external_record")
    assert _explained(row)["dpd_rising"] == "Days past due rose from 2 a month ago and 23 a week ago to 30."


def _publish_softer_table(book: dict[str, Any]) -> int:
    """A risk manager makes a negative external record yellow instead of orange; a second one approves it."""
    risk, risk2 = book["risk"], book["risk2"]
    doc = sig.default_warning_table()
    for rule in doc["nodes"][1]["content"]["rules"]:
        if rule["_id"] == "external":
            rule["out_outcome"] = '"yellow"'
            rule["out_message_en"] = '"A negative external record: at least yellow"'
            rule["out_message_zh"] = '"有外部负面记录：至少黄色"'
    draft = decisions.upload_policy(risk, product=signals.WARNING_RULESET, jdm=doc, note="judgments yellow")
    decisions.validate_version(risk, draft.id)
    with pytest.raises(Exception) as refused:  # the shipped example still expects orange for a judgment alone
        decisions.submit_version(risk, draft.id)
    assert "example" in str(refused.value)
    example = next(e for e in decisions.list_examples(risk, signals.WARNING_RULESET) if e.name == "court judgment only")
    decisions.delete_example(risk, example.id)
    decisions.add_example(risk, product=signals.WARNING_RULESET, name="court judgment only, v2",
                          application={"inputs": sig.example_facts(30, ("external_negative",))},
                          expected_outcome="yellow")
    decisions.submit_version(risk, draft.id)
    with pytest.raises(Exception) as four_eyes:
        decisions.approve_version(risk, draft.id)
    assert "four eyes" in str(four_eyes.value)
    return decisions.approve_version(risk2, draft.id).number


@pytest.mark.django_db
def test_a_new_published_table_changes_the_level_and_the_customer_leaves_after_the_calm_days(
        kept_book: dict[str, Any]) -> None:
    bad, d1, d2 = kept_book["bad"], dt.date(2025, 3, 10), dt.date(2025, 3, 17)
    signals.run_signals(d1)
    signals.run_signals(d2)
    assert _row(d2, bad).level == "orange"

    assert _publish_softer_table(kept_book) == 2
    again = signals.run_signals(d2)  # recomputed: the level follows the new table, the watch list stays put
    assert (_row(d2, bad).level, _row(d2, bad).rule, again.policy_number) == ("yellow", "external_record", 2)
    assert not again.watch_updated and SignalRun.objects.get(as_of=d2).recomputed == 1
    entry = WatchEntry.objects.get(customer_id=bad)
    assert (entry.status, entry.level, entry.below_since) == ("open", "orange", None)

    signals.run_signals(dt.date(2025, 3, 18))  # below orange: the calm days start
    entry.refresh_from_db()
    assert (entry.status, entry.level, entry.below_since) == ("open", "yellow", dt.date(2025, 3, 18))
    signals.run_signals(dt.date(2025, 3, 19))
    assert WatchEntry.objects.get(pk=entry.pk).status == "open"
    left = signals.run_signals(dt.date(2025, 3, 20))  # the third day in a row below orange (WATCH_EXIT_DAYS = 3)
    entry.refresh_from_db()
    assert (entry.status, entry.left_on, left.left) == ("closed", dt.date(2025, 3, 20), 1)
    assert [c.kind for c in signals.watch_changes(dt.date(2025, 3, 20)).changes] == ["left"]
    assert signals.open_watch_entries() == []


@pytest.mark.django_db
def test_back_at_orange_before_the_calm_days_are_over_keeps_the_entry(kept_book: dict[str, Any]) -> None:
    bad = kept_book["bad"]
    signals.run_signals(dt.date(2025, 3, 10))
    _publish_softer_table(kept_book)
    signals.run_signals(dt.date(2025, 3, 17))  # 45 with a judgment: yellow under the new table
    entry = WatchEntry.objects.get(customer_id=bad)
    assert (entry.level, entry.below_since) == ("yellow", dt.date(2025, 3, 17))
    weights = signals.set_weights(kept_book["risk"], {"dpd_rising": "60"})  # rising arrears weigh more: 90, red
    assert weights["dpd_rising"] == 60
    signals.run_signals(dt.date(2025, 3, 18))
    entry.refresh_from_db()
    assert (entry.status, entry.level, entry.peak_level, entry.below_since) == ("open", "red", "red", None)
    assert [c.kind for c in signals.watch_changes(dt.date(2025, 3, 18)).changes] == ["escalated"]
    assert WatchEntry.objects.filter(customer_id=bad).count() == 1
    with pytest.raises(ValidationError) as exc:
        signals.set_weights(kept_book["risk"], {"dpd_rising": "ten"})
    assert exc.value.problems[0].field == "weight_dpd_rising" and signals.weights()["dpd_rising"] == 60


@pytest.mark.django_db
def test_the_run_after_the_close_follows_the_indicators(risk_book: dict[str, Any], close_days: Any,
                                                        settings: Any) -> None:
    settings.RISK_AFTER_CLOSE = "indicators"
    close_days(START, START + dt.timedelta(days=1))
    assert list(SignalRun.objects.order_by("as_of").values_list("as_of", "customers")) == [
        (START, 4), (START + dt.timedelta(days=1), 4)]
    # the first run installed the default table as a published version of the decision engine
    policy = next(p for p in decisions.list_policies(risk_book["risk"]) if p.product == signals.WARNING_RULESET)
    assert policy.published is not None and policy.published.number == 1 and policy.published.approved_by == "system"
    settings.RISK_AFTER_CLOSE = "snapshot"  # the book only: the signals wait for the command
    close_days(START + dt.timedelta(days=2), START + dt.timedelta(days=2))
    assert SignalRun.objects.count() == 2
    call_command("risk", "signals", "--date", (START + dt.timedelta(days=2)).isoformat())
    assert SignalRun.objects.count() == 3


@pytest.mark.django_db
def test_a_failed_signal_run_is_recorded_and_never_fails_the_close(risk_book: dict[str, Any], close_days: Any,
                                                                  settings: Any, monkeypatch: Any) -> None:
    settings.RISK_AFTER_CLOSE = "indicators"

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("the level table could not be read")

    monkeypatch.setattr(signals, "run_signals", broken)
    close_days(START, START)
    assert loans.last_closed_date() == START and not SignalRun.objects.exists()
    failures = [e.data for e in ledger.history(risk_book["auditor"], "risk", START.isoformat())
                if e.kind == "risk.run_failed"]
    assert [f["step"] for f in failures] == ["signals"]


@pytest.mark.slow
@pytest.mark.django_db
def test_spark_computes_exactly_the_local_figures(kept_book: dict[str, Any]) -> None:
    pytest.importorskip("pyspark")
    day = dt.date(2025, 3, 10)
    local, _i, _r, _n, _p = signals.compute(day)
    spark, _i2, _r2, _n2, _p2 = signals.compute(day, engine="spark")
    assert set(local) == set(spark)
    for name in local:
        assert np.array_equal(local[name], spark[name]), name
    assert int(local["f_dpd_rising"].sum()) == 1 and int(local["mask"].astype(bool).sum()) == 1


@pytest.mark.django_db
def test_bad_external_records_are_refused_naming_the_field_and_nothing_is_stored(risk_book: dict[str, Any]) -> None:
    good = {"customer_id": str(risk_book["customers"][0]), "kind": "blacklist", "source": "某征信机构",
            "reference": "BL-1", "record_date": "2025-01-10"}
    cases = [({**good, "customer_id": "999999"}, "rows[1].customer_id", "unknown_customer"),
             ({**good, "kind": "rumour"}, "rows[1].kind", "unknown_kind"),
             ({**good, "record_date": "2025-13-01"}, "rows[1].record_date", "date_format"),
             ({**good, "record_date": "2099-01-01"}, "rows[1].record_date", "record_date_in_future"),
             ({**good, "source": ""}, "rows[1].source", "required"),
             ({**good, "amount": "1e3"}, "rows[1].amount", "amount_format"),
             ({**good, "colour": "red"}, "rows[1].colour", "unknown_field")]
    for bad, field, code in cases:
        with pytest.raises(ValidationError) as exc:
            signals.import_external_records(risk_book["risk"], [{**good, "reference": "BL-0"}, bad],
                                            today=dt.date(2025, 2, 1))
        assert (exc.value.problems[0].field, exc.value.problems[0].code) == (field, code)
    assert signals.recent_external_records(risk_book["risk"]) == []
    first = signals.import_external_records(risk_book["risk"], [good], today=dt.date(2025, 2, 1))
    again = signals.import_external_records(risk_book["risk"], [good, {**good, "reference": "BL-2", "kind": "黑名单"}],
                                            today=dt.date(2025, 2, 1))
    assert (first.created, again.created, again.unchanged) == (1, 1, 1)
    with pytest.raises(ValidationError) as exc:
        signals.import_external_records(risk_book["risk"], [{**good, "record_date": "2025-01-11"}],
                                        today=dt.date(2025, 2, 1))
    assert exc.value.problems[0].code == "reference_conflict"


@pytest.mark.django_db
def test_imported_inflows_raise_the_inflow_signal_and_a_bad_file_is_refused_by_line(
        kept_book: dict[str, Any], tmp_path: Any) -> None:
    from django.core.management import CommandError

    good = kept_book["customers"][0]
    rows = [f"{good},6222020200112233,{m},{a}" for m, a in (("2024-11", "10000.00"), ("2024-12", "12000.00"),
                                                            ("2025-01", "8000.00"), ("2025-02", "3000.00"))]
    path = tmp_path / "inflows.csv"
    path.write_text("customer_id,account,month,amount\n" + "\n".join(rows) + f"\n{good},6222,2025-13,5.00\n",
                    encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        call_command("risk", "inflows", str(path))
    assert "nothing was imported" in str(exc.value) and "line 6, month: month is written YYYY-MM" in str(exc.value)
    path.write_text("customer_id,account,month,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    call_command("risk", "inflows", str(path))
    day = dt.date(2025, 3, 10)
    summary = signals.run_signals(day)
    assert "inflow_fall" not in summary.absent
    row = _row(day, good)
    assert (sig.codes_of(row.mask), row.level) == (["inflow_fall"], "green")  # 15 alone: stored, still green
    assert signals.signal_views(row.signals)[0].explain_zh == \
        "2025-02关联账户流入资金3,000.00元，较此前3个月平均10,000.00元下降70%。"

    records = tmp_path / "records.csv"
    records.write_text("customer_id,kind,source,reference,record_date\n"
                       f"{good},blacklist,某征信机构,BL-1,2025-03-02\n{good},rumour,某征信机构,BL-2,2025-03-02\n",
                       encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        call_command("risk", "external-records", str(records))
    assert "line 3, kind:" in str(exc.value)
