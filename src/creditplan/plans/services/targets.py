"""Targets and ratio limits of a plan (issue 19 §6; docs/plan-targets.md): minimum targets and ratio caps besides
the quotas, the shipped templates, the evaluation the dashboard and the API show, and the ratio-cap check of a
reservation.

The figures come from the plan's book by cell (plans.models.BookCell: opening balance, outstanding principal and
new lending by branch / product / industry / region / segment, kept with the loans by the book's movements) and,
for borrower counts, from the loan book itself (plans.services.sources.book().borrowers). The rules are pure
(plans.domain.targets); this module reads, validates, stores and appends the ledger events.

A ratio cap (kind max_share) with control "refuse" refuses a reservation that would take its share above the cap;
"escalate" keeps the reservation, escalated with the reason; "monitor" records the breach in the reservation's
reason. The balance it measures counts the approvals not yet paid out (open reservations) on both sides: a cap
checked on the book alone would let approvals that each fit, together, break it once paid out. The check costs
nothing when no cap of the plan matches the loan: the plan's caps are kept per process under (plan id,
Plan.targets_version) — the reservation's one statement reads the version with the plan (plans.sql.PLAN_COLUMNS)
and every change of a target bumps it — and the figures are read (one statement) only for a loan inside a cap's
numerator. Like everything in the reservation, it runs under the locks of the loan's quotas (the root's
included), so two reservations cannot both take the last room under a cap.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.db import transaction
from django.db.models import FilteredRelation, Q, Sum
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, FieldProblem, LimitExceeded, NotFound, ValidationError
from creditplan.core.money import format_minor
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.ledger import services as ledger
from creditplan.org.models import Branch
from creditplan.plans import domain, sql
from creditplan.plans.domain import Outcome, parse_plan_amount
from creditplan.plans.domain import targets as t
from creditplan.plans.models import BookCell, DimensionCode, Plan, Reservation, Target
from creditplan.plans.services.sources import book as book_source

_OPEN = ("reserved", "escalated")  # reservations not yet paid out
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_MAX_FILTERS = 20
_UPDATABLE = ("name", "kind", "measure", "numerator", "denominator", "threshold", "base_value", "control")


@dataclass(frozen=True)
class TargetView:
    """A target as stored: threshold in its unit (fen, a count, or basis points), base in fen or a count."""

    id: int
    plan_id: int
    code: str
    name: str
    template: str
    kind: str
    measure: str
    numerator: list[dict[str, str]]
    denominator: list[dict[str, str]]
    threshold: int
    base_value: int | None
    control: str

    @property
    def unit(self) -> str:
        return t.unit_of(t.Kind(self.kind))

    @property
    def threshold_text(self) -> str:
        """The threshold as a user writes it: yuan ("1000000.00"), a percentage ("22.50") or a count."""
        return threshold_text(self.kind, self.threshold)

    @property
    def base_text(self) -> str:
        return base_text(self.measure, self.base_value)


@dataclass(frozen=True)
class TargetStatus:
    """A target and where it stands. For a ratio cap, `share_with_reserved` (bp) and `headroom` (fen: how much
    more lending in the numerator the cap allows) count the approvals not yet paid out, as the reservation does."""

    target: TargetView
    evaluation: t.Evaluation
    share_with_reserved: Fraction | None = None
    headroom: int | None = None


def threshold_text(kind: str, value: int) -> str:
    unit = t.unit_of(t.Kind(kind))
    if unit == "fen":
        return format_minor(value, grouping=False)
    return t.percent(value) if unit == "bp" else str(value)


def base_text(measure: str, value: int | None) -> str:
    if value is None:
        return ""
    return str(value) if measure == t.Measure.BORROWERS else format_minor(value, grouping=False)


def _view(row: Target) -> TargetView:
    return TargetView(row.pk, row.plan_id, row.code, row.name, row.template, row.kind, row.measure,
                      list(row.numerator or []), list(row.denominator or []), row.threshold, row.base_value,
                      row.control)


def target_templates() -> list[t.TemplateInfo]:
    """The shipped templates and their parameters (with defaults)."""
    return list(t.TEMPLATES.values())


# --- validation ------------------------------------------------------------------------------------------------

def _clean_filters(value: Any, field: str, problems: list[FieldProblem]) -> list[dict[str, str]]:
    """A list of filters, each naming values that exist in the plan's registers (see plans.domain.targets)."""
    if value in (None, ""):
        return []
    if not isinstance(value, (list, tuple)):
        problems.append(FieldProblem(field, f"{field} must be a list of filters, e.g. [{{\"product\": \"mortgage\"}}]",
                                     "filter_format"))
        return []
    if len(value) > _MAX_FILTERS:
        problems.append(FieldProblem(field, f"{field} has at most {_MAX_FILTERS} filters", "filter_format"))
        return []
    out = []
    for i, f in enumerate(value, 1):
        where = f"{field}, filter {i}"
        if not isinstance(f, Mapping) or not f:
            problems.append(FieldProblem(field, f"{where} must name at least one dimension, e.g. "
                                                "{\"industry\": \"K\"}", "filter_format"))
            continue
        clean: dict[str, str] = {}
        for key, raw in f.items():
            v = str(raw if raw is not None else "").strip()
            if key not in t.FILTER_KEYS:
                problems.append(FieldProblem(field, f"{where}: no dimension {key!r} (the dimensions are "
                                                    f"{', '.join(t.FILTER_KEYS)})", "unknown_filter_key"))
            elif not v or isinstance(raw, (dict, list, float)):
                problems.append(FieldProblem(field, f"{where}: {key} needs a code", "filter_format"))
            elif key == "branch":
                v = v.upper()
                if not Branch.objects.filter(code=v, is_active=True).exists():
                    problems.append(FieldProblem(field, f"{where}: no active branch {v!r}", "unknown_branch"))
            elif key in ("product", "segment"):
                if not DimensionCode.objects.filter(dimension=key, code=v).exists():
                    problems.append(FieldProblem(field, f"{where}: {key} {v!r} is not configured", f"unknown_{key}"))
            elif key == "industry":
                v = v.upper()
                if v not in INDUSTRY_SECTIONS:
                    problems.append(FieldProblem(field, f"{where}: {v!r} is not a GB/T 4754 section (one letter, "
                                                        "A-T)", "unknown_industry"))
            elif v not in PROVINCES:  # region
                problems.append(FieldProblem(field, f"{where}: {v!r} is not a GB/T 2260 province (two digits)",
                                             "unknown_region"))
            clean[key] = v
        out.append(clean)
    return out


