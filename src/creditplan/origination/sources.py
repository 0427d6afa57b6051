"""Where origination gathers applicant data beyond what the applicant typed.

The decision's policy reads, besides the applicant's statements and the model's features: age, monthly income,
residency, an existing overdue, the institution's blacklist and the credit bureau's adverse flags. What the bank
already knows is taken from its own records (the customer record, its own loan book); the bureau is reached
through a pluggable client, because every institution contracts its own (PBOC credit reference centre, a
licensed private bureau, a partner's data):

    CREDITPLAN_BUREAU_CLIENT = "package.module.function"   # Django setting or environment variable
    def function(customer) -> dict    # e.g. {"bureau_flags": ["court_judgment"], "blacklist": False}

With no client configured the bureau fields stay missing, and a policy rule that needs them refers the case to
a person, naming the field — an application is never approved on data that was not there. A client may also
return `"attributes": {...}`, the bureau's file in the model's features. `demo_bureau` (the tests) reports a clean
file for everybody; `demo_credit_file` (`make demo`) adds a credit history drawn from the profiles of the German
credit data set (shipped counts, not its rows); both say so in their names.

The applicant states only `domain.STATED_INPUTS`; where the bureau or the bank's records hold the same name, theirs
wins (`domain.merge_inputs`), and every input keeps its source (stated, records, bureau, derived).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings

from creditplan.customers.models import Customer
from creditplan.loans.models import Loan
from creditplan.origination.domain import Gathered, merge_inputs

BureauClient = Callable[[Customer], dict[str, Any]]


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def from_records(customer: Customer, today: dt.date) -> dict[str, Any]:
    """What the institution's own records say: the customer file and the loan book."""
    known: dict[str, Any] = {}
    if customer.birth_date:
        known["age"] = _age(customer.birth_date, today)
    if customer.monthly_income_minor is not None and customer.currency == "CNY":
        known["monthly_income_minor"] = int(customer.monthly_income_minor)
    if customer.region_code:
        known["region_code"] = customer.region_code
    if customer.industry_code:
        known["industry_code"] = customer.industry_code
    if customer.kind == "individual" and customer.id_number_enc:
        known["residency"] = "resident"  # a mainland resident identity number (GB 11643) is on file
    return known


def overdue_at_this_bank(customer: Customer) -> bool:
    """Any of the customer's loans at this institution past due today (the bank's own book)."""
    return Loan.objects.filter(customer=customer, dpd__gt=0).exclude(status="closed").exists()


def _configured() -> str:
    return str(getattr(settings, "CREDITPLAN_BUREAU_CLIENT", "") or os.environ.get("CREDITPLAN_BUREAU_CLIENT", ""))


@cache
def _load(path: str) -> BureauClient:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def bureau(customer: Customer) -> dict[str, Any]:
    """The bureau's answer through the configured client, or nothing when none is configured."""
    path = _configured()
    if not path:
        return {}
    answer = dict(_load(path)(customer) or {})
    out = {k: v for k, v in answer.items() if k in ("bureau_flags", "blacklist", "existing_overdue")}
    attributes = answer.get("attributes")
    if isinstance(attributes, dict):  # the bureau's file: model features the applicant is not asked for
        out["attributes"] = {str(k): v for k, v in attributes.items()}
    return out


def demo_bureau(customer: Customer) -> dict[str, Any]:
    """Demo and tests only: a clean bureau file for every customer (no flags, not blacklisted)."""
    return {"bureau_flags": [], "blacklist": False}


def demo_credit_file(customer: Customer) -> dict[str, Any]:
    """The demo's bureau (`make demo`): a clean file (no flags, not blacklisted) plus a credit history in the
    attributes the demo scorecard reads (scoring.demo.BUREAU_FILE), the same for the same customer: 8 in 10
    customers get a file drawn from the profile of the German credit data's files that repaid, the others from that
    of all its files (`scoring.demo.demo_bureau_file`: the bureau profiles shipped with the demo models, counts, no
    data set needed). Demo only: a real bureau client reports the customer's real file."""
    from creditplan.scoring import demo

    return {"bureau_flags": [], "blacklist": False,
            "attributes": demo.demo_bureau_file(f"creditplan-demo:{customer.pk}")}


def gather(customer: Customer, stated: dict[str, Any], today: dt.date, *, overdue_here: bool | None = None
           ) -> Gathered:
    """The decision's inputs and the source of each: the bureau, then the bank's records, then what the applicant
    stated (only the names an applicant may state, and only where neither the bureau nor the records hold them).

    `existing_overdue` is the institution's own book (other lenders' arrears are the bureau's flags), or'ed with
    what the bureau says: nobody can state an overdue away."""
    external = bureau(customer)
    attributes = external.pop("attributes", {})
    here = overdue_at_this_bank(customer) if overdue_here is None else overdue_here  # the caller may have read it
    return merge_inputs(stated, from_records(customer, today), attributes, external, here)
