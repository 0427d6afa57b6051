"""The capital base page (issue 19): the capital base (资本净额) in force and the concentration limits it gives, the
proposals waiting for a second planner (maker-checker), and the form to propose a new base from a date. Views only
call services; amounts are shown in yuan by the `money` template filter."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import labels, services
from creditplan.plans.forms import AmountField

STATUS_LABELS = {k: labels.table("status")[k] for k in ("pending", "approved", "rejected", "superseded")}
SOURCE_LABELS = {
    "capital_base": gettext_lazy("the approved capital base"),
    "plan": gettext_lazy("no capital base approved yet: the active plan's net capital"),
    "none": gettext_lazy("no capital base approved and no active plan: no limit is checked"),
}
_TEXT = {
    "not_positive": gettext_lazy("The capital base must be more than zero."),
    "negative_amount": gettext_lazy("The capital base must be more than zero."),
    "date_out_of_range": gettext_lazy("The effective date is too far in the past."),
    "maker_checker": gettext_lazy("Maker-checker: whoever proposed a capital base cannot decide it."),
    "capital_base_decided": gettext_lazy("This proposal has already been decided."),
}


def capital_problem(code: str, message: str) -> str:
    text = _TEXT.get(code)
    if text is None or (get_language() or "en").startswith("en"):
        return problem_text(code, message)
    return str(text)


class CapitalBaseForm(forms.Form):
    amount = AmountField(label=gettext_lazy("Capital base (yuan)"), required=True, attrs={"placeholder": "5000000000.00"})
    effective_from = forms.CharField(label=gettext_lazy("Effective from"), max_length=10,
                                     widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD"}))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=300, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


def _reraise_access(exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404):
        raise exc


@login_required
def capital_base(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows = services.list_capital_bases(user)  # PLAN_VIEW
    may_manage = org.may(user, Perm.PLAN_MANAGE)
    form = None
    if may_manage:
        form = CapitalBaseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.propose_capital_base(user, **form.cleaned_data)
            except CreditplanError as exc:
                _reraise_access(exc)
                for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
                    form.add_error(p.field if p.field in form.fields else None, capital_problem(p.code, p.message))
            else:
                messages.success(request, _("The capital base was proposed: another planner must approve it."))
                return redirect("plans:capital_base")
    elif request.method == "POST":
        org.require(user, Perm.PLAN_MANAGE)
    limits = services.concentration_limits()
    table = [{"c": c, "status_label": STATUS_LABELS.get(c.status, c.status),
              "may_decide": may_manage and c.status == "pending" and c.proposed_by != user.username}
             for c in rows]
    return render(request, "plans/capital_base.html", {
        "rows": table, "form": form, "limits": limits, "current": services.current_capital_base(),
        "source_label": SOURCE_LABELS[limits.source],
        "shares": {k: f"{v / 100:g}" for k, v in (("single", limits.single_customer_bp),
                                                  ("group", limits.group_bp),
                                                  ("large", limits.large_exposure_bp))},
    }, status=422 if form is not None and form.errors else 200)


@login_required
@require_POST
def capital_base_decide(request: HttpRequest, capital_id: int, decision: str) -> HttpResponse:
    if decision not in ("approve", "reject"):
        raise Http404(decision)
    try:
        c = services.decide_capital_base(request.user, capital_id, approve=decision == "approve",
                                         note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, capital_problem(exc.code, exc.message))
    else:
        messages.success(request, _("Capital base proposal %(id)s: %(status)s.") % {
            "id": c.id, "status": STATUS_LABELS.get(c.status, c.status)})
    return redirect("plans:capital_base")
