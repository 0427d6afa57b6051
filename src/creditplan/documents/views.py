"""Document and contract pages: upload (a refused file is shown on the upload page with the reason next to the
file field and the chosen kind kept), view a version in the browser, offer / sign / disburse the contract.
Views call services only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, NotFound, ValidationError
from creditplan.documents import contracts, domain, services, storage
from creditplan.documents.api import serving_headers

KIND_LABELS = {"id_document": gettext_lazy("Identity document"), "income_proof": gettext_lazy("Proof of income"),
               "bank_statement": gettext_lazy("Bank statement"), "other": gettext_lazy("Other document"),
               "contract": gettext_lazy("Loan contract")}
_TEXT = {
    "all_in_cost_above_ceiling": gettext_lazy("The loan's annualised all-in cost (rate, fees or penalty rate) is "
                                              "above the lender's ceiling: it cannot be paid out on these terms."),
    "empty_file": gettext_lazy("The file is empty."),
    "file_too_large": gettext_lazy("The file is too large: at most 10 MB."),
    "unsupported_type": gettext_lazy("Only PDF, JPEG or PNG files are accepted."),
    "content_mismatch": gettext_lazy("The file's content does not match its name: only real PDF, JPEG or PNG "
                                     "files are accepted."),
    "unreadable_file": gettext_lazy("The file is damaged or cannot be read."),
    "pdf_encrypted": gettext_lazy("The PDF is password-protected: upload it without a password."),
    "pdf_not_at_start": gettext_lazy("The file has something before its PDF header: save or print it again as a "
                                     "PDF and upload that."),
    "pdf_active_content": gettext_lazy("The PDF contains scripts or embedded files that could not be removed: "
                                       "print it to a new PDF and upload that."),
    "image_too_large": gettext_lazy("The image has too many pixels."),
    "required": gettext_lazy("Choose a file to upload."),
    "unknown_kind": gettext_lazy("Choose what kind of document this is."),
    "application_closed": gettext_lazy("This application is closed: documents can no longer be added."),
    "wrong_password": gettext_lazy("The password is not correct."),
    "wrong_id_last4": gettext_lazy("The last 4 characters of your ID number do not match."),
    "signing_locked": gettext_lazy("Signing is locked after too many failed identity checks: please contact your "
                                   "branch."),
    "contract_changed": gettext_lazy("The contract changed after you opened it: please read it again."),
    "illegal_transition": gettext_lazy("This step is not possible in the application's current state."),
    "permission_denied": gettext_lazy("You are not allowed to do this."),
    "application_disbursed": gettext_lazy("This application has already been paid out."),
    "application_not_ready": gettext_lazy("Only an approved application whose contract the customer has signed can "
                                          "be paid out."),
    "application_mismatch": gettext_lazy("The payout differs from the terms the customer signed."),
    "above_approval": gettext_lazy("The payout is above the amount approved and signed."),
    "date_closed": gettext_lazy("Today's close has already run: the payout can be made on the next business day."),
}


def document_problem(exc: CreditplanError) -> str:
    text = _TEXT.get(exc.code)
    if text is None:  # the common codes (a payout's value date, issue 20) in the page's language
        return problem_text(exc.code, exc.message, exc.extra)
    if text is None or (get_language() or "en").startswith("en"):
        return exc.message[:1].upper() + exc.message[1:]
    if exc.code == "file_too_large":
        return f"{text} ({exc.message})"
    return str(text)


# The stored file's type in words (the content type is read from the file itself).
TYPE_LABELS = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


def why_not_text(panel: Any) -> str:
    """Why the contract cannot be signed now, in the page's language ("" when it can)."""
    if not panel.why_not_sign:
        return ""
    return document_problem(CreditplanError(panel.why_not_sign, code=panel.why_not_code or "request_failed"))


def _kind_choices() -> list[tuple[str, Any]]:
    return [(k.value, KIND_LABELS[k.value]) for k in domain.UPLOAD_KINDS]


def _back(ref: str, anchor: str = "documents") -> str:
    return reverse("origination:application", args=[ref]) + f"#{anchor}"


