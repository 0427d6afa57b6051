"""The capital base (资本净额) the concentration limits are measured against (issue 19): one planner proposes an
amount and the date it takes effect, another approves or rejects it (maker-checker); every step is a ledger event.

The base in force on a day is the approved row with the latest effective date on or before that day
(`current_capital_base`). The reservation reads the same figure inside its one statement (plans.sql
`checks_select`); when no base is approved for the day it falls back to the plan's own net capital
(`Plan.net_capital_minor`, set when the plan was created). Approving a base for a date that already has one
supersedes the earlier one (status "superseded"): one base per effective date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.plans.domain import parse_plan_amount
from creditplan.plans.models import CapitalBase

EARLIEST = dt.date(1990, 1, 1)  # a date before it is a typing error, not a capital base


@dataclass(frozen=True)
class CapitalBaseView:
    id: int
    amount_minor: int
    effective_from: dt.date
    note: str
    status: str  # pending, approved, rejected, superseded
    proposed_by: str
    decided_by: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


def _view(c: CapitalBase) -> CapitalBaseView:
    return CapitalBaseView(c.pk, c.amount_minor, c.effective_from, c.note, c.status, c.proposed_by.username,
                           c.decided_by.username if c.decided_by_id else None, c.created_at, c.decided_at)


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        text = str(value or "").strip()
        if not text:
            raise ValidationError("the date the capital base takes effect is required", field=field, code="required")
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError(f"{text!r} is not a date (YYYY-MM-DD)", field=field, code="date_format") from None
    if value < EARLIEST:
        raise ValidationError(f"the effective date {value} is before {EARLIEST}", field=field,
                              code="date_out_of_range")
    return value


@transaction.atomic
def propose_capital_base(actor: Actor, *, amount: Any, effective_from: Any, note: str = "") -> CapitalBaseView:
    """A planner proposes the capital base (yuan, more than zero) from a date; another planner decides."""
    require(actor, Perm.PLAN_MANAGE)
    minor = parse_plan_amount(amount, "amount", allow_zero=False)
    day = _date(effective_from, "effective_from")
    c = CapitalBase.objects.create(amount_minor=minor, effective_from=day, note=(note or "").strip()[:300],
                                   proposed_by=actor)
    ledger.append(actor, "plan.capital_base_proposed", "capital_base", c.pk,
                  {"amount_minor": minor, "effective_from": day, "note": c.note})
    return _view(c)


@transaction.atomic
def decide_capital_base(actor: Actor, capital_id: int, *, approve: bool, note: str = "") -> CapitalBaseView:
    """Approve or reject a proposed capital base: a planner other than the one who proposed it (maker-checker).
    An approved base supersedes an earlier approved one with the same effective date."""
    require(actor, Perm.PLAN_MANAGE)
    try:
        c = CapitalBase.objects.select_for_update(of=("self",)).select_related("proposed_by").get(pk=capital_id)
    except (CapitalBase.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"capital base proposal {capital_id} not found", code="capital_base_not_found") from None
    if c.status != "pending":
        raise Conflict(f"capital base proposal {capital_id} is already {c.status}", code="capital_base_decided")
    if c.proposed_by_id == actor.pk:
        raise Conflict("maker-checker: whoever proposed a capital base cannot decide it", code="maker_checker")
    superseded: list[int] = []
    if approve:
        same_day = CapitalBase.objects.select_for_update().filter(status="approved", effective_from=c.effective_from)
        superseded = list(same_day.values_list("pk", flat=True))
        same_day.update(status="superseded")
    c.status = "approved" if approve else "rejected"
    c.decided_by, c.decided_at = actor, timezone.now()
    c.save(update_fields=["status", "decided_by", "decided_at"])
    ledger.append(actor, f"plan.capital_base_{c.status}", "capital_base", c.pk,
                  {"amount_minor": c.amount_minor, "effective_from": c.effective_from, "superseded": superseded,
                   "note": (note or "").strip()[:300]})
    return _view(c)


def list_capital_bases(actor: Actor) -> list[CapitalBaseView]:
    """Every proposal, the latest effective date first (pending ones are the maker-checker queue)."""
    require(actor, Perm.PLAN_VIEW)
    return [_view(c) for c in CapitalBase.objects.select_related("proposed_by", "decided_by")
            .order_by("-effective_from", "-id")]


def current_capital_base(on: dt.date | None = None) -> CapitalBaseView | None:
    """The approved capital base in force on the day (today by default): the latest effective date on or before
    it. None when none is approved yet (the reservation then uses the plan's net capital)."""
    day = on or timezone.localdate()
    c = (CapitalBase.objects.select_related("proposed_by", "decided_by")
         .filter(status="approved", effective_from__lte=day).order_by("-effective_from", "-id").first())
    return _view(c) if c is not None else None
