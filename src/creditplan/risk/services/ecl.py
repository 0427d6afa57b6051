"""Expected credit loss (IFRS 9 / CAS 22) over the book: the month-end run, its parameters, the general-ledger
posting and its reconciliation (issue 17, item 6; docs/ecl.md).

`run_ecl(D)` reads the kept snapshot of D and, for every loan on the book:
- stages it (risk.domain.ecl: 30+ / 90+ days past due, the five-category class, the watch list, a PD tripled since
  origination) and applies the cure rule, continuing the stages and cure counters of the latest run of an earlier
  month;
- takes its 12-month PD now from the behaviour re-rating of its customer (risk.services.behaviour), else the PD of
  the decision that approved it, else the observed 12-month default rate of its delinquency state, else the
  documented fallback table; its PD at origination from that decision;
- builds its PD term structure from the observed monthly transition matrix between month-end snapshots, rescaled to
  its own 12-month PD (the flat curve when the history is too short);
- takes LGD and CCF from the table per product (collateral noted), the exposure schedule from its terms, the
  contractual rate as the effective interest rate;
- weighs the scenarios (base / upside / downside) — and stores each loan's stage, 12-month, lifetime and booked
  allowance (fen), then (at a month end) posts the change of the allowance per branch to the general ledger through
  loans.accounting, so that the allowance account equals the sum of the loan-level figures (`reconcile_allowance`).

The computation is a column kernel (`risk.domain.ecl.ecl_kernel`), run here in batches or on Spark through the batch
engines: each loan's figures depend on its own row only, so both give the same fen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from numpy.typing import NDArray

import creditplan.risk.services.behaviour as behaviour
from creditplan.batch import engines
from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, FieldProblem, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import accounting
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.risk import sql
from creditplan.risk.domain.ecl import (
    DEFAULT_STATE,
    FALLBACK_PD12,
    KERNEL_INPUTS,
    KERNEL_OUTPUTS,
    METHOD_BALLOON,
    METHOD_CODES,
    MIN_OBSERVATIONS,
    EclError,
    EclSetup,
    ObservedMatrix,
    Scenario,
    StagingRules,
    check_scenarios,
    ecl_kernel,
    observed_matrix,
    state_curves,
    state_of,
)
from creditplan.risk.models import EclRun, EclScenario, LoanEcl, LossParameter, Snapshot, WatchEntry
from creditplan.risk.services.allowance import lookup, reads_whole_book

MAX_HORIZON = 480
"""Months of PD curve kept (40 years: longer than any loan the products allow)."""

COLLATERAL_TYPES = ("none", "property", "vehicle", "deposit", "guarantee")
"""What a product's loans are secured by: `property` is what a property-price stress moves (risk.domain.stress)."""

DEFAULT_LOSS_PARAMETERS: tuple[tuple[str, str, str, str], ...] = (
    ("*", "none", "0.45", "0.75"),
    ("mortgage", "property", "0.20", "1"),
    ("business", "guarantee", "0.40", "0.75"),
)
"""Installed when the table is empty: (product, collateral, LGD, CCF). 45 % unsecured and 75 % CCF are the Basel
foundation-IRB values (CBIRC 2023 capital rules alike); 20 % for a residential mortgage; 40 % guaranteed business."""

DEFAULT_SCENARIOS: tuple[tuple[str, str, str, str], ...] = (
    ("base", "0.6", "1", "1"),
    ("upside", "0.2", "0.8", "0.95"),
    ("downside", "0.2", "1.5", "1.15"),
)
"""Installed when none is set: (name, weight, PD multiplier, LGD multiplier)."""


# --- parameters ----------------------------------------------------------------------------------------------------

def _number(value: Any, field_name: str, *, upper: Decimal | None = None) -> Decimal:
    """A decimal parameter (text, int or Decimal — never a float: it would carry its binary error into the text
    kept), 0 or more and at most `upper`, refused naming the field."""
    if isinstance(value, (bool, float)):
        raise ValidationError(f"{field_name} is written as a decimal number such as 0.45", field=field_name,
                              code="number_format")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{field_name} is not a number: {value!r}", field=field_name,
                              code="number_format") from None
    if not number.is_finite():
        raise ValidationError(f"{field_name} must be a finite number", field=field_name, code="number_format")
    if number < 0:
        raise ValidationError(f"{field_name} cannot be negative", field=field_name, code="negative_number")
    if upper is not None and number > upper:
        raise ValidationError(f"{field_name} is a share from 0 to {upper}", field=field_name, code="share_out_of_range")
    return number


@dataclass(frozen=True)
class LossParameterView:
    product: str
    collateral: str
    lgd: str
    ccf: str


