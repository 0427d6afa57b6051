"""What the lines' use cases hand back: frozen records, amounts in fen."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.utils import timezone

from creditplan.lines import domain, sql
from creditplan.lines.models import CreditLine, LineChange, Occupation


@dataclass(frozen=True)
class SubLimitView:
    product: str
    amount_minor: int
    reserved_minor: int
    used_minor: int
    available_minor: int
    product_name: str = ""


@dataclass(frozen=True)
class ChangeView:
    id: int
    line_id: int
    customer_id: int | None
    customer_name: str
    branch_code: str
    kind: str
    amount_minor: int | None
    expires_on: dt.date | None
    sub_limits: dict[str, int] | None
    revolving: bool | None
    reason: str
    status: str
    immediate: bool
    proposed_by: str
    proposed_by_id: int | None
    decided_by: str
    decided_at: dt.datetime | None
    note: str
    created_at: dt.datetime
    line_amount_minor: int
    line_status: str


@dataclass(frozen=True)
class LineView:
    id: int
    customer_id: int | None
    customer_name: str
    branch_code: str
    currency: str
    amount_minor: int
    reserved_minor: int
    used_minor: int
    available_minor: int
    over_minor: int
    revolving: bool
    status: str
    state: str  # status, with "expired" for an active line past its expiry
    expires_on: dt.date
    sub_limits: list[SubLimitView]
    freeze_reason: str
    approved_by: str
    approved_at: dt.datetime | None
    version: int
    pending: ChangeView | None = None
    changes: list[ChangeView] = field(default_factory=list)


@dataclass(frozen=True)
class OccupationView:
    application_ref: str
    product: str
    status: str
    reserved_minor: int
    disbursed_minor: int
    outstanding_minor: int
    restored_minor: int
    created_at: dt.datetime


def line_of(row: CreditLine) -> domain.Line:
    return sql.line_from(id=row.pk, status=row.status, currency=row.currency, amount=row.amount_minor,
                         reserved=row.reserved_minor, used=row.used_minor, revolving=row.revolving,
                         expires_on=row.expires_on, sub_limits=row.sub_limits, usage=row.usage)


def store(row: CreditLine, line: domain.Line, *, fields: tuple[str, ...] = ()) -> None:
    """Write a line's counters (and `fields`) back to its row, which the caller holds locked."""
    row.reserved_minor, row.used_minor, row.usage = line.reserved, line.used, sql.usage_json(line)
    row.amount_minor, row.sub_limits = line.amount, dict(sorted(line.sub_limits.items()))
    row.version += 1
    row.save(update_fields=["reserved_minor", "used_minor", "usage", "amount_minor", "sub_limits", "version",
                            "updated_at", *fields])


def with_terms(line: domain.Line, *, amount: int, sub_limits: dict[str, int]) -> domain.Line:
    from dataclasses import replace

    return replace(line, amount=amount, sub_limits=MappingProxyType(dict(sub_limits)))


def change_view(c: LineChange, line: CreditLine | None = None) -> ChangeView:
    line = line or c.line
    customer = line.customer
    return ChangeView(
        id=c.pk, line_id=line.pk, customer_id=line.customer_id, customer_name=customer.name if customer else "",
        branch_code=line.branch.code, kind=c.kind, amount_minor=c.amount_minor, expires_on=c.expires_on,
        sub_limits=dict(c.sub_limits) if c.sub_limits is not None else None, revolving=c.revolving, reason=c.reason,
        status=c.status, immediate=c.immediate, proposed_by=c.proposed_by_name, proposed_by_id=c.proposed_by_id,
        decided_by=c.decided_by_name, decided_at=c.decided_at, note=c.note, created_at=c.created_at,
        line_amount_minor=line.amount_minor, line_status=line.status)


def line_view(row: CreditLine, *, pending: LineChange | None = None, changes: list[LineChange] | None = None,
              today: dt.date | None = None, names: dict[str, str] | None = None) -> LineView:
    line = line_of(row)
    today = today or timezone.localdate()
    state = line.state_on(today) if row.status == domain.LineStatus.ACTIVE else row.status
    names = names or {}
    subs = [SubLimitView(p, cap, line.of(p).reserved, line.of(p).used, line.sub_available(p) or 0, names.get(p, p))
            for p, cap in sorted(line.sub_limits.items())]
    customer = row.customer
    approver: Any = row.approved_by
    return LineView(
        id=row.pk, customer_id=row.customer_id, customer_name=customer.name if customer else "",
        branch_code=row.branch.code, currency=row.currency, amount_minor=line.amount, reserved_minor=line.reserved,
        used_minor=line.used, available_minor=line.available if state == "active" else 0, over_minor=line.over_by,
        revolving=row.revolving, status=row.status, state=state, expires_on=row.expires_on, sub_limits=subs,
        freeze_reason=row.freeze_reason, approved_by=approver.username if approver else "",
        approved_at=row.approved_at, version=row.version,
        pending=change_view(pending, row) if pending is not None else None,
        changes=[change_view(c, row) for c in changes or []])


def occupation_view(o: Occupation) -> OccupationView:
    return OccupationView(application_ref=o.application_ref, product=o.product, status=o.status,
                          reserved_minor=o.reserved_minor, disbursed_minor=o.disbursed_minor,
                          outstanding_minor=o.outstanding_minor, restored_minor=o.restored_minor,
                          created_at=o.created_at)
