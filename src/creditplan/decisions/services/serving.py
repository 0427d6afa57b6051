"""What serves a decision besides its configuration: the scoring model's single-record scorer (built once
per process per model version; artifacts are immutable) and the policy version's compiled JDM graph (installed
once in the one cached zen engine, decisions.domain.engine)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.fastscore import FastScorer
from creditplan.decisions.models import PolicyVersion, ProductSettings
from creditplan.scoring import services as scoring


@dataclass(frozen=True)
class Models:
    """The model registry as a decision sees it: serving facts by model name, artifact SHA-256 by version."""

    serving: dict[str, scoring.ServingModel]
    artifact_sha256: dict[int, str]


_scorers: dict[int, tuple[str, FastScorer]] = {}
_scorers_lock = threading.Lock()


def scorer_for(version_id: int, sha256: str | None = None) -> FastScorer:
    """A model version's single-record scorer, built once per process (artifacts are immutable). With the
    artifact's SHA-256 (the configuration snapshot reads it), a cached scorer is only used for that artifact."""
    cached = _scorers.get(version_id)
    if cached is not None and (sha256 is None or cached[0] == sha256):
        return cached[1]
    version, compiled = scoring._compiled(version_id)
    with _scorers_lock:
        cached = _scorers.get(version_id)
        if cached is None or cached[0] != version.artifact_sha256:
            cached = _scorers[version_id] = (version.artifact_sha256, FastScorer(compiled.artifact))
    return cached[1]


def model_for(settings: ProductSettings, segment: str, key: str, models: Models | None = None
           ) -> tuple[FastScorer | None, int | None, str]:
    """The scorer serving this application. `models`: the registry as the configuration snapshot read it;
    without it the registry is asked."""
    name = (settings.segment_models or {}).get(segment) or settings.model_name
    if not name:
        return None, None, f"no scoring model is configured for product {settings.product}"
    try:
        if models is None:
            vid, sha = scoring.champion_for(name, key), None
        else:
            vid = scoring.serving_version_in(models.serving, name, key)
            sha = models.artifact_sha256.get(vid)
    except (NotFound, Conflict, ValidationError) as exc:
        return None, None, f"scoring model {name}: {exc.message}"
    return scorer_for(vid, sha), vid, ""


def installed(version: PolicyVersion) -> pol.CompiledPolicy:
    """The version's compiled policy, installed in the engine (its text is read only when not installed)."""
    compiled = ENGINE.get(f"jdm-{version.jdm_sha256}")
    if compiled is None:
        text = PolicyVersion.objects.values_list("jdm", flat=True).get(pk=version.pk)
        compiled = ENGINE.install_text(text)
    return compiled
