"""Targets and ratio limits of a credit plan, without Django: minimum targets (an amount, a growth rate over a base,
a count of borrowers) and ratios between two measures of the book (a share of one in another, one's growth against
another's), each evaluated exactly — integers of fen, counts and basis points as Fractions, never a float —
with its status and its pace against the elapsed share of the plan's period; the check a ratio cap makes on a
reservation; and the shipped templates (普惠小微 两增两控, 房地产贷款集中度 by bank tier, green and manufacturing
medium/long-term lending). docs/plan-targets.md explains each rule with its regulation.

A selection of the book is a list of filters, any of which matches: [{"product": "mortgage"}, {"industry": "K"}]
is "product mortgage, or industry K"; a filter with several keys needs all of them ({"industry": "C", "product":
"equipment"}); an empty list is the whole book. The keys are the plan's dimensions: branch (a branch's code, that
branch only), product, industry (a GB/T 4754 section, one letter), region (a GB/T 2260 province, two digits) and
segment — the same semantics as the loan book's own filter (loans/plan_source.py `loan_filter`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any

from creditplan.core.errors import FieldProblem, ValidationError

BP = 10_000  # basis points in a whole: a share or a rate of 2250 bp is 22.50 %


class Kind(StrEnum):
    MIN_AMOUNT = "min_amount"  # a measure at least X fen
    MIN_GROWTH = "min_growth"  # the measure's growth over its base at least X bp
    MIN_BORROWERS = "min_borrowers"  # distinct borrowers with a balance at least X
    MAX_SHARE = "max_share"  # numerator's measure ÷ denominator's at most X bp (a ratio cap)
    MIN_SHARE = "min_share"  # … at least X bp
    MIN_GROWTH_VS = "min_growth_vs"  # numerator's growth at least the denominator's growth + X bp


class Measure(StrEnum):
    BALANCE = "balance"  # outstanding principal now (base: the opening book)
    NEW_LENDING = "new_lending"  # lending in the period (a flow: its base is a figure the planner gives)
    BORROWERS = "borrowers"  # distinct customers with principal outstanding


class Control(StrEnum):
    REFUSE = "refuse"  # a reservation that would break the cap is refused
    ESCALATE = "escalate"  # … is kept, escalated to a higher authority
    MONITOR = "monitor"  # … is kept, the breach recorded in its reason


class Status(StrEnum):
    MET = "met"  # a minimum reached now
    ON_PACE = "on_pace"  # not reached yet; the share achieved is at least the share of the period elapsed
    BEHIND = "behind"  # not reached, achieved share below the elapsed share (or a comparison not satisfied)
    MISSED = "missed"  # the period is over and the minimum was not reached
    WITHIN = "within"  # a cap respected
    BREACHED = "breached"  # a cap exceeded
    NOT_MEASURED = "not_measured"  # nothing to measure: no base to grow from, no loans to take a share of


MEASURES_OF_KIND: dict[Kind, tuple[Measure, ...]] = {
    Kind.MIN_AMOUNT: (Measure.BALANCE, Measure.NEW_LENDING),
    Kind.MIN_GROWTH: (Measure.BALANCE, Measure.NEW_LENDING, Measure.BORROWERS),
    Kind.MIN_BORROWERS: (Measure.BORROWERS,),
    Kind.MAX_SHARE: (Measure.BALANCE, Measure.NEW_LENDING),
    Kind.MIN_SHARE: (Measure.BALANCE, Measure.NEW_LENDING),
    Kind.MIN_GROWTH_VS: (Measure.BALANCE,),
}
RATIO_KINDS = frozenset({Kind.MAX_SHARE, Kind.MIN_SHARE, Kind.MIN_GROWTH_VS})  # the kinds with a denominator
FILTER_KEYS = ("branch", "product", "industry", "region", "segment")

Filters = Sequence[Mapping[str, str]]


def unit_of(kind: Kind) -> str:
    """What a kind's threshold counts: "fen" (min_amount), "count" (min_borrowers) or "bp" (rates and shares)."""
    return {Kind.MIN_AMOUNT: "fen", Kind.MIN_BORROWERS: "count"}.get(kind, "bp")


def matches(filters: Filters, cell: Mapping[str, str]) -> bool:
    """Does a cell (or a loan) with these dimensions fall in the selection? Any filter; every key of it."""
    if not filters:
        return True
    return any(all(cell.get(k, "") == v for k, v in f.items()) for f in filters)


