"""Model registry use cases: register or train a version, validate, approve (four eyes), promote to
champion, run a challenger on a share of traffic, retire — and score records with a stored version.

Every change is a ledger event in the same transaction, naming the artifact's SHA-256, so what served a
decision can always be proven later.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.scoring import engine
from creditplan.scoring.domain.lifecycle import ModelStatus, VersionFacts, transition_problem, use_challenger
from creditplan.scoring.models import ModelVersion, ScoringModel


@dataclass(frozen=True)
class VersionView:
    id: int
    model: str
    number: int
    kind: str
    status: str
    artifact_sha256: str
    metrics: dict[str, Any]
    has_report: bool
    author: str
    approved_by: str | None
    approved_at: Any
    created_at: Any
    challenger_pct: int
    is_challenger: bool


def _view(v: ModelVersion) -> VersionView:
    m = v.model
    return VersionView(
        id=v.pk, model=m.name, number=v.number, kind=v.kind, status=v.status, artifact_sha256=v.artifact_sha256,
        metrics=v.metrics, has_report=bool(v.report_html), author=v.author.username,
        approved_by=v.approved_by.username if v.approved_by_id else None, approved_at=v.approved_at,
        created_at=v.created_at, challenger_pct=m.challenger_pct if m.challenger_id == v.pk else 0,
        is_challenger=m.challenger_id == v.pk,
    )


def _model_name(name: str) -> str:
    slug = slugify(name or "")
    if not slug:
        raise ValidationError("model name is required (letters, digits, dashes)", field="model")
    return slug[:60]


@transaction.atomic
def register_version(actor: Actor, *, model_name: str, artifact: dict[str, Any] | str, report_html: str = "",
                     metrics: dict[str, Any] | None = None, description: str = "") -> VersionView:
    """Store a compiled artifact as a new draft version (upload). The artifact is checked by compiling it."""
    require(actor, Perm.MODEL_MANAGE)
    if isinstance(artifact, str):
        try:
            artifact = json.loads(artifact)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"the model file is not JSON: {exc.msg} at line {exc.lineno}", field="artifact",
                                  code="artifact_not_json")
    if not isinstance(artifact, dict):
        raise ValidationError("the model file must be a JSON object", field="artifact", code="artifact_format")
    compiled = engine.compile_artifact(artifact)  # raises ValidationError naming what is wrong
    text = json.dumps(artifact, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    name = _model_name(model_name)
    model, _ = ScoringModel.objects.select_for_update().get_or_create(
        name=name, defaults={"description": description[:200]})
    number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        version = ModelVersion.objects.create(
            model=model, number=number, kind=compiled.kind, artifact=text, artifact_sha256=sha,
            metrics=metrics if metrics is not None else engine.artifact_metrics(artifact), report_html=report_html,
            author=actor,
        )
    except IntegrityError:
        raise Conflict("another version was registered at the same moment; try again", code="version_race")
    ledger.append(actor, "model.registered", "model_version", version.pk,
                  {"model": name, "number": number, "kind": compiled.kind, "artifact_sha256": sha,
                   "has_report": bool(report_html)})
    return _view(version)


def _allowed_data_file(path: str) -> Path:
    """Training data read on the server must come from the data directory or the upload folder, so the API
    cannot be used to read arbitrary files."""
    roots = [Path(settings.DATA_DIR).resolve(), (Path(settings.VAR_DIR) / "uploads").resolve()]
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else roots[0] / candidate).resolve()
    if not any(resolved.is_relative_to(r) for r in roots):
        raise ValidationError(f"data files must be under {roots[0]} or {roots[1]}", field="data_path",
                              code="data_path_outside")
    if not resolved.is_file():
        raise ValidationError(f"no such data file: {path}", field="data_path", code="data_file_missing")
    return resolved


def train_version(actor: Actor, *, model_name: str, data_path: str, target: str, bad_value: Any,
                  kind: str = "scorecard", holdout: float = 0.3, seed: int = 0) -> VersionView:
    """Train in the app from a file on the server and register the result with its validation report."""
    require(actor, Perm.MODEL_MANAGE)
    data_path = str(_allowed_data_file(data_path))
    trained = engine.train(data_path=data_path, target=target, bad_value=bad_value, kind=kind, holdout=holdout,
                           seed=seed)
    return register_version(actor, model_name=model_name, artifact=trained.artifact,
                            report_html=trained.report_html, metrics=trained.metrics)


def _locked(version_id: int) -> ModelVersion:
    try:
        return ModelVersion.objects.select_for_update().select_related("model", "author").get(pk=version_id)
    except ModelVersion.DoesNotExist:
        raise NotFound(f"model version {version_id} not found", code="model_not_found")


def _move(actor: Actor, version: ModelVersion, target: ModelStatus) -> None:
    facts = VersionFacts(status=ModelStatus(version.status), author_id=version.author_id,
                         has_report=bool(version.report_html), approved_by_id=version.approved_by_id)
    problem = transition_problem(facts, target, actor.pk)
    if problem:
        raise Conflict(problem, code="model_transition", field="status")
    old = version.status
    version.status = target.value
    version.save(update_fields=["status", "approved_by", "approved_at", "report_html", "metrics"])
    ledger.append(actor, f"model.{target.value}", "model_version", version.pk,
                  {"model": version.model.name, "number": version.number, "from": old, "to": target.value,
                   "artifact_sha256": version.artifact_sha256})


@transaction.atomic
def validate_version(actor: Actor, version_id: int, *, data_path: str | None = None, target: str | None = None,
                     bad_value: Any = None) -> VersionView:
    """Mark a version validated. A version uploaded without a report gets one computed from a data file."""
    require(actor, Perm.MODEL_MANAGE)
    version = _locked(version_id)
    if not version.report_html and data_path:
        if not target:
            raise ValidationError("the target column is required to validate on data", field="target")
        report = engine.validation_report(json.loads(version.artifact), data_path=str(_allowed_data_file(data_path)), target=target,
                                          bad_value=bad_value)
        version.report_html, version.metrics = report.html, {**version.metrics, **report.metrics}
    _move(actor, version, ModelStatus.VALIDATED)
    return _view(version)


@transaction.atomic
def approve_version(actor: Actor, version_id: int) -> VersionView:
    """Four eyes: a risk manager other than the author approves a validated version."""
    require(actor, Perm.MODEL_APPROVE)
    version = _locked(version_id)
    version.approved_by, version.approved_at = actor, timezone.now()
    _move(actor, version, ModelStatus.APPROVED)
    return _view(version)


@transaction.atomic
def promote_champion(actor: Actor, version_id: int) -> VersionView:
    """Make an approved version the champion; the previous champion is retired."""
    require(actor, Perm.MODEL_APPROVE)
    version = _locked(version_id)
    model = ScoringModel.objects.select_for_update().get(pk=version.model_id)
    previous = list(model.versions.select_for_update().filter(status=ModelStatus.CHAMPION).exclude(pk=version.pk))
    _move(actor, version, ModelStatus.CHAMPION)
    for old in previous:
        _move(actor, old, ModelStatus.RETIRED)
    if model.challenger_id == version.pk:
        model.challenger, model.challenger_pct = None, 0
        model.save(update_fields=["challenger", "challenger_pct"])
    return _view(version)


@transaction.atomic
def retire_version(actor: Actor, version_id: int) -> VersionView:
    require(actor, Perm.MODEL_APPROVE)
    version = _locked(version_id)
    _move(actor, version, ModelStatus.RETIRED)
    ScoringModel.objects.filter(challenger=version).update(challenger=None, challenger_pct=0)
    return _view(version)


@transaction.atomic
def set_challenger(actor: Actor, model_name: str, version_id: int | None, pct: int) -> None:
    """Route `pct` % of applications (by a stable hash of the application key) to an approved challenger."""
    require(actor, Perm.MODEL_APPROVE)
    if not 0 <= int(pct) <= 50:
        raise ValidationError("a challenger may take 0 to 50 % of the traffic", field="pct", code="pct_range")
    try:
        model = ScoringModel.objects.select_for_update().get(name=_model_name(model_name))
    except ScoringModel.DoesNotExist:
        raise NotFound(f"model {model_name} not found", code="model_not_found")
    version = None
    if version_id is not None and pct > 0:
        version = _locked(version_id)
        if version.model_id != model.pk or version.status != ModelStatus.APPROVED:
            raise Conflict("a challenger must be an approved version of the same model", code="challenger_status")
    model.challenger, model.challenger_pct = version, (int(pct) if version else 0)
    model.save(update_fields=["challenger", "challenger_pct"])
    ledger.append(actor, "model.challenger_set", "scoring_model", model.name,
                  {"version": version.number if version else None, "pct": model.challenger_pct})


# --- serving -----------------------------------------------------------------------------------------

_cache: dict[int, tuple[str, Any]] = {}
_cache_lock = threading.Lock()


def _compiled(version_id: int) -> tuple[ModelVersion, Any]:
    try:
        version = ModelVersion.objects.select_related("model").get(pk=version_id)
    except ModelVersion.DoesNotExist:
        raise NotFound(f"model version {version_id} not found", code="model_not_found")
    with _cache_lock:
        # Artifacts are immutable once stored, so a per-process cache is right; it is keyed by the artifact's
        # SHA-256 too, so a version number reused by another database (a restore, a test run) is never served
        # the wrong artifact.
        sha, compiled = _cache.get(version.pk, ("", None))
        if compiled is None or sha != version.artifact_sha256:
            compiled = engine.compile_artifact(json.loads(version.artifact))
            _cache[version.pk] = (version.artifact_sha256, compiled)
    return version, compiled


def score_records(actor: Actor, version_id: int, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    require(actor, Perm.MODEL_SCORE)
    if not records:
        raise ValidationError("send at least one record", field="records", code="no_records")
    if len(records) > 10_000:
        raise ValidationError("at most 10,000 records per call; use the batch engine for more", field="records",
                              code="too_many_records")
    _version, compiled = _compiled(version_id)
    return engine.score_records(compiled, records)


@dataclass(frozen=True)
class ServingModel:
    """What choosing the version that serves an application reads about a model: its challenger and share, and
    its champion (the highest-numbered version in status champion). The decision engine reads these for every
    model in one statement with the rest of its configuration (decisions.services), `champion_for` by the ORM;
    both route through `serving_version`, so they cannot disagree."""

    name: str
    challenger_id: int | None
    challenger_pct: int
    champion_id: int | None


def serving_version(model: ServingModel, application_key: str) -> int:
    """The challenger for its share of application keys (a stable hash), else the champion."""
    if model.challenger_id and use_challenger(application_key, model.challenger_pct):
        return model.challenger_id
    if model.champion_id is None:
        raise Conflict(f"model {model.name} has no champion", code="no_champion")
    return model.champion_id


def serving_version_in(models: dict[str, ServingModel], model_name: str, application_key: str) -> int:
    """`champion_for` over models already read (keyed by name): the same errors for the same cases."""
    model = models.get(_model_name(model_name))
    if model is None:
        raise NotFound(f"model {model_name} not found", code="model_not_found")
    return serving_version(model, application_key)


def champion_for(model_name: str, application_key: str) -> int:
    """The version that serves this application: the challenger for its share of keys, else the champion."""
    try:
        model = ScoringModel.objects.get(name=_model_name(model_name))
    except ScoringModel.DoesNotExist:
        raise NotFound(f"model {model_name} not found", code="model_not_found")
    champion = model.versions.filter(status=ModelStatus.CHAMPION).values_list("pk", flat=True).first()
    return serving_version(ServingModel(model.name, model.challenger_id, model.challenger_pct, champion),
                           application_key)


def champion_artifact(model_name: str) -> tuple[VersionView, dict[str, Any]]:
    """The champion version of a model and its artifact, for trusted batch code that scores a whole book with one
    version (the monthly behaviour re-rating: no challenger share). NotFound when the model does not exist,
    Conflict `no_champion` when it has no champion."""
    try:
        model = ScoringModel.objects.get(name=_model_name(model_name))
    except ScoringModel.DoesNotExist:
        raise NotFound(f"model {model_name} not found", code="model_not_found", field="model")
    champion = model.versions.filter(status=ModelStatus.CHAMPION).order_by("-number").values_list("pk", flat=True)
    if not champion:
        raise Conflict(f"model {model.name} has no champion", code="no_champion", field="model")
    version, _compiled_model = _compiled(champion[0])
    return _view(version), json.loads(version.artifact)


def list_versions(actor: Actor) -> list[VersionView]:
    require(actor, Perm.MODEL_VIEW)
    rows = ModelVersion.objects.select_related("model", "author", "approved_by").order_by("model__name", "-number")
    return [_view(v) for v in rows]


def get_version(actor: Actor, version_id: int) -> VersionView:
    require(actor, Perm.MODEL_VIEW)
    return _view(_compiled(version_id)[0])


def report_html(actor: Actor, version_id: int) -> str:
    require(actor, Perm.MODEL_VIEW)
    version, _ = _compiled(version_id)
    if not version.report_html:
        raise NotFound("this version has no validation report yet", code="no_report")
    return version.report_html


def artifact_json(actor: Actor, version_id: int) -> str:
    require(actor, Perm.MODEL_VIEW)
    return _compiled(version_id)[0].artifact
