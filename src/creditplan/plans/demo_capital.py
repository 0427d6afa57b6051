"""Demo capital base (issue 19): last year's audited capital base in force from 1 January, proposed by one planner and
approved by another (maker-checker), and this year's half-year figure proposed and still waiting for the second
planner — so the capital base page shows a base in force, its limits and a queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from creditplan.plans import services


def seed_demo(maker: Any, checker: Any, *, amount: str = "20000000000", pending: str = "21500000000") -> int:
    """`maker` and `checker`: two different users with plan.manage (planners). Returns the approved base's id."""
    today = timezone.localdate()
    base = services.propose_capital_base(maker, amount=amount, effective_from=dt.date(today.year, 1, 1),
                                         note=f"{today.year - 1} 年度审计报告资本净额")
    services.decide_capital_base(checker, base.id, approve=True, note="与年报核对一致")
    services.propose_capital_base(maker, amount=pending, effective_from=dt.date(today.year, 7, 1),
                                  note=f"{today.year} 年半年报资本净额（待复核）")
    return base.id
