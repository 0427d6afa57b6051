"""Dates as the loans app takes them from a person, a form, an API call or a file. (Amounts go through the one
money edge: `creditplan.core.money.parse_minor` in, `format_minor` out.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from creditplan.core.errors import ValidationError


def parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"{field} must be a date (YYYY-MM-DD), got {value!r}", field=field,
                              code="invalid_date") from None
