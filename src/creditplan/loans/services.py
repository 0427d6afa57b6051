"""Loan use cases: products, the LPR table, disbursement, and reading loans.

Payments live in `payments.py`, the daily close in `cob.py`, restructuring and write-off in `restructure.py`;
they share the helpers at the bottom of this module (state snapshots, installment loading, the business date).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from creditplan.core.daycount import DayCount, add_months
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.money import Money, Rounding, from_ppm, ppm, round_fraction
from creditplan.customers.models import Customer
from creditplan.ledger import services as ledger
from creditplan.loans import accounting
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import InterestRule, Method, ScheduleTerms, build_schedule
from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import sheet_for_product, sheet_from_json
from creditplan.loans.models import (
    CloseRun,
    Installment,
    Loan,
    LoanActivity,
    LoanStatus,
    LprRate,
    Product,
    TermSheet,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import services as plans

DEFAULT_WATERFALL = ("penalty", "fee", "interest", "principal")
WATERFALL_ITEMS = frozenset(DEFAULT_WATERFALL)
LPR_TENORS = ("1y", "5y")


def to_minor(value: Any, field: str, *, allow_zero: bool = False, currency: str = "CNY") -> int:
    """Yuan text / Decimal / int → minor units, refusing floats, negatives and sub-fen precision by name: money
    typed by a person or a bank file is taken exactly as written or not at all."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationError(f"{field} is required", field=field, code="required")
    if isinstance(value, float):
        raise ValidationError(f"{field} must not be a float; send text such as '1234.56'", field=field,
                              code="float_money")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except ArithmeticError:
        raise ValidationError(f"{field} must be an amount such as 1234.56, got {value!r}", field=field,
                              code="invalid_amount") from None
    if not amount.is_finite():
        raise ValidationError(f"{field} must be a finite amount", field=field, code="invalid_amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationError(f"{field} has more than 2 decimals ({value})", field=field, code="sub_minor_amount")
    minor = Money.of(amount, currency).minor
    if minor < 0 or (minor == 0 and not allow_zero):
        raise ValidationError(f"{field} must be positive", field=field, code="not_positive")
    return minor


def yuan(minor: int) -> Decimal:
    return Money(int(minor), "CNY").amount


def parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"{field} must be a date (YYYY-MM-DD), got {value!r}", field=field,
                              code="invalid_date") from None


def business_date() -> dt.date:
    """Today in the institution's time zone (Asia/Shanghai): the date payments and disbursements take."""
    return timezone.localdate()


def last_closed_date() -> dt.date | None:
    """The latest business date whose close finished."""
    return CloseRun.objects.filter(status="done").aggregate(d=Max("business_date"))["d"]


# --- products and the LPR ---------------------------------------------------------------------------------

_PRODUCT_INT_FIELDS = ("min_term", "max_term", "months_per_period", "grace_periods", "reset_months",
                       "penalty_markup_pct", "grace_days", "max_backdate_days", "freeze_dpd", "upfront_fee_bp")


