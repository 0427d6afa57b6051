"""Repayments: posting a payment through the waterfall, idempotently; backdating and reversal by replay; the
payoff quote and prepayments; and bank files of a hundred thousand payments.

One allocation function (`_apply_payment`) serves every path — a teller's payment, an API call, each line of
a bank file, and each payment a replay re-applies — so a payment means the same thing however it arrives.

Where a payment goes (the waterfall, `domain/waterfall.py`): loan-level penalty and fees, then interest and
principal of the installments that have fallen due, oldest first, in the product's order. A regular payment
pays only what is due; the rest is kept as the customer's credit (product.overpayment = "credit", GL 2241) or
refunded ("refund": recorded on the payment, never held, no GL movement). A loan with nothing left to pay and
no installment left to fall due is closed, and any credit it still holds is refunded.

The state a payment found (`Payment.state_before`) is stored with it so that a reversal, or a payment dated
before the last close (backdated), can put the loan back and replay what followed: the later payments and the
daily close in between (`cob.advance_loan`), then post ONE adjusting journal entry with the difference.
The stored state is compact (`scope: "due"`): the loan's columns, the installments then due, and the highest
installment id — every other row is derivable (see `_restore`), which keeps a bank file's 100,000 snapshots
small whatever the length of the schedules.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import operator
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from creditplan.core.daycount import add_months
from creditplan.core.errors import Conflict, CreditplanError, NotFound, ValidationError
from creditplan.core.money import from_ppm
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, services
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import Method, build_schedule, periods_to_repay
from creditplan.loans.domain.waterfall import DEFAULT_ORDER, Allocation, Due, allocate
from creditplan.loans.models import (
    Installment,
    JournalEntry,
    Loan,
    LoanActivity,
    LoanStatus,
    Payment,
    Posting,
    Product,
    Restructuring,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.org.models import Branch
from creditplan.plans import services as plans

log = logging.getLogger(__name__)

CHANNELS = ("teller", "api", "file", "auto")
# Who may say how the money arrived (a payment's `channel`), whatever a client sends:
#   teller — staff with loan.repay at the counter: the loan page, or a teller system over the API;
#   api    — staff with loan.repay posting over the API from another system (the API's default);
#   file   — the bank-file import only (operations; set by import_bank_file, never accepted from a caller);
#   auto   — the daily close's auto-debit only (the system); recovery — record_recovery only.
# Customers pay by transfer (bank file) or at the counter: no customer role holds loan.repay, so there is no
# self-service channel. Trusted code (`actor` None) may name any channel.
STAFF_CHANNELS = ("teller", "api")
# Payment.kind per mode (the models comment says "prepay_payment", which is longer than its max_length of 12)
PREPAY_MODES = {"full": "prepay_full", "shorten_term": "prepay_term", "reduce_installment": "prepay_pmt"}
MAX_REFERENCE = 64
MAX_AMOUNT_MINOR = 10**15  # ten trillion yuan: beyond any loan, far inside a BIGINT
BANK_FILE_BATCH = 2000
BANK_FILE_PIPELINE = 2  # PostgreSQL: batches in flight at once (see _run_batches); 1 = one after the other
ONE_DAY = dt.timedelta(days=1)

# An installment row as the allocation sees it; the same fields, in the same order, as services.snapshot.
ROW_FIELDS = ("id", "version", "seq", "start_date", "due_date", "principal_minor", "interest_minor", "fee_minor",
              "paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status", "paid_on")
_ROW_DATES = frozenset({"start_date", "due_date", "paid_on"})
# Loan columns a payment changes (what the bank-file path writes back).
_LOAN_PAYMENT_COLUMNS = ("principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor",
                         "penalty_minor", "fees_minor", "credit_minor", "oldest_due_date", "dpd", "bucket", "status",
                         "closed_on", "version")
_ROW_PAYMENT_COLUMNS = ("paid_principal_minor", "paid_interest_minor", "paid_fee_minor", "status", "paid_on")
# Loan balance → (GL account, sign): how a change of the subledger shows in the general ledger.
_GL_OF_FIELD = (
    ("principal_outstanding_minor", accounts.LOAN_PRINCIPAL, 1),
    ("accrued_interest_minor", accounts.ACCRUED_INTEREST, 1),
    ("overdue_interest_minor", accounts.INTEREST_DUE, 1),
    ("penalty_minor", accounts.PENALTY_RECEIVABLE, 1),
    ("fees_minor", accounts.FEES_RECEIVABLE, 1),
    ("credit_minor", accounts.CUSTOMER_CREDIT, -1),
    ("interest_income_minor", accounts.INTEREST_INCOME, -1),
    ("penalty_income_minor", accounts.PENALTY_INCOME, -1),
    ("fee_income_minor", accounts.FEE_INCOME, -1),
)


# --- results ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentResult:
    """What happened to one payment. `duplicate`: the reference was already posted and nothing was applied
    again. `adjustment`: for a backdated payment or a reversal, the change per GL account the replay made."""

    reference: str
    loan_ref: str
    value_date: dt.date
    amount_minor: int
    currency: str
    channel: str
    kind: str
    status: str
    allocation: dict[str, Any]
    loan_status: str
    balances: services.Balances
    duplicate: bool = False
    backdated: bool = False
    adjustment: dict[str, int] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal:
        return services.yuan(self.amount_minor)


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

    def items(self) -> list[tuple[str, int]]:
        return [("principal", self.principal_minor), ("overdue_interest", self.overdue_interest_minor),
                ("accrued_interest", self.accrued_interest_minor), ("penalty", self.penalty_minor),
                ("fees", self.fees_minor), ("credit", -self.credit_minor)]


class Rejected(NamedTuple):
    line: int
    reference: str
    reason: str


@dataclass
class BankFileReport:
    filename: str
    digest: str
    lines: int = 0  # payment lines read (header and blank lines not counted)
    posted: int = 0
    duplicates: int = 0  # references already posted before (idempotent: nothing applied again)
    rejected: list[Rejected] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    replayed: int = 0  # lines dated before the loan's last close, posted through the replay path
    batches_retried: int = 0  # batches that met a database error and were posted line by line
    phases: dict[str, float] = field(default_factory=dict)  # seconds: parse, read, allocate, write, ledger, …

    @property
    def ok(self) -> bool:
        return not self.rejected


# --- input ------------------------------------------------------------------------------------------------

def parse_amount(value: Any, field: str = "amount", *, exponent: int = 2) -> int:
    """Yuan (decimal text, Decimal or int) → minor units. Refuses floats, non-numbers, more decimals than the
    currency has (never rounds money silently), zero and negatives, each with a code and the field."""
    if isinstance(value, float):
        raise ValidationError(f"{field} must not be a float; send decimal text such as '1234.56'", field=field,
                              code="float_money")
    if value is None or value == "" or isinstance(value, bool):
        raise ValidationError(f"{field} is required", field=field, code="required")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(f"{field} must be a number such as 1234.56, got {value!r}", field=field,
                                  code="invalid_amount") from None
    else:
        raise ValidationError(f"{field} must be a decimal number, got {type(value).__name__}", field=field,
                              code="invalid_amount")
    if not d.is_finite():
        raise ValidationError(f"{field} must be a finite number", field=field, code="invalid_amount")
    scaled = d.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"{field} has more than {exponent} decimals: {value}", field=field,
                              code="too_many_decimals")
    minor = int(scaled)
    if minor < 0:
        raise ValidationError(f"{field} must be positive, got a negative amount {value}", field=field,
                              code="negative_amount")
    if minor == 0:
        raise ValidationError(f"{field} must be greater than zero", field=field, code="not_positive")
    if minor > MAX_AMOUNT_MINOR:
        raise ValidationError(f"{field} is too large", field=field, code="amount_too_large")
    return minor


def _clean_reference(reference: Any) -> str:
    ref = reference.strip() if isinstance(reference, str) else ""
    if not ref:
        raise ValidationError("reference is required (the payer's unique transaction reference)",
                              field="reference", code="required")
    if len(ref) > MAX_REFERENCE or not ref.isprintable():
        raise ValidationError(f"reference must be printable text of at most {MAX_REFERENCE} characters",
                              field="reference", code="invalid_reference")
    return ref


def _clean_loan_ref(loan_ref: Any) -> str:
    ref = loan_ref.strip() if isinstance(loan_ref, str) else str(loan_ref or "").strip()
    if not ref:
        raise ValidationError("loan_ref is required", field="loan_ref", code="required")
    return ref


def _parse_value_date(value: Any, today: dt.date) -> dt.date:
    day = today if value in (None, "") else services.parse_date(value, "value_date")
    if day > today:
        raise ValidationError(f"value_date {day} is in the future (today is {today})", field="value_date",
                              code="date_in_future")
    return day


def _check_channel(actor: Any, channel: Any) -> str:
    """The channel a payment is recorded under, refused when the actor may not use it (see STAFF_CHANNELS)."""
    allowed = CHANNELS if actor is None else STAFF_CHANNELS
    if channel not in allowed:
        raise ValidationError(f"channel must be one of {', '.join(allowed)}: bank-file and auto-debit "
                              "payments are recorded by the import and the daily close", field="channel",
                              code="invalid_channel")
    return str(channel)


def _require_loan_in_scope(actor: Any, loan: Any, field: str = "loan_ref") -> None:
    """A loan of a branch outside the actor's is answered exactly as a loan that does not exist (404, the same
    body): checked as soon as the loan is found, before its status, balances or payments are looked at."""
    org.require_in_scope(actor, loan.branch, message=f"no loan {loan.ref}", code="unknown_loan", field=field)


def _check_loan(actor: Any, loan: Loan, day: dt.date, today: dt.date) -> None:
    """What refuses a payment for this loan on `day` (nothing is written before these checks)."""
    _require_loan_in_scope(actor, loan)
    if loan.status == LoanStatus.CLOSED:
        raise Conflict(f"loan {loan.ref} is closed (repaid on {loan.closed_on})", field="loan_ref",
                       code="loan_closed")
    if loan.status == LoanStatus.WRITTEN_OFF:
        raise Conflict(f"loan {loan.ref} is written off; record the money as a recovery", field="loan_ref",
                       code="loan_written_off")
    oldest = today - dt.timedelta(days=loan.product.max_backdate_days)
    if day < oldest:
        raise ValidationError(f"value_date {day} is more than {loan.product.max_backdate_days} days back "
                              f"(earliest {oldest})", field="value_date", code="backdate_too_old")
    if day < loan.start_date:
        raise ValidationError(f"value_date {day} is before the loan started on {loan.start_date}",
                              field="value_date", code="before_start")


def _is_backdated(loan: Loan, day: dt.date) -> bool:
    """A payment dated on or before the last close applied to the loan changes what that close computed."""
    return day <= loan.closed_through and loan.closed_through > loan.start_date


# --- installment rows and the compact state ---------------------------------------------------------------

class _Row:
    """An installment row, detached from the ORM (the bank file handles 100,000 of them)."""

    __slots__ = (*ROW_FIELDS, "dirty")

    def __init__(self, values: Sequence[Any]) -> None:
        for name, value in zip(ROW_FIELDS, values, strict=True):
            setattr(self, name, value)
        self.dirty = False

    @property
    def unpaid(self) -> tuple[int, int, int]:
        return (self.interest_minor - self.paid_interest_minor, self.principal_minor - self.paid_principal_minor,
                self.fee_minor - self.paid_fee_minor)

    @property
    def settled(self) -> bool:
        return not any(self.unpaid)

    def as_json(self) -> list[Any]:
        return [v.isoformat() if isinstance(v, dt.date) else v for v in (getattr(self, f) for f in ROW_FIELDS)]


def _where_in(qs: Any, column: str, values: Sequence[Any]) -> Any:
    """`column IN values`, as `= ANY(%s)` on PostgreSQL: one array parameter instead of a thousand
    placeholders that the driver would parse on every batch."""
    if connection.vendor == "postgresql":
        return qs.extra(where=[f'"{qs.model._meta.db_table}"."{column}" = ANY(%s)'], params=[list(values)])
    return qs.filter(**{f"{column}__in": list(values)})


def _due_rows(loan_ids: Iterable[int]) -> dict[int, list[_Row]]:
    """The installments that have fallen due and are not fully paid, per loan, oldest first."""
    out: dict[int, list[_Row]] = {}
    ids = list(loan_ids)
    if not ids:
        return out
    qs = (_where_in(Installment.objects.filter(status="due"), "loan_id", ids).order_by("loan_id", "seq")
          .values_list("loan_id", *ROW_FIELDS))
    for values in qs:
        out.setdefault(values[0], []).append(_Row(values[1:]))
    return out


def _ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs of consecutive integers (a schedule's rows are inserted together)."""
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _layouts(loan_ids: Iterable[int]) -> dict[int, tuple[int, list[list[int]]]]:
    """Per loan: (an installment id no row of the loan created later can be at or below, id ranges of the rows
    not yet due). The first is the table's highest id: ids come from a sequence and we hold the loans' locks,
    so every row of these loans that exists is at or below it and every later one above. The ranges come from
    one aggregate over the scheduled rows (the `installment_open` index); the ids themselves are read only for
    the rare loan whose scheduled rows are not one consecutive run."""
    ids = list(loan_ids)
    if not ids:
        return {}
    table = Installment._meta.db_table
    if connection.vendor == "postgresql":
        where, params = "loan_id = ANY(%s)", [ids]
    else:
        where, params = f"loan_id IN ({', '.join(['%s'] * len(ids))})", ids
    with connection.cursor() as cur:
        cur.execute(f"SELECT MAX(id) FROM {table}")
        top = cur.fetchone()[0] or 0
        cur.execute(f"SELECT loan_id, MIN(id), MAX(id), COUNT(*) FROM {table} WHERE {where} AND status = 'scheduled' "
                    "GROUP BY loan_id", params)
        found = cur.fetchall()
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
            out[loan_id] = (top, _ranges(got))
    return out


