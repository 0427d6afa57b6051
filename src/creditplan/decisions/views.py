"""Decision-engine pages: policies and their versions (upload, grid editor, validation report, example tests,
four-eyes publishing), the simulation with its chart, and one decision explained in plain words. Views only
call services; amounts arrive in fen and are shown in yuan (Decimal)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.core.errors import CreditplanError
from creditplan.core.money import from_ppm
from creditplan.decisions import services
from creditplan.decisions.domain.authority import LEVEL_TEXT
from creditplan.loans.services import list_products, yuan
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.web.views import problem_text

STATUS_LABELS = {
    "draft": gettext_lazy("Draft"), "validated": gettext_lazy("Validated"),
    "submitted": gettext_lazy("Awaiting approval"), "published": gettext_lazy("Published"),
    "retired": gettext_lazy("Retired"),
}
OUTCOME_LABELS = {"approve": gettext_lazy("Approve"), "refer": gettext_lazy("Refer to a reviewer"),
                  "decline": gettext_lazy("Decline")}
QUOTA_LABELS = {
    "reserved": gettext_lazy("Quota reserved"), "escalated": gettext_lazy("Soft quota exceeded: escalated"),
    "refused": gettext_lazy("Hard quota refused"), "unavailable": gettext_lazy("No plan quota available"),
    "not_requested": gettext_lazy("Quota not requested"), "not_checked": gettext_lazy("Quota not checked"),
}
EXTRA_ROWS = 3


def _zh() -> bool:
    return not (get_language() or "zh").startswith("en")


def _error(request: HttpRequest, exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404):
        raise exc
    messages.error(request, problem_text(exc.code, exc.message))


def _version_ctx(v: services.PolicyVersionView) -> dict[str, Any]:
    return {"v": v, "status_label": STATUS_LABELS.get(v.status, v.status)}


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    policies = services.list_policies(user)
    rows = [{"p": p, "published": _version_ctx(p.published) if p.published else None,
             "versions": [_version_ctx(v) for v in p.versions[:6]]} for p in policies]
    matrix = [{"r": r, "amount": yuan(r.max_amount_minor),
               "level": LEVEL_TEXT.get(r.branch_level, (r.branch_level, r.branch_level))[1 if _zh() else 0]}
              for r in services.authority_matrix(user)]
    return render(request, "decisions/policy_list.html", {
        "rows": rows, "matrix": matrix, "may_edit": org.may(user, Perm.POLICY_EDIT),
        "products": [p.code for p in list_products()],
    })


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    product = request.POST.get("product", "")
    text = request.POST.get("jdm_text", "")
    file = request.FILES.get("jdm_file")
    if file is not None:
        text = file.read(2_000_000)
    try:
        v = services.upload_policy(request.user, product=product, jdm=text or "", note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _error(request, exc)
        return redirect("decisions:policies")
    messages.success(request, _("Draft %(label)s stored. Validate it next.") % {"label": v.label})
    return redirect("decisions:version", version_id=v.id)


@login_required
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    user = request.user
    v = services.get_version(user, version_id)
    tables = services.grid_of(user, version_id)
    return render(request, "decisions/version_detail.html", {
        **_version_ctx(v), "tables": tables, "may_edit": org.may(user, Perm.POLICY_EDIT),
        "may_approve": org.may(user, Perm.POLICY_APPROVE) and user.username not in (v.author,),
        "editable": v.status in ("draft", "validated"),
        "jdm": json.dumps(services.version_document(user, version_id), ensure_ascii=False, indent=1),
    })


@login_required
def validation_report(request: HttpRequest, version_id: int) -> HttpResponse:
    v = services.get_version(request.user, version_id)
    report = v.validation or {}
    return render(request, "decisions/validation.html", {**_version_ctx(v), "report": report,
                                                         "may_edit": org.may(request.user, Perm.POLICY_EDIT)})


_ACTIONS = {
    "validate": (services.validate_version, gettext_lazy("Validation finished.")),
    "submit": (services.submit_version, gettext_lazy("Submitted: a second risk manager must approve it.")),
    "approve": (services.approve_version, gettext_lazy("Approved and published: new decisions use this version.")),
    "draft": (services.new_draft_from, gettext_lazy("New draft created.")),
}


@login_required
@require_POST
def version_action(request: HttpRequest, version_id: int, action: str) -> HttpResponse:
    try:
        if action == "return":
            v = services.return_to_draft(request.user, version_id, note=request.POST.get("note", ""))
            messages.success(request, _("Sent back to draft."))
        elif action in _ACTIONS:
            fn, text = _ACTIONS[action]
            v = fn(request.user, version_id)
            messages.success(request, str(text))
            if action == "validate":
                return redirect("decisions:validation", version_id=version_id)
        else:
            messages.error(request, _("Unknown action."))
            return redirect("decisions:version", version_id=version_id)
    except CreditplanError as exc:
        _error(request, exc)
        return redirect("decisions:version", version_id=version_id)
    return redirect("decisions:version", version_id=v.id)


@login_required
def grid(request: HttpRequest, version_id: int, table_id: str) -> HttpResponse:
    """Edit one decision table as a grid: a row per rule, a text box per column (ZEN unary tests for inputs,
    expressions for outputs); blank rows are dropped, a few empty rows are offered for new rules."""
    user = request.user
    v = services.get_version(user, version_id)
    table = next((t for t in services.grid_of(user, version_id) if t["id"] == table_id), None)
    if table is None:
        messages.error(request, _("No such table."))
        return redirect("decisions:version", version_id=version_id)
    rows = table["rows"]
    error = ""
    if request.method == "POST":
        count = int(request.POST.get("rows", "0") or 0)
        rows = []
        for i in range(min(count, 2000)):
            rows.append({"id": request.POST.get(f"id-{i}", ""), "description": request.POST.get(f"desc-{i}", ""),
                         "inputs": [request.POST.get(f"in-{i}-{j}", "") for j in range(len(table["inputs"]))],
                         "outputs": [request.POST.get(f"out-{i}-{j}", "") for j in range(len(table["outputs"]))]})
        hit = request.POST.get("hit_policy") or table["hit_policy"]
        try:
            services.save_grid(user, version_id, table_id=table_id, rows=rows,
                               hit_policy=hit if hit in ("first", "collect") else None)
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            error = problem_text(exc.code, exc.message)
            table["hit_policy"] = hit
        else:
            messages.success(request, _("Table saved; the version is a draft again: validate it."))
            return redirect("decisions:version", version_id=version_id)
    blank = {"id": "", "description": "", "inputs": [""] * len(table["inputs"]), "outputs": [""] * len(table["outputs"])}
    shown = [*rows, *[dict(blank) for _ in range(EXTRA_ROWS)]]
    return render(request, "decisions/grid.html", {
        **_version_ctx(v), "table": table, "rows": shown, "count": len(shown), "error": error,
        "editable": v.status in ("draft", "validated") and org.may(user, Perm.POLICY_EDIT),
    }, status=422 if error else 200)


@login_required
def tests_page(request: HttpRequest, version_id: int) -> HttpResponse:
    """Example applications of the policy and their results against this version (POST runs them)."""
    user = request.user
    v = services.get_version(user, version_id)
    results = None
    if request.method == "POST" and request.POST.get("run"):
        try:
            results = services.run_examples(user, version_id)
        except CreditplanError as exc:
            _error(request, exc)
    elif request.method == "POST":
        try:
            application = json.loads(request.POST.get("application") or "{}")
        except ValueError:
            messages.error(request, _("The example application is not valid JSON."))
        else:
            try:
                services.add_example(user, product=v.product, name=request.POST.get("name", ""),
                                     application=application, expected_outcome=request.POST.get("expected", ""))
            except CreditplanError as exc:
                _error(request, exc)
            else:
                messages.success(request, _("Example saved."))
                return redirect("decisions:tests", version_id=version_id)
        v = services.get_version(user, version_id)
    examples = services.list_examples(user, v.product)
    summary = v.test_summary if results is None else None
    return render(request, "decisions/tests.html", {
        **_version_ctx(v), "examples": examples, "results": results, "summary": summary,
        "may_edit": org.may(user, Perm.POLICY_EDIT),
        "sample": json.dumps({"amount_minor": 5_000_000, "term": 12, "score": 560, "grade": "C", "pd": 0.07,
                              "inputs": {"age": 35, "monthly_income_minor": 3_000_000,
                                         "existing_debt_service_minor": 200_000, "residency": "resident",
                                         "blacklist": False, "bureau_flags": [], "existing_overdue": False}},
                             ensure_ascii=False),
    })


@login_required
def simulation(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.POLICY_VIEW)
    policies = services.list_policies(user)
    product = request.GET.get("product") or (policies[0].product if policies else "")
    version_id = request.GET.get("version") or ""
    shift = request.GET.get("shift") or "0"
    result, chart = None, None
    if product and request.GET.get("run"):
        try:
            result = services.simulate(user, product=product, version_id=int(version_id) if version_id else None,
                                       cutoff_shift=int(shift))
        except ValueError:
            messages.error(request, _("The cut-off shift is a whole number of points."))
        except CreditplanError as exc:
            _error(request, exc)
    if result is not None:
        b, a = result.comparison["before"], result.comparison["after"]
        grades = sorted(set(b["by_grade"]) | set(a["by_grade"]))
        chart = {
            "labels": {"before": _("Before"), "after": _("After"), "approval": _("Approval rate (%)"),
                       "bad": _("Expected bad rate (%)"), "volume": _("Volume (10k yuan)"),
                       "grade": _("Approved by grade")},
            "before": [round(b["approval_rate"] * 100, 2), round((b["expected_bad_rate"] or 0) * 100, 2),
                       round(b["volume_minor"] / 1_000_000, 2)],
            "after": [round(a["approval_rate"] * 100, 2), round((a["expected_bad_rate"] or 0) * 100, 2),
                      round(a["volume_minor"] / 1_000_000, 2)],
            "grades": grades,
            "grade_before": [b["by_grade"].get(g, {}).get("approved", 0) for g in grades],
            "grade_after": [a["by_grade"].get(g, {}).get("approved", 0) for g in grades],
        }
    versions = next((p.versions for p in policies if p.product == product), [])
    return render(request, "decisions/simulation.html", {
        "policies": policies, "product": product, "version_id": version_id, "shift": shift, "versions": versions,
        "result": result, "chart": chart,
        "before_volume": yuan(result.comparison["before"]["volume_minor"]) if result else None,
        "after_volume": yuan(result.comparison["after"]["volume_minor"]) if result else None,
    })


@login_required
def decision_detail(request: HttpRequest, decision_id: int) -> HttpResponse:
    """One decision in plain words: outcome, why, the limit and price worked out, the rules that fired."""
    d = services.get_decision(request.user, decision_id)
    zh = _zh()
    level = LEVEL_TEXT.get(d.required_level, (d.required_level, d.required_level))[1 if zh else 0]
    return render(request, "decisions/decision.html", {
        "d": d, "zh": zh, "outcome_label": OUTCOME_LABELS.get(d.outcome, d.outcome),
        "reasons": d.reasons_zh if zh else d.reasons, "level": level,
        "quota_label": QUOTA_LABELS.get(d.quota_status, d.quota_status),
        "approved": yuan(d.approved_amount_minor), "requested": yuan(d.requested_minor),
        "installment": yuan(d.installment_minor), "rate": from_ppm(d.rate_ppm) * 100, "apr": d.apr * 100,
        "limit_steps": [{"text": s["zh" if zh else "en"], "binding": s.get("binding")} for s in d.limit_steps],
        "price_steps": [s["zh" if zh else "en"] for s in d.price_steps],
        "rules": [{"table": r.get("table"), "row": r.get("row"), "outcome": r.get("outcome"),
                   "text": r.get("message_zh" if zh else "message_en"), "set_aside": r.get("set_aside", False)}
                  for r in d.rules_fired],
    })