def _parse_threshold(kind: t.Kind, value: Any, problems: list[FieldProblem]) -> int | None:
    """The threshold as a user writes it, in its kind's unit: yuan (min_amount), a count (min_borrowers), a
    percentage (rates and shares; 22.5 = 22.5 %)."""
    if value is None or str(value).strip() == "":
        problems.append(FieldProblem("threshold", "the threshold is required", "required"))
        return None
    try:
        if kind is t.Kind.MIN_AMOUNT:
            return parse_plan_amount(value, "threshold", allow_zero=False)
        if kind is t.Kind.MIN_BORROWERS:
            return t.parse_count(value, "threshold")
        return t.parse_percent(value, "threshold")
    except ValidationError as exc:
        problems.extend(exc.problems)
        return None


def _parse_base(measure: t.Measure, value: Any, problems: list[FieldProblem]) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        if measure is t.Measure.BORROWERS:
            return t.parse_count(value, "base_value")
        return parse_plan_amount(value, "base_value", allow_zero=False)
    except ValidationError as exc:
        problems.extend(exc.problems)
        return None


def _check(kind: t.Kind, measure: t.Measure, threshold: int, base: int | None, control: t.Control,
           denominator: list[dict[str, str]], problems: list[FieldProblem]) -> None:
    """What each kind allows: its range of thresholds, whether it takes a base, a denominator, a control."""
    if kind in (t.Kind.MAX_SHARE, t.Kind.MIN_SHARE) and not 0 <= threshold <= t.BP:
        problems.append(FieldProblem("threshold", "a share is a percentage between 0 and 100",
                                     "threshold_out_of_range"))
    elif kind is t.Kind.MIN_GROWTH and not -t.BP <= threshold <= 100 * t.BP:
        problems.append(FieldProblem("threshold", "a growth rate is between -100 % and 10000 %",
                                     "threshold_out_of_range"))
    elif kind is t.Kind.MIN_GROWTH_VS and not -t.BP <= threshold <= t.BP:
        problems.append(FieldProblem("threshold", "the margin over the other growth rate is between -100 and 100 "
                                                  "percentage points", "threshold_out_of_range"))
    if kind is t.Kind.MIN_GROWTH and measure is not t.Measure.BALANCE and base is None:
        problems.append(FieldProblem("base_value", f"the growth of {measure.value.replace('_', ' ')} is measured "
                                                   "over a base the planner gives (the book keeps no previous "
                                                   "period's figure): give the base", "base_required"))
    if kind is t.Kind.MIN_GROWTH and measure is t.Measure.BORROWERS and base == 0:
        problems.append(FieldProblem("base_value", "a growth rate needs a base above zero", "base_format"))
    if base is not None and (kind in t.RATIO_KINDS or (kind is t.Kind.MIN_AMOUNT
                                                       and measure is t.Measure.NEW_LENDING)):
        problems.append(FieldProblem("base_value", f"a {kind.value} target of {measure.value} takes no base",
                                     "base_not_for_kind"))
    if kind not in t.RATIO_KINDS and denominator:
        problems.append(FieldProblem("denominator", f"a {kind.value} target has no denominator (only shares and "
                                                    "growth comparisons do)", "denominator_not_for_kind"))
    if kind is not t.Kind.MAX_SHARE and control is not t.Control.MONITOR:
        problems.append(FieldProblem("control", "only a ratio cap (max_share) refuses or escalates reservations",
                                     "control_not_for_kind"))


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of a target from what a user sent, or one ValidationError naming every bad field."""
    problems: list[FieldProblem] = []
    code = str(data.get("code") or "").strip().lower()
    if not _CODE.match(code):
        problems.append(FieldProblem("code", "the code is 1-40 lower-case letters, digits, dashes or underscores",
                                     "code_format"))
    name = str(data.get("name") or "").strip()
    if not name:
        problems.append(FieldProblem("name", "the target's name is required", "required"))
    elif len(name) > 100:
        problems.append(FieldProblem("name", "the name has at most 100 characters", "too_long"))
    try:
        kind: t.Kind | None = t.Kind(str(data.get("kind") or "").strip())
    except ValueError:
        problems.append(FieldProblem("kind", f"kind must be one of {', '.join(k.value for k in t.Kind)}",
                                     "unknown_target_kind"))
        kind = None
    measure: t.Measure | None = None
    raw_measure = str(data.get("measure") or "").strip()
    if kind is not None:
        allowed = t.MEASURES_OF_KIND[kind]
        try:
            measure = t.Measure(raw_measure) if raw_measure else allowed[0]
        except ValueError:
            problems.append(FieldProblem("measure", f"measure must be one of {', '.join(m.value for m in t.Measure)}",
                                         "unknown_measure"))
        if measure is not None and measure not in allowed:
            problems.append(FieldProblem("measure", f"a {kind.value} target measures "
                                                    f"{' or '.join(m.value for m in allowed)}",
                                         "measure_not_for_kind"))
            measure = None
    try:
        control = t.Control(str(data.get("control") or "monitor").strip())
    except ValueError:
        problems.append(FieldProblem("control", "control is refuse, escalate or monitor", "unknown_control"))
        control = t.Control.MONITOR
    numerator = _clean_filters(data.get("numerator"), "numerator", problems)
    denominator = _clean_filters(data.get("denominator"), "denominator", problems)
    threshold = _parse_threshold(kind, data.get("threshold"), problems) if kind is not None else None
    base = _parse_base(measure, data.get("base_value"), problems) if measure is not None else None
    if kind is not None and measure is not None and threshold is not None:
        _check(kind, measure, threshold, base, control, denominator, problems)
    if problems:
        raise ValidationError.collect(problems)
    assert kind is not None and measure is not None and threshold is not None
    return {"code": code, "name": name, "kind": kind.value, "measure": measure.value, "numerator": numerator,
            "denominator": denominator, "threshold": threshold, "base_value": base, "control": control.value}


# --- use cases -------------------------------------------------------------------------------------------------

def _plan(plan_id: int, *, for_change: bool = False) -> Plan:
    try:
        plan = (Plan.objects.select_for_update() if for_change else Plan.objects).get(pk=plan_id)
    except (Plan.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")
    if for_change and plan.status == "closed":
        raise Conflict("the plan is closed: its targets cannot change", code="plan_closed")
    return plan


def _target_for_change(target_id: int) -> Target:
    try:
        row = Target.objects.get(pk=target_id)
    except (Target.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"target {target_id} not found", code="target_not_found")
    row.plan = _plan(row.plan_id, for_change=True)  # locked: the plan's targets change one use case at a time
    return row


def _bump(plan: Plan) -> None:
    """The plan's targets changed: every process re-reads its ratio caps on its next reservation. The new version
    is a random stamp, not the old one + 1: a plan id can come back (a rolled-back test database, a restored
    backup), and a process's cache must not take another plan's caps at the same count of changes for these.
    (The plan row is locked by the caller.) 0 is left to plans whose targets never changed: they have none."""
    stamp = secrets.randbelow(2**31 - 2) + 1
    while stamp == plan.targets_version:
        stamp = secrets.randbelow(2**31 - 2) + 1
    Plan.objects.filter(pk=plan.pk).update(targets_version=stamp)
    plan.targets_version = stamp


def _event(row: Target) -> dict[str, Any]:
    return {"plan": row.plan.code, "code": row.code, "name": row.name, "template": row.template, "kind": row.kind,
            "measure": row.measure, "numerator": row.numerator, "denominator": row.denominator,
            "threshold": row.threshold, "base_value": row.base_value, "control": row.control}


@transaction.atomic
def add_target(actor: Actor, plan_id: int, *, code: str, name: str, kind: str, threshold: Any, measure: str = "",
               numerator: Sequence[Mapping[str, str]] | None = None,
               denominator: Sequence[Mapping[str, str]] | None = None, base_value: Any = None,
               control: str = "monitor") -> TargetView:
    """A minimum target or a ratio limit for a plan. `threshold` in its kind's unit: yuan for min_amount, a count
    for min_borrowers, a percentage (22.5 = 22.5 %) for growth rates, shares and the growth margin."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan(plan_id, for_change=True)
    fields = _clean({"code": code, "name": name, "kind": kind, "measure": measure, "numerator": numerator,
                     "denominator": denominator, "threshold": threshold, "base_value": base_value,
                     "control": control})
    if Target.objects.filter(plan=plan, code=fields["code"]).exists():
        raise Conflict(f"the plan already has a target {fields['code']}", field="code", code="duplicate_target")
    row = Target.objects.create(plan=plan, **fields)
    _bump(plan)
    ledger.append(actor, "plan.target_added", "target", f"{plan.code}/{row.code}", _event(row))
    return _view(row)


