"""Ledgers for the ledger tests: a small bank's real events plus generated ones, built in one transaction."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction

from creditplan.customers import services as customers
from creditplan.ledger import services as ledger
from factories import individual


def synthetic_specs(n: int, start: int = 0) -> list[ledger.EventSpec]:
    """Events of many kinds and subjects; every one distinct (so any swap changes the log)."""
    kinds = ["loan.disbursed", "loan.repaid", "plan.quota_reserved", "decision.made", "close.accrued"]
    return [ledger.EventSpec(kinds[i % len(kinds)], "loan", str(1000 + i),
                             {"n": i, "amount": {"minor": 100_000 + 37 * i, "currency": "CNY"}, "note": "测试"})
            for i in range(start, start + n)]


@pytest.fixture
def specs() -> Callable[..., list[ledger.EventSpec]]:
    """synthetic_specs(n): n generated events (loans, plans, decisions)."""
    return synthetic_specs


@pytest.fixture
def make_ledger(bank) -> Callable[..., dict]:  # type: ignore[no-untyped-def]
    """make_ledger(total, customers=3): a bank's own events, a few customers with updates and an archive,
    then generated events up to `total`; a tree head is signed over all of it."""

    def build(total: int = 60, *, n_customers: int = 3, head: bool = True) -> dict:
        made = []
        for i in range(1, n_customers + 1):
            view = customers.create_customer(bank["officer_bj"], individual(i))
            made.append(view.id)
        if made:
            customers.update_customer(bank["officer_bj"], made[0], {"employer": "中国银行", "name": "张三改"})
        if len(made) > 1:
            customers.archive_customer(bank["ops"], made[1], "客户销户")
        have = ledger.count_events()
        if total > have:
            with transaction.atomic():
                ledger.append_many(bank["admin"], synthetic_specs(total - have))
        sth = ledger.issue_tree_head(bank["admin"]) if head else None
        return {"customers": made, "head": sth, "size": ledger.count_events()}

    return build
