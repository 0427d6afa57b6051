"""The demo's shipped models (src/creditplan/scoring/demo_models): they are what their recipe trains on the public
data sets, and `make demo` registers them — and its bureau answers — on a machine without those data sets."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from creditplan.customers import services as customers
from creditplan.customers.models import Customer
from creditplan.org import services as org
from creditplan.origination import sources
from creditplan.risk.services import behaviour
from creditplan.scoring import demo
from creditplan.scoring import services as scoring
from factories import individual

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:\+00:00|Z)?")
_NAME = re.compile(r"\b(scorecard|tree|gbm)-\d{14}\b")


def _read(folder: Path, name: str) -> str:
    data = (folder / name).read_bytes()
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")


def _stable_artifact(text: str) -> dict[str, Any]:
    """The artifact without what differs between two trainings of the same data: when (and how fast) it ran."""
    artifact = json.loads(text)
    for key in ("created_at", "name"):
        artifact.pop(key)
    for key in ("created_at", "train_seconds"):
        artifact["training"].pop(key, None)
    return dict(artifact)


def _stable_report(html: str) -> str:
    return _NAME.sub("NAME", _STAMP.sub("TIME", html))


@pytest.mark.slow
def test_the_shipped_demo_models_equal_a_fresh_training_on_the_data_sets(tmp_path: Path) -> None:
    log = io.StringIO()
    call_command("build_demo_models", out=str(tmp_path), stdout=log)
    assert "retail-pd-scorecard: retail-pd champion" in log.getvalue()
    shipped, fresh = demo.manifest(), demo.manifest(tmp_path)
    assert [v["key"] for v in shipped["versions"]] == ["retail-pd-scorecard", "retail-pd-gbm", "behaviour-pd-scorecard"]
    assert shipped["sources"] == fresh["sources"]  # the same data set files (sha256), cited
    for ours, theirs in zip(shipped["versions"], fresh["versions"], strict=True):
        assert {k: v for k, v in ours.items() if k != "artifact_sha256"} == \
               {k: v for k, v in theirs.items() if k != "artifact_sha256"}
        assert _stable_artifact(_read(demo.MODELS_DIR, ours["artifact"])) == \
               _stable_artifact(_read(tmp_path, theirs["artifact"])), f"{ours['key']}: rebuild the demo models"
        assert json.loads(_read(demo.MODELS_DIR, ours["metrics"])) == json.loads(_read(tmp_path, theirs["metrics"]))
        assert _stable_report(_read(demo.MODELS_DIR, ours["report_html"])) == \
               _stable_report(_read(tmp_path, theirs["report_html"]))
    assert _read(demo.MODELS_DIR, demo.BUREAU_PROFILES) == _read(tmp_path, demo.BUREAU_PROFILES)
    profiles = json.loads(_read(demo.MODELS_DIR, demo.BUREAU_PROFILES))
    assert profiles["files"] == {"good": 700, "bad": 300}  # counts of the data set's files, not its rows
    assert all(sum(a["good"].values()) == 700 and sum(a["bad"].values()) == 300
               for a in profiles["attributes"].values())
    # the licence and the sources travel with the files
    provenance = (demo.MODELS_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    for needle in ("CC BY 4.0", "https://doi.org/10.24432/C5NC77", "https://doi.org/10.24432/C55S3H",
                   "creditplan build-demo-models", *(s["sha256"] for s in shipped["sources"].values())):
        assert needle in provenance


@pytest.fixture
def no_data_sets(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's machine: the repository alone, CREDITPLAN_DATA_DIR an empty folder, the data readers unusable."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    settings.DATA_DIR = empty
    monkeypatch.setenv("CREDITPLAN_DATA_DIR", str(empty))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the demo read a public data set")

    for module, name in ((demo, "german_rows"), (demo, "german_source"), (demo, "train_retail_pd"),
                         (behaviour, "taiwan_frame"), (behaviour, "behaviour_training")):
        monkeypatch.setattr(module, name, refuse, raising=False)


@pytest.fixture
def approver(bank: dict[str, Any]) -> Any:
    return org.create_user(None, username="risk2", password="test-pass-123", role="risk_manager", branch_code="HO",
                           display_name="risk2")


@pytest.mark.django_db
def test_the_demo_registers_its_shipped_models_without_the_data_sets(bank: dict[str, Any], approver: Any,
                                                                     no_data_sets: None) -> None:
    assert demo.seed_models(bank["risk"], approver) == 2
    assert behaviour.seed_behaviour_model(bank["risk"], approver) == 1

    shipped = {v["key"]: v for v in demo.manifest()["versions"]}
    versions = {(v.model, v.number): v for v in scoring.list_versions(bank["risk"])}
    champion, challenger = versions[("retail-pd", 1)], versions[("retail-pd", 2)]
    assert (champion.status, champion.kind, champion.artifact_sha256) == \
           ("champion", "scorecard", shipped["retail-pd-scorecard"]["artifact_sha256"])
    assert champion.approved_by == "risk2" and champion.author == "risk"  # four eyes, as a trained one
    assert (challenger.status, challenger.kind, challenger.artifact_sha256) == \
           ("draft", "gbm", shipped["retail-pd-gbm"]["artifact_sha256"])
    view, artifact = scoring.champion_artifact(behaviour.BEHAVIOUR_MODEL)
    assert view.artifact_sha256 == shipped["behaviour-pd-scorecard"]["artifact_sha256"]
    assert view.metrics["holdout"]["auc"] > 0.7 and view.metrics.get("reference")  # monitoring has its baseline
    assert "Validation report" in scoring.report_html(bank["risk"], champion.id)


@pytest.mark.django_db
def test_the_demo_bureau_answers_files_the_champion_knows_without_the_data_sets(bank: dict[str, Any], approver: Any,
                                                                                no_data_sets: None) -> None:
    demo.seed_models(bank["risk"], approver)
    view, artifact = scoring.champion_artifact("retail-pd")
    known = {f["name"]: {c for b in f["bins"] for c in b} for f in artifact["scorecard"]["features"]
             if f["type"] == "categorical" and f["name"] in demo.BUREAU_FILE}
    assert len(known) >= 5  # checking status, credit history, savings… come from the bureau

    ids = [customers.create_customer(bank["officer_bj"], individual(n, branch="BJ01")).id for n in range(1, 41)]
    people = list(Customer.objects.filter(pk__in=ids).order_by("pk"))
    files = [sources.demo_credit_file(c) for c in people]
    assert all(f["bureau_flags"] == [] and f["blacklist"] is False for f in files)
    assert all(set(f["attributes"]) == set(demo.BUREAU_FILE) for f in files)
    assert all(f["attributes"][name] in categories for f in files for name, categories in known.items())
    assert [sources.demo_credit_file(c) for c in people] == files  # the same customer, the same file
    assert len({json.dumps(f["attributes"], sort_keys=True) for f in files}) == len(files)  # not one file for all

    stated = {"loan_purpose": "consumption", "months_employed": 66, "age": 35, "housing": "own", "dependants": 1}
    scored = scoring.score_records(bank["risk"], view.id, [{**stated, **f["attributes"]} for f in files])
    assert all(not s["warnings"] for s in scored)  # nothing unseen or missing: every file is fully scored
    assert len({s["grade"] for s in scored}) >= 3  # a spread of grades, as the demo's applications need
