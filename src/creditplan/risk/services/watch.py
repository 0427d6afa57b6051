"""Early warning, read: a customer's warning and signals, the watch list and its moves (risk.services.signals
writes them after each close)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import NotFound
from creditplan.org import services as org
from creditplan.risk.domain import signals as sig
from creditplan.risk.models import (
    CustomerSignal,
    SignalRun,
    WatchEntry,
    WatchStatus,
)


@dataclass(frozen=True)
class WatchChange:
    """One move of the watch list: a customer entered it, left it, or (on it) got a worse level."""

    entry_id: int
    customer_id: int
    kind: str  # entered | escalated | left
    level: str
    on: dt.date


@dataclass(frozen=True)
class WatchChanges:
    as_of: dt.date
    changes: tuple[WatchChange, ...]

    def of(self, kind: str) -> list[WatchChange]:
        return [c for c in self.changes if c.kind == kind]


# --- reading -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignalView:
    code: str
    weight: int
    label_en: str
    label_zh: str
    explain_en: str
    explain_zh: str
    figures: dict[str, Any]

    def label(self, zh: bool) -> str:
        return self.label_zh if zh else self.label_en

    def explain(self, zh: bool) -> str:
        return self.explain_zh if zh else self.explain_en


def signal_views(items: Iterable[Mapping[str, Any]]) -> list[SignalView]:
    """Stored signals ([{code, weight, figures}]) with their labels and explanations in both languages."""
    out = []
    for item in items:
        code = str(item.get("code", ""))
        if code not in sig.BY_CODE:
            continue
        figures = dict(item.get("figures") or {})
        out.append(SignalView(code, int(item.get("weight", 0)), sig.signal_label(code, False),
                              sig.signal_label(code, True), sig.explain(code, figures, False),
                              sig.explain(code, figures, True), figures))
    return out


@dataclass(frozen=True)
class CustomerWarning:
    """A customer's warning level on the latest run (green with no signal when the run stored no row for them)."""

    customer_id: int
    as_of: dt.date
    level: str
    score: int
    rule: str
    signals: list[SignalView]
    policy_number: int
    watch: WatchEntryView | None
    history: list[tuple[dt.date, str, int]]  # the last stored (date, level, score), newest first


@dataclass(frozen=True)
class WatchEntryView:
    """One watch-list entry — the stable record review tasks (item 3) read."""

    id: int
    customer_id: int
    customer_name: str
    branch: str
    status: str  # open | closed
    entered_on: dt.date
    entry_level: str
    level: str  # the latest run's level
    peak_level: str
    score: int  # at entry
    rule: str  # the reason code of the table row at entry
    message_en: str
    message_zh: str
    reason_signals: list[SignalView]  # the signals at entry, explained
    below_since: dt.date | None
    left_on: dt.date | None
    updated_on: dt.date

    def message(self, zh: bool) -> str:
        return self.message_zh if zh else self.message_en


def _entry_view(e: WatchEntry) -> WatchEntryView:
    reason = e.reason or {}
    return WatchEntryView(
        int(e.pk), int(e.customer_id), getattr(e.customer, "name", "") if e.customer_id else "",
        e.branch.code if e.branch_id else "", e.status, e.entered_on, e.entry_level, e.level, e.peak_level,
        int(reason.get("score", 0)), str(reason.get("rule", "")), str(reason.get("message_en", "")),
        str(reason.get("message_zh", "")), signal_views(reason.get("signals") or []), e.below_since, e.left_on,
        e.updated_on)


def latest_run(on_or_before: dt.date | None = None) -> SignalRun | None:
    qs = SignalRun.objects.all()
    if on_or_before is not None:
        qs = qs.filter(as_of__lte=on_or_before)
    return qs.order_by("-as_of").first()


