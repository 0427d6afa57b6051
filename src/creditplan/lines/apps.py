from django.apps import AppConfig


class LinesConfig(AppConfig):
    name = "creditplan.lines"
    label = "lines"
    verbose_name = "Customer credit lines"
    default_auto_field = "django.db.models.BigAutoField"
