from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "creditplan.scoring"
    label = "scoring"
    verbose_name = "Scoring models"
