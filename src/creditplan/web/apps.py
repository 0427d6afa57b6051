from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "creditplan.web"
    label = "web"
    verbose_name = "Web"
