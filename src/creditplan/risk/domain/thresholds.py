"""Green, amber, red: how an indicator's value is judged, and when a judgement becomes an alert.

Why here and pure: the same rules judge today's figures after the close, a recomputation of a past date and a
what-if in a test, and a risk manager's new threshold must be checked (amber before red, in the direction the
indicator worsens) before it is saved.

A threshold is either on the *level* (the NPL ratio above 2 % is amber, above 3 % red) or on the *change*
against the previous period (the NPL ratio up by more than 0.2 points is amber). `worse` says in which direction
the indicator worsens: "up" (overdue ratios, roll rates, concentration) or "down" (approval rate, provision
coverage).

Alert rules (`AlertRule.kind`):
- ``red``: the value is red;
- ``amber``: the value is amber or red;
- ``worsening``: the value has worsened `periods` periods in a row (each strictly worse than the one before).
An alert is keyed by (rule, dimension value): while an alert for that key is open, the same condition raises
nothing new; once it is resolved, the next run that finds the condition again raises a new one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Rag(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"  # no value (no rows), or a change threshold without a previous value


class Worse(StrEnum):
    UP = "up"
    DOWN = "down"


class Mode(StrEnum):
    LEVEL = "level"
    CHANGE = "change"


class ThresholdError(ValueError):
    def __init__(self, message: str, *, code: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Threshold:
    amber: float
    red: float
    worse: Worse = Worse.UP
    mode: Mode = Mode.LEVEL

    def check(self) -> None:
        """Refuse a threshold that cannot be meant: amber beyond red, a value that is not a finite number."""
        for name in ("amber", "red"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ThresholdError(f"the {name} threshold must be a number", code="threshold_not_number",
                                     field=name)
        if self.worse is Worse.UP and self.amber > self.red:
            raise ThresholdError(f"amber ({self.amber:g}) is beyond red ({self.red:g}): for an indicator that worsens "
                                 "upwards, amber must not be above red", code="amber_beyond_red", field="amber")
        if self.worse is Worse.DOWN and self.amber < self.red:
            raise ThresholdError(f"amber ({self.amber:g}) is beyond red ({self.red:g}): for an indicator that worsens "
                                 "downwards, amber must not be below red", code="amber_beyond_red", field="amber")

    def judge(self, value: float | None, previous: float | None = None) -> Rag:
        if value is None or not math.isfinite(value):
            return Rag.NONE
        if self.mode is Mode.CHANGE:
            if previous is None or not math.isfinite(previous):
                return Rag.NONE
            measured = value - previous
        else:
            measured = value
        if self.worse is Worse.UP:
            return Rag.RED if measured >= self.red else Rag.AMBER if measured >= self.amber else Rag.GREEN
        return Rag.RED if measured <= self.red else Rag.AMBER if measured <= self.amber else Rag.GREEN


class RuleKind(StrEnum):
    RED = "red"
    AMBER = "amber"
    WORSENING = "worsening"


@dataclass(frozen=True)
class AlertRule:
    kind: RuleKind
    periods: int = 3  # for WORSENING: how many periods in a row

    def check(self) -> None:
        if self.kind is RuleKind.WORSENING and not 2 <= self.periods <= 24:
            raise ThresholdError("a worsening rule counts from 2 to 24 periods in a row", code="periods_out_of_range",
                                 field="periods")

    def fires(self, history: Sequence[float | None], rag: Rag, worse: Worse) -> bool:
        """Whether the condition holds now. `history` is the indicator's values, oldest first, ending with now."""
        if self.kind is RuleKind.RED:
            return rag is Rag.RED
        if self.kind is RuleKind.AMBER:
            return rag in (Rag.AMBER, Rag.RED)
        recent = list(history[-(self.periods + 1):])
        if len(recent) < self.periods + 1 or any(v is None or not math.isfinite(v) for v in recent):
            return False
        steps = zip(recent, recent[1:], strict=False)
        if worse is Worse.UP:
            return all(b > a for a, b in steps)  # type: ignore[operator]
        return all(b < a for a, b in steps)  # type: ignore[operator]


def raise_alerts(firing: set[str], open_keys: set[str]) -> set[str]:
    """The keys that get a new alert: those whose condition holds now and that have no open alert."""
    return firing - open_keys
