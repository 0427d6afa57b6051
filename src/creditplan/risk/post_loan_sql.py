"""The reads of post-loan management (risk.services.reviews, risk.services.limits): other apps' tables, read by the
ORM in a few statements per run — never one statement per loan.

Why here: these are trusted reads of batch jobs (the daily review job, the monthly limit run) that no service of the
owning apps offers for the whole book: who entered a customer's latest application, the loan officers of each
branch, the business loans paid out in a window, each customer's first loan still on the book, the late instalments
of the customers with a line, and the state of the credit-line changes the limit rules proposed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Min, Q

from creditplan.customers.models import Customer
from creditplan.org.models import User

CHUNK = 1000


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        yield wanted[start:start + CHUNK]


@dataclass(frozen=True)
class CustomerBranch:
    customer_id: int
    name: str
    kind: str
    branch_id: int
    branch_code: str
    branch_path: str


def customers(ids: Iterable[int]) -> dict[int, CustomerBranch]:
    out: dict[int, CustomerBranch] = {}
    for chunk in _chunks(ids):
        for c in Customer.objects.filter(pk__in=chunk).select_related("branch").only(
                "id", "name", "kind", "branch__id", "branch__code", "branch__path"):
            out[int(c.pk)] = CustomerBranch(int(c.pk), c.name, c.kind, int(c.branch.pk), c.branch.code,
                                            c.branch.path)
    return out


def application_officers(ids: Iterable[int]) -> dict[int, int]:
    """customer → the active loan officer who entered the customer's latest application entered by a loan officer."""
    from creditplan.origination.models import Application

    out: dict[int, int] = {}
    for chunk in _chunks(ids):
        rows = (Application.objects.filter(customer_id__in=chunk, entered_by__role="loan_officer",
                                           entered_by__is_active=True)
                .order_by("customer_id", "-created_at", "-id").values_list("customer_id", "entered_by_id"))
        for customer_id, user_id in rows:
            out.setdefault(int(customer_id), int(user_id))
    return out


def users_by_role(role: str) -> list[tuple[int, str, str]]:
    """The active users of a role with a branch: (id, username, branch path), by id."""
    return [(int(pk), name, path) for pk, name, path in
            User.objects.filter(role=role, is_active=True, branch__isnull=False).order_by("id")
            .values_list("id", "username", "branch__path")]


def user(user_id: int) -> Any:
    return User.objects.select_related("branch").filter(pk=user_id).first()


def user_by_name(username: str) -> Any:
    return User.objects.select_related("branch").filter(username=username, is_active=True).first()


@dataclass(frozen=True)
class StartedLoan:
    ref: str
    customer_id: int
    product: str
    start_date: dt.date
    company: bool


def loans_started(after: dt.date, upto: dt.date, products: frozenset[str]) -> list[StartedLoan]:
    """Active loans paid out in (after, upto] of the given products or to a company (business loans)."""
    from creditplan.loans.models import Loan

    rows = (Loan.objects.filter(status="active", start_date__gt=after, start_date__lte=upto)
            .filter(Q(product__code__in=sorted(products)) | Q(customer__kind="company"))
            .order_by("start_date", "id").values_list("ref", "customer_id", "product__code", "start_date",
                                                      "customer__kind"))
    return [StartedLoan(ref, int(c), p, d, kind == "company") for ref, c, p, d, kind in rows]


def first_loans_on_book() -> dict[int, dt.date]:
    """customer → the start date of their oldest loan still on the book (active)."""
    from creditplan.loans.models import Loan

    return {int(c): d for c, d in Loan.objects.filter(status="active").values("customer_id")
            .annotate(first=Min("start_date")).values_list("customer_id", "first")}


@dataclass(frozen=True)
class LineRow:
    line_id: int
    customer_id: int
    branch_id: int
    amount: int
    reserved: int
    used: int


def active_lines() -> list[LineRow]:
    """Every active customer line (not frozen, closed or proposed), customer ascending."""
    from creditplan.lines.models import CreditLine

    rows = (CreditLine.objects.filter(status="active", customer__isnull=False).order_by("customer_id")
            .values_list("id", "customer_id", "branch_id", "amount_minor", "reserved_minor", "used_minor"))
    return [LineRow(int(i), int(c), int(b), int(a), int(r), int(u)) for i, c, b, a, r, u in rows]


def loan_figures(ids: Iterable[int]) -> dict[int, tuple[int, dt.date | None]]:
    """customer → (most days past due over their active loans, the start date of the oldest active loan)."""
    from creditplan.loans.models import Loan

    out: dict[int, tuple[int, dt.date | None]] = {}
    for chunk in _chunks(ids):
        for c, dpd, first in (Loan.objects.filter(customer_id__in=chunk, status="active").values("customer_id")
                              .annotate(dpd=Max("dpd"), first=Min("start_date"))
                              .values_list("customer_id", "dpd", "first")):
            out[int(c)] = (int(dpd or 0), first)
    return out


def late_instalments(ids: Iterable[int], today: dt.date) -> dict[int, list[tuple[dt.date, dt.date | None]]]:
    """customer → (due date, paid on) of each of their instalments that fell due by `today` and was paid after its
    due date or is not paid yet (superseded schedules left out)."""
    from django.db.models import F

    from creditplan.loans.models import Installment

    out: dict[int, list[tuple[dt.date, dt.date | None]]] = {}
    for chunk in _chunks(ids):
        rows = (Installment.objects.filter(loan__customer_id__in=chunk, due_date__lte=today)
                .exclude(status="superseded")
                .filter(Q(paid_on__isnull=True) | Q(paid_on__gt=F("due_date")))
                .values_list("loan__customer_id", "due_date", "paid_on"))
        for c, due, paid in rows:
            out.setdefault(int(c), []).append((due, paid))
    return out


def line_changes(ids: Iterable[int]) -> dict[int, tuple[str, str, Any]]:
    """credit-line change → (status, decided by, decided at)."""
    from creditplan.lines.models import LineChange

    out: dict[int, tuple[str, str, Any]] = {}
    for chunk in _chunks(ids):
        for pk, status, name, at in LineChange.objects.filter(pk__in=chunk).values_list(
                "id", "status", "decided_by_name", "decided_at"):
            out[int(pk)] = (status, name, at)
    return out


def line_ids_of(customer_ids: Iterable[int]) -> dict[int, int]:
    """customer → their line in force (active or frozen)."""
    from creditplan.lines.models import CreditLine

    out: dict[int, int] = {}
    for chunk in _chunks(customer_ids):
        for c, pk in CreditLine.objects.filter(customer_id__in=chunk, status__in=("active", "frozen")).values_list(
                "customer_id", "id"):
            out[int(c)] = int(pk)
    return out


def latest_change_id(line_id: int) -> int | None:
    """The newest change of a credit line (the one a use case has just written)."""
    from creditplan.lines.models import LineChange

    return LineChange.objects.filter(line_id=line_id).order_by("-id").values_list("id", flat=True).first()
