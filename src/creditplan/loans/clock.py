"""The loans' clock: the business date every loan use case takes, and the last date the close finished.

Every loans module reads the date through this module at call time (`clock.business_date()`), never a copy
bound at import: a test, or the demo seed replaying history, moves the clock of every use case by setting
`clock.business_date` (services.business_date forwards here for the apps above loans).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Max
from django.utils import timezone

from creditplan.loans.models import CloseRun


def business_date() -> dt.date:
    """Today in the institution's time zone (Asia/Shanghai): the date payments and disbursements take."""
    return timezone.localdate()


def last_closed_date() -> dt.date | None:
    """The latest business date whose close finished."""
    return CloseRun.objects.filter(status="done").aggregate(d=Max("business_date"))["d"]
