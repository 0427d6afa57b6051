from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "creditplan.org"
    label = "org"
    verbose_name = "Organisation"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(_revoke_tokens_on_logout, dispatch_uid="creditplan.org.logout_revokes_tokens")


def _revoke_tokens_on_logout(sender, request, user, **kwargs):  # type: ignore[no-untyped-def]
    """Logging out of the pages (or the admin) ends the user's API tokens too."""
    if user is not None and getattr(user, "pk", None):
        from creditplan.org import services

        services.revoke_user_tokens(user, user, reason="logout")
