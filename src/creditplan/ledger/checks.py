"""`creditplan check --deploy` findings for the ledger: the key that signs tree heads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register(deploy=True)
def ledger_signing_key(app_configs: Any, **kwargs: Any) -> list:
    """Outside development mode the signing key must be configured (development mode makes its own, at random);
    a configured key that cannot be used is an error everywhere. DEBUG silences nothing."""
    from creditplan.ledger.services import SIGNING_KEY_ENV, signing_key, signing_key_configured

    if not signing_key_configured():
        if getattr(settings, "DEVELOPMENT", False):
            return []
        return [Error(
            f"{SIGNING_KEY_ENV} is not set: tree heads cannot be signed",
            hint="generate one with `creditplan ledger new-key` and keep its public key with your auditors",
            id="creditplan.E011",
        )]
    try:
        signing_key()
    except Exception as exc:  # noqa: BLE001 - any misconfiguration is reported, not raised
        return [Error(str(exc), id="creditplan.E012")]
    return []
