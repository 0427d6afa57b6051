"""The demo scorecard's inputs in the product's own words: what a Chinese lender's application and credit-bureau
file hold, with an English and a Chinese name for each input and each of its categories.

Why here (plain data, no Django): the training recipe (`creditplan.scoring.demo`) re-codes the German credit data
into these codes, the demo bureau answers them, the reason texts copied into an artifact come from this table,
and the pages read them through `creditplan.scoring.labels`. One table, so a code never reaches a page.

Each category is a readable product code (``overdue_past``), never a data set's code (``A33``). Attributes a
lender must not or would not score on — sex and marital status, nationality ("foreign worker"), whether a
telephone is registered — are not part of the vocabulary: the demo scorecard is trained without them.
"""

from __future__ import annotations

Pair = tuple[str, str]  # (English, Chinese)

#: Input name → (English, Chinese): what the applicant states, what the bank's records hold, and the bureau file.
FEATURES: dict[str, Pair] = {
    # stated by the applicant (origination.domain.STATED_INPUTS)
    "loan_purpose": ("Purpose of the loan", "贷款用途"),
    "monthly_income_minor": ("Monthly income", "月收入"),
    "existing_debt_service_minor": ("Monthly payments on existing debts", "现有债务月还款额"),
    "employment": ("Employment", "就业状况"),
    "months_employed": ("Months at the current employer", "现单位工作月数"),
    "housing": ("Housing situation", "住房情况"),
    "dependants": ("Dependants", "供养人数"),
    # the bank's records
    "age": ("Age", "年龄"),
    # the credit bureau's file (the demo bureau: scoring.demo.BUREAU_FILE)
    "current_account": ("Current-account balance", "活期账户余额"),
    "repayment_record": ("Repayment record at the bureau", "征信还款记录"),
    "deposits": ("Deposits", "存款"),
    "instalment_to_income": ("Instalments as a share of income", "月供收入比"),
    "guarantee": ("Co-borrower or guarantor", "共同借款人或担保人"),
    "years_at_address": ("Years at the current address", "现住址居住年限"),
    "assets": ("Assets", "名下资产"),
    "other_lender_instalments": ("Instalment plans with other lenders", "其他机构分期"),
    "existing_credit_accounts": ("Existing credit accounts", "现有信贷账户数"),
    "occupation_level": ("Occupation level", "职业层级"),
}

#: Input name → category code → (English, Chinese). Numeric inputs (months, years, counts, money) have none.
VALUES: dict[str, dict[str, Pair]] = {
    "loan_purpose": {
        "consumption": ("Household consumption", "家庭消费"), "car": ("Car purchase", "购车"),
        "renovation": ("Home renovation", "住房装修"), "education": ("Education", "教育"),
        "travel": ("Travel", "旅游"), "medical": ("Medical", "医疗"),
        "business": ("Business operation", "经营周转"), "other": ("Other", "其他"),
    },
    "employment": {
        "employed": ("Employed", "受雇"), "self_employed": ("Self-employed", "自雇"),
        "civil_servant": ("Civil servant", "公务员"), "retired": ("Retired", "退休"),
        "student": ("Student", "学生"), "unemployed": ("Not employed", "无业"),
    },
    "housing": {
        "own": ("Own home", "自有住房"), "rent": ("Renting", "租房"), "free": ("Living with family", "与家人同住"),
    },
    "current_account": {
        "no_account": ("No current account", "无活期账户"),
        "overdrawn": ("Overdrawn", "透支"),
        "low_balance": ("Low balance", "余额较低"),
        "salary_credits": ("Regular salary credits", "有稳定工资入账"),
    },
    "repayment_record": {
        "no_credit": ("No credit before, or all repaid", "无信贷记录或均已结清"),
        "all_repaid": ("All credits with this lender repaid", "本机构贷款均已按时结清"),
        "current_on_time": ("Current credits paid on time", "现有贷款按时还款"),
        "overdue_past": ("Overdue in the past", "曾有逾期"),
        "critical": ("Critical account, credits at other lenders", "关注类账户，他行有贷款"),
    },
    "deposits": {
        "none": ("No deposits on record", "无存款记录"),
        "small": ("Small", "较少"),
        "moderate": ("Moderate", "一般"),
        "substantial": ("Substantial", "较多"),
        "large": ("Large", "充足"),
    },
    "instalment_to_income": {
        "low": ("Low", "低"), "moderate": ("Moderate", "中等"), "high": ("High", "较高"),
        "very_high": ("Very high", "很高"),
    },
    "guarantee": {
        "none": ("None", "无"), "co_borrower": ("Co-borrower", "有共同借款人"), "guarantor": ("Guarantor", "有担保人"),
    },
    "assets": {
        "real_estate": ("Real estate", "房产"),
        "insurance_savings": ("Life insurance or savings plan", "人寿保险或储蓄计划"),
        "vehicle": ("Vehicle or other assets", "车辆或其他资产"),
        "none": ("No known assets", "无已知资产"),
    },
    "other_lender_instalments": {
        "bank": ("With another bank", "他行分期"), "retail": ("With a retailer", "商户分期"), "none": ("None", "无"),
    },
    "occupation_level": {
        "none_or_casual": ("Unemployed or casual work", "无业或临时工"),
        "general": ("General worker", "普通员工"),
        "skilled": ("Skilled worker or clerk", "技术工人或职员"),
        "manager": ("Manager, professional or self-employed", "管理人员、专业人士或个体经营者"),
    },
}