# --- measuring the book ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CellFigures:
    """One cell of the plan's book (plans.models.BookCell): its dimensions and figures in fen."""

    branch: str = ""
    product: str = ""
    industry: str = ""
    region: str = ""
    segment: str = ""
    opening: int = 0
    outstanding: int = 0
    new_lending: int = 0

    def dims(self) -> dict[str, str]:
        return {"branch": self.branch, "product": self.product, "industry": self.industry, "region": self.region,
                "segment": self.segment}


@dataclass(frozen=True, slots=True)
class BookFigures:
    """A selection of the book added up (fen)."""

    opening: int = 0
    balance: int = 0
    new_lending: int = 0


def sum_cells(cells: Iterable[CellFigures], filters: Filters) -> BookFigures:
    opening = balance = new = 0
    for c in cells:
        if matches(filters, c.dims()):
            opening, balance, new = opening + c.opening, balance + c.outstanding, new + c.new_lending
    return BookFigures(opening, balance, new)


@dataclass(frozen=True, slots=True)
class Figure:
    """A measure of one selection: now, and at its base (the start of the period, or the base period's figure).
    None: not measured (no base given for a flow, no borrower count available)."""

    now: int | None
    base: int | None = None


def figure(measure: Measure, book: BookFigures, *, borrowers: int | None = None, base_value: int | None = None
           ) -> Figure:
    """The figure of a measure: a balance grows from the opening book unless a base is given; new lending and
    borrower counts grow from the base the planner gives (the book keeps no previous period's flow or count)."""
    if measure is Measure.BALANCE:
        return Figure(book.balance, base_value if base_value is not None else book.opening)
    if measure is Measure.NEW_LENDING:
        return Figure(book.new_lending, base_value)
    return Figure(borrowers, base_value)


def growth_bp(f: Figure) -> Fraction | None:
    """(now − base) ÷ base in basis points, exactly; None without a positive base."""
    if f.now is None or f.base is None or f.base <= 0:
        return None
    return Fraction((f.now - f.base) * BP, f.base)


def share_bp(numerator: int | None, denominator: int | None) -> Fraction | None:
    """numerator ÷ denominator in basis points, exactly; None when the denominator is nothing."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return Fraction(numerator * BP, denominator)


# --- evaluating a target ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Spec:
    kind: Kind
    measure: Measure
    threshold: int  # fen (min_amount), a count (min_borrowers), basis points (rates, shares, the growth margin)
    control: Control = Control.MONITOR


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Where a target stands. `value` and `goal` are in the target's unit (fen, a count, or basis points):
    `goal` is what `value` must reach (a minimum) or stay at or below (a cap) — the threshold, or for min_growth_vs
    the denominator's growth plus the margin. `progress`: the share of a minimum target achieved since the start
    (None where a share of the way makes no sense: shares, comparisons, a goal not above its start); `pace`:
    progress ÷ elapsed share (1 on plan, below 1 behind)."""

    kind: Kind
    unit: str
    status: Status
    value: Fraction | None
    goal: Fraction | None
    elapsed: Fraction
    progress: Fraction | None
    pace: Fraction | None
    numerator: Figure
    denominator: Figure | None
    reference: Fraction | None  # min_growth_vs: the denominator's growth (bp)


def _minimum(met: bool, progress: Fraction | None, elapsed: Fraction) -> Status:
    if met:
        return Status.MET
    if elapsed >= 1:
        return Status.MISSED
    if progress is not None and progress >= elapsed:
        return Status.ON_PACE
    return Status.BEHIND


