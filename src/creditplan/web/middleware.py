"""Page-level middleware: request bodies capped before they are read; product errors raised under a page
turned into a readable page with the right status (never a 500)."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from creditplan.common.text import error_text
from creditplan.core.errors import CreditplanError


def request_limit(request: HttpRequest) -> int | None:
    """The most bytes this request's body may have: a path's own limit, an upload's (multipart: a document and the
    form around it), else Django's DATA_UPLOAD_MAX_MEMORY_SIZE (None: no limit)."""
    for prefix, limit in getattr(settings, "REQUEST_MAX_BYTES_BY_PATH", {}).items():
        if request.path_info.startswith(prefix):
            return int(limit)
    plain = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/"):
        upload = int(getattr(settings, "UPLOAD_REQUEST_MAX_BYTES", 0) or 0)
        return max(upload, plain or 0) if plain is not None else None
    return None if plain is None else int(plain)


class RequestSizeLimitMiddleware:
    """Refuses a request whose body is too large before anything reads it (first in MIDDLEWARE).

    The size is what Content-Length declares: larger than `request_limit` → 413. A body without a length
    (Transfer-Encoding: chunked) is refused with 411: Django would read it as empty anyway, and nothing here reads
    an unbounded stream. A reverse proxy in front should cap bodies too (nginx: client_max_body_size)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        declared = (meta.get("CONTENT_LENGTH") or "").strip()
        if not declared:
            if meta.get("HTTP_TRANSFER_ENCODING", "").strip():
                return _refuse(request, 411, "length_required", "Length required",
                               "send the request body with a Content-Length header (chunked bodies are not read)",
                               lambda: _("The request was refused: its size was not given."))
            return self.get_response(request)
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size < 0:
            return _refuse(request, 400, "bad_content_length", "Invalid input",
                           "Content-Length is not a number of bytes",
                           lambda: _("The request was refused: its size is not valid."))
        limit = request_limit(request)
        if limit is not None and size > limit:
            mib = f"{limit / 1_048_576:.1f}".removesuffix(".0")
            return _refuse(request, 413, "request_too_large", "Request too large",
                           f"the request body is {size} bytes; at most {limit} bytes are accepted here",
                           lambda: _("The request is too large: at most %(size)s MB can be sent here.")
                           % {"size": mib}, limit=limit)
        return self.get_response(request)


def _refuse(request: HttpRequest, status: int, code: str, title: str, detail: str, page_text: Callable[[], str],
            **extra: int) -> HttpResponse:
    """problem+json for the API (English, with a stable code), a small page in the reader's language otherwise.
    Rendered here without the site's layout: this runs before sessions, users and CSRF exist."""
    if request.path_info.startswith("/api/"):
        body = {"type": f"https://creditplan.dev/problems/{code}", "title": title, "status": status,
                "detail": detail, "code": code, **extra}
        response = HttpResponse(json.dumps(body), status=status, content_type="application/problem+json")
    else:
        with translation.override(translation.get_language_from_request(request)):
            lang = translation.get_language()
            text, back = page_text(), _("Back")
        response = HttpResponse(
            f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8"><title>creditplan</title>'
            f'</head><body><p role="alert">{escape(text)}</p><p><a href="javascript:history.back()">'
            f"{escape(back)}</a></p></body></html>", status=status, content_type="text/html; charset=utf-8")
    return response


class ErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/") or not isinstance(exc, CreditplanError):
            return None
        return render(request, "web/error.html", {"error": exc, "title": _(exc.title), "message": error_text(exc),
                                                  "status": exc.http_status}, status=exc.http_status)
