"""Limit and risk-based price of one application, exact to the fen, every step written down.

Limit — the approved amount is the least of:

* the amount requested;
* the product's maximum;
* the affordability limit: the monthly capacity ``income × DSR factor − existing debt service`` (the factor is
  the product's configurable share of income that debt service may take) turned into the principal that
  capacity repays over the requested term at the offered rate (the inverse of the installment formula);
* the grade limit from the product's pricing grid;
* what the customer's credit line has available for the product (lines.domain.availability: the line, or the
  product's sub-limit; nothing on a frozen, expired or closed line) — only for a customer with a line;

rounded down to the product's amount step (100 yuan by default) unless it is the request itself. Below the
product's minimum the application cannot be lent.

Price — ``rate = benchmark (LPR of the product's tenor on the day) + spread of the grade``, then held within the
product's floor and cap. The customer sees the installment and the APR: the internal rate of return of the
cash flows (amount received after an upfront fee; installments with their fee), as a nominal annual rate
(period IRR × periods a year), the way PBOC requires lenders to show 年化利率.

Integer formulas (no float): with ``Q = 12 000 000`` and ``m = Q + rate_ppm × months per period`` the period
rate is ``(m − Q) / Q`` and the level installment is ``A = P·(m − Q)·mⁿ / (Q·(mⁿ − Qⁿ))``, rounded half up —
the textbook ``P·r·(1+r)ⁿ / ((1+r)ⁿ − 1)``, and for 30/360 monthly loans exactly what the loan schedule charges.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from creditplan.core.money import format_minor
from creditplan.lines.domain import Availability

Q = 12_000_000  # rate ppm × 12 months: the denominator of a month's rate


def pct_text(ppm: int) -> str:
    """39_500 ppm → "3.95%" (exact; trailing zeros beyond two places dropped)."""
    value = Decimal(ppm) / Decimal(10_000)
    text = f"{value:.4f}".rstrip("0")
    if text.endswith("."):
        text += "00"
    elif len(text.split(".")[1]) < 2:
        text += "0"
    return f"{text}%"


def _div_half_up(num: int, den: int) -> int:
    q, r = divmod(num, den)
    return q + 1 if 2 * r >= den else q


@dataclass(frozen=True)
class ProductTerms:
    """The contract terms the engine reads from a loan product."""

    code: str
    min_amount_minor: int
    max_amount_minor: int
    min_term: int = 1
    max_term: int = 360
    rate_floor_ppm: int = 0
    rate_cap_ppm: int = 240_000
    base_rate_ppm: int = 0  # the product's own rate: the benchmark when no LPR is published
    months_per_period: int = 1
    method: str = "equal-installment"
    upfront_fee_bp: int = 0
    installment_fee_minor: int = 0


@dataclass(frozen=True)
class GradeRow:
    grade: str
    spread_bp: int
    limit_minor: int
    auto_approve_max_minor: int = 0


@dataclass(frozen=True)
class LimitSettings:
    dsr_pct: int = 50
    amount_step_minor: int = 10_000
    dual_approval_above_minor: int = 50_000_000


def _step(name: str, en: str, zh: str, **values: Any) -> dict[str, Any]:
    return {"step": name, "en": en, "zh": zh, **values}


# --- installment and its inverse ---------------------------------------------------------------------

def level_installment(principal_minor: int, rate_ppm: int, periods: int, months_per_period: int = 1) -> int:
    """The level payment (principal + interest) of an equal-installment loan, rounded half up."""
    if principal_minor <= 0 or periods <= 0:
        return 0
    if rate_ppm == 0:
        return _div_half_up(principal_minor, periods)
    m = Q + rate_ppm * months_per_period
    mn, qn = m ** periods, Q ** periods
    return _div_half_up(principal_minor * (m - Q) * mn, Q * (mn - qn))


def first_installment(principal_minor: int, rate_ppm: int, periods: int, months_per_period: int = 1,
                      method: str = "equal-installment") -> int:
    """What the customer pays in the first period (before fees): the figure affordability is judged on."""
    if principal_minor <= 0 or periods <= 0:
        return 0
    interest = _div_half_up(principal_minor * rate_ppm * months_per_period, Q)
    if method == "equal-principal":
        return _div_half_up(principal_minor, periods) + interest
    if method == "interest-only":
        return interest if periods > 1 else principal_minor + interest
    if method == "bullet":
        return principal_minor + _div_half_up(principal_minor * rate_ppm * months_per_period * periods, Q)
    return level_installment(principal_minor, rate_ppm, periods, months_per_period)


def principal_for_payment(payment_minor: int, rate_ppm: int, periods: int, months_per_period: int = 1,
                          method: str = "equal-installment") -> int:
    """The principal `payment_minor` a period repays: the present value of the payments, rounded down (stepped
    back further should the rounded installment of that principal exceed the payment)."""
    if payment_minor <= 0 or periods <= 0:
        return 0
    r_num = rate_ppm * months_per_period  # period rate = r_num / Q
    if method == "equal-principal":  # P/n + P·r ≤ A  →  P ≤ A·n·Q / (Q + n·r_num)
        principal = payment_minor * periods * Q // (Q + periods * r_num)
    elif method == "interest-only" and periods > 1:
        principal = payment_minor * Q // r_num if r_num else 10**15
    elif method == "bullet":  # only one payment, at maturity: judge it as if it were amortised
        return principal_for_payment(payment_minor, rate_ppm, periods, months_per_period)
    elif r_num == 0:
        principal = payment_minor * periods
    else:
        m = Q + r_num
        mn, qn = m ** periods, Q ** periods
        principal = payment_minor * Q * (mn - qn) // ((m - Q) * mn)
    # the installment of that principal is rounded half up: step back until it fits the capacity
    while principal > 0 and first_installment(principal, rate_ppm, periods, months_per_period, method) > payment_minor:
        principal -= 1
    return principal


# --- price ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Price:
    """The rate and how it was reached; ``steps`` words it (rendered on demand: the kernel's hot path only
    needs the numbers)."""

    rate_ppm: int
    benchmark_ppm: int
    spread_bp: int
    benchmark_name: str = ""
    grade: str = ""
    floor_ppm: int | None = None  # set when the floor applied
    cap_ppm: int | None = None  # set when the cap applied

    @property
    def steps(self) -> list[dict[str, Any]]:
        raw = self.benchmark_ppm + self.spread_bp * 100
        out = [
            _step("benchmark", f"Benchmark {self.benchmark_name}: {pct_text(self.benchmark_ppm)}",
                  f"基准利率 {self.benchmark_name}：{pct_text(self.benchmark_ppm)}", rate_ppm=self.benchmark_ppm),
            _step("spread", f"Spread for grade {self.grade}: {self.spread_bp:+d} bp → {pct_text(raw)}",
                  f"等级 {self.grade} 加点 {self.spread_bp:+d} 个基点 → {pct_text(raw)}", spread_bp=self.spread_bp,
                  rate_ppm=raw),
        ]
        if self.floor_ppm is not None:
            out.append(_step("floor", f"Raised to the product floor {pct_text(self.floor_ppm)}",
                             f"低于产品利率下限，取下限 {pct_text(self.floor_ppm)}", rate_ppm=self.floor_ppm))
        if self.cap_ppm is not None:
            out.append(_step("cap", f"Lowered to the product cap {pct_text(self.cap_ppm)}",
                             f"高于产品利率上限，取上限 {pct_text(self.cap_ppm)}", rate_ppm=self.cap_ppm))
        out.append(_step("rate", f"Annual rate {pct_text(self.rate_ppm)}", f"执行年利率 {pct_text(self.rate_ppm)}",
                         rate_ppm=self.rate_ppm))
        return out


def price(product: ProductTerms, *, benchmark_ppm: int, benchmark_name: str, spread_bp: int, grade: str) -> Price:
    """LPR + grade spread, held within the product's floor and cap."""
    rate = benchmark_ppm + spread_bp * 100
    floor = cap = None
    if rate < product.rate_floor_ppm:
        rate = floor = product.rate_floor_ppm
    if rate > product.rate_cap_ppm:
        rate = cap = product.rate_cap_ppm
    return Price(rate, benchmark_ppm, spread_bp, benchmark_name, grade, floor, cap)


