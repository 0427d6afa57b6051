"""Issue 19 §7: plan periods — shares by month and quarter, the previous year's curve, a month's unused quota rolling
over or lapsing (refusals with the month, the usable amount and the request), pace against the month's share, and
bad input refused naming the field with nothing written.

The plan "y2025" (1 January – 31 December 2025): root quota 12,000,000 yuan of new lending, hard. Monthly shares
(basis points): January–March 1000 each, April–November 800 each, December 600 (3 × 1000 + 8 × 800 + 600 = 10000);
quarters 3000, 2400, 2400, 2200 (800 + 800 + 600). A month of 1000 bp is 12,000,000 × 10 % = 1,200,000 yuan.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, ValidationError
from creditplan.ledger.models import Event
from creditplan.loans.plan_source import BOOK, LoanBook
from creditplan.plans import services as plans
from creditplan.plans.models import PlanPeriod, Reservation
from creditplan.plans.services import periods as period_services
from creditplan.plans.services.sources import register_book_source
from factories import PASSWORD

SHARES = [1000, 1000, 1000, 800, 800, 800, 800, 800, 800, 800, 800, 600]
M = 100  # fen per yuan


def _plan(bank, code: str = "y2025", year: int = 2025, limit: str = "12000000"):  # type: ignore[no-untyped-def]
    p = plans.create_plan(bank["planner"], code=code, name=f"{year} 信贷计划", period_start=f"{year}-01-01",
                          period_end=f"{year}-12-31", net_capital="5000000000", new_lending_limit=limit,
                          balance_limit=limit)
    plans.activate_plan(bank["planner"], p.id)
    return p


@pytest.fixture
def restore_book():  # type: ignore[no-untyped-def]
    yield
    register_book_source(BOOK)


def _reserve(bank, ref: str, amount: str, on: dt.date, branch: str = "BJ01"):  # type: ignore[no-untyped-def]
    return plans.reserve_quota(bank["admin"], application_ref=ref, amount=amount, branch=branch, on=on)


def test_shares_by_month_and_by_quarter(bank) -> None:  # type: ignore[no-untyped-def]
    p = _plan(bank)
    v = plans.set_periods(bank["planner"], p.id, months=SHARES)
    assert [(m.seq, m.start, m.end, m.share_bp) for m in v.months[:2]] == [
        (1, dt.date(2025, 1, 1), dt.date(2025, 1, 31), 1000), (2, dt.date(2025, 2, 1), dt.date(2025, 2, 28), 1000)]
    assert [q.share_bp for q in v.quarters] == [3000, 2400, 2400, 2200]
    assert v.quarters[3].start == dt.date(2025, 10, 1) and v.quarters[3].end == dt.date(2025, 12, 31)
    assert Event.objects.filter(kind="plan.periods_set").count() == 1
    # by quarter only: each quarter split evenly over its months, the odd basis points to its first months
    # 2000 = 667 + 667 + 666; 2500 = 834 + 833 + 833; 3000 = 1000 × 3
    v = plans.set_periods(bank["planner"], p.id, quarters=[2000, 2500, 2500, 3000])
    assert [m.share_bp for m in v.months] == [667, 667, 666, 834, 833, 833, 834, 833, 833, 1000, 1000, 1000]
    assert PlanPeriod.objects.filter(plan_id=p.id).count() == 16  # replaced, not added: 12 months + 4 quarters


def test_previous_year_curve_from_the_previous_plans_movements(bank) -> None:  # type: ignore[no-untyped-def]
    """2024: 1,000,000 paid out in March, 3,000,000 in June, 500,000 approved in July but never paid out (not new
    lending). Shares: March 1,000,000 / 4,000,000 = 2500 bp, June 7500 bp, every other month 0."""
    _plan(bank, "y2024", 2024)
    for ref, amount, day in (("A", "1000000", dt.date(2024, 3, 10)), ("B", "3000000", dt.date(2024, 6, 10))):
        _reserve(bank, ref, amount, day)
        plans.consume_quota(bank["admin"], application_ref=ref, on=day)
    _reserve(bank, "C", "500000", dt.date(2024, 7, 1))
    p = _plan(bank)
    v = plans.periods_from_previous_year(bank["planner"], p.id, period_control="roll")
    assert v.source == "previous_plan" and v.control == "roll"
    assert [m.share_bp for m in v.months] == [0, 0, 2500, 0, 0, 7500, 0, 0, 0, 0, 0, 0]
    assert [q.share_bp for q in v.quarters] == [2500, 7500, 0, 0]


def test_previous_year_curve_from_the_loan_book(bank) -> None:  # type: ignore[no-untyped-def]
    """No previous plan: the loans paid out in 2024 — 6,000 on 10 February and 2,000 on 20 February (8,000), 2,000 on
    5 November; total 10,000 → February 8000 bp, November 2000 bp."""
    from creditplan.customers import services as customers
    from creditplan.loans import services as loans
    from factories import individual

    c = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    loans.create_product(bank["risk"], code="consumer", name="个人消费贷", min_amount="1000", max_amount="2000000",
                         min_term=1, max_term=360, method="equal-principal", day_count="30/360", rate="0.0435",
                         grace_days=3, late_fee="50.00", penalty_markup_pct=50, max_backdate_days=30)
    loans.set_lpr(bank["risk"], tenor="1y", effective_date="2023-01-20", rate="0.0345")
    loans.set_lpr(bank["risk"], tenor="5y", effective_date="2023-01-20", rate="0.0395")
    for amount, day in (("6000.00", dt.date(2024, 2, 10)), ("2000.00", dt.date(2024, 2, 20)),
                        ("2000.00", dt.date(2024, 11, 5))):
        loans.disburse(None, customer_id=c.id, product="consumer", amount=amount, term=12, start_date=day)
    p = _plan(bank)
    v = plans.periods_from_previous_year(bank["planner"], p.id)
    assert v.source == "book"
    assert [m.share_bp for m in v.months] == [0, 8000, 0, 0, 0, 0, 0, 0, 0, 0, 2000, 0]


def test_largest_remainders_and_equal_shares_without_history(bank, restore_book) -> None:  # type: ignore[no-untyped-def]
    class ThreeMonths(LoanBook):
        def disbursed_by_month(self, start: dt.date, end: dt.date) -> dict[tuple[int, int], int]:
            return {(2024, 1): 100, (2024, 2): 100, (2024, 3): 100}

    p = _plan(bank)
    register_book_source(ThreeMonths())
    # 10000 / 3 = 3333⅓ each: 3333 × 3 = 9999, the one basis point left to the earliest of the equal remainders
    assert [m.share_bp for m in plans.periods_from_previous_year(bank["planner"], p.id).months] == \
        [3334, 3333, 3333, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    register_book_source(BOOK)  # an empty book, no previous plan: equal shares, 10000 / 12 = 833 rest 4
    v = plans.periods_from_previous_year(bank["planner"], p.id)
    assert v.source == "equal" and [m.share_bp for m in v.months] == [834] * 4 + [833] * 8


def test_roll_a_months_unused_quota_carries_into_the_next(bank) -> None:  # type: ignore[no-untyped-def]
    """January uses 700,000 of its 1,200,000. On 10 February the usable amount to date is the cumulative share to
    the end of February × the limit − everything used: 2000 bp × 12,000,000 = 2,400,000 − 700,000 = 1,700,000."""
    p = _plan(bank)
    plans.set_periods(bank["planner"], p.id, months=SHARES, period_control="roll")
    _reserve(bank, "JAN", "700000", dt.date(2025, 1, 15))
    plans.consume_quota(bank["admin"], application_ref="JAN", on=dt.date(2025, 1, 20))
    with pytest.raises(LimitExceeded) as exc:
        _reserve(bank, "FEB-1", "1700000.01", dt.date(2025, 2, 10))
    assert exc.value.code == "period_quota_exceeded" and exc.value.field == "amount"
    assert {k: exc.value.extra[k] for k in ("month", "usable", "requested", "period_control")} == {
        "month": "2025-02", "usable": "1,700,000.00", "requested": "1,700,000.01", "period_control": "roll"}
    assert "1,700,000.00 yuan usable in 2025-02" in exc.value.message
    assert not Reservation.objects.filter(application_ref="FEB-1").exists()
    assert _reserve(bank, "FEB-2", "1700000", dt.date(2025, 2, 10)).status == "reserved"
    # March: 3000 bp × 12,000,000 = 3,600,000 − (700,000 + 1,700,000) = 1,200,000
    with pytest.raises(LimitExceeded) as exc:
        _reserve(bank, "MAR-1", "1200000.01", dt.date(2025, 3, 5))
    assert exc.value.extra["usable"] == "1,200,000.00"


def test_lapse_a_months_unused_quota_is_lost(bank) -> None:  # type: ignore[no-untyped-def]
    """Same history under "lapse": January's unused 500,000 lapses; February may use its own 1,200,000 only."""
    p = _plan(bank)
    plans.set_periods(bank["planner"], p.id, months=SHARES, period_control="lapse")
    _reserve(bank, "JAN", "700000", dt.date(2025, 1, 15))
    with pytest.raises(LimitExceeded) as exc:  # January: 1,200,000 − 700,000 = 500,000 left
        _reserve(bank, "JAN-2", "500000.01", dt.date(2025, 1, 20))
    assert exc.value.extra["usable"] == "500,000.00"
    plans.consume_quota(bank["admin"], application_ref="JAN", amount="600000", on=dt.date(2025, 1, 20))
    # the payout 100,000 below the approval gave 100,000 back to January: 1,200,000 − 600,000 = 600,000
    assert _reserve(bank, "JAN-3", "600000", dt.date(2025, 1, 21)).status == "reserved"
    with pytest.raises(LimitExceeded) as exc:
        _reserve(bank, "FEB-1", "1300000", dt.date(2025, 2, 10))
    assert (exc.value.code, exc.value.extra["month"], exc.value.extra["usable"], exc.value.extra["requested"]) == (
        "period_quota_exceeded", "2025-02", "1,200,000.00", "1,300,000.00")
    assert _reserve(bank, "FEB-2", "1200000", dt.date(2025, 2, 10)).status == "reserved"
    with pytest.raises(LimitExceeded):
        _reserve(bank, "FEB-3", "0.01", dt.date(2025, 2, 28))


