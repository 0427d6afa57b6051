"""Customer credit lines (统一授信): the arithmetic and the rules, with no database.

A line grants a customer an amount until an expiry date. What occupies it:

* **reserved** — applications approved and not yet paid out;
* **used** — loans paid out: on a *revolving* line their principal still outstanding (repayment gives the room
  back), on a *non-revolving* line everything paid out (repayment gives nothing back).

``available = amount − reserved − used``, never below zero. A **sub-limit** caps one product inside the line (a
product without one may use the whole line): what a new application for a product may take is the lesser of
the line's available amount and the sub-limit's. Only an *active* line that has not expired lends; a frozen,
expired or closed line lends nothing (``Availability.binding`` says which).

Every function here returns a new ``Line`` (frozen dataclasses) or raises ``core.errors`` naming the field; the
services lock the line's row, call these, and write the result.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from creditplan.core.errors import Conflict, FieldProblem, LimitExceeded
from creditplan.core.money import AMOUNT_CEILING_MINOR, MAX_MINOR, format_minor

#: A line is granted for at most this many days (ten years).
MAX_TERM_DAYS = 3653


class LineStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for its first approval: not in force
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"
    REJECTED = "rejected"  # the proposal was rejected: never in force


#: Approved lines: the customer's applications are decided against the newest of them (a closed one refuses).
IN_FORCE: frozenset[str] = frozenset({LineStatus.ACTIVE, LineStatus.FROZEN, LineStatus.CLOSED})
#: At most one line per customer in one of these.
OPEN: frozenset[str] = frozenset({LineStatus.PROPOSED, LineStatus.ACTIVE, LineStatus.FROZEN})


class ChangeKind(StrEnum):
    OPEN = "open"  # the first approval of a proposed line
    INCREASE = "increase"
    REDUCE = "reduce"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    CLOSE = "close"
    EXTEND = "extend"  # a new expiry date
    SUB_LIMITS = "sub_limits"


#: Changes that grant or prolong credit: the approver's authority must cover the line's amount after the change.
GRANTING: frozenset[str] = frozenset({ChangeKind.OPEN, ChangeKind.INCREASE, ChangeKind.UNFREEZE, ChangeKind.EXTEND,
                                      ChangeKind.SUB_LIMITS})


@dataclass(frozen=True)
class Usage:
    """What one product occupies on a line."""

    reserved: int = 0
    used: int = 0

    @property
    def total(self) -> int:
        return self.reserved + self.used


def _no_limits() -> Mapping[str, int]:
    return MappingProxyType({})


def _no_usage() -> Mapping[str, Usage]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Line:
    """A line's terms and counters (amounts in fen)."""

    amount: int
    reserved: int = 0
    used: int = 0
    revolving: bool = True
    status: str = LineStatus.ACTIVE
    expires_on: dt.date | None = None
    sub_limits: Mapping[str, int] = field(default_factory=_no_limits)
    usage: Mapping[str, Usage] = field(default_factory=_no_usage)
    currency: str = "CNY"
    id: int | None = None

    @property
    def occupied(self) -> int:
        return self.reserved + self.used

    @property
    def available(self) -> int:
        """What is left on the whole line (zero, never negative, when a reversed repayment took the line over)."""
        return max(0, self.amount - self.reserved - self.used)

    @property
    def over_by(self) -> int:
        """How far a reversed repayment took the line over its amount (0 normally)."""
        return max(0, self.reserved + self.used - self.amount)

    def of(self, product: str) -> Usage:
        return self.usage.get(product, Usage())

    def sub_available(self, product: str) -> int | None:
        """What is left on the product's sub-limit; None when the product has none."""
        cap = self.sub_limits.get(product)
        return None if cap is None else max(0, cap - self.of(product).total)

    def state_on(self, today: dt.date) -> str:
        """"active" when it lends today; otherwise why not: "frozen", "expired" or "closed" (a proposed or
        rejected line is not in force: "closed")."""
        if self.status == LineStatus.FROZEN:
            return "frozen"
        if self.status != LineStatus.ACTIVE:
            return "closed"
        if self.expires_on is not None and self.expires_on < today:
            return "expired"
        return "active"


