"""Early warning (issue 17, item 2): every customer's signals and warning level after each close, the watch list.

The run for a date D (`run_signals`; after the indicators, from the close's after-close hooks, or `creditplan risk
signals --date D [--engine spark]`):

1. reads the kept snapshots — D's, and the ones a week ago, a month ago and at the previous month end (each the latest
   kept on or before that day, at most `REFERENCE_TOLERANCE_DAYS` before it; a missing one leaves its comparisons
   out, and the run says which) — and pairs each loan with itself then (risk.domain.snapshot.with_previous);
2. reads the customer-level inputs: the latest behaviour re-rating on or before D (risk.services.behaviour), the
   credit lines' use now (read and kept for the run a month later) and as kept a month ago, the inflows of the
   last complete month and the months before, the negative external records of the last 90 days, and the
   customers' groups (`register_group_source`; none until issue 19 adds groups);
3. runs the kernels (risk.domain.signals; locally or on Spark, risk.signals_engine): flags, weighted score, figures;
4. decides each customer's level with the published version of the warning-level table (a ruleset of the decision
   engine, decisions.services.rulesets): once per distinct (score, flags) combination — a few hundred at most;
5. stores, in one transaction: the run (SignalRun), a row per customer with a signal or a level above green
   (CustomerSignal), the watch list moved on by one date, and the ledger events.

The watch list (WatchEntry) moves forward once per date, on that date's first run, and only for a date after the
last one it moved for: a customer at orange or red enters it (or, on it, has their level and peak updated); a
customer on it whose level stays below orange for `WATCH_EXIT_DAYS` days in a row leaves it. Running a date again
(a recomputation, e.g. after a new table was published) rewrites that date's levels and signals, not the watch list.

Reading: `customer_warning` (the customer page), `watch_list` / `watch_entry` (the watch page), and for other
use cases the trusted `open_watch_entries` / `watch_changes` and `register_watch_listener` (review tasks, item 3:
docs/early-warning.md, "Interface for review tasks").
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from numpy.typing import NDArray

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, FieldProblem, ValidationError
from creditplan.decisions import services as decisions
from creditplan.decisions.domain.policy import Scale
from creditplan.decisions.domain.rulesets import Example, InputField, Ruleset
from creditplan.ledger import services as ledger
from creditplan.risk import signals_sql, sql, store
from creditplan.risk.domain import signals as sig
from creditplan.risk.domain.snapshot import add_months_ordinal, with_previous
from creditplan.risk.models import (
    CustomerSignal,
    ExternalRecord,
    Inflow,
    RerateRun,
    SignalRun,
    SignalWeight,
    Snapshot,
    WatchEntry,
    WatchStatus,
)

# what callers read and import through this module (kept apart to keep each module readable)
from creditplan.risk.services.external import (  # noqa: F401
    EXTERNAL_FIELDS,
    EXTERNAL_REQUIRED,
    INFLOW_FIELDS,
    INFLOW_REQUIRED,
    ExternalRecordView,
    ImportResult,
    import_external_records,
    import_inflows,
    list_external_records,
    read_csv,
    recent_external_records,
)
from creditplan.risk.services.watch import (  # noqa: F401
    CustomerWarning,
    SignalView,
    WatchChange,
    WatchChanges,
    WatchEntryView,
    customer_warning,
    latest_run,
    open_watch_entries,
    run_view,
    signal_views,
    watch_changes,
    watch_counts,
    watch_entry,
    watch_list,
)
from creditplan.risk.signals_engine import ENGINES, run_local, run_spark

log = logging.getLogger("creditplan.risk")

WARNING_RULESET = "ruleset:warning-level"
REFERENCE_TOLERANCE_DAYS = 7


def watch_exit_days() -> int:
    """Days in a row below orange after which a customer leaves the watch list (CREDITPLAN_WATCH_EXIT_DAYS,
    default 14)."""
    value = getattr(settings, "WATCH_EXIT_DAYS", None) or os.environ.get("CREDITPLAN_WATCH_EXIT_DAYS") or 14
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 14


# --- the warning-level ruleset -----------------------------------------------------------------------------------

def warning_ruleset() -> Ruleset:
    """The warning-level decision table as the decision engine knows it (registered from RiskConfig.ready())."""
    inputs = (InputField("score", "number", "Weighted score of the signals that fired", "已触发信号的加权得分"),
              *(InputField(s.code, "boolean", s.en, s.zh) for s in sig.SIGNALS))
    return Ruleset(
        key=WARNING_RULESET, name_en="Early-warning level", name_zh="预警等级",
        scale=Scale(sig.LEVELS, "yellow"), inputs=inputs, outcome_labels=sig.LEVEL_LABELS,
        default_document=sig.default_warning_table(),
        examples=tuple(Example(name, sig.example_facts(score, codes), level)
                       for name, score, codes, level in sig.DEFAULT_EXAMPLES),
        explain_en=("Each customer's warning level after the close: the table reads the weighted score of the "
                    "customer's early-warning signals and a flag per signal, and gives green, yellow, orange or red "
                    "(the first row that matches wins). Orange and red put the customer on the watch list."),
        explain_zh=("日终后每位客户的预警等级：本表读取客户预警信号的加权得分及各信号是否触发，给出绿色、黄色、橙色或"
                    "红色（按顺序取第一条匹配的规则）。橙色和红色的客户进入关注名单。"))


def install_warning_table(actor: Actor | None = None) -> int | None:
    """The default warning-level table as published version 1 (idempotent; see decisions.install_ruleset)."""
    return decisions.install_ruleset(WARNING_RULESET, actor)


def register() -> None:
    """From RiskConfig.ready(): the warning-level ruleset with the decision engine, and the daily run after the
    close — registered after the indicators' hook, so it runs after them (loans.cob.hooks keeps the order)."""
    from creditplan.loans import cob

    decisions.register_ruleset(warning_ruleset())
    cob.register_after_close(after_close)


