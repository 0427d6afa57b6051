"""Restructuring (重组) and extension (展期): a loan's schedule changes after disbursement. (Write-off and
recovery live in loans/writeoff.py.)

Restructuring gives the loan a new schedule version because the borrower is in financial difficulty; the old
one is kept (`superseded`) so that a statement and an auditor can always see what was agreed before. Pages and
the API propose it through the four-eyes queue (loans/approvals.py, kind "restructure"): the checker's
approval runs `restructure` with the checker as actor; trusted code (demo seeding) may call it directly.

An extension (kind "extension") lengthens the term of a loan whose borrower is NOT in difficulty: the loan must
be current (no arrears) and 正常. It changes the schedule like extend_term but sets no 关注 floor and no
observation period. Under the 2023 rules an extension granted because the borrower cannot pay is a
restructuring: such a loan (arrears, or already worse than 正常) is refused as an extension
(code `extension_needs_normal_loan`) and must be restructured.

When a restructuring takes effect, and what happens to the interest already accrued
------------------------------------------------------------------------------------
The close has applied the loan through `closed_through` (C): the interest of the current period
(S, N] is accrued through C (`accrued_interest_minor` = A, already income in GL 1321/6011). The restructuring
takes effect at the start of day C + 1: the new terms govern every day the close has not yet applied, so no
day is charged twice and none is skipped. `effective_date` is therefore C + 1 by default and may be C (booked
after the close of C ran) but not earlier (that close already happened under the old terms: the field
`effective_date`, code `date_closed`) nor later (the days between would silently fall under the new terms:
code `date_not_closed`; run the close first).

The new schedule is built by `build_schedule` with start = C and, while the loan has a current period,
first due date = N (the borrower keeps the due day). Its first installment then carries the new-terms interest
X of (C, N]; we add A to it and give it the current period's start S as its start date, so the first new
installment is "the current period": (S, N], interest A + X. The loan's accrual fields point at it
(period_start = S, next_due = N, period_interest = A + X) and `accrued_interest_minor` stays A. The close
sets the accrued interest to `period_interest × elapsed // N` each day and recognises the difference, so by N
it has recognised exactly (A + X) − A = X more: A is neither lost nor recognised twice, and on N the
installment falls due with interest A + X, which is what the reclass moves from 1321 to 1322. (When the new
daily interest is higher than the old one, e.g. after capitalising arrears, the first day after the
restructuring recognises a little more than one day's worth and later days less: only the timing within
the period moves, never the total.) A loan with no current period (every installment has fallen due) has
nothing accrued; its new schedule starts at C and falls due on the loan's due-day grid.

The kinds
---------
* `extend_term`: the not-yet-due principal over the remaining periods + `extend_periods`.
* `change_method`: the same, with `new_method` (e.g. equal-installment → equal-principal).
* `capitalise`: overdue principal, overdue interest, penalty and fees become principal (GL Dr 1301 /
  Cr 1322, 1323, 1324; overdue principal is already in 1301), rescheduled with the not-yet-due principal over
  the remaining periods (+ `extend_periods` if given). Arrears and days past due go to zero — but not the
  classification (see below). Any kind may also capitalise with `capitalise=True`.
* `holiday`: a payment holiday of `holiday_periods` periods, **interest-only**: the next n installments
  carry the interest (and fee) only, then the principal amortises over as many periods as were left, so the
  term grows by n. We chose interest-only over full deferral because it keeps every fen of interest in the
  period it belongs to (nothing is capitalised, nothing compounds, the daily accrual is the ordinary one),
  and it is what `ScheduleTerms.grace_periods` already computes exactly.

Installments that fall due are not touched (they stay `due` with their arrears) except when capitalising,
which supersedes them too: their unpaid amounts are now principal of the new schedule.

Classification during observation (商业银行金融资产风险分类办法, 2023, on 重组资产; docs/loans.md): the loan
becomes at least 关注 (class 2) and keeps `pre_restructure_class`, the class before; the close never grades
it better than that while `restructured_until` ≥ the business date, so a loan that was 不良 stays 不良. The
observation period starts on the FIRST REPAYMENT DATE after the change (the first new installment's due date,
not the effective date) and lasts at least two repayment periods and not less than one year
(`observation_end`: first repayment + max(12, 2 × months per period) months). A repayment missed during it
restarts it from the missed due date (the close pushes `restructured_until` out, kernel.classify_day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.db.models import Max

from creditplan.core.access import Actor
from creditplan.core.daycount import add_months
from creditplan.core.errors import Conflict, CreditplanError, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, approvals, plan_book
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import Method, build_schedule
from creditplan.loans.models import Installment, Loan, LoanActivity, LoanStatus, Restructuring
from creditplan.org import services as org
from creditplan.org.domain import Perm

KINDS = ("extend_term", "change_method", "capitalise", "holiday", "extension")
RESTRUCTURING_KINDS = KINDS[:4]  # for a borrower in financial difficulty (重组); "extension" is 展期 without it
NON_PERFORMING_CLASS = 3  # 次级 substandard or worse may be written off
LOSS_CLASS = 5
OBSERVATION_MONTHS = 12


def state_of(loan: Loan) -> dict[str, int]:
    """The loan's balances and cumulative income, as a statement needs them at an event (JSON-able)."""
    return {
        "principal": loan.principal_outstanding_minor, "overdue_principal": loan.overdue_principal_minor,
        "overdue_interest": loan.overdue_interest_minor, "accrued_interest": loan.accrued_interest_minor,
        "penalty": loan.penalty_minor, "fees": loan.fees_minor, "credit": loan.credit_minor,
        "interest_income": loan.interest_income_minor, "penalty_income": loan.penalty_income_minor,
        "fee_income": loan.fee_income_minor,
    }


