"""`creditplan model train|score|report|register|list|approve|champion`.

train and score work on files alone (no database needed); register/approve/champion act on the registry
as a named user, so every change is attributed and recorded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from creditplan.core.errors import CreditplanError


def _bad_value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


class Command(BaseCommand):
    help = "Train, score and govern credit-risk models."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        t = sub.add_parser("train", help="train a model from a file and write MODEL.json")
        source = t.add_mutually_exclusive_group(required=True)
        source.add_argument("--data", help="CSV (optionally .gz), Parquet or Excel file")
        source.add_argument("--query", help="a SELECT run on the configured database")
        t.add_argument("--target", required=True)
        t.add_argument("--bad", required=True, help="the target value that means 'bad' (default event)")
        t.add_argument("--out", required=True)
        t.add_argument("--kind", choices=["scorecard", "tree", "gbm"], default="scorecard")
        t.add_argument("--holdout", type=float, default=0.3)
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--pdo", type=float, default=20)
        t.add_argument("--base-odds", type=float, default=50)
        t.add_argument("--base-score", type=float, default=600)
        t.add_argument("--report", help="also write the validation report (HTML) here")
        t.add_argument("--rejects", help="scorecard only: rejected applications (same columns, no outcome) "
                                         "for reject inference")
        t.add_argument("--reject-method", choices=["fuzzy", "parcelling"], default="fuzzy")
        t.add_argument("--reject-uplift", type=float, default=1.0,
                       help="how much riskier than their score rejects are assumed to be (judgemental)")
        t.add_argument("--jdm", help="tree only: also write the tree as a JDM decision table here")
        s = sub.add_parser("score", help="score a file with MODEL.json and write SCORES.csv")
        s.add_argument("--model", required=True)
        s.add_argument("--data", required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--engine", choices=["local", "spark"], default="local")
        r = sub.add_parser("report", help="validation report of MODEL.json on a labelled file")
        r.add_argument("--model", required=True)
        r.add_argument("--data", required=True)
        r.add_argument("--target", required=True)
        r.add_argument("--bad", required=True)
        r.add_argument("--date-column")
        r.add_argument("--out", required=True)
        g = sub.add_parser("register", help="upload MODEL.json to the registry as a draft version")
        g.add_argument("--model", required=True, help="MODEL.json")
        g.add_argument("--name", required=True, help="model slot, e.g. retail-pd")
        g.add_argument("--user", required=True, help="the risk manager registering it")
        g.add_argument("--report", help="its validation report (HTML)")
        sub.add_parser("list", help="versions in the registry")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except CreditplanError as exc:
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc.message}")

    def _progress(self) -> Progress:
        return Progress(TextColumn("{task.description:<40}"), BarColumn(), TimeElapsedColumn(),
                        console=None, transient=False, disable=not sys.stderr.isatty())

    def _train(self, o: dict[str, Any]) -> None:
        from creditplan.scoring import engine
        from creditplan.scoring.domain.artifact import save_artifact

        with self._progress() as bar:
            task = bar.add_task("training", total=1.0)

            def step(stage: str, fraction: float) -> None:
                bar.update(task, completed=fraction, description=stage)
                if not sys.stderr.isatty():
                    self.stderr.write(f"[{fraction:4.0%}] {stage}")

            trained = engine.train(data_path=o["data"], query=o["query"], target=o["target"],
                                   rejects=o["rejects"], reject_method=o["reject_method"],
                                   reject_uplift=o["reject_uplift"], bad_value=_bad_value(o["bad"]),
                                   kind=o["kind"], holdout=o["holdout"], seed=o["seed"], progress=step,
                                   **({"pdo": o["pdo"], "base_odds": o["base_odds"], "base_score": o["base_score"]}
                                      if o["kind"] == "scorecard" else {}))
        save_artifact(trained.artifact, o["out"])
        if o.get("report"):
            Path(o["report"]).write_text(trained.report_html, encoding="utf-8")
        if o.get("jdm"):
            if o["kind"] != "tree":
                raise CommandError("--jdm needs --kind tree")
            from creditplan.scoring.domain import jdm

            Path(o["jdm"]).write_text(json.dumps(jdm.export_jdm(trained.artifact), ensure_ascii=False, indent=2),
                                      encoding="utf-8")
        self.stdout.write(json.dumps(trained.summary, ensure_ascii=False, indent=2, default=str))

    def _score(self, o: dict[str, Any]) -> None:
        import pyarrow.csv as pacsv

        from creditplan.batch import engines
        from creditplan.scoring import engine
        from creditplan.scoring.domain.artifact import load_artifact

        artifact = load_artifact(o["model"])
        engine.compile_artifact(artifact)  # fail early on a bad artifact
        table = engine.read_arrow(o["data"])
        kernel = engine.arrow_kernel(artifact)
        if o["engine"] == "spark":
            spark = engines.spark_session()
            frame = spark.createDataFrame(table)
            scored = engines.spark_to_arrow(engines.run_spark(frame, kernel, engine.output_schema()))
        else:
            with self._progress() as bar:
                task = bar.add_task("scoring", total=table.num_rows)
                scored = engines.run_local(table, kernel, progress=lambda n: bar.advance(task, n))
        pacsv.write_csv(scored, o["out"])
        self.stdout.write(json.dumps({"rows": scored.num_rows, "out": o["out"], "engine": o["engine"]}))

    def _report(self, o: dict[str, Any]) -> None:
        from creditplan.scoring import engine
        from creditplan.scoring.domain.artifact import load_artifact

        rep = engine.validation_report(load_artifact(o["model"]), data_path=o["data"], target=o["target"],
                                       bad_value=_bad_value(o["bad"]), date_column=o.get("date_column"))
        Path(o["out"]).write_text(rep.html, encoding="utf-8")
        self.stdout.write(json.dumps(rep.metrics, default=str, indent=2))

    def _register(self, o: dict[str, Any]) -> None:
        from creditplan.org.models import User
        from creditplan.scoring import services

        try:
            user = User.objects.get(username=o["user"])
        except User.DoesNotExist:
            raise CommandError(f"no user {o['user']}")
        html = Path(o["report"]).read_text(encoding="utf-8") if o.get("report") else ""
        v = services.register_version(user, model_name=o["name"], artifact=Path(o["model"]).read_text("utf-8"),
                                      report_html=html)
        self.stdout.write(f"registered {v.model} v{v.number} (id {v.id}, {v.status}, sha256 {v.artifact_sha256[:12]})")

    def _list(self, o: dict[str, Any]) -> None:
        from creditplan.scoring.models import ModelVersion

        for v in ModelVersion.objects.select_related("model", "author").order_by("model__name", "-number"):
            auc = (v.metrics.get("holdout") or {}).get("auc") if isinstance(v.metrics, dict) else None
            self.stdout.write(f"{v.pk:>5} {v.model.name:<20} v{v.number:<3} {v.kind:<10} {v.status:<10} "
                              f"author={v.author.username} auc={auc}")
