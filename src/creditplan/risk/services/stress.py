"""Stress tests (issue 17, item 7): scenarios kept in the database (two standard ones installed), applied to the book
of a date with the ECL run's own inputs and kernel, the stressed figures stored beside the base (docs/ecl.md).

`run_stress(D)` prepares the book of D once (risk.services.ecl.prepare), computes the base allowance and, for each
scenario, the allowance with each loan's PD multiplied (by its segment and industry) and its LGD moved (property
collateral by the price fall), the stage following the stressed PD as it would in life; then the one-year expected
loss, the NPL ratio a year on, the provision, the capital the extra provision costs and what is left of the credit
plan's quotas (risk.domain.stress).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

import creditplan.risk.services.ecl as ecl
from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.risk import sql
from creditplan.risk.domain.ecl import EclError
from creditplan.risk.domain.facts import industry_section
from creditplan.risk.domain.stress import (
    StressScenario,
    book_figures,
    capital_impact,
    from_macro,
    pd_multipliers,
    plan_headroom,
    stressed_lgd,
)
from creditplan.risk.models import StressResult
from creditplan.risk.models import StressScenario as ScenarioRow

STANDARD: tuple[dict[str, Any], ...] = (
    {"code": "mild-downturn", "name_en": "Mild downturn", "name_zh": "温和下行",
     "unemployment_pp": "1", "gdp_pp": "1.5", "property_fall": "0.10", "lgd_multiplier": "1"},
    {"code": "severe-recession", "name_en": "Severe recession with a property slump", "name_zh": "严重衰退与房价下跌",
     "unemployment_pp": "3", "gdp_pp": "4", "property_fall": "0.30", "lgd_multiplier": "1.10"},
)


@dataclass(frozen=True)
class ScenarioView:
    code: str
    name_en: str
    name_zh: str
    unemployment_pp: str
    gdp_pp: str
    property_fall: str
    lgd_multiplier: str
    pd_segment: dict[str, str]
    pd_industry: dict[str, str]
    standard: bool


def _view(row: ScenarioRow) -> ScenarioView:
    return ScenarioView(row.code, row.name_en, row.name_zh, row.unemployment_pp, row.gdp_pp, row.property_fall,
                        row.lgd_multiplier, dict(row.pd_segment), dict(row.pd_industry), row.standard)


def _decimal(value: Any, field_name: str, problems: list[FieldProblem], *, signed: bool = False) -> Decimal | None:
    if isinstance(value, (bool, float)):
        problems.append(FieldProblem(field_name, f"{field_name} is written as a decimal number", "number_format"))
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        problems.append(FieldProblem(field_name, f"{field_name} is not a number: {value!r}", "number_format"))
        return None
    if not signed and number < 0:
        problems.append(FieldProblem(field_name, f"{field_name} must be a number of 0 or more",
                                     "negative_multiplier"))
        return None
    return number


def _scenario_of(data: Mapping[str, Any]) -> tuple[dict[str, Any], StressScenario]:
    """Clean a scenario definition: every problem at once, each naming its field. With no explicit multipliers the
    PD multipliers come from the macro shock (risk.domain.stress.from_macro)."""
    problems: list[FieldProblem] = []
    code = str(data.get("code") or "").strip()
    if not code or len(code) > 40 or not all(ch.isalnum() or ch in "-_" for ch in code):
        problems.append(FieldProblem("code", "a code of letters, digits and dashes is required", "required"))
    names = {k: str(data.get(k) or "").strip() for k in ("name_en", "name_zh")}
    for k, v in names.items():
        if not v or len(v) > 120:
            problems.append(FieldProblem(k, "a name of at most 120 characters is required", "required"))
    u = _decimal(data.get("unemployment_pp", "0"), "unemployment_pp", problems, signed=True)
    g = _decimal(data.get("gdp_pp", "0"), "gdp_pp", problems, signed=True)
    fall = _decimal(data.get("property_fall", "0"), "property_fall", problems)
    if fall is not None and fall > 1:
        problems.append(FieldProblem("property_fall", "the property-price fall is a share from 0 to 1",
                                     "property_fall_out_of_range"))
    lgd_m = _decimal(data.get("lgd_multiplier", "1"), "lgd_multiplier", problems)
    tables: dict[str, dict[str, Decimal]] = {}
    for table in ("pd_segment", "pd_industry"):
        raw = data.get(table) or {}
        if not isinstance(raw, Mapping):
            problems.append(FieldProblem(table, f"{table} maps a segment or industry to a multiplier", "invalid"))
            continue
        parsed = {}
        for key, value in raw.items():
            number = _decimal(value, f"{table}.{key}", problems)
            if number is not None:
                parsed[str(key)] = number
        tables[table] = parsed
    if problems:
        raise ValidationError.collect(problems)
    assert u is not None and g is not None and fall is not None and lgd_m is not None
    try:
        scenario = from_macro(code, unemployment_pp=float(u), gdp_pp=float(g), property_fall=float(fall),
                              lgd_multiplier=float(lgd_m))
        if tables.get("pd_segment") or tables.get("pd_industry"):
            scenario = StressScenario(
                code, {**scenario.pd_segment, **{k: float(v) for k, v in tables.get("pd_segment", {}).items()}},
                {**scenario.pd_industry, **{k: float(v) for k, v in tables.get("pd_industry", {}).items()}},
                scenario.property_fall, scenario.lgd_multiplier, scenario.unemployment_pp, scenario.gdp_pp)
        scenario.check()
    except EclError as exc:
        raise ValidationError(exc.message, code=exc.code, field=exc.field) from None
    clean = {"code": code, **names, "unemployment_pp": str(u), "gdp_pp": str(g), "property_fall": str(fall),
             "lgd_multiplier": str(lgd_m),
             "pd_segment": {k: str(v) for k, v in tables.get("pd_segment", {}).items()},
             "pd_industry": {k: str(v) for k, v in tables.get("pd_industry", {}).items()}}
    return clean, scenario


def define_scenario(actor: Actor | None, data: Mapping[str, Any]) -> ScenarioView:
    """Create or replace a stress scenario (validated: a negative multiplier, a fall outside 0–1 … refused, naming
    the field)."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    clean, _scenario = _scenario_of(data)
    with transaction.atomic():
        row, _ = ScenarioRow.objects.update_or_create(code=clean["code"], defaults={
            k: v for k, v in clean.items() if k != "code"})
        ledger.append(actor, "risk.stress_scenario_defined", "stress_scenario", row.code, clean)
    return _view(row)


