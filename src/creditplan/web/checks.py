"""`creditplan check` findings specific to the product: keys and database settings a bank must not get wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def creditplan_settings(app_configs: Any, **kwargs: Any) -> list:
    """Silent in development (the demo derives keys from the development secret); strict in production."""
    problems: list = []
    if settings.DEBUG:
        return problems
    if not settings.PII_KEYS:
        problems.append(Error(
            "CREDITPLAN_PII_KEY is not set: personal data would be encrypted with a key derived from the secret key",
            hint="generate one: python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'",
            id="creditplan.E001",
        ))
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("sqlite3"):
        problems.append(Warning("SQLite in production: use PostgreSQL for concurrent branches",
                                hint="set CREDITPLAN_DATABASE_URL=postgresql://…", id="creditplan.W003"))
    return problems
