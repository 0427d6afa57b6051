from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "creditplan.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        # The ledger's verification replays customer events against the records (the ledger imports no app).
        from creditplan.customers.replay import SUBJECT_TYPE, CustomerReplay
        from creditplan.ledger import replay

        replay.register(SUBJECT_TYPE, CustomerReplay)
