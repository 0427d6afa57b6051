"""The ECL run over a real book (tests/risk/ecl_book.py: thirteen loans closed day by day, the snapshot kept after each
close): the stored allowance of every loan equals the figures computed by hand to the fen, the month-end posting
makes the allowance account equal the loan-level sum, the staging and the cure rule follow the book month by month,
Spark gives the same fen as the local run, and parameters that cannot be meant are refused naming the field.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import ecl_book
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from creditplan.core.errors import Conflict, ValidationError
from creditplan.lines import services as lines
from creditplan.loans import accounting
from creditplan.loans.domain import accounts
from creditplan.loans.models import JournalEntry
from creditplan.org.models import Branch
from creditplan.risk.domain.ecl import KERNEL_INPUTS, EclSetup, Scenario, StagingRules, flat_curve
from creditplan.risk.models import (
    BehaviourScore,
    EclRun,
    EclScenario,
    IndicatorValue,
    LoanEcl,
    LossParameter,
    RerateRun,
    WatchEntry,
)
from creditplan.risk.services import ecl, indicators, run

JUNE = dt.date(2025, 6, 30)
# the customers' 12-month PD (their behaviour rating of June), loan by loan in ecl_book.LOANS order
PDS = [0.010, 0.015, 0.005, 0.020, 0.030, 0.040, 0.120, 0.150, 0.080, 0.90, 0.90, 0.90, 0.025]
LGD = {"ep": "0.45", "home": "0.20", "qtr": "0.40", "io": "0.60"}

# Computed by hand for 30 June 2025, loan by loan, from each loan's instalments (equal principal: the principal
# outstanding falls by one instalment's principal in each month a due date (the 15th) falls; interest-only: all at
# maturity; the quarterly loan every third month) and the three scenarios installed by default (base 0.6 ×1/×1,
# upside 0.2 ×0.8/×0.95, downside 0.2 ×1.5/×1.15 on PD/LGD):
#   ECL = Σ_scenarios w · Σ_t [min(1, m·(1 − (1 − PD)^(t/12))) − the same at t − 1] · min(1, LGD·l) · EAD_t
#         · (1 + rate)^(−t/12)
# over the first 12 months or to maturity (stage 1), to maturity (stage 2); stage 3: Σ w · min(1, LGD·l) · EAD_0.
# E.g. loan 1 (120,000 yuan over 12 months at 6 %, five instalments paid): EAD 70,000 → 10,000 yuan over seven
# months, PD 1 %, LGD 45 % → 113.86 yuan. Loan 10 (never paid, 135 days past due: stage 3): 0.45 × 120,000 ×
# (0.6 + 0.2 · 0.95 + 0.2 · 1.15) = 55,080.00 yuan.
STAGES = [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 1]
EAD = [7_000_000, 4_750_000, 115_000_000, 35_000_000, 30_000_000, 3_100_000, 9_000_000, 21_000_000, 57_000_000,
       12_000_000, 50_000_000, 90_000_000, 2_800_000]
ECL = [11_386, 24_350, 117_355, 207_596, 338_988, 76_332, 210_951, 1_342_177, 2_070_468, 5_508_000, 30_600_000,
       18_360_000, 11_437]
LOANS_TOTAL = 58_879_040  # 588,790.40 yuan
BRANCHES = {"BJ01": 7_942_510, "SH01": 50_936_530}


def _rate(book: dict[str, Any], month: dt.date, pds: list[float]) -> None:
    """The customers' behaviour ratings of a month, as the re-rating stores them (tests/risk/test_behaviour.py
    re-rates with the trained model; here the PDs are chosen so the figures can be computed by hand)."""
    RerateRun.objects.create(month=month, model_name="behaviour-pd", model_version_id=0, model_number=1,
                             artifact_sha256="-", computed_at=timezone.now())
    for row, p in zip(book["book"], pds, strict=True):
        BehaviourScore.objects.create(month=month, customer_id=row["customer"], score=500.0, pd=p, grade="C",
                                      grade_index=2)


def _parameters() -> None:
    for product, lgd in LGD.items():
        ecl.set_loss_parameter(None, product=product, lgd=lgd, ccf="1",
                               collateral={"home": "property", "qtr": "guarantee"}.get(product, "none"))


@pytest.fixture
def book(bank: dict[str, Any], settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "snapshot"
    return ecl_book.build(bank)


@pytest.fixture
def watch_list() -> Any:
    listed: dict[str, Any] = {"customers": set(), "until": None}

    def hook(day: dt.date) -> set[int]:
        return set(listed["customers"]) if listed["until"] is None or day < listed["until"] else set()

    ecl.register_watch_list(hook)
    yield listed
    ecl._watch_lists[:] = [f for f in ecl._watch_lists if f is not hook]


@pytest.mark.django_db
def test_a_hand_computed_book_of_thirteen_loans_reconciles_to_the_fen_through_the_ledger(
        book: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    ecl_book.close(ecl_book.START, JUNE, ecl_book.paying(book), monkeypatch)
    _rate(book, JUNE, PDS)
    _parameters()
    # early warning put the sixth customer on the watch list in June (risk.models.WatchEntry)
    WatchEntry.objects.create(customer_id=book["book"][5]["customer"], branch=Branch.objects.get(code="SH01"),
                              entered_on=dt.date(2025, 6, 20), entry_level="orange", level="orange",
                              peak_level="orange", updated_on=JUNE)
    # the first customer holds a revolving credit line of 150,000 yuan (its loan taken over as what it uses)
    change = lines.propose_line(book["officer_bj"], customer_id=book["book"][0]["customer"], amount="150000.00",
                                expires_on="2027-12-31", reason="annual review")
    lines.decide_change(book["approver_bj"], change.id, approve=True, note="ok")
    line = lines.get_line(book["risk"], change.line_id)
    undrawn = line.amount_minor - line.used_minor - line.reserved_minor
    assert undrawn > 0
    indicators.install_standard(None)

    summary = ecl.run_ecl(JUNE)

    rows = {r.loan_id: r for r in LoanEcl.objects.filter(as_of=JUNE)}
    loans = [row["loan"].pk for row in book["book"]]
    assert [rows[i].stage for i in loans] == STAGES  # 30+ days past due, the watch list → 2; 90+ → 3
    assert [rows[i].ead_minor for i in loans] == EAD
    assert [rows[i].ecl_minor for i in loans] == ECL
    # the line's undrawn part: EAD = CCF 75 % × undrawn ("*" row), stage 1, PD 1 %, LGD 45 %, not discounted:
    # 0.01 × 0.45 × EAD × (0.6 + 0.2 · 0.8 · 0.95 + 0.2 · 1.5 · 1.15)
    on_line = rows[-line.id]
    line_ecl = round(0.01 * 0.45 * (0.75 * undrawn) * 1.097)
    assert (on_line.stage, on_line.product, on_line.ead_minor, on_line.ecl_minor) == (1, "line", 0.75 * undrawn,
                                                                                       line_ecl)
    total = LOANS_TOTAL + line_ecl
    branches = {**BRANCHES, "BJ01": BRANCHES["BJ01"] + line_ecl}
    assert summary.total_minor == total and summary.stage_loans == [7, 4, 3]
    assert all(rows[i].ecl_12m_minor == rows[i].ecl_minor for i, s in zip(loans, STAGES, strict=True) if s == 1)
    assert all(rows[i].ecl_lifetime_minor == rows[i].ecl_minor for i, s in zip(loans, STAGES, strict=True) if s > 1)
    assert summary.pd_sources["behaviour"] == 13

    # the month end is posted: Dr 6703 credit impairment / Cr 1304 allowance, per branch
    assert accounting.allowance_balances(JUNE) == {(b, "CNY"): v for b, v in branches.items()}
    checks = ecl.reconcile_allowance(JUNE)
    assert [(c.branch, c.gl_minor, c.loans_minor, c.difference_minor) for c in checks] == [
        ("BJ01", branches["BJ01"], branches["BJ01"], 0), ("SH01", branches["SH01"], branches["SH01"], 0)]
    tb = {r.code: r for r in accounting.trial_balance(as_of=JUNE)}
    assert tb[accounts.ALLOWANCE].credit_minor == total and tb[accounts.IMPAIRMENT].debit_minor == total
    assert sum(r.balance_minor for r in tb.values()) == 0

    # the same date again: the same figures, nothing more posted
    again = ecl.run_ecl(JUNE)
    assert again.total_minor == total and again.posted == []
    assert JournalEntry.objects.filter(kind__in=["provision", "write_back"]).count() == 1

    # provision coverage reads the loans' allowance over the non-performing principal
    run.run_indicators(JUNE)
    coverage = IndicatorValue.objects.get(indicator__code="provision_coverage", as_of=JUNE, dimension="total")
    npl = sum(EAD[k] for k, s in enumerate(STAGES) if s == 3)
    assert (coverage.numerator, coverage.denominator) == (LOANS_TOTAL, npl)


@pytest.mark.django_db
def test_staging_and_the_cure_rule_follow_the_book_month_by_month_and_each_posting_reconciles(
        book: dict[str, Any], watch_list: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three customers stop paying in May and pay every arrear on 10 July; one is on the watch list until August;
    three never pay. Month-end runs from June to October: worse at once, better only after three months."""
    ecl_book.close(ecl_book.START, dt.date(2025, 10, 31), ecl_book.paying(book, catch_up=dt.date(2025, 7, 10)),
                   monkeypatch)
    _rate(book, JUNE, PDS)
    _parameters()
    watch_list["customers"] = {book["book"][5]["customer"]}
    watch_list["until"] = dt.date(2025, 8, 1)
    month_ends = [JUNE, dt.date(2025, 7, 31), dt.date(2025, 8, 31), dt.date(2025, 9, 30), dt.date(2025, 10, 31)]
    history: dict[int, list[int]] = {}
    totals = []
    for day in month_ends:
        if day.month == 7:  # a run within the month does not move the cure rule's count
            ecl.run_ecl(dt.date(2025, 7, 15))
        before = sum(accounting.allowance_balances(day - dt.timedelta(days=1)).values())
        summary = ecl.run_ecl(day)
        assert EclRun.objects.get(as_of=day).previous == (None if day == JUNE else
                                                          month_ends[month_ends.index(day) - 1])
        moved = sum(p["amount_minor"] * (1 if p["kind"] == "provision" else -1) for p in summary.posted)
        assert moved == summary.total_minor - before  # only the change is posted
        assert summary.reconciled and all(c.difference_minor == 0 for c in ecl.reconcile_allowance(day))
        totals.append(summary.total_minor)
        for r in LoanEcl.objects.filter(as_of=day).order_by("loan_id"):
            history.setdefault(r.loan_id, []).append(r.stage)
    stages = [history[row["loan"].pk] for row in book["book"]]
    assert stages[6] == stages[7] == stages[8] == [2, 2, 2, 1, 1]  # caught up in July: back in stage 1 in September
    assert stages[5] == [2, 2, 2, 2, 1]  # off the watch list in August: three months later, stage 1
    assert stages[9] == stages[10] == stages[11] == [3, 3, 3, 3, 3]
    assert stages[0] == stages[12] == [1, 1, 1, 1, 1]
    assert totals[0] == LOANS_TOTAL
    # the July run dated mid-month was not posted (not a month end); the month ends were
    assert not EclRun.objects.get(as_of=dt.date(2025, 7, 15)).posted

    # an earlier month cannot be recomputed once a later provision is posted, and nothing of it changes
    kept = list(LoanEcl.objects.filter(as_of=JUNE).order_by("loan_id").values_list("stage", "ecl_minor"))
    with pytest.raises(Conflict) as exc:
        ecl.run_ecl(JUNE)
    assert exc.value.code == "later_provision_posted"
    assert list(LoanEcl.objects.filter(as_of=JUNE).order_by("loan_id").values_list("stage", "ecl_minor")) == kept

    out = io.StringIO()
    call_command("risk", "allowance", "--date", "2025-10-31", stdout=out)
    assert "BJ01" in out.getvalue() and "DIFFERENCE" not in out.getvalue()


