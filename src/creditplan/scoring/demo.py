"""Demo models: a German-credit scorecard taken through the whole governance path, so the registry page
shows a champion with its validation report (and a draft challenger) right after `make demo`.

The data set's columns are first put in the words of the platform's application, so that the demo's online form,
branch form and API are scored on what they collect: the applicant states the purpose, employment, housing and
dependants; age comes from the customer record; everything else is the credit bureau's file (the demo's bureau,
`origination.sources.demo_credit_file`, hands each customer one row of the data set). The loan's duration and
amount are left out: they are the terms the decision prices and limits, not facts about the applicant.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pandas as pd
from django.conf import settings

from creditplan.core.access import Actor
from creditplan.scoring import engine, services

PURPOSE = {"A40": "car", "A41": "car", "A42": "consumption", "A43": "consumption", "A44": "consumption",
           "A45": "renovation", "A46": "education", "A47": "travel", "A48": "education", "A49": "business",
           "A410": "other"}
HOUSING = {"A151": "rent", "A152": "own", "A153": "free"}
MONTHS_EMPLOYED = {"A71": 0, "A72": 6, "A73": 30, "A74": 66, "A75": 120}  # the middle of each band
#: What the bureau reports (the German data's codes: A11…, A30…).
BUREAU_FILE = ("checking_status", "credit_history", "savings", "installment_rate_pct_income", "personal_status_sex",
               "other_debtors_guarantors", "residence_since", "property", "other_installment_plans",
               "existing_credits_this_bank", "job", "telephone", "foreign_worker")


def german_source() -> Path:
    return Path(settings.DATA_DIR) / "german_credit" / "german_credit.csv"


@cache
def german_rows() -> pd.DataFrame:
    return pd.read_csv(german_source(), dtype=str)


def application_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The German data set as the platform's application and bureau name it (see the module's docstring)."""
    out = raw[list(BUREAU_FILE)].copy()
    out["loan_purpose"] = raw["purpose"].map(PURPOSE).fillna("other")
    out["months_employed"] = raw["employment_since"].map(MONTHS_EMPLOYED)
    out["age"] = raw["age_years"].astype(int)
    out["housing"] = raw["housing"].map(HOUSING)
    out["dependants"] = raw["people_liable"].astype(int)
    out["class"] = raw["class"]
    return out


def seed_models(author: Actor, approver: Actor, log: Callable[[str], object] = print) -> int:
    if not german_source().exists():
        log(f"no demo models: {german_source()} not found (set CREDITPLAN_DATA_DIR)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "german_credit_as_applications.csv"
        application_frame(german_rows()).to_csv(source, index=False)
        return _train_and_register(author, approver, source)


def _train_and_register(author: Actor, approver: Actor, source: Path) -> int:
    champion = engine.train(data_path=source, target="class", bad_value=2, kind="scorecard", seed=0)
    v = services.register_version(author, model_name="retail-pd", artifact=champion.artifact,
                                  report_html=champion.report_html, metrics=champion.metrics,
                                  description="Retail PD scorecard (German credit demo data, in the application's words)")
    services.validate_version(author, v.id)
    services.approve_version(approver, v.id)
    services.promote_champion(author, v.id)
    challenger = engine.train(data_path=source, target="class", bad_value=2, kind="gbm", seed=0)
    services.register_version(author, model_name="retail-pd", artifact=challenger.artifact,
                              report_html=challenger.report_html, metrics=challenger.metrics)
    return 2
