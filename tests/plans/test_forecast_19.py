"""Issue 19 §4 acceptance: a demo-sized plan with known reservations, loans, pipeline and repayment schedule yields
the exact pace, forecast terms and ranking order written here, each figure with its working.

The plan "y2025": 1 January – 31 December 2025, seen on Monday 30 June 2025 (181 of 365 days elapsed).

Business days (the bank's calendar below: holidays 1 January, 1–2 May, 1–3 October; Sunday 28 September a make-up
working day):
  1 January – 30 June: 181 days from a Wednesday = 25 weeks (125 weekdays, to Tuesday 24 June) + Wednesday 25 –
  Monday 30 June (4 weekdays) = 129 weekdays − 3 holidays on weekdays (1 Jan, 1 May, 2 May) = 126 elapsed.
  1 July – 31 December: 184 days from a Tuesday = 26 weeks (130 weekdays, to Monday 29 December) + Tuesday 30 and
  Wednesday 31 December (2) = 132 weekdays − 3 holidays (1–3 October) + 1 make-up Sunday (28 September) = 130
  remaining.

Quotas (yuan): root 100,000,000 new lending / 80,000,000 balance; BJ 40,000,000 / 30,000,000; SH 30,000,000 /
25,000,000; GZ 5,000,000 / 5,000,000 — all hard.

What happened (yuan): BJ01 paid out 12,600,000 (one approval, 15 March), 600,000 of it repaid (10 June), and holds
two approvals not paid out, 4,000,000 + 3,000,000; SH01 paid out 6,300,000 and holds 2,000,000; GZ paid out
2,520,000 and holds 500,000.

Applications in progress (stage, branch, yuan) and the conversion rates of their stages (submitted 1/4, referred
1/2, approved 9/10):
  BJ01 submitted 2,000,000 → 500,000      BJ01 referred 1,000,000 → 500,000           BJ 1,000,000
  SH01 approved 1,000,000 → 900,000       SH01 submitted 400,000.03 → 100,000.0075     SH 1,000,000.0075 → 1,000,000.00
  GZ referred 3,000,000 → 1,500,000                                                   GZ 1,500,000
  HO submitted 800,000 → 200,000 (the root only)                  root 3,700,000.0075 → 3,700,000.00 (rounded down once)

Principal scheduled 1 July – 31 December (yuan): BJ01 3,000,000; SH01 1,500,000; GZ 500,000; HO 200,000.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from creditplan.core.calendar import BusinessCalendar
from creditplan.loans.plan_source import BOOK, LoanBook
from creditplan.org import services as org
from creditplan.origination.plan_pipeline import PIPELINE
from creditplan.plans import services as plans
from creditplan.plans.domain import forecast as fc
from creditplan.plans.services.sources import Cell, register_book_source, register_pipeline_source

TODAY = dt.date(2025, 6, 30)
HOLIDAYS = ["2025-01-01", "2025-05-01", "2025-05-02", "2025-10-01", "2025-10-02", "2025-10-03"]
WORKDAYS = ["2025-09-28"]
M = 100  # fen per yuan


@pytest.fixture
def calendar(settings):  # type: ignore[no-untyped-def]
    settings.CREDITPLAN_HOLIDAYS = HOLIDAYS
    settings.CREDITPLAN_WORKDAYS = WORKDAYS
    return BusinessCalendar.of(HOLIDAYS, WORKDAYS)


@pytest.fixture
def restore_sources():  # type: ignore[no-untyped-def]
    yield
    register_book_source(BOOK)
    register_pipeline_source(PIPELINE)


def _branch_ids() -> dict[str, int]:
    return {b.code: b.pk for b in org.list_all_branches()}


class Schedule(LoanBook):
    """The real loan book, except for the repayment schedule, which is the one written in the module docstring."""

    def __init__(self, cells: list[Cell]) -> None:
        self.asked: list[tuple[dt.date, dt.date]] = []
        self._cells = cells

    def scheduled_principal(self, start: dt.date, end: dt.date) -> list[Cell]:
        self.asked.append((start, end))
        return self._cells


class Applications:
    def __init__(self, apps: list[tuple[str, Cell]], rates: dict[str, Fraction]) -> None:
        self.apps, self.rates = apps, rates

    def in_progress(self) -> list[tuple[str, Cell]]:
        return self.apps

    def conversion(self) -> dict[str, Fraction]:
        return self.rates


def _paid(actor, ref: str, amount: str, branch: str, on: dt.date) -> None:  # type: ignore[no-untyped-def]
    plans.reserve_quota(actor, application_ref=ref, amount=amount, branch=branch, on=on)
    plans.consume_quota(actor, application_ref=ref, on=on)


@pytest.fixture
def demo(bank, calendar, restore_sources):  # type: ignore[no-untyped-def]
    org.create_branch(None, code="GZ", name="广州分行", name_en="Guangzhou branch", level="branch", parent_code="HO",
                      region_code="440100")
    planner, admin = bank["planner"], bank["admin"]
    p = plans.create_plan(planner, code="y2025", name="2025 信贷计划", period_start="2025-01-01",
                          period_end="2025-12-31", net_capital="5000000000", new_lending_limit="100000000",
                          balance_limit="80000000")
    bj, sh, gz = plans.split_quota(planner, p.root.id, [
        {"branch": "BJ", "new_lending_limit": "40000000", "balance_limit": "30000000"},
        {"branch": "SH", "new_lending_limit": "30000000", "balance_limit": "25000000"},
        {"branch": "GZ", "new_lending_limit": "5000000", "balance_limit": "5000000"},
    ])
    plans.activate_plan(planner, p.id)
    _paid(admin, "BJ-PAID", "12600000", "BJ01", dt.date(2025, 3, 15))
    plans.repay_principal(admin, application_ref="BJ-PAID", amount="600000", on=dt.date(2025, 6, 10))
    plans.reserve_quota(admin, application_ref="BJ-R1", amount="4000000", branch="BJ01", on=dt.date(2025, 6, 2))
    plans.reserve_quota(admin, application_ref="BJ-R2", amount="3000000", branch="BJ01", on=dt.date(2025, 6, 20))
    _paid(admin, "SH-PAID", "6300000", "SH01", dt.date(2025, 4, 1))
    plans.reserve_quota(admin, application_ref="SH-R1", amount="2000000", branch="SH01", on=dt.date(2025, 6, 25))
    _paid(admin, "GZ-PAID", "2520000", "GZ", dt.date(2025, 5, 20))
    plans.reserve_quota(admin, application_ref="GZ-R1", amount="500000", branch="GZ", on=dt.date(2025, 6, 26))
    b = _branch_ids()
    schedule = Schedule([Cell(b["BJ01"], amount=3_000_000 * M), Cell(b["SH01"], amount=1_500_000 * M),
                         Cell(b["GZ"], amount=500_000 * M), Cell(b["HO"], amount=200_000 * M)])
    register_book_source(schedule)
    register_pipeline_source(Applications([
        ("submitted", Cell(b["BJ01"], amount=2_000_000 * M)), ("referred", Cell(b["BJ01"], amount=1_000_000 * M)),
        ("approved", Cell(b["SH01"], amount=1_000_000 * M)), ("submitted", Cell(b["SH01"], amount=40_000_003)),
        ("referred", Cell(b["GZ"], amount=3_000_000 * M)), ("submitted", Cell(b["HO"], amount=800_000 * M)),
    ], {"submitted": Fraction(1, 4), "referred": Fraction(1, 2), "approved": Fraction(9, 10)}))
    return {"plan": p, "root": p.root.id, "bj": bj.id, "sh": sh.id, "gz": gz.id, "schedule": schedule}


def test_business_days_of_the_bank_calendar(calendar):  # type: ignore[no-untyped-def]
    clock = fc.business_clock(calendar, dt.date(2025, 1, 1), dt.date(2025, 12, 31), TODAY)
    assert (clock.elapsed, clock.remaining, clock.ended) == (126, 130, False)  # worked out in the docstring


def test_each_term_of_the_forecast_the_pace_and_the_ranking(bank, demo):  # type: ignore[no-untyped-def]
    d = plans.plan_dashboard(bank["planner"], demo["plan"].id, today=TODAY)
    assert demo["schedule"].asked == [(dt.date(2025, 7, 1), dt.date(2025, 12, 31))]  # tomorrow to the period end
    rows = {r["id"]: r for r in d["quotas"]}
    assert (d["plan"]["elapsed_business_days"], d["plan"]["remaining_business_days"]) == (126, 130)

    # BJ: run-rate 12,600,000 ÷ 126 × 130 = 100,000 × 130 = 13,000,000
    # new lending 12,600,000 + 7,000,000 + 1,000,000 + 13,000,000 = 33,600,000
    # balance (12,600,000 − 600,000) + 7,000,000 + 1,000,000 + 13,000,000 − 3,000,000 = 30,000,000
    assert rows[demo["bj"]]["forecast"] == {
        "consumed": 12_600_000 * M, "reserved": 7_000_000 * M, "pipeline": 1_000_000 * M, "run_rate": 13_000_000 * M,
        "new_lending": 33_600_000 * M, "coming": 21_000_000 * M, "outstanding": 12_000_000 * M,
        "repayments": 3_000_000 * M, "balance": 30_000_000 * M, "elapsed_business_days": 126,
        "remaining_business_days": 130}
    # SH: run-rate 6,300,000 ÷ 126 × 130 = 50,000 × 130 = 6,500,000; pipeline 1,000,000.0075 rounded down
    # new lending 6,300,000 + 2,000,000 + 1,000,000 + 6,500,000 = 15,800,000
    # balance 6,300,000 + 2,000,000 + 1,000,000 + 6,500,000 − 1,500,000 = 14,300,000
    sh = rows[demo["sh"]]["forecast"]
    assert (sh["consumed"], sh["reserved"], sh["pipeline"], sh["run_rate"], sh["repayments"]) == (
        6_300_000 * M, 2_000_000 * M, 1_000_000 * M, 6_500_000 * M, 1_500_000 * M)
    assert (sh["new_lending"], sh["balance"]) == (15_800_000 * M, 14_300_000 * M)
    # GZ: run-rate 2,520,000 ÷ 126 × 130 = 20,000 × 130 = 2,600,000
    # new lending 2,520,000 + 500,000 + 1,500,000 + 2,600,000 = 7,120,000
    # balance 2,520,000 + 500,000 + 1,500,000 + 2,600,000 − 500,000 = 6,620,000
    gz = rows[demo["gz"]]["forecast"]
    assert (gz["consumed"], gz["reserved"], gz["pipeline"], gz["run_rate"], gz["repayments"]) == (
        2_520_000 * M, 500_000 * M, 1_500_000 * M, 2_600_000 * M, 500_000 * M)
    assert (gz["new_lending"], gz["balance"]) == (7_120_000 * M, 6_620_000 * M)
    # root: consumed 12,600,000 + 6,300,000 + 2,520,000 = 21,420,000; reserved 7,000,000 + 2,000,000 + 500,000 =
    # 9,500,000; pipeline 3,700,000 (HO's application counts here only); run-rate 21,420,000 ÷ 126 × 130 =
    # 170,000 × 130 = 22,100,000; new lending 21,420,000 + 9,500,000 + 3,700,000 + 22,100,000 = 56,720,000;
    # repayments 3,000,000 + 1,500,000 + 500,000 + 200,000 = 5,200,000;
    # balance 20,820,000 + 9,500,000 + 3,700,000 + 22,100,000 − 5,200,000 = 50,920,000
    root = rows[demo["root"]]["forecast"]
    assert (root["consumed"], root["reserved"], root["pipeline"], root["run_rate"], root["repayments"]) == (
        21_420_000 * M, 9_500_000 * M, 3_700_000 * M, 22_100_000 * M, 5_200_000 * M)
    assert (root["new_lending"], root["outstanding"], root["balance"]) == (
        56_720_000 * M, 20_820_000 * M, 50_920_000 * M)
    assert d["focus"]["pipeline"]["applications"] == 6
    assert d["focus"]["pipeline"]["stages"]["submitted"] == {  # 2,000,000 + 400,000.03 + 800,000 at 1/4
        "applications": 3, "amount": 320_000_003, "rate": 0.25, "rate_pct": 25.0, "expected": 80_000_000}

    # pace = (reserved + consumed) ÷ limit ÷ (181 / 365), margin 20 %:
    #   BJ 19,600,000 / 40,000,000 = 0.49 → 0.49 × 365 / 181 = 178.85 / 181 = 0.98812 → on plan
    #   SH  8,300,000 / 30,000,000 → 83/300 × 365/181 = 30,295/54,300 = 0.55792 → behind
    #   GZ  3,020,000 /  5,000,000 = 0.604 → 0.604 × 365 / 181 = 220.46 / 181 = 1.21801 → ahead (> 1.2)
    #   root 30,920,000 / 100,000,000 = 0.3092 → 112.858 / 181 = 0.62352 → behind
    paces = {qid: (rows[qid]["pace"], rows[qid]["pace_status"]) for qid in rows}
    assert paces[demo["bj"]] == (pytest.approx(float(Fraction(49, 100) * Fraction(365, 181))), "on_plan")
    assert paces[demo["sh"]] == (pytest.approx(float(Fraction(83, 300) * Fraction(365, 181))), "behind")
    assert paces[demo["gz"]] == (pytest.approx(float(Fraction(604, 1000) * Fraction(365, 181))), "ahead")
    assert paces[demo["root"]] == (pytest.approx(float(Fraction(3092, 10000) * Fraction(365, 181))), "behind")

    # ranking by |forecast − limit| ÷ limit, largest first, over and under alike:
    #   SH |15,800,000 − 30,000,000| / 30,000,000 = 14.2 / 30 = 0.47333 under
    #   GZ |7,120,000 − 5,000,000| / 5,000,000 = 2.12 / 5 = 0.424 over
    #   BJ |33,600,000 − 40,000,000| / 40,000,000 = 6.4 / 40 = 0.16 under
    # (the old ranking, closest to the pace line first, put BJ first and SH last)
    ranking = [(r["branch"], r["direction"], r["deviation_pct"], r["pace_status"]) for r in d["ranking"]]
    assert ranking == [("SH", "under", 47.3, "behind"), ("GZ", "over", 42.4, "ahead"), ("BJ", "under", 16.0, "on_plan")]
    assert [r["deviation"] for r in d["ranking"]] == [pytest.approx(14.2 / 30), pytest.approx(0.424),
                                                      pytest.approx(0.16)]
    assert d["focus"]["forecast_new_lending"] == 56_720_000 * M  # the card and the chart read it


def test_a_quota_counts_only_the_cells_it_covers(bank, demo):  # type: ignore[no-untyped-def]
    """A product quota under BJ sees BJ's applications and repayments of its product only."""
    plans.add_dimension_code(bank["planner"], "product", "sme", "小微经营贷")
    (sme,) = plans.split_quota(bank["planner"], demo["bj"], [
        {"branch": "BJ", "product": "sme", "new_lending_limit": "1000000", "balance_limit": "1000000"}])
    b = _branch_ids()
    register_book_source(Schedule([Cell(b["BJ01"], product="sme", amount=100 * M),
                                   Cell(b["BJ01"], product="consumer", amount=999 * M),
                                   Cell(b["SH01"], product="sme", amount=777 * M)]))
    register_pipeline_source(Applications([("submitted", Cell(b["BJ01"], product="sme", amount=400 * M)),
                                           ("submitted", Cell(b["BJ01"], product="", amount=999 * M)),
                                           ("submitted", Cell(b["SH01"], product="sme", amount=999 * M))],
                                          {"submitted": Fraction(1, 4)}))
    rows = {r["id"]: r for r in plans.plan_dashboard(bank["planner"], demo["plan"].id, today=TODAY)["quotas"]}
    f = rows[sme.id]["forecast"]
    assert (f["pipeline"], f["repayments"]) == (100 * M, 100 * M)  # 400 × 1/4; BJ01's sme repayment only
    assert rows[demo["bj"]]["forecast"]["repayments"] == (100 + 999) * M  # BJ: both products, not SH01


