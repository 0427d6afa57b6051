"""Money and interest rates, exact to the minor unit, with every rounding named by the caller.

Why integers of minor units: a loan book is summed, split and reconciled millions of times; any
binary float (or a Decimal rounded by an implicit context) eventually loses a fen, and a ledger
that is off by one fen does not balance. So a ``Money`` holds an ``int`` of fen/cents, all
intermediate arithmetic is done on integers or ``fractions.Fraction`` (never on a Decimal context
with limited precision), and the only place a value is ever rounded is where a caller passes a
``Rounding`` explicitly.

Why floats are refused outright instead of converted: ``0.1`` is already wrong before it reaches
us, and silently accepting it would hide the bug in the caller. Every entry point raises
``ValidationError(code="float_money")`` for a float.

The money edge: every amount that comes from outside (a form, the API, a spreadsheet, a bank file) goes
through :func:`parse_money` / :func:`parse_minor` — the one exact parser, with one stable code per fault
(``MONEY_ERROR_CODES``) and the field named — and every amount shown goes out through
:func:`format_minor` ("12,345.67", or the plain "12345.67" of API answers; pages use the ``money``
template filter, which calls it).
"""

from __future__ import annotations

import decimal
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from creditplan.core.errors import ValidationError

__all__ = [
    "AMOUNT_CEILING_MINOR",
    "CURRENCIES",
    "MAX_MINOR",
    "MONEY_ERROR_CODES",
    "Currency",
    "Money",
    "RATE_PPM_SCALE",
    "Rounding",
    "apply_rounding",
    "bps",
    "format_minor",
    "format_rate",
    "from_ppm",
    "get_currency",
    "parse_minor",
    "parse_money",
    "parse_rate",
    "ppm",
    "round_fraction",
    "sum_money",
    "to_major",
]


class Rounding(enum.StrEnum):
    """How a value that falls between two minor units is settled.

    Products name their rounding because contracts do: Chinese lenders round half up (四舍五入)
    by default, some funding partners require banker's rounding, and fee caps are cut down.
    ``DOWN`` and ``UP`` are relative to zero (truncate / away from zero), as in :mod:`decimal`, so
    a refund rounds the same way as the charge it reverses.
    """

    HALF_UP = "half_up"
    """Ties away from zero: 2.345 -> 2.35, -2.345 -> -2.35."""
    HALF_EVEN = "half_even"
    """Banker's rounding, ties to the even neighbour: 2.345 -> 2.34, 2.355 -> 2.36."""
    DOWN = "down"
    """Towards zero (truncation): 2.349 -> 2.34, -2.349 -> -2.34."""
    UP = "up"
    """Away from zero: 2.341 -> 2.35, -2.341 -> -2.35."""

    @property
    def decimal_mode(self) -> str:
        """The :mod:`decimal` constant, for callers that must hand rounding to ``Decimal.quantize``."""
        return _DECIMAL_MODES[self]

    @classmethod
    def coerce(cls, value: Rounding | str) -> Rounding:
        """Accept the stored text of a product setting as well as the member itself."""
        if isinstance(value, Rounding):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise ValidationError(
            f"Unknown rounding {value!r}; expected one of {', '.join(m.value for m in cls)}.",
            code="unknown_rounding",
        )