def test_a_soft_quota_escalates_instead_of_refusing(bank) -> None:  # type: ignore[no-untyped-def]
    """BJ's soft quota of 6,000,000 has 600,000 in January (1000 bp); the hard root has 1,200,000: 700,000 at BJ01
    is escalated by BJ's month, not refused by the root's."""
    p = _plan(bank)
    plans.split_quota(bank["planner"], p.root.id, [{"branch": "BJ", "new_lending_limit": "6000000",
                                                    "balance_limit": "6000000", "control_mode": "soft"}])
    plans.set_periods(bank["planner"], p.id, months=SHARES, period_control="roll")
    r = _reserve(bank, "JAN", "700000", dt.date(2025, 1, 15))
    assert r.status == "escalated" and "600,000.00 yuan usable in 2025-01" in r.reason


def test_the_month_is_read_again_when_the_quotas_moved_meanwhile(bank) -> None:  # type: ignore[no-untyped-def]
    """Under "lapse", when the statement's snapshot was stale (PostgreSQL: another reservation committed while this
    one waited for the locks), the month's use comes from the database, not from the stale read."""
    from creditplan.plans.domain import Outcome
    from creditplan.plans.models import Plan, Quota

    p = _plan(bank)
    plans.set_periods(bank["planner"], p.id, months=SHARES, period_control="lapse")
    _reserve(bank, "JAN", "1000000", dt.date(2025, 1, 15))
    plan, quotas = Plan.objects.get(pk=p.id), list(Quota.objects.filter(plan_id=p.id))
    stale = {"period": {"control": "lapse", "month_bp": 1000, "cumulative_bp": 1000, "fresh": False,
                        "month_start": dt.date(2025, 1, 1), "month_end": dt.date(2025, 1, 31), "month_use": {}}}
    with pytest.raises(LimitExceeded) as exc:  # 1,200,000 − 1,000,000 read again = 200,000
        period_services.check_month(plan, stale, quotas, 300_000 * M, dt.date(2025, 1, 20), Outcome.RESERVED, [])
    assert exc.value.extra["usable"] == "200,000.00"


