"""Quota transfer pages (调剂规模余缺): a plan's transfers with their status and, for a refused one, why in words;
the form a planner proposes one with (quotas chosen by their labels); approve / reject for another planner; the
plan's rule on transfers across dimensions; and freezing or unfreezing a quota from the plan's quota tree. Views
only call services (plans.services.transfers); amounts arrive in fen and are shown in yuan."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.core.money import format_minor, parse_minor
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import labels, services
from creditplan.plans.forms import AmountField
from creditplan.plans.services import TransferView

MEASURE_LABELS = labels.table("measure")  # the one label table (plans/labels.py)
TRANSFER_STATUS = {k: labels.table("status")[k] for k in ("pending", "applied", "rejected", "refused")}
# What the transfer and freeze use cases refuse, in the reader's language (the services speak English and carry a
# stable code); the two shortfalls are worded with their figures by `_shortfall_text`.
_TRANSFER_TEXT = {
    "required": gettext_lazy("This field is required."),
    "maker_checker": gettext_lazy("Maker-checker: whoever proposed a transfer cannot decide it."),
    "transfer_decided": gettext_lazy("This transfer has already been decided."),
    "transfer_not_found": gettext_lazy("No such transfer."),
    "same_quota": gettext_lazy("Choose two different quotas."),
    "transfer_ancestor": gettext_lazy("One quota contains the other: quota moves between quotas side by side, not "
                                      "up or down the tree."),
    "transfer_not_siblings": gettext_lazy("In this plan quota moves only between quotas of one kind under the same "
                                          "parent (branch to branch, product to product)."),
    "split_above_parent": gettext_lazy("After this transfer the quotas under a parent would add up to more than the "
                                       "parent."),
    "unknown_quota": gettext_lazy("No such quota in this plan."),
    "quota_other_plan": gettext_lazy("This quota belongs to another plan."),
    "unknown_measure": gettext_lazy("Choose new-lending or balance quota."),
    "plan_closed": gettext_lazy("The plan is closed: its quotas no longer move."),
    "quota_already_frozen": gettext_lazy("This quota is already frozen."),
    "quota_not_frozen": gettext_lazy("This quota is not frozen."),
    "quota_not_found": gettext_lazy("No such quota in this plan."),
}


def _shortfall_text(code: str, available: int, requested: int) -> str | None:
    figures = {"available": format_minor(available), "requested": format_minor(requested)}
    if code == "transfer_source_short":
        return _("The source quota has only %(available)s yuan available; %(requested)s yuan were asked for.") \
            % figures
    if code == "transfer_source_allocated":
        return _("The quotas below the source hold all of it but %(available)s yuan; %(requested)s yuan were asked "
                 "for.") % figures
    return None


def transfer_problem(code: str, message: str, extra: dict[str, Any] | None = None) -> str:
    """A refusal of the transfer or freeze use cases in the page's language, with its figures."""
    extra = extra or {}
    if "available" in extra and "requested" in extra:
        try:
            text = _shortfall_text(code, parse_minor(extra["available"], "available"),
                                   parse_minor(extra["requested"], "requested"))
        except CreditplanError:
            text = None
        if text:
            return text
    known = _TRANSFER_TEXT.get(code)
    return str(known) if known is not None else problem_text(code, message)


def refusal_text(t: TransferView) -> str:
    """Why a refused transfer could not be applied, in words."""
    if t.refusal_available_minor is not None:
        text = _shortfall_text(t.refusal_code, t.refusal_available_minor, t.amount_minor)
        if text:
            return text
    return transfer_problem(t.refusal_code, t.refusal)


def _reraise_access(exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404):
        raise exc


class TransferForm(forms.Form):
    """Only text and choices: every rule lives in plans.services.transfers (the API accepts the same)."""

    source = forms.ChoiceField(label=gettext_lazy("From quota"), required=False, choices=[])
    target = forms.ChoiceField(label=gettext_lazy("To quota"), required=False, choices=[])
    measure = forms.ChoiceField(label=gettext_lazy("Measure"), required=False, initial="new_lending",
                                choices=list(MEASURE_LABELS.items()))
    amount = AmountField(label=gettext_lazy("Amount (yuan)"))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300, required=False)

    def __init__(self, *args: Any, quotas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *[(str(i), label) for i, label in quotas]]
        self.fields["source"].choices = choices
        self.fields["target"].choices = choices


