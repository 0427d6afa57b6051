"""Products, the LPR table and the term sheets loans run under: creating and reading products, their rate floor
and cap, publishing the LPR and reading the rate in force on a day, the rate of a floating loan, and the stored
term sheet of a loan (its contract clauses, by digest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.calendar import BusinessCalendar, Roll
from creditplan.core.daycount import DayCount
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.money import Rounding, from_ppm, parse_minor, ppm, round_fraction
from creditplan.ledger import services as ledger
from creditplan.loans.domain.schedule import FirstPeriod, InterestRule, Method, ScheduleTerms, build_schedule
from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import penalty_pcts, sheet_for_product, sheet_from_json
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
    out["name_en"] = str(data.get("name_en") or "").strip()[:100]  # the English name (issue 20)
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
    spread = str(data.get("spread_bp") or 0).strip()  # a bounded whole number (issue 20: int("1e400") was a 500)
    if not spread.lstrip("+-").isdigit() or len(spread) > 7 or abs(int(spread)) > 10_000:
        raise ValidationError(f"spread_bp must be a whole number of basis points from -10000 to 10000, not {spread!r}",
                              field="spread_bp", code="invalid_number")
    out["spread_ppm"] = int(spread) * 100
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
    _clean_conventions(data, out)  # interest and penalty conventions (issue 18 §4)
    # repayment (issue 18): the allocation method, the close's debit of the settlement account
    out["allocation"] = str(data.get("allocation") or "component")
    if out["allocation"] not in ("component", "installment"):
        raise ValidationError("allocation must be component or installment", field="allocation",
                              code="invalid_allocation")
    out["debit_partial"] = bool(data.get("debit_partial", True))
    retry = data.get("debit_retry_days", 3)
    if isinstance(retry, bool) or not str(retry).strip().isdigit() or not 0 <= int(retry) <= 30:
        raise ValidationError("debit_retry_days must be a whole number from 0 to 30", field="debit_retry_days",
                              code="invalid_number")
    out["debit_retry_days"] = int(retry)
    _clean_contract_changes(data, out)  # repricing basis and prepayment rules (issue 18 §5)
    return out


def _clean_contract_changes(data: dict[str, Any], out: dict[str, Any]) -> None:
    """Repricing on the anniversary or a calendar month-day ("01-01"), and the prepayment rules (issue 18)."""
    from creditplan.loans.domain.terms import check_reprice_on

    out["reset_basis"] = str(data.get("reset_basis") or "anniversary")
    if out["reset_basis"] not in ("anniversary", "calendar"):
        raise ValidationError("reset_basis must be anniversary or calendar", field="reset_basis",
                              code="invalid_reset_basis")
    out["reset_month_day"] = str(data.get("reset_month_day") or "01-01")
    check_reprice_on(out["reset_month_day"], 12)
    if out["reset_basis"] == "calendar":
        check_reprice_on(out["reset_month_day"], out.get("reset_months", 12))
    for f, top in (("prepay_fee_bp", 10_000), ("prepay_fee_months", 600), ("prepay_max_per_year", 365),
                   ("prepay_lockin_months", 600)):
        v = data.get(f, 0)
        if isinstance(v, bool) or not str(v).strip().isdigit() or not 0 <= int(v) <= top:
            raise ValidationError(f"{f} must be a whole number from 0 to {top}", field=f, code="invalid_number")
        out[f] = int(v)
    out["prepay_min_minor"] = parse_minor(data.get("prepay_min", "0"), "prepay_min", currency=out["currency"])


# --- interest and penalty conventions (issue 18 §4) -----------------------------------------------------------

GRACE_MODES = ("free", "waiver")


def _clean_conventions(data: dict[str, Any], out: dict[str, Any]) -> None:
    """The first broken period, the due-date roll, the grace mode and the 罚息/复利 switches (defaults: what
    products did before issue 18, so that their term sheets keep their digest)."""
    out["first_period"] = FirstPeriod.coerce(data.get("first_period") or "resolve").value
    out["due_date_roll"] = Roll.coerce(data.get("due_date_roll") or "none").value
    out["grace_mode"] = str(data.get("grace_mode") or "free").strip().lower()
    if out["grace_mode"] not in GRACE_MODES:
        raise ValidationError("grace_mode must be free or waiver", field="grace_mode", code="unknown_grace_mode")
    out["penalty_on_principal"] = bool(data.get("penalty_on_principal", True))
    out["compound_on_interest"] = bool(data.get("compound_on_interest", True))
    cm = data.get("compound_markup_pct")
    if cm in (None, ""):
        out["compound_markup_pct"] = None
    elif isinstance(cm, bool) or not str(cm).strip().isdigit() or int(cm) > 1000:
        raise ValidationError("compound_markup_pct must be a whole number of percent from 0 to 1000",
                              field="compound_markup_pct", code="invalid_number")
    else:
        out["compound_markup_pct"] = int(cm)


def business_calendar() -> BusinessCalendar:
    """The calendar of settings.CREDITPLAN_HOLIDAYS and settings.CREDITPLAN_WORKDAYS (make-up working days)."""
    from django.conf import settings

    return BusinessCalendar.of(getattr(settings, "CREDITPLAN_HOLIDAYS", ()) or (),
                               getattr(settings, "CREDITPLAN_WORKDAYS", ()) or ())


def payment_roll(convention: str) -> Callable[[dt.date], dt.date] | None:
    """The payment date roll of a product or loan's `due_date_roll` (None: due dates stay)."""
    how = Roll.coerce(convention)
    if how is Roll.NONE:
        return None
    cal = business_calendar()
    return lambda day: cal.roll(day, how)


ALL_IN_CEILING = Decimal("0.24")


