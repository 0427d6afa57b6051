"""Changing the customer group registry: every change is a `GroupChange` proposed by one user and applied only
when another user approves it (maker-checker, both with Perm.GROUP_MANAGE). The change is checked when it is
proposed and again when it is approved (the registry may have moved meanwhile); applying it writes the registry and
appends a ledger event in the same transaction. What waits in a change names customers by customer number, never by
identity number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.customers.domain import parse_date
from creditplan.customers.groups.registry import (
    ACTIVE,
    DISSOLVED,
    GroupRef,
    _active,
    _descendants,
    _group_by_code,
    _group_by_id,
    _identity,
    _ref,
    _require_view,
    _text,
    resolve_customer,
    shown_name,
)
from creditplan.customers.models import Customer, CustomerGroup, GroupChange, GroupMember
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm, sees_all_branches

CREATE, ADD, END, MOVE, DISSOLVE = "create_group", "add_member", "end_member", "set_parent", "dissolve"
KINDS = (CREATE, ADD, END, MOVE, DISSOLVE)
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"  # CorrectionStatus

# the event written when a change of each kind is applied (subject: the group)
_APPLIED_EVENT = {CREATE: "customer_group.created", ADD: "customer_group.member_added",
                  END: "customer_group.member_ended", MOVE: "customer_group.parent_set",
                  DISSOLVE: "customer_group.dissolved"}

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")

# What an import file may call a relation: the stored value, its English words, its Chinese words.
_RELATION_WORDS = {
    "control": "control", "控制": "control", "控制关系": "control", "股权控制": "control", "母子公司": "control",
    "guarantee": "guarantee", "mutual guarantee": "guarantee", "mutual_guarantee": "guarantee", "担保": "guarantee",
    "互保": "guarantee", "联保": "guarantee", "互保联保": "guarantee", "担保圈": "guarantee",
    "controller": "controller", "same actual controller": "controller", "same_actual_controller": "controller",
    "同一实际控制人": "controller", "实际控制人": "controller",
    "family": "family", "家族": "family", "亲属": "family", "家族关系": "family", "亲属关系": "family",
}


# --------------------------------------------------------------------------------------------------------------
# What callers get back
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeView:
    id: int
    kind: str
    status: str
    batch: str
    source: str
    group: GroupRef | None  # the group changed (created, for create_group once approved)
    group_code: str  # the group's code (create_group, or a group created by the same import)
    name: str  # create_group: the new group's name
    parent: GroupRef | None  # create_group / set_parent: the parent (None: a top group)
    parent_code: str  # a parent created by the same import, before it exists
    head_name: str
    customer_id: int | None
    customer_name: str
    customer_identity: str
    relation: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    member_id: int | None
    proposed_by: str
    proposed_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    name_en: str = ""  # create_group: the new group's English name (issue 20)

    @property
    def shown_name(self) -> str:
        return shown_name(self.name, self.name_en)


# --------------------------------------------------------------------------------------------------------------
# Checking a change (when it is proposed, and again when it is approved)
# --------------------------------------------------------------------------------------------------------------

def _group_code(value: Any) -> str:
    code = _text(value)
    if not code:
        raise ValidationError("the group code is required", field="code", code="required")
    if not _CODE.match(code):
        raise ValidationError(f"{code!r} is not a group code: letters, digits, - and _, at most 40, starting with a "
                              "letter or digit", field="code", code="group_code_format")
    return code


def _group_name(value: Any) -> str:
    name = _text(value)
    if not name:
        raise ValidationError("the group name is required", field="name", code="required")
    if len(name) > 100:
        raise ValidationError("the group name has at most 100 characters", field="name", code="too_long")
    return name


def _relation(value: Any, field: str = "relation") -> str:
    text = _text(value)
    if not text:
        raise ValidationError("the relation type is required", field=field, code="required")
    relation = _RELATION_WORDS.get(text.lower()) or _RELATION_WORDS.get(text)
    if relation is None:
        raise ValidationError(f"{text!r} is not a relation type (control, guarantee, controller, family)",
                              field=field, code="unknown_relation")
    return relation


def _date(value: Any, field: str, *, required: bool) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        day = parse_date(_text(value).replace("/", "-") if not isinstance(value, dt.date) else value)
    except ValidationError as exc:
        raise exc.for_field(field)
    if day is None and required:
        raise ValidationError(f"{field} is required", field=field, code="required")
    return day


def _dates(start: dt.date, end: dt.date | None, field: str = "effective_to") -> None:
    if end is not None and end < start:
        raise ValidationError(f"{field} {end} is before the membership starts ({start})", field=field,
                              code="effective_to_before_from")


def _parent(payload: dict[str, Any], field: str = "parent") -> CustomerGroup | None:
    """The parent named by id (`parent`) or by code (`parent_code`, a group an import creates); None: top group."""
    pid, code = payload.get("parent"), _text(payload.get("parent_code"))
    if pid not in (None, ""):
        g = CustomerGroup.objects.filter(pk=pid).first() if str(pid).isdigit() else None
        if g is None:
            raise ValidationError(f"no group {pid}", field=field, code="unknown_group")
        return _active(g, field)
    if code:
        g = _group_by_code(code, field)
        if g is None:
            raise Conflict(f"the parent group {code} does not exist yet: approve its creation first", field=field,
                           code="group_not_created")
        return _active(g, field)
    return None


def _overlapping(customer_id: int, start: dt.date, end: dt.date | None) -> QuerySet:
    """The customer's memberships whose dates overlap [start, end] (end None: open)."""
    qs = GroupMember.objects.filter(customer_id=customer_id).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=start))
    if end is not None:
        qs = qs.filter(effective_from__lte=end)
    return qs.select_related("group")