def _whole(value: Any, field: str, *, required: bool) -> int | None:
    """A whole number ≥ 1 of periods, or None when not given (and not required)."""
    if value is None or value == "":
        if required:
            raise ValidationError(f"{field} is required for this kind of restructuring", field=field,
                                  code="required")
        return None
    if isinstance(value, bool | float) or not str(value).strip().lstrip("-").isdigit():
        raise ValidationError(f"{field} must be a whole number of periods, got {value!r}", field=field,
                              code="invalid_number")
    n = int(str(value).strip())
    if n < 1:
        raise ValidationError(f"{field} must be at least 1, got {n}", field=field, code="out_of_range")
    return n


def _require_in_scope(actor: Actor, loan: Loan) -> None:
    """Another branch's loan is answered as a loan that does not exist (the same 404 as loan_for_update)."""
    org.require_in_scope(actor, loan.branch, message=f"no loan {loan.ref}", code="unknown_loan", field="loan")


def _require_active(loan: Loan, doing: str) -> None:
    if loan.status != LoanStatus.ACTIVE:
        raise Conflict(f"loan {loan.ref} is {loan.status}; it cannot be {doing}", field="loan",
                       code="loan_not_active")


def _grid_due_after(loan: Loan, day: dt.date) -> dt.date:
    """The first date on the loan's due-day grid (first_due_date + k periods) after `day`."""
    step = loan.months_per_period
    months = (day.year - loan.first_due_date.year) * 12 + day.month - loan.first_due_date.month
    k = max(0, months // step - 1)
    while (due := add_months(loan.first_due_date, k * step)) <= day:
        k += 1
    return due


def observation_end(loan: Loan, first_repayment: dt.date) -> dt.date:
    """The end of a restructuring's observation period (商业银行金融资产风险分类办法, 2023, 重组资产): it starts
    on the first repayment date after the change and spans at least two repayment periods and not less than one
    year: first repayment + max(12, 2 × months per period) months. A missed repayment during it restarts it from
    the missed due date (the close, kernel.classify_day)."""
    return add_months(first_repayment, max(OBSERVATION_MONTHS, 2 * loan.months_per_period))


def _summary(rows: list[Any]) -> dict[str, Any]:
    """A schedule (model rows or schedule lines) as compact JSON: [seq, due, principal, interest, fee]."""
    out = []
    for r in rows:
        if isinstance(r, Installment):
            out.append([r.seq, r.due_date.isoformat(), r.principal_minor, r.interest_minor, r.fee_minor])
        else:
            out.append([r.seq, r.due_date.isoformat(), r.principal, r.interest, r.fee])
    return {"installments": out, "principal_minor": sum(x[2] for x in out),
            "interest_minor": sum(x[3] for x in out), "fee_minor": sum(x[4] for x in out)}


@transaction.atomic
def restructure(actor: Actor, loan_ref: Any, *, kind: str, effective_date: Any = None, reason: str,
                extend_periods: Any = None, new_method: Any = None, holiday_periods: Any = None,
                capitalise: bool = False) -> Loan:
    """Give the loan a new schedule version (see the module docstring for the exact rules). Returns the
    updated loan. Every refusal names its field and writes nothing. Trusted code and tests call it directly;
    pages and the API go through the four-eyes queue (kind "restructure", below)."""
    org.require(actor, Perm.LOAN_RESTRUCTURE)
    return _apply(actor, loan_ref, kind=kind, effective_date=effective_date, reason=reason,
                  extend_periods=extend_periods, new_method=new_method, holiday_periods=holiday_periods,
                  capitalise=capitalise)


def _apply(actor: Actor, loan_ref: Any, *, kind: str, effective_date: Any = None, reason: str,
           extend_periods: Any = None, new_method: Any = None, holiday_periods: Any = None,
           capitalise: bool = False, dry_run: bool = False) -> Loan:
    """`restructure` without the permission check (the queue checked the maker's and the checker's); dry_run:
    every check, the new schedule built, nothing written."""
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind",
                              code="invalid_kind")
    why = approvals.clean_reason(reason)
    extend = _whole(extend_periods, "extend_periods", required=kind in ("extend_term", "extension")) or 0
    if kind == "extension" and capitalise:
        raise ValidationError("an extension (展期) capitalises nothing; a borrower with arrears to capitalise is "
                              "restructured", field="capitalise", code="not_applicable")
    holiday = 0
    if kind == "holiday":
        holiday = _whole(holiday_periods, "holiday_periods", required=True) or 0
    elif holiday_periods not in (None, ""):
        raise ValidationError("holiday_periods only applies to kind holiday", field="holiday_periods",
                              code="not_applicable")
    method: Method | None = None
    if kind == "change_method":
        if new_method in (None, ""):
            raise ValidationError("new_method is required to change the method", field="new_method",
                                  code="required")
        try:
            method = Method.coerce(new_method)
        except CreditplanError as exc:
            raise exc.for_field("new_method")
    elif new_method not in (None, ""):
        raise ValidationError("new_method only applies to kind change_method", field="new_method",
                              code="not_applicable")
    if not isinstance(capitalise, bool):
        raise ValidationError("capitalise must be true or false", field="capitalise", code="invalid")
    capitalising = capitalise or kind == "capitalise"

    loan = loans.loan_for_update(loan_ref)
    _require_in_scope(actor, loan)
    _require_active(loan, "restructured")
    closed = loan.closed_through
    effective = closed + dt.timedelta(days=1) if effective_date in (None, "") else loans.parse_date(
        effective_date, "effective_date")
    if effective < closed:
        raise ValidationError(f"the close has applied loan {loan.ref} through {closed}; a restructuring cannot "
                              f"take effect before it", field="effective_date", code="date_closed")
    if effective > closed + dt.timedelta(days=1):
        raise ValidationError(f"the close has applied loan {loan.ref} only through {closed}; run it through "
                              f"{effective - dt.timedelta(days=1)} before a restructuring effective {effective}",
                              field="effective_date", code="date_not_closed")
    if kind == "extension" and (loan.dpd or loan.overdue_principal_minor or loan.overdue_interest_minor
                                or loan.penalty_minor or loan.fees_minor or loan.risk_class != 1):
        raise Conflict(f"loan {loan.ref} is in arrears or not classified normal (正常): its borrower is in "
                       f"difficulty, so a longer term is a restructuring, not an extension", field="kind",
                       code="extension_needs_normal_loan")
    if method is not None and method.value == loan.method:
        raise ValidationError(f"loan {loan.ref} already repays by {loan.method}", field="new_method",
                              code="same_method")

    live = list(Installment.objects.filter(loan=loan).exclude(status="superseded").select_for_update()
                .order_by("seq"))
    future = [r for r in live if r.status == "scheduled"]
    arrears = {"principal": loan.overdue_principal_minor, "interest": loan.overdue_interest_minor,
               "penalty": loan.penalty_minor, "fees": loan.fees_minor}
    if kind == "capitalise" and not any(arrears.values()):
        raise Conflict(f"loan {loan.ref} has nothing overdue to capitalise", field="kind",
                       code="nothing_to_capitalise")
    if capitalising and loan.non_accrual and (arrears["interest"] or arrears["penalty"]):
        # its interest and penalty are off the balance sheet (memo 7001) and income only when received: turning
        # them into principal would book as an asset what the bank does not expect to collect
        raise Conflict(f"loan {loan.ref} is non-accrual: its unpaid interest and penalty are off the balance sheet "
                       "and cannot be capitalised; restructure without capitalising, or once it accrues again",
                       field="capitalise", code="capitalise_non_accrual")
    superseded = future + ([r for r in live if r.status == "due"] if capitalising else [])
    gone = {r.pk for r in superseded}
    kept = [r for r in live if r.pk not in gone]
    not_due_principal = loan.principal_outstanding_minor - loan.overdue_principal_minor
    added = arrears["interest"] + arrears["penalty"] + arrears["fees"] if capitalising else 0
    principal = not_due_principal + (arrears["principal"] if capitalising else 0) + added
    if principal <= 0:
        raise Conflict(f"loan {loan.ref} has no principal left to reschedule (all of it is overdue); "
                       f"capitalise the arrears instead", field="kind", code="nothing_to_reschedule")
    periods = len(future) + extend + holiday
    if periods < 1:
        raise ValidationError(f"loan {loan.ref} has no installment left to reschedule; give extend_periods",
                              field="extend_periods", code="required")

    accrued = loan.accrued_interest_minor
    if loan.current_seq and loan.next_due_date is not None:
        period_start, first_due = loan.period_start_date, loan.next_due_date
    else:
        period_start, first_due = closed, _grid_due_after(loan, closed)
    try:
        terms = loans.terms_for(loan, principal_minor=principal, periods=periods, start=closed,
                                first_due=first_due, method=(method or Method.coerce(loan.method)).value,
                                grace_periods=holiday)
        schedule = build_schedule(terms)
    except CreditplanError as exc:
        if exc.field in ("periods", "grace_periods"):
            raise exc.for_field("holiday_periods" if holiday and not extend else "extend_periods")
        raise
    first_seq = max((r.seq for r in kept), default=0) + 1
    head = schedule[0]
    schedule = (replace(head, start_date=period_start, interest=head.interest + accrued,
                        payment=head.payment + accrued), *schedule[1:])
    schedule = tuple(replace(line, seq=line.seq + first_seq - 1) for line in schedule)
    if sum(line.principal for line in schedule) != principal:  # build_schedule's promise; never lend on without it
        raise RuntimeError(f"the new schedule of {loan.ref} does not repay exactly {principal}")
    if dry_run:
        return loan

    old_version = loan.schedule_version
    row_max = Installment.objects.filter(loan=loan).aggregate(v=Max("version"))["v"] or 0
    new_version = max(old_version, row_max) + 1
    class_before = loan.risk_class
    before = state_of(loan)
    Installment.objects.filter(pk__in=gone).update(status="superseded")
    Installment.objects.bulk_create([Installment(
        loan=loan, version=new_version, seq=line.seq, start_date=line.start_date, due_date=line.due_date,
        principal_minor=line.principal, interest_minor=line.interest, fee_minor=line.fee) for line in schedule])

    branch, currency = loan.branch.code, loan.currency
    entry = None
    if capitalising and added:
        entry = accounting.post_entry(effective, "capitalisation", [
            Line(accounts.LOAN_PRINCIPAL, branch, added, currency),
            Line(accounts.INTEREST_DUE, branch, -arrears["interest"], currency),
            Line(accounts.PENALTY_RECEIVABLE, branch, -arrears["penalty"], currency),
            Line(accounts.FEES_RECEIVABLE, branch, -arrears["fees"], currency),
        ], loan=loan, memo=f"restructuring {loan.ref}: arrears capitalised")
    if capitalising:
        loan.principal_outstanding_minor += added
        loan.overdue_principal_minor = loan.overdue_interest_minor = 0
        loan.penalty_minor = loan.penalty_carry = loan.fees_minor = 0
        loan.oldest_due_date = loan.fee_check_date = None
        loan.dpd = loan.bucket = 0
    if method is not None:
        loan.method = method.value
    loan.term = len(kept) + len(schedule)
    loan.maturity_date = schedule[-1].due_date
    loans.set_current_period(loan, schedule[0])
    loan.schedule_version = new_version
    if kind != "extension":  # a restructuring: at least 关注, no better than before, observed (module docstring)
        loan.pre_restructure_class = class_before
        loan.risk_class = max(2, class_before)
        loan.restructured_until = observation_end(loan, schedule[0].due_date)
        loan.restructure_count += 1
    loan.version += 1
    loan.save()
    if capitalising and added:  # arrears become principal: the credit plan's book grows with it (issue 19 §5)
        plan_book.principal_moved(loan, added, min(effective, loans.business_date()), "capitalise")

    params = {"extend_periods": extend or None, "new_method": method.value if method else None,
              "holiday_periods": holiday or None, "capitalise": capitalising, "periods": periods,
              "principal_minor": principal, "accrued_kept_minor": accrued,
              "capitalised_minor": {k: v for k, v in arrears.items()} if capitalising else {}}
    extension = kind == "extension"
    observed = None if extension else loan.restructured_until  # an extension is not observed
    Restructuring.objects.create(loan=loan, effective_date=effective, kind=kind, params=params,
                                 old_version=old_version, new_version=new_version, class_before=class_before,
                                 observation_until=observed, reason=why,
                                 approved_by=actor)
    # an extension is recorded like a restructuring (the statement and the balance chart read it the same way);
    # detail "restructuring" names it, the clause and the ledger event tell them apart
    LoanActivity.objects.create(loan=loan, business_date=effective, kind="restructured",
                                clause="extension" if extension else "restructuring",
                                amount_minor=added, detail={
                                    "restructuring": kind, **params, "old_version": old_version,
                                    "new_version": new_version, "class_before": class_before,
                                    "observation_until": observed.isoformat() if observed else None,
                                    "closed_through": closed.isoformat(), "entry": entry.pk if entry else None,
                                    "state_before": before, "state_after": state_of(loan)})
    ledger.append(actor, "loan.extended" if extension else "loan.restructured", "loan", loan.ref, {
        "kind": kind, "effective_date": effective, "reason": why, **params, "old_version": old_version,
        "new_version": new_version, "class_before": class_before, "risk_class": loan.risk_class,
        "observation_until": observed, "maturity": loan.maturity_date, "term": loan.term,
        "old_schedule": _summary(superseded), "new_schedule": _summary(list(schedule))})
    return loan