def _clean_product(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    code = str(data.get("code") or "").strip().lower()
    if not code or len(code) > 30 or not code.replace("-", "").replace("_", "").isalnum():
        raise ValidationError("product code is required: letters, digits, - and _ (at most 30)", field="code")
    out["code"] = code
    out["name"] = str(data.get("name") or "").strip()[:100] or code
    out["currency"] = str(data.get("currency") or "CNY").upper()
    out["min_amount_minor"] = to_minor(data.get("min_amount", "1000"), "min_amount")
    out["max_amount_minor"] = to_minor(data.get("max_amount", "1000000"), "max_amount")
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
    out["installment_fee_minor"] = to_minor(data.get("installment_fee", "0"), "installment_fee", allow_zero=True)
    out["late_fee_minor"] = to_minor(data.get("late_fee", "0"), "late_fee", allow_zero=True)
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
def create_product(actor: Any, **data: Any) -> Product:
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
def set_lpr(actor: Any, *, tenor: str, effective_date: Any, rate: Any) -> LprRate:
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
def set_rate_bounds(actor: Any, code: str, *, rate_floor_ppm: int, rate_cap_ppm: int) -> Product:
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


# --- disbursement -----------------------------------------------------------------------------------------

def terms_for(loan: Loan, *, principal_minor: int, periods: int, start: dt.date, first_due: dt.date,
              rate_ppm: int | None = None, method: str | None = None, grace_periods: int = 0) -> ScheduleTerms:
    """Schedule terms for (the rest of) a loan, from the terms copied onto it. Due dates keep the contract's
    day of the month (`contract_due_day`): a loan due on the 31st is due on 30 April and 31 May, not on the
    28th forever after a February due date — whatever rebuilds the schedule (a rate reset, a prepayment, a
    restructuring)."""
    due_day = contract_due_day(loan)
    if first_due is not None and first_due.day != min(due_day, calendar.monthrange(first_due.year,
                                                                                     first_due.month)[1]):
        due_day = None  # a schedule already off the contract day (made before this rule): keep its own dates
    return ScheduleTerms(
        principal_minor=principal_minor, annual_rate=from_ppm(loan.rate_ppm if rate_ppm is None else rate_ppm),
        periods=periods, method=Method.coerce(method or loan.method), start=start, first_due=first_due,
        months_per_period=loan.months_per_period, day_count=DayCount.coerce(loan.day_count),
        rounding=Rounding.coerce(loan.rounding), grace_periods=grace_periods,
        fee_per_installment_minor=loan.product.installment_fee_minor, due_day=due_day,
        interest_rule=InterestRule.coerce(loan.interest_rule))


def contract_due_day(loan: Loan) -> int:
    """The day of the month a loan's installments fall due: the disbursement's day when the first due date is
    one period after it (a loan paid out on 31 January is due on the 31st, its first due date clamped to
    28 February), else the first due date's own day."""
    if add_months(loan.start_date, loan.months_per_period) == loan.first_due_date:
        return loan.start_date.day
    return loan.first_due_date.day


def next_loan_ref() -> str:
    last = Loan.objects.aggregate(m=Max("id"))["m"] or 0
    return f"LN{last + 1:010d}"


def _quota_dims(customer: Customer, loan: Loan) -> dict[str, Any]:
    return {"branch": loan.branch.code, "product": loan.product.code, "industry": (customer.industry_code or "")[:1],
            "region": (customer.region_code or "")[:2], "customer_ref": str(customer.pk)}


@dataclass(frozen=True)
class SignedApplication:
    """What a signed application agreed, as the disbursement checks it: the signed contract's terms."""

    ref: str
    customer_id: int
    product: str
    currency: str
    amount_minor: int
    term: int
    rate_ppm: int | None
    reserved: bool  # its approval holds a plan reservation awaiting disbursement



@dataclass(frozen=True)
class ApplicationGate:
    """How loans asks origination about the application a loan pays out, without importing it (origination sits
    above loans). Origination registers one in its AppConfig.ready():

    - `signed(actor, ref)`: the application in the actor's scope (else NotFound), approved, signed, ready to
      disburse and not paid out (else Conflict), with the signed terms;
    - `paid_out(actor, ref, loan)`: called inside the disbursement's transaction once the loan is booked, so the
      application becomes disbursed whatever door the payout came through (the contract page, the API)."""

    signed: Callable[[Any, str], SignedApplication]
    paid_out: Callable[[Any, str, Loan], None]


_gate: list[ApplicationGate] = []


def register_application_gate(gate: ApplicationGate) -> None:
    _gate[:] = [gate]


def _signed_application(actor: Any, application_ref: str) -> SignedApplication:
    """The application a person pays a loan out against (see ApplicationGate.signed)."""
    ref = (application_ref or "").strip()
    if not ref:
        raise ValidationError("a loan is paid out only against an approved application the customer has "
                              "signed: give its reference", field="application_ref",
                              code="application_required")
    if not _gate:  # pragma: no cover - origination is an installed app and registers at start-up
        raise Conflict("applications are not installed: no loan can be paid out against one",
                       field="application_ref", code="application_not_ready")
    signed = _gate[0].signed(actor, ref)  # scope first: another branch's application is a 404 like a missing one
    if Loan.objects.filter(application_ref=ref).exists():
        raise Conflict(f"application {ref} has already been paid out", field="application_ref",
                       code="application_disbursed")
    return signed


def _check_against(approval: SignedApplication, *, customer: Customer, product: Product, currency: str,
                   amount_minor: int, term: Any, rate: Any) -> int | None:
    """Refuse, naming the field, a disbursement that is not what the application approved and the customer
    signed; returns the agreed rate (ppm) of a fixed-rate loan."""
    ref = approval.ref
    if customer.pk != approval.customer_id:
        raise ValidationError(f"application {ref} is not this customer's", field="customer_id",
                              code="application_mismatch")
    if product.code != approval.product:
        raise ValidationError(f"application {ref} is for product {approval.product}", field="product",
                              code="application_mismatch")
    if currency != approval.currency:
        raise ValidationError(f"application {ref} was approved in {approval.currency}", field="currency",
                              code="application_mismatch")
    if amount_minor > approval.amount_minor:
        raise ValidationError(f"amount is above the {yuan(approval.amount_minor)} approved and signed for "
                              f"application {ref}", field="amount", code="above_approval")
    if term != approval.term:
        raise ValidationError(f"application {ref} was approved for a term of {approval.term}", field="term",
                              code="application_mismatch")
    signed = approval.rate_ppm
    if signed is not None and rate not in (None, "") and _rate_ppm(rate, "rate") != signed:
        raise ValidationError(f"application {ref} was signed at a rate of {from_ppm(signed)}",
                              field="rate", code="application_mismatch")
    return approval.rate_ppm


@transaction.atomic
def disburse(actor: Any, *, customer_id: int, product: str, amount: Any, term: int, start_date: Any = None,
             first_due_date: Any = None, rate: Any = None, application_ref: str = "", reference: str = "",
             currency: str | None = None) -> Loan:
    """Pay out a loan: create it with its schedule, post Dr loans / Cr cash (and the upfront fee), consume the
    credit-plan quota, record the event.

    A person (`actor` a user with loan.disburse) pays out only against an application that was approved and
    whose contract the customer signed (status ready to disburse), in their branch scope, not paid out before,
    of the same customer and product, in the same currency, for the same term, for at most the approved amount
    and at the signed rate: anything else is refused naming the field (application_ref, customer_id, product,
    currency, term, amount, rate). The application's reservation is consumed (an approval that holds none
    reserves and consumes now, under the application's reference).

    Trusted batch code (`actor` None: the demo seed, loading a book from a legacy system) books a loan without
    an application and may not name one; it reserves and consumes plan quota under the loan's own reference.
    No plan covering the date: nothing to track.

    `rate` (a fraction, e.g. "0.0395") is the agreed rate of a fixed-rate loan, within the product's floor
    and cap; floating loans always take LPR + spread on the start date."""
    if actor is not None:
        org.require(actor, Perm.LOAN_DISBURSE)
    elif (application_ref or "").strip():
        raise ValidationError("trusted batch code books loans without an application; a person pays out "
                              "against one", field="application_ref", code="application_not_allowed")
    try:
        customer = (Customer.objects.select_for_update(of=("self",)).select_related("branch")
                    .get(pk=customer_id))
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"no customer {customer_id}", field="customer_id", code="unknown_customer") from None
    org.require_in_scope(actor, customer.branch, message=f"no customer {customer_id}",
                         code="unknown_customer", field="customer_id")
    approval = _signed_application(actor, application_ref) if actor is not None else None
    p = get_product(product)
    if not p.is_active:
        raise Conflict(f"product {p.code} is not offered", field="product", code="product_inactive")
    if customer.status != "active":
        raise Conflict(f"customer {customer.pk} is {customer.status}", field="customer_id", code="customer_inactive")
    if currency not in (None, "") and str(currency).strip().upper() != p.currency:
        raise ValidationError(f"product {p.code} lends in {p.currency}", field="currency",
                              code="currency_mismatch")
    minor = to_minor(amount, "amount")
    if not p.min_amount_minor <= minor <= p.max_amount_minor:
        raise ValidationError(f"amount must be between {yuan(p.min_amount_minor)} and {yuan(p.max_amount_minor)}",
                              field="amount", code="amount_out_of_range")
    if isinstance(term, bool) or not isinstance(term, int) or not p.min_term <= term <= p.max_term:
        raise ValidationError(f"term must be a whole number of periods from {p.min_term} to {p.max_term}",
                              field="term", code="term_out_of_range")
    agreed = None
    if approval is not None:
        agreed = _check_against(approval, customer=customer, product=p, currency=p.currency,
                                amount_minor=minor, term=term, rate=rate)
    start = business_date() if start_date in (None, "") else parse_date(start_date, "start_date")
    if start > business_date():
        raise ValidationError("a loan cannot be disbursed in the future", field="start_date", code="date_in_future")
    closed = last_closed_date()
    if closed is not None and start <= closed:
        raise ValidationError(f"the close of {closed} has run; a disbursement must be dated after it",
                              field="start_date", code="date_closed")
    first_due = (add_months(start, p.months_per_period) if first_due_date in (None, "")
                 else parse_date(first_due_date, "first_due_date"))
    if p.rate_type == "floating":
        rate_ppm = floating_rate_ppm(p, p.lpr_tenor, p.spread_ppm, start, p.rate_floor_ppm, p.rate_cap_ppm)
    elif agreed is not None:
        rate_ppm = agreed
    elif rate in (None, ""):
        rate_ppm = p.rate_ppm
    else:
        rate_ppm = _rate_ppm(rate, "rate")
        if not p.rate_floor_ppm <= rate_ppm <= p.rate_cap_ppm:
            raise ValidationError(f"rate must be within the product's floor {from_ppm(p.rate_floor_ppm)} and cap "
                                  f"{from_ppm(p.rate_cap_ppm)}", field="rate", code="rate_out_of_range")
    loan = Loan(ref=reference.strip() or next_loan_ref(), customer=customer, branch=customer.branch, product=p,
                currency=p.currency, principal_minor=minor, rate_ppm=rate_ppm, spread_ppm=p.spread_ppm,
                rate_type=p.rate_type, method=p.method, term=term, months_per_period=p.months_per_period,
                day_count=p.day_count, rounding=p.rounding, interest_rule=p.interest_rule, start_date=start,
                first_due_date=first_due, maturity_date=first_due, principal_outstanding_minor=minor,
                period_start_date=start,
                closed_through=start, disbursed_by=actor,
                next_reset_date=add_months(start, p.reset_months) if p.rate_type == "floating" else None)
    loan.product = p
    loan.term_sheet = store_term_sheet(sheet_for_product(p))
    schedule = build_schedule(terms_for(loan, principal_minor=minor, periods=term, start=start, first_due=first_due,
                                        grace_periods=p.grace_periods))
    loan.maturity_date = schedule[-1].due_date
    set_current_period(loan, schedule[0])
    fee = round_fraction(Fraction(minor * p.upfront_fee_bp, 10_000), p.rounding)
    loan.fee_income_minor = fee
    if Loan.objects.filter(ref=loan.ref).exists():
        raise Conflict(f"loan {loan.ref} exists", field="reference", code="duplicate_loan")
    loan.save()
    Installment.objects.bulk_create([Installment(
        loan=loan, version=1, seq=i.seq, start_date=i.start_date, due_date=i.due_date, principal_minor=i.principal,
        interest_minor=i.interest, fee_minor=i.fee) for i in schedule])
    branch = loan.branch.code
    accounting.post_entry(start, "disbursement", [
        Line(accounts.LOAN_PRINCIPAL, branch, minor, p.currency), Line(accounts.CASH, branch, -minor, p.currency),
        Line(accounts.CASH, branch, fee, p.currency), Line(accounts.FEE_INCOME, branch, -fee, p.currency),
    ], loan=loan, memo=f"disbursement {loan.ref}")
    quota = _consume_quota(actor, customer, loan, approval, start)
    LoanActivity.objects.create(loan=loan, business_date=start, kind="disbursed", amount_minor=minor,
                                detail={"fee_minor": fee, "quota": quota})
    ledger.append(actor, "loan.disbursed", "loan", loan.ref, {
        "customer": customer.pk, "branch": branch, "product": p.code, "principal_minor": minor,
        "rate_ppm": rate_ppm, "term": term, "method": loan.method, "start": start, "first_due": first_due,
        "maturity": loan.maturity_date, "upfront_fee_minor": fee, "quota": quota,
        "application": approval.ref if approval is not None else "",
        "term_sheet": loan.term_sheet.digest,
        "schedule": [[i.due_date.isoformat(), i.principal, i.interest, i.fee] for i in schedule]})
    if approval is not None:
        _gate[0].paid_out(actor, approval.ref, loan)
    return loan


