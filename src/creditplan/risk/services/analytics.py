"""What the risk pages (and the API) read: indicator values and their trend, the overview with red cells first,
and the portfolio analytics computed from the kept snapshots — delinquency and roll-rate matrix, month-on-book
vintage curves, five-category migration between two dates, concentration — and the loans behind any cell.

Branch scope: roles that work across the institution (risk managers, planners, auditors, administrators) and
head-office staff see everything; other staff see their branch subtree only — the snapshot's loans of their
branches, and of the indicator values those of the branch dimension for their branches (a figure for the whole
institution or a product is not theirs to read).

Everything here reads; nothing writes. The snapshots are read back through `store.read`, which checks their digest,
so a page never shows figures from a changed file.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditplan.core.access import Actor, Perm, require, sees_all_branches
from creditplan.core.errors import NotFound, ValidationError
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.risk import store
from creditplan.risk.domain.catalogue import DIMENSIONS, FACTS
from creditplan.risk.domain.facts import loan_facts, previous_period_end
from creditplan.risk.domain.formula import Formula, Kind
from creditplan.risk.domain.portfolio import BUCKETS, CLASSES, top_shares, transition_matrix, vintage_curves
from creditplan.risk.models import Indicator, IndicatorValue, Run, Snapshot
from creditplan.risk.services.indicators import formula_of

Columns = dict[str, NDArray[Any]]
MAX_VINTAGE_MONTHS = 36
BAD_FROM = {30: 2, 90: 4}
"""Vintage curves: "30+" is bucket 2 (31–60 days) or worse, "90+" bucket 4 (91–180) or worse."""


# --- scope ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The branches whose figures an actor reads (None: the whole institution)."""

    branches: frozenset[str] | None

    @property
    def whole(self) -> bool:
        return self.branches is None

    def keeps(self, codes: NDArray[Any]) -> NDArray[np.bool_]:
        if self.branches is None:
            return np.ones(np.asarray(codes).size, dtype=bool)
        return np.isin(np.asarray(codes, dtype=object), list(self.branches))


def scope_of(actor: Actor) -> Scope:
    require(actor, Perm.RISK_VIEW)
    if sees_all_branches(actor.role):
        return Scope(None)
    branch = getattr(actor, "branch", None)
    if branch is None:
        return Scope(frozenset())
    if branch.parent_id is None:  # head office: its subtree is the institution
        return Scope(None)
    return Scope(frozenset(b.code for b in org.list_branches(actor)))


def names(actor: Actor) -> dict[str, dict[str, str]]:
    """Branch and product names by code, for member labels (the page picks the language)."""
    require(actor, Perm.RISK_VIEW)
    return {"branch": {b.code: b.name for b in org.list_branches(actor)},
            "branch_en": {b.code: b.name_en or b.name for b in org.list_branches(actor)},
            "product": {p.code: p.name for p in loans.list_products()},
            "product_en": {p.code: getattr(p, "name_en", "") or p.name for p in loans.list_products()}}


# --- runs and values ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunView:
    as_of: dt.date
    engine: str
    recompute: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    loans: int
    values: int
    alerts: int
    seconds: float


def list_runs(actor: Actor, *, limit: int = 50) -> list[RunView]:
    require(actor, Perm.RISK_VIEW)
    return [RunView(r.as_of, r.engine, r.recompute, r.started_at, r.finished_at, r.loans, r.values, r.alerts,
                    r.seconds) for r in Run.objects.order_by("-started_at", "-id")[: max(1, min(int(limit), 500))]]


def run_dates(actor: Actor, *, limit: int = 400) -> list[dt.date]:
    """The dates indicators were computed for, newest first."""
    require(actor, Perm.RISK_VIEW)
    return list(Run.objects.order_by("-as_of").values_list("as_of", flat=True).distinct()[:limit])


def pick_date(actor: Actor, value: Any, dates: list[dt.date] | None = None) -> dt.date | None:
    """The date a page shows: the one asked for (YYYY-MM-DD), or the latest computed."""
    text = str(value or "").strip()
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError("the date is written YYYY-MM-DD", field="date", code="date_format") from None
    known = dates if dates is not None else run_dates(actor, limit=1)
    return known[0] if known else None


