"""Demo models: a German-credit scorecard taken through the whole governance path, so the registry page
shows a champion with its validation report (and a draft challenger) right after `make demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from creditplan.scoring import engine, services


def seed_models(author: Any, approver: Any, log: Any = print) -> int:
    source = Path(settings.DATA_DIR) / "german_credit" / "german_credit.csv"
    if not source.exists():
        log(f"no demo models: {source} not found (set CREDITPLAN_DATA_DIR)")
        return 0
    champion = engine.train(data_path=source, target="class", bad_value=2, kind="scorecard", seed=0)
    v = services.register_version(author, model_name="retail-pd", artifact=champion.artifact,
                                  report_html=champion.report_html, metrics=champion.metrics,
                                  description="Retail PD scorecard (German credit demo data)")
    services.validate_version(author, v.id)
    services.approve_version(approver, v.id)
    services.promote_champion(author, v.id)
    challenger = engine.train(data_path=source, target="class", bad_value=2, kind="gbm", seed=0)
    services.register_version(author, model_name="retail-pd", artifact=challenger.artifact,
                              report_html=challenger.report_html, metrics=challenger.metrics)
    return 2
