"""The daily indicator run over a real (small) book: the figures the risk department reads, the same figures when
a past date is recomputed, and an alert raised once per open condition — and again after it was resolved and the
condition returns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.errors import Conflict
from creditplan.core.money import to_major
from creditplan.ledger import services as ledger
from creditplan.loans import payments
from creditplan.loans import services as loans
from creditplan.risk import services as risk
from creditplan.risk.models import Alert, IndicatorValue, Snapshot


def _value(code: str, day: dt.date, dimension: str = "total", member: str = "") -> IndicatorValue:
    return IndicatorValue.objects.get(indicator__code=code, as_of=day, dimension=dimension, member=member)


def _pay_on_time(book: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Every loan but the second pays each instalment on its due date."""
    payers = [book["loans"][0], book["loans"][2], book["loans"][3]]

    def pay(day: dt.date) -> None:
        for loan in payers:
            fresh = loans.get_loan(book["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(book["ops"], loan_ref=loan.ref, amount=str(to_major(due)), value_date=day,
                                      reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")
    return pay


@pytest.mark.django_db
def test_the_run_computes_what_the_book_says_and_a_recomputation_agrees(risk_book: dict[str, Any],
                                                                      close_days: Any) -> None:
    d1, d2 = dt.date(2025, 3, 31), dt.date(2025, 6, 30)
    close_days(dt.date(2025, 1, 15), d2, run_on=[dt.date(2025, 2, 28), d1, d2], pay=_pay_on_time(risk_book))
    bad = loans.get_loan(risk_book["ops"], risk_book["loans"][1].ref)
    assert bad.dpd > 90  # the second loan never paid: 135 days past due on 30 June

    npl = _value("npl_ratio", d2)
    book = {r: loans.get_loan(risk_book["ops"], ln.ref) for r, ln in enumerate(risk_book["loans"])}
    whole = sum(v.principal_outstanding_minor for v in book.values())
    assert (npl.numerator, npl.denominator) == (book[1].principal_outstanding_minor, whole)
    assert npl.value == book[1].principal_outstanding_minor / whole and npl.rag == "red"
    by_branch = {v.member: v.value for v in IndicatorValue.objects.filter(indicator__code="npl_ratio", as_of=d2,
                                                                           dimension="branch")}
    assert by_branch["SH01"] == 0.0 and by_branch["BJ01"] > 0.5

    # roll rates compare month-ends: on 31 March the bad loan went from 1-30 (end of February) to 31-60
    roll = _value("roll_1_30_31_60", d1)
    assert roll.value == 1.0 and roll.denominator == book[1].principal_minor

    before = {(v.indicator_id, v.dimension, v.member): v.value for v in IndicatorValue.objects.filter(as_of=d1)}
    again = risk.run_indicators(d1)  # the book has moved on: d1 is recomputed from its kept snapshot
    after = {(v.indicator_id, v.dimension, v.member): v.value for v in IndicatorValue.objects.filter(as_of=d1)}
    assert after == before and again.values == len(before)
    assert Snapshot.objects.count() == 3
    # no ECL run yet: provision coverage has no figure (not a red 0 %, which would read as no provision at all)
    assert not IndicatorValue.objects.filter(indicator__code="provision_coverage").exists()
    assert not Alert.objects.filter(indicator__code="provision_coverage").exists()


@pytest.mark.django_db
def test_a_date_whose_book_was_not_kept_cannot_be_computed(risk_book: dict[str, Any], close_days: Any) -> None:
    close_days(dt.date(2025, 1, 15), dt.date(2025, 1, 20))
    with pytest.raises(Conflict) as exc:
        risk.run_indicators(dt.date(2025, 1, 18))
    assert exc.value.code == "snapshot_not_kept"
    with pytest.raises(Conflict) as exc:
        risk.run_indicators(dt.date(2025, 1, 25))
    assert exc.value.code == "close_not_run"


@pytest.mark.django_db
def test_an_alert_is_raised_once_per_open_condition_and_again_after_it_is_resolved(
        risk_book: dict[str, Any], close_days: Any) -> None:
    pay = _pay_on_time(risk_book)
    close_days(dt.date(2025, 1, 15), dt.date(2025, 5, 20), run_on=[dt.date(2025, 5, 18), dt.date(2025, 5, 19),
                                                                    dt.date(2025, 5, 20)], pay=pay)
    npl = Alert.objects.filter(indicator__code="npl_ratio", rule_kind="red", dimension="total")
    assert npl.count() == 1  # three runs, one open condition, one alert
    alert = npl.get()
    assert (alert.status, alert.raised_on, alert.owner_role) == ("open", dt.date(2025, 5, 18), "risk_manager")
    bj = Alert.objects.get(indicator__code="npl_ratio", rule_kind="red", dimension="branch", member="BJ01")
    assert bj.branch is not None and bj.branch.code == "BJ01"
    assert not Alert.objects.filter(indicator__code="npl_ratio", member="SH01").exists()
    raised_events = ledger.count_events("risk.alert_raised")

    risk.acknowledge(risk_book["risk"], alert.pk)
    close_days(dt.date(2025, 5, 21), dt.date(2025, 5, 21), run_on=[dt.date(2025, 5, 21)], pay=pay)
    assert npl.count() == 1  # acknowledged is still open: nothing new

    risk.resolve(risk_book["risk"], alert.pk, reason="action_taken", note="collections called the borrower")
    close_days(dt.date(2025, 5, 22), dt.date(2025, 5, 22), run_on=[dt.date(2025, 5, 22)], pay=pay)
    assert npl.count() == 2  # the condition is still there: a new alert for it
    assert npl.filter(status="open").get().raised_on == dt.date(2025, 5, 22)
    assert ledger.count_events("risk.alert_raised") == raised_events + 1