def _json_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date) else v


_state_of = operator.attrgetter(*services.STATE_FIELDS)
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_STATE_DATES = tuple(f for f in services.STATE_FIELDS if f in services._DATE_FIELDS)


def _snapshot(loan: Loan, due: Sequence[_Row], layout: tuple[int, list[list[int]]]) -> dict[str, Any]:
    """The loan's state as a payment finds it: its columns (services.STATE_FIELDS), the rows then due (in
    full), the id ranges of the rows not yet due, and the highest installment id. See `_restore`."""
    cols = dict(zip(services.STATE_FIELDS, _state_of(loan), strict=True))
    for f in _STATE_DATES:
        if cols[f] is not None:
            cols[f] = cols[f].isoformat()
    return {"scope": "due", "loan": cols, "installments": [r.as_json() for r in due if r.status == "due"],
            "scheduled": layout[1], "max_installment_id": layout[0]}


def _layout_of(loan: Loan) -> tuple[int, list[list[int]]]:
    return _layouts([loan.pk])[loan.pk]


def _restore(loan: Loan, snap: dict[str, Any]) -> None:
    """Put the loan back as `snap` saw it (compact snapshots here; full ones through services.restore).

    Why the compact form is enough: at the snapshot every row of the loan was due (listed in full), not yet
    due (its id listed: unpaid by definition, so `scheduled` with nothing paid), or paid or superseded — and
    those never change again later in the same history. Rows created since have higher ids and go."""
    if snap.get("scope") != "due":
        services.restore(loan, snap)
        return
    for f, v in snap["loan"].items():
        setattr(loan, f, dt.date.fromisoformat(v) if f in services._DATE_FIELDS and v else v)
    loan.save()
    rows = Installment.objects.filter(loan=loan)
    rows.filter(id__gt=snap["max_installment_id"]).delete()
    for values in snap["installments"]:
        data = dict(zip(ROW_FIELDS, values, strict=True))
        pk = data.pop("id")
        for f in _ROW_DATES:
            if data[f]:
                data[f] = dt.date.fromisoformat(data[f])
        rows.filter(pk=pk).update(**data)
    for lo, hi in snap["scheduled"]:
        rows.filter(id__gte=lo, id__lte=hi).exclude(status="scheduled", paid_principal_minor=0, paid_interest_minor=0,
                                                    paid_fee_minor=0).update(
            status="scheduled", paid_principal_minor=0, paid_interest_minor=0, paid_fee_minor=0, paid_on=None)


def _initial_snapshot(loan: Loan) -> dict[str, Any]:
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
    cols: dict[str, Any] = {f: _json_value(getattr(loan, f)) for f in services.STATE_FIELDS}
    cols.update(
        status=LoanStatus.ACTIVE.value, principal_outstanding_minor=loan.principal_minor, overdue_principal_minor=0,
        overdue_interest_minor=0, accrued_interest_minor=0, penalty_minor=0, penalty_carry=0, fees_minor=0,
        credit_minor=0, current_seq=first.seq, period_start_date=first.start_date.isoformat(),
        next_due_date=first.due_date.isoformat(), period_interest_minor=first.interest_minor,
        period_principal_minor=first.principal_minor, period_fee_minor=first.fee_minor, oldest_due_date=None,
        dpd=0, bucket=0, risk_class=1, fee_check_date=None, frozen=False, restructured_until=None,
        pre_restructure_class=None, restructure_count=0, schedule_version=1, interest_income_minor=0,
        penalty_income_minor=0, fee_income_minor=fee, closed_through=loan.start_date.isoformat(), closed_on=None,
        written_off_on=None, written_off_minor=0, recovered_minor=0, maturity_date=v1[-1].due_date.isoformat(),
        term=len(v1))
    if loan.rate_type == "floating":
        clause = services.term_sheet_of(loan).clause("rate_reset") or {}
        every = int(clause.get("every_months", loan.product.reset_months))
        cols["next_reset_date"] = add_months(loan.start_date, every).isoformat()
        cols["rate_ppm"] = services.floating_rate_ppm(
            loan, clause.get("tenor", loan.product.lpr_tenor), int(clause.get("spread_ppm", loan.spread_ppm)),
            loan.start_date, int(clause.get("floor_ppm", loan.product.rate_floor_ppm)),
            int(clause.get("cap_ppm", loan.product.rate_cap_ppm)))
    return {"scope": "due", "loan": cols, "installments": [], "scheduled": _ranges(r.pk for r in v1),
            "max_installment_id": max(r.pk for r in v1)}


# --- the allocation every path shares ---------------------------------------------------------------------

@dataclass
class _Applied:
    allocation: dict[str, Any]
    lines: list[Line]
    principal_paid: int
    closed: bool