@transaction.atomic
def update_target(actor: Actor, target_id: int, **changes: Any) -> TargetView:
    """Change a target (its code stays). Fields not given keep their value — except the threshold when the kind
    changes, and the base when the measure changes: their unit may change with it, so they are given again."""
    require(actor, Perm.PLAN_MANAGE)
    unknown = [k for k in changes if k not in _UPDATABLE]
    if unknown:
        raise ValidationError.collect([FieldProblem(k, f"{k} cannot be changed (a target's {', '.join(_UPDATABLE)} "
                                                       "can)", "not_updatable") for k in unknown])
    row = _target_for_change(target_id)
    current = {"code": row.code, "name": row.name, "kind": row.kind, "measure": row.measure,
               "numerator": row.numerator, "denominator": row.denominator, "control": row.control,
               "threshold": threshold_text(row.kind, row.threshold), "base_value": base_text(row.measure,
                                                                                             row.base_value)}
    merged = {**current, **{k: v for k, v in changes.items() if v is not None or k == "base_value"}}
    if merged["kind"] != row.kind and "threshold" not in changes:
        merged["threshold"] = None
    if merged["measure"] != row.measure and "base_value" not in changes:
        merged["base_value"] = None
    fields = _clean(merged)
    before = _event(row)
    for key, value in fields.items():
        setattr(row, key, value)
    if _event(row) == before:
        return _view(row)
    row.save()
    _bump(row.plan)
    ledger.append(actor, "plan.target_updated", "target", f"{row.plan.code}/{row.code}",
                  {"before": before, "after": _event(row)})
    return _view(row)


