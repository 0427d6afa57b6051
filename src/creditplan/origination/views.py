"""Application pages: the review queue (HTMX filters), the branch form for loan officers, the online form for
customers (instant outcome), and the application page that shows the whole case with the review actions the
user may take. Views only call services; amounts arrive in fen and go to the templates in fen, shown in yuan
by the `money` filter (core.money.format_minor)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import figure_text, problem_text
from creditplan.core.errors import CreditplanError, FieldProblem, NotFound
from creditplan.core.money import format_minor
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.origination import analytics, drafts, labels, services, sla
from creditplan.origination.apply_forms import StepForm
from creditplan.origination.forms import (
    INPUT_FIELDS,
    InfoForm,
    InfoRequestForm,
    OfficerApplicationForm,
    OnlineApplicationForm,
    ReviewForm,
    WithdrawForm,
)

# The words of every code come from the one label table (origination/labels.py); these mappings are kept for the
# pages that read them by name (web.views' dashboard).
STATUS_LABELS = {code: labels.table("status")[code] for code in labels.table("status")}
CHANNEL_LABELS = labels.table("channel")
QUOTA_LABELS = labels.table("quota")
REASON_LABELS = labels.table("reason")
INPUT_LABELS = labels.table("input")
SOURCE_LABELS = labels.table("source")
NO_SOURCE = gettext_lazy("Not recorded")
# Problems with an input the applicant sent, said with the field's name in words.
_INPUT_TEXT = {
    "input_not_allowed": gettext_lazy("“%(field)s” cannot be given on an application: the bank takes it from its "
                                      "own records or the credit bureau."),
    "input_held_by_bank": gettext_lazy("“%(field)s” comes from the bank's records or the credit bureau for this "
                                       "application and cannot be changed here."),
    "input_not_requested": gettext_lazy("“%(field)s” was not asked for: send only what the reviewer asked for."),
    "input_out_of_range": gettext_lazy("“%(field)s” is beyond what is possible for a person: please check the "
                                       "figure."),
}
_TEXT = {  # maker-checker, authority and permission refusals: common.text's words (issue 20, with their figures)
    "already_approved": gettext_lazy("You have already approved this application; a second, different approver "
                                     "is needed."),
    "not_in_review": gettext_lazy("This application is not in review any more."),
    "quota_exceeded": gettext_lazy("The credit-plan quota is used up: the approval is refused."),
    "concentration_exceeded": gettext_lazy("The concentration limit for this customer would be exceeded."),
    "unknown_customer": gettext_lazy("No such customer in your branch."),
    "customer_inactive": gettext_lazy("The customer is archived."),
    "unknown_product": gettext_lazy("No such product."),
    "product_inactive": gettext_lazy("This product is not offered."),
    "amount_out_of_range": gettext_lazy("The amount is outside the product's range."),
    "term_out_of_range": gettext_lazy("The term is outside the product's range."),
    "term_format": gettext_lazy("The term is a whole number of months."),
    "unknown_reason_code": gettext_lazy("Choose a reason."),
    "illegal_transition": gettext_lazy("This step is not possible in the application's current state."),
    "application_not_found": gettext_lazy("No such application."),
    "idempotency_key_reused": gettext_lazy("This request was already used for a different application."),
    "unknown_status": gettext_lazy("Choose a status from the list."),
    "unknown_channel": gettext_lazy("Choose a channel from the list."),
    "unknown_outcome": gettext_lazy("Choose an outcome from the list."),
    "unknown_officer": gettext_lazy("Choose an officer from the list."),
    "not_info_requested": gettext_lazy("No information was asked for on this application."),
}


def _feature_value(name: str, value: Any) -> str | None:
    """A scorecard input's value in words, from scoring's labels (None: scoring has no words for it)."""
    try:
        from creditplan.scoring import labels as scoring_labels  # helper E's table (issue 20)
    except ImportError:
        return None
    fn = getattr(scoring_labels, "feature_value_label", None)
    if fn is None:
        return None
    text = fn(name, value)
    return None if text in (None, "", value) else str(text)


# Codes whose service sentence names internals (a filter's value): said in the table's words in English too.
_OWN_WORDS = frozenset({"unknown_status", "unknown_channel", "unknown_outcome", "unknown_officer",
                        "not_info_requested"})


def _decision_input_label(name: str) -> str:
    """A decision input in words (the case page's table): its label, else scoring's feature label (the
    scorecard's inputs, issue 20), else the name."""
    if name in INPUT_LABELS:
        return str(INPUT_LABELS[name])
    try:
        from creditplan.scoring import labels as scoring_labels  # helper E's table (issue 20)
    except ImportError:
        return name
    fn = getattr(scoring_labels, "feature_label", None)
    text = fn(name) if fn is not None else None
    return str(text) if text else name


def _input_label(name: str) -> str:
    """An input (or form field) name in words: its label, else the name as the client sent it."""
    if name in INPUT_LABELS:
        return str(INPUT_LABELS[name])
    base = OfficerApplicationForm.base_fields.get(name) or InfoForm.base_fields.get(name)
    return str(base.label) if base is not None else name


def _input_problem(code: str, field: str) -> str:
    """A problem with one input, naming the field in words ("inputs.blacklist" → “On the blacklist”)."""
    name = field.split(".", 1)[1] if field.startswith("inputs.") else field
    return str(_INPUT_TEXT[code]) % {"field": _input_label(name)}


def origination_problem(code: str, message: str, field: str = "", extra: Mapping[str, Any] | None = None) -> str:
    """A product error in the page's language; the authority refusal keeps the matrix's own explanation; a
    concentration refusal says its figures (`extra`, issue 19)."""
    if code in _INPUT_TEXT and field:
        return _input_problem(code, field)
    if extra and (figures := figure_text(code, extra)) is not None:
        return figures
    text = _TEXT.get(code)
    english = (get_language() or "en").startswith("en")
    if text is None or (english and code not in _OWN_WORDS):
        return problem_text(code, message, extra)  # an English page: the service's precise sentence
    return str(text)


def _reraise_access(exc: CreditplanError) -> None:
    if exc.http_status in (401, 404) or (exc.http_status == 403 and exc.code == "permission_denied"):
        raise exc


def _product_choices() -> list[tuple[str, str]]:
    offered = sorted(services.products_on_offer(), key=lambda p: (p.min_amount_minor, p.code))  # small first
    names = labels.product_names(offered)  # the English name on an English page (issue 20)
    return [(p.code, f"{names[p.code]} ({format_minor(p.min_amount_minor)}–{format_minor(p.max_amount_minor)}, "
                     f"{p.min_term}–{p.max_term})")
            for p in offered]


# --- the queue and lists -------------------------------------------------------------------------------------

QUEUE_FILTERS = ("branch", "product", "grade", "min_amount", "max_amount", "min_age_hours", "scope", "status")
SLA_FILTERS = ("overdue", "due_soon", "escalated")
TIMER_LABELS = {"ok": gettext_lazy("On time"), "due_soon": gettext_lazy("Due soon"),
                "overdue": gettext_lazy("Overdue")}


LIST_SORTS = tuple(services.listing_sorts())


def _list_row(v: services.ApplicationView, products: dict[str, str]) -> dict[str, Any]:
    return {"v": v, "status_label": labels.label("status", v.status), "channel_label": labels.label("channel", v.channel),
            "outcome_label": labels.label("outcome", v.decision_outcome), "product_label": labels.pick(products, v.product),
            "branch_label": _branch_name(v)}


def _branch_name(v: services.ApplicationView) -> str:
    return labels.branch_name(v.branch_name, v.branch_name_en)


def application_list(request: HttpRequest) -> HttpResponse:
    """Every application the user may see (a customer: their own), filtered, sorted, paged; CSV / Excel export."""
    from creditplan.common.listing import export_format, export_response, list_context, listing_from

    user = request.user
    is_customer = user.role == "customer"
    listing = listing_from(request, sorts=LIST_SORTS, default_sort="created", default_descending=True)
    filters = {k: request.GET.get(k, "").strip() for k in services.LIST_FILTERS}
    products = labels.product_names(services.all_products())
    errors: dict[str, str] = {}
    try:
        page = services.application_list(user, listing, filters)
    except CreditplanError as exc:
        _reraise_access(exc)
        for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
            errors[p.field or "_"] = origination_problem(p.code, p.message)
        page = services.application_list(user, listing, {})
    rows = [_list_row(v, products) for v in page.items]
    fmt = export_format(request)
    if fmt and not errors:
        headers = [_("Application"), _("Date submitted")]
        if not is_customer:
            headers += [_("Customer"), pgettext("organisation", "Branch"), _("Entered by")]
        headers += [_("Product"), _("Amount (yuan)"), _("Term (months)"), pgettext("application", "Channel"),
                    _("Automated decision"), _("Status")]
        out = []
        for r in rows:
            v = r["v"]
            line: list[Any] = [v.ref, timezone.localtime(v.created_at).strftime("%Y-%m-%d %H:%M")]
            if not is_customer:
                line += [v.customer_name, r["branch_label"], v.entered_by]
            line += [r["product_label"], format_minor(v.amount_minor, v.currency), v.term, r["channel_label"],
                     r["outcome_label"], r["status_label"]]
            out.append(line)
        return export_response(out, headers, fmt, "applications")
    sort_links = []
    for key, title in (("ref", _("Application")), ("created", _("Date submitted")), ("customer", _("Customer")),
                       ("branch", pgettext("organisation", "Branch")), ("product", _("Product")),
                       ("amount", _("Amount")), ("status", _("Status"))):
        if is_customer and key in ("customer", "branch"):
            continue
        on = listing.sort == key
        sort_links.append({"key": key, "title": title, "on": on, "descending": on and listing.descending,
                           "param": f"-{key}" if on and not listing.descending else key})
    from creditplan.common.listing import query_without

    ctx = {"rows": rows, "may_submit": services.may_submit(user), "is_customer": is_customer,
           "may_review": org.may(user, Perm.APPLICATION_REVIEW), "filters": filters, "errors": errors,
           "statuses": labels.choices("status"), "channels": labels.choices("channel"),
           "outcomes": labels.choices("outcome"), "products": sorted(products.items(), key=lambda x: x[1]),
           "branches": [] if is_customer else labels.branch_options(services.branch_choices(user)),
           "officers": services.officer_choices(user), "sorts": sort_links,
           "sort_query": query_without(request.GET, "sort", "page", "export"),
           **list_context(request, page)}
    return render(request, "origination/list.html", ctx, status=422 if errors else 200)


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role == "customer" or not org.may(user, Perm.APPLICATION_REVIEW) or request.GET.get("view") == "all":
        return application_list(request)
    filters = {k: request.GET.get(k, "").strip() for k in QUEUE_FILTERS}
    sla_filter = request.GET.get("sla", "").strip()
    error = ""
    try:
        items = services.review_queue(user, {k: v for k, v in filters.items() if v})
    except CreditplanError as exc:
        _reraise_access(exc)
        items, error = [], origination_problem(exc.code, exc.message)
    timers = sla.timers([i.application for i in items])
    if sla_filter in SLA_FILTERS:
        items = sla.overdue_only(items, timers, sla_filter)
    filters["sla"] = sla_filter
    products = labels.product_names(services.all_products())
    rows = [dict(_list_row(i.application, products), item=i, timer=timers.get(i.application.id), why=_why(i.why_not),
                 timer_label=labels.label("timer", getattr(timers.get(i.application.id), "state", "")))
            for i in items]
    ctx = {"rows": rows, "filters": filters, "error": error,
           "branches": labels.branch_options(services.branch_choices(user)),
           "products": sorted(labels.product_names(services.products_on_offer()).items(), key=lambda x: x[1]),
           "may_submit": services.may_submit(user), "may_approve": org.may(user, Perm.APPLICATION_APPROVE),
           "may_analytics": org.may(user, Perm.APPLICATION_ANALYTICS),
           "sla_choices": [("", _("Any timer")), ("overdue", _("Overdue")), ("due_soon", _("Due soon")),
                           ("escalated", _("Escalated"))],
           "age_choices": [("", _("Any age")), ("24", _("Waiting > 1 day")), ("72", _("Waiting > 3 days")),
                           ("168", _("Waiting > 7 days"))]}
    template = "origination/_queue_rows.html" if request.htmx else "origination/queue.html"
    return render(request, template, ctx)


# --- submitting ----------------------------------------------------------------------------------------------

def _add_errors(form: Any, exc: CreditplanError) -> None:
    for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
        name = form.field_for(p.field.split(".", 1)[1]) if p.field.startswith("inputs.") else p.field
        form.add_error(name if name in form.fields else None, origination_problem(p.code, p.message, p.field))


# What the application pages post besides their form's fields.
_PAGE_CONTROLS = frozenset({"csrfmiddlewaretoken", "idempotency_key", "step", "back"})


def _unexpected(form: Any, data: Any) -> list[str]:
    """Names posted that the form does not have (an applicant states only the form's fields), unprefixed."""
    known = {form.add_prefix(n) for n in form.fields} | _PAGE_CONTROLS
    prefix = f"{form.prefix}-" if form.prefix else ""
    return sorted(k.removeprefix(prefix) for k in data if k not in known)


def _refuse_unexpected(form: Any, data: Any) -> bool:
    """Refuse, next to the form, each field posted that the form does not have; True when there was one."""
    names = _unexpected(form, data)
    if names:
        form.is_valid()
        for name in names:
            form.add_error(None, _input_problem("input_not_allowed", name))
    return bool(names)


@login_required
def create(request: HttpRequest) -> HttpResponse:
    """A loan officer enters an application at the branch."""
    user = request.user
    org.require(user, Perm.APPLICATION_CREATE)
    form = OfficerApplicationForm(request.POST or None, products=_product_choices(),
                                  initial={"customer_id": request.GET.get("customer", ""), "term": "12"})
    if request.method == "POST" and not _refuse_unexpected(form, request.POST) and form.is_valid():
        try:
            view = services.submit_application(
                user, customer_id=form.cleaned_data["customer_id"], product=form.cleaned_data["product"],
                amount=form.cleaned_data["amount"], term=form.cleaned_data["term"], inputs=form.inputs(),
                channel="branch", idempotency_key=request.POST.get("idempotency_key") or None)
        except CreditplanError as exc:
            _reraise_access(exc)
            _add_errors(form, exc)
        else:
            messages.success(request, _outcome_message(view))
            return redirect("origination:application", ref=view.ref)
    return render(request, "origination/form.html", {"form": form, "token": _form_token()},
                  status=422 if form.errors else 200)


def _form_token() -> str:
    """A one-off key the form posts back: pressing submit twice (or reloading) cannot create two applications."""
    import secrets

    return "form-" + secrets.token_urlsafe(16)


def _outcome_message(v: services.ApplicationView) -> str:
    if v.status == "approved":
        return _("Application %(ref)s approved: %(amount)s yuan.") % {
            "ref": v.ref, "amount": format_minor(v.approved_amount_minor or v.amount_minor, v.currency)}
    if v.status == "referred":
        return _("Application %(ref)s was referred to an approver for review.") % {"ref": v.ref}
    return _("Application %(ref)s: %(status)s.") % {"ref": v.ref, "status": STATUS_LABELS.get(v.status, v.status)}


@login_required
def apply(request: HttpRequest) -> HttpResponse:
    """A customer applies online for themselves and sees the outcome at once. Opening the page starts (or
    resumes) the stepwise form, saved as a draft after each step (`apply_step`); a POST of the whole form at once
    (a client without the steps) is still accepted."""
    user = request.user
    org.require(user, Perm.APPLICATION_APPLY)
    if request.method != "POST":
        d = drafts.start_or_resume(user)
        return _step_page(request, d, d.current_step, _step_form(d, d.current_step))
    customer_id = services.own_customer_id(user)
    form = OnlineApplicationForm(request.POST or None, products=_product_choices(), initial={"term": "12"})
    if request.method == "POST" and not _refuse_unexpected(form, request.POST) and form.is_valid():
        if customer_id is None:
            form.add_error(None, _("Your log-in is not linked to a customer record yet: please visit a branch."))
        elif not form.cleaned_data.get("consent"):
            form.add_error("consent", _("Please agree so that we can assess your application."))
        else:
            try:
                view = services.submit_application(
                    user, customer_id=customer_id, product=form.cleaned_data["product"],
                    amount=form.cleaned_data["amount"], term=form.cleaned_data["term"], inputs=form.inputs(),
                    channel="web", idempotency_key=request.POST.get("idempotency_key") or None)
            except CreditplanError as exc:
                _reraise_access(exc)
                _add_errors(form, exc)
            else:
                return redirect("origination:application", ref=view.ref)
    return render(request, "origination/apply.html", {"form": form, "token": _form_token(), "onepage": True,
                                                      "linked": customer_id is not None},
                  status=422 if form.errors else 200)


# --- the stepwise online form (drafts) -----------------------------------------------------------------------

STEP_LABELS = {"offer": gettext_lazy("Product and offer"), "details": gettext_lazy("Your details"),
               "consent": gettext_lazy("Consent and send")}


def _step_url(token: str, step: str = "") -> str:
    from django.urls import reverse

    url = reverse("origination:apply_step", args=[token])
    return f"{url}?step={step}" if step in drafts.STEP_NO else url


def _step_form(d: drafts.DraftView, step: str, data: Any = None) -> StepForm:
    if data is not None:
        return StepForm(data, step=step, products=_product_choices())
    initial: dict[str, Any] = {k: v for k, v in d.data.items() if k in drafts.FIELDS[step]}
    if step == "consent":
        initial["consent"] = d.data.get("consent") in ("on", "true", "True", "1")
    if step == "offer":
        initial.setdefault("term", "12")
    return StepForm(initial=initial, step=step, products=_product_choices())


def _offer(data: dict[str, Any]) -> Any:
    try:
        return drafts.indicative_offer(data.get("product"), data.get("amount"), data.get("term"))
    except CreditplanError:
        return None


def _offer_context(offer: Any) -> dict[str, Any] | None:
    if offer is None:
        return None
    return {"product": offer.product_name, "amount": offer.amount_minor, "term": offer.term,
            "rate": _pct(Decimal(offer.rate_ppm) / 1_000_000), "floor": _pct(Decimal(offer.rate_floor_ppm) / 1_000_000),
            "cap": _pct(Decimal(offer.rate_cap_ppm) / 1_000_000), "first": offer.first_payment_minor,
            "last": offer.last_payment_minor, "interest": offer.total_interest_minor,
            "level": offer.first_payment_minor == offer.last_payment_minor, "monthly": offer.months_per_period == 1}


def _step_page(request: HttpRequest, d: drafts.DraftView, step: str, form: Any, *, status: int = 200,
               offer: Any = None) -> HttpResponse:
    data = {**d.data, **(drafts.clean_fields(form.data) if form.is_bound else {})}
    if offer is None and step != "offer":
        offer = _offer(data)
    steps = [{"name": s, "label": STEP_LABELS[s], "n": i + 1, "current": s == step, "reachable": d.may_show(s),
              "url": _step_url(d.token, s)} for i, s in enumerate(drafts.STEPS)]
    summary = []
    if step == "consent":
        for name in (*drafts.FIELDS["offer"], *drafts.FIELDS["details"]):
            value = data.get(name, "")
            if value:
                summary.append((StepForm.base_fields[name].label, dict(getattr(StepForm.base_fields[name], "choices",
                                                                              None) or []).get(value, value)))
    return render(request, "origination/apply.html", {
        "form": form, "draft": d, "step": step, "steps": steps, "step_label": STEP_LABELS[step],
        "action": _step_url(d.token), "offer": _offer_context(offer), "summary": summary,
        "first_step": step == drafts.STEPS[0], "last_step": step == drafts.STEPS[-1],
        "linked": services.own_customer_id(request.user) is not None}, status=status)


def _field_step(name: str) -> str:
    return next((s for s in drafts.STEPS if name in drafts.FIELDS[s]), drafts.STEPS[-1])


def apply_step(request: HttpRequest, token: str) -> HttpResponse:
    """One step of the online form, saved to the draft the token names. Without a session (it expired while the
    customer was typing) a POST is kept on the draft and the customer is sent to log in; afterwards they land on
    the same step with what they typed."""
    from django.contrib.auth.views import redirect_to_login

    step = (request.POST.get("step") if request.method == "POST" else request.GET.get("step")) or ""
    if not request.user.is_authenticated:
        if request.method == "POST" and drafts.stash(token, step, request.POST):
            messages.warning(request, _("Your session had expired. Please log in again: what you typed is kept."))
        return redirect_to_login(_step_url(token, step))
    user = request.user
    d = drafts.open_draft(user, token)
    if d.submitted:
        if d.application_ref:
            return redirect("origination:application", ref=d.application_ref)
        # a sent form whose application is not named on it (a demo draft, or one sent before drafts kept the
        # reference): nothing more to fill in here, the customer's applications are on their list
        messages.info(request, _("This application form was already sent: your applications are listed here."))
        return redirect("origination:queue")
    if d.restored_step:
        messages.info(request, _("Welcome back: what you typed before your session expired is filled in again."))
        step = d.restored_step
    if not d.may_show(step):
        step = d.current_step
    if request.method != "POST":
        return _step_page(request, d, step, _step_form(d, step))
    if "back" in request.POST:
        drafts.save_step(user, token, step, request.POST, complete=False)
        return redirect(_step_url(token, drafts.STEPS[max(0, drafts.STEP_NO[step] - 2)]))
    form = _step_form(d, step, request.POST)
    if _refuse_unexpected(form, request.POST):
        return _step_page(request, d, step, form, status=422)
    ok, offer = form.is_valid(), None
    if ok and step == "offer":
        try:
            offer = drafts.indicative_offer(form.cleaned_data["product"], form.cleaned_data["amount"],
                                            form.cleaned_data["term"])
        except CreditplanError as exc:
            _add_errors(form, exc)
            ok = False
    d = drafts.save_step(user, token, step, request.POST, complete=ok)
    if not ok:
        return _step_page(request, d, step, form, status=422, offer=offer)
    if step != "consent":
        return redirect(_step_url(token, drafts.STEPS[drafts.STEP_NO[step]]))
    return _send_draft(request, d)


def _send_draft(request: HttpRequest, d: drafts.DraftView) -> HttpResponse:
    """The last step: the whole form checked once more and sent; a problem sends the customer back to the step
    of the first field concerned, with the message next to it and their input in place."""
    user = request.user
    full = OnlineApplicationForm(d.data, products=_product_choices())
    if services.own_customer_id(user) is None:
        form = _step_form(d, "consent", d.data)
        form.is_valid()
        form.add_error(None, _("Your log-in is not linked to a customer record yet: please visit a branch."))
        return _step_page(request, d, "consent", form, status=422)
    if not full.is_valid():
        step = _field_step(next(iter(full.errors)))
        form = _step_form(d, step, d.data)
        form.is_valid()
        return _step_page(request, d, step, form, status=422)
    try:
        view = drafts.submit_draft(user, d.token, product=full.cleaned_data["product"],
                                   amount=full.cleaned_data["amount"], term=full.cleaned_data["term"],
                                   inputs=full.inputs())
    except CreditplanError as exc:
        _reraise_access(exc)
        first = (exc.problems[0].field if exc.problems else "") or ""
        name = full.field_for(first.split(".", 1)[1]) if first.startswith("inputs.") else first
        step = _field_step(name) if name else "consent"
        form = _step_form(d, step, d.data)
        form.is_valid()
        _add_errors(form, exc)
        return _step_page(request, d, step, form, status=exc.http_status if exc.http_status != 404 else 422)
    return redirect("origination:application", ref=view.ref)


# --- process analytics ---------------------------------------------------------------------------------------

STATE_ORDER_LABELS = STATUS_LABELS


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    """Process analytics for managers: where applications spend their time and where customers give up."""
    import datetime as dt

    from django.utils import timezone

    user = request.user
    org.require(user, Perm.APPLICATION_ANALYTICS)
    today = timezone.localdate()
    q = {k: request.GET.get(k, "").strip() for k in ("date_from", "date_to", "branch", "product", "channel")}
    q["date_from"] = q["date_from"] or (today - dt.timedelta(days=29)).isoformat()
    q["date_to"] = q["date_to"] or today.isoformat()
    errors: dict[str, str] = {}
    report = None
    try:
        report = analytics.process_report(user, **q)
    except CreditplanError as exc:
        _reraise_access(exc)
        for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
            errors[p.field or "_"] = problem_text(p.code, p.message)
    ctx: dict[str, Any] = {"q": q, "errors": errors, "report": report,
                           "branches": labels.branch_options(services.branch_choices(user)),
                           "products": sorted(labels.product_names(services.products_on_offer()).items(),
                                              key=lambda x: x[1]),
                           "channels": list(CHANNEL_LABELS.items())}
    if report is not None:
        step_labels = {**STEP_LABELS, "submitted": _("Submitted")}
        ctx["states"] = [{"label": STATUS_LABELS.get(r.status, r.status), "s": r.stat} for r in report.states]
        ctx["waiting"] = [{"label": STATUS_LABELS.get(r.status, r.status), "s": r.stat} for r in report.waiting]
        ctx["by_channel"] = [{"label": CHANNEL_LABELS.get(g.key, g.key), "g": g,
                              "stp": None if not g.decided else round(100 * g.straight_through / g.decided, 2)}
                             for g in report.by_channel]
        ctx["by_branch"] = [{"label": labels.branch_name(g.label, g.label_en), "g": g,
                             "stp": None if not g.decided else round(100 * g.straight_through / g.decided, 2)}
                            for g in report.by_branch]
        ctx["form_steps"] = [{"label": step_labels.get(s.step, s.step), "s": s} for s in report.form]
        ctx["chart"] = {
            "labels": {"median": _("Median (h)"), "p90": _("p90 (h)"), "reached": _("Reached"),
                       "decision": _("Time to decision, median (h)"), "cash": _("Time to cash, median (h)")},
            "states": {"names": [r["label"] for r in ctx["states"]],
                       "median": [r["s"].median_h for r in ctx["states"]],
                       "p90": [r["s"].p90_h for r in ctx["states"]]},
            "funnel": [{"name": r["label"], "value": r["s"].reached} for r in ctx["form_steps"]],
            "channel": {"names": [r["label"] for r in ctx["by_channel"]],
                        "decision": [r["g"].to_decision.median_h for r in ctx["by_channel"]],
                        "cash": [r["g"].to_cash.median_h for r in ctx["by_channel"]]},
            "branch": {"names": [r["label"] for r in ctx["by_branch"]],
                       "decision": [r["g"].to_decision.median_h for r in ctx["by_branch"]],
                       "cash": [r["g"].to_cash.median_h for r in ctx["by_branch"]]},
        }
    return render(request, "origination/analytics.html", ctx, status=422 if errors else 200)


# --- the case --------------------------------------------------------------------------------------------

def _reason_choices(action: str) -> list[tuple[str, Any]]:
    """The reasons of an action, after an empty first choice: a decisive action's reason is chosen, never
    preselected (issue 20)."""
    return [("", _("— choose —")), *((c, labels.label("reason", c)) for c in services.reason_codes(action))]


def _case(request: HttpRequest, ref: str, *, error: str = "", status: int = 200,
          forms: dict[str, Any] | None = None) -> HttpResponse:
    user = request.user
    case = services.application_case(user, ref)
    v = case.application
    zh = labels.chinese()
    products = labels.product_names(services.all_products())
    history = [{"t": t, "from_label": labels.label("status", t.from_status), "to_label": labels.label("status", t.to_status),
                "text": labels.transition_text(t.reason, reasons=v.reasons_zh if zh else v.reasons,
                                               outcome=v.decision_outcome),
                "actor": labels.actor_text(t.actor)} for t in case.transitions]
    if user.role == "customer":
        return render(request, "origination/outcome.html", {
            "case": case, "v": v, "reasons": v.reasons_zh if zh else v.reasons,
            "apr_pct": _pct(v.decision.get("apr")), "rate_pct": _pct(v.rate),
            "status_label": labels.label("status", v.status), "error": error,
            "product_label": labels.pick(products, v.product),
            "inputs": [(_input_label(k), _shown(k, val), _source(v, k)) for k, val in v.inputs.items()
                       if k in INPUT_FIELDS],
            "info_form": InfoForm(prefix="info", requested=v.requested_inputs),
            "asked_for": [_input_label(k) for k in v.requested_inputs],
            "withdraw_form": (forms or {}).get("withdraw") or WithdrawForm(prefix="withdraw"),
            "confirm_withdraw": _("Withdraw application %(ref)s? This cannot be undone.") % {"ref": v.ref},
        }, status=status)
    forms = forms or {}
    decision = v.decision
    ctx = {
        "case": case, "v": v, "error": error, "status_label": labels.label("status", v.status),
        "channel_label": labels.label("channel", v.channel), "outcome_label": labels.label("outcome", v.decision_outcome),
        "product_label": labels.pick(products, v.product), "branch_label": _branch_name(v),
        "level_label": labels.label("level", v.required_level),
        "inputs": [(_decision_input_label(k), k, _shown(k, val), _source(v, k)) for k, val in sorted(v.inputs.items())],
        "asked_for": [_input_label(k) for k in v.requested_inputs],
        "rules": [_rule(r, zh) for r in decision.get("rules_fired") or []],
        "limit_steps": [_step(x, zh) for x in decision.get("limit_steps") or []],
        "price_steps": [_step(x, zh) for x in decision.get("price_steps") or []],
        "reasons": v.reasons_zh if zh else v.reasons, "policy_version": decision.get("policy_version"),
        "apr_pct": _pct(decision.get("apr")), "rate_pct": _pct(v.rate),
        "quota_label": labels.label("quota", v.quota_status),
        "info_form_customer": InfoForm(prefix="info", requested=v.requested_inputs),
        "transitions": history,
        "approvals": [{"a": a, "reason_label": labels.label("reason", a.reason_code),
                       "decision_label": labels.label("decision", a.decision)} for a in case.approvals],
        "quotas": case.quotas, "panel": _panel_rows(case.panel),
        "approve_form": forms.get("approve") or ReviewForm(reasons=_reason_choices("approve"), prefix="approve"),
        "decline_form": forms.get("decline") or ReviewForm(reasons=_reason_choices("decline"), prefix="decline"),
        "withdraw_form": forms.get("withdraw") or WithdrawForm(prefix="withdraw"),
        "info_form": forms.get("info") or _info_request_form(v),
        "decision_url": _decision_url(v.decision_id),
        "why_not": _why(case.may_approve[1]),
        "confirm": {
            "approve": _("Approve application %(ref)s for %(amount)s yuan? The plan's quota is reserved for it.") % {
                "ref": v.ref, "amount": format_minor(v.approved_amount_minor or v.amount_minor, v.currency)},
            "decline": _("Decline application %(ref)s? The customer is told; this cannot be undone.") % {"ref": v.ref},
            "withdraw": _("Withdraw application %(ref)s? Any quota held for it goes back to the plan; this cannot be "
                          "undone.") % {"ref": v.ref}},
    }
    timer = sla.timers([v]).get(v.id)  # the service level of the wait it is in now, if its state has one
    ctx.update(timer=timer, timer_label=labels.label("timer", timer.state) if timer else "",
               escalations=[{"e": e, "status_label": labels.label("status", e.status)}
                            for e in sla.case_escalations(v.id)])
    return render(request, "origination/detail.html", ctx, status=status)


def _why(why: Any) -> str:
    """Why the user may not approve, in the page's language (the check's code when it carries one)."""
    code = getattr(why, "code", "")
    return origination_problem(code, str(why), extra=getattr(why, "extra", None)) if code else str(why)


def _panel_rows(panel: Any) -> dict[str, Any] | None:
    """The quota panel: every measure that can refuse the approval, in words."""
    if panel is None:
        return None
    rows = []
    for m in panel.measures:
        what = labels.label("measure", m.kind)
        rows.append({"m": m, "what": what, "label": m.label, "mode": labels.label("mode", m.mode),
                     "verdict": labels.label("verdict", m.verdict)})
    limiting = panel.limiting
    return {"plan": panel.plan, "plan_name": panel.plan_name, "rows": rows, "reserved": panel.reserved,
            "amount_minor": panel.amount_minor, "refusing": bool(panel.refusing),
            "limiting": None if limiting is None else {"what": labels.label("measure", limiting.kind),
                                                       "label": limiting.label,
                                                       "available_minor": limiting.available_minor}}


def _source(v: services.ApplicationView, key: str) -> Any:
    """Where an input came from, in words."""
    return SOURCE_LABELS.get(v.input_sources.get(key, ""), NO_SOURCE)


def _info_request_form(v: services.ApplicationView, data: Any = None) -> InfoRequestForm:
    return InfoRequestForm(data, reasons=_reason_choices("request_info"), prefix="info",
                           requestable=[(k, INPUT_LABELS.get(k, k)) for k in services.requestable_inputs(v)])


def _pct(value: Any) -> str:
    """A rate as a fraction ("0.0495" or Decimal) → "4.95 %" (exact to the hundredth of a percent)."""
    if value in (None, "", "0"):
        return ""
    try:
        return f"{Decimal(str(value)) * 100:.2f} %"
    except InvalidOperation:
        return str(value)


def _rule(r: Any, zh: bool) -> dict[str, Any]:
    """A fired rule as the page shows it: its table, its message in the page's language, its outcome."""
    if not isinstance(r, dict):
        return {"text": str(r), "table": "", "outcome": "", "reason": "", "outcome_label": "", "set_aside": False}
    text = r.get("message_zh" if zh else "message_en") or r.get("description") or r.get("reason") or ""
    return {"text": text, "table": r.get("table", ""), "outcome": r.get("outcome", ""), "reason": r.get("reason", ""),
            "outcome_label": labels.label("outcome", r.get("outcome", "")), "set_aside": bool(r.get("set_aside"))}


def _step(x: Any, zh: bool) -> str:
    if isinstance(x, dict):
        return str(x.get("zh" if zh else "en") or x.get("en") or x.get("step") or "")
    return str(x)


def _shown(key: str, value: Any) -> Any:
    """Fen as yuan, the form's choices and the scorecard's codes in words, for people (the inputs keep the
    decision's units and codes)."""
    choice = labels.choice_label(key, value)
    if choice is not None:
        return choice
    if key.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool):
        return format_minor(value)
    if isinstance(value, bool):
        return labels.label("boolean", str(value))
    if isinstance(value, list):
        return ", ".join(str(_feature_value(key, x) or x) for x in value) or pgettext("applicant data", "None")
    feature = _feature_value(key, value)
    return feature if feature is not None else value


def _decision_url(decision_id: int | None) -> str:
    from django.urls import NoReverseMatch, reverse

    if decision_id is None:
        return ""
    try:
        return reverse("decisions:decision", args=[decision_id])
    except NoReverseMatch:
        return ""


@login_required
def application(request: HttpRequest, ref: str) -> HttpResponse:
    return _case(request, ref)


def _review(request: HttpRequest, ref: str, action: str) -> HttpResponse:
    prefix = {"approve": "approve", "decline": "decline", "request_info": "info"}[action]
    if action == "request_info":
        form: ReviewForm = _info_request_form(services.get_application(request.user, ref), request.POST)
    else:
        form = ReviewForm(request.POST, reasons=_reason_choices(action), prefix=prefix)
    if not form.is_valid():
        error = _("Choose a reason.") if "reason_code" in form.errors else " ".join(
            str(e) for errs in form.errors.values() for e in errs)
        return _case(request, ref, error=error, status=422, forms={prefix: form})
    fn = {"approve": services.approve, "decline": services.decline, "request_info": services.request_info}[action]
    extra = {"inputs": form.cleaned_data["inputs"]} if action == "request_info" else {}
    try:
        v = fn(request.user, ref, form.cleaned_data["reason_code"], form.cleaned_data["note"], **extra)
    except CreditplanError as exc:
        if isinstance(exc, NotFound):
            raise
        first = exc.problems[0] if exc.problems else FieldProblem("", exc.message, exc.code)
        return _case(request, ref, error=origination_problem(first.code, exc.message, first.field, exc.extra),
                     status=exc.http_status, forms={prefix: form})
    if action == "approve" and v.status == "referred":
        messages.success(request, _("Your approval is recorded (%(n)s of %(m)s): a second approver must also "
                                    "approve.") % {"n": v.approvals, "m": v.required_approvals})
    else:
        messages.success(request, _("Application %(ref)s: %(status)s.") % {
            "ref": v.ref, "status": STATUS_LABELS.get(v.status, v.status)})
    return redirect("origination:application", ref=ref)


@login_required
@require_POST
def approve(request: HttpRequest, ref: str) -> HttpResponse:
    return _review(request, ref, "approve")


@login_required
@require_POST
def decline(request: HttpRequest, ref: str) -> HttpResponse:
    return _review(request, ref, "decline")


@login_required
@require_POST
def request_info(request: HttpRequest, ref: str) -> HttpResponse:
    return _review(request, ref, "request_info")


@login_required
@require_POST
def provide_info(request: HttpRequest, ref: str) -> HttpResponse:
    # Read with every field an applicant may state: the service refuses, by name, any the reviewer did not ask for.
    form = InfoForm(request.POST, prefix="info", requested=INPUT_FIELDS)
    if _refuse_unexpected(form, request.POST) or not form.is_valid():
        return _case(request, ref, error=" ".join(str(e) for errs in form.errors.values() for e in errs), status=422)
    try:
        services.provide_info(request.user, ref, form.inputs(), form.cleaned_data.get("note", ""))
    except CreditplanError as exc:
        if isinstance(exc, NotFound):
            raise
        problems = exc.problems or [FieldProblem("", exc.message, exc.code)]
        return _case(request, ref, error=" ".join(origination_problem(p.code, p.message, p.field) for p in problems),
                     status=exc.http_status)
    messages.success(request, _("Thank you: your application is back in review."))
    return redirect("origination:application", ref=ref)


@login_required
@require_POST
def withdraw(request: HttpRequest, ref: str) -> HttpResponse:
    """Withdraw: a reason chosen from the list (nothing preselected), after the page's confirmation."""
    form = WithdrawForm(request.POST, prefix="withdraw")
    if not form.is_valid():
        return _case(request, ref, error=_("Choose a reason."), status=422, forms={"withdraw": form})
    try:
        services.withdraw(request.user, ref, form.reason_text())
    except CreditplanError as exc:
        if isinstance(exc, NotFound):
            raise
        return _case(request, ref, error=origination_problem(exc.code, exc.message), status=exc.http_status)
    messages.success(request, _("The application was withdrawn."))
    return redirect("origination:application", ref=ref)