def _oldest_unpaid(rows: Iterable[_Row]) -> dt.date | None:
    dates = [r.due_date for r in rows if r.status == "due" and not r.settled]
    return min(dates) if dates else None


def _settle_if_done(loan: Loan, rows: Sequence[_Row], day: dt.date) -> bool:
    """Close the loan when nothing is owed and nothing is left to fall due (brief: "closed")."""
    if loan.status != LoanStatus.ACTIVE or loan.current_seq != 0:
        return False
    if (loan.principal_outstanding_minor or loan.overdue_principal_minor or loan.overdue_interest_minor
            or loan.accrued_interest_minor or loan.penalty_minor or loan.fees_minor):
        return False
    if any(r.status == "due" and not r.settled for r in rows):
        return False
    loan.status = LoanStatus.CLOSED.value
    loan.closed_on = day
    return True


def _apply_payment(loan: Loan, rows: list[_Row], amount: int, day: dt.date) -> _Applied:
    """Apply `amount` to the loan (in memory): the product's waterfall over penalty, fees and the due rows,
    then the overpayment rule; closes the loan when everything is paid. Returns the allocation (stored on the
    payment) and the balanced journal lines. Marks the rows it changes `dirty`."""
    branch, cur = loan.branch.code, loan.currency
    if loan.status != LoanStatus.ACTIVE:  # closed earlier in a replay: the money goes back
        alloc: dict[str, Any] = {"penalty": 0, "fee": 0, "interest": 0, "principal": 0, "credit": 0,
                                 "refund": amount, "credit_refunded": 0, "cash": 0, "installments": []}
        return _Applied(alloc, [], 0, False)
    open_rows = [r for r in rows if r.status == "due" and not r.settled]
    if open_rows or loan.penalty_minor or loan.fees_minor:
        a = allocate(amount, penalty=loan.penalty_minor, fees=loan.fees_minor,
                     dues=[Due(r.seq, *r.unpaid) for r in open_rows],
                     order=tuple(loan.product.waterfall or DEFAULT_ORDER))
    else:  # nothing due (a payment ahead of the due date): what allocate() would say, without the work
        a = Allocation(left=amount)
    paid_rows = []
    for r in open_rows:
        i, p, f = a.interest_by_seq.get(r.seq, 0), a.principal_by_seq.get(r.seq, 0), a.fee_by_seq.get(r.seq, 0)
        if not (i or p or f):
            continue
        r.paid_interest_minor += i
        r.paid_principal_minor += p
        r.paid_fee_minor += f
        if r.settled:
            r.status, r.paid_on = "paid", day
        r.dirty = True
        paid_rows.append([r.seq, i, p, f])
    loan.penalty_minor -= a.penalty
    loan.fees_minor -= a.fee
    loan.overdue_interest_minor -= a.interest
    loan.overdue_principal_minor -= a.principal
    loan.principal_outstanding_minor -= a.principal
    loan.oldest_due_date = _oldest_unpaid(rows)
    if loan.oldest_due_date is None:
        loan.dpd = loan.bucket = 0
    credit = refund = credit_refunded = 0
    if _settle_if_done(loan, rows, day):
        refund, credit_refunded = a.left + loan.credit_minor, loan.credit_minor
        loan.credit_minor = 0
    elif a.left:
        if loan.product.overpayment == "refund":
            refund = a.left
        else:
            credit = a.left
            loan.credit_minor += credit
    loan.version += 1
    cash = amount - refund
    lines = [Line(account, branch, amount_minor, cur) for account, amount_minor in (
        (accounts.CASH, cash), (accounts.PENALTY_RECEIVABLE, -a.penalty), (accounts.FEES_RECEIVABLE, -a.fee),
        (accounts.INTEREST_DUE, -a.interest), (accounts.LOAN_PRINCIPAL, -a.principal),
        (accounts.CUSTOMER_CREDIT, credit_refunded - credit)) if amount_minor]
    alloc = {"penalty": a.penalty, "fee": a.fee, "interest": a.interest, "principal": a.principal, "credit": credit,
             "refund": refund, "credit_refunded": credit_refunded, "cash": cash, "installments": paid_rows}
    return _Applied(alloc, lines, a.principal, loan.status == LoanStatus.CLOSED)


def _save_loan(loan: Loan) -> None:
    loan.save()


def _save_rows(rows: Iterable[_Row]) -> int:
    """Write back the paid columns of the rows a payment changed (one statement, executemany)."""
    dirty = [r for r in rows if r.dirty]
    if not dirty:
        return 0
    table = Installment._meta.db_table
    sets = ", ".join(f"{c} = %s" for c in _ROW_PAYMENT_COLUMNS)
    with connection.cursor() as cur:
        cur.executemany(f"UPDATE {table} SET {sets} WHERE id = %s",
                        [[getattr(r, c) for c in _ROW_PAYMENT_COLUMNS] + [r.id] for r in dirty])
    for r in dirty:
        r.dirty = False
    return len(dirty)


def _restore_quota(loan: Loan, principal_minor: int, day: dt.date) -> str:
    """Principal repaid restores the credit plan's balance quota; a negative amount (a reversal that makes
    principal outstanding again) takes it back. The system acts: actor None."""
    if not loan.application_ref or principal_minor == 0:
        return "none"
    try:
        if principal_minor > 0:
            plans.repay_principal(None, application_ref=loan.application_ref,
                                  amount=services.yuan(principal_minor), on=min(day, services.business_date()))
        else:
            plans.unrepay_principal(None, application_ref=loan.application_ref,
                                    amount=services.yuan(-principal_minor), on=min(day, services.business_date()))
    except NotFound:
        return "no_reservation"
    except Conflict as exc:  # the plan's counter disagrees (e.g. after a reversal): never block a payment
        log.warning("quota of %s not restored: %s", loan.ref, exc)
        return exc.code
    return "restored"


def _result(p: Payment, loan: Loan, *, duplicate: bool = False, backdated: bool = False,
            adjustment: dict[str, int] | None = None) -> PaymentResult:
    return PaymentResult(reference=p.reference, loan_ref=loan.ref, value_date=p.value_date, amount_minor=p.amount_minor,
                         currency=loan.currency, channel=p.channel, kind=p.kind, status=p.status,
                         allocation=dict(p.allocation or {}), loan_status=loan.status,
                         balances=services.balances(loan), duplicate=duplicate, backdated=backdated,
                         adjustment=dict(adjustment or {}))


def _reference_reused(reference: str, same_loan_amount: int | None = None) -> Conflict:
    """A reference already taken. Another loan's payment is never described (not its loan, not its amount: the
    loan may be another branch's, and references are predictable); a payment of the same loan — one the actor
    may see — says the amount it was for."""
    if same_loan_amount is None:
        return Conflict(f"reference {reference} is already used by another payment; give this payment its "
                        "own reference", field="reference", code="reference_reused")
    return Conflict(f"reference {reference} was already used on this loan for "
                    f"{services.yuan(same_loan_amount)}", field="reference", code="reference_reused")


def _existing(reference: str, loan: Any, amount: int) -> PaymentResult | None:
    """The payment already posted under `reference` on this loan for this amount (idempotency), or a Conflict
    when the reference was used otherwise. The caller has found `loan` and checked it is in the actor's scope:
    this runs after the scope check, so a duplicate never reveals another branch's loan or balances."""
    p = Payment.objects.filter(reference=reference).first()
    if p is None:
        return None
    if p.loan_id != loan.pk:
        raise _reference_reused(reference)
    if p.amount_minor != amount:
        raise _reference_reused(reference, p.amount_minor)
    return _result(p, loan, duplicate=True)


def _event_data(p: Any, loan: Loan, **extra: Any) -> dict[str, Any]:
    a = p.allocation
    return {"reference": p.reference, "amount_minor": p.amount_minor, "value_date": p.value_date.isoformat(),
            "channel": p.channel, "kind": p.kind,
            "allocation": {k: a.get(k, 0) for k in ("penalty", "fee", "interest", "principal", "credit", "refund")},
            "status": loan.status, **extra}


# --- posting one payment ----------------------------------------------------------------------------------

def post_payment(actor: Any, *, loan_ref: Any, amount: Any, reference: Any, value_date: Any = None,
                 channel: str = "teller", kind: str = "regular") -> PaymentResult:
    """Post a repayment: the waterfall over what is due, the overpayment rule, the GL entry, the quota, the
    activity and the ledger event — in one transaction, or nothing.

    Idempotent by `reference`: the same reference again returns the payment already posted (duplicate=True),
    also when two requests race (the unique constraint decides); the same reference for another loan or
    amount is a Conflict. A payment dated on or before the last close applied to the loan (backdated) is
    posted by replaying the close days after it (see `_replay`)."""
    org.require(actor, Perm.LOAN_REPAY)
    if kind != "regular":
        raise ValidationError("post_payment posts regular payments; prepayments go through prepay()",
                              field="kind", code="invalid_kind")
    return _post_payment(actor, loan_ref=loan_ref, amount=amount, reference=reference, value_date=value_date,
                         channel=_check_channel(actor, channel))


