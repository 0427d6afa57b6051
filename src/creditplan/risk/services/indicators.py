"""Defining key risk indicators: the standard set installed, and risk managers' own definitions checked before
they are saved (a formula naming an unknown field, amber beyond red, a dimension the data does not have — each
refused naming the problem)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor, Perm, Role, require
from creditplan.core.errors import FieldProblem, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.risk.domain.catalogue import DIMENSIONS, FACTS, STANDARD, Frequency, Unit, dimensions_of
from creditplan.risk.domain.formula import Formula, FormulaError, compile_formula
from creditplan.risk.domain.thresholds import AlertRule as RuleSpec
from creditplan.risk.domain.thresholds import Mode, RuleKind, Threshold, ThresholdError, Worse
from creditplan.risk.models import AlertRule, Indicator


@dataclass(frozen=True)
class IndicatorView:
    id: int
    code: str
    name_en: str
    name_zh: str
    explain_en: str
    explain_zh: str
    fact: str
    formula: str
    unit: str
    dimensions: list[str]
    amber: Decimal
    red: Decimal
    worse: str
    mode: str
    owner_role: str
    frequency: str
    standard: bool
    active: bool
    rules: list[tuple[str, int]]


def view(i: Indicator) -> IndicatorView:
    rules = [(r.kind, r.periods) for r in i.rules.all() if r.active]
    return IndicatorView(i.pk, i.code, i.name_en, i.name_zh, i.explain_en, i.explain_zh, i.fact, i.formula, i.unit,
                         list(i.dimensions), Decimal(i.amber), Decimal(i.red), i.worse, i.mode, i.owner_role,
                         i.frequency, i.standard, i.active, rules)


def threshold_of(i: Indicator | IndicatorView) -> Threshold:
    return Threshold(float(Decimal(str(i.amber))), float(Decimal(str(i.red))), Worse(i.worse), Mode(i.mode))


def formula_of(i: Indicator) -> Formula:
    return compile_formula(i.formula, FACTS[i.fact])


@transaction.atomic
def install_standard(actor: Actor | None = None) -> int:
    """Install the standard set (those not installed yet); returns how many were added."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    have = set(Indicator.objects.values_list("code", flat=True))
    added = 0
    for order, s in enumerate(STANDARD):
        if s.code in have:
            continue
        i = Indicator.objects.create(
            code=s.code, name_en=s.name_en, name_zh=s.name_zh, explain_en=s.explain_en, explain_zh=s.explain_zh,
            fact=s.fact, formula=s.formula, unit=s.unit, dimensions=list(s.dimensions), amber=_text(s.threshold.amber),
            red=_text(s.threshold.red), worse=s.threshold.worse.value, mode=s.threshold.mode.value,
            owner_role=s.owner_role, frequency=s.frequency, standard=True, sort_order=order * 10)
        for rule in s.rules:
            AlertRule.objects.create(indicator=i, kind=rule.kind.value, periods=rule.periods)
        added += 1
    if added:
        ledger.append(actor, "risk.indicators_installed", "risk", "standard", {"added": added})
    return added


def _text(x: float) -> str:
    return format(Decimal(repr(x)).normalize(), "f")


def list_indicators(actor: Actor, *, active_only: bool = False) -> list[IndicatorView]:
    require(actor, Perm.RISK_VIEW)
    qs = Indicator.objects.prefetch_related("rules")
    if active_only:
        qs = qs.filter(active=True)
    return [view(i) for i in qs]


def get_indicator(actor: Actor, code: str) -> IndicatorView:
    require(actor, Perm.RISK_VIEW)
    return view(_get(code))


def _get(code: str) -> Indicator:
    i = Indicator.objects.prefetch_related("rules").filter(code=str(code or "").strip()).first()
    if i is None:
        raise NotFound(f"no indicator {code}", code="indicator_not_found")
    return i