def store_term_sheet(sheet: Sheet) -> TermSheet:
    """The stored row for a term sheet, created the first time its content is seen."""
    row, _ = TermSheet.objects.get_or_create(digest=sheet.digest, defaults={"body": sheet.as_json()})
    return row


def term_sheet_of(loan: Loan) -> Sheet:
    """The clauses a loan runs under (loans created before term sheets existed: their product's)."""
    if loan.term_sheet_id is None:
        return sheet_for_product(loan.product)
    return sheet_from_json(loan.term_sheet.body)


def _consume_quota(actor: Any, customer: Customer, loan: Loan, approval: SignedApplication | None, on: dt.date
                   ) -> str:
    """Consume the plan quota: the application's own reservation when its approval holds one; otherwise
    reserve and consume now, under the application's reference (or, for a loan booked by trusted code, the
    loan's own). The loan keeps that reference (`application_ref`): its repayments give the balance quota back
    through it. No plan covering the date: nothing to track."""
    ref = approval.ref if approval is not None else loan.ref
    amount = yuan(loan.principal_minor)
    loan.application_ref = ref
    Loan.objects.filter(pk=loan.pk).update(application_ref=ref)
    if approval is None or not approval.reserved:
        try:
            plans.reserve_quota(actor, application_ref=ref, amount=amount, on=on,
                                **_quota_dims(customer, loan))
        except Conflict as exc:
            if exc.code == "no_active_plan":
                return "untracked"
            raise
    plans.consume_quota(actor, application_ref=ref, amount=amount, on=on)
    return ref


