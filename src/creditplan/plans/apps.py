from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "creditplan.plans"
    label = "plans"
    verbose_name = "Credit plan"
