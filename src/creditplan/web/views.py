"""Pages. Each view asks services for data and renders it; permissions and scope are enforced below."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from creditplan.common.text import problem_text
from creditplan.core.access import Actor
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.customers import services as customers
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.org.forms import LoginForm
from creditplan.web import sql
from creditplan.web.forms import CustomerForm, IdentityCorrectionForm


class LoginView(auth_views.LoginView):
    """The log-in page; a throttled attempt answers 429 with Retry-After and says when to try again. (Logging out,
    Django's LogoutView, revokes the user's API tokens: org.apps.)"""

    template_name = "web/login.html"
    form_class = LoginForm

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "database": sql.ping()})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "role", None) == "customer":
        return _customer_home(request)
    ctx: dict = {"may_customers": org.may(user, Perm.CUSTOMER_VIEW), "overview": _overview(user)}
    if ctx["may_customers"]:
        series = customers.onboarding_by_month(user)
        branches = org.list_branches(user)
        # Branch names in the page's language: English pages show a branch's English name where it has one.
        english = {b.name: b.name_en for b in branches if b.name_en} if _english() else {}
        ctx.update(
            customer_total=customers.customer_count(user),
            by_kind=customers.count_by(user, "kind"),
            by_branch=[(english.get(name, name), n) for name, n in customers.count_by(user, "branch")[:10]],
            chart=json.dumps({"months": [m for m, _n in series], "counts": [n for _m, n in series]}),
            branches=len(branches),
        )
    return render(request, "web/home.html", ctx)


def _english() -> bool:
    return not (get_language() or "zh-hans").startswith("zh")


def _overview(user: Actor) -> dict[str, Any]:
    """The credit business at a glance, as far as the user may see it: the loan book (live), the active credit
    plan's new lending against its limit, the cases waiting for review and their service level, the last daily
    close. Each part only with its permission; the apps are imported here (they build on web)."""
    from creditplan.core.money import to_major as yuan  # whole yuan on the cards (floatformat:"0g")
    from creditplan.loans import reports
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
    if org.may(user, Perm.RISK_VIEW):
        from creditplan.risk import services as risk

        routed, red = risk.open_alert_count(user)
        out["risk"] = {"open": routed, "red": red}
    if org.may(user, Perm.LINE_PROPOSE):  # post-loan review tasks: a loan officer's own, an approver's branch
        from creditplan.risk.services import reviews

        out["reviews"] = reviews.task_counts(user)
    return out


def _customer_home(request: HttpRequest) -> HttpResponse:
    """A customer's first page: their loans (what to pay next, the payoff today), their applications and their
    latest messages. The apps are imported here: they build on web, not web on them."""
    from creditplan.integration import services as integration
    from creditplan.loans.views import customer_loan_rows
    from creditplan.origination import labels as application_labels
    from creditplan.origination import services as origination

    user = request.user
    products = application_labels.product_names(origination.all_products())  # names, never codes (issue 20)
    applications = [{"v": v, "status_label": application_labels.label("status", v.status),
                     "product_label": application_labels.pick(products, v.product)}
                    for v in origination.list_applications(user, limit=5)]
    notes = integration.my_notifications(user, language=get_language() or "zh-hans", limit=3)
    from creditplan.lines import services as lines

    return render(request, "web/customer_home.html", {
        "loans": customer_loan_rows(user), "applications": applications, "messages_": notes,
        "linked": origination.own_customer_id(user) is not None, "my_line": lines.my_line(user)})


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    """The search form posts (CSRF-protected): the search text — possibly an ID or phone number — travels in the
    body and never appears in the address, the access log or the browser history. A GET shows the list (its page,
    filters and sort in the address); a GET whose q holds an ID or phone number is not searched: it is sent back to
    the bare list with an explanation, so the number leaves the address bar and the history too.

    Filters (kind, branch, status), sorting (a column header; again reverses) and paging go with the search; the
    export (CSV or Excel) is a button of the same form, so it holds exactly what the list shows: every matching
    row, ID and phone numbers masked for every role (a list never shows them in clear), recorded on the ledger."""
    from types import SimpleNamespace

    from creditplan.common import listing as lists
    from creditplan.org.views import sort_headers

    params = (request.POST if request.method == "POST" else request.GET).copy()
    q = params.get("q", "").strip()
    if request.method != "POST" and customers.looks_like_identifier(q):
        messages.error(request, _("ID and phone numbers are not searched from the address (it is kept in logs and "
                                  "in the browser history): type the number in the search box."))
        return redirect("web:customers")
    if not params.get("per_page"):
        params["per_page"] = str(customers.PAGE_SIZE)  # 25 a page, as before the page size could be chosen
    if params.get("resort"):  # a column header was clicked
        params["sort"] = params["resort"]
        params.pop("page", None)
    listing = lists.listing_from(SimpleNamespace(GET=params), sorts=customers.CUSTOMER_SORTS,
                                 default_sort="no", default_descending=True)
    filters = {"kind": params.get("kind", ""), "branch": params.get("branch", "").strip()[:20],
               "status": params.get("status", "active")}
    if filters["kind"] not in ("", "individual", "company"):
        filters["kind"] = ""
    if filters["status"] not in customers.CUSTOMER_STATUS_FILTERS:
        filters["status"] = "active"
    page = customers.list_customers(request.user, listing, query=q, **filters)
    english = (get_language() or "").startswith("en")
    fmt = lists.export_format(SimpleNamespace(GET=params))
    if fmt:
        headers = [_("No."), _("Name"), _("Kind"), _("ID / USCC"), _("Phone"), _("Branch"), _("Monthly income"),
                   _("Status")]
        rows = ([c.id, c.name, _("Company") if c.kind == "company" else _("Individual"),
                 c.id_number or c.uscc or "", c.phone or "", (c.branch_name_en if english and c.branch_name_en
                                                              else c.branch_name),
                 c.monthly_income.format(label="none") if c.monthly_income else "",
                 _("Archived") if c.status == "archived" else _("Active")] for c in page.items)
        return lists.export_response(rows, headers, fmt, "customers")
    headers = sort_headers(SimpleNamespace(GET=params), page.listing, [
        ("no", _("No.")), ("name", _("Name")), ("branch", _("Branch")), ("income", _("Monthly income"))])
    branches = sorted(org.list_branches(request.user), key=lambda b: b.path)
    ctx = {"page": page, "q": q, "kind": filters["kind"], "filters": filters, "english": english,
           "h": {x["key"]: {**x, "value": x["query"].rsplit("sort=", 1)[-1]} for x in headers},
           "sort": ("-" if page.listing.descending else "") + page.listing.sort,
           "per_page": page.listing.per_page, "page_sizes": lists.PAGE_SIZES,
           "branches": [(b.code, b.name_en if english and b.name_en else b.name) for b in branches],
           "may_create": org.may(request.user, Perm.CUSTOMER_CREATE),
           "pending_corrections": None if request.htmx else _pending_corrections(request.user)}
    template = "web/_customer_rows.html" if request.htmx else "web/customers.html"
    return render(request, template, ctx)


def _pending_corrections(user: Actor) -> int | None:
    """How many identity corrections wait for this user's decision (None: the user does not decide them)."""
    if not org.may(user, Perm.CUSTOMER_IDENTITY_APPROVE):
        return None
    return sum(1 for c in customers.list_identity_corrections(user) if c.requested_by != user.username)


