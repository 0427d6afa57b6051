from typing import Any

from django.apps import AppConfig


class OriginationConfig(AppConfig):
    name = "creditplan.origination"
    label = "origination"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Credit lines sit below origination and loans: tell them what a customer already holds and which
        # products a sub-limit may name (lines.services.sources).
        from creditplan.lines import services as lines

        lines.register_exposure_source(_line_exposures)
        lines.register_product_source(_line_products)
        # the credit plan's forecast: applications in progress, each stage's conversion (plan_pipeline.py)
        from creditplan.origination.plan_pipeline import PIPELINE
        from creditplan.plans.services.sources import register_pipeline_source

        register_pipeline_source(PIPELINE)


def _line_exposures(customer_id: int) -> list[Any]:
    """A customer's approvals not yet paid out and loans still owing principal, for a new credit line."""
    from creditplan.lines import services as lines
    from creditplan.loans.models import Loan
    from creditplan.origination.domain import Status
    from creditplan.origination.models import Application

    waiting = (Status.APPROVED, Status.CONTRACT_OFFERED, Status.SIGNED, Status.READY_TO_DISBURSE)
    out = [lines.Exposure(a.ref, a.product, a.currency, reserved_minor=a.approved_amount_minor or a.amount_minor)
           for a in Application.objects.filter(customer_id=customer_id, status__in=waiting).order_by("id")]
    out += [lines.Exposure(ref or loan_ref, product, currency, outstanding_minor=outstanding)
            for ref, loan_ref, product, currency, outstanding in Loan.objects.filter(
                customer_id=customer_id, status="active", principal_outstanding_minor__gt=0).order_by("id")
            .values_list("application_ref", "ref", "product__code", "currency", "principal_outstanding_minor")]
    return out


def _line_products() -> list[tuple[str, str]]:
    from creditplan.loans import services as loans

    return [(p.code, p.display_name()) for p in loans.list_products()]  # in the page's language (issue 20)
