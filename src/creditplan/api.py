"""The JSON API root: authentication, and the one place errors become problem+json.

Every domain adds its router here. Errors raised anywhere below (core.errors) and pydantic's input
errors come out as RFC 9457 problem details with a stable `code` and the offending `field`; nothing a
client sends can produce a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from creditplan.core.errors import CreditplanError, Problem, to_problem
from creditplan.org import services as org

log = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return org.user_for_token(token)


class SessionCookie(APIKeyCookie):
    """The browser's session (pages call the API with HTMX); CSRF is checked for unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


api = NinjaAPI(
    title="creditplan API",
    version="1",
    description="Credit management platform: customers, credit plan, scoring, decisions, origination, loans.",
    urls_namespace="api-v1",
    auth=[BearerToken(), SessionCookie()],
    docs_url="/docs",
)


def problem_response(problem: Problem) -> HttpResponse:
    import json

    return HttpResponse(
        json.dumps(problem.as_dict(), ensure_ascii=False, default=str),
        status=problem.status,
        content_type="application/problem+json",
    )


@api.exception_handler(CreditplanError)
def _creditplan_error(request: HttpRequest, exc: CreditplanError) -> HttpResponse:
    return problem_response(to_problem(exc))


_UNION_TAGS = {"str", "int", "float", "bool", "decimal", "list", "dict", "none", "date", "datetime"}


def _field_name(loc: list[Any]) -> str:
    """The input field a pydantic error points at, without the branch names of a union type (`amount.str`)."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "form", "header")]
    while len(parts) > 1 and (parts[-1] in _UNION_TAGS or parts[-1].startswith(("function-", "literal["))):
        parts.pop()
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def _input_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for err in exc.errors:
        field = _field_name(list(err.get("loc", [])))
        errors.append({"field": field, "message": str(err.get("msg", "invalid")), "code": str(err.get("type"))})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"
    return problem_response(Problem(422, "Invalid input", detail, "validation_error", errors))


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(Problem(401, "Authentication required",
                                    "send 'Authorization: Bearer <token>' (POST /api/v1/auth/token) or log in",
                                    "not_authenticated"))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(Problem(exc.status_code, "Request failed", str(exc), "http_error"))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unexpected error on %s", request.path)
    return problem_response(Problem(500, "Internal error", "an unexpected error occurred; it has been logged",
                                    "internal_error"))


def _register() -> None:
    from creditplan.customers.api import router as customers_router
    from creditplan.decisions.api import router as decisions_router
    from creditplan.documents.api import contracts_router
    from creditplan.documents.api import router as documents_router
    from creditplan.integration.api import router as integration_router
    from creditplan.ledger.api import router as ledger_router
    from creditplan.lines.api import router as lines_router
    from creditplan.loans.api import router as loans_router
    from creditplan.org.api import router as org_router
    from creditplan.origination.api import router as origination_router
    from creditplan.plans.api import groups_router
    from creditplan.plans.api import router as plans_router
    from creditplan.risk.api import router as risk_router
    from creditplan.risk.warning_api import router as early_warning_router
    from creditplan.scoring.api import router as scoring_router

    api.add_router("/auth", org_router)
    api.add_router("/customers", customers_router)
    api.add_router("/ledger", ledger_router)
    api.add_router("/models", scoring_router)
    api.add_router("/plans", plans_router)
    api.add_router("/groups", groups_router)  # customer groups (issue 19 §2), beside the plans
    api.add_router("/lines", lines_router)
    api.add_router("/loans", loans_router)
    api.add_router("/decisions", decisions_router)
    api.add_router("/applications", origination_router)
    api.add_router("/documents", documents_router)
    api.add_router("/contracts", contracts_router)
    api.add_router("/integration", integration_router)
    api.add_router("/risk", risk_router)
    api.add_router("/early-warning", early_warning_router)


_register()
