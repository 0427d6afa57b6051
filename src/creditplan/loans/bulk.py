"""A loan book on demand, for benchmarks and demos: n active loans with their schedules, their state as of a
business date, their customers and their opening general-ledger balances — consistent enough that the daily
close runs on it and `accounting.reconcile()` shows no difference.

    from creditplan.loans.bulk import generate_loans
    generate_loans(200_000, start_range=(date(2024, 7, 1), date(2025, 6, 30)), seed=7)

What is real and what is synthetic:
* customers go through `customers.services.import_customers` (validation, encrypted ID numbers, blind index,
  one `customer.created` ledger event each): GB 11643 resident IDs with valid check digits, a region and (for
  companies, one in ten) a GB 32100 code and an industry;
* every schedule is built by `domain/schedule.build_schedule` (cached per amount, term, rate and start date);
* the state as of `as_of` follows the close's rules: installments due on or before it are paid, except for the
  delinquent share, whose last few due installments are unpaid (status `due`); accrued interest, DPD, late
  fees, bucket and class (with the 10 % borrower rule) are what the close would have computed. Penalty
  interest is approximated as if the overdue amount had been constant (no carry); a small share of current
  loans holds a credit (overpayment) that the close's auto-debit will use;
* no per-loan history: no activities, payments or per-loan journal entries. The general ledger receives one
  set of aggregated opening entries per branch (batch_ref "bulk:<seed>:<first id>") and the ledger one
  `loan.bulk_generated` event naming the id range.

PostgreSQL: loans and installments are written with COPY; SQLite: executemany.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from creditplan.core.daycount import DayCount, add_months
from creditplan.core.errors import ValidationError
from creditplan.core.ids import make_resident_id, make_uscc
from creditplan.core.money import Rounding, from_ppm
from creditplan.customers import services as customers
from creditplan.customers.models import Customer
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, plan_book
from creditplan.loans import services as loans
from creditplan.loans.cob import next_reset_after
from creditplan.loans.domain import accounts
from creditplan.loans.domain import kernel as K
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import Method, ScheduleTerms, build_schedule
from creditplan.loans.domain.terms import sheet_for_product
from creditplan.loans.models import Installment, Loan, LprRate, Product
from creditplan.loans.sql import book as book_sql
from creditplan.loans.sql import is_postgresql
from creditplan.org.models import Branch

__all__ = ["BULK_PRODUCTS", "GeneratedBook", "generate_loans"]

AMOUNTS_YUAN = (3_000, 5_000, 8_000, 10_000, 15_000, 20_000, 30_000, 50_000, 80_000, 100_000, 150_000, 200_000)

BULK_PRODUCTS: dict[str, dict[str, Any]] = {
    "bulk-consumer": {
        "name": "批量·个人消费贷", "name_en": "Bulk: personal consumer loan", "min_amount_minor": 100_000, "max_amount_minor": 50_000_000,
        "method": "equal-installment", "day_count": "30/360", "rate_ppm": 43_500, "grace_days": 3,
        "late_fee_minor": 5_000, "penalty_markup_pct": 50, "freeze_dpd": 30, "max_term": 60},
    "bulk-micro": {
        "name": "批量·小微经营贷", "name_en": "Bulk: small business loan", "min_amount_minor": 100_000, "max_amount_minor": 50_000_000,
        "method": "equal-principal", "day_count": "ACT/360", "rate_ppm": 72_000, "grace_days": 5,
        "late_fee_minor": 2_000, "penalty_markup_pct": 50, "freeze_dpd": 60, "installment_fee_minor": 500,
        "max_term": 60},
    "bulk-float": {
        "name": "批量·浮动利率贷", "name_en": "Bulk: floating-rate loan", "min_amount_minor": 100_000, "max_amount_minor": 50_000_000,
        "method": "equal-installment", "day_count": "ACT/365F", "rate_type": "floating", "rate_ppm": 49_500,
        "lpr_tenor": "1y", "spread_ppm": 15_000, "reset_months": 12, "rate_floor_ppm": 30_000,
        "rate_cap_ppm": 240_000, "grace_days": 3, "late_fee_minor": 5_000, "penalty_markup_pct": 50,
        "freeze_dpd": 30, "max_term": 60},
}
PRODUCT_SHARES = {"bulk-consumer": 0.6, "bulk-micro": 0.3, "bulk-float": 0.1}
INDUSTRIES = ("C39", "F51", "I65", "K70", "E47", "G54")
_MISSED = (1, 1, 1, 1, 1, 2, 2, 3, 4, 6, 10)  # installments in arrears of a delinquent loan (drawn)


@dataclass
class GeneratedBook:
    loans: int
    customers_created: int
    installments: int
    first_loan_id: int
    last_loan_id: int
    as_of: dt.date
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"loans": self.loans, "customers_created": self.customers_created, "installments": self.installments,
                "first_loan_id": self.first_loan_id, "last_loan_id": self.last_loan_id,
                "as_of": self.as_of.isoformat(), "seconds": {k: round(v, 2) for k, v in self.seconds.items()}}


@dataclass
class _Schedule:
    due: list[int]  # ordinals
    start: list[int]
    principal: list[int]
    interest: list[int]
    fee: list[int]
    cum_p: list[int]
    cum_i: list[int]
    cum_f: list[int]
    text: list[tuple[str, str, str]]  # per line: COPY text after "loan_id\t": paid, due, scheduled

    @classmethod
    def of(cls, lines: Sequence[Any]) -> _Schedule:
        due = [ln.due_date.toordinal() for ln in lines]
        start = [ln.start_date.toordinal() for ln in lines]
        p, i, f = [ln.principal for ln in lines], [ln.interest for ln in lines], [ln.fee for ln in lines]
        text = []
        for ln in lines:
            head = f"1\t{ln.seq}\t{ln.start_date.isoformat()}\t{ln.due_date.isoformat()}\t{ln.principal}\t" \
                   f"{ln.interest}\t{ln.fee}\t"
            text.append((f"{head}{ln.principal}\t{ln.interest}\t{ln.fee}\tpaid\t{ln.due_date.isoformat()}\n",
                         f"{head}0\t0\t0\tdue\t\\N\n", f"{head}0\t0\t0\tscheduled\t\\N\n"))
        cum = [np.concatenate([[0], np.cumsum(x, dtype=np.int64)]).tolist() for x in (p, i, f)]
        return cls(due, start, p, i, f, cum[0], cum[1], cum[2], text)


def _products() -> dict[str, tuple[Product, int]]:
    """The generator's products (created once) and their term sheet ids."""
    out = {}
    for code, spec in BULK_PRODUCTS.items():
        p, _ = Product.objects.get_or_create(code=code, defaults=spec)
        sheet = loans.store_term_sheet(sheet_for_product(p))
        out[code] = (p, sheet.pk)
    return out


