"""Disbursement: paying a loan out against the application the customer signed, with its schedule, its
journal entry, the credit plan's quota and the ledger event — and the schedule terms of (the rest of) a loan,
which whatever rebuilds a schedule uses (a rate reset, a prepayment, a restructuring).

Loans asks origination about the application through a gate origination registers in its AppConfig.ready()
(`register_application_gate`): origination sits above loans and loans never imports it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.db import transaction
from django.db.models import Max

from creditplan.core.access import Actor
from creditplan.core.daycount import DayCount, add_months
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.money import Money, Rounding, format_minor, from_ppm, parse_minor, round_fraction
from creditplan.customers.models import Customer
from creditplan.ledger import services as ledger
from creditplan.lines import services as lines
from creditplan.loans import accounting, clock, plan_book
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import InterestRule, Method, ScheduleTerms, build_schedule
from creditplan.loans.domain.schedule_terms import FirstPeriod
from creditplan.loans.domain.terms import next_reset, penalty_pcts, sheet_for_product
from creditplan.loans.loan_state import set_current_period
from creditplan.loans.models import Installment, Loan, LoanActivity, Product
from creditplan.loans.products import (
    _rate_ppm,
    check_all_in_cost,
    floating_rate_ppm,
    get_product,
    payment_roll,
    store_term_sheet,
)
from creditplan.loans.values import parse_date
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import services as plans


def terms_for(loan: Loan, *, principal_minor: int, periods: int, start: dt.date, first_due: dt.date,
              rate_ppm: int | None = None, method: str | None = None, grace_periods: int = 0) -> ScheduleTerms:
    """Schedule terms for (the rest of) a loan, from the terms copied onto it. Due dates keep the contract's
    day of the month (`contract_due_day`): a loan due on the 31st is due on 30 April and 31 May, not on the
    28th forever after a February due date — whatever rebuilds the schedule (a rate reset, a prepayment, a
    restructuring)."""
    contract_day = contract_due_day(loan)
    due_day: int | None = contract_day
    roll = payment_roll(getattr(loan, "due_date_roll", "none"))
    if roll is not None and first_due is not None:
        first_due = contract_date(first_due, contract_day, roll)  # a rolled due date: rebuild from the contract's
    if first_due is not None and first_due.day != min(contract_day, calendar.monthrange(first_due.year,
                                                                                          first_due.month)[1]):
        due_day = None  # a schedule already off the contract day (made before this rule): keep its own dates
    return ScheduleTerms(
        principal_minor=principal_minor, annual_rate=from_ppm(loan.rate_ppm if rate_ppm is None else rate_ppm),
        periods=periods, method=Method.coerce(method or loan.method), start=start, first_due=first_due,
        months_per_period=loan.months_per_period, day_count=DayCount.coerce(loan.day_count),
        rounding=Rounding.coerce(loan.rounding), grace_periods=grace_periods,
        fee_per_installment_minor=loan.product.installment_fee_minor, due_day=due_day,
        interest_rule=InterestRule.coerce(loan.interest_rule), payment_roll=roll,
        # the broken first period (issue 18) only concerns a schedule from the value date
        first_period=FirstPeriod(getattr(loan, "first_period", "resolve") if start == loan.start_date
                                 else "resolve"))


def contract_date(day: dt.date, contract_day: int, roll: Any) -> dt.date:
    """The contract due date a (possibly rolled) due date stands for: the contract day of its month or of the
    month before whose roll lands on it (a following roll moves at most a few days); else the day itself."""
    for year, month in ((day.year, day.month), (day.year - (day.month == 1), (day.month - 2) % 12 + 1)):
        candidate = dt.date(year, month, min(contract_day, calendar.monthrange(year, month)[1]))
        if roll(candidate) == day:
            return candidate
    return day


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
    """Every dimension the plan cuts by, as the loan is booked (the loan book's cell: loans/plan_source.py)."""
    return {"branch": loan.branch.code, "product": loan.product.code, "industry": (customer.industry_code or "")[:1],
            "region": (customer.region_code or "")[:2], "segment": loan.segment, "customer_ref": str(customer.pk)}


def plan_segment(value: Any, *, strict: bool = False) -> str:
    """The credit plan's customer segment (普惠小微…) a loan is booked under: a segment code configured for the
    plans (plans.dimension_codes("segment")), else "" — or, `strict` (a segment named by the caller of a
    direct disbursement), a ValidationError naming the field."""
    code = str(value or "").strip()
    if not code:
        return ""
    if code in {c for c, _name in plans.dimension_codes("segment")}:
        return code
    if strict:
        raise ValidationError(f"segment {code!r} is not a configured plan segment", field="segment",
                              code="unknown_segment")
    return ""


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
    segment: str = ""  # the customer segment the application was made and approved under (its inputs)



@dataclass(frozen=True)
class ApplicationGate:
    """How loans asks origination about the application a loan pays out, without importing it (origination sits
    above loans). Origination registers one in its AppConfig.ready():

    - `signed(actor, ref)`: the application in the actor's scope (else NotFound), approved, signed, ready to
      disburse and not paid out (else Conflict), with the signed terms;
    - `paid_out(actor, ref, loan)`: called inside the disbursement's transaction once the loan is booked, so the
      application becomes disbursed whatever door the payout came through (the contract page, the API)."""

    signed: Callable[[Actor, str], SignedApplication]
    paid_out: Callable[[Actor, str, Loan], None]


_gate: list[ApplicationGate] = []


def register_application_gate(gate: ApplicationGate) -> None:
    _gate[:] = [gate]


def _signed_application(actor: Actor, application_ref: str) -> SignedApplication:
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
        approved = format_minor(approval.amount_minor, approval.currency)
        raise ValidationError(f"amount is above the {approved} approved and signed for application {ref}",
                              field="amount", code="above_approval")
    if term != approval.term:
        raise ValidationError(f"application {ref} was approved for a term of {approval.term}", field="term",
                              code="application_mismatch")
    signed = approval.rate_ppm
    if signed is not None and rate not in (None, "") and _rate_ppm(rate, "rate") != signed:
        raise ValidationError(f"application {ref} was signed at a rate of {from_ppm(signed)}",
                              field="rate", code="application_mismatch")
    return approval.rate_ppm


def check_value_date(start_date: Any) -> dt.date:
    """The value date of a disbursement (the loan's start date): blank is the booking day (`clock.booking_date`:
    today, or the next day once today's close has run); a date after the booking day, or on or before the last
    close, is refused — a closed day's books do not change, and a loan paid out after the close starts the next
    day. The refusal carries the dates (`extra`: closed, earliest) so the page can say them."""
    booking = clock.booking_date()
    start = booking if start_date in (None, "") else parse_date(start_date, "start_date")
    closed = clock.last_closed_date()
    extra = {"closed": closed.isoformat() if closed else "", "earliest": (closed + dt.timedelta(days=1)).isoformat()
             if closed else "", "booking": booking.isoformat()}
    if start > booking:
        raise ValidationError(f"a loan cannot be paid out with a value date after the booking day {booking}",
                              field="start_date", code="disbursement_date_future", extra=extra)
    if closed is not None and start <= closed:
        raise ValidationError(f"the close of {closed} has run and its books are closed: a disbursement is dated "
                              f"the next booking day, {closed + dt.timedelta(days=1)}, or later", field="start_date",
                              code="disbursement_date_closed", extra=extra)
    return start


@transaction.atomic
def disburse(actor: Actor | None, *, customer_id: int, product: str, amount: Any, term: int, start_date: Any = None,
             first_due_date: Any = None, rate: Any = None, application_ref: str = "", reference: str = "",
             currency: str | None = None, segment: str = "") -> Loan:
    """Pay out a loan: create it with its schedule, post Dr loans / Cr cash (and the upfront fee), consume the
    credit-plan quota, record the event.

    A person (`actor` a user with loan.disburse) pays out only against an application that was approved and
    whose contract the customer signed (status ready to disburse), in their branch scope, not paid out before,
    of the same customer and product, in the same currency, for the same term, for at most the approved amount
    and at the signed rate: anything else is refused naming the field (application_ref, customer_id, product,
    currency, term, amount, rate, segment). The application's reservation is consumed (an approval that holds
    none reserves and consumes now, under the application's reference).

    The loan's plan segment (`Loan.segment`, 普惠小微…): the application's, when it is a configured plan segment;
    for trusted code, `segment` (refused when not configured). The plan sees the loan by all its dimensions —
    branch, product, industry section, province, segment (issue 19 §5).

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
    if approval is not None:
        booked_segment = plan_segment(approval.segment)
        if str(segment or "").strip() and str(segment).strip() != booked_segment:
            raise ValidationError(f"application {approval.ref} was approved for segment {booked_segment or '(none)'}",
                                  field="segment", code="application_mismatch")
    else:
        booked_segment = plan_segment(segment, strict=True)
    p = get_product(product)
    if not p.is_active:
        raise Conflict(f"product {p.code} is not offered", field="product", code="product_inactive")
    if customer.status != "active":
        raise Conflict(f"customer {customer.pk} is {customer.status}", field="customer_id", code="customer_inactive")
    if currency not in (None, "") and str(currency).strip().upper() != p.currency:
        raise ValidationError(f"product {p.code} lends in {p.currency}", field="currency",
                              code="currency_mismatch")
    minor = parse_minor(amount, "amount", currency=p.currency, allow_zero=False)
    if not p.min_amount_minor <= minor <= p.max_amount_minor:
        raise ValidationError(f"amount must be between {format_minor(p.min_amount_minor, p.currency)} and "
                              f"{format_minor(p.max_amount_minor, p.currency)}", field="amount",
                              code="amount_out_of_range")
    if isinstance(term, bool) or not isinstance(term, int) or not p.min_term <= term <= p.max_term:
        raise ValidationError(f"term must be a whole number of periods from {p.min_term} to {p.max_term}",
                              field="term", code="term_out_of_range")
    agreed = None
    if approval is not None:
        agreed = _check_against(approval, customer=customer, product=p, currency=p.currency,
                                amount_minor=minor, term=term, rate=rate)
    start = check_value_date(start_date)
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
    loan = Loan(ref=reference.strip() or next_loan_ref(), customer=customer, segment=booked_segment,
                branch=customer.branch, product=p,
                currency=p.currency, principal_minor=minor, rate_ppm=rate_ppm, spread_ppm=p.spread_ppm,
                rate_type=p.rate_type, method=p.method, term=term, months_per_period=p.months_per_period,
                day_count=p.day_count, rounding=p.rounding, interest_rule=p.interest_rule, start_date=start,
                first_period=p.first_period, due_date_roll=p.due_date_roll,
                first_due_date=first_due, maturity_date=first_due, principal_outstanding_minor=minor,
                period_start_date=start,
                closed_through=start, disbursed_by=actor,
                next_reset_date=(next_reset(start, p.reset_months, start, sheet_for_product(p).reprice_on)
                                 if p.rate_type == "floating" else None))
    loan.product = p
    loan.term_sheet = store_term_sheet(sheet_for_product(p))
    schedule = build_schedule(terms_for(loan, principal_minor=minor, periods=term, start=start, first_due=first_due,
                                        grace_periods=p.grace_periods))
    loan.maturity_date = schedule[-1].due_date
    set_current_period(loan, schedule[0])
    fee = round_fraction(Fraction(minor * p.upfront_fee_bp, 10_000), p.rounding)
    check_all_in_cost(principal_minor=minor, upfront_fee_minor=fee, payments=[i.payment for i in schedule],
                      months_per_period=p.months_per_period, rate_ppm=rate_ppm, penalty_pcts=penalty_pcts(p))
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
        "segment": loan.segment,
        "maturity": loan.maturity_date, "upfront_fee_minor": fee, "quota": quota,
        "application": approval.ref if approval is not None else "",
        "term_sheet": loan.term_sheet.digest,
        "schedule": [[i.due_date.isoformat(), i.principal, i.interest, i.fee] for i in schedule]})
    if approval is not None and actor is not None:  # an approval is only ever looked up for a person
        _gate[0].paid_out(actor, approval.ref, loan)
    return loan


def _consume_quota(actor: Actor | None, customer: Customer, loan: Loan, approval: SignedApplication | None, on: dt.date
                   ) -> str:
    """Consume the plan quota: the application's own reservation when its approval holds one; otherwise
    reserve and consume now, under the application's reference (or, for a loan booked by trusted code, the
    loan's own). The loan keeps that reference (`application_ref`): its repayments give the balance quota back
    through it. No plan covering the date: nothing to track."""
    ref = approval.ref if approval is not None else loan.ref
    amount = Money(loan.principal_minor)  # the plan counts in fen
    # a loan value-dated the next booking day (paid out after today's close, issue 20) moves the plan today: the
    # plan's movements are never dated in the future (as a repayment's: payments/records.restore_quota)
    on = min(on, clock.business_date())
    loan.application_ref = ref
    Loan.objects.filter(pk=loan.pk).update(application_ref=ref)
    # the customer's credit line before the plan (the lock order): the approval's reservation becomes use
    lines.draw(actor, customer_id=customer.pk, application_ref=ref, product=loan.product.code,
               amount_minor=loan.principal_minor, currency=loan.currency)
    if approval is None or not approval.reserved:
        try:
            plans.reserve_quota(actor, application_ref=ref, amount=amount, on=on,
                                **_quota_dims(customer, loan))
        except Conflict as exc:
            if exc.code == "no_active_plan":
                # no plan reserves for the date; a plan tracking the whole book still sees the loan (issue 19 §5)
                plan_book.principal_moved(loan, loan.principal_minor, on, "disbursement")
                return "untracked"
            raise
    # the plan's book takes the loan in its own cell (the dimensions it was booked with), whatever the approval named
    plans.consume_quota(actor, application_ref=ref, amount=amount, on=on, cell=plan_book.cell_of(loan))
    return ref
