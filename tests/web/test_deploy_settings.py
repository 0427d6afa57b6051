"""Keys and deploy settings (security issue 14, finding 2): debug off by default, development mode separate, no key
derived from a string in the repository, the server refusing to start without its keys, `check --deploy` quiet on
a correctly configured server and not silenced by debug pages."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]
KEY_NAMES = ("CREDITPLAN_SECRET_KEY", "CREDITPLAN_PII_KEY", "CREDITPLAN_LEDGER_SIGNING_KEY")
# The development secret key an earlier release kept in the repository: known to everyone, refused on a server.
REPOSITORY_KEY = "dev-insecure-creditplan-key-change-me-in-production-0123456789"


def _production_keys() -> dict[str, str]:
    return {"CREDITPLAN_SECRET_KEY": secrets.token_urlsafe(50),
            "CREDITPLAN_PII_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "CREDITPLAN_LEDGER_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode()}


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m creditplan.cli …` (or `python -c …`) with none of the test run's CREDITPLAN_* variables.
    Bounded: `serve` must refuse at once, never get as far as serving."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CREDITPLAN_", "DJANGO_"))}
    clean.update({"CREDITPLAN_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run([sys.executable, *args], env=clean, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_reports_nothing_on_a_correctly_configured_server(tmp_path: Path) -> None:
    out = _run(["-m", "creditplan.cli", "check", "--deploy", "--fail-level", "WARNING"], tmp_path,
               **_production_keys(), CREDITPLAN_DATABASE_URL="postgresql://creditplan:pw@db.internal:5432/credit",
               CREDITPLAN_HTTPS="1", CREDITPLAN_ALLOWED_HOSTS="credit.example.bank")
    assert out.returncode == 0, out.stderr
    assert "System check identified no issues" in out.stdout


def test_check_deploy_is_not_silenced_by_debug_and_names_every_missing_key(tmp_path: Path) -> None:
    out = _run(["-m", "creditplan.cli", "check", "--deploy"], tmp_path, CREDITPLAN_DEBUG="1")
    assert out.returncode != 0
    for code in ("creditplan.E001", "creditplan.E002", "creditplan.E011", "security.W018"):  # W018: DEBUG on
        assert code in out.stderr, out.stderr
    assert not (tmp_path / "var" / "development-keys.json").exists()  # outside development nothing is made up


def test_serve_refuses_to_start_without_keys_and_names_each(tmp_path: Path) -> None:
    out = _run(["-m", "creditplan.cli", "serve", "--port", "1"], tmp_path,
               CREDITPLAN_PII_KEY=_production_keys()["CREDITPLAN_PII_KEY"])
    assert out.returncode != 0
    assert "will not start" in out.stderr and "creditplan serving" not in out.stdout
    listed = {line.split()[0] for line in out.stderr.splitlines() if line.startswith("  CREDITPLAN_")}
    assert listed == {"CREDITPLAN_SECRET_KEY", "CREDITPLAN_LEDGER_SIGNING_KEY"}  # the PII key is set
    assert "secrets.token_urlsafe(50)" in out.stderr and "creditplan ledger new-key" in out.stderr
    assert "CREDITPLAN_DEVELOPMENT=1" in out.stderr


def test_the_wsgi_application_refuses_to_load_without_keys(tmp_path: Path) -> None:
    """gunicorn run directly on creditplan.wsgi, bypassing `creditplan serve`, gets the same refusal."""
    out = _run(["-c", "import creditplan.wsgi"], tmp_path)
    assert out.returncode != 0
    assert all(name in out.stderr for name in KEY_NAMES), out.stderr[-2000:]
    ok = _run(["-c", "import creditplan.wsgi; print('loaded')"], tmp_path, **_production_keys())
    assert ok.returncode == 0 and "loaded" in ok.stdout, ok.stderr[-2000:]


def test_defaults_debug_off_and_no_key_outside_development(tmp_path: Path) -> None:
    probe = ("from django.conf import settings as s; import django; django.setup(); import json; "
             "print(json.dumps([s.DEBUG, s.DEVELOPMENT, s.PII_KEYS, s.LEDGER_SIGNING_KEY]))")
    out = _run(["-c", probe], tmp_path, DJANGO_SETTINGS_MODULE="creditplan.settings")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False, [], ""]


def test_development_mode_makes_random_keys_once_in_a_private_file(tmp_path: Path) -> None:
    """`make demo` (CREDITPLAN_DEVELOPMENT=1, debug pages off): keys made at random on first use, kept with mode
    0600, the same for every process after."""
    probe = ("from django.conf import settings as s; import django; django.setup(); import json; "
             "print(json.dumps([s.DEBUG, s.DEVELOPMENT, s.SECRET_KEY, s.PII_KEYS, s.LEDGER_SIGNING_KEY]))")
    first = _run(["-c", probe], tmp_path, DJANGO_SETTINGS_MODULE="creditplan.settings", CREDITPLAN_DEVELOPMENT="1")
    assert first.returncode == 0, first.stderr
    debug, development, secret, pii, signing = json.loads(first.stdout.strip().splitlines()[-1])
    assert (debug, development) == (False, True)
    key_file = tmp_path / "var" / "development-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text()) == {"secret_key": secret, "pii_key": pii[0], "ledger_signing_key": signing}
    assert len(base64.urlsafe_b64decode(pii[0])) == 32 and len(base64.b64decode(signing)) == 32
    again = _run(["-c", probe], tmp_path, DJANGO_SETTINGS_MODULE="creditplan.settings", CREDITPLAN_DEVELOPMENT="1")
    assert json.loads(again.stdout.strip().splitlines()[-1])[2:] == [secret, pii, signing]
    other = tmp_path / "elsewhere"
    other.mkdir()
    elsewhere = _run(["-c", probe], other, DJANGO_SETTINGS_MODULE="creditplan.settings", CREDITPLAN_DEVELOPMENT="1")
    assert json.loads(elsewhere.stdout.strip().splitlines()[-1])[2] != secret  # another machine, other keys


def test_processes_starting_together_agree_on_the_development_keys(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    code = ("import json, sys; from creditplan.core.crypto import development_keys; "
            "print(json.dumps(development_keys(sys.argv[1])))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(key_file)], stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    outputs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(o == outputs[0] for o in outputs) and outputs[0] == json.loads(key_file.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary file left behind


def test_the_repository_key_is_gone_and_refused_outside_development(settings) -> None:
    from creditplan.web import checks

    for path in (ROOT / "src").rglob("*"):
        if path.suffix in (".py", ".html", ".txt", ".json", ".toml", ".md"):
            assert REPOSITORY_KEY not in path.read_text(encoding="utf-8", errors="replace"), path
    assert hashlib.sha256(REPOSITORY_KEY.encode()).hexdigest() == checks.REPOSITORY_SECRET_KEY_SHA256
    settings.SECRET_KEY, settings.DEVELOPMENT = REPOSITORY_KEY, False
    refusal = checks.startup_refusal()
    assert refusal is not None and "CREDITPLAN_SECRET_KEY" in refusal and "published in the repository" in refusal
    assert "creditplan.E002" in {p.id for p in checks.creditplan_settings(None)}
    settings.DEVELOPMENT = True
    assert checks.startup_refusal() is None


def test_no_personal_data_key_is_derived_when_none_is_configured(settings, monkeypatch) -> None:
    """Before: without CREDITPLAN_PII_KEY, ID numbers and documents were encrypted under keys derived from the
    secret key (the repository's, in the default debug mode). Now there is no key and nothing is encrypted."""
    from creditplan.customers import services as customers
    from creditplan.documents import storage
    from creditplan.ledger import services as ledger

    settings.PII_KEYS, settings.DEVELOPMENT, settings.LEDGER_SIGNING_KEY = [], False, ""
    monkeypatch.delenv(ledger.SIGNING_KEY_ENV, raising=False)
    customers.cipher.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="CREDITPLAN_PII_KEY"):
            customers.cipher()
        with pytest.raises(ImproperlyConfigured, match="CREDITPLAN_PII_KEY"):
            storage._cipher()
        with pytest.raises(ImproperlyConfigured, match="CREDITPLAN_LEDGER_SIGNING_KEY"):
            ledger.signing_key()
    finally:
        customers.cipher.cache_clear()


