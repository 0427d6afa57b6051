"""The payoff quote (what settles a loan on a day) and prepayment (提前还款): in full, or partial with a new
schedule that shortens the term or reduces the installment.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.daycount import add_months
from creditplan.core.errors import Conflict, ValidationError
from creditplan.core.money import format_minor, from_ppm, parse_minor, round_fraction
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, clock, services
from creditplan.loans.disbursement import terms_for
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.allocation import CLOSED, Applied, InstallmentRow, apply_payment
from creditplan.loans.domain.schedule import Method, build_schedule, periods_to_repay
from creditplan.loans.domain.waterfall import Due
from creditplan.loans.loan_state import set_current_period
from creditplan.loans.models import Installment, Loan, LoanActivity, LoanStatus, Payment
from creditplan.loans.payments.checks import (
    MAX_AMOUNT_MINOR,
    ONE_DAY,
    check_channel,
    check_loan,
    clean_loan_ref,
    clean_reference,
    lock_loan,
    parse_value_date,
    require_loan_in_scope,
)
from creditplan.loans.payments.records import (
    PaymentResult,
    event_data,
    existing,
    insert_payment,
    restore_quota,
    result_of,
    save_loan,
    save_rows,
)
from creditplan.loans.payments.state import due_rows, layout_of, snapshot
from creditplan.loans.products import term_sheet_of
from creditplan.loans.values import parse_date
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["PREPAY_MODES", "PayoffQuote", "payoff_quote", "prepay", "prepayment_fee"]

# Payment.kind per mode (the models comment says "prepay_payment", which is longer than its max_length of 12)
PREPAY_MODES = {"full": "prepay_full", "shorten_term": "prepay_term", "reduce_installment": "prepay_pmt"}


@dataclass(frozen=True)
class PayoffQuote:
    """What settles a loan on `on`, item by item (minor units); `total_minor` is what the customer pays."""

    loan_ref: str
    on: dt.date
    currency: str
    principal_minor: int
    overdue_interest_minor: int
    accrued_interest_minor: int  # interest of the current period accrued to `on` (the accrual rule)
    penalty_minor: int  # charged and unpaid, plus projected for days not closed yet
    penalty_projected_minor: int  # the projected part
    fees_minor: int
    credit_minor: int  # the customer's credit balance, deducted
    total_minor: int
    penalty_carry: int = 0  # the sub-fen remainder after the projected days (what the close would keep)
    prepayment_fee_minor: int = 0  # 提前还款违约金 (clause prepayment), included in total_minor

    def items(self) -> list[tuple[str, int]]:
        items = [("principal", self.principal_minor), ("overdue_interest", self.overdue_interest_minor),
                 ("accrued_interest", self.accrued_interest_minor), ("penalty", self.penalty_minor),
                 ("fees", self.fees_minor), ("credit", -self.credit_minor)]
        if self.prepayment_fee_minor:
            items.insert(5, ("prepayment_fee", self.prepayment_fee_minor))
        return items


def _basis(day_count: str) -> int:
    return 360 if day_count in ("ACT/360", "30/360") else 365


def _accrued_to(loan: Loan, on: dt.date) -> int:
    """Payoff interest (issue 18): the balance not yet due × the annual rate × the actual days from the period
    start (the last due date, or the last partial prepayment) to `on` / 360 — the PBoC daily rate 日利率 = 年利率
    / 360, for 30/360 and ACT/360 products alike; ACT/365F and ACT/ACT products, whose contracts count a
    365-day year, / 365. A period a rate reset split (分段计息) counts each rate for its own days. Rounded once
    by the product's rule; never more than the period's scheduled interest, which is what it costs on the due
    date itself (the installment then falls due whole)."""
    if not loan.current_seq or loan.next_due_date is None:
        return 0
    if on >= loan.next_due_date:
        return loan.period_interest_minor
    start = loan.period_start_date
    if on <= start:
        return 0
    balance = loan.principal_outstanding_minor - loan.overdue_principal_minor
    resets = LoanActivity.objects.filter(loan=loan, kind="rate_reset", business_date__gt=start,
                                         business_date__lt=on).order_by("business_date", "id")
    segments: list[tuple[dt.date, int]] = []  # (from, rate in force from that day)
    rate = loan.rate_ppm
    for a in reversed(list(resets.values_list("business_date", "detail"))):
        segments.append((a[0], rate))
        rate = int(a[1].get("from_ppm", rate))
    segments.append((start, rate))
    segments.reverse()
    rate_days = 0
    for k, (since, ppm_rate) in enumerate(segments):
        until = segments[k + 1][0] if k + 1 < len(segments) else on
        rate_days += ppm_rate * (until - since).days
    interest = round_fraction(Fraction(balance * rate_days, 1_000_000 * _basis(loan.day_count)), loan.rounding)
    return min(interest, loan.period_interest_minor)


def _months_since_start(loan: Loan, day: dt.date, months: int) -> bool:
    """Is `day` within the first `months` months of the loan (before start + months)?"""
    return months > 0 and day < add_months(loan.start_date, months)


def prepayment_fee(loan: Loan, principal: int, day: dt.date) -> int:
    """提前还款违约金: fee_bp basis points of the principal prepaid (rounded by the product's rule), within the first
    fee_months months (0: whenever); none without the clause."""
    rules = term_sheet_of(loan).prepayment
    if not rules["fee_bp"] or (rules["fee_months"] and not _months_since_start(loan, day, rules["fee_months"])):
        return 0
    return round_fraction(Fraction(principal * rules["fee_bp"], 10_000), loan.rounding)


def _check_rules(loan: Loan, day: dt.date, *, partial: bool) -> dict[str, int]:
    """The clause's lock-in (any prepayment) and yearly count (partial prepayments): refusals name the rule."""
    rules = term_sheet_of(loan).prepayment
    if _months_since_start(loan, day, rules["lockin_months"]):
        free_from = add_months(loan.start_date, rules["lockin_months"])
        raise ValidationError(f"the contract allows no prepayment in its first {rules['lockin_months']} months: "
                              f"prepay on or after {free_from}", field="value_date", code="prepay_locked_in")
    if partial and rules["max_per_year"]:
        done = Payment.objects.filter(loan=loan, status="posted", kind__in=("prepay_term", "prepay_pmt"),
                                      value_date__year=day.year).count()
        if done >= rules["max_per_year"]:
            raise ValidationError(f"the contract allows {rules['max_per_year']} partial prepayments a year and "
                                  f"{done} were made in {day.year}", field="value_date", code="prepay_limit_reached")
    return rules


def _projected_penalty(loan: Loan, on: dt.date) -> tuple[int, int]:
    """Penalty interest for the days after the last close up to `on`, by the close's formula on today's
    overdue base: (penalty, carry after)."""
    sheet = term_sheet_of(loan)
    after_days, markup = sheet.penalty_after_days, sheet.penalty_markup_pct
    base = loan.overdue_principal_minor + loan.overdue_interest_minor
    carry, total = loan.penalty_carry, 0
    if not base or loan.oldest_due_date is None or sheet.clause("penalty_interest") is None:
        return 0, carry
    denominator = 1_000_000 * 100 * _basis(loan.day_count)
    day = loan.closed_through + ONE_DAY
    while day <= on:
        if (day - loan.oldest_due_date).days > after_days:
            numerator = base * loan.rate_ppm * (100 + markup) + carry
            today, carry = divmod(numerator, denominator)
            total += today
        day += ONE_DAY
    return total, carry


def _quote(loan: Loan, on: dt.date) -> PayoffQuote:
    accrued = _accrued_to(loan, on)
    projected, carry = _projected_penalty(loan, on)
    penalty = loan.penalty_minor + projected
    fee = prepayment_fee(loan, loan.principal_outstanding_minor - loan.overdue_principal_minor, on)
    total = (loan.principal_outstanding_minor + loan.overdue_interest_minor + accrued + penalty + loan.fees_minor
             + fee - loan.credit_minor)
    return PayoffQuote(loan.ref, on, loan.currency, loan.principal_outstanding_minor, loan.overdue_interest_minor,
                       accrued, penalty, projected, loan.fees_minor, loan.credit_minor, total, carry, fee)


def _check_quote_date(loan: Loan, on: dt.date, field: str = "on") -> None:
    if on < loan.closed_through:
        raise ValidationError(f"{field} {on} is before the last close applied to the loan ({loan.closed_through})",
                              field=field, code="before_last_close")
    if loan.next_due_date is not None and on > loan.next_due_date:
        raise ValidationError(f"{field} {on} is after the next due date {loan.next_due_date}; quote on or before "
                              "it", field=field, code="beyond_next_due")


def payoff_quote(actor: Actor, loan_ref: Any, on: Any = None) -> PayoffQuote:
    """What settles the loan on `on` (default today): all principal outstanding + overdue interest + the
    current period's interest accrued to `on` (period_interest × elapsed(on) // N, the accrual rule) +
    penalty + fees − the customer's credit.

    Penalty: what is charged and unpaid, plus — for the days after the last close up to `on` — the daily
    penalty projected with the close's formula (base = overdue principal + interest, rate × (100 + markup)
    / 100 over the day-count basis, with the carried remainder), so the quote is what the close would have
    charged. `on` must be on or after the last close applied to the loan and no later than its next due
    date (after that another installment falls due and the quote would change)."""
    loan = services.get_loan(actor, clean_loan_ref(loan_ref))
    if loan.status != LoanStatus.ACTIVE:
        raise Conflict(f"loan {loan.ref} is {loan.status}", field="loan_ref", code=f"loan_{loan.status}")
    day = clock.business_date() if on in (None, "") else parse_date(on, "on")
    _check_quote_date(loan, day)
    return _quote(loan, day)


def prepay(actor: Actor, *, loan_ref: Any, amount: Any, reference: Any, value_date: Any = None, mode: str = "full",
           channel: str = "teller") -> PaymentResult:
    """Prepayment (提前还款), idempotent by reference like post_payment.

    full: the payoff quote on the value date (amount ≥ quote; the surplus is refunded because the loan
    closes); the interest accrued since the last close and the projected penalty are recognised as income the
    same day (Dr 1321 / Cr 6011, Dr 1323 / Cr 6012), then everything is paid (Cr 1321 for the accrued part).
    shorten_term / reduce_installment: everything due first, then the current period's interest accrued to the
    value date, the rest reduces principal; the unpaid future installments are superseded and a new schedule
    version runs from the value date to the same next due date — reduce_installment keeps the number of
    periods, shorten_term keeps the installment (as near as the method allows) over fewer periods. The new
    current period's interest is exactly what is still to accrue: interest paid now is never accrued again.

    Not backdated: the value date must be after the last close applied to the loan (a partial prepayment:
    the day right after it, and before the next due date)."""
    org.require(actor, Perm.LOAN_REPAY)
    if mode not in PREPAY_MODES:
        raise ValidationError(f"mode must be one of {', '.join(PREPAY_MODES)}", field="mode", code="invalid_mode")
    channel = check_channel(actor, channel)
    ref = clean_reference(reference)
    lref = clean_loan_ref(loan_ref)
    minor = parse_minor(amount, "amount", allow_zero=False, maximum=MAX_AMOUNT_MINOR)
    today = clock.business_date()
    day = parse_value_date(value_date, clock.booking_date())  # after today's close: the next day (the booking day)
    with transaction.atomic():
        loan = lock_loan(lref)
        require_loan_in_scope(actor, loan)
        found = existing(ref, loan, minor)
        if found is not None:
            return found
        check_loan(actor, loan, day, today)
        if day <= loan.closed_through:
            raise ValidationError(f"a prepayment cannot be dated on or before the last close applied to the loan "
                                  f"({loan.closed_through})", field="value_date", code="prepay_backdated")
        _check_quote_date(loan, day, "value_date")
        rows = due_rows([loan.pk]).get(loan.pk, [])
        if mode == "full":
            plan = _plan_full(loan, rows, minor, day)
        else:
            plan = _plan_partial(loan, rows, minor, day, mode)
        snap = snapshot(loan, rows, layout_of(loan))
        # _plan_* only validated and computed; from here on we write
        p = insert_payment(actor, loan, ref, minor, day, channel, PREPAY_MODES[mode], snap)
        if isinstance(p, PaymentResult):
            return p
        applied = plan(p)
        p.allocation = applied.allocation
        p.save(update_fields=["allocation"])
        accounting.post_entry(day, "repayment", applied.lines, loan=loan, memo=f"prepayment ({mode}) {ref}")
        quota = restore_quota(loan, applied.principal_paid, day)
        LoanActivity.objects.create(loan=loan, business_date=day, kind="prepayment", amount_minor=minor,
                                    detail={"reference": ref, "mode": mode, "allocation": applied.allocation,
                                            "quota": quota, "closed": applied.closed})
        ledger.append(actor, "loan.repayment", "loan", loan.ref, event_data(p, loan, mode=mode))
        return result_of(p, loan)


def _recognise_to(loan: Loan, day: dt.date, lines: list[Line], *, penalty: bool) -> tuple[int, int]:
    """Bring the accrual (and, for a payoff, the penalty) from the last close up to `day`, as the close
    would: Dr 1321 / Cr 6011 and Dr 1323 / Cr 6012. Returns (interest, penalty) recognised."""
    branch, cur = loan.branch.code, loan.currency
    extra = _accrued_to(loan, day) - loan.accrued_interest_minor
    loan.accrued_interest_minor += extra
    loan.interest_income_minor += extra
    lines += [Line(accounts.ACCRUED_INTEREST, branch, extra, cur), Line(accounts.INTEREST_INCOME, branch, -extra, cur)]
    projected = 0
    if penalty:
        projected, loan.penalty_carry = _projected_penalty(loan, day)
        loan.penalty_minor += projected
        loan.penalty_income_minor += projected
        lines += [Line(accounts.PENALTY_RECEIVABLE, branch, projected, cur),
                  Line(accounts.PENALTY_INCOME, branch, -projected, cur)]
    return extra, projected


def _not_due_rows(loan: Loan) -> list[Installment]:
    return list(Installment.objects.filter(loan=loan, status="scheduled").order_by("seq"))


def _plan_full(loan: Loan, rows: list[InstallmentRow], amount: int, day: dt.date) -> Any:
    _check_rules(loan, day, partial=False)
    quote = _quote(loan, day)
    if amount < quote.total_minor:
        raise ValidationError(f"amount {format_minor(amount, loan.currency)} is below the payoff amount "
                              f"{format_minor(quote.total_minor, loan.currency)} on {day}", field="amount",
                              code="below_payoff")

    def execute(p: Payment) -> Applied:
        branch, cur = loan.branch.code, loan.currency
        lines: list[Line] = []
        extra, projected = _recognise_to(loan, day, lines, penalty=True)
        paid_rows = []
        for r in rows:
            i, pr, f = r.unpaid
            r.paid_interest_minor, r.paid_principal_minor, r.paid_fee_minor = r.interest_minor, r.principal_minor, \
                r.fee_minor
            r.status, r.paid_on, r.dirty = "paid", day, True
            paid_rows.append([r.seq, i, pr, f])
        save_rows(rows)
        future = _not_due_rows(loan)
        not_due = loan.principal_outstanding_minor - loan.overdue_principal_minor
        accrued = loan.accrued_interest_minor
        if future:
            Installment.objects.filter(pk__in=[r.pk for r in future]).update(status="superseded")
            loan.schedule_version += 1
            Installment.objects.create(loan=loan, version=loan.schedule_version, seq=future[0].seq,
                                       start_date=loan.period_start_date, due_date=day, principal_minor=not_due,
                                       interest_minor=accrued, fee_minor=0, paid_principal_minor=not_due,
                                       paid_interest_minor=accrued, status="paid", paid_on=day)
            paid_rows.append([future[0].seq, accrued, not_due, 0])
        alloc = {"penalty": loan.penalty_minor, "fee": loan.fees_minor, "interest": loan.overdue_interest_minor,
                 "accrued_interest": accrued, "principal": loan.principal_outstanding_minor,
                 "credit_used": loan.credit_minor, "credit": 0, "refund": amount - quote.total_minor,
                 "credit_refunded": 0, "interest_recognised": extra, "penalty_recognised": projected,
                 "installments": paid_rows, "prepayment_fee": quote.prepayment_fee_minor}
        alloc["cash"] = amount - alloc["refund"]
        loan.fee_income_minor += quote.prepayment_fee_minor
        lines += [Line(accounts.CASH, branch, alloc["cash"], cur),
                  Line(accounts.FEE_INCOME, branch, -quote.prepayment_fee_minor, cur),
                  Line(accounts.CUSTOMER_CREDIT, branch, loan.credit_minor, cur),
                  Line(accounts.PENALTY_RECEIVABLE, branch, -loan.penalty_minor, cur),
                  Line(accounts.FEES_RECEIVABLE, branch, -loan.fees_minor, cur),
                  Line(accounts.INTEREST_DUE, branch, -loan.overdue_interest_minor, cur),
                  Line(accounts.ACCRUED_INTEREST, branch, -accrued, cur),
                  Line(accounts.LOAN_PRINCIPAL, branch, -loan.principal_outstanding_minor, cur)]
        principal = loan.principal_outstanding_minor
        for column in ("principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor",
                       "accrued_interest_minor", "penalty_minor", "fees_minor", "credit_minor", "dpd", "bucket"):
            setattr(loan, column, 0)
        set_current_period(loan, None)
        loan.oldest_due_date = None
        loan.status, loan.closed_on = CLOSED, day
        loan.version += 1
        save_loan(loan)
        return Applied(alloc, lines, principal, True)

    return execute


def _typical_payment(rows: Sequence[Installment]) -> int:
    """The level payment (principal + interest) of the remaining schedule: the most common one, the last line
    (which carries the rounding residue) left out when there are others."""
    pool = rows[:-1] or rows
    counts = Counter(r.principal_minor + r.interest_minor for r in pool)
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _plan_partial(loan: Loan, rows: list[InstallmentRow], amount: int, day: dt.date, mode: str) -> Any:
    if not loan.current_seq or loan.next_due_date is None:
        raise ValidationError("every installment has fallen due; pay what is due (or prepay in full)",
                              field="mode", code="nothing_to_prepay")
    if day != loan.closed_through + ONE_DAY:
        raise Conflict(f"the close of {day - ONE_DAY} has not run for loan {loan.ref} yet", field="value_date",
                       code="close_pending")
    if day >= loan.next_due_date:
        raise ValidationError(f"a partial prepayment on the due date {loan.next_due_date} is not possible: pay the "
                              "installment, then prepay the day after", field="value_date", code="on_due_date")
    rules = _check_rules(loan, day, partial=True)
    method = Method.coerce(loan.method)
    if mode == "shorten_term" and method in (Method.INTEREST_ONLY, Method.BULLET):
        raise ValidationError(f"shorten_term needs an amortising loan; this one is {method.value}", field="mode",
                              code="invalid_mode")
    dues = [Due(r.seq, *r.unpaid) for r in rows if r.status == "due" and not r.settled]
    owed = loan.penalty_minor + loan.fees_minor + sum(d.interest + d.principal for d in dues)
    accrued_to = _accrued_to(loan, day)
    not_due = loan.principal_outstanding_minor - loan.overdue_principal_minor
    available = amount - owed - accrued_to
    if available <= 0:
        raise ValidationError(f"amount must exceed what is due ({format_minor(owed, loan.currency)}) plus "
                              f"the interest accrued to {day} ({format_minor(accrued_to, loan.currency)})",
                              field="amount", code="prepay_too_small")
    # the prepayment fee is fee_bp of the principal prepaid: what is available splits into principal P and fee F
    # with F = P × bp / 10,000 (F = available × bp / (10,000 + bp), rounded by the product's rule; P the rest)
    fee = 0
    if prepayment_fee(loan, available, day):
        fee = round_fraction(Fraction(available * rules["fee_bp"], 10_000 + rules["fee_bp"]), loan.rounding)
    rest = available - fee
    if rest < rules["min_minor"]:
        raise ValidationError(f"the principal prepaid ({format_minor(rest, loan.currency)}) is below the contract's "
                              f"minimum partial prepayment of {format_minor(rules['min_minor'], loan.currency)}",
                              field="amount", code="prepay_below_minimum")
    if rest >= not_due:
        raise ValidationError(f"amount covers the whole loan: use mode full (payoff "
                              f"{format_minor(_quote(loan, day).total_minor, loan.currency)})", field="amount",
                              code="use_full_prepayment")
    future = _not_due_rows(loan)
    new_principal = not_due - rest
    remaining = len(future)
    periods = remaining
    if mode == "shorten_term":
        if method is Method.EQUAL_PRINCIPAL:
            per = max(1, future[0].principal_minor)
            periods = min(remaining, max(1, -(-new_principal // per)))
        else:
            try:
                periods = min(remaining, periods_to_repay(new_principal, from_ppm(loan.rate_ppm),
                                                          _typical_payment(future), loan.months_per_period,
                                                          rounding=loan.rounding))
            except ValidationError:
                periods = remaining
    grace = 0 if loan.restructure_count else max(0, loan.product.grace_periods - (loan.current_seq - 1))
    grace = min(grace, periods - 1)
    terms = terms_for(loan, principal_minor=new_principal, periods=periods, start=day,
                               first_due=loan.next_due_date, grace_periods=grace)
    schedule = build_schedule(terms)
    assert sum(s.principal for s in schedule) == new_principal

    def execute(p: Payment) -> Applied:
        branch, cur = loan.branch.code, loan.currency
        lines: list[Line] = []
        extra, _ = _recognise_to(loan, day, lines, penalty=False)
        applied = apply_payment(loan, rows, owed, day)  # everything due, exactly
        save_rows(rows)
        lines += applied.lines
        accrued = loan.accrued_interest_minor
        Installment.objects.filter(pk__in=[r.pk for r in future]).update(status="superseded")
        loan.schedule_version += 1
        first_seq = future[0].seq
        made = Installment.objects.bulk_create([Installment(
            loan=loan, version=loan.schedule_version, seq=first_seq + k, start_date=s.start_date,
            due_date=s.due_date, principal_minor=s.principal, interest_minor=s.interest, fee_minor=s.fee)
            for k, s in enumerate(schedule)])
        set_current_period(loan, made[0])
        loan.accrued_interest_minor = 0
        loan.principal_outstanding_minor -= rest
        loan.term = first_seq - 1 + len(schedule)
        loan.maturity_date = schedule[-1].due_date
        loan.fee_income_minor += fee
        loan.version += 1
        save_loan(loan)
        lines += [Line(accounts.CASH, branch, accrued + rest + fee, cur),
                  Line(accounts.ACCRUED_INTEREST, branch, -accrued, cur),
                  Line(accounts.LOAN_PRINCIPAL, branch, -rest, cur),
                  Line(accounts.FEE_INCOME, branch, -fee, cur)]
        alloc = dict(applied.allocation)
        alloc.update(accrued_interest=accrued, prepaid_principal=rest, interest_recognised=extra, prepayment_fee=fee,
                     cash=alloc["cash"] + accrued + rest + fee, schedule_version=loan.schedule_version,
                     periods=len(schedule), installment_minor=schedule[min(1, len(schedule) - 1)].payment,
                     mode=mode)
        return Applied(alloc, lines, applied.principal_paid + rest, False)

    return execute
