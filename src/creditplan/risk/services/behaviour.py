"""Behaviour scoring and the monthly re-rating (issue 17, item 4).

The behaviour model ("behaviour-pd" in the model registry) is a scorecard trained by the scoring module on the public
Taiwan credit-card data, read into the book's repayment-history features (risk.domain.behaviour: the mapping is
written there and in docs/ecl.md). Each month `rerate(month)` computes every active loan's features from the kept
month-end snapshots and the instalments, scores them with the champion's compiled artifact in batch (the scoring
module's Arrow kernel, locally or on Spark: the same scorer, the same scores), rates each customer by their riskiest
loan and stores the rating with the one of the month before, so grade moves can be read. The ECL run takes its PD
from here (`customer_pd`); the early-warning signals and the limits read `behaviour_scores`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from numpy.typing import NDArray

from creditplan.batch import engines
from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.risk import sql, store
from creditplan.risk.domain.behaviour import (
    HISTORY_MONTHS,
    MODEL_FEATURES,
    TAIWAN_TARGET,
    behaviour_features,
    customer_worst,
    grade_moves,
    history_matrix,
    taiwan_features,
)
from creditplan.risk.models import BehaviourScore, RerateRun, Snapshot
from creditplan.scoring import engine as scoring_engine
from creditplan.scoring import services as scoring

BEHAVIOUR_MODEL = "behaviour-pd"
"""The behaviour model's name in the model registry (the application model is "retail-pd")."""

_NOTHING: dict[str, list[str]] = {"applications": [], "quotas": []}


# --- the model ---------------------------------------------------------------------------------------------------

def taiwan_source() -> Path:
    return Path(settings.DATA_DIR) / "taiwan_default_credit_card" / "default_of_credit_card_clients.csv.gz"


def taiwan_frame() -> pd.DataFrame:
    """The Taiwan credit-card data as the book's behaviour features, with its target (1: default next month)."""
    path = taiwan_source()
    if not path.exists():
        raise NotFound(f"the Taiwan credit-card data is not at {path} (set CREDITPLAN_DATA_DIR)",
                       code="data_file_missing", field="data")
    raw = pd.read_csv(path)
    features = taiwan_features({c: raw[c].to_numpy() for c in raw.columns})
    frame = pd.DataFrame({name: features[name] for name in MODEL_FEATURES})
    frame[TAIWAN_TARGET] = raw[TAIWAN_TARGET].astype(int).to_numpy()
    return frame


BEHAVIOUR_DESCRIPTION = "Behaviour PD scorecard (Taiwan credit-card data, in the book's repayment-history features)"


