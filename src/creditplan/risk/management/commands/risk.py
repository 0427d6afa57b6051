"""`creditplan risk …`: key risk indicators from the command line and the scheduler.

    creditplan risk run                               indicators for the last closed date (after the close)
    creditplan risk run --date 2026-12-07 [--engine spark]
    creditplan risk install-standard                  install the standard indicator set (once; idempotent)
    creditplan risk indicators                        the indicators and their thresholds
    creditplan risk prune --keep-days 35 [--dry-run]  remove old snapshots (month-ends kept; docs/risk.md)
    creditplan risk monitor-models [--week DATE]      model monitoring for a week (docs/model-monitoring.md)
    creditplan risk report --month 2026-11 --lang zh --out FILE.pdf      the monthly risk report
    creditplan risk rerate --month 2026-11 | ecl --date D | stress --date D | allowance | ecl-setup |
                    train-behaviour                 expected credit loss, re-rating, stress (docs/ecl.md)
    creditplan risk signals --date D [--engine spark] | external-records FILE.csv | inflows FILE.csv
                                                    early warning and its imports (docs/early-warning.md)
    creditplan risk reviews --date D | limits --date D   post-loan review tasks (daily), dynamic limits (monthly)
                                                    (docs/post-loan.md)

The close runs the indicators by itself after each date (CREDITPLAN_RISK_AFTER_CLOSE, see docs/risk.md); this
command recomputes a date from its kept snapshot (the same figures) or runs one on Spark.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from creditplan.core.errors import CreditplanError
from creditplan.loans import services as loans
from creditplan.risk.management import ecl_commands, model_monitoring, review_commands, signal_commands
from creditplan.risk.services import indicators, run


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Post-loan risk: indicators and alerts, model monitoring, early warning, re-rating, ECL, stress tests, reviews."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("run", help="compute every active indicator for a closed date and raise alerts")
        p.add_argument("--date", type=_date, default=None, help="the closed business date (default: the last one)")
        p.add_argument("--engine", choices=("local", "spark"), default="local",
                       help="compute in this process (local) or on Spark (local[*] unless configured)")
        sub.add_parser("install-standard", help="install the standard indicator set (those not installed yet)")
        sub.add_parser("indicators", help="list the indicators with their formulas and thresholds")
        p = sub.add_parser("prune", help="remove old snapshots of the book, keeping the last N days and month-ends")
        p.add_argument("--keep-days", type=int, required=True, help="keep every snapshot of the last N days (≥ 8)")
        p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
        model_monitoring.add_subcommands(sub)
        ecl_commands.add_subcommands(sub)
        signal_commands.add_subcommands(sub)  # signals, external-records, inflows (docs/early-warning.md)
        review_commands.add_subcommands(sub)  # reviews, limits (docs/post-loan.md)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            if opts["action"] in ecl_commands.ACTIONS:
                ecl_commands.run(opts["action"], opts, self.stdout.write)
                return
            if opts["action"] in signal_commands.ACTIONS:
                signal_commands.run(opts["action"], opts, self.stdout.write)
                return
            if opts["action"] in review_commands.ACTIONS:
                review_commands.run(opts["action"], opts, self.stdout.write)
                return
            getattr(self, f"_{opts['action'].replace('-', '_')}")(opts)
        except CreditplanError as exc:
            raise CommandError(exc.message) from None

    def _run(self, opts: dict[str, Any]) -> None:
        day = opts["date"] or loans.last_closed_date()
        if day is None:
            raise CommandError("no close has run yet: indicators are computed after the close")
        indicators.install_standard(None)
        console = Console(file=self.stdout, force_terminal=False)
        with console.status(f"risk indicators for {day}…") as status:
            summary = run.run_indicators(day, engine=opts["engine"],
                                         progress=lambda step: status.update(f"risk indicators for {day}: {step}"))
        self.stdout.write(f"{summary.as_of}: {summary.loans} loans, {summary.values} values "
                          f"({summary.red} red, {summary.amber} amber), {summary.alerts} new alerts, "
                          f"{summary.seconds:.1f} s on {summary.engine}")

    def _monitor_models(self, opts: dict[str, Any]) -> None:
        model_monitoring.monitor_models(opts, self.stdout.write)

    def _report(self, opts: dict[str, Any]) -> None:
        model_monitoring.report(opts, self.stdout.write)

    def _prune(self, opts: dict[str, Any]) -> None:
        from creditplan.risk.services.retention import prune_snapshots

        r = prune_snapshots(opts["keep_days"], dry_run=opts["dry_run"])
        verb = "would remove" if r.dry_run else "removed"
        span = f" ({r.removed[0]} … {r.removed[-1]})" if r.removed else ""
        self.stdout.write(f"{verb} {len(r.removed)} snapshots{span}, {r.bytes_freed / 1e6:.1f} MB; {r.kept} kept")

    def _install_standard(self, opts: dict[str, Any]) -> None:
        added = indicators.install_standard(None)
        self.stdout.write(f"{added} standard indicators installed")

    def _indicators(self, opts: dict[str, Any]) -> None:
        from creditplan.risk.models import Indicator

        for i in Indicator.objects.order_by("sort_order", "code"):
            state = "" if i.active else " (inactive)"
            self.stdout.write(f"{i.code}{state}: {i.formula}  [amber {i.amber}, red {i.red}, worse {i.worse}, "
                              f"{i.mode}, {i.frequency}, by {', '.join(i.dimensions)}]")
