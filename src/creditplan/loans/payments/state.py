"""The state a payment found (`Payment.state_before`), so that a reversal or a backdated payment can put the loan
back and replay what followed: reading the due installments of loans in bulk, the compact snapshot (`scope:
"due"`: the loan's columns, the installments then due, the id ranges of those not yet due and the highest
installment id — every other row is derivable, which keeps a bank file's 100,000 snapshots small whatever the
length of the schedules), restoring it, and the state of a loan as it was disbursed.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from creditplan.core.errors import Conflict
from creditplan.loans import loan_state
from creditplan.loans.domain.allocation import ACTIVE, ROW_FIELDS, InstallmentRow
from creditplan.loans.domain.terms import next_reset
from creditplan.loans.loan_state import DATE_FIELDS, STATE_FIELDS
from creditplan.loans.models import Installment, Loan, LoanActivity, Restructuring
from creditplan.loans.products import floating_rate_ppm, term_sheet_of
from creditplan.loans.sql import payments as payments_sql
from creditplan.loans.sql import where_in

__all__ = ["due_rows", "falling_due", "falling_due_rows", "falling_for", "falls_due_by", "initial_snapshot", "layout_of", "layouts",
           "ranges", "restore", "snapshot"]

_ROW_DATES = frozenset({"start_date", "due_date", "paid_on"})


def due_rows(loan_ids: Iterable[int]) -> dict[int, list[InstallmentRow]]:
    """The installments that have fallen due and are not fully paid, per loan, oldest first."""
    out: dict[int, list[InstallmentRow]] = {}
    ids = list(loan_ids)
    if not ids:
        return out
    qs = (where_in(Installment.objects.filter(status="due"), "loan_id", ids).order_by("loan_id", "seq")
          .values_list("loan_id", *ROW_FIELDS))
    for values in qs:
        out.setdefault(values[0], []).append(InstallmentRow(values[1:]))
    return out


def falls_due_by(loan: Any, day: dt.date) -> bool:
    """The loan's current installment falls due on or before `day`, and no close has marked it due yet."""
    return (loan.status == ACTIVE and bool(loan.current_seq) and loan.next_due_date is not None
            and loan.next_due_date <= day)


def falling_due_rows(loans: Iterable[Any], day: dt.date) -> dict[int, InstallmentRow]:
    """Per loan whose current installment falls due on or before `day`: that installment, still `scheduled`
    (the close of its due date has not run), as a row a payment may pay (one query for all the loans)."""
    wanted = {loan.pk: loan.current_seq for loan in loans if falls_due_by(loan, day)}
    out: dict[int, InstallmentRow] = {}
    if not wanted:
        return out
    qs = where_in(Installment.objects.filter(status="scheduled"), "loan_id", list(wanted)).values_list(
        "loan_id", *ROW_FIELDS)
    seq_at = ROW_FIELDS.index("seq") + 1
    for values in qs.filter(seq__in=set(wanted.values())):
        if wanted[values[0]] == values[seq_at]:
            out[values[0]] = InstallmentRow(values[1:])
    return out


def falling_for(loan: Any, current: InstallmentRow | None, day: dt.date) -> InstallmentRow | None:
    """The installment a payment dated `day` may pay besides the rows fallen due: the loan's current one when it
    falls due on or before `day` and no close has marked it due yet (money received on the due date pays that
    day's installment) — `current` as `falling_due_rows` read it, unless it is paid already."""
    if current is not None and current.status == "scheduled" and falls_due_by(loan, day):
        return current
    return None


def falling_due(loan: Loan, day: dt.date) -> InstallmentRow | None:
    """`falling_for` one loan, reading its current installment when it falls due by `day`."""
    return falling_for(loan, falling_due_rows([loan], day).get(loan.pk), day)


def ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs of consecutive integers (a schedule's rows are inserted together)."""
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def layouts(loan_ids: Iterable[int]) -> dict[int, tuple[int, list[list[int]]]]:
    """Per loan: (an installment id no row of the loan created later can be at or below, id ranges of the rows
    not yet due). The first is the table's highest id: ids come from a sequence and we hold the loans' locks,
    so every row of these loans that exists is at or below it and every later one above. The ranges come from
    one aggregate over the scheduled rows (the `installment_open` index); the ids themselves are read only for
    the rare loan whose scheduled rows are not one consecutive run."""
    ids = list(loan_ids)
    if not ids:
        return {}
    top, found = payments_sql.installment_layout(ids)
    out: dict[int, tuple[int, list[list[int]]]] = {loan_id: (top, []) for loan_id in ids}
    scattered = []
    for loan_id, lo, hi, n in found:
        if hi - lo + 1 == n:
            out[loan_id] = (top, [[lo, hi]])
        else:
            scattered.append(loan_id)
    if scattered:
        pks: dict[int, list[int]] = {}
        for loan_id, pk in Installment.objects.filter(loan_id__in=scattered, status="scheduled").values_list(
                "loan_id", "id"):
            pks.setdefault(loan_id, []).append(pk)
        for loan_id, got in pks.items():
            out[loan_id] = (top, ranges(got))
    return out


def _json_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date) else v


_state_of = operator.attrgetter(*STATE_FIELDS)
_STATE_DATES = tuple(f for f in STATE_FIELDS if f in DATE_FIELDS)


