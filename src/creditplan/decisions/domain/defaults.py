"""The policy, pricing grid and authority matrix a new installation starts from (and the tests and demo use).

The default policy of a product is two decision tables:

* ``Knock-outs`` (hit policy collect): age under 18 or over 65, on the blacklist, not a resident, debt-to-income
  above 55 %, an existing overdue, any adverse bureau flag → decline;
* ``Score cut-offs`` (hit policy first), by customer segment: approve at or above the approval cut-off, refer in
  the grey zone below it, decline under the refer cut-off. The cut-offs differ per product (``CUTOFFS``) and per
  segment (payroll customers lower, new-to-bank higher).

The figures suit the demo scorecard (600 points at 50:1 good:bad odds, 20 points to double the odds, master scale
A–G): grade D starts at about 527 points.
"""

from __future__ import annotations

import json
from typing import Any

from creditplan.decisions.domain.policy import CONTENT_TYPE

#: Per product: (approve at or above, refer at or above) for the standard segment.
CUTOFFS: dict[str, tuple[int, int]] = {"consumer": (530, 505), "business": (540, 515), "mortgage": (525, 500)}
DEFAULT_CUTOFF = (530, 505)
#: Points added to both cut-offs per segment.
SEGMENT_SHIFT: dict[str, int] = {"payroll": -10, "new_to_bank": 15}

#: How the cut-off messages name a segment: code → (English, Chinese); "" is every other segment.
SEGMENT_NAMES: dict[str, tuple[str, str]] = {
    "payroll": ("payroll customers", "代发工资客户"), "new_to_bank": ("customers new to the bank", "新客户"),
    "": ("other customers", "其他客户"),
}

#: grade → (spread over the LPR in bp, grade limit in fen, auto-approval maximum in fen)
GRADE_GRID: dict[str, tuple[int, int, int]] = {
    "A": (30, 100_000_000, 30_000_000),
    "B": (60, 80_000_000, 20_000_000),
    "C": (100, 50_000_000, 10_000_000),
    "D": (180, 30_000_000, 5_000_000),
    "E": (300, 15_000_000, 0),
    "F": (450, 5_000_000, 0),
    "G": (600, 0, 0),
}

#: (role, branch level, product ("" = all), max amount in fen, worst grade)
AUTHORITY: tuple[tuple[str, str, str, int, str], ...] = (
    ("approver", "sub_branch", "", 20_000_000, "C"),
    ("approver", "branch", "", 100_000_000, "D"),
    ("approver", "head_office", "", 500_000_000, "E"),
    ("risk_manager", "head_office", "", 1_000_000_000, "F"),
)

KNOCK_OUTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    # (reason, field, test, outcome, English, Chinese)
    ("KO_AGE_MIN", "age", "< 18", "decline", "The applicant is younger than 18", "申请人未满 18 周岁"),
    ("KO_AGE_MAX", "age", "> 65", "decline", "The applicant is older than 65", "申请人年龄超过 65 周岁"),
    ("KO_BLACKLIST", "blacklist", "true", "decline", "The applicant is on the institution's blacklist",
     "申请人在本机构黑名单上"),
    ("KO_RESIDENCY", "residency", '$ != "resident"', "decline", "The applicant is not a resident",
     "申请人非境内居民"),
    ("KO_DTI", "dti", "> 0.55", "decline", "Debt service would exceed 55 % of income",
     "负债收入比超过 55%"),
    ("KO_OVERDUE", "existing_overdue", "true", "decline", "The applicant has an overdue loan",
     "申请人有逾期贷款"),
    ("KO_BUREAU", "bureau_flag_count", "> 0", "decline", "The credit bureau report carries adverse flags",
     "征信报告有不良记录"),
)


#: The knock-out table's inputs: field → (English name, Chinese name). Every name of the default policy (tables,
#: columns, nodes) is stored in both languages (``name_en``, ``name_zh``; ``name`` is the English one, which the
#: JDM editor shows): a page shows the one of its language.
INPUT_NAMES: dict[str, tuple[str, str]] = {
    "age": ("Age", "年龄"), "blacklist": ("On the blacklist", "黑名单"), "residency": ("Residency", "居民身份"),
    "dti": ("Debt-to-income ratio", "负债收入比"), "existing_overdue": ("Has an overdue loan", "有逾期贷款"),
    "bureau_flag_count": ("Adverse credit bureau flags", "征信不良记录数"),
}


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def knockout_table() -> dict[str, Any]:
    fields = []
    for _code, f, *_ in KNOCK_OUTS:
        if f not in fields:
            fields.append(f)
    inputs = [{"id": f"in_{f}", "type": "expression", "field": f, "name": INPUT_NAMES[f][0], "name_en": INPUT_NAMES[f][0],
               "name_zh": INPUT_NAMES[f][1]} for f in fields]
    rules = []
    for code, f, test, outcome, en, zh in KNOCK_OUTS:
        rule: dict[str, Any] = {"_id": code, "_description": en}
        for g in fields:
            rule[f"in_{g}"] = test if g == f else ""
        rule.update(out_outcome=_q(outcome), out_reason=_q(code), out_en=_q(en), out_zh=_q(zh))
        rules.append(rule)
    return {"id": "knockouts", "type": "decisionTableNode", "name": "Knock-outs", "name_en": "Knock-outs",
            "name_zh": "准入拒绝规则", "position": {"x": 380, "y": 80},
            "content": {"hitPolicy": "collect", "inputs": inputs, "outputs": _outputs(), "rules": rules,
                        "outputPath": "knockouts"}}


