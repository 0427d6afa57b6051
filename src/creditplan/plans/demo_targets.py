"""Demo targets (issue 19 §6): the demo plan gets the 普惠小微 两增两控 template (the segment's balance growing at least
as fast as all loans, its borrowers not fewer than at the start) and the real-estate concentration caps of a tier-3
bank (中资小型银行和非县域农合机构: property loans ≤ 22.5 %, personal mortgages ≤ 17.5 % of all loans), so the
dashboard's targets panel has something to show and a mortgage approval meets the cap.

Call it after the demo plan and its book exist: `seed_demo(planner, plan_id)` (plans.demo.seed_plan returns the
number of loans; the plan is the one it created, `plan-<year>`). Safe to call again: a template already applied is
left as it is."""

from __future__ import annotations

from typing import Any

from creditplan.plans import services


def seed_demo(planner: Any, plan_id: int, *, control: str = "refuse") -> list[services.TargetView]:
    """Apply the 普惠小微 and the tier-3 real-estate templates to the plan (`control`: what a reservation that
    would break a real-estate cap meets — refuse, escalate or monitor). Registers the plan segment inclusive_sme
    (普惠小微) and the product mortgage when they are not configured yet. Returns the targets it made."""
    if "inclusive_sme" not in dict(services.dimension_codes("segment")):
        services.add_dimension_code(planner, "segment", "inclusive_sme", "普惠小微", name_en="Inclusive small business")
    if "mortgage" not in dict(services.dimension_codes("product")):
        services.add_dimension_code(planner, "product", "mortgage", "个人住房贷", name_en="Mortgage")
    have = {v.code for v in services.list_targets(planner, plan_id)}
    made: list[services.TargetView] = []
    if not have & {"sme_growth", "sme_borrowers"}:
        made += services.apply_template(planner, plan_id, "inclusive_sme")
    if not have & {"re_property", "re_mortgage"}:
        made += services.apply_template(planner, plan_id, "real_estate", {"tier": 3, "control": control})
    return made
