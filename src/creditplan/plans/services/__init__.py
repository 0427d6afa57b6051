"""Credit-plan use cases — the one door other apps, the pages, the API and the Excel files go through.

Split by responsibility (each use case is one transaction with its ledger event appended last; every counter
change is also a Movement row, so any figure on the dashboard can be explained application by application):

    plans.py         a plan: create (with its root quota), activate, close, read
    quotas.py        the quota tree: split a quota into children, what an actor is shown, explain a quota
    dimensions.py    the registers a quota may name (branches, products, segments, industries, provinces)
    reservations.py  the quota moving with the loan: reserve, consume, release, repay, unrepay, expire
    adjustments.py   reallocation requests and their maker-checker decision
    dashboard.py     plan against actual: utilisation, pace, series, forecast, alerts, ranking
    records.py       the frozen records the use cases hand back (amounts in fen)

The hand-written SQL of the reservation path is in plans.sql. Amounts come in through
creditplan.core.money.parse_minor and go out in fen (`yuan` is kept for callers that still want a Decimal of yuan:
it is creditplan.core.money.to_major).
"""

from __future__ import annotations

from creditplan.core.money import to_major as yuan
from creditplan.plans.services.adjustments import decide_adjustment, list_adjustments, request_adjustment
from creditplan.plans.services.dashboard import plan_dashboard
from creditplan.plans.services.dimensions import add_dimension_code, dimension_codes
from creditplan.plans.services.plans import activate_plan, close_plan, create_plan, get_plan, list_plans
from creditplan.plans.services.quotas import explain_quota, plan_quotas, quota_states, split_quota
from creditplan.plans.services.records import (
    AdjustmentView,
    PlanView,
    QuotaView,
    ReservationView,
    quota_label,
)
from creditplan.plans.services.reservations import (
    consume_quota,
    expire_reservations,
    release_quota,
    repay_principal,
    reserve_quota,
    reserve_quota_in_transaction,
    unrepay_principal,
)

__all__ = [
    "AdjustmentView",
    "PlanView",
    "QuotaView",
    "ReservationView",
    "activate_plan",
    "add_dimension_code",
    "close_plan",
    "consume_quota",
    "create_plan",
    "decide_adjustment",
    "dimension_codes",
    "expire_reservations",
    "explain_quota",
    "get_plan",
    "list_adjustments",
    "list_plans",
    "plan_dashboard",
    "plan_quotas",
    "quota_label",
    "quota_states",
    "release_quota",
    "repay_principal",
    "request_adjustment",
    "reserve_quota",
    "reserve_quota_in_transaction",
    "split_quota",
    "unrepay_principal",
    "yuan",
]
