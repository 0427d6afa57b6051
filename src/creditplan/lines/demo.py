"""Credit lines in the demo (`creditplan seed-demo`): lines opened the way a bank opens them — proposed by a maker,
approved by a checker with the authority — over what the demo's customers already hold.

A line coming into force takes over the customer's loans still owing principal and approvals not yet paid out (the
exposure source that origination registers, lines/services/sources.py), so the demo only chooses the terms: an
amount above what the customer holds, an expiry, revolving or not, sub-limits by product. Who proposes and who
approves follows the demo's staff (customers/demo.py): the loan officer of the customer's sub-branch (else the
approver of its branch, else a risk manager) proposes; the branch's approver approves up to the approvers'
authority, a risk manager above it or where the branch has no approver.

Called by risk's post-loan demo (risk/demo_post_loan.py); lines never imports the apps above it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from creditplan.core.access import Actor
from creditplan.core.money import format_minor
from creditplan.customers.models import Customer
from creditplan.lines import domain
from creditplan.lines import services as lines
from creditplan.lines.services import sources

STEP_MINOR = 1_000_000  # lines are whole 10,000.00 yuan
MIN_LINE_MINOR = 5_000_000  # 50,000.00 yuan


def held(customer_id: int) -> domain.Line:
    """What the customer already holds (loans owing principal, approvals not paid out) as a line's counters: what a
    line opened now takes over."""
    line = domain.Line(amount=0)
    for e in sources.exposures(customer_id):
        if e.currency == "CNY":
            line = domain.occupy(line, e.product, reserved=e.reserved_minor, used=e.outstanding_minor)
    return line


def round_up(minor: int) -> int:
    return max(MIN_LINE_MINOR, -(-minor // STEP_MINOR) * STEP_MINOR)


@dataclass(frozen=True)
class Terms:
    amount_minor: int
    expires_on: dt.date
    revolving: bool
    sub_limits: Mapping[str, int] = field(default_factory=dict)


def terms_for(holding: domain.Line, rnd: random.Random, today: dt.date, *, use: float,
              expires_in_days: int | None = None) -> Terms:
    """Terms of a line that the customer's holding fills to about `use` (0–1): the amount rounded up to whole
    10,000.00 yuan; two to three years to run unless `expires_in_days`; revolving for consumer borrowers, non-revolving
    for most mortgage-only ones; a sub-limit on about half the lines, on the product with most use, between what it
    uses and the line."""
    amount = round_up(int(holding.occupied / max(use, 0.05)))
    products = sorted(holding.usage, key=lambda p: (-holding.usage[p].total, p))
    revolving = not (products == ["mortgage"] and rnd.random() < 0.7) and rnd.random() < 0.8
    days = expires_in_days if expires_in_days is not None else 365 * 2 + rnd.randrange(0, 365)
    subs: dict[str, int] = {}
    if products and rnd.random() < 0.5:
        top = products[0]
        used = holding.usage[top].total
        subs[top] = min(amount, round_up(used + (amount - holding.occupied) // 2))
    if "consumer" not in holding.usage and rnd.random() < 0.4:
        subs["consumer"] = min(amount, 20_000_000)  # 200,000.00 yuan for a consumer loan not taken yet
    return Terms(amount, today + dt.timedelta(days=days), revolving, subs)


def yuan(minor: int) -> str:
    return format_minor(minor, grouping=False)


def open_line(maker: Actor, checker: Actor, customer_id: int, terms: Terms, reason: str, *,
              approve: bool = True) -> int:
    """Propose a line (maker) and, with `approve`, approve it (checker): the line's id. Left waiting for its
    checker when `approve` is false."""
    change = lines.propose_line(maker, customer_id=customer_id, amount=yuan(terms.amount_minor),
                                expires_on=terms.expires_on, revolving=terms.revolving,
                                sub_limits={p: yuan(v) for p, v in terms.sub_limits.items()}, reason=reason)
    if approve:
        lines.decide_change(checker, change.id, approve=True, note="")
    return change.line_id


class Staff:
    """Maker and checker for a customer's branch, from the demo's users (username → user)."""

    def __init__(self, users: Mapping[str, Actor]) -> None:
        self.users = users
        self.officers: dict[str, Actor] = {}
        self.approvers: dict[str, Actor] = {}
        for u in users.values():
            path = getattr(getattr(u, "branch", None), "path", "")
            if u.role == "loan_officer" and path:
                self.officers[path] = u
            elif u.role == "approver" and path:
                self.approvers[path] = u

    def _over(self, people: Mapping[str, Actor], path: str) -> Actor | None:
        found = [(len(p), u) for p, u in people.items() if path.startswith(p)]
        return max(found, key=lambda t: t[0])[1] if found else None

    def for_customer(self, customer: Customer, amount_minor: int) -> tuple[Actor, Actor]:
        """The officer of the customer's sub-branch proposes (else the approver over it, else a risk manager); the
        approver over the branch approves within the approvers' authority, a risk manager otherwise."""
        path = customer.branch.path
        maker = self.officers.get(path) or self._over(self.approvers, path) or self.users["risk"]
        approver = self._over(self.approvers, path)
        if approver is not None and approver is not maker and amount_minor <= lines.approver_max_minor():
            return maker, approver
        return maker, self.users["risk2" if maker is not self.users["risk2"] else "risk"]
