"""Post-loan management (issue 17, items 3 and 5): the pure rules of review tasks and dynamic limits.

Review tasks
    A customer entering the watch list at orange or red gets a review task; routine checks are scheduled too (30 days
    after a business loan is paid out, and once a year for every customer with a loan on the book). Each task is due
    a number of *working* days after it was created (`DEFAULT_DUE_DAYS`: red 3, orange 10, the 30-day check 10, the
    yearly review 20 — the institution may change them), and escalates when still open after its due date: to the
    branch's approvers (level 1), then, `DEFAULT_ESCALATE_DAYS` working days later, to the risk managers (level 2).

Dynamic limits
    A decision table (risk.services.limits) says, per customer with an active credit line: increase, keep, reduce or
    freeze. The amounts are computed here: an increase of `increase_step_pct` of the line (rounded down to whole
    hundreds of yuan), a reduction of `reduce_step_pct` (never below what is already reserved and used on the line).
    Whether the change applies at once or waits for a person's approval is `within_policy`.

Everything here is plain Python over dates and integers (amounts in fen): no Django.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

# --- review tasks --------------------------------------------------------------------------------------------------


class TaskKind(StrEnum):
    WATCH = "watch"  # the customer entered the watch list (orange or red)
    DISBURSEMENT = "disbursement"  # 30 days after a business loan was paid out
    ANNUAL = "annual"  # the yearly review of a customer with a loan on the book


class Channel(StrEnum):
    VISIT = "visit"
    CALL = "call"


class Action(StrEnum):
    KEEP = "keep"
    REDUCE = "reduce"  # reduce the credit line
    FREEZE = "freeze"  # freeze the credit line
    COLLATERAL = "collateral"  # demand (more) collateral
    RESTRUCTURE = "restructure"  # restructure a loan (on the loan's page)
    RECOVER = "recover"  # start recovery (on the loan's page)


LINE_ACTIONS: frozenset[str] = frozenset({Action.REDUCE, Action.FREEZE})
"""Actions that change the customer's credit line (they need one in force)."""
LOAN_ACTIONS: frozenset[str] = frozenset({Action.RESTRUCTURE, Action.RECOVER})
"""Actions carried out on a loan's page (the task links there)."""

KIND_LABELS: dict[str, tuple[str, str]] = {
    TaskKind.WATCH: ("Watch list", "预警名单"),
    TaskKind.DISBURSEMENT: ("30-day check after disbursement", "放款后30天检查"),
    TaskKind.ANNUAL: ("Yearly review", "年度检查"),
}
CHANNEL_LABELS: dict[str, tuple[str, str]] = {Channel.VISIT: ("Visit", "实地走访"), Channel.CALL: ("Call", "电话回访")}
ACTION_LABELS: dict[str, tuple[str, str]] = {
    Action.KEEP: ("Keep the line as it is", "维持额度"),
    Action.REDUCE: ("Reduce the line", "压降额度"),
    Action.FREEZE: ("Freeze the line", "冻结额度"),
    Action.COLLATERAL: ("Demand collateral", "要求追加担保"),
    Action.RESTRUCTURE: ("Restructure the loan", "贷款重组"),
    Action.RECOVER: ("Recover", "启动清收"),
}
STATUS_LABELS: dict[str, tuple[str, str]] = {"open": ("Open", "待处理"), "done": ("Done", "已完成")}
ESCALATION_LABELS: dict[str, tuple[str, str]] = {
    "0": ("Not escalated", "未升级"),
    "1": ("Escalated to the branch's approvers", "已升级至网点审批人"),
    "2": ("Escalated to the risk managers", "已升级至风险经理"),
}


def label(table: Mapping[str, tuple[str, str]], code: str, zh: bool) -> str:
    en, cn = table.get(code, (code, code))
    return cn if zh else en


DEFAULT_DUE_DAYS: dict[str, int] = {"red": 3, "orange": 10, TaskKind.DISBURSEMENT: 10, TaskKind.ANNUAL: 20}
"""Working days from a task's creation to its due date: a watch task by its level, a routine check by its kind."""
DEFAULT_ESCALATE_DAYS = 5
"""Working days after the due date before an open task goes on from the branch's approvers to the risk managers."""
DISBURSEMENT_CHECK_DAYS = 30
"""Calendar days after a business loan is paid out before its routine check."""
LEVEL_RANK: dict[str, int] = {"green": 0, "yellow": 1, "orange": 2, "red": 3}


def due_key(kind: str, level: str) -> str:
    """Which entry of the due-days table applies: the level for a watch task, the kind for a routine one."""
    return level if kind == TaskKind.WATCH else kind


def parse_due_days(text: str) -> dict[str, int]:
    """`red=3,orange=10,disbursement=10,annual=20` (any subset; the rest keep their default). Raises ValueError
    naming the entry that is wrong."""
    out = dict(DEFAULT_DUE_DAYS)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in DEFAULT_DUE_DAYS or not value.strip().isdigit() or not 0 < int(value) <= 250:
            raise ValueError(f"{item.strip()!r}: write key=days with key one of {', '.join(DEFAULT_DUE_DAYS)} and "
                             "1 to 250 working days")
        out[key] = int(value)
    return out