# --- limit ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """The approved amount, which candidate set it, and (on demand) every candidate in words."""

    approved_minor: int
    binding: str  # which candidate set the amount
    capacity_minor: int | None
    candidates: tuple[tuple[str, int], ...] = ()
    rounded_minor: int | None = None  # set when rounding to the step changed the amount
    below_minimum: bool = False
    context: tuple[Any, ...] = ()  # (requested, product max, product min, income, debt, dsr, term, rate, grade, step)
    credit_line: Availability | None = None  # the customer's credit line, when they have one

    @property
    def steps(self) -> list[dict[str, Any]]:
        requested, pmax, pmin, income, debt, dsr, term, rate, grade, step = self.context
        texts: dict[int, str] = {}  # each amount formatted once: the steps are worded on every decision

        def money(minor: int) -> str:
            text = texts.get(minor)
            if text is None:
                text = texts[minor] = format_minor(minor)
            return text

        words = {
            "requested": (f"Requested {money(requested)}", f"申请金额 {money(requested)}"),
            "product_max": (f"Product maximum {money(pmax)}", f"产品最高额度 {money(pmax)}"),
        }
        for name, amount in self.candidates:
            if name == "affordability":
                d = debt or 0
                words[name] = (
                    f"Affordability: income {money(income)} × {dsr}% − existing debt service {money(d)} = "
                    f"{money(self.capacity_minor or 0)} a month, repays {money(amount)} over {term} periods "
                    f"at {pct_text(rate)}",
                    f"还款能力：月收入 {money(income)} × {dsr}% − 现有月还款 {money(d)} = 每月 "
                    f"{money(self.capacity_minor or 0)}，按 {pct_text(rate)} 分 {term} 期可还本金 {money(amount)}")
            elif name == "grade_limit":
                words[name] = (f"Limit for grade {grade}: {money(amount)}", f"等级 {grade} 额度上限 {money(amount)}")
            elif name == "credit_line" and self.credit_line is not None:
                words[name] = self.credit_line.words()
        out = [_step(n, *words[n], amount_minor=a, binding=(n == self.binding)) for n, a in self.candidates]
        if self.rounded_minor is not None:
            out.append(_step("rounded", f"Rounded down to {money(self.rounded_minor)} (step {money(step)})",
                             f"按 {money(step)} 向下取整为 {money(self.rounded_minor)}",
                             amount_minor=self.rounded_minor))
        if self.below_minimum:
            shown = self.rounded_minor if self.rounded_minor is not None else dict(self.candidates)[self.binding]
            out.append(_step("below_minimum", f"{money(shown)} is below the product minimum {money(pmin)}: "
                                              "nothing can be lent",
                             f"{money(shown)} 低于产品最低额度 {money(pmin)}，不能放款", amount_minor=0))
        out.append(_step("approved", f"Approved amount {money(self.approved_minor)}",
                         f"核定金额 {money(self.approved_minor)}", amount_minor=self.approved_minor))
        return out

    def binding_step(self) -> dict[str, Any] | None:
        keep = Limit(self.approved_minor, self.binding, self.capacity_minor,
                     tuple(c for c in self.candidates if c[0] == self.binding), None, False, self.context,
                     self.credit_line)
        return next((s for s in keep.steps if s.get("binding")), None)


