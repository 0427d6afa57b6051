"""What the post-loan benchmarks (bench_risk, bench_ecl, bench_signals) share: Django on a throwaway PostgreSQL as
users run it — fsync and synchronous_commit on (initdb defaults), only memory given to the server — migrated, with
the settings of the server reported beside the figures."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bench_ledger  # (postgres_url)

ROOT = Path(__file__).resolve().parents[1]
DURABLE_PG_OPTIONS = "-c shared_buffers=1GB -c max_wal_size=4GB"
DURABLE_SOURCE = "throwaway server (initdb defaults: fsync and synchronous_commit on; shared_buffers 1GB)"


@contextmanager
def durable_django(name: str, *, risk_dir: Path, after_close: str) -> Iterator[dict[str, Any]]:
    """Start the server (or use CREDITPLAN_BENCH_DATABASE_URL), point Django at it, migrate, and yield what the
    result file says of the database: source, version, fsync, synchronous_commit, shared_buffers."""
    with bench_ledger.postgres_url(DURABLE_PG_OPTIONS, DURABLE_SOURCE) as (url, source):
        os.environ.update({
            "CREDITPLAN_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "creditplan.settings", "CREDITPLAN_DEBUG": "0",
            "CREDITPLAN_SECRET_KEY": f"bench-{name}-not-a-secret",
            "CREDITPLAN_PII_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "CREDITPLAN_RISK_DIR": str(risk_dir), "CREDITPLAN_RISK_AFTER_CLOSE": after_close})
        sys.path.insert(0, str(ROOT / "src"))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        with connection.cursor() as cur:
            cur.execute("SELECT version(), current_setting('fsync'), current_setting('synchronous_commit'), "
                        "current_setting('shared_buffers')")
            version, fsync, sync, buffers = cur.fetchone()
        yield {"source": source, "version": version.split(" on ")[0], "fsync": fsync, "synchronous_commit": sync,
               "shared_buffers": buffers}