def _leaf_branches() -> list[Branch]:
    parents = set(Branch.objects.exclude(parent=None).values_list("parent_id", flat=True))
    leaves = [b for b in Branch.objects.filter(is_active=True).order_by("code") if b.pk not in parents]
    if not leaves:
        raise ValidationError("no branches: create the branch tree first", code="no_branches")
    return leaves


def _make_customers(count: int, branches: list[Branch], rng: random.Random, onboarded: dt.date,
                    progress: Callable[[str, int, int], None] | None) -> list[tuple[int, int]]:
    """Create `count` customers through customers.services.import_customers; returns [(id, branch id)]."""
    pii = customers.cipher()
    made: list[tuple[int, int]] = []
    seen: set[str] = set()
    batch = 10_000
    serial = rng.randrange(10**6)
    while len(made) < count:
        rows: list[dict[str, Any]] = []
        keys: list[str] = []
        while len(rows) < min(batch, count - len(made)):
            branch = rng.choice(branches)
            region = branch.region_code if len(branch.region_code or "") == 6 else "110108"
            serial += 1
            if rng.random() < 0.1:
                body = f"91{region}MA{serial % 10**7:07d}"
                uscc = make_uscc(body)
                if uscc in seen:
                    continue
                seen.add(uscc)
                rows.append({"kind": "company", "name": f"批量企业{serial}", "uscc": uscc, "region_code": region,
                             "industry_code": rng.choice(INDUSTRIES), "branch": branch.code,
                             "onboarded_on": onboarded.isoformat()})
                keys.append("u:" + uscc)
            else:
                birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(16_000))
                number = make_resident_id(region, birth, rng.randrange(500), rng.choice("MF"))
                if number in seen:
                    continue
                seen.add(number)
                rows.append({"kind": "individual", "name": f"批量客户{serial}", "id_number": number,
                             "monthly_income": f"{rng.randrange(3_000, 60_000)}.00", "region_code": region,
                             "branch": branch.code, "onboarded_on": onboarded.isoformat()})
                keys.append("i:" + pii.blind_index(number))
        # drop identities that already exist (another seed, the demo's own customers)
        taken = set(Customer.objects.filter(id_index__in=[k[2:] for k in keys if k[0] == "i"])
                    .values_list("id_index", flat=True))
        taken |= set(Customer.objects.filter(uscc__in=[k[2:] for k in keys if k[0] == "u"])
                     .values_list("uscc", flat=True))
        fresh = [(r, k) for r, k in zip(rows, keys, strict=True) if k[2:] not in taken]
        if not fresh:
            continue
        customers.import_customers(None, [r for r, _ in fresh], batch_size=2000)
        by_index = dict(Customer.objects.filter(id_index__in=[k[2:] for _, k in fresh if k[0] == "i"])
                        .values_list("id_index", "id"))
        by_uscc = dict(Customer.objects.filter(uscc__in=[k[2:] for _, k in fresh if k[0] == "u"])
                       .values_list("uscc", "id"))
        branch_of = {b.code: b.pk for b in branches}
        for r, k in fresh:
            pk = by_index[k[2:]] if k[0] == "i" else by_uscc[k[2:]]
            made.append((pk, branch_of[r["branch"]]))
        if progress is not None:
            progress("customers", len(made), count)
    return made


