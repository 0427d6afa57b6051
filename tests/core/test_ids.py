"""Identity numbers: generated ones pass, every single-character change fails, known examples hold."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.errors import ValidationError
from creditplan.core.ids import (
    USCC_ALPHABET,
    ResidentId,
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_id,
    make_uscc,
    mask_phone,
    mask_resident_id,
    resident_id_check_char,
    uscc_check_char,
    validate_cn_mobile,
    validate_resident_id,
    validate_uscc,
)

FAST = settings(max_examples=200, deadline=None)
TODAY = date(2025, 6, 30)

region_codes = st.text(alphabet="0123456789", min_size=6, max_size=6)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=499)
sexes = st.sampled_from(["M", "F"])
resident_ids = st.builds(make_resident_id, region_codes, birth_dates, sequences, sexes)
usccs = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17).map(make_uscc)

KNOWN_ID = "11010519491231002X"
KNOWN_USCC = "91350100M000100Y43"


def code_of(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        call(*args, **kwargs)
    return exc.value.code


# ------------------------------------------------------------------------------ resident ID


def test_known_resident_id() -> None:
    rid = validate_resident_id(KNOWN_ID, today=TODAY)
    assert rid.number == KNOWN_ID
    assert rid.region_code == "110105"
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.sex == "F"  # 17th digit 2
    assert rid.masked() == "110***********002X"
    assert str(rid) == rid.masked()
    assert KNOWN_ID not in repr(rid)
    assert resident_id_check_char(KNOWN_ID[:17]) == "X"


def test_known_wrong_check_digit_says_what_it_should_be() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_resident_id("110105194912310021", today=TODAY)
    assert exc.value.code == "resident_id_check"
    assert "should be X, got 1" in exc.value.message


def test_resident_id_normalisation() -> None:
    assert validate_resident_id("  11010519491231002x\n", today=TODAY).number == KNOWN_ID


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "resident_id_length"),
        ("11010519491231002", "resident_id_length"),
        ("11010519491231002X1", "resident_id_length"),
        ("110105491231002", "resident_id_length"),  # first-generation 15-digit number
        ("1101051949123100AX", "resident_id_format"),
        ("11010519491231002Y", "resident_id_format"),
        ("11010519491231002 ", "resident_id_length"),  # stripped to 17
        ("X10105194912310021", "resident_id_format"),
        (None, "resident_id_format"),
        ("110105194913310020", "resident_id_birth_date"),  # month 13
        ("110105190002290020", "resident_id_birth_date"),  # 1900 was not a leap year
        ("110105189912310020", "resident_id_birth_date"),  # before 1900
        ("110105203001010020", "resident_id_birth_date"),  # in the future
    ],
)
def test_resident_id_refusals(value: str, code: str) -> None:
    assert code_of(validate_resident_id, value, today=TODAY) == code
    assert not is_valid_resident_id(value, today=TODAY)


def test_birth_date_bound_is_today_inclusive() -> None:
    number = make_resident_id("110105", TODAY, 0, "M")
    assert validate_resident_id(number, today=TODAY).birth_date == TODAY
    assert code_of(validate_resident_id, number, today=date(2025, 6, 29)) == "resident_id_birth_date"


@FAST
@given(region_codes, birth_dates, sequences, sexes)
def test_generated_resident_ids_validate(region: str, birth: date, sequence: int, sex: str) -> None:
    number = make_resident_id(region, birth, sequence, sex)
    rid = validate_resident_id(number, today=TODAY)
    assert rid.number == number
    assert rid.region_code == region
    assert rid.birth_date == birth
    assert rid.sex == sex
    assert rid.age_on(TODAY) >= 0


@FAST
@given(resident_ids, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_change_to_a_resident_id_fails(number: str, position: int, replacement: str) -> None:
    if position < 17 and replacement == "X":
        replacement = "0"  # X is only allowed at the end; still a different character below
    if number[position] == replacement:
        replacement = "1" if replacement != "1" else "2"
    changed = number[:position] + replacement + number[position + 1 :]
    assert changed != number
    with pytest.raises(ValidationError) as exc:
        validate_resident_id(changed, today=TODAY)
    assert exc.value.code in {"resident_id_check", "resident_id_birth_date"}


@FAST
@given(resident_ids)
def test_every_single_change_to_a_resident_id_fails_exhaustively(number: str) -> None:
    for position in range(18):
        for replacement in "0123456789X" if position == 17 else "0123456789":
            if replacement != number[position]:
                changed = number[:position] + replacement + number[position + 1 :]
                assert not is_valid_resident_id(changed, today=TODAY), changed


def test_make_resident_id_refusals() -> None:
    assert code_of(make_resident_id, "11010", date(1990, 1, 1), 0, "M") == "invalid_region_code"
    assert code_of(make_resident_id, "110105", date(1899, 1, 1), 0, "M") == "invalid_date"
    assert code_of(make_resident_id, "110105", date(1990, 1, 1), 500, "M") == "invalid_sequence"
    assert code_of(make_resident_id, "110105", date(1990, 1, 1), 0, "X") == "invalid_sex"
    assert make_resident_id("110105", date(1949, 12, 31), 1, "F") == KNOWN_ID


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(2008, 2, 28), 3),
        (date(2008, 2, 29), 4),
        (date(2009, 2, 28), 4),
        (date(2009, 3, 1), 5),  # born 29 Feb: a year older on 1 Mar in common years
        (date(2004, 2, 29), 0),
    ],
)
def test_age_on(on: date, age: int) -> None:
    rid = validate_resident_id(make_resident_id("310101", date(2004, 2, 29), 7, "M"), today=TODAY)
    assert rid.age_on(on) == age


def test_age_before_birth_refused() -> None:
    rid = validate_resident_id(KNOWN_ID, today=TODAY)
    assert code_of(rid.age_on, date(1949, 12, 30)) == "date_before_birth"
    assert isinstance(rid, ResidentId)


def test_mask_resident_id_on_raw_text() -> None:
    assert mask_resident_id(KNOWN_ID) == "110***********002X"
    assert mask_resident_id("123") == "***"


# ------------------------------------------------------------------------------ USCC


def test_known_uscc() -> None:
    assert uscc_check_char(KNOWN_USCC[:17]) == "3"
    assert validate_uscc(KNOWN_USCC) == KNOWN_USCC
    assert validate_uscc(" 91350100m000100y43 ") == KNOWN_USCC
    assert make_uscc(KNOWN_USCC[:17].lower()) == KNOWN_USCC


def test_known_uscc_wrong_check() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_uscc("91350100M000100Y44")
    assert exc.value.code == "uscc_check"
    assert "should be 3, got 4" in exc.value.message


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "uscc_length"),
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M000100Y433", "uscc_length"),
        ("91350100M00010OY43", "uscc_format"),  # letter O
        ("91350100I000100Y43", "uscc_format"),  # letter I
        ("91350100S000100Y43", "uscc_format"),
        ("91350100V000100Y43", "uscc_format"),
        ("91350100Z000100Y43", "uscc_format"),
        ("91350100-000100Y43", "uscc_format"),
        (None, "uscc_format"),
    ],
)
def test_uscc_refusals(value: str, code: str) -> None:
    assert code_of(validate_uscc, value) == code
    assert not is_valid_uscc(value)


@FAST
@given(usccs)
def test_generated_usccs_validate(code: str) -> None:
    assert validate_uscc(code) == code
    assert is_valid_uscc(code.lower())


@FAST
@given(usccs, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_ALPHABET))
def test_any_single_change_to_a_uscc_fails(code: str, position: int, replacement: str) -> None:
    if code[position] == replacement:
        replacement = USCC_ALPHABET[(USCC_ALPHABET.index(replacement) + 1) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(ValidationError) as exc:
        validate_uscc(changed)
    assert exc.value.code == "uscc_check"


def test_every_single_change_to_the_known_uscc_fails() -> None:
    for position in range(18):
        for replacement in USCC_ALPHABET:
            if replacement != KNOWN_USCC[position]:
                assert not is_valid_uscc(KNOWN_USCC[:position] + replacement + KNOWN_USCC[position + 1 :])


def test_uscc_generator_refusals() -> None:
    assert code_of(make_uscc, "9135") == "uscc_length"
    assert code_of(make_uscc, "91350100O000100Y4") == "uscc_format"


# ------------------------------------------------------------------------------ phones


@pytest.mark.parametrize(
    ("raw", "bare"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        (" 199 1234 5678 ", "19912345678"),
        ("(+86) 158-1234-5678", "15812345678"),
    ],
)
def test_valid_mobiles(raw: str, bare: str) -> None:
    assert validate_cn_mobile(raw) == bare


@pytest.mark.parametrize(
    "raw",
    [
        "12800138000",
        "1380013800",
        "138001380001",
        "+1 138 0013 8000",
        "1380013800a",
        "",
        "010-12345678",
        None,
    ],
)
def test_invalid_mobiles(raw: str) -> None:
    assert code_of(validate_cn_mobile, raw) == "phone_format"


@FAST
@given(st.sampled_from("3456789"), st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_generated_mobiles_validate_and_mask(second: str, rest: str) -> None:
    phone = "1" + second + rest
    assert validate_cn_mobile(phone) == phone
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:]


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "138****5678"
    assert mask_phone("62345678") == "****5678"
    assert mask_phone("1234") == "**34"
    assert mask_phone("") == ""
    assert mask_phone(None) == ""  # type: ignore[arg-type]
