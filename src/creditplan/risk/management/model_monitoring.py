"""`creditplan risk monitor-models` and `creditplan risk report`: the subcommands of model monitoring and the
monthly risk report (docs/model-monitoring.md), added to `creditplan risk` (management/commands/risk.py).

    creditplan risk monitor-models [--week 2026-11-23]    the week holding that day (default: the last whole week)
    creditplan risk report --month 2026-11 --lang zh|en --out FILE.pdf
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from creditplan.risk.monitoring_labels import verdict_label


def add_subcommands(sub: Any) -> None:
    m = sub.add_parser("monitor-models", help="monitor the scoring models in production for one week (weekly job)")
    m.add_argument("--week", default=None,
                   help="any day of the week, YYYY-MM-DD (default: the last whole week, Monday to Sunday)")
    r = sub.add_parser("report", help="the monthly risk report as a PDF")
    r.add_argument("--month", default=None, help="YYYY-MM (default: the last whole month)")
    r.add_argument("--lang", choices=("zh", "en"), default="zh", help="the report's language")
    r.add_argument("--out", required=True, help="the PDF file to write")


def monitor_models(opts: dict[str, Any], write: Any) -> None:
    from django.utils import translation

    from creditplan.risk.services import monitoring

    done = monitoring.monitor_models(opts.get("week"))
    if not done:
        write("no champion or challenger to monitor")
        return
    with translation.override("en"):
        for s in done:
            psi = "–" if s.psi is None else f"{s.psi:.4f}"
            extra = "" if s.has_reference else " (no development profile: retrain or re-register)"
            write(f"{s.week}: {s.model} v{s.number} ({s.role}) {s.decisions} decisions, PSI {psi} "
                  f"{verdict_label(s.psi_verdict).lower()}, overall {verdict_label(s.verdict).lower()}{extra}")


def report(opts: dict[str, Any], write: Any) -> None:
    from creditplan.risk import report as monthly

    month = opts.get("month") or monthly.last_complete_month()
    data = monthly.monthly_report_pdf(None, month, opts["lang"])
    out = Path(opts["out"])
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror}") from None
    write(f"{out}: monthly risk report {month} ({opts['lang']}), {len(data):,} bytes")

