"""`creditplan integration …`: send webhooks and customer notifications.

    creditplan integration run --once          one pass: dispatch new ledger events, deliver due webhooks, send
                                               due notifications (what a minutely timer runs)
    creditplan integration run [--interval 10] the same in a loop, every N seconds, until stopped (a service)
    creditplan integration status              the cursor, the delivery log and notification counts
    creditplan integration schedule [--user creditplan] [--workdir DIR]
                                               print a systemd service + timer (every minute) and a cron line

Safe to run in several processes or after a crash: dispatching is idempotent and each delivery is claimed before
it is sent.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.core.errors import CreditplanError
from creditplan.integration import services


class Command(BaseCommand):
    help = "Outbound webhooks and customer notifications: run the dispatcher/deliverer, show status, schedule it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("run", help="dispatch, deliver and send (once, or every --interval seconds)")
        p.add_argument("--once", action="store_true", help="one pass, then exit")
        p.add_argument("--interval", type=float, default=10.0, help="seconds between passes (default 10)")
        sub.add_parser("status", help="how far the ledger has been dispatched and what is waiting")
        p = sub.add_parser("schedule", help="print a systemd service + timer (and a cron line) running one pass a "
                                            "minute")
        p.add_argument("--user", default="creditplan", help="the system user the service runs as")
        p.add_argument("--workdir", default=str(Path.cwd()), help="working directory (where var/ and .env live)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except CreditplanError as exc:
            raise CommandError(exc.message)

    def _run(self, opts: dict[str, Any]) -> None:
        if opts["interval"] <= 0:
            raise CommandError("--interval must be positive")
        stop = threading.Event()
        if not opts["once"]:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        while True:
            report = services.run_once()
            self.stdout.write(report.summary())
            if opts["once"] or stop.wait(opts["interval"]):
                return

    def _status(self, opts: dict[str, Any]) -> None:
        s = services.status_counts()
        self.stdout.write(f"ledger events dispatched through #{s['cursor']} (ledger holds {s['head']})")
        self.stdout.write("webhook deliveries: " + ", ".join(f"{k} {v}" for k, v in s["deliveries"].items()))
        self.stdout.write("notifications: " + ", ".join(f"{k} {v}" for k, v in s["notifications"].items()))

    def _schedule(self, opts: dict[str, Any]) -> None:
        exe = shlex.quote(str(Path(sys.argv[0]).resolve())) if sys.argv and sys.argv[0].endswith("creditplan") \
            else "creditplan"
        workdir = opts["workdir"]
        self.stdout.write(f"""\
# Webhooks and customer notifications go out when this runs: each pass reads the new ledger events, posts the
# webhooks that are due (retries included) and sends the notifications. Once a minute is enough for a CRM; for
# lower latency run `{exe} integration run --interval 5` as a long-running service instead.
#
# systemd (recommended): save the two units below, then
#     systemctl daemon-reload && systemctl enable --now creditplan-integration.timer
#     journalctl -u creditplan-integration.service      # what it printed
#
# ---- /etc/systemd/system/creditplan-integration.service ----
[Unit]
Description=creditplan webhooks and notifications (one pass)
After=network-online.target postgresql.service

[Service]
Type=oneshot
User={opts['user']}
WorkingDirectory={workdir}
EnvironmentFile=-{workdir}/.env
ExecStart={exe} integration run --once

# ---- /etc/systemd/system/creditplan-integration.timer ----
[Unit]
Description=Run creditplan webhooks and notifications every minute

[Timer]
OnCalendar=*-*-* *:*:00
Persistent=true

[Install]
WantedBy=timers.target

# ---- or cron (crontab -e as {opts['user']}), same effect ----
# * * * * * cd {shlex.quote(workdir)} && {exe} integration run --once >> var/integration.log 2>&1
""")
