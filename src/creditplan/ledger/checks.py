"""`creditplan check` findings for the ledger: the key that signs tree heads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def ledger_signing_key(app_configs: Any, **kwargs: Any) -> list:
    from creditplan.ledger.services import SIGNING_KEY_ENV, signing_key, signing_key_configured

    if not signing_key_configured():
        problem = Error if not settings.DEBUG else Warning
        return [problem(
            f"{SIGNING_KEY_ENV} is not set: tree heads are signed with a key derived from the secret key",
            hint="generate one with `creditplan ledger new-key` and keep its public key with your auditors",
            id="creditplan.E011" if problem is Error else "creditplan.W011",
        )]
    try:
        signing_key()
    except Exception as exc:  # noqa: BLE001 - any misconfiguration is reported, not raised
        return [Error(str(exc), id="creditplan.E012")]
    return []
