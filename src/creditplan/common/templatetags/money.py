"""`{% load money %}` — the one way a page shows an amount: `{{ q.limit_minor|money }}` → "12,345.67".

The value is an int of minor units (fen), as services hand them out, or a `Money` (its own currency); None or
"" shows nothing. `{{ amount_minor|money:"USD" }}` names the currency of a bare int. A float or a Decimal of
yuan is a programming error (the filter cannot know whether it holds yuan or fen) and raises TypeError, so a
test of the page finds it. The text is `creditplan.core.money.format_minor`'s: the same digits, separators
and places in every language (a bank reads 1,234,567.89 in Chinese too).
"""

from __future__ import annotations

from django import template

from creditplan.core.money import Money, format_minor

register = template.Library()


@register.filter(is_safe=True)
def money(value: int | Money | None, currency: str = "CNY") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return value.format(label="none")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"the money filter takes an int of minor units or a Money, got {type(value).__name__}")
    return format_minor(value, currency)
