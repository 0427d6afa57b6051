"""Model monitoring in production, weekly: for every scoring-model version that is champion or challenger (or made
decisions in the week), gather the week's decisions, the loans decisions became and their outcomes from the kept
snapshots of the book, compute the figures (risk.domain.monitoring) and store them, one row per version and week.

    creditplan risk monitor-models [--week YYYY-MM-DD]     every Monday, for the week before (docs/model-monitoring.md)

Where each figure comes from:
- a decision (decisions.models.Decision) stores the score, PD and grade the model gave and the inputs exactly as
  the scorer read them; the same compiled artifact bins those inputs by the rule training used for the
  development counts (scoring.domain.reference), so CSI compares like with like;
- approved: the application reached an approved status (automatically or by a reviewer); a decision made
  without an application (the API's decide) counts as approved when its outcome was approve;
- outcomes: a loan (loans.models.Loan, by its application's reference) is bad when its worst days past due
  reached BAD_DPD within OUTCOME_MONTHS months: read from the kept snapshot of the day its cohort's window closes
  (risk.domain.monitoring.window_end) — the first kept after it where that day's was not kept — or the latest one
  before it while the cohort is maturing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import NotFound, ValidationError
from creditplan.decisions.models import Decision
from creditplan.ledger import services as ledger
from creditplan.loans.models import Loan
from creditplan.origination.models import Application
from creditplan.risk import store
from creditplan.risk.domain import monitoring as mon
from creditplan.risk.domain.facts import APPROVED_STATUSES
from creditplan.risk.models import ModelMonitor, Snapshot
from creditplan.scoring import engine as scoring_engine
from creditplan.scoring.domain import reference as refs
from creditplan.scoring.domain.lifecycle import ModelStatus
from creditplan.scoring.models import ModelVersion, ScoringModel

_CHUNK = 5000


def _setting(name: str, default: int) -> int:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(f"CREDITPLAN_{name}")
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def monitor_settings() -> mon.Settings:
    """MODEL_MONITOR_MIN_SAMPLE (500), BAD_DPD (90), OUTCOME_MONTHS (12): Django settings, else the environment's
    CREDITPLAN_<NAME>."""
    return mon.Settings(min_sample=max(1, _setting("MODEL_MONITOR_MIN_SAMPLE", 500)),
                        bad_dpd=max(1, _setting("BAD_DPD", 90)), outcome_months=max(1, _setting("OUTCOME_MONTHS", 12)))


# --- weeks --------------------------------------------------------------------------------------------------

def week_start(day: dt.date) -> dt.date:
    """The Monday of the week `day` falls in."""
    return day - dt.timedelta(days=day.weekday())


def last_complete_week(today: dt.date | None = None) -> dt.date:
    """The Monday of the last whole week before today."""
    return week_start(today or timezone.localdate()) - dt.timedelta(days=7)


def parse_week(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return week_start(value.date())
    if isinstance(value, dt.date):
        return week_start(value)
    try:
        return week_start(dt.date.fromisoformat(str(value).strip()))
    except ValueError:
        raise ValidationError("the week is a date written YYYY-MM-DD (any day of the week)", field="week",
                              code="date_format") from None


def _bounds(monday: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=tz)
    return start, start + dt.timedelta(days=7)


# --- what is monitored ----------------------------------------------------------------------------------------

def _role(version: ModelVersion, challengers: set[int]) -> str:
    if version.pk in challengers:
        return "challenger"
    if version.status == ModelStatus.CHAMPION:
        return "champion"
    return "other"


def _versions(start: dt.datetime, end: dt.datetime) -> tuple[list[ModelVersion], set[int]]:
    challengers = set(ScoringModel.objects.exclude(challenger=None).values_list("challenger_id", flat=True))
    used = set(Decision.objects.filter(created_at__gte=start, created_at__lt=end).exclude(model_version_id=None)
               .values_list("model_version_id", flat=True).distinct())
    ids = used | challengers | set(ModelVersion.objects.filter(status=ModelStatus.CHAMPION)
                                   .values_list("pk", flat=True))
    versions = list(ModelVersion.objects.select_related("model").filter(pk__in=ids).order_by("model__name", "number"))
    return versions, challengers


_compiled_cache: dict[int, tuple[str, Any]] = {}


def _compiled(version: ModelVersion) -> Any:
    sha, model = _compiled_cache.get(version.pk, ("", None))
    if model is None or sha != version.artifact_sha256:
        model = scoring_engine.compile_artifact(json.loads(version.artifact))
        _compiled_cache[version.pk] = (version.artifact_sha256, model)
    return model


# --- outcomes from the kept snapshots ---------------------------------------------------------------------------

class _Snapshots:
    """The kept snapshots of the book, read once each: (loan id → worst days past due) per date."""

    def __init__(self, until: dt.date) -> None:
        self.until = until
        self.dates = list(Snapshot.objects.filter(as_of__lte=until).order_by("as_of").values_list("as_of", "sha256"))
        self._read: dict[dt.date, dict[int, int]] = {}

    def latest(self, on_or_before: dt.date) -> tuple[dt.date, str] | None:
        found = None
        for as_of, sha in self.dates:
            if as_of <= on_or_before:
                found = (as_of, sha)
        return found

    def outcome(self, closes: dt.date) -> tuple[dt.date, str] | None:
        """The snapshot a cohort's outcomes are read from: the one on the day its window closes, else the last one
        before (the cohort is still maturing) — unless one was kept after it: then the first after it."""
        before = self.latest(min(closes, self.until))
        if before is not None and before[0] >= closes:
            return before
        after = next(((d, sha) for d, sha in self.dates if closes <= d <= self.until), None)
        return after or before

    def worst_dpd(self, as_of: dt.date, sha256: str) -> dict[int, int]:
        if as_of not in self._read:
            loans = store.read(as_of, sha256)["loans"]
            ids = np.asarray(loans["loan"], dtype=np.int64).tolist()
            worst = np.asarray(loans["worst_dpd"], dtype=np.int64).tolist()
            self._read[as_of] = dict(zip(ids, worst, strict=True))
        return self._read[as_of]


@dataclass
class _Book:
    """The version's decisions that became loans, by origination cohort."""

    cohorts: dict[str, list[tuple[int, float, str]]] = field(default_factory=lambda: defaultdict(list))


