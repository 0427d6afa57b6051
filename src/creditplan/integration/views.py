"""Integration pages: webhook receivers (create — the secret is shown once —, deactivate), the delivery log with
filters, one delivery with its attempts and a redeliver button; and a customer's own notifications."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError
from creditplan.integration import services
from creditplan.org import services as org
from creditplan.org.domain import Perm

STATUS_LABELS = {"pending": gettext_lazy("Waiting"), "failed": gettext_lazy("Failed, will retry"),
                 "delivered": gettext_lazy("Delivered"), "dead": gettext_lazy("Given up"),
                 "sent": gettext_lazy("Sent")}
_REFUSED = gettext_lazy("Not sent: the receiver's address is not allowed (an internal address, or http where https "
                        "is required). Webhooks go to public https addresses, or to the bank's own networks listed "
                        "in CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS.")
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
        "endpoints": services.list_endpoints(user), "form": form, "errors": errors},
        status=422 if errors else 200)


@login_required
@require_POST
def deactivate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    e = services.deactivate_endpoint(request.user, endpoint_id)
    messages.success(request, _("Webhook %(name)s deactivated: nothing more is sent to it.") % {"name": e.name})
    return redirect("integration:webhooks")


@login_required
def deliveries(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = {"status": request.GET.get("status", "").strip(), "endpoint": request.GET.get("endpoint", "").strip()}
    error = ""
    try:
        rows = services.list_deliveries(user, status=filters["status"] or None, endpoint=filters["endpoint"] or None)
    except CreditplanError as exc:
        if exc.http_status == 403:
            raise
        rows, error = [], problem_text(exc.code, exc.message)
    return render(request, "integration/deliveries.html", {
        "rows": [{"d": d, "label": STATUS_LABELS.get(d.status, d.status), "error": answer_text(d.last_error)}
                 for d in rows], "filters": filters,
        "error": error, "endpoints": services.list_endpoints(user),
        "statuses": [(k, STATUS_LABELS[k]) for k in ("pending", "failed", "delivered", "dead")]})


@login_required
def delivery(request: HttpRequest, delivery_id: int) -> HttpResponse:
    detail = services.get_delivery(request.user, delivery_id)
    return render(request, "integration/delivery.html", {
        "detail": detail, "d": detail.delivery, "label": STATUS_LABELS.get(detail.delivery.status, ""),
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
