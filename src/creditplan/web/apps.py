from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "creditplan.web"
    label = "web"
    verbose_name = "Web"

    def ready(self) -> None:
        from creditplan.web import checks  # noqa: F401  (registers the system checks)
