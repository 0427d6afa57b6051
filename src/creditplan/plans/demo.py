"""Demo credit plan: this year's plan split to every branch and sub-branch and activated before the demo's loans are
booked, so the loans drive it as they would a live plan — last year's loans build its opening book, this year's
disbursements its new lending, every repayment, write-off and restructuring its balance — and a pipeline of approvals
not yet paid out (synthetic customers, the last few weeks) shows reservations and their release."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from creditplan.core.errors import LimitExceeded
from creditplan.plans import services

# (code, Chinese name, English name): each page shows the name of its language (issue 20)
PRODUCTS = [("consumer", "个人消费贷", "Consumer loan"), ("business", "小微经营贷", "Small-business loan"),
            ("mortgage", "个人住房贷", "Mortgage")]
SEGMENTS = [("inclusive_sme", "普惠小微", "Inclusive small business")]
BRANCHES = {"BJ": ["BJ01", "BJ02"], "SH": ["SH01", "SH02"], "GZ": ["GZ01"], "CD": ["CD01"], "HZ": ["HZ01"]}
# million yuan of new lending per branch; the balance quota is 1.2 times it (the book carries last year's loans)
SHARES = {"BJ": 60, "SH": 60, "GZ": 30, "CD": 25, "HZ": 25}
CAPITAL = "600000000"  # the demo bank's capital base (资本净额), yuan: a city commercial bank's size


def seed_plan(planner: Any) -> int:
    """Create, split and activate this year's plan (before the loans: they open its book). Returns its id."""
    today = timezone.localdate()
    start, end = dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)
    for code, name, name_en in PRODUCTS:
        services.add_dimension_code(planner, "product", code, name, name_en=name_en)
    for code, name, name_en in SEGMENTS:
        services.add_dimension_code(planner, "segment", code, name, name_en=name_en)
    total = sum(SHARES.values())
    plan = services.create_plan(planner, code=f"plan-{today.year}", name=f"{today.year} 年度信贷计划",
                                period_start=start, period_end=end, net_capital=CAPITAL,
                                new_lending_limit=str(total * 1_000_000), balance_limit=str(total * 1_200_000))
    branch_quotas = services.split_quota(planner, plan.root.id, [
        {"branch": b, "new_lending_limit": f"{m * 1_000_000}", "balance_limit": f"{m * 1_200_000}",
         "control_mode": "hard" if b in ("BJ", "SH") else "soft"} for b, m in SHARES.items()])
    for bq in branch_quotas:
        subs = BRANCHES[bq.branch]
        part = SHARES[bq.branch] * 900_000 // len(subs)  # 90 % delegated, 10 % kept at the branch
        services.split_quota(planner, bq.id, [{"branch": s, "new_lending_limit": str(part),
                                               "balance_limit": str(part * 6 // 5)} for s in subs])
    services.activate_plan(planner, plan.id)
    return plan.id


def seed_pipeline(approver: Any, *, seed: int = 7, approvals: int = 80) -> int:
    """Reserve `approvals` synthetic approvals of the last weeks, not paid out (a tenth released): the pipeline.
    Returns how many were reserved."""
    today = timezone.localdate()
    start = dt.date(today.year, 1, 1)
    rnd = random.Random(seed)
    subs = [s for group in BRANCHES.values() for s in group]
    done = 0
    for n in range(approvals):
        day = max(start, today - dt.timedelta(days=rnd.randint(0, 25)))
        product = rnd.choices([p for p, _zh, _en in PRODUCTS], weights=[5, 4, 1])[0]
        amount = {"consumer": rnd.randint(5, 30) * 10_000, "business": rnd.randint(30, 200) * 10_000,
                  "mortgage": rnd.randint(80, 200) * 10_000}[product]
        ref = f"DEMO-{today.year}-{n:05d}"
        try:
            services.reserve_quota(approver, application_ref=ref, amount=str(amount), branch=rnd.choice(subs),
                                   product=product, customer_ref=f"C{rnd.randint(1, 3000)}", on=day)
        except LimitExceeded:
            continue
        done += 1
        if rnd.random() < 0.1:
            services.release_quota(approver, application_ref=ref, reason="customer withdrew")
    return done