def all_in_ceiling() -> Decimal:
    """settings.CREDITPLAN_ALL_IN_COST_CEILING (a fraction, default 0.24); 0 or None turns the check off."""
    from django.conf import settings

    value = getattr(settings, "CREDITPLAN_ALL_IN_COST_CEILING", ALL_IN_CEILING)
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def all_in_cost(principal_minor: int, upfront_fee_minor: int, payments: list[int], months_per_period: int
                ) -> Decimal:
    """The annualised all-in cost of a loan: the internal rate of return per period of the borrower's cash
    flows (the amount less the upfront fee received, then each installment's principal + interest + fee),
    times the periods in a year (the IRR method of PBOC Announcement [2021] No. 3). Bisection on Decimal to
    1e-9 a period: exact enough to compare with a ceiling to the hundredth of a percent."""
    received = Decimal(principal_minor - upfront_fee_minor)
    flows = [Decimal(x) for x in payments]

    def npv(i: Decimal) -> Decimal:
        total, factor = -received, Decimal(1)
        for cf in flows:
            factor /= 1 + i
            total += cf * factor
        return total  # decreasing in i

    low, high = Decimal(0), Decimal(1)
    if npv(low) <= 0:
        return Decimal(0)
    while npv(high) > 0 and high < 1000:
        high *= 2
    while high - low > Decimal("1e-9"):
        mid = (low + high) / 2
        if npv(mid) > 0:
            low = mid
        else:
            high = mid
    return high * 12 / months_per_period


def check_all_in_cost(*, principal_minor: int, upfront_fee_minor: int, payments: list[int],
                      months_per_period: int, rate_ppm: int, penalty_pcts: tuple[int, int], field: str = "rate"
                      ) -> None:
    """Refuse (`all_in_cost_above_ceiling`) terms whose annualised all-in cost, or whose penalty rate on
    overdue principal (罚息) or interest (复利), is above the ceiling. The late fee, a fixed sum for an event
    that may not happen, is not annualised (docs/loans.md)."""
    ceiling = all_in_ceiling()
    if ceiling <= 0:
        return
    # to the hundredth of a percent, as the refusal states it: the fen rounding of the payments lifts the
    # IRR of a loan priced at the ceiling a hair above it
    cost = all_in_cost(principal_minor, upfront_fee_minor, payments, months_per_period).quantize(Decimal("0.0001"))
    if cost > ceiling:
        raise ValidationError(f"The all-in annual cost of {cost * 100:.2f} % (rate and fees, IRR method) is above "
                              f"the ceiling of {ceiling * 100:.2f} %.", field=field, code="all_in_cost_above_ceiling")
    for what, pct in zip(("penalty rate on overdue principal (罚息)", "compound rate on overdue interest (复利)"),
                         penalty_pcts, strict=True):
        penalty = Decimal(rate_ppm * pct) / 100_000_000
        if penalty > ceiling:
            raise ValidationError(f"The {what} of {penalty * 100:.2f} % a year is above the ceiling of "
                                  f"{ceiling * 100:.2f} %.", field="penalty_markup_pct",
                                  code="all_in_cost_above_ceiling")


def check_product_cost(clean: dict[str, Any]) -> None:
    """A product's worst case against the ceiling: its rate (the cap for a floating product) and fees at the
    smallest amount, over its shortest and longest terms (an upfront fee weighs most over the shortest term, an
    installment fee on the smallest amount); its penalty rates at its rate."""
    if all_in_ceiling() <= 0:
        return
    view = SimpleNamespace(**{**_PRODUCT_DEFAULTS, **clean})
    # the IRR at the most a loan of it may cost (a floating product's cap); the penalty rates at its headline
    # rate (a loan's own rate is checked again when it is disbursed)
    rate_ppm = max(view.rate_cap_ppm, view.rate_ppm) if view.rate_type == "floating" else view.rate_ppm
    amount = view.min_amount_minor
    fee = round_fraction(Fraction(amount * view.upfront_fee_bp, 10_000), view.rounding)
    for term in sorted({view.min_term, view.max_term}):
        lines = build_schedule(ScheduleTerms(
            principal_minor=amount, annual_rate=from_ppm(rate_ppm), periods=term, method=view.method,
            start=dt.date(2025, 1, 1), months_per_period=view.months_per_period, day_count=view.day_count,
            rounding=view.rounding, grace_periods=min(view.grace_periods, term - 1),
            fee_per_installment_minor=view.installment_fee_minor, interest_rule=view.interest_rule))
        check_all_in_cost(principal_minor=amount, upfront_fee_minor=fee, payments=[ln.payment for ln in lines],
                          months_per_period=view.months_per_period, rate_ppm=view.rate_ppm,
                          penalty_pcts=penalty_pcts(view))


_PRODUCT_DEFAULTS: dict[str, Any] = {
    "min_term": 1, "max_term": 360, "months_per_period": 1, "grace_periods": 0, "upfront_fee_bp": 0,
    "penalty_markup_pct": 50, "installment_fee_minor": 0, "rate_cap_ppm": 240_000, "rate_type": "fixed",
}


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
    check_product_cost(clean)
    if Product.objects.filter(code=clean["code"]).exists():
        raise Conflict(f"product {clean['code']} exists", field="code", code="duplicate_product")
    p = Product.objects.create(**clean)
    plans.add_dimension_code(actor, "product", p.code, p.name, system=True,  # plans may set quotas by product
                             name_en=getattr(p, "name_en", ""))
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
    if p.rate_type == "floating":  # the cap is the most a floating loan of it can cost
        check_product_cost({f.attname: getattr(p, f.attname) for f in Product._meta.concrete_fields})
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
