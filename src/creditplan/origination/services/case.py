"""The application page's case: the application, the customer (masked), its history, approvals, the
credit-plan quotas it falls in, and which review actions the actor may take (each with the reason when not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.org.domain import Role
from creditplan.origination.domain import Status
from creditplan.origination.models import Application
from creditplan.origination.services.records import (
    ApplicationView,
    ApprovalView,
    TransitionView,
    application_record,
    application_view,
    user_name,
)
from creditplan.origination.services.review import (
    answer,
    approval_checks,
    may_act_for_customer,
    may_withdraw,
    review_checks,
)
from creditplan.plans import services as plans
from creditplan.plans.models import Plan, Quota, Reservation
from creditplan.plans.services import case_panel


@dataclass(frozen=True)
class QuotaLine:
    label: str
    mode: str
    limit_minor: int
    reserved_minor: int
    consumed_minor: int
    available_minor: int


@dataclass(frozen=True)
class CaseView:
    """Everything about one case, for the application page."""

    application: ApplicationView
    customer: Any  # customers.services.CustomerView (masked)
    transitions: list[TransitionView]
    approvals: list[ApprovalView]
    reservation: dict[str, Any] | None
    quotas: list[QuotaLine]
    may_approve: tuple[bool, str]
    may_decline: tuple[bool, str]
    may_request_info: tuple[bool, str]
    may_withdraw: bool
    may_provide_info: bool
    extra: dict[str, Any] = field(default_factory=dict)
    panel: Any = None  # plans.services.case_panel.Panel: every measure that can refuse the approval (issue 20)


def application_case(actor: Actor, ref: str) -> CaseView:
    from creditplan.customers import services as customers

    a = application_record(actor, ref)
    view = application_view(a)
    customer = customers.get_customer(actor, a.customer_id) if actor.role != Role.CUSTOMER else None
    transitions = [TransitionView(t.from_status, t.to_status, t.actor_name, t.reason, t.at)
                   for t in a.transitions.all()]
    approvals = [ApprovalView(user_name(x.user), x.user_id, x.decision, x.reason_code, x.note, x.level, x.at)
                 for x in a.approvals.select_related("user")]
    reservation, quotas = _quota_position(a)
    deciding = a.status in (Status.REFERRED, Status.INFO_REQUESTED)  # else: the figures only, nothing to refuse
    panel = case_panel.what_would_refuse(
        application_ref=a.ref, amount_minor=(a.approved_amount_minor or a.amount_minor) if deciding else 0,
        branch_path=a.branch.path,
        branch_code=a.branch.code, product=a.product, industry=(a.customer.industry_code or "")[:1].upper(),
        region=(a.customer.region_code or "")[:2], segment=str((a.inputs or {}).get("segment") or ""),
        customer_id=a.customer_id) if actor.role != Role.CUSTOMER else None
    return CaseView(
        application=view, customer=customer, transitions=transitions, approvals=approvals,
        reservation=reservation, quotas=quotas, panel=panel,
        may_approve=answer(lambda: approval_checks(actor, a, "approve")),
        may_decline=answer(lambda: approval_checks(actor, a, "decline")),
        may_request_info=answer(lambda: review_checks(actor, a)),
        may_withdraw=may_withdraw(actor, a),
        may_provide_info=a.status == Status.INFO_REQUESTED and may_act_for_customer(actor, a),
    )


def _quota_position(a: Application) -> tuple[dict[str, Any] | None, list[QuotaLine]]:
    """The credit-plan quotas this application falls in, with what is left in each; and its reservation."""
    r = Reservation.objects.filter(application_ref=a.ref).order_by("-id").first()
    if r is not None:
        qs = r.quotas.select_related("branch").order_by("id")
        reservation = {"status": r.status, "amount_minor": r.amount_minor, "reason": r.reason,
                       "large_exposure": r.large_exposure, "expires_at": r.expires_at}
    else:
        reservation = None
        today = timezone.localdate()
        plan = Plan.objects.filter(status="active", period_start__lte=today, period_end__gte=today).order_by("id").first()
        if plan is None:
            return None, []
        ancestors = [code for code in a.branch.path.strip("/").split("/") if code]
        qs = (Quota.objects.filter(plan=plan).filter(Q(branch__isnull=True) | Q(branch__code__in=ancestors))
              .filter(Q(product="") | Q(product=a.product))
              .filter(Q(industry="") | Q(industry=(a.customer.industry_code or "")[:1]))
              .filter(Q(region="") | Q(region=(a.customer.region_code or "")[:2]))
              .filter(segment="").select_related("branch").order_by("id"))
    lines = [QuotaLine(plans.quota_label(q), q.control_mode, q.new_lending_limit_minor, q.reserved_minor,
                       q.consumed_minor, q.new_lending_limit_minor - q.reserved_minor - q.consumed_minor) for q in qs]
    return reservation, lines
