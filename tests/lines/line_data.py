"""Shared helpers of the credit-line tests (a module of its own: test files import it, never a conftest)."""

from __future__ import annotations

import datetime as dt

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def in_a_year() -> str:
    return (dt.date.today() + dt.timedelta(days=365)).isoformat()
