"""A loan's live state, shared by payments, the close and restructuring: the period it accrues, its open and
current installments, the row lock a change takes, and the full snapshot of its columns and installments that
a reversal restores.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from creditplan.core.errors import NotFound
from creditplan.loans.models import Installment, Loan


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
    # issue 18, one line per concern (keep in step with domain/kernel.py's column tuples)
    "non_accrual", "non_accrual_since", "written_off_principal_minor", "memo_interest_minor", "memo_carry",  # non-accrual, written off on record
    "cure_until", "manual_class", "manual_class_until", "manual_class_reason",  # classification (2023 rules)
    "grace_penalty_minor", "grace_compound_minor", "compound_minor", "compound_carry",  # penalty conventions
    "penalty_charged_minor",
)
DATE_FIELDS = frozenset({"period_start_date", "next_due_date", "oldest_due_date", "fee_check_date",
                          "restructured_until", "closed_through", "closed_on", "written_off_on",
                          "next_reset_date", "maturity_date", "non_accrual_since",
                          "cure_until", "manual_class_until"})
_INSTALLMENT_FIELDS = ("id", "version", "seq", "start_date", "due_date", "principal_minor", "interest_minor",
                       "fee_minor", "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status",
                       "paid_on")


def snapshot(loan: Loan) -> dict[str, Any]:
    """The loan's full state as JSON-able data: its columns and every installment of every version. What a
    payment stores as `state_before`, so that a reversal can restore it exactly and replay what followed."""
    cols = {f: (getattr(loan, f).isoformat() if f in DATE_FIELDS and getattr(loan, f) else getattr(loan, f))
            for f in STATE_FIELDS}
    rows = []
    for i in Installment.objects.filter(loan=loan).order_by("id").values_list(*_INSTALLMENT_FIELDS):
        rows.append([v.isoformat() if isinstance(v, dt.date) else v for v in i])
    return {"loan": cols, "installments": rows}


def restore(loan: Loan, snap: dict[str, Any]) -> None:
    """Put a loan back exactly as `snapshot` saw it: columns, and installments (rows created since removed)."""
    for f, v in snap["loan"].items():
        setattr(loan, f, dt.date.fromisoformat(v) if f in DATE_FIELDS and v else v)
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
