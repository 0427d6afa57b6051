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

        # a branch with customers cannot be closed (org.services.close_branch counts them; org imports no app)
        from creditplan.customers.services import active_customers_in_branch
        from creditplan.org.services import register_branch_holder

        register_branch_holder("customers", active_customers_in_branch)
