"""Customer data rules without Django: what a valid individual or company record is.

Why here: the same validation serves the web form, the JSON API, bulk imports and the demo generator,
and must be property-testable without a database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from creditplan.core.errors import CreditplanError, FieldProblem, ValidationError
from creditplan.core.ids import validate_cn_mobile, validate_resident_id, validate_uscc
from creditplan.core.money import Money, get_currency, parse_money


class CustomerKind(StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


# GB/T 4754-2017 sections (门类) with their division (大类) ranges.
INDUSTRY_SECTIONS: dict[str, tuple[str, str, int, int]] = {
    "A": ("农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery", 1, 5),
    "B": ("采矿业", "Mining", 6, 12),
    "C": ("制造业", "Manufacturing", 13, 43),
    "D": ("电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water", 44, 46),
    "E": ("建筑业", "Construction", 47, 50),
    "F": ("批发和零售业", "Wholesale and retail trade", 51, 52),
    "G": ("交通运输、仓储和邮政业", "Transport, storage and post", 53, 60),
    "H": ("住宿和餐饮业", "Accommodation and catering", 61, 62),
    "I": ("信息传输、软件和信息技术服务业", "Information transmission, software and IT services", 63, 65),
    "J": ("金融业", "Finance", 66, 69),
    "K": ("房地产业", "Real estate", 70, 70),
    "L": ("租赁和商务服务业", "Leasing and business services", 71, 72),
    "M": ("科学研究和技术服务业", "Scientific research and technical services", 73, 75),
    "N": ("水利、环境和公共设施管理业", "Water, environment and public facilities", 76, 79),
    "O": ("居民服务、修理和其他服务业", "Residential, repair and other services", 80, 82),
    "P": ("教育", "Education", 83, 83),
    "Q": ("卫生和社会工作", "Health and social work", 84, 85),
    "R": ("文化、体育和娱乐业", "Culture, sports and entertainment", 86, 90),
    "S": ("公共管理、社会保障和社会组织", "Public administration and social organisations", 91, 96),
    "T": ("国际组织", "International organisations", 97, 97),
}

# GB/T 2260 province-level divisions: the first two digits of a region code and of a resident ID.
PROVINCES: dict[str, tuple[str, str]] = {
    "11": ("北京市", "Beijing"), "12": ("天津市", "Tianjin"), "13": ("河北省", "Hebei"),
    "14": ("山西省", "Shanxi"), "15": ("内蒙古自治区", "Inner Mongolia"), "21": ("辽宁省", "Liaoning"),
    "22": ("吉林省", "Jilin"), "23": ("黑龙江省", "Heilongjiang"), "31": ("上海市", "Shanghai"),
    "32": ("江苏省", "Jiangsu"), "33": ("浙江省", "Zhejiang"), "34": ("安徽省", "Anhui"),
    "35": ("福建省", "Fujian"), "36": ("江西省", "Jiangxi"), "37": ("山东省", "Shandong"),
    "41": ("河南省", "Henan"), "42": ("湖北省", "Hubei"), "43": ("湖南省", "Hunan"),
    "44": ("广东省", "Guangdong"), "45": ("广西壮族自治区", "Guangxi"), "46": ("海南省", "Hainan"),
    "50": ("重庆市", "Chongqing"), "51": ("四川省", "Sichuan"), "52": ("贵州省", "Guizhou"),
    "53": ("云南省", "Yunnan"), "54": ("西藏自治区", "Tibet"), "61": ("陕西省", "Shaanxi"),
    "62": ("甘肃省", "Gansu"), "63": ("青海省", "Qinghai"), "64": ("宁夏回族自治区", "Ningxia"),
    "65": ("新疆维吾尔自治区", "Xinjiang"), "71": ("台湾省", "Taiwan"), "81": ("香港特别行政区", "Hong Kong"),
    "82": ("澳门特别行政区", "Macao"),
}


def normalise_industry(code: str) -> str:
    """Accept a section ("C"), a division with or without its section ("C39", "39") or a finer class
    ("C391"); return the section letter followed by the digits given. Raise when it names nothing."""
    raw = (code or "").strip().upper()
    if not raw:
        raise ValidationError("industry code is required for a company", code="industry_required")
    letter, digits = (raw[0], raw[1:]) if raw[0].isalpha() else ("", raw)
    if letter and letter not in INDUSTRY_SECTIONS:
        raise ValidationError(f"{raw!r} is not a GB/T 4754 section (A-T)", code="unknown_industry")
    if digits and (not digits.isdigit() or len(digits) not in (2, 3, 4)):
        raise ValidationError(f"{raw!r} is not a GB/T 4754 code (e.g. C39)", code="unknown_industry")
    if not digits:
        return letter
    division = int(digits[:2])
    section = next((s for s, (_, _, lo, hi) in INDUSTRY_SECTIONS.items() if lo <= division <= hi), None)
    if section is None:
        raise ValidationError(f"division {digits[:2]} does not exist in GB/T 4754", code="unknown_industry")
    if letter and letter != section:
        raise ValidationError(f"division {digits[:2]} belongs to section {section}, not {letter}",
                              code="unknown_industry")
    return section + digits


def validate_region(code: str) -> str:
    raw = (code or "").strip()
    if len(raw) != 6 or not raw.isdigit():
        raise ValidationError("region must be a 6-digit GB/T 2260 code", code="region_format")
    if raw[:2] not in PROVINCES:
        raise ValidationError(f"{raw[:2]} is not a province code of GB/T 2260", code="unknown_region")
    return raw


MAX_MONTHLY_INCOME = 100_000_000_000
"""Major units (yuan): a monthly income above this is a typo."""


def parse_income(value: Any, currency: str = "CNY") -> Money | None:
    """Monthly income in major units (text, int or Decimal; never float), exactly (a third decimal is refused,
    not rounded), not negative, at most MAX_MONTHLY_INCOME: the money edge's parser and codes. Blank is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    maximum = MAX_MONTHLY_INCOME * 10 ** get_currency(currency).exponent
    return parse_money(value, "monthly_income", currency=currency, maximum=maximum)