@dataclass(frozen=True)
class ValueView:
    as_of: dt.date
    indicator: str
    name_en: str
    name_zh: str
    unit: str
    fact: str
    dimension: str
    member: str
    value: float | None
    previous: float | None
    rag: str
    numerator: float | None
    denominator: float | None
    amber: Decimal
    red: Decimal
    worse: str
    mode: str
    sort: int

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def _value_view(v: IndicatorValue) -> ValueView:
    i = v.indicator
    return ValueView(v.as_of, i.code, i.name_en, i.name_zh, i.unit, i.fact, v.dimension, v.member, v.value, v.previous,
                     v.rag, v.numerator, v.denominator, Decimal(i.amber), Decimal(i.red), i.worse, i.mode,
                     i.sort_order)


_DIMENSION_ORDER = {d: k for k, d in enumerate(DIMENSIONS)}
_RAG_ORDER = {"red": 0, "amber": 1, "green": 2, "none": 3}


def _order(v: ValueView) -> tuple[Any, ...]:
    return (v.sort, v.indicator, _DIMENSION_ORDER.get(v.dimension, 99), v.member)


def values(actor: Actor, as_of: dt.date, *, indicator: str | None = None, dimension: str | None = None
           ) -> list[ValueView]:
    """The indicator values of a date the actor may read (one indicator, one dimension, or all)."""
    scope = scope_of(actor)
    qs = IndicatorValue.objects.filter(as_of=as_of).select_related("indicator")
    if indicator:
        qs = qs.filter(indicator__code=indicator)
    if dimension:
        qs = qs.filter(dimension=dimension)
    if not scope.whole:
        qs = qs.filter(dimension="branch", member__in=sorted(scope.branches or ()))
    return sorted((_value_view(v) for v in qs), key=_order)


@dataclass(frozen=True)
class Overview:
    as_of: dt.date
    attention: list[ValueView]  # red cells first, then amber
    totals: list[ValueView]  # each indicator for the whole institution (or the actor's branches)
    red: int
    amber: int
    green: int
    run: RunView | None


def overview(actor: Actor, as_of: dt.date) -> Overview:
    cells = values(actor, as_of)
    attention = sorted((c for c in cells if c.rag in ("red", "amber")), key=lambda c: (_RAG_ORDER[c.rag], *_order(c)))
    scope = scope_of(actor)
    totals = [c for c in cells if c.dimension == "total"] if scope.whole else cells
    runs = Run.objects.filter(as_of=as_of).order_by("-started_at", "-id").first()
    run = None if runs is None else RunView(runs.as_of, runs.engine, runs.recompute, runs.started_at,
                                            runs.finished_at, runs.loans, runs.values, runs.alerts, runs.seconds)
    return Overview(as_of, attention, totals, sum(c.rag == "red" for c in cells), sum(c.rag == "amber" for c in cells),
                    sum(c.rag == "green" for c in cells), run)


def _check_member(actor: Actor, dimension: str, member: str) -> None:
    scope = scope_of(actor)
    if not scope.whole and not (dimension == "branch" and member in (scope.branches or ())):
        raise NotFound(f"no figures of {dimension} {member} in your branch scope", code="unknown_cell")


@dataclass(frozen=True)
class Point:
    as_of: dt.date
    value: float | None
    rag: str


def series(actor: Actor, code: str, dimension: str = "total", member: str = "", *, limit: int = 800) -> list[Point]:
    """An indicator's stored values for one member, oldest first: the trend."""
    _check_member(actor, dimension, member)
    rows = (IndicatorValue.objects.filter(indicator__code=code, dimension=dimension, member=member)
            .order_by("-as_of").values_list("as_of", "value", "rag")[:limit])
    return [Point(a, v, r) for a, v, r in reversed(list(rows))]


def cell(actor: Actor, code: str, as_of: dt.date, dimension: str, member: str) -> ValueView:
    _check_member(actor, dimension, member)
    v = (IndicatorValue.objects.select_related("indicator")
         .filter(indicator__code=code, as_of=as_of, dimension=dimension, member=member).first())
    if v is None:
        raise NotFound(f"no value of {code} for {dimension} {member} on {as_of}", code="unknown_cell")
    return _value_view(v)


