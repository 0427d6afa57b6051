"""Alerts: who sees them, and acknowledging, commenting and resolving them.

An alert is routed to its indicator's owner role and, when it is about one branch, to that branch: the owner role's
users whose branch scope holds the branch see it (head-office roles see every branch). Resolving needs a reason
(a code from `RESOLUTIONS`; "other" needs a note saying what). Every step is a ledger event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require, sees_all_branches
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.risk.models import Alert, AlertComment, AlertStatus

RESOLUTIONS: tuple[str, ...] = ("action_taken", "within_appetite", "data_error", "threshold_reviewed", "other")
"""Why an alert was closed: the risk was acted on; it is within the risk appetite after review; the figure came
from wrong data; the threshold was reviewed and changed; or something else (a note says what)."""


@dataclass(frozen=True)
class CommentView:
    author: str
    text: str
    at: dt.datetime


@dataclass(frozen=True)
class AlertView:
    id: int
    key: str
    indicator: str
    name_en: str
    name_zh: str
    unit: str
    rule_kind: str
    dimension: str
    member: str
    branch: str
    owner_role: str
    status: str
    raised_on: dt.date
    value: float | None
    rag: str
    raised_at: dt.datetime
    acknowledged_by: str
    acknowledged_at: dt.datetime | None
    resolved_by: str
    resolved_at: dt.datetime | None
    resolution: str
    resolution_note: str
    comments: tuple[CommentView, ...]


def _name(user: object) -> str:
    return str(getattr(user, "display_name", "") or getattr(user, "username", "") or "")


def _view(a: Alert, *, with_comments: bool = False) -> AlertView:
    comments: tuple[CommentView, ...] = ()
    if with_comments:
        comments = tuple(CommentView(_name(c.author), c.text, c.at)
                         for c in a.comments.select_related("author").order_by("at", "id"))
    return AlertView(a.pk, a.key, a.indicator.code, a.indicator.name_en, a.indicator.name_zh, a.indicator.unit,
                     a.rule_kind, a.dimension, a.member, a.branch.code if a.branch else "", a.owner_role, a.status,
                     a.raised_on, a.value, a.rag, a.raised_at, _name(a.acknowledged_by), a.acknowledged_at,
                     _name(a.resolved_by), a.resolved_at, a.resolution, a.resolution_note, comments)


def visible_alerts(actor: Actor) -> QuerySet[Alert]:
    """The alerts routed to the actor: their role owns the indicator (administrators and auditors see all), and
    a branch alert only within their branch scope."""
    require(actor, Perm.RISK_VIEW)
    qs = Alert.objects.select_related("indicator", "branch", "acknowledged_by", "resolved_by")
    role = actor.role
    if role not in ("admin", "auditor", "risk_manager"):
        qs = qs.filter(owner_role=role)
    if not sees_all_branches(role):
        path = getattr(getattr(actor, "branch", None), "path", None)
        if path is None:
            return qs.none()
        qs = qs.filter(Q(branch__isnull=True) | Q(branch__path__startswith=path))
    return qs


def list_alerts(actor: Actor, *, status: str = "open", limit: int = 200) -> list[AlertView]:
    """Open (and acknowledged) alerts first, red before amber, newest first; or one status; or all."""
    qs = visible_alerts(actor)
    if status == "open":
        qs = qs.filter(status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
    elif status in AlertStatus.values:
        qs = qs.filter(status=status)
    elif status != "all":
        raise ValidationError("status is open, acknowledged, resolved or all", field="status", code="unknown_status")
    rows = list(qs.order_by("-raised_on", "-id")[: max(1, min(int(limit), 1000))])
    rows.sort(key=lambda a: (a.status == AlertStatus.RESOLVED, a.rag != "red", -a.raised_on.toordinal(), -a.pk))
    return [_view(a) for a in rows]


def open_alert_count(actor: Actor) -> tuple[int, int]:
    """(open alerts, of which red) routed to the actor: the staff dashboard's card."""
    qs = visible_alerts(actor).filter(status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
    return qs.count(), qs.filter(rag="red").count()


def _get(actor: Actor, alert_id: int, *, for_update: bool = False) -> Alert:
    qs = visible_alerts(actor)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        a = qs.filter(pk=int(alert_id)).first()
    except (TypeError, ValueError):
        a = None
    if a is None:
        raise NotFound(f"no alert {alert_id}", code="alert_not_found")
    return a


def get_alert(actor: Actor, alert_id: int) -> AlertView:
    return _view(_get(actor, alert_id), with_comments=True)


@transaction.atomic
def acknowledge(actor: Actor, alert_id: int) -> AlertView:
    """Someone has seen it and is on it."""
    require(actor, Perm.RISK_ALERT_HANDLE)
    a = _get(actor, alert_id, for_update=True)
    if a.status != AlertStatus.OPEN:
        raise Conflict(f"alert {a.pk} is {a.status}: only an open alert is acknowledged", code="alert_not_open")
    a.status, a.acknowledged_by, a.acknowledged_at = AlertStatus.ACKNOWLEDGED, actor, timezone.now()
    a.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    ledger.append(actor, "risk.alert_acknowledged", "alert", str(a.pk), {"key": a.key})
    return _view(a, with_comments=True)


@transaction.atomic
def comment(actor: Actor, alert_id: int, text: str) -> AlertView:
    require(actor, Perm.RISK_ALERT_HANDLE)
    a = _get(actor, alert_id, for_update=True)
    body = (text or "").strip()
    if not body:
        raise ValidationError("write a comment", field="text", code="required")
    if len(body) > 1000:
        raise ValidationError("a comment has at most 1,000 characters", field="text", code="too_long")
    AlertComment.objects.create(alert=a, author=actor, text=body, at=timezone.now())
    ledger.append(actor, "risk.alert_commented", "alert", str(a.pk), {"key": a.key, "text": body})
    return _view(a, with_comments=True)


@transaction.atomic
def resolve(actor: Actor, alert_id: int, *, reason: str, note: str = "") -> AlertView:
    """Close the alert with a reason. If its condition still holds at the next run, a new alert is raised."""
    require(actor, Perm.RISK_ALERT_HANDLE)
    a = _get(actor, alert_id, for_update=True)
    if a.status == AlertStatus.RESOLVED:
        raise Conflict(f"alert {a.pk} is already resolved", code="alert_resolved")
    code = (reason or "").strip()
    text = (note or "").strip()
    if code not in RESOLUTIONS:
        raise ValidationError(f"choose why the alert is resolved: {', '.join(RESOLUTIONS)}", field="reason",
                              code="unknown_resolution")
    if code == "other" and not text:
        raise ValidationError("say in the note why the alert is resolved", field="note", code="note_required")
    if len(text) > 500:
        raise ValidationError("the note has at most 500 characters", field="note", code="too_long")
    a.status, a.resolved_by, a.resolved_at = AlertStatus.RESOLVED, actor, timezone.now()
    a.resolution, a.resolution_note = code, text
    a.save(update_fields=["status", "resolved_by", "resolved_at", "resolution", "resolution_note"])
    ledger.append(actor, "risk.alert_resolved", "alert", str(a.pk), {"key": a.key, "reason": code, "note": text})
    return _view(a, with_comments=True)