def _outputs() -> list[dict[str, str]]:
    return [{"id": "out_outcome", "type": "expression", "field": "outcome", "name": "Outcome", "name_en": "Outcome",
             "name_zh": "结果"},
            {"id": "out_reason", "type": "expression", "field": "reason", "name": "Reason", "name_en": "Reason code",
             "name_zh": "原因代码"},
            {"id": "out_en", "type": "expression", "field": "message_en", "name": "Message (English)",
             "name_en": "Message (English)", "name_zh": "提示（英文）"},
            {"id": "out_zh", "type": "expression", "field": "message_zh", "name": "Message (Chinese)",
             "name_en": "Message (Chinese)", "name_zh": "提示（中文）"}]


def cutoff_table(product: str, shift: int = 0) -> dict[str, Any]:
    """The score cut-offs of a product, every one moved by `shift` points (a recalibration)."""
    approve, refer = (c + shift for c in CUTOFFS.get(product, DEFAULT_CUTOFF))
    rules = []
    segments = [(s, shift) for s, shift in SEGMENT_SHIFT.items()] + [("", 0)]
    for segment, shift in segments:
        a, r = approve + shift, refer + shift
        who, who_zh = SEGMENT_NAMES.get(segment, (f"segment {segment}", f"客群 {segment}"))
        seg_cell = _q(segment) if segment else ""
        tag = segment.upper() if segment else "STD"
        for outcome, test, code, en, zh in (
            ("approve", f">= {a}", f"CUT_APPROVE_{tag}", f"Score at or above the approval cut-off {a} ({who})",
             f"评分不低于核准线 {a}（{who_zh}）"),
            ("refer", f"[{r}..{a})", f"CUT_REFER_{tag}", f"Score in the review zone {r}–{a} ({who})",
             f"评分处于人工审查区间 {r}–{a}（{who_zh}）"),
            ("decline", f"< {r}", f"CUT_DECLINE_{tag}", f"Score below the cut-off {r} ({who})",
             f"评分低于拒绝线 {r}（{who_zh}）"),
        ):
            rules.append({"_id": code, "_description": en, "in_segment": seg_cell, "in_score": test,
                          "out_outcome": _q(outcome), "out_reason": _q(code), "out_en": _q(en), "out_zh": _q(zh)})
    return {"id": "cutoffs", "type": "decisionTableNode", "name": "Score cut-offs", "name_en": "Score cut-offs",
            "name_zh": "评分分数线", "position": {"x": 380, "y": 320},
            "content": {"hitPolicy": "first", "outputPath": "cutoff",
                        "inputs": [{"id": "in_segment", "type": "expression", "field": "segment", "name": "Segment",
                                    "name_en": "Customer segment", "name_zh": "客群"},
                                   {"id": "in_score", "type": "expression", "field": "score", "name": "Score",
                                    "name_en": "Score", "name_zh": "评分"}],
                        "outputs": _outputs(), "rules": rules}}


def default_policy(product: str, cutoff_shift: int = 0) -> dict[str, Any]:
    """The default JDM document of a product (see the module docstring); `cutoff_shift` moves every score
    cut-off by that many points."""
    return {
        "contentType": CONTENT_TYPE,
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Application", "name_en": "Application",
             "name_zh": "申请", "position": {"x": 80, "y": 200}},
            knockout_table(),
            cutoff_table(product, cutoff_shift),
            {"id": "response", "type": "outputNode", "name": "Decision", "name_en": "Decision", "name_zh": "决策",
             "position": {"x": 720, "y": 200}},
        ],
        "edges": [
            {"id": "e_ko", "sourceId": "request", "targetId": "knockouts", "type": "edge"},
            {"id": "e_cut", "sourceId": "request", "targetId": "cutoffs", "type": "edge"},
            {"id": "e_ko_out", "sourceId": "knockouts", "targetId": "response", "type": "edge"},
            {"id": "e_cut_out", "sourceId": "cutoffs", "targetId": "response", "type": "edge"},
        ],
    }