def _post_payment(actor: Any, *, loan_ref: Any, amount: Any, reference: Any, value_date: Any, channel: str
                  ) -> PaymentResult:
    """post_payment once the permission and the channel are settled (the bank file's one-by-one lines come
    here with channel "file"). The loan is found and its branch scope checked before anything is said about
    the reference or the loan."""
    ref = _clean_reference(reference)
    lref = _clean_loan_ref(loan_ref)
    minor = parse_amount(amount)
    today = services.business_date()
    day = _parse_value_date(value_date, today)
    with transaction.atomic():
        loan = _lock_loan(lref)
        _require_loan_in_scope(actor, loan)
        found = _existing(ref, loan, minor)
        if found is not None:
            return found
        _check_loan(actor, loan, day, today)
        return _post_locked(actor, loan, ref, minor, day, channel, "regular")


def _lock_loan(loan_ref: str) -> Loan:
    try:
        return services.loan_for_update(loan_ref)
    except NotFound:
        raise NotFound(f"no loan {loan_ref}", field="loan_ref", code="unknown_loan") from None


def _insert_payment(actor: Any, loan: Loan, ref: str, minor: int, day: dt.date, channel: str, kind: str,
                    snap: dict[str, Any]) -> Payment | PaymentResult:
    """Insert the payment row first, in a savepoint: when a concurrent request has just posted the same
    reference, the unique constraint says so and the existing payment is returned (nothing else written)."""
    try:
        with transaction.atomic():
            return Payment.objects.create(reference=ref, loan=loan, value_date=day, amount_minor=minor,
                                          channel=channel, kind=kind, state_before=snap, posted_by=actor)
    except IntegrityError:
        found = _existing(ref, loan, minor)
        if found is None:
            raise
        return found


def _post_locked(actor: Any, loan: Loan, ref: str, minor: int, day: dt.date, channel: str, kind: str
                 ) -> PaymentResult:
    rows = _due_rows([loan.pk]).get(loan.pk, [])
    snap = _snapshot(loan, rows, _layout_of(loan))
    p = _insert_payment(actor, loan, ref, minor, day, channel, kind, snap)
    if isinstance(p, PaymentResult):
        return p
    if _is_backdated(loan, day):
        return _post_backdated(actor, loan, p)
    applied = _apply_payment(loan, rows, minor, day)
    _save_loan(loan)
    _save_rows(rows)
    p.allocation = applied.allocation
    p.save(update_fields=["allocation"])
    accounting.post_entry(day, "repayment", applied.lines, loan=loan, memo=f"repayment {ref}")
    quota = _restore_quota(loan, applied.principal_paid, day)
    LoanActivity.objects.create(loan=loan, business_date=day, kind="repayment", amount_minor=minor,
                                detail={"reference": ref, "channel": channel, "allocation": applied.allocation,
                                        "quota": quota, "closed": applied.closed})
    ledger.append(actor, "loan.repayment", "loan", loan.ref, _event_data(p, loan))
    return _result(p, loan)


# --- backdating and reversal: replay ----------------------------------------------------------------------

def _posted_in_order(loan: Loan) -> list[Payment]:
    return list(Payment.objects.filter(loan=loan, status="posted").order_by("value_date", "id"))


def _point_of(p: Payment) -> dt.date:
    """Where in the loan's history a payment applies: after the close of the day before its value date — or
    earlier, when it was posted before the close had reached that day (the close caught up after it)."""
    prior = (p.state_before or {}).get("loan", {}).get("closed_through")
    day = p.value_date - ONE_DAY
    return min(day, dt.date.fromisoformat(prior)) if prior else day


