"""What the credit plan reads from the loan book (plans.services.sources; registered in loans/apps.py): plans sits
below loans and never imports them.

A loan's cell is its branch, its product's code, its customer's GB/T 4754 section (the industry code's first
letter) and GB/T 2260 province (the region code's first two digits), and the plan segment it was booked under
(`Loan.segment`). Live loans are the active ones: a written-off loan's principal has left the balance sheet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, Q, Sum
from django.db.models.functions import Substr, TruncMonth

from creditplan.loans.models import Installment, Loan, LoanStatus
from creditplan.plans.services.sources import Cell


def _cell(prefix: str = "") -> dict[str, Any]:
    """The cell's columns of a loan (`prefix` "loan__" from its installments)."""
    return {"cell_branch": F(prefix + "branch_id"), "product_code": F(prefix + "product__code"),
            "industry": Substr(prefix + "customer__industry_code", 1, 1),
            "region": Substr(prefix + "customer__region_code", 1, 2), "seg": F(prefix + "segment")}
_FILTER_FIELDS = {"branch": "branch__code", "product": "product__code", "segment": "segment",
                  "industry": "customer__industry_code__startswith", "region": "customer__region_code__startswith"}


def _cells(rows: Any, amount: str) -> list[Cell]:
    return [Cell(r["cell_branch"], r["product_code"] or "", r["industry"] or "", r["region"] or "", r["seg"] or "",
                 int(r[amount] or 0)) for r in rows]


def loan_filter(filters: list[dict[str, str]], prefix: str = "") -> Q:
    """Loans matching any of the filters ({"product": "mortgage"}, {"industry": "K"}…); every loan when empty."""
    q = Q()
    for f in filters:
        part = Q()
        for key, value in f.items():
            if key not in _FILTER_FIELDS:
                raise ValueError(f"unknown filter {key!r}")
            part &= Q(**{prefix + _FILTER_FIELDS[key]: value})
        q |= part
    return q


class LoanBook:
    def customer_outstanding_sql(self) -> str:
        return (f"(SELECT COALESCE(SUM(principal_outstanding_minor), 0) FROM {Loan._meta.db_table} "
                f"WHERE customer_id = %s AND status = '{LoanStatus.ACTIVE}')")

    def application_outstanding_sql(self) -> str:
        # issue 19 (plans exposure): the live loans booked under one application reference (one %s), so that a
        # reservation made after its loan was written (trusted code booking a loan) does not count it twice
        return (f"(SELECT COALESCE(SUM(principal_outstanding_minor), 0) FROM {Loan._meta.db_table} "
                f"WHERE application_ref = %s AND status = '{LoanStatus.ACTIVE}')")

    def cells(self) -> list[Cell]:
        rows = (Loan.objects.filter(status=LoanStatus.ACTIVE, principal_outstanding_minor__gt=0)
                .values(**_cell()).annotate(total=Sum("principal_outstanding_minor")).order_by())
        return _cells(rows, "total")

    def borrowers(self, filters: list[dict[str, str]]) -> int:
        return (Loan.objects.filter(loan_filter(filters), status=LoanStatus.ACTIVE, principal_outstanding_minor__gt=0)
                .values("customer_id").distinct().count())

    def scheduled_principal(self, start: dt.date, end: dt.date) -> list[Cell]:
        rows = (Installment.objects.filter(loan__status=LoanStatus.ACTIVE, due_date__gte=start, due_date__lte=end)
                .exclude(status__in=("paid", "superseded"))
                .values(**_cell("loan__"))
                .annotate(total=Sum(F("principal_minor") - F("paid_principal_minor"))).order_by())
        return _cells(rows, "total")

    def disbursed_by_month(self, start: dt.date, end: dt.date) -> dict[tuple[int, int], int]:
        """Principal paid out between the two dates (inclusive) by (year, month), whatever became of the loans since:
        the previous year's curve that splits a plan into months (plans.services.periods, issue 19 §7)."""
        rows = (Loan.objects.filter(start_date__gte=start, start_date__lte=end).annotate(month=TruncMonth("start_date"))
                .values("month").annotate(total=Sum("principal_minor")).order_by())
        return {(r["month"].year, r["month"].month): int(r["total"] or 0) for r in rows}


BOOK = LoanBook()
