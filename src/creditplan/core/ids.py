"""Chinese identity numbers: resident ID (GB 11643), Unified Social Credit Code (GB 32100), mobiles.

Why validate check characters at the edge: a mistyped ID that reaches the credit bureau query or
the identity-uniqueness constraint creates a second customer or a wrong report; both check systems
catch every single-character error, so rejecting them at input is cheap and certain.

Why values are masked by default: these numbers are personal information (PIPL); ``ResidentId``
prints masked in ``str()`` and ``repr()`` so it cannot leak through a log line or a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from creditplan.core.errors import ValidationError

__all__ = [
    "RESIDENT_ID_WEIGHTS",
    "USCC_ALPHABET",
    "USCC_WEIGHTS",
    "ResidentId",
    "is_valid_resident_id",
    "is_valid_uscc",
    "make_resident_id",
    "make_uscc",
    "mask_phone",
    "mask_resident_id",
    "resident_id_check_char",
    "uscc_check_char",
    "validate_cn_mobile",
    "validate_resident_id",
    "validate_uscc",
]

# --------------------------------------------------------------------------------------------
# Resident identity card number, GB 11643-1999
# --------------------------------------------------------------------------------------------

RESIDENT_ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
"""2**(17 - i) mod 11 for positions 1..17 (ISO 7064 MOD 11-2)."""
_RESIDENT_ID_CHECK = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)
_DIGITS17 = re.compile(r"^[0-9]{17}$")


def _as_text(value: object, code: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, got {type(value).__name__}.", code=code)
    return value.strip()


def resident_id_check_char(first17: str) -> str:
    """The 18th character for the first 17 digits: "10X98765432"[Σ(digit·weight) mod 11]."""
    body = _as_text(first17, "resident_id_format", "Resident ID body")
    if len(body) != 17:
        raise ValidationError(
            f"Need the first 17 digits of a resident ID, got {len(body)} characters.",
            code="resident_id_length",
        )
    if not _DIGITS17.match(body):
        raise ValidationError(
            "The first 17 characters of a resident ID must be digits.", code="resident_id_format"
        )
    total = sum(int(c) * w for c, w in zip(body, RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


@dataclass(frozen=True, slots=True, repr=False)
class ResidentId:
    """A checked 18-character resident ID and what the number itself says about its holder."""

    number: str
    """Normalised: stripped, check character ``X`` in upper case."""
    region_code: str
    """Administrative division at first registration (GB/T 2260); not checked against a list, since
    codes are retired and re-used over the years and old IDs keep theirs."""
    birth_date: date
    sex: str
    """"M" when the 17th digit is odd, "F" when even."""

    def age_on(self, on: date) -> int:
        """Completed years (周岁) on ``on``. Someone born on 29 Feb turns a year older on 1 Mar in
        common years; the birthday itself counts as reached, as account-opening age limits do."""
        if not isinstance(on, date) or isinstance(on, datetime):
            raise ValidationError(f"Expected a date, got {type(on).__name__}.", code="invalid_date")
        if on < self.birth_date:
            raise ValidationError(f"{on} is before the birth date.", code="date_before_birth")
        before_birthday = (on.month, on.day) < (self.birth_date.month, self.birth_date.day)
        return on.year - self.birth_date.year - int(before_birthday)

    def masked(self) -> str:
        return mask_resident_id(self.number)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"ResidentId({self.masked()!r})"


def mask_resident_id(value: str) -> str:
    """First 3 and last 4 kept, the rest starred: "110***********123X" (region and birth hidden)."""
    text = value.strip() if isinstance(value, str) else ""
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def validate_resident_id(value: str, *, today: date | None = None) -> ResidentId:
    """Check an 18-character resident ID and read it; each failure carries its own ``code``.

    Order of checks: length, characters, birth date, check character, so the message names the
    most basic thing wrong. 15-digit first-generation numbers are refused (``resident_id_length``):
    they expired in 2013 and carry no check character. ``today`` bounds the birth date (tests pin it).
    """
    text = _as_text(value, "resident_id_format", "Resident ID")
    if len(text) != 18:
        raise ValidationError(
            f"A resident ID has 18 characters, got {len(text)}.",
            code="resident_id_length",
            field="resident_id",
        )
    number = text[:17] + text[17].upper()
    if not _DIGITS17.match(number[:17]) or number[17] not in "0123456789X":
        raise ValidationError(
            "A resident ID is 17 digits followed by a digit or X.",
            code="resident_id_format",
            field="resident_id",
        )
    birth_text = number[6:14]
    try:
        birth = date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:8]))
    except ValueError:
        raise ValidationError(
            f"Birth date {birth_text} in the resident ID is not a real date.",
            code="resident_id_birth_date",
            field="resident_id",
        )
    latest = today if today is not None else date.today()
    if birth < _EARLIEST_BIRTH or birth > latest:
        raise ValidationError(
            f"Birth date {birth.isoformat()} in the resident ID is outside 1900-01-01..{latest.isoformat()}.",
            code="resident_id_birth_date",
            field="resident_id",
        )
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise ValidationError(
            f"Resident ID check digit should be {expected}, got {number[17]}.",
            code="resident_id_check",
            field="resident_id",
        )
    return ResidentId(
        number=number,
        region_code=number[:6],
        birth_date=birth,
        sex="M" if int(number[16]) % 2 == 1 else "F",
    )


def is_valid_resident_id(value: str, *, today: date | None = None) -> bool:
    try:
        validate_resident_id(value, today=today)
    except ValidationError:
        return False
    return True


def make_resident_id(region_code: str, birth: date, sequence: int, sex: str) -> str:
    """Build a valid number for tests and demo data.

    ``sequence`` (0..499) is the n-th person of that ``sex`` ("M"/"F") registered in that region on
    that day: the three-digit order code is ``2·sequence + 1`` for men and ``2·sequence`` for women,
    so every order code 000..999 is reachable exactly once and the parity always matches ``sex``.
    """
    if not isinstance(region_code, str) or not re.fullmatch(r"[0-9]{6}", region_code):
        raise ValidationError(
            f"Region code must be 6 digits, got {region_code!r}.", code="invalid_region_code"
        )
    if not isinstance(birth, date) or isinstance(birth, datetime) or birth < _EARLIEST_BIRTH:
        raise ValidationError(f"Birth must be a date from 1900 on, got {birth!r}.", code="invalid_date")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 499:
        raise ValidationError(
            f"Sequence must be an int in 0..499, got {sequence!r}.", code="invalid_sequence"
        )
    if sex not in ("M", "F"):
        raise ValidationError(f"Sex must be 'M' or 'F', got {sex!r}.", code="invalid_sex")
    order = 2 * sequence + (1 if sex == "M" else 0)
    body = f"{region_code}{birth:%Y%m%d}{order:03d}"
    return body + resident_id_check_char(body)


# --------------------------------------------------------------------------------------------
# Unified Social Credit Code, GB 32100-2015
# --------------------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""31 characters: digits and upper-case letters without I, O, Z, S, V (confusable with 1, 0, 2, 5, U)."""
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""3**i mod 31. 31 is prime and no weight is 0, so any single substitution changes the sum mod 31."""
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}


def _uscc_body(first17: str) -> str:
    body = _as_text(first17, "uscc_format", "Unified social credit code").upper()
    if len(body) != 17:
        raise ValidationError(
            f"Need the first 17 characters of a unified social credit code, got {len(body)}.",
            code="uscc_length",
        )
    bad = sorted({c for c in body if c not in _USCC_VALUE})
    if bad:
        raise ValidationError(
            f"Characters {''.join(bad)!r} cannot appear in a unified social credit code.", code="uscc_format"
        )
    return body


def uscc_check_char(first17: str) -> str:
    """The 18th character: alphabet[(31 − Σ(value·weight) mod 31) mod 31]."""
    body = _uscc_body(first17)
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Return the normalised (stripped, upper-case) code, or raise with ``uscc_length``/``uscc_format``/
    ``uscc_check``.

    Only the GB 32100 check is enforced. The embedded organisation code (characters 9-17) has a GB
    11714 check digit of its own, but registries issued codes where it does not hold, so enforcing
    it would refuse real companies.
    """
    text = _as_text(value, "uscc_format", "Unified social credit code").upper()
    if len(text) != 18:
        raise ValidationError(
            f"A unified social credit code has 18 characters, got {len(text)}.",
            code="uscc_length",
            field="uscc",
        )
    bad = sorted({c for c in text if c not in _USCC_VALUE})
    if bad:
        raise ValidationError(
            f"Characters {''.join(bad)!r} cannot appear in a unified social credit code.",
            code="uscc_format",
            field="uscc",
        )
    expected = uscc_check_char(text[:17])
    if text[17] != expected:
        raise ValidationError(
            f"Unified social credit code check character should be {expected}, got {text[17]}.",
            code="uscc_check",
            field="uscc",
        )
    return text


