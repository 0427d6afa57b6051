"""Early-warning signals per customer (issue 17, item 2): what fires, how it is weighed, how it is explained.

The signals are column kernels: integer numpy arrays in, integer arrays out, no Python loop over loans or customers.
They run in four stages so that the same functions run in this process and on Spark with identical results
(risk.signals_engine: locally with numpy, on Spark with mapInArrow for the row-wise stages and groupBy for the
reductions — every value an integer, every reduction a max, min or sum, so the order of rows cannot change a
figure):

    A  `loan_kernel`      per loan (row-wise): today's snapshot row with the same loan's row a week ago, a month ago
                          and at the previous month end (risk.domain.snapshot.with_previous pairs them)
    B  `CUSTOMER_REDUCE`  per customer: the max / sum of A's columns (`reduce_by`)
    C  `GROUP_REDUCE`     per group of customers (issue 19): how many members have a bad loan, the lowest and highest
                          such member (`reduce_by` over B's rows that have a group)
    D  `customer_kernel`  per customer (row-wise): B with its group's C and the customer-level inputs (behaviour
                          grades, line use, inflows, external records) → one flag per signal, the weighted score, the
                          signal mask and the figures each explanation quotes

The signals (`SIGNALS`; a customer's flags are bits of `mask` in this order):

- first_missed_payment — the customer is past due today (any loan on the book ≥ 1 day) and none of their loans had
  ever been past due up to the snapshot a month ago (its carried `worst_dpd` was 0 on every loan then; loans opened
  since count as never past due). So it holds from the first missed payment for as long as the month-ago snapshot
  still predates it: "the first delinquency of the customer's history began within the last month, and is not
  cured".
- dpd_rising — the customer's max days past due (over loans on the book) today is ≥ 1 and above both the max a week
  ago and the max a month ago (each compared when its snapshot exists; at least one must).
- class_downgrade — a loan of the customer not repaid is in a worse five-category class today than at the previous
  month end (loans opened since are not compared); the worst such loan is quoted (worst class now, then the biggest
  step, then the lowest loan id).
- behaviour_worse — the latest monthly behaviour re-rating on or before the date gave the customer a worse grade
  than the re-rating before it (customers rated for the first time are not compared).
- utilisation_jump — the customer's credit line use (used ÷ limit) is at least `utilisation_jump_bp` basis points
  (30 percentage points) above its use a month ago (the line use kept by the run of a month ago).
- inflow_fall — inflows on the customer's linked accounts in the last complete month fell to at most
  (100 − `inflow_fall_pct`) % of the average of the months before it (at least `inflow_min_months` of the
  `inflow_baseline_months` months before must have data; a month without a row is unknown, not zero).
- external_negative — an imported negative external record (court judgment, enforcement, dishonest debtor,
  blacklist, administrative penalty) dated within the last `external_days` days.
- group_member_bad — another member of the customer's group has a bad loan: `bad_dpd` (90) or more days past due, a
  class of `bad_class` (substandard) or worse, or written off.

A customer's score is the sum of the weights of the signals that fire (weights are integers set by the risk
managers; `DEFAULT_WEIGHTS`). The warning level (green / yellow / orange / red) is not decided here: it is the
published version of the "warning level" decision table (`default_warning_table`), which reads the score and the
flags (risk.services.signals).

Explanations are written from the figures with `explain(code, figures, zh)`, in English or Chinese, so a stored row
can be explained again in either language ("days past due rose from 5 a month ago to 35").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditplan.core.money import format_minor

IntArray = NDArray[np.int64]
Columns = dict[str, IntArray]


@dataclass(frozen=True)
class Signal:
    code: str
    weight: int  # the default weight
    en: str
    zh: str
    about_en: str
    about_zh: str


SIGNALS: tuple[Signal, ...] = (
    Signal("first_missed_payment", 10, "First missed payment", "首次逾期",
           "Past due today, and no loan of the customer had ever been past due up to a month ago.",
           "当前逾期，且截至一个月前该客户所有贷款从未逾期。"),
    Signal("dpd_rising", 15, "Rising days past due", "逾期天数上升",
           "The customer's most days past due is above a week ago and a month ago.",
           "客户最大逾期天数高于一周前和一个月前。"),
    Signal("class_downgrade", 25, "Five-category class downgraded", "五级分类下调",
           "A loan is in a worse five-category class than at the previous month end.",
           "有贷款的五级分类较上月末下调。"),
    Signal("behaviour_worse", 15, "Worse behaviour score", "行为评分恶化",
           "The latest monthly behaviour re-rating gave a worse grade than the one before.",
           "最近一次月度行为评分重评的等级较上一次恶化。"),
    Signal("utilisation_jump", 10, "Jump in credit line use", "额度使用率跃升",
           "Credit line use rose by 30 percentage points or more within a month.",
           "授信额度使用率一个月内上升30个百分点及以上。"),
    Signal("inflow_fall", 15, "Fall in account inflows", "账户流入资金下降",
           "Inflows on linked accounts last month fell by half or more against the months before.",
           "上月关联账户流入资金较此前月份平均下降一半及以上。"),
    Signal("external_negative", 30, "Negative external record", "外部负面记录",
           "A court judgment, enforcement, dishonest-debtor, blacklist or penalty record in the last 90 days.",
           "近90天内有法院判决、被执行、失信、黑名单或行政处罚记录。"),
    Signal("group_member_bad", 20, "Group member's loan gone bad", "集团成员贷款不良",
           "Another member of the customer's group has a loan 90+ days past due, substandard or worse, or "
           "written off.",
           "客户所在集团的其他成员有贷款逾期90天以上、次级及以下或已核销。"),
)
CODES: tuple[str, ...] = tuple(s.code for s in SIGNALS)
BY_CODE: dict[str, Signal] = {s.code: s for s in SIGNALS}
BIT: dict[str, int] = {s.code: 1 << i for i, s in enumerate(SIGNALS)}
DEFAULT_WEIGHTS: dict[str, int] = {s.code: s.weight for s in SIGNALS}
MAX_WEIGHT = 1000

LEVELS: tuple[str, ...] = ("green", "yellow", "orange", "red")
"""Warning levels, least to most severe."""
LEVEL_RANK = {lv: i for i, lv in enumerate(LEVELS)}
"""A level's place in `LEVELS` (green 0 … red 3)."""
LEVEL_LABELS: dict[str, tuple[str, str]] = {"green": ("Green", "绿色"), "yellow": ("Yellow", "黄色"),
                                            "orange": ("Orange", "橙色"), "red": ("Red", "红色")}
