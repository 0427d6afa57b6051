"""Green / amber / red and the alert rules: a threshold set the wrong way round is refused by name; an alert is
raised once per open condition and again after it was resolved and the condition returns."""

from __future__ import annotations

import math

import pytest

from creditplan.risk.domain.thresholds import (
    AlertRule,
    Mode,
    Rag,
    RuleKind,
    Threshold,
    ThresholdError,
    Worse,
    raise_alerts,
)


def test_level_thresholds_in_both_directions() -> None:
    npl = Threshold(amber=0.02, red=0.03)
    assert [npl.judge(v) for v in (0.01, 0.02, 0.025, 0.03, 0.5)] == [Rag.GREEN, Rag.AMBER, Rag.AMBER, Rag.RED, Rag.RED]
    approval = Threshold(amber=0.5, red=0.4, worse=Worse.DOWN)
    assert [approval.judge(v) for v in (0.7, 0.5, 0.45, 0.4)] == [Rag.GREEN, Rag.AMBER, Rag.AMBER, Rag.RED]
    assert npl.judge(None) is Rag.NONE and npl.judge(math.nan) is Rag.NONE


def test_change_thresholds_need_a_previous_value() -> None:
    jump = Threshold(amber=0.002, red=0.005, mode=Mode.CHANGE)
    assert jump.judge(0.021, 0.020) is Rag.GREEN
    assert jump.judge(0.023, 0.020) is Rag.AMBER
    assert jump.judge(0.030, 0.020) is Rag.RED
    assert jump.judge(0.030, None) is Rag.NONE


@pytest.mark.parametrize(("threshold", "field"), [
    (Threshold(amber=0.04, red=0.03), "amber"),
    (Threshold(amber=0.3, red=0.4, worse=Worse.DOWN), "amber"),
    (Threshold(amber=math.inf, red=1.0), "amber"),
    (Threshold(amber=0.1, red=math.nan), "red"),
])
def test_a_threshold_that_cannot_be_meant_is_refused_naming_the_field(threshold: Threshold, field: str) -> None:
    with pytest.raises(ThresholdError) as exc:
        threshold.check()
    assert exc.value.field == field
    if exc.value.code == "amber_beyond_red":
        assert "beyond red" in exc.value.message


def test_worsening_rule_counts_consecutive_periods() -> None:
    rule = AlertRule(RuleKind.WORSENING, periods=3)
    assert rule.fires([0.01, 0.011, 0.012, 0.013], Rag.GREEN, Worse.UP)
    assert not rule.fires([0.01, 0.011, 0.011, 0.013], Rag.GREEN, Worse.UP)  # a flat step breaks the run
    assert not rule.fires([0.011, 0.012, 0.013], Rag.GREEN, Worse.UP)  # not enough history yet
    assert rule.fires([0.9, 0.8, 0.7, 0.6], Rag.GREEN, Worse.DOWN)
    with pytest.raises(ThresholdError):
        AlertRule(RuleKind.WORSENING, periods=1).check()


def test_an_alert_is_raised_once_per_open_condition_and_again_after_it_is_resolved() -> None:
    open_keys: set[str] = set()
    raised = []
    days = [{"BJ01"}, {"BJ01"}, {"BJ01", "SH01"}, set(), {"BJ01"}]
    for day, firing in enumerate(days):
        new = raise_alerts(firing, open_keys)
        raised.append(sorted(new))
        open_keys |= new
        if day == 2:
            open_keys.discard("BJ01")  # a risk manager resolved BJ01's alert after the third run
    assert raised == [["BJ01"], [], ["SH01"], [], ["BJ01"]]