# --- snapshots ----------------------------------------------------------------------------------------------

def snapshot_dates(actor: Actor) -> list[dt.date]:
    require(actor, Perm.RISK_VIEW)
    return list(Snapshot.objects.order_by("-as_of").values_list("as_of", flat=True))


def _snapshot(day: dt.date) -> Snapshot:
    snap = Snapshot.objects.filter(as_of=day).first()
    if snap is None:
        raise NotFound(f"no kept book for {day}", field="date", code="no_snapshot")
    return snap


def _latest_on_or_before(day: dt.date) -> Snapshot | None:
    return Snapshot.objects.filter(as_of__lte=day).order_by("-as_of").first()


PANEL_COLUMNS = ["loan", "branch", "bucket", "risk_class", "outstanding", "start", "closed", "written_off"]
"""What the month-end panels (roll-rate trend, vintage) read of each kept book: a million loans × three years of
month-ends stays seconds, not minutes."""


def _loans(snap: Snapshot, columns: list[str] | None = None) -> Columns:
    if columns is None:
        return store.read(snap.as_of, snap.sha256)["loans"]
    return store.read(snap.as_of, snap.sha256, columns={"loans": columns, "applications": [], "quotas": []})["loans"]


def _take(cols: Columns, mask: NDArray[np.bool_]) -> Columns:
    return {k: np.asarray(v)[mask] for k, v in cols.items()}


def _on_book(cols: Columns) -> NDArray[np.bool_]:
    """Loans on the book (the snapshot also keeps those repaid or written off in the last year)."""
    return ~np.asarray(cols["closed"], dtype=bool) & ~np.asarray(cols["written_off"], dtype=bool)


def _month(days: NDArray[np.int64] | int) -> NDArray[np.int64]:
    """Day numbers → months since January 1970."""
    d = np.asarray(days, dtype=np.int64) - dt.date(1970, 1, 1).toordinal()
    return np.asarray(d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64), dtype=np.int64)


def month_text(month: int) -> str:
    return f"{1970 + month // 12}-{month % 12 + 1:02d}"


# --- delinquency and roll rates -------------------------------------------------------------------------

@dataclass(frozen=True)
class BucketRow:
    bucket: int
    loans: int
    outstanding: int  # fen


@dataclass(frozen=True)
class Matrix:
    """A transition matrix between two kept books: counts[i][j] loans (amounts[i][j] fen of principal at the start)
    in state i at `start` and j at `end`; rates are amount-weighted shares of each row."""

    start: dt.date
    end: dt.date
    states: tuple[str, ...]
    counts: list[list[int]]
    amounts: list[list[int]]
    rates: list[list[float | None]]
    row_loans: list[int]
    row_amounts: list[int]
    worse_share: float | None
    better_share: float | None
    roll_rates: list[float | None]


@dataclass(frozen=True)
class Delinquency:
    as_of: dt.date
    buckets: list[BucketRow]
    matrix: Matrix | None
    trend: list[tuple[dt.date, list[float | None]]]  # month-end roll rates, oldest first


def _pairs(a: Columns, b: Columns, field: str) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                                                        NDArray[np.int64]]:
    """(ids, state at a, state at b, outstanding at a) of the loans in both books."""
    ia, ib = np.asarray(a["loan"], dtype=np.int64), np.asarray(b["loan"], dtype=np.int64)
    common, pa, pb = np.intersect1d(ia, ib, return_indices=True)
    return (common, np.asarray(a[field], dtype=np.int64)[pa], np.asarray(b[field], dtype=np.int64)[pb],
            np.asarray(a["outstanding"], dtype=np.int64)[pa])


