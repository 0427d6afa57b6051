from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "creditplan.org"
    label = "org"
    verbose_name = "Organisation"