@dataclass(frozen=True)
class Availability:
    """What a new application for `product` may take on the line today, and what sets it: ``binding`` is
    "line" (the line's available amount), "sub_limit" (the product's sub-limit), or — nothing can be taken —
    "frozen", "expired" or "closed"."""

    amount_minor: int
    binding: str
    product: str
    line_available_minor: int
    sub_limit_minor: int | None = None
    expires_on: dt.date | None = None

    @property
    def blocked(self) -> bool:
        return self.binding in ("frozen", "expired", "closed")

    def words(self) -> tuple[str, str]:
        """The limit step in English and Chinese (the decision's explanation)."""
        money = format_minor(self.amount_minor)
        if self.binding == "frozen":
            return ("The customer's credit line is frozen: nothing can be lent on it",
                    "客户的授信额度已冻结，不能用信")
        if self.binding == "expired":
            day = self.expires_on.isoformat() if self.expires_on else ""
            return (f"The customer's credit line expired on {day}", f"客户的授信额度已于 {day} 到期")
        if self.binding == "closed":
            return "The customer's credit line is closed", "客户的授信额度已关闭"
        if self.binding == "sub_limit":
            return (f"Available on the credit line's sub-limit for {self.product}: {money}",
                    f"授信额度中 {self.product} 分项额度可用 {money}")
        return f"Available on the customer's credit line: {money}", f"客户授信额度可用 {money}"


def availability(line: Line, product: str, today: dt.date) -> Availability:
    """What a new application for `product` may take today (see `Availability`)."""
    state = line.state_on(today)
    if state != "active":
        return Availability(0, state, product, line.available, line.sub_limits.get(product), line.expires_on)
    sub = line.sub_available(product)
    if sub is not None and sub < line.available:
        return Availability(sub, "sub_limit", product, line.available, line.sub_limits[product], line.expires_on)
    return Availability(line.available, "line", product, line.available, line.sub_limits.get(product),
                        line.expires_on)


# --- refusals -----------------------------------------------------------------------------------------------

BLOCKED_TEXT = {
    "frozen": "the customer's credit line is frozen: no new lending on it until the freeze is lifted",
    "expired": "the customer's credit line has expired: it must be extended before new lending",
    "closed": "the customer's credit line is closed: no new lending on it",
}


def blocked_error(state: str, *, field_name: str = "amount") -> Conflict:
    return Conflict(BLOCKED_TEXT[state], code=f"line_{state}", field=field_name)


# --- occupation ---------------------------------------------------------------------------------------------

def _with(line: Line, product: str, *, reserved: int = 0, used: int = 0) -> Line:
    u = line.of(product)
    usage = dict(line.usage)
    usage[product] = Usage(u.reserved + reserved, u.used + used)
    return replace(line, reserved=line.reserved + reserved, used=line.used + used, usage=MappingProxyType(usage))


def occupy(line: Line, product: str, *, reserved: int = 0, used: int = 0) -> Line:
    """Move the counters by known amounts with no check of room: a new line taking over what the customer
    already holds, an occupation leaving a closed line for the customer's new one (never below zero)."""
    u = line.of(product)
    reserved, used = max(reserved, -u.reserved, -line.reserved), max(used, -u.used, -line.used)
    return _with(line, product, reserved=reserved, used=used)


def reserve(line: Line, product: str, amount: int, today: dt.date) -> Line:
    """Hold `amount` for an approved application. Refused (Conflict, naming `amount`) on a line that does not
    lend today; refused (LimitExceeded, naming `amount`) above what the product may take."""
    if amount <= 0:
        raise ValueError("a reservation is a positive amount")
    a = availability(line, product, today)
    if a.blocked:
        raise blocked_error(a.binding)
    if amount > a.amount_minor:
        what = f"the sub-limit for {product}" if a.binding == "sub_limit" else "the customer's credit line"
        raise LimitExceeded(f"{format_minor(amount)} is above what is available on {what} "
                            f"({format_minor(a.amount_minor)})",
                            code="sub_limit_exceeded" if a.binding == "sub_limit" else "line_exceeded",
                            field="amount", extra={"available_minor": a.amount_minor})
    return _with(line, product, reserved=amount)


def release(line: Line, product: str, amount: int) -> Line:
    """An approval withdrawn, declined or expired: its reservation leaves the line."""
    amount = min(amount, line.of(product).reserved, line.reserved)
    return _with(line, product, reserved=-amount) if amount > 0 else line


def convert(line: Line, product: str, reserved: int, paid: int) -> Line:
    """A disbursement: the application's reservation becomes use (`paid` ≤ `reserved`; the rest is released)."""
    if not 0 < paid <= reserved:
        raise ValueError("a disbursement pays out a positive amount no larger than the reservation")
    reserved = min(reserved, line.of(product).reserved, line.reserved)
    return _with(line, product, reserved=-reserved, used=paid)


def draw(line: Line, product: str, paid: int) -> Line:
    """A loan paid out with no reservation on the line (booked by trusted code, or approved before the line
    existed): straight to use. The caller decides whether the room must be there."""
    if paid <= 0:
        raise ValueError("a drawing is a positive amount")
    return _with(line, product, used=paid)