def test_pace_is_judged_against_the_months_share(bank) -> None:  # type: ignore[no-untyped-def]
    """On 14 February 2025, 1,200,000 of 12,000,000 used (10 %).
    With months: expected = January 1000 + February 1000 × 14/28 = 1500 bp = 15 % → pace 10 / 15 = 2/3 → behind.
    Without: elapsed 45/365 → pace 0.1 × 365/45 = 0.8111 → on plan (within the 20 % margin)."""
    p = _plan(bank)
    _reserve(bank, "JAN", "1200000", dt.date(2025, 1, 15))
    today = dt.date(2025, 2, 14)
    d = plans.plan_dashboard(bank["planner"], p.id, today=today)
    assert (d["focus"]["pace"], d["focus"]["pace_status"]) == (pytest.approx(float(Fraction(73, 90))), "on_plan")
    plans.set_periods(bank["planner"], p.id, months=SHARES, period_control="roll")
    d = plans.plan_dashboard(bank["planner"], p.id, today=today)
    assert d["plan"]["expected"] == pytest.approx(0.15)
    assert (d["focus"]["pace"], d["focus"]["pace_status"]) == (pytest.approx(2 / 3), "behind")
    # usable to date under roll: 2000 bp × 12,000,000 − 1,200,000 = 1,200,000
    assert d["focus"]["month_usable"] == 1_200_000 * M
    assert d["periods"]["month"] == {"seq": 2, "start": "2025-02-01", "end": "2025-02-28", "share_bp": 1000,
                                     "cumulative_bp": 2000, "share_pct": "10.00", "cumulative_pct": "20.00"}


