from django.apps import AppConfig


class OriginationConfig(AppConfig):
    name = "creditplan.origination"
    label = "origination"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Loans sits below origination: it learns about applications through the gate registered here."""
        from creditplan.loans import services as loans
        from creditplan.origination import contracts

        loans.register_application_gate(loans.ApplicationGate(signed=contracts.signed_for_payout,
                                                              paid_out=contracts.paid_out))
