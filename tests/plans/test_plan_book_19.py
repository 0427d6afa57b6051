"""The plan over the whole loan book (issue 19 §5): a plan created over an existing book starts from it, and stays equal
to the loans through a month of disbursements, repayments at the counter and in the close, a write-off and a
restructuring with capitalisation; the reconciliation reports nothing, or every difference.

The story (every figure by hand; amounts in yuan, fen in the code). Two products, both equal-principal
(等额本金) at 4.35 %, 30/360, no penalty interest and no late fee, so that a missed installment leaves exactly its
interest in arrears: `personal` and `biz`. The plan segment 普惠小微 is `inclusive_sme`. Customers: c1 and c2,
individuals of BJ01 (their ID numbers: province 11, no industry); co, a company of SH01 (industry C13 → section C,
region 310115 → province 31).

Before the plan (booked by trusted code, no plan active: no reservation):
  L4  c2  personal  6,000.00 / 6 months from 2024-11-10, never paid (100 days past due on 2025-03-20: 次级)
  L1  c1  personal 12,000.00 / 12 months from 2025-02-10 (first due 2025-03-10: principal 1,000.00 + 43.50)
  L2  c2  biz      24,000.00 / 12 months from 2025-02-05, 普惠小微 (first due 2025-03-05: 2,000.00 + 87.00)
  L3  co  biz      60,000.00 / 12 months from 2025-02-20, 普惠小微, a debit mandate (first due 2025-03-20:
                   5,000.00 + 60,000.00 × 4.35 % / 12 = 217.50; the account holds 10,000.00)

The plan fy2025 (2025-03-01 – 2025-12-31), activated on 2025-03-01, quotas: the root; BJ; SH; the segment
inclusive_sme; after activation BJ is split into BJ01 and BJ·personal. Its opening book, by cell:
  (BJ01, personal, –, 11, –)             L1 + L4 = 12,000 + 6,000 = 18,000.00
  (BJ01, biz, –, 11, inclusive_sme)      L2                       = 24,000.00
  (SH01, biz, C, 31, inclusive_sme)      L3                       = 60,000.00      whole book 102,000.00
and by quota: root 102,000; BJ 42,000; SH 60,000; inclusive_sme 84,000; BJ01 42,000; BJ·personal 18,000.

March (the close runs every day):
  03-03  L5  c1  biz 30,000.00 / 12 months, 普惠小微, paid out (reserved and consumed under the plan: new lending)
  03-05  L2's installment falls due, unpaid: arrears 2,000.00 principal (already in the balance) + 87.00 interest
  03-10  L1 paid at the counter: 1,043.50, of which principal 1,000.00                              −1,000.00
  03-12  L2 restructured, arrears capitalised: 24,000.00 × 4.35 % / 12 = 87.00 becomes principal        +87.00
  03-20  L4 written off (proposed by risk, approved by admin): its 6,000.00 leaves the book           −6,000.00
  03-20  the close debits L3's installment, 5,217.50: principal 5,000.00                             −5,000.00
At the end of March, by cell:
  (BJ01, personal)            18,000 − 1,000 − 6,000      = 11,000.00
  (BJ01, biz, inclusive_sme)  24,000 + 30,000 + 87        = 54,087.00  (new lending 30,000.00)
  (SH01, biz, C, 31, sme)     60,000 − 5,000              = 55,000.00
  whole book 120,087.00: net increase (净增) 120,087 − 102,000 = 18,087.00; growth 18,087 / 102,000 = 6,029 / 34,000
By quota (balance; net increase; growth rate):
  root            120,087.00;  18,087.00;  6,029/34,000
  BJ               65,087.00;  23,087.00;  23,087/42,000
  SH               55,000.00;  −5,000.00;  −1/12
  inclusive_sme   109,087.00;  25,087.00;  25,087/84,000
  BJ01             65,087.00;  23,087.00;  23,087/42,000
  BJ·personal      11,000.00;  −7,000.00;  −7/18
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from tests.loans.conftest import loan_world, make_loan  # noqa: F401 - the loans' fixtures
from tests.loans.loan_checks import books_ok, business_clock

from creditplan.core.money import format_minor
from creditplan.customers import services as customers
from creditplan.loans import approvals, cob, payments, settlement
from creditplan.loans import services as loans
from creditplan.loans.models import Installment, Loan
from creditplan.loans.restructure import restructure
from creditplan.loans.writeoff import propose_write_off
from creditplan.plans import services as plans
from creditplan.plans.models import BookCell, Movement, Quota, Reservation
from factories import company

D = dt.date
SME = "inclusive_sme"
ACCOUNT = "6222020200112233445"
PRODUCT = {"min_amount": "1000", "max_amount": "2000000", "min_term": 1, "max_term": 360, "method": "equal-principal",
           "day_count": "30/360", "rate": "0.0435", "grace_days": 3, "late_fee": "0", "penalty_on_principal": False,
           "compound_on_interest": False, "max_backdate_days": 30}


def _yuan(minor: int) -> int:
    return minor * 100


@pytest.fixture
def book(loan_world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # noqa: F811
    """The bank, the two products, the segment, three customers and the four loans booked before the plan, every
    loan closed through 2025-02-28 (see the module docstring)."""
    w = loan_world
    loans.create_product(w["risk"], code="personal", name="个人贷", **PRODUCT)
    loans.create_product(w["risk"], code="biz", name="经营贷", **PRODUCT)
    plans.add_dimension_code(w["planner"], "segment", SME, "普惠小微")
    co = customers.create_customer(w["officer_sh"], company(1, branch="SH01", industry_code="C13",
                                                            region_code="310115"))
    c1, c2 = w["customers"]
    clock = business_clock(monkeypatch, D(2024, 11, 10))
    l4 = loans.disburse(None, customer_id=c2, product="personal", amount="6000.00", term=6, start_date=clock.day)
    cob.advance_loan(l4, D(2025, 2, 1))
    clock.day = D(2025, 2, 20)
    l1 = loans.disburse(None, customer_id=c1, product="personal", amount="12000.00", term=12,
                        start_date=D(2025, 2, 10))
    l2 = loans.disburse(None, customer_id=c2, product="biz", amount="24000.00", term=12, start_date=D(2025, 2, 5),
                        segment=SME)
    l3 = loans.disburse(None, customer_id=co.id, product="biz", amount="60000.00", term=12,
                        start_date=D(2025, 2, 20), segment=SME)
    settlement.set_mandate(w["ops"], loan_ref=l3.ref, account_no=ACCOUNT)
    settlement.fund_account(ACCOUNT, _yuan(10_000))
    for loan in (l1, l2, l3, l4):
        cob.advance_loan(loan, D(2025, 2, 28))
    assert (l1.segment, l2.segment, l3.segment) == ("", SME, SME)
    return {**w, "clock": clock, "co": co.id, "L1": l1, "L2": l2, "L3": l3, "L4": l4}


def _plan(w: dict[str, Any], start: str = "2025-03-01") -> Any:
    planner = w["planner"]
    plan = plans.create_plan(planner, code="fy2025", name="2025 年度信贷计划", period_start=start,
                             period_end="2025-12-31", net_capital="100000000", new_lending_limit="500000",
                             balance_limit="1000000")
    plans.split_quota(planner, plan.root.id, [
        {"branch": "BJ", "new_lending_limit": "200000", "balance_limit": "300000"},
        {"branch": "SH", "new_lending_limit": "200000", "balance_limit": "300000"},
        {"segment": SME, "new_lending_limit": "100000", "balance_limit": "300000"}])
    return plan


def _quota(plan_id: int, **dims: Any) -> Quota:
    full = {"branch__code": None, "product": "", "industry": "", "region": "", "segment": "", **dims}
    if full["branch__code"] is None:
        full.pop("branch__code")
        full["branch__isnull"] = True
    return Quota.objects.get(plan_id=plan_id, **full)


def _cells(plan_id: int) -> dict[tuple[str, str, str, str, str], tuple[int, int, int]]:
    return {(c.branch.code, c.product, c.industry, c.region, c.segment): (c.opening_minor, c.outstanding_minor,
                                                                          c.new_lending_minor)
            for c in BookCell.objects.filter(plan_id=plan_id).select_related("branch")}


PERSONAL_BJ = ("BJ01", "personal", "", "11", "")
BIZ_BJ = ("BJ01", "biz", "", "11", SME)
BIZ_SH = ("SH01", "biz", "C", "31", SME)


def _run_close(clock: Any, through: dt.date) -> None:
    day = (loans.last_closed_date() or D(2025, 2, 28)) + dt.timedelta(days=1)
    while day <= through:
        clock.day = day
        assert cob.run_close(day).status == "done"
        day += dt.timedelta(days=1)


def test_a_plan_over_an_existing_book_stays_equal_to_the_loans_through_a_month(book: dict[str, Any]) -> None:
    w, clock = book, book["clock"]
    planner = w["planner"]
    plan = _plan(w)
    clock.day = D(2025, 3, 1)
    plans.activate_plan(planner, plan.id, on=clock.day)
    # the opening book, by cell and by quota (module docstring)
    assert _cells(plan.id) == {PERSONAL_BJ: (_yuan(18_000),) * 2 + (0,), BIZ_BJ: (_yuan(24_000),) * 2 + (0,),
                               BIZ_SH: (_yuan(60_000),) * 2 + (0,)}
    plans.split_quota(planner, _quota(plan.id, branch__code="BJ").pk, [
        {"branch": "BJ01", "new_lending_limit": "100000", "balance_limit": "200000"},
        {"branch": "BJ", "product": "personal", "new_lending_limit": "50000", "balance_limit": "100000"}])
    quotas = {"root": {}, "BJ": {"branch__code": "BJ"}, "SH": {"branch__code": "SH"}, "sme": {"segment": SME},
              "BJ01": {"branch__code": "BJ01"}, "BJ·personal": {"branch__code": "BJ", "product": "personal"}}
    opening = {"root": 102_000, "BJ": 42_000, "SH": 60_000, "sme": 84_000, "BJ01": 42_000, "BJ·personal": 18_000}
    for name, dims in quotas.items():
        q = _quota(plan.id, **dims)
        assert (q.opening_balance_minor, q.outstanding_minor) == (_yuan(opening[name]),) * 2, name

    # March
    _run_close(clock, D(2025, 3, 2))
    clock.day = D(2025, 3, 3)
    l5 = loans.disburse(None, customer_id=w["customers"][0], product="biz", amount="30000.00", term=12,
                        start_date=clock.day, segment=SME)
    _run_close(clock, D(2025, 3, 9))
    clock.day = D(2025, 3, 10)
    first = Installment.objects.get(loan=w["L1"], seq=1)
    assert (first.principal_minor, first.interest_minor) == (_yuan(1_000), 4350)
    payments.post_payment(w["ops"], loan_ref=w["L1"].ref, amount="1043.50", reference="CTR-L1-1",
                          value_date=clock.day)
    _run_close(clock, D(2025, 3, 11))
    clock.day = D(2025, 3, 12)
    l2 = Loan.objects.get(pk=w["L2"].pk)
    assert (l2.overdue_principal_minor, l2.overdue_interest_minor, l2.penalty_minor, l2.fees_minor) == (
        _yuan(2_000), 8700, 0, 0)
    l2 = restructure(w["approver_bj"], l2.ref, kind="capitalise", reason="arrears capitalised (workout)")
    assert l2.principal_outstanding_minor == _yuan(24_000) + 8700
    _run_close(clock, D(2025, 3, 19))
    clock.day = D(2025, 3, 20)
    l4 = Loan.objects.get(pk=w["L4"].pk)
    assert l4.risk_class >= 3 and l4.principal_outstanding_minor == _yuan(6_000)
    req = propose_write_off(w["risk"], l4.ref, reason="court ruling", condition="court",
                            evidence="(2025)京0105执1234号", on="2025-03-20")
    approvals.decide(w["admin"], req.pk, approve=True)
    _run_close(clock, D(2025, 3, 31))
    l3 = Loan.objects.get(pk=w["L3"].pk)
    assert l3.principal_outstanding_minor == _yuan(55_000)  # the close debited 5,217.50: principal 5,000.00

    # the plan equals the loans, cell by cell and quota by quota
    assert _cells(plan.id) == {PERSONAL_BJ: (_yuan(18_000), _yuan(11_000), 0),
                               BIZ_BJ: (_yuan(24_000), _yuan(54_087), _yuan(30_000)),
                               BIZ_SH: (_yuan(60_000), _yuan(55_000), 0)}
    balance = {"root": 12_008_700, "BJ": 6_508_700, "SH": 5_500_000, "sme": 10_908_700, "BJ01": 6_508_700,
               "BJ·personal": 1_100_000}
    growth = {"root": Fraction(6_029, 34_000), "BJ": Fraction(23_087, 42_000), "SH": Fraction(-1, 12),
              "sme": Fraction(25_087, 84_000), "BJ01": Fraction(23_087, 42_000), "BJ·personal": Fraction(-7, 18)}
    ids = {name: _quota(plan.id, **dims).pk for name, dims in quotas.items()}
    figures = plans.book_figures(planner, plan.id, list(ids.values()))
    by_id = {q["id"]: q for q in figures["quotas"]}
    for name, qid in ids.items():
        q = by_id[qid]
        assert (q["opening"], q["balance"], q["net_increase"]) == (
            _yuan(opening[name]), balance[name], balance[name] - _yuan(opening[name])), name
        assert q["growth_rate"] == growth[name], name
        # every change of the balance is a Movement: the opening book, the loans' movements
        moved = Movement.objects.filter(quota_id=qid).aggregate(o=Sum("outstanding_delta"))["o"]
        assert moved == balance[name], name
    whole = figures["plan"]
    assert (whole["opening"], whole["balance"], whole["net_increase"], whole["new_lending"]) == (
        10_200_000, 12_008_700, 1_808_700, 3_000_000)
    assert whole["growth_rate"] == Fraction(18_087, 102_000) == Fraction(6_029, 34_000)
    assert by_id[ids["root"]]["new_lending"] == by_id[ids["sme"]]["new_lending"] == _yuan(30_000)
    assert by_id[ids["SH"]]["new_lending"] == 0
    # the loans' own book agrees: nothing to report
    result = plans.reconcile(None, plan.id)
    assert result.ok and result.differences == [] and result.cells == 3 and result.quotas == 6
    call_command("plan_reconcile", "--plan", "fy2025")  # exit 0
    assert plans.book_figures(planner, plan.id)["reconciliation"]["ok"]
    # each path reached the plan once, by its kind (BJ·personal: split at 18,000, L1 at the counter, L4 written off;
    # SH: the close's debit, in the close's one call for the chunk; BJ01: L5 consumed, L2 capitalised)
    def kinds(name: str) -> list[tuple[str, str, int]]:
        return [(m.kind, m.on_date.isoformat(), m.outstanding_delta)
                for m in Movement.objects.filter(quota_id=ids[name]).exclude(outstanding_delta=0).order_by("id")]

    split_at = kinds("BJ·personal")[0][1]  # the split's own date (plans keep no business clock)
    assert kinds("BJ·personal") == [("opening", split_at, _yuan(18_000)),
                                    ("repayment", "2025-03-10", -_yuan(1_000)),
                                    ("write_off", "2025-03-20", -_yuan(6_000))]
    assert kinds("SH") == [("opening", "2025-03-01", _yuan(60_000)), ("repayment", "2025-03-20", -_yuan(5_000))]
    assert kinds("BJ01")[1:] == [("consume", "2025-03-03", _yuan(30_000)), ("repayment", "2025-03-10", -_yuan(1_000)),
                                 ("capitalise", "2025-03-12", 8700), ("write_off", "2025-03-20", -_yuan(6_000))]
    # the reservation L5 was paid out under follows its loan
    r = Reservation.objects.get(plan_id=plan.id, application_ref=l5.application_ref)
    assert (r.status, r.outstanding_minor, r.segment) == ("consumed", _yuan(30_000), SME)
    books_ok()


def test_the_reconciliation_names_every_difference_and_the_command_fails(book: dict[str, Any]) -> None:
    """A cell changed behind the plan's back (+100.00 in BJ01·personal): the cell and every quota covering it
    (the root, BJ) differ from the loans by 100.00; the command prints them and exits 1."""
    w, clock = book, book["clock"]
    plan = _plan(w)
    clock.day = D(2025, 3, 1)
    plans.activate_plan(w["planner"], plan.id, on=clock.day)
    assert plans.reconcile(None, plan.id).ok
    BookCell.objects.filter(plan_id=plan.id, product="personal").update(outstanding_minor=_yuan(18_100))
    Quota.objects.filter(plan_id=plan.id, branch__code="BJ").update(outstanding_minor=_yuan(42_100))
    Quota.objects.filter(plan_id=plan.id, branch__isnull=True, segment="").update(outstanding_minor=_yuan(102_100))
    result = plans.reconcile(None, plan.id)
    found = {(d["what"], d["label"], d["plan_minor"], d["loans_minor"]) for d in result.differences}
    # issue 20: a cell is named by its product's and province's names, not their codes ("产品 personal · 地区 11")
    assert found == {("cell", "BJ01 · 产品 个人贷 · 地区 北京市", _yuan(18_100), _yuan(18_000)),
                     ("quota", "北京分行", _yuan(42_100), _yuan(42_000)),
                     ("quota", "全行", _yuan(102_100), _yuan(102_000))}
    with pytest.raises(CommandError) as exc:
        call_command("plan_reconcile")
    assert exc.value.returncode == 1 and "3 difference(s)" in str(exc.value)
    last = plans.book_figures(w["planner"], plan.id)["reconciliation"]
    assert (last["ok"], last["count"]) == (False, 3)


def test_a_plan_activated_with_no_loans_starts_at_zero(loan_world: dict[str, Any]) -> None:  # noqa: F811
    plan = plans.create_plan(loan_world["planner"], code="empty", name="空计划", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="1000000", new_lending_limit="1000",
                             balance_limit="1000")
    plans.activate_plan(loan_world["planner"], plan.id, on=D(2025, 1, 1))
    assert not BookCell.objects.filter(plan_id=plan.id).exists()
    root = Quota.objects.get(pk=plan.root.id)
    assert (root.opening_balance_minor, root.outstanding_minor) == (0, 0)
    whole = plans.book_figures(loan_world["planner"], plan.id)["plan"]
    assert (whole["opening"], whole["balance"], whole["growth_rate"]) == (0, 0, None)  # no rate from nothing


def test_a_plan_activated_ahead_of_its_period_starts_from_the_book_on_its_first_day(book: dict[str, Any]) -> None:
    """Activated on 2025-03-01 for a period from 2025-04-01: a loan paid out on 03-03 (30,000.00) is part of the
    book the plan starts from — opening 102,000 + 30,000 = 132,000.00 — and not new lending of the period."""
    w, clock = book, book["clock"]
    plan = _plan(w, start="2025-04-01")
    clock.day = D(2025, 3, 1)
    plans.activate_plan(w["planner"], plan.id, on=clock.day)
    _run_close(clock, D(2025, 3, 2))
    clock.day = D(2025, 3, 3)
    loans.disburse(None, customer_id=w["customers"][0], product="biz", amount="30000.00", term=12,
                   start_date=clock.day, segment=SME)  # no plan reserves for 03-03: the book still takes it
    root = Quota.objects.get(pk=plan.root.id)
    assert (root.opening_balance_minor, root.outstanding_minor) == (_yuan(132_000), _yuan(132_000))
    assert _cells(plan.id)[BIZ_BJ] == (_yuan(54_000), _yuan(54_000), 0)
    assert plans.reconcile(None, plan.id).ok


def test_a_quota_split_after_the_book_moved_takes_its_balances_from_the_cells(book: dict[str, Any]) -> None:
    """After L1's 1,000.00 is repaid at the counter, a quota for BJ01·personal opens at 17,000.00 (the book of its
    cells now; the opening of its cells is 18,000.00)."""
    w, clock = book, book["clock"]
    plan = _plan(w)
    clock.day = D(2025, 3, 1)
    plans.activate_plan(w["planner"], plan.id, on=clock.day)
    _run_close(clock, D(2025, 3, 9))
    clock.day = D(2025, 3, 10)
    payments.post_payment(w["ops"], loan_ref=w["L1"].ref, amount="1043.50", reference="CTR-L1-1",
                          value_date=clock.day)
    [child] = plans.split_quota(w["planner"], _quota(plan.id, branch__code="BJ").pk, [
        {"branch": "BJ01", "product": "personal", "new_lending_limit": "1000", "balance_limit": "100000"}])
    q = Quota.objects.get(pk=child.id)
    assert (q.opening_balance_minor, q.outstanding_minor) == (_yuan(18_000), _yuan(17_000))
    assert child.state.outstanding == _yuan(17_000)
    assert plans.reconcile(None, plan.id).ok


def test_every_other_path_that_moves_principal_reaches_the_plan(book: dict[str, Any]) -> None:
    """An overpayment held as credit and applied by the close's auto-debit on the due date (L1: 1,000.00 of
    principal), a bank file (L2's arrears, 2,087.00: principal 2,000.00), its reversal (the 2,000.00 owed again), a
    partial prepayment (L3) and a full one (L1): after each, the plan's book equals the loans' (the reconciliation
    reports nothing) and the movement is on the quotas under its kind."""
    w, clock = book, book["clock"]
    plan = _plan(w)
    clock.day = D(2025, 3, 1)
    plans.activate_plan(w["planner"], plan.id, on=clock.day)
    _run_close(clock, D(2025, 3, 4))
    clock.day = D(2025, 3, 5)
    payments.post_payment(w["ops"], loan_ref=w["L1"].ref, amount="1500.00", reference="CREDIT-L1",
                          value_date=clock.day)  # nothing due yet on L1: held as its credit
    assert Loan.objects.get(pk=w["L1"].pk).credit_minor == _yuan(1_500)
    _run_close(clock, D(2025, 3, 10))  # 03-10: the close's auto-debit pays L1's installment from the credit
    assert Loan.objects.get(pk=w["L1"].pk).principal_outstanding_minor == _yuan(11_000)
    assert plans.reconcile(None, plan.id).ok
    clock.day = D(2025, 3, 11)
    report = payments.import_bank_file(w["ops"], f"BANK-L2,{w['L2'].ref},2087.00,2025-03-11\n")
    assert report.posted == 1 and not report.rejected
    assert Loan.objects.get(pk=w["L2"].pk).principal_outstanding_minor == _yuan(22_000)
    assert plans.reconcile(None, plan.id).ok
    payments.reverse_payment(w["ops"], reference="BANK-L2", reason="returned by the bank")
    assert Loan.objects.get(pk=w["L2"].pk).principal_outstanding_minor == _yuan(24_000)
    assert plans.reconcile(None, plan.id).ok
    _run_close(clock, D(2025, 3, 11))
    clock.day = D(2025, 3, 12)
    before = Loan.objects.get(pk=w["L3"].pk).principal_outstanding_minor
    payments.prepay(w["ops"], loan_ref=w["L3"].ref, amount="10000.00", reference="PRE-L3", value_date=clock.day,
                    mode="reduce_installment")
    assert Loan.objects.get(pk=w["L3"].pk).principal_outstanding_minor < before
    quote = payments.payoff_quote(w["ops"], w["L1"].ref, clock.day)
    payments.prepay(w["ops"], loan_ref=w["L1"].ref, amount=format_minor(quote.total_minor, grouping=False),
                    reference="PAYOFF-L1", value_date=clock.day)
    assert Loan.objects.get(pk=w["L1"].pk).status == "closed"
    assert plans.reconcile(None, plan.id).ok
    root = Quota.objects.get(pk=plan.root.id)
    loans_book = Loan.objects.filter(status="active").aggregate(p=Sum("principal_outstanding_minor"))["p"]
    assert root.outstanding_minor == loans_book
    assert set(Movement.objects.filter(quota_id=root.pk).values_list("kind", flat=True)) == {
        "opening", "repayment", "reversal"}


def test_the_dashboard_shows_the_book_and_the_reconciliation_in_both_languages(book: dict[str, Any], client: Any
                                                                               ) -> None:
    """The opening book of the story (102,000.00, nothing moved yet: net increase 0.00, growth 0.00 %), reconciled;
    then a cell changed behind the plan's back: the page names the differences."""
    from factories import PASSWORD

    w, clock = book, book["clock"]
    plan = _plan(w)
    clock.day = D(2025, 3, 1)
    plans.activate_plan(w["planner"], plan.id, on=clock.day)
    assert client.login(username="planner", password=PASSWORD)
    url = f"/plans/{plan.id}/dashboard/"
    assert "Not reconciled with the loans yet" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    plans.reconcile(None, plan.id)
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="book"' in en and "Net increase" in en and "102,000.00" in en and "Book reconciled" in en
    assert "0.00 %" in en  # growth of the book since the opening: nothing moved yet
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    section = zh[zh.index('id="book"'):zh.index("</section>", zh.index('id="book"'))]
    assert "净增" in section and "期初余额" in section and "余额已核平" in section and "102,000.00" in section
    assert not any(word in section for word in ("Net increase", "Opening balance", "Book reconciled", "Growth"))
    BookCell.objects.filter(plan_id=plan.id, product="personal").update(outstanding_minor=_yuan(18_100))
    plans.reconcile(None, plan.id)
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "与贷款有 1 处差异" in zh and "BJ01 · 产品 个人贷 · 地区 北京市" in zh and "18,100.00" in zh


def test_the_close_moves_the_plan_once_per_chunk_not_once_per_loan(loan_world: dict[str, Any],  # noqa: F811
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two loans of 12,000.00 (equal principal, 12 months from 2025-01-15) debited on their first due date,
    2025-02-15, in the same chunk of the close: 1,000.00 of principal each. The plan's book moves once for the
    chunk — one Movement of −2,000.00 on the root, one plan.book_moved event — not once per loan."""
    from creditplan.ledger.models import Event

    w = loan_world
    loans.create_product(w["risk"], code="personal", name="个人贷", **PRODUCT)
    clock = business_clock(monkeypatch, D(2025, 1, 15))
    plan = plans.create_plan(w["planner"], code="fy2025", name="2025", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="100000000", new_lending_limit="1000000",
                             balance_limit="1000000")
    plans.activate_plan(w["planner"], plan.id, on=clock.day)
    for n, customer in enumerate(w["customers"]):
        loan = loans.disburse(None, customer_id=customer, product="personal", amount="12000.00", term=12,
                              start_date=clock.day)
        settlement.set_mandate(w["ops"], loan_ref=loan.ref, account_no=f"62220202001122334{n}")
        settlement.fund_account(f"62220202001122334{n}", _yuan(5_000))
    day = D(2025, 1, 16)
    while day <= D(2025, 2, 15):
        clock.day = day
        cob.run_close(day)
        day += dt.timedelta(days=1)
    moved = list(Movement.objects.filter(quota_id=plan.root.id, on_date=D(2025, 2, 15))
                 .values_list("kind", "outstanding_delta"))
    assert moved == [("repayment", -_yuan(2_000))]
    events = [e for e in Event.objects.filter(kind="plan.book_moved", subject_id="fy2025")
              if '"repayment"' in e.entry]
    assert len(events) == 1
    assert Quota.objects.get(pk=plan.root.id).outstanding_minor == _yuan(22_000)
    assert plans.reconcile(None, plan.id).ok
