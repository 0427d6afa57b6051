"""The test side of a concurrency story told by separate OS processes (each its own interpreter, Django and
database connection): the test file is also the worker script; the workers say "ready" once Django is up, are
released together by one line ("go") on their stdin, and each prints its results as JSON on its last line.
Used by the quota (plans), application (origination) and credit-line (lines) concurrency tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

TESTS = Path(__file__).resolve().parent


class Processes:
    def __init__(self, script: Path, *, timeout: int = 180, **env: str) -> None:
        self.script, self.timeout, self.extra = script, timeout, env

    def env(self, url: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DJANGO_SETTINGS_MODULE="creditplan.settings", CREDITPLAN_DATABASE_URL=url, PYTHONUNBUFFERED="1",
                   **self.extra)
        # the worker is the test file run as a script: it imports this module (and factories) from tests/
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH", "")) if p)
        return env

    def run(self, url: str, cwd: Path, *args: str) -> Any:
        """One step (seed, report…) run to its end: what it printed last, as JSON."""
        out = subprocess.run([sys.executable, str(self.script), *args], env=self.env(url), cwd=cwd,
                             capture_output=True, text=True, timeout=self.timeout)
        assert out.returncode == 0, f"{args[0]} failed:\n{out.stdout}\n{out.stderr}"
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start(self, url: str, cwd: Path, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(self.script), *args], env=self.env(url), cwd=cwd,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def release(self, workers: list[subprocess.Popen], *, also_ready: tuple[subprocess.Popen, ...] = ()
                ) -> tuple[list[Any], float]:
        """Wait until every process is ready, send the workers the starting gun as close together as we can,
        and collect their results (concatenated) and the seconds from the gun to the last result. A worker still
        running when this fails is killed."""
        try:
            for w in [*also_ready, *workers]:
                line = w.stdout.readline()
                assert line.strip() == "ready", \
                    f"worker did not start: {line!r} {w.stderr.read() if w.poll() is not None else ''}"
            started = time.perf_counter()
            for w in workers:
                w.stdin.write("go\n")
                w.stdin.flush()
            results: list[Any] = []
            for w in workers:
                out, err = w.communicate(timeout=self.timeout)
                assert w.returncode == 0, err
                results += json.loads(out.strip().splitlines()[-1])
            return results, time.perf_counter() - started
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()

    def migrated_sqlite(self, base: Path) -> Path:
        """One migrated SQLite file, to be copied for each scenario (migrating takes a few seconds)."""
        path = base / "template.sqlite3"
        out = subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=self.env(f"sqlite:///{path}"),
                             cwd=base, capture_output=True, text=True, timeout=self.timeout)
        assert out.returncode == 0, out.stderr
        return path


def postgres_test_url() -> str:
    """The URL of the PostgreSQL test database, its connection in this process closed (the workers use it now).
    Skipped when the test is run by hand on SQLite: `make test` leaves postgres_only tests out of its SQLite
    run and runs them on PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CREDITPLAN_TEST_DB=postgresql; `make test` runs it)")
    s = connection.settings_dict
    auth = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    url = f"postgresql://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    connection.close()
    return url
