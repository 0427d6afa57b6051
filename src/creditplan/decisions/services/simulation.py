"""Simulation: replay a policy version over the product's past decisions and compare approval rate, expected
bad rate and volume with what the policy said then."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, ValidationError
from creditplan.decisions.domain import kernel
from creditplan.decisions.domain import simulation as sim
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.fastscore import Scored
from creditplan.decisions.models import Decision
from creditplan.decisions.services.lpr import lpr_history
from creditplan.decisions.services.policies import (
    PolicyVersionView,
    published_version,
    version_row,
    version_view,
)
from creditplan.decisions.services.products import on_sale_product, replay_context
from creditplan.org import services as org
from creditplan.org.domain import Perm


@dataclass(frozen=True)
class SimulationView:
    product: str
    version: PolicyVersionView | None
    cutoff_shift: int
    cases: int
    comparison: dict[str, Any]
    changed_examples: list[dict[str, Any]]


def simulate(actor: Actor, *, product: str, version_id: int | None = None, cutoff_shift: int = 0,
             limit: int = 5000) -> SimulationView:
    """Replay a policy version (default: the published one) — or the same with every score cut-off moved by
    `cutoff_shift` points — over the product's past decisions, from their stored inputs and scores, and compare
    approval rate, expected bad rate (mean PD of the approved) and volume with what the policy said then. Each
    application is priced at the LPR in force on the day it was decided; the grid, floor, cap and limits are
    today's (their history is only in the ledger)."""
    org.require(actor, Perm.POLICY_VIEW)
    if isinstance(cutoff_shift, bool) or not isinstance(cutoff_shift, int) or abs(cutoff_shift) > 300:
        raise ValidationError("the cut-off shift is a whole number of points from -300 to 300", field="cutoff_shift")
    prod, _terms = on_sale_product(product)
    if version_id is None:
        version, compiled, problem = published_version(prod.code)
        if version is None:
            raise Conflict(problem, code="no_published_policy")
        version = version_row(version.pk)
    else:
        version = version_row(version_id)
        if version.policy.product != prod.code:
            raise ValidationError(f"policy version {version_id} is not a {prod.code} policy", field="version_id")
        compiled = ENGINE.install_text(version.jdm)
    terms, settings, _settings_row, grades, _benchmark_today, _name = replay_context(prod.code)
    rows = list(Decision.objects.filter(product=prod.code).order_by("-id")
                .values("id", "application_ref", "inputs", "requested_minor", "term", "channel", "score", "pd",
                        "grade", "outcome", "policy_outcome", "approved_minor", "created_at")
                [: max(1, min(int(limit), 50_000))])
    rows.reverse()
    lpr_days, lpr_rates = lpr_history(prod.lpr_tenor)  # each application priced at the LPR of its own day
    before: list[sim.Case] = []
    after: list[sim.Case] = []
    changed: list[dict[str, Any]] = []
    for d in rows:
        at = bisect.bisect_right(lpr_days, timezone.localdate(d["created_at"])) - 1
        if at >= 0:
            benchmark, name = lpr_rates[at], f"LPR {prod.lpr_tenor}"
        else:
            benchmark, name = prod.rate_ppm, "product base rate (no LPR published)"
        old = d["policy_outcome"] or d["outcome"]
        before.append(sim.Case(old, d["approved_minor"] if old == "approve" else 0, d["pd"], d["grade"]))
        scored = None
        if d["score"] is not None:
            scored = Scored(d["score"] - cutoff_shift, d["pd"] if d["pd"] is not None else 0.0, d["grade"], [], [])
        app = kernel.Application(d["application_ref"], terms.code, d["requested_minor"], d["term"], d["inputs"],
                                 d["channel"])
        r = kernel.run(app, product=terms, grades=grades, settings=settings, benchmark_ppm=benchmark,
                       benchmark_name=name, engine=ENGINE, policy=compiled, scorer=None, scored=scored,
                       model_problem="the decision had no score")
        after.append(sim.Case(r.outcome, r.limit.approved_minor if r.outcome == "approve" else 0, d["pd"], d["grade"]))
        if r.outcome != old and len(changed) < 50:
            changed.append({"decision": d["id"], "application_ref": d["application_ref"], "before": old,
                            "after": r.outcome, "grade": d["grade"],
                            "score": None if d["score"] is None else round(d["score"], 1)})
    comparison = sim.compare(before, after)
    return SimulationView(prod.code, version_view(version), cutoff_shift, len(rows), comparison.as_json(),
                          changed)
