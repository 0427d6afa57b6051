"""Turns product errors raised under a page into a readable page with the right status (never a 500)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from creditplan.core.errors import CreditplanError
from creditplan.web.views import problem_text


class ErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/") or not isinstance(exc, CreditplanError):
            return None
        return render(request, "web/error.html", {"error": exc, "message": problem_text(exc.code, exc.message)},
                      status=exc.http_status)