def customer_warning(actor: Actor, customer_id: int) -> CustomerWarning | None:
    """The customer page's warning box: the latest run's level and signals for a customer the actor may see (None
    before any run). Refused, like the customer itself, outside the actor's scope."""
    from creditplan.customers import services as customers

    customers.get_customer(actor, customer_id)  # permission and branch scope, as the page itself
    run = latest_run()
    if run is None:
        return None
    row = CustomerSignal.objects.filter(as_of=run.as_of, customer_id=customer_id).first()
    entry = (WatchEntry.objects.select_related("customer", "branch").filter(customer_id=customer_id)
             .order_by("-entered_on", "-id").first())
    history = list(CustomerSignal.objects.filter(customer_id=customer_id).order_by("-as_of")
                   .values_list("as_of", "level", "score")[:10])
    if row is None:
        return CustomerWarning(customer_id, run.as_of, "green", 0, "", [], run.policy_number,
                               _entry_view(entry) if entry else None, history)
    return CustomerWarning(customer_id, run.as_of, row.level, row.score, row.rule, signal_views(row.signals),
                           run.policy_number, _entry_view(entry) if entry else None, history)


def _visible_entries(actor: Actor) -> Any:
    require(actor, Perm.RISK_VIEW)
    return org.scope_to_branches(actor, WatchEntry.objects.select_related("customer", "branch"))


def watch_list(actor: Actor, *, status: str = "open", level: str = "", limit: int = 500) -> list[WatchEntryView]:
    """The watch list as the actor may see it (branch scope), most severe and newest first."""
    qs = _visible_entries(actor)
    if status in (WatchStatus.OPEN, WatchStatus.CLOSED):
        qs = qs.filter(status=status)
    if level in sig.LEVELS:
        qs = qs.filter(level=level)
    entries = [_entry_view(e) for e in qs.order_by("-entered_on", "-id")[: max(1, min(limit, 5000))]]
    entries.sort(key=lambda e: (-sig.LEVEL_RANK.get(e.level, 0), -e.entered_on.toordinal(), -e.id))
    return entries


def watch_counts(actor: Actor) -> dict[str, int]:
    qs = _visible_entries(actor).filter(status=WatchStatus.OPEN)
    return {lv: qs.filter(level=lv).count() for lv in sig.LEVELS}


def watch_entry(actor: Actor, entry_id: int) -> tuple[WatchEntryView, CustomerWarning | None]:
    """One entry and the customer's latest level and signals (NotFound outside the actor's scope)."""
    e = _visible_entries(actor).filter(pk=entry_id).first()
    if e is None:
        raise NotFound(f"watch-list entry {entry_id} not found", code="watch_entry_not_found")
    return _entry_view(e), customer_warning(actor, int(e.customer_id))


def open_watch_entries(*, entered_on: dt.date | None = None, levels: Iterable[str] = sig.WATCH_LEVELS
                       ) -> list[WatchEntryView]:
    """Trusted read for other use cases (review tasks): the open entries at the given current levels, optionally
    only those that entered on a date; oldest first."""
    qs = WatchEntry.objects.select_related("customer", "branch").filter(status=WatchStatus.OPEN,
                                                                         level__in=list(levels))
    if entered_on is not None:
        qs = qs.filter(entered_on=entered_on)
    return [_entry_view(e) for e in qs.order_by("entered_on", "id")]


def watch_changes(day: dt.date) -> WatchChanges:
    """What the run of `day` did to the watch list (trusted read): entries entered, escalated or left that day."""
    out: list[WatchChange] = []
    for e in WatchEntry.objects.filter(Q(entered_on=day) | Q(left_on=day) | Q(escalated_on=day)).order_by("id"):
        if e.entered_on == day:
            out.append(WatchChange(int(e.pk), int(e.customer_id), "entered", e.entry_level, day))
        if e.escalated_on == day:
            out.append(WatchChange(int(e.pk), int(e.customer_id), "escalated", e.peak_level, day))
        if e.left_on == day:
            out.append(WatchChange(int(e.pk), int(e.customer_id), "left", e.level, day))
    return WatchChanges(day, tuple(out))


def run_view(actor: Actor) -> SignalRun | None:
    require(actor, Perm.RISK_VIEW)
    return latest_run()