def is_valid_uscc(value: str) -> bool:
    try:
        validate_uscc(value)
    except ValidationError:
        return False
    return True


def make_uscc(body17: str) -> str:
    """``body17`` (upper-cased) plus its check character, for tests and demo data."""
    body = _uscc_body(body17)
    return body + uscc_check_char(body)


# --------------------------------------------------------------------------------------------
# Mainland mobile numbers
# --------------------------------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def _strip_phone(phone: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", phone)
    if digits.startswith("+86"):
        return digits[3:]
    if digits.startswith("0086"):
        return digits[4:]
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


def validate_cn_mobile(phone: str) -> str:
    """The bare 11-digit mobile number ("+86 138-0013-8000" -> "13800138000") or ``phone_format``.

    Numbers are stored bare so that one person typed three ways is still one phone for duplicate and
    fraud checks.
    """
    if not isinstance(phone, str):
        raise ValidationError(
            f"Phone must be text, got {type(phone).__name__}.", code="phone_format", field="phone"
        )
    bare = _strip_phone(phone.strip())
    if not _CN_MOBILE.match(bare):
        raise ValidationError(
            f"{phone!r} is not a mainland mobile number (11 digits starting 13-19).",
            code="phone_format",
            field="phone",
        )
    return bare


def mask_phone(phone: str) -> str:
    """ "138****5678" for a mobile; never raises, because masking runs on whatever was stored.

    Eleven or more characters keep the first 3 and last 4; shorter ones keep at most the last 4
    and never more than half, so a short landline is not shown nearly whole.
    """
    if not isinstance(phone, str):
        return ""
    bare = _strip_phone(phone.strip())
    n = len(bare)
    if n >= 11:
        return bare[:3] + "*" * (n - 7) + bare[-4:]
    tail = min(4, n // 2)
    return "*" * (n - tail) + bare[n - tail :]
