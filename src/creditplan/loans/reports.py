"""Read-only views of the loan book for the pages: the filtered, paginated loan list with its totals, one
loan with everything its page shows, the balance curve, accrual per period, and the close runs.

Why a module of its own: the pages may not import models (import-linter), the services own the writes, and
what a page reads (several querysets folded into plain data) is neither a use case nor domain logic. Every
function takes the actor first and reads through `services.loans_visible_to`, so branch scope and the
customer-sees-own-loans rule are the services' and cannot be bypassed here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from creditplan.common.listing import Listing, Page, paginate
from creditplan.core.access import Actor
from creditplan.core.errors import NotFound
from creditplan.loans import services
from creditplan.loans.labels import branch_name, product_name
from creditplan.loans.models import (
    CloseRun,
    Installment,
    Loan,
    LoanActivity,
    LoanStatus,
    Payment,
    Restructuring,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm

PAGE_SIZE = 25
BUCKETS = {0: "0", 1: "1–30", 2: "31–60", 3: "61–90", 4: "91–180", 5: "181–270", 6: "271–360", 7: "360+"}
CLASSES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}
STATUSES = tuple(LoanStatus.values)


@dataclass(frozen=True)
class LoanFilters:
    status: str = ""
    bucket: int | None = None
    risk_class: int | None = None
    branch: str = ""
    product: str = ""
    q: str = ""
    dpd_min: int | None = None  # days past due at least / at most (issue 20 §4)
    dpd_max: int | None = None


@dataclass
class LoanPage:
    items: list[Loan]
    total: int
    page: int
    pages: int
    outstanding_minor: int
    overdue_minor: int
    extra: dict[str, Any] = field(default_factory=dict)


def filtered_loans(actor: Actor, f: LoanFilters) -> QuerySet[Loan]:
    qs = services.loans_visible_to(actor)
    if f.status in STATUSES:
        qs = qs.filter(status=f.status)
    if f.bucket is not None:
        qs = qs.filter(bucket=f.bucket)
    if f.risk_class is not None:
        qs = qs.filter(risk_class=f.risk_class)
    if f.branch:
        qs = qs.filter(branch__code=f.branch)
    if f.product:
        qs = qs.filter(product__code=f.product)
    q = f.q.strip()
    if q:
        qs = qs.filter(Q(ref__icontains=q) | Q(customer__name__icontains=q) | Q(application_ref__iexact=q))
    return qs


ORDERS = {"new": ("-id",), "dpd": ("-dpd", "-principal_outstanding_minor", "-id"),
          "outstanding": ("-principal_outstanding_minor", "-id"), "due": ("next_due_date", "id")}


def loan_page(actor: Actor, f: LoanFilters, *, page: int = 1, page_size: int = PAGE_SIZE, order: str = "new"
              ) -> LoanPage:
    """One page of the loans the actor may see, with totals over every matching loan (not just the page).
    `order`: new (latest disbursed first), dpd (most days past due first), outstanding (largest first), due
    (next due date first)."""
    qs = filtered_loans(actor, f)
    agg = qs.aggregate(n=Count("id"), p=Sum("principal_outstanding_minor"),
                       o=Sum(F("overdue_principal_minor") + F("overdue_interest_minor")))
    total = int(agg["n"] or 0)
    page_size = max(1, min(page_size, 200))
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    items = list(qs.select_related("customer", "branch", "product").order_by(*ORDERS.get(order, ORDERS["new"]))
                 [(page - 1) * page_size: page * page_size])
    return LoanPage(items, total, page, pages, int(agg["p"] or 0), int(agg["o"] or 0))


LOAN_SORTS = {"ref": "id", "customer": "customer__name", "branch": "branch__code", "product": "product__code",
              "principal": "principal_minor", "outstanding": "principal_outstanding_minor", "dpd": "dpd",
              "class": "risk_class", "due": "next_due_date", "start": "start_date", "status": "status"}


def loan_listing(actor: Actor, f: LoanFilters, listing: Listing) -> Page[Loan]:
    """The loans the actor may see, filtered, sorted by the listing (latest disbursed first by default) and paged,
    with the totals over every matching loan in `extra` (outstanding_minor, overdue_minor) — the list that scales
    and exports (issue 20 §4)."""
    qs = filtered_loans(actor, f)
    if f.dpd_min is not None:
        qs = qs.filter(dpd__gte=f.dpd_min)
    if f.dpd_max is not None:
        qs = qs.filter(dpd__lte=f.dpd_max)
    agg = qs.aggregate(p=Sum("principal_outstanding_minor"),
                       o=Sum(F("overdue_principal_minor") + F("overdue_interest_minor")))
    page = paginate(qs.select_related("customer", "branch", "product").order_by(*listing.order_by(LOAN_SORTS, "ref")),
                    listing)
    return Page(page.items, page.listing, page.total, {"outstanding_minor": int(agg["p"] or 0),
                                                        "overdue_minor": int(agg["o"] or 0)})


def filter_choices(actor: Actor) -> dict[str, list[tuple[str, str]]]:
    """Branches the actor may see (that hold loans) and the products, for the filter selects."""
    branches = [(b.code, branch_name(b)) for b in sorted(org.list_branches(actor), key=lambda b: b.path)
                if b.level != "head_office"] if org.may(actor, Perm.LOAN_VIEW) else []
    products = [(p.code, product_name(p)) for p in services.list_products()]  # in the page's language (issue 20)
    return {"branches": branches, "products": products}


# --- one loan ---------------------------------------------------------------------------------------------

@dataclass
class LoanDetail:
    loan: Loan
    schedule: list[Installment]  # current version (non-superseded), by seq
    superseded: list[Installment]  # earlier versions' rows, by version then seq
    payments: list[Payment]
    activities: list[LoanActivity]
    restructurings: list[Restructuring]


def loan_detail(actor: Actor, ref: str) -> LoanDetail:
    loan = services.get_loan(actor, ref)
    rows = list(Installment.objects.filter(loan=loan).order_by("seq", "version"))
    schedule = [i for i in rows if i.status != "superseded"]
    superseded = sorted((i for i in rows if i.status == "superseded"), key=lambda i: (i.version, i.seq))
    payments = list(Payment.objects.filter(loan=loan).select_related("posted_by").order_by("value_date", "id"))
    activities = list(LoanActivity.objects.filter(loan=loan).order_by("business_date", "id"))
    restructurings = list(Restructuring.objects.filter(loan=loan).order_by("effective_date", "id"))
    return LoanDetail(loan, schedule, superseded, payments, activities, restructurings)


def next_installment(loan: Loan) -> Installment | None:
    """The oldest current installment not yet fully paid (what the customer pays next)."""
    return (Installment.objects.filter(loan=loan).exclude(status__in=("superseded", "paid"))
            .order_by("seq").first())


def accrual_by_period(d: LoanDetail) -> list[dict[str, Any]]:
    """Interest accrued against interest scheduled, per period of the current schedule.

    The close accrues a period's interest exactly (no remainder), so a period that has fallen due accrued
    all of it; the running period accrued `accrued_interest_minor` so far; later periods nothing yet."""
    loan = d.loan
    out = []
    for i in d.schedule:
        if i.status in ("due", "paid"):
            accrued = i.interest_minor
        elif loan.status == LoanStatus.ACTIVE and i.seq == loan.current_seq:
            accrued = loan.accrued_interest_minor
        else:
            accrued = 0
        days = (i.due_date - i.start_date).days
        out.append({"seq": i.seq, "start": i.start_date, "due": i.due_date, "days": days,
                    "scheduled": i.interest_minor, "accrued": accrued,
                    "share": (accrued * 100 / i.interest_minor) if i.interest_minor else 0.0,
                    "current": loan.status == LoanStatus.ACTIVE and i.seq == loan.current_seq
                    and i.status == "scheduled"})
    return out


def balance_series(d: LoanDetail, today: dt.date) -> dict[str, list[list[Any]]]:
    """Outstanding principal over time: as first scheduled, as now scheduled, and as actually repaid.

    Points are [ISO date, minor units]; the chart draws them as steps."""
    loan = d.loan
    first_version = min((i.version for i in [*d.schedule, *d.superseded]), default=1)
    original = sorted((i for i in [*d.schedule, *d.superseded] if i.version == first_version),
                      key=lambda i: i.seq)
    scheduled = [[loan.start_date.isoformat(), loan.principal_minor]]
    left = loan.principal_minor
    for i in original:
        left -= i.principal_minor
        scheduled.append([i.due_date.isoformat(), max(left, 0)])
    current = []
    if d.superseded:
        # the live schedule from the oldest open row on: what is left now, paid down as scheduled
        future = [i for i in d.schedule if i.status != "paid"]
        left = loan.principal_outstanding_minor
        start = max(today, loan.start_date)
        current.append([start.isoformat(), left])
        for i in future:
            left -= i.principal_minor - i.paid_principal_minor
            if i.due_date >= start:
                current.append([i.due_date.isoformat(), max(left, 0)])
    # principal actually repaid: payments (by the waterfall, or prepaid), the close's auto-debits of a credit
    # balance; arrears capitalised by a restructuring add to it; a write-off takes it off the books
    moves: list[tuple[dt.date, int]] = []
    for p in d.payments:
        if p.status == "posted":
            a = p.allocation or {}
            paid = int(a.get("principal", 0) or 0) + int(a.get("prepaid_principal", 0) or 0)
            if paid:
                moves.append((p.value_date, -paid))
    for act in d.activities:
        if act.kind == "auto_debit" and int((act.detail or {}).get("principal", 0) or 0):
            moves.append((act.business_date, -int(act.detail["principal"])))
        elif act.kind == "restructured" and act.amount_minor:
            moves.append((act.business_date, act.amount_minor))
        elif act.kind == "written_off":
            moves.append((act.business_date, -(10**18)))
    actual = [[loan.start_date.isoformat(), loan.principal_minor]]
    left = loan.principal_minor
    for day, delta in sorted(moves, key=lambda m: m[0]):
        left = max(left + delta, 0)
        if actual[-1][0] == day.isoformat():
            actual[-1][1] = left
        else:
            actual.append([day.isoformat(), left])
    end = loan.closed_on or loan.written_off_on or today
    if end.isoformat() > actual[-1][0]:
        actual.append([end.isoformat(), loan.principal_outstanding_minor if loan.status == "active" else 0])
    return {"scheduled": scheduled, "current": current, "actual": actual}


# --- customers: their loans with what to pay -------------------------------------------------------------

def customer_loans(actor: Actor) -> list[Loan]:
    return list(services.loans_visible_to(actor).select_related("product", "branch").order_by("-id"))


# --- close runs -------------------------------------------------------------------------------------------

def _require_close_view(actor: Actor) -> None:
    if not (org.may(actor, Perm.CLOSE_RUN) or org.may(actor, Perm.GL_VIEW)):
        org.require(actor, Perm.CLOSE_RUN)


def close_runs(actor: Actor, *, limit: int = 400) -> list[CloseRun]:
    """The latest close runs, newest first (CLOSE_RUN or GL_VIEW)."""
    _require_close_view(actor)
    return list(CloseRun.objects.select_related("started_by").order_by("-business_date")[:limit])


CLOSE_SORTS = {"date": "business_date", "attempts": "attempts", "finished": "finished_at"}


def close_run_page(actor: Actor, listing: Listing, *, status: str = "", date_from: dt.date | None = None,
                   date_to: dt.date | None = None) -> Page[CloseRun]:
    """One page of the close runs (CLOSE_RUN or GL_VIEW), filtered by status and business dates, sorted by the
    listing (business date by default, newest first) — the list that scales (issue 20 §4)."""
    _require_close_view(actor)
    qs = CloseRun.objects.select_related("started_by")
    if status in ("running", "done"):
        qs = qs.filter(status=status)
    if date_from is not None:
        qs = qs.filter(business_date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(business_date__lte=date_to)
    return paginate(qs.order_by(*listing.order_by(CLOSE_SORTS, "date")), listing)


def close_report(actor: Actor, date: dt.date) -> tuple[CloseRun, list[dict[str, Any]]]:
    """One close run with its chunks' totals."""
    _require_close_view(actor)
    try:
        run = CloseRun.objects.select_related("started_by").get(business_date=date)
    except CloseRun.DoesNotExist:
        raise NotFound(f"no close run for {date}", code="unknown_close_run") from None
    chunks = [{"first_loan_id": c.first_loan_id, "loans": c.loans, "seconds": c.seconds, "totals": c.totals}
              for c in run.chunks.order_by("first_loan_id")]
    return run, chunks


def portfolio_distribution(actor: Actor) -> dict[str, dict[int, dict[str, int]]]:
    """Active loans the actor sees by bucket and by class: count and outstanding principal (live, not a
    close's snapshot) — what the close-runs page shows when a run's report carries no distribution."""
    qs = services.loans_visible_to(actor).filter(status=LoanStatus.ACTIVE)
    out: dict[str, dict[int, dict[str, int]]] = {"bucket": {}, "risk_class": {}}
    for dim in out:
        for r in qs.values(dim).annotate(n=Count("id"), p=Sum("principal_outstanding_minor")):
            out[dim][int(r[dim])] = {"count": int(r["n"]), "principal": int(r["p"] or 0)}
    return out
