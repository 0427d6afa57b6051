from django.apps import AppConfig


class LoansConfig(AppConfig):
    name = "creditplan.loans"
    label = "loans"
    verbose_name = "Loans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # the kinds of the four-eyes queue of loan changes register at import (loans/approvals.py)
        from creditplan.loans import classification, cob, restructure, writeoff  # noqa: F401
