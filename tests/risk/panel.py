"""The public monthly credit-card status panel (../shared/data/credit_card_approval_panel), as the product's states.

STATUS → delinquency bucket (risk.domain.portfolio.BUCKETS), written down once here and in docs/risk.md:

    C  paid off that month            → 0 current
    0  1–29 days past due             → 1 (1-30)
    1  30–59 days past due            → 2 (31-60)
    2  60–89 days past due            → 3 (61-90)
    3  90–119 days past due           → 4 (91-180)
    4  120–149 days past due          → 4 (91-180)
    5  150+ days past due / written off → 5 (181-270: the worst state the panel can express; a write-off)
    X  no loan that month             → not an observation (dropped)

Periods are MONTHS_BALANCE (−60 … 0, consecutive months). An account's origination is its first observed month.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

STATUS_TO_BUCKET = {"C": 0, "0": 1, "1": 2, "2": 3, "3": 4, "4": 4, "5": 5}


def data_dir() -> Path:
    import os

    return Path(os.environ.get("CREDITPLAN_DATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


@cache
def panel() -> pd.DataFrame:
    path = data_dir() / "credit_card_approval_panel" / "credit_record.csv.gz"
    if not path.exists():
        pytest.fail(f"{path} not found: the analytics are checked on this public data set (set CREDITPLAN_DATA_DIR)")
    raw = pd.read_csv(path, dtype={"ID": "int64", "MONTHS_BALANCE": "int64", "STATUS": "string"})
    raw = raw[raw["STATUS"] != "X"]
    return pd.DataFrame({"id": raw["ID"].to_numpy(), "month": raw["MONTHS_BALANCE"].to_numpy(),
                         "bucket": raw["STATUS"].map(STATUS_TO_BUCKET).astype("int64").to_numpy()})
