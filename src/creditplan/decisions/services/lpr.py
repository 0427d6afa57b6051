"""The LPR table as the decision configuration pages show it (loans keeps the table): every publication with
the one in force today, and recording a new one typed in percent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import ValidationError
from creditplan.decisions.domain import configuration as cfg
from creditplan.loans import services as loans
from creditplan.loans.models import LprRate
from creditplan.org import services as org
from creditplan.org.domain import Perm


@dataclass(frozen=True)
class LprRow:
    tenor: str
    effective_date: dt.date
    rate_ppm: int
    in_force: bool  # the publication a decision made today uses


def lpr_table(actor: Actor) -> list[LprRow]:
    """Every LPR publication, newest first, marking the one in force today per tenor."""
    if not (org.may(actor, Perm.POLICY_VIEW) or org.may(actor, Perm.PRODUCT_MANAGE)):
        org.require(actor, Perm.POLICY_VIEW)
    today = timezone.localdate()
    rows = list(LprRate.objects.order_by("tenor", "-effective_date").values_list("tenor", "effective_date",
                                                                                 "rate_ppm"))
    current = {}
    for tenor, day, _rate in rows:
        if day <= today and tenor not in current:
            current[tenor] = day
    return [LprRow(t, d, r, current.get(t) == d) for t, d, r in rows]


def publish_lpr(actor: Actor, *, tenor: str, effective_date: Any, rate_pct: Any) -> LprRow:
    """Record an LPR publication typed in percent ("3.45"); loans keeps the table (`product.manage`)."""
    org.require(actor, Perm.PRODUCT_MANAGE)
    rate, problem = cfg.parse_pct(rate_pct, "rate")
    if problem is not None:
        raise ValidationError(problem.message, field="rate", code=problem.code)
    assert rate is not None  # parse_pct gives a rate or a problem
    row = loans.set_lpr(actor, tenor=str(tenor or ""), effective_date=effective_date,
                        rate=str(Decimal(rate) / Decimal(1_000_000)))
    return LprRow(row.tenor, row.effective_date, row.rate_ppm, False)


def lpr_history(tenor: str) -> tuple[list[dt.date], list[int]]:
    """One tenor's publications, oldest first, for looking up the rate in force on many past days at once."""
    rows = list(LprRate.objects.filter(tenor=tenor).order_by("effective_date").values_list("effective_date",
                                                                                           "rate_ppm"))
    return [d for d, _r in rows], [r for _d, r in rows]
