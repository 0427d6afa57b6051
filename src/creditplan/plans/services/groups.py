"""Customer groups seen from the credit plan (issue 19): the registry is the customers app's
(creditplan.customers.groups: members, changes, maker-checker); here each group gets its whole-book exposure
(plans.services.exposure: live loans' outstanding principal plus open reservations of every current member of the
group's tree) against the group limit — the group share (15 % by default) of the capital base in force
(plans.services.capital, else the active plan's net capital). The pages (plans/group_views.py) and the API
(plans/api.py) read the same figures from here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.customers import groups as registry
from creditplan.customers.groups import GroupDetail, GroupView, MemberView
from creditplan.plans.services.exposure import Limits, concentration_limits, customer_exposure, group_exposure


@dataclass(frozen=True)
class GroupLimit:
    capital_base_minor: int  # 0 when no capital base is configured and no plan is active
    source: str  # "capital_base" (an approved one), "plan" (the active plan's net capital) or "none"
    group_bp: int  # the group share in basis points (1500 = 15 %)
    limit_minor: int


@dataclass(frozen=True)
class GroupRow:
    group: GroupView
    exposure_minor: int | None  # the whole tree's, on a top group's row; None on the rows of groups under it
    limit: GroupLimit

    @property
    def over(self) -> bool:
        return self.exposure_minor is not None and self.limit.limit_minor > 0 and \
            self.exposure_minor > self.limit.limit_minor


@dataclass(frozen=True)
class MemberRow:
    member: MemberView
    exposure_minor: int | None  # None for a membership not current on the day (it no longer counts)


@dataclass(frozen=True)
class GroupPage:
    detail: GroupDetail
    members: list[MemberRow]
    members_exposure_minor: int  # this group's current members (in the caller's scope)
    tree_exposure_minor: int  # every current member of the tree under the group's top: what the limit applies to
    limit: GroupLimit
    on: dt.date

    @property
    def over(self) -> bool:
        return self.limit.limit_minor > 0 and self.tree_exposure_minor > self.limit.limit_minor


def group_limit(on: dt.date | None = None) -> GroupLimit:
    limits: Limits = concentration_limits(on)
    return GroupLimit(limits.capital_base_minor, limits.source, limits.group_bp, limits.group_minor)


def group_overview(actor: Actor, *, on: dt.date | None = None) -> list[GroupRow]:
    """Every group the actor sees (a tree: each top group, then the groups under it), with the tree's exposure on
    the top group's row."""
    on = on or timezone.localdate()
    limit = group_limit(on)
    rows = []
    for g in registry.list_groups(actor, on=on):
        exposure = group_exposure(registry.group_record(actor, g.id), on) if g.root.id == g.id else None
        rows.append(GroupRow(g, exposure, limit))
    return rows


def group_page(actor: Actor, group_id: int, *, on: dt.date | None = None) -> GroupPage:
    """One group: its members, each with its own whole-book exposure, and the tree's total against the limit."""
    on = on or timezone.localdate()
    detail = registry.get_group(actor, group_id, on=on)
    members = [MemberRow(m, customer_exposure(m.customer_id) if m.current else None) for m in detail.members]
    own = sum(r.exposure_minor or 0 for r in members)
    tree = group_exposure(registry.group_record(actor, group_id), on)
    return GroupPage(detail, members, own, tree, group_limit(on), on)


# The registry's use cases, under the names the plans' API and pages call them by (plans.services exports them).
propose_group_change = registry.propose_change
decide_group_change = registry.decide_change
decide_group_batch = registry.decide_batch
list_group_changes = registry.list_changes
import_group_file = registry.import_file
GroupChangeView = registry.ChangeView