def parse_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", code="date_format")


@dataclass(frozen=True)
class CleanCustomer:
    """A customer record after validation: every value normalised, PII still in clear (encrypted later)."""

    kind: CustomerKind
    name: str
    id_number: str | None = None
    birth_date: dt.date | None = None
    sex: str = ""
    phone: str | None = None
    monthly_income: Money | None = None
    employer: str = ""
    uscc: str | None = None
    industry_code: str = ""
    region_code: str = ""


def _field(problems: list[FieldProblem], name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except CreditplanError as exc:
        problems.append(FieldProblem(name, exc.message, exc.code))
        return None


def clean_customer(data: dict[str, Any], *, today: dt.date) -> CleanCustomer:
    """Validate a whole record and report every problem at once (a form shows them all)."""
    problems: list[FieldProblem] = []
    kind_raw = data.get("kind") or CustomerKind.INDIVIDUAL
    try:
        kind = CustomerKind(kind_raw)
    except ValueError:
        raise ValidationError(f"kind must be 'individual' or 'company', not {kind_raw!r}", field="kind")
    name = (data.get("name") or "").strip()
    if not name:
        problems.append(FieldProblem("name", "name is required", "required"))
    elif len(name) > 100:
        problems.append(FieldProblem("name", "name is at most 100 characters", "too_long"))
    region = _field(problems, "region_code", validate_region, data["region_code"]) if data.get("region_code") else ""

    if kind is CustomerKind.INDIVIDUAL:
        rid = None
        if not data.get("id_number"):
            problems.append(FieldProblem("id_number", "resident ID number is required", "required"))
        else:
            rid = _field(problems, "id_number", lambda v: validate_resident_id(v, today=today), data["id_number"])
        birth = _field(problems, "birth_date", parse_date, data.get("birth_date"))
        if rid is not None and birth is not None and birth != rid.birth_date:
            problems.append(FieldProblem("birth_date", f"birth date {birth} differs from the one in the ID number "
                                         f"({rid.birth_date})", "birth_date_mismatch"))
        if birth is not None and birth > today:
            problems.append(FieldProblem("birth_date", "birth date is in the future", "date_in_future"))
        phone = _field(problems, "phone", validate_cn_mobile, data["phone"]) if data.get("phone") else None
        income = _field(problems, "monthly_income", parse_income, data.get("monthly_income"))
        for forbidden in ("uscc", "industry_code"):
            if data.get(forbidden):
                problems.append(FieldProblem(forbidden, "only companies have this field", "not_for_individual"))
        if problems:
            raise ValidationError.collect(problems)
        assert rid is not None
        return CleanCustomer(
            kind=kind, name=name, id_number=rid.number, birth_date=rid.birth_date, sex=rid.sex, phone=phone,
            monthly_income=income, employer=(data.get("employer") or "").strip()[:100],
            region_code=region or rid.region_code,
        )

    uscc = None
    if not data.get("uscc"):
        problems.append(FieldProblem("uscc", "unified social credit code is required", "required"))
    else:
        uscc = _field(problems, "uscc", validate_uscc, data["uscc"])
    industry = _field(problems, "industry_code", normalise_industry, data.get("industry_code") or "")
    if not data.get("region_code"):
        problems.append(FieldProblem("region_code", "region is required for a company", "required"))
    for forbidden in ("id_number", "birth_date", "monthly_income"):
        if data.get(forbidden):
            problems.append(FieldProblem(forbidden, "only individuals have this field", "not_for_company"))
    phone = _field(problems, "phone", validate_cn_mobile, data["phone"]) if data.get("phone") else None
    if problems:
        raise ValidationError.collect(problems)
    return CleanCustomer(kind=kind, name=name, uscc=uscc, industry_code=industry or "", region_code=region or "",
                         phone=phone)
