"""Log-in throttling: exponential back-off per user name and per client address, shared by every server process.

Why: a password check (Argon2id) costs about 0.1 s and 100 MiB, and nothing stopped a guesser from trying a
password after another. Here the count of failed log-ins in a row is kept in the database (one row per user name
typed and one per address), and it is read BEFORE the password is checked, so a refused attempt costs one indexed
query. After `free` failures, each further failure locks the name (or address) for `base_seconds`, doubled each
time, at most `max_seconds` (settings.LOGIN_THROTTLE); while locked, every attempt is refused — the right
password too — without being counted. A successful log-in clears the user's count; `window_seconds` without a
failure clears a count too.

A locked name cannot log in from anywhere for a while: that is the price of stopping a guesser who changes
addresses, and why the longest lock is a quarter of an hour. Requests that arrive together are checked before
any of them is counted, so a burst gets at most as many password checks as the server has workers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from creditplan.core.errors import CreditplanError
from creditplan.org.models import LoginThrottle

_DEFAULTS = {
    "user": {"free": 5, "base_seconds": 2, "max_seconds": 900, "window_seconds": 86400},
    "address": {"free": 20, "base_seconds": 2, "max_seconds": 900, "window_seconds": 3600},
}


class TooManyAttempts(CreditplanError):
    """Log-in refused before the password is checked: too many failures in a row. `retry_after` in seconds."""

    http_status = 429
    default_code = "too_many_attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(f"too many failed log-ins; try again in {self.retry_after} seconds",
                         extra={"retry_after": self.retry_after})


def now() -> datetime:
    """The throttle's clock (tests move it)."""
    return timezone.now()


@dataclass(frozen=True)
class Policy:
    free: int
    base_seconds: float
    max_seconds: float
    window_seconds: float

    def lock_for(self, failures: int) -> timedelta | None:
        """How long a name or address with `failures` failures in a row is locked (None: not at all)."""
        if failures <= self.free:
            return None
        exponent = min(failures - self.free - 1, 40)
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2 ** exponent))


def policy(scope: str) -> Policy:
    configured = {**_DEFAULTS[scope], **getattr(settings, "LOGIN_THROTTLE", {}).get(scope, {})}
    return Policy(int(configured["free"]), float(configured["base_seconds"]), float(configured["max_seconds"]),
                  float(configured["window_seconds"]))


def user_key(username: str) -> str:
    return "user:" + hashlib.sha256((username or "").strip().casefold().encode("utf-8")).hexdigest()


def address_key(address: str) -> str | None:
    """IPv4 per address, IPv6 per /64 (one subscriber's block); None when there is no usable address."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return "addr:" + str(ipaddress.IPv6Network((ip, 64), strict=False))
    return "addr:" + str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def client_address(meta: Mapping[str, Any]) -> str:
    """The client's address: REMOTE_ADDR, or behind a reverse proxy (CREDITPLAN_BEHIND_PROXY=1) the address the
    proxy appended last to X-Forwarded-For (what the client itself sent before it cannot be trusted)."""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = [a.strip() for a in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return str(meta.get("REMOTE_ADDR", "") or "")


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    keys = [("user", user_key(username))]
    akey = address_key(address)
    if akey:
        keys.append(("address", akey))
    return keys


def check(username: str, address: str) -> None:
    """Raise TooManyAttempts while the name or the address is locked. One indexed query, nothing written."""
    at = now()
    until = (LoginThrottle.objects.filter(key__in=[k for _, k in _keys(username, address)], locked_until__gt=at)
             .order_by("-locked_until").values_list("locked_until", flat=True).first())
    if until is not None:
        raise TooManyAttempts(math.ceil((until - at).total_seconds()))


def record_failure(username: str, address: str) -> None:
    """Count a failed log-in against the name and the address (each in its own committed transaction: the caller
    goes on to refuse, and the count must survive that)."""
    at = now()
    for scope, key in _keys(username, address):
        rules = policy(scope)
        with transaction.atomic():
            row = LoginThrottle.objects.select_for_update().filter(key=key).first()
            if row is None:
                try:
                    with transaction.atomic():
                        row = LoginThrottle.objects.create(key=key, failures=0, last_failure_at=at)
                except IntegrityError:  # created meanwhile by another process
                    row = LoginThrottle.objects.select_for_update().get(key=key)
                _forget_old(at)
            if row.last_failure_at <= at - timedelta(seconds=rules.window_seconds):
                row.failures = 0
            row.failures += 1
            row.last_failure_at = at
            lock = rules.lock_for(row.failures)
            row.locked_until = at + lock if lock is not None else None
            row.save(update_fields=["failures", "last_failure_at", "locked_until"])


def record_success(username: str) -> None:
    """A successful log-in clears the user's count (the address's stays: others may be guessing from there)."""
    LoginThrottle.objects.filter(key=user_key(username)).delete()


def _forget_old(at: datetime) -> None:
    """Rows past every window and lock mean nothing any more: dropped when a new one is made, so that names
    typed at random do not pile up."""
    longest = max(policy(s).window_seconds for s in _DEFAULTS)
    (LoginThrottle.objects.filter(last_failure_at__lt=at - timedelta(seconds=longest))
     .exclude(locked_until__gt=at).delete())
