from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "creditplan.documents"
    label = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Loans sits below documents (and origination): it learns about the application a loan pays out —
        signed, ready to disburse, with the terms of its contract — through the gate registered here."""
        from creditplan.documents import contracts
        from creditplan.loans import services as loans

        loans.register_application_gate(loans.ApplicationGate(signed=contracts.signed_for_payout,
                                                              paid_out=contracts.paid_out))
