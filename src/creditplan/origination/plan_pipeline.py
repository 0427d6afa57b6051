"""What the credit plan's forecast reads from origination (plans.services.sources.PipelineSource, registered in
origination/apps.py): the applications in progress by stage, and each stage's historical conversion into a loan.
Plans sits below origination and never imports it (docs/architecture.md, "Layers"); docs/plan-forecast.md.

* In progress: every application in an open state after submission (submitted, referred, info requested, and the
  approved ones on their way to the money: approved, contract offered, signed, ready to disburse) — except those
  whose approval already holds plan quota (quota status reserved or escalated): the plan counts them in its
  reserved figure, at their full amount, and must not count them twice. The amount is the approved amount once
  there is one, the requested amount before. The cell is the application's branch and product, its customer's
  GB/T 4754 section (the industry code's first letter) and GB/T 2260 province (the region code's first two
  digits), as the loan will have; applications carry no plan segment, so the segment is blank.
* Conversion: of the applications created in the last 12 months (365 days up to today) that have finished
  (disbursed, declined, withdrawn or expired — an application still open has no outcome yet), for each stage the
  share of those that reached it (a transition into it) and ended disbursed. A stage no finished application
  reached in the window converts at the overall rate of the window (disbursed ÷ finished); with no finished
  application at all, every stage converts at 0.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from django.db.models import Count, F, Q
from django.db.models.functions import Substr
from django.utils import timezone

from creditplan.origination.domain import OPEN, TERMINAL, Status
from creditplan.origination.models import Application, Transition
from creditplan.plans.services.sources import Cell

WINDOW_DAYS = 365
#: the stages an application in progress can be in (a draft has not been submitted: not yet business in hand)
STAGES: tuple[str, ...] = tuple(s.value for s in Status if s in OPEN and s is not Status.DRAFT)
_HOLDING = ("reserved", "escalated")


class Pipeline:
    def in_progress(self) -> list[tuple[str, Cell]]:
        rows = (Application.objects.filter(status__in=STAGES).exclude(quota_status__in=_HOLDING)
                .values("status", "branch_id", "product", "amount_minor", "approved_amount_minor",
                        industry=Substr("customer__industry_code", 1, 1), region=Substr("customer__region_code", 1, 2))
                .order_by("id"))
        return [(r["status"], Cell(r["branch_id"], r["product"] or "", (r["industry"] or "").upper(), r["region"] or "",
                                   "", int(r["approved_amount_minor"] or r["amount_minor"]))) for r in rows]

    def conversion(self, today: dt.date | None = None) -> dict[str, Fraction]:
        today = today or timezone.localdate()
        tz = timezone.get_current_timezone()
        since = dt.datetime.combine(today - dt.timedelta(days=WINDOW_DAYS - 1), dt.time(0), tz)
        until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tz)
        finished = Q(created_at__gte=since, created_at__lt=until, status__in=[s.value for s in TERMINAL])
        paid = Status.DISBURSED.value
        overall = Application.objects.filter(finished).aggregate(n=Count("id"), paid=Count("id", filter=Q(status=paid)))
        if not overall["n"]:
            return dict.fromkeys(STAGES, Fraction(0))
        base = Fraction(overall["paid"], overall["n"])
        by_stage = (Transition.objects.filter(to_status__in=STAGES, application__in=Application.objects.filter(finished))
                    .values(stage=F("to_status"))
                    .annotate(n=Count("application_id", distinct=True),
                              paid=Count("application_id", distinct=True, filter=Q(application__status=paid)))
                    .order_by())
        rates = dict.fromkeys(STAGES, base)
        for r in by_stage:
            if r["n"]:
                rates[r["stage"]] = Fraction(r["paid"], r["n"])
        return rates


PIPELINE = Pipeline()
