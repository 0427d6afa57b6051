"""Log-in forms, throttled (org/throttle.py): the pages' and the Django admin's, so that no log-in form checks a
password without first asking the throttle."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
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


# ---- administration pages (issue 20 §6) ----
# Choices are filled per request (labels in the page's language; branches from the service). A decisive action's
# reason is a <select required> whose first option is an empty "— choose —": nothing is preselected.

def _choose() -> list[tuple[str, str]]:
    return [("", str(_("— choose —")))]


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    role = forms.ChoiceField(label=_("Role"))
    branch = forms.ChoiceField(label=_("Branch"), required=False)
    temporary = forms.CharField(label=_("Temporary password"), required=False, max_length=128,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=_("Leave empty to have one generated. Either way it is shown once, and "
                                            "the user must choose their own at the first log-in."))

    def __init__(self, *args: Any, roles: list[tuple[str, str]], branches: list[tuple[str, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _choose() + roles
        self.fields["branch"].choices = [("", "—")] + branches


class UserEditForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    role = forms.ChoiceField(label=_("Role"))
    branch = forms.ChoiceField(label=_("Branch"), required=False)

    def __init__(self, *args: Any, roles: list[tuple[str, str]], branches: list[tuple[str, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles
        self.fields["branch"].choices = [("", "—")] + branches


class ReasonForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"))

    def __init__(self, *args: Any, reasons: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = _choose() + reasons


class ResetPasswordForm(forms.Form):
    temporary = forms.CharField(label=_("Temporary password"), required=False, max_length=128,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=_("Leave empty to have one generated."))


class PasswordChangeForm(forms.Form):
    current = forms.CharField(label=_("Current password"), max_length=128,
                              widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new = forms.CharField(label=_("New password"), max_length=128,
                          widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                          help_text=_("At least 8 characters."))
    new2 = forms.CharField(label=_("New password again"), max_length=128,
                           widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class BranchCreateForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=20)
    name = forms.CharField(label=_("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=_("Name (English)"), max_length=100, required=False)
    level = forms.ChoiceField(label=_("Level"))
    parent = forms.ChoiceField(label=_("Parent"), required=False)
    region_code = forms.CharField(label=_("Region (GB/T 2260)"), max_length=6, required=False)

    def __init__(self, *args: Any, levels: list[tuple[str, str]], parents: list[tuple[str, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = _choose() + levels
        self.fields["parent"].choices = [("", "—")] + parents


class BranchRenameForm(forms.Form):
    name = forms.CharField(label=_("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=_("Name (English)"), max_length=100, required=False)


class BranchMoveForm(forms.Form):
    parent = forms.ChoiceField(label=_("New parent"))

    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _choose() + parents
