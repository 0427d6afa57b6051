"""What the submission pages offer: whether the actor may submit, the customer a customer log-in is, the
products on offer and the branches an officer may choose."""

from __future__ import annotations

from typing import Any

from creditplan.core.access import Actor
from creditplan.customers.models import Customer
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role, sees_all_branches


def may_submit(actor: Actor) -> bool:
    return org.may(actor, Perm.APPLICATION_APPLY if actor.role == Role.CUSTOMER else Perm.APPLICATION_CREATE)


def own_customer_id(actor: Actor) -> int | None:
    """The customer record a customer log-in belongs to (None for staff or an unlinked log-in)."""
    if actor.role != Role.CUSTOMER:
        return None
    return Customer.objects.filter(user=actor).values_list("pk", flat=True).first()


def products_on_offer() -> list[Any]:
    return [p for p in loans.list_products() if p.is_active]


def all_products() -> list[Any]:
    """Every product, offered or not (a list of applications names the products of old ones too)."""
    return list(loans.list_products())


def branch_choices(actor: Actor) -> list[tuple[str, str, str]]:
    """The branches an actor may filter by: (code, name, English name or ""); the page picks the name of its
    language (origination.labels.branch_options)."""
    if sees_all_branches(actor.role) or actor.branch_id:
        return [(b.code, b.name, b.name_en or "") for b in org.list_branches(actor)]
    return []
