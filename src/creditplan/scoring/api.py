from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.scoring import services
from creditplan.scoring.services import VersionView

router = Router(tags=["models"])


class VersionRead(Schema):
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
    approved_at: dt.datetime | None
    created_at: dt.datetime
    is_challenger: bool
    challenger_pct: int


def _read(v: VersionView) -> VersionRead:
    return VersionRead(**{f: getattr(v, f) for f in VersionRead.model_fields})


class VersionUpload(Schema):
    model: str = Field(description="model slot name, e.g. retail-pd")
    artifact: dict[str, Any] = Field(description="the compiled MODEL.json")
    report_html: str = ""
    description: str = ""


class TrainRequest(Schema):
    model: str
    data_path: str = Field(description="a CSV/Parquet/Excel file under the data directory")
    target: str
    bad: str | int
    kind: Literal["scorecard", "tree", "gbm"] = "scorecard"
    holdout: float = Field(0.3, gt=0, lt=1)
    seed: int = 0


class ValidateRequest(Schema):
    data_path: str | None = None
    target: str | None = None
    bad: str | int | None = None


class ChallengerRequest(Schema):
    version_id: int | None
    pct: int = Field(ge=0, le=100)


class ScoreRequest(Schema):
    records: list[dict[str, Any]] | None = Field(None, description="many records")
    record: dict[str, Any] | None = Field(None, description="one record")


class ScoreRow(Schema):
    score: float
    pd: float
    grade: str
    reasons: list[str]
    reasons_zh: list[str]
    warnings: list[str]


class ScoreResponse(Schema):
    version_id: int
    results: list[ScoreRow]


@router.get("", response=list[VersionRead], summary="Every version of every model")
def list_versions(request: HttpRequest) -> list[VersionRead]:
    return [_read(v) for v in services.list_versions(request.auth)]


@router.post("", response={201: VersionRead}, summary="Upload a compiled model (MODEL.json) as a draft")
def upload(request: HttpRequest, payload: VersionUpload) -> Status:
    v = services.register_version(request.auth, model_name=payload.model, artifact=payload.artifact,
                                  report_html=payload.report_html, description=payload.description)
    return Status(201, _read(v))


@router.post("/train", response={201: VersionRead}, summary="Train a model from a data file on the server")
def train(request: HttpRequest, payload: TrainRequest) -> Status:
    v = services.train_version(request.auth, model_name=payload.model, data_path=payload.data_path,
                               target=payload.target, bad_value=payload.bad, kind=payload.kind,
                               holdout=payload.holdout, seed=payload.seed)
    return Status(201, _read(v))


@router.get("/{version_id}", response=VersionRead)
def get_version(request: HttpRequest, version_id: int) -> VersionRead:
    return _read(services.get_version(request.auth, version_id))


@router.get("/{version_id}/artifact", summary="The compiled MODEL.json")
def artifact(request: HttpRequest, version_id: int) -> HttpResponse:
    return HttpResponse(services.artifact_json(request.auth, version_id), content_type="application/json")


#: How an uploaded validation report (HTML written by whoever uploaded the model) is served, here and on the
#: page: `sandbox` gives it an opaque origin with scripts, forms, pop-ups and top navigation disabled, so a script
#: in one risk manager's report cannot act in a reviewer's session; nothing is fetched from elsewhere either
#: (the generated reports are one file: inline CSS and SVG).
REPORT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
              "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")


def report_headers(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = REPORT_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


@router.get("/{version_id}/report", summary="The validation report (standalone HTML, as a download)")
def report(request: HttpRequest, version_id: int) -> HttpResponse:
    response = HttpResponse(services.report_html(request.auth, version_id),
                            content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="validation-report-{int(version_id)}.html"'
    return report_headers(response)


@router.post("/{version_id}/validate", response=VersionRead)
def validate(request: HttpRequest, version_id: int, payload: ValidateRequest) -> VersionRead:
    return _read(services.validate_version(request.auth, version_id, data_path=payload.data_path,
                                           target=payload.target, bad_value=payload.bad))


@router.post("/{version_id}/approve", response=VersionRead, summary="Approve (four eyes: not the author)")
def approve(request: HttpRequest, version_id: int) -> VersionRead:
    return _read(services.approve_version(request.auth, version_id))


@router.post("/{version_id}/champion", response=VersionRead, summary="Promote an approved version to champion")
def champion(request: HttpRequest, version_id: int) -> VersionRead:
    return _read(services.promote_champion(request.auth, version_id))


@router.post("/{version_id}/retire", response=VersionRead)
def retire(request: HttpRequest, version_id: int) -> VersionRead:
    return _read(services.retire_version(request.auth, version_id))


@router.put("/by-name/{model}/challenger", summary="Send a share of traffic to an approved challenger")
def challenger(request: HttpRequest, model: str, payload: ChallengerRequest) -> dict[str, Any]:
    services.set_challenger(request.auth, model, payload.version_id, payload.pct)
    return {"model": model, "version_id": payload.version_id, "pct": payload.pct}


@router.post("/{version_id}/score", response=ScoreResponse, summary="Score one record or many")
def score(request: HttpRequest, version_id: int, payload: ScoreRequest) -> ScoreResponse:
    from creditplan.core.errors import ValidationError

    if payload.records is not None and payload.record is None:
        records = payload.records
    elif payload.record is not None and payload.records is None:
        records = [payload.record]
    else:
        raise ValidationError("send either 'record' (one) or 'records' (many)", field="records",
                              code="records_or_record")
    rows = services.score_records(request.auth, version_id, records)
    return ScoreResponse(version_id=version_id, results=[ScoreRow(**r) for r in rows])