WATCH_LEVELS: frozenset[str] = frozenset({"orange", "red"})
"""The levels that put a customer on the watch list."""

EXTERNAL_KINDS: tuple[tuple[str, str, str], ...] = (
    ("court_judgment", "Court judgment", "法院判决"),
    ("enforcement", "Enforcement order", "被执行记录"),
    ("dishonest_debtor", "Dishonest debtor listing", "失信被执行人"),
    ("blacklist", "Blacklist entry", "黑名单"),
    ("administrative_penalty", "Administrative penalty", "行政处罚"),
    ("other", "Other negative record", "其他负面记录"),
)
"""Kinds of negative external record (code, en, zh); a kind's number in the kernels is its index + 1."""
EXTERNAL_KIND_CODES: tuple[str, ...] = tuple(k for k, _en, _zh in EXTERNAL_KINDS)

# The public sources of external records a Chinese lender imports, by their Chinese name: what an English page calls
# them (issue 20). A source not listed is shown as it was imported (data).
SOURCE_NAMES_EN: dict[str, str] = {
    "中国裁判文书网": "China Judgements Online",
    "中国执行信息公开网": "China Enforcement Information Disclosure",
    "国家企业信用信息公示系统": "National Enterprise Credit Information Publicity System",
    "信用中国": "Credit China",
    "同业黑名单共享平台": "the interbank blacklist sharing platform",
}

