"""Issue 20 §7: `make demo` in a clone with no `../shared` beside it gives the whole demo — models registered, the
champion scoring, the seeded applications scored (not referred for a missing score). The demo seeder runs here with
CREDITPLAN_DATA_DIR an empty folder and every reader of the public data sets refusing to run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from creditplan.decisions.models import Decision
from creditplan.org.models import User
from creditplan.origination import sources
from creditplan.origination.models import Application
from creditplan.risk.services import behaviour
from creditplan.scoring import demo
from creditplan.scoring import services as scoring
from creditplan.scoring.domain import datasets

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


class _Quiet:
    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@pytest.fixture
def clone_without_shared(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone of the public repository: CREDITPLAN_DATA_DIR an empty folder, the data set readers unusable."""
    empty = tmp_path / "no-shared-data"
    empty.mkdir()
    settings.DATA_DIR = empty
    monkeypatch.setenv("CREDITPLAN_DATA_DIR", str(empty))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the demo read a public data set")

    for module, name in ((demo, "german_rows"), (demo, "german_source"), (demo, "train_retail_pd"),
                         (behaviour, "taiwan_source"), (behaviour, "taiwan_frame"),
                         (behaviour, "behaviour_training"), (datasets, "german_credit_path"),
                         (datasets, "taiwan_default_path")):
        monkeypatch.setattr(module, name, refuse, raising=False)
    return empty


@pytest.mark.django_db(transaction=True)
def test_the_demo_is_whole_from_the_repository_alone(clone_without_shared: Path) -> None:
    call_command("seed_demo", customers=60, loans=3, stdout=_Quiet())

    # the models are registered: the retail champion and its challenger, the behaviour champion
    risk = User.objects.get(username="risk")
    versions = {(v.model, v.status) for v in scoring.list_versions(risk)}
    assert {("retail-pd", "champion"), ("retail-pd", "draft"), ("behaviour-pd", "champion")} <= versions

    # the champion scores a demo customer's file (the demo bureau, from the shipped profiles)
    view, _artifact = scoring.champion_artifact("retail-pd")
    customer = Application.objects.order_by("id").first().customer  # type: ignore[union-attr]
    stated = {"loan_purpose": "consumption", "months_employed": 24, "age": 35, "housing": "rent", "dependants": 1}
    [scored] = scoring.score_records(risk, view.id, [{**stated, **sources.demo_credit_file(customer)["attributes"]}])
    assert scored["grade"] and not scored["warnings"]

    # the applications the demo submitted now were scored by the champion, none referred for a missing score
    opened = Application.objects.exclude(status="draft").values_list("ref", flat=True)
    decisions = list(Decision.objects.filter(application_ref__in=list(opened)))
    live = [d for d in decisions if d.model_version_id == view.id]
    assert len(live) >= 10, "the open applications were decided without the champion"
    assert all(d.score is not None and d.grade for d in live)
    missing = [d.application_ref for d in live
               if any(r.get("code") == "MISSING_FIELD" and "score" in (r.get("en") or "") for r in d.reasons)]
    assert missing == []
    assert {d.outcome for d in live} >= {"approve"}  # scored well enough to be approved straight through
