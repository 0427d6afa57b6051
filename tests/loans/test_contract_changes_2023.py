"""Contract changes (issue 18 §5): LPR repricing on a calendar date (每年1月1日) or the anniversary, split-period
interest across a reset (分段计息), batch spread amendments without restructuring (the 2023 存量房贷 adjustment),
and payoff interest at balance × annual / 360 × actual days. Every figure is worked by hand in the comments."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.management import call_command
from loan_checks import books_ok

from creditplan.core.errors import Conflict, Forbidden, ValidationError
from creditplan.ledger.models import Event
from creditplan.loans import amendments, cob, payments
from creditplan.loans import services as loans
from creditplan.loans.domain.terms import make_sheet, next_reset, sheet_for_product
from creditplan.loans.models import Installment, Loan, LoanActivity, SpreadAmendment, TermSheet

D = dt.date

MORTGAGE = {
    "code": "mortgage", "name": "个人住房贷", "min_amount": "1000", "max_amount": "5000000", "min_term": 1,
    "max_term": 360, "method": "equal-principal", "day_count": "30/360", "rate": "0.0365", "rate_type": "floating",
    "lpr_tenor": "5y", "spread_bp": -30, "reset_months": 12, "reset_basis": "calendar", "reset_month_day": "01-01",
    "rate_cap": "0.10", "grace_days": 3, "penalty_markup_pct": 50,
}


@pytest.fixture
def mortgage_world(loan_world: dict[str, Any]) -> dict[str, Any]:
    """The consumer product (fixed 4.35 %) and a floating mortgage product: 5-year LPR − 30 bp, repriced every
    1 January. 5-year LPR 3.95 % since 20 Jan 2024 (conftest) and 3.60 % from 20 Dec 2024."""
    loans.create_product(loan_world["risk"], **MORTGAGE)
    loans.set_lpr(loan_world["risk"], tenor="5y", effective_date="2024-12-20", rate="0.0360")
    return loan_world


def test_default_products_sign_the_sheet_they_signed_before(loan_world: dict[str, Any]) -> None:
    """Anniversary repricing and no prepayment rule add nothing to a term sheet: its digest does not change."""
    p = loans.create_product(loan_world["risk"], **{**MORTGAGE, "code": "anniv", "reset_basis": "anniversary"})
    clause = sheet_for_product(p).clause("rate_reset")
    assert clause == {"every_months": 12, "tenor": "5y", "spread_ppm": -3_000, "floor_ppm": 0, "cap_ppm": 100_000}
    before = make_sheet("CNY", [{"kind": "rate_reset", **clause}, {"kind": "auto_debit"},
                                {"kind": "penalty_interest", "markup_pct": 50, "after_days": 3},
                                {"kind": "limit_freeze", "after_dpd": 30}, {"kind": "maturity"}])
    assert sheet_for_product(p).digest == before.digest
    assert sheet_for_product(loan_world["product"]).clause("prepayment") is None
    # a calendar product's clause names the month-day
    cal = loans.get_product("anniv")
    cal.reset_basis = "calendar"
    assert sheet_for_product(cal).clause("rate_reset")["reprice_on"] == "01-01"


def test_reset_dates_on_the_anniversary_and_on_the_calendar() -> None:
    # anniversary: every 12 months from the start date
    assert next_reset(D(2024, 3, 15), 12, D(2024, 3, 15)) == D(2025, 3, 15)
    # calendar 01-01: the first 1 January after the start, then every year
    assert next_reset(D(2024, 3, 15), 12, D(2024, 3, 15), "01-01") == D(2025, 1, 1)
    assert next_reset(D(2024, 3, 15), 12, D(2025, 1, 1), "01-01") == D(2026, 1, 1)
    # a loan paid out on 31 December reprices the next day (the 2020 LPR conversion rule: each 1 January)
    assert next_reset(D(2024, 12, 31), 12, D(2024, 12, 31), "01-01") == D(2025, 1, 1)
    # every 3 months from 1 January: 1 Apr, 1 Jul, 1 Oct, 1 Jan
    assert next_reset(D(2024, 3, 15), 3, D(2024, 3, 15), "01-01") == D(2024, 4, 1)
    assert next_reset(D(2024, 3, 15), 3, D(2024, 10, 1), "01-01") == D(2025, 1, 1)
    # a 31st is anchored: 31 Jan, 29 Feb, 31 Mar (never drifting to the 29th)
    assert next_reset(D(2024, 1, 31), 1, D(2024, 2, 29), "01-31") == D(2024, 3, 31)
    with pytest.raises(ValidationError) as exc:
        next_reset(D(2024, 1, 1), 5, D(2024, 1, 1), "01-01")  # 5 months does not divide a year
    assert exc.value.code == "invalid_reprice_period"
    with pytest.raises(ValidationError):
        make_sheet("CNY", [{"kind": "rate_reset", "every_months": 12, "tenor": "5y", "spread_ppm": 0,
                            "floor_ppm": 0, "cap_ppm": 240_000, "reprice_on": "02-30"}])


def test_calendar_reset_splits_the_period_to_the_fen(mortgage_world: dict[str, Any]) -> None:
    """120,000.00 equal principal over 12 months, paid out 15 Dec 2024 at 3.95 − 0.30 = 3.65 %, 30/360.

    Period 1 (15 Dec → 15 Jan, 31 days): 120,000 × 3.65 % / 12 = 365.00 scheduled.
    Reset on 1 January 2025 (clause rate_reset, reprice_on 01-01): 3.60 − 0.30 = 3.30 %.
    Split (分段计息): old rate for 15 Dec → 1 Jan (17 days) = what the close had accrued, 365.00 × 17 // 31 =
    200.16; new rate for 1 Jan → 15 Jan (14 days): 30/360 counts the month as 1/12 whatever its length, so
    the new rate has 14/31 of a month: 120,000 × 3.30 % / 12 × 14 / 31 = 330.00 × 14 / 31 = 149.032… → 149.03.
    Installment 1 interest: 200.16 + 149.03 = 349.19 (principal 10,000.00 unchanged).
    Installments 2–12 rebuilt at 3.30 %: installment 2 = 110,000 × 3.30 % / 12 = 302.50.
    """
    loan = loans.disburse(None, customer_id=mortgage_world["customers"][0], product="mortgage",
                          amount="120000.00", term=12, start_date=D(2024, 12, 15))
    assert loan.rate_ppm == 36_500 and loan.next_reset_date == D(2025, 1, 1)
    assert loan.period_interest_minor == 36_500
    cob.advance_loan(loan, D(2025, 1, 1))
    loan.refresh_from_db()
    assert loan.rate_ppm == 33_000 and loan.next_reset_date == D(2026, 1, 1)
    assert loan.accrued_interest_minor == 20_016  # 365.00 × 17 // 31, booked and unchanged by the reset
    assert loan.period_interest_minor == 34_919
    rows = list(Installment.objects.filter(loan=loan).exclude(status="superseded").order_by("seq"))
    assert (rows[0].seq, rows[0].start_date, rows[0].due_date) == (1, D(2024, 12, 15), D(2025, 1, 15))
    assert (rows[0].principal_minor, rows[0].interest_minor) == (1_000_000, 34_919)
    assert (rows[1].principal_minor, rows[1].interest_minor) == (1_000_000, 30_250)
    assert sum(r.principal_minor for r in rows) == 12_000_000 and len(rows) == 12
    reset = LoanActivity.objects.get(loan=loan, kind="rate_reset")
    assert reset.detail["split"] == {"seq": 1, "balance_minor": 12_000_000, "from_interest_minor": 36_500,
                                     "old_part_minor": 20_016, "old_days": 17, "new_part_minor": 14_903,
                                     "new_days": 14, "interest_minor": 34_919}
    assert reset.detail["basis"] == "calendar 01-01"
    # payoff on 10 Jan: 120,000 × (3.65 % × 17 days + 3.30 % × 9 days) / 360 = 206.8333 + 99.00 = 305.83
    q = payments.payoff_quote(mortgage_world["ops"], loan.ref, D(2025, 1, 10))
    assert q.accrued_interest_minor == 30_583
    # on the due date the installment falls due with exactly the split interest, all of it accrued
    income = loan.interest_income_minor
    cob.advance_loan(loan, D(2025, 1, 15))
    loan.refresh_from_db()
    assert loan.overdue_interest_minor == 34_919 and loan.interest_income_minor == income - 20_016 + 34_919
    assert loan.period_interest_minor == 30_250
    books_ok()


def test_anniversary_product_resets_on_the_anniversary(mortgage_world: dict[str, Any]) -> None:
    loans.create_product(mortgage_world["risk"], **{**MORTGAGE, "code": "anniv", "reset_basis": "anniversary"})
    loan = loans.disburse(None, customer_id=mortgage_world["customers"][0], product="anniv",
                          amount="120000.00", term=24, start_date=D(2024, 12, 15))
    assert loan.next_reset_date == D(2025, 12, 15)
    cob.advance_loan(loan, D(2025, 1, 2))
    loan.refresh_from_db()
    assert loan.rate_ppm == 36_500 and not LoanActivity.objects.filter(loan=loan, kind="rate_reset").exists()


def _three_loans(world: dict[str, Any]) -> tuple[Loan, Loan, Loan]:
    a = loans.disburse(None, customer_id=world["customers"][0], product="mortgage", amount="120000.00", term=12,
                       start_date=D(2024, 12, 15))
    b = loans.disburse(None, customer_id=world["customers"][1], product="mortgage", amount="60000.00", term=12,
                       start_date=D(2024, 12, 15))
    c = loans.disburse(None, customer_id=world["customers"][1], product="consumer", amount="12000.00", term=12,
                       start_date=D(2024, 12, 15))
    for loan in (a, b, c):
        cob.advance_loan(loan, D(2024, 12, 24))
        loan.refresh_from_db()
    return a, b, c


def test_spread_amendment_preview_apply_and_idempotence(mortgage_world: dict[str, Any]) -> None:
    """−30 bp → −50 bp for the two mortgages (180,000.00), effective 25 Dec 2024 at the next reset; the fixed
    consumer loan is left out and counted. A year's interest effect: 180,000 × −0.20 % = −360.00."""
    a, b, c = _three_loans(mortgage_world)
    risk = mortgage_world["risk"]
    with pytest.raises(Forbidden):
        amendments.preview(mortgage_world["officer_bj"], batch_ref="B1", spread_bp=-50, effective_date="2024-12-25")
    p = amendments.preview(risk, batch_ref="B1", spread_bp=-50, effective_date="2024-12-25")
    assert (p.loans, p.left_out, p.principal_minor) == (2, {"fixed_rate": 1}, 18_000_000)
    assert p.by_spread == [{"from_spread_ppm": -3_000, "to_spread_ppm": -5_000, "loans": 2,
                            "principal_minor": 18_000_000, "annual_interest_change_minor": -36_000}]
    assert not SpreadAmendment.objects.exists()  # a preview writes nothing
    sheets = TermSheet.objects.count()
    done = amendments.apply(risk, batch_ref="B1", spread_bp=-50, effective_date="2024-12-25")
    assert done.applied and done.loans == 2 and done.left_out == {"fixed_rate": 1}
    a.refresh_from_db()
    b.refresh_from_db()
    c.refresh_from_db()
    assert a.term_sheet_id == b.term_sheet_id and TermSheet.objects.count() == sheets + 1  # stored once
    assert json.loads(json.dumps(a.term_sheet.body))["clauses"][0]["spread_ppm"] == -5_000
    assert a.spread_ppm == b.spread_ppm == -5_000 and c.spread_ppm == 0
    assert a.rate_ppm == 36_500 and a.next_reset_date == D(2025, 1, 1)  # the rate changes at the next reset
    assert (a.restructure_count, a.risk_class) == (0, 1)  # not a restructuring: no 关注
    assert LoanActivity.objects.filter(kind="spread_amended", clause="rate_reset").count() == 2
    event = Event.objects.get(kind="loan.spreads_amended", subject_id="B1")
    data = json.loads(event.entry)["data"]
    assert data["loans"] == 2 and {i["loan"] for i in data["items"]} == {a.ref, b.ref}
    # again: the same batch changes nothing; other terms under the same reference are refused
    again = amendments.apply(risk, batch_ref="B1", spread_bp=-50, effective_date="2024-12-25")
    assert again.duplicate and Event.objects.filter(kind="loan.spreads_amended").count() == 1
    with pytest.raises(Conflict) as exc:
        amendments.apply(risk, batch_ref="B1", spread_bp=-60, effective_date="2024-12-25")
    assert exc.value.code == "batch_reused"
    # the next reset (1 Jan 2025) takes LPR 3.60 − 0.50 = 3.10 %
    cob.advance_loan(a, D(2025, 1, 1))
    a.refresh_from_db()
    assert a.rate_ppm == 31_000
    books_ok()


