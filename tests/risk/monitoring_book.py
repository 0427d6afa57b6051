"""A small book for model monitoring: a German-credit scorecard registered as champion (with or without its
development profile), decisions stored as the decision engine stores them, loans paid out on some of them, and
kept snapshots of the book with each loan's worst days past due."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.utils import timezone

from creditplan.customers import services as customers
from creditplan.decisions.models import Decision
from creditplan.loans import services as loans
from creditplan.loans.models import Loan
from creditplan.risk import store
from creditplan.risk.models import Snapshot
from creditplan.scoring import engine
from creditplan.scoring import services as scoring
from creditplan.scoring.demo import application_frame
from creditplan.scoring.domain import data, datasets, train
from factories import individual

CONSUMER = {
    "code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
    "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
    "late_fee": "0", "penalty_markup_pct": 50, "max_backdate_days": 30,
}


@functools.cache
def german_scorecard() -> tuple[train.TrainResult, pd.DataFrame]:
    """A scorecard trained on the German data in the application's words, and those raw inputs (all rows)."""
    frame = application_frame(pd.read_csv(datasets.german_credit_path(), dtype=str))
    X, y = data.prepare_target(frame, "class", 2)
    return train.train_model("scorecard", X, y, seed=0), X


def records(X: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON objects, the way a decision stores its inputs."""
    return json.loads(X.to_json(orient="records"))


def register_champion(bank: dict[str, Any], *, with_reference: bool = True, name: str = "retail-pd") -> int:
    """Register the scorecard and take it through validation, approval (another person) and promotion."""
    result, _X = german_scorecard()
    metrics = dict(engine.artifact_metrics(result.artifact))
    if with_reference:
        metrics["reference"] = result.reference
    v = scoring.register_version(bank["risk"], model_name=name, artifact=result.artifact, metrics=metrics,
                                 report_html="<p>validation report</p>")
    scoring.validate_version(bank["risk"], v.id)
    scoring.approve_version(bank["admin"], v.id)
    scoring.promote_champion(bank["admin"], v.id)
    return v.id


def add_decisions(version_id: int, inputs: Sequence[dict[str, Any]], *, at: dt.datetime, prefix: str,
                  approve: Callable[[str], bool] = lambda grade: grade in ("A", "B", "C", "D")) -> list[Decision]:
    """Decisions of the version made at `at`, scored by the registered artifact on these inputs."""
    result, _X = german_scorecard()
    scored = result.compiled().score_records([dict(r) for r in inputs])
    rows = []
    for k, (record, s) in enumerate(zip(inputs, scored, strict=True)):
        text = json.dumps(record, sort_keys=True)
        rows.append(Decision(
            application_ref=f"{prefix}-{k:05d}", customer_id=1, product="consumer", branch="BJ01", channel="web",
            requested_minor=5_000_000, term=12, inputs=record, inputs_hash=hashlib.sha256(text.encode()).hexdigest(),
            model_version_id=version_id, score=s["score"], pd=s["pd"], grade=s["grade"],
            outcome="approve" if approve(s["grade"]) else "decline", actor_name="system"))
    made = Decision.objects.bulk_create(rows, batch_size=500)
    Decision.objects.filter(application_ref__startswith=f"{prefix}-").update(created_at=at)
    return made


def pay_out(bank: dict[str, Any], refs: Sequence[str], start: dt.date) -> list[Loan]:
    """A loan for each application reference, started on `start` (booked by trusted code, then tied to its
    application as a payout against it would be)."""
    loans.create_product(bank["risk"], **CONSUMER)
    customer = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01")).id
    made = []
    for ref in refs:
        loan = loans.disburse(None, customer_id=customer, product="consumer", amount="10000.00", term=12,
                              start_date=start)
        Loan.objects.filter(pk=loan.pk).update(application_ref=ref)
        made.append(loan)
    return made


def keep_snapshot(as_of: dt.date, worst_dpd: dict[int, int]) -> Snapshot:
    """A kept snapshot of the book on `as_of` holding each loan's worst days past due so far."""
    ids = np.array(sorted(worst_dpd), dtype=np.int64)
    tables = {"loans": {"loan": ids, "worst_dpd": np.array([worst_dpd[i] for i in ids.tolist()], dtype=np.int64)},
              "applications": {"grade": np.array([], dtype=object)}, "quotas": {"quota": np.array([], dtype=np.int64)}}
    digest = store.write(as_of, tables)
    return Snapshot.objects.create(as_of=as_of, path=str(store.folder(as_of)), loans=int(ids.size), sha256=digest)


def moment(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())
