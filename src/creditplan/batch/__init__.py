"""Batch engines: run a pure Arrow kernel over a whole table, locally or on Spark, with identical results."""
