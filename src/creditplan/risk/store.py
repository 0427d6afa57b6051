"""Where snapshots are kept: one folder per date under CREDITPLAN_RISK_DIR (default var/risk/snapshots), with one
Parquet file per table (loans, applications, quotas) and their SHA-256 in the database.

Why files rather than rows: a daily snapshot of a million loans is written in about a second as columnar Parquet
and read back as columns, by this process or by Spark directly; as database rows it would cost minutes a day and
grow the database by hundreds of millions of rows a year. The digest kept in the database (risk.models.Snapshot)
makes a changed or missing file an error rather than a silent different answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from numpy.typing import NDArray

from creditplan.core.errors import Conflict

TABLES = ("loans", "applications", "quotas")


def root() -> Path:
    """RISK_DIR/snapshots (CREDITPLAN_RISK_DIR, default var/risk)."""
    configured = getattr(settings, "RISK_DIR", None) or os.environ.get("CREDITPLAN_RISK_DIR")
    base = Path(configured) if configured else Path(settings.VAR_DIR) / "risk"
    return base / "snapshots"


def folder(as_of: dt.date) -> Path:
    return root() / as_of.isoformat()


def _text(a: NDArray[Any]) -> pa.Array:
    """An object column as Arrow strings. Straight from the str objects (a million in milliseconds) when every
    value is a str; anything else through `astype(str)`, as before (None becomes "None", a number its text)."""
    try:
        out = pa.array(a, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        out = None
    if out is None or out.null_count:
        return pa.array(a.astype(str), type=pa.string())
    return out


def _arrow(columns: dict[str, NDArray[Any]]) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        a = np.asarray(values)
        arrays[name] = _text(a) if a.dtype == object else pa.array(a)
    return pa.table(arrays)


def write(as_of: dt.date, tables: dict[str, dict[str, NDArray[Any]]]) -> str:
    """Write the date's tables (atomically: to a temporary folder renamed into place); return their digest."""
    target = folder(as_of)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        pq.write_table(_arrow(tables[name]), tmp / f"{name}.parquet", compression="zstd")
    digest = digest_of(tmp)
    if target.exists():  # a stale folder of an unrecorded earlier attempt: replaced
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    tmp.rename(target)
    return digest


def digest_of(path: Path) -> str:
    h = hashlib.sha256()
    for name in TABLES:
        h.update(name.encode())
        h.update((path / f"{name}.parquet").read_bytes())
    return h.hexdigest()


def read(as_of: dt.date, sha256: str, *, columns: dict[str, list[str]] | None = None
         ) -> dict[str, dict[str, NDArray[Any]]]:
    """The date's tables as columns, after checking they are the files that were written. `columns` reads only
    those of the tables it names (the whole files are still checked against their digest)."""
    path = folder(as_of)
    if not path.exists():
        raise Conflict(f"the snapshot of {as_of} is missing from {path}: it cannot be read back",
                       code="snapshot_missing")
    if digest_of(path) != sha256:
        raise Conflict(f"the snapshot of {as_of} has changed since it was written (its digest differs)",
                       code="snapshot_changed")
    out: dict[str, dict[str, NDArray[Any]]] = {}
    for name in TABLES:
        wanted = (columns or {}).get(name)
        table = pq.read_table(path / f"{name}.parquet", columns=wanted)
        cols: dict[str, NDArray[Any]] = {}
        for field in table.schema:
            column = table.column(field.name)
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                # str objects (None for a null), built by Arrow in C rather than through a Python list
                cols[field.name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
            else:
                cols[field.name] = np.asarray(column.to_numpy())
        out[name] = cols
    return out
