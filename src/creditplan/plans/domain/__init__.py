"""Credit-plan rules without Django: quota arithmetic, control modes, splits, concentration, pace.

Why pure: these are the numbers a planner signs off and an auditor re-computes. Every amount is an
integer number of minor units (fen); the functions are property-tested for exact reconciliation
(reserved + consumed + available = limit; balance used = outstanding principal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

from creditplan.core.errors import ValidationError
from creditplan.core.money import AMOUNT_CEILING_MINOR, format_minor, parse_minor

# concentration moved to its own module (issue 19); kept importable from here
from creditplan.plans.domain.exposure import ConcentrationCheck as ConcentrationCheck
from creditplan.plans.domain.exposure import ConcentrationLimits as ConcentrationLimits
from creditplan.plans.domain.exposure import check_concentration as check_concentration

MAX_PLAN_AMOUNT_MINOR = AMOUNT_CEILING_MINOR  # 10**17 fen
"""The largest amount a plan takes anywhere (a capital, a quota, an adjustment, a transfer, a target): 10^15 yuan,
far above any Chinese bank's balance sheet and 92 times below a BIGINT of fen, so that the quota arithmetic (a
limit plus an adjustment, a parent's children added up) never overflows the database (issue 20)."""


def parse_plan_amount(value: Any, field: str, *, allow_zero: bool = True, allow_negative: bool = False) -> int:
    """An amount a planner or a branch types (core.money.parse_minor), in fen, at most MAX_PLAN_AMOUNT_MINOR either
    way: a larger one is refused with `amount_out_of_range` naming the field and the bound."""
    minor = parse_minor(value, field, allow_zero=allow_zero, allow_negative=allow_negative,
                        maximum=MAX_PLAN_AMOUNT_MINOR)
    if minor < -MAX_PLAN_AMOUNT_MINOR:
        raise ValidationError(f"{field} is out of range: at most {format_minor(MAX_PLAN_AMOUNT_MINOR)} CNY either way "
                              "is allowed here.", code="amount_out_of_range", field=field)
    return minor


class ControlMode(StrEnum):
    HARD = "hard"  # refuse anything above the limit
    SOFT = "soft"  # allow, but escalate to a higher authority
    MONITOR = "monitor"  # only watch


class Outcome(StrEnum):
    RESERVED = "reserved"
    ESCALATED = "escalated"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class QuotaState:
    """One quota's two measures: new lending in the period, and outstanding balance at period end.

    new lending: reserved (approved, not yet paid out) + consumed (disbursed) + available = limit
    balance:     outstanding (disbursed principal not yet repaid) + reserved pipeline ≤ balance limit
    """

    new_lending_limit: int
    balance_limit: int
    reserved: int = 0
    consumed: int = 0
    outstanding: int = 0

    @property
    def available(self) -> int:
        return self.new_lending_limit - self.reserved - self.consumed

    @property
    def balance_available(self) -> int:
        return self.balance_limit - self.outstanding - self.reserved

    @property
    def utilisation(self) -> Fraction:
        """Share of the new-lending limit reserved or consumed (0 when there is no limit)."""
        if self.new_lending_limit <= 0:
            return Fraction(0)
        return Fraction(self.reserved + self.consumed, self.new_lending_limit)


@dataclass(frozen=True, slots=True)
class Check:
    outcome: Outcome
    reason: str = ""


def check_reserve(state: QuotaState, amount: int, mode: ControlMode) -> Check:
    """Would reserving `amount` fit? Hard quotas refuse, soft ones escalate, monitor-only ones allow."""
    if amount <= 0:
        raise ValueError("a reservation must be a positive amount")
    problems = []
    if amount > state.available:
        problems.append(f"new-lending quota has {state.available} available, {amount} requested")
    if amount > state.balance_available:
        problems.append(f"balance quota has {state.balance_available} available, {amount} requested")
    if not problems:
        return Check(Outcome.RESERVED)
    reason = "; ".join(problems)
    if mode is ControlMode.HARD:
        return Check(Outcome.REFUSED, reason)
    if mode is ControlMode.SOFT:
        return Check(Outcome.ESCALATED, reason)
    return Check(Outcome.RESERVED, reason)


def reserve(state: QuotaState, amount: int) -> QuotaState:
    return replace(state, reserved=state.reserved + amount)


def release(state: QuotaState, reserved_amount: int) -> QuotaState:
    if reserved_amount > state.reserved:
        raise ValueError("cannot release more than is reserved")
    return replace(state, reserved=state.reserved - reserved_amount)


def consume(state: QuotaState, reserved_amount: int, disbursed: int) -> QuotaState:
    """Disbursement: the reservation becomes consumed lending and outstanding balance. A disbursement may
    be smaller than the approval (the rest is released), never larger."""
    if disbursed > reserved_amount:
        raise ValueError("cannot disburse more than was approved")
    if reserved_amount > state.reserved:
        raise ValueError("cannot consume more than is reserved")
    return replace(state, reserved=state.reserved - reserved_amount, consumed=state.consumed + disbursed,
                   outstanding=state.outstanding + disbursed)


def repay(state: QuotaState, principal: int) -> QuotaState:
    """Principal repaid restores balance quota (new-lending quota stays used: it measures flow)."""
    if principal > state.outstanding:
        raise ValueError("cannot repay more principal than is outstanding")
    return replace(state, outstanding=state.outstanding - principal)


def split_problem(parent_new: int, parent_balance: int, children: list[tuple[int, int]]) -> str | None:
    """Children of a quota cannot add up to more than their parent, on either measure."""
    if any(n < 0 or b < 0 for n, b in children):
        return "a quota cannot be negative"
    total_new = sum(n for n, _ in children)
    total_bal = sum(b for _, b in children)
    if total_new > parent_new:
        return f"children's new-lending quotas add up to {total_new}, above the parent's {parent_new}"
    if total_bal > parent_balance:
        return f"children's balance quotas add up to {total_bal}, above the parent's {parent_balance}"
    return None


def periods_overlap(a: tuple[dt.date, dt.date], b: tuple[dt.date, dt.date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def elapsed_share(start: dt.date, end: dt.date, today: dt.date) -> Fraction:
    """Share of the period elapsed at the end of `today` (0 before the start, 1 after the end)."""
    total = (end - start).days + 1
    done = min(max((today - start).days + 1, 0), total)
    return Fraction(done, total)


def pace(state: QuotaState, start: dt.date, end: dt.date, today: dt.date) -> Fraction | None:
    """Used share ÷ elapsed share: 1 is on plan, below 1 behind, above 1 ahead (None before the start)."""
    elapsed = elapsed_share(start, end, today)
    if elapsed == 0:
        return None
    return state.utilisation / elapsed
