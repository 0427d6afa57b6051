"""Post-loan pages (docs/post-loan.md), mounted at /post-loan/ (src/creditplan/urls.py):

    /post-loan/                  review tasks: a loan officer's own, an approver's branch, everything for risk
                                    managers (filters: open / done, escalated, unassigned); overdue first
    /post-loan/<id>/             one task: why, the customer's line and loans, the visit form and its action;
                                    approvers and risk managers assign it to another officer
    /post-loan/limits/           the dynamic-limit proposals with their reasons; approve or reject those waiting

Views call services only; every code is shown through its label (a Chinese page holds no English).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.access import Perm, has_perm
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.lines import services as lines
from creditplan.org import services as org
from creditplan.risk.domain import reviews as rules
from creditplan.risk.domain import signals as sig
from creditplan.risk.services import limits, reviews

_PROBLEM_TEXT = {
    "required": gettext_lazy("This field is required."),
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "contact_in_future": gettext_lazy("The visit or call cannot be after today."),
    "unknown_channel": gettext_lazy("Choose a visit or a call."),
    "findings_too_long": gettext_lazy("The findings are at most 2,000 characters."),
    "unknown_action": gettext_lazy("Choose an action."),
    "no_line": gettext_lazy("The customer has no credit line in force: choose another action."),
    "review_done": gettext_lazy("This review task is done already."),
    "not_review_owner": gettext_lazy("Only the task's owner, an approver over the branch or a risk manager records "
                                     "the review."),
    "unknown_officer": gettext_lazy("Choose a loan officer of the customer's branch."),
    "proposal_decided": gettext_lazy("This proposal has been decided already."),
    "below_used": gettext_lazy("The line cannot be below what is already reserved and used on it."),
    "not_a_reduction": gettext_lazy("A reduction must be below the line's amount."),
    "change_pending": gettext_lazy("A change of this line is waiting for approval: it must be decided first."),
    "line_status": gettext_lazy("This change does not apply to the line as it stands."),
    "maker_checker": gettext_lazy("Maker-checker: another user must decide the change you proposed."),
    "insufficient_authority": gettext_lazy("This is beyond your credit-line approval authority."),
    "not_positive": gettext_lazy("The amount must be greater than zero."),
}
OWNER_SOURCE = {"application": gettext_lazy("entered the customer's latest application"),
                "branch": gettext_lazy("loan officer of the customer's branch"),
                "assigned": gettext_lazy("assigned")}
RESULT_LABELS = {"frozen": gettext_lazy("The line was frozen at once."),
                 "already_frozen": gettext_lazy("The line was frozen already."),
                 "reduced": gettext_lazy("The line was reduced at once."),
                 "proposed": gettext_lazy("The reduction waits for an approver in the credit-line approvals."),
                 "recorded": gettext_lazy("Recorded.")}
NOTE_LABELS = {"nothing_to_cut": gettext_lazy("the line is fully used: nothing to cut"),
               "nothing_to_add": gettext_lazy("too small to raise"),
               "change_pending": gettext_lazy("a change of the line was waiting for approval")}


def _zh() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


def _text(code: str, message: str) -> str:
    known = _PROBLEM_TEXT.get(code)
    if known is not None and _zh():
        return str(known)
    return problem_text(code, message)


def _label(table: Any, code: str) -> str:
    return rules.label(table, code, _zh()) if code else ""


class ReviewForm(forms.Form):
    """The visit or call: text only, the rules are reviews.record_review's."""

    contact_on = forms.CharField(label=gettext_lazy("Date of the visit or call"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)
    findings = forms.CharField(label=gettext_lazy("Findings"), max_length=4000, required=False,
                               widget=forms.Textarea(attrs={"rows": 5}))
    action = forms.ChoiceField(label=gettext_lazy("Action"), required=False)
    amount = forms.CharField(label=gettext_lazy("New line amount (yuan), for a reduction"), max_length=30,
                             required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))

    def __init__(self, *args: Any, has_line: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zh = _zh()
        self.fields["channel"].choices = [(c.value, rules.label(rules.CHANNEL_LABELS, c.value, zh))
                                          for c in rules.Channel]
        actions = [a for a in rules.Action if has_line or a.value not in rules.LINE_ACTIONS]
        self.fields["action"].choices = [("", _("(choose)"))] + [
            (a.value, rules.label(rules.ACTION_LABELS, a.value, zh)) for a in actions]


def _level(level: str) -> dict[str, str] | None:
    return {"code": level, "label": sig.level_label(level, _zh())} if level else None


def _row(t: reviews.TaskView) -> dict[str, Any]:
    zh = _zh()
    return {"t": t, "kind": _label(rules.KIND_LABELS, t.kind), "level": _level(t.level),
            "status": _label(rules.STATUS_LABELS, t.status),
            "escalation": rules.label(rules.ESCALATION_LABELS, str(t.escalation_level), zh) if t.escalation_level
            else "",
            "message": t.message(zh)}


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "open")
    status = status if status in ("open", "done", "all") else "open"
    escalated = request.GET.get("escalated", "")
    escalated = escalated if escalated in ("1", "2") else ""
    owner = "none" if request.GET.get("owner") == "none" else ""
    tasks = reviews.list_tasks(user, status=status, escalated=escalated, owner=owner)
    filters = [("open", pgettext("review task", "Open")), ("done", _("Done")), ("all", _("All"))]
    return render(request, "risk/reviews/list.html", {
        "rows": [_row(t) for t in tasks], "status": status, "escalated": escalated, "owner": owner,
        "filters": filters, "counts": reviews.task_counts(user), "role": user.role,
        "may_limits": limits.may_see_proposals(user)})