CLASS_NAMES: tuple[tuple[str, str], ...] = (("Normal", "正常"), ("Special mention", "关注"), ("Substandard", "次级"),
                                           ("Doubtful", "可疑"), ("Loss", "损失"))
"""Five-category classes 1–5."""


@dataclass(frozen=True)
class Parameters:
    external_days: int = 90
    utilisation_jump_bp: int = 3000
    inflow_fall_pct: int = 50
    inflow_baseline_months: int = 3
    inflow_min_months: int = 2
    bad_dpd: int = 90
    bad_class: int = 3


DEFAULT_PARAMETERS = Parameters()


@dataclass(frozen=True)
class References:
    """Which earlier inputs exist for the date: the snapshots a week ago, a month ago and at the previous month end,
    the behaviour re-rating, the line use kept a month ago. A comparison with a missing input does not fire."""

    week: bool = False
    month: bool = False
    month_end: bool = False


# --- stage A: per loan --------------------------------------------------------------------------------------------

LOAN_INPUTS: tuple[str, ...] = (
    "loan", "customer", "group", "dpd", "risk_class", "closed", "written_off", "week_dpd", "week_on", "month_dpd",
    "month_on", "month_worst", "me_class", "me_on")
"""Per loan: today's dpd, class and status; `week_*` / `month_*` / `me_*` the same loan at the week-ago, month-ago and
previous month-end snapshot (`*_on`: on the book then, i.e. present, not repaid, not written off; `month_worst`:
its carried worst DPD then, 0 when absent)."""

LOAN_OUTPUTS: tuple[str, ...] = ("customer", "group", "on_book", "dpd_now", "dpd_week", "dpd_month", "worst_month",
                                 "downgrades", "downgrade_pack", "bad")

_LOAN_BITS = 46
_CLASS_BITS = 3


def _i(cols: Mapping[str, NDArray[Any]], name: str) -> IntArray:
    return np.asarray(cols[name], dtype=np.int64)


def pack_downgrade(loan: IntArray, class_from: IntArray, class_to: IntArray) -> IntArray:
    """One integer per downgraded loan whose maximum picks the loan to quote: the worst class now, then the biggest
    step (the best class before), then the lowest loan id."""
    loan_part = (np.int64((1 << _LOAN_BITS) - 1) - loan).astype(np.int64)
    return ((class_to << (_LOAN_BITS + _CLASS_BITS)) | ((np.int64(7) - class_from) << _LOAN_BITS)
            | loan_part).astype(np.int64)


def unpack_downgrade(pack: int) -> tuple[int, int, int]:
    """(loan, class before, class now) of a `pack_downgrade` value (0: none)."""
    if pack <= 0:
        return 0, 0, 0
    loan = ((1 << _LOAN_BITS) - 1) - (pack & ((1 << _LOAN_BITS) - 1))
    class_from = 7 - ((pack >> _LOAN_BITS) & 7)
    class_to = pack >> (_LOAN_BITS + _CLASS_BITS)
    return int(loan), int(class_from), int(class_to)


def loan_kernel(cols: Mapping[str, NDArray[Any]], params: Parameters = DEFAULT_PARAMETERS) -> Columns:
    """Stage A, row-wise: each loan's contribution to its customer's signals."""
    loan, dpd, cls = _i(cols, "loan"), _i(cols, "dpd"), _i(cols, "risk_class")
    closed, written_off = _i(cols, "closed") != 0, _i(cols, "written_off") != 0
    on_book = ~closed & ~written_off
    me_class, me_on = _i(cols, "me_class"), _i(cols, "me_on") != 0
    downgraded = ~closed & me_on & (me_class >= 1) & (cls > me_class)
    bad = (on_book & (dpd >= params.bad_dpd)) | (~closed & (cls >= params.bad_class)) | written_off
    zero = np.zeros(loan.size, dtype=np.int64)
    return {
        "customer": _i(cols, "customer"),
        "group": _i(cols, "group"),
        "on_book": on_book.astype(np.int64),
        "dpd_now": np.where(on_book, dpd, zero),
        "dpd_week": np.where(_i(cols, "week_on") != 0, _i(cols, "week_dpd"), zero),
        "dpd_month": np.where(_i(cols, "month_on") != 0, _i(cols, "month_dpd"), zero),
        "worst_month": _i(cols, "month_worst"),
        "downgrades": downgraded.astype(np.int64),
        "downgrade_pack": np.where(downgraded, pack_downgrade(loan, me_class, cls), zero),
        "bad": bad.astype(np.int64),
    }