_DECIMAL_MODES: dict[Rounding, str] = {
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.DOWN: decimal.ROUND_DOWN,
    Rounding.UP: decimal.ROUND_UP,
}


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency; ``exponent`` is how many minor units make one major unit (10**exponent)."""

    code: str
    exponent: int
    symbol: str
    name: str


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("CNY", 2, "¥", "Chinese yuan renminbi"),
        Currency("USD", 2, "$", "US dollar"),
        Currency("EUR", 2, "€", "Euro"),
        Currency("HKD", 2, "HK$", "Hong Kong dollar"),
        Currency("MOP", 2, "MOP$", "Macanese pataca"),
        Currency("TWD", 2, "NT$", "New Taiwan dollar"),
        Currency("GBP", 2, "£", "Pound sterling"),
        Currency("SGD", 2, "S$", "Singapore dollar"),
        Currency("AUD", 2, "A$", "Australian dollar"),
        Currency("CAD", 2, "C$", "Canadian dollar"),
        Currency("CHF", 2, "CHF", "Swiss franc"),
        Currency("JPY", 0, "JP¥", "Japanese yen"),
        Currency("KRW", 0, "₩", "South Korean won"),
    )
}
"""Deliberately small: a currency is added when a product needs it, with its exponent checked."""


def get_currency(code: str) -> Currency:
    """Look a currency up by code; unknown codes are refused rather than guessed at (exponent matters)."""
    if isinstance(code, str):
        found = CURRENCIES.get(code.strip().upper())
        if found is not None:
            return found
    raise ValidationError(f"Unknown currency {code!r}.", code="unknown_currency", field="currency")


# --------------------------------------------------------------------------------------------
# Exact rounding on integers
# --------------------------------------------------------------------------------------------


def round_fraction(value: Fraction | int, rounding: Rounding | str = Rounding.HALF_UP) -> int:
    """Round an exact rational to an integer.

    Why integers and not ``Decimal.quantize``: quantize obeys the thread's decimal context (28
    significant digits by default) and raises or rounds silently beyond it; integer division has no
    such limit, so this is the one rounding primitive everything else is built on.
    """
    mode = Rounding.coerce(rounding)
    _refuse_float(value, "Value", "pass a Fraction or int")
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise ValidationError(f"Cannot round {value!r}; expected a Fraction or int.", code="invalid_number")
    if isinstance(value, int):
        return value
    num, den = value.numerator, value.denominator  # den > 0 always for Fraction
    floor, rest = divmod(num, den)
    if rest == 0:
        return floor
    negative = num < 0
    # The value lies strictly between floor and floor + 1; away-from-zero is floor for negatives.
    towards_zero = floor + 1 if negative else floor
    away_from_zero = floor if negative else floor + 1
    if mode is Rounding.DOWN:
        return towards_zero
    if mode is Rounding.UP:
        return away_from_zero
    twice = 2 * rest
    if twice < den:
        return floor
    if twice > den:
        return floor + 1
    if mode is Rounding.HALF_UP:
        return away_from_zero
    return floor if floor % 2 == 0 else floor + 1  # HALF_EVEN


def _refuse_float(value: object, what: str, hint: str = "pass a Decimal, int or string") -> None:
    if isinstance(value, float):
        raise ValidationError(f"{what} must not be a float (got {value!r}); {hint}.", code="float_money")


# Bounds that keep a hostile Decimal such as 1E+999999999 from turning into a billion-digit int.
_MAX_DECIMAL_EXPONENT = 1000


def _decimal_to_fraction(value: Decimal, what: str, code: str) -> Fraction:
    if not value.is_finite():
        raise ValidationError(f"{what} must be a finite number, got {value}.", code=code)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, so never 'n'/'N'/'F'
    if exponent < -_MAX_DECIMAL_EXPONENT or value.adjusted() > _MAX_DECIMAL_EXPONENT:
        raise ValidationError(f"{what} {value} is out of any sensible range.", code="amount_out_of_range")
    return Fraction(value)


def _shift(value: Decimal, places: int) -> Decimal:
    """``value * 10**places``, done on the exponent so no decimal context can round the digits."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # callers pass finite values only
    return Decimal((sign, digits, exponent + places))


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without ``normalize()``, which rounds to the context and may print 4E+1."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trimmed = list(digits)
    while exponent < 0 and len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
        exponent += 1
    return Decimal((sign, tuple(trimmed), exponent))


def _exact_decimal(units: int, places: int) -> Decimal:
    """``units * 10**-places`` as a Decimal, built from its digits so no context can round it."""
    if places <= 0:
        return Decimal(units * 10 ** (-places))
    sign = 1 if units < 0 else 0
    digits = tuple(int(c) for c in str(abs(units)))
    return Decimal((sign, digits, -places))


