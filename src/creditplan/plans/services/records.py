"""What the plan services hand back: plain, frozen records of plans, quotas, reservations and reallocation
requests (amounts in fen), and how each is made from its row. Pages, the API, the Excel files and other apps read
these, never the models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language, gettext

from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.plans.domain import QuotaState
from creditplan.plans.models import Adjustment, Plan, Quota, Reservation
from creditplan.plans.services.dimensions import dimension_name


@dataclass(frozen=True)
class QuotaView:
    id: int
    parent_id: int | None
    label: str
    branch: str
    product: str
    industry: str
    region: str
    segment: str
    control_mode: str
    state: QuotaState
    children: int
    frozen: bool = False  # issue 19 §3: no new reservations while set (plans.services.transfers.freeze_quota)


@dataclass(frozen=True)
class PlanView:
    id: int
    code: str
    name: str
    period_start: dt.date
    period_end: dt.date
    status: str
    net_capital_minor: int
    root: QuotaView | None


@dataclass(frozen=True)
class ReservationView:
    id: int
    application_ref: str
    status: str
    amount_minor: int
    disbursed_minor: int
    outstanding_minor: int
    large_exposure: bool
    reason: str
    quota_ids: list[int]


def state_of(q: Quota) -> QuotaState:
    return QuotaState(q.new_lending_limit_minor, q.balance_limit_minor, q.reserved_minor, q.consumed_minor,
                      q.outstanding_minor)


def quota_label(q: Quota) -> str:
    """The quota in words, in the language of the request (services' messages carry it too): its branch's name and
    each dimension it fixes, e.g. "北京分行 · 产品 consumer"; the root is the whole institution (全行)."""
    parts = [branch_name(q.branch) if q.branch_id else "",
             *dimension_words(q.product, q.industry, q.region, q.segment)]
    return " · ".join(p for p in parts if p) or gettext("Whole institution")


def _english() -> bool:
    return (get_language() or "zh").startswith("en")


def branch_name(branch: Any) -> str:
    """A branch's name in the request's language (its English name on an English page, when it has one)."""
    name_en = getattr(branch, "name_en", "")
    return name_en if name_en and _english() else branch.name


def dimension_words(product: str, industry: str, region: str, segment: str) -> list[str]:
    """Each dimension a quota or a book cell fixes, in the request's language, by name (issue 20: no raw codes):
    ["产品 个人消费贷", "地区 北京市"]."""
    en = _english()
    words = []
    if product:
        words.append(f"{gettext('product')} {dimension_name('product', product)}")
    if industry:
        section = INDUSTRY_SECTIONS.get(industry)
        words.append(f"{gettext('industry')} {section[1 if en else 0] if section else industry}")
    if region:
        province = PROVINCES.get(region)
        words.append(f"{gettext('region')} {province[1 if en else 0] if province else region}")
    if segment:
        words.append(f"{gettext('segment')} {dimension_name('segment', segment)}")
    return words


def quota_view(q: Quota) -> QuotaView:
    return QuotaView(
        id=q.pk, parent_id=q.parent_id, label=quota_label(q), branch=q.branch.code if q.branch_id else "",
        product=q.product, industry=q.industry, region=q.region, segment=q.segment, control_mode=q.control_mode,
        state=state_of(q), children=q.children.count(), frozen=q.frozen,
    )


def plan_view(p: Plan) -> PlanView:
    root = p.quotas.filter(parent__isnull=True).select_related("branch").first()
    return PlanView(p.pk, p.code, p.name, p.period_start, p.period_end, p.status, p.net_capital_minor,
                    quota_view(root) if root else None)


def reservation_view(r: Reservation, quota_ids: list[int] | None = None) -> ReservationView:
    ids = quota_ids if quota_ids is not None else list(r.quotas.values_list("pk", flat=True))
    return ReservationView(r.pk, r.application_ref, r.status, r.amount_minor, r.disbursed_minor,
                           r.outstanding_minor, r.large_exposure, r.reason, sorted(ids))


@dataclass(frozen=True)
class AdjustmentView:
    id: int
    quota_id: int
    quota_label: str
    delta_minor: int
    reason: str
    status: str
    requested_by: str
    decided_by: str | None
    decision_note: str
    created_at: dt.datetime


def adjustment_view(a: Adjustment) -> AdjustmentView:
    return AdjustmentView(a.pk, a.quota_id, quota_label(a.quota), a.delta_minor, a.reason, a.status,
                          a.requested_by.username, a.decided_by.username if a.decided_by_id else None,
                          a.decision_note, a.created_at)