def evaluate(spec: Spec, numerator: Figure, denominator: Figure | None, elapsed: Fraction) -> Evaluation:
    """Evaluate a target from its measured figures. `elapsed`: the share of the plan's period elapsed
    (plans.domain.elapsed_share)."""
    kind, x = spec.kind, spec.threshold
    den = denominator if denominator is not None else Figure(None)

    def make(status: Status, value: Fraction | None, goal: Fraction | None, progress: Fraction | None = None,
             reference: Fraction | None = None) -> Evaluation:
        pace = progress / elapsed if progress is not None and elapsed > 0 else None
        return Evaluation(kind, unit_of(kind), status, value, goal, elapsed, progress, pace, numerator,
                          denominator, reference)

    if kind in (Kind.MIN_AMOUNT, Kind.MIN_BORROWERS):
        if numerator.now is None:
            return make(Status.NOT_MEASURED, None, Fraction(x))
        # where the measure started: nothing for a flow, the opening (or the given base) for a balance or a count
        start = 0 if spec.measure is Measure.NEW_LENDING else numerator.base
        progress = Fraction(numerator.now - start, x - start) if start is not None and x > start else None
        return make(_minimum(numerator.now >= x, progress, elapsed), Fraction(numerator.now), Fraction(x), progress)
    if kind is Kind.MIN_GROWTH:
        g = growth_bp(numerator)
        if g is None:
            return make(Status.NOT_MEASURED, None, Fraction(x))
        progress = g / x if x > 0 else None
        return make(_minimum(g >= x, progress, elapsed), g, Fraction(x), progress)
    if kind is Kind.MIN_GROWTH_VS:
        g, ref = growth_bp(numerator), growth_bp(den)
        if g is None or ref is None:
            return make(Status.NOT_MEASURED, g, None, reference=ref)
        return make(_minimum(g >= ref + x, None, elapsed), g, ref + x, reference=ref)
    s = share_bp(numerator.now, den.now)
    if s is None:
        return make(Status.NOT_MEASURED, None, Fraction(x))
    if kind is Kind.MAX_SHARE:
        return make(Status.BREACHED if s > x else Status.WITHIN, s, Fraction(x))
    return make(_minimum(s >= x, None, elapsed), s, Fraction(x))


# --- a ratio cap and a reservation -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CapCheck:
    before: Fraction | None  # the share (bp) before the reservation
    after: Fraction | None  # … with it
    breached: bool


def check_cap(threshold_bp: int, numerator: int, denominator: int, amount: int, *, in_numerator: bool,
              in_denominator: bool) -> CapCheck:
    """Would (numerator + amount) ÷ (denominator + amount) exceed the cap? The amount joins each side whose
    selection the reservation matches; one that does not match the numerator cannot raise the share — only the
    denominator grows — so it never breaches."""
    before = share_bp(numerator, denominator)
    if not in_numerator:
        return CapCheck(before, before, False)
    n, d = numerator + amount, denominator + (amount if in_denominator else 0)
    after = share_bp(n, d)
    return CapCheck(before, after, after is not None and n * BP > threshold_bp * d)


