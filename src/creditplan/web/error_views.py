"""The pages a user meets when a request fails: 400, 403, 404, 500 and a refused CSRF token, in the reader's language
and in the site's layout, with a way home. Never Django's debug page (DEBUG is CREDITPLAN_DEBUG, off unless a
developer turns it on), never a traceback, a URL list or a developer's message.

/api/ paths answer problem+json instead (RFC 9457, English, with a stable `code`), like every other API error.

Why a fallback page: a 500 may come from the database or a template itself, and rendering the layout (the menu reads
the user's role) can fail the same way; then a small page of its own is served, still in the reader's language.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

log = logging.getLogger(__name__)

# Titles and sentences per status; the English source goes through gettext when the page is rendered.
_PAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", gettext_noop("The request could not be read"),
          gettext_noop("The page could not understand what was sent. Go back and try again; if it happens again, "
                       "start from the home page.")),
    403: ("forbidden", gettext_noop("Not allowed"),
          gettext_noop("Your role may not open this page or do this action. If you think you should, ask your "
                       "administrator.")),
    404: ("not_found", gettext_noop("Page not found"),
          gettext_noop("There is no page at this address, or what it showed no longer exists. Check the address, "
                       "or start again from the home page.")),
    500: ("server_error", gettext_noop("Something went wrong"),
          gettext_noop("The system could not finish this request. Nothing was changed by the failed step; try again "
                       "in a moment. If it keeps happening, tell your administrator the time it happened.")),
}
_CSRF = (gettext_noop("The form has expired"),
         gettext_noop("The form was open too long or was sent from another page, so it was not accepted. Reload the "
                      "page and send it again."))
_API_TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 500: "Internal server error"}


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _problem(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    body = {"type": f"https://creditplan.dev/problems/{code}", "title": _API_TITLES.get(status, "Request failed"),
            "status": status, "detail": detail, "code": code}
    return HttpResponse(json.dumps(body), status=status, content_type="application/problem+json")


def _language(request: HttpRequest) -> str:
    """The reader's language: the one LocaleMiddleware activated, else the one the request asks for (a failure
    before the middleware ran)."""
    current = translation.get_language()
    return current or translation.get_language_from_request(request)


def render_error(request: HttpRequest, status: int, title: str, text: str, **extra: Any) -> HttpResponse:
    """An error page in the site's layout (`web/error.html`); a page of its own when the layout cannot be drawn."""
    with translation.override(_language(request)):
        context = {"title": title, "message": text, "status": status, **extra}
        try:
            html = render_to_string("web/error.html", context, request=request)
        except Exception:  # the layout itself failed (database down, broken template): say it without it
            log.exception("error page %s could not be rendered in the layout", status)
            html = _bare_page(title, text)
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")


def _bare_page(title: str, text: str) -> str:
    lang = translation.get_language() or "zh-hans"
    return (f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title></head>'
            f'<body><main><h1>{escape(title)}</h1><p role="alert">{escape(text)}</p>'
            f'<p><a href="/">{escape(_("Home page"))}</a></p></main></body></html>')


def _page(request: HttpRequest, status: int) -> HttpResponse:
    code, title, text = _PAGES[status]
    if _is_api(request):
        return _problem(request, status, code, _API_TITLES[status].lower())
    with translation.override(_language(request)):
        return render_error(request, status, _(title), _(text))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _page(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with a missing or stale CSRF token (settings.CSRF_FAILURE_VIEW): Django's own page is English
    and technical; this one says what to do, in the reader's language."""
    if _is_api(request):
        return _problem(request, 403, "csrf_failed", "CSRF verification failed: send the X-CSRFToken header")
    with translation.override(_language(request)):
        return render_error(request, 403, _(_CSRF[0]), _(_CSRF[1]))
