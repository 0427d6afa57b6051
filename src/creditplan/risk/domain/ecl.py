"""Expected credit loss (IFRS 9 / CAS 22 金融工具确认和计量): staging, PD term structures, and the loss allowance.

Why column kernels: a month-end provision covers every loan on the book (a million in the benchmark) and must be
the same figure in the nightly run, in a what-if and on Spark; every function here works on numpy arrays, one
element per loan, and returns fen.

Staging (`stage_loans`): a loan is
- stage 3, credit-impaired, when it is more than `impaired_dpd` (90) days past due or classed 次级 or worse (3+);
- stage 2, significant increase in credit risk, when it is `sicr_dpd` (30) or more days past due, classed 关注 (2),
  on the watch list, or its 12-month PD is at least `pd_ratio` (3) times its PD at origination;
- stage 1 otherwise.
A loan moves to a better stage only after it has met the better stage's conditions for `cure_months` months in a
row (3 to leave stage 2, 6 to leave stage 3 by default): the cure rule. It moves to a worse stage at once.

ECL = Σ over months t of marginal PD(t) × LGD × EAD(t) × DF(t), where DF(t) = (1 + EIR)^(−t/12) discounts month t's
loss to the reporting date at the loan's effective interest rate; over the next 12 months (or to maturity, if
sooner) for stage 1, over the remaining life for stage 2; stage 3 has defaulted already: ECL = LGD × EAD(now).
A probability-weighted set of scenarios multiplies PDs and LGDs (capped at 1); the allowance is the weighted sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class EclError(ValueError):
    """A parameter that cannot be meant (a negative PD multiplier, an LGD outside 0–1…), naming the field."""

    def __init__(self, message: str, *, code: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


@dataclass(frozen=True)
class StagingRules:
    sicr_dpd: int = 30
    impaired_dpd: int = 90
    sicr_class: int = 2
    impaired_class: int = 3
    pd_ratio: float = 3.0
    cure_months_stage2: int = 3
    cure_months_stage3: int = 6

    def check(self) -> None:
        if not 0 < self.sicr_dpd <= self.impaired_dpd:
            raise EclError("the days past due of stage 2 must be positive and not above those of stage 3",
                           code="staging_dpd", field="sicr_dpd")
        if not self.pd_ratio > 1:
            raise EclError("the PD ratio that signals a significant increase must be above 1", code="pd_ratio",
                           field="pd_ratio")
        for name in ("cure_months_stage2", "cure_months_stage3"):
            if not 0 <= getattr(self, name) <= 36:
                raise EclError("a cure period is from 0 to 36 months", code="cure_months", field=name)


def raw_stage(dpd: IntArray, risk_class: IntArray, watch: NDArray[np.bool_], pd_now: FloatArray,
              pd_origination: FloatArray, rules: StagingRules) -> IntArray:
    """The stage each loan's current condition calls for, before the cure rule."""
    dpd = np.asarray(dpd, dtype=np.int64)
    cls = np.asarray(risk_class, dtype=np.int64)
    now = np.asarray(pd_now, dtype=np.float64)
    orig = np.asarray(pd_origination, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        tripled = (orig > 0) & (now >= rules.pd_ratio * orig)
    impaired = (dpd > rules.impaired_dpd) | (cls >= rules.impaired_class)
    sicr = (dpd >= rules.sicr_dpd) | (cls == rules.sicr_class) | np.asarray(watch, dtype=bool) | tripled
    return np.where(impaired, 3, np.where(sicr, 2, 1)).astype(np.int64)


def stage_loans(raw: IntArray, previous: IntArray, months_cured: IntArray, rules: StagingRules
                ) -> tuple[IntArray, IntArray]:
    """Apply the cure rule month by month: (stage now, months the loan has met a better stage in a row).

    `previous` is last month's stage (0 for a new loan), `months_cured` last month's count."""
    raw = np.asarray(raw, dtype=np.int64)
    prev = np.asarray(previous, dtype=np.int64)
    cured = np.asarray(months_cured, dtype=np.int64)
    better = (prev > 0) & (raw < prev)
    count = np.where(better, cured + 1, 0)
    needed = np.where(prev == 3, rules.cure_months_stage3, rules.cure_months_stage2)
    release = better & (count >= needed)
    # worse or new: the raw stage at once; better: only once cured long enough (and then straight to the raw stage)
    stage = np.where(better & ~release, prev, raw)
    return stage.astype(np.int64), np.where(release, 0, count).astype(np.int64)


# --- PD term structures ---------------------------------------------------------------------------------------

def cumulative_pd_from_matrix(monthly: FloatArray, default_state: int, horizon: int) -> FloatArray:
    """Cumulative probability of default within 1 … `horizon` months, from each starting state, by powers of a
    monthly transition matrix whose default state is absorbing (rows are made to sum to 1; the default row is
    forced to stay in default)."""
    m = np.asarray(monthly, dtype=np.float64).copy()
    n = m.shape[0]
    if m.shape != (n, n) or not 0 <= default_state < n:
        raise EclError("the transition matrix must be square and hold the default state", code="matrix_shape",
                       field="matrix")
    if (m < 0).any():
        raise EclError("a transition probability cannot be negative", code="matrix_negative", field="matrix")
    m[default_state] = 0.0
    m[default_state, default_state] = 1.0
    sums = m.sum(axis=1, keepdims=True)
    m = np.divide(m, np.where(sums > 0, sums, 1.0))
    out = np.empty((n, horizon), dtype=np.float64)
    p = np.eye(n)
    for t in range(horizon):
        p = p @ m
        out[:, t] = p[:, default_state]
    return out


def scale_curve(cumulative: FloatArray, pd12: FloatArray) -> FloatArray:
    """Rescale cumulative PD curves (one row per loan) so that each reaches its own 12-month PD at month 12,
    keeping the curve's shape: survival S(t) becomes S(t)^k with k = ln(1 − PD12) / ln(S(12)). Curves shorter than
    12 months are scaled at their last month. PD12 of 0 gives a zero curve; 1 gives certain default."""
    cum = np.clip(np.asarray(cumulative, dtype=np.float64), 0.0, 1.0)
    target = np.clip(np.asarray(pd12, dtype=np.float64), 0.0, 1.0)
    anchor = cum[:, min(11, cum.shape[1] - 1)]
    surv = 1.0 - cum
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where((anchor > 0) & (anchor < 1) & (target < 1), np.log1p(-target) / np.log1p(-anchor), 1.0)
    scaled = 1.0 - np.power(surv, k[:, None])
    scaled = np.where(target[:, None] >= 1.0, 1.0, scaled)
    scaled = np.where((target[:, None] <= 0.0), 0.0, scaled)
    return np.maximum.accumulate(np.clip(scaled, 0.0, 1.0), axis=1)


def flat_curve(pd12: FloatArray, horizon: int) -> FloatArray:
    """A constant monthly hazard reaching each loan's 12-month PD at month 12: 1 − (1 − PD12)^(t/12)."""
    t = np.arange(1, horizon + 1, dtype=np.float64)
    p = np.clip(np.asarray(pd12, dtype=np.float64), 0.0, 1.0)
    return 1.0 - np.power(1.0 - p[:, None], t[None, :] / 12.0)


def marginal(cumulative: FloatArray) -> FloatArray:
    """Probability of defaulting in each month (not before): the differences of the cumulative curve."""
    cum = np.asarray(cumulative, dtype=np.float64)
    return np.diff(np.concatenate([np.zeros((cum.shape[0], 1)), cum], axis=1), axis=1)


# --- the allowance ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    name: str
    weight: float
    pd_multiplier: float = 1.0
    lgd_multiplier: float = 1.0

    def check(self, field: str = "scenarios") -> None:
        for attr in ("weight", "pd_multiplier", "lgd_multiplier"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise EclError(f"the {attr.replace('_', ' ')} of scenario {self.name} must be a number of 0 or more",
                               code=f"negative_{attr}", field=f"{field}.{self.name}.{attr}")


BASE_ONLY = (Scenario("base", 1.0),)


def check_scenarios(scenarios: Sequence[Scenario]) -> None:
    if not scenarios:
        raise EclError("at least one scenario is needed", code="no_scenario", field="scenarios")
    for s in scenarios:
        s.check()
    total = sum(s.weight for s in scenarios)
    if abs(total - 1.0) > 1e-9:
        raise EclError(f"the scenarios' weights add up to {total:g}, not 1", code="weights_not_one",
                       field="scenarios")


def check_lgd(lgd: FloatArray, field: str = "lgd") -> None:
    values = np.asarray(lgd, dtype=np.float64)
    if values.size and (not np.isfinite(values).all() or values.min() < 0 or values.max() > 1):
        raise EclError("an LGD is a share of the exposure, from 0 to 1", code="lgd_out_of_range", field=field)


def discount_factors(eir: FloatArray, months: int) -> FloatArray:
    """DF[loan, t] = (1 + EIR)^(−t/12) for t = 1 … months: month t's loss brought back to the reporting date."""
    rate = np.asarray(eir, dtype=np.float64)
    t = np.arange(1, months + 1, dtype=np.float64)
    return np.power(1.0 + rate[:, None], -t[None, :] / 12.0)


def expected_loss(stage: IntArray, cumulative_pd: FloatArray, lgd: FloatArray, ead: FloatArray, eir: FloatArray,
                  remaining_months: IntArray, scenarios: Sequence[Scenario] = BASE_ONLY) -> IntArray:
    """Each loan's loss allowance in fen (half up), probability-weighted over the scenarios.

    `cumulative_pd[loan, t]` is the cumulative PD by the end of month t + 1 (the lifetime curve); `ead[loan, t]`
    the exposure if the loan defaults in month t + 1 (fen, from its schedule; `ead[:, 0]` is the exposure now);
    `remaining_months` the loan's months to maturity (the lifetime horizon)."""
    check_scenarios(scenarios)
    check_lgd(lgd)
    stage = np.asarray(stage, dtype=np.int64)
    cum = np.asarray(cumulative_pd, dtype=np.float64)
    exposure = np.asarray(ead, dtype=np.float64)
    n, horizon = cum.shape
    if exposure.shape != (n, horizon):
        raise EclError("the exposure schedule must have one value per loan and month", code="ead_shape", field="ead")
    life = np.clip(np.asarray(remaining_months, dtype=np.int64), 1, horizon)
    months = np.arange(1, horizon + 1)[None, :]
    window = np.where(stage[:, None] == 1, months <= np.minimum(12, life)[:, None], months <= life[:, None])
    df = discount_factors(eir, horizon)
    loss = np.zeros(n, dtype=np.float64)
    base_lgd = np.asarray(lgd, dtype=np.float64)
    for s in scenarios:
        # the scenario scales the chance of default in every month (capped so the cumulative stays ≤ 1)
        cum_s = np.minimum(1.0, cum * s.pd_multiplier)
        m = marginal(np.maximum.accumulate(cum_s, axis=1))
        lgd_s = np.minimum(1.0, base_lgd * s.lgd_multiplier)
        performing = (m * window * exposure * df).sum(axis=1) * lgd_s
        impaired = lgd_s * exposure[:, 0]
        loss += s.weight * np.where(stage == 3, impaired, performing)
    return np.floor(loss + 0.5).astype(np.int64)


def amortising_exposure(outstanding: IntArray, monthly_payment_principal: IntArray, horizon: int,
                        ccf_undrawn: IntArray | None = None) -> FloatArray:
    """A simple exposure schedule: what is outstanding at the start of each month as the principal amortises by
    a level amount, plus the expected drawing of an undrawn line (CCF × undrawn) for revolving products."""
    out = np.asarray(outstanding, dtype=np.float64)
    step = np.asarray(monthly_payment_principal, dtype=np.float64)
    t = np.arange(horizon, dtype=np.float64)
    ead = np.maximum(out[:, None] - step[:, None] * t[None, :], 0.0)
    if ccf_undrawn is not None:
        ead = ead + np.asarray(ccf_undrawn, dtype=np.float64)[:, None]
    return ead