@dataclass(frozen=True)
class WorkingCalendar:
    """The bank's working days: weekdays (0 = Monday) and holidays."""

    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[dt.date] = frozenset()

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays


def add_working_days(start: dt.date, days: int, cal: WorkingCalendar) -> dt.date:
    """The `days`-th working day after `start` (`start` itself does not count: created on a Friday with 3 days,
    due on Wednesday). Raises ValueError for a calendar without working days."""
    if not cal.weekdays:
        raise ValueError("the working calendar has no working day")
    day, left = start, max(0, int(days))
    guard = 0
    while left > 0:
        day += dt.timedelta(days=1)
        guard += 1
        if guard > 3700:
            raise ValueError("no working day within ten years: check the holidays")
        if cal.is_working_day(day):
            left -= 1
    return day


def due_on(kind: str, level: str, created_on: dt.date, due_days: Mapping[str, int], cal: WorkingCalendar) -> dt.date:
    key = due_key(kind, level)
    return add_working_days(created_on, int(due_days.get(key, DEFAULT_DUE_DAYS.get(key, 10))), cal)


def escalation_level(due: dt.date, closed_day: dt.date, again_days: int, cal: WorkingCalendar) -> int:
    """How far an open task has escalated once the close of `closed_day` is done (that day is over): 0 before its
    due date is over; 1 (the branch's approvers) from the close of the due date — the task is overdue from the next
    morning —; 2 (the risk managers) from the close of the `again_days`-th working day after the due date."""
    if closed_day < due:
        return 0
    return 2 if closed_day >= add_working_days(due, again_days, cal) else 1


def is_overdue(due: dt.date, today: dt.date) -> bool:
    """A task is overdue from the day after its due date."""
    return today > due


# --- routine checks --------------------------------------------------------------------------------------------------


def anniversary(first: dt.date, year: int) -> dt.date:
    """`first`'s date in `year` (29 February → 28 February in a common year)."""
    last = calendar.monthrange(year, first.month)[1]
    return dt.date(year, first.month, min(first.day, last))


def anniversaries_between(first: dt.date, after: dt.date, upto: dt.date) -> list[dt.date]:
    """The anniversaries of `first` (one year on, two years on…) in the window (`after`, `upto`]."""
    out = []
    for year in range(max(first.year + 1, after.year), upto.year + 1):
        day = anniversary(first, year)
        if after < day <= upto:
            out.append(day)
    return out


# --- dynamic limits --------------------------------------------------------------------------------------------------


class LimitOutcome(StrEnum):
    INCREASE = "increase"
    KEEP = "keep"
    REDUCE = "reduce"
    FREEZE = "freeze"


LIMIT_OUTCOMES: tuple[str, ...] = tuple(o.value for o in LimitOutcome)
"""Least to most severe (the decision table's scale; KEEP when no row matches)."""
LIMIT_LABELS: dict[str, tuple[str, str]] = {
    LimitOutcome.INCREASE: ("Increase", "提高额度"), LimitOutcome.KEEP: ("Keep", "维持额度"),
    LimitOutcome.REDUCE: ("Reduce", "压降额度"), LimitOutcome.FREEZE: ("Freeze", "冻结额度"),
}
PROPOSAL_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "applied": ("Applied at once (within policy)", "已自动生效（政策范围内）"),
    "pending": ("Waiting for approval", "待审批"),
    "approved": ("Approved and applied", "已审批生效"),
    "rejected": ("Rejected", "已否决"),
    "skipped": ("Not made", "未执行"),
}
ROUND_MINOR = 10_000
"""New line amounts are whole hundreds of yuan (10,000 fen)."""


@dataclass(frozen=True)
class LimitPolicy:
    """What the rules may change at once, and by how much they change a line.

    increase_step_pct   an increase raises the line by this share (default 20 %)
    reduce_step_pct     a reduction cuts it by this share (default 30 %), never below what is used
    auto_increase_pct   an increase applies at once only up to this share of the line…
    auto_increase_max   …and up to this amount (fen; default 50,000.00 yuan); above either, a person approves it
    auto_cuts           reductions and freezes by the rules apply at once (default); otherwise a person approves
    """

    increase_step_pct: int = 20
    reduce_step_pct: int = 30
    auto_increase_pct: int = 20
    auto_increase_max: int = 5_000_000
    auto_cuts: bool = True


@dataclass(frozen=True)
class Proposed:
    outcome: str
    before: int
    after: int  # the line's amount after the change (the same as before for a freeze or nothing to do)
    within_policy: bool
    note: str = ""  # "nothing_to_cut": the line is fully used, a reduction changes nothing


