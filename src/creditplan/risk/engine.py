"""Computing many indicators over a fact table, broken down by their dimensions, locally or on Spark.

Both engines compute the same additive partials (risk.domain.formula.partial: exact integer sums and counts per
dimension member) and finish them the same way, so they give identical figures: locally over the whole table in
chunks, on Spark over the partitions of a DataFrame with `mapInArrow` (each partition's partials come back as
rows; the driver merges them).

Members of each dimension are numbered once, on the driver, before anything is distributed, so every partition
numbers them alike; so are the values a `top_share` ranks (customers).

How it is made fast (benchmarks/bench_risk.py: every standard indicator by every dimension over a million loans):
- dimension members and ranked keys are numbered by hashing (pandas.factorize), then sorted as text — the members
  and numbers `np.unique(values.astype(str))` gives, without sorting a million Python strings;
- `top_share` terms are computed here over integer arrays rather than through the formula module's per-key
  dictionaries (a million customers would be a million Python tuples per dimension): the exact total per
  (member, key), then per member the sum of its n largest totals over the sum of all of them — the same exact
  integers, and the same division, as `formula.finish` does. Ties among the largest totals do not change the sum,
  so the order they are taken in does not matter;
- Spark partitions send their partials back as integer columns (task, dimension, term, member, key, total), merged
  on the driver with numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from creditplan.risk.domain.formula import SCORE_SCALE, Field, Formula, Partial, Term, finish, partial

CHUNK = 262_144


@dataclass(frozen=True)
class Task:
    """One indicator to compute over the fact table, for each of its dimensions."""

    code: str
    formula: Formula
    dimensions: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    code: str
    dimension: str
    members: list[str]
    values: NDArray[np.float64]
    parts: list[tuple[float, float] | None]


Numbering = tuple[list[str], NDArray[np.int64]]


def _number(values: NDArray[Any]) -> Numbering:
    """The distinct values as text, sorted, and each row's number: exactly `np.unique(values.astype(str),
    return_inverse=True)`, found by hashing the values first (a million rows, a few hundred distinct values)."""
    a = np.asarray(values)
    if a.dtype != object:
        members, codes = np.unique(a.astype(str), return_inverse=True)
        return [str(m) for m in members], np.asarray(codes, dtype=np.int64).reshape(-1)
    codes, uniques = pd.factorize(a, use_na_sentinel=False)
    text = np.asarray(uniques, dtype=object).astype(str)  # each distinct value as astype(str) writes it
    members, back = np.unique(text, return_inverse=True)  # values with the same text are one member, as before
    return [str(m) for m in members], np.asarray(back, dtype=np.int64).reshape(-1)[codes]


def _members(facts: Mapping[str, NDArray[Any]], dimension: str, n: int) -> Numbering:
    if dimension == "total":
        return [""], np.zeros(n, dtype=np.int64)
    return _number(facts[dimension])


def _rows(facts: Mapping[str, NDArray[Any]]) -> int:
    return int(next(iter(facts.values())).size) if facts else 0


# --- top_share, over integer arrays ---------------------------------------------------------------------------

def _tops(formula: Formula) -> list[int]:
    return [k for k, t in enumerate(formula.terms) if t.op == "top"]


def _sums_only(formula: Formula) -> Formula:
    """The formula with each `top` term replaced by a row count (computed, then ignored): what `partial` is asked
    for, the `top` terms being computed here."""
    if not _tops(formula):
        return formula
    return dataclasses.replace(formula, terms=tuple(Term("count", None, None, t.text) if t.op == "top" else t
                                                    for t in formula.terms))


def _key_numbers(facts: Mapping[str, NDArray[Any]], tasks: Sequence[Task]) -> dict[str, tuple[int, NDArray[np.int64]]]:
    """Each ranked field (`top_share(customer, …)`) → (distinct values, each row's number)."""
    out: dict[str, tuple[int, NDArray[np.int64]]] = {}
    for t in tasks:
        for term in t.formula.terms:
            if term.op == "top" and term.key is not None and term.key not in out:
                codes, uniques = pd.factorize(np.asarray(facts[term.key]), use_na_sentinel=False)
                out[term.key] = (max(1, len(uniques)), np.asarray(codes, dtype=np.int64))
    return out


def _pair_totals(groups: NDArray[np.int64], keys: NDArray[np.int64], amounts: NDArray[np.int64], n_keys: int
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(group, key, exact total) of each distinct (group, key) pair of the rows."""
    if groups.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    combined = groups.astype(np.int64) * np.int64(n_keys) + keys.astype(np.int64)
    pairs, inverse = np.unique(combined, return_inverse=True)
    totals = np.zeros(pairs.size, dtype=np.int64)
    np.add.at(totals, np.asarray(inverse, dtype=np.int64).reshape(-1), amounts.astype(np.int64))
    return pairs // n_keys, pairs % n_keys, totals


def _shares(pair_groups: NDArray[np.int64], totals: NDArray[np.int64], n_groups: int, n: int
            ) -> NDArray[np.float64]:
    """Per group, the sum of its n largest totals over the sum of all its totals (NaN for a group without pairs,
    or whose totals sum to zero) — `formula.finish`'s arithmetic on the same exact integers."""
    share = np.full(n_groups, np.nan)
    if pair_groups.size == 0:
        return share
    order = np.lexsort((-totals, pair_groups))
    g, amount = pair_groups[order], totals[order]
    rank = np.arange(g.size) - np.searchsorted(g, g, side="left")
    top = np.zeros(n_groups, dtype=np.int64)
    np.add.at(top, g[rank < n], amount[rank < n])
    whole = np.zeros(n_groups, dtype=np.int64)
    np.add.at(whole, g, amount)
    for gi in np.unique(g).tolist():
        if whole[gi]:
            share[gi] = int(top[gi]) / int(whole[gi])  # Python's exact int ÷ int, as finish does
    return share


def _finish_task(formula: Formula, state: Partial, shares: Mapping[int, NDArray[np.float64]]
                 ) -> tuple[NDArray[np.float64], list[tuple[float, float] | None]]:
    """`formula.finish`, with the `top` terms' shares computed here."""
    if not shares:
        return finish(formula, state)
    totals: list[NDArray[np.float64]] = []
    for k, (t, s) in enumerate(zip(formula.terms, state.sums, strict=True)):
        if t.op == "top":
            totals.append(shares[k])
            continue
        scale = SCORE_SCALE if t.op == "sum" and t.field in formula.scaled else 1
        totals.append(np.asarray(s, dtype=np.float64) / scale)
    values = np.broadcast_to(np.asarray(formula.combine(totals), dtype=np.float64), (state.n_groups,)).copy()
    parts: list[tuple[float, float] | None] = [None] * state.n_groups
    if formula.ratio is not None:
        num, den = totals[formula.ratio[0]], totals[formula.ratio[1]]
        parts = [(float(num[i]), float(den[i])) for i in range(state.n_groups)]
    return values, parts


# --- local ---------------------------------------------------------------------------------------------------

def run_local(facts: Mapping[str, NDArray[Any]], tasks: Sequence[Task], kinds: Mapping[str, Field], *,
              progress: Callable[[int], None] | None = None) -> list[Result]:
    """Every task over the whole fact table, in chunks of rows (memory stays bounded on a large book)."""
    n = _rows(facts)
    dims = sorted({d for t in tasks for d in t.dimensions})
    numbered = {d: _members(facts, d, n) for d in dims}
    sums_only = {t.code: _sums_only(t.formula) for t in tasks}
    states: dict[tuple[str, str], Partial] = {}
    for start in range(0, max(n, 1), CHUNK):
        stop = min(n, start + CHUNK)
        chunk = {k: np.asarray(v)[start:stop] for k, v in facts.items()}
        for t in tasks:
            for d in t.dimensions:
                members, codes = numbered[d]
                p = partial(sums_only[t.code], chunk, codes[start:stop], len(members), kinds)
                key = (t.code, d)
                states[key] = p if key not in states else states[key].merge(p)
        if progress:
            progress(stop - start)
    keys = _key_numbers(facts, tasks)
    shares: dict[tuple[str, str], dict[int, NDArray[np.float64]]] = {}
    for t in tasks:
        for d in t.dimensions:
            size, codes = len(numbered[d][0]), numbered[d][1]
            for k in _tops(t.formula):
                term = t.formula.terms[k]
                assert term.key is not None and term.field is not None
                n_keys, key_codes = keys[term.key]
                g, _keys, totals = _pair_totals(codes, key_codes, np.asarray(facts[term.field], dtype=np.int64),
                                                n_keys)
                shares.setdefault((t.code, d), {})[k] = _shares(g, totals, size, term.n)
    return _finish(tasks, numbered, states, shares)


def _finish(tasks: Sequence[Task], numbered: Mapping[str, Numbering], states: Mapping[tuple[str, str], Partial],
            shares: Mapping[tuple[str, str], Mapping[int, NDArray[np.float64]]]) -> list[Result]:
    out = []
    for t in tasks:
        for d in t.dimensions:
            members = numbered[d][0]
            state = states.get((t.code, d)) or _empty(t.formula, len(members))
            values, parts = _finish_task(t.formula, state, shares.get((t.code, d), {}))
            out.append(Result(t.code, d, members, values, parts))
    return out


def _empty(formula: Formula, n_groups: int) -> Partial:
    return Partial(n_groups, [np.zeros(n_groups, dtype=np.int64) for _ in formula.terms],
                   [{} for _ in formula.terms])


# --- Spark ---------------------------------------------------------------------------------------------------

_PARTIAL_SCHEMA = pa.schema([
    pa.field("task", pa.int32()), pa.field("dimension", pa.int32()), pa.field("term", pa.int32()),
    pa.field("member", pa.int64()), pa.field("key", pa.int64()), pa.field("total", pa.int64()),
])
"""One partial per row: a sum term's total for a member (key -1), or a `top` term's total for a (member, key)."""


def _group_column(dimension: str) -> str:
    return f"__member_{dimension}"


def _key_column(field: str) -> str:
    return f"__key_{field}"


def _text(a: NDArray[Any]) -> pa.Array:
    """Object columns as Arrow strings: straight from str objects, through astype(str) for anything else."""
    try:
        out = pa.array(a, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        out = None
    return pa.array(a.astype(str), type=pa.string()) if out is None or out.null_count else out


def to_arrow(facts: Mapping[str, NDArray[Any]], numbered: Mapping[str, Numbering],
             keys: Mapping[str, tuple[int, NDArray[np.int64]]] | None = None,
             fields: frozenset[str] | None = None) -> pa.Table:
    """The fact table as Arrow (only `fields` when given), with each dimension's member numbers and each ranked
    field's key numbers as extra columns."""
    arrays: dict[str, Any] = {}
    for k, v in facts.items():
        if fields is not None and k not in fields:
            continue
        a = np.asarray(v)
        arrays[k] = _text(a) if a.dtype == object else pa.array(a)
    for d, numbering in numbered.items():
        arrays[_group_column(d)] = pa.array(numbering[1])
    for f, (_n, codes) in (keys or {}).items():
        arrays[_key_column(f)] = pa.array(codes)
    return pa.table(arrays)


def _partials_kernel(tasks: Sequence[Task], dims: Sequence[str], sizes: Mapping[str, int],
                     n_keys: Mapping[str, int], kinds: Mapping[str, Field]
                     ) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    dim_index = {d: i for i, d in enumerate(dims)}
    sums_only = [_sums_only(t.formula) for t in tasks]

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            cols = {name: _numpy(batch.column(i)) for i, name in enumerate(batch.schema.names)}
            parts: list[tuple[int, int, int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]] = []
            for ti, t in enumerate(tasks):
                tops = _tops(t.formula)
                for d in t.dimensions:
                    groups = np.asarray(cols[_group_column(d)], dtype=np.int64)
                    p = partial(sums_only[ti], cols, groups, sizes[d], kinds)
                    for term, sums in enumerate(p.sums):
                        if term in tops:
                            continue
                        members = np.flatnonzero(sums)
                        parts.append((ti, dim_index[d], term, members, np.full(members.size, -1, np.int64),
                                      np.asarray(sums[members], dtype=np.int64)))
                    for term in tops:
                        spec = t.formula.terms[term]
                        assert spec.key is not None and spec.field is not None
                        g, k, totals = _pair_totals(groups, np.asarray(cols[_key_column(spec.key)], dtype=np.int64),
                                                    np.asarray(cols[spec.field], dtype=np.int64), n_keys[spec.key])
                        parts.append((ti, dim_index[d], term, g, k, totals))
            yield _batch(parts)
    return apply


def _batch(parts: Sequence[tuple[int, int, int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]]
           ) -> pa.RecordBatch:
    sizes = [p[3].size for p in parts]
    def ints(k: int, dtype: Any) -> NDArray[Any]:
        return np.repeat(np.array([p[k] for p in parts], dtype=dtype), sizes) if parts else np.zeros(0, dtype)

    def cat(k: int) -> NDArray[np.int64]:
        return np.concatenate([p[k] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)

    return pa.RecordBatch.from_arrays([pa.array(ints(0, np.int32)), pa.array(ints(1, np.int32)),
                                       pa.array(ints(2, np.int32)), pa.array(cat(3)), pa.array(cat(4)),
                                       pa.array(cat(5))], schema=_PARTIAL_SCHEMA)


def _numpy(column: Any) -> NDArray[Any]:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    if pa.types.is_boolean(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(column.to_numpy(zero_copy_only=False))


def run_spark(facts: Mapping[str, NDArray[Any]], tasks: Sequence[Task], kinds: Mapping[str, Field], *,
              session: Any = None, partitions: int = 4) -> list[Result]:
    """Every task on Spark: the fact table is distributed, each partition computes its partials with
    `mapInArrow`, the driver merges them. Identical to `run_local` (sums are exact integers)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from creditplan.batch.engines import spark_session

    spark = session or spark_session("creditplan-risk")
    n = _rows(facts)
    dims = sorted({d for t in tasks for d in t.dimensions})
    numbered = {d: _members(facts, d, n) for d in dims}
    if n == 0:  # nothing to distribute (no application in the window): every value is "no value", as locally
        return _finish(tasks, numbered, {}, {})
    keys = _key_numbers(facts, tasks)
    used = frozenset(f for t in tasks for f in t.formula.fields) | frozenset(
        term.field for t in tasks for term in t.formula.terms if term.field is not None)
    frame = spark.createDataFrame(to_arrow(facts, numbered, keys, used)).repartition(partitions)
    sizes = {d: len(m) for d, (m, _c) in numbered.items()}
    n_keys = {f: size for f, (size, _codes) in keys.items()}
    collected = frame.mapInArrow(_partials_kernel(tasks, dims, sizes, n_keys, kinds),
                                 from_arrow_schema(_PARTIAL_SCHEMA)).toArrow()
    return _merge(tasks, dims, numbered, n_keys, collected)


def _merge(tasks: Sequence[Task], dims: Sequence[str], numbered: Mapping[str, Numbering], n_keys: Mapping[str, int],
           collected: pa.Table) -> list[Result]:
    """The driver's side: the partitions' partials added up per (task, dimension, term), then finished."""
    col = {name: np.asarray(collected.column(name).to_numpy(), dtype=np.int64) for name in _PARTIAL_SCHEMA.names}
    n_terms = max([len(t.formula.terms) for t in tasks] + [1])
    combo = (col["task"] * len(dims) + col["dimension"]) * n_terms + col["term"]
    order = np.argsort(combo, kind="stable")
    combo = combo[order]
    starts = np.flatnonzero(np.r_[True, combo[1:] != combo[:-1]]).tolist() if combo.size else []
    ends = [*starts[1:], int(combo.size)] if starts else []
    bounds = dict(zip(combo[starts].tolist(), zip(starts, ends, strict=True), strict=True))
    states: dict[tuple[str, str], Partial] = {}
    shares: dict[tuple[str, str], dict[int, NDArray[np.float64]]] = {}
    for ti, t in enumerate(tasks):
        for d in t.dimensions:
            size = len(numbered[d][0])
            state = _empty(t.formula, size)
            for term, spec in enumerate(t.formula.terms):
                lo, hi = bounds.get((ti * len(dims) + dims.index(d)) * n_terms + term, (0, 0))
                rows = order[lo:hi]
                if spec.op == "top":
                    assert spec.key is not None
                    g, _k, totals = _pair_totals(col["member"][rows], col["key"][rows], col["total"][rows],
                                                 n_keys[spec.key])
                    shares.setdefault((t.code, d), {})[term] = _shares(g, totals, size, spec.n)
                else:
                    np.add.at(state.sums[term], col["member"][rows], col["total"][rows])
            states[(t.code, d)] = state
    return _finish(tasks, numbered, states, shares)
