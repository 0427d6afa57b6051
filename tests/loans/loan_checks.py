"""What the loan tests check over and over: the books hold, and a business date set for a story."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.loans import accounting
from creditplan.loans import clock as loans_clock


def books_ok() -> None:
    """The trial balance balances, every loan-book account agrees with the loans it summarises
    (accounting.reconcile: the balance-sheet accounts, the non-accrual memo 7001 and the written-off record
    7101), and each off-balance account is matched by its contra."""
    tb = accounting.trial_balance()
    assert sum(r.debit_minor for r in tb) == sum(r.credit_minor for r in tb)
    diffs = [(r.account, r.gl_minor, r.loans_minor) for r in accounting.reconcile() if r.difference_minor]
    assert not diffs, diffs
    gl = accounting.account_balances()
    assert gl.get("7001", 0) == -gl.get("7002", 0) and gl.get("7101", 0) == -gl.get("7102", 0)


class BusinessClock:
    """The loans' business date in a test: `day` may be moved on as the story goes."""

    def __init__(self, day: dt.date) -> None:
        self.day = day


def business_clock(monkeypatch: pytest.MonkeyPatch, day: dt.date) -> Any:
    c = BusinessClock(day)
    monkeypatch.setattr(loans_clock, "business_date", lambda: c.day)
    return c
