"""Demo customer groups (issue 19 §2), built from the demo's own companies and individuals through the registry's
maker-checker, as a bank would: every change proposed by one risk manager and approved by another, each with its
ledger event.

    from creditplan.customers.demo_groups import seed_demo
    seed_demo(maker=User.objects.get(username="risk"), checker=User.objects.get(username="risk2"))

Three groups: a holding company with its subsidiaries by control (one of them a sub-holding with a subsidiary of
its own, so the tree has two levels); a mutual-guarantee circle of companies (互保圈); a family (two relatives and
the company they control, by the same actual controller), each with an English name for English pages. One more change is left waiting in the queue for the
demo's checker to decide. Running it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.customers import groups
from creditplan.customers.models import Customer, CustomerGroup

CONTROL, SUB, CIRCLE, FAMILY = "G001", "G001-01", "G002", "G003"


def _company_group_name(name: str) -> str:
    return name.replace("有限公司", "").replace("股份", "") + "集团"


@transaction.atomic
def seed_demo(maker: Actor, checker: Actor, *, log: Callable[[str], Any] | None = None) -> dict[str, int]:
    """Build the demo groups (code → members) from the customers already there; nothing when they exist already
    or when there are too few companies (at least 8) or no two individuals of one family name in one branch."""
    say = log or (lambda _text: None)
    if CustomerGroup.objects.filter(code=CONTROL).exists():
        say("customer groups: already present")
        return {}
    companies = list(Customer.objects.filter(kind="company", status="active").order_by("pk")[:9])
    if len(companies) < 8:
        say("customer groups: fewer than 8 demo companies, none made")
        return {}
    family = _relatives()
    today = timezone.localdate()
    two_years, last_year = today - dt.timedelta(days=730), today - dt.timedelta(days=365)

    def apply(kind: str, data: dict[str, Any], group: CustomerGroup | None = None) -> None:
        change = groups.propose_change(maker, kind, data, group_id=group.pk if group else None)
        groups.decide_change(checker, change.id, approve=True, note="演示数据：已核对工商登记及关联关系")

    def make(code: str, name: str, name_en: str, parent: CustomerGroup | None = None, head: Customer | None = None
             ) -> CustomerGroup:
        apply("create_group", {"code": code, "name": name, "name_en": name_en,
                               "parent": parent.pk if parent else None, "head": head.pk if head else ""})
        return CustomerGroup.objects.get(code=code)

    def member(group: CustomerGroup, c: Customer, relation: str, start: dt.date) -> None:
        apply("add_member", {"customer": c.pk, "relation": relation, "effective_from": start.isoformat()}, group)

    holding, subs, circle, spare = companies[0], companies[1:4], companies[4:7], companies[7]
    top = make(CONTROL, _company_group_name(holding.name), "Holding group (by control)", head=holding)
    member(top, holding, "control", two_years)
    for c in subs[:2]:
        member(top, c, "control", two_years)
    sub = make(SUB, _company_group_name(subs[1].name).replace("集团", "板块"), "Sub-holding division", parent=top,
               head=subs[1])
    member(sub, subs[2], "control", last_year)
    ring = make(CIRCLE, f"{circle[0].name[:2]}企业互保圈", "Mutual-guarantee circle of companies")
    for c in circle:
        member(ring, c, "guarantee", last_year)
    made = {CONTROL: 3, SUB: 1, CIRCLE: 3}
    if family is not None:
        elder, younger = family
        clan = make(FAMILY, f"{elder.name[0]}氏家族", "Family group (relatives and their company)", head=elder)
        member(clan, elder, "family", two_years)
        member(clan, younger, "family", two_years)
        member(clan, spare, "controller", last_year)
        made[FAMILY] = 3
    if len(companies) > 8:  # one change left for the checker to decide in the demo
        groups.propose_change(maker, "add_member", {"customer": companies[8].pk, "relation": "guarantee",
                                                    "effective_from": today.isoformat()}, group_id=ring.pk)
    say(f"customer groups: {', '.join(f'{k} ({v} members)' for k, v in made.items())}; 1 change waiting")
    return made


def _relatives() -> tuple[Customer, Customer] | None:
    """Two individuals of one family name in one branch (the demo's names are random: a likely family)."""
    seen: dict[tuple[str, int], Customer] = {}
    for c in Customer.objects.filter(kind="individual", status="active").order_by("pk")[:500]:
        key = (c.name[:1], c.branch_id)
        if key in seen:
            return seen[key], c
        seen[key] = c
    return None
