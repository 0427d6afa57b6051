"""Stress tests of the loan book (issue 17, item 7): a macro shock mapped to PD multipliers by segment and industry
and to LGDs, and what it does to expected loss, the NPL ratio, the provision, capital and the credit plan's headroom.

The mapping (`from_macro`, written down so that a reviewer can challenge each number):
- unemployment up u percentage points → the PD of individuals × (1 + 0.25·u): retail default rates in published
  macro stress tests (PBOC Financial Stability Report sensitivity tests, EBA 2023 adverse scenario) move by about a
  quarter per point of unemployment;
- GDP growth down g percentage points → the PD of companies × (1 + 0.15·β·g), β the industry's cyclicality
  (`INDUSTRY_BETA`: construction and real estate 1.6, accommodation 1.4, mining 1.3, manufacturing 1.2, …, 1 for
  an industry not listed, 0.6 for public administration);
- property prices down f (a share) → the LGD of a loan secured by property: 1 − (1 − LGD)·(1 − f) (what the
  collateral recovers falls with its price); other loans' LGD × `lgd_multiplier` (capped at 1).

A scenario may also be given directly as multipliers. Every multiplier must be a number of 0 or more and a property
fall a share from 0 to 1: anything else is refused with the field named (`pd_industry.E`, `property_fall`, …).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditplan.risk.domain.ecl import EclError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

UNEMPLOYMENT_ELASTICITY = 0.25
GDP_ELASTICITY = 0.15
INDUSTRY_BETA: dict[str, float] = {
    "A": 1.1, "B": 1.3, "C": 1.2, "D": 0.8, "E": 1.6, "F": 1.1, "G": 1.1, "H": 1.4, "I": 0.9, "J": 0.8, "K": 1.6,
    "L": 1.1, "M": 0.9, "N": 0.8, "O": 1.0, "P": 0.7, "Q": 0.7, "R": 1.2, "S": 0.6, "T": 0.6,
}
INDIVIDUAL = "individual"
COMPANY = "company"
PROPERTY = "property"
ANY = "*"


def _multiplier(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise EclError(f"{field_name} must be a number of 0 or more", code="negative_multiplier", field=field_name)
    return float(value)


@dataclass(frozen=True)
class StressScenario:
    """The shock (for the record and the page) and what it does: PD multipliers by segment (individual / company)
    and by industry section for companies ("*": sections not listed), the property-price fall, and the LGD
    multiplier of the loans not secured by property."""

    code: str
    pd_segment: Mapping[str, float] = field(default_factory=dict)
    pd_industry: Mapping[str, float] = field(default_factory=dict)
    property_fall: float = 0.0
    lgd_multiplier: float = 1.0
    unemployment_pp: float = 0.0
    gdp_pp: float = 0.0

    def check(self) -> None:
        for name, table in (("pd_segment", self.pd_segment), ("pd_industry", self.pd_industry)):
            for key, value in table.items():
                _multiplier(value, f"{name}.{key}")
        _multiplier(self.lgd_multiplier, "lgd_multiplier")
        fall = self.property_fall
        if isinstance(fall, bool) or not isinstance(fall, (int, float)) or not math.isfinite(fall) \
                or not 0 <= fall <= 1:
            raise EclError("the property-price fall is a share from 0 to 1", code="property_fall_out_of_range",
                           field="property_fall")
        for name in ("unemployment_pp", "gdp_pp"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 50:
                raise EclError(f"{name} is a number of percentage points (at most 50)", code="shock_out_of_range",
                               field=name)


def from_macro(code: str, *, unemployment_pp: float = 0.0, gdp_pp: float = 0.0, property_fall: float = 0.0,
               lgd_multiplier: float = 1.0) -> StressScenario:
    """A scenario from a macro shock, through the elasticities above (floors at 0: a large recovery cannot make a
    PD negative)."""
    scenario = StressScenario(code, property_fall=property_fall, lgd_multiplier=lgd_multiplier,
                              unemployment_pp=unemployment_pp, gdp_pp=gdp_pp)
    scenario.check()
    individual = max(0.0, 1.0 + UNEMPLOYMENT_ELASTICITY * unemployment_pp)
    industry = {s: round(max(0.0, 1.0 + GDP_ELASTICITY * beta * gdp_pp), 6) for s, beta in INDUSTRY_BETA.items()}
    industry[ANY] = round(max(0.0, 1.0 + GDP_ELASTICITY * gdp_pp), 6)
    return StressScenario(code, {INDIVIDUAL: round(individual, 6), COMPANY: 1.0}, industry, property_fall,
                          lgd_multiplier, unemployment_pp, gdp_pp)


def pd_multipliers(scenario: StressScenario, segment: NDArray[Any], section: NDArray[Any]) -> FloatArray:
    """Each loan's PD multiplier: its segment's, times (for a company) its industry section's ("*" where the section
    is not listed; 1 when neither is)."""
    seg = np.asarray(segment, dtype=object)
    sec = np.asarray(section, dtype=object)
    by_segment = np.array([scenario.pd_segment.get(str(s), 1.0) for s in seg.tolist()], dtype=np.float64)
    default = scenario.pd_industry.get(ANY, 1.0)
    by_industry = np.array([scenario.pd_industry.get(str(s), default) for s in sec.tolist()], dtype=np.float64)
    return np.asarray(by_segment * np.where(seg == COMPANY, by_industry, 1.0), dtype=np.float64)


def stressed_lgd(lgd: FloatArray, collateral: NDArray[Any], scenario: StressScenario) -> FloatArray:
    """Property-secured loans: 1 − (1 − LGD)·(1 − fall); the others: LGD × the multiplier; capped at 1."""
    base = np.asarray(lgd, dtype=np.float64)
    secured = np.asarray(collateral, dtype=object) == PROPERTY
    out = np.where(secured, 1.0 - (1.0 - base) * (1.0 - scenario.property_fall), base * scenario.lgd_multiplier)
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float64)


NPL_CLASS = 3
"""次级 and worse: the non-performing loans of the five-category classification."""


def book_figures(outstanding: IntArray, risk_class: IntArray, stage: IntArray, pd12: FloatArray, lgd: FloatArray,
                 ead: IntArray, ecl: IntArray) -> dict[str, Any]:
    """The figures a stress test compares, for one set of PDs and LGDs over the book (amounts in fen):
    - `expected_loss`: the one-year expected loss, Σ PD12 × LGD × EAD (credit-impaired loans: LGD × EAD);
    - `npl_now`: the NPL ratio today (outstanding of class ≥ 3 over all outstanding);
    - `npl_ratio`: the NPL ratio a year on, if the performing loans migrate to non-performing at their 12-month PD
      (NPL outstanding + Σ performing outstanding × PD12, over all outstanding);
    - `provision`: the loss allowance (Σ ECL), with the loans and allowance per stage."""
    out = np.asarray(outstanding, dtype=np.int64)
    cls = np.asarray(risk_class, dtype=np.int64)
    st = np.asarray(stage, dtype=np.int64)
    p = np.asarray(pd12, dtype=np.float64)
    lg = np.asarray(lgd, dtype=np.float64)
    e = np.asarray(ead, dtype=np.float64)
    allowance = np.asarray(ecl, dtype=np.int64)
    npl = cls >= NPL_CLASS
    total = int(out.sum())
    npl_amount = int(out[npl].sum())
    migrating = float((out[~npl].astype(np.float64) * p[~npl]).sum())
    loss = np.where(st == 3, lg * e, p * lg * e)
    return {
        "loans": int(out.size), "outstanding": total, "expected_loss": int(math.floor(float(loss.sum()) + 0.5)),
        "npl_now": npl_amount / total if total else None,
        "npl_ratio": (npl_amount + migrating) / total if total else None,
        "provision": int(allowance.sum()),
        "stage_loans": [int((st == s).sum()) for s in (1, 2, 3)],
        "stage_ecl": [int(allowance[st == s].sum()) for s in (1, 2, 3)],
    }


def capital_impact(base_provision: int, stressed_provision: int, net_capital: int | None) -> dict[str, Any]:
    """The extra provision the stress needs, charged to capital: its share of net capital and the capital left."""
    extra = int(stressed_provision) - int(base_provision)
    if not net_capital:
        return {"extra_provision": extra, "net_capital": None, "share_of_capital": None, "capital_after": None}
    return {"extra_provision": extra, "net_capital": int(net_capital),
            "share_of_capital": extra / int(net_capital), "capital_after": int(net_capital) - extra}


def plan_headroom(plan: Mapping[str, Any] | None, extra_provision: int, customer: IntArray, outstanding: IntArray
                  ) -> dict[str, Any] | None:
    """The credit plan's room under the stress. The plan sizes lending to net capital; capital lost to the extra
    provision shrinks the balance and new-lending quotas in proportion (limit × capital after ÷ capital) and the
    single-customer limit (net capital × its basis points): headroom = quota − what is used, before and after, and
    the customers whose exposure the smaller single-customer limit no longer covers."""
    if plan is None or not plan.get("net_capital"):
        return None
    capital = int(plan["net_capital"])
    after = max(capital - int(extra_provision), 0)
    scale = after / capital
    c = np.asarray(customer, dtype=np.int64)
    amounts = np.asarray(outstanding, dtype=np.int64)
    exposure = np.zeros(0, dtype=np.int64)
    if c.size:
        _ids, inv = np.unique(c, return_inverse=True)
        exposure = np.zeros(_ids.size, dtype=np.int64)
        np.add.at(exposure, inv, amounts)
    bp = int(plan["single_customer_bp"])
    single_base = capital * bp // 10_000
    single_after = after * bp // 10_000
    balance, lending = int(plan["balance_limit"]), int(plan["new_lending_limit"])
    used_balance, used_lending = int(plan["outstanding"]), int(plan["used"])
    return {
        "plan": plan.get("code"), "net_capital": capital, "capital_after": after,
        "balance_limit": balance, "balance_limit_after": int(balance * scale),
        "balance_headroom": balance - used_balance, "balance_headroom_after": int(balance * scale) - used_balance,
        "new_lending_limit": lending, "new_lending_limit_after": int(lending * scale),
        "new_lending_headroom": lending - used_lending, "new_lending_headroom_after": int(lending * scale) - used_lending,
        "single_customer_limit": single_base, "single_customer_limit_after": single_after,
        "customers_over_limit": int((exposure > single_base).sum()),
        "customers_over_limit_after": int((exposure > single_after).sum()),
    }
