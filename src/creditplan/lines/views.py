"""Credit-line pages: the lines (filtered with HTMX), a line with its changes and what occupies it, proposing a
line or a change (maker), the changes waiting for approval (checker, approve / reject in place with HTMX), and the
risk manager's freeze or reduction at once. Views call services only; amounts arrive in fen and are shown in yuan
by the `money` filter; statuses, kinds and problems are shown in the user's language, never as codes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.core.money import format_minor
from creditplan.lines import labels, services
from creditplan.lines.domain import reason_languages
from creditplan.lines.forms import ChangeForm, ProposalForm, RiskForm, sub_limit_field, sub_limits_of
from creditplan.org import services as org
from creditplan.org.domain import Perm

# the one label table of the lines app (lines/labels.py); the names stay for the pages that import them
STATE_LABELS = labels.table("state")
KIND_LABELS = labels.table("kind")
CHANGE_STATUS_LABELS = labels.table("change_status")
OCCUPATION_LABELS = labels.table("occupation")
# Credit-line problems in the user's language (the services speak English and carry a stable code and field).
_LINE_TEXT = {
    "below_used": gettext_lazy("The line cannot be below what is already reserved and used on it."),
    "sub_limit_above_line": gettext_lazy("A sub-limit cannot be above its line."),
    "sub_limit_below_used": gettext_lazy("The sub-limit cannot be below what the product already occupies."),
    "expiry_in_past": gettext_lazy("The expiry date must be after today."),
    "expiry_too_far": gettext_lazy("A line is granted for at most ten years."),
    "expiry_unchanged": gettext_lazy("This is the line's expiry date already."),
    "not_an_increase": gettext_lazy("An increase must be above the line's amount."),
    "not_a_reduction": gettext_lazy("A reduction must be below the line's amount."),
    "line_exists": gettext_lazy("This customer already has a credit line: propose a change to it instead."),
    "line_status": gettext_lazy("This change does not apply to the line as it stands."),
    "change_pending": gettext_lazy("A change of this line is waiting for approval: it must be decided first."),
    "change_decided": gettext_lazy("This change has already been decided."),
    "line_has_reservations": gettext_lazy("Approvals not yet paid out hold part of the line: withdraw them or pay "
                                          "them out before closing it."),
    "maker_checker": gettext_lazy("Maker-checker: another user must decide the change you proposed."),
    "insufficient_authority": gettext_lazy("This is beyond your credit-line approval authority."),
    "unknown_product": gettext_lazy("This product is not configured."),
    "unknown_kind": gettext_lazy("Choose the change to make."),
    "customer_not_found": gettext_lazy("No such customer, or the customer is outside your branch."),
    "customer_inactive": gettext_lazy("The customer is not active."),
    "line_not_found": gettext_lazy("No such credit line, or it is outside your branch."),
    "not_positive": gettext_lazy("The amount must be greater than zero."),
    "required": gettext_lazy("This field is required."),
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
}


def line_problem(code: str, message: str) -> str:
    text = _LINE_TEXT.get(code)
    if text is None or (get_language() or "en").startswith("en"):
        return problem_text(code, message)
    return str(text)


def _reraise_access(exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404) and exc.code not in ("maker_checker", "insufficient_authority"):
        raise exc


def _show_problems(form: Any, exc: CreditplanError, fields: dict[str, str]) -> None:
    for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
        name = sub_limit_field(p.field, form) if p.field.startswith("sub_limits.") else fields.get(p.field)
        form.add_error(name if name in form.fields else None, line_problem(p.code, p.message))


def _rows(views: list[services.LineView]) -> list[dict[str, Any]]:
    return [{"v": v, "state_label": STATE_LABELS.get(v.state, v.state)} for v in views]


def _zh() -> bool:
    return not (get_language() or "en").startswith("en")


def reason_text(text: str) -> str:
    """A change's (or a freeze's) reason in the page's language (lines.domain.reason_languages)."""
    en, zh = reason_languages(text)
    return zh if _zh() else en


SYSTEM_NAME = gettext_lazy("the bank's rules")
NEEDS = {"approver": gettext_lazy("Approval needs an approver or a risk manager."),
         "risk_manager": gettext_lazy("Approval needs a risk manager.")}


def _person(name: str, people: dict[str, str] | None = None) -> str:
    """Who proposed or decided: "system" (the bank's rules, no person) in words, a person by their display name."""
    if name == "system":
        return str(SYSTEM_NAME)
    return (people or {}).get(name, name)