def _snapshot_point(snap: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(snap["loan"]["closed_through"])


def _advance(loan: Loan, day: dt.date) -> None:
    """Run the daily close for this one loan through `day` (in the replay: no GL, no activity)."""
    if loan.status != LoanStatus.ACTIVE or day <= loan.closed_through:
        return
    try:
        from creditplan.loans.cob import advance_loan
    except ImportError:  # pragma: no cover - the close ships with this module
        raise Conflict("the daily close (cob.advance_loan) is not available: a payment dated before the last "
                       "close cannot be replayed", field="value_date", code="replay_unavailable") from None
    advance_loan(loan, day, record=False)


def _gl_state(loan: Loan) -> dict[str, int]:
    return {f: int(getattr(loan, f)) for f, _, _ in _GL_OF_FIELD}


def _replay(loan: Loan, base: dict[str, Any], payments: Sequence[Payment], through: dt.date,
            points: dict[int, dt.date]) -> None:
    """Restore `base`, then apply `payments` in order, each after the close of the day before its value date
    (`points`), recomputing its `state_before` and allocation; finally close the loan through `through`."""
    _restore(loan, base)
    for p in payments:
        _advance(loan, max(loan.closed_through, points[p.pk]))
        rows = _due_rows([loan.pk]).get(loan.pk, [])
        p.state_before = _snapshot(loan, rows, _layout_of(loan))
        applied = _apply_payment(loan, rows, p.amount_minor, p.value_date)
        _save_loan(loan)
        _save_rows(rows)
        p.allocation = applied.allocation
        p.save(update_fields=["state_before", "allocation"])
    _advance(loan, through)
    _save_loan(loan)


def _replay_through(loan: Loan) -> dt.date:
    last = services.last_closed_date()
    if loan.status == LoanStatus.ACTIVE or last is None:
        return loan.closed_through
    return max(loan.closed_through, min(last, services.business_date()))


def _refuse_replay_of(payments: Iterable[Payment], why: str) -> None:
    for q in payments:
        if q.kind != "regular":
            raise Conflict(f"{why}: payment {q.reference} ({q.kind}) follows it; reverse that prepayment first",
                           field="reference", code="replay_across_prepayment")


def _check_restructurings(loan: Loan, since: dt.date) -> None:
    if Restructuring.objects.filter(loan=loan, effective_date__gt=since).exists():
        raise Conflict(f"loan {loan.ref} was restructured after {since}; that history cannot be replayed",
                       field="value_date", code="replay_across_restructuring")


def _adjust(loan: Loan, before: dict[str, int], cash_delta: int, day: dt.date, kind: str, memo: str
            ) -> dict[str, int]:
    """ONE journal entry for what a replay changed: per account, the change of the loan's balances and
    income, and the cash of the payments added or reversed. It must balance (check_balanced raises)."""
    after = _gl_state(loan)
    branch, cur = loan.branch.code, loan.currency
    lines = [Line(accounts.CASH, branch, cash_delta, cur)]
    adjustment = {accounts.CASH: cash_delta} if cash_delta else {}
    for f, account, sign in _GL_OF_FIELD:
        delta = sign * (after[f] - before[f])
        if delta:
            lines.append(Line(account, branch, delta, cur))
            adjustment[account] = adjustment.get(account, 0) + delta
    accounting.post_entry(day, kind, lines, loan=loan, memo=memo)
    return adjustment


def _post_backdated(actor: Any, loan: Loan, new: Payment) -> PaymentResult:
    """A payment dated on or before the last close: find a state from before it, replay it and everything
    after it with the close days in between, post one adjusting entry."""
    before = _gl_state(loan)
    through = _replay_through(loan)
    ordered = _posted_in_order(loan)
    idx = next(i for i, q in enumerate(ordered) if q.pk == new.pk)
    points = {q.pk: _point_of(q) for q in ordered}
    points[new.pk] = new.value_date - ONE_DAY
    old_cash = {q.pk: int((q.allocation or {}).get("cash", 0)) for q in ordered}
    old_cash[new.pk] = 0
    start = None
    if idx + 1 < len(ordered) and _snapshot_point(ordered[idx + 1].state_before) <= points[new.pk]:
        start, base = idx, ordered[idx + 1].state_before
    else:
        for j in range(idx - 1, -1, -1):
            if _snapshot_point(ordered[j].state_before) <= points[new.pk]:
                start, base = j, ordered[j].state_before
                break
    if start is None:
        start, base = 0, _initial_snapshot(loan)
    replayed = ordered[start:]
    _refuse_replay_of([q for q in replayed if q.pk != new.pk], f"payment {new.reference} is dated {new.value_date}")
    _check_restructurings(loan, _snapshot_point(base))
    _replay(loan, base, replayed, through, points)
    cash_delta = sum(int(q.allocation.get("cash", 0)) - old_cash[q.pk] for q in replayed)
    adjustment = _adjust(loan, before, cash_delta, new.value_date, "repayment",
                         f"backdated repayment {new.reference} (close replayed through {through})")
    principal_delta = before["principal_outstanding_minor"] - loan.principal_outstanding_minor
    quota = _restore_quota(loan, principal_delta, new.value_date)
    LoanActivity.objects.create(loan=loan, business_date=new.value_date, kind="repayment",
                                amount_minor=new.amount_minor,
                                detail={"reference": new.reference, "channel": new.channel, "backdated": True,
                                        "allocation": new.allocation, "adjustment": adjustment, "quota": quota,
                                        "replayed": [q.reference for q in replayed if q.pk != new.pk]})
    ledger.append(actor, "loan.repayment", "loan", loan.ref,
                  _event_data(new, loan, backdated=True, adjustment=adjustment, replayed_through=through))
    return _result(new, loan, backdated=True, adjustment=adjustment)


def reverse_payment(actor: Any, *, reference: Any, reason: Any) -> PaymentResult:
    """Reverse a posted payment: mark it reversed, put the loan back to the state it found, replay every later
    payment (fresh state_before, allocation recomputed) and the close days in between, post one adjusting
    entry (the reversed cash out). Reversing twice is a Conflict."""
    org.require(actor, Perm.LOAN_REVERSE)
    ref = _clean_reference(reference)
    why = reason.strip() if isinstance(reason, str) else ""
    if not why:
        raise ValidationError("reason is required to reverse a payment", field="reason", code="required")
    if len(why) > 200:
        raise ValidationError("reason must be at most 200 characters", field="reason", code="too_long")
    with transaction.atomic():
        found = Payment.objects.filter(reference=ref).values_list("loan_id", flat=True).first()
        if found is None:
            raise NotFound(f"no payment {ref}", field="reference", code="unknown_payment")
        loan = services.loan_for_update(found)
        # another branch's payment is answered as a payment that does not exist, before anything about it
        org.require_in_scope(actor, loan.branch, message=f"no payment {ref}", code="unknown_payment",
                             field="reference")
        p = Payment.objects.get(reference=ref)
        if p.status == "reversed":
            raise Conflict(f"payment {ref} was already reversed", field="reference", code="already_reversed")
        if loan.status == LoanStatus.WRITTEN_OFF:
            raise Conflict(f"loan {loan.ref} is written off", field="reference", code="loan_written_off")
        ordered = _posted_in_order(loan)
        idx = next(i for i, q in enumerate(ordered) if q.pk == p.pk)
        later = ordered[idx + 1:]
        _refuse_replay_of(later, f"payment {ref} cannot be reversed alone")
        _check_restructurings(loan, _snapshot_point(p.state_before))
        before = _gl_state(loan)
        through = _replay_through(loan)
        points = {q.pk: _point_of(q) for q in later}
        old_cash = {q.pk: int((q.allocation or {}).get("cash", 0)) for q in ordered}
        p.status, p.reversal_reason, p.reversed_at = "reversed", why, timezone.now()
        p.save(update_fields=["status", "reversal_reason", "reversed_at"])
        _replay(loan, p.state_before, later, through, points)
        cash_delta = sum(int(q.allocation.get("cash", 0)) - old_cash[q.pk] for q in later) - old_cash[p.pk]
        today = services.business_date()
        adjustment = _adjust(loan, before, cash_delta, today, "reversal", f"reversal of payment {ref}: {why}")
        principal_delta = before["principal_outstanding_minor"] - loan.principal_outstanding_minor
        quota = _restore_quota(loan, principal_delta, today)
        LoanActivity.objects.create(loan=loan, business_date=today, kind="payment_reversed",
                                    amount_minor=p.amount_minor,
                                    detail={"reference": ref, "reason": why, "adjustment": adjustment,
                                            "quota": quota,
                                            "principal_unpaid_again_minor": max(0, -principal_delta),
                                            "replayed": [q.reference for q in later]})
        ledger.append(actor, "loan.payment_reversed", "loan", loan.ref,
                      {"reference": ref, "reason": why, "amount_minor": p.amount_minor,
                       "value_date": p.value_date.isoformat(), "adjustment": adjustment,
                       "replayed": [q.reference for q in later], "status": loan.status})
        return _result(p, loan, adjustment=adjustment)


# --- payoff quote and prepayment --------------------------------------------------------------------------

def _basis(day_count: str) -> int:
    return 360 if day_count in ("ACT/360", "30/360") else 365


def _accrued_to(loan: Loan, on: dt.date) -> int:
    """The accrual rule (brief): period_interest × elapsed // N, elapsed counted to `on`."""
    if not loan.current_seq or loan.next_due_date is None:
        return 0
    n = (loan.next_due_date - loan.period_start_date).days
    elapsed = min(max((on - loan.period_start_date).days, 0), n)
    return loan.period_interest_minor * elapsed // n if n > 0 else loan.period_interest_minor


def _projected_penalty(loan: Loan, on: dt.date) -> tuple[int, int]:
    """Penalty interest for the days after the last close up to `on`, by the close's formula on today's
    overdue base: (penalty, carry after)."""
    sheet = services.term_sheet_of(loan)
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
    total = (loan.principal_outstanding_minor + loan.overdue_interest_minor + accrued + penalty + loan.fees_minor
             - loan.credit_minor)
    return PayoffQuote(loan.ref, on, loan.currency, loan.principal_outstanding_minor, loan.overdue_interest_minor,
                       accrued, penalty, projected, loan.fees_minor, loan.credit_minor, total, carry)


def _check_quote_date(loan: Loan, on: dt.date, field: str = "on") -> None:
    if on < loan.closed_through:
        raise ValidationError(f"{field} {on} is before the last close applied to the loan ({loan.closed_through})",
                              field=field, code="before_last_close")
    if loan.next_due_date is not None and on > loan.next_due_date:
        raise ValidationError(f"{field} {on} is after the next due date {loan.next_due_date}; quote on or before "
                              "it", field=field, code="beyond_next_due")


def payoff_quote(actor: Any, loan_ref: Any, on: Any = None) -> PayoffQuote:
    """What settles the loan on `on` (default today): all principal outstanding + overdue interest + the
    current period's interest accrued to `on` (period_interest × elapsed(on) // N, the accrual rule) +
    penalty + fees − the customer's credit.

    Penalty: what is charged and unpaid, plus — for the days after the last close up to `on` — the daily
    penalty projected with the close's formula (base = overdue principal + interest, rate × (100 + markup)
    / 100 over the day-count basis, with the carried remainder), so the quote is what the close would have
    charged. `on` must be on or after the last close applied to the loan and no later than its next due
    date (after that another installment falls due and the quote would change)."""
    loan = services.get_loan(actor, _clean_loan_ref(loan_ref))
    if loan.status != LoanStatus.ACTIVE:
        raise Conflict(f"loan {loan.ref} is {loan.status}", field="loan_ref", code=f"loan_{loan.status}")
    day = services.business_date() if on in (None, "") else services.parse_date(on, "on")
    _check_quote_date(loan, day)
    return _quote(loan, day)


def prepay(actor: Any, *, loan_ref: Any, amount: Any, reference: Any, value_date: Any = None, mode: str = "full",
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
    channel = _check_channel(actor, channel)
    ref = _clean_reference(reference)
    lref = _clean_loan_ref(loan_ref)
    minor = parse_amount(amount)
    today = services.business_date()
    day = _parse_value_date(value_date, today)
    with transaction.atomic():
        loan = _lock_loan(lref)
        _require_loan_in_scope(actor, loan)
        found = _existing(ref, loan, minor)
        if found is not None:
            return found
        _check_loan(actor, loan, day, today)
        if day <= loan.closed_through:
            raise ValidationError(f"a prepayment cannot be dated on or before the last close applied to the loan "
                                  f"({loan.closed_through})", field="value_date", code="prepay_backdated")
        _check_quote_date(loan, day, "value_date")
        rows = _due_rows([loan.pk]).get(loan.pk, [])
        if mode == "full":
            plan = _plan_full(loan, rows, minor, day)
        else:
            plan = _plan_partial(loan, rows, minor, day, mode)
        snap = _snapshot(loan, rows, _layout_of(loan))
        # _plan_* only validated and computed; from here on we write
        p = _insert_payment(actor, loan, ref, minor, day, channel, PREPAY_MODES[mode], snap)
        if isinstance(p, PaymentResult):
            return p
        applied = plan(p)
        p.allocation = applied.allocation
        p.save(update_fields=["allocation"])
        accounting.post_entry(day, "repayment", applied.lines, loan=loan, memo=f"prepayment ({mode}) {ref}")
        quota = _restore_quota(loan, applied.principal_paid, day)
        LoanActivity.objects.create(loan=loan, business_date=day, kind="prepayment", amount_minor=minor,
                                    detail={"reference": ref, "mode": mode, "allocation": applied.allocation,
                                            "quota": quota, "closed": applied.closed})
        ledger.append(actor, "loan.repayment", "loan", loan.ref, _event_data(p, loan, mode=mode))
        return _result(p, loan)


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


def _plan_full(loan: Loan, rows: list[_Row], amount: int, day: dt.date) -> Any:
    quote = _quote(loan, day)
    if amount < quote.total_minor:
        raise ValidationError(f"amount {services.yuan(amount)} is below the payoff amount "
                              f"{services.yuan(quote.total_minor)} on {day}", field="amount", code="below_payoff")

    def execute(p: Payment) -> _Applied:
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
        _save_rows(rows)
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
                 "installments": paid_rows}
        alloc["cash"] = amount - alloc["refund"]
        lines += [Line(accounts.CASH, branch, alloc["cash"], cur),
                  Line(accounts.CUSTOMER_CREDIT, branch, loan.credit_minor, cur),
                  Line(accounts.PENALTY_RECEIVABLE, branch, -loan.penalty_minor, cur),
                  Line(accounts.FEES_RECEIVABLE, branch, -loan.fees_minor, cur),
                  Line(accounts.INTEREST_DUE, branch, -loan.overdue_interest_minor, cur),
                  Line(accounts.ACCRUED_INTEREST, branch, -accrued, cur),
                  Line(accounts.LOAN_PRINCIPAL, branch, -loan.principal_outstanding_minor, cur)]
        principal = loan.principal_outstanding_minor
        for f in ("principal_outstanding_minor", "overdue_principal_minor", "overdue_interest_minor",
                  "accrued_interest_minor", "penalty_minor", "fees_minor", "credit_minor", "dpd", "bucket"):
            setattr(loan, f, 0)
        services.set_current_period(loan, None)
        loan.oldest_due_date = None
        loan.status, loan.closed_on = LoanStatus.CLOSED.value, day
        loan.version += 1
        _save_loan(loan)
        return _Applied(alloc, lines, principal, True)

    return execute


def _typical_payment(rows: Sequence[Installment]) -> int:
    """The level payment (principal + interest) of the remaining schedule: the most common one, the last line
    (which carries the rounding residue) left out when there are others."""
    pool = rows[:-1] or rows
    counts = Counter(r.principal_minor + r.interest_minor for r in pool)
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _plan_partial(loan: Loan, rows: list[_Row], amount: int, day: dt.date, mode: str) -> Any:
    if not loan.current_seq or loan.next_due_date is None:
        raise ValidationError("every installment has fallen due; pay what is due (or prepay in full)",
                              field="mode", code="nothing_to_prepay")
    if day != loan.closed_through + ONE_DAY:
        raise Conflict(f"the close of {day - ONE_DAY} has not run for loan {loan.ref} yet", field="value_date",
                       code="close_pending")
    if day >= loan.next_due_date:
        raise ValidationError(f"a partial prepayment on the due date {loan.next_due_date} is not possible: pay the "
                              "installment, then prepay the day after", field="value_date", code="on_due_date")
    method = Method.coerce(loan.method)
    if mode == "shorten_term" and method in (Method.INTEREST_ONLY, Method.BULLET):
        raise ValidationError(f"shorten_term needs an amortising loan; this one is {method.value}", field="mode",
                              code="invalid_mode")
    dues = [Due(r.seq, *r.unpaid) for r in rows if r.status == "due" and not r.settled]
    owed = loan.penalty_minor + loan.fees_minor + sum(d.interest + d.principal for d in dues)
    accrued_to = _accrued_to(loan, day)
    not_due = loan.principal_outstanding_minor - loan.overdue_principal_minor
    rest = amount - owed - accrued_to
    if rest <= 0:
        raise ValidationError(f"amount must exceed what is due ({services.yuan(owed)}) plus the interest accrued "
                              f"to {day} ({services.yuan(accrued_to)})", field="amount", code="prepay_too_small")
    if rest >= not_due:
        raise ValidationError(f"amount covers the whole loan: use mode full (payoff "
                              f"{services.yuan(_quote(loan, day).total_minor)})", field="amount",
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
    terms = services.terms_for(loan, principal_minor=new_principal, periods=periods, start=day,
                               first_due=loan.next_due_date, grace_periods=grace)
    schedule = build_schedule(terms)
    assert sum(s.principal for s in schedule) == new_principal

    def execute(p: Payment) -> _Applied:
        branch, cur = loan.branch.code, loan.currency
        lines: list[Line] = []
        extra, _ = _recognise_to(loan, day, lines, penalty=False)
        applied = _apply_payment(loan, rows, owed, day)  # everything due, exactly
        _save_rows(rows)
        lines += applied.lines
        accrued = loan.accrued_interest_minor
        Installment.objects.filter(pk__in=[r.pk for r in future]).update(status="superseded")
        loan.schedule_version += 1
        first_seq = future[0].seq
        made = Installment.objects.bulk_create([Installment(
            loan=loan, version=loan.schedule_version, seq=first_seq + k, start_date=s.start_date,
            due_date=s.due_date, principal_minor=s.principal, interest_minor=s.interest, fee_minor=s.fee)
            for k, s in enumerate(schedule)])
        services.set_current_period(loan, made[0])
        loan.accrued_interest_minor = 0
        loan.principal_outstanding_minor -= rest
        loan.term = first_seq - 1 + len(schedule)
        loan.maturity_date = schedule[-1].due_date
        loan.version += 1
        _save_loan(loan)
        lines += [Line(accounts.CASH, branch, accrued + rest, cur),
                  Line(accounts.ACCRUED_INTEREST, branch, -accrued, cur),
                  Line(accounts.LOAN_PRINCIPAL, branch, -rest, cur)]
        alloc = dict(applied.allocation)
        alloc.update(accrued_interest=accrued, prepaid_principal=rest, interest_recognised=extra,
                     cash=alloc["cash"] + accrued + rest, schedule_version=loan.schedule_version,
                     periods=len(schedule), installment_minor=schedule[min(1, len(schedule) - 1)].payment,
                     mode=mode)
        return _Applied(alloc, lines, applied.principal_paid + rest, False)

    return execute


# --- bank files -------------------------------------------------------------------------------------------

def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content.lstrip("\ufeff")
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationError("a bank file is text (bytes or str)", field="content", code="invalid_file")
    raw = bytes(content)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "gb18030"):  # GB18030: a superset of GBK and GB2312
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("the bank file is neither UTF-8 nor GBK text", field="content", code="invalid_encoding")


class _Line(NamedTuple):
    number: int
    reference: str
    loan_ref: str
    amount_minor: int
    value_date: dt.date


_HEADER = ("reference", "loan_ref", "amount", "value_date")


def _parse_lines(text: str, today: dt.date, report: BankFileReport) -> list[_Line]:
    """Every line checked on its own (format, amount, date, a reference repeated in the file); rejects are
    reported with their line number, the good ones returned in file order."""
    good: list[_Line] = []
    first_seen: dict[str, int] = {}
    header_done = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        fields = next(csv.reader([raw])) if '"' in raw else raw.split(",")
        fields = [f.strip() for f in fields]
        if not header_done:
            header_done = True
            if fields and fields[0].lower().lstrip("\ufeff") == "reference":
                if tuple(f.lower() for f in fields) != _HEADER:
                    report.rejected.append(Rejected(number, "", f"malformed header: expected {','.join(_HEADER)}"))
                continue
        report.lines += 1
        reference = fields[0] if fields else ""
        if len(fields) != 4:
            report.rejected.append(Rejected(number, reference, f"malformed: expected 4 fields "
                                                               f"(reference,loan_ref,amount,value_date), got "
                                                               f"{len(fields)}"))
            continue
        reference, loan_ref, amount, value_date = fields
        try:
            ref = _clean_reference(reference)
            if not loan_ref:
                raise ValidationError("loan_ref is empty", field="loan_ref", code="required")
            minor = parse_amount(amount)
            day = _parse_value_date(value_date, today) if value_date else None
            if day is None:
                raise ValidationError("value_date is empty", field="value_date", code="required")
        except CreditplanError as exc:
            report.rejected.append(Rejected(number, reference, _reason(exc)))
            continue
        if ref in first_seen:
            report.rejected.append(Rejected(number, ref, f"duplicate reference in this file (first on line "
                                                         f"{first_seen[ref]})"))
            continue
        first_seen[ref] = number
        good.append(_Line(number, ref, loan_ref, minor, day))
    return good


def _reason(exc: CreditplanError) -> str:
    names = {"unknown_loan": "unknown loan", "loan_closed": "closed loan", "loan_written_off": "written-off loan",
             "negative_amount": "negative amount", "date_in_future": "future date",
             "reference_reused": "reference already used", "invalid_date": "malformed date",
             "invalid_amount": "malformed amount", "too_many_decimals": "malformed amount",
             "float_money": "malformed amount", "not_positive": "zero amount"}
    label = names.get(exc.code, exc.code.replace("_", " "))
    return f"{label}: {exc.message}"


def _add_totals(totals: dict[str, int], amount: int, alloc: dict[str, Any]) -> None:
    totals["posted_minor"] = totals.get("posted_minor", 0) + amount
    for k in ("penalty", "fee", "interest", "principal", "credit", "refund"):
        totals[k + "_minor"] = totals.get(k + "_minor", 0) + int(alloc.get(k, 0))


def import_bank_file(actor: Any, content: bytes | str, *, filename: str = "") -> BankFileReport:
    """Post a bank file of payments, one per line: `reference,loan_ref,amount,value_date` (a header line is
    optional; UTF-8 with or without BOM, or GBK). Good lines post, bad ones are reported with their line
    number and reason and leave nothing behind; a reference already posted is counted as a duplicate
    (idempotent: importing the same file twice posts nothing the second time).

    Fast: lines go in batches (BANK_FILE_BATCH), one transaction each — loans locked and their due
    installments read in bulk, every line validated and allocated in memory by the same `_apply_payment` as
    post_payment, then the payments, installments, loans, journal entries, activities and ledger events
    written in bulk. On PostgreSQL (outside a caller's transaction) two batches are in flight at a time, see
    `_run_batches`. Lines dated before their loan's last close, and the lines of a batch that met a database
    error (e.g. a concurrent import of the same references; the batch is rolled back whole), are posted at the
    end, one by one in file order, through post_payment (the replay for the former)."""
    org.require(actor, Perm.LOAN_REPAY)
    started = time.perf_counter()
    text = _decode(content)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    report = BankFileReport(filename=str(filename or "")[:200], digest=digest)
    today = services.business_date()
    lines = _parse_lines(text, today, report)
    batch_ref = f"bank:{digest[:16]}"
    _lap(report.phases, "parse", started)
    batches = [lines[k:k + BANK_FILE_BATCH] for k in range(0, len(lines), BANK_FILE_BATCH)]
    one_by_one = _run_batches(actor, batches, today, batch_ref, report)
    clock = time.perf_counter()
    for line in sorted(one_by_one, key=lambda ln: ln.number):
        _post_line(actor, line, report)
    if one_by_one:
        _lap(report.phases, "one_by_one", clock)
    report.rejected.sort(key=lambda r: r.line)
    report.totals.setdefault("posted_minor", 0)
    report.seconds = round(time.perf_counter() - started, 3)
    with transaction.atomic():
        ledger.append(actor, "loan.bank_file_imported", "bank_file", digest[:32],
                      {"sha256": digest, "filename": report.filename, "lines": report.lines, "posted": report.posted,
                       "duplicates": report.duplicates, "rejected": len(report.rejected),
                       "totals": dict(report.totals)})
    return report


def _post_line(actor: Any, line: _Line, report: BankFileReport) -> None:
    """One line on its own (its own transaction, through post_payment): the replay path and the fallback."""
    try:
        result = _post_payment(actor, loan_ref=line.loan_ref, amount=services.yuan(line.amount_minor),
                               reference=line.reference, value_date=line.value_date, channel="file")
    except CreditplanError as exc:
        report.rejected.append(Rejected(line.number, line.reference, _reason(exc)))
        return
    if result.duplicate:
        report.duplicates += 1
        report.totals["duplicate_minor"] = report.totals.get("duplicate_minor", 0) + line.amount_minor
        return
    report.posted += 1
    report.replayed += int(result.backdated)
    _add_totals(report.totals, line.amount_minor, result.allocation)


class _LoanRow:
    """The columns of a loan a payment reads and writes, without the ORM (the bank file locks and reads a
    thousand loans a batch); the same attribute names as `Loan`, so `_apply_payment` takes either."""

    __slots__ = ("pk", "ref", "product", "branch", "currency", "start_date", "application_ref", "version",
                 *services.STATE_FIELDS)
    COLUMNS = ("id", "ref", "product_id", "branch_id", "currency", "start_date", "application_ref", "version",
               *services.STATE_FIELDS)

    def __init__(self, values: Sequence[Any], products: dict[int, Product], branches: dict[int, Branch]) -> None:
        pk, self.ref, product_id, branch_id, self.currency, self.start_date, self.application_ref, self.version = \
            values[:8]
        self.pk = pk
        self.product, self.branch = products[product_id], branches[branch_id]
        for name, value in zip(services.STATE_FIELDS, values[8:], strict=True):
            setattr(self, name, value)


def _lock_loan_rows(refs: Sequence[str]) -> dict[str, Any]:
    """Lock the loans (in id order: no deadlock between two imports) and read them as `_LoanRow`s."""
    found = list(_where_in(Loan.objects.select_for_update(of=("self",)), "ref", refs).order_by("id")
                 .values_list(*_LoanRow.COLUMNS))
    products = {p.pk: p for p in Product.objects.filter(pk__in={v[2] for v in found})}
    branches = {b.pk: b for b in Branch.objects.filter(pk__in={v[3] for v in found})}
    return {v[1]: _LoanRow(v, products, branches) for v in found}


def _lap(phases: dict[str, float], phase: str, since: float) -> float:
    now = time.perf_counter()
    phases[phase] = round(phases.get(phase, 0.0) + now - since, 3)
    return now


@dataclass
class _BatchOutcome:
    """What one batch did, merged into the report (in file order) once it has committed."""

    posted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    one_by_one: list[_Line] = field(default_factory=list)  # backdated lines, or the whole batch after an error
    retried: bool = False
    phases: dict[str, float] = field(default_factory=dict)


def _run_batches(actor: Any, batches: Sequence[Sequence[_Line]], today: dt.date, batch_ref: str,
                 report: BankFileReport) -> list[_Line]:
    """Post the batches, each in its own transaction; returns the lines to post one by one.

    On PostgreSQL, outside a caller's transaction, BANK_FILE_PIPELINE batches are in flight (one connection
    each; default two): while batch k commits (the server's work: COPY, index maintenance, the WAL flush),
    batch k+1 locks its loans, allocates in Python and writes its own rows. Two rules keep this equal to
    posting the batches one after the other: batch k+1 locks its loans only once batch k holds all of its own
    (so a loan in both is read by k+1 after k has committed: PostgreSQL makes the lock wait), and batch k+1
    touches what batches share — the plan's quota rows, the ledger's sequencer — only after batch k has
    committed (so they are taken in file order: no deadlock, events in file order). What a batch writes
    before that is its own: the loans it has locked, their installments, and new rows."""
    n = len(batches)
    outcomes: list[_BatchOutcome] = [_BatchOutcome() for _ in range(n)]
    depth = max(1, min(int(BANK_FILE_PIPELINE), n))
    parallel = depth > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
    locked = [threading.Event() for _ in range(n)]
    committed = [threading.Event() for _ in range(n)]
    failures: list[BaseException] = []

    def one(k: int) -> None:
        batch = batches[k]
        try:
            if parallel and k:
                locked[k - 1].wait()
            with transaction.atomic():
                out = _post_batch(actor, batch, today, batch_ref, locked=locked[k].set,
                                  turn=committed[k - 1].wait if parallel and k else None)
                clock = time.perf_counter()
            _lap(out.phases, "commit", clock)
            outcomes[k] = out
        except (DatabaseError, CreditplanError) as exc:  # IntegrityError is a DatabaseError
            log.info("bank file batch from line %s rolled back, its lines go one by one: %s", batch[0].number, exc)
            outcomes[k] = _BatchOutcome(one_by_one=list(batch), retried=True)
        finally:
            locked[k].set()
            committed[k].set()

    if parallel:
        def worker(first: int) -> None:
            try:
                for k in range(first, n, depth):
                    one(k)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller's thread
                failures.append(exc)
                for k in range(first, n, depth):  # never leave the other workers waiting
                    locked[k].set()
                    committed[k].set()
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(first,), name=f"bank-file-{first}")
                   for first in range(depth)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]
    else:
        for k in range(n):
            one(k)
    one_by_one: list[_Line] = []
    for out in outcomes:
        report.posted += out.posted
        report.duplicates += out.duplicates
        report.rejected += out.rejected
        report.batches_retried += int(out.retried)
        for key, v in out.totals.items():
            report.totals[key] = report.totals.get(key, 0) + v
        for key, v in out.phases.items():
            report.phases[key] = round(report.phases.get(key, 0.0) + v, 3)
        one_by_one += out.one_by_one
    return one_by_one


