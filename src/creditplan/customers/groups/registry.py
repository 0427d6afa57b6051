"""The customer group registry as it stands: the groups (as a tree, each with its top, `root`), a group with its
members, a customer's current groups, each as the actor may see it (branch staff see the groups with one of their
branch's customers, and of the members only their branch's customers); and naming a customer by customer number,
resident ID number or unified social credit code, or a group by id or code.

Nothing here writes: changes go through creditplan.customers.groups.changes (maker-checker).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.core.ids import validate_resident_id, validate_uscc
from creditplan.customers.domain import CustomerKind
from creditplan.customers.models import Customer, CustomerGroup, GroupMember
from creditplan.customers.services import cipher, mask_tail
from creditplan.org import services as org
from creditplan.org.domain import Perm, sees_all_branches

RELATIONS = ("control", "guarantee", "controller", "family")  # GroupRelation
ACTIVE, DISSOLVED = "active", "dissolved"

_DIGITS = re.compile(r"^\d{1,12}$")


def shown_name(name: str, name_en: str) -> str:
    """A group's name in the page's language: the English name on an English page when it has one (issue 20)."""
    return name_en if name_en and (get_language() or "zh").startswith("en") else name


# --------------------------------------------------------------------------------------------------------------
# What callers get back
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupRef:
    id: int
    code: str
    name: str
    status: str
    name_en: str = ""

    @property
    def shown_name(self) -> str:
        return shown_name(self.name, self.name_en)


@dataclass(frozen=True)
class MemberView:
    id: int
    group_id: int
    group_code: str
    customer_id: int
    customer_name: str
    customer_kind: str
    identity: str  # an individual's resident ID number masked (last 4), a company's credit code
    branch_name: str
    relation: str
    effective_from: dt.date
    effective_to: dt.date | None
    current: bool


@dataclass(frozen=True)
class GroupView:
    id: int
    code: str
    name: str
    status: str
    parent: GroupRef | None
    root: GroupRef  # the top of the tree (the group itself for a top group): where the group limit applies
    head_id: int | None
    head_name: str
    depth: int
    member_count: int  # current members of this group itself (in the caller's scope)
    tree_member_count: int  # distinct current members of the whole tree under the root (in the caller's scope)
    children: list[GroupRef]
    created_at: dt.datetime
    name_en: str = ""

    @property
    def shown_name(self) -> str:
        return shown_name(self.name, self.name_en)


@dataclass(frozen=True)
class GroupDetail:
    group: GroupView
    members: list[MemberView]  # this group's members, current first, then those that ended
    hidden_members: int  # members of other branches the caller does not see


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------

def _require_view(actor: Actor) -> None:
    org.require(actor, Perm.CUSTOMER_VIEW)


def _customers_in_scope(actor: Actor) -> QuerySet:
    return org.scope_to_branches(actor, Customer.objects.all())


def _current(on: dt.date) -> Q:
    return Q(effective_from__lte=on) & (Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def _identity(c: Customer) -> str:
    if c.kind == CustomerKind.COMPANY:
        return c.uscc or ""
    return mask_tail(c.id_masked) if c.id_masked else ""


def _ref(g: CustomerGroup | None) -> GroupRef | None:
    return None if g is None else GroupRef(g.pk, g.code, g.name, g.status, g.name_en)


def _visible_groups(actor: Actor) -> QuerySet:
    """Every group for head-office roles; for branch staff the groups with a member (now or before) in scope."""
    _require_view(actor)
    qs = CustomerGroup.objects.all()
    if sees_all_branches(actor.role):
        return qs
    ids = GroupMember.objects.filter(customer__in=_customers_in_scope(actor)).values("group_id")
    return qs.filter(pk__in=ids)


def _tree_views(actor: Actor, groups: list[CustomerGroup], on: dt.date) -> dict[int, GroupView]:
    everything = {g.pk: g for g in CustomerGroup.objects.all()}
    children: dict[int, list[CustomerGroup]] = {}
    for g in everything.values():
        if g.parent_id is not None:
            children.setdefault(g.parent_id, []).append(g)
    members = GroupMember.objects.filter(_current(on))
    if not sees_all_branches(actor.role):
        members = members.filter(customer__in=_customers_in_scope(actor))
    own: dict[int, set[int]] = {}
    tree: dict[int, set[int]] = {}
    for gid, cid in members.values_list("group_id", "customer_id"):
        own.setdefault(gid, set()).add(cid)
        g = everything.get(gid)
        if g is not None:
            tree.setdefault(g.root_id or g.pk, set()).add(cid)
    heads = {c.pk: c.name for c in Customer.objects.filter(pk__in=[g.head_id for g in groups if g.head_id])}
    out: dict[int, GroupView] = {}
    for g in groups:
        depth, up = 0, g
        while up.parent_id is not None and up.parent_id in everything and depth < 100:
            depth, up = depth + 1, everything[up.parent_id]
        root = everything.get(g.root_id) if g.root_id else g
        root = root or g
        out[g.pk] = GroupView(
            id=g.pk, code=g.code, name=g.name, status=g.status, parent=_ref(everything.get(g.parent_id or 0)),
            root=GroupRef(root.pk, root.code, root.name, root.status, root.name_en), head_id=g.head_id,
            head_name=heads.get(g.head_id or 0, ""), depth=depth, member_count=len(own.get(g.pk, ())),
            tree_member_count=len(tree.get(root.pk, ())) if root.pk == g.pk else 0,
            children=[GroupRef(c.pk, c.code, c.name, c.status, c.name_en)
                      for c in sorted(children.get(g.pk, []), key=lambda c: c.code)],
            created_at=g.created_at, name_en=g.name_en)
    return out


def list_groups(actor: Actor, *, include_dissolved: bool = False, on: dt.date | None = None) -> list[GroupView]:
    """The groups the actor may see, as a tree: each top group followed by the groups under it (depth first)."""
    on = on or timezone.localdate()
    qs = _visible_groups(actor)
    if not include_dissolved:
        qs = qs.filter(status=ACTIVE)
    groups = list(qs)
    views = _tree_views(actor, groups, on)
    shown = set(views)
    by_parent: dict[int | None, list[GroupView]] = {}
    for v in views.values():
        parent = v.parent.id if v.parent is not None and v.parent.id in shown else None
        by_parent.setdefault(parent, []).append(v)
    ordered: list[GroupView] = []

    def walk(parent: int | None) -> None:
        for v in sorted(by_parent.get(parent, []), key=lambda v: v.code):
            ordered.append(v)
            walk(v.id)

    walk(None)
    return ordered


def _visible_group(actor: Actor, group_id: int) -> CustomerGroup:
    g = _visible_groups(actor).filter(pk=group_id).first()
    if g is None:
        raise NotFound(f"group {group_id} not found", code="group_not_found")
    return g


def get_group(actor: Actor, group_id: int, *, on: dt.date | None = None) -> GroupDetail:
    """One group with its members (current first, then those that ended; only the actor's branches' customers for
    branch staff, the others counted)."""
    on = on or timezone.localdate()
    g = _visible_group(actor, group_id)
    view = _tree_views(actor, [g], on)[g.pk]
    rows = GroupMember.objects.filter(group=g).select_related("customer__branch")
    visible = rows
    if not sees_all_branches(actor.role):
        visible = rows.filter(customer__in=_customers_in_scope(actor))
    members = [_member_view(m, g, on) for m in visible]
    members.sort(key=lambda m: (not m.current, m.effective_to is not None, m.customer_name, m.id))
    return GroupDetail(view, members, rows.count() - len(members))


def _member_view(m: GroupMember, g: CustomerGroup, on: dt.date) -> MemberView:
    c = m.customer
    return MemberView(
        id=m.pk, group_id=g.pk, group_code=g.code, customer_id=c.pk, customer_name=c.name, customer_kind=c.kind,
        identity=_identity(c), branch_name=shown_name(c.branch.name, c.branch.name_en), relation=m.relation, effective_from=m.effective_from,
        effective_to=m.effective_to,
        current=m.effective_from <= on and (m.effective_to is None or m.effective_to >= on))


def group_record(actor: Actor, group_id: int) -> CustomerGroup:
    """The group's record, for what other apps compute over it (plans.services.exposure.group_exposure), after the
    same visibility check as get_group."""
    return _visible_group(actor, group_id)


def groups_of_customer(actor: Actor, customer_id: int, *, on: dt.date | None = None) -> list[MemberView]:
    """The customer's current memberships (for the customer's page and the API)."""
    on = on or timezone.localdate()
    _require_view(actor)
    if not _customers_in_scope(actor).filter(pk=customer_id).exists():
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")
    rows = GroupMember.objects.filter(_current(on), customer_id=customer_id).select_related("group",
                                                                                             "customer__branch")
    return [_member_view(m, m.group, on) for m in rows]


# --------------------------------------------------------------------------------------------------------------
# Naming a customer or a group
# --------------------------------------------------------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def resolve_customer(actor: Actor, value: Any, *, field: str = "customer") -> Customer:
    """A customer named by its customer number, resident ID number (through the blind index) or unified social
    credit code, in the actor's branch scope. A malformed number is refused with the identity's own code (a wrong
    check digit names it), an unknown one with `unknown_customer` — the number itself is never repeated."""
    text = re.sub(r"[\s-]", "", _text(value)).upper()
    if not text:
        raise ValidationError(f"{field}: a customer number, resident ID number or credit code is required",
                              field=field, code="required")
    scoped = _customers_in_scope(actor)
    if isinstance(value, int) or _DIGITS.match(text):
        c = scoped.filter(pk=int(text)).first()
        if c is None:
            raise ValidationError(f"no customer number {text} (or outside your branch)", field=field,
                                  code="unknown_customer")
        return c
    if len(text) != 18:
        raise ValidationError(f"{field} is not a customer number, an 18-character resident ID number or unified "
                              "social credit code", field=field, code="customer_identifier")
    candidates: list[Q] = []
    problems = []
    try:
        number = validate_resident_id(text).number
        candidates.append(Q(id_index=cipher().blind_index(number)))
    except ValidationError as exc:
        problems.append(exc)
    try:
        candidates.append(Q(uscc=validate_uscc(text)))
    except ValidationError as exc:
        problems.append(exc)
    if not candidates:  # neither: say what is wrong with what it looks most like
        looks_personal = text[:17].isdigit()
        raise problems[0 if looks_personal else 1].for_field(field)
    query = candidates[0]
    for q in candidates[1:]:
        query |= q
    c = scoped.filter(query).first()
    if c is None:
        raise ValidationError("no customer with this resident ID number or credit code (or outside your branch)",
                              field=field, code="unknown_customer")
    return c


def _group_by_id(group_id: Any, *, lock: bool = False) -> CustomerGroup:
    qs = CustomerGroup.objects.select_for_update() if lock else CustomerGroup.objects
    g = qs.filter(pk=group_id).first() if str(group_id or "").isdigit() else None
    if g is None:
        raise NotFound(f"group {group_id} not found", code="group_not_found")
    return g


def _group_by_code(code: str, field: str) -> CustomerGroup | None:
    return CustomerGroup.objects.filter(code__iexact=code).first() if code else None


def _active(g: CustomerGroup, field: str) -> CustomerGroup:
    if g.status != ACTIVE:
        raise Conflict(f"group {g.code} is dissolved: nothing can change in it", field=field, code="group_dissolved")
    return g


def _descendants(group_id: int) -> set[int]:
    """Every group under the group (not the group itself)."""
    children: dict[int, list[int]] = {}
    for pk, parent in CustomerGroup.objects.filter(parent__isnull=False).values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    out: set[int] = set()
    todo = list(children.get(group_id, []))
    while todo:
        g = todo.pop()
        if g not in out:
            out.add(g)
            todo.extend(children.get(g, []))
    return out
