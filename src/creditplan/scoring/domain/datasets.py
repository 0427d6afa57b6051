"""The public credit data sets the tests, benchmarks and docs use, read in place from the shared data folder.

Why a helper: every consumer needs the same target definition (German ``class`` 2 = bad; Taiwan
``default payment next month`` 1 = bad) and the same location rule (``CREDITPLAN_DATA_DIR`` or the
``shared/data`` folder next to the repository). The files are never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from creditplan.core.errors import ValidationError

GERMAN_TARGET = "class"
GERMAN_BAD = 2
TAIWAN_TARGET = "default payment next month"
TAIWAN_BAD = 1


def data_dir() -> Path:
    """Where the shared data sets live: ``$CREDITPLAN_DATA_DIR``, else ``<repo>/../shared/data``.

    The repository root is found from this file (src layout); when the package is installed elsewhere the
    current directory's ``../shared/data`` is tried.
    """
    env = os.environ.get("CREDITPLAN_DATA_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[4]
    for candidate in (
        repo.parent / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
        Path.cwd() / "shared" / "data",
    ):
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        raise ValidationError(
            f"data set file {path} not found; set CREDITPLAN_DATA_DIR to the folder holding the shared data sets",
            code="dataset_not_found",
        )
    return path


def german_credit_path() -> Path:
    return _require(data_dir() / "german_credit" / "german_credit.csv")


def taiwan_default_path() -> Path:
    return _require(data_dir() / "taiwan_default_credit_card" / "default_of_credit_card_clients.csv.gz")


def german_credit() -> tuple[pd.DataFrame, str, int]:
    """UCI Statlog German credit, 1,000 loans, 20 attributes; target ``class`` with 2 = bad (30 %)."""
    df = pd.read_csv(german_credit_path())
    return df, GERMAN_TARGET, GERMAN_BAD


def taiwan_default() -> tuple[pd.DataFrame, str, int]:
    """UCI default of credit card clients (Taiwan 2005), 30,000 cards; target 1 = default (22.1 %).

    The ``ID`` column is dropped: it is a row number, not a property of the customer.
    """
    df = pd.read_csv(taiwan_default_path())
    return df.drop(columns=["ID"]), TAIWAN_TARGET, TAIWAN_BAD