def install_standard(actor: Actor | None = None) -> int:
    """The standard scenarios, those not installed yet."""
    added = 0
    for k, data in enumerate(STANDARD):
        if not ScenarioRow.objects.filter(code=data["code"]).exists():
            define_scenario(actor, data)
            ScenarioRow.objects.filter(code=data["code"]).update(standard=True, sort_order=k)
            added += 1
    return added


def list_scenarios(actor: Actor | None = None) -> list[ScenarioView]:
    if actor is not None:
        require(actor, Perm.RISK_VIEW)
    return [_view(r) for r in ScenarioRow.objects.all()]


def scenario_of(row: ScenarioRow) -> StressScenario:
    return _scenario_of({**_view(row).__dict__})[1]


# --- the run -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StressSummary:
    as_of: dt.date
    scenarios: list[str]
    base: dict[str, Any]
    stressed: dict[str, dict[str, Any]]


def apply(prepared: ecl.Prepared, scenario: StressScenario, *, engine: str = "local", session: Any = None
          ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The stressed figures of a prepared book under one scenario, and the kernel's columns."""
    inputs = prepared.inputs
    multipliers = pd_multipliers(scenario, prepared.extra["segment"], industry_section(prepared.extra["industry"]))
    lgd = stressed_lgd(inputs["lgd"], prepared.extra["collateral"], scenario)
    out = ecl.compute(prepared, engine=engine, session=session,
                      overrides={"pd_multiplier": multipliers, "lgd": lgd})
    figures = book_figures(prepared.ids["outstanding"], inputs["risk_class"], out["stage"], out["pd12_used"], lgd,
                           out["ead"], out["ecl"])
    return figures, out


def run_stress(as_of: Any, *, codes: list[str] | None = None, actor: Actor | None = None, engine: str = "local",
               session: Any = None) -> StressSummary:
    """Apply the scenarios (all, or those named) to the book of `as_of` and store base and stressed side by side."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    day = ecl._date(as_of)
    closed = loans.last_closed_date()
    if closed is None or closed < day:
        raise Conflict(f"the close of {day} has not run: the book of {day} is not known yet", code="close_not_run",
                       field="date")
    rows = list(ScenarioRow.objects.all())
    if codes:
        unknown = sorted(set(codes) - {r.code for r in rows})
        if unknown:
            raise NotFound(f"no stress scenario {', '.join(unknown)}", code="unknown_scenario", field="scenario")
        rows = [r for r in rows if r.code in codes]
    if not rows:
        raise Conflict("no stress scenario is defined (install the standard ones first)", code="no_scenario",
                       field="scenario")
    prepared = ecl.with_segments(ecl.prepare(day))
    base_out = ecl.compute(prepared, engine=engine, session=session)
    inputs = prepared.inputs
    base = book_figures(prepared.ids["outstanding"], inputs["risk_class"], base_out["stage"], base_out["pd12_used"],
                        inputs["lgd"], base_out["ead"], base_out["ecl"])
    plan = sql.read_plan(day)
    base["headroom"] = plan_headroom(plan, 0, prepared.ids["customer"], prepared.ids["outstanding"])
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        scenario = scenario_of(row)
        stressed, _out = apply(prepared, scenario, engine=engine, session=session)
        capital = capital_impact(base["provision"], stressed["provision"], plan["net_capital"] if plan else None)
        stressed["capital"] = capital
        stressed["headroom"] = plan_headroom(plan, capital["extra_provision"], prepared.ids["customer"],
                                             prepared.ids["outstanding"])
        results[row.code] = stressed
    with transaction.atomic():
        now = timezone.now()
        for row in rows:
            StressResult.objects.update_or_create(as_of=day, scenario=row, defaults={
                "figures": {"base": base, "stressed": results[row.code], "scenario": _view(row).__dict__,
                            "engine": engine}, "computed_at": now})
        ledger.append(actor, "risk.stress_tested", "risk", day.isoformat(), {
            "as_of": day.isoformat(), "scenarios": [r.code for r in rows], "base_provision": base["provision"],
            "stressed_provision": {c: r["provision"] for c, r in results.items()}, "engine": engine,
            "snapshot_sha256": prepared.snapshot.sha256})
    return StressSummary(day, [r.code for r in rows], base, results)


@dataclass(frozen=True)
class StressOverview:
    as_of: dt.date
    dates: list[dt.date]
    base: dict[str, Any]
    scenarios: list[dict[str, Any]]  # {scenario: ScenarioView, figures}


def stress_overview(actor: Actor, as_of: Any = None) -> StressOverview | None:
    """The stress tests of a date (the latest when `as_of` is None), for readers of the whole book."""
    require(actor, Perm.RISK_VIEW)
    if not ecl.reads_whole_book(actor):
        raise Forbidden("stress tests cover the whole book: they are for head-office roles", code="whole_book_only")
    dates = list(StressResult.objects.order_by("-as_of").values_list("as_of", flat=True).distinct()[:24])
    if not dates:
        return None
    day = ecl._date(as_of) if as_of not in (None, "") else dates[0]
    results = list(StressResult.objects.filter(as_of=day).select_related("scenario")
                   .order_by("scenario__sort_order", "scenario__code"))
    if not results:
        raise NotFound(f"no stress test was run for {day}", code="no_stress_run", field="date")
    return StressOverview(day, sorted(set(dates), reverse=True), results[0].figures["base"],
                          [{"scenario": _view(r.scenario), "figures": r.figures["stressed"]} for r in results])
