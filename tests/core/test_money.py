"""Money must be exact: no float accepted, every split sums back, every rounding is the named one."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.errors import ValidationError
from creditplan.core.money import (
    CURRENCIES,
    Money,
    Rounding,
    apply_rounding,
    bps,
    format_rate,
    from_ppm,
    get_currency,
    parse_rate,
    ppm,
    round_fraction,
    sum_money,
)

FAST = settings(max_examples=200, deadline=None)

amounts = st.integers(min_value=-(10**15), max_value=10**15)
finite_floats = st.floats(allow_nan=True, allow_infinity=True)
ratio_lists = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12).filter(any)
decimal_ratio_lists = st.lists(
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=8,
).filter(lambda xs: any(x > 0 for x in xs))


def code_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return excinfo.value.code


# ------------------------------------------------------------------------------------ floats


@FAST
@given(finite_floats)
def test_constructor_refuses_floats(value: float) -> None:
    with pytest.raises(ValidationError) as exc:
        Money(value)  # type: ignore[arg-type]
    assert code_of(exc) == "float_money"


@FAST
@given(finite_floats)
def test_of_refuses_floats(value: float) -> None:
    with pytest.raises(ValidationError) as exc:
        Money.of(value)  # type: ignore[arg-type]
    assert code_of(exc) == "float_money"


@FAST
@given(finite_floats, amounts)
def test_times_refuses_floats(value: float, minor: int) -> None:
    with pytest.raises(ValidationError) as exc:
        Money(minor).times(value)  # type: ignore[arg-type]
    assert code_of(exc) == "float_money"


@FAST
@given(finite_floats)
def test_parse_rate_refuses_floats(value: float) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_rate(value)  # type: ignore[arg-type]
    assert code_of(exc) == "float_money"


@pytest.mark.parametrize(
    "call",
    [
        lambda: Money(100) * 1.5,
        lambda: Money(100).allocate([0.5, 0.5]),
        lambda: apply_rounding(1.5, 2),  # type: ignore[arg-type]
        lambda: ppm(0.0395),  # type: ignore[arg-type]
        lambda: bps(1.5),  # type: ignore[arg-type]
        lambda: from_ppm(39500.0),  # type: ignore[arg-type]
    ],
)
def test_floats_refused_elsewhere(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        call()
    assert code_of(exc) == "float_money"


@pytest.mark.parametrize("bad", [True, Decimal("1"), "100", None])
def test_constructor_wants_int_minor_units(bad: object) -> None:
    with pytest.raises(ValidationError) as exc:
        Money(bad)  # type: ignore[arg-type]
    assert code_of(exc) == "invalid_money"


# ------------------------------------------------------------------------------ construction


def test_of_reads_plain_and_grouped_text() -> None:
    assert Money.of("12,345.67") == Money(1_234_567)
    assert Money.of("12345.67") == Money(1_234_567)
    assert Money.of(" -1,000 ") == Money(-100_000)
    assert Money.of(".5") == Money(50)
    assert Money.of(7) == Money(700)
    assert Money.of(7, "JPY") == Money(7, "JPY")
    assert Money.of(Decimal("0.01")) == Money(1)


@pytest.mark.parametrize(
    "text", ["", "abc", "1e3", "12,34.5", "1,2345", "1.2.3", "--1", "NaN", "Infinity", "1,000,"]
)
def test_of_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Money.of(text)
    assert code_of(exc) == "invalid_amount"


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")]
)
def test_of_refuses_non_finite_decimals(value: Decimal) -> None:
    with pytest.raises(ValidationError) as exc:
        Money.of(value)
    assert code_of(exc) == "invalid_amount"


def test_of_refuses_absurd_exponents_instead_of_hanging() -> None:
    with pytest.raises(ValidationError) as exc:
        Money.of(Decimal("1E+999999999"))
    assert code_of(exc) == "amount_out_of_range"


def test_unknown_currency_refused_and_case_normalised() -> None:
    with pytest.raises(ValidationError) as exc:
        Money(1, "XXX")
    assert code_of(exc) == "unknown_currency"
    with pytest.raises(ValidationError):
        get_currency("RMB")
    assert Money(1, "usd").currency == "USD"
    assert Money(1, "usd") == Money(1, "USD")
    assert CURRENCIES["JPY"].exponent == 0 and CURRENCIES["CNY"].exponent == 2


@pytest.mark.parametrize(
    ("text", "rounding", "minor"),
    [
        ("2.345", Rounding.HALF_UP, 235),
        ("2.345", Rounding.HALF_EVEN, 234),
        ("2.355", Rounding.HALF_EVEN, 236),
        ("2.345", Rounding.DOWN, 234),
        ("2.341", Rounding.UP, 235),
        ("2.340", Rounding.UP, 234),
        ("-2.345", Rounding.HALF_UP, -235),
        ("-2.345", Rounding.HALF_EVEN, -234),
        ("-2.355", Rounding.HALF_EVEN, -236),
        ("-2.349", Rounding.DOWN, -234),
        ("-2.341", Rounding.UP, -235),
        ("2.3449999", Rounding.HALF_UP, 234),
        ("0.005", Rounding.HALF_UP, 1),
        ("0.005", Rounding.HALF_EVEN, 0),
        ("-0.004", Rounding.HALF_UP, 0),
    ],
)
def test_rounding_modes_on_known_cases(text: str, rounding: Rounding, minor: int) -> None:
    assert Money.of(text, rounding=rounding).minor == minor
    assert Money.of(Decimal(text), rounding=rounding.value).minor == minor
    expected = Decimal(minor).scaleb(-2)
    assert apply_rounding(Decimal(text), 2, rounding) == expected


def test_rounding_names_and_decimal_modes() -> None:
    assert Rounding.HALF_UP.decimal_mode == decimal.ROUND_HALF_UP
    assert Rounding.HALF_EVEN.decimal_mode == decimal.ROUND_HALF_EVEN
    assert Rounding.DOWN.decimal_mode == decimal.ROUND_DOWN
    assert Rounding.UP.decimal_mode == decimal.ROUND_UP
    assert Rounding.coerce("HALF_EVEN") is Rounding.HALF_EVEN
    with pytest.raises(ValidationError) as exc:
        Rounding.coerce("ceiling")
    assert code_of(exc) == "unknown_rounding"


@FAST
@given(
    st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from(list(Rounding)),
    st.integers(min_value=0, max_value=6),
)
def test_apply_rounding_agrees_with_decimal_quantize(value: Decimal, rounding: Rounding, places: int) -> None:
    with decimal.localcontext(decimal.Context(prec=60)):
        expected = value.quantize(Decimal(1).scaleb(-places), rounding=rounding.decimal_mode)
    got = apply_rounding(value, places, rounding)
    assert got == expected
    assert got.as_tuple().exponent == -places


def test_apply_rounding_is_exact_beyond_the_default_context() -> None:
    huge = Decimal("123456789012345678901234567890123456789.125")  # 42 digits > prec 28
    assert apply_rounding(huge, 2, Rounding.HALF_EVEN) == Decimal(
        "123456789012345678901234567890123456789.12"
    )
    assert apply_rounding(Decimal("12350"), -2, Rounding.HALF_EVEN) == Decimal("12400")
    assert str(apply_rounding(Decimal("-0.001"), 2)) == "0.00"  # never a negative zero


@FAST
@given(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(list(Rounding)),
)
def test_round_fraction_is_within_one_and_respects_direction(num: int, den: int, rounding: Rounding) -> None:
    exact = Fraction(num, den)
    got = round_fraction(exact, rounding)
    assert abs(got - exact) < 1
    if rounding is Rounding.DOWN:
        assert abs(got) <= abs(exact)
    if rounding is Rounding.UP:
        assert abs(got) >= abs(exact)
    if rounding in (Rounding.HALF_UP, Rounding.HALF_EVEN):
        assert abs(got - exact) <= Fraction(1, 2)


# ------------------------------------------------------------------------------ views / text


def test_amount_and_text() -> None:
    m = Money(1_234_567)
    assert m.amount == Decimal("12345.67")
    assert str(Money(1230).amount) == "12.30"
    assert str(m) == "CNY 12,345.67"
    assert str(-m) == "CNY -12,345.67"
    assert m.format(label="symbol") == "¥12,345.67"
    assert (-m).format(label="symbol") == "-¥12,345.67"
    assert m.format(grouping=False, label="none") == "12345.67"
    assert str(Money(1_234_567, "JPY")) == "JPY 1,234,567"
    assert str(Money(5)) == "CNY 0.05"
    assert str(Money.zero()) == "CNY 0.00"


@FAST
@given(amounts, st.sampled_from(sorted(CURRENCIES)))
def test_parse_reads_what_str_writes(minor: int, currency: str) -> None:
    m = Money(minor, currency)
    assert Money.parse(str(m)) == m
    assert Money.parse(m.format(label="none"), currency) == m
    assert Money.of(m.amount, currency) == m


def test_parse_variants_and_refusals() -> None:
    assert Money.parse("12,345.67 usd") == Money(1_234_567, "USD")
    assert Money.parse("CNY12") == Money(1200)
    with pytest.raises(ValidationError) as exc:
        Money.parse("USD 1.00", "CNY")
    assert code_of(exc) == "currency_mismatch"
    with pytest.raises(ValidationError) as exc:
        Money.parse("1.00")
    assert code_of(exc) == "unknown_currency"
    with pytest.raises(ValidationError) as exc:
        Money.parse("CNY 1.00 USD")
    assert code_of(exc) == "invalid_amount"


# ------------------------------------------------------------------------------ arithmetic


@FAST
@given(amounts, amounts)
def test_arithmetic_and_order_follow_the_integers(a: int, b: int) -> None:
    x, y = Money(a), Money(b)
    assert (x + y).minor == a + b
    assert (x - y).minor == a - b
    assert (-x).minor == -a
    assert abs(x).minor == abs(a)
    assert (x * 3).minor == 3 * a and (3 * x).minor == 3 * a
    assert (x < y) == (a < b) and (x <= y) == (a <= b) and (x > y) == (a > b) and (x >= y) == (a >= b)
    assert bool(x) == (a != 0)
    assert x.is_zero() == (a == 0) and x.is_positive() == (a > 0) and x.is_negative() == (a < 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: sum_money([a, b]),
    ],
)
def test_currency_mismatch_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        call(Money(100, "CNY"), Money(100, "USD"))
    assert code_of(exc) == "currency_mismatch"


def test_equality_hashing_and_bare_numbers() -> None:
    assert Money(100, "CNY") != Money(100, "USD")
    assert len({Money(100), Money(100), Money(100, "USD")}) == 2
    assert {Money(1): "a"}[Money.of("0.01")] == "a"
    with pytest.raises(TypeError):
        Money(1) + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1) < 1  # type: ignore[operator]  # noqa: B015


def test_times_rounds_once_with_the_named_rule() -> None:
    principal = Money.of("1000000")
    # Decimal and Fraction do not mix in Python; lift the rate to a Fraction to chain exact factors.
    daily = principal.times(Fraction(Decimal("0.0395")) * Fraction(1, 360))
    assert daily == Money.of("109.72")
    assert Money(1).times(Decimal("0.5")) == Money(1)
    assert Money(1).times(Decimal("0.5"), Rounding.HALF_EVEN) == Money(0)
    assert Money(-1).times(Fraction(1, 2)) == Money(-1)
    assert Money(199).times(Decimal("0.5"), "down") == Money(99)
    assert Money(10).times(3) == Money(30)


@FAST
@given(
    amounts,
    st.fractions(min_value=-1000, max_value=1000, max_denominator=10**6),
    st.sampled_from(list(Rounding)),
)
def test_times_is_within_one_minor_unit(minor: int, factor: Fraction, rounding: Rounding) -> None:
    got = Money(minor).times(factor, rounding)
    assert abs(got.minor - minor * factor) < 1


# ------------------------------------------------------------------------------ allocation


@FAST
@given(amounts, ratio_lists)
def test_allocate_sums_exactly_and_stays_within_one_unit(minor: int, ratios: list[int]) -> None:
    money = Money(minor)
    parts = money.allocate(ratios)
    assert len(parts) == len(ratios)
    assert sum_money(parts) == money
    total = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact = Fraction(minor * ratio, total)
        assert abs(part.minor - exact) < 1
        if ratio == 0:
            assert part.is_zero()
        assert part.currency == "CNY"


@FAST
@given(amounts, decimal_ratio_lists)
def test_allocate_with_decimal_ratios(minor: int, ratios: list[Decimal]) -> None:
    parts = Money(minor, "USD").allocate(ratios)
    assert sum_money(parts, "USD") == Money(minor, "USD")
    total = sum(Fraction(r) for r in ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        assert abs(part.minor - Fraction(minor) * Fraction(ratio) / total) < 1


@FAST
@given(amounts, ratio_lists)
def test_allocate_of_negative_mirrors_positive(minor: int, ratios: list[int]) -> None:
    assert Money(-minor).allocate(ratios) == [-p for p in Money(minor).allocate(ratios)]


def test_allocate_known_cases() -> None:
    assert Money(100).allocate([1, 1, 1]) == [Money(34), Money(33), Money(33)]
    assert Money(5).allocate([3, 7]) == [Money(2), Money(3)]  # 1.5 -> 2 (tie, earliest), 3.5 -> 3
    assert Money(-100).allocate([0, 1, 1, 1]) == [Money(0), Money(-34), Money(-33), Money(-33)]
    assert Money(1).allocate([Decimal("0.7"), Decimal("0.3")]) == [Money(1), Money(0)]


@pytest.mark.parametrize(
    ("ratios", "code"),
    [([], "empty_ratios"), ([0, 0], "zero_ratios"), ([1, -1, 2], "negative_ratio"), ("12", "invalid_ratio")],
)
def test_allocate_refusals(ratios: list[int], code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Money(100).allocate(ratios)
    assert code_of(exc) == code


@FAST
@given(amounts, st.integers(min_value=1, max_value=400), st.sampled_from(["first", "last"]))
def test_split_sums_exactly_and_is_even(minor: int, n: int, residue: str) -> None:
    money = Money(minor, "JPY")
    parts = money.split(n, residue=residue)  # type: ignore[arg-type]
    assert len(parts) == n
    assert sum_money(parts, "JPY") == money
    sizes = [abs(p.minor) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    for part in parts:
        assert abs(part.minor - Fraction(minor, n)) < 1
    # The extra units sit together at the named end, so the order is deterministic.
    assert sizes == sorted(sizes, reverse=(residue == "first"))
    if residue == "first":
        assert parts == money.allocate([1] * n)


def test_split_known_cases_and_refusals() -> None:
    assert Money(100).split(3) == [Money(34), Money(33), Money(33)]
    assert Money(100).split(3, residue="last") == [Money(33), Money(33), Money(34)]
    assert Money(-100).split(3) == [Money(-34), Money(-33), Money(-33)]
    assert Money(2).split(3) == [Money(1), Money(1), Money(0)]
    for bad in (0, -1, True, "3"):
        with pytest.raises(ValidationError) as exc:
            Money(100).split(bad)  # type: ignore[arg-type]
        assert code_of(exc) == "invalid_split"


def test_sum_money() -> None:
    assert sum_money([]) == Money.zero()
    assert sum_money([], "JPY") == Money(0, "JPY")
    assert sum_money(Money(i) for i in range(5)) == Money(10)
    with pytest.raises(ValidationError):
        sum_money([Money(1), 2])  # type: ignore[list-item]


# ------------------------------------------------------------------------------ rates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.95%", Decimal("0.0395")),
        (" 3.95 % ", Decimal("0.0395")),
        ("0.0395", Decimal("0.0395")),
        ("395bp", Decimal("0.0395")),
        ("395 bps", Decimal("0.0395")),
        ("5‰", Decimal("0.005")),
        ("100%", Decimal("1")),
        ("0%", Decimal("0")),
        (Decimal("0.0435"), Decimal("0.0435")),
        (0, Decimal("0")),
        (1, Decimal("1")),
    ],
)
def test_parse_rate_known(text: str | Decimal | int, expected: Decimal) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("-1%", "negative_rate"),
        (Decimal("-0.01"), "negative_rate"),
        ("3.95", "rate_out_of_range"),
        ("100.01%", "rate_out_of_range"),
        (4, "rate_out_of_range"),
        ("abc", "invalid_rate"),
        ("1e-2", "invalid_rate"),
        (Decimal("NaN"), "invalid_rate"),
        (True, "invalid_rate"),
        (None, "invalid_rate"),
    ],
)
def test_parse_rate_refusals(value: object, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_rate(value)  # type: ignore[arg-type]
    assert code_of(exc) == code


def test_rate_storage_in_ppm() -> None:
    assert ppm(Decimal("0.0395")) == 39_500
    assert ppm(parse_rate("3.45%") + bps(-20)) == 32_500
    assert from_ppm(39_500) == Decimal("0.0395")
    assert str(from_ppm(39_500)) == "0.039500"
    with pytest.raises(ValidationError) as exc:
        ppm(Decimal("0.0395") / 360)
    assert code_of(exc) == "rate_precision"
    assert ppm(Decimal("0.0000005"), Rounding.HALF_UP) == 1
    assert ppm(Decimal("0.0000005"), Rounding.HALF_EVEN) == 0


@FAST
@given(st.integers(min_value=0, max_value=1_000_000))
def test_ppm_round_trips(stored: int) -> None:
    assert ppm(from_ppm(stored)) == stored
    assert parse_rate(from_ppm(stored)) == from_ppm(stored)


def test_bps_and_format_rate() -> None:
    assert bps(25) == Decimal("0.0025")
    assert bps(-20) == Decimal("-0.0020")
    assert bps("2.5") == Decimal("0.00025")
    assert bps(Decimal("10")) == Decimal("0.0010")
    assert format_rate(Decimal("0.0395")) == "3.95%"
    assert format_rate(Decimal("0.039500")) == "3.95%"
    assert format_rate(Decimal("0.40")) == "40%"
    assert format_rate(Decimal("0")) == "0%"
    assert format_rate(Decimal("0.03945"), 1) == "3.9%"
    assert format_rate(Decimal("0.03950"), 1) == "4.0%"
    with pytest.raises(ValidationError):
        bps("x")
