"""Model registry pages: list, upload, a version with its validation report, and the governance actions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.access import Perm, may, require
from creditplan.core.errors import CreditplanError
from creditplan.scoring import labels, services
from creditplan.scoring.api import report_headers
from creditplan.scoring.domain.report import report_language_style


def _zh() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


class UploadForm(forms.Form):
    model = forms.SlugField(label=gettext_lazy("Model name"), max_length=60, initial="retail-pd")
    artifact = forms.FileField(label=gettext_lazy("Model file (JSON, written by the training command)"))
    report = forms.FileField(label=gettext_lazy("Validation report (HTML, optional)"), required=False)


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    versions = services.list_versions(request.user)
    return render(request, "scoring/models.html", {
        "versions": versions, "may_manage": may(request.user, Perm.MODEL_MANAGE),
    })


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    require(request.user, Perm.MODEL_MANAGE)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            artifact = form.cleaned_data["artifact"].read().decode("utf-8")
            report = form.cleaned_data["report"].read().decode("utf-8") if form.cleaned_data["report"] else ""
            v = services.register_version(request.user, model_name=form.cleaned_data["model"], artifact=artifact,
                                          report_html=report)
        except UnicodeDecodeError:
            form.add_error("artifact", _("The file is not UTF-8 text."))
        except CreditplanError as exc:
            form.add_error("artifact" if exc.field in (None, "artifact") else None, exc.message)
        else:
            messages.success(request, _("Registered %(model)s version %(n)s as a draft.") % {"model": v.model, "n": v.number})
            return redirect("scoring:version", version_id=v.id)
    return render(request, "scoring/upload.html", {"form": form}, status=422 if form.errors else 200)


@login_required
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    v = services.get_version(request.user, version_id)
    user = request.user
    return render(request, "scoring/version.html", {
        "v": v,
        "may_manage": may(user, Perm.MODEL_MANAGE),
        "may_approve": may(user, Perm.MODEL_APPROVE) and v.author != user.username,
        "is_author": v.author == user.username,
    })


@login_required
def report(request: HttpRequest, version_id: int) -> HttpResponse:
    """The uploaded report, shown in the version page's frame: sandboxed (scoring.api.REPORT_CSP), never run in
    the viewer's session; a report written in both languages shows the page's (`report_language_style`). Opened by
    itself (not in a frame), the address leads to the version's page, which shows the report with the navigation."""
    html = services.report_html(request.user, version_id)
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return redirect(f"{reverse('scoring:version', args=[version_id])}#report-frame")
    style = report_language_style("zh" if _zh() else "en")
    html = html.replace("</head>", f"{style}</head>", 1) if "</head>" in html else style + html
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["X-Frame-Options"] = "SAMEORIGIN"
    return report_headers(response)


@login_required
def artifact(request: HttpRequest, version_id: int) -> HttpResponse:
    v = services.get_version(request.user, version_id)
    response = HttpResponse(services.artifact_json(request.user, version_id), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{v.model}-v{v.number}.json"'
    return response


_ACTIONS = {
    "validate": services.validate_version,
    "approve": services.approve_version,
    "champion": services.promote_champion,
    "retire": services.retire_version,
}


@login_required
@require_POST
def act(request: HttpRequest, version_id: int, action: str) -> HttpResponse:
    if action not in _ACTIONS:
        raise Http404(action)
    try:
        v = _ACTIONS[action](request.user, version_id)
    except CreditplanError as exc:
        if exc.http_status in (401, 403, 404):
            raise
        messages.error(request, problem_text(exc.code, exc.message))
    else:
        messages.success(request, _("%(model)s v%(n)s is now %(status)s.") % {
            "model": v.model, "n": v.number, "status": labels.label("status", v.status)})
    return redirect("scoring:version", version_id=version_id)
