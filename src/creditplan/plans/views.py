"""Credit-plan pages: the plans, a plan's quota tree (split, activate, explain), the execution dashboard,
reallocation requests, and Excel in and out. Views only call services; amounts arrive in fen and are shown
in yuan by the `money` template filter (creditplan.core.money.format_minor); shares may be floats (display
only)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import formset_factory
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, FieldProblem, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import excel, labels, services
from creditplan.plans.forms import AdjustmentForm, ImportForm, PlanForm, SplitChildForm, SplitParentForm

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPLIT_ROWS = 3

MODE_LABELS = labels.table("mode")  # the one label table (plans/labels.py)
STATUS_LABELS = labels.table("status")
# Plan problems in the user's language (the services speak English and carry a stable code).
_PLAN_TEXT = {
    "required": gettext_lazy("This field is required."),
    "negative_amount": gettext_lazy("A quota or amount cannot be negative."),
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "end_before_start": gettext_lazy("The period ends before it starts."),
    "period_too_long": gettext_lazy("A plan covers at most five years."),
    "duplicate_plan": gettext_lazy("A plan with this code already exists."),
    "overlapping_plan": gettext_lazy("The period overlaps another plan that is not closed; close it first."),
    "unknown_control_mode": gettext_lazy("The control mode is hard, soft or monitor."),
    "unknown_branch": gettext_lazy("No active branch with this code."),
    "unknown_product": gettext_lazy("This product is not configured."),
    "unknown_segment": gettext_lazy("This customer segment is not configured."),
    "unknown_industry": gettext_lazy("Not a GB/T 4754 section (A-T)."),
    "unknown_region": gettext_lazy("Not a province code of GB/T 2260."),
    "child_outside_parent": gettext_lazy("A child must stay inside its parent (same dimensions, a branch below)."),
    "duplicate_child": gettext_lazy("The same dimensions appear twice under this quota."),
    "child_same_as_parent": gettext_lazy("A child must narrow its parent: choose at least one dimension."),
    "plan_closed": gettext_lazy("The plan is closed."),
    "plan_status": gettext_lazy("Only a draft plan can be activated."),
    "maker_checker": gettext_lazy("Maker-checker: you cannot decide your own request."),
    "adjust_below_used": gettext_lazy("Cannot give back quota that is already reserved or used."),
    "adjustment_decided": gettext_lazy("This request has already been decided."),
    "branch_out_of_scope": gettext_lazy("This quota belongs to another branch."),
}


def plan_problem(code: str, message: str, extra: Any = None) -> str:
    """Translate a plan error; keep a "child N:" prefix so the user knows which row. (`extra`: the error's
    numbers, e.g. the largest amount allowed — said by common.text where it has a sentence for them.)"""
    text = _PLAN_TEXT.get(code)
    if text is None:
        return problem_text(code, message, extra)
    # the table's sentence in every language: the services' English names fields ("New_lending_limit …")
    if message.startswith("child ") and ":" in message:
        n = message.split(":", 1)[0].split()[-1]
        return _("Row %(n)s: %(problem)s") % {"n": n, "problem": text}
    return str(text)


_UTIL_ALERT = re.compile(r"^utilisation ([\d.]+) % ≥ (\d+) %$")
_PACE_ALERT = re.compile(r"^pace ([\d.]+) \(used ([\d.]+) % vs ([\d.]+) % of the period\)$")


def alert_text(message: str) -> str:
    """The services word alerts in English with their figures; say them in the page's language."""
    if m := _UTIL_ALERT.match(message):
        return _("utilisation %(u)s %% has reached the %(t)s %% threshold") % {"u": m[1], "t": m[2]}
    if m := _PACE_ALERT.match(message):
        return _("pace %(p)s: %(u)s %% of the quota used in %(e)s %% of the period") % {"p": m[1], "u": m[2], "e": m[3]}
    return message


def _reraise_access(exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404):
        raise exc