def cap_headroom(threshold_bp: int, numerator: int, denominator: int, *, in_denominator: bool = True) -> int | None:
    """How much more lending in the numerator the cap allows, in fen, rounded down: the largest a with
    (n + a) ÷ (d + a) ≤ X, i.e. a ≤ (X·d − n) ÷ (1 − X) — or, for lending outside the denominator's selection,
    (n + a) ÷ d ≤ X. None for a cap of 100 % (lending inside both selections can never break it)."""
    if not in_denominator:
        return max((threshold_bp * denominator - BP * numerator) // BP, 0)
    if threshold_bp >= BP:
        return None
    return max((threshold_bp * denominator - BP * numerator) // (BP - threshold_bp), 0)


# --- words and numbers ----------------------------------------------------------------------------------------

def percent(bp: Fraction | int | None, places: int = 2) -> str:
    """Basis points as a percentage with `places` decimals, rounded half away from zero: 2261 → "22.61"."""
    if bp is None:
        return ""
    value = Fraction(bp) / 100  # percent
    scale = 10 ** places
    units = (abs(value) * scale * 2 + 1) // 2
    text = f"{units // scale}.{units % scale:0{places}d}" if places else str(units)
    return f"-{text}" if value < 0 and units else text


def parse_percent(value: Any, field_name: str, *, lowest: int | None = None, highest: int | None = None) -> int:
    """A percentage from outside ("22.5", "22.50 %", 22, a Decimal) as basis points, exactly: 22.5 → 2250. At
    most two decimals (a hundredth of a percent is one basis point); floats are refused like money's."""
    if isinstance(value, (bool, float)):
        raise ValidationError(f"{field_name} must be written as a decimal number, e.g. 22.5", field=field_name,
                              code="percent_format")
    text = str(value if value is not None else "").strip().removesuffix("%").strip()
    try:
        d = Decimal(text)
    except InvalidOperation:
        d = Decimal("NaN")
    if not text or not d.is_finite():
        raise ValidationError(f"{field_name} is not a percentage, e.g. 22.5", field=field_name,
                              code="percent_format")
    hundredths = d * 100
    if hundredths != hundredths.to_integral_value():
        raise ValidationError(f"{field_name} has at most 2 decimals (0.01 % is one basis point)", field=field_name,
                              code="percent_decimals")
    bp = int(hundredths)
    if (lowest is not None and bp < lowest) or (highest is not None and bp > highest):
        raise ValidationError(f"{field_name} must be between {percent(lowest)} % and {percent(highest)} %",
                              field=field_name, code="threshold_out_of_range")
    return bp


def parse_count(value: Any, field_name: str) -> int:
    """A count of borrowers: a whole number, not negative."""
    text = str(value if value is not None else "").strip()
    if isinstance(value, (bool, float)) or not text.isdigit():
        raise ValidationError(f"{field_name} must be a whole number of borrowers", field=field_name,
                              code="count_format")
    return int(text)


# --- shipped templates -----------------------------------------------------------------------------------------

# 银发〔2020〕322号 (中国人民银行 中国银行保险监督管理委员会《关于建立银行业金融机构房地产贷款集中度管理制度的通知》):
# tier → (the institutions in it, Chinese and English; 房地产贷款占比上限 and 个人住房贷款占比上限 in bp).
REAL_ESTATE_TIERS: dict[int, tuple[str, str, int, int]] = {
    1: ("中资大型银行", "large Chinese-funded banks", 4000, 3250),
    2: ("中资中型银行", "medium-sized Chinese-funded banks", 2750, 2000),
    3: ("中资小型银行和非县域农合机构", "small Chinese-funded banks and rural cooperatives outside counties", 2250, 1750),
    4: ("县域农合机构", "county rural cooperatives", 1750, 1250),
    5: ("村镇银行", "village and township banks", 1250, 750),
}


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    code: str
    name_en: str
    name_zh: str
    regulation: str
    params: dict[str, str]  # parameter → its default, as text ("" = none)


TEMPLATES: dict[str, TemplateInfo] = {
    "inclusive_sme": TemplateInfo(
        "inclusive_sme", "Inclusive small-business lending: two increases, two controls", "普惠小微贷款“两增两控”",
        "银保监办发〔2018〕29号, 〔2019〕48号 and the yearly notices that followed",
        {"segment": "inclusive_sme", "margin": "0", "base_borrowers": ""}),
    "real_estate": TemplateInfo(
        "real_estate", "Real-estate loan concentration caps", "房地产贷款集中度管理",
        "银发〔2020〕322号",
        {"tier": "", "property_cap": "", "mortgage_cap": "", "property_industries": "K",
         "property_products": "mortgage", "mortgage_products": "mortgage", "control": "refuse"}),
    "green": TemplateInfo(
        "green", "Green lending growth", "绿色贷款增长",
        "银保监发〔2022〕15号《银行业保险业绿色金融指引》 (no figure set by regulation: the bank's own objective)",
        {"segment": "green", "growth": "20"}),
    "manufacturing_mlt": TemplateInfo(
        "manufacturing_mlt", "Manufacturing medium/long-term lending growth", "制造业中长期贷款增长",
        "the regulators' yearly guidance on manufacturing medium/long-term loans (no figure set by regulation: the "
        "bank's own objective)", {"industry": "C", "products": "", "growth": "10"}),
}


@dataclass(frozen=True, slots=True)
class Draft:
    """A target a template makes, before the service validates its filters against the registers and stores it.
    `numerator_param` / `denominator_param` name the template parameter a filter came from (for error messages);
    `base_from_book`: the service fills the base and the threshold with the borrower count now (when no base was
    given)."""

    code: str
    name: str
    kind: Kind
    measure: Measure
    numerator: list[dict[str, str]]
    denominator: list[dict[str, str]]
    threshold: int
    base_value: int | None = None
    control: Control = Control.MONITOR
    numerator_param: str = ""
    denominator_param: str = ""
    base_from_book: bool = False


def codes(value: Any) -> list[str]:
    """A list of codes from a parameter: a list, or text separated by commas or spaces ("K, F" → ["K", "F"])."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).replace("，", ",").replace(",", " ").split()
    return [str(v).strip() for v in items if str(v).strip()]


def build_template(template: str, params: Mapping[str, Any]) -> list[Draft]:
    """The targets a shipped template makes, with the parameters given (each defaults as TEMPLATES says).
    Raises ValidationError naming every bad parameter."""
    info = TEMPLATES.get(template)
    if info is None:
        raise ValidationError(f"no template {template!r}; the templates are {', '.join(TEMPLATES)}",
                              field="template", code="unknown_template")
    problems = [FieldProblem(k, f"the {template} template has no parameter {k!r} (it takes "
                                f"{', '.join(info.params)})", "unknown_param") for k in params if k not in info.params]
    p = {k: (params[k] if params.get(k) not in (None, "") else default) for k, default in info.params.items()}
    drafts: list[Draft] = []

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            problems.extend(exc.problems)
            return None

    if template == "inclusive_sme":
        segment = str(p["segment"]).strip()
        margin = attempt(parse_percent, p["margin"], "margin", lowest=-BP, highest=BP)
        base = attempt(parse_count, p["base_borrowers"], "base_borrowers") if p["base_borrowers"] != "" else None
        sme = [{"segment": segment}]
        drafts = [
            Draft("sme_growth", "Inclusive small-business loans grow at least as fast as all loans",
                  Kind.MIN_GROWTH_VS, Measure.BALANCE, sme, [], margin or 0, numerator_param="segment"),
            Draft("sme_borrowers", "Inclusive small-business borrowers not below the start of the year",
                  Kind.MIN_BORROWERS, Measure.BORROWERS, sme, [], base or 0, base, numerator_param="segment",
                  base_from_book=base is None),
        ]
    elif template == "real_estate":
        tier_text = str(p["tier"]).strip()
        tier = int(tier_text) if tier_text.isdigit() else None
        if tier not in REAL_ESTATE_TIERS:
            problems.append(FieldProblem("tier", "the tier is 1 (large banks) to 5 (village banks)", "unknown_tier"))
        _, _, property_default, mortgage_default = REAL_ESTATE_TIERS.get(tier or 0, ("", "", 0, 0))
        property_cap = (attempt(parse_percent, p["property_cap"], "property_cap", lowest=1, highest=BP)
                        if p["property_cap"] != "" else property_default)
        mortgage_cap = (attempt(parse_percent, p["mortgage_cap"], "mortgage_cap", lowest=1, highest=BP)
                        if p["mortgage_cap"] != "" else mortgage_default)
        try:
            control = Control(str(p["control"]).strip())
        except ValueError:
            problems.append(FieldProblem("control", "control is refuse, escalate or monitor", "unknown_control"))
            control = Control.MONITOR
        prop = ([{"industry": i.upper()} for i in codes(p["property_industries"])]
                + [{"product": c} for c in codes(p["property_products"])])
        mortgage = [{"product": c} for c in codes(p["mortgage_products"])]
        for name, filters in (("property_products", prop), ("mortgage_products", mortgage)):
            if not filters:
                problems.append(FieldProblem(name, "name at least one product or industry", "required"))
        suffix = f" (tier {tier})" if tier in REAL_ESTATE_TIERS else ""
        drafts = [
            Draft("re_property", f"Property loans, share of all loans{suffix}", Kind.MAX_SHARE, Measure.BALANCE,
                  prop, [], property_cap or 0, None, control, numerator_param="property_products"),
            Draft("re_mortgage", f"Personal mortgages, share of all loans{suffix}", Kind.MAX_SHARE, Measure.BALANCE,
                  mortgage, [], mortgage_cap or 0, None, control, numerator_param="mortgage_products"),
        ]
    else:
        growth = attempt(parse_percent, p["growth"], "growth", lowest=-BP, highest=100 * BP)
        if template == "green":
            selection, param = [{"segment": str(p["segment"]).strip()}], "segment"
            drafts = [Draft("green_growth", "Green loans, balance growth", Kind.MIN_GROWTH, Measure.BALANCE,
                            selection, [], growth or 0, numerator_param=param)]
        else:
            industry = str(p["industry"]).strip().upper()
            products = codes(p["products"])
            selection = [{"industry": industry, "product": c} for c in products] or [{"industry": industry}]
            drafts = [Draft("mfg_mlt_growth", "Manufacturing medium/long-term loans, balance growth",
                            Kind.MIN_GROWTH, Measure.BALANCE, selection, [], growth or 0,
                            numerator_param="products" if products else "industry")]
    if problems:
        raise ValidationError.collect(problems)
    return drafts