def install_defaults(actor: Actor | None = None) -> int:
    """The LGD/CCF table and the scenarios, where none is set yet (idempotent). Returns rows added."""
    added = 0
    with transaction.atomic():
        if not LossParameter.objects.exists():
            for product, collateral, lgd, ccf in DEFAULT_LOSS_PARAMETERS:
                LossParameter.objects.create(product=product, collateral=collateral, lgd=lgd, ccf=ccf)
                added += 1
        if not EclScenario.objects.exists():
            for k, (name, weight, pd_m, lgd_m) in enumerate(DEFAULT_SCENARIOS):
                EclScenario.objects.create(name=name, weight=weight, pd_multiplier=pd_m, lgd_multiplier=lgd_m,
                                           sort_order=k)
                added += 1
        if added:
            ledger.append(actor, "risk.ecl_parameters_installed", "risk", "ecl", {"rows": added})
    return added


def set_loss_parameter(actor: Actor | None, *, product: str, lgd: Any, ccf: Any = "1", collateral: str = "none"
                       ) -> LossParameterView:
    """Set a product's LGD and CCF (shares 0–1) and the collateral its loans carry; "*" for every other product."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    problems: list[FieldProblem] = []
    code = str(product or "").strip()
    if not code or len(code) > 30:
        problems.append(FieldProblem("product", "a product code (or * for every other product) is required",
                                     "required"))
    if collateral not in COLLATERAL_TYPES:
        problems.append(FieldProblem("collateral", f"collateral is one of {', '.join(COLLATERAL_TYPES)}",
                                     "unknown_collateral"))
    values: dict[str, Decimal] = {}
    for name, value in (("lgd", lgd), ("ccf", ccf)):
        try:
            values[name] = _number(value, name, upper=Decimal(1))
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        raise ValidationError.collect(problems)
    with transaction.atomic():
        row, _ = LossParameter.objects.update_or_create(product=code, defaults={
            "collateral": collateral, "lgd": str(values["lgd"]), "ccf": str(values["ccf"]),
            "updated_by": actor if actor is not None else None})
        ledger.append(actor, "risk.loss_parameter_set", "risk", code, {
            "product": code, "collateral": collateral, "lgd": row.lgd, "ccf": row.ccf})
    return LossParameterView(row.product, row.collateral, row.lgd, row.ccf)


def loss_parameters() -> list[LossParameterView]:
    return [LossParameterView(r.product, r.collateral, r.lgd, r.ccf) for r in LossParameter.objects.all()]


def set_scenarios(actor: Actor | None, rows: Iterable[Mapping[str, Any]]) -> tuple[Scenario, ...]:
    """Replace the provision's scenarios: each {name, weight, pd_multiplier, lgd_multiplier} (decimal text, 0 or
    more); the weights must add up to 1. A refusal names the field (`scenarios.downside.pd_multiplier`)."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    parsed: list[tuple[str, Decimal, Decimal, Decimal]] = []
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for row in rows:
        name = str(row.get("name") or "").strip()
        if not name or name in seen or len(name) > 30:
            problems.append(FieldProblem("scenarios", "each scenario needs its own name", "scenario_name"))
            continue
        seen.add(name)
        numbers = []
        for attr, default in (("weight", None), ("pd_multiplier", "1"), ("lgd_multiplier", "1")):
            value = row.get(attr, default)
            try:
                numbers.append(_number(value, f"scenarios.{name}.{attr}"))
            except ValidationError as exc:
                problems += exc.problems
        if len(numbers) == 3:
            parsed.append((name, numbers[0], numbers[1], numbers[2]))
    if not problems:
        if not parsed:
            problems.append(FieldProblem("scenarios", "at least one scenario is needed", "no_scenario"))
        elif sum(p[1] for p in parsed) != Decimal(1):
            problems.append(FieldProblem("scenarios", f"the scenarios' weights add up to "
                                         f"{sum(p[1] for p in parsed)}, not 1", "weights_not_one"))
    if problems:
        raise ValidationError.collect(problems)
    with transaction.atomic():
        EclScenario.objects.all().delete()
        for k, (name, weight, pd_m, lgd_m) in enumerate(parsed):
            EclScenario.objects.create(name=name, weight=str(weight), pd_multiplier=str(pd_m),
                                       lgd_multiplier=str(lgd_m), sort_order=k, updated_by=actor)
        ledger.append(actor, "risk.ecl_scenarios_set", "risk", "ecl", {
            "scenarios": [{"name": n, "weight": str(w), "pd_multiplier": str(p), "lgd_multiplier": str(lg)}
                          for n, w, p, lg in parsed]})
    return scenarios()


def scenarios() -> tuple[Scenario, ...]:
    rows = list(EclScenario.objects.all())
    if not rows:
        return tuple(Scenario(n, float(w), float(p), float(lg)) for n, w, p, lg in DEFAULT_SCENARIOS)
    return tuple(Scenario(r.name, float(r.weight), float(r.pd_multiplier), float(r.lgd_multiplier)) for r in rows)


def _loss_table() -> dict[str, tuple[str, float, float]]:
    rows = {r.product: (r.collateral, float(r.lgd), float(r.ccf)) for r in LossParameter.objects.all()}
    if not rows:
        rows = {p: (c, float(lg), float(cf)) for p, c, lg, cf in DEFAULT_LOSS_PARAMETERS}
    if "*" not in rows:
        p, c, lg, cf = DEFAULT_LOSS_PARAMETERS[0]
        rows["*"] = (c, float(lg), float(cf))
    return rows