def _quota_rows(quotas: list[services.QuotaView]) -> list[dict[str, Any]]:
    depth: dict[int, int] = {}
    rows = []
    for q in quotas:
        d = depth.get(q.parent_id, -1) + 1 if q.parent_id is not None else 0
        depth[q.id] = d
        s = q.state
        util = float(s.utilisation) * 100
        rows.append({
            "id": q.id, "parent_id": q.parent_id, "depth": d, "indent": 8 + 22 * d, "label": q.label,
            "branch": q.branch, "mode": q.control_mode, "mode_label": MODE_LABELS.get(q.control_mode, q.control_mode),
            "limit": s.new_lending_limit, "balance_limit": s.balance_limit, "reserved": s.reserved,
            "consumed": s.consumed, "available": s.available, "outstanding": s.outstanding,
            "util": util, "bar": min(util, 100.0), "level": "bad" if util >= 100 else "warn" if util >= 80 else "ok",
            "children": q.children, "frozen": q.frozen,
        })
    return rows


def _dimension_choices(user: Any) -> dict[str, list[tuple[str, str]]]:
    zh = not (get_language() or "zh").startswith("en")
    return {
        "branch": [(b.code, f"{b.code} {b.name if zh or not b.name_en else b.name_en}")
                   for b in sorted(org.list_branches(user), key=lambda b: b.path)],
        "product": [(c, n or c) for c, n in services.dimension_codes("product")],  # names, not codes (issue 20)
        "segment": [(c, n or c) for c, n in services.dimension_codes("segment")],
        "industry": [(k, f"{k} {v[0] if zh else v[1]}") for k, v in INDUSTRY_SECTIONS.items()],
        "region": [(k, f"{k} {v[0] if zh else v[1]}") for k, v in PROVINCES.items()],
    }


def _split_forms(request: HttpRequest, quotas: list[services.QuotaView], data: Any = None,
                 parent: int | None = None) -> tuple[SplitParentForm, Any]:
    choices = [(q.id, q.label) for q in quotas]
    parent_form = SplitParentForm(data, quotas=choices, initial={"parent": parent or (quotas[0].id if quotas else None)})
    formset_class = formset_factory(SplitChildForm, extra=SPLIT_ROWS, max_num=20)
    formset = formset_class(data, prefix="child", form_kwargs={"dimension_choices": _dimension_choices(request.user)})
    return parent_form, formset