def _check_membership(customer: Customer, group_id: int | None, relation: str, start: dt.date,
                      end: dt.date | None) -> None:
    """Refuse a membership that clashes with the registry: the customer already in this group for those dates, or
    in another group with the same relation type (a customer belongs to one group per relation type)."""
    for m in _overlapping(customer.pk, start, end):
        if group_id is not None and m.group_id == group_id:
            raise Conflict(f"customer {customer.pk} is already a member of group {m.group.code} for these dates",
                           field="customer", code="already_member", extra={"group": m.group.code})
        if m.relation == relation:
            raise ValidationError(
                f"customer {customer.pk} is already in group {m.group.code} ({m.group.name}) by the same relation "
                f"({relation}) from {m.effective_from}: a customer belongs to one group per relation type",
                field="customer", code="member_same_relation", extra={"group": m.group.code})


def _check_code_free(code: str, *, change_id: int | None = None) -> None:
    if CustomerGroup.objects.filter(code__iexact=code).exists():
        raise Conflict(f"a group with code {code} already exists", field="code", code="duplicate_group")
    pending = GroupChange.objects.filter(kind=CREATE, status=PENDING, payload__code__iexact=code)
    if change_id is not None:
        pending = pending.exclude(pk=change_id)
    if pending.exists():
        raise Conflict(f"a group with code {code} is already waiting for a decision", field="code",
                       code="duplicate_group")