# --- stages B and C: reductions -------------------------------------------------------------------------------------

CUSTOMER_REDUCE: dict[str, str] = {
    "group": "max", "on_book": "sum", "dpd_now": "max", "dpd_week": "max", "dpd_month": "max", "worst_month": "max",
    "downgrades": "sum", "downgrade_pack": "max", "bad": "max"}
"""Stage B: how each of A's columns is reduced per customer (a customer belongs to one group: its max is it)."""

NO_CUSTOMER = np.int64(np.iinfo(np.int64).max)
GROUP_REDUCE: dict[str, str] = {"group_bad_n": "sum", "group_bad_min": "min", "group_bad_max": "max"}
"""Stage C, over the customers with a group: members with a bad loan, the lowest and the highest such member."""


def group_rows(customers: Mapping[str, NDArray[Any]]) -> Columns:
    """Stage C's input: the customers that belong to a group, with what each contributes."""
    group = _i(customers, "group")
    keep = group > 0
    customer = _i(customers, "customer")[keep]
    bad = _i(customers, "bad")[keep] > 0
    return {"group": group[keep], "group_bad_n": bad.astype(np.int64),
            "group_bad_min": np.where(bad, customer, NO_CUSTOMER).astype(np.int64),
            "group_bad_max": np.where(bad, customer, np.int64(0)).astype(np.int64)}


_UFUNCS = {"max": np.maximum, "min": np.minimum, "sum": np.add}


def reduce_by(key: str, cols: Mapping[str, NDArray[Any]], ops: Mapping[str, str]) -> Columns:
    """Rows grouped by `key` (ascending), each column reduced by its op (max, min or sum) — exact integers."""
    keys = _i(cols, key)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if sorted_keys.size == 0:
        return {key: sorted_keys, **{name: np.zeros(0, dtype=np.int64) for name in ops}}
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    out: Columns = {key: sorted_keys[starts]}
    for name, op in ops.items():
        if name == key:
            continue
        out[name] = np.asarray(_UFUNCS[op].reduceat(_i(cols, name)[order], starts), dtype=np.int64)
    return out


def align(keys: IntArray, table: Mapping[str, NDArray[Any]], key: str, defaults: Mapping[str, int]) -> Columns:
    """`table`'s columns (named in `defaults`) for each of `keys` (the default where a key has no row). `table` holds
    each key at most once."""
    n = keys.size
    out: Columns = {name: np.full(n, value, dtype=np.int64) for name, value in defaults.items()}
    source = _i(table, key) if key in table else np.zeros(0, dtype=np.int64)
    if source.size == 0 or n == 0:
        return out
    order = np.argsort(source, kind="stable")
    pos = np.clip(np.searchsorted(source[order], keys), 0, source.size - 1)
    hit = source[order][pos] == keys
    src = order[pos[hit]]
    for name in defaults:
        if name in table:
            out[name][hit] = _i(table, name)[src]
    return out


# --- stage D: per customer ------------------------------------------------------------------------------------------

CUSTOMER_INPUT_DEFAULTS: dict[str, int] = {
    "bh_grade": -1, "bh_prev": -1, "line_amount": 0, "line_used": 0, "line_amount_month": -1, "line_used_month": 0,
    "inflow_last": -1, "inflow_base_sum": 0, "inflow_base_n": 0, "ext_count": 0, "ext_day": -1, "ext_kind": 0}
"""The customer-level inputs and their value for a customer without a row: no behaviour rating (-1), no line, no
line use kept a month ago (-1), no inflow in the last month (-1, unknown), no external record."""

GROUP_DEFAULTS: dict[str, int] = {"group_bad_n": 0, "group_bad_min": int(NO_CUSTOMER), "group_bad_max": 0}

