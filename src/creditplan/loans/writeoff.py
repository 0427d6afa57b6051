"""Write-off (核销) and recovery (已核销贷款收回): a loan the bank no longer expects to collect leaves the balance
sheet against the loss allowance, and stays on record off balance (账销案存) until it is recovered or the claim
lapses; money that still comes in afterwards reduces that record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.ledger import services as ledger
from creditplan.loans import accounting, approvals, plan_book
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.models import Loan, LoanActivity, LoanStatus, Payment
from creditplan.loans.restructure import (
    LOSS_CLASS,
    NON_PERFORMING_CLASS,
    _require_active,
    _require_in_scope,
    state_of,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["CONDITIONS", "check_write_off", "propose_write_off", "record_recovery", "write_off"]


# The conditions under which a loan may be written off (呆账核销条件), after 财政部《金融企业呆账核销管理办法
# (2017年修订)》(财金〔2017〕90号) 第六条: each names the evidence the file must hold. `small_claim` is judged from
# the loan itself (balance and days past due, limits in settings); every other condition needs a reference to
# its evidence (the court ruling, the death certificate, the bankruptcy order…).
CONDITIONS: dict[str, tuple[str, str]] = {
    "bankruptcy": ("Borrower declared bankrupt, closed, dissolved or deregistered", "借款人依法宣告破产、关闭、解散或撤销"),
    "death": ("Borrower (an individual) deceased or declared missing or dead", "借款人死亡或依法被宣告失踪、死亡"),
    "disaster": ("Borrower struck by a major natural disaster or accident, uninsured", "借款人遭受重大自然灾害或意外事故"),
    "criminal": ("Borrower convicted; the estate does not cover the debt", "借款人触犯刑律，其财产不足归还所借债务"),
    "court": ("Court enforcement terminated or the claim ruled unenforceable", "经法院判决或裁定，终结执行或终止执行"),
    "small_claim": ("Small balance, still unpaid after the collection period", "小额贷款经追索后仍无法收回"),
}
SMALL_CLAIM_LIMIT_MINOR = {"individual": 1_000_000_000, "company": 500_000_000}  # ¥10,000,000 / ¥5,000,000
SMALL_CLAIM_DAYS = 180
# The allowance topped up for one write-off: not an ECL provision (accounting.PROVISION_KINDS), so the month-end
# ECL run of an earlier date may still be posted after it.
WRITE_OFF_TOPUP = "write_off_provision"


def _small_claim_rule() -> tuple[dict[str, int], int]:
    limits = {**SMALL_CLAIM_LIMIT_MINOR, **(getattr(settings, "CREDITPLAN_WRITE_OFF_SMALL_CLAIM_MINOR", None) or {})}
    return limits, int(getattr(settings, "CREDITPLAN_WRITE_OFF_SMALL_CLAIM_DAYS", SMALL_CLAIM_DAYS))


def check_write_off(actor: Actor, loan: Loan, params: dict[str, Any]) -> dict[str, Any]:
    """Whether `loan` may be written off on the grounds given — `condition` (one of CONDITIONS), `evidence` (a
    reference to the documents; required but for small_claim), `on` (the date, default today). Returns the
    cleaned parameters; refuses with the reason otherwise."""
    _require_in_scope(actor, loan)
    _require_active(loan, "written off")
    condition = str(params.get("condition") or "").strip()
    if condition not in CONDITIONS:
        raise ValidationError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}",
                              field="condition", code="invalid_condition")
    evidence = str(params.get("evidence") or "").strip()
    if len(evidence) > 200:
        raise ValidationError("evidence: at most 200 characters", field="evidence", code="too_long")
    if condition != "small_claim" and not evidence:
        raise ValidationError("a write-off on this condition needs a reference to its evidence (ruling, "
                              "certificate, order)", field="evidence", code="evidence_required")
    on = params.get("on")
    day = loans.business_date() if on in (None, "") else loans.parse_date(on, "on")
    if day < loan.closed_through:
        raise ValidationError(f"the close has applied loan {loan.ref} through {loan.closed_through}; a write-off "
                              f"cannot be dated before it", field="on", code="date_closed")
    if day > max(loans.business_date(), loan.closed_through + dt.timedelta(days=1)):
        raise ValidationError("a write-off cannot be dated in the future", field="on", code="date_in_future")
    if loan.risk_class < NON_PERFORMING_CLASS:
        raise Conflict(f"only non-performing loans (class 3 次级 or worse) are written off; loan {loan.ref} is "
                       f"class {loan.risk_class}", field="loan", code="not_non_performing")
    kind = str(loan.customer.kind)
    if condition == "death" and kind != "individual":
        raise Conflict("the death of the borrower is a condition for loans to individuals", field="condition",
                       code="condition_not_met")
    if condition == "small_claim":
        limits, days = _small_claim_rule()
        owed = (loan.principal_outstanding_minor + loan.accrued_interest_minor + loan.overdue_interest_minor
                + loan.penalty_minor + loan.fees_minor)
        limit = int(limits.get(kind, 0))
        if owed > limit:
            raise Conflict(f"loan {loan.ref} owes {format_minor(owed, loan.currency)}, more than the small-claim "
                           f"limit of {format_minor(limit, loan.currency)}", field="condition",
                           code="condition_not_met")
        if loan.dpd < days:
            raise Conflict(f"loan {loan.ref} is {loan.dpd} days past due; a small claim is written off after "
                           f"{days} days of collection", field="condition", code="condition_not_met")
    return {"condition": condition, "evidence": evidence, "on": day.isoformat()}


def _execute(actor: Actor, request: Any) -> dict[str, Any]:
    org.require(actor, Perm.LOAN_WRITE_OFF)  # the checker of a write-off holds the write-off authority too
    loan = loans.loan_for_update(request.loan_id)
    _write_off(actor, loan, request.params, request.reason, request=request.pk)
    return {"written_off_minor": loan.written_off_minor, "on": loan.written_off_on.isoformat()
            if loan.written_off_on else None}


approvals.register(approvals.ChangeKind(
    name="write_off", label=("Write-off", "核销"), propose_perm=Perm.LOAN_WRITE_OFF, check=check_write_off,
    execute=_execute))


def propose_write_off(actor: Actor, loan_ref: Any, *, reason: str, condition: str, evidence: str = "",
                      on: Any = None) -> Any:
    """A write-off goes through four eyes: proposed here, decided by another user (approvals.decide)."""
    return approvals.propose(actor, "write_off", loan_ref, params={"condition": condition, "evidence": evidence,
                                                                   "on": on}, reason=reason)


@transaction.atomic
def write_off(actor: Actor, loan_ref: Any, *, reason: str, condition: str, evidence: str = "", on: Any = None
              ) -> Loan:
    """Write a loan off at once, for trusted callers (the demo, tests): the checks of a proposal, then
    `_write_off`. People go through `propose_write_off` and a second user's decision."""
    org.require(actor, Perm.LOAN_WRITE_OFF)
    why = approvals.clean_reason(reason)
    loan = loans.loan_for_update(loan_ref)
    params = check_write_off(actor, loan, {"condition": condition, "evidence": evidence, "on": on})
    return _write_off(actor, loan, params, why)


