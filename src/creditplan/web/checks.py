"""The keys and settings a bank must not get wrong: reported by `creditplan check --deploy`, and enforced when
the server starts (`creditplan serve`, and the WSGI application for gunicorn run directly).

Development mode (CREDITPLAN_DEVELOPMENT=1) makes its own random keys (settings.py), so it needs none of them;
anywhere else each key must be configured, and the development secret key that an earlier release kept in the
repository is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

# SHA-256 of the development secret key an earlier release kept in the repository (the key itself is gone):
# every key derived from it can be computed by anyone, so it is refused outside development mode.
REPOSITORY_SECRET_KEY_SHA256 = "c68a259b22391f7719390c1388e29bf8d659c9453346a0c3a5702488d62c2589"

HOW_TO_MAKE = {
    "CREDITPLAN_SECRET_KEY": "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'",
    "CREDITPLAN_PII_KEY": "python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'",
    "CREDITPLAN_LEDGER_SIGNING_KEY": "creditplan ledger new-key",
}


def development() -> bool:
    return bool(getattr(settings, "DEVELOPMENT", False))


def _secret_key() -> str:
    try:
        return str(settings.SECRET_KEY or "")
    except ImproperlyConfigured:  # Django refuses to hand out an empty secret key
        return ""


def is_repository_key(secret: str) -> bool:
    return hashlib.sha256(secret.encode()).hexdigest() == REPOSITORY_SECRET_KEY_SHA256


def _pii_key_problem(keys: list[str]) -> str | None:
    for i, key in enumerate(keys, 1):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, ValueError, UnicodeEncodeError):
            ok = False
        if not ok:
            return f"key {i} is not 32 bytes in urlsafe base64"
    return None


def key_problems() -> list[tuple[str, str]]:
    """(variable, what is wrong with it) for each key the server needs and does not have; empty when it may start.

    Missing keys count outside development mode only; a malformed key counts everywhere."""
    from creditplan.ledger.services import SIGNING_KEY_ENV, signing_key, signing_key_configured

    problems: list[tuple[str, str]] = []
    dev = development()
    secret = _secret_key()
    if not secret:
        if not dev:
            problems.append(("CREDITPLAN_SECRET_KEY", "is not set"))
    elif is_repository_key(secret) and not dev:
        problems.append(("CREDITPLAN_SECRET_KEY", "is the development key published in the repository"))
    pii = list(getattr(settings, "PII_KEYS", []) or [])
    if not pii:
        if not dev:
            problems.append(("CREDITPLAN_PII_KEY", "is not set"))
    elif (bad := _pii_key_problem(pii)) is not None:
        problems.append(("CREDITPLAN_PII_KEY", bad))
    if not signing_key_configured():
        if not dev:
            problems.append((SIGNING_KEY_ENV, "is not set"))
    else:
        try:
            signing_key()
        except ImproperlyConfigured as exc:
            problems.append((SIGNING_KEY_ENV, str(exc).removeprefix(SIGNING_KEY_ENV).strip()))
    return problems


def startup_refusal() -> str | None:
    """The one message naming every key the server lacks and how to make each, or None when it may start."""
    problems = key_problems()
    if not problems:
        return None
    width = max(len(name) for name, _ in problems)
    lines = ["creditplan will not start: these keys are missing or unusable (keep them secret and backed up; "
             "ID and phone numbers cannot be read without CREDITPLAN_PII_KEY):"]
    for name, what in problems:
        lines.append(f"  {name:<{width}}  {what}; make one with: {HOW_TO_MAKE[name]}")
    lines.append("On a development machine set CREDITPLAN_DEVELOPMENT=1 instead: random keys are then made once and "
                 f"kept in {getattr(settings, 'DEVELOPMENT_KEY_FILE', 'var/development-keys.json')}.")
    return "\n".join(lines)


def refuse_unsafe_start() -> None:
    """Raise ImproperlyConfigured (with `startup_refusal`'s message) unless the server has its keys."""
    message = startup_refusal()
    if message:
        raise ImproperlyConfigured(message)


@register(deploy=True)
def creditplan_settings(app_configs: Any, **kwargs: Any) -> list:
    """`creditplan check --deploy`: keys, development mode, database. Silent about keys in development mode
    only (DEBUG does not silence it: a server with debug pages on is reported, by Django's own check too)."""
    problems: list = []
    dev = development()
    ids = {"CREDITPLAN_SECRET_KEY": "creditplan.E002", "CREDITPLAN_PII_KEY": "creditplan.E001"}
    for name, what in key_problems():
        if name in ids:  # the ledger's key is reported by creditplan.ledger.checks
            problems.append(Error(f"{name} {what}", hint=f"make one with: {HOW_TO_MAKE[name]}", id=ids[name]))
    if dev:
        problems.append(Warning(
            "CREDITPLAN_DEVELOPMENT is on: keys not configured are made at random and kept in "
            f"{settings.DEVELOPMENT_KEY_FILE}", hint="never on a server: unset it and configure every key",
            id="creditplan.W001"))
        return problems
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("sqlite3"):
        problems.append(Warning("SQLite in production: use PostgreSQL for concurrent branches",
                                hint="set CREDITPLAN_DATABASE_URL=postgresql://…", id="creditplan.W003"))
    if not getattr(settings, "HTTPS", False):
        problems.append(Warning(
            "CREDITPLAN_HTTPS is not on: session cookies can travel over plain http and browsers are not told to "
            "use https", hint="serve over https and set CREDITPLAN_HTTPS=1", id="creditplan.W004"))
    return problems
