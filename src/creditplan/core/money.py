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
    "CURRENCIES",
    "Currency",
    "Money",
    "RATE_PPM_SCALE",
    "Rounding",
    "apply_rounding",
    "bps",
    "format_rate",
    "from_ppm",
    "get_currency",
    "parse_rate",
    "ppm",
    "round_fraction",
    "sum_money",
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
# typed by a person can never mean something wildly different from what it looks like.
_AMOUNT_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[+-]?\.\d+$")
_MONEY_TEXT_RE = re.compile(r"^\s*(?:([A-Za-z]{3})\s*)?([^A-Za-z\s][^A-Za-z]*?)\s*(?:([A-Za-z]{3}))?\s*$")

Factor = Decimal | int | Fraction
Ratio = Decimal | int | Fraction


def _parse_amount_text(text: str) -> Decimal:
    cleaned = text.strip().replace(" ", "")
    if not _AMOUNT_RE.match(cleaned):
        raise ValidationError(f"{text!r} is not an amount like 12345.67 or 12,345.67.", code="invalid_amount")
    return Decimal(cleaned.replace(",", ""))


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
            raise ValidationError("Amount must be a number, got a bool.", code="invalid_amount")
        elif isinstance(amount, int):
            return cls(amount * 10**info.exponent, info.code)
        elif isinstance(amount, Decimal):
            value = _decimal_to_fraction(amount, "Amount", "invalid_amount")
        else:
            raise ValidationError(
                f"Amount must be a Decimal, int or string, got {type(amount).__name__}.",
                code="invalid_amount",
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
            raise ValidationError(f"Expected text, got {type(text).__name__}.", code="invalid_amount")
        match = _MONEY_TEXT_RE.match(text)
        if match is None or (match.group(1) and match.group(3)):
            raise ValidationError(f"{text!r} is not an amount like 'CNY 12,345.67'.", code="invalid_amount")
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