def _write_off(actor: Actor, loan: Loan, params: dict[str, Any], why: str, *, request: int | None = None) -> Loan:
    """Take the loan off the balance sheet against the loss allowance and keep it on record (账销案存):
    - on balance: Dr 1304 allowance / Cr 1301 principal and the receivables still on the balance sheet (interest
      and penalty of an accruing loan, fees); an allowance short of it is topped up first (Dr 6703 / Cr 1304);
    - off balance: what a non-accrual loan owed in interest and penalty leaves 7001, and everything the borrower
      still owes enters the written-off record: Dr 7101 / Cr 7102.
    A credit balance the customer holds stays: it is still owed to them (GL 2241)."""
    day = dt.date.fromisoformat(params["on"])
    off = bool(loan.non_accrual)
    interest = loan.accrued_interest_minor + loan.overdue_interest_minor + loan.penalty_minor
    parts = {"principal": loan.principal_outstanding_minor, "accrued_interest": loan.accrued_interest_minor,
             "overdue_interest": loan.overdue_interest_minor, "penalty": loan.penalty_minor,
             "fees": loan.fees_minor}
    on_balance = loan.principal_outstanding_minor + loan.fees_minor + (0 if off else interest)
    total = sum(parts.values())
    before = state_of(loan)
    branch, currency = loan.branch.code, loan.currency
    available = accounting.allowance_balances(day).get((branch, currency), 0)
    topup = max(0, on_balance - available)
    if topup:
        accounting.post_entry(day, WRITE_OFF_TOPUP, [Line(accounts.IMPAIRMENT, branch, topup, currency),
                                                 Line(accounts.ALLOWANCE, branch, -topup, currency)],
                              loan=loan, memo=f"allowance topped up for the write-off of {loan.ref}")
    lines = [
        Line(accounts.ALLOWANCE, branch, on_balance, currency),
        Line(accounts.LOAN_PRINCIPAL, branch, -parts["principal"], currency),
        Line(accounts.FEES_RECEIVABLE, branch, -parts["fees"], currency),
        Line(accounts.WRITTEN_OFF_RECORD, branch, total, currency),
        Line(accounts.WRITTEN_OFF_RECORD_CONTRA, branch, -total, currency),
    ]
    if off:
        lines += [Line(accounts.OFF_BALANCE_INTEREST, branch, -interest, currency),
                  Line(accounts.OFF_BALANCE_INTEREST_CONTRA, branch, interest, currency)]
    else:
        lines += [Line(accounts.ACCRUED_INTEREST, branch, -parts["accrued_interest"], currency),
                  Line(accounts.INTEREST_DUE, branch, -parts["overdue_interest"], currency),
                  Line(accounts.PENALTY_RECEIVABLE, branch, -parts["penalty"], currency)]
    entry = accounting.post_entry(day, "write_off", lines, loan=loan, memo=f"write-off {loan.ref}")
    loan.written_off_minor += total
    loan.written_off_principal_minor += parts["principal"]
    loan.principal_outstanding_minor = loan.overdue_principal_minor = loan.overdue_interest_minor = 0
    loan.accrued_interest_minor = loan.penalty_minor = loan.penalty_carry = loan.fees_minor = 0
    loan.non_accrual, loan.non_accrual_since = False, None
    loans.set_current_period(loan, None)
    loan.status = LoanStatus.WRITTEN_OFF
    loan.written_off_on = day
    loan.closed_through = max(loan.closed_through, day)  # the record's interest runs from the next close
    loan.risk_class = LOSS_CLASS
    loan.frozen = True
    loan.version += 1
    loan.save()
    detail = {"reason": why, "condition": params["condition"], "evidence": params["evidence"], "parts": parts,
              "allowance_used_minor": on_balance, "allowance_topped_up_minor": topup, "off_balance_minor":
              interest if off else 0, "request": request}
    # the principal leaves the book: the credit plan's book and quotas with it (issue 19 §5)
    plan_book.principal_moved(loan, -parts["principal"], min(day, loans.business_date()), "write_off")
    LoanActivity.objects.create(loan=loan, business_date=day, kind="written_off", clause="write_off",
                                amount_minor=total, detail={
                                    **detail, "closed_through": loan.closed_through.isoformat(),
                                    "entry": entry.pk if entry else None, "state_before": before,
                                    "state_after": state_of(loan)})
    ledger.append(actor, "loan.written_off", "loan", loan.ref, {
        "on": day, "written_off_minor": total, **detail, "credit_minor": loan.credit_minor, "dpd": loan.dpd})
    return loan


