"""Issue 20 §7: the demo scorecard reads like a Chinese lender's — its inputs are the product's words (current
account, repayment record, deposits…) with Chinese and English labels, never the German data set's names and codes
(`checking_status`, A14, A32, A201), and it is trained without sex and marital status, nationality or telephone."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import pytest
from django.utils import translation

from creditplan.scoring import demo, labels
from creditplan.scoring.domain.vocabulary import FEATURES, VALUES

_DATASET_CODE = re.compile(r"^A\d{2,3}$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_OLD_NAMES = {"checking_status", "credit_history", "savings", "installment_rate_pct_income", "personal_status_sex",
              "other_debtors_guarantors", "residence_since", "property", "other_installment_plans",
              "existing_credits_this_bank", "job", "telephone", "foreign_worker"}
_NOT_SCORED = {"personal_status_sex", "foreign_worker", "telephone", "sex", "marital_status"}


def _artifact(key: str) -> dict[str, Any]:
    entry = next(v for v in demo.manifest()["versions"] if v["key"] == key)
    result: dict[str, Any] = json.loads(gzip.decompress((demo.MODELS_DIR / entry["artifact"]).read_bytes()))
    return result


@pytest.mark.parametrize("key", ["retail-pd-scorecard", "retail-pd-gbm"])
def test_the_shipped_demo_models_read_the_products_inputs_not_the_data_sets(key: str) -> None:
    artifact = _artifact(key)
    inputs = {i["name"] for i in artifact["inputs"]}
    assert inputs <= set(FEATURES), inputs - set(FEATURES)  # every input has a label in both languages
    assert not inputs & (_OLD_NAMES | _NOT_SCORED)
    assert {"current_account", "repayment_record", "deposits", "months_employed"} <= inputs
    assert artifact["reason_texts"]["repayment_record"] == {"en": "Repayment record at the bureau",
                                                           "zh": "征信还款记录"}
    text = json.dumps(artifact)
    assert not re.search(r'"A\d{2,3}"', text)  # no A14, A32, A201 anywhere in the model


def test_the_scorecards_categories_are_product_codes_with_labels_and_numbers_are_numbers() -> None:
    artifact = _artifact("retail-pd-scorecard")
    features = {f["name"]: f for f in artifact["scorecard"]["features"]}
    for name, f in features.items():
        if f["type"] == "categorical":
            codes = {c for b in f["bins"] for c in b}
            assert codes <= set(VALUES[name]), (name, codes - set(VALUES[name]))
    assert features["months_employed"]["type"] == "numeric"  # 24 months scores: not an unseen category
    assert features["age"]["type"] == "numeric"


def test_the_demo_bureau_answers_readable_codes_without_the_dropped_attributes() -> None:
    files = [demo.demo_bureau_file(f"creditplan-demo:{n}") for n in range(1, 60)]
    for f in files:
        assert set(f) == set(demo.BUREAU_FILE) and not set(f) & _NOT_SCORED
        for name, value in f.items():
            if name in VALUES:
                assert value in VALUES[name]
            else:
                assert isinstance(value, int) and 1 <= value <= 4  # years at the address, credit accounts
    assert {f["repayment_record"] for f in files} >= {"current_on_time", "critical"}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_input_and_category_has_a_label_in_the_pages_language(language: str) -> None:
    with translation.override(language):
        for name in FEATURES:
            words = [labels.feature_label(name)]
            words += [labels.feature_value_label(name, code) for code in VALUES.get(name, {})]
            for w in words:
                assert w and "_" not in w, (name, w)
                assert bool(_CJK.search(w)) == (language == "zh-hans"), (name, w)
                if language == "zh-hans":
                    assert not re.search(r"[A-Za-z]", w), (name, w)
        assert labels.feature_value_label("months_employed", 30) == ("30个月" if language == "zh-hans"
                                                                     else "30 months")


def test_an_input_scored_before_the_change_still_reads_in_words() -> None:
    with translation.override("zh-hans"):
        assert labels.feature_label("checking_status") == "活期账户余额"
        assert labels.feature_value_label("checking_status", "A11") == "透支"
        assert labels.feature_value_label("credit_history", "A33") == "曾有逾期"
    with translation.override("en"):
        assert labels.feature_value_label("credit_history", "A33") == "Overdue in the past"
        assert not _DATASET_CODE.match(labels.feature_value_label("savings", "A65"))
