"""A book of thirteen loans for the expected-credit-loss tests, closed day by day from 15 January 2025 with the
snapshot kept after every close (CREDITPLAN_RISK_AFTER_CLOSE=snapshot), each loan paying as its plan says:

- "pay": every instalment on its due date;
- "late": on time until April, then nothing until `catch_up` (if given), when every arrear is paid at once;
- "never": not a single payment;
- "watch": pays on time, but its customer is on the watch list.

Products (equal principal, so a schedule's principal falls in equal parts — what the hand computation follows):
`ep` (6 %, monthly), `home` (4.5 %, monthly; property collateral), `qtr` (5 %, quarterly), `io` (8 %, interest-only:
all principal at maturity).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from creditplan.core.money import to_major
from creditplan.customers import services as customers
from creditplan.loans import clock as loans_clock
from creditplan.loans import cob, payments
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, Loan
from factories import company, individual

START = dt.date(2025, 1, 15)

PRODUCTS = [
    {"code": "ep", "name": "等额本金消费贷", "method": "equal-principal", "rate": "0.06"},
    {"code": "home", "name": "住房按揭", "method": "equal-principal", "rate": "0.045"},
    {"code": "qtr", "name": "按季还款经营贷", "method": "equal-principal", "rate": "0.05", "months_per_period": 3},
    {"code": "io", "name": "先息后本经营贷", "method": "interest-only", "rate": "0.08"},
]

# product, amount (yuan), term (periods), behaviour, branch, kind (individual / company)
LOANS: list[tuple[str, str, int, str, str, str]] = [
    ("ep", "120000.00", 12, "pay", "BJ01", "individual"),
    ("ep", "60000.00", 24, "pay", "BJ01", "individual"),
    ("home", "1200000.00", 120, "pay", "BJ01", "individual"),
    ("qtr", "400000.00", 8, "pay", "SH01", "company"),
    ("io", "300000.00", 12, "pay", "SH01", "company"),
    ("ep", "36000.00", 36, "watch", "SH01", "individual"),
    ("ep", "120000.00", 12, "late", "BJ01", "individual"),
    ("ep", "240000.00", 24, "late", "SH01", "individual"),
    ("home", "600000.00", 60, "late", "BJ01", "individual"),
    ("ep", "120000.00", 12, "never", "BJ01", "individual"),
    ("io", "500000.00", 12, "never", "SH01", "company"),
    ("home", "900000.00", 120, "never", "SH01", "individual"),
    ("ep", "48000.00", 12, "pay", "SH01", "individual"),
]


def build(bank: dict[str, Any]) -> dict[str, Any]:
    for p in PRODUCTS:
        loans.create_product(bank["risk"], min_amount="1000", max_amount="5000000", min_term=1, max_term=360,
                             day_count="30/360", grace_days=3, late_fee="0", penalty_markup_pct=50,
                             max_backdate_days=30, **p)
    made = []
    for k, (product, amount, term, how, branch, kind) in enumerate(LOANS, start=1):
        officer = bank["officer_bj"] if branch == "BJ01" else bank["officer_sh"]
        data = individual(k, branch=branch) if kind == "individual" else company(k, branch=branch,
                                                                               industry_code="E47")
        customer = customers.create_customer(officer, data).id
        loan = loans.disburse(None, customer_id=customer, product=product, amount=amount, term=term,
                              start_date=START)
        made.append({"loan": loan, "customer": customer, "how": how, "product": product, "branch": branch})
    return {**bank, "book": made}


def paying(book: dict[str, Any], catch_up: dt.date | None = None) -> Callable[[dt.date], None]:
    """What the customers pay on a day, by their behaviour."""

    def pay(day: dt.date) -> None:
        for row in book["book"]:
            how = row["how"]
            if how == "never":
                continue
            loan = Loan.objects.get(pk=row["loan"].pk)
            if how == "late" and catch_up is not None and day == catch_up:
                owed = (loan.overdue_principal_minor + loan.overdue_interest_minor + loan.penalty_minor
                        + loan.fees_minor)
                if owed:
                    payments.post_payment(book["ops"], loan_ref=loan.ref, amount=str(to_major(owed)), value_date=day,
                                          reference=f"C-{loan.ref}-{day:%Y%m%d}", channel="teller")
                loan = Loan.objects.get(pk=row["loan"].pk)
            if how == "late" and day >= dt.date(2025, 5, 1) and (catch_up is None or day < catch_up):
                continue
            for inst in Installment.objects.filter(loan=loan, due_date=day, version=loan.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(book["ops"], loan_ref=loan.ref, amount=str(to_major(due)), value_date=day,
                                      reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")

    return pay


def close(first: dt.date, last: dt.date, pay: Callable[[dt.date], None], monkeypatch: Any,
          after: Callable[[dt.date], None] | None = None, on: Iterable[dt.date] = ()) -> None:
    """Close every date from `first` to `last` with the business date moving; `after(day)` right after the close of
    each date in `on`."""
    today = {"day": first}
    monkeypatch.setattr(loans_clock, "business_date", lambda: today["day"])
    wanted = set(on)
    day = first
    while day <= last:
        today["day"] = day
        pay(day)
        cob.run_close(day)
        if after is not None and day in wanted:
            after(day)
        day += dt.timedelta(days=1)
    today["day"] = day
