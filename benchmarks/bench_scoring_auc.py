"""Scoring accuracy (issue 3): hold-out AUC of each model kind on German credit and Taiwan default.

Targets (70/30 stratified split, seed 0, default settings, no manual preparation):
German credit scorecard AUC >= 0.78; Taiwan default scorecard AUC >= 0.77; Taiwan default gbm AUC >= 0.78.
The tree (segmentation, depth 3) and German gbm are reported without a target.

Each model is trained exactly as ``creditplan model train --data FILE --target COLUMN --bad VALUE
--kind KIND`` does: ``load_table`` → ``prepare_target`` → ``train_model``; the AUC is that of the compiled
artifact on the hold-out, with a 95 % stratified-bootstrap interval (200 resamples, seed 0).

    python benchmarks/bench_scoring_auc.py      # a few minutes on 2 cores

Writes benchmarks/results/scoring_auc.json and prints it; exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results" / "scoring_auc.json"

from bench_scoring import machine  # noqa: E402

from creditplan.scoring.domain import data, datasets, metrics, train  # noqa: E402

TARGETS = {
    ("german_credit", "scorecard"): 0.78,
    ("taiwan_default", "scorecard"): 0.77,
    ("taiwan_default", "gbm"): 0.78,
}
RUNS = [
    ("german_credit", "scorecard"),
    ("german_credit", "tree"),
    ("german_credit", "gbm"),
    ("taiwan_default", "scorecard"),
    ("taiwan_default", "tree"),
    ("taiwan_default", "gbm"),
]


def _dataset(name: str) -> tuple[Path, str, int]:
    if name == "german_credit":
        return datasets.german_credit_path(), datasets.GERMAN_TARGET, datasets.GERMAN_BAD
    return datasets.taiwan_default_path(), datasets.TAIWAN_TARGET, datasets.TAIWAN_BAD


def run(name: str, kind: str) -> dict[str, Any]:
    path, target, bad = _dataset(name)
    frame = data.load_table(path)  # Taiwan's ID column is dropped by prepare_target as an identifier
    X, y = data.prepare_target(frame, target, bad)
    started = time.perf_counter()
    result = train.train_model(kind, X, y, seed=0, holdout=0.3, target=target, bad_value=bad)
    seconds = time.perf_counter() - started
    model = result.compiled()
    pd_ = model.score_frame(result.X_holdout, reasons=False).pd
    summary = metrics.metric_summary(result.y_holdout, pd_, n_boot=200, seed=0)
    target_auc = TARGETS.get((name, kind))
    out = {
        "dataset": name,
        "kind": kind,
        "file": str(path.relative_to(datasets.data_dir())),
        "rows": int(len(y)),
        "bad_rate": round(float(y.mean()), 4),
        "holdout_rows": int(len(result.y_holdout)),
        "holdout_auc": round(summary["auc"], 4),
        "holdout_auc_ci95": [round(v, 4) for v in summary["auc_ci"]],
        "holdout_ks": round(summary["ks"], 4),
        "holdout_gini": round(summary["gini"], 4),
        "train_auc": result.summary["metrics"]["train"]["auc"],
        "features": len(model.features),
        "derived_features": len(result.artifact.get("derived", [])),
        "dropped_columns": X.attrs.get("dropped", {}),
        "train_seconds": round(seconds, 1),
        "target_auc": target_auc,
        "passed": None if target_auc is None else bool(summary["auc"] >= target_auc),
        "command": f"creditplan model train --data {path.name} --target '{target}' --bad {bad} --kind {kind} "
        "--holdout 0.3 --seed 0 --out MODEL.json",
    }
    print(json.dumps(out, ensure_ascii=False), flush=True)
    return out


def main() -> int:
    results = [run(name, kind) for name, kind in RUNS]
    passed = all(r["passed"] is not False for r in results)
    report = {
        "benchmark": "scoring_auc",
        "issue": 3,
        "machine": machine(),
        "split": "70/30 stratified (sklearn train_test_split, stratify=y, random_state=0)",
        "results": results,
        "targets": {f"{d}/{k}": v for (d, k), v in TARGETS.items()},
        "passed": passed,
        "command": "python benchmarks/bench_scoring_auc.py",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
