"""Demo plan periods (issue 19 §7): the demo's annual plan split into months the way Chinese banks phase a year —
a strong first quarter (开门红), a steady middle and a light December — so the dashboard's pace line follows the
months. Call after plans.demo.seed_plan: `seed_demo(planner, plan_id)`."""

from __future__ import annotations

from typing import Any

from creditplan.plans import services

#: basis points per month, January to December (together 10000): Q1 32 %, Q2 26 %, Q3 22 %, Q4 20 %
DEMO_MONTHS = [1000, 1000, 1200, 900, 850, 850, 750, 750, 700, 700, 700, 600]


def seed_demo(planner: Any, plan_id: int, *, control: str = "none") -> services.PeriodsView:
    """Split the plan by DEMO_MONTHS. `control` "none" by default: the demo's history was booked without monthly
    limits, and the periods then only draw the pace line; "roll" or "lapse" show the monthly check on new
    approvals."""
    return services.set_periods(planner, plan_id, months=DEMO_MONTHS, period_control=control)
