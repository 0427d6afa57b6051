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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


# --- the exposure schedule, the PD curves and the per-loan kernel (the ECL run, locally or on Spark) ---------------

METHOD_LEVEL = 0  # 等额本金 equal principal: the same principal each period
METHOD_ANNUITY = 1  # 等额本息 equal installment: principal grows by the periodic rate each period
METHOD_BALLOON = 2  # 先息后本 / 到期一次还本付息: the principal with the last installment
METHOD_CODES: dict[str, int] = {"equal-principal": METHOD_LEVEL, "equal-installment": METHOD_ANNUITY,
                                "interest-only": METHOD_BALLOON, "bullet": METHOD_BALLOON}
"""How a repayment method amortises the principal, for the exposure schedule (unknown methods: balloon, the most
prudent: nothing is assumed repaid before maturity)."""

DEFAULT_STATE = 4
"""Matrix states of a loan at a month end: its delinquency bucket 0 (current), 1 (1–30), 2 (31–60), 3 (61–90), and
4 = default (more than 90 days past due, or written off), absorbing."""
N_STATES = 5

FALLBACK_PD12: tuple[float, ...] = (0.02, 0.10, 0.30, 0.60, 1.0)
"""The 12-month PD of a loan with neither a behaviour score nor an application PD, by matrix state, when no observed
matrix is available either (the documented last resort; docs/ecl.md)."""

_EPOCH = 719_163  # dt.date(1970, 1, 1).toordinal()


def _month_day(days: IntArray) -> tuple[IntArray, IntArray]:
    """Day numbers → (months since January 1970, day of the month)."""
    d64 = (np.asarray(days, dtype=np.int64) - _EPOCH).astype("datetime64[D]")
    month = d64.astype("datetime64[M]")
    return (np.asarray(month.astype(np.int64), dtype=np.int64),
            np.asarray((d64 - month.astype("datetime64[D]")).astype(np.int64) + 1, dtype=np.int64))


def months_ahead(as_of: int, days: IntArray) -> IntArray:
    """The month window after the reporting date (day number `as_of`) each date falls in: 1 for a date within one
    month after it, 2 for the month after that, …; 0 or less for a date on or before it. Windows follow the
    calendar: a date falls in window m − m0 (+1 when its day of the month is after the reporting day)."""
    m0, d0 = _month_day(np.array([as_of], dtype=np.int64))
    m, d = _month_day(days)
    return np.asarray(m - m0[0] + (d > d0[0]), dtype=np.int64)


def remaining_months(as_of: int, maturity: IntArray) -> IntArray:
    """Months from the reporting date to maturity (the lifetime horizon), at least 1."""
    return np.maximum(months_ahead(as_of, maturity), 1)


