"""Log-in forms, throttled (org/throttle.py): the pages' and the Django admin's, so that no log-in form checks a
password without first asking the throttle."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import ngettext

from creditplan.core.errors import CreditplanError
from creditplan.org import services as org


def throttled_text(seconds: int) -> str:
    """A log-in refused by the throttle, as a sentence saying when to try again (rounded up)."""
    if seconds < 120:
        return ngettext("Too many failed log-ins. Try again in %(n)d second.",
                        "Too many failed log-ins. Try again in %(n)d seconds.", seconds) % {"n": seconds}
    minutes = -(-seconds // 60)
    return ngettext("Too many failed log-ins. Try again in %(n)d minute.",
                    "Too many failed log-ins. Try again in %(n)d minutes.", minutes) % {"n": minutes}


class ThrottledLogin:
    """For a subclass of Django's AuthenticationForm: the password goes through org.authenticate_login, throttled
    per user name and per address before it is checked. `throttled` holds the refusal's sentence, `retry_after`
    its seconds (0 when the form was not throttled)."""

    throttled = ""
    retry_after = 0

    def clean(self) -> dict[str, Any]:
        form: Any = self
        username, password = form.cleaned_data.get("username"), form.cleaned_data.get("password")
        if username is not None and password:
            try:
                form.user_cache = org.authenticate_login(
                    username=username, password=password, address=org.client_address(form.request.META),
                    request=form.request)
            except org.TooManyAttempts as exc:
                self.retry_after, self.throttled = exc.retry_after, throttled_text(exc.retry_after)
                raise forms.ValidationError(self.throttled, code="throttled")
            except CreditplanError:
                raise form.get_invalid_login_error()
            form.confirm_login_allowed(form.user_cache)
        return form.cleaned_data


class LoginForm(ThrottledLogin, AuthenticationForm):
    """The log-in page's form."""


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    """The Django admin's log-in form (staff only, as Django's)."""
