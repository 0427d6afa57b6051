"""Customer validation rules, without a database."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditplan.core.errors import ValidationError
from creditplan.core.ids import make_resident_id
from creditplan.customers.domain import clean_customer, normalise_industry, parse_income, validate_region

TODAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize(("raw", "expected"), [("C", "C"), ("c39", "C39"), ("39", "C39"), ("I651", "I651"),
                                               ("70", "K70"), ("A01", "A01")])
def test_industry_codes_normalise_to_section_and_digits(raw, expected):
    assert normalise_industry(raw) == expected


@pytest.mark.parametrize("raw", ["Z", "C66", "98", "C3", "abc", "00"])
def test_unknown_industry_codes_are_refused(raw):
    with pytest.raises(ValidationError):
        normalise_industry(raw)


def test_region_codes():
    assert validate_region("310115") == "310115"
    for bad in ("31011", "991234", "abcdef"):
        with pytest.raises(ValidationError):
            validate_region(bad)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_income_never_accepts_floats(value):
    with pytest.raises(ValidationError):
        parse_income(value)


@given(st.integers(min_value=0, max_value=10**9))
def test_income_is_exact_in_minor_units(yuan):
    assert parse_income(f"{yuan}.07").minor == yuan * 100 + 7


def test_birth_date_must_agree_with_the_id_number():
    number = make_resident_id("110108", dt.date(1990, 2, 3), 5, "F")
    ok = clean_customer({"name": "李娜", "id_number": number, "birth_date": "1990-02-03"}, today=TODAY)
    assert ok.birth_date == dt.date(1990, 2, 3) and ok.sex == "F" and ok.region_code == "110108"
    with pytest.raises(ValidationError) as exc:
        clean_customer({"name": "李娜", "id_number": number, "birth_date": "1990-02-04"}, today=TODAY)
    assert exc.value.problems[0].code == "birth_date_mismatch"


def test_individual_and_company_fields_do_not_mix():
    with pytest.raises(ValidationError) as exc:
        clean_customer({"kind": "company", "name": "某公司", "uscc": "91350100M000100Y43", "industry_code": "C",
                        "region_code": "350100", "id_number": "11010519491231002X"}, today=TODAY)
    assert {p.field for p in exc.value.problems} == {"id_number"}


@pytest.mark.parametrize(("value", "code"), [
    ("15000.005", "too_many_decimals"),  # was rounded to 15000.01 without a word
    ("100000000000.01", "amount_out_of_range"),  # was amount_too_large: one code per fault (issue 15)
    ("-100", "negative_amount"),
    ("1e5", "amount_format"),
    ("NaN", "not_finite"),
])
def test_income_goes_through_the_money_edge(value, code):
    with pytest.raises(ValidationError) as exc:
        parse_income(value)
    assert (exc.value.code, exc.value.field) == (code, "monthly_income")
    assert parse_income("100000000000") is not None and parse_income("  ") is None