def _loans_of(version: ModelVersion, end: dt.datetime) -> _Book:
    latest: dict[str, tuple[float, str]] = {}
    rows = (Decision.objects.filter(model_version_id=version.pk, created_at__lt=end).exclude(pd=None)
            .order_by("created_at", "id").values_list("application_ref", "pd", "grade"))
    for ref, pd, grade in rows.iterator(chunk_size=_CHUNK):
        latest[ref] = (float(pd), grade or "")
    book = _Book()
    refs_list = list(latest)
    for k in range(0, len(refs_list), _CHUNK):
        chunk = refs_list[k:k + _CHUNK]
        for ref, loan_id, start in Loan.objects.filter(application_ref__in=chunk).values_list(
                "application_ref", "id", "start_date"):
            pd, grade = latest[ref]
            book.cohorts[mon.month_of(start)].append((int(loan_id), pd, grade))
    return book


def _performance(version: ModelVersion, compiled: Any, end: dt.datetime, snapshots: _Snapshots,
                 conf: mon.Settings) -> tuple[list[dict[str, Any]], dict[str, Any], dt.date | None]:
    book = _loans_of(version, end)
    development = mon.development_gini(version.metrics if isinstance(version.metrics, dict) else {})
    cohorts: list[dict[str, Any]] = []
    pooled_y: list[int] = []
    pooled_pd: list[float] = []
    pooled_grade: list[str] = []
    used_as_of: dt.date | None = None
    for cohort in sorted(book.cohorts):
        loans = book.cohorts[cohort]
        closes = mon.window_end(cohort, conf.outcome_months)
        snap = snapshots.outcome(closes)
        if snap is None:
            cohorts.append(mon.cohort_performance(cohort, [], [], matured=False, matures_on=closes,
                                                  development_gini=development, settings=conf, loans=len(loans)))
            continue
        worst = snapshots.worst_dpd(*snap)
        used_as_of = max(used_as_of or snap[0], snap[0])
        matured = snap[0] >= closes
        present = [(worst[i], pd, g) for i, pd, g in loans if i in worst]
        y = [1 if w >= conf.bad_dpd else 0 for w, _pd, _g in present]
        pds = [pd for _w, pd, _g in present]
        row = mon.cohort_performance(cohort, y, pds, matured=matured, matures_on=closes,
                                     development_gini=development, settings=conf, loans=len(loans))
        row["as_of"] = snap[0].isoformat()
        cohorts.append(row)
        if matured:
            pooled_y += y
            pooled_pd += pds
            pooled_grade += [g for _w, _pd, g in present]
    order = [str(g) for g in compiled.grades.tolist()]
    calibration = mon.calibration(pooled_y, pooled_pd, pooled_grade, order, conf.min_sample)
    calibration["development_gini"] = development
    return cohorts, calibration, used_as_of


# --- the week's applications -------------------------------------------------------------------------------------