def _detail(request: HttpRequest, plan_id: int, *, parent_form: Any = None, formset: Any = None,
            split_error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    plan = services.get_plan(user, plan_id)
    quotas = services.plan_quotas(user, plan_id)
    may_manage = org.may(user, Perm.PLAN_MANAGE)
    if may_manage and parent_form is None:
        try:
            preselect = int(request.GET.get("split", ""))
        except ValueError:
            preselect = None
        parent_form, formset = _split_forms(request, quotas, parent=preselect)
    return render(request, "plans/plan_detail.html", {
        "plan": plan, "status_label": STATUS_LABELS.get(plan.status, plan.status), "rows": _quota_rows(quotas),
        "net_capital": plan.net_capital_minor, "may_manage": may_manage and plan.status != "closed",
        "parent_form": parent_form, "formset": formset, "split_error": split_error,
        "may_request": org.may(user, Perm.QUOTA_REQUEST),
    }, status=status)


# --- pages -----------------------------------------------------------------------------------------------

@login_required
def plan_list(request: HttpRequest, import_form: ImportForm | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    rows = []
    for p in services.list_plans(user):
        s = p.root.state if p.root else None
        rows.append({"plan": p, "status_label": STATUS_LABELS.get(p.status, p.status),
                     "limit": s.new_lending_limit if s else None,
                     "balance_limit": s.balance_limit if s else None,
                     "util": float(s.utilisation) * 100 if s else 0.0})
    may_manage = org.may(user, Perm.PLAN_MANAGE)
    return render(request, "plans/plan_list.html", {
        "rows": rows, "may_manage": may_manage, "import_form": import_form or (ImportForm() if may_manage else None),
    }, status=status)


@login_required
def plan_create(request: HttpRequest) -> HttpResponse:
    org.require(request.user, Perm.PLAN_MANAGE)
    today = dt.date.today()
    form = PlanForm(request.POST or None, initial={
        "period_start": today.replace(month=1, day=1).isoformat(), "period_end": today.replace(month=12, day=31).isoformat(),
    })
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.create_plan(request.user, **form.cleaned_data)
        except CreditplanError as exc:
            _reraise_access(exc)
            for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
                form.add_error(p.field if p.field in form.fields else None, plan_problem(p.code, p.message, p.extra))
        else:
            messages.success(request, _("Plan %(code)s created as a draft: split its quota, then activate it.")
                             % {"code": plan.code})
            return redirect("plans:plan", plan_id=plan.id)
    return render(request, "plans/plan_form.html", {"form": form}, status=422 if form.errors else 200)


@login_required
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    return _detail(request, plan_id)


@login_required
@require_POST
def plan_split(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = request.user
    org.require(user, Perm.PLAN_MANAGE)
    quotas = services.plan_quotas(user, plan_id)
    parent_form, formset = _split_forms(request, quotas, data=request.POST)
    if not (parent_form.is_valid() and formset.is_valid()):
        return _detail(request, plan_id, parent_form=parent_form, formset=formset, status=422)
    filled = [(i, f) for i, f in enumerate(formset.forms) if f.has_changed() and any(
        f.cleaned_data.get(k) for k in ("branch", "product", "industry", "region", "segment", "new_lending_limit",
                                        "balance_limit"))]
    if not filled:
        return _detail(request, plan_id, parent_form=parent_form, formset=formset, status=422,
                       split_error=_("Fill in at least one child quota."))
    parent_id = parent_form.cleaned_data["parent"]
    children = [{k: v for k, v in f.cleaned_data.items() if v not in ("", None)} for _i, f in filled]
    try:
        made = services.split_quota(user, parent_id, children)
    except CreditplanError as exc:
        _reraise_access(exc)
        message = plan_problem(exc.code, exc.message)
        if exc.code == "split_above_parent":
            message = _split_above_text(quotas, parent_id, children) or message
        elif isinstance(exc.extra.get("child"), int) and exc.field in SplitChildForm.base_fields \
                and 1 <= exc.extra["child"] <= len(filled):
            filled[exc.extra["child"] - 1][1].add_error(exc.field, message)
        return _detail(request, plan_id, parent_form=parent_form, formset=formset, split_error=message, status=422)
    messages.success(request, _("Added %(n)s child quota(s).") % {"n": len(made)})
    return redirect("plans:plan", plan_id=plan_id)


def _split_above_text(quotas: list[services.QuotaView], parent_id: int, children: list[dict[str, Any]]) -> str:
    """The domain counts in fen; say it in yuan, counting the children the parent already has."""
    parent = next((q for q in quotas if q.id == parent_id), None)
    if parent is None:
        return ""
    existing = [q for q in quotas if q.parent_id == parent_id]
    for key, limit, word in (("new_lending_limit", parent.state.new_lending_limit, _("new-lending")),
                             ("balance_limit", parent.state.balance_limit, _("balance"))):
        try:
            typed = sum(parse_minor(c.get(key, "0"), key) for c in children)
        except ValidationError:
            return ""
        have = sum(q.state.new_lending_limit if key == "new_lending_limit" else q.state.balance_limit for q in existing)
        total = typed + have
        if total > limit:
            return _("The children's %(measure)s quotas add up to %(total)s yuan, above the parent's %(limit)s yuan.") % {
                "measure": word, "total": format_minor(total), "limit": format_minor(limit)}
    return ""


@login_required
@require_POST
def plan_activate(request: HttpRequest, plan_id: int) -> HttpResponse:
    try:
        plan = services.activate_plan(request.user, plan_id)
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, plan_problem(exc.code, exc.message))
    else:
        messages.success(request, _("Plan %(code)s is active: approvals now reserve its quota.") % {"code": plan.code})
    return redirect("plans:plan", plan_id=plan_id)


@login_required
def quota_explain(request: HttpRequest, plan_id: int, quota_id: int) -> HttpResponse:
    """Why is this much reserved or used here? The applications behind the quota (an HTMX fragment)."""
    user = request.user
    quota = next((q for q in _quota_rows(services.plan_quotas(user, plan_id)) if q["id"] == quota_id), None)
    if quota is None:
        raise Http404("quota")
    reservations = [{
        "ref": r.application_ref, "status": r.status, "status_label": STATUS_LABELS.get(r.status, r.status),
        "amount": r.amount_minor, "disbursed": r.disbursed_minor, "outstanding": r.outstanding_minor,
        "large_exposure": r.large_exposure, "reason": r.reason,
    } for r in services.explain_quota(user, quota_id)]
    ctx = {"plan_id": plan_id, "quota": quota, "reservations": reservations,
           "history": services.quota_history(user, quota_id)}  # transfers in and out, freezes (issue 19 §3)
    template = "plans/_explain.html" if request.htmx else "plans/explain.html"
    return render(request, template, ctx)


@login_required
def plan_export(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    response = HttpResponse(excel.export_plan_xlsx(request.user, plan_id), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="plan-{plan.code}.xlsx"'
    return response


@login_required
@require_POST
def plan_import(request: HttpRequest) -> HttpResponse:
    org.require(request.user, Perm.PLAN_MANAGE)
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            plan = excel.import_plan_xlsx(request.user, form.cleaned_data["file"].read(),
                                          code=form.cleaned_data["code"] or None)
        except CreditplanError as exc:
            _reraise_access(exc)
            form.add_error("file", exc.message if exc.message.startswith("row ") else plan_problem(exc.code, exc.message))
        else:
            messages.success(request, _("Plan %(code)s imported from Excel.") % {"code": plan.code})
            return redirect("plans:plan", plan_id=plan.id)
    return plan_list(request, import_form=form, status=422)


def _branch_options(quotas: list[services.QuotaView]) -> list[tuple[str, str]]:
    options: dict[str, str] = {}
    for q in quotas:
        if q.branch and (q.branch not in options or not (q.product or q.industry or q.region or q.segment)):
            options[q.branch] = f"{q.branch} {q.label}"
    return list(options.items())


@login_required
def dashboard(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = request.user
    branch = (request.GET.get("branch") or "").strip().upper() or None
    d = services.plan_dashboard(user, plan_id, branch=branch)
    all_quotas = services.plan_quotas(user, plan_id)
    focus = d["focus"]
    plan = d["plan"]
    chart: dict[str, Any] = {"period": plan["period"], "today": plan["today"], "labels": {
        "plan": _("Plan"), "consumed": _("Consumed"), "used": _("Consumed + reserved"), "forecast": _("Forecast"),
        "utilisation": _("Utilisation %"),
    }}
    cards = None
    if focus is not None:
        def plain(minor: int) -> str:  # the chart reads numbers: "2000000.00"
            return format_minor(minor, grouping=False)

        consumed = used = 0
        chart["plan"] = [[plan["period"][0], "0"], [plan["period"][1], plain(focus["new_lending_limit"])]]
        chart["consumed"] = [[plan["period"][0], "0"]]
        chart["used"] = [[plan["period"][0], "0"]]
        for point in d["series"]:
            consumed = point["consumed"]
            used = point["consumed"] + point["reserved"]
            chart["consumed"].append([point["date"], plain(consumed)])
            chart["used"].append([point["date"], plain(used)])
        end = min(plan["today"], plan["period"][1])
        if end > plan["period"][0]:
            chart["consumed"].append([end, plain(consumed)])
            chart["used"].append([end, plain(used)])
            chart["forecast"] = [[end, plain(used)], [plan["period"][1], plain(focus["forecast_new_lending"])]]
        # the quotas the focus is split into (a branch filter keeps only that branch's own quotas in `d`)
        children = [(q.label, float(q.state.utilisation)) for q in all_quotas if q.parent_id == focus["id"]] \
            or [(r["label"], r["utilisation"]) for r in d["quotas"]]
        chart["bars"] = {"names": [label for label, _u in children],
                         "values": [round(u * 100, 1) for _label, u in children]}
        cards = {
            "limit": focus["new_lending_limit"], "reserved": focus["reserved"], "consumed": focus["consumed"],
            "available": focus["available"], "outstanding": focus["outstanding"],
            "balance_limit": focus["balance_limit"], "util": focus["utilisation"] * 100,
            "balance_util": focus["balance_utilisation"] * 100, "pace": focus["pace"],
            "forecast": focus["forecast_new_lending"], "pipeline": focus["pipeline_applications"],
            "label": focus["label"], "mode_label": MODE_LABELS.get(focus["mode"], focus["mode"]),
        }
    ranking = [dict(r, util=r["utilisation"] * 100) for r in d["ranking"]]
    rows = [dict(r, util=r["utilisation"] * 100, mode_label=MODE_LABELS.get(r["mode"], r["mode"])) for r in d["quotas"]]
    alerts = [dict(a, kind_label=_("Utilisation") if a["kind"] == "utilisation" else _("Pace"),
                   message=alert_text(a["message"])) for a in d["alerts"]]
    return render(request, "plans/dashboard.html", {
        "d": d, "plan": plan, "cards": cards, "chart": chart, "ranking": ranking, "rows": rows, "alerts": alerts,
        "branch": branch or "", "elapsed": plan["elapsed"] * 100,
        "branches": _branch_options(all_quotas),
    })


@login_required
def dashboard_export(request: HttpRequest, plan_id: int) -> HttpResponse:
    branch = (request.GET.get("branch") or "").strip().upper() or None
    plan = services.get_plan(request.user, plan_id)
    response = HttpResponse(excel.export_dashboard_xlsx(request.user, plan_id, branch=branch), content_type=XLSX)
    suffix = f"-{branch}" if branch else ""
    response["Content-Disposition"] = f'attachment; filename="plan-{plan.code}-dashboard{suffix}.xlsx"'
    return response


@login_required
def adjustments(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = request.user
    plan = services.get_plan(user, plan_id)
    may_request = org.may(user, Perm.QUOTA_REQUEST)
    form = None
    if may_request:
        choices = [(q.id, q.label) for q in services.plan_quotas(user, plan_id)
                   if q.branch and (not user.branch_id or q.branch in {b.code for b in org.list_branches(user)})]
        form = AdjustmentForm(request.POST or None, quotas=choices)
        if request.method == "POST" and form.is_valid():
            try:
                services.request_adjustment(user, form.cleaned_data["quota"], form.cleaned_data["delta"],
                                            form.cleaned_data["reason"])
            except CreditplanError as exc:
                _reraise_access(exc)
                for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
                    field = {"delta": "delta", "reason": "reason"}.get(p.field)
                    form.add_error(field, plan_problem(p.code, p.message, p.extra))
            else:
                messages.success(request, _("Your request was sent to head office for approval."))
                return redirect("plans:adjustments", plan_id=plan_id)
    elif request.method == "POST":
        org.require(user, Perm.QUOTA_REQUEST)
    may_decide = org.may(user, Perm.PLAN_MANAGE)
    rows = [{"a": a, "status_label": STATUS_LABELS.get(a.status, a.status),
             "may_decide": may_decide and a.status == "pending" and a.requested_by != user.username}
            for a in services.list_adjustments(user, plan_id)]
    return render(request, "plans/adjustments.html", {
        "plan": plan, "rows": rows, "form": form, "may_decide": may_decide,
    }, status=422 if form is not None and form.errors else 200)


@login_required
@require_POST
def adjustment_decide(request: HttpRequest, plan_id: int, adjustment_id: int, decision: str) -> HttpResponse:
    if decision not in ("approve", "reject"):
        raise Http404(decision)
    try:
        a = services.decide_adjustment(request.user, adjustment_id, approve=decision == "approve",
                                       note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, plan_problem(exc.code, exc.message))
    else:
        messages.success(request, _("Request %(id)s %(status)s.") % {
            "id": a.id, "status": STATUS_LABELS.get(a.status, a.status)})
    return redirect("plans:adjustments", plan_id=plan_id)