# --- shared helpers for payments, the close and restructuring ---------------------------------------------

def set_current_period(loan: Loan, inst: Any | None) -> None:
    """Point the loan's accruing period at installment `inst` (schedule.Installment or models.Installment);
    None once nothing is left to accrue."""
    if inst is None:
        loan.current_seq, loan.next_due_date = 0, None
        loan.period_interest_minor = loan.period_principal_minor = loan.period_fee_minor = 0
        return
    loan.current_seq = inst.seq
    loan.period_start_date = inst.start_date
    loan.next_due_date = inst.due_date
    if isinstance(inst, Installment):
        loan.period_interest_minor, loan.period_principal_minor = inst.interest_minor, inst.principal_minor
        loan.period_fee_minor = inst.fee_minor
    else:
        loan.period_interest_minor, loan.period_principal_minor, loan.period_fee_minor = (
            inst.interest, inst.principal, inst.fee)


def open_installments(loan: Loan, *, for_update: bool = False) -> list[Installment]:
    """The loan's current (non-superseded) installments that are not fully paid, oldest first."""
    qs = Installment.objects.filter(loan=loan).exclude(status__in=("superseded", "paid")).order_by("seq")
    return list(qs.select_for_update() if for_update else qs)


def current_schedule(loan: Loan) -> list[Installment]:
    return list(Installment.objects.filter(loan=loan).exclude(status="superseded").order_by("seq"))