def _synthetic(n: int, seed: int = 7) -> ecl.Prepared:
    """A varied book without a database: every stage, method, period, horizon and exposure."""
    rnd = np.random.default_rng(seed)
    as_of = dt.date(2025, 6, 30)
    start = dt.date(2024, 1, 15).toordinal()
    term = rnd.choice([6, 12, 24, 36, 60, 120, 360], n)
    first_due = np.full(n, dt.date(2024, 2, 15).toordinal())
    maturity = np.array([(dt.date(2024, 1, 15) + dt.timedelta(days=int(30.44 * t))).toordinal() for t in term])
    outstanding = rnd.integers(100_000, 50_000_000, n)
    overdue = np.where(rnd.random(n) < 0.1, outstanding // 5, 0)
    dpd = np.where(overdue > 0, rnd.integers(1, 200, n), 0)
    inputs = {
        "dpd": dpd, "risk_class": np.where(dpd > 90, 3, np.where(dpd > 30, 2, 1)), "watch": rnd.random(n) < 0.02,
        "pd12": rnd.uniform(0.001, 0.4, n), "pd_origination": np.where(rnd.random(n) < 0.5, rnd.uniform(0.001, 0.1, n),
                                                                        np.nan),
        "pd_multiplier": np.ones(n), "prev_stage": rnd.integers(0, 4, n), "prev_cured": rnd.integers(0, 5, n),
        "state": np.minimum((dpd + 29) // 30, 4), "lgd": rnd.uniform(0.1, 0.9, n),
        "undrawn_ead": np.where(rnd.random(n) < 0.1, rnd.uniform(0, 1e6, n), 0.0), "scheduled": outstanding - overdue,
        "overdue": overdue, "first_due": first_due, "maturity": np.maximum(maturity, start + 31),
        "months_per_period": rnd.choice([1, 1, 3], n), "method": rnd.integers(0, 3, n), "eir": rnd.uniform(0.03, 0.2, n)}
    curves = np.full((5, ecl.MAX_HORIZON), np.nan)
    curves[0] = flat_curve(np.array([0.03]), ecl.MAX_HORIZON)[0] ** 1.1
    scenarios = (Scenario("base", 0.5), Scenario("upside", 0.2, 0.7, 0.9), Scenario("downside", 0.3, 1.8, 1.2))
    setup = EclSetup(as_of.toordinal(), curves, scenarios, StagingRules())
    ids = {"loan": np.arange(1, n + 1), "customer": np.arange(1, n + 1), "branch": np.full(n, "B", dtype=object),
           "product": np.full(n, "p", dtype=object), "currency": np.full(n, "CNY", dtype=object),
           "outstanding": outstanding}
    assert set(inputs) == set(KERNEL_INPUTS)
    return ecl.Prepared(as_of, None, inputs, ids, setup, None, {}, None, {},  # type: ignore[arg-type]
                        {"segment": np.full(n, "individual", dtype=object), "industry": np.full(n, "", dtype=object),
                         "collateral": np.full(n, "none", dtype=object)})


def test_spark_gives_the_same_fen_as_the_local_run_whatever_the_batches() -> None:
    pytest.importorskip("pyspark")
    prepared = _synthetic(20_000)
    local = ecl.compute(prepared)
    small_batches = ecl.arrow_kernel(prepared.setup)
    import pyarrow as pa

    from creditplan.batch import engines

    table = pa.table({k: pa.array(np.asarray(prepared.inputs[k])) for k in KERNEL_INPUTS})
    chunked = engines.run_local(table, small_batches, batch_size=777)
    spark = ecl.compute(prepared, engine="spark")
    assert set(np.unique(local["stage"]).tolist()) == {1, 2, 3}
    for name in ("stage", "cured", "ead", "ecl_12m", "ecl_lifetime", "ecl"):
        assert np.array_equal(local[name], spark[name]), name
        assert np.array_equal(local[name], chunked.column(name).to_numpy()), name
    assert int(local["ecl"].sum()) > 0


@pytest.mark.django_db
def test_parameters_that_cannot_be_meant_are_refused_naming_the_field(bank: dict[str, Any]) -> None:
    ecl.install_defaults(None)
    before = list(EclScenario.objects.values_list("name", "weight", "pd_multiplier", "lgd_multiplier"))
    with pytest.raises(ValidationError) as exc:
        ecl.set_scenarios(bank["risk"], [{"name": "base", "weight": "0.7"},
                                          {"name": "downside", "weight": "0.3", "pd_multiplier": "-1.5"}])
    assert [p.field for p in exc.value.problems] == ["scenarios.downside.pd_multiplier"]
    with pytest.raises(ValidationError) as exc:
        ecl.set_scenarios(bank["risk"], [{"name": "base", "weight": "0.7"}, {"name": "downside", "weight": "0.2"}])
    assert exc.value.code == "weights_not_one" and exc.value.problems[0].field == "scenarios"
    assert list(EclScenario.objects.values_list("name", "weight", "pd_multiplier", "lgd_multiplier")) == before
    with pytest.raises(ValidationError) as exc:
        ecl.set_loss_parameter(bank["risk"], product="consumer", lgd="1.2", ccf="-0.1")
    assert {p.field for p in exc.value.problems} == {"lgd", "ccf"}
    with pytest.raises(ValidationError) as exc:
        ecl.set_loss_parameter(bank["risk"], product="consumer", lgd=0.4)  # a float: its binary error would be kept
    assert exc.value.problems[0].field == "lgd"
    assert not LossParameter.objects.filter(product="consumer").exists()
    with pytest.raises(Exception) as refused:
        ecl.set_loss_parameter(bank["officer_bj"], product="consumer", lgd="0.4")
    assert getattr(refused.value, "code", "") == "permission_denied"
    # the same refusals at the command line, naming the field
    with pytest.raises(CommandError) as cli:
        call_command("risk", "ecl-scenarios", "--scenario", "base:0.7:1:1", "--scenario", "downside:0.3:-1.5:1")
    assert "scenarios.downside.pd_multiplier" in str(cli.value)
    with pytest.raises(CommandError) as cli:
        call_command("risk", "loss-parameter", "--product", "consumer", "--lgd", "1.2")
    assert "lgd" in str(cli.value)
    assert list(EclScenario.objects.values_list("name", "weight", "pd_multiplier", "lgd_multiplier")) == before
    # accepted: decimal text kept as written
    ecl.set_scenarios(bank["risk"], [{"name": "base", "weight": "0.7"}, {"name": "downside", "weight": "0.3",
                                                                          "pd_multiplier": "1.6"}])
    assert [(s.name, s.weight, s.pd_multiplier) for s in ecl.scenarios()] == [("base", 0.7, 1.0),
                                                                              ("downside", 0.3, 1.6)]