def _week_decisions(version: ModelVersion, start: dt.datetime, end: dt.datetime
                    ) -> tuple[list[float], list[str], list[bool], list[dict[str, Any]]]:
    rows = list(Decision.objects.filter(model_version_id=version.pk, created_at__gte=start, created_at__lt=end)
                .order_by("id").values_list("id", "score", "grade", "outcome", "inputs"))
    status: dict[int, str] = {}
    ids = [r[0] for r in rows]
    for k in range(0, len(ids), _CHUNK):
        status.update(Application.objects.filter(decision_id__in=ids[k:k + _CHUNK])
                      .values_list("decision_id", "status"))
    scores = [float(s) for _i, s, _g, _o, _in in rows if s is not None]
    grades = [g or "" for _i, _s, g, _o, _in in rows]
    approved = [status[i] in APPROVED_STATUSES if i in status else o == "approve" for i, _s, _g, o, _in in rows]
    inputs = [inp if isinstance(inp, dict) else {} for _i, _s, _g, _o, inp in rows]
    return scores, grades, approved, inputs


def _input_columns(compiled: Any, inputs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The decisions' inputs as the scorer reads them: one object column per input the model needs."""
    columns: dict[str, np.ndarray] = {}
    for name in compiled.required_inputs:
        col = np.empty(len(inputs), dtype=object)
        for k, record in enumerate(inputs):
            value = record.get(name)
            col[k] = value if value is None or isinstance(value, str | int | float | bool) else None
        columns[name] = col
    return columns


def monitor_version(version: ModelVersion, monday: dt.date, *, role: str, snapshots: Any = None,
                    conf: mon.Settings | None = None) -> dict[str, Any]:
    """The week's figures for one version (not stored)."""
    conf = conf or monitor_settings()
    start, end = _bounds(monday)
    snapshots = snapshots or _Snapshots(monday + dt.timedelta(days=6))
    compiled = _compiled(version)
    metrics = version.metrics if isinstance(version.metrics, dict) else {}
    found = metrics.get("reference")
    has_reference = refs.is_reference(found)
    reference: dict[str, Any] = dict(found) if has_reference and isinstance(found, dict) else {}
    scores, grades, approved, inputs = _week_decisions(version, start, end)
    result: dict[str, Any] = {
        "week": monday.isoformat(), "version": version.pk, "model": version.model.name, "number": version.number,
        "kind": version.kind, "role": role, "decisions": len(grades), "has_reference": has_reference,
        "settings": {"min_sample": conf.min_sample, "bad_dpd": conf.bad_dpd, "outcome_months": conf.outcome_months},
        "score": None, "features": [], "grades": None,
        "feature_texts": {str(f): dict(compiled.reason_texts.get(f, {})) for f in compiled.features},
    }
    if has_reference:
        result["score"] = mon.score_stability(reference, refs.score_counts(reference, scores), conf.min_sample)
        current = refs.feature_counts(compiled, reference, _input_columns(compiled, inputs)) if inputs else {
            f["name"]: [0] * len(f["counts"]) for f in reference.get("features") or []}
        result["features"] = mon.feature_stability(reference, current, conf.min_sample)
        result["grades"] = mon.grade_mix(reference, grades, approved, conf.min_sample)
    else:
        total = len(grades)
        result["approval"] = {"decisions": total, "approved": sum(approved),
                              "approval_rate": sum(approved) / total if total else None}
    cohorts, calibration, as_of = _performance(version, compiled, end, snapshots, conf)
    result["cohorts"] = cohorts
    result["calibration"] = calibration
    result["as_of"] = as_of.isoformat() if as_of else None
    result["verdict"] = mon.summary_verdict(result).value
    return result


@dataclass(frozen=True)
class MonitorSummary:
    version_id: int
    model: str
    number: int
    role: str
    week: dt.date
    decisions: int
    psi: float | None
    psi_verdict: str
    verdict: str
    has_reference: bool


def monitor_models(week: Any = None, *, actor: Actor | None = None) -> list[MonitorSummary]:
    """Monitor every champion and challenger (and any version that decided in the week) for the week holding
    `week` (default: the last whole week), store the figures (a week computed again is replaced) and record
    a `risk.models_monitored` ledger event."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    monday = last_complete_week() if week in (None, "") else parse_week(week)
    start, end = _bounds(monday)
    conf = monitor_settings()
    versions, challengers = _versions(start, end)
    snapshots = _Snapshots(monday + dt.timedelta(days=6))
    computed = [(v, monitor_version(v, monday, role=_role(v, challengers), snapshots=snapshots, conf=conf))
                for v in versions]
    return _store(monday, computed, actor)


@transaction.atomic
def _store(monday: dt.date, computed: list[tuple[ModelVersion, dict[str, Any]]], actor: Actor | None
           ) -> list[MonitorSummary]:
    now = timezone.now()
    out = []
    for version, result in computed:
        score = result.get("score") or {}
        psi = score.get("psi")
        psi_verdict = score.get("verdict", mon.Verdict.INSUFFICIENT.value)
        ModelMonitor.objects.update_or_create(version=version, week=monday, defaults={
            "model_name": version.model.name, "number": version.number, "role": result["role"],
            "as_of": dt.date.fromisoformat(result["as_of"]) if result.get("as_of") else None,
            "decisions": result["decisions"], "psi": psi, "psi_verdict": psi_verdict, "verdict": result["verdict"],
            "has_reference": result["has_reference"], "result": result, "computed_at": now})
        out.append(MonitorSummary(version.pk, version.model.name, version.number, result["role"], monday,
                                  result["decisions"], psi, psi_verdict, result["verdict"], result["has_reference"]))
    ledger.append(actor, "risk.models_monitored", "risk", monday.isoformat(), {
        "week": monday.isoformat(),
        "versions": [{"version": s.version_id, "model": s.model, "number": s.number, "role": s.role,
                      "decisions": s.decisions, "psi": None if s.psi is None else f"{s.psi:.6f}",
                      "psi_verdict": s.psi_verdict, "verdict": s.verdict} for s in out]})
    return out


# --- reading the stored results (pages, report) ----------------------------------------------------------------

@dataclass(frozen=True)
class MonitoredVersion:
    version_id: int
    model: str
    number: int
    kind: str
    status: str
    role: str
    challenger_pct: int
    week: dt.date | None
    decisions: int
    psi: float | None
    psi_verdict: str
    verdict: str
    has_reference: bool


def _current_roles() -> tuple[set[int], dict[int, int]]:
    rows = list(ScoringModel.objects.exclude(challenger=None).values_list("challenger_id", "challenger_pct"))
    return {r[0] for r in rows}, {r[0]: r[1] for r in rows}


def monitored_versions(actor: Actor | None) -> list[MonitoredVersion]:
    """Every champion and challenger, and every version with monitoring results, with its latest week."""
    if actor is not None:
        require(actor, Perm.RISK_VIEW)
    challengers, pct = _current_roles()
    latest: dict[int, ModelMonitor] = {}
    for row in ModelMonitor.objects.order_by("version_id", "-week").defer("result"):
        latest.setdefault(row.version_id, row)
    ids = set(latest) | challengers | set(ModelVersion.objects.filter(status=ModelStatus.CHAMPION)
                                         .values_list("pk", flat=True))
    out = []
    for v in ModelVersion.objects.select_related("model").filter(pk__in=ids).order_by("model__name", "-number"):
        m = latest.get(v.pk)
        metrics = v.metrics if isinstance(v.metrics, dict) else {}
        out.append(MonitoredVersion(
            v.pk, v.model.name, v.number, v.kind, v.status, _role(v, challengers), pct.get(v.pk, 0),
            m.week if m else None, m.decisions if m else 0, m.psi if m else None,
            m.psi_verdict if m else mon.Verdict.INSUFFICIENT.value, m.verdict if m else mon.Verdict.INSUFFICIENT.value,
            refs.is_reference(metrics.get("reference"))))
    role_order = {"champion": 0, "challenger": 1, "other": 2}
    out.sort(key=lambda x: (x.model, role_order[x.role], -x.number))
    return out


@dataclass(frozen=True)
class VersionMonitoring:
    version_id: int
    model: str
    number: int
    kind: str
    status: str
    role: str
    has_reference: bool
    development_gini: float | None
    weeks: list[dict[str, Any]]  # oldest first: week, decisions, psi, psi_verdict, verdict
    latest: dict[str, Any] | None  # the latest week's full result


def version_monitoring(actor: Actor | None, version_id: int, *, weeks: int = 26) -> VersionMonitoring:
    """One version's monitoring: its PSI week by week and the latest week's figures."""
    if actor is not None:
        require(actor, Perm.RISK_VIEW)
    try:
        v = ModelVersion.objects.select_related("model").get(pk=version_id)
    except ModelVersion.DoesNotExist:
        raise NotFound(f"model version {version_id} not found", code="model_not_found") from None
    challengers, _pct = _current_roles()
    rows = list(ModelMonitor.objects.filter(version=v).order_by("-week")[:weeks])
    metrics = v.metrics if isinstance(v.metrics, dict) else {}
    series = [{"week": r.week, "decisions": r.decisions, "psi": r.psi, "psi_verdict": r.psi_verdict,
               "verdict": r.verdict} for r in reversed(rows)]
    return VersionMonitoring(v.pk, v.model.name, v.number, v.kind, v.status, _role(v, challengers),
                             refs.is_reference(metrics.get("reference")), mon.development_gini(metrics), series,
                             rows[0].result if rows else None)


def latest_in(first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """The latest stored week starting in [first, last] of every monitored version (the monthly report)."""
    seen: dict[int, dict[str, Any]] = {}
    for r in ModelMonitor.objects.filter(week__gte=first, week__lte=last).order_by("version_id", "-week"):
        seen.setdefault(r.version_id, r.result)
    return sorted(seen.values(), key=lambda x: (x.get("model", ""), x.get("role") != "champion", -x.get("number", 0)))
