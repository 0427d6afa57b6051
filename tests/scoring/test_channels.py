"""One artifact, one score: the CLI, the API and the batch engines (local and Spark) give identical results."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pytest

from creditplan.batch import engines
from creditplan.scoring import engine
from factories import PASSWORD


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Scorecard trained by the CLI on German credit, plus a 300-row file to score (with a blank and an
    unseen category mixed in, so fallbacks are exercised too)."""
    from django.core.management import call_command

    from creditplan.scoring.domain import datasets

    d = tmp_path_factory.mktemp("model")
    df, target, bad = datasets.german_credit()
    src = d / "german.csv"
    df.to_csv(src, index=False)
    model = d / "MODEL.json"
    call_command(
        "model", "train", "--data", str(src), "--target", target, "--bad", str(bad), "--out", str(model)
    )
    sample = df.drop(columns=[target]).sample(300, random_state=1).reset_index(drop=True)
    sample = sample.astype(object)
    sample.loc[0, "checking_status"] = "A19"  # never seen in training
    sample.loc[1, "credit_amount"] = None
    data = d / "apps.csv"
    sample.to_csv(data, index=False)
    return model, data, sample


def _cli_scores(model, data, out, engine_name="local"):
    from django.core.management import call_command

    call_command(
        "model",
        "score",
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        "--engine",
        engine_name,
    )
    with open(out, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_cli_api_and_local_batch_agree(trained, tmp_path, client, bank):
    model, data, sample = trained
    cli = _cli_scores(model, data, tmp_path / "scores.csv")
    assert len(cli) == 300
    assert not any(r["score"] in ("", "nan") for r in cli)
    assert "unseen_category" in cli[0]["warnings"]

    artifact = json.loads(model.read_text())
    from creditplan.scoring import services

    version = services.register_version(
        bank["risk"], model_name="german", artifact=artifact, report_html="<p/>"
    )
    token = client.post(
        "/api/v1/auth/token",
        {"username": "officer_bj", "password": PASSWORD},
        content_type="application/json",
    ).json()["token"]
    records = json.loads(sample.to_json(orient="records"))
    r = client.post(
        f"/api/v1/models/{version.id}/score",
        {"records": records},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert r.status_code == 200, r.content
    api = r.json()["results"]

    table = engine.read_arrow(data)
    batch = engines.run_local(table, engine.arrow_kernel(artifact), batch_size=64).to_pydict()

    cli_scores = np.array([float(x["score"]) for x in cli])
    np.testing.assert_array_equal(cli_scores, np.array([x["score"] for x in api]))
    np.testing.assert_array_equal(cli_scores, np.array(batch["score"]))
    assert [x["grade"] for x in cli] == [x["grade"] for x in api] == batch["grade"]
    assert [x["reason_1_en"] for x in cli] == [x["reasons"][0] for x in api] == batch["reason_1_en"]


@pytest.mark.slow
def test_spark_engine_gives_the_same_scores(trained, tmp_path):
    """Needs the [spark] extra and Java 17 (make test installs PySpark; Java is on the machine)."""
    model, data, _ = trained
    local = _cli_scores(model, data, tmp_path / "local.csv")
    spark = _cli_scores(model, data, tmp_path / "spark.csv", engine_name="spark")
    assert [r["score"] for r in spark] == [r["score"] for r in local]
    assert [r["reason_2_zh"] for r in spark] == [r["reason_2_zh"] for r in local]


def test_arrow_kernel_schema_is_stable():
    assert engine.output_schema().names[:3] == ["score", "pd", "grade"]
    assert pa.types.is_float64(engine.output_schema().field("score").type)


def test_train_from_a_database_query(db, tmp_path):
    """`--query` trains from a SELECT on the configured database (here: a table loaded from German credit)."""
    from django.core.management import call_command
    from django.db import connection

    from creditplan.scoring.domain import datasets

    df, target, bad = datasets.german_credit()
    cols = ["checking_status", "duration_months", "credit_history", "credit_amount", "savings", "age_years", target]
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE demo_loans (checking_status varchar(4), duration_months integer, "
                    "credit_history varchar(4), credit_amount integer, savings varchar(4), age_years integer, "
                    "class integer)")
        cur.executemany("INSERT INTO demo_loans VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [tuple(int(v) if isinstance(v, int | float) else v for v in row) for row in
                         df[cols].itertuples(index=False)])
    out = tmp_path / "q.json"
    call_command("model", "train", "--query", "SELECT * FROM demo_loans", "--target", "class", "--bad", "2",
                 "--out", str(out))
    artifact = json.loads(out.read_text())
    assert artifact["training"]["metrics"]["holdout"]["auc"] > 0.7
    with pytest.raises(Exception, match="SELECT"):
        call_command("model", "train", "--query", "DELETE FROM demo_loans", "--target", "class", "--bad", "2",
                     "--out", str(out))


def test_cli_offers_reject_inference(tmp_path):
    """Approved-only German data (the riskiest third by checking status held out as 'rejects')."""
    from django.core.management import call_command

    from creditplan.scoring.domain import datasets

    df, target, bad = datasets.german_credit()
    rejected = df["checking_status"] == "A11"
    df[~rejected].to_csv(tmp_path / "approved.csv", index=False)
    df[rejected].drop(columns=[target]).to_csv(tmp_path / "rejected.csv", index=False)
    out = tmp_path / "ri.json"
    call_command("model", "train", "--data", str(tmp_path / "approved.csv"), "--target", target, "--bad", str(bad),
                 "--rejects", str(tmp_path / "rejected.csv"), "--reject-method", "parcelling",
                 "--reject-uplift", "1.5", "--out", str(out))
    artifact = json.loads(out.read_text())
    assert artifact["training"]["metrics"]["holdout"]["auc"] > 0.6
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="scorecards only"):
        call_command("model", "train", "--data", str(tmp_path / "approved.csv"), "--target", target, "--bad",
                     str(bad), "--kind", "gbm", "--rejects", str(tmp_path / "rejected.csv"), "--out", str(out))
