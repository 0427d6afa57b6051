"""Service levels of the waiting states, the timers the review queue shows, and the job that escalates cases
left waiting too long.

The rules (defaults; settings.CREDITPLAN_SLA overrides any of them, per state):
  referred        8 working hours for the bank to decide (working hours: Mon–Fri 09:00–17:00 local time,
                  settings.CREDITPLAN_WORKING_HOURS = (9, 17), holidays in settings.CREDITPLAN_HOLIDAYS as ISO dates)
  info_requested  5 calendar days for the customer to answer
"Due soon" is the last quarter of the allowance. The clock starts when the case entered its current state (its
last transition into it), so a case that comes back from the customer starts a new wait.

What escalation does (what a bank expects of a case nobody picked up in time): the case is brought to the next
level of the branch hierarchy (sub-branch → branch → head office) — a row in `Escalation` naming the target
branch, the reason and the time, and an `application.escalated` ledger event. It does NOT change who may approve:
the authority matrix still decides that, and making an overdue case need *more* authority would slow it further.
The supervisors of the target branch see the flag and the "overdue" filter in their queue (their queue already
covers the subtree). After a second allowance without a move the case climbs one more level (at most
`max_levels`, default 2). One escalation per wait and level: running the job twice does nothing new.

Everything above the `# --- database` line is plain arithmetic on datetimes (tested without a database).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from creditplan.core.calendar import BusinessCalendar

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "referred": {"hours": 8, "working": True, "due_soon": 0.25, "max_levels": 2},
    "info_requested": {"hours": 5 * 24, "working": False, "due_soon": 0.25, "max_levels": 2},
}


@dataclass(frozen=True)
class Rule:
    status: str
    hours: float
    working: bool  # counted in working hours (the bank's clock) or around the clock (the customer's)
    due_soon: float  # the share of the allowance left when the badge turns "due soon"
    max_levels: int


@dataclass(frozen=True)
class Calendar:
    start_hour: int = 9
    end_hour: int = 17
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[dt.date] = frozenset()
    tz: dt.tzinfo = ZoneInfo("Asia/Shanghai")
    workdays: frozenset[dt.date] = frozenset()  # make-up working days (调休), settings.CREDITPLAN_WORKDAYS

    def is_working_day(self, day: dt.date) -> bool:  # the loans' calendar (core/calendar.py), same rule
        return BusinessCalendar(self.holidays, self.workdays, frozenset(self.weekdays)).is_business_day(day)


@dataclass(frozen=True)
class Timer:
    status: str  # the waiting state
    since: dt.datetime
    due_at: dt.datetime
    state: str  # ok | due_soon | overdue
    waited_hours: float  # by the rule's clock (working hours for the bank, calendar hours for the customer)
    limit_hours: float
    escalation_level: int = 0
    escalated_to: str = ""


def _day_bounds(day: dt.date, cal: Calendar) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(day, dt.time(cal.start_hour), cal.tz),
            dt.datetime.combine(day, dt.time(cal.end_hour), cal.tz))


def add_working_time(start: dt.datetime, seconds: float, cal: Calendar) -> dt.datetime:
    """The moment `seconds` of working time after `start` (a start outside working hours waits for the next
    opening)."""
    t = start.astimezone(cal.tz)
    remaining = max(0.0, float(seconds))
    for _ in range(3700):  # ten years of days: a calendar without working days is a configuration error
        day = t.date()
        if cal.is_working_day(day):
            opens, closes = _day_bounds(day, cal)
            t = max(t, opens)
            if t < closes:
                available = (closes - t).total_seconds()
                if remaining <= available:
                    return t + dt.timedelta(seconds=remaining)
                remaining -= available
        t = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), cal.tz)
    raise ValueError("the working calendar has no working hours")


def working_seconds_between(a: dt.datetime, b: dt.datetime, cal: Calendar) -> float:
    """Working time from a to b (0 when b is not after a)."""
    a, b = a.astimezone(cal.tz), b.astimezone(cal.tz)
    if b <= a:
        return 0.0
    total = 0.0
    day = a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            opens, closes = _day_bounds(day, cal)
            lo, hi = max(a, opens), min(b, closes)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def due_time(rule: Rule, since: dt.datetime, cal: Calendar, level: int = 1) -> dt.datetime:
    """When the wait that began at `since` passes `level` allowances."""
    seconds = rule.hours * 3600 * level
    return add_working_time(since, seconds, cal) if rule.working else since + dt.timedelta(seconds=seconds)


def timer(rule: Rule, since: dt.datetime, now: dt.datetime, cal: Calendar) -> Timer:
    waited = working_seconds_between(since, now, cal) if rule.working else max(0.0, (now - since).total_seconds())
    limit = rule.hours * 3600
    due = due_time(rule, since, cal)
    if now >= due:
        state = "overdue"
    elif limit - waited <= rule.due_soon * limit:
        state = "due_soon"
    else:
        state = "ok"
    return Timer(rule.status, since, due, state, round(waited / 3600, 1), rule.hours)


def levels_due(rule: Rule, since: dt.datetime, now: dt.datetime, cal: Calendar) -> list[tuple[int, dt.datetime]]:
    """(level, due time) of every escalation the wait has earned by `now`."""
    out = []
    for level in range(1, rule.max_levels + 1):
        due = due_time(rule, since, cal, level)
        if now < due:
            break
        out.append((level, due))
    return out


# --- database ------------------------------------------------------------------------------------------------

def rules() -> dict[str, Rule]:
    from django.conf import settings

    merged = {k: dict(v) for k, v in DEFAULT_RULES.items()}
    for status, over in (getattr(settings, "CREDITPLAN_SLA", None) or {}).items():
        merged.setdefault(status, {"hours": 24, "working": False, "due_soon": 0.25, "max_levels": 2}).update(over)
    return {s: Rule(s, float(r["hours"]), bool(r["working"]), float(r.get("due_soon", 0.25)),
                    int(r.get("max_levels", 2))) for s, r in merged.items()}


def calendar() -> Calendar:
    from django.conf import settings

    start, end = getattr(settings, "CREDITPLAN_WORKING_HOURS", (9, 17))
    holidays = frozenset(dt.date.fromisoformat(str(d)) for d in getattr(settings, "CREDITPLAN_HOLIDAYS", ()) or ())
    workdays = frozenset(dt.date.fromisoformat(str(d)) for d in getattr(settings, "CREDITPLAN_WORKDAYS", ()) or ())
    return Calendar(int(start), int(end), holidays=holidays, tz=ZoneInfo(settings.TIME_ZONE), workdays=workdays)


def _since(pairs: Iterable[tuple[int, str]]) -> dict[int, dt.datetime]:
    """When each application entered the state it is in now: its last transition into that state."""
    from django.db.models import Max

    from creditplan.origination.models import Transition

    wanted = dict(pairs)
    if not wanted:
        return {}
    out: dict[int, dt.datetime] = {}
    rows = (Transition.objects.filter(application_id__in=list(wanted)).values("application_id", "to_status")
            .annotate(last=Max("at")))
    for r in rows:
        if wanted.get(r["application_id"]) == r["to_status"]:
            out[r["application_id"]] = r["last"]
    return out


def timers(apps: Iterable[Any], now: dt.datetime | None = None) -> dict[int, Timer]:
    """The SLA timer of each application (objects with .id and .status, e.g. ApplicationView) that waits in a
    state with a service level, with the escalation of its current wait if any."""
    from django.utils import timezone

    from creditplan.origination.models import Escalation

    now = now or timezone.now()
    table, cal = rules(), calendar()
    apps = [a for a in apps if a.status in table]
    since = _since((a.id, a.status) for a in apps)
    escalated: dict[tuple[int, str, dt.datetime], tuple[int, str]] = {}
    for e in (Escalation.objects.filter(application_id__in=list(since)).select_related("to_branch")
              .order_by("level")):
        escalated[(e.application_id, e.status, e.since)] = (e.level, e.to_branch.name if e.to_branch else "")
    out: dict[int, Timer] = {}
    for a in apps:
        start = since.get(a.id)
        if start is None:
            continue
        t = timer(table[a.status], start, now, cal)
        level, to = escalated.get((a.id, a.status, start), (0, ""))
        out[a.id] = Timer(**{**t.__dict__, "escalation_level": level, "escalated_to": to})
    return out


@dataclass(frozen=True)
class EscalationReport:
    checked: int
    escalated: int
    already: int


def _ancestor(branch: Any, levels: int) -> Any:
    b = branch
    for _ in range(levels):
        if b.parent_id is None:
            break
        b = b.parent
    return b


def escalate_overdue(now: dt.datetime | None = None) -> EscalationReport:
    """The daily (or hourly) job: escalate every case whose wait has passed its allowance. Idempotent."""
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from creditplan.ledger import services as ledger
    from creditplan.origination.models import Application, Escalation

    now = now or timezone.now()
    table, cal = rules(), calendar()
    apps = list(Application.objects.filter(status__in=list(table)).select_related("branch", "branch__parent")
                .only("id", "ref", "status", "branch"))
    since = _since((a.id, a.status) for a in apps)
    done = set(Escalation.objects.filter(application_id__in=list(since))
               .values_list("application_id", "status", "since", "level"))
    escalated = already = 0
    for a in apps:
        start = since.get(a.id)
        if start is None:
            continue
        rule = table[a.status]
        for level, due in levels_due(rule, start, now, cal):
            if (a.id, a.status, start, level) in done:
                already += 1
                continue
            target = _ancestor(a.branch, level)
            clock = "working hours" if rule.working else "hours"
            reason = (f"waiting {a.status} since {start.astimezone(cal.tz):%Y-%m-%d %H:%M} longer than "
                      f"{level} × {rule.hours:g} {clock}: escalated to {target.code}")
            try:
                with transaction.atomic():
                    locked = Application.objects.select_for_update().filter(pk=a.pk, status=a.status).first()
                    if locked is None:  # moved on meanwhile
                        break
                    Escalation.objects.create(application_id=a.pk, status=a.status, since=start, level=level,
                                              to_branch=target, due_at=due, at=now, reason=reason)
                    ledger.append(None, "application.escalated", "application", a.ref, {
                        "status": a.status, "since": start.isoformat(), "level": level, "to_branch": target.code,
                        "due_at": due.isoformat(), "reason": reason})
            except IntegrityError:  # another run escalated it at the same moment
                already += 1
                continue
            escalated += 1
    return EscalationReport(checked=len(apps), escalated=escalated, already=already)


def overdue_only(items: list[Any], timers_by_id: dict[int, Timer], which: str) -> list[Any]:
    """Queue rows whose timer is in the state asked for (overdue | due_soon | escalated)."""
    def keep(t: Timer | None) -> bool:
        if t is None:
            return False
        if which == "escalated":
            return t.escalation_level > 0
        if which == "due_soon":
            return t.state == "due_soon"
        return t.state == "overdue"

    return [i for i in items if keep(timers_by_id.get(i.application.id))]


@dataclass(frozen=True)
class EscalationView:
    status: str
    level: int
    to_branch: str
    due_at: dt.datetime
    at: dt.datetime
    reason: str


def case_escalations(application_id: int) -> list[EscalationView]:
    """Every escalation of one application, oldest first (the case page; the caller has checked access)."""
    from creditplan.origination.models import Escalation

    return [EscalationView(e.status, e.level, e.to_branch.name if e.to_branch else "", e.due_at, e.at, e.reason)
            for e in Escalation.objects.filter(application_id=application_id).select_related("to_branch")
            .order_by("at", "level")]
