"""Test harness shared by every test.

Database: SQLite by default; `CREDITPLAN_TEST_DB=postgresql` starts a throwaway PostgreSQL server with
pytest-postgresql (through scripts/pg_ctl_as_postgres, which runs it as the postgres user when the suite
runs as root) and points Django at it, so no server needs to be running beforehand.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
USE_POSTGRES = os.environ.get("CREDITPLAN_TEST_DB", "sqlite") == "postgresql"
# Playwright's sync API runs an event loop in the test thread; Django's ORM calls in the same test are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("CREDITPLAN_DATA_DIR", str(ROOT.parent / "shared" / "data"))

# Tests run in development mode (plain-http webhook receivers on 127.0.0.1, no deploy strictness) with keys of
# their own, random for each run, so nothing is written to var/development-keys.json. Tests of production
# behaviour set settings.DEVELOPMENT = False, or run a subprocess with an environment of their own.
TEST_ENVIRONMENT = {
    "CREDITPLAN_DEVELOPMENT": "1",
    "CREDITPLAN_SECRET_KEY": secrets.token_urlsafe(50),
    "CREDITPLAN_PII_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "CREDITPLAN_LEDGER_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
    # the close runs no risk indicators after each date (tests/risk turn it on where they test it)
    "CREDITPLAN_RISK_AFTER_CLOSE": "off",
}
for _name, _value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)


def _apply_test_environment() -> None:
    """pytest-django loads the Django settings before this file runs (its pytest_load_initial_conftests hook
    comes first), so the environment above reaches subprocesses only: put the same values on the settings too."""
    from django.conf import settings

    if not settings.configured:  # not loaded yet: settings.py will read the environment above
        return
    from creditplan import settings as project

    development = os.environ["CREDITPLAN_DEVELOPMENT"].strip().lower() in ("1", "true", "yes", "on")
    keys = project._keys(os.environ, development, project.DEVELOPMENT_KEY_FILE)
    settings.DEVELOPMENT = development
    settings.SECRET_KEY, settings.PII_KEYS = keys["SECRET_KEY"], keys["PII_KEYS"]
    settings.LEDGER_SIGNING_KEY = keys["LEDGER_SIGNING_KEY"]
    settings.RISK_AFTER_CLOSE = os.environ["CREDITPLAN_RISK_AFTER_CLOSE"]


_apply_test_environment()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that touch no database as `pure`, so the PostgreSQL run can skip re-running them."""
    for item in items:
        uses_db = item.get_closest_marker("django_db") is not None or any(
            f in getattr(item, "fixturenames", ()) for f in ("db", "transactional_db", "live_server", "client",
                                                              "admin_client", "django_db_setup")
        )
        if not uses_db:
            item.add_marker(pytest.mark.pure)


if USE_POSTGRES:
    from pytest_postgresql import factories

    postgresql_proc = factories.postgresql_proc(
        executable=str(ROOT / "scripts" / "pg_ctl_as_postgres"),
        host="127.0.0.1",
        port=None,
        user="postgres",
        unixsocketdir="/tmp",
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    )

    @pytest.fixture(scope="session")
    def django_db_modify_db_settings(postgresql_proc):  # type: ignore[no-untyped-def]
        from django.conf import settings

        db = settings.DATABASES["default"]
        db.update(
            ENGINE="django.db.backends.postgresql",
            NAME="creditplan",
            HOST=postgresql_proc.host,
            PORT=str(postgresql_proc.port),
            USER=postgresql_proc.user,
            PASSWORD=postgresql_proc.password or "",
            OPTIONS={"server_side_binding": True},
            CONN_MAX_AGE=0,
        )
        db.setdefault("TEST", {})["NAME"] = "test_creditplan"
        # Django built the default connection (a SQLite wrapper) while importing the models; changing the
        # settings dict does not change its class. Drop it so the next use builds a PostgreSQL connection.
        from django.db import connections

        connections["default"].close()
        del connections["default"]


@pytest.fixture(autouse=True)
def _fast_hashing(request: pytest.FixtureRequest) -> None:
    """Argon2 is deliberately slow; tests log in hundreds of times. (Pure tests run without Django.)"""
    if request.node.get_closest_marker("pure") or not request.config.pluginmanager.hasplugin("django"):
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def bank(db):  # type: ignore[no-untyped-def]
    """A small bank: HO → BJ → BJ01, HO → SH → SH01 and one user per role (see tests/factories.py)."""
    from factories import make_bank

    return make_bank()


@pytest.fixture
def compiled_catalogue() -> None:
    """.mo files are build output (`creditplan compile-translations`): compile a missing or stale one, and drop the
    catalogues this process cached before it existed (page tests that read Chinese words use this)."""
    import polib
    from django.conf import settings
    from django.core.signals import setting_changed

    for root in settings.LOCALE_PATHS:
        for po in Path(root).glob("*/LC_MESSAGES/*.po"):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
                tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")
                polib.pofile(str(po)).save_as_mofile(str(tmp))
                os.replace(tmp, mo)
    setting_changed.send(sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False)
