"""Integration pages: webhook receivers (create — the secret is shown once —, deactivate), the delivery log with
filters, one delivery with its attempts and a redeliver button; and a customer's own notifications."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError
from creditplan.integration import services
from creditplan.ledger import labels as words
from creditplan.org import services as org
from creditplan.org.domain import Perm

STATUS_LABELS = {"pending": pgettext_lazy("webhook delivery", "Waiting"), "failed": gettext_lazy("Failed, will retry"),
                 "delivered": gettext_lazy("Delivered"), "dead": gettext_lazy("Given up"),
                 "sent": gettext_lazy("Sent")}
_REFUSED = gettext_lazy("Not sent: the receiver's address is not allowed (an internal address, or http where https "
                        "is required). Webhooks go to public https addresses, or to the bank's own networks listed "
                        "in CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS.")
# What the webhook page offers as examples of event patterns (shown as words, the pattern in <code> beside).
_PATTERN_EXAMPLES = ("application.*", "loan.*", "risk.*", "application.approved", "risk.alert_raised")
_SIGNATURE_HEADER = "X-Creditplan-Signature"
_REDIRECTED = gettext_lazy("The receiver answered with a redirect, which is not followed: give its final URL.")


def answer_text(error: str) -> str:
    """A delivery's error for the page: on an English page as recorded; on any other, the refusals and redirects
    this system words itself are translated (a receiver's own status line is shown as it came)."""
    if not error or (get_language() or "en").startswith("en"):
        return error
    if error.startswith("refused:"):
        return str(_REFUSED)
    if "redirects are not followed" in error:
        return f"{error.split(':', 1)[0]} · {_REDIRECTED}"
    return error


@login_required
def webhooks(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.INTEGRATION_MANAGE)
    form = {"name": "", "url": "", "events": "application.*, loan.*"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in form}
        try:
            created = services.create_endpoint(user, name=form["name"], url=form["url"], events=form["events"])
        except CreditplanError as exc:
            if exc.http_status == 403:
                raise
            for p in exc.problems or []:
                errors[p.field if p.field in form else "all"] = problem_text(p.code, p.message)
            if not exc.problems:
                errors["all"] = problem_text(exc.code, exc.message)
        else:
            return render(request, "integration/webhook_created.html", {"created": created})
    return render(request, "integration/webhooks.html", {
        "endpoints": [{"e": e, "patterns": [(p, words.pattern_label(p)) for p in e.events]}
                      for e in services.list_endpoints(user)],
        "form": form, "errors": errors, "header": format_html("<code>{}</code>", _SIGNATURE_HEADER),
        "examples": [(p, words.pattern_label(p)) for p in _PATTERN_EXAMPLES]},
        status=422 if errors else 200)


@login_required
@require_POST
def deactivate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    e = services.deactivate_endpoint(request.user, endpoint_id)
    messages.success(request, _("Webhook %(name)s deactivated: nothing more is sent to it.") % {"name": e.name})
    return redirect("integration:webhooks")


@login_required
def deliveries(request: HttpRequest) -> HttpResponse:
    """The delivery log, one page at a time: filtered by status, webhook and event kind, sorted by a column,
    exported as CSV or Excel with the same filters."""
    from creditplan.common import listing as lists
    from creditplan.org.views import sort_headers

    user = request.user
    filters = {k: request.GET.get(k, "").strip()[:60] for k in ("status", "endpoint", "kind")}
    listing = lists.listing_from(request, sorts=services.DELIVERY_SORTS, default_sort="id", default_descending=True)
    error = ""
    try:
        page = services.page_deliveries(user, listing, status=filters["status"] or None,
                                        endpoint=filters["endpoint"] or None, kind=filters["kind"])
    except CreditplanError as exc:
        if exc.http_status == 403:
            raise
        page, error = lists.paginate([], listing), problem_text(exc.code, exc.message)
    fmt = lists.export_format(request)
    if fmt and not error:
        headers = ["#", _("Webhook"), _("Event"), _("Subject"), _("Status"), _("Attempts"), _("Last answer"),
                   _("Next attempt"), _("Created"), _("Delivered"), _("Event code")]
        rows = ([d.id, d.endpoint_name, words.event_label(d.kind), d.subject_id, str(STATUS_LABELS.get(d.status, d.status)),
                 d.attempts, " ".join(x for x in (f"HTTP {d.last_status_code}" if d.last_status_code else "",
                                                  answer_text(d.last_error)) if x),
                 _local(d.next_attempt_at), _local(d.created_at), _local(d.delivered_at), d.kind] for d in page.items)
        return lists.export_response(rows, headers, fmt, "webhook-deliveries")
    headers = sort_headers(request, page.listing, [
        ("id", "#"), ("webhook", _("Webhook")), ("kind", _("Event")), ("status", _("Status")),
        ("attempts", _("Attempts")), ("next", _("Next attempt"))])
    return render(request, "integration/deliveries.html", {
        **lists.list_context(request, page), "h": {x["key"]: x for x in headers},
        "rows": [{"d": d, "label": STATUS_LABELS.get(d.status, d.status), "error": answer_text(d.last_error),
                  "event": words.event_label(d.kind)} for d in page.items], "filters": filters, "sort": request.GET.get("sort", ""),
        "error": error, "endpoints": services.list_endpoints(user),
        "statuses": [(k, STATUS_LABELS[k]) for k in ("pending", "failed", "delivered", "dead")]})


def _local(when: Any) -> str:
    from django.utils import timezone

    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S") if when else ""


@login_required
def delivery(request: HttpRequest, delivery_id: int) -> HttpResponse:
    detail = services.get_delivery(request.user, delivery_id)
    return render(request, "integration/delivery.html", {
        "detail": detail, "d": detail.delivery, "label": STATUS_LABELS.get(detail.delivery.status, ""),
        "event": words.event_label(detail.delivery.kind),
        "attempts": [{"a": a, "error": answer_text(a.error)} for a in detail.attempts]})


@login_required
@require_POST
def redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    try:
        d = services.redeliver(request.user, delivery_id)
    except CreditplanError as exc:
        if exc.http_status in (403, 404):
            raise
        messages.error(request, problem_text(exc.code, exc.message))
    else:
        if d.status == "delivered":
            messages.success(request, _("Delivered again."))
        else:
            messages.warning(request, _("Sent again but not delivered: %(error)s. It will be retried.")
                             % {"error": answer_text(d.last_error) or d.status})
    return redirect("integration:delivery", delivery_id=delivery_id)


@login_required
def my_notifications(request: HttpRequest) -> HttpResponse:
    items: list[Any] = services.my_notifications(request.user, language=get_language() or "zh-hans")
    return render(request, "integration/notifications.html", {
        "items": [{"n": n, "label": STATUS_LABELS.get(n.status, n.status)} for n in items]})
