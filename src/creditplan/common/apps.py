from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Installed so that the shared template tags and translations below the apps are found."""

    name = "creditplan.common"
    label = "common"
