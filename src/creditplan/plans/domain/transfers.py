"""Quota transfers (调剂规模余缺) without Django: which two quotas may trade quota, how much the source can give,
and whether the quota tree still adds up afterwards.

A transfer moves an amount of one measure's limit — new lending (flow in the period) or balance (outstanding at
period end) — from a source quota to a target quota of the same plan: the source's limit goes down by the amount,
the target's up by it, nothing else changes. What the source can give is what it has *available* on that measure
when the transfer is applied (new lending: limit − reserved − consumed; balance: limit − outstanding − reserved),
and never so much that its own children would add up to more than it. By default the two quotas are siblings of
the same kind (two branches under one parent, two products under one parent), so their parent's split is
untouched; a plan may allow transfers across dimensions, and then every split the two touch must still hold.
Amounts are integers of fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from creditplan.plans.domain import QuotaState, split_problem

DIMENSIONS = ("branch", "product", "industry", "region", "segment")


class Measure(StrEnum):
    NEW_LENDING = "new_lending"
    BALANCE = "balance"


def available(state: QuotaState, measure: Measure) -> int:
    """What the quota has free on the measure now (negative when a soft or monitor-only quota went past it)."""
    return state.available if measure is Measure.NEW_LENDING else state.balance_available


def deltas(measure: Measure, amount: int) -> tuple[int, int]:
    """(new-lending limit delta, balance limit delta) the target receives; the source gets the opposite."""
    return (amount, 0) if measure is Measure.NEW_LENDING else (0, amount)


@dataclass(frozen=True, slots=True)
class Node:
    """A quota's place in its plan's tree: its id, its ancestors (parent first, root last) and which dimensions
    it narrows its parent on (a branch child of the root: {"branch"}; a product child of a branch: {"product"};
    the root: empty)."""

    id: int
    ancestors: tuple[int, ...]
    narrows: frozenset[str]

    @property
    def parent(self) -> int | None:
        return self.ancestors[0] if self.ancestors else None


def narrows(own: dict[str, object], parent: dict[str, object] | None) -> frozenset[str]:
    """The dimensions a quota sets differently from its parent (blank = all)."""
    if parent is None:
        return frozenset()
    return frozenset(d for d in DIMENSIONS if own.get(d) != parent.get(d))


@dataclass(frozen=True, slots=True)
class Problem:
    """Why two quotas cannot trade: a stable code, the input field it is about and an English sentence."""

    code: str
    field: str
    message: str


def placement_problem(source: Node, target: Node, *, across_dimensions: bool) -> Problem | None:
    """May quota move from `source` to `target` at all (before any amount is looked at)?

    - never to itself, never between a quota and one of its ancestors (a parent already contains its children's
      quota: moving it between them would count it twice or not at all);
    - by default only between siblings of one kind: the same parent and the same dimensions narrowed (branch to
      branch, product to product) — the parent's split is then unchanged;
    - across dimensions (branch to product, or to a quota under another parent) only where the plan allows it; the
      splits are then checked by `split_problems`."""
    if source.id == target.id:
        return Problem("same_quota", "target", "a transfer needs two different quotas")
    if source.id in target.ancestors or target.id in source.ancestors:
        return Problem("transfer_ancestor", "target",
                       "one quota contains the other: quota moves between quotas side by side, not up or down a tree")
    if across_dimensions:
        return None
    if source.parent is None or source.parent != target.parent or source.narrows != target.narrows:
        return Problem("transfer_not_siblings", "target",
                       "this plan moves quota only between quotas of one kind under the same parent (branch to "
                       "branch, product to product); transfers across dimensions are not allowed in it")
    return None


@dataclass(frozen=True, slots=True)
class Limits:
    """A quota's two limits and its children's (id → (new lending, balance)) for the split checks."""

    id: int
    new_lending: int
    balance: int
    children: dict[int, tuple[int, int]]


def split_problems(quotas: list[Limits], source: int, target: int, measure: Measure, amount: int
                   ) -> list[tuple[int, str]]:
    """Would every split among `quotas` (the source, the target and the parents whose children change) still hold
    once `amount` of `measure` has moved from `source` to `target`? (quota id, problem) for each that would not.
    Only the source's own split (its limit goes down under its children) and the target's parent's (a child goes
    up) can break; the others are checked all the same, the rule is "every split holds"."""
    dn, db = deltas(measure, amount)
    change = {source: (-dn, -db), target: (dn, db)}
    out = []
    for q in quotas:
        if not q.children:
            continue
        own = change.get(q.id, (0, 0))
        kids = [(n + change.get(cid, (0, 0))[0], b + change.get(cid, (0, 0))[1]) for cid, (n, b) in q.children.items()]
        problem = split_problem(q.new_lending + own[0], q.balance + own[1], kids)
        if problem:
            out.append((q.id, problem))
    return out


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The source cannot give `requested`: it has only `available` free (code transfer_source_short), or its
    children hold so much of its limit that at most `available` may leave it (code transfer_source_allocated)."""

    code: str
    available: int
    requested: int


def source_shortfall(state: QuotaState, measure: Measure, amount: int, children_limit: int = 0) -> Shortfall | None:
    """Can the source give `amount` of `measure` now? `children_limit` is what its children's limits add up to on
    that measure (0 for a quota not split further)."""
    if amount <= 0:
        raise ValueError("a transfer moves a positive amount")
    free = available(state, measure)
    if amount > free:
        return Shortfall("transfer_source_short", max(free, 0), amount)
    limit = state.new_lending_limit if measure is Measure.NEW_LENDING else state.balance_limit
    unallocated = limit - children_limit
    if amount > unallocated:
        return Shortfall("transfer_source_allocated", max(unallocated, 0), amount)
    return None