class _NewPayment(NamedTuple):
    reference: str
    loan: Loan
    value_date: dt.date
    amount_minor: int
    allocation: dict[str, Any]
    state_before: dict[str, Any]
    channel: str = "file"
    kind: str = "regular"


def _post_batch(actor: Any, batch: Sequence[_Line], today: dt.date, batch_ref: str, *,
                locked: Any = None, turn: Any = None) -> _BatchOutcome:
    """Validate and allocate a batch in memory, then write it in bulk, inside the caller's transaction.
    `locked()` is called once the batch's loans are locked; `turn()` is waited for before writing."""
    out = _BatchOutcome()
    rejected = out.rejected
    dup_minor = duplicates = 0
    clock = time.perf_counter()
    existing = {r: (lr, a) for r, lr, a in _where_in(Payment.objects.all(), "reference",
                                                     [ln.reference for ln in batch])
                .values_list("reference", "loan__ref", "amount_minor")}
    wanted = {ln.loan_ref for ln in batch if ln.reference not in existing}
    loans = _lock_loan_rows(sorted(wanted)) if wanted else {}
    if locked is not None:
        locked()
    # the loans named by lines whose reference is already taken: read (not locked) only to check their scope
    named = sorted({ln.loan_ref for ln in batch if ln.reference in existing})
    visible = ({x.ref for x in _where_in(Loan.objects.select_related("branch"), "ref", named)
                if org.branch_in_scope(actor, x.branch)} if named else set())
    branches = {x.branch.pk: x.branch for x in loans.values()}
    due = _due_rows(loan.pk for loan in loans.values())
    layouts = _layouts(loan.pk for loan in loans.values())
    in_scope = {pk: org.branch_in_scope(actor, b) for pk, b in branches.items()}
    clock = _lap(out.phases, "read", clock)
    slow = out.one_by_one
    made: list[_NewPayment] = []
    entries: list[tuple[Loan, dt.date, str, list[Line]]] = []
    changed: dict[int, Loan] = {}
    principal_by_app: dict[str, tuple[Loan, int, dt.date]] = {}
    totals = out.totals
    slow_loans: set[str] = set()
    for ln in batch:
        if ln.reference in existing:  # the named loan's scope first, as post_payment does
            lr, amt = existing[ln.reference]
            if ln.loan_ref not in visible:
                rejected.append(Rejected(ln.number, ln.reference, f"unknown loan: no loan {ln.loan_ref}"))
            elif lr == ln.loan_ref and amt == ln.amount_minor:
                duplicates += 1
                dup_minor += ln.amount_minor
            else:
                exc = _reference_reused(ln.reference, amt if lr == ln.loan_ref else None)
                rejected.append(Rejected(ln.number, ln.reference, _reason(exc)))
            continue
        loan = loans.get(ln.loan_ref)
        if loan is None or not in_scope[loan.branch.pk]:  # another branch's loan: as unknown as a missing one
            rejected.append(Rejected(ln.number, ln.reference, f"unknown loan: no loan {ln.loan_ref}"))
            continue
        try:
            _check_loan(None, loan, ln.value_date, today)
        except CreditplanError as exc:
            rejected.append(Rejected(ln.number, ln.reference, _reason(exc)))
            continue
        if _is_backdated(loan, ln.value_date) or loan.ref in slow_loans:
            slow.append(ln)  # the replay path; later lines of the loan follow it there, in file order
            slow_loans.add(loan.ref)
            continue
        rows = due.setdefault(loan.pk, [])
        snap = _snapshot(loan, rows, layouts[loan.pk])
        applied = _apply_payment(loan, rows, ln.amount_minor, ln.value_date)
        changed[loan.pk] = loan
        made.append(_NewPayment(ln.reference, loan, ln.value_date, ln.amount_minor, applied.allocation, snap))
        entries.append((loan, ln.value_date, f"repayment {ln.reference}", applied.lines))
        if loan.application_ref and applied.principal_paid:
            _, before, _ = principal_by_app.get(loan.application_ref, (loan, 0, ln.value_date))
            principal_by_app[loan.application_ref] = (loan, before + applied.principal_paid, ln.value_date)
        _add_totals(totals, ln.amount_minor, applied.allocation)
    clock = _lap(out.phases, "allocate", clock)
    # --- write (all or nothing: the caller's transaction). First what only this batch touches (its locked
    # loans and their installments, new rows); then, in file order (`turn`), what batches share: the quota
    # rows and the ledger's sequencer.
    pg = connection.vendor == "postgresql"
    t = [clock]

    def laps(phase: str) -> None:
        t[0] = _lap(out.phases, phase, t[0])

    if made:
        dirty = [r for rows in due.values() for r in rows if r.dirty]
        (_write_batch_pg if pg else _write_batch_generic)(actor, made, dirty, list(changed.values()), entries,
                                                          batch_ref, laps)
    if turn is not None:
        turn()
        laps("wait")
    if made:
        quotas = {app: _restore_quota(loan, principal, day) for app, (loan, principal, day) in principal_by_app.items()}
        laps("quota")
        _write_activities(made, batch_ref, quotas, pg)
        laps("write.activities")
        ledger.append_many(actor, [ledger.EventSpec("loan.repayment", "loan", p.loan.ref, _event_data(p, p.loan))
                                   for p in made])
        laps("ledger")
    out.duplicates = duplicates
    if dup_minor:
        totals["duplicate_minor"] = totals.get("duplicate_minor", 0) + dup_minor
    out.posted = len(made)
    return out


