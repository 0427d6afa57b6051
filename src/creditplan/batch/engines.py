"""Engines that apply a kernel (RecordBatch → RecordBatch) to a table.

Why Arrow batches: the kernels (scoring, accrual) are numpy code over columns; Arrow hands them columns
without copying, locally and inside Spark's `mapInArrow`, so the very same function produces the very same
numbers in the web process, the CLI and the cluster. Pandas UDFs are avoided on purpose (PySpark 4 does
not fully support pandas 3).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

Kernel = Callable[[pa.RecordBatch], pa.RecordBatch]
ROW_ID = "__row_id"


def run_local(table: pa.Table, kernel: Kernel, *, batch_size: int = 65_536,
              progress: Callable[[int], None] | None = None) -> pa.Table:
    """Apply `kernel` batch by batch; output rows keep input order."""
    out: list[pa.RecordBatch] = []
    for batch in table.to_batches(max_chunksize=batch_size):
        out.append(kernel(batch))
        if progress:
            progress(batch.num_rows)
    if not out:
        return kernel(pa.RecordBatch.from_pylist([], schema=table.schema)).to_table() if table.num_rows == 0 \
            else pa.Table.from_batches(out)
    return pa.Table.from_batches(out)


def spark_session(app: str = "creditplan", cores: int = 2) -> Any:
    """A local Spark session for tests and single-machine runs (a cluster passes its own session)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{cores}]").appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(max(2, cores)))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )


def run_spark(frame: Any, kernel: Kernel, output_schema: pa.Schema) -> Any:
    """Apply `kernel` to a Spark DataFrame with mapInArrow. Rows are tagged with a row id so callers can
    restore input order (`orderBy(ROW_ID)`); the id column is passed through untouched."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    tagged = frame.withColumn(ROW_ID, F.monotonically_increasing_id())
    schema = pa.schema([*output_schema, pa.field(ROW_ID, pa.int64())])

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids = batch.column(ROW_ID)
            result = kernel(batch.drop_columns([ROW_ID]) if hasattr(batch, "drop_columns") else
                            pa.RecordBatch.from_arrays([batch.column(n) for n in batch.schema.names if n != ROW_ID],
                                                       names=[n for n in batch.schema.names if n != ROW_ID]))
            yield pa.RecordBatch.from_arrays([*result.columns, ids], schema=schema)

    return tagged.mapInArrow(apply, from_arrow_schema(schema))


def spark_to_arrow(frame: Any) -> pa.Table:
    """Collect a (small enough) Spark result in input order as an Arrow table, without the row id."""
    table = frame.orderBy(ROW_ID).toArrow()
    return table.drop_columns([ROW_ID]) if ROW_ID in table.column_names else table
