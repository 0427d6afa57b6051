"""`creditplan serve`: gunicorn with the project's WSGI app.

Defaults: gthread workers, CREDITPLAN_WORKERS (default: 2 per CPU) processes × CREDITPLAN_THREADS (default 1)
threads. Why: a second thread in a process queues for the same interpreter lock, and a request that holds the
credit plan's quota rows locked then waits for it too, making every other approval wait longer; more processes
(about 180 MB each) avoid that. gthread keeps idle keep-alive connections off the worker's thread. Both are
settings: measure on your machine with benchmarks/bench_decision_http.py (--workers, --threads).

It refuses to start without the keys a server needs (CREDITPLAN_SECRET_KEY, CREDITPLAN_PII_KEY,
CREDITPLAN_LEDGER_SIGNING_KEY) unless CREDITPLAN_DEVELOPMENT=1: one message names every missing one.

This module is also gunicorn's configuration file (`-c python:…`): `post_worker_init` below runs in each worker.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, in each worker once it has loaded the WSGI app.

    Load the rest of the app now: Django imports the URLconf — and through it every domain, pandas and
    scikit-learn included — on a worker's first request otherwise, seconds of CPU that a client would wait for.
    Then `gc.freeze()`: the hundreds of thousands of objects loaded so far live as long as the worker, and a
    full collection that walked them all (about 0.1 s, every few hundred requests under load, with the
    interpreter lock held: every thread of the worker waits, and so does every other request queued on a row
    lock that one of them holds) now only walks what requests leave behind."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and everything it names
    gc.collect()
    gc.freeze()


def default_workers() -> int:
    """CREDITPLAN_WORKERS, else two per CPU."""
    return int(os.environ.get("CREDITPLAN_WORKERS") or 2 * (os.cpu_count() or 1))


class Command(BaseCommand):
    help = "Serve the web app and the API with gunicorn (static files through WhiteNoise)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=default_workers())
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CREDITPLAN_THREADS", "1")))

    def handle(self, *args: Any, **opts: Any) -> None:
        from creditplan.web.checks import startup_refusal

        refusal = startup_refusal()  # the keys a server needs: checked here, and again by the WSGI app
        if refusal:
            raise CommandError(refusal)
        self.stdout.write(f"creditplan serving on http://{opts['host']}:{opts['port']}/ (Ctrl-C stops)")
        self.stdout.flush()
        os.execvp(sys.executable, [
            sys.executable, "-m", "gunicorn", "creditplan.wsgi:application", "--config", f"python:{__name__}",
            "--bind", f"{opts['host']}:{opts['port']}", "--workers", str(opts["workers"]),
            "--threads", str(opts["threads"]), "--worker-class", "gthread", "--access-logfile", "-",
            "--graceful-timeout", "5",
        ])
