"""Demo loan book: three products (a consumer loan, a quarterly small-business loan, a floating-rate mortgage on
the 5-year LPR), the LPR as published, and a few hundred loans over the demo customers with about eighteen
months of history — disbursements, repayments (most on time, some late, some never), prepayments, a
restructuring, a write-off — and the daily close of every business date in between, so that days past due,
buckets, five-category classes, penalty interest and the general ledger are what they would be in a bank.

How the history is made: the loan services refuse what a real system refuses (a disbursement dated before the
last close, a payment dated further back than the product allows), so the seeder walks the calendar. For each
date D it sets the business date to D (`_as_business_date`), disburses the loans starting on D, posts the day's
repayments (a bank file for the ones paid on the due date, the teller for late ones), and runs the close of D.
Every number then comes from the same code that runs the bank; nothing is written around the services.

Deterministic: the same seed, customers and `today` give the same book.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from creditplan.core.access import Actor
from creditplan.core.errors import CreditplanError, LimitExceeded
from creditplan.core.money import format_minor
from creditplan.customers.models import Customer
from creditplan.loans import clock, services
from creditplan.loans.disbursement import plan_segment
from creditplan.loans.models import Installment, Loan, LoanStatus

# (code, product settings for services.create_product, terms offered, amounts in yuan (low, high, step))
PRODUCTS: list[tuple[str, dict[str, Any], tuple[int, ...], tuple[int, int, int]]] = [
    ("consumer", {
        "name": "个人消费贷", "name_en": "Personal consumer loan", "min_amount": "1000", "max_amount": "500000", "min_term": 3, "max_term": 60,
        "method": "equal-installment", "months_per_period": 1, "day_count": "30/360", "rate": "0.0580",
        "grace_days": 3, "late_fee": "50.00", "penalty_markup_pct": 50, "max_backdate_days": 30, "freeze_dpd": 30,
    }, (12, 24, 36), (20_000, 300_000, 10_000)),
    ("business", {
        "name": "小微经营贷", "name_en": "Small business loan", "min_amount": "50000", "max_amount": "5000000", "min_term": 2, "max_term": 20,
        "method": "equal-principal", "months_per_period": 3, "day_count": "ACT/360", "rate": "0.0450",
        "grace_days": 5, "late_fee": "200.00", "penalty_markup_pct": 50, "max_backdate_days": 30, "freeze_dpd": 60,
    }, (4, 8, 12), (200_000, 3_000_000, 50_000)),
    ("mortgage", {
        "name": "个人住房贷", "name_en": "Home mortgage", "min_amount": "100000", "max_amount": "10000000", "min_term": 60, "max_term": 360,
        "method": "equal-installment", "months_per_period": 1, "day_count": "30/360", "rate_type": "floating",
        "rate": "0.0320", "lpr_tenor": "5y", "spread_bp": -30, "reset_months": 12, "rate_floor": "0.0250",
        "grace_days": 3, "late_fee": "0", "penalty_markup_pct": 50, "max_backdate_days": 30, "freeze_dpd": 90,
    }, (240, 300, 360), (800_000, 3_000_000, 50_000)),
]

# The Loan Prime Rate as published by the National Interbank Funding Center (the 20th, or the next working day):
# the dates on which it changed, with (1-year, 5-year) in percent. Between changes it is republished unchanged.
LPR_CHANGES: list[tuple[dt.date, str, str]] = [
    (dt.date(2023, 12, 20), "3.45", "4.20"),
    (dt.date(2024, 2, 20), "3.45", "3.95"),
    (dt.date(2024, 7, 22), "3.35", "3.85"),
    (dt.date(2024, 10, 21), "3.10", "3.60"),
    (dt.date(2025, 5, 20), "3.00", "3.50"),
]
LPR_FROM = dt.date(2024, 1, 1)

HISTORY_DAYS = 540  # about eighteen months
# Repayment behaviour (share of loans): on time, sometimes a few days late, stops paying, repays early.
PROFILES = (("on_time", 74), ("late", 12), ("defaults", 9), ("prepays", 5))


@dataclass
class SeededBook:
    products: int = 0
    lpr_rows: int = 0
    loans: int = 0
    skipped: int = 0
    payments: int = 0
    prepayments: int = 0
    restructured: int = 0
    written_off: int = 0
    reversed: int = 0
    closes: int = 0
    seconds: float = 0.0
    by_class: dict[int, int] = field(default_factory=dict)

    def summary(self) -> str:
        classes = " ".join(f"{k}:{v}" for k, v in sorted(self.by_class.items()))
        return (f"{self.loans} loans ({self.skipped} refused by the plan quota), {self.payments} repayments, "
                f"{self.prepayments} prepayments, {self.restructured} restructured, {self.written_off} written off, "
                f"{self.reversed} reversed, {self.closes} daily closes; classes {classes}; {self.seconds:.1f} s")


@contextlib.contextmanager
def _as_business_date(day: dt.date) -> Iterator[None]:
    """While seeding history, the business date is the simulated day (every loan service reads it through
    `clock.business_date`). Restored afterwards, also on error."""
    real = clock.business_date
    clock.business_date = lambda: day
    try:
        yield
    finally:
        clock.business_date = real


def publication_date(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 20)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def lpr_history(today: dt.date) -> list[tuple[str, dt.date, str]]:
    """(tenor, effective date, rate in percent) of every monthly publication from 2024 to `today`."""
    rows = []
    year, month = LPR_FROM.year, LPR_FROM.month
    while True:
        day = publication_date(year, month)
        if day > today:
            break
        change = max((c for c in LPR_CHANGES if c[0] <= day), key=lambda c: c[0])
        rows += [("1y", day, change[1]), ("5y", day, change[2])]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return rows


@dataclass
class _Plan:
    """What a demo loan will do: its customer, terms and how its borrower repays."""

    customer_id: int
    product: str
    amount: int  # yuan
    term: int
    start: dt.date
    profile: str
    stop_after: int = 0  # defaults: installments paid before stopping
    late_days: dict[int, int] = field(default_factory=dict)  # seq → days late (late payers)
    prepay_on: dt.date | None = None
    prepay_mode: str = "full"
    cured: bool = False  # restructured: pays again under the new schedule
    ref: str = ""


def _draw_plans(rnd: random.Random, customers: list[tuple[int, str]], count: int, today: dt.date,
                first_customer: int | None) -> list[_Plan]:
    plans: list[_Plan] = []
    people = [c for c, kind in customers if kind == "individual"]
    companies = [c for c, kind in customers if kind == "company"] or people
    profiles = [name for name, _ in PROFILES]
    weights = [share for _, share in PROFILES]
    for n in range(count):
        if n < 2 and first_customer is not None:  # the demo customer's own log-in sees two loans
            product, customer = ("consumer", "mortgage")[n], first_customer
        else:
            product = rnd.choices(["consumer", "business", "mortgage"], weights=[62, 23, 15])[0]
            customer = rnd.choice(companies if product == "business" else people)
        _code, _spec, terms, (low, high, step) = next(p for p in PRODUCTS if p[0] == product)
        amount = rnd.randrange(low, high + step, step)
        term = rnd.choice(terms)
        # more loans recently (a growing book), none in the last three days
        start = today - dt.timedelta(days=3 + int((HISTORY_DAYS - 3) * rnd.random() ** 1.3))
        profile = rnd.choices(profiles, weights=weights)[0]
        if n < 2:  # the demo customer's: paid on time, disbursed last year (before this year's plan quota)
            profile = "on_time"
            start = today - dt.timedelta(days=400 + 30 * n)
        plan = _Plan(customer, product, amount, term, start, profile)
        if profile == "defaults":
            plan.stop_after = rnd.choice([0, 0, 1, 1, 2, 3, 4, 6])
        elif profile == "late":
            plan.late_days = {seq: rnd.choice([4, 6, 9, 12, 20, 35]) for seq in range(1, term + 1)
                              if rnd.random() < 0.35}
        elif profile == "prepays":
            plan.prepay_on = start + dt.timedelta(days=rnd.randint(120, 420))
            plan.prepay_mode = rnd.choice(["full", "full", "reduce_installment", "shorten_term"])
        plans.append(plan)
    plans.sort(key=lambda p: (p.start, p.customer_id, p.amount))
    return plans


def seed_loans(actor: Actor, *, count: int = 300, today: dt.date | None = None, seed: int = 20261129,
               log: Callable[[str], None] | None = None) -> SeededBook:
    """Create the demo products, the LPR table and `count` loans with their history up to `today` (default:
    the business date), closing every business date on the way. `actor` needs every loan permission (the
    demo passes the administrator). Returns what was made."""
    from creditplan.loans import cob, payments

    started = time.perf_counter()
    today = today or services.business_date()
    rnd = random.Random(seed)
    book = SeededBook()
    say = log or (lambda _msg: None)

    for tenor, day, rate in lpr_history(today):
        services.set_lpr(actor, tenor=tenor, effective_date=day, rate=str(Decimal(rate) / 100))
        book.lpr_rows += 1
    for code, spec, _terms, _amounts in PRODUCTS:
        try:
            services.get_product(code)
        except CreditplanError:
            services.create_product(actor, code=code, **spec)
            book.products += 1

    rows = list(Customer.objects.filter(status="active").order_by("id").values_list("id", "kind", "branch__code"))
    if not rows or count < 1:
        return book
    branch_of = {c: b for c, _k, b in rows}
    linked = Customer.objects.filter(user__isnull=False, status="active", kind="individual").order_by("id").first()
    plans = _draw_plans(rnd, [(c, k) for c, k, _b in rows], count, today, linked.pk if linked else None)
    first_day = plans[0].start
    closed = services.last_closed_date()
    if closed is not None and closed >= first_day:
        raise CreditplanError(f"the close has already run through {closed}: demo loans need an empty loan book",
                              code="demo_loans_present")
    by_day: dict[dt.date, list[_Plan]] = {}
    for p in plans:
        by_day.setdefault(p.start, []).append(p)
    by_ref: dict[str, _Plan] = {}
    restructure_left, write_off_left, reverse_left = 2, 1, 1
    day = first_day
    total_days = (today - first_day).days + 1
    while day <= today:
        with _as_business_date(day):
            for p in by_day.get(day, []):
                loan = _disburse(p, day, rows, branch_of, rnd)
                if loan is None:
                    book.skipped += 1
                    continue
                p.ref = loan.ref
                by_ref[loan.ref] = p
                book.loans += 1
            file_lines, teller = _repayments_due(day, by_ref)
            if file_lines:
                text = "reference,loan_ref,amount,value_date\n" + "".join(
                    f"BANK-{day:%Y%m%d}-{ref},{ref},{amount},{day.isoformat()}\n" for ref, amount in file_lines)
                report = payments.import_bank_file(actor, text, filename=f"demo-{day:%Y%m%d}.csv")
                book.payments += report.posted
            for ref, amount in teller:
                try:
                    payments.post_payment(actor, loan_ref=ref, amount=amount, reference=f"TLR-{day:%Y%m%d}-{ref}",
                                          value_date=day)
                    book.payments += 1
                except CreditplanError:
                    continue  # the loan was paid off or closed earlier in the demo: nothing to collect
            book.prepayments += _prepayments(actor, day, by_ref)
            if restructure_left and day >= today - dt.timedelta(days=150):
                restructure_left -= _restructure_one(actor, day, by_ref)
                book.restructured = 2 - restructure_left
            if write_off_left and day >= today - dt.timedelta(days=20):
                write_off_left -= _write_off_one(actor, day, by_ref)
                book.written_off = 1 - write_off_left
            if reverse_left and day == today - dt.timedelta(days=2):
                reverse_left -= _bounce_one(actor, day, by_ref)
                book.reversed = 1 - reverse_left
            cob.run_close(day)
            book.closes += 1
        if book.closes % 60 == 0:
            say(f"loans: closed {book.closes}/{total_days} business dates, {book.loans} loans")
        day += dt.timedelta(days=1)
    for cls in Loan.objects.filter(status=LoanStatus.ACTIVE).values_list("risk_class", flat=True):
        book.by_class[cls] = book.by_class.get(cls, 0) + 1
    book.seconds = time.perf_counter() - started
    return book


def _disburse(p: _Plan, day: dt.date, rows: list[tuple[int, str, str]], branch_of: dict[int, str],
              rnd: random.Random) -> Loan | None:
    """Disburse the planned loan. A branch whose hard plan quota is used up refuses it (the credit plan at
    work); the borrower is then one of another branch, as the bank would lend where quota is left."""
    kind = "company" if p.product == "business" else "individual"
    refused: set[str] = set()
    for _attempt in range(4):
        try:
            # trusted batch code: the demo books its history without applications (see services.disburse)
            # small-business loans are the plan's 普惠小微 segment, when the plan has it configured
            return services.disburse(None, customer_id=p.customer_id, product=p.product, amount=str(p.amount),
                                     term=p.term, start_date=day,
                                     segment=plan_segment("inclusive_sme") if p.product == "business" else "")
        except LimitExceeded:
            refused.add(branch_of[p.customer_id][:2])
            others = [c for c, k, b in rows if k == kind and b[:2] not in refused]
            if not others:
                return None
            p.customer_id = rnd.choice(others)
    return None


def _repayments_due(day: dt.date, by_ref: dict[str, _Plan]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Today's repayments: (loan ref, amount) on the bank file for installments paid on their due date (before
    the close, so the close's auto-debit applies them), and at the teller for late ones (after their due date:
    what is overdue then, penalty and late fee included)."""
    on_file: list[tuple[str, str]] = []
    at_teller: list[tuple[str, str]] = []
    window = day - dt.timedelta(days=40)
    rows = (Installment.objects.filter(due_date__gte=window, due_date__lte=day, loan__status=LoanStatus.ACTIVE,
                                       loan__ref__in=list(by_ref))
            .exclude(status__in=("superseded", "paid"))
            .values_list("loan__ref", "seq", "due_date", "principal_minor", "interest_minor", "fee_minor",
                         "paid_principal_minor", "paid_interest_minor", "paid_fee_minor")
            .order_by("loan__ref", "seq"))
    seen: set[str] = set()
    for ref, seq, due, p, i, f, pp, pi, pf in rows:
        plan = by_ref[ref]
        if ref in seen or plan.profile == "defaults" and seq > plan.stop_after and not plan.cured:
            continue
        late = plan.late_days.get(seq, 0)
        if (day - due).days != late:
            continue
        seen.add(ref)
        if late == 0:
            left = p + i + f - pp - pi - pf
            if left > 0:
                on_file.append((ref, format_minor(left, grouping=False)))
        else:
            loan = Loan.objects.get(ref=ref)
            due_now = services.balances(loan).total_due_minor
            if due_now > 0:
                at_teller.append((ref, format_minor(due_now, grouping=False)))
    return on_file, at_teller


