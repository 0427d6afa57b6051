"""The approval authority matrix as plain data: who may approve what.

A rule grants a role, at a branch level, for a product (blank: every product), authority up to an amount and
down to a grade (``worst_grade``: the riskiest grade that role may still approve). An approver may approve an
application when one of their rules covers its product, amount and grade and the application's branch is
their own branch or below it. The level an application *requires* is the lowest level at which some rule
covers it (sub-branch, then branch, then head office).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from creditplan.core.money import format_minor

LEVELS = ("sub_branch", "branch", "head_office")
LEVEL_TEXT = {"sub_branch": ("sub-branch", "支行"), "branch": ("branch", "分行"), "head_office": ("head office", "总行")}
GRADES = ("A", "B", "C", "D", "E", "F", "G")


def grade_rank(grade: str, scale: Sequence[str] = GRADES) -> int:
    """Position on the master scale, best first; an unknown grade ranks after every known one."""
    try:
        return list(scale).index(grade)
    except ValueError:
        return len(scale)


@dataclass(frozen=True)
class Authority:
    role: str
    branch_level: str
    product: str
    max_amount_minor: int
    worst_grade: str

    def covers(self, *, product: str, amount_minor: int, grade: str, scale: Sequence[str] = GRADES) -> bool:
        return ((not self.product or self.product == product) and amount_minor <= self.max_amount_minor
                and grade_rank(grade, scale) <= grade_rank(self.worst_grade, scale))


def required_level(rules: Iterable[Authority], *, product: str, amount_minor: int, grade: str,
                   scale: Sequence[str] = GRADES) -> str | None:
    """The lowest branch level holding authority for this application; None when no rule covers it."""
    levels = {r.branch_level for r in rules if r.covers(product=product, amount_minor=amount_minor, grade=grade,
                                                          scale=scale)}
    for level in LEVELS:
        if level in levels:
            return level
    return None


def authority_problem(rules: Iterable[Authority], *, role: str, level: str, product: str, amount_minor: int,
                      grade: str, scale: Sequence[str] = GRADES) -> str | None:
    """Why a user of `role` at a branch of `level` may not approve, or None when a rule allows it."""
    mine = [r for r in rules if r.role == role and r.branch_level == level]
    if not mine:
        return f"a {role} at a {level.replace('_', '-')} has no approval authority"
    if any(r.covers(product=product, amount_minor=amount_minor, grade=grade, scale=scale) for r in mine):
        return None
    for_product = [r for r in mine if not r.product or r.product == product]
    if not for_product:
        return f"a {role} at a {level.replace('_', '-')} has no authority for product {product}"
    best_amount = max(r.max_amount_minor for r in for_product)
    if amount_minor > best_amount:
        return (f"the amount {format_minor(amount_minor)} is above the authority of a {role} at a "
                f"{level.replace('_', '-')} ({format_minor(best_amount)})")
    return f"grade {grade} is riskier than a {role} at a {level.replace('_', '-')} may approve"
