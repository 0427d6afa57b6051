"""Origination use cases — the one door the pages, the API, the other apps and the CLI use (`from
creditplan.origination import services`). Each module below holds one responsibility:

    submission.py   submit an application and decide it at once (the hot path; its raw SQL:
                    origination/sql.py)
    review.py       approve / decline / request and provide information / withdraw / expire
    queue.py        the review queue
    listing.py      the list of applications: filtered, sorted and paged (issue 20)
    case.py         the application page's case (history, approvals, quotas, the actions allowed)
    records.py      the application views, who may see which application, and `move` (one recorded
                    transition): the public helpers of the apps above origination (documents)
    choices.py      what the submission pages offer (products, branches, the customer a log-in is)

The state machine is origination/domain.py; drafts.py, sla.py and analytics.py are beside this package.
"""

from creditplan.origination.services.case import CaseView, QuotaLine, application_case
from creditplan.origination.services.choices import (
    all_products,
    branch_choices,
    may_submit,
    own_customer_id,
    products_on_offer,
)
from creditplan.origination.services.listing import FILTERS as LIST_FILTERS
from creditplan.origination.services.listing import SORTS as _SORTS
from creditplan.origination.services.listing import application_list, officer_choices
from creditplan.origination.services.queue import QUEUE_LIMIT, QueueItem, review_queue
from creditplan.origination.services.records import (
    ApplicationView,
    ApprovalView,
    TransitionView,
    application_for_update,
    application_record,
    application_view,
    customers_of,
    get_application,
    list_applications,
    move,
)
from creditplan.origination.services.review import (
    approve,
    decline,
    expire_applications,
    provide_info,
    reason_codes,
    request_info,
    requestable_inputs,
    withdraw,
)
from creditplan.origination.services.submission import MAX_INPUT_BYTES, MAX_INPUT_KEYS, submit_application


def listing_sorts() -> tuple[str, ...]:
    """The sort keys the list of applications offers."""
    return tuple(_SORTS)


__all__ = [
    "LIST_FILTERS", "listing_sorts",
    "MAX_INPUT_BYTES", "MAX_INPUT_KEYS", "QUEUE_LIMIT", "ApplicationView", "ApprovalView", "CaseView", "all_products",
    "QueueItem", "QuotaLine", "TransitionView", "application_case", "application_for_update",
    "application_list", "application_record", "application_view", "officer_choices", "approve", "branch_choices", "customers_of", "decline",
    "expire_applications", "get_application", "list_applications", "may_submit", "move", "own_customer_id",
    "products_on_offer", "provide_info", "reason_codes", "request_info", "requestable_inputs", "review_queue",
    "submit_application", "withdraw",
]