def _activity_detail(p: _NewPayment, batch_ref: str, quotas: dict[str, str]) -> dict[str, Any]:
    quota = quotas.get(p.loan.application_ref, "none") if p.allocation.get("principal") else "none"
    return {"reference": p.reference, "channel": p.channel, "allocation": p.allocation, "quota": quota,
            "closed": p.loan.status == LoanStatus.CLOSED, "batch": batch_ref}


def _checked_entries(entries: Sequence[tuple[Loan, dt.date, str, list[Line]]]
                     ) -> list[tuple[Loan, dt.date, str, list[Line]]]:
    """Every entry checked by check_balanced, as accounting.post_entry does; empty ones dropped."""
    checked = [(loan, day, memo, accounts.check_balanced(lines)) for loan, day, memo, lines in entries]
    return [c for c in checked if c[3]]


def _write_batch_generic(actor: Any, made: Sequence[_NewPayment], rows: Sequence[_Row], loans: Sequence[Loan],
                         entries: Sequence[tuple[Loan, dt.date, str, list[Line]]], batch_ref: str,
                         laps: Any) -> None:
    """Any database: bulk INSERTs and executemany UPDATEs."""
    Payment.objects.bulk_create([Payment(reference=p.reference, loan_id=p.loan.pk, value_date=p.value_date,
                                         amount_minor=p.amount_minor, channel=p.channel, kind=p.kind,
                                         allocation=p.allocation, state_before=p.state_before, posted_by=actor)
                                 for p in made], batch_size=BANK_FILE_BATCH)
    _save_rows(rows)
    values = [[getattr(loan, c) for c in _LOAN_PAYMENT_COLUMNS] + [loan.pk] for loan in loans]
    sets = ", ".join(f"{c} = %s" for c in _LOAN_PAYMENT_COLUMNS)
    with connection.cursor() as cur:
        cur.executemany(f"UPDATE {Loan._meta.db_table} SET {sets} WHERE id = %s", values)
    checked = _checked_entries(entries)
    saved = JournalEntry.objects.bulk_create([JournalEntry(entry_date=day, kind="repayment", loan_id=loan.pk,
                                                           batch_ref=batch_ref, memo=memo[:200])
                                              for loan, day, memo, _ in checked], batch_size=BANK_FILE_BATCH)
    Posting.objects.bulk_create([Posting(entry=e, account=ln.account, branch_code=ln.branch, currency=ln.currency,
                                         amount_minor=ln.amount_minor)
                                 for e, (_, _, _, lines) in zip(saved, checked, strict=True) for ln in lines],
                                batch_size=5 * BANK_FILE_BATCH)
    laps("write")