def _prepayments(actor: Actor, day: dt.date, by_ref: dict[str, _Plan]) -> int:
    from creditplan.loans import payments

    done = 0
    for ref, plan in by_ref.items():
        if plan.prepay_on != day:
            continue
        try:
            quote = payments.payoff_quote(actor, ref, on=day)
            if plan.prepay_mode == "full":
                amount = quote.total_minor
            else:
                amount = max(quote.principal_minor // 4 // 100 * 100, 100_000)
            payments.prepay(actor, loan_ref=ref, amount=format_minor(amount, grouping=False),
                            reference=f"PRE-{day:%Y%m%d}-{ref}", value_date=day, mode=plan.prepay_mode)
            done += 1
        except CreditplanError:
            continue
    return done


def _restructure_one(actor: Actor, day: dt.date, by_ref: dict[str, _Plan]) -> int:
    """A borrower 60+ days late gets arrears capitalised and six more periods, then pays again."""
    from creditplan.loans import restructure

    for loan in (Loan.objects.filter(ref__in=list(by_ref), status=LoanStatus.ACTIVE, dpd__gte=60, dpd__lte=80,
                                     restructure_count=0, product__code="consumer").order_by("id")[:1]):
        plan = by_ref[loan.ref]
        try:
            restructure.restructure(actor, loan.ref, kind="capitalise", extend_periods=6, effective_date=day,
                                    reason="借款人失业后重新就业，申请展期并将欠款转入本金 (borrower re-employed)")
        except CreditplanError:
            return 0
        plan.cured = True
        return 1
    return 0


def _write_off_one(actor: Actor, day: dt.date, by_ref: dict[str, _Plan]) -> int:
    from creditplan.loans import writeoff

    for loan in Loan.objects.filter(ref__in=list(by_ref), status=LoanStatus.ACTIVE, risk_class__gte=4,
                                    restructure_count=0).order_by("-dpd")[:1]:
        try:
            writeoff.write_off(actor, loan.ref, reason="催收无果，经审批核销", on=day,
                               condition="court", evidence="(2026)京0105执恢1234号 终结本次执行裁定")
        except CreditplanError:
            return 0
        return 1
    return 0


def _bounce_one(actor: Actor, day: dt.date, by_ref: dict[str, _Plan]) -> int:
    """A teller payment by cheque that bounces the same day: posted, then reversed."""
    from creditplan.loans import payments

    for loan in Loan.objects.filter(ref__in=list(by_ref), status=LoanStatus.ACTIVE, dpd__gt=0,
                                    dpd__lt=30).order_by("id")[:1]:
        due = services.balances(loan).total_due_minor
        if due <= 0:
            return 0
        ref = f"CHQ-{day:%Y%m%d}-{loan.ref}"
        try:
            payments.post_payment(actor, loan_ref=loan.ref, amount=format_minor(due, grouping=False), reference=ref,
                                  value_date=day)
            payments.reverse_payment(actor, reference=ref, reason="支票退票 (cheque returned unpaid)")
        except CreditplanError:
            return 0
        return 1
    return 0