def _matrix(start: dt.date, end: dt.date, a: Columns, b: Columns, field: str) -> Matrix:
    """Loans on the book at `start` (in scope) against their state at `end` — repaid loans count where the end book
    keeps them (current, normal), written-off ones in their last state: a roll is never hidden by an exit."""
    a = _take(a, _on_book(a))
    offset = 1 if field == "risk_class" else 0
    states = CLASSES if field == "risk_class" else BUCKETS
    _ids, sa, sb, wa = _pairs(a, b, field)
    sa, sb = sa - offset, sb - offset
    n = len(states)
    by_count = transition_matrix(np.clip(sa, 0, n - 1), np.clip(sb, 0, n - 1), n, states=states)
    by_amount = transition_matrix(np.clip(sa, 0, n - 1), np.clip(sb, 0, n - 1), n, weights=wa, states=states)
    rates = [[None if np.isnan(x) else float(x) for x in row] for row in by_amount.rates]
    return Matrix(start, end, states, by_count.counts.tolist(), by_amount.counts.tolist(), rates,
                  by_count.row_totals.tolist(), by_amount.row_totals.tolist(), by_amount.worse_share(),
                  by_amount.better_share(), by_amount.roll_rates())


def _scoped_loans(actor: Actor, snap: Snapshot, columns: list[str] | None = None) -> Columns:
    cols = _loans(snap, columns)
    return _take(cols, scope_of(actor).keeps(cols["branch"]))


def _month_ends(up_to: dt.date, *, limit: int = MAX_VINTAGE_MONTHS) -> list[Snapshot]:
    """The kept books of month-ends on or before `up_to`, oldest first (at most `limit`)."""
    snaps = [s for s in Snapshot.objects.filter(as_of__lte=up_to).order_by("-as_of")
             if (s.as_of + dt.timedelta(days=1)).day == 1]
    return list(reversed(snaps[:limit]))


def delinquency(actor: Actor, as_of: dt.date, since: dt.date | None = None) -> Delinquency:
    """The book by delinquency bucket at `as_of`, the bucket transition matrix from `since` (by default the kept
    book of the previous month-end, as the roll-rate indicators compare) and the month-end roll rates."""
    scope_of(actor)
    snap = _snapshot(as_of)
    now = _scoped_loans(actor, snap)
    live = _take(now, _on_book(now))
    buckets = []
    for k in range(len(BUCKETS)):
        m = np.asarray(live["bucket"], dtype=np.int64) == k
        buckets.append(BucketRow(k, int(m.sum()), int(np.asarray(live["outstanding"], dtype=np.int64)[m].sum())))
    start = _snapshot(since) if since is not None else _latest_on_or_before(previous_period_end(as_of, "monthly"))
    matrix = None
    if start is not None and start.as_of < as_of:
        matrix = _matrix(start.as_of, as_of, _scoped_loans(actor, start), now, "bucket")
    ends = _month_ends(as_of, limit=13)
    trend = []
    for a, b in zip(ends, ends[1:], strict=False):
        m = _matrix(a.as_of, b.as_of, _scoped_loans(actor, a, PANEL_COLUMNS), _scoped_loans(actor, b, PANEL_COLUMNS),
                    "bucket")
        trend.append((b.as_of, m.roll_rates))
    return Delinquency(as_of, buckets, matrix, trend)


def migration(actor: Actor, start: dt.date, end: dt.date) -> Matrix:
    """The five-category migration matrix between two kept books."""
    scope_of(actor)
    if start >= end:
        raise ValidationError("the first date must be before the second", field="start", code="dates_order")
    return _matrix(start, end, _scoped_loans(actor, _snapshot(start)), _scoped_loans(actor, _snapshot(end)),
                   "risk_class")


# --- vintage ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Vintage:
    as_of: dt.date
    bad: int  # 30 or 90
    cohorts: list[str]  # "YYYY-MM"
    months_on_book: list[int]
    rates: dict[str, list[float | None]]
    sizes: dict[str, int]
    month_ends: list[dt.date]