def test_the_blind_index_is_unchanged_for_a_configured_server(settings) -> None:
    """Existing ID-number indexes stay valid: same secret and PII keys, same index (value from the release before
    this change)."""
    from creditplan.customers import services as customers

    settings.SECRET_KEY = "SSSSSSSSSSecret-for-the-blind-index-test-0123456789abcdefghij"
    settings.PII_KEYS = ["q9Yw7v7cY8nS3JdFq0r2Xz1bH6kL4mN5pQ8sT0uV2wE="]
    customers.cipher.cache_clear()
    try:
        assert (customers.cipher().blind_index("110108198506150011")
                == "b1ccf44a1237bec6028a19d8046864bd3256ee75001c5835772aae6bcbd24a77")
        rotated = [base64.urlsafe_b64encode(os.urandom(32)).decode(), *settings.PII_KEYS]
        settings.PII_KEYS = rotated  # a new PII key in front: the index does not move
        customers.cipher.cache_clear()
        assert (customers.cipher().blind_index("110108198506150011")
                == "b1ccf44a1237bec6028a19d8046864bd3256ee75001c5835772aae6bcbd24a77")
    finally:
        customers.cipher.cache_clear()


def test_https_settings_follow_creditplan_https(tmp_path: Path) -> None:
    probe = ("from django.conf import settings as s; import django; django.setup(); import json; "
             "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
             "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER]))")
    on = _run(["-c", probe], tmp_path, DJANGO_SETTINGS_MODULE="creditplan.settings", CREDITPLAN_HTTPS="1",
              CREDITPLAN_BEHIND_PROXY="1")
    assert json.loads(on.stdout.strip().splitlines()[-1]) == [True, True, True, 31536000,
                                                              ["HTTP_X_FORWARDED_PROTO", "https"]]
    off = _run(["-c", probe], tmp_path, DJANGO_SETTINGS_MODULE="creditplan.settings")
    assert json.loads(off.stdout.strip().splitlines()[-1]) == [False, False, False, 0, None]