@login_required
def transfers(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = request.user
    plan = services.get_plan(user, plan_id)
    quotas = services.plan_quotas(user, plan_id)
    may_manage = org.may(user, Perm.PLAN_MANAGE) and plan.status != "closed"
    if request.method == "POST" and not may_manage:
        org.require(user, Perm.PLAN_MANAGE)
        messages.error(request, str(_TRANSFER_TEXT["plan_closed"]))
        return redirect("plans:transfers", plan_id=plan_id)
    # the root contains every other quota: it can never give or receive in a transfer
    choices = [(q.id, q.label) for q in quotas if q.parent_id is not None]
    form = TransferForm(request.POST or None, quotas=choices) if may_manage else None
    if form is not None and request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            t = services.propose_transfer(user, plan_id, d["source"], d["target"], d["amount"], d["measure"],
                                          d["reason"])
        except CreditplanError as exc:
            _reraise_access(exc)
            for p in exc.problems or [FieldProblem(exc.field or "", exc.message, exc.code)]:
                form.add_error(p.field if p.field in form.fields else None,
                               transfer_problem(p.code, p.message, exc.extra))
        else:
            messages.success(request, _("Transfer %(id)s proposed: another planner must approve it.") % {"id": t.id})
            return redirect("plans:transfers", plan_id=plan_id)
    rows = [{"t": t, "status_label": TRANSFER_STATUS.get(t.status, ""), "measure_label": MEASURE_LABELS.get(t.measure, ""),
             "refusal": refusal_text(t) if t.status == "refused" else "",
             "may_decide": may_manage and t.status == "pending" and t.requested_by != user.username}
            for t in services.list_transfers(user, plan_id)]
    return render(request, "plans/transfers.html", {
        "plan": plan, "rows": rows, "form": form, "may_manage": may_manage,
        "across": services.transfer_rule(user, plan_id),
    }, status=422 if form is not None and form.errors else 200)


@login_required
@require_POST
def transfer_decide(request: HttpRequest, plan_id: int, transfer_id: int, decision: str) -> HttpResponse:
    user = request.user
    if decision not in ("approve", "reject"):
        raise Http404(decision)
    org.require(user, Perm.PLAN_MANAGE)
    if transfer_id not in {t.id for t in services.list_transfers(user, plan_id)}:
        raise Http404("transfer")
    try:
        t = services.decide_transfer(user, transfer_id, approve=decision == "approve",
                                     note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, transfer_problem(exc.code, exc.message, exc.extra))
    else:
        if t.status == "applied":
            messages.success(request, _("Transfer %(id)s applied: %(amount)s yuan moved from %(source)s to "
                                        "%(target)s.") % {"id": t.id, "amount": format_minor(t.amount_minor),
                                                          "source": t.source_label, "target": t.target_label})
        else:
            messages.success(request, _("Transfer %(id)s rejected.") % {"id": t.id})
    return redirect("plans:transfers", plan_id=plan_id)


@login_required
@require_POST
def transfer_rule(request: HttpRequest, plan_id: int) -> HttpResponse:
    across = request.POST.get("across") == "1"
    try:
        services.set_transfer_rule(request.user, plan_id, across_dimensions=across)
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, transfer_problem(exc.code, exc.message))
    else:
        messages.success(request, _("Transfers across dimensions are now allowed in this plan.") if across
                         else _("Transfers are now limited to quotas of one kind under the same parent."))
    return redirect("plans:transfers", plan_id=plan_id)


@login_required
@require_POST
def quota_freeze(request: HttpRequest, plan_id: int, quota_id: int) -> HttpResponse:
    """Freeze or unfreeze a quota of the plan's tree (POST action=freeze|unfreeze, reason)."""
    user = request.user
    org.require(user, Perm.PLAN_MANAGE)
    action = request.POST.get("action")
    if action not in ("freeze", "unfreeze"):
        raise Http404(action)
    label = next((q.label for q in services.plan_quotas(user, plan_id) if q.id == quota_id), None)
    if label is None:
        raise Http404("quota")
    use_case = services.freeze_quota if action == "freeze" else services.unfreeze_quota
    try:
        use_case(user, quota_id, request.POST.get("reason", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        text = transfer_problem(exc.code, exc.message)
        if exc.code == "required":
            text = _("Give a reason to freeze or unfreeze a quota.")
        messages.error(request, text)
    else:
        messages.success(request, (_("%(quota)s is frozen: no new reservations; those already made are kept.")
                                   if action == "freeze" else _("%(quota)s is no longer frozen.")) % {"quota": label})
    return redirect("plans:plan", plan_id=plan_id)