# Customer fields as the history shows them (never the raw field name).
_FIELD_LABELS = {
    "kind": gettext_lazy("Kind"), "status": gettext_lazy("Status"), "name": gettext_lazy("Name"),
    "branch": gettext_lazy("Branch"), "id_number": gettext_lazy("Resident ID number"),
    "phone": gettext_lazy("Mobile phone"), "birth_date": gettext_lazy("Birth date"), "sex": gettext_lazy("Sex"),
    "monthly_income_minor": gettext_lazy("Monthly income (fen)"), "currency": gettext_lazy("Currency"),
    "employer": gettext_lazy("Employer"), "uscc": gettext_lazy("Unified social credit code"),
    "industry_code": gettext_lazy("Industry (GB/T 4754)"), "region_code": gettext_lazy("Region (GB/T 2260)"),
    "onboarded_on": gettext_lazy("Customer since"),
}


_VALUE_LABELS = {"sex": {"M": gettext_lazy("male"), "F": gettext_lazy("female")},
                 "kind": {"individual": gettext_lazy("Individual"), "company": gettext_lazy("Company")}}


def _history_value(field: str, value: Any) -> Any:
    return _VALUE_LABELS.get(field, {}).get(value, value) if isinstance(value, str) else value


def _history_rows(history: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for h in history:
        changes = [(str(_FIELD_LABELS.get(k, k)), _history_value(k, v[0]), _history_value(k, v[1]))
                   for k, v in (h.data.get("changed") or {}).items()]
        personal = [str(_FIELD_LABELS.get(k, k)) for k in h.data.get("changed_personal") or []]
        rows.append({"h": h, "changes": changes, "personal": personal,
                     "text": h.data.get("reason") or h.data.get("note") or ""})
    return rows


@login_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    reveal = request.GET.get("reveal") == "1"
    customer = customers.get_customer(request.user, customer_id, reveal=reveal)
    history = customers.customer_history(request.user, customer_id)
    may_correct = org.may(request.user, Perm.CUSTOMER_UPDATE) and org.may(request.user, Perm.CUSTOMER_VIEW_PII)
    pending = customers.list_identity_corrections(request.user, customer_id=customer_id)
    from creditplan.lines import services as lines  # (the apps build on web: imported here)
    from creditplan.lines.views import STATE_LABELS as LINE_STATE_LABELS

    credit_lines = [{"v": v, "state_label": LINE_STATE_LABELS.get(v.state, v.state)}
                    for v in lines.customer_lines(request.user, customer_id)]
    from creditplan.risk import warning_views as early_warning  # the customer's warning level and signals
    from creditplan.risk.services import signals as risk_signals

    warning = early_warning.customer_warning_context(risk_signals.customer_warning(request.user, customer_id))
    return render(request, "web/customer_detail.html", {
        "warning": warning, "may_see_watch": org.may(request.user, Perm.RISK_VIEW),
        "credit_lines": credit_lines, "may_propose_line": org.may(request.user, Perm.LINE_PROPOSE),
        "c": customer, "history": _history_rows(history),
        "may_reveal": org.may(request.user, Perm.CUSTOMER_VIEW_PII),
        "may_correct": may_correct and customer.status == "active" and not pending,
        "pending": pending[0] if pending else None,
    })


@login_required
def customer_identity_correction(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Ask for an identity correction (four eyes: another user approves it on the corrections page)."""
    org.require(request.user, Perm.CUSTOMER_UPDATE)
    org.require(request.user, Perm.CUSTOMER_VIEW_PII)
    customer = customers.get_customer(request.user, customer_id)
    form = IdentityCorrectionForm(request.POST or None, kind=customer.kind)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None) and k != "reason"}
        try:
            customers.request_identity_correction(request.user, customer_id, data, form.cleaned_data["reason"])
        except CreditplanError as exc:
            for p in exc.problems or [FieldProblem(exc.field or "", exc.message, exc.code)]:
                form.add_error(p.field if p.field in form.fields else None, problem_text(p.code, p.message))
        else:
            messages.success(request, _("Identity correction requested: another user must approve it."))
            return redirect("web:customer_detail", customer_id=customer_id)
    return render(request, "web/customer_correction.html", {"c": customer, "form": form},
                  status=422 if form.errors else 200)


@login_required
def identity_corrections(request: HttpRequest) -> HttpResponse:
    """Pending identity corrections in the user's scope; approvers decide them here (not their own)."""
    may_decide = org.may(request.user, Perm.CUSTOMER_IDENTITY_APPROVE)
    if request.method == "POST":
        org.require(request.user, Perm.CUSTOMER_IDENTITY_APPROVE)
        try:
            correction_id = int(request.POST.get("correction", ""))
        except ValueError:
            correction_id = 0
        approve = request.POST.get("decision") == "approve"
        try:
            customers.decide_identity_correction(request.user, correction_id, approve=approve,
                                                 note=request.POST.get("note", ""))
        except CreditplanError as exc:
            messages.error(request, problem_text(exc.code, exc.message))
        else:
            messages.success(request, _("Identity correction approved.") if approve
                             else _("Identity correction rejected."))
        return redirect("web:identity_corrections")
    reveal = request.GET.get("reveal")
    items = customers.list_identity_corrections(request.user)
    if reveal and reveal.isdigit():
        shown = customers.get_identity_correction(request.user, int(reveal), reveal=True)
        items = [shown if i.id == shown.id else i for i in items]
    english = {b.name: b.name_en for b in org.list_branches(request.user) if b.name_en} if _english() else {}
    return render(request, "web/identity_corrections.html", {
        "rows": [{"x": x, "branch": english.get(x.branch_name, x.branch_name)} for x in items],
        "items": items, "may_decide": may_decide, "may_reveal": org.may(request.user, Perm.CUSTOMER_VIEW_PII),
        "me": request.user.username})


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


_AUDIT_SORTS = ("seq", "kind", "actor", "subject")


def _audit_row(e: Any, scenarios: dict[str, str]) -> dict[str, Any]:
    """One audit-trail row in words (ledger/labels.py): who, the area, the event, the record."""
    from creditplan.ledger import labels as words

    named = words.named_record(e.subject_type, e.subject_id) or scenarios.get(
        e.subject_id if e.subject_type == "stress_scenario" else "")
    return {"e": e, "actor": words.actor_label(e.actor), "family": words.family_label(e.kind),
            "event": words.event_label(e.kind), "subject": words.subject_label(e.subject_type), "named": named}


def _scenario_names() -> dict[str, str]:
    """Stress scenarios' names in the page's language (an audit row names its scenario, not its code)."""
    from creditplan.risk.services import stress

    english = (get_language() or "").startswith("en")
    return {s.code: (s.name_en if english else s.name_zh) or s.code for s in stress.list_scenarios(None)}


def _day(raw: str) -> Any:
    """A yyyy-mm-dd from a filter field, or None (a hand-edited address never fails the page)."""
    import datetime as dt

    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    """The audit trail: every event of the ledger, one page at a time, filtered by family (customers, loans,
    users…), kind, who acted, record and period, sorted by a column, exported as CSV or Excel (the same filters,
    every row up to the export bound)."""
    import datetime as dt

    from django.utils import timezone
    from django.utils.translation import pgettext

    from creditplan.common import listing as lists
    from creditplan.org.views import sort_headers

    q = request.GET
    filters = {k: q.get(k, "").strip()[:100] for k in ("family", "kind", "who", "subject", "from", "to")}
    since, until = _day(filters["from"]), _day(filters["to"])
    tz = timezone.get_current_timezone()
    listing = lists.listing_from(request, sorts=_AUDIT_SORTS, default_sort="seq", default_descending=True)
    page = ledger.list_events(
        request.user, listing, kind=filters["kind"], family=filters["family"], who=filters["who"],
        subject=filters["subject"],
        since=dt.datetime.combine(since, dt.time(), tz) if since else None,
        until=dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tz) if until else None)
    fmt = lists.export_format(request)
    if fmt:
        headers = [pgettext("event number", "No."), _("When"), _("Who"), _("Area"), _("Event"), _("Event code"),
                   _("Record"), _("Leaf hash")]
        scenarios = _scenario_names()
        rows = ([r["e"].seq, timezone.localtime(r["e"].occurred_at).strftime("%Y-%m-%d %H:%M:%S"), r["actor"],
                 r["family"], r["event"], r["e"].kind, r["named"] or f"{r['subject']} {r['e'].subject_id}",
                 r["e"].leaf_hash] for r in (_audit_row(e, scenarios) for e in page.items))
        return lists.export_response(rows, headers, fmt, "audit-trail")
    health = ledger.ledger_health(request.user)
    from creditplan.ledger import labels as words

    families = sorted(((f, words.family_label(f)) for f in ledger.event_families()), key=lambda x: x[1])
    scenarios = _scenario_names() if any(e.subject_type == "stress_scenario" for e in page.items) else {}
    return render(request, "web/audit.html", {
        **lists.list_context(request, page), "filters": filters, "families": families,
        "events": [_audit_row(e, scenarios) for e in page.items],
        "h": {h["key"]: h for h in sort_headers(request, page.listing, [
            ("seq", "#"), ("actor", _("Who")), ("kind", _("Event")), ("subject", _("Record"))])},
        "sort": q.get("sort", ""), "health": health,
        "latest": health.latest_head.as_dict() if health.latest_head else None,
        "previous": health.previous_head.as_dict() if health.previous_head else None,
        "may_issue": ledger.may_issue_tree_heads(request.user),
        "issued_by": words.actor_label(health.latest_head.issued_by) if health.latest_head else "",
        "verified_by": words.actor_label(health.last_verification.actor) if health.last_verification else "",
    })
