"""Process analytics: where applications spend their time, where they wait, how many go straight through, how
long a decision and the cash take by channel and branch, and where customers give up on the online form.

The period selects a cohort: the applications *submitted* between `date_from` and `date_to` (local dates, both
included), and the online-form drafts *started* in it. Their whole history up to `now` is measured.

- Time in a state: for each transition into a state, the time until the application's next transition (the
  state was left). An application still in an open state at `now` is not a finished stay: it is reported under
  "now waiting" (how many, and how long they have waited so far), not mixed into the medians.
- Straight-through rate: applications approved with no human touch ÷ applications decided (a first final
  approve or decline).
- Time to decision: from submission to the first transition into approved or declined. Time to cash: from
  submission to disbursed.
- Percentiles: linear interpolation between closest ranks (numpy's default, Hyndman–Fan type 7):
  p = x[k] + (x[k+1] − x[k])·f where (n − 1)·q = k + f. The median of 1, 2, 3, 4 h is 2.5 h; p90 of 1 … 10 h is
  9.1 h. Durations are in hours, rounded to 0.01 h for display only.
- Drop-off: drafts started, how many reached each step, how many were submitted; "lost" at a step is the share
  of those who reached it and went no further.

Counting is done in the database (one query per figure family); the durations come back as timestamps and the
percentiles are taken with numpy.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, Q
from django.utils import timezone

from creditplan.core.errors import ValidationError
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.origination.domain import OPEN, Status

FORM_STEPS: tuple[tuple[int, str], ...] = ((1, "offer"), (2, "details"), (3, "consent"), (4, "submitted"))
MAX_PERIOD_DAYS = 731


# --- pure ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stat:
    n: int
    median_h: float | None
    p90_h: float | None


def stat(seconds: Iterable[float]) -> Stat:
    """n, median and p90 (hours, type-7 percentiles) of durations in seconds; None for an empty list."""
    xs = np.asarray(list(seconds), dtype=float)
    if xs.size == 0:
        return Stat(0, None, None)
    med, p90 = np.percentile(xs / 3600.0, [50, 90], method="linear")
    return Stat(int(xs.size), round(float(med), 4), round(float(p90), 4))


@dataclass(frozen=True)
class Step:
    step: str
    reached: int
    lost: int  # reached this step and went no further
    lost_pct: float | None  # of those who reached it


def funnel(furthest: Iterable[int]) -> list[Step]:
    """The online form's funnel from each draft's furthest step (1 offer … 4 submitted)."""
    values = list(furthest)
    out = []
    for i, (k, name) in enumerate(FORM_STEPS):
        reached = sum(1 for v in values if v >= k)
        nxt = sum(1 for v in values if v >= FORM_STEPS[i + 1][0]) if i + 1 < len(FORM_STEPS) else reached
        lost = reached - nxt
        out.append(Step(name, reached, lost, round(100.0 * lost / reached, 2) if reached and name != "submitted"
                        else None))
    return out


def stays(transitions: list[tuple[str, dt.datetime]], now: dt.datetime
          ) -> tuple[list[tuple[str, float]], tuple[str, float] | None]:
    """From one application's transitions in order ((to_status, at), …): the finished stays (state, seconds) and
    the current wait (state, seconds so far) when the application is still in an open state."""
    finished = [(s, (transitions[i + 1][1] - at).total_seconds()) for i, (s, at) in enumerate(transitions[:-1])]
    current = None
    if transitions:
        s, at = transitions[-1]
        if Status(s) in OPEN:
            current = (s, max(0.0, (now - at).total_seconds()))
    return finished, current


# --- the report -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StateRow:
    status: str
    stat: Stat


@dataclass(frozen=True)
class GroupRow:
    key: str
    label: str
    applications: int
    decided: int
    straight_through: int
    to_decision: Stat
    to_cash: Stat
    label_en: str = ""  # a branch's English name (the page picks by language)


@dataclass
class Report:
    date_from: dt.date
    date_to: dt.date
    branch: str
    product: str
    channel: str
    now: dt.datetime
    applications: int = 0
    decided: int = 0
    straight_through: int = 0
    stp_rate_pct: float | None = None
    to_decision: Stat = Stat(0, None, None)
    to_cash: Stat = Stat(0, None, None)
    states: list[StateRow] = field(default_factory=list)
    waiting: list[StateRow] = field(default_factory=list)
    by_channel: list[GroupRow] = field(default_factory=list)
    by_branch: list[GroupRow] = field(default_factory=list)
    drafts: int = 0
    form: list[Step] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.applications == 0


def _date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{name} must be a date (YYYY-MM-DD)", field=name, code="invalid_date") from None


def _bounds(d_from: dt.date, d_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_default_timezone()
    return (dt.datetime.combine(d_from, dt.time(0), tz),
            dt.datetime.combine(d_to + dt.timedelta(days=1), dt.time(0), tz))


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


# state order for display: the process from left to right
_ORDER = [s.value for s in Status]


def process_report(actor: Any, *, date_from: Any, date_to: Any, branch: str = "", product: str = "",
                   channel: str = "", now: dt.datetime | None = None) -> Report:
    """The figures of the analytics page for the actor's branch scope (see the module's docstring)."""
    from creditplan.origination.models import Application, ApplicationDraft, Transition

    org.require(actor, Perm.APPLICATION_ANALYTICS)
    d_from, d_to = _date(date_from, "date_from"), _date(date_to, "date_to")
    if d_to < d_from:
        raise ValidationError("the end date is before the start date", field="date_to", code="period_reversed")
    if (d_to - d_from).days > MAX_PERIOD_DAYS:
        raise ValidationError(f"at most {MAX_PERIOD_DAYS} days at a time", field="date_to", code="period_too_long")
    channel = (channel or "").strip().lower()
    if channel and channel not in ("web", "api", "branch"):
        raise ValidationError("channel must be web, api or branch", field="channel", code="unknown_channel")
    product = (product or "").strip().lower()
    branch = (branch or "").strip().upper()
    now = now or timezone.now()
    start, end = _bounds(d_from, d_to)
    report = Report(d_from, d_to, branch, product, channel, now)

    apps = org.scope_to_branches(actor, Application.objects.filter(created_at__gte=start, created_at__lt=end))
    drafts = org.scope_to_branches(actor, ApplicationDraft.objects.filter(created_at__gte=start, created_at__lt=end))
    if branch:
        b = org.get_branch(branch)
        if not org.branch_in_scope(actor, b):
            raise ValidationError(f"branch {branch} is outside your scope", field="branch", code="unknown_branch")
        apps = apps.filter(branch__path__startswith=b.path)
        drafts = drafts.filter(branch__path__startswith=b.path)
    if product:
        apps = apps.filter(product=product)
        drafts = drafts.filter(product=product)
    if channel:
        apps = apps.filter(channel=channel)
        drafts = drafts.filter(channel=channel)

    # counts in SQL
    decided_q = Q(transitions__to_status__in=(Status.APPROVED, Status.DECLINED))
    totals = apps.aggregate(n=Count("id", distinct=True), decided=Count("id", filter=decided_q, distinct=True),
                            stp=Count("id", filter=Q(auto_approved=True), distinct=True))
    report.applications, report.decided, report.straight_through = totals["n"], totals["decided"], totals["stp"]
    report.stp_rate_pct = _pct(report.straight_through, report.decided)

    # durations: every transition of the cohort, in order
    meta = {a["id"]: a for a in apps.values("id", "channel", "auto_approved", "branch__code", "branch__name",
                                            "branch__name_en")}
    by_app: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    for app_id, to_status, at in (Transition.objects.filter(application_id__in=apps.values("id"))
                                  .order_by("application_id", "at", "id")
                                  .values_list("application_id", "to_status", "at")):
        by_app[app_id].append((to_status, at))

    in_state: dict[str, list[float]] = defaultdict(list)
    waiting: dict[str, list[float]] = defaultdict(list)
    to_decision: dict[int, float] = {}
    to_cash: dict[int, float] = {}
    for app_id, ts in by_app.items():
        finished, current = stays(ts, now)
        for s, secs in finished:
            in_state[s].append(secs)
        if current is not None:
            waiting[current[0]].append(current[1])
        submitted = next((at for s, at in ts if s == Status.SUBMITTED), None)
        if submitted is None:
            continue
        decided = next((at for s, at in ts if s in (Status.APPROVED, Status.DECLINED)), None)
        if decided is not None:
            to_decision[app_id] = (decided - submitted).total_seconds()
        cash = next((at for s, at in ts if s == Status.DISBURSED), None)
        if cash is not None:
            to_cash[app_id] = (cash - submitted).total_seconds()

    report.states = [StateRow(s, stat(in_state[s])) for s in _ORDER if in_state.get(s)]
    report.waiting = [StateRow(s, stat(waiting[s])) for s in _ORDER if waiting.get(s)]
    report.to_decision = stat(to_decision.values())
    report.to_cash = stat(to_cash.values())
    report.by_channel = _groups(meta, to_decision, to_cash, decided_ids={i for i in to_decision},
                                key=lambda m: (m["channel"], m["channel"]))
    report.by_branch = _groups(meta, to_decision, to_cash, decided_ids={i for i in to_decision},
                               key=lambda m: (m["branch__code"], m["branch__name"], m["branch__name_en"] or ""))

    report.drafts = drafts.count()
    furthest = dict(drafts.order_by().values("furthest_step").annotate(n=Count("id"))
                    .values_list("furthest_step", "n"))
    report.form = funnel(k for k, n in furthest.items() for _ in range(n)) if report.drafts else []
    return report


def _groups(meta: dict[int, dict[str, Any]], to_decision: dict[int, float], to_cash: dict[int, float], *,
            decided_ids: set[int], key: Any) -> list[GroupRow]:
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for app_id, m in meta.items():
        groups[key(m)].append(app_id)
    out = []
    for (k, label, *english), ids in sorted(groups.items()):
        decided = [i for i in ids if i in decided_ids]
        out.append(GroupRow(k, label, len(ids), len(decided), sum(1 for i in decided if meta[i]["auto_approved"]),
                            stat(to_decision[i] for i in decided), stat(to_cash[i] for i in ids if i in to_cash),
                            english[0] if english else ""))
    return out