def apply_rounding(
    value: Decimal | int, exponent: int, rounding: Rounding | str = Rounding.HALF_UP
) -> Decimal:
    """Round ``value`` to ``exponent`` decimal places (ISO 4217 sense: 2 for fen) with a named rule.

    A negative ``exponent`` rounds to tens, hundreds... (``-2`` gives whole hundreds), which limit
    and quota rules use. The result always carries exactly ``max(exponent, 0)`` places, and is never
    a negative zero, so it prints and compares the same way everywhere.
    """
    _refuse_float(value, "Value")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationError(f"Cannot round {value!r}; expected a Decimal or int.", code="invalid_number")
    if isinstance(exponent, bool) or not isinstance(exponent, int):
        raise ValidationError(f"Exponent must be an int, got {exponent!r}.", code="invalid_exponent")
    exact = (
        Fraction(value) if isinstance(value, int) else _decimal_to_fraction(value, "Value", "invalid_number")
    )
    units = round_fraction(exact * Fraction(10) ** exponent, rounding)
    if exponent < 0:
        return Decimal(units * 10 ** (-exponent))
    return _exact_decimal(units, exponent)


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------

# Plain or thousands-grouped decimal numbers only; exponent notation is refused so that an amount
# typed by a person can never mean something wildly different from what it looks like. Leading and
# trailing blanks are dropped, nothing else: "1 000" and "1,0,0" are typos, not amounts.
_AMOUNT_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_MONEY_TEXT_RE = re.compile(r"^\s*(?:([A-Za-z]{3})\s*)?([^A-Za-z\s][^A-Za-z]*?)\s*(?:([A-Za-z]{3}))?\s*$")

Factor = Decimal | int | Fraction
Ratio = Decimal | int | Fraction


def _parse_amount_text(text: str, field: str | None = None) -> Decimal:
    """The one grammar of an amount written as text: ``amount_format``, or ``not_finite`` for "NaN",
    "Infinity" and the like (which :class:`Decimal` would read)."""
    cleaned = text.strip()
    if _AMOUNT_RE.fullmatch(cleaned):
        return Decimal(cleaned.replace(",", ""))
    try:
        special = len(cleaned) <= 12 and not Decimal(cleaned).is_finite()
    except decimal.InvalidOperation:
        special = False
    subject = f"{field} ({text[:40]!r})" if field else repr(text[:40])
    if special:
        raise ValidationError(f"{subject} is not a finite amount.", code="not_finite", field=field)
    raise ValidationError(
        f"{subject} is not an amount like 12345.67 or 12,345.67.", code="amount_format", field=field
    )


