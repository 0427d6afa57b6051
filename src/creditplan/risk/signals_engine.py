"""The early-warning kernels (risk.domain.signals) run over a whole book: in this process with numpy, or on Spark.

Both engines run the same four stages (A per loan, B per customer, C per group, D per customer) with the same
functions; every value is an integer and every reduction a max, min or sum, so they give identical columns (tested:
tests/risk/test_signals_service.py, and benchmarks/bench_signals.py over a million loans). The customer-level inputs
(behaviour grades, line use, inflows, external records) arrive as one table keyed by customer.

On Spark: A and D are `mapInArrow` over Arrow batches (row-wise, so how rows fall into batches cannot matter), B and C
are `groupBy(...).agg(max / min / sum)`, the customer inputs and the group figures are left joins with the same
defaults as `align`. The result is collected and put in customer order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from creditplan.risk.domain.signals import (
    CUSTOMER_INPUT_DEFAULTS,
    CUSTOMER_OUTPUTS,
    CUSTOMER_REDUCE,
    DEFAULT_PARAMETERS,
    GROUP_DEFAULTS,
    GROUP_REDUCE,
    LOAN_INPUTS,
    LOAN_OUTPUTS,
    Columns,
    Parameters,
    References,
    align,
    customer_kernel,
    group_rows,
    loan_kernel,
    reduce_by,
)

ENGINES = ("local", "spark")


def run_local(loans: Mapping[str, NDArray[Any]], inputs: Mapping[str, NDArray[Any]], weights: Mapping[str, int],
              refs: References, params: Parameters = DEFAULT_PARAMETERS) -> Columns:
    """Every customer's signals (customer ascending), computed in this process."""
    per_loan = loan_kernel({name: loans[name] for name in LOAN_INPUTS}, params)
    customers = reduce_by("customer", per_loan, CUSTOMER_REDUCE)
    groups = reduce_by("group", group_rows(customers), GROUP_REDUCE)
    table: dict[str, NDArray[Any]] = dict(customers)
    table.update(align(customers["group"], groups, "group", GROUP_DEFAULTS))
    table.update(align(customers["customer"], inputs, "customer", CUSTOMER_INPUT_DEFAULTS))
    return customer_kernel(table, weights, refs, params)


def _arrow(columns: Mapping[str, NDArray[Any]], names: tuple[str, ...] | list[str]) -> pa.Table:
    return pa.table({name: pa.array(np.asarray(columns[name], dtype=np.int64)) for name in names})


def _schema(names: tuple[str, ...]) -> pa.Schema:
    return pa.schema([pa.field(name, pa.int64()) for name in names])


def _columns(batch: pa.RecordBatch) -> dict[str, NDArray[np.int64]]:
    return {name: np.asarray(batch.column(i).to_numpy(zero_copy_only=False), dtype=np.int64)
            for i, name in enumerate(batch.schema.names)}


def run_spark(loans: Mapping[str, NDArray[Any]], inputs: Mapping[str, NDArray[Any]], weights: Mapping[str, int],
              refs: References, params: Parameters = DEFAULT_PARAMETERS, *, session: Any = None) -> Columns:
    """The same, on Spark (a local[2] session unless `session` is given)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    from creditplan.batch.engines import spark_session

    spark = session or spark_session("creditplan-signals")
    weights = dict(weights)
    loan_schema, customer_schema = _schema(LOAN_OUTPUTS), _schema(CUSTOMER_OUTPUTS)

    def stage_a(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = loan_kernel(_columns(batch), params)
            yield pa.RecordBatch.from_arrays([pa.array(out[n]) for n in LOAN_OUTPUTS], schema=loan_schema)

    def stage_d(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = customer_kernel(_columns(batch), weights, refs, params)
            yield pa.RecordBatch.from_arrays([pa.array(out[n]) for n in CUSTOMER_OUTPUTS], schema=customer_schema)

    aggregate = {"max": F.max, "min": F.min, "sum": F.sum}
    n = int(np.asarray(loans["loan"]).size)
    partitions = max(2, min(64, n // 100_000 + 1))
    frame = spark.createDataFrame(_arrow(loans, LOAN_INPUTS)).repartition(partitions)
    per_loan = frame.mapInArrow(stage_a, from_arrow_schema(loan_schema))
    customers = per_loan.groupBy("customer").agg(
        *[aggregate[op](name).cast("long").alias(name) for name, op in CUSTOMER_REDUCE.items()])
    bad = F.col("bad") > 0
    groups = (customers.where(F.col("group") > 0).groupBy("group").agg(
        F.sum(F.when(bad, 1).otherwise(0)).cast("long").alias("group_bad_n"),
        F.min(F.when(bad, F.col("customer"))).cast("long").alias("group_bad_min"),
        F.max(F.when(bad, F.col("customer"))).cast("long").alias("group_bad_max")))
    table = customers.join(groups, on="group", how="left").fillna(GROUP_DEFAULTS)
    input_names = ["customer", *CUSTOMER_INPUT_DEFAULTS]
    if int(np.asarray(inputs.get("customer", np.zeros(0))).size):
        table = table.join(spark.createDataFrame(_arrow(inputs, input_names)), on="customer", how="left")
    else:
        for name, value in CUSTOMER_INPUT_DEFAULTS.items():
            table = table.withColumn(name, F.lit(value).cast("long"))
    table = table.fillna(CUSTOMER_INPUT_DEFAULTS)
    ordered = [*CUSTOMER_REDUCE, "customer", *GROUP_REDUCE, *CUSTOMER_INPUT_DEFAULTS]
    result = table.select(*dict.fromkeys(ordered)).mapInArrow(stage_d, from_arrow_schema(customer_schema)).toArrow()
    out = {name: np.asarray(result.column(name).to_numpy(), dtype=np.int64) for name in CUSTOMER_OUTPUTS}
    order = np.argsort(out["customer"], kind="stable")
    return {name: values[order] for name, values in out.items()}