FIGURES: tuple[str, ...] = (
    "on_book", "dpd_now", "dpd_week", "dpd_month", "downgrades", "downgrade_pack", "bh_grade", "bh_prev",
    "util_now_bp", "util_month_bp", "inflow_last", "inflow_base_sum", "inflow_base_n", "ext_count", "ext_day",
    "ext_kind", "group_member")
CUSTOMER_OUTPUTS: tuple[str, ...] = ("customer", *(f"f_{c}" for c in CODES), "mask", "score", *FIGURES)


def utilisation_bp(used: IntArray, amount: IntArray) -> IntArray:
    """used ÷ limit in basis points, rounded down (0 where there is no limit)."""
    safe = np.where(amount > 0, amount, np.int64(1))
    return np.where(amount > 0, (used * np.int64(10_000)) // safe, np.int64(0)).astype(np.int64)


def customer_kernel(cols: Mapping[str, NDArray[Any]], weights: Mapping[str, int], refs: References,
                    params: Parameters = DEFAULT_PARAMETERS) -> Columns:
    """Stage D, row-wise: the flags, score, mask and figures of each customer with a loan on the book (customers whose
    loans all left the book are dropped: they are in B only for their group's sake)."""
    keep = _i(cols, "on_book") > 0
    c = {name: _i(cols, name)[keep] for name in cols}
    customer = c["customer"]
    n = customer.size
    true = np.ones(n, dtype=bool)
    false = np.zeros(n, dtype=bool)
    dpd_now, dpd_week, dpd_month = c["dpd_now"], c["dpd_week"], c["dpd_month"]

    first = (dpd_now >= 1) & (c["worst_month"] == 0) if refs.month else false
    rising = ((dpd_now >= 1) & ((dpd_now > dpd_week) if refs.week else true)
              & ((dpd_now > dpd_month) if refs.month else true)) if (refs.week or refs.month) else false
    downgrade = (c["downgrades"] >= 1) if refs.month_end else false
    behaviour = (c["bh_prev"] >= 0) & (c["bh_grade"] > c["bh_prev"])
    util_now = utilisation_bp(c["line_used"], c["line_amount"])
    util_month = utilisation_bp(c["line_used_month"], c["line_amount_month"])
    utilisation = ((c["line_amount"] > 0) & (c["line_amount_month"] > 0)
                   & (util_now - util_month >= params.utilisation_jump_bp))
    base_n, base_sum, last = c["inflow_base_n"], c["inflow_base_sum"], c["inflow_last"]
    inflow = ((last >= 0) & (base_n >= params.inflow_min_months) & (base_sum > 0)
              & (last * np.int64(100) * base_n <= np.int64(100 - params.inflow_fall_pct) * base_sum))
    external = c["ext_count"] >= 1
    member = pick_member(customer, c["bad"], c["group"], c["group_bad_n"], c["group_bad_min"], c["group_bad_max"])
    group_bad = member > 0

    flags = {"first_missed_payment": first, "dpd_rising": rising, "class_downgrade": downgrade,
             "behaviour_worse": behaviour, "utilisation_jump": utilisation, "inflow_fall": inflow,
             "external_negative": external, "group_member_bad": group_bad}
    mask = np.zeros(n, dtype=np.int64)
    score = np.zeros(n, dtype=np.int64)
    out: Columns = {"customer": customer}
    for code in CODES:
        f = np.asarray(flags[code], dtype=bool)
        out[f"f_{code}"] = f.astype(np.int64)
        mask |= np.where(f, np.int64(BIT[code]), np.int64(0))
        score += np.where(f, np.int64(int(weights.get(code, 0))), np.int64(0))
    out["mask"], out["score"] = mask, score
    out.update({"on_book": c["on_book"], "dpd_now": dpd_now, "dpd_week": dpd_week, "dpd_month": dpd_month,
                "downgrades": c["downgrades"], "downgrade_pack": c["downgrade_pack"], "bh_grade": c["bh_grade"],
                "bh_prev": c["bh_prev"], "util_now_bp": util_now, "util_month_bp": util_month, "inflow_last": last,
                "inflow_base_sum": base_sum, "inflow_base_n": base_n, "ext_count": c["ext_count"],
                "ext_day": c["ext_day"], "ext_kind": c["ext_kind"], "group_member": member})
    return out


def pick_member(customer: IntArray, bad: IntArray, group: IntArray, n_bad: IntArray, bad_min: IntArray,
                bad_max: IntArray) -> IntArray:
    """Another member of the customer's group with a bad loan (the lowest id that is not the customer), or 0."""
    own = bad > 0
    others = n_bad - own.astype(np.int64)
    pick = np.where(bad_min != customer, bad_min, bad_max)
    return np.where((group > 0) & (others >= 1), pick, np.int64(0)).astype(np.int64)


def weights_checked(weights: Mapping[str, Any]) -> dict[str, int]:
    """The weight of every signal (the default for one not given); ValueError naming a code that is not a signal
    or a weight that is not a whole number from 0 to MAX_WEIGHT."""
    out = dict(DEFAULT_WEIGHTS)
    for code, value in weights.items():
        if code not in BY_CODE:
            raise ValueError(f"{code!r} is not a signal")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WEIGHT:
            raise ValueError(f"the weight of {code} must be a whole number from 0 to {MAX_WEIGHT}")
        out[code] = int(value)
    return out


# --- the facts the warning table reads ----------------------------------------------------------------------------

def facts_of(mask: int, score: int) -> dict[str, Any]:
    """What the warning-level table reads for one customer: the score and a flag per signal."""
    return {"score": int(score), **{code: bool(mask & BIT[code]) for code in CODES}}


def codes_of(mask: int) -> list[str]:
    return [code for code in CODES if mask & BIT[code]]


def default_warning_table() -> dict[str, Any]:
    """The warning-level decision table shipped as version 1 (a first-hit table; risk managers change it on the
    policy pages): red from a score of 80, orange from 55, a negative external record at least orange, yellow from
    20, green otherwise."""
    flag_columns = [{"id": f"in_{code}", "name": BY_CODE[code].en, "field": code} for code in CODES]
    inputs = [{"id": "in_score", "name": "Weighted score", "field": "score"}, *flag_columns]
    outputs = [{"id": f"out_{f}", "name": name, "field": f} for f, name in (
        ("outcome", "Level"), ("reason", "Reason"), ("message_en", "Message (English)"),
        ("message_zh", "Message (Chinese)"))]

    def row(rid: str, description: str, score: str, outcome: str, reason: str, en: str, zh: str,
            **flags: str) -> dict[str, Any]:
        r: dict[str, Any] = {"_id": rid, "_description": description, "in_score": score}
        r.update({f"in_{code}": flags.get(code, "") for code in CODES})
        r.update({"out_outcome": f'"{outcome}"', "out_reason": f'"{reason}"', "out_message_en": f'"{en}"',
                  "out_message_zh": f'"{zh}"'})
        return r

    rules = [
        row("red", "score 80 or more", ">= 80", "red", "score_red",
            "Weighted score of 80 or more", "加权得分80分及以上"),
        row("orange", "score 55 to 79", "[55..80)", "orange", "score_orange",
            "Weighted score from 55 to 79", "加权得分55至79分"),
        row("external", "a negative external record", "< 55", "orange", "external_record",
            "A negative external record: at least orange", "有外部负面记录：至少橙色", external_negative="true"),
        row("yellow", "score 20 to 54", "[20..55)", "yellow", "score_yellow",
            "Weighted score from 20 to 54", "加权得分20至54分", external_negative="false"),
        row("green", "otherwise", "", "green", "score_green", "No signal of weight", "无显著预警信号"),
    ]
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Customer signals", "position": {"x": 0, "y": 0}},
            {"id": "level", "type": "decisionTableNode", "name": "Warning level", "position": {"x": 300, "y": 0},
             "content": {"hitPolicy": "first", "inputs": inputs, "outputs": outputs, "rules": rules,
                         "outputPath": "level"}},
            {"id": "response", "type": "outputNode", "name": "Level", "position": {"x": 600, "y": 0}},
        ],
        "edges": [{"id": "e1", "sourceId": "request", "targetId": "level", "type": "edge"},
                  {"id": "e2", "sourceId": "level", "targetId": "response", "type": "edge"}],
    }


