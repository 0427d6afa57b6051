"""The registry's one door into the pure scoring kernel (scoring/domain), so services, the CLI and the
batch engine call the very same functions — which is what makes their scores identical."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain.scorer import CompiledModel

if TYPE_CHECKING:
    from creditplan.scoring.domain.train import TrainResult

Progress = Callable[[str, float], None]


def compile_artifact(artifact: dict[str, Any] | str | Path) -> CompiledModel:
    return CompiledModel.from_artifact(artifact)


def artifact_metrics(artifact: dict[str, Any]) -> dict[str, Any]:
    """The headline figures recorded in the artifact at training time (AUC/KS/Gini per split)."""
    training = artifact.get("training") or {}
    metrics = training.get("metrics") or {}
    return metrics if isinstance(metrics, dict) else {}


@dataclass(frozen=True)
class Trained:
    artifact: dict[str, Any]
    summary: dict[str, Any]
    report_html: str
    metrics: dict[str, Any]


def train(*, data_path: str | Path | None = None, target: str, bad_value: Any, kind: str = "scorecard",
          holdout: float = 0.3, seed: int = 0, progress: Progress | None = None, query: str | None = None,
          rejects: str | Path | None = None, reject_method: str = "fuzzy", reject_uplift: float = 1.0,
          **options: Any) -> Trained:
    """Read a file (or run a query), train through the harness (``domain.train``), and render the validation
    report on the hold-out part. ``options`` are the estimator's parameters (``pdo``, ``max_depth``, …)."""
    from creditplan.scoring.domain import data, report
    from creditplan.scoring.domain import train as training

    if query:
        from creditplan.scoring import sql

        frame = sql.query_frame(query)
    elif data_path is not None:
        frame = data.load_table(data_path)
    else:
        raise ValidationError("give a data file or a query to train on", field="data", code="no_data")
    X, y = data.prepare_target(frame, target, bad_value)
    if rejects is not None:
        result = _train_with_rejects(X, y, rejects, target=target, kind=kind, seed=seed, holdout=holdout,
                                     method=reject_method, uplift=reject_uplift, **options)
    else:
        result = training.train_model(kind, X, y, seed=seed, holdout=holdout, progress=progress, **options)
    built = result.validation_report()
    return Trained(result.artifact, result.summary, report.render_report_html(built),
                   {**artifact_metrics(result.artifact), "report": built["headline"],
                    "score_psi": built.get("score_psi"), "reference": result.reference})


def _train_with_rejects(X: Any, y: Any, rejects: str | Path, *, target: str, kind: str, seed: int, holdout: float,
                        method: str, uplift: float, **options: Any) -> TrainResult:
    """Scorecard on approved applicants plus inferred rejects (docs/scoring.md, "Reject inference")."""
    from creditplan.scoring.domain import data, reject_inference

    if kind != "scorecard":
        raise ValidationError("reject inference is offered for scorecards only", field="kind",
                              code="reject_inference_kind")
    rej = data.load_table(rejects)
    rej = rej.drop(columns=[c for c in (target,) if c in rej.columns])
    rej = rej[[c for c in X.columns if c in rej.columns]]
    if rej.empty:
        raise ValidationError("the rejects file has no rows with the model's columns", field="rejects",
                              code="no_rejects")
    _base, inferred, augmented = reject_inference.train_with_reject_inference(
        X, y, rej, method=method, uplift=uplift, seed=seed, holdout=holdout, **options)
    inferred.summary["reject_inference"] = {
        "method": method, "uplift": uplift, "rejects": int(len(rej)),
        "approved_only_holdout_auc": _base.summary.get("metrics", {}).get("holdout", {}).get("auc"),
    }
    return inferred


@dataclass(frozen=True)
class Report:
    html: str
    metrics: dict[str, Any]


def validation_report(artifact: dict[str, Any], *, data_path: str | Path, target: str, bad_value: Any,
                      date_column: str | None = None) -> Report:
    """Validate a stored artifact against a labelled data file (a model uploaded without its report)."""
    from creditplan.scoring.domain import data, report

    frame = data.load_table(data_path)
    if date_column and date_column not in frame.columns:
        raise ValidationError(f"date column {date_column!r} is not in the data", field="date_column",
                              code="unknown_column")
    dates = frame[date_column] if date_column else None
    X, y = data.prepare_target(frame, target, bad_value, exclude=[date_column] if date_column else ())
    if dates is not None:
        dates = dates.loc[X.index]
    built = report.build_report(compile_artifact(artifact), X, y, labels=("validation", "none"), dates_ref=dates)
    return Report(report.render_report_html(built), {"validation": built["headline"].get("validation", {})})


def score_records(compiled: CompiledModel, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's shape: score, pd, grade, reasons (en, zh) and per-row warnings."""
    rows = compiled.score_records(records)
    return [
        {
            "score": r["score"], "pd": r["pd"], "grade": r["grade"],
            "reasons": [x["en"] for x in r["reasons"]], "reasons_zh": [x["zh"] for x in r["reasons"]],
            "reason_codes": [x["code"] for x in r["reasons"]], "warnings": r["warnings"],
        }
        for r in rows
    ]


OUTPUT_COLUMNS = ["score", "pd", "grade", "reason_1", "reason_2", "reason_3", "reason_4",
                  "reason_1_en", "reason_2_en", "reason_3_en", "reason_4_en",
                  "reason_1_zh", "reason_2_zh", "reason_3_zh", "reason_4_zh", "warnings"]


def output_schema() -> pa.Schema:
    fields = [pa.field("score", pa.float64()), pa.field("pd", pa.float64())]
    fields += [pa.field(c, pa.string()) for c in OUTPUT_COLUMNS[2:]]
    return pa.schema(fields)


def arrow_kernel(artifact: dict[str, Any]) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """A picklable RecordBatch → RecordBatch scorer for the batch engines (local and Spark).

    The artifact travels to each worker as JSON-able data and is compiled there once."""
    schema = output_schema()
    state: dict[str, CompiledModel] = {}

    def kernel(batch: pa.RecordBatch) -> pa.RecordBatch:
        model = state.get("m")
        if model is None:
            model = state["m"] = CompiledModel.from_artifact(artifact)
        columns = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in batch.schema.names}
        result = model.score_frame(columns, allow_missing_columns=True)
        cols = result.to_columns("both")
        arrays = []
        for f in schema:
            values = cols[f.name]
            if f.type == pa.string():
                arrays.append(pa.array([None if v is None else str(v) for v in values.tolist()], type=pa.string()))
            else:
                arrays.append(pa.array(np.asarray(values, dtype=np.float64)))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    return kernel


def read_arrow(path: str | Path) -> pa.Table:
    from creditplan.scoring.domain import data

    frame = data.load_table(path)
    if frame.empty and len(frame.columns) == 0:
        raise ValidationError(f"{path} holds no rows", code="empty_file", field="data")
    return pa.Table.from_pandas(frame, preserve_index=False)