@login_required
def upload(request: HttpRequest, ref: str) -> HttpResponse:
    """GET: the upload form alone; POST: store the file and go back to the application page."""
    ctx: dict[str, Any] = {"ref": ref, "kinds": _kind_choices(), "kind": request.POST.get("kind", "income_proof"),
                           "error": "", "max_mb": storage.max_bytes() // 1_048_576}
    services.panel(request.user, ref)  # 404 for an application the user may not see
    if request.method != "POST":
        return render(request, "documents/upload.html", ctx)
    f = request.FILES.get("file")
    try:
        data = None
        if f is not None:
            domain.check_size(f.size or 0, storage.max_bytes())
            data = f.read()
        v = services.upload(request.user, ref, kind=request.POST.get("kind", ""), filename=f.name if f else None,
                            data=data, claimed_type=getattr(f, "content_type", "") or "")
    except CreditplanError as exc:
        if isinstance(exc, NotFound) or exc.http_status == 401:
            raise
        ctx["error"] = document_problem(exc)
        ctx["error_field"] = exc.field or ""
        return render(request, "documents/upload.html", ctx, status=exc.http_status)
    messages.success(request, _("%(kind)s uploaded: %(name)s (version %(n)s).") % {
        "kind": KIND_LABELS.get(v.kind, v.kind), "name": v.filename, "n": v.version})
    if v.removed:
        messages.warning(request, _("Scripts, automatic actions and embedded files were removed from the PDF: the "
                                    "stored copy shows the same pages without them."))
    return redirect(_back(ref))


#: What the browser may show itself (the links of the application and signing pages open these in a tab);
#: anything else is a download.
INLINE_TYPES = frozenset(t.content_type for t in domain.TYPES)


@login_required
def view_version(request: HttpRequest, version_id: int) -> HttpResponse:
    """The file itself, decrypted, shown by the browser (inline, in a sandbox) with the type read from its
    content; a type the browser should not render is downloaded."""
    v, data = services.open_version(request.user, version_id)
    response = HttpResponse(data, content_type=v.content_type)
    response["Content-Disposition"] = content_disposition_header(v.content_type not in INLINE_TYPES, v.filename)
    response["Content-Length"] = str(len(data))
    return serving_headers(response)


@login_required
@require_POST
def offer(request: HttpRequest, ref: str) -> HttpResponse:
    try:
        contracts.offer_contract(request.user, ref)
    except CreditplanError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, document_problem(exc))
    else:
        messages.success(request, _("The contract was generated and offered to the customer for signature."))
    return redirect(_back(ref, "contract"))


@login_required
def sign(request: HttpRequest, ref: str) -> HttpResponse:
    """The customer reads the contract (PDF link and the key terms) and signs with their password again."""
    panel = contracts.contract_panel(request.user, ref)
    ctx: dict[str, Any] = {"ref": ref, "panel": panel, "errors": {}, "error": "", "why_not": why_not_text(panel)}
    if request.method == "POST":
        try:
            contracts.sign_contract(
                request.user, ref, password=request.POST.get("password", ""),
                id_last4=request.POST.get("id_last4", ""), seen_sha256=request.POST.get("sha256", ""),
                ip=request.META.get("REMOTE_ADDR", ""), user_agent=request.META.get("HTTP_USER_AGENT", ""))
        except CreditplanError as exc:
            if isinstance(exc, NotFound):
                raise
            if isinstance(exc, ValidationError) and exc.field:
                ctx["errors"] = {exc.field: document_problem(exc)}
                left = exc.extra.get("attempts_left")
                if left is not None:
                    ctx["error"] = _("Attempts left: %(n)s.") % {"n": left}
            else:
                ctx["error"] = document_problem(exc)
            ctx["panel"] = contracts.contract_panel(request.user, ref)
            ctx["why_not"] = why_not_text(ctx["panel"])
            ctx["id_last4"] = request.POST.get("id_last4", "")
            return render(request, "documents/sign.html", ctx, status=exc.http_status)
        messages.success(request, _("Thank you: the contract is signed. We will pay out the loan shortly."))
        return redirect(_back(ref, "contract"))
    return render(request, "documents/sign.html", ctx)


@login_required
@require_POST
def disburse(request: HttpRequest, ref: str) -> HttpResponse:
    try:
        c = contracts.disburse_application(request.user, ref, value_date=request.POST.get("value_date") or None)
    except CreditplanError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, document_problem(exc))
    else:
        messages.success(request, _("Disbursed as loan %(loan)s.") % {"loan": c.loan_ref})
    return redirect(_back(ref, "contract"))