DEFAULT_EXAMPLES: tuple[tuple[str, int, tuple[str, ...], str], ...] = (
    ("quiet customer", 0, (), "green"),
    ("one day late for the first time", 50, ("first_missed_payment", "dpd_rising", "class_downgrade"), "yellow"),
    ("court judgment only", 30, ("external_negative",), "orange"),
    ("late, behaviour grade worse", 65, ("first_missed_payment", "dpd_rising", "class_downgrade", "behaviour_worse"),
     "orange"),
    ("late with a court judgment", 80, ("first_missed_payment", "dpd_rising", "class_downgrade", "external_negative"),
     "red"),
)
"""Example cases shipped with the table: (name, score, signals, the level the table must give)."""


def example_facts(score: int, codes: tuple[str, ...]) -> dict[str, Any]:
    return {"score": score, **{code: code in codes for code in CODES}}


# --- explanations -------------------------------------------------------------------------------------------------

def _day(ordinal: int) -> str:
    return dt.date.fromordinal(int(ordinal)).isoformat() if ordinal > 0 else ""


def _pct(bp: int) -> str:
    return f"{bp // 100}.{(bp % 100) // 10}%"


def class_name(cls: int, zh: bool) -> str:
    if 1 <= cls <= len(CLASS_NAMES):
        return CLASS_NAMES[cls - 1][1 if zh else 0]
    return str(cls)