def test_spread_amendment_on_the_effective_date_keeps_the_lpr_base(mortgage_world: dict[str, Any]) -> None:
    """Effective 25 Dec 2024 (apply_at effective): the close of 25 Dec reprices with the LPR of the last regular
    reset — the start date's 3.95 %, not the 3.60 % published on 20 Dec — + −50 bp = 3.45 %; the regular reset
    on 1 Jan then takes 3.60 − 0.50 = 3.10 %.

    Split of period 1 (15 Dec → 15 Jan, 31 days) on 25 Dec: old part 365.00 × 10 // 31 = 117.74; new part
    120,000 × 3.45 % / 12 × 21 / 31 = 345.00 × 21 / 31 = 233.709… → 233.71; interest 351.45."""
    a, _b, c = _three_loans(mortgage_world)
    amendments.apply(mortgage_world["risk"], batch_ref="B2", spread_bp=-50, effective_date="2024-12-25",
                     apply_at="effective")
    a.refresh_from_db()
    assert a.next_reset_date == D(2024, 12, 25)
    cob.advance_loan(a, D(2024, 12, 25))
    a.refresh_from_db()
    assert a.rate_ppm == 34_500 and a.next_reset_date == D(2025, 1, 1)
    reset = LoanActivity.objects.get(loan=a, kind="rate_reset")
    assert reset.detail["lpr_ppm"] == 39_500 and reset.detail["lpr_of"] == "2024-12-15"
    assert (reset.detail["split"]["old_part_minor"], reset.detail["split"]["new_part_minor"]) == (11_774, 23_371)
    assert a.period_interest_minor == 35_145
    cob.advance_loan(a, D(2025, 1, 1))
    a.refresh_from_db()
    assert a.rate_ppm == 31_000
    books_ok()


