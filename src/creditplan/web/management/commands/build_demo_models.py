"""`creditplan build-demo-models`: retrain the models the demo ships (src/creditplan/scoring/demo_models/) from the
public data sets in CREDITPLAN_DATA_DIR and rewrite that folder.

A `creditplan` command rather than a script in scripts/: it needs the project's settings (DATA_DIR) and the same
training code as the product (the scoring engine, the behaviour recipe in risk), and the console script already
sets that up. It lives with `seed-demo` in the pages shell because it spans scoring (retail-pd) and risk
(behaviour-pd), and only an app above both may import them. It reads files and writes files: no database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.core.errors import CreditplanError


class Command(BaseCommand):
    help = "Retrain the demo's shipped models (scoring/demo_models/) from the data sets in CREDITPLAN_DATA_DIR."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        from creditplan.scoring import demo

        parser.add_argument("--out", default=str(demo.MODELS_DIR),
                            help=f"the folder to write (default: the package's, {demo.MODELS_DIR})")
        parser.add_argument("--seed", type=int, default=0, help="the training seed (default 0, what is shipped)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from creditplan.risk.services import behaviour
        from creditplan.scoring import demo

        for path in (demo.german_source(), behaviour.taiwan_source()):
            if not path.exists():
                raise CommandError(f"{path} not found: set CREDITPLAN_DATA_DIR to the public data sets' folder")
        seed = opts["seed"]
        try:
            built = demo.train_retail_pd(seed)
            built.append(demo.Built("behaviour-pd-scorecard", behaviour.BEHAVIOUR_MODEL, "champion",
                                    behaviour.BEHAVIOUR_DESCRIPTION, "taiwan_default_credit_card",
                                    behaviour.behaviour_training(seed=seed)))
        except CreditplanError as exc:
            raise CommandError(exc.message)
        out = Path(opts["out"])
        written = demo.write_demo_models(out, built, demo.bureau_profiles(demo.german_rows()), seed=seed)
        for b in built:
            holdout = b.trained.metrics.get("holdout") or {}
            self.stdout.write(f"{b.key}: {b.model} {b.role}, hold-out AUC {holdout.get('auc')}")
        size = sum(p.stat().st_size for p in written)
        self.stdout.write(self.style.SUCCESS(f"wrote {len(written)} files ({size / 1024:.0f} KiB) to {out}"))
