"""`creditplan risk …`: key risk indicators from the command line and the scheduler.

    creditplan risk run                               indicators for the last closed date (after the close)
    creditplan risk run --date 2026-12-07 [--engine spark]
    creditplan risk install-standard                  install the standard indicator set (once; idempotent)
    creditplan risk indicators                        the indicators and their thresholds

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
from creditplan.risk.services import indicators, run


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Key risk indicators: compute them for a closed date (locally or on Spark), install the standard set."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("run", help="compute every active indicator for a closed date and raise alerts")
        p.add_argument("--date", type=_date, default=None, help="the closed business date (default: the last one)")
        p.add_argument("--engine", choices=("local", "spark"), default="local",
                       help="compute in this process (local) or on Spark (local[*] unless configured)")
        sub.add_parser("install-standard", help="install the standard indicator set (those not installed yet)")
        sub.add_parser("indicators", help="list the indicators with their formulas and thresholds")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
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

    def _install_standard(self, opts: dict[str, Any]) -> None:
        added = indicators.install_standard(None)
        self.stdout.write(f"{added} standard indicators installed")

    def _indicators(self, opts: dict[str, Any]) -> None:
        from creditplan.risk.models import Indicator

        for i in Indicator.objects.order_by("sort_order", "code"):
            state = "" if i.active else " (inactive)"
            self.stdout.write(f"{i.code}{state}: {i.formula}  [amber {i.amber}, red {i.red}, worse {i.worse}, "
                              f"{i.mode}, {i.frequency}, by {', '.join(i.dimensions)}]")
