"""The early-warning stories' borrowers: every loan of the risk book but the second pays on its due dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from creditplan.core.money import to_major
from creditplan.loans import payments
from creditplan.loans import services as loans


def pay_on_time(book: dict[str, Any]) -> Callable[[dt.date], None]:
    """Every loan but the second pays each instalment on its due date (a `pay` hook for close_days)."""
    payers = [book["loans"][0], book["loans"][2], book["loans"][3]]

    def pay(day: dt.date) -> None:
        for loan in payers:
            fresh = loans.get_loan(book["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(book["ops"], loan_ref=loan.ref, amount=str(to_major(due)), value_date=day,
                                      reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")
    return pay