def product_names() -> dict[str, str]:
    """Product code → name, for showing a product by its name (never its code)."""
    return dict(services.products())


def _subs(subs: dict[str, int] | None, names: dict[str, str]) -> list[tuple[str, int]]:
    return [(names.get(p, p), v) for p, v in (subs or {}).items()]


def _people(changes: list[services.ChangeView], *more: str) -> dict[str, str]:
    """The display names of everyone who proposed or decided these changes (one query)."""
    return org.display_names([*more, *(c.proposed_by for c in changes), *(c.decided_by for c in changes)])


def _change_row(c: services.ChangeView, user: Any, names: dict[str, str] | None = None,
                people: dict[str, str] | None = None) -> dict[str, Any]:
    """A change as its row shows it. The decision is offered only when the service would accept it
    (`services.may_decide`: the permission, maker-checker, the authority); where the approval is beyond the user's
    authority, the row says who may approve it."""
    names = product_names() if names is None else names
    people = _people([c]) if people is None else people
    refusal = services.decision_refusal(user, c)
    return {"c": c, "kind_label": KIND_LABELS.get(c.kind, c.kind),
            "status_label": CHANGE_STATUS_LABELS.get(c.status, c.status),
            "sub_limits": _subs(c.sub_limits, names), "reason": reason_text(c.reason),
            "proposed_by": _person(c.proposed_by, people), "decided_by": _person(c.decided_by, people),
            "may_approve": not refusal, "may_reject": services.may_decide(user, c, approve=False),
            "needs": str(NEEDS[services.authority_needed(c)]) if refusal == "insufficient_authority" else ""}


@login_required
def line_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "")
    status = status if status in (*STATE_LABELS, "pending") else ""
    customer = request.GET.get("customer", "").strip()[:50]
    ctx = {"rows": _rows(services.list_lines(user, status=status, customer=customer)),
           "filters": {"status": status, "customer": customer}, "states": list(STATE_LABELS.items()),
           "may_propose": org.may(user, Perm.LINE_PROPOSE), "may_approve": org.may(user, Perm.LINE_APPROVE)}
    if request.htmx:
        return render(request, "lines/_line_rows.html", ctx)
    ctx["waiting"] = len(services.list_changes(user)) if ctx["may_approve"] else None
    return render(request, "lines/line_list.html", ctx)


@login_required
def line_propose(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.LINE_PROPOSE)
    products = services.products()
    initial = {"customer_id": request.GET.get("customer", "")}
    form = ProposalForm(request.POST or None, initial=initial, products=products)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            change = services.propose_line(
                user, customer_id=data["customer_id"], amount=data["amount"], expires_on=data["expires_on"],
                revolving=data["revolving"] == "yes", sub_limits=sub_limits_of(data), reason=data["reason"])
        except CreditplanError as exc:
            if exc.http_status == 401 or exc.code == "permission_denied":
                raise
            _show_problems(form, exc, {"customer_id": "customer_id", "amount": "amount", "expires_on": "expires_on",
                                       "reason": "reason", "revolving": "revolving"})
        else:
            messages.success(request, _("The credit line was proposed; another user with the authority must "
                                        "approve it."))
            return redirect("lines:line", line_id=change.line_id)
    return render(request, "lines/line_form.html", {"form": form}, status=422 if form.errors else 200)


def _change_form(request: HttpRequest, line: services.LineView, data: Any = None) -> ChangeForm:
    products = services.products()
    kind = (data or request.GET).get("kind", "increase")
    initial: dict[str, Any] = {"kind": kind}
    for i, s in enumerate(line.sub_limits[:3]):
        initial[f"sub_product_{i}"], initial[f"sub_amount_{i}"] = s.product, format_minor(s.amount_minor, grouping=False)
    form = ChangeForm(data, initial=initial, products=products)
    # choosing the kind of change swaps the form for the fields that kind needs (HTMX; without it, all are sent)
    form.fields["kind"].widget.attrs.update({
        "hx-get": reverse("lines:line", args=[line.id]) + "?part=change", "hx-target": "#change-form",
        "hx-swap": "outerHTML"})
    return form


def _kind(request: HttpRequest) -> str:
    kind = (request.POST or request.GET).get("kind", "increase")
    return kind if kind in ChangeForm.FIELDS else "increase"