_OWNER_ROLES = (Role.RISK_MANAGER, Role.PLANNER, Role.OPERATIONS, Role.APPROVER)
_FIELDS = ("code", "name_en", "name_zh", "fact", "formula", "unit", "dimensions", "amber", "red", "worse", "mode",
           "owner_role", "frequency")


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Every problem with a definition at once, each naming its field."""
    problems: list[FieldProblem] = []
    out: dict[str, Any] = {}

    def text(name: str, limit: int, required: bool = True) -> str:
        v = str(data.get(name) or "").strip()
        if required and not v:
            problems.append(FieldProblem(name, f"{name} is required", "required"))
        elif len(v) > limit:
            problems.append(FieldProblem(name, f"{name} has at most {limit} characters", "too_long"))
        return v

    if creating:
        code = text("code", 60)
        if code and not all(c.isascii() and (c.isalnum() or c in "_-") for c in code):
            problems.append(FieldProblem("code", "the code has letters, digits, - and _ only", "code_format"))
        out["code"] = code.lower()
    out["name_en"], out["name_zh"] = text("name_en", 120), text("name_zh", 120)
    out["explain_en"], out["explain_zh"] = text("explain_en", 2000, False), text("explain_zh", 2000, False)
    fact = str(data.get("fact") or "").strip()
    if fact not in FACTS:
        problems.append(FieldProblem("fact", f"unknown data {fact!r}: choose one of {', '.join(FACTS)}", "unknown_fact"))
    out["fact"] = fact
    formula = str(data.get("formula") or "")
    if fact in FACTS:
        try:
            compile_formula(formula, FACTS[fact])
        except FormulaError as exc:
            problems.append(FieldProblem("formula", exc.message, exc.code))
    out["formula"] = formula.strip()
    dims = data.get("dimensions") or ["total"]
    if isinstance(dims, str):
        dims = [d.strip() for d in dims.split(",") if d.strip()]
    if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
        problems.append(FieldProblem("dimensions", "dimensions are a list of names", "dimensions_format"))
        dims = []
    for d in dims:
        if d not in DIMENSIONS:
            problems.append(FieldProblem("dimensions", f"unknown dimension {d}: the dimensions are "
                                                       f"{', '.join(DIMENSIONS)}", "unknown_dimension"))
        elif fact in FACTS and d not in dimensions_of(fact):
            problems.append(FieldProblem("dimensions", f"the {fact} data has no dimension {d}",
                                         "dimension_not_in_data"))
    out["dimensions"] = list(dict.fromkeys(["total", *dims]))
    for name, allowed in (("unit", Unit.ALL), ("frequency", Frequency.ALL), ("worse", tuple(w.value for w in Worse)),
                          ("mode", tuple(m.value for m in Mode)), ("owner_role", tuple(r.value for r in _OWNER_ROLES))):
        v = str(data.get(name) or "").strip()
        if v not in allowed:
            problems.append(FieldProblem(name, f"{name} must be one of {', '.join(allowed)}", f"unknown_{name}"))
        out[name] = v
    for name in ("amber", "red"):
        try:
            d = Decimal(str(data.get(name)).strip())
            if not d.is_finite() or abs(d) > Decimal(10) ** 12:
                raise InvalidOperation
            out[name] = format(d.normalize(), "f")
        except (InvalidOperation, ValueError, TypeError):
            problems.append(FieldProblem(name, f"the {name} threshold must be a number", "threshold_not_number"))
    if not any(p.field in ("amber", "red", "worse", "mode") for p in problems):
        try:
            Threshold(float(out["amber"]), float(out["red"]), Worse(out["worse"]), Mode(out["mode"])).check()
        except ThresholdError as exc:
            problems.append(FieldProblem(exc.field, exc.message, exc.code))
    rules = data.get("rules")
    if rules is not None:
        out["rules"] = _clean_rules(rules, problems)
    if problems:
        raise ValidationError.collect(problems)
    return out


def _clean_rules(rules: Any, problems: list[FieldProblem]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if not isinstance(rules, list):
        problems.append(FieldProblem("rules", "rules are a list", "rules_format"))
        return out
    for r in rules:
        kind = str((r or {}).get("kind") if isinstance(r, dict) else r).strip()
        periods = (r or {}).get("periods", 3) if isinstance(r, dict) else 3
        try:
            spec = RuleSpec(RuleKind(kind), int(periods))
            spec.check()
        except ThresholdError as exc:  # first: a ThresholdError is a ValueError too
            problems.append(FieldProblem("rules", exc.message, exc.code))
            continue
        except ValueError:
            problems.append(FieldProblem("rules", f"unknown alert rule {kind!r}: red, amber or worsening",
                                         "unknown_rule"))
            continue
        out.append((spec.kind.value, spec.periods))
    return out


@transaction.atomic
def define_indicator(actor: Actor, data: dict[str, Any]) -> IndicatorView:
    """A new indicator, checked whole (every problem at once)."""
    require(actor, Perm.RISK_MANAGE)
    clean = _clean(data, creating=True)
    if Indicator.objects.filter(code=clean["code"]).exists():
        raise ValidationError(f"an indicator {clean['code']} exists", field="code", code="duplicate_indicator")
    rules = clean.pop("rules", [("red", 3)])
    i = Indicator.objects.create(**clean, updated_by=actor, sort_order=1000)
    for kind, periods in rules:
        AlertRule.objects.create(indicator=i, kind=kind, periods=periods)
    ledger.append(actor, "risk.indicator_defined", "indicator", i.code, {**clean, "rules": rules})
    return view(_get(i.code))


@transaction.atomic
def update_indicator(actor: Actor, code: str, data: dict[str, Any]) -> IndicatorView:
    """Change a definition (the standard ones too: each institution sets its own thresholds). Values already
    computed keep the definition they were computed with; the next run uses the new one."""
    require(actor, Perm.RISK_MANAGE)
    i = Indicator.objects.select_for_update().filter(code=str(code or "").strip()).first()
    if i is None:
        raise NotFound(f"no indicator {code}", code="indicator_not_found")
    merged = {f: getattr(i, f) for f in _FIELDS if f != "code"} | {"explain_en": i.explain_en,
                                                                  "explain_zh": i.explain_zh} | data
    clean = _clean(merged, creating=False)
    rules = clean.pop("rules", None)
    before = {f: getattr(i, f) for f in clean}
    for f, v in clean.items():
        setattr(i, f, v)
    if "active" in data:
        i.active = bool(data["active"])
    i.version += 1
    i.updated_by = actor
    i.save()
    if rules is not None:
        AlertRule.objects.filter(indicator=i).delete()
        for kind, periods in rules:
            AlertRule.objects.create(indicator=i, kind=kind, periods=periods)
    changed = {f: [before[f], clean[f]] for f in clean if before[f] != clean[f]}
    ledger.append(actor, "risk.indicator_changed", "indicator", i.code,
                  {"version": i.version, "changed": changed, "rules": rules, "active": i.active})
    return view(_get(i.code))
