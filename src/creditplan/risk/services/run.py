"""The daily indicator run, after the close: keep the day's snapshot, compute every active indicator for every
member of its dimensions, judge each value green / amber / red, raise the alerts the rules call for.

A recomputation of a past date reads the kept snapshots and gives the same figures (and raises no alert twice:
an alert is keyed by its condition, and an open one is never raised again).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.org.models import Branch
from creditplan.risk import sql, store
from creditplan.risk.domain.catalogue import DIMENSIONS, FACTS
from creditplan.risk.domain.facts import application_facts, loan_facts, previous_period_end, quota_facts
from creditplan.risk.domain.snapshot import CARRIED, derive
from creditplan.risk.domain.thresholds import AlertRule as RuleSpec
from creditplan.risk.domain.thresholds import Rag, RuleKind, Worse
from creditplan.risk.engine import Result, Task, run_local, run_spark
from creditplan.risk.models import Alert, AlertStatus, EclRun, Indicator, IndicatorValue, Run, Snapshot
from creditplan.risk.services.indicators import formula_of, threshold_of

APPLICATION_WINDOW_DAYS = 30


@dataclass(frozen=True)
class RunSummary:
    as_of: dt.date
    loans: int
    values: int
    alerts: int
    red: int
    amber: int
    seconds: float
    snapshot_seconds: float
    engine: str


# --- snapshots --------------------------------------------------------------------------------------------

def _latest_snapshot(before: dt.date, *, inclusive: bool = False) -> Snapshot | None:
    qs = Snapshot.objects.filter(as_of__lte=before) if inclusive else Snapshot.objects.filter(as_of__lt=before)
    return qs.order_by("-as_of").first()


def take_snapshot(as_of: dt.date) -> Snapshot:
    """Keep the book as it stands after the close of `as_of` (once: a date's snapshot is never retaken).

    Refused when the close of `as_of` has not run, or when the book has already been closed for a later date:
    the snapshot of a date is the book right after its close, and that moment has passed."""
    existing = Snapshot.objects.filter(as_of=as_of).first()
    if existing is not None:
        return existing
    closed = loans.last_closed_date()
    if closed is None or closed < as_of:
        raise Conflict(f"the close of {as_of} has not run: indicators are computed after the close",
                       code="close_not_run", field="date")
    if closed > as_of or sql.close_begun_after(as_of):
        raise Conflict(f"the book has been closed after {as_of}: the book as it stood on {as_of} was not kept "
                       "and cannot be rebuilt", code="snapshot_not_kept", field="date")
    book = sql.read_book(as_of)
    previous = _latest_snapshot(as_of)
    prev_loans = (store.read(previous.as_of, previous.sha256, columns=_CARRIED_ONLY)["loans"]
                  if previous is not None else None)
    loans_table = derive(book, as_of, prev_loans)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0), tzinfo=timezone.get_current_timezone())
    apps = sql.read_applications(end - dt.timedelta(days=APPLICATION_WINDOW_DAYS), end)
    quotas = sql.read_quotas(as_of)
    digest = store.write(as_of, {"loans": loans_table, "applications": apps, "quotas": quotas})
    snap, _ = Snapshot.objects.get_or_create(as_of=as_of, defaults={
        "path": str(store.folder(as_of)), "loans": int(book["loan"].size), "sha256": digest})
    return snap


_CARRIED_ONLY = {"loans": ["loan", *CARRIED], "applications": [], "quotas": []}
"""What a snapshot reads of the one before it: the history it carries over."""
_PREVIOUS_ONLY = {"loans": ["loan", "outstanding", "bucket", "risk_class"], "applications": [], "quotas": []}
"""What the indicators read of an earlier snapshot: the same loans' state then (roll rates, migration)."""


def _tables(snapshot: Snapshot, columns: dict[str, list[str]] | None = None) -> dict[str, dict[str, Any]]:
    return store.read(snapshot.as_of, snapshot.sha256, columns=columns)


# --- the run ------------------------------------------------------------------------------------------------

def run_indicators(as_of: Any, *, actor: Actor | None = None, engine: str = "local", session: Any = None,
                   progress: Callable[[str], None] | None = None) -> RunSummary:
    """Compute every active indicator for `as_of` (after its close) and raise the alerts it calls for.

    `engine` "local" computes in this process; "spark" on a Spark session (local[*] unless `session` is given).
    Running a date again recomputes it from its kept snapshot: the same figures, no alert raised twice."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    day = _date(as_of)
    if engine not in ("local", "spark"):
        raise ValidationError("the engine is local or spark", field="engine", code="unknown_engine")
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    say("snapshot")
    recompute = Run.objects.filter(as_of=day).exists()  # computed before: this run recomputes it
    snap = take_snapshot(day)
    snapshot_seconds = time.perf_counter() - started
    indicators = list(Indicator.objects.filter(active=True).prefetch_related("rules"))
    tables = _tables(snap)
    results: list[tuple[Indicator, Result]] = []
    by_fact: dict[str, list[Indicator]] = defaultdict(list)
    for i in indicators:
        by_fact[i.fact].append(i)
    for fact, group in sorted(by_fact.items()):
        by_period: dict[dt.date | None, list[Indicator]] = defaultdict(list)
        for i in group:
            by_period[previous_period_end(day, i.frequency) if fact == "loans" else None].append(i)
        for earlier_day, members in by_period.items():
            say(f"{fact} ({len(members)} indicators)")
            facts = _facts(fact, tables, day, earlier_day)
            if fact == "loans" and not _has_allowance(day):
                # no ECL run yet on or before `day`: a figure over the allowance would read zeros as a provision
                # of nothing, so it gives no value at all (shown as "–"), like a ratio over no rows
                members = [i for i in members if not _READS_ALLOWANCE.search(i.formula)]
            tasks = [Task(i.code, formula_of(i), tuple(i.dimensions)) for i in members]
            codes = {i.code: i for i in members}
            computed = (run_spark(facts, tasks, FACTS[fact], session=session) if engine == "spark"
                        else run_local(facts, tasks, FACTS[fact]))
            results.extend((codes[r.code], r) for r in computed)
    say("judging and alerts")
    summary = _store(day, results, snap, engine, recompute, actor, started, snapshot_seconds)
    return summary


_READS_ALLOWANCE = re.compile(r"\ballowance\b")


def _has_allowance(day: dt.date) -> bool:
    """Whether an ECL run on or before `day` gives the loans an allowance (risk.services.allowance)."""
    return EclRun.objects.filter(as_of__lte=day).exists()


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("the date is written YYYY-MM-DD", field="date", code="date_format") from None


def _facts(fact: str, tables: dict[str, dict[str, Any]], day: dt.date, earlier_day: dt.date | None
           ) -> dict[str, Any]:
    if fact == "applications":
        return application_facts(tables["applications"])
    if fact == "quotas":
        return quota_facts(tables["quotas"], day)
    earlier = None
    if earlier_day is not None:
        prior = _latest_snapshot(earlier_day, inclusive=True)
        if prior is not None:
            earlier = _tables(prior, _PREVIOUS_ONLY)["loans"]
    # the allowance: each loan's figure of the latest ECL run on or before `day` (risk.services.ecl)
    from creditplan.risk.services.allowance import with_allowance

    return loan_facts(with_allowance(tables["loans"], day), earlier)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _history(indicators: list[Indicator], day: dt.date, depth: int) -> dict[tuple[int, str, str], list[float | None]]:
    """Each (indicator, dimension, member)'s values at its previous period ends, oldest first (depth periods)."""
    out: dict[tuple[int, str, str], list[float | None]] = {}
    for i in indicators:
        ends = []
        d = day
        for _ in range(depth):
            d = previous_period_end(d, i.frequency)
            ends.append(d)
        rows = IndicatorValue.objects.filter(indicator=i, as_of__lte=ends[0], as_of__gte=ends[-1] - dt.timedelta(
            days=31)).values_list("dimension", "member", "as_of", "value")
        series: dict[tuple[str, str], dict[dt.date, float | None]] = defaultdict(dict)
        for dim, member, at, value in rows:
            series[(dim, member)][at] = value
        for key, values in series.items():
            dates = sorted(values)
            picked: list[float | None] = []
            for end in reversed(ends):
                on_or_before = [x for x in dates if x <= end]
                picked.append(values[on_or_before[-1]] if on_or_before and on_or_before[-1] > end - dt.timedelta(
                    days=_period_days(i.frequency)) else None)
            out[(i.pk, *key)] = picked
    return out


def _period_days(frequency: str) -> int:
    return {"monthly": 31, "weekly": 7}.get(frequency, 1)


@transaction.atomic
def _store(day: dt.date, results: list[tuple[Indicator, Result]], snap: Snapshot, engine: str, recompute: bool,
           actor: Actor | None, started: float, snapshot_seconds: float) -> RunSummary:
    indicators = list({i.pk: i for i, _r in results}.values())
    depth = max([r.periods for i in indicators for r in i.rules.all() if r.active] + [1]) + 1
    history = _history(indicators, day, depth)
    IndicatorValue.objects.filter(as_of=day, indicator__in=indicators).delete()
    rows: list[IndicatorValue] = []
    firing: dict[str, tuple[Indicator, str, str, str, float | None, Rag]] = {}
    red = amber = 0
    for i, r in results:
        threshold = threshold_of(i)
        for k, member in enumerate(r.members):
            value = _finite(float(r.values[k]))
            past = history.get((i.pk, r.dimension, member), [])
            previous = past[-1] if past else None
            rag = threshold.judge(value, previous)
            red += rag is Rag.RED
            amber += rag is Rag.AMBER
            parts = r.parts[k]
            rows.append(IndicatorValue(as_of=day, indicator=i, dimension=r.dimension, member=member, value=value,
                                       numerator=parts[0] if parts else None, denominator=parts[1] if parts else None,
                                       previous=previous, rag=rag.value))
            for rule in i.rules.all():
                if not rule.active:
                    continue
                spec = RuleSpec(RuleKind(rule.kind), rule.periods)
                if spec.fires([*past, value], rag, Worse(i.worse)):
                    key = f"{i.code}:{rule.kind}:{r.dimension}:{member}"
                    firing[key] = (i, rule.kind, r.dimension, member, value, rag)
    IndicatorValue.objects.bulk_create(rows, batch_size=2000)
    raised = _raise(day, firing, actor)
    seconds = time.perf_counter() - started
    finished = timezone.now()
    Run.objects.create(as_of=day, engine=engine, recompute=recompute,
                       started_at=finished - dt.timedelta(seconds=seconds), finished_at=finished, loans=snap.loans,
                       values=len(rows), alerts=len(raised), seconds=seconds)
    ledger.append(actor, "risk.indicators_computed", "risk", day.isoformat(), {
        "loans": snap.loans, "values": len(rows), "red": red, "amber": amber, "alerts": len(raised),
        "snapshot_sha256": snap.sha256, "engine": engine, "recompute": recompute})
    return RunSummary(day, snap.loans, len(rows), len(raised), red, amber, round(seconds, 3),
                      round(snapshot_seconds, 3), engine)


def _raise(day: dt.date, firing: dict[str, tuple[Indicator, str, str, str, float | None, Rag]],
           actor: Actor | None) -> list[Alert]:
    """New alerts for the conditions that hold and have no open alert (one per condition, ever open at once)."""
    if not firing:
        return []
    open_keys = set(Alert.objects.filter(key__in=list(firing), status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
                    .values_list("key", flat=True))
    branches = {b.code: b for b in Branch.objects.filter(code__in={m for (_i, _k, d, m, _v, _r) in firing.values()
                                                                    if d == "branch"})}
    now = timezone.now()
    new = []
    for key in sorted(set(firing) - open_keys):
        i, kind, dim, member, value, rag = firing[key]
        new.append(Alert(key=key, indicator=i, rule_kind=kind, dimension=dim, member=member,
                         branch=branches.get(member) if dim == "branch" else None, owner_role=i.owner_role,
                         status=AlertStatus.OPEN, raised_on=day, value=value, rag=rag.value, raised_at=now))
    Alert.objects.bulk_create(new)
    created = list(Alert.objects.filter(key__in=[a.key for a in new], status=AlertStatus.OPEN, raised_on=day)
                   .select_related("indicator", "branch").order_by("id"))
    ledger.append_many(actor, [ledger.EventSpec("risk.alert_raised", "alert", str(a.pk), {
        "indicator": a.indicator.code, "name_en": a.indicator.name_en, "name_zh": a.indicator.name_zh,
        "unit": a.indicator.unit, "rule": a.rule_kind, "dimension": a.dimension,
        "dimension_en": DIMENSIONS.get(a.dimension, (a.dimension, a.dimension))[0],
        "dimension_zh": DIMENSIONS.get(a.dimension, (a.dimension, a.dimension))[1], "member": a.member,
        "value": None if a.value is None else f"{a.value:.6f}", "rag": a.rag, "owner_role": a.owner_role,
        "branch": a.branch.code if a.branch else "", "as_of": day.isoformat()}) for a in created])
    return created