@transaction.atomic
def remove_target(actor: Actor, target_id: int, *, plan_id: int | None = None) -> None:
    """Remove a target (`plan_id`: the plan the caller means; a target of another plan is not found)."""
    require(actor, Perm.PLAN_MANAGE)
    row = _target_for_change(target_id)
    if plan_id is not None and row.plan_id != plan_id:
        raise NotFound(f"target {target_id} not found", code="target_not_found")
    data = _event(row)
    plan = row.plan
    row.delete()
    _bump(plan)
    ledger.append(actor, "plan.target_removed", "target", f"{plan.code}/{data['code']}", data)


def list_targets(actor: Actor, plan_id: int) -> list[TargetView]:
    require(actor, Perm.PLAN_VIEW)
    plan = _plan(plan_id)
    return [_view(r) for r in Target.objects.filter(plan=plan)]


@transaction.atomic
def apply_template(actor: Actor, plan_id: int, template: str, params: Mapping[str, Any] | None = None
                   ) -> list[TargetView]:
    """Create the targets of a shipped template (plans.domain.targets.TEMPLATES) with the parameters given. The
    普惠小微 borrower target's base, when not given, is the count of borrowers in the segment now."""
    require(actor, Perm.PLAN_MANAGE)
    plan = _plan(plan_id, for_change=True)
    drafts = t.build_template(str(template or "").strip(), dict(params or {}))
    problems: list[FieldProblem] = []
    cleaned = []
    for d in drafts:
        filter_problems: list[FieldProblem] = []
        numerator = _clean_filters(d.numerator, d.numerator_param or "numerator", filter_problems)
        denominator = _clean_filters(d.denominator, d.denominator_param or "denominator", filter_problems)
        problems += [p for p in filter_problems if p not in problems]
        threshold, base = d.threshold, d.base_value
        if d.base_from_book and not filter_problems:
            book = book_source()
            threshold = base = book.borrowers(numerator) if book is not None else 0
        _check(d.kind, d.measure, threshold, base, d.control, denominator, problems)
        cleaned.append({"code": d.code, "name": d.name, "template": template, "kind": d.kind.value,
                        "measure": d.measure.value, "numerator": numerator, "denominator": denominator,
                        "threshold": threshold, "base_value": base, "control": d.control.value})
    if problems:
        raise ValidationError.collect(problems)
    taken = set(Target.objects.filter(plan=plan, code__in=[c["code"] for c in cleaned])
                .values_list("code", flat=True))
    if taken:
        raise Conflict(f"the {template} template is already applied to this plan (target "
                       f"{', '.join(sorted(taken))} exists): remove its targets first", field="template",
                       code="template_applied")
    rows = [Target.objects.create(plan=plan, **c) for c in cleaned]
    _bump(plan)
    ledger.append(actor, "plan.template_applied", "plan", plan.code,
                  {"template": template, "targets": [_event(r) for r in rows]})
    return [_view(r) for r in rows]


