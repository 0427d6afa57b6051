"""The standard indicator set: every formula compiles against its fact table, every threshold is consistent and
every dimension exists, so that the shipped set can be installed as it is."""

from __future__ import annotations

from creditplan.risk.domain.catalogue import DIMENSIONS, FACTS, STANDARD, dimensions_of
from creditplan.risk.domain.formula import compile_formula


def test_every_standard_indicator_compiles_and_is_consistent() -> None:
    assert len({s.code for s in STANDARD}) == len(STANDARD)
    for s in STANDARD:
        compile_formula(s.formula, FACTS[s.fact])
        s.threshold.check()
        for rule in s.rules:
            rule.check()
        assert set(s.dimensions) <= set(dimensions_of(s.fact)), s.code
        assert s.name_zh and s.explain_en and s.explain_zh, s.code


def test_the_set_covers_what_a_risk_department_reads_every_morning() -> None:
    codes = {s.code for s in STANDARD}
    assert {"npl_ratio", "overdue_1_30", "overdue_31_60", "overdue_61_90", "overdue_90_plus", "class_downgrade",
            "provision_coverage", "approval_rate", "straight_through_rate", "new_lending_score", "top10_customers",
            "plan_utilisation", "plan_pace", "fpd_rate", "default_3m_rate"} <= codes
    assert sum(1 for c in codes if c.startswith("roll_")) == 4
    assert set(DIMENSIONS) >= {"branch", "product", "industry", "region", "channel", "grade", "vintage"}