# --- hooks: the watch list and revolving lines -------------------------------------------------------------------

WatchList = Callable[[dt.date], Iterable[int]]
"""fn(as_of) → the ids of the customers on the watch list on that date (the early-warning engineer's)."""
Undrawn = Callable[[dt.date], Mapping[int, int]]
"""fn(as_of) → {loan id: undrawn commitment in fen} for revolving lines (CCF × undrawn joins the exposure)."""
_watch_lists: list[WatchList] = []
_undrawn: list[Undrawn] = []


def register_watch_list(fn: WatchList) -> None:
    """Called from a higher app's AppConfig.ready() (or early warning's): its customers go to stage 2."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    _watch_lists[:] = [f for f in _watch_lists if f"{f.__module__}.{f.__qualname__}" != key] + [fn]


def register_undrawn(fn: Undrawn) -> None:
    """A source of undrawn commitments per loan (credit lines): EAD = drawn schedule + CCF × undrawn."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    _undrawn[:] = [f for f in _undrawn if f"{f.__module__}.{f.__qualname__}" != key] + [fn]


def _watch(day: dt.date, customers: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Customers on the watch list on `day`: early warning's entries (entered on or before it and not left by it)
    and whatever a registered hook lists."""
    listed: set[int] = set(
        WatchEntry.objects.filter(entered_on__lte=day).filter(Q(left_on__isnull=True) | Q(left_on__gt=day))
        .values_list("customer_id", flat=True))
    for fn in _watch_lists:
        listed.update(int(c) for c in fn(day))
    if not listed:
        return np.zeros(customers.size, dtype=bool)
    return np.isin(customers, np.fromiter(listed, dtype=np.int64, count=len(listed)))


def _undrawn_of(day: dt.date, ids: NDArray[np.int64]) -> NDArray[np.float64]:
    out = np.zeros(ids.size, dtype=np.float64)
    for fn in _undrawn:
        amounts = fn(day)
        if amounts:
            keys = np.fromiter(amounts.keys(), dtype=np.int64, count=len(amounts))
            vals = np.fromiter(amounts.values(), dtype=np.float64, count=len(amounts))
            out += lookup(keys, vals, ids, 0.0)
    return out


# --- preparing the inputs -----------------------------------------------------------------------------------------



def _map(values: NDArray[Any], mapping: Mapping[Any, Any], default: Any, dtype: Any) -> NDArray[Any]:
    """mapping[value] for each value (`default` where absent), looked up once per distinct value."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    table = np.array([mapping.get(u, default) for u in np.asarray(uniques, dtype=object).tolist()], dtype=dtype)
    return np.asarray(table[codes] if table.size else np.zeros(0, dtype=dtype), dtype=dtype)


@dataclass
class Prepared:
    """What a run computes over: the kernel's input columns (one row per loan), the shared setup, the identifying
    columns kept beside them, and how each input was found."""

    as_of: dt.date
    snapshot: Snapshot
    inputs: dict[str, NDArray[Any]]
    ids: dict[str, NDArray[Any]]
    setup: EclSetup
    matrix: ObservedMatrix | None
    pd_sources: dict[str, int]
    previous: dt.date | None
    parameters: dict[str, Any]
    extra: dict[str, NDArray[Any]] = field(default_factory=dict)


_BOOK = ["loan", "customer", "branch", "product", "currency", "industry", "dpd", "bucket", "risk_class",
         "outstanding", "overdue_principal", "principal", "first_due", "written_off", "closed"]


def _snapshot_of(day: dt.date) -> Snapshot:
    snap = Snapshot.objects.filter(as_of=day).first()
    if snap is not None:
        return snap
    from creditplan.risk.services.run import take_snapshot

    return take_snapshot(day)


def observed_transitions(day: dt.date) -> ObservedMatrix | None:
    """The monthly transition matrix of the book over the last twelve month ends up to `day` (None with fewer than
    two observations): each loan on the book at one month end, in its state then and at the next (repaid: current;
    written off: default)."""
    end = behaviour.month_end(day)
    observed: list[Snapshot] = []
    latest = Snapshot.objects.filter(as_of=day).first()
    if latest is not None:
        observed.append(latest)
    for j in range(0 if latest is None else 1, 13):
        snap = behaviour.month_snapshot(behaviour.months_back(end, j)) if j else behaviour.month_snapshot(end)
        if snap is not None and snap.as_of <= day and all(s.as_of != snap.as_of for s in observed):
            observed.append(snap)
    observed.sort(key=lambda s: s.as_of)
    if len(observed) < 2:
        return None
    cols = ["loan", "bucket", "written_off", "closed", "outstanding"]
    tables = [behaviour.read_snapshot(s, cols) for s in observed]
    pairs = []
    for before, after in zip(tables, tables[1:], strict=False):
        on_book = behaviour.active(before)
        ids = np.asarray(before["loan"], dtype=np.int64)[on_book]
        start = state_of(np.asarray(before["bucket"])[on_book])
        after_ids = np.asarray(after["loan"], dtype=np.int64)
        end_state = state_of(np.asarray(after["bucket"]), np.asarray(after["written_off"]).astype(bool))
        end_state = np.where(np.asarray(after["closed"]).astype(bool), 0, end_state)
        found = lookup(after_ids, end_state, ids, -1)  # −1: the loan left the snapshots in between
        present = found >= 0
        pairs.append((start[present], found[present]))
    return observed_matrix(pairs, int(getattr(settings, "RISK_ECL_MIN_TRANSITIONS", MIN_OBSERVATIONS)))


def prepare(day: dt.date) -> Prepared:
    """The inputs of the ECL of `day` from its snapshot, the loan terms, the ratings and the last run's stages."""
    snap = _snapshot_of(day)
    book = behaviour.read_snapshot(snap, _BOOK)
    keep = behaviour.active(book)
    b = {k: np.asarray(v)[keep] for k, v in book.items()}
    ids = b["loan"].astype(np.int64)
    customers = np.asarray(b["customer"]).astype(np.int64)
    n = ids.size
    terms = sql.read_terms(day)
    t_ids = terms["loan"].astype(np.int64)
    missing = int((lookup(t_ids, np.ones(t_ids.size, dtype=np.int64), ids, 0) == 0).sum())
    if missing:
        raise Conflict(f"{missing} loans of the snapshot of {day} are not in the loan book", code="book_mismatch")

    def term(name: str, default: Any) -> NDArray[Any]:
        return lookup(t_ids, terms[name], ids, default)

    # PD at origination and PD now
    pd_origination = term("pd_origination", np.nan).astype(np.float64)
    month, rated, rated_pd = behaviour.customer_pd(day)
    pd_behaviour = lookup(rated, rated_pd, customers, np.nan).astype(np.float64)
    matrix = observed_transitions(day)
    state = state_of(b["bucket"])
    curves = state_curves(matrix, MAX_HORIZON)
    state_pd = np.where(np.isnan(curves[:, 11]), np.asarray(FALLBACK_PD12), curves[:, 11])
    matrix_pd = state_pd[state]
    pd12 = np.where(~np.isnan(pd_behaviour), pd_behaviour,
                    np.where(~np.isnan(pd_origination), pd_origination, matrix_pd))
    has_matrix_row = ~np.isnan(curves[:, 11])[state]
    sources = {
        "behaviour": int((~np.isnan(pd_behaviour)).sum()),
        "origination": int((np.isnan(pd_behaviour) & ~np.isnan(pd_origination)).sum()),
        "matrix": int((np.isnan(pd_behaviour) & np.isnan(pd_origination) & has_matrix_row).sum()),
        "fallback": int((np.isnan(pd_behaviour) & np.isnan(pd_origination) & ~has_matrix_row).sum()),
    }
    # the stages of the latest run of an earlier month: the cure rule counts months
    first_of_month = day.replace(day=1)
    prev_run = EclRun.objects.filter(as_of__lt=first_of_month).order_by("-as_of").first()
    prev_stage = np.zeros(n, dtype=np.int64)
    prev_cured = np.zeros(n, dtype=np.int64)
    if prev_run is not None:
        rows = sql.read_rows(LoanEcl, ["loan_id", "stage", "cured"], "as_of", prev_run.as_of, order="loan_id")
        prev_stage = lookup(rows["loan_id"], rows["stage"], ids, 0).astype(np.int64)
        prev_cured = lookup(rows["loan_id"], rows["cured"], ids, 0).astype(np.int64)
    # LGD and CCF per product
    table = _loss_table()
    products = np.asarray(b["product"], dtype=object)
    chosen = {p: table.get(p, table["*"]) for p in pd.unique(products).tolist()}
    lgd = _map(products, {p: v[1] for p, v in chosen.items()}, table["*"][1], np.float64)
    ccf = _map(products, {p: v[2] for p, v in chosen.items()}, table["*"][2], np.float64)
    collateral = _map(products, {p: v[0] for p, v in chosen.items()}, table["*"][0], object)
    method = _map(term("method", ""), METHOD_CODES, METHOD_BALLOON, np.int64)
    outstanding = b["outstanding"].astype(np.int64)
    overdue = np.minimum(b["overdue_principal"].astype(np.int64), outstanding)
    inputs: dict[str, NDArray[Any]] = {
        "dpd": b["dpd"].astype(np.int64), "risk_class": b["risk_class"].astype(np.int64),
        "watch": _watch(day, customers), "pd12": np.clip(pd12, 0.0, 1.0).astype(np.float64),
        "pd_origination": pd_origination, "pd_multiplier": np.ones(n, dtype=np.float64),
        "prev_stage": prev_stage, "prev_cured": prev_cured, "state": state.astype(np.int64), "lgd": lgd,
        "undrawn_ead": ccf * _undrawn_of(day, ids), "scheduled": outstanding - overdue, "overdue": overdue,
        "first_due": b["first_due"].astype(np.int64), "maturity": term("maturity", -1).astype(np.int64),
        "months_per_period": np.maximum(term("months_per_period", 1).astype(np.int64), 1),
        "method": method, "eir": term("rate_ppm", 0).astype(np.float64) / 1_000_000.0,
    }
    scen = scenarios()
    setup = EclSetup(as_of=day.toordinal(), curves=curves, scenarios=scen, rules=StagingRules())
    keep_ids = {"loan": ids, "customer": customers, "branch": np.asarray(b["branch"], dtype=object),
                "product": products, "currency": np.asarray(b["currency"], dtype=object),
                "outstanding": outstanding}
    extra = {"segment": np.full(n, "", dtype=object), "industry": np.asarray(b["industry"], dtype=object),
             "collateral": collateral}  # segments: read by a stress test only (`with_segments`)
    lines = _line_rows(day, inputs, keep_ids, extra, table, (rated, rated_pd), state_pd, prev_run)
    if lines is not None:
        for target, extra_rows in zip((inputs, keep_ids, extra), lines, strict=True):
            for name in target:
                target[name] = np.concatenate([np.asarray(target[name]), np.asarray(extra_rows[name])])
        chosen[LINE_PRODUCT] = table.get(LINE_PRODUCT, table["*"])
    parameters = {"loss": {p: {"collateral": c, "lgd": str(lg), "ccf": str(cf)} for p, (c, lg, cf) in chosen.items()},
                  "behaviour_month": month.isoformat() if month else None,
                  "lines": 0 if lines is None else int(lines[1]["loan"].size)}
    return Prepared(day, snap, inputs, keep_ids, setup, matrix, sources,
                    prev_run.as_of if prev_run is not None else None, parameters, extra)


def with_segments(prepared: Prepared) -> Prepared:
    """The prepared book with each loan's segment (its customer's kind), which a stress scenario needs."""
    found = sql.read_segments(prepared.as_of)
    loans_only = prepared.ids["loan"] > 0  # credit lines carry their segment already
    segment = np.asarray(prepared.extra["segment"], dtype=object).copy()
    segment[loans_only] = lookup(found["loan"], found["segment"], prepared.ids["loan"][loans_only], "")
    prepared.extra["segment"] = segment
    return prepared


LINE_PRODUCT = "line"
"""The product code under which credit lines' undrawn commitments are provided for (their LGD/CCF row; "*" when
the table has none). Their rows carry the line's id negated as the loan id."""


def _customer_max(customers: NDArray[np.int64], values: NDArray[Any], wanted: NDArray[np.int64], empty: int
                  ) -> NDArray[np.int64]:
    """The largest value per customer (over their loans), for each wanted customer (`empty` when none)."""
    if customers.size == 0:
        return np.full(wanted.size, empty, dtype=np.int64)
    order = np.argsort(customers, kind="stable")
    c = customers[order]
    v = np.asarray(values, dtype=np.int64)[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    return lookup(c[starts], np.maximum.reduceat(v, starts), wanted, empty).astype(np.int64)


def _line_rows(day: dt.date, inputs: dict[str, NDArray[Any]], ids: dict[str, NDArray[Any]],
               extra: dict[str, NDArray[Any]], table: dict[str, tuple[str, float, float]],
               rated: tuple[NDArray[np.int64], NDArray[np.float64]], state_pd: NDArray[np.float64],
               prev_run: EclRun | None) -> tuple[dict[str, NDArray[Any]], ...] | None:
    """Rows for the undrawn part of active revolving credit lines (IFRS 9 5.5.20, loan commitments): EAD = CCF ×
    undrawn, no schedule, to the line's expiry, undiscounted (no rate is drawn yet); the customer's worst loan gives
    the DPD, class and delinquency state (none: current), the customer's behaviour rating the PD (none: the
    current state's)."""
    lines = sql.read_lines(day)
    n = int(lines["line"].size)
    if n == 0:
        return None
    customers = lines["customer"].astype(np.int64)
    loan_customers = ids["customer"].astype(np.int64)
    state = _customer_max(loan_customers, inputs["state"], customers, 0)
    pd_rated = lookup(rated[0], rated[1], customers, np.nan).astype(np.float64)
    collateral, lgd, ccf = table.get(LINE_PRODUCT, table["*"])
    line_ids = -lines["line"].astype(np.int64)
    prev_stage = np.zeros(n, dtype=np.int64)
    prev_cured = np.zeros(n, dtype=np.int64)
    if prev_run is not None:
        rows = sql.read_rows(LoanEcl, ["loan_id", "stage", "cured"], "as_of", prev_run.as_of, order="loan_id")
        prev_stage = lookup(rows["loan_id"], rows["stage"], line_ids, 0).astype(np.int64)
        prev_cured = lookup(rows["loan_id"], rows["cured"], line_ids, 0).astype(np.int64)
    expires = lines["expires"].astype(np.int64)
    line_inputs: dict[str, NDArray[Any]] = {
        "dpd": _customer_max(loan_customers, inputs["dpd"], customers, 0),
        "risk_class": _customer_max(loan_customers, inputs["risk_class"], customers, 1),
        "watch": _watch(day, customers),
        "pd12": np.clip(np.where(np.isnan(pd_rated), state_pd[state], pd_rated), 0.0, 1.0).astype(np.float64),
        "pd_origination": np.full(n, np.nan), "pd_multiplier": np.ones(n), "prev_stage": prev_stage,
        "prev_cured": prev_cured, "state": state, "lgd": np.full(n, lgd),
        "undrawn_ead": ccf * lines["undrawn"].astype(np.float64), "scheduled": np.zeros(n, dtype=np.int64),
        "overdue": np.zeros(n, dtype=np.int64), "first_due": expires, "maturity": expires,
        "months_per_period": np.ones(n, dtype=np.int64), "method": np.full(n, METHOD_BALLOON, dtype=np.int64),
        "eir": np.zeros(n, dtype=np.float64)}
    line_ids_cols: dict[str, NDArray[Any]] = {
        "loan": line_ids, "customer": customers, "branch": np.asarray(lines["branch"], dtype=object),
        "product": np.full(n, LINE_PRODUCT, dtype=object), "currency": np.asarray(lines["currency"], dtype=object),
        "outstanding": np.zeros(n, dtype=np.int64)}
    line_extra: dict[str, NDArray[Any]] = {
        "segment": np.asarray(lines["segment"], dtype=object), "industry": np.full(n, "", dtype=object),
        "collateral": np.full(n, collateral, dtype=object)}
    return line_inputs, line_ids_cols, line_extra


# --- computing (locally or on Spark) ---------------------------------------------------------------------------------

OUTPUT_SCHEMA = pa.schema([
    pa.field("stage", pa.int64()), pa.field("cured", pa.int64()), pa.field("life", pa.int64()),
    pa.field("pd12_used", pa.float64()), pa.field("ead", pa.int64()), pa.field("ecl_12m", pa.int64()),
    pa.field("ecl_lifetime", pa.int64()), pa.field("ecl", pa.int64())])


def arrow_kernel(setup: EclSetup) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """The ECL kernel as a picklable RecordBatch → RecordBatch function for the batch engines."""

    def kernel(batch: pa.RecordBatch) -> pa.RecordBatch:
        cols = {name: np.asarray(batch.column(batch.schema.get_field_index(name)).to_numpy(zero_copy_only=False))
                for name in KERNEL_INPUTS}
        out = ecl_kernel(cols, setup)
        return pa.RecordBatch.from_arrays([pa.array(np.asarray(out[f.name]).astype(f.type.to_pandas_dtype()))
                                           for f in OUTPUT_SCHEMA], schema=OUTPUT_SCHEMA)

    return kernel


def compute(prepared: Prepared, *, engine: str = "local", session: Any = None,
            overrides: Mapping[str, NDArray[Any]] | None = None) -> dict[str, NDArray[Any]]:
    """Run the kernel over the prepared book (`overrides` replace input columns: a stress scenario's PD multiplier
    and LGD). Returns `KERNEL_OUTPUTS` in the book's order."""
    if engine not in ("local", "spark"):
        raise ValidationError("the engine is local or spark", field="engine", code="unknown_engine")
    inputs = {**prepared.inputs, **(overrides or {})}
    table = pa.table({name: pa.array(np.asarray(inputs[name])) for name in KERNEL_INPUTS})
    kernel = arrow_kernel(prepared.setup)
    try:
        if engine == "spark":
            spark = session or engines.spark_session("creditplan-ecl")
            result = engines.spark_to_arrow(engines.run_spark(spark.createDataFrame(table), kernel, OUTPUT_SCHEMA))
        else:
            result = engines.run_local(table, kernel, batch_size=100_000)
    except EclError as exc:
        raise ValidationError(exc.message, code=exc.code, field=exc.field) from None
    return {name: np.asarray(result.column(name).to_numpy(zero_copy_only=False)) for name in KERNEL_OUTPUTS}


# --- the run ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EclSummary:
    as_of: dt.date
    loans: int
    stage_loans: list[int]
    stage_ecl: list[int]
    total_minor: int
    ead_minor: int
    posted: list[dict[str, Any]]
    reconciled: bool
    pd_sources: dict[str, int]
    matrix_months: int
    engine: str
    seconds: float


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("the date is written YYYY-MM-DD", field="date", code="date_format") from None


def is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def run_ecl(as_of: Any, *, actor: Actor | None = None, engine: str = "local", session: Any = None,
            post: bool | None = None, progress: Callable[[str], None] | None = None) -> EclSummary:
    """The loss allowance of every loan on the book at the close of `as_of`, stored per loan; at a month end (or
    when `post` says so) the change of the allowance is posted to the general ledger per branch. Running a date
    again replaces its figures (and posts only the difference)."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    day = _date(as_of)
    closed = loans.last_closed_date()
    if closed is None or closed < day:
        raise Conflict(f"the close of {day} has not run: the allowance is computed after the close",
                       code="close_not_run", field="date")
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    try:
        check_scenarios(scenarios())
    except EclError as exc:
        raise ValidationError(exc.message, code=exc.code, field=exc.field) from None
    say("reading the book")
    prepared = prepare(day)
    say(f"computing {prepared.ids['loan'].size} loans")
    out = compute(prepared, engine=engine, session=session)
    say("storing")
    # a date posted before is posted again (only the difference): its figures and the ledger must stay equal
    do_post = (is_month_end(day) if post is None else post) or EclRun.objects.filter(as_of=day, posted=True).exists()
    return _store(prepared, out, engine=engine, post=do_post, actor=actor, started=started)


def _stage_sums(stage: NDArray[np.int64], values: NDArray[np.int64]) -> list[int]:
    return [int(values[stage == s].sum()) for s in (1, 2, 3)]


@transaction.atomic
def _store(prepared: Prepared, out: dict[str, NDArray[Any]], *, engine: str, post: bool, actor: Actor | None,
           started: float) -> EclSummary:
    day = prepared.as_of
    ids = prepared.ids
    stage = out["stage"].astype(np.int64)
    ecl = out["ecl"].astype(np.int64)
    n = stage.size
    sql.delete_rows(LoanEcl, "as_of", day)
    sql.insert_columns(LoanEcl, {
        "as_of": np.full(n, np.datetime64(day, "D")), "loan_id": ids["loan"], "customer_id": ids["customer"],
        "branch": ids["branch"], "product": ids["product"], "currency": ids["currency"], "stage": stage,
        "cured": out["cured"].astype(np.int64), "pd12": out["pd12_used"].astype(np.float64),
        "pd_origination": prepared.inputs["pd_origination"], "lgd": prepared.inputs["lgd"],
        "ead_minor": out["ead"].astype(np.int64), "ecl_12m_minor": out["ecl_12m"].astype(np.int64),
        "ecl_lifetime_minor": out["ecl_lifetime"].astype(np.int64), "ecl_minor": ecl})
    posted: list[dict[str, Any]] = []
    if post:
        sums = pd.DataFrame({"branch": ids["branch"], "currency": ids["currency"], "ecl": ecl}).groupby(
            ["branch", "currency"])["ecl"].sum()
        totals = {(str(b), str(c)): int(v) for (b, c), v in sums.items()}
        posted = accounting.post_provision(day, totals, batch_ref=f"ecl:{day.isoformat()}")
    matrix = prepared.matrix
    seconds = time.perf_counter() - started
    run, _ = EclRun.objects.update_or_create(as_of=day, defaults={
        "engine": engine, "loans": n, "stage_loans": [int((stage == s).sum()) for s in (1, 2, 3)],
        "stage_ead": [str(v) for v in _stage_sums(stage, out["ead"].astype(np.int64))],
        "stage_ecl": [str(v) for v in _stage_sums(stage, ecl)], "total_minor": int(ecl.sum()),
        "ead_minor": int(out["ead"].astype(np.int64).sum()),
        "matrix": {} if matrix is None else {"counts": matrix.counts.tolist(), "months": matrix.months,
                                              "usable": matrix.usable.tolist()},
        "pd_sources": prepared.pd_sources,
        "scenarios": [{"name": s.name, "weight": s.weight, "pd_multiplier": s.pd_multiplier,
                       "lgd_multiplier": s.lgd_multiplier} for s in prepared.setup.scenarios],
        "parameters": prepared.parameters, "previous": prepared.previous,
        "posted": post,
        "entries": posted, "seconds": round(seconds, 3), "computed_at": timezone.now()})
    checks = reconcile_allowance(day) if run.posted else []
    ledger.append(actor, "risk.ecl_computed", "risk", day.isoformat(), {
        "as_of": day.isoformat(), "loans": n, "stage_loans": run.stage_loans, "stage_ecl": run.stage_ecl,
        "total_minor": run.total_minor, "ead_minor": run.ead_minor, "engine": engine,
        "snapshot_sha256": prepared.snapshot.sha256, "posted": posted, "pd_sources": prepared.pd_sources,
        "previous": prepared.previous.isoformat() if prepared.previous else None})
    return EclSummary(day, n, run.stage_loans, [int(v) for v in run.stage_ecl], run.total_minor, run.ead_minor,
                      posted, all(c.difference_minor == 0 for c in checks), prepared.pd_sources,
                      matrix.months if matrix is not None else 0, engine, round(seconds, 3))


# --- the ledger side -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AllowanceCheck:
    branch: str
    currency: str
    gl_minor: int
    loans_minor: int

    @property
    def difference_minor(self) -> int:
        return self.gl_minor - self.loans_minor


def reconcile_allowance(as_of: Any) -> list[AllowanceCheck]:
    """The allowance account (1304) of each branch on `as_of` against the sum of the loan-level allowances of the
    latest posted ECL run on or before it: equal when every provision has been posted."""
    day = _date(as_of)
    run = EclRun.objects.filter(as_of__lte=day, posted=True).order_by("-as_of").first()
    loans_side: dict[tuple[str, str], int] = {}
    if run is not None:
        for r in (LoanEcl.objects.filter(as_of=run.as_of).values("branch", "currency")
                  .annotate(total=Sum("ecl_minor")).order_by()):
            loans_side[(r["branch"], r["currency"])] = int(r["total"] or 0)
    gl = accounting.allowance_balances(day)
    return [AllowanceCheck(b, c, gl.get((b, c), 0), loans_side.get((b, c), 0))
            for b, c in sorted(set(gl) | set(loans_side))]






# --- reading for the pages -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EclOverview:
    as_of: dt.date
    runs: list[dt.date]
    loans: int
    stages: list[dict[str, Any]]  # stage, loans, ead, ecl, coverage
    total_minor: int
    ead_minor: int
    by_branch: list[dict[str, Any]]
    by_product: list[dict[str, Any]]
    reconciliation: list[AllowanceCheck]
    posted: bool
    entries: list[dict[str, Any]]
    scenarios: list[dict[str, Any]]
    loss_parameters: list[LossParameterView]
    pd_sources: dict[str, int]
    matrix: dict[str, Any]
    previous: dt.date | None
    engine: str
    seconds: float


def _coverage(ecl: int, ead: int) -> float | None:
    return ecl / ead if ead else None




def _visible_branches(actor: Actor) -> set[str] | None:
    """The branch codes the actor reads (None: every branch)."""
    if reads_whole_book(actor):
        return None
    return {b.code for b in org.list_branches(actor)}


def ecl_overview(actor: Actor, as_of: Any = None) -> EclOverview | None:
    """The page's view of a run (the latest when `as_of` is None); a reader bound to a branch sees its subtree's
    loans only (the totals then are those of its branches)."""
    require(actor, Perm.RISK_VIEW)
    runs = EclRun.objects.order_by("-as_of")
    run = runs.filter(as_of=_date(as_of)).first() if as_of not in (None, "") else runs.first()
    if run is None:
        if as_of not in (None, "") and runs.exists():
            raise NotFound(f"no allowance was computed for {as_of}", code="no_ecl_run", field="date")
        return None
    visible = _visible_branches(actor)
    rows = LoanEcl.objects.filter(as_of=run.as_of)
    if visible is not None:
        rows = rows.filter(branch__in=sorted(visible))

    def grouped(key: str) -> list[dict[str, Any]]:
        found = rows.values(key).annotate(loans=Count("loan_id"), ead=Sum("ead_minor"), ecl=Sum("ecl_minor"),
                                          ecl_12m=Sum("ecl_12m_minor"), lifetime=Sum("ecl_lifetime_minor")
                                          ).order_by(key)
        return [{"key": r[key], "loans": r["loans"], "ead": int(r["ead"] or 0), "ecl": int(r["ecl"] or 0),
                 "ecl_12m": int(r["ecl_12m"] or 0), "lifetime": int(r["lifetime"] or 0),
                 "coverage": _coverage(int(r["ecl"] or 0), int(r["ead"] or 0))} for r in found]

    by_stage = {r["key"]: r for r in grouped("stage")}
    stages = [by_stage.get(s, {"key": s, "loans": 0, "ead": 0, "ecl": 0, "ecl_12m": 0, "lifetime": 0,
                               "coverage": None}) for s in (1, 2, 3)]
    for s in stages:
        s["stage"] = s["key"]
    matrix: dict[str, Any] = {}
    if run.matrix:
        counts = np.asarray(run.matrix["counts"], dtype=np.int64)
        totals = counts.sum(axis=1)
        rates = [[(float(counts[i, j] / totals[i]) if totals[i] else None) for j in range(counts.shape[1])]
                 for i in range(counts.shape[0] - 1)]
        matrix = {"rates": rates, "totals": totals[:-1].tolist(), "months": run.matrix.get("months", 0),
                  "usable": run.matrix.get("usable", [])[:-1], "default_state": DEFAULT_STATE}
    checks = reconcile_allowance(run.as_of) if run.posted else []
    if visible is not None:
        checks = [c for c in checks if c.branch in visible]
    entries = [e for e in run.entries if visible is None or e.get("branch") in visible]
    return EclOverview(run.as_of, list(runs.values_list("as_of", flat=True)[:36]),
                       sum(s["loans"] for s in stages), stages, sum(s["ecl"] for s in stages),
                       sum(s["ead"] for s in stages), grouped("branch"), grouped("product"), checks, run.posted,
                       entries, run.scenarios, loss_parameters(), run.pd_sources, matrix, run.previous, run.engine,
                       run.seconds)