@pytest.mark.parametrize(("kwargs", "field", "code"), [
    ({"months": [1000] * 11 + [1001]}, "months", "period_shares_sum"),
    ({"months": [1000] * 11}, "months", "period_share_count"),
    ({"months": [2000, 1000, -1000] + [900] * 8 + [800]}, "months.3", "period_share_negative"),
    ({"months": ["abc"] + [1000] * 11}, "months.1", "period_share_format"),
    ({"quarters": [2500, 2500, 2500, 2499]}, "quarters", "period_shares_sum"),
    ({"months": SHARES, "quarters": [2500, 2500, 2500, 2500]}, "quarters.1", "period_quarter_mismatch"),
    ({"months": SHARES, "period_control": "sometimes"}, "period_control", "unknown_period_control"),
    ({}, "months", "required"),
])
def test_bad_shares_are_refused_naming_the_field(bank, kwargs, field, code) -> None:  # type: ignore[no-untyped-def]
    p = _plan(bank)
    before = Event.objects.count()
    with pytest.raises(ValidationError) as exc:
        plans.set_periods(bank["planner"], p.id, **kwargs)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert PlanPeriod.objects.count() == 0 and Event.objects.count() == before


def test_roll_needs_months_closed_plans_and_other_roles_are_refused(bank) -> None:  # type: ignore[no-untyped-def]
    p = _plan(bank)
    with pytest.raises(ValidationError) as exc:
        plans.set_period_control(bank["planner"], p.id, "roll")
    assert (exc.value.field, exc.value.code) == ("period_control", "periods_required")
    with pytest.raises(Forbidden):
        plans.set_periods(bank["officer_bj"], p.id, months=SHARES)
    plans.close_plan(bank["planner"], p.id)
    with pytest.raises(Conflict) as exc:
        plans.set_periods(bank["planner"], p.id, months=SHARES)
    assert exc.value.code == "plan_closed"