# --- evaluation ------------------------------------------------------------------------------------------------

def _cells(plan: Plan) -> list[t.CellFigures]:
    rows = BookCell.objects.filter(plan=plan).values_list(
        "branch__code", "product", "industry", "region", "segment", "opening_minor", "outstanding_minor",
        "new_lending_minor")
    return [t.CellFigures(*r) for r in rows]


def _pending(plan: Plan) -> list[t.CellFigures]:
    """Approvals not yet paid out, by cell (their amount as both balance and new lending to come)."""
    rows = (Reservation.objects.filter(plan=plan, status__in=_OPEN).order_by()
            .values_list("branch__code", "product", "industry", "region", "segment").annotate(s=Sum("amount_minor")))
    return [t.CellFigures(b, p, i, r, s, 0, amount, amount) for b, p, i, r, s, amount in rows]


def _measured(book: t.BookFigures, measure: t.Measure) -> int:
    return book.new_lending if measure is t.Measure.NEW_LENDING else book.balance


def evaluate_targets(actor: Actor, plan_id: int, today: dt.date | None = None) -> list[TargetStatus]:
    """Every target of the plan with its value now, its goal, status and pace (the dashboard, the API)."""
    require(actor, Perm.PLAN_VIEW)
    plan = _plan(plan_id)
    rows = list(Target.objects.filter(plan=plan))
    if not rows:
        return []
    elapsed = domain.elapsed_share(plan.period_start, plan.period_end, today or timezone.localdate())
    cells = _cells(plan)
    pending: list[t.CellFigures] | None = None
    book = book_source()
    out = []
    for row in rows:
        kind, measure = t.Kind(row.kind), t.Measure(row.measure)
        borrowers = book.borrowers(row.numerator) if measure is t.Measure.BORROWERS and book is not None else None
        num = t.figure(measure, t.sum_cells(cells, row.numerator), borrowers=borrowers, base_value=row.base_value)
        den = t.figure(measure, t.sum_cells(cells, row.denominator)) if kind in t.RATIO_KINDS else None
        evaluation = t.evaluate(t.Spec(kind, measure, row.threshold, t.Control(row.control)), num, den, elapsed)
        status = TargetStatus(_view(row), evaluation)
        if kind is t.Kind.MAX_SHARE and den is not None:
            pending = _pending(plan) if pending is None else pending
            n = (num.now or 0) + _measured(t.sum_cells(pending, row.numerator), measure)
            d = (den.now or 0) + _measured(t.sum_cells(pending, row.denominator), measure)
            status = TargetStatus(status.target, evaluation, t.share_bp(n, d), t.cap_headroom(row.threshold, n, d))
        out.append(status)
    return out