def loan_for_update(ref_or_id: Any) -> Loan:
    qs = Loan.objects.select_for_update(of=("self",)).select_related("product", "branch", "customer")
    try:
        if isinstance(ref_or_id, int):
            return qs.get(pk=ref_or_id)
        return qs.get(ref=str(ref_or_id))
    except Loan.DoesNotExist:
        raise NotFound(f"no loan {ref_or_id}", field="loan", code="unknown_loan") from None


STATE_FIELDS = (
    "status", "principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor",
    "accrued_interest_minor", "penalty_minor", "penalty_carry", "fees_minor", "credit_minor", "current_seq",
    "period_start_date", "next_due_date", "period_interest_minor", "period_principal_minor", "period_fee_minor",
    "oldest_due_date", "dpd", "bucket", "risk_class", "fee_check_date", "frozen", "restructured_until",
    "pre_restructure_class", "restructure_count", "schedule_version", "interest_income_minor",
    "penalty_income_minor", "fee_income_minor", "closed_through", "closed_on", "written_off_on",
    "written_off_minor", "recovered_minor", "rate_ppm", "next_reset_date", "maturity_date", "term", "method",
)
_DATE_FIELDS = frozenset({"period_start_date", "next_due_date", "oldest_due_date", "fee_check_date",
                          "restructured_until", "closed_through", "closed_on", "written_off_on",
                          "next_reset_date", "maturity_date"})
