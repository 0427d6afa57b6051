from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web app and the API with gunicorn (static files through WhiteNoise)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CREDITPLAN_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CREDITPLAN_THREADS", "4")))

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        self.stdout.write(f"creditplan serving on http://{opts['host']}:{opts['port']}/ (Ctrl-C stops)")
        self.stdout.flush()
        os.execvp(sys.executable, [
            sys.executable, "-m", "gunicorn", "creditplan.wsgi:application",
            "--bind", f"{opts['host']}:{opts['port']}", "--workers", str(opts["workers"]),
            "--threads", str(opts["threads"]), "--worker-class", "gthread", "--access-logfile", "-", "--graceful-timeout", "5",
        ])
