"""Demo quota transfers (调剂规模余缺) on a seeded plan: one transfer proposed by a planner and applied by a second
one, one still waiting for the second planner, and one quota frozen — what a bank's planning desk shows mid-year.

Call after the plan is seeded and active (plans.demo.seed_plan), with two different users of the planner role:

    from creditplan.plans import demo_transfers
    demo_transfers.seed_demo(planner, other_planner, plan_id)

In `creditplan seed-demo` (web/management/commands/seed_demo.py), after `seed_plan`: the demo staff has one planner,
so the administrator (who holds every permission) can be the second:
`seed_demo(users["planner"], users["admin"], plans.services.list_plans(users["planner"])[0].id)`.
"""

from __future__ import annotations

from typing import Any

from creditplan.core.money import format_minor
from creditplan.plans import services
from creditplan.plans.services import QuotaView

STEP = 1_000_000  # fen: transfers are round amounts of 10,000 yuan


def _headroom(q: QuotaView, quotas: list[QuotaView]) -> int:
    """What the quota can give on new lending: its available amount, less what its own children hold of it."""
    held = sum(c.state.new_lending_limit for c in quotas if c.parent_id == q.id)
    return min(q.state.available, q.state.new_lending_limit - held)


def _sibling_groups(quotas: list[QuotaView]) -> list[list[QuotaView]]:
    """Quotas of one kind under one parent (branch quotas under a branch or the root), two or more of them."""
    groups: dict[int, list[QuotaView]] = {}
    for q in quotas:
        if q.parent_id is not None and q.branch and not (q.product or q.industry or q.region or q.segment):
            groups.setdefault(q.parent_id, []).append(q)
    return [g for g in groups.values() if len(g) >= 2]


def seed_demo(planner: Any, other_planner: Any, plan_id: int) -> dict[str, Any]:
    """One applied transfer, one pending, one frozen quota. Returns their ids (and nothing when the plan has no two
    sibling quotas to move quota between)."""
    quotas = services.plan_quotas(planner, plan_id)
    groups = sorted(_sibling_groups(quotas), key=lambda g: -len(g))
    if not groups:
        return {}
    done: dict[str, Any] = {}
    # applied: from the sibling with the most room to the busiest one, a tenth of the room
    group = groups[0]
    source = max(group, key=lambda q: _headroom(q, quotas))
    target = max((q for q in group if q.id != source.id), key=lambda q: q.state.utilisation)
    amount = _headroom(source, quotas) // 10 // STEP * STEP
    if amount > 0:
        t = services.propose_transfer(planner, plan_id, source.id, target.id, format_minor(amount, grouping=False),
                                      "new_lending", f"{target.label} 四季度投放需求旺盛，{source.label} 额度闲置，调剂规模余缺")
        done["applied"] = services.decide_transfer(other_planner, t.id, approve=True, note="同意调剂").id
    # pending: in another group if there is one, waiting for the second planner
    quotas = services.plan_quotas(planner, plan_id)
    group = [q for q in quotas if q.id in {g.id for g in (groups[1] if len(groups) > 1 else groups[0])}]
    source = max(group, key=lambda q: _headroom(q, quotas))
    target = min((q for q in group if q.id != source.id), key=lambda q: _headroom(q, quotas))
    amount = _headroom(source, quotas) // 20 // STEP * STEP
    if amount > 0:
        done["pending"] = services.propose_transfer(
            planner, plan_id, source.id, target.id, format_minor(amount, grouping=False), "new_lending",
            f"{target.label} 重点项目储备，申请调入额度").id
    # frozen: the least used quota of the last group, not one of the transfers' quotas
    busy = {v for t in services.list_transfers(planner, plan_id) for v in (t.source_id, t.target_id)}
    candidates = [q for g in groups for q in g if q.id not in busy and not q.frozen] or \
                 [q for g in groups for q in g if not q.frozen]
    if candidates:
        frozen = min(candidates, key=lambda q: q.state.utilisation)
        services.freeze_quota(other_planner, frozen.id, "贷后检查发现授信集中风险，暂停新增投放，已有审批照常放款")
        done["frozen"] = frozen.id
    return done