@transaction.atomic
def record_recovery(actor: Actor, loan_ref: Any, *, amount: Any, reference: str, value_date: Any = None
                    ) -> Payment:
    """Money received on a written-off loan. It pays the written-off principal first, then the interest (at the
    write-off and after it): principal recovered goes back to the loss allowance it was written off against
    (Dr 1001 / Cr 1304), interest is income when received (Cr 6011); the record kept off balance (7101)
    comes down by the whole amount. Idempotent by `reference`: the same reference again returns the first
    payment; with another amount or loan it is refused."""
    org.require(actor, Perm.LOAN_REPAY)
    minor = parse_minor(amount, "amount", allow_zero=False)
    ref = str(reference or "").strip()
    if not ref:
        raise ValidationError("reference is required (it makes a recovery idempotent)", field="reference",
                              code="required")
    if len(ref) > 64:
        raise ValidationError("reference: at most 64 characters", field="reference", code="too_long")
    loan = loans.loan_for_update(loan_ref)
    _require_in_scope(actor, loan)
    seen = Payment.objects.filter(reference=ref).first()
    if seen is not None:
        if seen.loan_id == loan.pk and seen.kind == "recovery" and seen.amount_minor == minor:
            return seen
        if seen.loan_id != loan.pk:  # never describe another loan's payment (it may be another branch's)
            raise Conflict(f"reference {ref} is already used by another payment; give this one its own "
                           "reference", field="reference", code="reference_reused")
        raise Conflict(f"reference {ref} was already used for a {seen.kind} payment of "
                       f"{format_minor(seen.amount_minor, loan.currency)} on this loan", field="reference",
                       code="reference_reused")
    if loan.status != LoanStatus.WRITTEN_OFF:
        raise Conflict(f"loan {loan.ref} is {loan.status}; recoveries are for written-off loans (post a "
                       f"repayment instead)", field="loan", code="not_written_off")
    day = loans.business_date() if value_date in (None, "") else loans.parse_date(value_date, "value_date")
    if day > loans.business_date():
        raise ValidationError("value_date cannot be in the future", field="value_date", code="date_in_future")
    if loan.written_off_on is not None and day < loan.written_off_on:
        raise ValidationError(f"value_date is before the write-off on {loan.written_off_on}", field="value_date",
                              code="before_write_off")
    headroom = loan.written_off_minor + loan.memo_interest_minor - loan.recovered_minor
    if minor > headroom:
        raise ValidationError(f"amount {format_minor(minor, loan.currency)} is more than is left to recover "
                              f"({format_minor(headroom, loan.currency)})", field="amount",
                              code="exceeds_written_off")
    before = loans.snapshot(loan)
    branch, currency = loan.branch.code, loan.currency
    try:
        with transaction.atomic():
            payment = Payment.objects.create(reference=ref, loan=loan, value_date=day, amount_minor=minor,
                                             channel="recovery", kind="recovery", allocation={"recovery": minor},
                                             state_before=before, posted_by=actor)
    except IntegrityError:
        raise Conflict(f"reference {ref} is being used by another payment", field="reference",
                       code="reference_reused") from None
    principal = min(minor, max(0, loan.written_off_principal_minor - loan.recovered_minor))
    entry = accounting.post_entry(day, "recovery", [
        Line(accounts.CASH, branch, minor, currency), Line(accounts.ALLOWANCE, branch, -principal, currency),
        Line(accounts.INTEREST_INCOME, branch, -(minor - principal), currency),
        Line(accounts.WRITTEN_OFF_RECORD, branch, -minor, currency),
        Line(accounts.WRITTEN_OFF_RECORD_CONTRA, branch, minor, currency),
    ], loan=loan, memo=f"recovery {loan.ref} {ref}")
    payment.allocation = {"recovery": minor, "principal": principal, "interest": minor - principal}
    payment.save(update_fields=["allocation"])
    loan.recovered_minor += minor
    loan.version += 1
    loan.save(update_fields=["recovered_minor", "version"])
    LoanActivity.objects.create(loan=loan, business_date=day, kind="recovery", clause="recovery",
                                amount_minor=minor, detail={"reference": ref, "payment": payment.pk,
                                                            "entry": entry.pk if entry else None,
                                                            "recovered_minor": loan.recovered_minor})
    ledger.append(actor, "loan.recovered", "loan", loan.ref, {
        "reference": ref, "amount_minor": minor, "value_date": day, "recovered_minor": loan.recovered_minor,
        "written_off_minor": loan.written_off_minor})
    return payment
