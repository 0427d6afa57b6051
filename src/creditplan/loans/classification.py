"""Manual risk classification with four eyes (商业银行金融资产风险分类办法, 2023: banks classify by the
debtor's ability to repay, not by days past due alone; an approved manual class records that judgement).

A risk manager (Perm.LOAN_CLASSIFY) proposes a class for a loan with a reason, and optionally the date it
holds until; another user with Perm.LOAN_CHANGE_APPROVE decides (loans/approvals.py, kind "classification").
Once approved the class is the loan's floor: the nightly close never grades the loan better than it (the days
past due may still make it worse) until its end date or until it is lifted the same way (params
{"lift": true}). The downgrade is immediate; a lift lets the close grade the loan again from the next night,
under the cure rule when the loan is non-performing (kernel.classify_day).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, ValidationError
from creditplan.loans import approvals
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, LoanActivity, LoanChangeRequest, LoanStatus
from creditplan.org.domain import Perm

__all__ = ["KIND"]

KIND = "classification"


def _check(actor: Actor, loan: Loan, params: dict[str, Any]) -> dict[str, Any]:
    if loan.status != LoanStatus.ACTIVE:
        raise Conflict(f"loan {loan.ref} is {loan.status}; only an active loan is classified", field="loan",
                       code="loan_not_active")
    unknown = sorted(set(params) - {"risk_class", "until", "lift"})
    if unknown:
        raise ValidationError(f"unknown parameter {unknown[0]!r}", field=unknown[0], code="unknown_field")
    if params.get("lift") in (True, "true", "on", "1", 1):
        if not loan.manual_class:
            raise Conflict(f"loan {loan.ref} has no manual class to lift", field="lift", code="no_manual_class")
        return {"lift": True, "risk_class": None, "until": None}
    raw = params.get("risk_class")
    if isinstance(raw, bool) or not str(raw if raw is not None else "").strip().isdigit():
        raise ValidationError("risk_class must be a class from 2 (关注) to 5 (损失)", field="risk_class",
                              code="invalid_class")
    cls = int(str(raw).strip())
    if not 2 <= cls <= 5:
        raise ValidationError(f"risk_class must be a class from 2 (关注) to 5 (损失), got {cls}",
                              field="risk_class", code="invalid_class")
    until = params.get("until")
    if until in (None, ""):
        until_iso = None
    else:
        day = loans.parse_date(until, "until")
        if day <= loans.business_date():
            raise ValidationError("until must be a date after today's business date", field="until",
                                  code="date_in_past")
        until_iso = day.isoformat()
    return {"lift": False, "risk_class": cls, "until": until_iso}


def _execute(actor: Actor, request: LoanChangeRequest) -> dict[str, Any]:
    loan = loans.loan_for_update(request.loan_id)
    p = request.params
    before = {"risk_class": loan.risk_class, "manual_class": loan.manual_class}
    if p["lift"]:
        loan.manual_class, loan.manual_class_until, loan.manual_class_reason = 0, None, ""
    else:
        loan.manual_class = p["risk_class"]
        loan.manual_class_until = dt.date.fromisoformat(p["until"]) if p["until"] else None
        loan.manual_class_reason = request.reason
        loan.risk_class = max(loan.risk_class, p["risk_class"])  # a downgrade is immediate
    loan.version += 1
    loan.save()
    detail = {"request": request.pk, "lift": p["lift"], "manual_class": loan.manual_class,
              "until": p["until"], "from": before["risk_class"], "to": loan.risk_class,
              "reason": request.reason, "proposed_by": request.proposed_by.username, "approved_by": actor.username}
    LoanActivity.objects.create(loan=loan, business_date=loans.business_date(),
                                kind="manual_class_lifted" if p["lift"] else "manual_class", detail=detail)
    return {"risk_class_before": before["risk_class"], "risk_class": loan.risk_class,
            "manual_class_before": before["manual_class"], "manual_class": loan.manual_class, "until": p["until"]}


approvals.register(approvals.ChangeKind(
    name=KIND, label=("Manual classification", "人工风险分类"), propose_perm=Perm.LOAN_CLASSIFY,
    check=_check, execute=_execute))
