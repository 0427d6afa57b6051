from django.apps import AppConfig


class LoansConfig(AppConfig):
    name = "creditplan.loans"
    label = "loans"
    verbose_name = "Loans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # the kinds of the four-eyes queue of loan changes register at import (loans/approvals.py)
        from creditplan.loans import classification, cob, restructure, writeoff  # noqa: F401

        # the credit plan sits below loans: tell it about the book (plans.services.sources)
        from creditplan.loans.plan_source import BOOK
        from creditplan.plans.services.sources import register_book_source

        register_book_source(BOOK)

        # a branch with live loans cannot be closed (org.services.close_branch counts them)
        from creditplan.loans.models import Loan, LoanStatus
        from creditplan.org.services import register_branch_holder

        register_branch_holder("live_loans", lambda branch_id: Loan.objects.filter(
            branch_id=branch_id, status=LoanStatus.ACTIVE).count())
