"""The loans' clock: the business date every loan use case takes, the last date the close finished, and the
booking day — the day a posting entered now is booked on (today, or the next day once today's close has run).

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


def booking_date() -> dt.date:
    """The day a posting entered now is booked on: today — or, once the close of today has run, the next day.

    The bank's rule after the daily close (日切): a closed day's books do not change. A loan paid out after the
    close is value-dated the booking day (or later); a repayment may keep an earlier value date (the customer
    paid then: the close is replayed for the loan, within the back-dating limits) but its journal entry is booked
    on the booking day. The close of the booking day itself runs once that day has begun."""
    today = business_date()
    closed = last_closed_date()
    if closed is not None and closed >= today:
        return closed + dt.timedelta(days=1)
    return today
