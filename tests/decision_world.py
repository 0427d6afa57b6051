"""What the decision and origination tests share: a tiny hand-made scorecard (470 points + months_employed
(<12: 10, <36: 30, else 50) + housing (own 40, rent 20, free 10)), and the world a decision needs — a product and
the LPR, that scorecard as champion of `retail-pd`, the default policies, pricing grid and authority matrix, and an
active credit plan (BJ quota hard, SH soft)."""

from __future__ import annotations

import datetime as dt
from typing import Any

TINY_SCORECARD: dict[str, Any] = {
    "format": "creditplan.model/1", "kind": "scorecard", "name": "tiny",
    "inputs": [{"name": "months_employed", "type": "numeric"}, {"name": "housing", "type": "categorical"}],
    "derived": [], "scaling": {"pdo": 20.0, "base_odds": 50.0, "base_score": 600.0},
    "master_scale": [{"grade": g, "pd_max": p} for g, p in
                     (("A", 0.02), ("B", 0.05), ("C", 0.10), ("D", 0.20), ("E", 0.35), ("F", 0.50), ("G", 1.0))],
    "reason_texts": {"months_employed": {"en": "Time in current job", "zh": "现职工作年限"},
                     "housing": {"en": "Housing", "zh": "住房情况"}},
    "scorecard": {"intercept_points": 470.0, "features": [
        {"name": "months_employed", "type": "numeric", "splits": [12.0, 36.0], "points": [10.0, 30.0, 50.0],
         "missing_points": 10.0, "special_codes": [], "special_points": 0.0},
        {"name": "housing", "type": "categorical", "bins": [["own"], ["rent"], ["free"]],
         "points": [40.0, 20.0, 10.0], "missing_points": 15.0, "unseen_bin": 2}]},
}


def seed_decision_world(bank: dict[str, Any], risk2: Any, *, product: dict[str, Any], today: dt.date,
                        plan_code: str, plan_name: str, bj: tuple[str, str], sh: tuple[str, str]) -> tuple[int, Any]:
    """Set the world up; (the champion's model version id, the active plan). `bj` / `sh`: (new lending, balance)
    limits of the BJ (hard) and SH (soft) quotas, yuan."""
    from creditplan.decisions import services as decisions
    from creditplan.loans import services as loans
    from creditplan.plans import services as plans
    from creditplan.scoring import services as scoring

    loans.create_product(bank["risk"], **product)
    loans.set_lpr(bank["risk"], tenor="1y", effective_date=today - dt.timedelta(days=30), rate="0.0345")
    v = scoring.register_version(bank["risk"], model_name="retail-pd", artifact=TINY_SCORECARD,
                                 report_html="<p>hand-made</p>")
    scoring.validate_version(bank["risk"], v.id)
    scoring.approve_version(risk2, v.id)
    scoring.promote_champion(bank["risk"], v.id)
    decisions.seed_default_policies()
    p = plans.create_plan(bank["planner"], code=plan_code, name=plan_name,
                          period_start=today.replace(month=1, day=1), period_end=today.replace(month=12, day=31),
                          net_capital="1000000000", new_lending_limit="50000000", balance_limit="40000000")
    plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": bj[0], "balance_limit": bj[1]},
        {"branch": "SH", "new_lending_limit": sh[0], "balance_limit": sh[1], "control_mode": "soft"},
    ])
    plans.activate_plan(bank["planner"], p.id)
    return v.id, p
