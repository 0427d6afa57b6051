"""Pages. Each view asks services for data and renders it; permissions and scope are enforced below."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _

from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.customers import services as customers
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.web.forms import CustomerForm

# The domain and the kernel speak English (they must not import Django). Their errors carry a stable `code`;
# a page in another language shows the translation of a known code and the domain's own text otherwise.
_PROBLEM_TEXT = {
    "required": gettext_lazy("This field is required."),
    "too_long": gettext_lazy("At most 100 characters."),
    "resident_id_length": gettext_lazy("A resident ID number has 18 characters."),
    "resident_id_format": gettext_lazy("A resident ID number is 17 digits followed by a digit or X."),
    "resident_id_birth_date": gettext_lazy("The birth date in the resident ID number is not valid."),
    "resident_id_check": gettext_lazy("The check digit of the resident ID number is wrong; please check the number."),
    "uscc_length": gettext_lazy("A unified social credit code has 18 characters."),
    "uscc_format": gettext_lazy("The unified social credit code contains characters that are not allowed."),
    "uscc_check": gettext_lazy("The check character of the unified social credit code is wrong; please check the code."),
    "phone_format": gettext_lazy("Not a mainland mobile number (11 digits starting with 13-19)."),
    "amount_format": gettext_lazy("Not an amount, e.g. 12345.67."),
    "negative_amount": gettext_lazy("Income cannot be negative."),
    "amount_too_large": gettext_lazy("Income is implausibly large."),
    "float_money": gettext_lazy("Not an amount, e.g. 12345.67."),
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "date_in_future": gettext_lazy("The birth date is in the future."),
    "birth_date_mismatch": gettext_lazy("The birth date differs from the one in the resident ID number."),
    "not_for_individual": gettext_lazy("Only companies have this field."),
    "not_for_company": gettext_lazy("Only individuals have this field."),
    "industry_required": gettext_lazy("The industry code is required for a company."),
    "unknown_industry": gettext_lazy("Not a GB/T 4754 industry code (e.g. C39)."),
    "region_format": gettext_lazy("The region must be a 6-digit GB/T 2260 code."),
    "unknown_region": gettext_lazy("Not a province code of GB/T 2260."),
    "unknown_branch": gettext_lazy("No active branch with this code."),
    "branch_out_of_scope": gettext_lazy("This branch is outside your branch."),
    "duplicate_id": gettext_lazy("A customer with this resident ID number already exists."),
    "duplicate_uscc": gettext_lazy("A company with this unified social credit code already exists."),
    "customer_not_found": gettext_lazy("No such customer, or the customer is outside your branch."),
    "permission_denied": gettext_lazy("Your role may not do this."),
    "forbidden": gettext_lazy("You are not allowed to do this."),
    "not_found": gettext_lazy("Not found."),
}
# Titles of the error classes in creditplan.core.errors, translated by web/error.html.
_ERROR_TITLES = (gettext_noop("Request failed"), gettext_noop("Invalid input"), gettext_noop("Authentication required"),
                 gettext_noop("Not allowed"), gettext_noop("Not found"), gettext_noop("Conflict"),
                 gettext_noop("Limit exceeded"))


def problem_text(code: str, message: str) -> str:
    """What to show for a product error: the domain's (precise) English text on an English page, the
    translation of its code on any other, or the English text when the code has no translation."""
    text = _PROBLEM_TEXT.get(code)
    if text is None or (get_language() or "en").startswith("en"):
        return message[:1].upper() + message[1:]
    return str(text)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "role", None) == "customer":
        return _customer_home(request)
    ctx: dict = {"may_customers": org.may(user, Perm.CUSTOMER_VIEW), "overview": _overview(user)}
    if ctx["may_customers"]:
        series = customers.onboarding_by_month(user)
        ctx.update(
            customer_total=customers.customer_count(user),
            by_kind=customers.count_by(user, "kind"),
            by_branch=customers.count_by(user, "branch")[:10],
            chart=json.dumps({"months": [m for m, _n in series], "counts": [n for _m, n in series]}),
            branches=len(org.list_branches(user)),
        )
    return render(request, "web/home.html", ctx)


def _overview(user: Any) -> dict[str, Any]:
    """The credit business at a glance, as far as the user may see it: the loan book (live), the active credit
    plan's new lending against its limit, the cases waiting for review and their service level, the last daily
    close. Each part only with its permission; the apps are imported here (they build on web)."""
    from creditplan.loans import reports
    from creditplan.loans.services import yuan
    from creditplan.loans.views import STATUS_LABELS as LOAN_STATUS_LABELS
    from creditplan.origination import services as origination
    from creditplan.origination import sla
    from creditplan.plans import services as plans

    out: dict[str, Any] = {}
    if org.may(user, Perm.LOAN_VIEW):
        dist = reports.portfolio_distribution(user)
        by_class, by_bucket = dist["risk_class"], dist["bucket"]
        principal = sum(v["principal"] for v in by_class.values())
        npl = sum(v["principal"] for k, v in by_class.items() if k >= 3)
        out["book"] = {"loans": sum(v["count"] for v in by_class.values()), "principal": yuan(principal),
                       "overdue_loans": sum(v["count"] for k, v in by_bucket.items() if k >= 1),
                       "npl_ratio": round(100 * npl / principal, 2) if principal else None}
    if org.may(user, Perm.PLAN_VIEW):
        active = [p for p in plans.list_plans(user) if p.status == "active" and p.root is not None]
        if active:
            p = active[0]
            s = p.root.state  # type: ignore[union-attr]
            out["plan"] = {"id": p.id, "name": p.name, "limit": yuan(s.new_lending_limit),
                           "used": yuan(s.consumed + s.reserved), "utilisation": round(100 * float(s.utilisation), 1)}
    if org.may(user, Perm.APPLICATION_REVIEW):
        items = origination.review_queue(user, {})
        states = [t.state for t in sla.timers([i.application for i in items]).values()]
        out["queue"] = {"waiting": len(items), "overdue": states.count("overdue"),
                        "due_soon": states.count("due_soon")}
    if org.may(user, Perm.CLOSE_RUN) or org.may(user, Perm.GL_VIEW):
        runs = reports.close_runs(user, limit=1)
        if runs:
            out["close"] = {"date": runs[0].business_date,
                            "status": LOAN_STATUS_LABELS.get(runs[0].status, runs[0].status)}
    return out


def _customer_home(request: HttpRequest) -> HttpResponse:
    """A customer's first page: their loans (what to pay next, the payoff today), their applications and their
    latest messages. The apps are imported here: they build on web, not web on them."""
    from creditplan.integration import services as integration
    from creditplan.loans.views import customer_loan_rows
    from creditplan.origination import services as origination
    from creditplan.origination.views import STATUS_LABELS

    user = request.user
    applications = [{"v": v, "status_label": STATUS_LABELS.get(v.status, v.status)}
                    for v in origination.list_applications(user, limit=5)]
    notes = integration.my_notifications(user, language=get_language() or "zh-hans", limit=3)
    return render(request, "web/customer_home.html", {
        "loans": customer_loan_rows(user), "applications": applications, "messages_": notes,
        "linked": origination.own_customer_id(user) is not None})


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    try:
        page_no = int(request.GET.get("page", "1"))
    except ValueError:
        page_no = 1
    kind = request.GET.get("kind") or None
    if kind not in (None, "individual", "company"):
        kind = None
    page = customers.search_customers(request.user, q, page=page_no, kind=kind)
    ctx = {"page": page, "q": q, "kind": kind or "", "may_create": org.may(request.user, Perm.CUSTOMER_CREATE)}
    template = "web/_customer_rows.html" if request.htmx else "web/customers.html"  # type: ignore[attr-defined]
    return render(request, template, ctx)


@login_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    reveal = request.GET.get("reveal") == "1"
    customer = customers.get_customer(request.user, customer_id, reveal=reveal)
    history = customers.customer_history(request.user, customer_id)
    return render(request, "web/customer_detail.html", {
        "c": customer, "history": history, "may_reveal": org.may(request.user, Perm.CUSTOMER_VIEW_PII),
    })


@login_required
def customer_create(request: HttpRequest) -> HttpResponse:
    org.require(request.user, Perm.CUSTOMER_CREATE)
    form = CustomerForm(request.POST or None, initial={"kind": "individual"})
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        try:
            view = customers.create_customer(request.user, data)
        except CreditplanError as exc:  # shown next to the fields; what the user typed stays in the form
            for p in exc.problems or [FieldProblem("", exc.message)]:
                form.add_error(p.field if p.field in form.fields else None, problem_text(p.code, p.message))
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": view.name})
            return redirect("web:customer_detail", customer_id=view.id)
    return render(request, "web/customer_form.html", {"form": form}, status=422 if form.errors else 200)


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    subject = request.GET.get("subject", "")
    events = ledger.search_events(request.user, kind=kind, subject=subject)
    health = ledger.ledger_health(request.user)
    return render(request, "web/audit.html", {
        "events": events, "kind": kind, "subject": subject, "health": health,
        "latest": health.latest_head.as_dict() if health.latest_head else None,
        "previous": health.previous_head.as_dict() if health.previous_head else None,
        "may_issue": ledger.may_issue_tree_heads(request.user),
    })
