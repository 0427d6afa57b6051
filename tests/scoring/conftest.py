"""Fixtures for the pure scoring kernel: real German credit data and models trained once per session.

Why session scope: training is the slow part (a second or two per model); the tests then check many
properties of the same fitted models. The kernel's tests run without Django (``-p no:django``); test
modules in this folder that need Django (registry, channels) are then left out of collection, because
without the plugin there is no configured settings module or database to import them with.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:  # the package may not be installed in the test environment
    sys.path.insert(0, str(SRC))

from creditplan.scoring.domain import data, datasets, train  # noqa: E402
from creditplan.scoring.domain.scorecard import ScorecardModel  # noqa: E402
from creditplan.scoring.domain.trees import GbmModel, TreeModel  # noqa: E402

_NEEDS_DJANGO = (
    "from factories import",
    "from django",
    "import django",
    ".models import",
    "scoring import services",
)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without pytest-django, skip the modules of this folder that import Django models or services."""
    if config.pluginmanager.has_plugin("django") or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    text = collection_path.read_text(encoding="utf-8")
    return True if any(marker in text for marker in _NEEDS_DJANGO) else None


@pytest.fixture(scope="session")
def german() -> tuple[pd.DataFrame, np.ndarray]:
    df, target, bad = datasets.german_credit()
    return data.prepare_target(df, target, bad)


@pytest.fixture(scope="session")
def german_raw() -> pd.DataFrame:
    return datasets.german_credit()[0]


@pytest.fixture(scope="session")
def scorecard(german: tuple[pd.DataFrame, np.ndarray]) -> train.TrainResult:
    X, y = german
    return train.train_estimator(ScorecardModel(), X, y, seed=0, holdout=0.3, target="class", bad_value=2)


@pytest.fixture(scope="session")
def tree(german: tuple[pd.DataFrame, np.ndarray]) -> train.TrainResult:
    X, y = german
    return train.train_estimator(TreeModel(random_state=0), X, y, seed=0, holdout=0.3)


@pytest.fixture(scope="session")
def gbm(german: tuple[pd.DataFrame, np.ndarray]) -> train.TrainResult:
    X, y = german
    model = GbmModel(folds=3, learning_rate=0.1, max_rounds=400, n_jobs=1, random_state=0)
    return train.train_estimator(model, X, y, seed=0, holdout=0.3)


@pytest.fixture(scope="session")
def taiwan_sample() -> tuple[pd.DataFrame, np.ndarray]:
    """5,000 rows of the Taiwan data (stratified by the target, fixed seed): enough for derived features."""
    df, target, bad = datasets.taiwan_default()
    sample = df.groupby(target, group_keys=False).sample(frac=5000 / len(df), random_state=0)
    return data.prepare_target(sample.reset_index(drop=True), target, bad)
