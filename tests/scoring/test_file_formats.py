"""Training files arrive as CSV, gzipped CSV, Parquet or Excel: all read to the same table."""

from __future__ import annotations

import pandas as pd

from creditplan.scoring.domain import datasets
from creditplan.scoring.domain.data import load_table


def test_csv_gzip_parquet_and_excel_read_the_same(tmp_path):
    df, _target, _bad = datasets.german_credit()
    df = df.head(120)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.csv.gz", index=False, compression="gzip")
    df.to_parquet(tmp_path / "a.parquet", index=False)
    df.to_excel(tmp_path / "a.xlsx", index=False)
    frames = [load_table(tmp_path / n) for n in ("a.csv", "a.csv.gz", "a.parquet", "a.xlsx")]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0].astype(str), f.astype(str), check_dtype=False)
    assert frames[0].shape == (120, 21)
