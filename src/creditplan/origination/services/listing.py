"""The list of applications (issue 20 §4: lists that scale): every application the actor may see — a customer
their own, staff their branch subtree — filtered, sorted and paged in the database, for the page and its
CSV/Excel export (common.listing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from creditplan.common.listing import Listing, Page, paginate
from creditplan.core.access import Actor
from creditplan.core.errors import FieldProblem, NotFound, ValidationError
from creditplan.org import services as org
from creditplan.org.domain import Role
from creditplan.origination.domain import Channel, Status
from creditplan.origination.services.records import ApplicationView, application_view, visible

FILTERS = ("status", "channel", "product", "branch", "outcome", "date_from", "date_to", "officer", "q")
SORTS = {"created": "created_at", "ref": "ref", "amount": "amount_minor", "status": "status",
         "product": "product", "branch": "branch__code", "customer": "customer__name"}
DEFAULT_SORT = "created"
OUTCOMES = ("approve", "refer", "decline")


def _day(value: str, name: str, problems: list[FieldProblem]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        problems.append(FieldProblem(name, f"{name} must be a date (YYYY-MM-DD)", "date_format"))
        return None


def _start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def application_list(actor: Actor, listing: Listing, filters: Mapping[str, Any] | None = None
                     ) -> Page[ApplicationView]:
    """One page of the applications the actor may see, newest first by default. `filters` (text, blank: no
    filter): status, channel, product, branch (code: the branch and those below it), outcome (the automated
    decision's: approve | refer | decline), date_from / date_to (submitted on or after / on or before, the bank's
    days), officer (who entered it: a user id), q (an application reference or a customer's name, in part).
    Every filter is checked: an unknown value is refused with its field, all at once."""
    f = {k: str(v).strip() for k, v in (filters or {}).items() if k in FILTERS and v is not None}
    qs = visible(actor).annotate(n_approvals=Count("approvals", filter=Q(approvals__decision="approve")))
    problems: list[FieldProblem] = []
    if f.get("status"):
        if f["status"] not in {s.value for s in Status}:
            problems.append(FieldProblem("status", f"no status {f['status']!r}", "unknown_status"))
        else:
            qs = qs.filter(status=f["status"])
    if f.get("channel"):
        if f["channel"] not in {c.value for c in Channel}:
            problems.append(FieldProblem("channel", f"no channel {f['channel']!r}", "unknown_channel"))
        else:
            qs = qs.filter(channel=f["channel"])
    if f.get("outcome"):
        if f["outcome"] not in OUTCOMES:
            problems.append(FieldProblem("outcome", f"no outcome {f['outcome']!r}", "unknown_outcome"))
        else:
            qs = qs.filter(decision_outcome=f["outcome"])
    if f.get("product"):
        qs = qs.filter(product=f["product"].lower())
    if f.get("branch") and actor.role != Role.CUSTOMER:
        try:
            b = org.get_branch(f["branch"].upper())
        except NotFound:
            problems.append(FieldProblem("branch", f"no active branch {f['branch']!r}", "unknown_branch"))
        else:
            qs = qs.filter(branch__path__startswith=b.path)
    if f.get("officer") and actor.role != Role.CUSTOMER:
        if not f["officer"].isdigit() or len(f["officer"]) > 12:
            problems.append(FieldProblem("officer", "officer must be a user", "unknown_officer"))
        else:
            qs = qs.filter(entered_by_id=int(f["officer"]))
    low, high = _day(f.get("date_from", ""), "date_from", problems), _day(f.get("date_to", ""), "date_to", problems)
    if low and high and low > high:
        problems.append(FieldProblem("date_to", "the first date must be before the second", "dates_order"))
    if problems:
        raise ValidationError.collect(problems)
    if low:
        qs = qs.filter(created_at__gte=_start(low))
    if high:
        qs = qs.filter(created_at__lt=_start(high + dt.timedelta(days=1)))
    if f.get("q"):
        text = f["q"][:60]
        qs = qs.filter(Q(ref__icontains=text) | Q(customer__name__icontains=text))
    qs = qs.order_by(*listing.order_by(SORTS, DEFAULT_SORT))
    page = paginate(qs, listing)
    return Page(items=[application_view(a) for a in page.items], listing=page.listing, total=page.total)


def officer_choices(actor: Actor) -> list[tuple[str, str]]:
    """(user id, name) of everyone who entered an application the actor may see (staff only)."""
    if actor.role == Role.CUSTOMER:
        return []
    rows = (visible(actor).filter(entered_by__isnull=False).exclude(entered_by__role=Role.CUSTOMER.value)
            .values_list("entered_by_id", "entered_by__display_name", "entered_by__username").distinct())
    seen = {str(pk): (name or username) for pk, name, username in rows}
    return sorted(seen.items(), key=lambda x: x[1])
