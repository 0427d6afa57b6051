"""Credit-plan use cases — the one door other apps, the pages, the API and the Excel files go through.

Split by responsibility (each use case is one transaction with its ledger event appended last; every counter
change is also a Movement row, so any figure on the dashboard can be explained application by application):

    plans.py         a plan: create (with its root quota), activate, close, read
    quotas.py        the quota tree: split a quota into children, what an actor is shown, explain a quota
    dimensions.py    the registers a quota may name (branches, products, segments, industries, provinces)
    reservations.py  the quota moving with the loan: reserve, consume, release, repay, unrepay, expire
    adjustments.py   reallocation requests and their maker-checker decision
    transfers.py     quota transfers (调剂) between two quotas with maker-checker, freezing a quota
    dashboard.py     plan against actual: utilisation, pace, series, forecast term by term, alerts, ranking
    periods.py       months and quarters of a plan, the pace line, a month's quota rolling over or lapsing
    targets.py       minimum targets and ratio limits, the shipped templates, the ratio cap in the reservation
    groups.py        customer groups (the customers app's registry) with their exposure against the group limit
    records.py       the frozen records the use cases hand back (amounts in fen)

The hand-written SQL of the reservation path is in plans.sql. Amounts come in through
creditplan.core.money.parse_minor and go out in fen (`yuan` is kept for callers that still want a Decimal of yuan:
it is creditplan.core.money.to_major).
"""

from __future__ import annotations

from creditplan.core.money import to_major as yuan
from creditplan.plans.services.adjustments import decide_adjustment, list_adjustments, request_adjustment
from creditplan.plans.services.book import (
    BookMove,
    Reconciliation,
    book_moved,
    last_reconciliation,
    lock_books,
    open_plan_book,
    opened_plans,
    reconcile,
)
from creditplan.plans.services.book_figures import book_figures
from creditplan.plans.services.capital import (
    CapitalBaseView,
    current_capital_base,
    decide_capital_base,
    list_capital_bases,
    propose_capital_base,
)
from creditplan.plans.services.dashboard import plan_dashboard
from creditplan.plans.services.dimensions import add_dimension_code, dimension_codes
from creditplan.plans.services.exposure import (
    concentration_limits,
    concentration_reason,
    customer_exposure,
    customer_root_groups,
    group_exposure,
)
from creditplan.plans.services.groups import (
    GroupChangeView,
    GroupLimit,
    GroupPage,
    GroupRow,
    decide_group_batch,
    decide_group_change,
    group_limit,
    group_overview,
    group_page,
    import_group_file,
    list_group_changes,
    propose_group_change,
)
from creditplan.plans.services.periods import (
    PeriodsView,
    clear_periods,
    periods_from_previous_year,
    plan_periods,
    set_period_control,
    set_periods,
)
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
from creditplan.plans.services.targets import (
    TargetStatus,
    TargetView,
    add_target,
    apply_template,
    evaluate_targets,
    list_targets,
    remove_target,
    status_texts,
    target_templates,
    update_target,
)
from creditplan.plans.services.transfers import (
    QuotaEvent,
    TransferView,
    decide_transfer,
    freeze_quota,
    list_transfers,
    propose_transfer,
    quota_history,
    set_transfer_rule,
    transfer_rule,
    unfreeze_quota,
)

__all__ = [
    "GroupChangeView",
    "GroupLimit",
    "GroupPage",
    "GroupRow",
    "decide_group_batch",
    "decide_group_change",
    "group_limit",
    "group_overview",
    "group_page",
    "import_group_file",
    "list_group_changes",
    "propose_group_change",
    "BookMove",
    "Reconciliation",
    "book_figures",
    "book_moved",
    "last_reconciliation",
    "lock_books",
    "open_plan_book",
    "opened_plans",
    "reconcile",
    "TargetStatus",
    "TargetView",
    "add_target",
    "apply_template",
    "evaluate_targets",
    "list_targets",
    "remove_target",
    "status_texts",
    "target_templates",
    "update_target",
    "PeriodsView",
    "clear_periods",
    "periods_from_previous_year",
    "plan_periods",
    "set_period_control",
    "set_periods",
    "CapitalBaseView",
    "concentration_limits",
    "concentration_reason",
    "current_capital_base",
    "customer_exposure",
    "customer_root_groups",
    "decide_capital_base",
    "group_exposure",
    "list_capital_bases",
    "propose_capital_base",
    "AdjustmentView",
    "PlanView",
    "QuotaEvent",
    "QuotaView",
    "ReservationView",
    "TransferView",
    "activate_plan",
    "add_dimension_code",
    "close_plan",
    "consume_quota",
    "create_plan",
    "decide_adjustment",
    "decide_transfer",
    "dimension_codes",
    "expire_reservations",
    "explain_quota",
    "freeze_quota",
    "get_plan",
    "list_adjustments",
    "list_plans",
    "list_transfers",
    "plan_dashboard",
    "plan_quotas",
    "propose_transfer",
    "quota_history",
    "quota_label",
    "quota_states",
    "release_quota",
    "repay_principal",
    "request_adjustment",
    "reserve_quota",
    "reserve_quota_in_transaction",
    "set_transfer_rule",
    "split_quota",
    "transfer_rule",
    "unfreeze_quota",
    "unrepay_principal",
    "yuan",
]
