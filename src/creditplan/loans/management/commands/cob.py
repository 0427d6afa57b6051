"""`creditplan cob …`: the daily close (close of business) from the command line and the scheduler.

    creditplan cob run                                close every open day through yesterday (what cron runs)
    creditplan cob run --date 2025-07-01              close that date
    creditplan cob run --date 2025-07-01 --through 2025-07-31 [--chunk-size 20000]
    creditplan cob status                             the first open date and the last runs
    creditplan cob schedule [--time 00:30] [--user creditplan] [--workdir DIR]
                                                      print a systemd timer (and the equivalent cron line)

Each date is closed in chunks of whole customers, one transaction per chunk: interrupt it (Ctrl-C, a crash, a
reboot) and run the same command again — it continues with the loans not yet done. A date already closed is
not closed twice. Exit status 1 with the reason when a date cannot be closed (e.g. an earlier one is open).
"""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor
from creditplan.loans import cob
from creditplan.loans import services as loans


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Daily close: accrual, due dates, delinquency, classification and contract clauses for every loan."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("run", help="close one business date, a range, or every open day through yesterday")
        p.add_argument("--date", type=_date, default=None,
                       help="the business date to close (default: the first open date)")
        p.add_argument("--through", type=_date, default=None,
                       help="close every date from --date through this one, in order (default: --date, or "
                            "yesterday when --date is not given)")
        p.add_argument("--chunk-size", type=int, default=20_000, help="loans per transaction (whole customers)")
        p.add_argument("--plain", action="store_true", help="one line per chunk instead of a progress bar")
        sub.add_parser("status", help="the first open date and the latest close runs")
        p = sub.add_parser("schedule", help="print a systemd service + timer (and a cron line) running the close")
        p.add_argument("--time", default="00:30", help="local time to run at (default 00:30, after midnight)")
        p.add_argument("--user", default="creditplan", help="the system user the service runs as")
        p.add_argument("--workdir", default=str(Path.cwd()), help="working directory (where var/ and .env live)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except CreditplanError as exc:
            raise CommandError(exc.message)

    # -- run --------------------------------------------------------------------------------------------------

    def _dates(self, opts: dict[str, Any]) -> list[dt.date]:
        today = loans.business_date()
        first = opts["date"] or cob.first_open_date()
        if first is None:
            closed = loans.last_closed_date()
            first = (closed + dt.timedelta(days=1)) if closed else today - dt.timedelta(days=1)
        last = opts["through"] or (opts["date"] if opts["date"] else today - dt.timedelta(days=1))
        if last < first:
            if opts["date"] is None and opts["through"] is None:
                return []  # nothing open before today
            raise CommandError(f"--through {last} is before {first}")
        return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]

    def _run(self, opts: dict[str, Any]) -> None:
        dates = self._dates(opts)
        if not dates:
            self.stdout.write("nothing to close: every loan is closed through yesterday")
            return
        plain = opts["plain"] or not sys.stdout.isatty()
        for day in dates:
            if plain:
                def progress(done: int, total: int, day: dt.date = day) -> None:
                    self.stdout.write(f"{day} {done:,}/{total:,} loans")

                report = cob.run_close(day, chunk_size=opts["chunk_size"], progress=progress)
            else:
                with Progress(TextColumn(f"close {day}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                              TimeElapsedColumn(), TimeRemainingColumn(), transient=True) as bar:
                    task = bar.add_task("close", total=None)

                    def advance(done: int, total: int, bar: Progress = bar, task: Any = task) -> None:
                        bar.update(task, completed=done, total=total)

                    report = cob.run_close(day, chunk_size=opts["chunk_size"], progress=advance)
            self.stdout.write(self._summary(report))

    @staticmethod
    def _summary(report: cob.CloseReport) -> str:
        t = report.totals
        if report.already_done:
            return f"{report.business_date} already closed ({report.loans:,} loans); nothing changed"
        return (f"{report.business_date} closed: {report.loans:,} loans in {report.chunks} chunks "
                f"({report.loans_this_run:,} in this run, {report.seconds:.1f} s); "
                f"accrual {format_minor(int(t.get('accrual_minor', 0)))}, "
                f"penalty {format_minor(int(t.get('penalty_minor', 0)))}, "
                f"fees {format_minor(int(t.get('due_fee_minor', 0) + t.get('late_fee_minor', 0)))}, "
                f"{t.get('installments_due', 0):,} installments due, NPL ratio {report.npl_ratio:.4%}")

    # -- status -----------------------------------------------------------------------------------------------

    def _status(self, opts: dict[str, Any]) -> None:
        from creditplan.loans.models import CloseRun

        first = cob.first_open_date()
        self.stdout.write(f"first open date: {first or 'none (no active loans)'}")
        for run in CloseRun.objects.order_by("-business_date")[:7]:
            loans_done = (run.report or {}).get("loans", "?")
            self.stdout.write(f"  {run.business_date} {run.status:8} attempts {run.attempts}  loans {loans_done}")

    # -- schedule ---------------------------------------------------------------------------------------------

    def _schedule(self, opts: dict[str, Any]) -> None:
        hh, _, mm = str(opts["time"]).partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise CommandError("--time must be HH:MM")
        exe = shlex.quote(str(Path(sys.argv[0]).resolve())) if sys.argv and sys.argv[0].endswith("creditplan") \
            else "creditplan"
        workdir = opts["workdir"]
        self.stdout.write(f"""\
# The close of a business date runs once that date is over: shortly after local midnight it closes every
# day still open through yesterday (normally just yesterday; after an outage, each missed day in order).
# Restartable: if it is interrupted, the next start continues where it stopped.
#
# systemd (recommended): save the two units below, then
#     systemctl daemon-reload && systemctl enable --now creditplan-cob.timer
#     systemctl list-timers creditplan-cob.timer      # next run
#     journalctl -u creditplan-cob.service             # what it printed
#
# ---- /etc/systemd/system/creditplan-cob.service ----
[Unit]
Description=creditplan daily close (close of business)
After=network-online.target postgresql.service

[Service]
Type=oneshot
User={opts['user']}
WorkingDirectory={workdir}
EnvironmentFile=-{workdir}/.env
Environment=TZ=Asia/Shanghai
# origination's daily job first (expire stale cases, purge old form drafts); "-": its failure does not stop the close
ExecStart=-{exe} applications expire
# credit lines: release the room held by approvals not paid out in time (LINE_RESERVATION_DAYS)
ExecStart=-{exe} lines expire
ExecStart={exe} cob run --plain

# ---- /etc/systemd/system/creditplan-cob.timer ----
[Unit]
Description=Run the creditplan daily close after midnight

[Timer]
OnCalendar=*-*-* {int(hh):02d}:{int(mm):02d}:00 Asia/Shanghai
Persistent=true

[Install]
WantedBy=timers.target

# ---- or cron (crontab -e as {opts['user']}), same effect ----
# CRON_TZ=Asia/Shanghai
# {int(mm)} {int(hh)} * * * cd {shlex.quote(workdir)} && {exe} cob run --plain >> var/cob.log 2>&1
# {int(mm) + 1 if int(mm) < 59 else 0} {int(hh)} * * * cd {shlex.quote(workdir)} && {exe} applications expire >> var/applications.log 2>&1
# {int(mm) + 1 if int(mm) < 59 else 0} {int(hh)} * * * cd {shlex.quote(workdir)} && {exe} lines expire >> var/lines.log 2>&1
# SLA escalation of waiting applications: every 15 minutes (idempotent; cases escalate once per level)
# */15 * * * * cd {shlex.quote(workdir)} && {exe} applications sla >> var/applications.log 2>&1
""")