def _panel(actor: Actor, as_of: dt.date) -> tuple[list[Snapshot], NDArray[np.int64], NDArray[np.int64],
                                                   NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The month-end books stacked: (snapshots, ids, periods, buckets, origination per unique id, unique ids)."""
    ends = _month_ends(as_of)
    ids, periods, states, starts = [], [], [], []
    for s in ends:
        cols = _scoped_loans(actor, s, PANEL_COLUMNS)
        ids.append(np.asarray(cols["loan"], dtype=np.int64))
        periods.append(np.full(ids[-1].size, int(_month(s.as_of.toordinal())), dtype=np.int64))
        states.append(np.asarray(cols["bucket"], dtype=np.int64))
        starts.append(np.asarray(cols["start"], dtype=np.int64))
    if not ends or not sum(a.size for a in ids):
        empty = np.zeros(0, dtype=np.int64)
        return ends, empty, empty, empty, empty, empty
    i, p, st, sd = (np.concatenate(ids), np.concatenate(periods), np.concatenate(states), np.concatenate(starts))
    uid, first = np.unique(i, return_index=True)
    return ends, i, p, st, _month(sd[first]), uid


def vintage(actor: Actor, as_of: dt.date, bad: int = 30) -> Vintage:
    """Cumulative share of each origination month's loans that reached `bad` days past due by each month on book,
    from the month-end books kept up to `as_of`."""
    scope_of(actor)
    if bad not in BAD_FROM:
        raise ValidationError("bad is 30 or 90 days past due", field="bad", code="unknown_bad")
    ends, i, p, st, origination, _uid = _panel(actor, as_of)
    if not i.size:
        return Vintage(as_of, bad, [], [], {}, {}, [s.as_of for s in ends])
    curves = vintage_curves(i, p, st, bad_from=BAD_FROM[bad], origination=origination)
    rates = {month_text(c): curves.rates[c] for c in curves.cohorts}
    sizes = {month_text(c): curves.sizes[c] for c in curves.cohorts}
    return Vintage(as_of, bad, [month_text(c) for c in curves.cohorts], list(curves.months_on_book), rates, sizes,
                   [s.as_of for s in ends])


# --- concentration ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Share:
    key: str
    label: str  # a customer's name; for the other dimensions the page labels the member
    loans: int
    outstanding: int
    share: float | None


@dataclass(frozen=True)
class Concentration:
    as_of: dt.date
    outstanding: int
    loans: int
    top_customers: list[Share]
    by: dict[str, list[Share]]  # dimension → members, largest first


CONCENTRATION_DIMENSIONS = ("industry", "region", "product", "branch")


def concentration(actor: Actor, as_of: dt.date, *, top: int = 10) -> Concentration:
    scope_of(actor)
    cols = _scoped_loans(actor, _snapshot(as_of))
    live = _take(cols, _on_book(cols))
    facts = loan_facts(live, None)
    amount = np.asarray(facts["outstanding"], dtype=np.int64)
    total = int(amount.sum())
    customers = np.asarray(live["customer"], dtype=np.int64)
    ranked, _whole = top_shares(customers, amount, top)
    who = dict(loans.loans_visible_to(actor).filter(customer_id__in=[c for c, _a in ranked])
               .values_list("customer_id", "customer__name").distinct())
    counts = {int(c): int(n) for c, n in zip(*np.unique(customers, return_counts=True), strict=True)}
    top_rows = [Share(str(c), str(who.get(c, "")), counts.get(c, 0), a, a / total if total else None)
                for c, a in ranked]
    by: dict[str, list[Share]] = {}
    for d in CONCENTRATION_DIMENSIONS:
        keys = np.asarray(facts[d], dtype=object)
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for k, a in zip(keys.tolist(), amount.tolist(), strict=True):
            sums[str(k)][0] += 1
            sums[str(k)][1] += int(a)
        rows = sorted(sums.items(), key=lambda kv: (-kv[1][1], kv[0]))
        by[d] = [Share(k, "", n, a, a / total if total else None) for k, (n, a) in rows]
    return Concentration(as_of, total, int(amount.size), top_rows, by)


# --- the loans behind a cell ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoanRow:
    loan: int
    ref: str
    customer: str
    branch: str
    product: str
    outstanding: int
    dpd: int
    bucket: int
    risk_class: int
    counted: int | None  # what the loan adds to the figure (fen), when the figure sums an amount


@dataclass(frozen=True)
class Drill:
    rows: list[LoanRow]
    counted_field: str  # the amount field summed (e.g. outstanding), "" for a count
    counted_total: int  # the sum of `counted` over the rows (fen), or the number of rows for a count
    as_of: dt.date
    note: str = ""


def _rows(actor: Actor, cols: Columns, mask: NDArray[np.bool_], counted_field: str,
          counted: NDArray[Any] | None = None, *, limit: int = 2000) -> tuple[list[LoanRow], int]:
    ids = np.asarray(cols["loan"], dtype=np.int64)[mask]
    amounts = (np.asarray(counted if counted is not None else cols[counted_field], dtype=np.int64)[mask]
               if counted_field else None)
    total = int(amounts.sum()) if amounts is not None else int(ids.size)
    refs = {i: (ref, name) for i, ref, name in loans.loans_visible_to(actor).filter(id__in=ids.tolist()[:limit])
            .values_list("id", "ref", "customer__name")}
    pick = {k: np.asarray(cols[k])[mask] for k in ("branch", "product", "outstanding", "dpd", "bucket", "risk_class")}
    rows = []
    for k, loan in enumerate(ids.tolist()[:limit]):
        ref, name = refs.get(loan, ("", ""))
        rows.append(LoanRow(loan, ref, name, str(pick["branch"][k]), str(pick["product"][k]),
                            int(pick["outstanding"][k]), int(pick["dpd"][k]), int(pick["bucket"][k]),
                            int(pick["risk_class"][k]), None if amounts is None else int(amounts[k])))
    rows.sort(key=lambda r: (-(r.counted if r.counted is not None else r.outstanding), r.ref))
    return rows, total


def _indicator_facts(i: Indicator, day: dt.date) -> tuple[Columns, Columns]:
    """The raw snapshot rows of `day` and the indicator's fact table over them, exactly as the run built it."""
    tables_now = _loans(_snapshot(day))
    earlier = None
    prior = _latest_on_or_before(previous_period_end(day, i.frequency))
    if prior is not None and prior.as_of < day:
        earlier = _loans(prior)
    return tables_now, loan_facts(tables_now, earlier)


def _behind(formula: Formula, facts: Columns, member_mask: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], str]:
    """The rows behind a figure: for a ratio, those the numerator counts; for a top share, the top values' rows;
    otherwise the rows the first term adds up. Returns (mask, the amount field those rows add, "" for a count)."""
    term = formula.terms[formula.ratio[0]] if formula.ratio is not None else formula.terms[0]
    keep = member_mask.copy()
    if term.condition is not None:
        keep &= np.asarray(term.condition(facts), dtype=bool)
    if term.op == "top" and term.key is not None and term.field is not None:
        keys = np.asarray(facts[term.key], dtype=object)[keep]
        amounts = np.asarray(facts[term.field], dtype=np.int64)[keep]
        sums: dict[Any, int] = defaultdict(int)
        for k, a in zip(keys.tolist(), amounts.tolist(), strict=True):
            sums[k] += int(a)
        chosen = [k for k, _a in sorted(sums.items(), key=lambda kv: (-kv[1], str(kv[0])))[: term.n]]
        keep &= np.isin(np.asarray(facts[term.key], dtype=object), chosen)
        return keep, term.field
    if term.op == "sum" and term.field is not None and FACTS["loans"][term.field].kind is Kind.AMOUNT:
        keep &= np.asarray(facts[term.field], dtype=np.int64) != 0
        return keep, term.field
    return keep, ""


