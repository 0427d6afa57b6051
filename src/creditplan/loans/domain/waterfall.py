"""Where a payment goes: the repayment waterfall.

Two methods (issue 18), fixed in the term sheet (clause `allocation`; absent: by component in the product's
order, as before):
- by component (`component`): component by component in the order, each component oldest due first — all
  penalty, then all fees, then all interest, then all principal, across the installments;
- installment by installment (`installment`, 逐期还款): the oldest installment is paid in full, component by
  component in the order, before the next one. Penalty and late fees are loan-level charges (they are not kept
  per installment): they belong to the oldest arrears and go with the oldest installment, late fees before its
  own installment fee.

The default order
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
BY_COMPONENT = "component"
BY_INSTALLMENT = "installment"
METHODS = (BY_COMPONENT, BY_INSTALLMENT)


@dataclass(frozen=True)
class Rule:
    """How a loan's payments are allocated: the method and the order of the components."""

    by: str = BY_COMPONENT
    order: tuple[str, ...] = DEFAULT_ORDER


def check_method(by: str) -> str:
    if by not in METHODS:
        raise ValidationError(f"allocation must be one of {', '.join(METHODS)}; got {by!r}", field="allocation",
                              code="invalid_allocation")
    return by


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
             order: Sequence[str] = DEFAULT_ORDER, by: str = BY_COMPONENT) -> Allocation:
    """Apply `amount` (minor units, ≥ 0) to the charges due. `dues` must be oldest first; `fees` is the loan's
    total unpaid fees (installment fees that fell due plus late fees). `by`: component (default) or
    installment (逐期)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValidationError("a payment amount is a non-negative number of minor units", field="amount")
    if any(b.seq <= a.seq for a, b in zip(dues, dues[1:], strict=False)):
        raise ValidationError("dues must be listed oldest first", code="dues_order")
    if check_method(by) == BY_INSTALLMENT:
        return _by_installment(amount, penalty, fees, dues, check_order(order))
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


def _by_installment(amount: int, penalty: int, fees: int, dues: Sequence[Due], order: tuple[str, ...]
                    ) -> Allocation:
    """逐期: each installment in full, oldest first, component by component in `order`; the loan-level penalty
    and late fees (fees beyond the installments' own) with the oldest installment, late fees before its fee."""
    left = amount
    late = max(0, fees - sum(d.fee for d in dues))
    paid_penalty = paid_late = 0
    by_seq: dict[str, dict[int, int]] = {"interest": {}, "principal": {}, "fee": {}}
    groups: list[Due | None] = list(dues) or [None]
    for k, d in enumerate(groups):
        for item in order:
            if left == 0:
                break
            if k == 0 and item == "penalty":
                paid_penalty = min(left, penalty)
                left -= paid_penalty
                continue
            if k == 0 and item == "fee":
                paid_late = min(left, late)
                left -= paid_late
            if d is None or item == "penalty":
                continue
            take = min(left, getattr(d, item))
            if take:
                by_seq[item][d.seq] = take
                left -= take
        if left == 0:
            break
    fee_by_seq = by_seq["fee"]
    return Allocation(penalty=paid_penalty, fee=paid_late + sum(fee_by_seq.values()),
                      interest=sum(by_seq["interest"].values()), principal=sum(by_seq["principal"].values()),
                      left=left, interest_by_seq=by_seq["interest"], principal_by_seq=by_seq["principal"],
                      fee_by_seq=fee_by_seq)
