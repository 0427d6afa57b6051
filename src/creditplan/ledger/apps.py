from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "creditplan.ledger"
    label = "ledger"
    verbose_name = "Ledger and audit trail"
