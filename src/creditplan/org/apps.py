from typing import Any

from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "creditplan.org"
    label = "org"
    verbose_name = "Organisation"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from creditplan.org.models import password_changed

        user_logged_out.connect(_revoke_tokens_on_logout, dispatch_uid="creditplan.org.logout_revokes_tokens")
        password_changed.connect(_revoke_tokens_on_password_change,
                                 dispatch_uid="creditplan.org.password_change_revokes_tokens")


def _revoke_tokens_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Logging out of the pages (or the admin) ends the user's API tokens too."""
    if user is not None and getattr(user, "pk", None):
        from creditplan.org import services

        services.revoke_user_tokens(user, user, reason="logout")


def _revoke_tokens_on_password_change(sender: Any, user: Any, **kwargs: Any) -> None:
    """A new password, whatever the path (a page, the admin, `set_password` in code), revokes every API token of
    the user in the same transaction: a token obtained with the old password must not outlive it."""
    from creditplan.org import services

    services.revoke_user_tokens(None, user, reason="password_changed")