def _factor_to_fraction(value: object, what: str) -> Fraction:
    _refuse_float(value, what)
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be a number, got a bool.", code="invalid_number")
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, Decimal):
        return _decimal_to_fraction(value, what, "invalid_number")
    raise ValidationError(
        f"{what} must be a Decimal, int or Fraction, got {type(value).__name__}.", code="invalid_number"
    )


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` fen/cents of ``currency``.

    Equality and hashing include the currency, so CNY 1.00 and USD 1.00 are different keys; ordering
    and arithmetic across currencies raise ``currency_mismatch`` instead of answering silently.
    Mixing Money with bare numbers in ``+``/``-`` is a programming error and raises ``TypeError``.
    """

    minor: int
    currency: str = "CNY"

    def __post_init__(self) -> None:
        _refuse_float(
            self.minor, "Money", "pass an int of minor units, or use Money.of() with a Decimal or string"
        )
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise ValidationError(
                f"Money holds an int of minor units, got {type(self.minor).__name__} {self.minor!r}; "
                "use Money.of() for major units.",
                code="invalid_money",
            )
        code = get_currency(self.currency).code
        if code != self.currency:
            object.__setattr__(self, "currency", code)

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        amount: Decimal | int | str,
        currency: str = "CNY",
        rounding: Rounding | str = Rounding.HALF_UP,
    ) -> Money:
        """From major units (yuan). Extra decimals are rounded with ``rounding``, never truncated silently."""
        _refuse_float(amount, "Amount")
        info = get_currency(currency)
        if isinstance(amount, str):
            value: Fraction = Fraction(_parse_amount_text(amount))
        elif isinstance(amount, bool):
            raise ValidationError("Amount must be a number, got a bool.", code="amount_format")
        elif isinstance(amount, int):
            return cls(amount * 10**info.exponent, info.code)
        elif isinstance(amount, Decimal):
            value = _decimal_to_fraction(amount, "Amount", "not_finite")
        else:
            raise ValidationError(
                f"Amount must be a Decimal, int or string, got {type(amount).__name__}.",
                code="amount_format",
            )
        return cls(round_fraction(value * 10**info.exponent, rounding), info.code)

    @classmethod
    def zero(cls, currency: str = "CNY") -> Money:
        return cls(0, currency)

    @classmethod
    def parse(
        cls, text: str, currency: str | None = None, rounding: Rounding | str = Rounding.HALF_UP
    ) -> Money:
        """Read what ``str()`` writes ("CNY 12,345.67", also "12,345.67 CNY" or a bare amount).

        A bare amount needs ``currency``; a text that names a different currency than ``currency``
        is refused rather than converted, because there is no exchange rate here.
        """
        if not isinstance(text, str):
            raise ValidationError(f"Expected text, got {type(text).__name__}.", code="amount_format")
        match = _MONEY_TEXT_RE.match(text)
        if match is None or (match.group(1) and match.group(3)):
            raise ValidationError(f"{text!r} is not an amount like 'CNY 12,345.67'.", code="amount_format")
        named = match.group(1) or match.group(3)
        if named and currency and get_currency(named).code != get_currency(currency).code:
            raise ValidationError(
                f"{text!r} is in {named.upper()}, expected {currency.upper()}.", code="currency_mismatch"
            )
        chosen = named or currency
        if chosen is None:
            raise ValidationError(f"{text!r} names no currency.", code="unknown_currency", field="currency")
        return cls.of(match.group(2), chosen, rounding)

    # -- views -----------------------------------------------------------------------------

    @property
    def currency_info(self) -> Currency:
        return CURRENCIES[self.currency]

    @property
    def amount(self) -> Decimal:
        """Major units, exact, always with the currency's number of places (Decimal('12.30'))."""
        return _exact_decimal(self.minor, self.currency_info.exponent)

    def format(self, *, grouping: bool = True, label: Literal["code", "symbol", "none"] = "code") -> str:
        """Human text; ``label`` picks "CNY 1.00", "¥1.00" or "1.00". The sign goes before the number."""
        number = format(self.amount, ",f" if grouping else "f")
        if label == "code":
            return f"{self.currency} {number}"
        if label == "symbol":
            symbol = self.currency_info.symbol
            return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
        return number

    def __str__(self) -> str:
        return self.format()

    # -- predicates ------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return self.minor != 0

    def is_zero(self) -> bool:
        return self.minor == 0

    def is_positive(self) -> bool:
        return self.minor > 0

    def is_negative(self) -> bool:
        return self.minor < 0

    # -- arithmetic ------------------------------------------------------------------------

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValidationError(
                f"Cannot combine {self.currency} with {other.currency}.", code="currency_mismatch"
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, other: object) -> Money:
        """Only whole-number multiples are exact without a rounding rule; use ``times`` otherwise."""
        if isinstance(other, bool) or not isinstance(other, int):
            _refuse_float(other, "Factor")
            return NotImplemented
        return Money(self.minor * other, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor >= other.minor

    def times(self, factor: Factor, rounding: Rounding | str = Rounding.HALF_UP) -> Money:
        """Multiply by a rate, a year fraction or any exact factor, rounding once, at the end.

        Accepts ``Fraction`` so that ``principal.times(rate * year_fraction(...))`` stays exact
        until this single rounding.
        """
        exact = _factor_to_fraction(factor, "Factor")
        return Money(round_fraction(self.minor * exact, rounding), self.currency)

    def allocate(self, ratios: Sequence[Ratio]) -> list[Money]:
        """Split in proportion to ``ratios`` so the parts sum exactly to this amount.

        Largest-remainder method: every part gets its exact share rounded towards zero, then the
        leftover minor units go one each to the parts with the largest dropped remainder (ties: the
        earliest part). Each part is therefore within one minor unit of its exact share, a zero ratio
        always gets zero, and a negative amount is split as the mirror image of the positive one.
        """
        if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence):
            raise ValidationError("Ratios must be a sequence of numbers.", code="invalid_ratio")
        if len(ratios) == 0:
            raise ValidationError("Cannot allocate to no parts.", code="empty_ratios")
        weights = [_factor_to_fraction(r, "Ratio") for r in ratios]
        if any(w < 0 for w in weights):
            raise ValidationError("Ratios must not be negative.", code="negative_ratio")
        total = sum(weights, Fraction(0))
        if total == 0:
            raise ValidationError("At least one ratio must be greater than zero.", code="zero_ratios")
        magnitude = abs(self.minor)
        shares = [magnitude * w / total for w in weights]
        parts = [s.numerator // s.denominator for s in shares]
        leftover = magnitude - sum(parts)
        # Largest dropped remainder first; the index breaks ties so the result is deterministic.
        order = sorted(range(len(parts)), key=lambda i: (-(shares[i] - parts[i]), i))
        for i in order[:leftover]:
            parts[i] += 1
        sign = -1 if self.minor < 0 else 1
        return [Money(sign * p, self.currency) for p in parts]

    def split(self, n: int, *, residue: Literal["first", "last"] = "first") -> list[Money]:
        """Split into ``n`` near-equal parts that sum exactly to this amount.

        The parts differ by at most one minor unit; the extra units go to the first parts by default
        (``residue="last"`` puts them on the last parts, as instalment schedules usually want).
        Negative amounts mirror positive ones. Deterministic, so a re-run reproduces the same parts.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValidationError(
                f"Cannot split into {n!r} parts; need a positive int.", code="invalid_split"
            )
        base, extra = divmod(abs(self.minor), n)
        sizes = [base + 1] * extra + [base] * (n - extra)
        if residue == "last":
            sizes.reverse()
        elif residue != "first":
            raise ValidationError(
                f"residue must be 'first' or 'last', got {residue!r}.", code="invalid_split"
            )
        sign = -1 if self.minor < 0 else 1
        return [Money(sign * s, self.currency) for s in sizes]


def sum_money(items: Iterable[Money], currency: str = "CNY") -> Money:
    """Sum that is defined for an empty iterable (the built-in ``sum`` would return the int 0)."""
    total = Money.zero(currency)
    for item in items:
        if not isinstance(item, Money):
            raise ValidationError(f"Cannot sum {type(item).__name__} as Money.", code="invalid_money")
        total = total + item
    return total


# --------------------------------------------------------------------------------------------
# The money edge: one parser in, one formatter out
# --------------------------------------------------------------------------------------------

MAX_MINOR = 2**63 - 1
"""The largest amount the database can hold: a BIGINT of minor units (92,233,720,368,547,758.07 CNY)."""

AMOUNT_CEILING_MINOR = 10**17
"""The largest amount any input accepts unless its caller names a larger ``maximum``: 1,000,000,000,000,000.00
(one quadrillion yuan, 千万亿元) — far above the balance sheet of any bank, so no real plan, capital, quota, loan or
income is refused — and small enough that ninety such amounts still add up inside a BIGINT, so a limit plus an
adjustment, a counter, or a sum over a quota's children never overflows the database (a typed
"99999999999999999" capital was a 500 on the plan's dashboard). Every form and API amount goes through
:func:`parse_minor`, so every amount is bounded the same way; a field with a tighter plausible range (an income,
a payment) names its own ``maximum``."""

MONEY_ERROR_CODES: dict[str, str] = {
    "required": "no amount given (None, or blank text)",
    "float_money": "a binary float: send text such as '12345.67', an int or a Decimal",
    "amount_format": "not an amount: text other than 12345.67 / 12,345.67, or not a number at all",
    "not_finite": "NaN or an infinity",
    "too_many_decimals": "finer than the currency's minor unit (more than 2 decimals for CNY)",
    "negative_amount": "below zero where only amounts of zero or more are allowed",
    "not_positive": "zero where a positive amount is required",
    "amount_out_of_range": "above the caller's maximum, or beyond AMOUNT_CEILING_MINOR (either sign)",
    "currency_mismatch": "a Money in another currency than the one asked for",
}
"""Every code :func:`parse_money` raises, with the fault it names: one code per fault, everywhere."""


# Wide enough that converting a value already known to fit (at most 19 integer digits, nothing non-zero below
# the minor unit) is exact, whatever decimal context the caller has set.
_EXACT = decimal.Context(prec=60, traps=[decimal.InvalidOperation])


def _decimal_to_minor(amount: Decimal, places: int, field: str, shown: object) -> int:
    """Exact ``amount * 10**places`` as an int: refuses (``too_many_decimals``) any non-zero digit below the
    minor unit ("1.10" is fine, "1.101" is not), and says "out of range" (MAX_MINOR + 1) for a value of 20
    integer digits or more before building a possibly huge int."""
    _sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # callers pass finite values only
    shift = exponent + places
    if shift < 0 and any(digits[shift:]):
        raise ValidationError(f"{field} has more than {places} decimals ({shown}).", code="too_many_decimals",
                              field=field)
    if len(digits) + shift > 19 and any(digits):  # >= 10**19 > MAX_MINOR
        return MAX_MINOR + 1
    return int(amount.scaleb(places, _EXACT))


def _parse_minor(value: object, field: str, exponent: int, code: str, allow_negative: bool) -> int:
    if isinstance(value, float):
        raise ValidationError(
            f"{field} must not be a float; send the amount as text such as '12345.67'.",
            code="float_money",
            field=field,
        )
    if isinstance(value, Money):
        if value.currency != code:
            raise ValidationError(
                f"{field} is in {value.currency}, expected {code}.", code="currency_mismatch", field=field
            )
        return value.minor
    if isinstance(value, str):
        if not value.strip():
            raise ValidationError(f"{field} is required.", code="required", field=field)
        amount = _parse_amount_text(value, field)
    elif value is None:
        raise ValidationError(f"{field} is required.", code="required", field=field)
    elif isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationError(
            f"{field} must be an amount (text, int or Decimal), got {type(value).__name__}.",
            code="amount_format",
            field=field,
        )
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        amount = value
        if not amount.is_finite():
            raise ValidationError(f"{field} must be a finite amount, got {amount}.", code="not_finite", field=field)
    if not allow_negative and amount < 0:
        raise ValidationError(f"{field} cannot be negative ({value}).", code="negative_amount", field=field)
    return _decimal_to_minor(amount, exponent, field, value)


def parse_minor(
    value: object,
    field: str,
    *,
    currency: str = "CNY",
    allow_zero: bool = True,
    allow_negative: bool = False,
    maximum: int | None = None,
) -> int:
    """An amount from outside — text ("12345.67", "12,345.67", "-5"), an int or a Decimal of major units
    (yuan), or a ``Money`` — as an exact int of minor units (fen), or a ``ValidationError`` naming ``field``
    and one of ``MONEY_ERROR_CODES``. Nothing is ever rounded: a value finer than the currency's minor unit is
    refused.

    ``allow_zero`` / ``allow_negative`` say what the caller accepts; ``maximum`` (minor units, inclusive)
    caps it. Without one, :data:`AMOUNT_CEILING_MINOR` caps the amount either way (a negative one too); a caller
    may name a larger ``maximum`` on purpose, and nothing beyond a BIGINT of minor units is ever accepted.
    The refusal carries the cap (``extra["maximum_minor"]``) so pages can say it.
    Checks run in this order: required, float, type and format, finite, sign, decimals, range, zero.
    """
    info = CURRENCIES.get(currency) or get_currency(currency)
    minor = _parse_minor(value, field, info.exponent, info.code, allow_negative)
    if minor < 0 and not allow_negative:
        raise ValidationError(f"{field} cannot be negative.", code="negative_amount", field=field)
    ceiling = AMOUNT_CEILING_MINOR if maximum is None or maximum <= AMOUNT_CEILING_MINOR else min(maximum, MAX_MINOR)
    top = ceiling if maximum is None else min(maximum, ceiling)
    if minor > top or minor < -ceiling:
        limit = top if minor > 0 else ceiling
        raise ValidationError(
            f"{field} is out of range: at most {format_minor(limit, info.code)} {info.code} is allowed here.",
            code="amount_out_of_range",
            field=field,
            extra={"maximum_minor": limit, "currency": info.code},
        )
    if minor == 0 and not allow_zero:
        raise ValidationError(f"{field} must be greater than zero.", code="not_positive", field=field)
    return minor


def parse_money(
    value: object,
    field: str,
    *,
    currency: str = "CNY",
    allow_zero: bool = True,
    allow_negative: bool = False,
    maximum: int | None = None,
) -> Money:
    """:func:`parse_minor`, answering a ``Money`` of ``currency``."""
    minor = parse_minor(
        value,
        field,
        currency=currency,
        allow_zero=allow_zero,
        allow_negative=allow_negative,
        maximum=maximum,
    )
    return Money(minor, get_currency(currency).code)


def to_major(minor: int, currency: str = "CNY") -> Decimal:
    """Minor units → major units, exactly, with the currency's places: 200000000 → Decimal('2000000.00').
    For a spreadsheet cell or a figure to compute with; text for people comes from :func:`format_minor`."""
    return Money(minor, currency).amount


def format_minor(minor: int, currency: str = "CNY", *, grouping: bool = True) -> str:
    """The one way an amount is written: "12,345.67" (pages, messages, documents) or, with
    ``grouping=False``, the plain "12345.67" that API answers and machine-read files carry. Always the
    currency's number of places, the sign in front ("-1,000.00"), no currency label (the column or
    sentence says it)."""
    if currency in _TWO_PLACES and type(minor) is int:  # the common case, on the decision's hot path: plain divmod
        whole, cents = divmod(abs(minor), 100)
        text = f"{whole:,}" if grouping else str(whole)
        return f"{'-' if minor < 0 else ''}{text}.{cents:02d}"
    return Money(minor, currency).format(grouping=grouping, label="none")


_TWO_PLACES = frozenset({"CNY", "USD", "EUR", "HKD", "GBP"})


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------

RATE_PPM_SCALE = 1_000_000
"""Rates are stored as integer parts per million: 3.95 % = 0.0395 = 39_500 ppm.

Why ppm is enough: the resolution is 0.0001 % (0.01 bp). The LPR is published to 1 bp, spreads are
quoted in whole bp, contract rates to at most 4 decimal places of a percent and daily penalty
rates as 万分之N (N/10000 = N*100 ppm). A rate that does not fit (a derived daily or monthly rate,
say) is refused by :func:`ppm` unless the caller names a rounding, so nothing is lost silently.
"""

_RATE_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(%|bps?|‰)?$", re.IGNORECASE)
_RATE_PLACES = {None: 0, "%": 2, "‰": 3, "bp": 4, "bps": 4}


def _check_rate(rate: Decimal, shown: object) -> Decimal:
    if rate < 0:
        raise ValidationError(f"Rate {shown} is negative.", code="negative_rate", field="rate")
    if rate > 1:
        raise ValidationError(
            f"Rate {shown} is above 100 %; write 3.95 % as '3.95%' or '0.0395'.",
            code="rate_out_of_range",
            field="rate",
        )
    return rate


def parse_rate(value: str | Decimal | int) -> Decimal:
    """A rate as a fraction of one: "3.95%" -> Decimal('0.0395'), "0.0395", "395bp", "5‰", Decimal.

    Why 0 <= rate <= 1 is enforced: a bare "3.95" almost always means a percent someone forgot to
    mark, and letting it through would price a loan at 395 %. Spreads, which may be negative, are
    built with :func:`bps` instead. The result is exact (no rescaling through a decimal context).
    """
    _refuse_float(value, "Rate")
    if isinstance(value, bool):
        raise ValidationError("Rate must be a number, got a bool.", code="invalid_rate", field="rate")
    if isinstance(value, int):
        return _check_rate(Decimal(value), value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(f"Rate must be finite, got {value}.", code="invalid_rate", field="rate")
        _decimal_to_fraction(value, "Rate", "invalid_rate")
        return _check_rate(value, value)
    if not isinstance(value, str):
        raise ValidationError(
            f"Rate must be text, a Decimal or an int, got {type(value).__name__}.",
            code="invalid_rate",
            field="rate",
        )
    match = _RATE_RE.match(value.strip())
    if match is None:
        raise ValidationError(
            f"{value!r} is not a rate like '3.95%' or '0.0395'.", code="invalid_rate", field="rate"
        )
    number = Decimal(match.group(1))
    unit = match.group(2).lower() if match.group(2) else None
    rate = _shift(number, -_RATE_PLACES[unit])
    return _check_rate(rate, value.strip())


def ppm(rate: Decimal, rounding: Rounding | str | None = None) -> int:
    """Integer parts per million for storage. Refuses (``rate_precision``) a rate finer than 1 ppm
    unless ``rounding`` says how to round it."""
    _refuse_float(rate, "Rate")
    if not isinstance(rate, Decimal | int) or isinstance(rate, bool):
        raise ValidationError("Rate must be a Decimal.", code="invalid_rate", field="rate")
    exact = Fraction(rate) if isinstance(rate, int) else _decimal_to_fraction(rate, "Rate", "invalid_rate")
    scaled = exact * RATE_PPM_SCALE
    if scaled.denominator != 1 and rounding is None:
        raise ValidationError(
            f"Rate {rate} is finer than one part per million; name a rounding to store it.",
            code="rate_precision",
            field="rate",
        )
    return round_fraction(scaled, rounding or Rounding.HALF_UP)


def from_ppm(value: int) -> Decimal:
    """Back from storage: 39_500 -> Decimal('0.039500') (always six places, exact)."""
    _refuse_float(value, "Rate")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"Stored rate must be an int of ppm, got {value!r}.", code="invalid_rate")
    return _exact_decimal(value, 6)


def bps(n: int | Decimal | str) -> Decimal:
    """Basis points as a rate: bps(-20) -> Decimal('-0.0020'). Negative allowed: LPR − 20 bp is common."""
    _refuse_float(n, "Basis points")
    if isinstance(n, bool):
        raise ValidationError("Basis points must be a number, got a bool.", code="invalid_rate")
    if isinstance(n, int):
        return _exact_decimal(n, 4)
    if isinstance(n, str):
        try:
            n = Decimal(n.strip())
        except decimal.InvalidOperation:
            raise ValidationError(f"{n!r} is not a number of basis points.", code="invalid_rate")
    if not isinstance(n, Decimal):
        raise ValidationError(f"Basis points must be an int or Decimal, got {n!r}.", code="invalid_rate")
    _decimal_to_fraction(n, "Basis points", "invalid_rate")
    return _shift(n, -4)


def format_rate(rate: Decimal, places: int | None = None, rounding: Rounding | str = Rounding.HALF_UP) -> str:
    """ "3.95%" for Decimal('0.0395'); with ``places`` the percent is rounded to that many decimals."""
    _refuse_float(rate, "Rate")
    if not isinstance(rate, Decimal):
        raise ValidationError("Rate must be a Decimal.", code="invalid_rate")
    if not rate.is_finite():
        raise ValidationError(f"Rate must be finite, got {rate}.", code="invalid_rate")
    percent = _shift(rate, 2)
    percent = apply_rounding(percent, places, rounding) if places is not None else _plain(percent)
    return f"{percent:f}%"
