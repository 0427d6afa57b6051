"""Products, the LPR table and the term sheets loans run under: creating and reading products, their rate floor
and cap, publishing the LPR and reading the rate in force on a day, the rate of a floating loan, and the stored
term sheet of a loan (its contract clauses, by digest).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.daycount import DayCount
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.money import Rounding, parse_minor, ppm
from creditplan.ledger import services as ledger
from creditplan.loans.domain.schedule import InterestRule, Method
from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import sheet_for_product, sheet_from_json
from creditplan.loans.models import Loan, LprRate, Product, TermSheet
from creditplan.loans.values import parse_date
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import services as plans

DEFAULT_WATERFALL = ("penalty", "fee", "interest", "principal")
WATERFALL_ITEMS = frozenset(DEFAULT_WATERFALL)
LPR_TENORS = ("1y", "5y")


_PRODUCT_INT_FIELDS = ("min_term", "max_term", "months_per_period", "grace_periods", "reset_months",
                       "penalty_markup_pct", "grace_days", "max_backdate_days", "freeze_dpd", "upfront_fee_bp")


def _clean_product(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    code = str(data.get("code") or "").strip().lower()
    if not code or len(code) > 30 or not code.replace("-", "").replace("_", "").isalnum():
        raise ValidationError("product code is required: letters, digits, - and _ (at most 30)", field="code")
    out["code"] = code
    out["name"] = str(data.get("name") or "").strip()[:100] or code
    out["currency"] = currency = str(data.get("currency") or "CNY").upper()
    out["min_amount_minor"] = parse_minor(data.get("min_amount", "1000"), "min_amount", currency=currency,
                                          allow_zero=False)
    out["max_amount_minor"] = parse_minor(data.get("max_amount", "1000000"), "max_amount", currency=currency,
                                          allow_zero=False)
    if out["max_amount_minor"] < out["min_amount_minor"]:
        raise ValidationError("max_amount is below min_amount", field="max_amount", code="range")
    for f in _PRODUCT_INT_FIELDS:
        if f in data and data[f] is not None:
            v = data[f]
            if isinstance(v, bool) or not str(v).strip().lstrip("-").isdigit() or int(v) < 0:
                raise ValidationError(f"{f} must be a whole number ≥ 0", field=f, code="invalid_number")
            out[f] = int(v)
    if out.get("min_term", 1) < 1 or out.get("max_term", 360) < out.get("min_term", 1):
        raise ValidationError("term range must satisfy 1 ≤ min_term ≤ max_term", field="max_term", code="range")
    if not 1 <= out.get("months_per_period", 1) <= 12:
        raise ValidationError("months_per_period must be 1 to 12", field="months_per_period", code="range")
    out["method"] = Method.coerce(data.get("method") or "equal-installment").value
    out["day_count"] = DayCount.coerce(data.get("day_count") or "30/360").value
    out["rounding"] = Rounding.coerce(data.get("rounding") or "half_up").value
    out["interest_rule"] = InterestRule.coerce(data.get("interest_rule") or "running-total").value
    out["rate_type"] = str(data.get("rate_type") or "fixed")
    if out["rate_type"] not in ("fixed", "floating"):
        raise ValidationError("rate_type must be fixed or floating", field="rate_type")
    out["rate_ppm"] = _rate_ppm(data.get("rate", "0.0435"), "rate")
    out["lpr_tenor"] = str(data.get("lpr_tenor") or "1y")
    if out["lpr_tenor"] not in LPR_TENORS:
        raise ValidationError("lpr_tenor must be 1y or 5y", field="lpr_tenor")
    out["spread_ppm"] = int(data.get("spread_bp") or 0) * 100
    out["rate_floor_ppm"] = _rate_ppm(data.get("rate_floor", "0"), "rate_floor")
    out["rate_cap_ppm"] = _rate_ppm(data.get("rate_cap", "0.24"), "rate_cap")
    out["installment_fee_minor"] = parse_minor(data.get("installment_fee", "0"), "installment_fee",
                                               currency=currency)
    out["late_fee_minor"] = parse_minor(data.get("late_fee", "0"), "late_fee", currency=currency)
    waterfall = list(data.get("waterfall") or DEFAULT_WATERFALL)
    if sorted(waterfall) != sorted(DEFAULT_WATERFALL):
        raise ValidationError(f"waterfall must order exactly {', '.join(DEFAULT_WATERFALL)}", field="waterfall",
                              code="invalid_waterfall")
    out["waterfall"] = waterfall
    out["overpayment"] = str(data.get("overpayment") or "credit")
    if out["overpayment"] not in ("credit", "refund"):
        raise ValidationError("overpayment must be credit or refund", field="overpayment")
    out["auto_debit"] = bool(data.get("auto_debit", True))
    return out


def _rate_ppm(value: Any, field: str) -> int:
    """Annual rate as a fraction ("0.0395") → ppm; refuses floats and rates outside 0–36 %."""
    if isinstance(value, float):
        raise ValidationError(f"{field} must not be a float; pass text such as '0.0395'", field=field,
                              code="float_money")
    try:
        rate = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValidationError(f"{field} must be a decimal fraction such as 0.0395", field=field,
                              code="invalid_rate") from None
    if not Decimal(0) <= rate <= Decimal("0.36"):
        raise ValidationError(f"{field} must be between 0 and 0.36 (36 %)", field=field, code="rate_out_of_range")
    return ppm(rate)


@transaction.atomic
def create_product(actor: Actor, **data: Any) -> Product:
    org.require(actor, Perm.PRODUCT_MANAGE)
    clean = _clean_product(data)
    if Product.objects.filter(code=clean["code"]).exists():
        raise Conflict(f"product {clean['code']} exists", field="code", code="duplicate_product")
    p = Product.objects.create(**clean)
    plans.add_dimension_code(actor, "product", p.code, p.name, system=True)  # plans may set quotas by product
    ledger.append(actor, "loan.product_created", "product", p.code,
                  {k: v for k, v in clean.items() if k != "code"})
    return p


def get_product(code: str) -> Product:
    try:
        return Product.objects.get(code=code)
    except Product.DoesNotExist:
        raise NotFound(f"no product {code!r}", field="product", code="unknown_product") from None


def list_products() -> list[Product]:
    return list(Product.objects.order_by("code"))


@transaction.atomic
def set_lpr(actor: Actor, *, tenor: str, effective_date: Any, rate: Any) -> LprRate:
    org.require(actor, Perm.PRODUCT_MANAGE)
    if tenor not in LPR_TENORS:
        raise ValidationError("tenor must be 1y or 5y", field="tenor")
    day = parse_date(effective_date, "effective_date")
    row, _ = LprRate.objects.update_or_create(tenor=tenor, effective_date=day,
                                              defaults={"rate_ppm": _rate_ppm(rate, "rate")})
    ledger.append(actor, "loan.lpr_published", "lpr", f"{tenor}:{day.isoformat()}", {"rate_ppm": row.rate_ppm})
    return row


def lpr_on(tenor: str, day: dt.date) -> int:
    """The LPR (ppm) in force on `day`: the latest publication on or before it."""
    row = LprRate.objects.filter(tenor=tenor, effective_date__lte=day).order_by("-effective_date").first()
    if row is None:
        raise Conflict(f"no {tenor} LPR published on or before {day}", code="no_lpr")
    return row.rate_ppm


@transaction.atomic
def set_rate_bounds(actor: Actor, code: str, *, rate_floor_ppm: int, rate_cap_ppm: int) -> Product:
    """Change a product's rate floor and cap (the decision engine's pricing page). Only new loans see it: a
    disbursed loan keeps the bounds its term sheet signed."""
    org.require(actor, Perm.PRODUCT_MANAGE)
    for name, value in (("rate_floor", rate_floor_ppm), ("rate_cap", rate_cap_ppm)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 360_000:
            raise ValidationError(f"{name} must be between 0 and 36 %", field=name, code="rate_out_of_range")
    if rate_floor_ppm > rate_cap_ppm:
        raise ValidationError("the rate cap is below the floor", field="rate_cap", code="floor_above_cap")
    p = Product.objects.select_for_update().filter(code=code).first()
    if p is None:
        raise NotFound(f"no product {code!r}", field="product", code="unknown_product")
    before = [p.rate_floor_ppm, p.rate_cap_ppm]
    if before == [rate_floor_ppm, rate_cap_ppm]:
        return p
    p.rate_floor_ppm, p.rate_cap_ppm = rate_floor_ppm, rate_cap_ppm
    p.save(update_fields=["rate_floor_ppm", "rate_cap_ppm"])
    ledger.append(actor, "loan.product_rate_bounds", "product", p.code,
                  {"rate_floor_ppm": rate_floor_ppm, "rate_cap_ppm": rate_cap_ppm, "before": before})
    return p


def floating_rate_ppm(product_or_loan: Any, tenor: str, spread_ppm: int, day: dt.date, floor: int, cap: int
                      ) -> int:
    return min(max(lpr_on(tenor, day) + spread_ppm, floor), cap)


# --- term sheets ---------------------------------------------------------------------------------------------

def store_term_sheet(sheet: Sheet) -> TermSheet:
    """The stored row for a term sheet, created the first time its content is seen."""
    row, _ = TermSheet.objects.get_or_create(digest=sheet.digest, defaults={"body": sheet.as_json()})
    return row


def term_sheet_of(loan: Loan) -> Sheet:
    """The clauses a loan runs under (loans created before term sheets existed: their product's)."""
    if loan.term_sheet_id is None:
        return sheet_for_product(loan.product)
    return sheet_from_json(loan.term_sheet.body)