def external_kind_name(kind: str, zh: bool) -> str:
    for code, en, cn in EXTERNAL_KINDS:
        if code == kind:
            return cn if zh else en
    return kind


def level_label(level: str, zh: bool) -> str:
    en, cn = LEVEL_LABELS.get(level, (level, level))
    return cn if zh else en


def signal_label(code: str, zh: bool) -> str:
    s = BY_CODE.get(code)
    return (s.zh if zh else s.en) if s is not None else code


def figures_of(code: str, row: Mapping[str, int], refs: Mapping[str, str], *, grades: tuple[str, ...] = (),
               external: Mapping[str, str] | None = None, params: Parameters = DEFAULT_PARAMETERS) -> dict[str, Any]:
    """The figures one signal's explanation quotes, from a customer's row of `customer_kernel` and the dates of the
    inputs it compared with (`refs`: week, month, month_end, behaviour_month, inflow_month, as ISO text)."""
    if code == "first_missed_payment":
        return {"dpd": row["dpd_now"], "since": refs.get("month", "")}
    if code == "dpd_rising":
        out: dict[str, Any] = {"to": row["dpd_now"]}
        if refs.get("month"):
            out["month"] = row["dpd_month"]
        if refs.get("week"):
            out["week"] = row["dpd_week"]
        return out
    if code == "class_downgrade":
        loan, before, now = unpack_downgrade(row["downgrade_pack"])
        return {"loan": loan, "from": before, "to": now, "loans": row["downgrades"], "since": refs.get("month_end", "")}
    if code == "behaviour_worse":
        def grade(i: int) -> str:
            return grades[i] if 0 <= i < len(grades) else str(i)
        return {"from": grade(row["bh_prev"]), "to": grade(row["bh_grade"]), "month": refs.get("behaviour_month", "")}
    if code == "utilisation_jump":
        return {"from_bp": row["util_month_bp"], "to_bp": row["util_now_bp"]}
    if code == "inflow_fall":
        n = max(int(row["inflow_base_n"]), 1)
        base = int(row["inflow_base_sum"]) // n
        fall = 100 - (int(row["inflow_last"]) * 100) // base if base > 0 else 0
        return {"month": refs.get("inflow_month", ""), "amount": row["inflow_last"], "baseline": base,
                "months": row["inflow_base_n"], "fall_pct": fall}
    if code == "external_negative":
        kind = int(row["ext_kind"])
        ext = external or {}
        return {"records": row["ext_count"], "kind": EXTERNAL_KIND_CODES[kind - 1] if 1 <= kind <= len(
            EXTERNAL_KINDS) else "other", "date": _day(int(row["ext_day"])), "source": ext.get("source", ""),
                "days": params.external_days}
    if code == "group_member_bad":
        return {"member": row["group_member"]}
    raise ValueError(f"{code!r} is not a signal")