def indicator_loans(actor: Actor, code: str, as_of: dt.date, dimension: str = "total", member: str = "") -> Drill:
    """The loans behind one indicator cell: the kept book's loans of that member for which the numerator's
    condition holds (for sum(x, cond) / sum(x): the loans with cond, each adding its x)."""
    _check_member(actor, dimension, member)
    i = Indicator.objects.filter(code=str(code or "").strip()).first()
    if i is None:
        raise NotFound(f"no indicator {code}", code="indicator_not_found")
    if i.fact != "loans":
        raise ValidationError(f"{code} is computed over {i.fact}, not loans: no loans are behind it",
                              code="not_drillable")
    if dimension not in i.dimensions:
        raise NotFound(f"{code} is not broken down by {dimension}", code="unknown_cell")
    raw, facts = _indicator_facts(i, as_of)
    n = np.asarray(facts["loan"]).size
    member_mask = (np.ones(n, dtype=bool) if dimension == "total"
                   else np.asarray(facts[dimension], dtype=object) == member)
    keep, field = _behind(formula_of(i), facts, member_mask)
    keep &= scope_of(actor).keeps(raw["branch"])
    rows, total = _rows(actor, raw, keep, field, facts[field] if field else None)
    return Drill(rows, field, total, as_of)


def transition_loans(actor: Actor, kind: str, start: dt.date, end: dt.date, i: int, j: int) -> Drill:
    """The loans behind a matrix cell: in state i at `start` and j at `end` (kind "bucket" or "risk_class";
    states are indexes of BUCKETS or CLASSES)."""
    if kind not in ("bucket", "risk_class"):
        raise ValidationError("the matrix is of buckets or classes", field="kind", code="unknown_cell")
    scope_of(actor)
    a = _scoped_loans(actor, _snapshot(start))
    a = _take(a, _on_book(a))
    b = _scoped_loans(actor, _snapshot(end))
    offset = 1 if kind == "risk_class" else 0
    ids, sa, sb, _w = _pairs(a, b, kind)
    chosen = ids[(sa - offset == i) & (sb - offset == j)]
    mask = np.isin(np.asarray(b["loan"], dtype=np.int64), chosen)
    start_amount = dict(zip(np.asarray(a["loan"], dtype=np.int64).tolist(),
                            np.asarray(a["outstanding"], dtype=np.int64).tolist(), strict=True))
    counted = np.array([start_amount.get(int(x), 0) for x in np.asarray(b["loan"], dtype=np.int64)], dtype=np.int64)
    rows, total = _rows(actor, b, mask, "prev_outstanding", counted)
    return Drill(rows, "prev_outstanding", total, end)