# --- the ratio caps in the reservation -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Cap:
    code: str
    name: str
    measure: str
    numerator: tuple[dict[str, str], ...]
    denominator: tuple[dict[str, str], ...]
    threshold: int
    control: str


_CAPS: dict[int, tuple[int, tuple[_Cap, ...]]] = {}  # plan id → (targets_version, its ratio caps)


def _plan_caps(plan: Plan) -> tuple[_Cap, ...]:
    """The plan's ratio caps, from this process's cache while the plan's targets_version (read by the
    reservation's own statement) is the one they were read at; else one statement reads them with the version."""
    hit = _CAPS.get(plan.pk)
    if hit is not None and hit[0] == plan.targets_version:
        return hit[1]
    rows = list(Plan.objects.filter(pk=plan.pk)
                .annotate(cap=FilteredRelation("targets", condition=Q(targets__kind=t.Kind.MAX_SHARE.value)))
                .values_list("targets_version", "cap__code", "cap__name", "cap__measure", "cap__numerator",
                             "cap__denominator", "cap__threshold", "cap__control").order_by("cap__id"))
    if not rows:
        return ()
    caps = tuple(_Cap(code, name, measure, tuple(num or ()), tuple(den or ()), threshold, control)
                 for _v, code, name, measure, num, den, threshold, control in rows if code is not None)
    _CAPS[plan.pk] = (rows[0][0], caps)
    return caps


def _cap_figures(plan_id: int, caps: list[_Cap]) -> list[tuple[int, int]]:
    """(numerator, denominator) of each cap: the book's figure plus the approvals not yet paid out — one
    statement (plans.sql.ratio_cap_sums), each distinct selection summed once (a whole-book denominator shared by
    two caps…); taken only for a loan inside a cap's numerator."""
    keys: list[tuple[str, list[dict[str, str]]]] = []
    index: dict[str, int] = {}
    pairs = []
    for cap in caps:
        column = "new_lending_minor" if cap.measure == t.Measure.NEW_LENDING else "outstanding_minor"
        pair = []
        for filters in (cap.numerator, cap.denominator):
            key = repr((column, filters))
            if key not in index:
                index[key] = len(keys)
                keys.append((column, list(filters)))
            pair.append(index[key])
        pairs.append(pair)
    sums = sql.ratio_cap_sums(plan_id, keys)
    return [(sums[n], sums[d]) for n, d in pairs]


