"""Test data for the origination tests: a hand-made scorecard, the consumer product and applicant inputs.

The scorecard (as in tests/decisions): 470 points + months_employed (<12: 10, <36: 30, else 50) + housing (own 40,
rent 20, free 10). With the default consumer cut-offs (approve ≥ 530, refer 505–530, decline < 505):
  GOOD: owner, 5 years in the job → 560 → approve straight through up to the grade's auto-approval amount;
  REFER: renter, 2 years → 520 → referred;   DECLINE: lodger, 6 months → 490 → declined.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from decision_world import seed_decision_world

CONSUMER = {"code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 3,
            "max_term": 60, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435",
            "rate_floor": "0.03", "rate_cap": "0.18", "lpr_tenor": "1y"}

# What a clean applicant states (only names an applicant may state: origination.domain.STATED_INPUTS) — the
# scorecard's features (score 560) and the figures the knock-outs read. The rest comes from the bank: age and
# residency from the customer record (a resident ID, born 1985), income from the record too (make_world gives
# every customer 30,000.00 yuan a month, what GOOD states), blacklist and bureau flags from the bureau client
# (BUREAU below: a clean file), an overdue from the loan book.
GOOD: dict[str, Any] = {"loan_purpose": "consumption", "monthly_income_minor": 3_000_000,
                        "existing_debt_service_minor": 200_000, "months_employed": 60, "housing": "own"}
REFER = {**GOOD, "months_employed": 24, "housing": "rent"}  # 520: the review zone
DECLINE = {**GOOD, "months_employed": 6, "housing": "free"}  # 490: below the cut-off
INCOME_ON_RECORD = "30000.00"

# The tests' bureau: `settings.CREDITPLAN_BUREAU_CLIENT = BUREAU` (the world fixtures do). A clean file; a test may
# put what the bureau's file should hold in BUREAU_FILE (reset by the origination world fixture).
BUREAU = "application_data.bureau_client"
BUREAU_FILE: dict[str, Any] = {}


def bureau_client(customer: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"bureau_flags": [], "blacklist": False}
    if BUREAU_FILE:
        answer["attributes"] = dict(BUREAU_FILE)
    return answer




def make_world(bank: dict[str, Any]) -> dict[str, Any]:
    """bank + risk2 and three more approvers (BJ01 sub-branch, BJ branch, head office), the consumer product
    (1,000–2,000,000 yuan, 3–60 months), LPR 1y 3.45 %, the tiny champion, default policies, a plan with ample
    quota (BJ hard 20 m, SH soft 5 m), three customers in BJ01 (the first with a log-in of their own: the
    `customer` user) and one in SH01, each with 30,000.00 yuan a month of income on record. The caller points
    `settings.CREDITPLAN_BUREAU_CLIENT` at BUREAU for a clean bureau file (blacklist, flags)."""
    today = dt.date.today()
    from creditplan.customers import services as customers
    from creditplan.org import services as org
    from factories import PASSWORD, individual

    risk2 = org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager", branch_code="HO")
    approver_bj01 = org.create_user(None, username="approver_bj01", password=PASSWORD, role="approver",
                                    branch_code="BJ01")
    approver_ho = org.create_user(None, username="approver_ho", password=PASSWORD, role="approver", branch_code="HO")
    approver_bj2 = org.create_user(None, username="approver_bj2", password=PASSWORD, role="approver", branch_code="BJ")
    _, p = seed_decision_world(bank, risk2, product=CONSUMER, today=today, plan_code="orig-plan",
                               plan_name="进件测试计划", bj=("20000000", "15000000"), sh=("5000000", "4000000"))
    ids = [customers.create_customer(bank["officer_bj"], individual(n, branch="BJ01", monthly_income=INCOME_ON_RECORD)
                                     ).id for n in (1, 2, 3)]
    sh = customers.create_customer(bank["officer_sh"], individual(4, branch="SH01", monthly_income=INCOME_ON_RECORD)).id
    customers.link_customer_user(ids[0], bank["customer"])
    return {**bank, "risk2": risk2, "approver_bj01": approver_bj01, "approver_ho": approver_ho,
            "approver_bj2": approver_bj2, "plan": p, "customers": ids, "customer_sh": sh}


