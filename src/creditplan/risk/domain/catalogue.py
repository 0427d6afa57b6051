"""What indicators are computed over (the fact tables and their fields), the dimensions they are broken down by,
and the standard set of key risk indicators the product ships.

The fact tables:
- ``loans``: one row per loan on the book at the as-of date (the loan snapshot taken after the close), with the
  same loan a period earlier in the ``prev_*`` fields (a day earlier for daily indicators, the previous
  month-end for monthly ones): roll rates and migration compare the two.
- ``applications``: one row per application decided in the trailing 30 days up to the as-of date, with its
  decision (outcome, score, grade) — decisions are stored and never change, so a recomputation agrees.
- ``quotas``: one row per credit-plan quota of the active plan at the as-of date (its limit, what is reserved
  and consumed, and where the plan's pace says it should be).

Amounts are integer fen, so sums are exact. Every standard indicator is a formula in the indicator language
(risk.domain.formula) that risk managers can read, copy and change in the application.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from creditplan.risk.domain.formula import Field, Kind
from creditplan.risk.domain.thresholds import AlertRule, Mode, RuleKind, Threshold, Worse

A, N, S, C, F = Kind.AMOUNT, Kind.NUMBER, Kind.SCORE, Kind.CATEGORY, Kind.FLAG

_LOAN_FIELDS: tuple[Field, ...] = (
    Field("loan", N, "Loan", "贷款"),
    Field("customer", C, "Customer", "客户"),
    Field("branch", C, "Branch", "机构"),
    Field("product", C, "Product", "产品"),
    Field("industry", C, "Industry", "行业"),
    Field("region", C, "Region", "地区"),
    Field("channel", C, "Channel", "渠道"),
    Field("grade", C, "Grade at origination", "发放时评级"),
    Field("vintage", C, "Origination month", "发放月份"),
    Field("score", S, "Score at origination", "发放时评分"),
    Field("principal", A, "Amount lent", "发放金额"),
    Field("outstanding", A, "Principal outstanding", "本金余额"),
    Field("overdue_principal", A, "Principal overdue", "逾期本金"),
    Field("dpd", N, "Days past due", "逾期天数"),
    Field("bucket", N, "Delinquency bucket (0 current … 7 360+)", "逾期段（0 正常 … 7 360天以上）"),
    Field("risk_class", N, "Five-category class (1 normal … 5 loss)", "五级分类（1 正常 … 5 损失）"),
    Field("months_on_book", N, "Months on book", "账龄（月）"),
    Field("worst_dpd", N, "Worst days past due so far", "历史最高逾期天数"),
    Field("fpd", F, "First payment default (first instalment 30+ days late)", "首期违约（首期逾期30天以上）"),
    Field("fpd_known", F, "First payment default can be judged", "首期违约已可判定"),
    Field("default_3m", F, "30+ days past due within 3 months on book", "放款3个月内逾期30天以上"),
    Field("default_3m_known", F, "3-month default can be judged", "3个月违约已可判定"),
    Field("restructured", F, "Restructured", "重组"),
    Field("written_off", F, "Written off", "已核销"),
    Field("allowance", A, "Loss allowance (ECL)", "减值准备（预期信用损失）"),
    Field("has_prev", F, "On the book a period earlier", "上期在册"),
    Field("prev_outstanding", A, "Principal outstanding a period earlier", "上期本金余额"),
    Field("prev_bucket", N, "Delinquency bucket a period earlier", "上期逾期段"),
    Field("prev_risk_class", N, "Five-category class a period earlier", "上期五级分类"),
)

_APPLICATION_FIELDS: tuple[Field, ...] = (
    Field("branch", C, "Branch", "机构"),
    Field("product", C, "Product", "产品"),
    Field("industry", C, "Industry", "行业"),
    Field("region", C, "Region", "地区"),
    Field("channel", C, "Channel", "渠道"),
    Field("grade", C, "Grade", "评级"),
    Field("outcome", C, "Automated decision (approve, refer, decline)", "自动决策（批准、转人工、拒绝）"),
    Field("approved", F, "Approved (automatically or by a reviewer)", "已批准（自动或人工）"),
    Field("decided", F, "Decided (approved or declined)", "已决定（批准或拒绝）"),
    Field("straight_through", F, "Approved straight through", "自动直通批准"),
    Field("score", S, "Score", "评分"),
    Field("requested", A, "Amount asked for", "申请金额"),
    Field("approved_amount", A, "Amount approved", "批准金额"),
)

_QUOTA_FIELDS: tuple[Field, ...] = (
    Field("branch", C, "Branch", "机构"),
    Field("product", C, "Product", "产品"),
    Field("industry", C, "Industry", "行业"),
    Field("region", C, "Region", "地区"),
    Field("limit", A, "Quota", "额度"),
    Field("used", A, "Used (reserved and consumed)", "已占用（预占与已用）"),
    Field("expected", A, "Where the plan's pace expects use to be today", "按计划进度今日应占用"),
)

FACTS: dict[str, dict[str, Field]] = {
    "loans": {f.name: f for f in _LOAN_FIELDS},
    "applications": {f.name: f for f in _APPLICATION_FIELDS},
    "quotas": {f.name: f for f in _QUOTA_FIELDS},
}

DIMENSIONS: dict[str, tuple[str, str]] = {
    "total": ("Whole institution", "全行"),
    "branch": ("Branch", "机构"),
    "product": ("Product", "产品"),
    "industry": ("Industry", "行业"),
    "region": ("Region", "地区"),
    "channel": ("Channel", "渠道"),
    "grade": ("Grade", "评级"),
    "vintage": ("Origination month", "发放月份"),
}
"""Every dimension an indicator can be broken down by; a fact table offers those among its fields."""


def dimensions_of(fact: str) -> tuple[str, ...]:
    return ("total", *(d for d in DIMENSIONS if d != "total" and d in FACTS[fact]))


class Frequency:
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ALL = (DAILY, WEEKLY, MONTHLY)


class Unit:
    RATIO = "ratio"  # shown as a percentage
    NUMBER = "number"  # shown as it is (a score)
    ALL = (RATIO, NUMBER)


@dataclass(frozen=True)
class Standard:
    """One indicator of the standard set, as shipped (risk managers may change their copy)."""

    code: str
    name_en: str
    name_zh: str
    fact: str
    formula: str
    unit: str
    threshold: Threshold
    dimensions: tuple[str, ...]
    owner_role: str = "risk_manager"
    frequency: str = Frequency.DAILY
    rules: tuple[AlertRule, ...] = field(default_factory=lambda: (AlertRule(RuleKind.RED),))
    explain_en: str = ""
    explain_zh: str = ""


_LOAN_DIMS = ("total", "branch", "product", "industry", "region", "channel", "grade")
_UP = Worse.UP
_DOWN = Worse.DOWN


def _overdue(code: str, lo: int, hi: int | None, label_en: str, label_zh: str, amber: float, red: float) -> Standard:
    cond = f"dpd >= {lo}" + (f" and dpd <= {hi}" if hi is not None else "")
    return Standard(code, f"Overdue ratio {label_en}", f"逾期率（{label_zh}）", "loans",
                    f"sum(outstanding, {cond}) / sum(outstanding)", Unit.RATIO, Threshold(amber, red), _LOAN_DIMS,
                    explain_en=f"Principal of loans {label_en} days past due over all principal outstanding.",
                    explain_zh=f"逾期{label_zh}的贷款本金占全部贷款本金余额的比例。")


def _roll(code: str, a: int, b: int, label_en: str, label_zh: str, amber: float, red: float) -> Standard:
    return Standard(
        code, f"Roll rate {label_en}", f"迁徙率（{label_zh}）", "loans",
        f"sum(prev_outstanding, has_prev and prev_bucket == {a} and bucket >= {b}) / "
        f"sum(prev_outstanding, has_prev and prev_bucket == {a})",
        Unit.RATIO, Threshold(amber, red), _LOAN_DIMS, frequency=Frequency.MONTHLY,
        explain_en=f"Of the principal that was in bucket {label_en.split(' → ')[0]} at the previous month-end, the "
                   "share that has rolled into the next bucket or worse.",
        explain_zh=f"上月末处于{label_zh.split('→')[0]}的贷款本金中，本月迁徙至下一逾期段或更差的比例。")


STANDARD: tuple[Standard, ...] = (
    Standard("npl_ratio", "NPL ratio", "不良贷款率", "loans",
             "sum(outstanding, risk_class >= 3) / sum(outstanding)", Unit.RATIO, Threshold(0.02, 0.03), _LOAN_DIMS,
             rules=(AlertRule(RuleKind.RED), AlertRule(RuleKind.WORSENING, 3)),
             explain_en="Principal classed substandard, doubtful or loss over all principal "
                        "outstanding.",
             explain_zh="次级、可疑、损失类贷款本金占全部贷款本金余额的比例。"),
    _overdue("overdue_1_30", 1, 30, "1–30", "1–30天", 0.03, 0.05),
    _overdue("overdue_31_60", 31, 60, "31–60", "31–60天", 0.01, 0.02),
    _overdue("overdue_61_90", 61, 90, "61–90", "61–90天", 0.005, 0.01),
    _overdue("overdue_90_plus", 91, None, "90+", "90天以上", 0.015, 0.025),
    _roll("roll_current_1_30", 0, 1, "current → 1–30", "正常→1–30天", 0.02, 0.04),
    _roll("roll_1_30_31_60", 1, 2, "1–30 → 31–60", "1–30天→31–60天", 0.15, 0.25),
    _roll("roll_31_60_61_90", 2, 3, "31–60 → 61–90", "31–60天→61–90天", 0.30, 0.45),
    _roll("roll_61_90_90_plus", 3, 4, "61–90 → 90+", "61–90天→90天以上", 0.50, 0.65),
    Standard("class_downgrade", "Five-category downgrades", "五级分类下迁率", "loans",
             "sum(prev_outstanding, has_prev and risk_class > prev_risk_class) / sum(prev_outstanding, has_prev)",
             Unit.RATIO, Threshold(0.01, 0.02), _LOAN_DIMS, frequency=Frequency.MONTHLY,
             explain_en="Share of last month-end's principal whose five-category class is worse today.",
             explain_zh="上月末贷款本金中，本月五级分类下迁的比例。"),
    Standard("provision_coverage", "Provision coverage", "拨备覆盖率", "loans",
             "sum(allowance) / sum(outstanding, risk_class >= 3)", Unit.RATIO,
             Threshold(1.5, 1.2, worse=_DOWN), ("total", "branch", "product"),
             explain_en="Loss allowance (expected credit loss) over non-performing principal; the regulatory floor "
                        "is 150 % (120 % for some institutions).",
             explain_zh="贷款减值准备（预期信用损失）与不良贷款本金之比；监管要求一般不低于150%（部分机构120%）。"),
    Standard("approval_rate", "Approval rate", "审批通过率", "applications",
             "count(approved) / count(decided)", Unit.RATIO, Threshold(0.45, 0.35, worse=_DOWN),
             ("total", "branch", "product", "channel"),
             explain_en="Applications approved over applications decided (approved or declined) in the last 30 "
                        "days.",
             explain_zh="近30天已决定（批准或拒绝）的申请中获批的比例。"),
    Standard("straight_through_rate", "Straight-through rate", "自动审批直通率", "applications",
             "count(straight_through) / count()", Unit.RATIO, Threshold(0.30, 0.20, worse=_DOWN),
             ("total", "branch", "product", "channel"),
             explain_en="Applications approved by the decision engine with no human touch over all applications of "
                        "the last 30 days.",
             explain_zh="近30天全部申请中由决策引擎自动批准、无需人工处理的比例。"),
    Standard("new_lending_score", "Average score of approvals", "新批贷款平均评分", "applications",
             "mean(score, approved)", Unit.NUMBER, Threshold(560, 540, worse=_DOWN),
             ("total", "branch", "product", "channel"),
             explain_en="Mean score of the applications approved in the last 30 days.",
             explain_zh="近30天获批申请的平均评分。"),
    Standard("new_lending_grade_e_or_worse", "Approvals graded E or worse", "新批贷款中E级及以下占比",
             "applications", 'count(approved and grade in ("E", "F", "G")) / count(approved)', Unit.RATIO,
             Threshold(0.10, 0.20), ("total", "branch", "product", "channel"),
             explain_en="Share of the last 30 days' approvals graded E, F or G: the average grade of new lending "
                        "moving down.",
             explain_zh="近30天获批申请中评级为E、F、G的比例，反映新增贷款平均评级下移。"),
    Standard("top10_customers", "Top 10 customers' share", "最大十家客户贷款占比", "loans",
             "top_share(customer, 10)", Unit.RATIO, Threshold(0.40, 0.50), ("total", "branch", "industry", "region"),
             explain_en="Principal of the ten largest borrowers over all principal outstanding.",
             explain_zh="最大十家客户贷款本金占全部贷款本金余额的比例。"),
    Standard("largest_industry_share", "Largest industry's share", "第一大行业贷款占比", "loans",
             "top_share(industry, 1)", Unit.RATIO, Threshold(0.30, 0.40), ("total", "branch", "region"),
             explain_en="Principal lent to the largest industry over all principal outstanding.",
             explain_zh="贷款本金最多的行业占全部贷款本金余额的比例。"),
    Standard("largest_region_share", "Largest region's share", "第一大地区贷款占比", "loans",
             "top_share(region, 1)", Unit.RATIO, Threshold(0.50, 0.70), ("total", "branch", "industry"),
             explain_en="Principal lent in the largest region over all principal outstanding.",
             explain_zh="贷款本金最多的地区占全部贷款本金余额的比例。"),
    Standard("plan_utilisation", "Credit plan utilisation", "信贷计划使用率", "quotas",
             "sum(used) / sum(limit)", Unit.RATIO, Threshold(0.90, 0.98), ("total", "branch", "product"),
             owner_role="planner",
             explain_en="Quota reserved and consumed over the quotas of the active credit plan.",
             explain_zh="当前信贷计划已预占与已使用额度占计划额度的比例。"),
    Standard("plan_pace", "Credit plan pace", "信贷计划执行进度偏差", "quotas",
             "(sum(used) - sum(expected)) / sum(limit)", Unit.RATIO, Threshold(0.10, 0.20), ("total", "branch"),
             owner_role="planner",
             explain_en="How far use is ahead of the plan's pace (a time-proportional path through the period), "
                        "as a share of the quota: positive is ahead.",
             explain_zh="实际占用相对计划进度（按时间均匀推进）的超前部分占计划额度的比例；正数表示超前。"),
    Standard("fpd_rate", "First payment default", "首期违约率", "loans",
             "count(fpd_known and fpd) / count(fpd_known)", Unit.RATIO, Threshold(0.02, 0.04),
             ("total", "vintage", "product", "channel"), frequency=Frequency.MONTHLY,
             explain_en="Loans whose first instalment went 30 days past due, over the loans whose first instalment "
                        "is 30 days old; by origination month.",
             explain_zh="首期还款逾期30天以上的贷款占首期已到期满30天贷款的比例，按发放月份分组。"),
    Standard("default_3m_rate", "3-month default", "3个月违约率", "loans",
             "count(default_3m_known and default_3m) / count(default_3m_known)", Unit.RATIO,
             Threshold(0.03, 0.05), ("total", "vintage", "product", "channel"), frequency=Frequency.MONTHLY,
             explain_en="Loans that were 30+ days past due within their first three months on book, over the loans "
                        "three months old; by origination month.",
             explain_zh="放款后3个月内曾逾期30天以上的贷款占账龄满3个月贷款的比例，按发放月份分组。"),
)

STANDARD_CODES = frozenset(s.code for s in STANDARD)
MODES = tuple(m.value for m in Mode)