def _lock_trees(*groups: CustomerGroup | None) -> None:
    """Lock the rows of the groups and of the tops of their trees, in id order (the same order for everyone): two
    moves that would together close a loop share a tree top, so the second waits and then sees the first."""
    ids = {g.pk for g in groups if g is not None} | {g.root_id for g in groups if g is not None and g.root_id}
    list(CustomerGroup.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def _clean(actor: Actor, kind: str, data: dict[str, Any], *, group: CustomerGroup | None,
           change_id: int | None = None) -> tuple[dict[str, Any], CustomerGroup | None]:
    """Check a change against the registry as it is now; the payload to store (ids, never identity numbers) and
    the group it changes (None for a new group, or a group an import creates first)."""
    if kind == CREATE:
        code = _group_code(data.get("code"))
        name = _group_name(data.get("name"))
        name_en = _text(data.get("name_en"))
        if len(name_en) > 100:
            raise ValidationError("the English group name has at most 100 characters", field="name_en",
                                  code="too_long")
        parent = _parent(data)
        _check_code_free(code, change_id=change_id)
        head = data.get("head")
        head_id = resolve_customer(actor, head, field="head").pk if _text(head) else None
        payload = {"code": code, "name": name, "parent": parent.pk if parent else None, "head": head_id}
        if name_en:
            payload["name_en"] = name_en
        return payload, None
    if kind == ADD:
        if group is None:
            code = _text(data.get("group_code"))
            group = _group_by_code(code, "group")
            if group is None:
                raise Conflict(f"group {code} does not exist yet: approve its creation first", field="group",
                               code="group_not_created")
        _active(group, "group")
        customer = resolve_customer(actor, data.get("customer"))
        relation = _relation(data.get("relation"))
        start = _date(data.get("effective_from"), "effective_from", required=True)
        assert start is not None
        end = _date(data.get("effective_to"), "effective_to", required=False)
        _dates(start, end)
        _check_membership(customer, group.pk, relation, start, end)
        return ({"group": group.pk, "group_code": group.code, "customer": customer.pk, "relation": relation,
                 "effective_from": start.isoformat(), "effective_to": end.isoformat() if end else None}, group)
    if group is None:
        raise ValidationError("which group?", field="group", code="required")
    _active(group, "group")
    if kind == END:
        member = GroupMember.objects.filter(pk=data.get("member") if str(data.get("member") or "").isdigit()
                                            else None, group=group).first()
        if member is None:
            raise NotFound(f"no membership {data.get('member')} in group {group.code}", field="member",
                           code="member_not_found")
        if member.effective_to is not None:
            raise Conflict(f"this membership already ended on {member.effective_to}", field="member",
                           code="member_ended")
        end = _date(data.get("effective_to"), "effective_to", required=True)
        assert end is not None
        _dates(member.effective_from, end)
        return ({"member": member.pk, "customer": member.customer_id, "effective_to": end.isoformat()}, group)
    if kind == MOVE:
        parent = _parent(data)
        if parent is not None and (parent.pk == group.pk or parent.pk in _descendants(group.pk)):
            raise ValidationError(f"group {group.code} cannot sit under {parent.code}: a group cannot contain "
                                  "itself", field="parent", code="group_cycle")
        if (parent.pk if parent else None) == group.parent_id:
            raise ValidationError("the group already sits there: nothing to change", field="parent",
                                  code="no_change")
        return {"group": group.pk, "parent": parent.pk if parent else None}, group
    if kind == DISSOLVE:
        if CustomerGroup.objects.filter(parent=group, status=ACTIVE).exists():
            raise Conflict(f"group {group.code} still has groups under it: move or dissolve them first",
                           field="group", code="group_has_children")
        end = _date(data.get("effective_to"), "effective_to", required=False) or timezone.localdate()
        late = GroupMember.objects.filter(group=group, effective_to__isnull=True, effective_from__gt=end).first()
        if late is not None:
            raise ValidationError(f"a membership of group {group.code} starts after {end}", field="effective_to",
                                  code="effective_to_before_from")
        return {"group": group.pk, "effective_to": end.isoformat()}, group
    raise ValidationError(f"{kind!r} is not a kind of group change ({', '.join(KINDS)})", field="kind",
                          code="unknown_change")


# --------------------------------------------------------------------------------------------------------------
# Proposing and deciding
# --------------------------------------------------------------------------------------------------------------

def _proposed_event(change: GroupChange) -> ledger.EventSpec:
    return ledger.EventSpec("customer_group.change_proposed", "customer_group_change", str(change.pk),
                            {"kind": change.kind, "group": change.group_id, "payload": change.payload,
                             "source": change.source, "batch": change.batch})


@transaction.atomic
def propose_change(actor: Actor, kind: str, data: dict[str, Any], *, group_id: int | None = None) -> ChangeView:
    """Propose a change of the registry: checked now, applied only when another user approves it."""
    org.require(actor, Perm.GROUP_MANAGE)
    if kind not in KINDS:
        raise ValidationError(f"{kind!r} is not a kind of group change ({', '.join(KINDS)})", field="kind",
                              code="unknown_change")
    group = _group_by_id(group_id) if kind != CREATE and group_id is not None else None
    if kind not in (CREATE, ADD) and group is None:
        raise ValidationError("which group?", field="group", code="required")
    if kind == ADD and group is None and not _text(data.get("group_code")):
        raise ValidationError("which group?", field="group", code="required")
    payload, group = _clean(actor, kind, data, group=group)
    change = GroupChange.objects.create(kind=kind, group=group, payload=payload, proposed_by=actor,
                                        source=_text(data.get("source"))[:100])
    spec = _proposed_event(change)
    ledger.append(actor, spec.kind, spec.subject_type, spec.subject_id, spec.data)
    return _change_views([change])[0]


def _lock_for_apply(change: GroupChange) -> CustomerGroup | None:
    """The rows an approval must hold while it checks and writes: the group (and the trees a move joins), the
    customer whose memberships are checked."""
    p = change.payload
    group = _group_by_id(change.group_id, lock=True) if change.group_id else None
    if change.kind in (CREATE, MOVE):
        parent = None
        if p.get("parent"):
            parent = CustomerGroup.objects.filter(pk=p["parent"]).first()
        elif p.get("parent_code"):
            parent = _group_by_code(p["parent_code"], "parent")
        _lock_trees(group, parent)
        if group is not None:
            group.refresh_from_db()
    if change.kind == ADD and p.get("customer"):
        list(Customer.objects.select_for_update().filter(pk=p["customer"]).values_list("pk", flat=True))
    return group


def _apply(change: GroupChange, payload: dict[str, Any], group: CustomerGroup | None,
           actor: Actor) -> tuple[CustomerGroup, dict[str, Any]]:
    """Write the registry; the group changed and what its ledger event says."""
    kind = change.kind
    if kind == CREATE:
        parent = _parent(payload)
        g = CustomerGroup.objects.create(
            code=payload["code"], name=payload["name"], name_en=payload.get("name_en", ""), parent=parent,
            root_id=(parent.root_id or parent.pk) if parent else None, head_id=payload.get("head"))
        return g, {"code": g.code, "name": g.name, "name_en": g.name_en, "parent": g.parent_id, "root": g.root_id,
                   "head": g.head_id}
    assert group is not None
    if kind == ADD:
        m = GroupMember.objects.create(group=group, customer_id=payload["customer"], relation=payload["relation"],
                                       effective_from=payload["effective_from"],
                                       effective_to=payload["effective_to"])
        return group, {"member": m.pk, "customer": m.customer_id, "relation": m.relation,
                       "effective_from": payload["effective_from"], "effective_to": payload["effective_to"]}
    if kind == END:
        GroupMember.objects.filter(pk=payload["member"]).update(effective_to=payload["effective_to"])
        return group, {"member": payload["member"], "customer": payload["customer"],
                       "effective_to": payload["effective_to"]}
    if kind == MOVE:
        before = {"parent": group.parent_id, "root": group.root_id}
        parent = _parent(payload)
        group.parent = parent
        group.root_id = (parent.root_id or parent.pk) if parent else None
        group.save(update_fields=["parent", "root"])
        subtree = _descendants(group.pk)
        CustomerGroup.objects.filter(pk__in=subtree).update(root_id=group.root_id or group.pk)
        return group, {"parent": [before["parent"], group.parent_id], "root": [before["root"], group.root_id],
                       "moved": sorted(subtree)}
    # dissolve
    ended = list(GroupMember.objects.filter(group=group, effective_to__isnull=True).values_list("pk", flat=True))
    GroupMember.objects.filter(pk__in=ended).update(effective_to=payload["effective_to"])
    group.status = DISSOLVED
    group.save(update_fields=["status"])
    return group, {"effective_to": payload["effective_to"], "members_ended": ended}


def _decide(actor: Actor, change: GroupChange, approve: bool, note: str) -> None:
    if change.status != PENDING:
        raise Conflict(f"group change {change.pk} is already {change.status}", code="change_decided")
    if change.proposed_by_id == actor.pk:
        raise Forbidden("maker-checker: whoever proposed a group change cannot decide it", code="maker_checker")
    note = (note or "").strip()[:300]
    change.decided_by, change.decided_at, change.decision_note = actor, timezone.now(), note
    if not approve:
        if not note:
            raise ValidationError("say why the change is rejected", field="note", code="required")
        change.status = REJECTED
        change.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        ledger.append(actor, "customer_group.change_rejected", "customer_group_change", change.pk,
                      {"kind": change.kind, "note": note})
        return
    group = _lock_for_apply(change)
    try:
        payload, group = _clean(actor, change.kind, change.payload, group=group, change_id=change.pk)
    except (ValidationError, Conflict, NotFound) as exc:  # the registry moved since it was proposed
        if change.source:
            raise type(exc)(f"{change.source}: {exc.message}", code=exc.code, field=exc.field,
                            problems=exc.problems, extra={**exc.extra, "source": change.source})
        raise
    group, data = _apply(change, payload, group, actor)
    change.group, change.payload, change.status = group, payload, APPROVED  # as applied: ids resolved
    change.save(update_fields=["group", "payload", "status", "decided_by", "decided_at", "decision_note"])
    ledger.append(actor, _APPLIED_EVENT[change.kind], "customer_group", group.pk,
                  {**data, "change": change.pk, "proposed_by": change.proposed_by.username, "note": note})


@transaction.atomic
def decide_change(actor: Actor, change_id: int, *, approve: bool, note: str = "") -> ChangeView:
    """Approve (the change is checked again against the registry as it is now, then applied, with its ledger event)
    or reject (a note says why) a pending change. Maker-checker: never the user who proposed it."""
    org.require(actor, Perm.GROUP_MANAGE)
    change = GroupChange.objects.select_for_update().filter(pk=change_id).first()
    if change is None:
        raise NotFound(f"group change {change_id} not found", code="change_not_found")
    _decide(actor, change, approve, note)
    return _change_views([change])[0]


@transaction.atomic
def decide_batch(actor: Actor, batch: str, *, approve: bool, note: str = "") -> int:
    """Decide every pending change of one imported file together, in the order they were proposed (groups before
    their members): all are applied, or none (the first refusal names the file's line)."""
    org.require(actor, Perm.GROUP_MANAGE)
    changes = list(GroupChange.objects.select_for_update().filter(batch=batch, status=PENDING).order_by("pk")) \
        if batch else []
    if not changes:
        raise NotFound(f"no pending change in batch {batch!r}", code="change_not_found")
    for change in changes:
        _decide(actor, change, approve, note)
    return len(changes)


def list_changes(actor: Actor, *, status: str | None = PENDING, group_id: int | None = None,
                 limit: int = 500) -> list[ChangeView]:
    """Changes waiting for a decision (or decided, by status), oldest first when pending, newest first otherwise.
    Head-office data: roles that see every branch, or who manage groups."""
    _require_view(actor)
    if not (sees_all_branches(actor.role) or org.may(actor, Perm.GROUP_MANAGE)):
        raise Forbidden("group changes are head-office data", code="permission_denied")
    qs = GroupChange.objects.select_related("group", "proposed_by", "decided_by")
    if status:
        qs = qs.filter(status=status)
    if group_id is not None:  # and the changes an import proposed for it before it existed
        code = CustomerGroup.objects.filter(pk=group_id).values_list("code", flat=True).first() or ""
        qs = qs.filter(Q(group_id=group_id) | Q(group__isnull=True, kind=ADD, payload__group_code__iexact=code))
    qs = qs.order_by("pk" if status == PENDING else "-pk")
    return _change_views(list(qs[:limit]))


def _change_views(changes: Iterable[GroupChange]) -> list[ChangeView]:
    changes = list(changes)
    customer_ids = {c.payload.get("customer") for c in changes} | {c.payload.get("head") for c in changes}
    customers = Customer.objects.in_bulk([i for i in customer_ids if isinstance(i, int)])
    group_ids = {c.payload.get("parent") for c in changes}
    groups = CustomerGroup.objects.in_bulk([i for i in group_ids if isinstance(i, int)])
    out = []
    for ch in changes:
        p = ch.payload
        cust = customers.get(p.get("customer")) if isinstance(p.get("customer"), int) else None
        head = customers.get(p.get("head")) if isinstance(p.get("head"), int) else None
        parent = groups.get(p.get("parent")) if isinstance(p.get("parent"), int) else None
        start, end = p.get("effective_from"), p.get("effective_to")
        out.append(ChangeView(
            id=ch.pk, kind=ch.kind, status=ch.status, batch=ch.batch, source=ch.source, group=_ref(ch.group),
            group_code=p.get("code") or p.get("group_code") or (ch.group.code if ch.group else ""),
            name=p.get("name", ""), parent=_ref(parent), parent_code=p.get("parent_code") or "",
            head_name=head.name if head else "", customer_id=cust.pk if cust else None,
            customer_name=cust.name if cust else "", customer_identity=_identity(cust) if cust else "",
            relation=p.get("relation", ""), effective_from=dt.date.fromisoformat(start) if start else None,
            effective_to=dt.date.fromisoformat(end) if end else None, member_id=p.get("member"),
            proposed_by=ch.proposed_by.username, proposed_at=ch.created_at,
            decided_by=ch.decided_by.username if ch.decided_by else None, decided_at=ch.decided_at,
            decision_note=ch.decision_note, name_en=p.get("name_en", "")))
    return out
