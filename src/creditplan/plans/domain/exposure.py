"""Concentration limits on the whole book (issue 19), without Django.

A customer's exposure is the outstanding principal of every live loan of the customer, whatever plan it came
under (or none), plus its open reservations (approved, not yet paid out) in any plan. A group's exposure is the
same figure over every member of every group under the group's root. Both are measured against the capital base
(资本净额) in force on the day:

* single customer: at most 10 % of the capital base (《商业银行法》第三十九条; 《商业银行大额风险暴露管理办法》, 2018);
* group of connected customers: at most 15 % (《商业银行大额风险暴露管理办法》);
* large exposure: a customer at 2.5 % or more is flagged (the same measures' definition of a large exposure).

The shares are basis points of the plan (`ConcentrationLimits`). Amounts are integer fen; a refusal says the
figures in yuan and hands them back (`ConcentrationCheck.figures`) for the API's problem body and the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from creditplan.core.money import format_minor

SINGLE = "single_customer"
GROUP = "group"


@dataclass(frozen=True, slots=True)
class ConcentrationLimits:
    """Share of the capital base, in parts per ten thousand (basis points): 1000 = 10 %."""

    single_customer_bp: int = 1000
    group_bp: int = 1500
    large_exposure_bp: int = 250


@dataclass(frozen=True, slots=True)
class ConcentrationCheck:
    refused: str = ""
    large_exposure: bool = False
    figures: dict[str, Any] = field(default_factory=dict)  # of the refusal: see `_refusal`


def limit_of(capital: int, bp: int) -> int:
    """The limit in fen (rounded down: a total is refused when total × 10,000 > capital × bp, exactly)."""
    return capital * bp // 10_000


def _pct(bp: int) -> str:
    return f"{bp / 100:g}"


def _refusal(kind: str, total: int, amount: int, capital: int, bp: int, group: str = "") -> ConcentrationCheck:
    limit = limit_of(capital, bp)
    who = "single-customer exposure" if kind == SINGLE else f"exposure of group {group}"
    text = (f"{who} {format_minor(total)} would exceed {_pct(bp)} % of the capital base {format_minor(capital)} "
            f"(limit {format_minor(limit)})")
    figures = {"limit_kind": kind, "group": group, "exposure_minor": total, "amount_minor": amount,
               "limit_minor": limit, "capital_base_minor": capital, "limit_bp": bp}
    return ConcentrationCheck(refused=text, figures=figures)


def check_concentration(limits: ConcentrationLimits, net_capital: int, *, customer_exposure: int,
                        group_exposure: int | None = None, amount: int,
                        groups: Sequence[tuple[str, int]] = ()) -> ConcentrationCheck:
    """Exposures before the new amount; the amount is added to each. Refuse above the single-customer limit, then
    above the group limit of any of the customer's groups (`groups`: (root group code, exposure) — a customer may
    belong to several; `group_exposure` is one unnamed group, kept for callers of the first version); flag a large
    exposure. A capital base of zero or less checks nothing (no base configured)."""
    if net_capital <= 0:
        return ConcentrationCheck()
    customer_total = customer_exposure + amount
    if customer_total * 10_000 > net_capital * limits.single_customer_bp:
        return _refusal(SINGLE, customer_total, amount, net_capital, limits.single_customer_bp)
    named = list(groups) + ([("", group_exposure)] if group_exposure is not None else [])
    for code, exposure in sorted(named, key=lambda g: (-g[1], g[0])):  # the largest first: the one to report
        group_total = exposure + amount
        if group_total * 10_000 > net_capital * limits.group_bp:
            return _refusal(GROUP, group_total, amount, net_capital, limits.group_bp, code)
    return ConcentrationCheck(large_exposure=customer_total * 10_000 >= net_capital * limits.large_exposure_bp)


def describe(figures: dict[str, Any]) -> tuple[str, str]:
    """A refusal's figures in English and in Chinese (the decision's refer reason carries both)."""
    exposure, capital = format_minor(figures["exposure_minor"]), format_minor(figures["capital_base_minor"])
    limit, pct = format_minor(figures["limit_minor"]), _pct(figures["limit_bp"])
    if figures["limit_kind"] == GROUP:
        group = figures["group"]
        return (f"the exposure of group {group} would be {exposure} yuan, above {pct} % of the capital base "
                f"{capital} yuan (limit {limit} yuan)",
                f"集团 {group} 的风险暴露将达 {exposure} 元，超过资本净额 {capital} 元的 {pct}%（限额 {limit} 元）")
    return (f"the exposure to the customer would be {exposure} yuan, above {pct} % of the capital base {capital} yuan "
            f"(limit {limit} yuan)",
            f"单一客户风险暴露将达 {exposure} 元，超过资本净额 {capital} 元的 {pct}%（限额 {limit} 元）")