def after_close(day: dt.date) -> None:
    """After the close of `day`, once the indicators ran (CREDITPLAN_RISK_AFTER_CLOSE=indicators, the default): the
    signals, levels and watch list. Never raises: a failure is recorded (`risk.run_failed`, step "signals") for
    `creditplan risk signals --date D` to redo. With "snapshot" the run is left to that command; with "off" there is
    no snapshot to run on."""
    import creditplan.risk.services.nightly as nightly

    if nightly.mode() != "indicators":
        return
    try:
        if nightly.sql.in_transaction():
            with transaction.atomic():
                run_signals(day)
        else:
            run_signals(day)
    except Exception as exc:  # noqa: BLE001 - recorded; the close is done
        nightly.record_failure(day, "signals", exc)


# --- weights -----------------------------------------------------------------------------------------------------

def weights() -> dict[str, int]:
    """Every signal's weight: the risk managers' where set, the default otherwise."""
    stored = dict(SignalWeight.objects.values_list("code", "weight"))
    return {code: int(stored.get(code, default)) for code, default in sig.DEFAULT_WEIGHTS.items()}


@transaction.atomic
def set_weights(actor: Actor, values: Mapping[str, Any]) -> dict[str, int]:
    """Change signal weights (risk managers). Every value is checked first (a whole number 0–1000, naming the
    signal's field); nothing is stored when one is wrong. The next run uses them."""
    require(actor, Perm.RISK_MANAGE)
    problems: list[FieldProblem] = []
    clean: dict[str, int] = {}
    for code, raw in values.items():
        if code not in sig.BY_CODE:
            problems.append(FieldProblem(f"weight_{code}", f"{code!r} is not an early-warning signal", "unknown_signal"))
            continue
        text = str(raw).strip()
        if not text.isdigit() or int(text) > sig.MAX_WEIGHT:
            problems.append(FieldProblem(f"weight_{code}", f"the weight of {code} must be a whole number from 0 to "
                                         f"{sig.MAX_WEIGHT}", "invalid_weight"))
            continue
        clean[code] = int(text)
    if problems:
        raise ValidationError.collect(problems)
    before = weights()
    for code, weight in clean.items():
        SignalWeight.objects.update_or_create(code=code, defaults={"weight": weight,
                                                                   "updated_by": actor if getattr(actor, "pk", None)
                                                                   else None})
    after = weights()
    ledger.append(actor, "risk.signal_weights_set", "risk", "signal_weights",
                  {"before": before, "after": after})
    return after


# --- reference inputs --------------------------------------------------------------------------------------------