def horizon_class(life: IntArray) -> IntArray:
    """The horizon a loan is computed over: its lifetime rounded up to whole years (12, 24, … months). Fixed per
    loan, so a loan's figures never depend on which other loans share its batch (local and Spark agree)."""
    return np.asarray(np.maximum(12, -(-np.asarray(life, dtype=np.int64) // 12) * 12), dtype=np.int64)


def schedule_exposure(as_of: int, scheduled: IntArray, overdue: IntArray, first_due: IntArray, maturity: IntArray,
                      months_per_period: IntArray, periodic_rate: FloatArray, method: IntArray, horizon: int
                      ) -> FloatArray:
    """EAD[loan, t]: the principal outstanding at the start of month t + 1 after the reporting date (t = 0: now), if
    the loan pays as its schedule says: the overdue principal stays owed; the scheduled principal (outstanding less
    overdue) falls with each due date still to come — equal parts (equal principal), parts growing by the periodic
    rate (equal installment: the principal share of a level payment), or all at maturity (interest-only, bullet).

    Due dates run every `months_per_period` months from the first due date to maturity; the scheduled principal is
    spread over those after the reporting date in the method's proportions (so a prepayment or a reschedule that
    changed the remaining principal is followed)."""
    sched = np.asarray(scheduled, dtype=np.float64)
    over = np.asarray(overdue, dtype=np.float64)
    p = np.maximum(np.asarray(months_per_period, dtype=np.int64), 1)
    first_off = months_ahead(as_of, first_due)  # window of the first due date
    m_first, _ = _month_day(first_due)
    m_mat, _ = _month_day(maturity)
    last_k = np.maximum((m_mat - m_first) // p, 0)  # due dates k = 0 … last_k
    k0 = np.clip(-(-(1 - first_off) // p), 0, None)  # the first due date after the reporting date
    remaining = np.maximum(last_k - k0 + 1, 0)  # due dates still to come
    next_off = first_off + k0 * p  # its window (≥ 1)
    t = np.arange(horizon, dtype=np.int64)[None, :]
    # due dates to come that fall in windows 1 … t (paid by the start of month t + 1)
    paid_count = np.clip((t - next_off[:, None]) // p[:, None] + 1, 0, remaining[:, None])
    g = 1.0 + np.asarray(periodic_rate, dtype=np.float64)
    code = np.asarray(method, dtype=np.int64)
    annuity = (code == METHOD_ANNUITY) & (g > 1.0)
    rem = remaining[:, None].astype(np.float64)
    cnt = paid_count.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        geometric = np.where(annuity[:, None], (np.power(g[:, None], cnt) - 1.0) / (np.power(g[:, None], rem) - 1.0),
                             0.0)
    level = np.where(rem > 0, cnt / np.where(rem > 0, rem, 1.0), 1.0)
    balloon = (paid_count >= remaining[:, None]).astype(np.float64)
    share = np.where(annuity[:, None], geometric, np.where((code == METHOD_BALLOON)[:, None], balloon, level))
    # no due date left (a loan past maturity whose principal is not yet overdue): it all stays owed
    share = np.where(remaining[:, None] == 0, 0.0, np.clip(np.nan_to_num(share, nan=1.0), 0.0, 1.0))
    return np.asarray(over[:, None] + sched[:, None] * (1.0 - share), dtype=np.float64)


def state_of(bucket: IntArray, written_off: NDArray[np.bool_] | None = None) -> IntArray:
    """A loan's matrix state: its bucket up to 61–90 (3), default (4) beyond 90 days past due or once written off."""
    b = np.asarray(bucket, dtype=np.int64)
    state = np.where(b >= DEFAULT_STATE, DEFAULT_STATE, np.clip(b, 0, DEFAULT_STATE))
    if written_off is not None:
        state = np.where(np.asarray(written_off, dtype=bool), DEFAULT_STATE, state)
    return np.asarray(state, dtype=np.int64)


@dataclass(frozen=True)
class ObservedMatrix:
    """The monthly transition matrix of matrix states observed between consecutive month ends of the book, and what
    it can be trusted for: `usable[s]` is False for a starting state with fewer than `min_observations`
    transitions (loans starting there take the flat curve)."""

    counts: IntArray
    usable: NDArray[np.bool_]
    months: int

    @property
    def transitions(self) -> int:
        return int(self.counts.sum())

    def monthly(self) -> FloatArray:
        totals = self.counts.sum(axis=1, keepdims=True).astype(np.float64)
        return np.asarray(np.where(totals > 0, self.counts / np.where(totals > 0, totals, 1.0), 0.0),
                          dtype=np.float64)


MIN_OBSERVATIONS = 1000
"""Transitions out of a state (loan-months) needed before its row of the observed matrix shapes PD curves; fewer,
and the loans starting in that state take the flat curve (CREDITPLAN_RISK_ECL_MIN_TRANSITIONS sets it)."""


def observed_matrix(pairs: Sequence[tuple[IntArray, IntArray]], min_observations: int = MIN_OBSERVATIONS
                    ) -> ObservedMatrix:
    """Pool the month-to-month transitions (state at one month end → state at the next, for the same loans) of
    several consecutive month ends into one monthly matrix."""
    counts = np.zeros((N_STATES, N_STATES), dtype=np.int64)
    for start, end in pairs:
        s = np.asarray(start, dtype=np.int64)
        e = np.asarray(end, dtype=np.int64)
        np.add.at(counts, (s, e), 1)
    counts[DEFAULT_STATE] = 0
    counts[DEFAULT_STATE, DEFAULT_STATE] = max(int(counts[:, DEFAULT_STATE].sum()), 1)
    usable = counts.sum(axis=1) >= min_observations
    usable[DEFAULT_STATE] = True
    return ObservedMatrix(counts, np.asarray(usable, dtype=bool), len(pairs))


def state_curves(matrix: ObservedMatrix | None, horizon: int) -> FloatArray:
    """Cumulative PD curves from each starting state (rows) over `horizon` months; NaN rows where the observed
    matrix cannot be used (no matrix at all, too few transitions from that state, or a curve that never reaches
    default within 12 months): loans starting there take the flat curve of their own 12-month PD."""
    out = np.full((N_STATES, horizon), np.nan, dtype=np.float64)
    if matrix is None:
        return out
    cum = cumulative_pd_from_matrix(matrix.monthly(), DEFAULT_STATE, horizon)
    ok = matrix.usable & (cum[:, min(11, horizon - 1)] > 1e-12)
    out[ok] = cum[ok]
    return out


def loan_curves(curves: FloatArray, state: IntArray, pd12: FloatArray, horizon: int) -> FloatArray:
    """Each loan's cumulative PD curve over `horizon` months: its starting state's observed curve rescaled to its own
    12-month PD (`scale_curve`), or the flat curve where the state has no usable observed curve."""
    s = np.asarray(state, dtype=np.int64)
    p = np.asarray(pd12, dtype=np.float64)
    base = curves[s, :horizon]
    flat = flat_curve(p, horizon)
    known = ~np.isnan(base).any(axis=1)
    if not known.any():
        return flat
    out = flat
    out[known] = scale_curve(base[known], p[known])
    return out


KERNEL_INPUTS: tuple[str, ...] = (
    "dpd", "risk_class", "watch", "pd12", "pd_origination", "pd_multiplier", "prev_stage", "prev_cured", "state",
    "lgd", "undrawn_ead", "scheduled", "overdue", "first_due", "maturity", "months_per_period", "method", "eir")
"""The per-loan columns `ecl_kernel` reads (fen for amounts, day numbers for dates)."""

KERNEL_OUTPUTS: tuple[str, ...] = ("stage", "cured", "life", "pd12_used", "ead", "ecl_12m", "ecl_lifetime", "ecl")


@dataclass(frozen=True)
class EclSetup:
    """What every loan of a run shares: the reporting date, the observed PD curves by starting state, the scenarios
    and the staging rules. Small and picklable: it travels to each Spark worker with the kernel."""

    as_of: int
    curves: FloatArray
    scenarios: tuple[Scenario, ...]
    rules: StagingRules = StagingRules()


def ecl_kernel(cols: Mapping[str, NDArray[Any]], setup: EclSetup) -> dict[str, NDArray[Any]]:
    """Stage, exposure and allowance of each loan of a batch (one row per loan; `KERNEL_INPUTS`).

    Row by row independent — each loan is computed over its own horizon class — so the figures do not depend on
    how the book is cut into batches: the local run and Spark give the same fen. `pd_multiplier` scales the
    12-month PD before staging (a stress scenario; 1 otherwise), so a stressed PD that triples moves a loan to
    stage 2 as it would in life."""
    n = int(np.asarray(cols["dpd"]).size)
    pd_now = np.clip(np.asarray(cols["pd12"], dtype=np.float64) * np.asarray(cols["pd_multiplier"], dtype=np.float64),
                     0.0, 1.0)
    raw = raw_stage(np.asarray(cols["dpd"], dtype=np.int64), np.asarray(cols["risk_class"], dtype=np.int64),
                    np.asarray(cols["watch"], dtype=bool), pd_now,
                    np.asarray(cols["pd_origination"], dtype=np.float64), setup.rules)
    stage, cured = stage_loans(raw, np.asarray(cols["prev_stage"], dtype=np.int64),
                               np.asarray(cols["prev_cured"], dtype=np.int64), setup.rules)
    maturity = np.asarray(cols["maturity"], dtype=np.int64)
    life = remaining_months(setup.as_of, maturity)
    classes = horizon_class(life)
    lgd = np.asarray(cols["lgd"], dtype=np.float64)
    check_lgd(lgd)
    eir = np.asarray(cols["eir"], dtype=np.float64)
    mpp = np.asarray(cols["months_per_period"], dtype=np.int64)
    state = np.asarray(cols["state"], dtype=np.int64)
    ead_now = np.zeros(n, dtype=np.int64)
    e12 = np.zeros(n, dtype=np.int64)
    elife = np.zeros(n, dtype=np.int64)
    for h in np.unique(classes).tolist():
        idx = np.flatnonzero(classes == h)
        ead = schedule_exposure(setup.as_of, np.asarray(cols["scheduled"])[idx], np.asarray(cols["overdue"])[idx],
                                np.asarray(cols["first_due"])[idx], maturity[idx], mpp[idx],
                                eir[idx] * mpp[idx] / 12.0, np.asarray(cols["method"])[idx], int(h))
        ead = ead + np.asarray(cols["undrawn_ead"], dtype=np.float64)[idx][:, None]
        cum = loan_curves(setup.curves, state[idx], pd_now[idx], int(h))
        st = stage[idx]
        e12[idx] = expected_loss(np.where(st == 3, 3, 1), cum[:, :12], lgd[idx], ead[:, :12], eir[idx], life[idx],
                                 setup.scenarios)
        elife[idx] = expected_loss(np.where(st == 3, 3, 2), cum, lgd[idx], ead, eir[idx], life[idx], setup.scenarios)
        ead_now[idx] = np.floor(ead[:, 0] + 0.5).astype(np.int64)
    return {"stage": stage, "cured": cured, "life": life, "pd12_used": pd_now, "ead": ead_now, "ecl_12m": e12,
            "ecl_lifetime": elife, "ecl": np.where(stage == 1, e12, elife).astype(np.int64)}
