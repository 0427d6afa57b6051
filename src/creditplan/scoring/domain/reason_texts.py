"""Customer-readable names of the factors behind a score, in English and Simplified Chinese.

Why a table of words: a decline letter must say "Repayment status last month", not ``PAY_0``. The texts
are copied into each artifact at training time, so a model keeps its wording even if this table changes;
a risk officer can edit them in the artifact before approval. Unknown columns fall back to their name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditplan.scoring.domain.features import describe_derived
from creditplan.scoring.domain.vocabulary import reason_texts as _product_inputs

_MONTHS_EN = ["September", "August", "July", "June", "May", "April"]
_MONTHS_ZH = ["9月", "8月", "7月", "6月", "5月", "4月"]


def _ago(i: int) -> tuple[str, str]:
    if i == 0:
        return "last month", "上月"
    return f"{i + 1} months ago", f"{i + 1}个月前"


def _taiwan() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {
        "LIMIT_BAL": {"en": "Credit limit granted", "zh": "授信额度"},
        "SEX": {"en": "Sex", "zh": "性别"},
        "EDUCATION": {"en": "Education level", "zh": "教育程度"},
        "MARRIAGE": {"en": "Marital status", "zh": "婚姻状况"},
        "AGE": {"en": "Age", "zh": "年龄"},
        "PAY_max": {"en": "Worst repayment status in the last six months", "zh": "近6个月最差还款状况"},
        "PAY_min": {"en": "Best repayment status in the last six months", "zh": "近6个月最好还款状况"},
        "PAY_mean": {"en": "Average repayment status over six months", "zh": "近6个月平均还款状况"},
        "PAY_std": {"en": "How much the repayment status varied", "zh": "还款状况波动程度"},
        "PAY_count_positive": {"en": "Number of months paid late", "zh": "近6个月逾期月数"},
        "PAY_delta": {"en": "Change in repayment status over six months", "zh": "近6个月还款状况变化"},
        "BILL_AMT_max": {"en": "Highest statement balance in six months", "zh": "近6个月最高账单金额"},
        "BILL_AMT_min": {"en": "Lowest statement balance in six months", "zh": "近6个月最低账单金额"},
        "BILL_AMT_mean": {"en": "Average statement balance", "zh": "近6个月平均账单金额"},
        "BILL_AMT_std": {"en": "How much the statement balance varied", "zh": "账单金额波动程度"},
        "BILL_AMT_count_positive": {"en": "Number of months with a balance", "zh": "近6个月有欠款的月数"},
        "BILL_AMT_delta": {"en": "Change in statement balance over six months", "zh": "近6个月账单金额变化"},
        "PAY_AMT_max": {"en": "Largest monthly payment in six months", "zh": "近6个月最高还款金额"},
        "PAY_AMT_min": {"en": "Smallest monthly payment in six months", "zh": "近6个月最低还款金额"},
        "PAY_AMT_mean": {"en": "Average monthly payment", "zh": "近6个月平均还款金额"},
        "PAY_AMT_std": {"en": "How much the monthly payment varied", "zh": "还款金额波动程度"},
        "PAY_AMT_count_positive": {"en": "Number of months with a payment", "zh": "近6个月有还款的月数"},
        "PAY_AMT_delta": {"en": "Change in monthly payment over six months", "zh": "近6个月还款金额变化"},
        "BILL_AMT1_per_LIMIT_BAL": {
            "en": "Latest balance relative to the credit limit",
            "zh": "最近账单金额占授信额度比例",
        },
        "BILL_AMT_mean_per_LIMIT_BAL": {
            "en": "Average balance relative to the credit limit",
            "zh": "平均账单金额占授信额度比例",
        },
        "PAY_AMT1_per_LIMIT_BAL": {
            "en": "Latest payment relative to the credit limit",
            "zh": "最近还款金额占授信额度比例",
        },
        "PAY_AMT_mean_per_LIMIT_BAL": {
            "en": "Average payment relative to the credit limit",
            "zh": "平均还款金额占授信额度比例",
        },
        "PAY_AMT1_per_BILL_AMT1": {
            "en": "Latest payment as a share of the latest balance",
            "zh": "最近还款金额占最近账单金额比例",
        },
        "PAY_AMT_sum_per_BILL_AMT_sum": {
            "en": "Payments as a share of balances over six months",
            "zh": "近6个月还款总额占账单总额比例",
        },
        "BILL_AMT1_per_AGE": {"en": "Latest balance relative to age", "zh": "最近账单金额与年龄之比"},
        "BILL_AMT_mean_per_AGE": {"en": "Average balance relative to age", "zh": "平均账单金额与年龄之比"},
        "PAY_AMT1_per_AGE": {"en": "Latest payment relative to age", "zh": "最近还款金额与年龄之比"},
        "PAY_AMT_mean_per_AGE": {"en": "Average payment relative to age", "zh": "平均还款金额与年龄之比"},
    }
    for i, col in enumerate(["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]):
        en, zh = _ago(i)
        texts[col] = {
            "en": f"Repayment status {en} ({_MONTHS_EN[i]})",
            "zh": f"{zh}（{_MONTHS_ZH[i]}）还款状况",
        }
    for i in range(6):
        en, zh = _ago(i)
        texts[f"BILL_AMT{i + 1}"] = {
            "en": f"Statement balance {en} ({_MONTHS_EN[i]})",
            "zh": f"{zh}（{_MONTHS_ZH[i]}）账单金额",
        }
        texts[f"PAY_AMT{i + 1}"] = {
            "en": f"Amount paid {en} ({_MONTHS_EN[i]})",
            "zh": f"{zh}（{_MONTHS_ZH[i]}）还款金额",
        }
    return texts


_GERMAN: dict[str, dict[str, str]] = {
    "checking_status": {"en": "Balance of your current account", "zh": "活期账户余额状况"},
    "duration_months": {"en": "Length of the loan", "zh": "贷款期限"},
    "credit_history": {"en": "How past loans were repaid", "zh": "过往贷款还款记录"},
    "purpose": {"en": "Purpose of the loan", "zh": "贷款用途"},
    "credit_amount": {"en": "Amount of the loan", "zh": "贷款金额"},
    "savings": {"en": "Savings and bonds", "zh": "储蓄及债券余额"},
    "employment_since": {"en": "Time in current employment", "zh": "现职工作年限"},
    "installment_rate_pct_income": {
        "en": "Instalment as a share of disposable income",
        "zh": "月供占可支配收入比例",
    },
    "personal_status_sex": {"en": "Personal and family status", "zh": "个人及家庭状况"},
    "other_debtors_guarantors": {"en": "Co-applicant or guarantor", "zh": "共同借款人或担保人"},
    "residence_since": {"en": "Time at current address", "zh": "现住址居住时间"},
    "property": {"en": "Property owned", "zh": "名下财产"},
    "age_years": {"en": "Age", "zh": "年龄"},
    "other_installment_plans": {"en": "Other instalment plans", "zh": "其他分期付款"},
    "housing": {"en": "Housing situation", "zh": "住房情况"},
    "existing_credits_this_bank": {
        "en": "Number of loans already with this bank",
        "zh": "在本行已有贷款笔数",
    },
    "job": {"en": "Type of job", "zh": "职业类型"},
    "people_liable": {"en": "Number of dependants", "zh": "需供养人数"},
    "telephone": {"en": "Telephone registered in your name", "zh": "本人名下登记电话"},
    "foreign_worker": {"en": "Foreign worker status", "zh": "外籍劳工身份"},
}

# the product's own inputs (the application, the records, the bureau file: scoring.domain.vocabulary) first; a data
# set's column of the same name keeps its wording
KNOWN_REASON_TEXTS: dict[str, dict[str, str]] = {**_product_inputs(), **_GERMAN, **_taiwan()}


def reason_text(name: str, derived_spec: Mapping[str, Any] | None = None) -> dict[str, str]:
    """English and Chinese text for a feature: the known wording, a derived feature's description, or its name."""
    known = KNOWN_REASON_TEXTS.get(name)
    if known:
        return dict(known)
    if derived_spec is not None:
        return describe_derived(derived_spec)
    return {"en": name, "zh": name}
