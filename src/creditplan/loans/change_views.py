"""Pages of the four-eyes queue of loan changes (loans/approvals.py): the list of pending changes a checker
decides (Approve / Reject), the pending changes and the manual class shown on a loan's page, and the lines the
loan's activity shows for them. Labels in the page's language; people by their display names."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError
from creditplan.loans import approvals
from creditplan.loans.forms import METHOD_CHOICES, RESTRUCTURE_CHOICES, WRITE_OFF_CONDITIONS
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["LOAN_TEXT", "activity_text", "changes", "decide_change", "loan_changes", "restructuring_rows"]

_CLASS = {1: gettext_lazy("Normal"), 2: gettext_lazy("Special mention"), 3: gettext_lazy("Substandard"),
          4: gettext_lazy("Doubtful"), 5: gettext_lazy("Loss")}
_RESTRUCTURE = dict(RESTRUCTURE_CHOICES)
_METHOD = dict(METHOD_CHOICES)
_CONDITION = dict(WRITE_OFF_CONDITIONS)
_STATUS = {"pending": gettext_lazy("Pending"), "approved": gettext_lazy("Approved"),
           "rejected": gettext_lazy("Rejected")}
LOAN_TEXT = {  # the problems of the queue and of classification, in the page's language (views._LOAN_TEXT)
    "change_pending": gettext_lazy("A change of this kind is already waiting for approval."),
    "maker_checker": gettext_lazy("You proposed this change: another user must decide it."),
    "already_decided": gettext_lazy("This change has already been decided."),
    "invalid_class": gettext_lazy("Choose a class from special mention to loss."),
    "no_manual_class": gettext_lazy("The loan has no manual class to lift."),
    "date_in_past": gettext_lazy("Choose a date after today."),
    "unknown_field": gettext_lazy("Unknown field."),
    "extension_needs_normal_loan": gettext_lazy(
        "An extension is for a current, normal loan; a borrower in arrears is restructured."),
}


def _zh() -> bool:
    return (get_language() or "en").startswith("zh")


def _kind_label(name: str) -> str:
    spec = approvals.kinds().get(name)
    if spec is None:
        return _("Loan change")
    return spec.label[1] if _zh() else spec.label[0]


def _class_label(value: Any) -> str:
    try:
        return str(_CLASS[int(value)])
    except (TypeError, ValueError, KeyError):
        return "–"


def params_text(kind: str, p: dict[str, Any]) -> str:
    """What a change does, in words (kinds this module does not know show their label only)."""
    if kind == "classification":
        if p.get("lift"):
            return _("Lift the manual class")
        text = _("Class at least %(cls)s") % {"cls": _class_label(p.get("risk_class"))}
        if p.get("until"):
            text += " · " + _("until %(d)s") % {"d": p["until"]}
        return text
    if kind == "restructure":
        parts = [str(_RESTRUCTURE.get(str(p.get("kind")), _("Restructuring")))]
        if p.get("extend_periods"):
            parts.append(_("%(n)s extra periods") % {"n": p["extend_periods"]})
        if p.get("holiday_periods"):
            parts.append(_("%(n)s holiday periods") % {"n": p["holiday_periods"]})
        if p.get("new_method"):
            parts.append(str(_METHOD.get(p["new_method"], "")))
        if p.get("capitalise") and p.get("kind") != "capitalise":
            parts.append(_("arrears capitalised"))
        if p.get("effective_date"):
            parts.append(_("effective %(d)s") % {"d": p["effective_date"]})
        return " · ".join(x for x in parts if x)
    if kind == "write_off":  # the condition and its evidence: what the checker must see before deciding
        parts = [str(_CONDITION.get(str(p.get("condition")), "")), str(p.get("evidence") or "")]
        if p.get("on"):
            parts.append(_("dated %(d)s") % {"d": p["on"]})
        return " · ".join(x for x in parts if x)
    return ""


def _rows(requests: list[Any]) -> list[dict[str, Any]]:
    names = org.display_names({r.proposed_by.username for r in requests})
    return [{"id": r.pk, "loan": r.loan.ref, "kind": _kind_label(r.kind), "what": params_text(r.kind, r.params),
             "reason": r.reason, "proposed_by": names.get(r.proposed_by.username, r.proposed_by.username),
             "proposed_by_id": r.proposed_by_id, "proposed_at": r.proposed_at} for r in requests]


def restructuring_rows(rows: list[Any]) -> list[Any]:
    """A loan's restructurings (and extensions) with their kind and class in words, for its page."""
    for r in rows:
        r.kind_label = _RESTRUCTURE.get(r.kind, r.kind)
        r.class_label = _class_label(r.class_before)
    return rows


def loan_changes(user: Any, loan: Any) -> dict[str, Any]:
    """For a loan's page: its pending changes (staff only), whether the user may decide them, its manual class."""
    if getattr(user, "role", "") == "customer":
        return {"pending": [], "may_decide": False, "manual": None}
    manual = None
    if loan.manual_class:
        manual = {"label": _class_label(loan.manual_class), "until": loan.manual_class_until,
                  "reason": loan.manual_class_reason}
    return {"pending": _rows(approvals.pending(user, loan=loan)),
            "may_decide": org.may(user, Perm.LOAN_CHANGE_APPROVE), "manual": manual, "cure_until": loan.cure_until}


def activity_text(kind: str, d: dict[str, Any]) -> str:
    if kind in ("manual_class", "manual_class_lifted"):
        names = org.display_names([d.get("proposed_by", ""), d.get("approved_by", "")])
        who = _("proposed by %(a)s, approved by %(b)s") % {
            "a": names.get(d.get("proposed_by", ""), "–"), "b": names.get(d.get("approved_by", ""), "–")}
        if kind == "manual_class_lifted":
            return f"{who}: {d.get('reason', '')}"
        return _("%(old)s → %(new)s, at least %(cls)s") % {
            "old": _class_label(d.get("from")), "new": _class_label(d.get("to")),
            "cls": _class_label(d.get("manual_class"))} + f" · {who}: {d.get('reason', '')}"
    label = _kind_label(str(d.get("change", "")))
    if kind == "change_proposed":
        return f"{label}: {params_text(str(d.get('change', '')), d.get('params') or {})} · {d.get('reason', '')}"
    status = _STATUS.get(str(d.get("status", "")), "")
    return f"{label}: {status}" + (f" · {d['note']}" if d.get("note") else "")


@login_required
def changes(request: HttpRequest) -> HttpResponse:
    """Pending loan changes for the checker, oldest first."""
    user = request.user
    org.require(user, Perm.LOAN_CHANGE_APPROVE)
    return render(request, "loans/changes.html", {"changes": _rows(approvals.pending(user)), "may_decide": True})


@login_required
@require_POST
def decide_change(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    approve = request.POST.get("decision") == "approve"
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    try:
        req = approvals.decide(user, pk, approve=approve, note=request.POST.get("note", ""))
    except CreditplanError as exc:
        if exc.http_status in (401, 403, 404):
            raise
        text = LOAN_TEXT.get(exc.code)
        if not _zh():
            messages.error(request, problem_text(exc.code, exc.message))
        else:
            messages.error(request, str(text) if text is not None else _(
                "The change cannot be made as proposed (the loan has changed since); reject it and propose it again."))
    else:
        messages.success(request, _("Change approved.") if req.status == "approved" else _("Change rejected."))
    return redirect(back or "loans:changes")
