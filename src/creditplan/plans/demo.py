"""Demo credit plan: this year's plan split to every branch and sub-branch, with a year of approvals,
disbursements and repayments behind it, so the execution dashboard has a history to chart."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from creditplan.core.errors import LimitExceeded
from creditplan.plans import services

PRODUCTS = [("consumer", "个人消费贷 Consumer loan"), ("business", "小微经营贷 Small-business loan"),
            ("mortgage", "个人住房贷 Mortgage")]
BRANCHES = {"BJ": ["BJ01", "BJ02"], "SH": ["SH01", "SH02"], "GZ": ["GZ01"], "CD": ["CD01"], "HZ": ["HZ01"]}


def seed_plan(planner: Any, approver: Any, *, seed: int = 7, loans: int = 900) -> int:
    today = timezone.localdate()
    start, end = dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)
    for code, name in PRODUCTS:
        services.add_dimension_code(planner, "product", code, name)
    plan = services.create_plan(planner, code=f"plan-{today.year}", name=f"{today.year} 年度信贷计划",
                                period_start=start, period_end=end, net_capital="20000000000",
                                new_lending_limit="1500000000", balance_limit="1300000000")
    shares = {"BJ": 380, "SH": 380, "GZ": 220, "CD": 180, "HZ": 200}  # million yuan of new lending
    branch_quotas = services.split_quota(planner, plan.root.id, [
        {"branch": b, "new_lending_limit": f"{m * 1_000_000}", "balance_limit": f"{int(m * 0.85) * 1_000_000}",
         "control_mode": "hard" if b in ("BJ", "SH") else "soft"} for b, m in shares.items()])
    for bq in branch_quotas:
        subs = BRANCHES[bq.branch]
        part = shares[bq.branch] * 900_000 // len(subs)  # 90 % delegated, 10 % kept at the branch
        services.split_quota(planner, bq.id, [{"branch": s, "new_lending_limit": str(part),
                                               "balance_limit": str(int(part * 0.85))} for s in subs])
    services.activate_plan(planner, plan.id)
    rnd = random.Random(seed)
    elapsed_days = max(1, (today - start).days)
    subs = [s for group in BRANCHES.values() for s in group]
    done = 0
    for n in range(loans):
        day = start + dt.timedelta(days=int(elapsed_days * rnd.random() ** 0.9))
        product = rnd.choices([p for p, _ in PRODUCTS], weights=[5, 4, 1])[0]
        amount = {"consumer": rnd.randint(5, 50) * 10_000, "business": rnd.randint(30, 500) * 10_000,
                  "mortgage": rnd.randint(80, 400) * 10_000}[product]
        ref = f"DEMO-{today.year}-{n:05d}"
        try:
            services.reserve_quota(approver, application_ref=ref, amount=str(amount), branch=rnd.choice(subs),
                                   product=product, customer_ref=f"C{rnd.randint(1, 3000)}", on=day)
        except LimitExceeded:
            continue
        done += 1
        paid_day = min(today, day + dt.timedelta(days=rnd.randint(1, 10)))
        if paid_day < today - dt.timedelta(days=3) and rnd.random() < 0.9:
            services.consume_quota(approver, application_ref=ref, on=paid_day)
            months = (today - paid_day).days // 30
            if months:
                services.repay_principal(approver, application_ref=ref, amount=str(amount * min(months, 10) // 36),
                                         on=today)
        elif rnd.random() < 0.1:
            services.release_quota(approver, application_ref=ref, reason="customer withdrew")
    return done