def _detail_context(request: HttpRequest, detail: reviews.TaskDetail, form: ReviewForm | None) -> dict[str, Any]:
    t = detail.task
    zh = _zh()
    signals = [{"label": s.label(zh), "text": s.explain(zh)} for s in t.signals()]
    return {
        **_row(t), "d": detail, "signals": signals, "form": form,
        "owner_source": OWNER_SOURCE.get(t.owner_source, ""),
        "line_state": _line_state(detail.line), "channel": _label(rules.CHANNEL_LABELS, t.channel),
        "action": _label(rules.ACTION_LABELS, t.action), "result": RESULT_LABELS.get(t.action_result, ""),
        "loan_action": t.action in rules.LOAN_ACTIONS, "officers": detail.officers}


def _line_state(line: Any) -> str:
    if line is None:
        return ""
    from creditplan.lines.views import STATE_LABELS

    return str(STATE_LABELS.get(line.state, line.state))


_FIELDS = {"contact_on": "contact_on", "channel": "channel", "findings": "findings", "action": "action",
           "amount": "amount"}


@login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    user = request.user
    detail = reviews.get_task(user, task_id)
    form = None
    status = 200
    if detail.may_record:
        form = ReviewForm(request.POST or None, has_line=detail.line is not None,
                          initial={"contact_on": reviews.today().isoformat(), "channel": "visit"})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                reviews.record_review(user, task_id, contact_on=data["contact_on"], channel=data["channel"],
                                      findings=data["findings"], action=data["action"], amount=data["amount"])
            except CreditplanError as exc:
                if exc.http_status in (401, 403, 404):
                    raise
                for p in exc.problems or [FieldProblem(exc.field or "", exc.message, exc.code)]:
                    name = _FIELDS.get(p.field)
                    form.add_error(name if name in form.fields else None, _text(p.code, p.message))
                status = 422
            else:
                messages.success(request, _("The review was recorded."))
                return redirect("risk_reviews:task", task_id=task_id)
    elif request.method == "POST":
        status = 405
    return render(request, "risk/reviews/detail.html", _detail_context(request, detail, form), status=status)


@login_required
@require_POST
def task_assign(request: HttpRequest, task_id: int) -> HttpResponse:
    try:
        view = reviews.assign_task(request.user, task_id, request.POST.get("owner"))
    except CreditplanError as exc:
        if exc.http_status in (401, 403, 404):
            raise
        messages.error(request, _text(exc.code, exc.message))
    else:
        messages.success(request, _("The task was assigned to %(name)s.") % {"name": view.owner})
    return redirect("risk_reviews:task", task_id=task_id)


def _proposal(p: limits.ProposalView, user: Any, changes: dict[int, Any], people: dict[str, str]) -> dict[str, Any]:
    """A proposal's row; approve and reject are offered only where the credit lines' decision would accept them
    (lines.may_decide on the proposal's change), and a change beyond the user's authority says who may approve it."""
    from creditplan.lines.views import NEEDS, SYSTEM_NAME

    zh = _zh()
    change = changes.get(p.line_change_id or 0) if p.status == "pending" else None
    refusal = lines.decision_refusal(user, change) if change is not None else "change_decided"
    return {"p": p, "outcome": _label(rules.LIMIT_LABELS, p.outcome),
            "status": _label(rules.PROPOSAL_STATUS_LABELS, p.status), "message": p.message(zh), "facts": p.facts(zh),
            "note": NOTE_LABELS.get(p.note, _("refused by the credit-line rules") if p.note else ""),
            "decided_by": str(SYSTEM_NAME) if p.decided_by == "system" else people.get(p.decided_by, p.decided_by),
            "may_approve": not refusal,
            "may_reject": change is not None and lines.may_decide(user, change, approve=False),
            "needs": str(NEEDS[lines.authority_needed(change)]) if change is not None
            and refusal == "insufficient_authority" else ""}


@login_required
def proposals(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "")
    status = status if status in rules.PROPOSAL_STATUS_LABELS else ""
    changes = ({c.id: c for c in lines.list_changes(user, status="pending", limit=1000)}
               if has_perm(getattr(user, "role", ""), Perm.LINE_APPROVE) else {})
    found = limits.list_proposals(user, status=status)
    people = org.display_names(p.decided_by for p in found)
    rows = [_proposal(p, user, changes, people) for p in found]
    statuses = [(s, rules.label(rules.PROPOSAL_STATUS_LABELS, s, _zh())) for s in rules.PROPOSAL_STATUS_LABELS]
    return render(request, "risk/reviews/limits.html", {
        "rows": rows, "status": status, "statuses": statuses, "run": limits.latest_run(),
        "bounds": limits.policy(), "may_tasks": reviews.may_see_tasks(user)})


@login_required
@require_POST
def proposal_decide(request: HttpRequest, proposal_id: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    try:
        limits.decide_proposal(request.user, proposal_id, approve=approve, note=request.POST.get("note", ""))
    except CreditplanError as exc:
        if exc.http_status in (401, 404) or exc.code == "permission_denied":
            raise
        messages.error(request, _text(exc.code, exc.message))
    else:
        messages.success(request, _("The proposal was approved and the customer told.") if approve else
                         _("The proposal was rejected."))
    return redirect("risk_reviews:limits")
