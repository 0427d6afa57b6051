from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "creditplan.ledger"
    label = "ledger"
    verbose_name = "Ledger and audit trail"

    def ready(self) -> None:
        from creditplan.ledger import checks  # noqa: F401  (registers the system checks)