def test_spread_amendment_refusals(mortgage_world: dict[str, Any]) -> None:
    _three_loans(mortgage_world)
    risk = mortgage_world["risk"]
    for kwargs, field, code in [
        ({"spread_bp": "x"}, "spread_bp", "invalid_number"),
        ({"spread_bp": 5000}, "spread_bp", "spread_out_of_range"),
        ({"apply_at": "tomorrow"}, "apply_at", "invalid_apply_at"),
        ({"products": ["nope"]}, "products", "unknown_product"),
        ({"batch_ref": ""}, "batch_ref", "required"),
        # only the fixed-rate loan: nothing to amend, and the answer says how many were left out and why
        ({"products": ["consumer"]}, "selection", "nothing_to_amend"),
        # the loans are closed through 24 Dec: a batch effective 1 Jan must wait for those closes
        ({"effective_date": "2025-01-01"}, "selection", "nothing_to_amend"),
    ]:
        base = {"batch_ref": "B3", "spread_bp": -50, "effective_date": "2024-12-25"}
        with pytest.raises(ValidationError) as exc:
            amendments.apply(risk, **{**base, **kwargs})
        assert (exc.value.field, exc.value.code) == (field, code), kwargs
    with pytest.raises(ValidationError) as exc:
        amendments.apply(risk, batch_ref="B3", spread_bp=-50, effective_date="2024-12-25", products=["consumer"])
    assert "1 fixed rate" in str(exc.value)
    assert not SpreadAmendment.objects.exists()


def test_amend_spreads_command_dry_run_and_apply(mortgage_world: dict[str, Any], capsys: Any) -> None:
    _three_loans(mortgage_world)
    call_command("amend_spreads", user="risk", batch_ref="CLI-1", spread_bp="-50", effective_date="2024-12-25",
                 dry_run=True)
    out = capsys.readouterr().out
    assert "would amend 2 loans" in out and "left out: 1 fixed rate" in out and "-360.00" in out
    assert not SpreadAmendment.objects.exists()
    call_command("amend_spreads", user="risk", batch_ref="CLI-1", spread_bp="-50", effective_date="2024-12-25",
                 plain=True)
    assert "amended 2 loans" in capsys.readouterr().out
    assert SpreadAmendment.objects.get(batch_ref="CLI-1").loans == 2