def limit(product: ProductTerms, settings: LimitSettings, *, requested_minor: int, term: int, rate_ppm: int,
          monthly_income_minor: int | None, existing_debt_service_minor: int | None, grade_limit_minor: int | None,
          grade: str, credit_line: Availability | None = None) -> Limit:
    """The lesser of request, product maximum, affordability, grade limit and (for a customer with one) the
    credit line's available amount, each candidate recorded."""
    candidates: list[tuple[str, int]] = [("requested", requested_minor), ("product_max", product.max_amount_minor)]
    capacity = None
    if monthly_income_minor is not None:
        debt = existing_debt_service_minor or 0
        capacity = max(0, monthly_income_minor * settings.dsr_pct // 100 - debt)
        per_period = capacity * product.months_per_period
        candidates.append(("affordability", principal_for_payment(per_period, rate_ppm, term,
                                                                  product.months_per_period, product.method)))
    if grade_limit_minor is not None:
        candidates.append(("grade_limit", grade_limit_minor))
    if credit_line is not None:
        candidates.append(("credit_line", credit_line.amount_minor))
    name, amount = min(candidates, key=lambda c: c[1])
    approved, rounded = amount, None
    if approved != requested_minor and settings.amount_step_minor > 1:
        approved = approved // settings.amount_step_minor * settings.amount_step_minor
        if approved != amount:
            rounded = approved
    below = approved < product.min_amount_minor
    if below:
        approved = 0
    context = (requested_minor, product.max_amount_minor, product.min_amount_minor, monthly_income_minor,
               existing_debt_service_minor, settings.dsr_pct, term, rate_ppm, grade, settings.amount_step_minor)
    return Limit(approved, name, capacity, tuple(candidates), rounded, below, context, credit_line)


# --- APR -----------------------------------------------------------------------------------------------

def payments(product: ProductTerms, principal_minor: int, rate_ppm: int, term: int) -> list[int]:
    """Each period's payment including the installment fee (the schedule's shape, residues on the last line)."""
    mpp, fee = product.months_per_period, product.installment_fee_minor
    r_num = rate_ppm * mpp
    out: list[int] = []
    if product.method == "equal-principal":
        balance = principal_minor
        for k in range(term):
            part = principal_minor // term if k < term - 1 else balance
            out.append(part + _div_half_up(balance * r_num, Q) + fee)
            balance -= part
        return out
    if product.method == "interest-only":
        interest = _div_half_up(principal_minor * r_num, Q)
        return [interest + fee] * (term - 1) + [principal_minor + interest + fee]
    if product.method == "bullet":
        return [0] * (term - 1) + [principal_minor + _div_half_up(principal_minor * r_num * term, Q) + fee]
    a = level_installment(principal_minor, rate_ppm, term, mpp)
    return [a + fee] * term


def apr(product: ProductTerms, principal_minor: int, rate_ppm: int, term: int) -> Decimal:
    """Nominal annual IRR of the cash flows, 6 decimals. Without fees an amortising loan's APR is its rate."""
    if principal_minor <= 0 or term <= 0:
        return Decimal(rate_ppm) / Decimal(1_000_000)
    fee_upfront = _div_half_up(principal_minor * product.upfront_fee_bp, 10_000)
    if not fee_upfront and not product.installment_fee_minor and product.method != "bullet":
        return (Decimal(rate_ppm) / Decimal(1_000_000)).quantize(Decimal("0.000001"))
    flows = payments(product, principal_minor, rate_ppm, term)
    received = Decimal(principal_minor - fee_upfront)
    with localcontext() as ctx:
        ctx.prec = 34
        i = Decimal(rate_ppm * product.months_per_period) / Decimal(Q) or Decimal("0.001")
        for _ in range(60):  # Newton on f(i) = Σ p_k (1+i)^-k − received
            v = 1 / (1 + i)
            f, df, vk = -received, Decimal(0), Decimal(1)
            for k, p in enumerate(flows, start=1):
                vk *= v
                f += p * vk
                df -= k * p * vk * v
            if df == 0:
                break
            step = f / df
            i -= step
            if abs(step) < Decimal("1e-15"):
                break
        annual = i * Decimal(12) / Decimal(product.months_per_period)
    return annual.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
