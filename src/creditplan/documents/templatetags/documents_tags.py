"""`{% application_documents ref %}`: the documents and contract panel of the application page (staff and the
customer's outcome page), so that origination's templates need one line to show it."""

from __future__ import annotations

from typing import Any

from django import template

from creditplan.documents import contracts, services
from creditplan.documents.views import KIND_LABELS, TYPE_LABELS, _kind_choices, why_not_text

register = template.Library()


@register.inclusion_tag("documents/_panel.html", takes_context=True)
def application_documents(context: template.Context, ref: str) -> dict[str, Any]:
    request = context["request"]
    panel = services.panel(request.user, ref)
    contract = contracts.contract_panel(request.user, ref)
    terms = contract.contract.terms if contract.contract else {}
    return {
        "ref": ref, "panel": panel, "contract": contract, "terms": terms,
        "currency": terms.get("currency") or "CNY",  # the amounts: `|money` on terms' *_minor in the template
        "documents": [{"label": KIND_LABELS.get(d.kind, d.kind), "d": d} for d in panel.documents],
        "kinds": _kind_choices(), "csrf_token": context.get("csrf_token"), "request": request,
        "is_customer": request.user.role == "customer", "why_not_sign": why_not_text(contract),
        "payout": contracts.payout_dates() if contract.may_disburse else None,  # the value date (issue 20)
    }


@register.filter
def doc_type(content_type: str) -> str:
    """A stored file's type in words (PDF, JPEG, PNG) rather than its MIME type."""
    return TYPE_LABELS.get(content_type, content_type)
