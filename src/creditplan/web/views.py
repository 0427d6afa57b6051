"""Pages. Each view asks services for data and renders it; permissions and scope are enforced below."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.customers import services as customers
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.web.forms import CustomerForm


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    ctx: dict = {"may_customers": org.may(user, Perm.CUSTOMER_VIEW)}
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
                form.add_error(p.field if p.field in form.fields else None, p.message)
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": view.name})
            return redirect("web:customer_detail", customer_id=view.id)
    return render(request, "web/customer_form.html", {"form": form}, status=422 if form.errors else 200)


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    subject = request.GET.get("subject", "")
    events = ledger.search_events(request.user, kind=kind, subject=subject)
    return render(request, "web/audit.html", {"events": events, "kind": kind, "subject": subject})
