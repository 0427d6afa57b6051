"""Computing many indicators over a fact table, broken down by their dimensions, locally or on Spark.

Both engines compute the same additive partials (risk.domain.formula.partial: exact integer sums and counts per
dimension member) and finish them the same way, so they give identical figures: locally over the whole table in
chunks, on Spark over the partitions of a DataFrame with `mapInArrow` (each partition's partials come back as
rows; the driver merges them).

Members of each dimension are numbered once, on the driver, before anything is distributed, so every partition
numbers them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from creditplan.risk.domain.formula import Field, Formula, Partial, finish, partial

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


def _members(facts: Mapping[str, NDArray[Any]], dimension: str, n: int) -> tuple[list[str], NDArray[np.int64]]:
    if dimension == "total":
        return [""], np.zeros(n, dtype=np.int64)
    values = np.asarray(facts[dimension]).astype(str)
    members, codes = np.unique(values, return_inverse=True)
    return [str(m) for m in members], codes.astype(np.int64)


def _rows(facts: Mapping[str, NDArray[Any]]) -> int:
    return int(next(iter(facts.values())).size) if facts else 0


def run_local(facts: Mapping[str, NDArray[Any]], tasks: Sequence[Task], kinds: Mapping[str, Field], *,
              progress: Callable[[int], None] | None = None) -> list[Result]:
    """Every task over the whole fact table, in chunks of rows (memory stays bounded on a large book)."""
    n = _rows(facts)
    dims = sorted({d for t in tasks for d in t.dimensions})
    numbered = {d: _members(facts, d, n) for d in dims}
    states: dict[tuple[str, str], Partial] = {}
    for start in range(0, max(n, 1), CHUNK):
        stop = min(n, start + CHUNK)
        chunk = {k: np.asarray(v)[start:stop] for k, v in facts.items()}
        for t in tasks:
            for d in t.dimensions:
                members, codes = numbered[d]
                p = partial(t.formula, chunk, codes[start:stop], len(members), kinds)
                key = (t.code, d)
                states[key] = p if key not in states else states[key].merge(p)
        if progress:
            progress(stop - start)
    return _finish(tasks, numbered, states)


def _finish(tasks: Sequence[Task], numbered: Mapping[str, tuple[list[str], NDArray[np.int64]]],
            states: Mapping[tuple[str, str], Partial]) -> list[Result]:
    out = []
    for t in tasks:
        for d in t.dimensions:
            members = numbered[d][0]
            state = states.get((t.code, d)) or _empty(t.formula, len(members))
            values, parts = finish(t.formula, state)
            out.append(Result(t.code, d, members, values, parts))
    return out


def _empty(formula: Formula, n_groups: int) -> Partial:
    return Partial(n_groups, [np.zeros(n_groups, dtype=np.int64) for _ in formula.terms],
                   [{} for _ in formula.terms])


# --- Spark ---------------------------------------------------------------------------------------------------

_PARTIAL_SCHEMA = pa.schema([
    pa.field("task", pa.int32()), pa.field("dimension", pa.string()), pa.field("term", pa.int32()),
    pa.field("member", pa.int64()), pa.field("total", pa.int64()), pa.field("key", pa.string()),
])


def _group_column(dimension: str) -> str:
    return f"__member_{dimension}"


def to_arrow(facts: Mapping[str, NDArray[Any]], numbered: Mapping[str, tuple[list[str], NDArray[np.int64]]]
             ) -> pa.Table:
    """The fact table as Arrow, with each dimension's member numbers as extra columns."""
    arrays: dict[str, Any] = {}
    for k, v in facts.items():
        a = np.asarray(v)
        arrays[k] = pa.array(a.astype(str)) if a.dtype == object else pa.array(a)
    for d, numbering in numbered.items():
        arrays[_group_column(d)] = pa.array(numbering[1])
    return pa.table(arrays)


def _partials_kernel(tasks: Sequence[Task], sizes: Mapping[str, int], kinds: Mapping[str, Field]
                     ) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            cols = {name: _numpy(batch.column(i)) for i, name in enumerate(batch.schema.names)}
            rows: dict[str, list[Any]] = {f.name: [] for f in _PARTIAL_SCHEMA}
            for ti, t in enumerate(tasks):
                for d in t.dimensions:
                    p = partial(t.formula, cols, cols[_group_column(d)], sizes[d], kinds)
                    for term, (sums, tops) in enumerate(zip(p.sums, p.tops, strict=True)):
                        for m in np.flatnonzero(sums).tolist():
                            _append(rows, ti, d, term, m, int(sums[m]), "")
                        for (top_member, key), amount in tops.items():
                            _append(rows, ti, d, term, top_member, int(amount), str(key))
            yield pa.RecordBatch.from_pydict(rows, schema=_PARTIAL_SCHEMA)
    return apply


def _append(rows: dict[str, list[Any]], task: int, dimension: str, term: int, member: int, total: int,
            key: str) -> None:
    rows["task"].append(task)
    rows["dimension"].append(dimension)
    rows["term"].append(term)
    rows["member"].append(member)
    rows["total"].append(total)
    rows["key"].append(key)


def _numpy(column: Any) -> NDArray[Any]:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return np.asarray(column.to_pylist(), dtype=object)
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
    frame = spark.createDataFrame(to_arrow(facts, numbered)).repartition(partitions)
    sizes = {d: len(m) for d, (m, _c) in numbered.items()}
    collected = frame.mapInArrow(_partials_kernel(tasks, sizes, kinds),
                                 from_arrow_schema(_PARTIAL_SCHEMA)).toArrow()
    states: dict[tuple[str, str], Partial] = {}
    for t in tasks:
        for d in t.dimensions:
            states[(t.code, d)] = _empty(t.formula, sizes[d])
    for row in collected.to_pylist():
        t = tasks[row["task"]]
        state = states[(t.code, row["dimension"])]
        if t.formula.terms[row["term"]].op == "top":
            top = state.tops[row["term"]]
            k = (row["member"], row["key"])
            top[k] = top.get(k, 0) + row["total"]
        else:
            sums = state.sums[row["term"]]
            sums[row["member"]] = sums[row["member"]] + np.int64(row["total"])
    return _finish(tasks, numbered, states)