@login_required
def line_detail(request: HttpRequest, line_id: int) -> HttpResponse:
    user = request.user
    line = services.get_line(user, line_id)
    may_change = org.may(user, Perm.LINE_PROPOSE) and line.status in ("active", "frozen") and line.pending is None
    form = _change_form(request, line, request.POST or None) if may_change else None
    if request.htmx and form is not None and request.GET.get("part") == "change":  # the kind chosen: its fields
        return render(request, "lines/_change_form.html", {"line": line, "form": form,
                                                            "change_fields": form.shown(_kind(request))})
    if request.method == "POST":
        if form is None:
            org.require(user, Perm.LINE_PROPOSE)
            messages.error(request, line_problem("line_status", "the line cannot be changed now"))
            return redirect("lines:line", line_id=line_id)
        if form.is_valid():
            data = form.cleaned_data
            kind = data["kind"]
            try:
                services.propose_change(
                    user, line_id, kind=kind, amount=data["amount"] if kind in ("increase", "reduce") else None,
                    expires_on=data["expires_on"] if kind == "extend" else None,
                    sub_limits=sub_limits_of(data) if kind == "sub_limits" else None, reason=data["reason"])
            except CreditplanError as exc:
                _reraise_access(exc)
                _show_problems(form, exc, {"amount": "amount", "expires_on": "expires_on", "reason": "reason",
                                           "kind": "kind"})
            else:
                messages.success(request, _("The change was proposed; another user with the authority must approve "
                                            "it."))
                return redirect("lines:line", line_id=line_id)
    names = product_names()
    people = _people(line.changes, line.approved_by)
    return render(request, "lines/line_detail.html", {
        "line": line, "state_label": STATE_LABELS.get(line.state, line.state), "form": form,
        "approved_by": _person(line.approved_by, people) if line.approved_by else "",
        "freeze_reason": reason_text(line.freeze_reason),
        "change_fields": form.shown(_kind(request)) if form is not None else [],
        "changes": [_change_row(c, user, names, people) for c in line.changes],
        "occupations": [{"o": o, "status_label": OCCUPATION_LABELS.get(o.status, o.status),
                         "product": names.get(o.product, o.product)}
                        for o in services.line_occupations(user, line_id)],
        "risk_form": RiskForm() if org.may(user, Perm.RISK_MANAGE) and line.status in ("active", "frozen") else None,
    }, status=422 if form is not None and form.errors else 200)


@login_required
@require_POST
def line_risk(request: HttpRequest, line_id: int) -> HttpResponse:
    """A risk manager freezes or reduces the line at once (no second approval: a risk measure)."""
    user = request.user
    org.require(user, Perm.RISK_MANAGE)
    line = services.get_line(user, line_id)
    form = RiskForm(request.POST)
    if form.is_valid() and line.customer_id is not None:
        data = form.cleaned_data
        try:
            if data["action"] == "freeze":
                services.freeze_line(user, line.customer_id, data["reason"])
                messages.success(request, _("The line is frozen."))
            else:
                services.reduce_line(user, line.customer_id, data["amount"], data["reason"])
                messages.success(request, _("The line was reduced."))
        except CreditplanError as exc:
            _reraise_access(exc)
            for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
                messages.error(request, line_problem(p.code, p.message))
    return redirect("lines:line", line_id=line_id)


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    user = request.user
    names = product_names()
    changes = services.list_changes(user)
    people = _people(changes)
    rows = [_change_row(c, user, names, people) for c in changes]
    return render(request, "lines/approvals.html", {"rows": rows, "may_approve": org.may(user, Perm.LINE_APPROVE)})


@login_required
@require_POST
def change_decide(request: HttpRequest, change_id: int, decision: str) -> HttpResponse:
    """Approve or reject in place: an HTMX request gets the row back (with the outcome or the refusal)."""
    if decision not in ("approve", "reject"):
        raise Http404(decision)
    user = request.user
    problem = ""
    try:
        c = services.decide_change(user, change_id, approve=decision == "approve", note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        problem = line_problem(exc.code, exc.message)
        found = [x for x in services.list_changes(user, status="") if x.id == change_id]
        if not found:
            raise
        c = found[0]
    if request.htmx:
        return render(request, "lines/_change_row.html", {"r": _change_row(c, user), "problem": problem,
                                                           "show_line": True}, status=200)
    if problem:
        messages.error(request, problem)
    else:
        messages.success(request, _("Change %(id)s: %(status)s.") % {
            "id": c.id, "status": CHANGE_STATUS_LABELS.get(c.status, c.status)})
    return redirect("lines:approvals")
