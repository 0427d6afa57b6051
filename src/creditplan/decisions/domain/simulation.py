"""Figures of a policy replay: approval rate, expected bad rate and volume, before and after.

Why expected rather than observed bad rate: most replayed applications are recent and have not matured, and
the declined ones never had a loan. The model's PD of each application is the best estimate of its chance of
going bad, so the expected bad rate of a set of approvals is the mean PD over them (and the expected number of
bad loans their sum). A changed cut-off is replayed as a score shift: raising every cut-off by *k* points gives
exactly the decisions of lowering every score by *k* under the unchanged policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """One past application as replayed: its outcome, the amount it would get, its PD and grade."""

    outcome: str
    amount_minor: int
    pd: float | None
    grade: str = ""


@dataclass(frozen=True)
class Figures:
    applications: int
    approved: int
    referred: int
    declined: int
    approval_rate: float
    expected_bad_rate: float | None  # mean PD of the approved (None: no approval carries a PD)
    expected_bads: float
    volume_minor: int  # Σ approved amounts
    by_grade: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"applications": self.applications, "approved": self.approved, "referred": self.referred,
                "declined": self.declined, "approval_rate": round(self.approval_rate, 6),
                "expected_bad_rate": None if self.expected_bad_rate is None else round(self.expected_bad_rate, 6),
                "expected_bads": round(self.expected_bads, 4), "volume_minor": self.volume_minor,
                "by_grade": self.by_grade}


def figures(cases: Iterable[Case]) -> Figures:
    n = approved = referred = declined = volume = 0
    pd_sum, pd_n = 0.0, 0
    by_grade: dict[str, dict[str, int]] = {}
    for c in cases:
        n += 1
        g = by_grade.setdefault(c.grade or "-", {"applications": 0, "approved": 0, "volume_minor": 0})
        g["applications"] += 1
        if c.outcome == "approve":
            approved += 1
            volume += c.amount_minor
            g["approved"] += 1
            g["volume_minor"] += c.amount_minor
            if c.pd is not None:
                pd_sum += c.pd
                pd_n += 1
        elif c.outcome == "refer":
            referred += 1
        else:
            declined += 1
    return Figures(n, approved, referred, declined, approved / n if n else 0.0, pd_sum / pd_n if pd_n else None,
                   pd_sum, volume, dict(sorted(by_grade.items())))


@dataclass(frozen=True)
class Comparison:
    before: Figures
    after: Figures
    changed: int  # applications whose outcome changed
    newly_approved: int
    no_longer_approved: int

    def as_json(self) -> dict[str, Any]:
        b, a = self.before, self.after
        return {"before": b.as_json(), "after": a.as_json(), "changed": self.changed,
                "newly_approved": self.newly_approved, "no_longer_approved": self.no_longer_approved,
                "delta": {"approval_rate": round(a.approval_rate - b.approval_rate, 6),
                          "expected_bad_rate": (None if a.expected_bad_rate is None or b.expected_bad_rate is None
                                                else round(a.expected_bad_rate - b.expected_bad_rate, 6)),
                          "volume_minor": a.volume_minor - b.volume_minor}}


def compare(before: list[Case], after: list[Case]) -> Comparison:
    """Both lists hold the same applications in the same order."""
    if len(before) != len(after):
        raise ValueError("before and after must hold the same applications")
    changed = sum(1 for x, y in zip(before, after, strict=True) if x.outcome != y.outcome)
    newly = sum(1 for x, y in zip(before, after, strict=True) if x.outcome != "approve" and y.outcome == "approve")
    gone = sum(1 for x, y in zip(before, after, strict=True) if x.outcome == "approve" and y.outcome != "approve")
    return Comparison(figures(before), figures(after), changed, newly, gone)