def restore(line: Line, product: str, principal: int) -> tuple[Line, int]:
    """Principal repaid: a revolving line gets the room back (at most what the product uses); a non-revolving
    line gets nothing back. Returns the line and the amount restored."""
    if principal <= 0 or not line.revolving:
        return line, 0
    back = min(principal, line.of(product).used, line.used)
    return (_with(line, product, used=-back), back) if back else (line, 0)


def unrestore(line: Line, product: str, principal: int) -> Line:
    """A repayment reversed: on a revolving line the principal occupies the line again — even if the room was
    taken meanwhile (the money is owed: `over_by` then says by how much the line is exceeded)."""
    if principal <= 0 or not line.revolving:
        return line
    return _with(line, product, used=principal)


# --- terms: what a proposal or a change may set -------------------------------------------------------------

MAX_LINE_AMOUNT_MINOR = AMOUNT_CEILING_MINOR  # 10**17 fen
"""The largest line or sub-limit (10^15 yuan, as the credit plan's bound): a larger typed amount is refused with
`amount_out_of_range` naming its field (issue 20), far below a BIGINT of fen."""


def term_problems(line: Line, *, amount: int, sub_limits: Mapping[str, int], expires_on: dt.date | None,
                  today: dt.date) -> list[FieldProblem]:
    """Everything wrong with a line's terms at once, each naming its field: the amount (positive, not below
    what is already reserved and used), each sub-limit (`sub_limits.<product>`: positive, not above the line,
    not below what the product already occupies), the expiry (after today, at most ten years away)."""
    problems: list[FieldProblem] = []
    if amount <= 0:
        problems.append(FieldProblem("amount", "the line's amount must be greater than zero", "not_positive"))
    elif amount > min(MAX_MINOR, MAX_LINE_AMOUNT_MINOR):
        problems.append(FieldProblem("amount", "the line's amount is out of range", "amount_out_of_range"))
    elif amount < line.occupied:
        problems.append(FieldProblem(
            "amount", f"the line cannot be below what is already reserved and used on it "
                      f"({format_minor(line.occupied)})", "below_used"))
    for product, cap in sorted(sub_limits.items()):
        name = f"sub_limits.{product}"
        used = line.of(product).total
        if cap <= 0:
            problems.append(FieldProblem(name, "a sub-limit must be greater than zero", "not_positive"))
        elif cap > amount:
            problems.append(FieldProblem(name, f"the sub-limit for {product} ({format_minor(cap)}) is above its "
                                               f"line ({format_minor(amount)})", "sub_limit_above_line"))
        elif cap < used:
            problems.append(FieldProblem(name, f"the sub-limit for {product} cannot be below what the product "
                                               f"already occupies ({format_minor(used)})", "sub_limit_below_used"))
    if expires_on is None:
        problems.append(FieldProblem("expires_on", "the expiry date is required", "required"))
    elif expires_on <= today:
        problems.append(FieldProblem("expires_on", "the expiry date must be after today", "expiry_in_past"))
    elif (expires_on - today).days > MAX_TERM_DAYS:
        problems.append(FieldProblem("expires_on", "a line is granted for at most ten years", "expiry_too_far"))
    return problems


def authority_problem(role: str, amount: int, approver_max: int) -> str:
    """Why a person of `role` may not approve a line of `amount` (granting or prolonging credit); "" if they
    may. Risk managers approve any amount; approvers up to `approver_max`; no other role holds line authority
    (administrators run the system, they do not grant credit)."""
    if role == "risk_manager":
        return ""
    if role == "approver":
        if amount <= approver_max:
            return ""
        return (f"an approver may approve lines up to {format_minor(approver_max)}; {format_minor(amount)} needs "
                "a risk manager")
    return f"a {role} holds no credit-line approval authority"


def reason_languages(text: str) -> tuple[str, str]:
    """A change's (or a freeze's) reason as (English, Chinese). The bank's rules store theirs in both languages, as
    the decision kernel's reasons are: a JSON object {"code", "en", "zh"} (risk's dynamic limits); a person's reason,
    and any reason written before, is the same text in both."""
    if not text.startswith("{"):
        return text, text
    try:
        data = json.loads(text)
    except ValueError:
        return text, text
    if not isinstance(data, dict):
        return text, text
    en, zh = data.get("en"), data.get("zh")
    en = en if isinstance(en, str) and en else (zh if isinstance(zh, str) and zh else text)
    zh = zh if isinstance(zh, str) and zh else en
    return en, zh