def generate_loans(n: int, *, start_range: tuple[dt.date, dt.date], seed: int,
                   customers: Sequence[int] | None = None, as_of: dt.date | None = None,
                   terms: Sequence[int] = (6, 12, 24), loans_per_customer: float = 2.0,
                   delinquent_share: float = 0.08, credit_share: float = 0.02,
                   progress: Callable[[str, int, int], None] | None = None) -> GeneratedBook:
    """Insert `n` active loans starting within `start_range` (inclusive), in their state after the close of
    `as_of` (default: the end of the range), for `customers` (ids; default: new customers, about
    `loans_per_customer` loans each, spread over the leaf branches). Deterministic for a given `seed` and
    database. Needs the branch tree; creates the bulk-* products on first use. See the module docstring."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError("n must be a whole number ≥ 1", field="n")
    lo, hi = start_range
    as_of = as_of or hi
    if not lo <= hi <= as_of:
        raise ValidationError("need start_range[0] ≤ start_range[1] ≤ as_of", field="start_range")
    if as_of > loans.business_date():
        raise ValidationError("as_of is in the future", field="as_of", code="date_in_future")
    closed = loans.last_closed_date()
    if closed is not None and as_of < closed:
        raise ValidationError(f"the close of {closed} has run: as_of must not be before it", field="as_of",
                              code="date_closed")
    terms = sorted({int(t) for t in terms})
    if not terms or terms[0] < 1:
        raise ValidationError("terms must be whole numbers of months ≥ 1", field="terms")
    rng = random.Random(seed)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    products = _products()
    lpr = list(LprRate.objects.filter(tenor="1y").order_by("effective_date").values_list("effective_date",
                                                                                           "rate_ppm"))
    shares = dict(PRODUCT_SHARES)
    if not lpr:  # floating loans need an LPR
        shares.pop("bulk-float")
    codes, weights = list(shares), list(shares.values())

    if customers is None:
        branches = _leaf_branches()
        count = max(1, math.ceil(n / loans_per_customer))
        book = _make_customers(count, branches, rng, lo, progress)
        created = len(book)
    else:
        rows = dict(Customer.objects.filter(pk__in=list(customers)).values_list("id", "branch_id"))
        missing = [c for c in customers if c not in rows]
        if missing:
            raise ValidationError(f"no customer {missing[0]}", field="customers", code="unknown_customer")
        book = [(int(c), int(rows[c])) for c in customers]
        created = 0
    seconds["customers"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    with transaction.atomic():
        first_id = (Loan.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        cols, schedules, per_loan = _compute(n, rng, book, products, codes, weights, lpr, lo, hi, as_of, terms,
                                             delinquent_share, credit_share, first_id)
        seconds["compute"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        installments = _write(cols, schedules, per_loan, progress)
        seconds["write"] = time.perf_counter() - t2
        _post_opening_balances(cols, as_of, seed, first_id)
        plan_book.book_range(first_id, first_id + n - 1, as_of)  # a plan tracking the whole book sees them (issue 19)
        ledger.append(None, "loan.bulk_generated", "bulk", f"{seed}:{first_id}-{first_id + n - 1}", {
            "loans": n, "first_id": first_id, "last_id": first_id + n - 1, "as_of": as_of, "seed": seed,
            "installments": installments, "principal_minor": int(cols["principal_outstanding_minor"].sum()),
            "customers_created": created})
    seconds["total"] = time.perf_counter() - t0
    return GeneratedBook(n, created, installments, first_id, first_id + n - 1, as_of, seconds)


def _lpr_on(lpr: list[tuple[dt.date, int]], day: dt.date) -> int:
    i = bisect.bisect_right([d for d, _ in lpr], day) - 1
    return lpr[max(i, 0)][1]


def _compute(n: int, rng: random.Random, book: list[tuple[int, int]], products: dict[str, tuple[Product, int]],
             codes: list[str], weights: list[float], lpr: list[tuple[dt.date, int]], lo: dt.date, hi: dt.date,
             as_of: dt.date, terms: list[int], delinquent_share: float, credit_share: float, first_id: int
             ) -> tuple[dict[str, np.ndarray], dict[int, _Schedule], np.ndarray]:
    """Every loan's columns as int64 arrays (dates as ordinals, 0 = NULL) and its schedule key."""
    names = ("id", "customer_id", "branch_id", "product_id", "term_sheet_id", "principal_minor", "rate_ppm",
             "term", "start_date", "first_due_date", "maturity_date", "next_reset_date", *K.STATE_COLUMNS,
             "paid_principal", "paid_interest", "paid_fee", "k_paid", "k_due")
    cols = {c: np.zeros(n, dtype=np.int64) for c in names}
    keys: list[tuple[Any, ...]] = []
    schedules: dict[tuple[Any, ...], _Schedule] = {}
    a = as_of.toordinal()
    span = (hi - lo).days
    p_by_code = {c: products[c] for c in codes}
    late = {c: (p.late_fee_minor, p.grace_days, p.penalty_markup_pct, K.basis_of(p.day_count))
            for c, (p, _) in p_by_code.items()}
    for k in range(n):
        code = rng.choices(codes, weights)[0]
        p, sheet_id = p_by_code[code]
        cust, branch = book[rng.randrange(len(book))]
        start = lo + dt.timedelta(days=rng.randrange(span + 1))
        amount = rng.choice(AMOUNTS_YUAN) * 100
        rate = p.rate_ppm
        if p.rate_type == "floating":
            rate = min(max(_lpr_on(lpr, start) + p.spread_ppm, p.rate_floor_ppm), p.rate_cap_ppm)
        alive = [t for t in terms if add_months(start, t * p.months_per_period) > as_of]
        term = rng.choice(alive) if alive else terms[-1]
        key = (code, amount, term, start, rate)
        sch = schedules.get(key)
        if sch is None:
            sch = _Schedule.of(build_schedule(ScheduleTerms(
                principal_minor=amount, annual_rate=from_ppm(rate), periods=term, method=Method.coerce(p.method),
                start=start, first_due=add_months(start, p.months_per_period), months_per_period=p.months_per_period,
                day_count=DayCount.coerce(p.day_count), rounding=Rounding.coerce(p.rounding),
                grace_periods=p.grace_periods, fee_per_installment_minor=p.installment_fee_minor,
                interest_rule=p.interest_rule)))
            schedules[key] = sch
        keys.append(key)
        k_due = bisect.bisect_right(sch.due, a)
        missed = 0
        if k_due and rng.random() < delinquent_share:
            missed = min(k_due, rng.choice(_MISSED))
        if k_due == term and not missed:
            missed = 1  # everything fell due: a loan still active has something unpaid
        paid = k_due - missed
        fee_amount, grace, markup, basis = late[code]
        over_p = sch.cum_p[k_due] - sch.cum_p[paid]
        over_i = sch.cum_i[k_due] - sch.cum_i[paid]
        over_f = sch.cum_f[k_due] - sch.cum_f[paid]
        row = {"id": first_id + k, "customer_id": cust, "branch_id": branch, "product_id": p.pk,
               "term_sheet_id": sheet_id, "principal_minor": amount, "rate_ppm": rate, "term": term,
               "start_date": start.toordinal(), "first_due_date": sch.due[0], "maturity_date": sch.due[-1],
               "principal_outstanding_minor": amount - sch.cum_p[paid], "overdue_principal_minor": over_p,
               "overdue_interest_minor": over_i, "paid_principal": sch.cum_p[paid], "paid_interest": sch.cum_i[paid],
               "paid_fee": sch.cum_f[paid], "k_paid": paid, "k_due": k_due, "closed_through": a, "risk_class": 1}
        if p.rate_type == "floating":
            row["next_reset_date"] = next_reset_after(start, p.reset_months, as_of,
                                                      sheet_for_product(p).reprice_on).toordinal()
        if k_due < term:
            ps, nd, interest = sch.start[k_due], sch.due[k_due], sch.interest[k_due]
            row.update(current_seq=k_due + 1, period_start_date=ps, next_due_date=nd, period_interest_minor=interest,
                       period_principal_minor=sch.principal[k_due], period_fee_minor=sch.fee[k_due],
                       accrued_interest_minor=interest * (a - ps) // max(nd - ps, 1))
            if not missed and rng.random() < credit_share:
                row["credit_minor"] = rng.randrange(1, sch.principal[k_due] + interest + sch.fee[k_due] + 1)
        else:
            row.update(current_seq=0, period_start_date=sch.start[-1])
        late_fees = 0
        if k_due and fee_amount:
            row["fee_check_date"] = sch.due[k_due - 1] + grace + 1
            late_fees = sum(1 for j in range(paid, k_due) if sch.due[j] + grace + 1 <= a)
        penalty = 0
        if missed:
            row["oldest_due_date"] = sch.due[paid]
            days = max(0, a - sch.due[paid] - grace)
            penalty = (over_p + over_i) * rate * (100 + markup) * days // (K._PPM_PCT * basis)
        row.update(penalty_minor=penalty, penalty_income_minor=penalty, fees_minor=over_f + late_fees * fee_amount,
                   fee_income_minor=sch.cum_f[k_due] + late_fees * fee_amount,
                   interest_income_minor=sch.cum_i[k_due] + row.get("accrued_interest_minor", 0))
        for c, v in row.items():
            cols[c][k] = v
    dpd = np.where(cols["oldest_due_date"] > 0, a - cols["oldest_due_date"], 0)
    cols["dpd"] = dpd
    cols["bucket"] = K.bucket_of(dpd)
    cols["risk_class"] = K.classify(dpd, cols["principal_outstanding_minor"], cols["customer_id"], a,
                                    cols["restructured_until"], cols["pre_restructure_class"])
    freeze = {p.pk: p.freeze_dpd for p, _ in p_by_code.values()}
    freeze_at = np.array([freeze[int(x)] for x in cols["product_id"]], dtype=np.int64) if n else cols["dpd"]
    cols["frozen"] = ((dpd > 0) & (dpd >= freeze_at)).astype(np.int64)
    key_index: dict[tuple[Any, ...], int] = {}
    per_loan = np.array([key_index.setdefault(k, len(key_index)) for k in keys], dtype=np.int64)
    return cols, {i: schedules[k] for k, i in key_index.items()}, per_loan


def _loan_rows(cols: dict[str, np.ndarray], products: dict[int, Product], lo: int, hi: int
               ) -> tuple[list[str], list[tuple[Any, ...]]]:
    fields = [f for f in Loan._meta.concrete_fields]
    names = [f.column for f in fields]
    now = timezone.now()
    dates = {f.column for f in fields if f.get_internal_type() == "DateField"}
    known = set(cols)
    rows = []
    lists = {c: cols[c][lo:hi].tolist() for c in known if c in names}
    for j in range(hi - lo):
        p = products[lists["product_id"][j]]
        values: list[Any] = []
        for f in fields:
            c = f.column
            if c in lists:
                v = lists[c][j]
                if c in dates:
                    v = dt.date.fromordinal(v) if v else None
                elif c in K.BOOL_COLUMNS:
                    v = bool(v)
                elif c == "pre_restructure_class":
                    v = v or None
            elif c == "ref":
                v = f"LN{lists['id'][j]:010d}"
            elif c in ("method", "day_count", "rounding", "interest_rule", "rate_type", "currency"):
                v = getattr(p, c)
            elif c == "spread_ppm":
                v = p.spread_ppm
            elif c == "months_per_period":
                v = p.months_per_period
            elif c == "status":
                v = "active"
            elif c == "created_at":
                v = now
            elif f.has_default() or f.null or f.empty_strings_allowed:
                v = f.get_default()  # the default, None, or "" for text
            else:
                raise RuntimeError(f"bulk.generate_loans does not know how to fill loans_loan.{c}")
            values.append(v)
        rows.append(tuple(values))
    return names, rows


def _write(cols: dict[str, np.ndarray], schedules: dict[int, _Schedule], per_loan: np.ndarray,
           progress: Callable[[str, int, int], None] | None, batch: int = 20_000) -> int:
    n = len(per_loan)
    products = {p.pk: p for p in Product.objects.all()}
    installments = 0
    pg = is_postgresql()
    inst_cols = ("loan_id", "version", "seq", "start_date", "due_date", "principal_minor", "interest_minor",
                 "fee_minor", "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status", "paid_on")
    known_inst = {f.column for f in Installment._meta.concrete_fields} - {"id"}
    if known_inst != set(inst_cols):
        raise RuntimeError(f"bulk.generate_loans writes installments as {inst_cols}; the model has {known_inst}")
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        names, rows = _loan_rows(cols, products, lo, hi)
        ids = cols["id"][lo:hi].tolist()
        keys = per_loan[lo:hi].tolist()
        paid = cols["k_paid"][lo:hi].tolist()
        due = cols["k_due"][lo:hi].tolist()
        if pg:
            parts: list[str] = []
            for loan_id, key, kp, kd in zip(ids, keys, paid, due, strict=True):
                prefix = f"{loan_id}\t"
                for j, variants in enumerate(schedules[key].text):
                    parts.append(prefix + variants[0 if j < kp else 1 if j < kd else 2])
            installments += len(parts)
            book_sql.copy_loans_and_installments(names, rows, inst_cols, parts)
        else:
            irows = []
            for loan_id, key, kp, kd in zip(ids, keys, paid, due, strict=True):
                for j, variants in enumerate(schedules[key].text):
                    v = variants[0 if j < kp else 1 if j < kd else 2].rstrip("\n").split("\t")
                    irows.append((loan_id, *v[:-1], None if v[-1] == "\\N" else v[-1]))
            installments += len(irows)
            book_sql.insert_loans_and_installments(names, rows, inst_cols, irows)
        if progress is not None:
            progress("loans", hi, n)
    if pg:
        book_sql.reset_loan_id_sequence()
    return installments


def _post_opening_balances(cols: dict[str, np.ndarray], as_of: dt.date, seed: int, first_id: int) -> None:
    """The history of the generated loans, summed per branch: disbursed, interest accrued and fallen due, fees
    and penalty charged, repaid, credit held. After it GL = Σ loans for every reconciled account."""
    branch_codes = dict(Branch.objects.values_list("id", "code"))
    uniq, inv = np.unique(cols["branch_id"], return_inverse=True)

    def per_branch(values: np.ndarray) -> list[tuple[str, int]]:
        sums = K.group_sum(values, inv, len(uniq)).tolist()
        return [(branch_codes[int(b)], int(v)) for b, v in zip(uniq.tolist(), sums, strict=True)]

    fallen = cols["paid_interest"] + cols["overdue_interest_minor"]
    accrued_total = fallen + cols["accrued_interest_minor"]
    repaid = cols["paid_principal"] + cols["paid_interest"] + cols["paid_fee"]
    spec: list[tuple[str, list[tuple[str, np.ndarray]]]] = [
        ("disbursement", [(accounts.LOAN_PRINCIPAL, cols["principal_minor"]), (accounts.CASH, -cols["principal_minor"])]),
        ("accrual", [(accounts.ACCRUED_INTEREST, accrued_total), (accounts.INTEREST_INCOME, -accrued_total)]),
        ("due", [(accounts.INTEREST_DUE, fallen), (accounts.ACCRUED_INTEREST, -fallen)]),
        ("fee", [(accounts.FEES_RECEIVABLE, cols["fee_income_minor"]), (accounts.FEE_INCOME, -cols["fee_income_minor"])]),
        ("penalty", [(accounts.PENALTY_RECEIVABLE, cols["penalty_minor"]),
                     (accounts.PENALTY_INCOME, -cols["penalty_minor"])]),
        ("repayment", [(accounts.CASH, repaid + cols["credit_minor"]), (accounts.LOAN_PRINCIPAL, -cols["paid_principal"]),
                       (accounts.INTEREST_DUE, -cols["paid_interest"]), (accounts.FEES_RECEIVABLE, -cols["paid_fee"]),
                       (accounts.CUSTOMER_CREDIT, -cols["credit_minor"])]),
    ]
    entries = []
    for kind, parts in spec:
        lines = [Line(account, code, amount) for account, values in parts for code, amount in per_branch(values)]
        entries.append((kind, lines))
    accounting.post_entries(as_of, entries, batch_ref=f"bulk:{seed}:{first_id}")