def _write_batch_pg(actor: Any, made: Sequence[_NewPayment], rows: Sequence[_Row], loans: Sequence[Loan],
                    entries: Sequence[tuple[Loan, dt.date, str, list[Line]]], batch_ref: str,
                    laps: Any = None) -> None:
    """PostgreSQL: COPY for the new rows (Django's bulk INSERT escapes every quote of every JSON document
    through a regular expression: it was most of the time), one UPDATE … FROM unnest() per table for the
    changed installments and loans. Journal entry ids are taken from their sequence first, so the postings
    can name them in the same COPY pass."""
    lap = laps or (lambda phase: None)
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    dumps = _dumps
    with connection.cursor() as cur:
        with cur.copy(f"COPY {Payment._meta.db_table} (reference, loan_id, value_date, amount_minor, channel, kind, "
                      "allocation, state_before, status, reversal_reason, posted_by_id, posted_at) FROM STDIN") as cp:
            for p in made:
                cp.write_row((p.reference, p.loan.pk, p.value_date, p.amount_minor, p.channel, p.kind,
                              dumps(p.allocation), dumps(p.state_before), "posted", "", actor_id, now))
        lap("write.payments")
        if rows:
            cur.execute(
                f"UPDATE {Installment._meta.db_table} AS i SET paid_principal_minor = v.pp, "
                "paid_interest_minor = v.pi, paid_fee_minor = v.pf, status = v.st, paid_on = v.po "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::date[]) "
                "AS v(id, pp, pi, pf, st, po) WHERE i.id = v.id",
                [[r.id for r in rows], [r.paid_principal_minor for r in rows], [r.paid_interest_minor for r in rows],
                 [r.paid_fee_minor for r in rows], [r.status for r in rows], [r.paid_on for r in rows]])
            for r in rows:
                r.dirty = False
        lap("write.installments")
        cur.execute(
            f"UPDATE {Loan._meta.db_table} AS l SET principal_outstanding_minor = v.po, "
            "overdue_principal_minor = v.op, overdue_interest_minor = v.oi, penalty_minor = v.pen, "
            "fees_minor = v.fees, credit_minor = v.credit, oldest_due_date = v.oldest, dpd = v.dpd, "
            "bucket = v.bucket, status = v.status, closed_on = v.closed_on, version = v.version "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::date[], %s::int[], %s::int[], %s::text[], %s::date[], %s::int[]) "
            "AS v(id, po, op, oi, pen, fees, credit, oldest, dpd, bucket, status, closed_on, version) "
            "WHERE l.id = v.id",
            [[x.pk for x in loans], *([getattr(x, c) for x in loans] for c in _LOAN_PAYMENT_COLUMNS)])
        lap("write.loans")
        checked = _checked_entries(entries)
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [JournalEntry._meta.db_table, len(checked)])
        ids = [row[0] for row in cur.fetchall()]
        with cur.copy(f"COPY {JournalEntry._meta.db_table} (id, entry_date, kind, loan_id, batch_ref, memo, "
                      "created_at) FROM STDIN") as cp:
            for pk, (loan, day, memo, _) in zip(ids, checked, strict=True):
                cp.write_row((pk, day, "repayment", loan.pk, batch_ref, memo[:200], now))
        with cur.copy(f"COPY {Posting._meta.db_table} (entry_id, account, branch_code, currency, amount_minor) "
                      "FROM STDIN") as cp:
            for pk, (_, _, _, lines) in zip(ids, checked, strict=True):
                for ln in lines:
                    cp.write_row((pk, ln.account, ln.branch, ln.currency, ln.amount_minor))
        lap("write.journal")


def _write_activities(made: Sequence[_NewPayment], batch_ref: str, quotas: dict[str, str], pg: bool) -> None:
    if not pg:
        LoanActivity.objects.bulk_create([LoanActivity(loan_id=p.loan.pk, business_date=p.value_date,
                                                       kind="repayment", amount_minor=p.amount_minor,
                                                       detail=_activity_detail(p, batch_ref, quotas))
                                          for p in made], batch_size=BANK_FILE_BATCH)
        return
    now = timezone.now()
    with connection.cursor() as cur, cur.copy(
            f"COPY {LoanActivity._meta.db_table} (loan_id, business_date, kind, clause, amount_minor, detail, "
            "created_at) FROM STDIN") as cp:
        for p in made:
            cp.write_row((p.loan.pk, p.value_date, "repayment", "", p.amount_minor,
                          _dumps(_activity_detail(p, batch_ref, quotas)), now))


__all__ = ["BankFileReport", "PaymentResult", "PayoffQuote", "Rejected", "import_bank_file",
           "parse_amount", "payoff_quote", "post_payment", "prepay", "reverse_payment"]
