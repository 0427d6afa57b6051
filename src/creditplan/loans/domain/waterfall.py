"""Where a payment goes: the repayment waterfall.

Component by component in the product's order, each component oldest due first. The default order
penalty → fee → interest → principal follows the rule Chinese courts apply when a debtor's payment does not
cover everything (expenses, then interest, then principal: 最高人民法院 民法典合同编通则解释 / 原《合同法》
司法解释(二) 第21条), with penalty interest treated as the first charge. Only amounts already due are paid; what
is left is the caller's to keep as credit, refund, or use as a prepayment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from creditplan.core.errors import ValidationError

DEFAULT_ORDER = ("penalty", "fee", "interest", "principal")


@dataclass(frozen=True)
class Due:
    """What is still unpaid on one installment that has fallen due."""

    seq: int
    interest: int
    principal: int
    fee: int = 0


@dataclass(frozen=True)
class Allocation:
    penalty: int = 0
    fee: int = 0  # loan-level fees paid (installment fees and late fees)
    interest: int = 0
    principal: int = 0
    left: int = 0  # not applied: credit, refund or prepayment
    interest_by_seq: Mapping[int, int] = field(default_factory=dict)
    principal_by_seq: Mapping[int, int] = field(default_factory=dict)
    fee_by_seq: Mapping[int, int] = field(default_factory=dict)  # the part of `fee` that settles installment fees

    @property
    def applied(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal

    def as_dict(self) -> dict[str, int]:
        return {"penalty": self.penalty, "fee": self.fee, "interest": self.interest, "principal": self.principal}


def check_order(order: Sequence[str]) -> tuple[str, ...]:
    if sorted(order) != sorted(DEFAULT_ORDER):
        raise ValidationError(f"a waterfall orders exactly {', '.join(DEFAULT_ORDER)}; got {list(order)}",
                              field="waterfall", code="invalid_waterfall")
    return tuple(order)


def allocate(amount: int, *, penalty: int, fees: int, dues: Sequence[Due],
             order: Sequence[str] = DEFAULT_ORDER) -> Allocation:
    """Apply `amount` (minor units, ≥ 0) to the charges due. `dues` must be oldest first; `fees` is the loan's
    total unpaid fees (installment fees that fell due plus late fees)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValidationError("a payment amount is a non-negative number of minor units", field="amount")
    if any(b.seq <= a.seq for a, b in zip(dues, dues[1:], strict=False)):
        raise ValidationError("dues must be listed oldest first", code="dues_order")
    left = amount
    paid = {"penalty": 0, "fee": 0}
    by_seq: dict[str, dict[int, int]] = {"interest": {}, "principal": {}}
    for item in check_order(order):
        if left == 0:
            break
        if item in paid:
            owed = penalty if item == "penalty" else fees
            take = min(left, owed)
            paid[item], left = take, left - take
            continue
        for d in dues:
            take = min(left, getattr(d, item))
            if take:
                by_seq[item][d.seq] = take
                left -= take
            if left == 0:
                break
    fee_by_seq: dict[int, int] = {}
    rest = paid["fee"]
    for d in dues:  # the fees paid settle installment fees oldest first; beyond them, late fees
        take = min(rest, d.fee)
        if take:
            fee_by_seq[d.seq] = take
            rest -= take
    return Allocation(penalty=paid["penalty"], fee=paid["fee"], interest=sum(by_seq["interest"].values()),
                      principal=sum(by_seq["principal"].values()), left=left,
                      interest_by_seq=by_seq["interest"], principal_by_seq=by_seq["principal"], fee_by_seq=fee_by_seq)
