"""Amounts and dates as the loans app takes them from a person, a form, an API call or a file, and gives amounts
back in yuan. (One place each; the one money parser of core.money will replace `to_minor` and `yuan`.)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from creditplan.core.errors import ValidationError
from creditplan.core.money import Money


def to_minor(value: Any, field: str, *, allow_zero: bool = False, currency: str = "CNY") -> int:
    """Yuan text / Decimal / int → minor units, refusing floats, negatives and sub-fen precision by name: money
    typed by a person or a bank file is taken exactly as written or not at all."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationError(f"{field} is required", field=field, code="required")
    if isinstance(value, float):
        raise ValidationError(f"{field} must not be a float; send text such as '1234.56'", field=field,
                              code="float_money")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except ArithmeticError:
        raise ValidationError(f"{field} must be an amount such as 1234.56, got {value!r}", field=field,
                              code="invalid_amount") from None
    if not amount.is_finite():
        raise ValidationError(f"{field} must be a finite amount", field=field, code="invalid_amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationError(f"{field} has more than 2 decimals ({value})", field=field, code="sub_minor_amount")
    minor = Money.of(amount, currency).minor
    if minor < 0 or (minor == 0 and not allow_zero):
        raise ValidationError(f"{field} must be positive", field=field, code="not_positive")
    return minor


def yuan(minor: int) -> Decimal:
    return Money(int(minor), "CNY").amount


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