def behaviour_training(*, seed: int = 0) -> scoring_engine.Trained:
    """The behaviour scorecard trained on the Taiwan data (the recipe of `train_behaviour_model`, and of the demo's
    shipped behaviour model: `creditplan build-demo-models`)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "taiwan_behaviour_features.csv"
        taiwan_frame().to_csv(source, index=False)
        return scoring_engine.train(data_path=source, target=TAIWAN_TARGET, bad_value=1, kind="scorecard",
                                    seed=seed, numeric=list(MODEL_FEATURES), auto_features=False)


def train_behaviour_model(author: Actor, approver: Actor | None = None, *, seed: int = 0) -> scoring.VersionView:
    """Train the behaviour scorecard on the Taiwan data (through the scoring module: the scorecard estimator and its
    training harness, validation report included) and register it as a draft version of "behaviour-pd"; with an
    `approver` (another person), take it through validation and approval to champion, as the demo does."""
    require(author, Perm.MODEL_MANAGE)
    trained = behaviour_training(seed=seed)
    version = scoring.register_version(
        author, model_name=BEHAVIOUR_MODEL, artifact=trained.artifact, report_html=trained.report_html,
        metrics=trained.metrics, description=BEHAVIOUR_DESCRIPTION)
    if approver is not None:
        scoring.validate_version(author, version.id)
        scoring.approve_version(approver, version.id)
        version = scoring.promote_champion(author, version.id)
    return version


def seed_behaviour_model(author: Actor, approver: Actor, log: Any = print) -> int:
    """The demo's behaviour model (`creditplan seed-demo`): the shipped one (scoring/demo_models, trained by
    `behaviour_training` on the Taiwan data), validated, approved and champion. Needs no data set."""
    from creditplan.scoring import demo

    return len(demo.register_shipped(author, approver, BEHAVIOUR_MODEL))


# --- months and snapshots ------------------------------------------------------------------------------------------

def month_end(value: Any) -> dt.date:
    """'YYYY-MM' (or any date in the month) → the last day of that month."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        day = value
    else:
        text = str(value or "").strip()
        try:
            day = dt.date.fromisoformat(f"{text}-01" if len(text) == 7 else text)
        except ValueError:
            raise ValidationError("the month is written YYYY-MM", field="month", code="month_format") from None
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_back(end: dt.date, n: int) -> dt.date:
    """The end of the month `n` months before the month of `end`."""
    index = end.year * 12 + end.month - 1 - n
    return month_end(dt.date(index // 12, index % 12 + 1, 1))


def month_snapshot(end: dt.date) -> Snapshot | None:
    """The snapshot that stands for a month: the latest kept within it (its month end, when the close ran)."""
    return (Snapshot.objects.filter(as_of__lte=end, as_of__gt=months_back(end, 1)).order_by("-as_of").first())


def read_snapshot(snap: Snapshot, columns: list[str]) -> dict[str, NDArray[Any]]:
    return store.read(snap.as_of, snap.sha256, columns={"loans": columns, **_NOTHING})["loans"]


def active(columns: dict[str, NDArray[Any]]) -> NDArray[np.bool_]:
    """The loans of a snapshot still on the book: not repaid, not written off, something outstanding."""
    return np.asarray((np.asarray(columns["outstanding"]) > 0) & (np.asarray(columns["closed"]) == 0)
                      & (np.asarray(columns["written_off"]) == 0), dtype=bool)


# --- re-rating -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RerateSummary:
    month: dt.date
    as_of: dt.date
    model: str
    version: int
    loans: int
    customers: int
    upgrades: int
    downgrades: int
    new: int
    seconds: float
    engine: str


def book_features(end: dt.date) -> tuple[dt.date, dict[str, NDArray[Any]], dict[str, NDArray[np.float64]]]:
    """The active loans of the month (its snapshot: loan, customer) and their behaviour features."""
    snap = month_snapshot(end)
    if snap is None:
        raise Conflict(f"no snapshot of the book was kept in {end:%Y-%m}: the month cannot be re-rated",
                       code="no_snapshot", field="month")
    book = read_snapshot(snap, ["loan", "customer", "dpd", "outstanding", "principal", "months_on_book", "closed",
                                "written_off"])
    keep = active(book)
    loans_now = {k: np.asarray(v)[keep] for k, v in book.items()}
    history: list[tuple[NDArray[Any], NDArray[Any]] | None] = [(loans_now["loan"], loans_now["dpd"])]
    for j in range(1, HISTORY_MONTHS):
        earlier = month_snapshot(months_back(end, j))
        if earlier is None:
            history.append(None)
            continue
        cols = read_snapshot(earlier, ["loan", "dpd"])
        history.append((cols["loan"], cols["dpd"]))
    matrix = history_matrix(loans_now["loan"], history)
    pay = sql.read_payments(snap.as_of, months_back(end, 3), months_back(end, 6))
    ids = loans_now["loan"].astype(np.int64)
    paid = {k: np.zeros(ids.size, dtype=np.int64) for k in ("due_3m", "paid_3m", "due_6m", "paid_6m")}
    if pay["loan"].size:  # the statement returns loans in id order
        pos = np.clip(np.searchsorted(pay["loan"], ids), 0, pay["loan"].size - 1)
        hit = pay["loan"][pos] == ids
        for k in paid:
            paid[k][hit] = pay[k][pos[hit]]
    features = behaviour_features(matrix, paid["paid_3m"], paid["due_3m"], paid["paid_6m"], paid["due_6m"],
                                  loans_now["outstanding"], loans_now["principal"], loans_now["months_on_book"])
    return snap.as_of, loans_now, features


def _score(features: dict[str, NDArray[np.float64]], artifact: dict[str, Any], engine: str, session: Any
           ) -> pa.Table:
    table = pa.table({name: pa.array(np.asarray(features[name], dtype=np.float64)) for name in MODEL_FEATURES})
    kernel = scoring_engine.arrow_kernel(artifact)
    if engine == "spark":
        spark = session or engines.spark_session("creditplan-rerate")
        frame = spark.createDataFrame(table)
        return engines.spark_to_arrow(engines.run_spark(frame, kernel, scoring_engine.output_schema()))
    return engines.run_local(table, kernel)


def rerate(month: Any, *, actor: Actor | None = None, engine: str = "local", session: Any = None) -> RerateSummary:
    """Re-rate every active customer for a month with the behaviour model's champion and store each customer's
    score, PD and grade with last month's grade. Running a month again replaces its ratings."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    if engine not in ("local", "spark"):
        raise ValidationError("the engine is local or spark", field="engine", code="unknown_engine")
    end = month_end(month)
    started = time.perf_counter()
    version, artifact = scoring.champion_artifact(BEHAVIOUR_MODEL)
    as_of, book, features = book_features(end)
    scored = _score(features, artifact, engine, session)
    grades = [str(g["grade"]) for g in artifact.get("master_scale") or []]
    grade_of = {g: i for i, g in enumerate(grades)}
    grade = np.asarray(scored.column("grade").to_pylist(), dtype=object)
    index = np.array([grade_of.get(str(g), len(grades) - 1) for g in grade.tolist()], dtype=np.int64)
    pd_ = np.asarray(scored.column("pd").to_numpy(zero_copy_only=False), dtype=np.float64)
    score = np.asarray(scored.column("score").to_numpy(zero_copy_only=False), dtype=np.float64)
    customers, c_pd, c_score, c_index, counts = customer_worst(np.asarray(book["customer"]).astype(np.int64), pd_,
                                                               score, index)
    before = sql.read_rows(BehaviourScore, ["customer_id", "grade_index"], "month", months_back(end, 1),
                           order="customer_id")
    prev = np.full(customers.size, -1, dtype=np.int64)
    if before["customer_id"].size and customers.size:
        pos = np.clip(np.searchsorted(before["customer_id"], customers), 0, before["customer_id"].size - 1)
        hit = before["customer_id"][pos] == customers
        prev[hit] = before["grade_index"][pos[hit]]
    moves = grade_moves(prev, c_index, max(len(grades), 1))
    labels = np.array([*grades, ""], dtype=object)
    upgrades = int(((prev >= 0) & (c_index < prev)).sum())
    downgrades = int(((prev >= 0) & (c_index > prev)).sum())
    new = int((prev < 0).sum())
    with transaction.atomic():
        sql.delete_rows(BehaviourScore, "month", end)
        sql.insert_columns(BehaviourScore, {
            "month": np.full(customers.size, np.datetime64(end, "D")), "customer_id": customers,
            "score": c_score, "pd": c_pd, "grade": labels[c_index], "grade_index": c_index,
            "previous_grade": labels[prev], "previous_index": prev, "loans": counts})
        seconds = time.perf_counter() - started
        RerateRun.objects.update_or_create(month=end, defaults={
            "model_name": BEHAVIOUR_MODEL, "model_version_id": version.id, "model_number": version.number,
            "artifact_sha256": version.artifact_sha256, "grades": grades, "engine": engine,
            "loans": int(pd_.size), "customers": int(customers.size), "upgrades": upgrades,
            "downgrades": downgrades, "new": new, "moves": moves.tolist(), "seconds": round(seconds, 3),
            "computed_at": timezone.now()})
        ledger.append(actor, "risk.rerated", "risk", end.isoformat(), {
            "month": end.isoformat(), "as_of": as_of.isoformat(), "model": BEHAVIOUR_MODEL,
            "version": version.number, "artifact_sha256": version.artifact_sha256, "loans": int(pd_.size),
            "customers": int(customers.size), "upgrades": upgrades, "downgrades": downgrades, "engine": engine})
    return RerateSummary(end, as_of, BEHAVIOUR_MODEL, version.number, int(pd_.size), int(customers.size), upgrades,
                         downgrades, new, round(seconds, 3), engine)


# --- reading the ratings -------------------------------------------------------------------------------------------

def latest_month(on_or_before: dt.date) -> dt.date | None:
    """The latest re-rated month whose end is on or before the date (a date within a month reads the month before:
    the month's re-rating, made at its end, was not known then)."""
    run = RerateRun.objects.filter(month__lte=on_or_before).order_by("-month").first()
    return run.month if run is not None else None


def behaviour_scores(month: dt.date) -> dict[str, NDArray[Any]]:
    """Every customer's rating of a month (customer_id ascending): score, pd, grade, grade_index, previous_grade,
    previous_index — what the early-warning signals and the limits read."""
    return sql.read_rows(BehaviourScore, ["customer_id", "score", "pd", "grade", "grade_index", "previous_grade",
                                          "previous_index"], "month", month_end(month), order="customer_id",
                         text=frozenset({"grade", "previous_grade"}), reals=frozenset({"score", "pd"}))


def customer_pd(as_of: dt.date) -> tuple[dt.date | None, NDArray[np.int64], NDArray[np.float64]]:
    """The behaviour PD of every customer in the latest re-rating of a month ending on or before `as_of` (customers
    ascending), and that month (None: never re-rated)."""
    month = RerateRun.objects.filter(month__lte=as_of).order_by("-month").values_list("month", flat=True).first()
    if month is None:
        return None, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    rows = sql.read_rows(BehaviourScore, ["customer_id", "pd"], "month", month, order="customer_id",
                         reals=frozenset({"pd"}))
    return month, rows["customer_id"].astype(np.int64), rows["pd"].astype(np.float64)


@dataclass(frozen=True)
class GradeMoves:
    month: dt.date
    model: str
    version: int
    grades: list[str]
    moves: list[list[int]]  # rows: last month's grade (+ a last row: new), columns: this month's
    customers: int
    loans: int
    upgrades: int
    downgrades: int
    new: int
    engine: str
    seconds: float
    months: list[dt.date]
    biggest_downgrades: list[dict[str, Any]]


def grade_migration(actor: Actor, month: Any = None) -> GradeMoves | None:
    """The page's view of a month's re-rating (the latest when `month` is None): the migration matrix and the
    customers who fell furthest (readers of the whole book)."""
    require(actor, Perm.RISK_VIEW)
    if not _whole_book(actor):
        raise Forbidden("the re-rating covers the whole book: it is for head-office roles", code="whole_book_only")
    runs = RerateRun.objects.order_by("-month")
    run = runs.filter(month=month_end(month)).first() if month not in (None, "") else runs.first()
    if run is None:
        return None
    worst = list(BehaviourScore.objects.filter(month=run.month, previous_index__gte=0)
                 .annotate(fall=F("grade_index") - F("previous_index"))
                 .order_by("-fall", "-pd", "customer_id")
                 .values("customer_id", "grade", "previous_grade", "pd", "score", "fall")[:20])
    biggest = [w for w in worst if w["fall"] > 0]
    names = _customer_names(actor, [int(w["customer_id"]) for w in biggest])
    biggest = [{**w, "customer_name": names.get(int(w["customer_id"]), "")} for w in biggest]
    return GradeMoves(run.month, run.model_name, run.model_number, list(run.grades), run.moves, run.customers,
                      run.loans, run.upgrades, run.downgrades, run.new, run.engine, run.seconds,
                      list(runs.values_list("month", flat=True)[:24]), biggest)


def _customer_names(actor: Actor, ids: list[int]) -> dict[int, str]:
    """The names of the customers among `ids` the actor may see (as the customer page: their branch subtree, every
    branch for head-office roles); the others are left out, and the page shows their number only."""
    from creditplan.customers.models import Customer

    if not ids or not org.may(actor, Perm.CUSTOMER_VIEW):
        return {}
    qs = org.scope_to_branches(actor, Customer.objects.filter(pk__in=ids))
    return {int(pk): str(name) for pk, name in qs.values_list("pk", "name")}


def _whole_book(actor: Actor) -> bool:
    from creditplan.risk.services.allowance import reads_whole_book

    return reads_whole_book(actor)
