"""A user with a temporary password (given by an administrator, org.services.reset_password / admin_create_user)
may open only their password page until they have chosen their own: every other page sends them there."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

_OPEN_PREFIXES = ("/static/", "/i18n/", "/logout/", "/login/", "/healthz")


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and getattr(user, "must_change_password", False)
                and not request.path.startswith(_OPEN_PREFIXES)):
            target = reverse("org:password")
            if request.path != target:
                return redirect(target)
        return self.get_response(request)