def explain(code: str, figures: Mapping[str, Any], zh: bool) -> str:
    """The explanation of one signal with its figures, in Chinese or English."""
    f = figures
    if code == "first_missed_payment":
        if zh:
            return f"首次逾期：当前逾期{f['dpd']}天；截至{f['since']}，该客户所有贷款从未逾期。"
        return (f"First missed payment: {f['dpd']} days past due now; no loan of the customer had been past due up "
                f"to {f['since']}.")
    if code == "dpd_rising":
        month, week = f.get("month"), f.get("week")
        if zh:
            parts = [p for p in (f"一个月前{month}天" if month is not None else "",
                                 f"一周前{week}天" if week is not None else "") if p]
            return f"逾期天数由{'、'.join(parts)}升至{f['to']}天。"
        words = [p for p in (f"{month} a month ago" if month is not None else "",
                             f"{week} a week ago" if week is not None else "") if p]
        return f"Days past due rose from {' and '.join(words)} to {f['to']}."
    if code == "class_downgrade":
        more = int(f.get("loans", 1)) - 1
        if zh:
            extra = f"（另有{more}笔贷款下调）" if more > 0 else ""
            return (f"贷款{f['loan']}的五级分类由{f['since']}月末的{class_name(int(f['from']), True)}下调为"
                    f"{class_name(int(f['to']), True)}{extra}。")
        extra = f" ({more} more loan{'s' if more > 1 else ''} downgraded)" if more > 0 else ""
        return (f"Loan {f['loan']}: five-category class fell from {class_name(int(f['from']), False)} at the month "
                f"end {f['since']} to {class_name(int(f['to']), False)}{extra}.")
    if code == "behaviour_worse":
        if zh:
            return f"{f['month']}行为评分重评：行为等级由{f['from']}降至{f['to']}。"
        return f"Behaviour grade fell from {f['from']} to {f['to']} in the re-rating of {f['month']}."
    if code == "utilisation_jump":
        if zh:
            return f"授信额度使用率一个月内由{_pct(int(f['from_bp']))}升至{_pct(int(f['to_bp']))}。"
        return f"Credit line use rose from {_pct(int(f['from_bp']))} to {_pct(int(f['to_bp']))} of the line in a month."
    if code == "inflow_fall":
        amount, base = format_minor(int(f["amount"])), format_minor(int(f["baseline"]))
        if zh:
            return (f"{f['month']}关联账户流入资金{amount}元，较此前{f['months']}个月平均{base}元下降"
                    f"{f['fall_pct']}%。")
        return (f"Inflows on linked accounts were {amount} yuan in {f['month']}, {f['fall_pct']}% below the average "
                f"of {base} yuan over the {f['months']} months before.")
    if code == "external_negative":
        kind = external_kind_name(str(f["kind"]), zh)
        if zh:
            source = f"{f['source']}于" if f.get("source") else ""
            return f"{source}{f['date']}记录{kind}（近{f['days']}天共{f['records']}条负面记录）。"
        source = f" reported by {SOURCE_NAMES_EN.get(str(f['source']), f['source'])}" if f.get("source") else ""
        return f"{kind}{source} on {f['date']} ({f['records']} negative record(s) in the last {f['days']} days)."
    if code == "group_member_bad":
        if zh:
            return f"集团成员（客户编号{f['member']}）有贷款已形成不良（逾期90天以上、次级及以下或已核销）。"
        return (f"A loan of group member no. {f['member']} has gone bad (90+ days past due, substandard or worse, or "
                f"written off).")
    raise ValueError(f"{code!r} is not a signal")