#: Units of the numeric inputs: (English, Chinese) after the number.
UNITS: dict[str, Pair] = {
    "months_employed": ("months", "个月"), "years_at_address": ("years", "年"), "age": ("years", "岁"),
    "dependants": ("", "人"), "existing_credit_accounts": ("", "个"),
}


def reason_texts() -> dict[str, dict[str, str]]:
    """The inputs' names as the reason texts an artifact carries ({"en": …, "zh": …})."""
    return {name: {"en": en, "zh": zh} for name, (en, zh) in FEATURES.items()}


#: How the demo's training recipe reads the German credit data (UCI Statlog, its `german.doc`) into this vocabulary:
#: the data set's column → (the input's name, its code → the category). A column whose map is empty is a count
#: (1–4) kept as a number. The data set's other bureau columns are not used: `personal_status_sex` (sex and marital
#: status must not be scored), `foreign_worker` (nationality) and `telephone` (nothing a Chinese bureau reports).
GERMAN_BUREAU: dict[str, tuple[str, dict[str, str]]] = {
    "checking_status": ("current_account", {"A11": "overdrawn", "A12": "low_balance", "A13": "salary_credits",
                                            "A14": "no_account"}),
    "credit_history": ("repayment_record", {"A30": "no_credit", "A31": "all_repaid", "A32": "current_on_time",
                                            "A33": "overdue_past", "A34": "critical"}),
    "savings": ("deposits", {"A61": "small", "A62": "moderate", "A63": "substantial", "A64": "large",
                             "A65": "none"}),
    # the data set's 1…4: the instalment's share of disposable income, 4 the highest share
    "installment_rate_pct_income": ("instalment_to_income", {"1": "low", "2": "moderate", "3": "high",
                                                             "4": "very_high"}),
    "other_debtors_guarantors": ("guarantee", {"A101": "none", "A102": "co_borrower", "A103": "guarantor"}),
    "residence_since": ("years_at_address", {}),
    "property": ("assets", {"A121": "real_estate", "A122": "insurance_savings", "A123": "vehicle",
                            "A124": "none"}),
    "other_installment_plans": ("other_lender_instalments", {"A141": "bank", "A142": "retail", "A143": "none"}),
    "existing_credits_this_bank": ("existing_credit_accounts", {}),
    "job": ("occupation_level", {"A171": "none_or_casual", "A172": "general", "A173": "skilled",
                                 "A174": "manager"}),
}
GERMAN_DROPPED: tuple[str, ...] = ("personal_status_sex", "foreign_worker", "telephone")