def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _months_before(day: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def month_before(day: dt.date) -> dt.date:
    """The same day a calendar month earlier (capped at that month's end)."""
    return dt.date.fromordinal(int(add_months_ordinal(np.array([day.toordinal()], dtype=np.int64), -1)[0]))


def _near_snapshot(target: dt.date, *, after: dt.date | None = None) -> Snapshot | None:
    lower = after if after is not None else target - dt.timedelta(days=REFERENCE_TOLERANCE_DAYS)
    return Snapshot.objects.filter(as_of__lte=target, as_of__gt=lower).order_by("-as_of").first()


@dataclass(frozen=True)
class ReferenceDates:
    week: dt.date | None
    month: dt.date | None
    month_end: dt.date | None


def reference_snapshots(day: dt.date) -> tuple[Snapshot | None, Snapshot | None, Snapshot | None]:
    """The snapshots a week ago, a month ago and at the previous month end (each None when not kept)."""
    week = _near_snapshot(day - dt.timedelta(days=7))
    month = _near_snapshot(month_before(day))
    previous_end = day.replace(day=1) - dt.timedelta(days=1)
    month_end = _near_snapshot(previous_end, after=previous_end.replace(day=1) - dt.timedelta(days=1))
    return week, month, month_end


_LOAN_NOW = ["loan", "customer", "dpd", "worst_dpd", "risk_class", "closed", "written_off"]
_LOAN_THEN = ["loan", "dpd", "worst_dpd", "risk_class", "closed", "written_off"]


def _read_loans(snap: Snapshot, columns: list[str]) -> dict[str, NDArray[Any]]:
    return store.read(snap.as_of, snap.sha256, columns={"loans": columns, "applications": [], "quotas": []})["loans"]


def _paired(current: dict[str, NDArray[Any]], earlier: Snapshot | None) -> dict[str, NDArray[np.int64]]:
    """The same loans at an earlier snapshot: on the book then (`on`: present, not repaid, not written off), not
    repaid then (`open`), and its dpd, worst dpd and class then (0 where absent)."""
    n = int(np.asarray(current["loan"]).size)
    if earlier is None:
        zero = np.zeros(n, dtype=np.int64)
        return {"on": zero, "dpd": zero, "worst": zero, "class": zero, "open": zero}
    then = _read_loans(earlier, _LOAN_THEN)
    paired = with_previous({"loan": current["loan"]}, then, fields=("dpd", "worst_dpd", "risk_class", "closed",
                                                                     "written_off"))
    on = (paired["has_prev"] == 1) & (paired["prev_closed"] == 0) & (paired["prev_written_off"] == 0)
    return {"on": on.astype(np.int64), "dpd": paired["prev_dpd"], "worst": paired["prev_worst_dpd"],
            "class": np.where(paired["has_prev"] == 1, paired["prev_risk_class"], 0).astype(np.int64),
            "open": ((paired["has_prev"] == 1) & (paired["prev_closed"] == 0)).astype(np.int64)}


# --- groups (issue 19) -------------------------------------------------------------------------------------------

GroupSource = Callable[[], Mapping[int, str]]
_group_sources: list[GroupSource] = []
_group_lock = threading.Lock()


def register_group_source(fn: GroupSource) -> None:
    """Customer groups (issue 19) register here how to read them: `fn()` → {customer id: group reference}. Until a
    source is registered every customer is in no group and the group signal cannot fire."""
    with _group_lock:
        key = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
        _group_sources[:] = [g for g in _group_sources
                             if f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', repr(g))}" != key] + [fn]


def _groups() -> dict[int, str]:
    out: dict[int, str] = {}
    for fn in list(_group_sources):
        out.update({int(k): str(v) for k, v in fn().items() if str(v or "").strip()})
    return out


def _group_column(customers: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
    """Each loan's group as a number (0: none), and how many groups there are."""
    groups = _groups()
    if not groups:
        return np.zeros(customers.size, dtype=np.int64), 0
    names = sorted(set(groups.values()))
    number = {name: i + 1 for i, name in enumerate(names)}
    keys = np.array(sorted(groups), dtype=np.int64)
    values = np.array([number[groups[int(k)]] for k in keys], dtype=np.int64)
    pos = np.clip(np.searchsorted(keys, customers), 0, keys.size - 1)
    return np.where(keys[pos] == customers, values[pos], 0).astype(np.int64), len(names)


# --- line use kept for a month later -----------------------------------------------------------------------------

def _inputs_folder() -> Path:
    return store.root().parent / "signals"


def _keep_line_use(day: dt.date, line_use: dict[str, NDArray[Any]]) -> str:
    """Write the line use read for `day` (atomically) and return its SHA-256."""
    folder = _inputs_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{day.isoformat()}.parquet"
    tmp = folder / f".{day.isoformat()}.{os.getpid()}.parquet"
    table = pa.table({name: pa.array(np.asarray(line_use[name], dtype=np.int64)) for name in
                      signals_sql.LINE_USE_COLUMNS})
    pq.write_table(table, tmp, compression="zstd")
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(target)
    return digest


def _kept_line_use(day: dt.date) -> tuple[dt.date | None, dict[str, NDArray[Any]] | None]:
    """The line use kept by the run of a month before `day` (None when no such run kept it)."""
    target = month_before(day)
    run = (SignalRun.objects.filter(as_of__lte=target, as_of__gt=target - dt.timedelta(days=REFERENCE_TOLERANCE_DAYS))
           .exclude(inputs_sha256="").order_by("-as_of").first())
    if run is None:
        return None, None
    path = _inputs_folder() / f"{run.as_of.isoformat()}.parquet"
    if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != run.inputs_sha256:
        raise Conflict(f"the credit line use kept on {run.as_of} is missing or has changed since it was written",
                       code="signal_inputs_changed")
    table = pq.read_table(path)
    return run.as_of, {name: np.asarray(table.column(name).to_numpy(), dtype=np.int64) for name in table.column_names}


# --- the customer-level inputs -----------------------------------------------------------------------------------

@dataclass
class CustomerInputs:
    columns: dict[str, NDArray[np.int64]]
    refs: dict[str, str]  # input → the date or month compared with (ISO text)
    grades: tuple[str, ...] = ()
    sources: dict[int, str] = field(default_factory=dict)  # customer → source of their latest external record
    line_use: dict[str, NDArray[Any]] = field(default_factory=dict)  # read today, kept for a month later
    absent: list[str] = field(default_factory=list)


def _table(customers: NDArray[np.int64], values: Mapping[str, NDArray[np.int64]], default: Mapping[str, int]
           ) -> dict[str, NDArray[np.int64]]:
    return sig.align(customers, {"customer": customers, **values}, "customer", default)


def customer_inputs(day: dt.date, params: sig.Parameters = sig.DEFAULT_PARAMETERS) -> CustomerInputs:
    """Behaviour grades, line use now and a month ago, inflows, external records — one row per customer that has
    any (customer ascending), with the defaults of risk.domain.signals.CUSTOMER_INPUT_DEFAULTS elsewhere."""
    parts: list[tuple[NDArray[np.int64], dict[str, NDArray[np.int64]]]] = []
    refs: dict[str, str] = {}
    absent: list[str] = []
    out = CustomerInputs({}, refs)

    from creditplan.risk.services.behaviour import behaviour_scores, latest_month

    month = latest_month(day)
    if month is None:
        absent.append("behaviour_worse")
    else:
        scores = behaviour_scores(month)
        refs["behaviour_month"] = f"{month:%Y-%m}"
        run = RerateRun.objects.filter(month=month).values_list("grades", flat=True).first()
        out.grades = tuple(str(g) for g in (run or []))
        parts.append((np.asarray(scores["customer_id"], dtype=np.int64),
                      {"bh_grade": np.asarray(scores["grade_index"], dtype=np.int64),
                       "bh_prev": np.asarray(scores["previous_index"], dtype=np.int64)}))

    line_use = signals_sql.read_line_use()
    out.line_use = line_use
    parts.append((np.asarray(line_use["customer"], dtype=np.int64),
                  {"line_amount": np.asarray(line_use["line_amount"], dtype=np.int64),
                   "line_used": np.asarray(line_use["line_used"], dtype=np.int64)}))
    kept_on, kept = _kept_line_use(day)
    if kept is None:
        absent.append("utilisation_jump")
    else:
        refs["line_month"] = kept_on.isoformat() if kept_on else ""
        parts.append((kept["customer"], {"line_amount_month": kept["line_amount"],
                                         "line_used_month": kept["line_used"]}))

    last = _months_before(day, 1)
    first = _months_before(day, 1 + params.inflow_baseline_months)
    refs["inflow_month"] = f"{last:%Y-%m}"
    rows = list(Inflow.objects.filter(month__gte=first, month__lte=last).values("customer_id", "month")
                .annotate(total=Sum("amount_minor")).order_by("customer_id", "month"))
    if rows:
        inflow_ids = sorted({int(r["customer_id"]) for r in rows})
        index = {c: i for i, c in enumerate(inflow_ids)}
        inflow_last = np.full(len(inflow_ids), -1, dtype=np.int64)
        base_sum = np.zeros(len(inflow_ids), dtype=np.int64)
        base_n = np.zeros(len(inflow_ids), dtype=np.int64)
        for r in rows:
            i = index[r["customer_id"]]
            if r["month"] == last:
                inflow_last[i] = int(r["total"])
            else:
                base_sum[i] += int(r["total"])
                base_n[i] += 1
        parts.append((np.array(inflow_ids, dtype=np.int64),
                      {"inflow_last": inflow_last, "inflow_base_sum": base_sum, "inflow_base_n": base_n}))
    else:
        absent.append("inflow_fall")

    since = day - dt.timedelta(days=params.external_days)
    # dated within the window; a recomputation of a past date sees the records imported since (they describe
    # what was true then)
    records = list(ExternalRecord.objects.filter(record_date__gt=since, record_date__lte=day)
                   .order_by("customer_id", "-record_date", "-id").values_list("customer_id", "record_date", "kind",
                                                                               "source"))
    if records:
        ids: list[int] = []
        counts: list[int] = []
        days: list[int] = []
        kinds: list[int] = []
        for customer_id, record_date, kind, source in records:
            if ids and ids[-1] == customer_id:
                counts[-1] += 1
                continue
            ids.append(customer_id)
            counts.append(1)
            days.append(record_date.toordinal())
            kinds.append(sig.EXTERNAL_KIND_CODES.index(kind) + 1 if kind in sig.EXTERNAL_KIND_CODES else
                         len(sig.EXTERNAL_KIND_CODES))
            out.sources[int(customer_id)] = source
        parts.append((np.array(ids, dtype=np.int64),
                      {"ext_count": np.array(counts, dtype=np.int64), "ext_day": np.array(days, dtype=np.int64),
                       "ext_kind": np.array(kinds, dtype=np.int64)}))

    keys = np.unique(np.concatenate([p[0] for p in parts])) if parts else np.zeros(0, dtype=np.int64)
    columns: dict[str, NDArray[np.int64]] = {"customer": keys.astype(np.int64)}
    for customers, values in parts:
        defaults = {name: sig.CUSTOMER_INPUT_DEFAULTS[name] for name in values}
        columns.update(_table(keys, {"customer": customers, **values}, defaults))
    for name, default in sig.CUSTOMER_INPUT_DEFAULTS.items():
        columns.setdefault(name, np.full(keys.size, default, dtype=np.int64))
    out.columns = columns
    out.absent = absent
    return out


# --- the run -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignalSummary:
    as_of: dt.date
    engine: str
    loans: int
    customers: int
    levels: dict[str, int]
    signals: dict[str, int]
    absent: list[str]
    combinations: int
    stored: int
    watch_updated: bool
    entered: int
    left: int
    policy_number: int
    seconds: float
    phases: dict[str, float]


WatchListener = Callable[[WatchChanges], None]
_listeners: list[WatchListener] = []


def register_watch_listener(fn: WatchListener) -> None:
    """`fn(changes)` after each run that moved the watch list (committed; outside its transaction). A failure is
    logged and recorded (`risk.run_failed`, step "watch listener"); the run stays done. Item 3 (review tasks)
    registers here from its AppConfig.ready()."""
    key = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
    _listeners[:] = [g for g in _listeners
                     if f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', repr(g))}" != key] + [fn]


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("the date is written YYYY-MM-DD", field="date", code="date_format") from None


def compute(day: dt.date, *, engine: str = "local", session: Any = None,
            params: sig.Parameters = sig.DEFAULT_PARAMETERS) -> tuple[dict[str, NDArray[np.int64]], CustomerInputs,
                                                                 dict[str, str], int, dict[str, float]]:
    """Every customer's kernel row for `day` (customer ascending), the inputs, the reference dates and the loans."""
    from creditplan.risk.services.run import take_snapshot

    phases: dict[str, float] = {}
    t = time.perf_counter()
    snap = take_snapshot(day)
    now = _read_loans(snap, _LOAN_NOW)
    week, month, month_end = reference_snapshots(day)
    paired_week, paired_month, paired_end = _paired(now, week), _paired(now, month), _paired(now, month_end)
    customer = np.asarray(now["customer"]).astype(np.int64)
    group, _n_groups = _group_column(customer)
    loans = {
        "loan": np.asarray(now["loan"], dtype=np.int64), "customer": customer, "group": group,
        "dpd": np.asarray(now["dpd"], dtype=np.int64), "risk_class": np.asarray(now["risk_class"], dtype=np.int64),
        "closed": np.asarray(now["closed"], dtype=np.int64),
        "written_off": np.asarray(now["written_off"], dtype=np.int64),
        "week_dpd": paired_week["dpd"], "week_on": paired_week["on"], "month_dpd": paired_month["dpd"],
        "month_on": paired_month["on"], "month_worst": paired_month["worst"], "me_class": paired_end["class"],
        "me_on": paired_end["open"]}
    phases["snapshots_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    inputs = customer_inputs(day, params)
    phases["inputs_s"] = round(time.perf_counter() - t, 3)
    refs = sig.References(week=week is not None, month=month is not None, month_end=month_end is not None)
    ref_dates = {"week": week.as_of.isoformat() if week else "", "month": month.as_of.isoformat() if month else "",
                 "month_end": month_end.as_of.isoformat() if month_end else "", **inputs.refs}
    t = time.perf_counter()
    w = weights()
    if engine == "spark":
        rows = run_spark(loans, inputs.columns, w, refs, params, session=session)
    else:
        rows = run_local(loans, inputs.columns, w, refs, params)
    phases["kernels_s"] = round(time.perf_counter() - t, 3)
    return rows, inputs, ref_dates, int(loans["loan"].size), phases


def run_signals(as_of: Any, *, actor: Actor | None = None, engine: str = "local", session: Any = None,
                progress: Callable[[str], None] | None = None) -> SignalSummary:
    """Compute every customer's signals and level for `as_of` (after its close), store them and move the watch list
    (see the module's description). Running a date again recomputes its levels and signals."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    day = _date(as_of)
    if engine not in ENGINES:
        raise ValidationError("the engine is local or spark", field="engine", code="unknown_engine")
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    install_warning_table()
    say("signals")
    rows, inputs, ref_dates, n_loans, phases = compute(day, engine=engine, session=session)
    say("levels")
    t = time.perf_counter()
    levels, rules, decision, combinations = decide_levels(rows["mask"], rows["score"])
    phases["levels_s"] = round(time.perf_counter() - t, 3)
    absent = set(inputs.absent)
    if not ref_dates.get("month"):
        absent.add("first_missed_payment")
    if not ref_dates.get("month_end"):
        absent.add("class_downgrade")
    if not (ref_dates.get("week") or ref_dates.get("month")):
        absent.add("dpd_rising")
    if not _group_sources:
        absent.add("group_member_bad")
    say("storing")
    t = time.perf_counter()
    summary = _store(day, rows, levels, rules, decision, combinations, inputs, ref_dates, n_loans,
                     [c for c in sig.CODES if c in absent], engine, actor, started, phases)
    for fn in list(_listeners) if summary.watch_updated else []:
        try:
            fn(watch_changes(day))
        except Exception as exc:  # noqa: BLE001 - the run is done and committed; the listener's failure is its own
            from creditplan.risk.services.nightly import record_failure

            record_failure(day, "watch listener", exc)
    log.info("signals %s: %s customers, %s (%.1f s, store %.1f s)", day, summary.customers, summary.levels,
             summary.seconds, time.perf_counter() - t)
    return summary


def decide_levels(mask: NDArray[np.int64], score: NDArray[np.int64]
                  ) -> tuple[NDArray[Any], NDArray[Any], decisions.RulesetDecision | None, int]:
    """Each customer's level and deciding rule, evaluating the published table once per distinct (score, flags)."""
    if mask.size == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object), None, 0
    combined = (score.astype(np.int64) << 16) | mask.astype(np.int64)
    distinct, inverse = np.unique(combined, return_inverse=True)
    facts = [sig.facts_of(int(c) & 0xFFFF, int(c) >> 16) for c in distinct]
    decision = decisions.evaluate_ruleset(WARNING_RULESET, facts)
    level_of = np.array([a.outcome for a in decision.answers], dtype=object)
    rule_of = np.array([a.reason[:60] for a in decision.answers], dtype=object)
    return level_of[inverse.reshape(-1)], rule_of[inverse.reshape(-1)], decision, int(distinct.size)


def _signal_json(row: Mapping[str, int], mask: int, w: Mapping[str, int], refs: Mapping[str, str],
                 inputs: CustomerInputs) -> list[dict[str, Any]]:
    out = []
    for code in sig.codes_of(mask):
        external = {"source": inputs.sources.get(int(row["customer"]), "")} if code == "external_negative" else None
        out.append({"code": code, "weight": int(w.get(code, 0)),
                    "figures": sig.figures_of(code, row, refs, grades=inputs.grades, external=external)})
    return out


@transaction.atomic
def _store(day: dt.date, rows: dict[str, NDArray[np.int64]], levels: NDArray[Any], rules: NDArray[Any],
           decision: decisions.RulesetDecision | None, combinations: int, inputs: CustomerInputs,
           refs: dict[str, str], n_loans: int, absent: list[str], engine: str, actor: Actor | None, started: float,
           phases: dict[str, float]) -> SignalSummary:
    t = time.perf_counter()
    w = weights()
    customers = rows["customer"]
    n = int(customers.size)
    level_text = levels.astype(str) if n else np.zeros(0, dtype=str)
    counts = {lv: int(np.count_nonzero(level_text == lv)) for lv in sig.LEVELS}
    fired = {code: int(np.count_nonzero(rows[f"f_{code}"])) for code in sig.CODES}
    keep = np.flatnonzero((rows["mask"] != 0) | (level_text != "green")) if n else np.zeros(0, dtype=np.int64)
    branches = signals_sql.read_customer_branches()
    at = sig.align(customers, {"customer": np.asarray(branches["customer"], dtype=np.int64),
                               "row": np.arange(np.asarray(branches["customer"]).size, dtype=np.int64)},
                   "customer", {"row": -1})["row"]
    branch_code = np.asarray(branches["branch"], dtype=object)
    branch_id = np.asarray(branches["branch_id"], dtype=np.int64)
    names = ("customer", *sig.FIGURES)
    figures = [rows[name][keep].tolist() for name in names]  # plain ints: no numpy scalar per figure
    masks = rows["mask"][keep].tolist()
    payload: list[str] = []
    signal_lists: dict[int, list[dict[str, Any]]] = {}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for k, i in enumerate(keep.tolist()):
        row = dict(zip(names, (column[k] for column in figures), strict=True))
        items = _signal_json(row, masks[k], w, refs, inputs)
        signal_lists[i] = items
        payload.append(dumps(items))
    phases["explain_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    recomputed = SignalRun.objects.filter(as_of=day).first()
    sql.delete_rows(CustomerSignal, "as_of", day)
    kept = keep.astype(np.int64)
    stored = sql.insert_columns(CustomerSignal, {
        "as_of": np.full(kept.size, day.isoformat(), dtype=object),
        "customer_id": customers[kept],
        "branch": np.array([branch_code[at[i]] if at[i] >= 0 else "" for i in kept.tolist()], dtype=object),
        "level": level_text[kept].astype(object) if kept.size else np.zeros(0, dtype=object),
        "score": rows["score"][kept], "mask": rows["mask"][kept],
        "signals": np.array(payload, dtype=object), "rule": rules[kept].astype(object) if kept.size else
        np.zeros(0, dtype=object)}) if kept.size else 0
    phases["history_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    last_moved = (SignalRun.objects.filter(watch_updated=True).order_by("-as_of").values_list("as_of", flat=True)
                  .first())
    move_watch = recomputed is None and (last_moved is None or day > last_moved)
    changes: list[WatchChange] = []
    if move_watch:
        changes = _move_watch(day, customers, level_text, rows["score"], rules, decision, signal_lists, branch_id, at)
    phases["watch_s"] = round(time.perf_counter() - t, 3)
    line_sha = _keep_line_use(day, inputs.line_use) if inputs.line_use else ""
    seconds = time.perf_counter() - started
    values = {"engine": engine, "loans": n_loans, "customers": n, "levels": counts, "signals": fired, "weights": w,
              "references": {k: (v or None) for k, v in refs.items()}, "absent": absent,
              "policy_version_id": decision.version_id if decision else None,
              "policy_number": decision.number if decision else 0,
              "policy_sha256": decision.sha256 if decision else "", "combinations": combinations,
              "inputs_sha256": line_sha, "seconds": round(seconds, 3), "computed_at": timezone.now()}
    if recomputed is None:
        SignalRun.objects.create(as_of=day, watch_updated=move_watch,
                                 entered=sum(c.kind == "entered" for c in changes),
                                 left=sum(c.kind == "left" for c in changes), **values)
    else:
        for name, value in values.items():
            setattr(recomputed, name, value)
        recomputed.recomputed += 1
        recomputed.save()
    if changes:
        ledger.append_many(actor, [ledger.EventSpec(f"risk.watch_{c.kind}", "watch_entry", str(c.entry_id), {
            "customer": c.customer_id, "level": c.level, "as_of": day.isoformat()}) for c in changes])
    ledger.append(actor, "risk.signals_computed", "risk", day.isoformat(), {
        "customers": n, "loans": n_loans, "levels": counts, "signals": fired, "weights": w, "absent": absent,
        "policy_version": decision.version_id if decision else None, "policy_sha256": decision.sha256 if decision
        else "", "engine": engine, "recompute": recomputed is not None, "watch_moved": move_watch,
        "entered": sum(c.kind == "entered" for c in changes), "left": sum(c.kind == "left" for c in changes)})
    return SignalSummary(day, engine, n_loans, n, counts, fired, absent, combinations, stored, move_watch,
                         sum(c.kind == "entered" for c in changes), sum(c.kind == "left" for c in changes),
                         decision.number if decision else 0, round(seconds, 3), phases)


_RANK = sig.LEVEL_RANK


def _move_watch(day: dt.date, customers: NDArray[np.int64], levels: NDArray[Any], scores: NDArray[np.int64],
                rules: NDArray[Any], decision: decisions.RulesetDecision | None,
                signal_lists: Mapping[int, list[dict[str, Any]]], branch_id: NDArray[np.int64],
                at: NDArray[np.int64]) -> list[WatchChange]:
    """The watch list moved on to `day`: entries, escalations, level updates and exits (bulk statements)."""
    exit_days = watch_exit_days()
    position = {int(c): i for i, c in enumerate(customers.tolist())}
    hot = np.flatnonzero(np.isin(levels, list(sig.WATCH_LEVELS))) if customers.size else np.zeros(0, np.int64)
    open_entries = {e.customer_id: e for e in WatchEntry.objects.filter(status=WatchStatus.OPEN)}
    answers = {a.reason: a for a in (decision.answers if decision else [])}
    changes: list[tuple[WatchEntry, str]] = []
    updated: list[WatchEntry] = []
    new: list[WatchEntry] = []
    for i in hot.tolist():
        customer = int(customers[i])
        level = str(levels[i])
        entry = open_entries.pop(customer, None)
        if entry is None:
            if at[i] < 0:
                continue  # not a customer of this database (cannot happen with a consistent book)
            answer = answers.get(str(rules[i]))
            new.append(WatchEntry(
                customer_id=customer, branch_id=int(branch_id[at[i]]), status=WatchStatus.OPEN, entered_on=day,
                entry_level=level, level=level, peak_level=level, updated_on=day,
                reason={"score": int(scores[i]), "rule": str(rules[i]),
                        "message_en": answer.message_en if answer else "",
                        "message_zh": answer.message_zh if answer else "", "signals": signal_lists.get(i, [])}))
            continue
        if entry.level != level or entry.below_since is not None:
            escalated = _RANK[level] > _RANK.get(entry.peak_level, 0)
            entry.level, entry.below_since, entry.updated_on = level, None, day
            if escalated:
                entry.peak_level, entry.escalated_on = level, day
                changes.append((entry, "escalated"))
            updated.append(entry)
    closed: list[WatchEntry] = []
    for customer, entry in open_entries.items():  # on the list, below orange today (or no longer on the book)
        i = position.get(customer, -1)
        level = str(levels[i]) if i >= 0 else "green"
        below_since = entry.below_since or day
        if (day - below_since).days + 1 >= exit_days:
            entry.status, entry.left_on = WatchStatus.CLOSED, day
            closed.append(entry)
        if entry.level != level or entry.below_since != below_since or entry.status == WatchStatus.CLOSED:
            entry.level, entry.below_since, entry.updated_on = level, below_since, day
            updated.append(entry)
    if updated:
        WatchEntry.objects.bulk_update(updated, ["level", "peak_level", "below_since", "updated_on", "escalated_on",
                                                 "status", "left_on"], batch_size=500)
    if new:
        WatchEntry.objects.bulk_create(new, batch_size=2000)
        created = dict(WatchEntry.objects.filter(status=WatchStatus.OPEN, entered_on=day)
                       .values_list("customer_id", "id"))
        for e in new:
            e.pk = created.get(e.customer_id)
    out = [WatchChange(int(e.pk), int(e.customer_id), "entered", e.level, day) for e in new]
    out += [WatchChange(int(e.pk), int(e.customer_id), kind, e.level, day) for e, kind in changes]
    out += [WatchChange(int(e.pk), int(e.customer_id), "left", e.level, day) for e in closed]
    return out
