"""Checks of what a risk manager types into the configuration pages: the approval authority matrix and a
product's pricing grid. Pure: rows in (as typed), clean values and named problems out.

Why here and not in the services: the rules are about the shape of the matrix and the grid, not about storage,
and they are cheap to test on plain data.

The matrix. A rule is "a role at a branch level may approve, for a product (blank: all), up to an amount, down
to a grade". Its *band* is the set of (amount, grade) it covers: every amount up to its maximum, every grade no
riskier than its worst grade. Two findings:

* **overlap** (refused): a rule whose band lies entirely inside the band of another rule of the same role and
  level for the same product (or for all products) — it never decides anything, and two people reading the
  matrix would read it differently. Rules of one role and level whose bands cross (up to 1,000,000 for grade D,
  up to 300,000 for grade E) are a staircase, not an overlap.
* **gap** (reported, saved): amounts a product may lend to a grade (its grade limit, at most the product
  maximum) that no rule of any role covers. An application there would be referred and nobody could approve it.

The pricing grid: floor ≤ cap, both 0–36 %; spreads whole basis points (negative allowed: LPR-minus pricing);
grade limits and straight-through amounts ≥ 0 yuan, the straight-through amount no more than the grade limit;
the affordability factor 1–100 %; the two-approval threshold a positive amount. Warnings: a riskier grade priced
below a safer one, a riskier grade with a higher limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from creditplan.core.errors import FieldProblem, ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.decisions.domain.authority import GRADES, LEVELS, Authority, grade_rank
from creditplan.decisions.domain.pricing import pct_text

MAX_RATE_PPM = 360_000  # 36 %: no product rate, floor or cap beyond it
SPREAD_RANGE_BP = (-1_000, 3_600)
MATRIX_FIELDS = ("role", "branch_level", "product", "max_amount", "worst_grade")


def parse_yuan(text: Any, field: str, *, label: str = "", allow_zero: bool = False
               ) -> tuple[int | None, FieldProblem | None]:
    """Yuan as typed ("1,000,000.00"; full-width commas "1，000" read as commas) → fen, through the money
    edge (`core.money.parse_minor`: exact, its codes); a problem for the box `field`, its message naming the
    amount by `label` ("the grade C limit"), when it is not an amount."""
    if isinstance(text, str):
        text = text.replace("，", ",")
    try:
        return parse_minor(text, label or field, allow_zero=allow_zero), None
    except ValidationError as exc:
        return None, FieldProblem(field, exc.message, exc.code)


def parse_pct(text: Any, field: str) -> tuple[int | None, FieldProblem | None]:
    """A rate typed in percent ("3.45") → ppm (34_500), 0–36 %, at most 4 decimals."""
    raw = str(text if text is not None else "").strip().rstrip("%").strip()
    if isinstance(text, float | bool):
        return None, FieldProblem(field, "must be a percentage written as text, such as 3.45", "invalid_rate")
    if not raw:
        return None, FieldProblem(field, "is required", "required")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None, FieldProblem(field, f"must be a percentage such as 3.45, got {raw!r}", "invalid_rate")
    if not value.is_finite() or value.as_tuple().exponent < -4:  # type: ignore[operator]
        return None, FieldProblem(field, "must be a percentage with at most 4 decimals", "invalid_rate")
    ppm = int(value * 10_000)
    if not 0 <= ppm <= MAX_RATE_PPM:
        return None, FieldProblem(field, "must be between 0 % and 36 %", "rate_out_of_range")
    return ppm, None


def parse_int(text: Any, field: str, lo: int, hi: int, what: str) -> tuple[int | None, FieldProblem | None]:
    raw = str(text if text is not None else "").strip()
    if isinstance(text, float | bool) or not raw.lstrip("+-").isdigit():
        return None, FieldProblem(field, f"must be a whole number of {what}", "not_whole")
    value = int(raw)
    if not lo <= value <= hi:
        return None, FieldProblem(field, f"must be from {lo} to {hi} {what}", "out_of_range")
    return value, None


# --- the authority matrix -------------------------------------------------------------------------------

@dataclass(frozen=True)
class MatrixFinding:
    kind: str  # "overlap" | "gap"
    row: int | None  # 0-based row of the rule concerned (overlap), None for a gap
    en: str
    zh: str


def _blank(row: Mapping[str, Any]) -> bool:
    return all(not str(row.get(f) or "").strip() for f in ("role", "branch_level", "max_amount", "worst_grade"))


def parse_matrix(rows: Sequence[Mapping[str, Any]], *, roles: Iterable[str], products: Iterable[str]
                 ) -> tuple[list[tuple[int, Authority]], list[FieldProblem]]:
    """Typed rows → (row index, rule) for every non-blank row, and the problems, each named `<field>-<row>`
    (the name of the box on the page). A wholly blank row is skipped (the page's spare rows)."""
    roles, products = set(roles), set(products)
    out: list[tuple[int, Authority]] = []
    problems: list[FieldProblem] = []
    for i, row in enumerate(rows):
        if _blank(row):
            continue
        bad = len(problems)
        role = str(row.get("role") or "").strip()
        if role not in roles:
            problems.append(FieldProblem(f"role-{i}", f"row {i + 1}: unknown role {role!r}: one of "
                                         f"{', '.join(sorted(roles))}", "unknown_role"))
        level = str(row.get("branch_level") or "").strip()
        if level not in LEVELS:
            problems.append(FieldProblem(f"branch_level-{i}", f"row {i + 1}: unknown branch level {level!r}: one of "
                                         f"{', '.join(LEVELS)}", "unknown_level"))
        product = str(row.get("product") or "").strip().lower()
        if product and product not in products:
            problems.append(FieldProblem(f"product-{i}", f"row {i + 1}: unknown product {product!r}",
                                         "unknown_product"))
        grade = str(row.get("worst_grade") or "").strip().upper()
        if grade not in GRADES:
            problems.append(FieldProblem(f"worst_grade-{i}", f"row {i + 1}: unknown grade {grade!r}: one of "
                                         f"{', '.join(GRADES)}", "unknown_grade"))
        amount, problem = parse_yuan(row.get("max_amount"), f"max_amount-{i}", label="the maximum amount")
        if problem is not None:
            problems.append(FieldProblem(problem.field, f"row {i + 1}: {problem.message}", problem.code))
        if len(problems) == bad and amount is not None:
            out.append((i, Authority(role, level, product, amount, grade)))
    return out, problems


def _band(r: Authority) -> str:
    return (f"{r.role} at a {r.branch_level.replace('_', '-')}, {r.product or 'every product'}, up to "
            f"{format_minor(r.max_amount_minor)}, grade {r.worst_grade}")


def _band_zh(r: Authority) -> str:
    return (f"{r.role}@{r.branch_level}，{r.product or '全部产品'}，最高 {format_minor(r.max_amount_minor)}，"
            f"最差等级 {r.worst_grade}")


def overlaps(rules: Sequence[tuple[int, Authority]]) -> list[MatrixFinding]:
    """Rules whose band lies inside another rule's band of the same role and level (see the module doc)."""
    found = []
    for a_pos, (ai, a) in enumerate(rules):
        for b_pos, (bi, b) in enumerate(rules):
            if a_pos == b_pos or (a.role, a.branch_level) != (b.role, b.branch_level):
                continue
            if b.product not in ("", a.product):
                continue
            inside = b.max_amount_minor >= a.max_amount_minor and grade_rank(b.worst_grade) >= grade_rank(a.worst_grade)
            same = a == b
            if inside and (not same or a_pos > b_pos):  # an exact duplicate is reported once, on the later row
                found.append(MatrixFinding(
                    "overlap", ai,
                    f"row {ai + 1} ({_band(a)}) lies inside row {bi + 1} ({_band(b)}): it never decides anything",
                    f"第 {ai + 1} 行（{_band_zh(a)}）完全落在第 {bi + 1} 行（{_band_zh(b)}）之内，不起作用"))
                break
    return found


def gaps(rules: Iterable[Authority], lendable: Mapping[str, Mapping[str, int]]) -> list[MatrixFinding]:
    """Amounts a product may lend to a grade that no rule covers. `lendable`: product → grade → the most it may
    lend to that grade (grade limit, at most the product maximum; 0: not lent)."""
    rules = list(rules)
    found = []
    for product in sorted(lendable):
        for grade in sorted(lendable[product], key=grade_rank):
            most = lendable[product][grade]
            if most <= 0:
                continue
            covered = max((r.max_amount_minor for r in rules if r.product in ("", product)
                           and grade_rank(grade) <= grade_rank(r.worst_grade)), default=0)
            if covered >= most:
                continue
            if covered == 0:
                en = (f"{product}, grade {grade}: nobody may approve any amount "
                      f"(it lends up to {format_minor(most)})")
                zh = f"{product} 产品 {grade} 级：无人有权审批任何金额（最高可贷 {format_minor(most)}）"
            else:
                en = (f"{product}, grade {grade}: nobody may approve amounts above {format_minor(covered)} "
                      f"(it lends up to {format_minor(most)})")
                zh = f"{product} 产品 {grade} 级：{format_minor(covered)} 以上至 {format_minor(most)} 无人有权审批"
            found.append(MatrixFinding("gap", None, en, zh))
    return found


# --- the pricing grid -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class GridRow:
    grade: str
    spread_bp: int
    limit_minor: int
    auto_approve_max_minor: int


@dataclass(frozen=True)
class PricingInput:
    rate_floor_ppm: int
    rate_cap_ppm: int
    dsr_pct: int
    dual_approval_above_minor: int
    grades: tuple[GridRow, ...]


def parse_pricing(data: Mapping[str, Any]) -> tuple[PricingInput | None, list[FieldProblem], list[str]]:
    """The pricing form as typed → clean values (None when anything is wrong), problems named by box
    (`rate_floor`, `spread-C`, `limit-C`, `auto-C`, `dsr_pct`, `dual_above`), and warnings."""
    problems: list[FieldProblem] = []

    def take(result: tuple[int | None, FieldProblem | None]) -> int | None:
        value, problem = result
        if problem is not None:
            problems.append(problem)
        return value

    floor = take(parse_pct(data.get("rate_floor"), "rate_floor"))
    cap = take(parse_pct(data.get("rate_cap"), "rate_cap"))
    if floor is not None and cap is not None and floor > cap:
        problems.append(FieldProblem("rate_cap", f"the cap {pct_text(cap)} is below the floor {pct_text(floor)}",
                                     "floor_above_cap"))
    dsr = take(parse_int(data.get("dsr_pct"), "dsr_pct", 1, 100, "percent"))
    dual = take(parse_yuan(data.get("dual_above"), "dual_above", label="the two-approval threshold"))
    rows = []
    for g in GRADES:
        spread = take(parse_int(data.get(f"spread-{g}"), f"spread-{g}", *SPREAD_RANGE_BP, "basis points"))
        lim = take(parse_yuan(data.get(f"limit-{g}"), f"limit-{g}", label=f"the grade {g} limit",
                              allow_zero=True))
        auto = take(parse_yuan(data.get(f"auto-{g}"), f"auto-{g}",
                               label=f"the grade {g} straight-through amount", allow_zero=True))
        if lim is not None and auto is not None and auto > lim:
            problems.append(FieldProblem(f"auto-{g}", f"grade {g}: the straight-through amount "
                                         f"{format_minor(auto)} is above the grade limit {format_minor(lim)}",
                                         "auto_above_limit"))
        if spread is not None and lim is not None and auto is not None:
            rows.append(GridRow(g, spread, lim, auto))
    if problems or floor is None or cap is None or dsr is None or dual is None:
        return None, problems, []
    warnings = []
    for safer, riskier in zip(rows, rows[1:], strict=False):
        if riskier.spread_bp < safer.spread_bp:
            warnings.append(f"grade {riskier.grade} is priced below grade {safer.grade} "
                            f"({riskier.spread_bp} bp < {safer.spread_bp} bp)")
        if riskier.limit_minor > safer.limit_minor:
            warnings.append(f"grade {riskier.grade} may borrow more than grade {safer.grade} "
                            f"({format_minor(riskier.limit_minor)} > {format_minor(safer.limit_minor)})")
    return PricingInput(floor, cap, dsr, dual, tuple(rows)), [], warnings


@dataclass(frozen=True)
class RatePreview:
    grade: str
    spread_bp: int
    rate_ppm: int
    bound: str  # "" | "floor" | "cap": the product's floor or cap set the rate
    lent: bool


def preview_rates(benchmark_ppm: int, floor_ppm: int, cap_ppm: int, grades: Iterable[GridRow]) -> list[RatePreview]:
    """The rate each grade would be offered at this benchmark: benchmark + spread, held within floor and cap
    (the same rule as `pricing.price`)."""
    out = []
    for g in grades:
        rate = benchmark_ppm + g.spread_bp * 100
        bound = ""
        if rate < floor_ppm:
            rate, bound = floor_ppm, "floor"
        if rate > cap_ppm:
            rate, bound = cap_ppm, "cap"
        out.append(RatePreview(g.grade, g.spread_bp, rate, bound, g.limit_minor > 0))
    return out
