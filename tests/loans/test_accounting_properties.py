"""Whatever happens to a loan book, the books balance and agree with the loans (issue 7).

Hypothesis drives random sequences of disbursements, nightly closes, repayments, restructurings of every
kind, write-offs and recoveries (repeated references included) through the real services. After every step
the trial balance balances (Σ debits = Σ credits) and the reconciliation of each loan-book account with the
sum over the loans shows no difference; a refused step must leave both untouched. At the end of each history
every loan's statement of account adds up and ends at the loan's own balances.

How the database and hypothesis get along: the `loan_world` fixture is built once per test function; each
example runs inside its own `transaction.atomic()` that is rolled back at the end (a savepoint inside
pytest-django's test transaction), so every example starts from the same empty book.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from loan_checks import books_ok

from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor
from creditplan.loans import accounting, cob, payments
from creditplan.loans import clock as loans_clock
from creditplan.loans import services as loans
from creditplan.loans.models import Loan, LoanStatus
from creditplan.loans.restructure import restructure
from creditplan.loans.statement import balances_of, statement
from creditplan.loans.writeoff import record_recovery, write_off

START = dt.date(2025, 1, 15)
_CLOCK = {"today": START}

EVENTS = st.sampled_from(["disburse", "close", "close", "pay", "pay", "restructure", "restructure", "write_off",
                          "recover", "recover"])
RESTRUCTURINGS = st.one_of(
    st.builds(lambda n: {"kind": "extend_term", "extend_periods": n}, st.integers(1, 12)),
    st.builds(lambda m: {"kind": "change_method", "new_method": m},
              st.sampled_from(["equal-installment", "equal-principal", "interest-only"])),
    st.builds(lambda x: {"kind": "capitalise", "extend_periods": x}, st.sampled_from([None, 3])),
    st.builds(lambda n: {"kind": "holiday", "holiday_periods": n}, st.integers(1, 3)),
    st.builds(lambda n: {"kind": "extend_term", "extend_periods": n, "capitalise": True}, st.integers(1, 6)),
)


def _close(days: int) -> None:
    """The nightly close for the next `days` business dates; the business date moves on with it."""
    for _ in range(days):
        day = _CLOCK["today"]
        if cob.first_open_date() is not None:
            cob.run_close(day)
        _CLOCK["today"] = day + dt.timedelta(days=1)


def _pick(data: st.DataObject, refs: list[str], status: str) -> str | None:
    live = list(Loan.objects.filter(ref__in=refs, status=status).order_by("id").values_list("ref", flat=True))
    return data.draw(st.sampled_from(live), label="loan") if live else None


def _step(world: dict[str, Any], data: st.DataObject, event: str, refs: list[str], n: int) -> str:
    """Do `event` to the book; returns what was done ("skipped" when no loan qualifies)."""
    today = _CLOCK["today"]
    if event == "disburse":
        amount = data.draw(st.integers(1_000, 50_000), label="amount yuan")
        term = data.draw(st.integers(1, 24), label="term")
        # booked by trusted code (actor None), as the demo seed does
        loan = loans.disburse(None, customer_id=world["customers"][data.draw(st.integers(0, 1))],
                              product="consumer", amount=f"{amount}.00", term=term, start_date=today)
        refs.append(loan.ref)
    elif event == "close":
        _close(data.draw(st.integers(1, 30), label="days"))
    elif event == "pay" and (ref := _pick(data, refs, LoanStatus.ACTIVE)):
        minor = data.draw(st.integers(1, 600_000), label="amount")
        payments.post_payment(world["ops"], loan_ref=ref, amount=format_minor(minor, grouping=False), reference=f"P{n}",
                              value_date=today)
    elif event == "restructure" and (ref := _pick(data, refs, LoanStatus.ACTIVE)):
        restructure(world["approver_bj"], ref, reason="hardship", **data.draw(RESTRUCTURINGS, label="terms"))
    elif event == "write_off" and Loan.objects.filter(ref__in=refs, status=LoanStatus.ACTIVE).exists():
        # the worst loan; if it is not non-performing yet, maybe first a default: no payment until it is
        worst = Loan.objects.filter(ref__in=refs, status=LoanStatus.ACTIVE).order_by("-risk_class", "id").first()
        anchor = worst.oldest_due_date or worst.next_due_date
        if worst.risk_class < 3 and anchor is not None and data.draw(st.booleans(), label="default first"):
            _close(max(0, (anchor + dt.timedelta(days=91) - today).days + 1))
        worst.refresh_from_db()
        if worst.status != LoanStatus.ACTIVE:
            return "skipped"
        write_off(world["risk"], worst.ref, reason="uncollectable", condition="court", evidence="(2025)京执1号")
    elif event == "recover" and (ref := _pick(data, refs, LoanStatus.WRITTEN_OFF)):
        loan = Loan.objects.get(ref=ref)
        left = loan.written_off_minor - loan.recovered_minor
        minor = data.draw(st.integers(1, max(1, left + 100)), label="recovered")
        reference = data.draw(st.sampled_from([f"R{n}", "R-SAME"]), label="reference")
        record_recovery(world["ops"], ref, amount=format_minor(minor, grouping=False), reference=reference, value_date=today)
    else:
        return "skipped"
    return "done"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, dt.date]:
    monkeypatch.setattr(loans_clock, "business_date", lambda: _CLOCK["today"])
    return _CLOCK


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_history_keeps_the_books_balanced_and_reconciled(loan_world: dict[str, Any], clock: dict,
                                                             data: st.DataObject) -> None:
    with transaction.atomic():
        _CLOCK["today"] = START
        refs: list[str] = []
        steps = data.draw(st.integers(2, 7), label="steps")
        for n in range(steps):
            kind = "disburse" if n == 0 else data.draw(EVENTS, label="event")
            before = (accounting.account_balances(), [balances_of(x) for x in Loan.objects.order_by("id")])
            clock_before = _CLOCK["today"]
            try:
                with transaction.atomic():
                    outcome = _step(loan_world, data, kind, refs, n)
                event(f"{kind}: {outcome}")
            except CreditplanError as exc:
                event(f"{kind}: refused ({exc.code})")
                _CLOCK["today"] = clock_before  # the closes of a refused step were rolled back too
                # a refusal writes nothing at all
                assert (accounting.account_balances(), [balances_of(x) for x in Loan.objects.order_by("id")]
                        ) == before
            books_ok()
            written_off = Loan.objects.filter(status=LoanStatus.WRITTEN_OFF)
            assert all(0 <= x.recovered_minor <= x.written_off_minor for x in written_off)
        for ref in refs:
            s = statement(loan_world["auditor"], ref)
            assert s.reconciled is True
            for t in s.totals:
                assert t.opening_minor + t.increases_minor - t.decreases_minor == t.closing_minor
        transaction.set_rollback(True)