def round_down(minor: int) -> int:
    return (minor // ROUND_MINOR) * ROUND_MINOR


def propose(outcome: str, amount: int, occupied: int, policy: LimitPolicy) -> Proposed:
    """The change a table outcome makes to a line of `amount` with `occupied` reserved and used (fen)."""
    if outcome == LimitOutcome.INCREASE:
        after = round_down(amount + amount * policy.increase_step_pct // 100)
        if after <= amount:
            return Proposed(outcome, amount, amount, False, "nothing_to_add")
        return Proposed(outcome, amount, after, within_policy(outcome, amount, after, policy))
    if outcome == LimitOutcome.REDUCE:
        target = amount - amount * policy.reduce_step_pct // 100
        after = max(occupied, round_down(target))
        if after >= amount:
            return Proposed(outcome, amount, amount, False, "nothing_to_cut")
        return Proposed(outcome, amount, after, within_policy(outcome, amount, after, policy))
    if outcome == LimitOutcome.FREEZE:
        return Proposed(outcome, amount, amount, within_policy(outcome, amount, amount, policy))
    return Proposed(LimitOutcome.KEEP, amount, amount, True)


def within_policy(outcome: str, before: int, after: int, policy: LimitPolicy) -> bool:
    """Whether a change applies at once without a person: an increase of at most `auto_increase_pct` % and at most
    `auto_increase_max`; a reduction or a freeze when `auto_cuts`."""
    if outcome == LimitOutcome.INCREASE:
        grow = after - before
        return grow <= policy.auto_increase_max and grow * 100 <= before * policy.auto_increase_pct
    if outcome in (LimitOutcome.REDUCE, LimitOutcome.FREEZE):
        return policy.auto_cuts
    return True


@dataclass(frozen=True)
class LimitFacts:
    """What the limit table reads about a customer with an active line."""

    warning: int  # the latest warning level: 0 green, 1 yellow, 2 orange, 3 red
    dpd: int  # most days past due today over the customer's loans
    months_clean: int  # whole months since the customer last had a day past due (or since their first loan)
    months_on_book: int  # whole months since the customer's first loan still on the book
    behaviour_grade: int  # the latest re-rating's grade index (0 = best); -1 when never re-rated
    behaviour_worse: bool  # the latest re-rating is worse than the one before
    utilisation_pct: int  # reserved and used ÷ the line, whole percent

    def as_facts(self) -> dict[str, int | bool]:
        return {"warning": self.warning, "dpd": self.dpd, "months_clean": self.months_clean,
                "months_on_book": self.months_on_book, "behaviour_grade": self.behaviour_grade,
                "behaviour_worse": self.behaviour_worse, "utilisation_pct": self.utilisation_pct}


def whole_months(earlier: dt.date, later: dt.date) -> int:
    """Whole calendar months from `earlier` to `later` (0 when `later` is not after it)."""
    if later <= earlier:
        return 0
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day and later.day != calendar.monthrange(later.year, later.month)[1]:
        months -= 1
    return max(0, months)


_LEVEL_NAMES = (("green", "绿色"), ("yellow", "黄色"), ("orange", "橙色"), ("red", "红色"))


def explain_facts(f: LimitFacts, grades: list[str] | None = None) -> tuple[str, str]:
    """The figures behind a proposal, in English and Chinese (every proposal shows them beside the table's
    reason)."""
    level_en, level_zh = _LEVEL_NAMES[max(0, min(3, f.warning))]
    en = [f"warning level {level_en}", f"{f.dpd} days past due now" if f.dpd else "nothing past due now",
          f"no day past due for {f.months_clean} months" if not f.dpd else "",
          f"{f.utilisation_pct}% of the line used"]
    zh = [f"预警等级{level_zh}", f"当前逾期{f.dpd}天" if f.dpd else "当前无逾期",
          f"连续{f.months_clean}个月无逾期" if not f.dpd else "", f"额度使用率{f.utilisation_pct}%"]
    if f.behaviour_grade >= 0:
        grade = grades[f.behaviour_grade] if grades and f.behaviour_grade < len(grades) else str(f.behaviour_grade)
        en.append(f"behaviour grade {grade}{', worse than the month before' if f.behaviour_worse else ''}")
        zh.append(f"行为评分等级{grade}{'，较上次恶化' if f.behaviour_worse else ''}")
    return "; ".join(x for x in en if x), "；".join(x for x in zh if x)


def last_past_due(late: Iterable[tuple[dt.date, dt.date | None]], today: dt.date) -> dt.date | None:
    """The last day a customer had something past due, from their instalments (due date, paid on): an instalment
    paid after its due date was past due until the day before it was paid; one still unpaid after its due date is
    past due today. None when nothing was ever late."""
    last: dt.date | None = None
    for due, paid in late:
        if paid is None:
            if due < today:
                return today
            continue
        if paid > due:
            day = paid - dt.timedelta(days=1)
            last = day if last is None or day > last else last
    return last