def bucket_loans(actor: Actor, as_of: dt.date, bucket: int) -> Drill:
    cols = _scoped_loans(actor, _snapshot(as_of))
    mask = _on_book(cols) & (np.asarray(cols["bucket"], dtype=np.int64) == int(bucket))
    rows, total = _rows(actor, cols, mask, "outstanding")
    return Drill(rows, "outstanding", total, as_of)


def share_loans(actor: Actor, as_of: dt.date, dimension: str, member: str) -> Drill:
    """The loans of one customer (dimension "customer") or one member of a concentration dimension."""
    if dimension not in (*CONCENTRATION_DIMENSIONS, "customer"):
        raise ValidationError(f"unknown dimension {dimension}", field="dimension", code="unknown_dimension")
    cols = _scoped_loans(actor, _snapshot(as_of))
    live = _take(cols, _on_book(cols))
    facts = loan_facts(live, None)
    keys = (np.asarray([str(c) for c in live["customer"].tolist()], dtype=object) if dimension == "customer"
            else np.asarray(facts[dimension], dtype=object))
    rows, total = _rows(actor, live, keys == member, "outstanding")
    return Drill(rows, "outstanding", total, as_of)


def vintage_loans(actor: Actor, as_of: dt.date, bad: int, cohort: str, mob: int) -> Drill:
    """The loans of an origination month that had reached `bad` days past due by month on book `mob`."""
    if bad not in BAD_FROM:
        raise ValidationError("bad is 30 or 90 days past due", field="bad", code="unknown_bad")
    ends, i, p, st, origination, uid = _panel(actor, as_of)
    if not i.size:
        return Drill([], "", 0, as_of)
    inv = np.searchsorted(uid, i)
    mob_of_row = p - origination[inv]
    bad_rows = (st >= BAD_FROM[bad]) & (mob_of_row <= int(mob))
    try:
        year, month = (int(x) for x in str(cohort).split("-"))
    except ValueError:
        raise ValidationError("the origination month is written YYYY-MM", field="cohort", code="date_format") from None
    in_cohort = origination[inv] == (year - 1970) * 12 + month - 1
    chosen = np.unique(i[bad_rows & in_cohort])
    last = _scoped_loans(actor, ends[-1])
    mask = np.isin(np.asarray(last["loan"], dtype=np.int64), chosen)
    rows, total = _rows(actor, last, mask, "")
    return Drill(rows, "", total, ends[-1].as_of)