def test_ranking_ties_go_by_branch_code_and_a_zero_quota_with_business_comes_first() -> None:
    order = fc.rank([fc.Deviation("SH", 80, 100), fc.Deviation("BJ", 120, 100), fc.Deviation("GZ", 5, 0),
                     fc.Deviation("HZ", 0, 0), fc.Deviation("CD", 100, 100)])
    # GZ: 5 forecast against a zero quota; BJ and SH both 20 % off (BJ over, SH under) → by code; CD 0; HZ nothing
    assert [(d.key, d.direction) for d in order] == [("GZ", "over"), ("BJ", "over"), ("SH", "under"),
                                                     ("CD", "on"), ("HZ", "on")]


def test_after_the_period_only_what_is_booked_remains(calendar) -> None:  # type: ignore[no-untyped-def]
    clock = fc.business_clock(calendar, dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 1, 5))
    f = fc.forecast(consumed=1000, reserved=200, outstanding=900, pipeline=300, repayments=400, clock=clock)
    assert (f.pipeline, f.run_rate, f.repayments, f.new_lending, f.balance) == (0, 0, 0, 1200, 1100)
    before = fc.business_clock(calendar, dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2024, 12, 20))
    assert before.elapsed == 0 and fc.run_rate(1000, before) == 0


def test_the_dashboard_names_every_term_in_both_languages(client, bank, demo):  # type: ignore[no-untyped-def]
    from factories import PASSWORD

    assert client.login(username="planner", password=PASSWORD)
    # the page is as of today (2026 and later: the 2025 plan is over), so only the booked terms are left
    en = client.get(f"/plans/{demo['plan'].id}/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for words in ("Period-end forecast, term by term", "Paid out so far", "Approved, waiting to be paid out",
                  "historical conversion rate", "Run-rate", "Principal scheduled to be repaid by the period end",
                  "Balance at the period end", "Against the plan"):
        assert words in en, words
    zh = client.get(f"/plans/{demo['plan'].id}/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for words in ("期末预测（分项）", "已投放", "在途申请", "历史转化率", "日均投放", "到期末计划回收本金", "期末余额"):
        assert words in zh, words
    for raw in ("on_plan", "run_rate", "Paid out so far", "ahead of plan", "behind plan"):
        assert raw not in zh, raw
    # the page's today is after the period: forecast = consumed + reserved; ranking SH (8.3 of 30: 72.3 % under),
    # BJ (19.6 of 40: 51 % under), GZ (3.02 of 5: 39.6 % under); pace = the used share, every one behind
    table = zh[zh.index('id="ranking"'):]
    table = table[:table.index("</table>")]
    assert table.index("上海分行") < table.index("北京分行") < table.index("广州分行")
    assert table.count("落后计划") == 3 and "不足 72.3 %" in table


def test_through_the_real_origination_and_loan_sources(bank, calendar):  # type: ignore[no-untyped-def]
    """The pipeline and the schedule from origination's applications and loans' installments.

    History (created in the last 12 months, finished; stages reached → outcome):
      H1, H2  submitted → approved → contract offered → signed → ready → disbursed
      H3      submitted → referred → approved → contract offered → signed → ready → disbursed
      H4      submitted → referred → declined
      H5      submitted → declined
      H6      submitted → approved → expired
      H7      submitted → referred → information requested → referred → declined
      H8      submitted → approved → … → disbursed, but created 400 days ago: outside the window
    Conversion: submitted 3/7 (H1–H7, 3 paid out); referred 1/3 (H3, H4, H7); information requested 0/1 (H7);
    approved 3/4 (H1, H2, H3, H6); contract offered, signed, ready to disburse 3/3.

    In progress: P1 BJ01 submitted 70,000 → × 3/7 = 30,000; P2 BJ01 referred 30,000 → × 1/3 = 10,000; P3 SH01
    approved for 40,000 (50,000 asked, no quota held: no plan covered it) → × 3/4 = 30,000; P4 BJ01 approved and
    holding 20,000 of quota (counted in reserved, not again); P5 a draft (not in the pipeline).

    The book: a 12,000.00 loan to a BJ01 customer paid out 15 March 2025, 12 monthly equal-principal instalments of
    1,000.00 due on the 15th from April: July to December 2025 = 6 × 1,000.00 = 6,000.00 scheduled.

    BJ: consumed 12,000; reserved 20,000; pipeline 30,000 + 10,000 = 40,000; run-rate 1,200,000 fen × 130 ÷ 126 =
    156,000,000 ÷ 126 = 1,238,095 fen (remainder 30, rounded down) = 12,380.95; new lending 12,000 + 20,000 +
    40,000 + 12,380.95 = 84,380.95; balance 12,000 + 20,000 + 40,000 + 12,380.95 − 6,000 = 78,380.95.
    """
    from django.utils import timezone

    from creditplan.customers import services as customers
    from creditplan.customers.models import Customer
    from creditplan.loans import services as loans
    from creditplan.origination.models import Application, Transition
    from factories import individual

    register_book_source(BOOK)
    register_pipeline_source(PIPELINE)
    planner = bank["planner"]
    p = plans.create_plan(planner, code="y2025", name="2025", period_start="2025-01-01", period_end="2025-12-31",
                          net_capital="5000000000", new_lending_limit="10000000", balance_limit="10000000")
    bj, sh = plans.split_quota(planner, p.root.id, [
        {"branch": "BJ", "new_lending_limit": "1000000", "balance_limit": "1000000"},
        {"branch": "SH", "new_lending_limit": "1000000", "balance_limit": "1000000"}])
    plans.activate_plan(planner, p.id)
    c_bj = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    c_sh = customers.create_customer(bank["officer_sh"], individual(2, branch="SH01"))
    loans.create_product(bank["risk"], code="consumer", name="个人消费贷", min_amount="1000", max_amount="2000000",
                         min_term=1, max_term=360, method="equal-principal", day_count="30/360", rate="0.0435",
                         grace_days=3, late_fee="50.00", penalty_markup_pct=50, max_backdate_days=30)
    for tenor, rate in (("1y", "0.0345"), ("5y", "0.0395")):
        loans.set_lpr(bank["risk"], tenor=tenor, effective_date="2024-01-20", rate=rate)
    loans.disburse(None, customer_id=c_bj.id, product="consumer", amount="12000.00", term=12,
                   start_date=dt.date(2025, 3, 15))

    customer = {"BJ01": Customer.objects.get(pk=c_bj.id), "SH01": Customer.objects.get(pk=c_sh.id)}
    now = timezone.now()

    def application(ref: str, branch: str, status: str, steps: list[str], *, amount: int = 1_000_000,
                    days_ago: int = 30, **extra: object) -> Application:
        c = customer[branch]
        a = Application.objects.create(ref=ref, customer=c, branch=c.branch, product="consumer", amount_minor=amount,
                                       term=12, channel="branch", status=status, **extra)
        at = now - dt.timedelta(days=days_ago)
        Application.objects.filter(pk=a.pk).update(created_at=at)
        prev = ""
        for i, s in enumerate(steps):
            Transition.objects.create(application=a, from_status=prev, to_status=s, actor_name="t",
                                      at=at + dt.timedelta(hours=i))
            prev = s
        return a

    paid = ["submitted", "approved", "contract_offered", "signed", "ready_to_disburse", "disbursed"]
    application("H1", "BJ01", "disbursed", paid)
    application("H2", "SH01", "disbursed", paid)
    application("H3", "BJ01", "disbursed", ["submitted", "referred", *paid[1:]])
    application("H4", "BJ01", "declined", ["submitted", "referred", "declined"])
    application("H5", "SH01", "declined", ["submitted", "declined"])
    application("H6", "BJ01", "expired", ["submitted", "approved", "expired"])
    application("H7", "BJ01", "declined", ["submitted", "referred", "info_requested", "referred", "declined"])
    application("H8", "BJ01", "disbursed", paid, days_ago=400)
    application("P1", "BJ01", "submitted", ["submitted"], amount=7_000_000)
    application("P2", "BJ01", "referred", ["submitted", "referred"], amount=3_000_000)
    application("P3", "SH01", "approved", ["submitted", "approved"], amount=5_000_000,
                approved_amount_minor=4_000_000, quota_status="untracked")
    application("P4", "BJ01", "approved", ["submitted", "approved"], amount=2_000_000, quota_status="reserved")
    application("P5", "BJ01", "draft", [], amount=9_000_000)
    plans.reserve_quota(bank["admin"], application_ref="P4", amount="20000", branch="BJ01", on=dt.date(2025, 5, 2))

    assert PIPELINE.conversion() == {
        "submitted": Fraction(3, 7), "referred": Fraction(1, 3), "info_requested": Fraction(0),
        "approved": Fraction(3, 4), "contract_offered": Fraction(1), "signed": Fraction(1),
        "ready_to_disburse": Fraction(1)}
    assert sorted((s, c.amount) for s, c in PIPELINE.in_progress()) == [
        ("approved", 4_000_000), ("referred", 3_000_000), ("submitted", 7_000_000)]

    rows = {r["id"]: r for r in plans.plan_dashboard(planner, p.id, today=TODAY)["quotas"]}
    assert rows[bj.id]["forecast"] == {
        "consumed": 1_200_000, "reserved": 2_000_000, "pipeline": 4_000_000, "run_rate": 1_238_095,
        "new_lending": 8_438_095, "coming": 7_238_095, "outstanding": 1_200_000, "repayments": 600_000,
        "balance": 7_838_095, "elapsed_business_days": 126, "remaining_business_days": 130}
    sh_f = rows[sh.id]["forecast"]
    assert (sh_f["pipeline"], sh_f["run_rate"], sh_f["new_lending"]) == (3_000_000, 0, 3_000_000)


def test_the_dashboard_of_a_running_plan_with_months_in_chinese(client, bank, calendar, restore_sources):  # type: ignore[no-untyped-def]
    """A plan for this year split into months (roll), with applications in progress at every stage: the page names
    the stages, the month and what it may still use in Chinese, with no English word or raw code left."""
    from django.utils import timezone

    from factories import PASSWORD

    year = timezone.localdate().year
    p = plans.create_plan(bank["planner"], code="this-year", name="本年计划", period_start=f"{year}-01-01",
                          period_end=f"{year}-12-31", net_capital="5000000000", new_lending_limit="12000000",
                          balance_limit="12000000")
    plans.split_quota(bank["planner"], p.root.id, [{"branch": "BJ", "new_lending_limit": "6000000",
                                                    "balance_limit": "6000000"}])
    plans.activate_plan(bank["planner"], p.id)
    plans.set_periods(bank["planner"], p.id, months=[834] * 4 + [833] * 8, period_control="roll")
    b = _branch_ids()
    stages = ["submitted", "referred", "info_requested", "approved", "contract_offered", "signed", "ready_to_disburse"]
    register_pipeline_source(Applications([(s, Cell(b["BJ01"], amount=100_000 * M)) for s in stages],
                                          dict.fromkeys(stages, Fraction(1, 2))))
    assert client.login(username="planner", password=PASSWORD)
    zh = client.get(f"/plans/{p.id}/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for words in ("已提交", "审批中", "待补充资料", "已批准", "已发合同", "已签约", "待放款", "按阶段的在途申请",
                  "50.0 %", "计划分期", "当月未用额度结转至下月", "本月可用", "本月可用：", "与计划相比"):
        assert words in zh, words
    for raw in ("info_requested", "ready_to_disburse", "contract_offered", "Submitted", "In review", "roll",
                "on_plan", "Usable this month", "basis points"):
        assert raw not in zh, raw
