"""`creditplan check` findings specific to the product: keys and database settings a bank must not get wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def creditplan_settings(app_configs: Any, **kwargs: Any) -> list:
    problems: list = []
    if not settings.PII_KEYS:
        problem = Error if not settings.DEBUG else Warning
        problems.append(problem(
            "CREDITPLAN_PII_KEY is not set: personal data is encrypted with a key derived from the secret key",
            hint="generate one: python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'",
            id="creditplan.E001" if problem is Error else "creditplan.W001",
        ))
    if settings.DEBUG:
        problems.append(Warning("CREDITPLAN_DEBUG=1: development mode (fine for the demo, not for production)",
                                id="creditplan.W002"))
    engine = settings.DATABASES["default"]["ENGINE"]
    if not settings.DEBUG and engine.endswith("sqlite3"):
        problems.append(Warning("SQLite in production: use PostgreSQL for concurrent branches",
                                hint="set CREDITPLAN_DATABASE_URL=postgresql://…", id="creditplan.W003"))
    return problems