# --- four eyes: the queue's kind "restructure" (loans/approvals.py) ---------------------------------------------

_QUEUE_FIELDS = ("kind", "effective_date", "extend_periods", "new_method", "holiday_periods", "capitalise")


def _check_change(actor: Actor, loan: Loan, params: dict[str, Any]) -> dict[str, Any]:
    """The proposal's parameters, checked by a dry run against the loan as it is now (refusals name the field)."""
    unknown = sorted(set(params) - set(_QUEUE_FIELDS))
    if unknown:
        raise ValidationError(f"unknown parameter {unknown[0]!r}", field=unknown[0], code="unknown_field")
    cleaned: dict[str, Any] = {k: (None if params.get(k) in ("", None) else params.get(k)) for k in _QUEUE_FIELDS}
    cleaned["capitalise"] = bool(cleaned["capitalise"]) if cleaned["capitalise"] in (None, True, False) else \
        cleaned["capitalise"]
    if isinstance(cleaned["effective_date"], dt.date):
        cleaned["effective_date"] = cleaned["effective_date"].isoformat()
    _require_in_scope(actor, loan)
    _apply(actor, loan.ref, reason="(check)", dry_run=True, **cleaned)
    return cleaned


def _execute_change(actor: Actor, request: Any) -> dict[str, Any]:
    loan = _apply(actor, request.loan.ref, reason=request.reason, **request.params)
    return {"schedule_version": loan.schedule_version, "risk_class": loan.risk_class, "term": loan.term,
            "maturity_date": loan.maturity_date.isoformat(),
            "observation_until": loan.restructured_until.isoformat() if loan.restructured_until else None}


approvals.register(approvals.ChangeKind(
    name="restructure", label=("Restructuring or extension", "重组或展期"), propose_perm=Perm.LOAN_RESTRUCTURE,
    check=_check_change, execute=_execute_change))
