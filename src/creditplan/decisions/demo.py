"""Demo: the risk managers recalibrate the score cut-offs for the demo scorecard, through the normal four-eyes path.

The default cut-offs (decisions.domain.defaults.CUTOFFS) suit a scorecard whose typical applicant is a good risk.
The demo's champion is trained on the German credit data set, where three applicants in ten defaulted, so its
scores sit lower: the default consumer cut-off of 530 would refer or decline most demo customers. A risk
manager uploads the default policy with every cut-off 15 points lower, validates and submits it; a second risk
manager approves it, and it is published as version 2 — what a bank does after validating a new model.
"""

from __future__ import annotations

from typing import Any

from creditplan.decisions import services
from creditplan.decisions.domain import defaults

DEMO_SHIFT = -15


def recalibrate(author: Any, approver: Any, products: tuple[str, ...] = ("consumer",), shift: int = DEMO_SHIFT
                ) -> list[int]:
    """Publish each product's default policy with its cut-offs moved by `shift`; the new version numbers."""
    published = []
    for product in products:
        v = services.upload_policy(author, product=product, jdm=defaults.default_policy(product, cutoff_shift=shift),
                                   note=f"cut-offs recalibrated for the demo scorecard ({shift:+d} points)")
        services.validate_version(author, v.id)
        services.submit_version(author, v.id)
        published.append(services.approve_version(approver, v.id).number)
    return published