def snapshot(loan: Loan, due: Sequence[InstallmentRow], layout: tuple[int, list[list[int]]]) -> dict[str, Any]:
    """The loan's state as a payment finds it: its columns (STATE_FIELDS), the rows then due (in
    full; so is the one falling due that a payment on its due date paid in part), the id ranges of the rows not yet
    due, and the highest installment id. See `restore`."""
    cols = dict(zip(STATE_FIELDS, _state_of(loan), strict=True))
    for f in _STATE_DATES:
        if cols[f] is not None:
            cols[f] = cols[f].isoformat()
    scheduled = layout[1]
    # an installment paid on its due date before that night's close is no longer `scheduled` (the bank file's
    # layout may predate the payment): not in the ranges; one paid in part is listed in full (restore resets
    # the ranges first, then writes the rows listed)
    gone = [r.id for r in due if r.status == "paid" and any(lo <= r.id <= hi for lo, hi in scheduled)]
    if gone:
        scheduled = ranges(i for lo, hi in scheduled for i in range(lo, hi + 1) if i not in gone)
    listed = [r.as_json() for r in due if r.status == "due" or (r.status == "scheduled" and any(
        (r.paid_principal_minor, r.paid_interest_minor, r.paid_fee_minor)))]
    return {"scope": "due", "loan": cols, "installments": listed, "scheduled": scheduled,
            "max_installment_id": layout[0]}


def layout_of(loan: Loan) -> tuple[int, list[list[int]]]:
    return layouts([loan.pk])[loan.pk]


def restore(loan: Loan, snap: dict[str, Any]) -> None:
    """Put the loan back as `snap` saw it (compact snapshots here; full ones through services.restore).

    Why the compact form is enough: at the snapshot every row of the loan was due (listed in full), not yet
    due (its id listed: unpaid by definition, so `scheduled` with nothing paid), or paid or superseded — and
    those never change again later in the same history. Rows created since have higher ids and go."""
    if snap.get("scope") != "due":
        loan_state.restore(loan, snap)
        return
    for f, v in snap["loan"].items():
        setattr(loan, f, dt.date.fromisoformat(v) if f in DATE_FIELDS and v else v)
    loan.save()
    rows = Installment.objects.filter(loan=loan)
    rows.filter(id__gt=snap["max_installment_id"]).delete()
    for lo, hi in snap["scheduled"]:
        rows.filter(id__gte=lo, id__lte=hi).exclude(status="scheduled", paid_principal_minor=0, paid_interest_minor=0,
                                                    paid_fee_minor=0).update(
            status="scheduled", paid_principal_minor=0, paid_interest_minor=0, paid_fee_minor=0, paid_on=None)
    for values in snap["installments"]:
        data = dict(zip(ROW_FIELDS, values, strict=True))
        pk = data.pop("id")
        for f in _ROW_DATES:
            if data[f]:
                data[f] = dt.date.fromisoformat(data[f])
        rows.filter(pk=pk).update(**data)


def initial_snapshot(loan: Loan) -> dict[str, Any]:
    """The loan as it was disbursed, for a replay that starts before its first payment (the close replays
    any rate reset since; a restructuring cannot be replayed and is refused)."""
    if Restructuring.objects.filter(loan=loan).exists() or loan.restructure_count:
        raise Conflict(f"loan {loan.ref} was restructured; a payment dated before its first payment cannot be "
                       "replayed across the restructuring", field="value_date", code="replay_across_restructuring")
    v1 = list(Installment.objects.filter(loan=loan, version=1).order_by("seq"))
    if not v1:
        raise Conflict(f"loan {loan.ref} has no original schedule", code="no_schedule")
    disbursed = LoanActivity.objects.filter(loan=loan, kind="disbursed").order_by("id").first()
    fee = int((disbursed.detail or {}).get("fee_minor", 0)) if disbursed else 0
    first = v1[0]
    cols: dict[str, Any] = {f: _json_value(getattr(loan, f)) for f in STATE_FIELDS}
    cols.update(
        status=ACTIVE, principal_outstanding_minor=loan.principal_minor, overdue_principal_minor=0,
        overdue_interest_minor=0, accrued_interest_minor=0, penalty_minor=0, penalty_carry=0, fees_minor=0,
        credit_minor=0, current_seq=first.seq, period_start_date=first.start_date.isoformat(),
        next_due_date=first.due_date.isoformat(), period_interest_minor=first.interest_minor,
        period_principal_minor=first.principal_minor, period_fee_minor=first.fee_minor, oldest_due_date=None,
        dpd=0, bucket=0, risk_class=1, fee_check_date=None, frozen=False, restructured_until=None,
        pre_restructure_class=None, restructure_count=0, schedule_version=1, interest_income_minor=0,
        penalty_income_minor=0, fee_income_minor=fee, closed_through=loan.start_date.isoformat(), closed_on=None,
        written_off_on=None, written_off_minor=0, recovered_minor=0, maturity_date=v1[-1].due_date.isoformat(),
        term=len(v1))
    cols.update(non_accrual=False, non_accrual_since=None)  # issue 18: accruing as disbursed
    cols.update(grace_penalty_minor=0, grace_compound_minor=0, compound_minor=0, compound_carry=0,  # no penalty yet
                penalty_charged_minor=0)
    if loan.rate_type == "floating":
        clause = term_sheet_of(loan).clause("rate_reset") or {}
        every = int(clause.get("every_months", loan.product.reset_months))
        cols["next_reset_date"] = next_reset(loan.start_date, every, loan.start_date,
                                             term_sheet_of(loan).reprice_on).isoformat()
        cols["rate_ppm"] = floating_rate_ppm(
            loan, clause.get("tenor", loan.product.lpr_tenor), int(clause.get("spread_ppm", loan.spread_ppm)),
            loan.start_date, int(clause.get("floor_ppm", loan.product.rate_floor_ppm)),
            int(clause.get("cap_ppm", loan.product.rate_cap_ppm)))
    return {"scope": "due", "loan": cols, "installments": [], "scheduled": ranges(r.pk for r in v1),
            "max_installment_id": max(r.pk for r in v1)}
