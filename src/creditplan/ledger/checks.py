"""`creditplan check` findings for the ledger: the key that signs tree heads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def ledger_signing_key(app_configs: Any, **kwargs: Any) -> list:
    from creditplan.ledger.services import SIGNING_KEY_ENV, signing_key, signing_key_configured

    if not signing_key_configured():
        if settings.DEBUG:  # development and the demo: a derived key is expected, say nothing
            return []
        return [Error(
            f"{SIGNING_KEY_ENV} is not set: tree heads would be signed with a key derived from the secret key",
            hint="generate one with `creditplan ledger new-key` and keep its public key with your auditors",
            id="creditplan.E011",
        )]
    try:
        signing_key()
    except Exception as exc:  # noqa: BLE001 - any misconfiguration is reported, not raised
        return [Error(str(exc), id="creditplan.E012")]
    return []