def check_ratio_caps(plan: Plan, dims: Mapping[str, Any], amount: int, outcome: Outcome, reasons: list[str]
                     ) -> Outcome:
    """The plan's ratio caps against a reservation of `amount` (fen) for a loan with these dimensions (as
    clean_dimensions gives them), after the quota checks: a cap with control refuse raises LimitExceeded
    (ratio_cap_exceeded, the share before and after and the cap in the message), escalate returns ESCALATED,
    monitor keeps the outcome; a breach's words are added to `reasons` (the reservation's reason)."""
    caps = _plan_caps(plan)
    if not caps:
        return outcome
    branch = dims.get("branch")
    cell = {"branch": getattr(branch, "code", "") or "", "product": dims.get("product") or "",
            "industry": dims.get("industry") or "", "region": dims.get("region") or "",
            "segment": dims.get("segment") or ""}
    hits = [c for c in caps if t.matches(c.numerator, cell)]
    if not hits:
        return outcome
    for cap, (num, den) in zip(hits, _cap_figures(plan.pk, hits), strict=True):
        in_den = t.matches(cap.denominator, cell)
        check = t.check_cap(cap.threshold, num, den, amount, in_numerator=True, in_denominator=in_den)
        if not check.breached:
            continue
        room = t.cap_headroom(cap.threshold, num, den, in_denominator=in_den) or 0
        before = f"{t.percent(check.before)} %" if check.before is not None else "no loans"
        message = (f"ratio cap {cap.code} ({cap.name}): the share would be {t.percent(check.after)} % after this "
                   f"reservation ({before} before), above the cap of {t.percent(cap.threshold)} %; at most "
                   f"{format_minor(room)} fits under it")
        if cap.control == t.Control.REFUSE:
            raise LimitExceeded(message, code="ratio_cap_exceeded", field="amount", extra={
                "target": cap.code, "share_before": t.percent(check.before) or None,
                "share_after": t.percent(check.after), "cap": t.percent(cap.threshold),
                "room": format_minor(room, grouping=False)})
        if cap.control == t.Control.ESCALATE:
            outcome = Outcome.ESCALATED
        reasons.append(f"ratio cap {cap.code}: {t.percent(check.after)} % after this reservation, above the cap of "
                       f"{t.percent(cap.threshold)} % ({before} before)")  # the reason keeps 300 characters
    return outcome


def status_texts(s: TargetStatus) -> dict[str, Any]:
    """A target's standing as the API writes it: amounts in yuan ("1000000.00"), rates and shares as percentages
    with two decimals ("22.50"), counts as integers, pace with two decimals; None where not measured."""
    e, v = s.evaluation, s.target

    def unit(u: str, value: Any) -> str | None:
        if value is None:
            return None
        if u == "fen":
            return format_minor(int(value), grouping=False)
        return t.percent(value) if u == "bp" else str(int(value))

    figure_unit = "count" if v.measure == t.Measure.BORROWERS else "fen"
    den = e.denominator
    return {
        "status": e.status.value, "unit": e.unit, "value": unit(e.unit, e.value), "goal": unit(e.unit, e.goal),
        "progress_pct": t.percent(e.progress * t.BP) if e.progress is not None else None,
        "pace": t.percent(e.pace * 100) if e.pace is not None else None,
        "elapsed_pct": t.percent(e.elapsed * t.BP),
        "numerator_now": unit(figure_unit, e.numerator.now), "numerator_base": unit(figure_unit, e.numerator.base),
        "denominator_now": unit(figure_unit, den.now) if den is not None else None,
        "denominator_base": unit(figure_unit, den.base) if den is not None else None,
        "reference_pct": unit("bp", e.reference), "share_with_reserved_pct": unit("bp", s.share_with_reserved),
        "headroom": unit("fen", s.headroom),
    }