def test_periods_over_the_api(client, bank) -> None:  # type: ignore[no-untyped-def]
    p = _plan(bank)
    token = client.post("/api/v1/auth/token", {"username": "planner", "password": PASSWORD},
                        content_type="application/json").json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = f"/api/v1/plans/{p.id}/periods"
    r = client.put(url, {"months": SHARES, "period_control": "lapse"}, content_type="application/json", **auth)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["period_control"] == "lapse" and [q["share_bp"] for q in body["quarters"]] == [3000, 2400, 2400, 2200]
    r = client.put(url, {"months": [1000] * 12}, content_type="application/json", **auth)
    assert r.status_code == 422 and r.json()["code"] == "period_shares_sum"
    assert [e["field"] for e in r.json()["errors"]] == ["months"]
    r = client.put(url, {"months": ["ten"] + [1000] * 11}, content_type="application/json", **auth)
    assert r.status_code == 422  # not a whole number: refused by the schema, naming the field
    assert "months" in r.content.decode()
    assert client.get(url, **auth).json()["months"][0]["share_bp"] == 1000  # unchanged by the refusals
    r = client.post(f"{url}/previous-year", {"period_control": "none"}, content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["source"] == "equal"
    r = client.put(f"/api/v1/plans/{p.id}/period-control", {"period_control": "roll"},
                   content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["period_control"] == "roll"
    assert client.delete(url, **auth).json() == {"plan_id": p.id, "period_control": "none", "months": [],
                                                 "quarters": [], "source": ""}


def test_the_periods_page_in_both_languages(client, bank) -> None:  # type: ignore[no-untyped-def]
    p = _plan(bank)
    assert client.login(username="planner", password=PASSWORD)
    assert f"/plans/{p.id}/periods/" in client.get(f"/plans/{p.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    form = {f"month_{i}": str(bp / 100) for i, bp in enumerate(SHARES, start=1)}
    form["month_3"] = "10.005"  # three decimals
    r = client.post(f"/plans/{p.id}/periods/", {**form, "action": "shares", "period_control": "roll"},
                    HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.status_code == 422 and PlanPeriod.objects.count() == 0
    html = r.content.decode()
    assert 'id="err-month_3"' in html and "占比为百分数，最多两位小数" in html and 'value="10.005"' in html
    form["month_3"] = "10"
    r = client.post(f"/plans/{p.id}/periods/", {**form, "action": "shares", "period_control": "roll"},
                    HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.status_code == 302 and PlanPeriod.objects.filter(kind="month").count() == 12
    zh = client.get(f"/plans/{p.id}/periods/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "当月未用额度结转下月" in zh and "10.00 %" in zh and "30.00 %" in zh  # the first quarter
    for raw in ("roll", "lapse", "Months", "Share of the year"):
        assert f">{raw}<" not in zh
    en = client.get(f"/plans/{p.id}/periods/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "unused quota rolls into the next month" in en
    form["month_12"] = "5"  # 99 % together
    r = client.post(f"/plans/{p.id}/periods/", {**form, "action": "shares"}, HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 422 and "add up to 9900 basis points" in r.content.decode()
    assert client.login(username="officer_bj", password=PASSWORD)
    assert client.post(f"/plans/{p.id}/periods/", {**form, "action": "clear"}).status_code == 403
    assert PlanPeriod.objects.filter(kind="month").count() == 12