_INSTALLMENT_FIELDS = ("id", "version", "seq", "start_date", "due_date", "principal_minor", "interest_minor",
                       "fee_minor", "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status",
                       "paid_on")


def snapshot(loan: Loan) -> dict[str, Any]:
    """The loan's full state as JSON-able data: its columns and every installment of every version. What a
    payment stores as `state_before`, so that a reversal can restore it exactly and replay what followed."""
    cols = {f: (getattr(loan, f).isoformat() if f in _DATE_FIELDS and getattr(loan, f) else getattr(loan, f))
            for f in STATE_FIELDS}
    rows = []
    for i in Installment.objects.filter(loan=loan).order_by("id").values_list(*_INSTALLMENT_FIELDS):
        rows.append([v.isoformat() if isinstance(v, dt.date) else v for v in i])
    return {"loan": cols, "installments": rows}


def restore(loan: Loan, snap: dict[str, Any]) -> None:
    """Put a loan back exactly as `snapshot` saw it: columns, and installments (rows created since removed)."""
    for f, v in snap["loan"].items():
        setattr(loan, f, dt.date.fromisoformat(v) if f in _DATE_FIELDS and v else v)
    loan.save()
    keep = []
    for row in snap["installments"]:
        values = dict(zip(_INSTALLMENT_FIELDS, row, strict=True))
        for f in ("start_date", "due_date", "paid_on"):
            if values[f]:
                values[f] = dt.date.fromisoformat(values[f])
        pk = values.pop("id")
        keep.append(pk)
        Installment.objects.update_or_create(pk=pk, defaults={"loan": loan, **values})
    Installment.objects.filter(loan=loan).exclude(pk__in=keep).delete()


# --- reading ----------------------------------------------------------------------------------------------

def loans_visible_to(actor: Any) -> QuerySet[Loan]:
    """Staff: loans of their branch subtree (head-office roles: all). A customer: their own loans."""
    if actor is not None and getattr(actor, "role", "") == "customer":
        return Loan.objects.filter(customer__user=actor)
    org.require(actor, Perm.LOAN_VIEW)
    return org.scope_to_branches(actor, Loan.objects.all())


def get_loan(actor: Any, ref: str) -> Loan:
    try:
        return loans_visible_to(actor).select_related("product", "branch", "customer").get(ref=ref)
    except Loan.DoesNotExist:
        raise NotFound(f"no loan {ref}", field="loan", code="unknown_loan") from None


@dataclass(frozen=True)
class Balances:
    principal_minor: int
    overdue_principal_minor: int
    overdue_interest_minor: int
    accrued_interest_minor: int
    penalty_minor: int
    fees_minor: int
    credit_minor: int

    @property
    def total_due_minor(self) -> int:
        """What must be paid today to be current."""
        return self.overdue_principal_minor + self.overdue_interest_minor + self.penalty_minor + self.fees_minor


def balances(loan: Loan) -> Balances:
    return Balances(loan.principal_outstanding_minor, loan.overdue_principal_minor, loan.overdue_interest_minor,
                    loan.accrued_interest_minor, loan.penalty_minor, loan.fees_minor, loan.credit_minor)


def loan_status_text(loan: Loan) -> str:
    return LoanStatus(loan.status).label
