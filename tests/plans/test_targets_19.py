"""Targets and ratio limits (issue 19 §6): the real-estate share caps in the reservation, the 普惠小微 template's
growth comparison and borrower count, pace against the elapsed share of the period, bad input refused naming the
field. Every figure is worked out by hand in the comments (amounts in yuan unless said; 1 yuan = 100 fen)."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.ledger.models import Event
from creditplan.org.models import Branch
from creditplan.plans import services as plans
from creditplan.plans.domain import targets as t
from creditplan.plans.models import BookCell, Reservation, Target
from creditplan.plans.services import sources

TODAY = dt.date.today()


class FakeBook:
    """The loan book as these tests set it: no loans to open a plan's book from (the tests write the plan's book,
    BookCell rows, themselves), borrower counts by the segment a filter names; anything else from the real one."""

    def __init__(self, real, counts: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
        self.real, self.counts = real, counts

    def cells(self):  # type: ignore[no-untyped-def]
        return []

    def borrowers(self, filters):  # type: ignore[no-untyped-def]
        key = filters[0].get("segment", "") if filters else ""
        return self.counts.get(key, 0)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


@pytest.fixture
def book(monkeypatch):
    fake = FakeBook(sources.book(), {"inclusive_sme": 120})
    monkeypatch.setattr(sources, "_book", [fake])
    return fake


@pytest.fixture
def codes(bank):
    for dim, code, name in (("product", "mortgage", "个人住房贷款"), ("product", "consumer", "消费贷"),
                            ("product", "business", "经营贷"), ("segment", "inclusive_sme", "普惠小微")):
        plans.add_dimension_code(bank["planner"], dim, code, name)


@pytest.fixture
def plan(bank, codes, book):
    """This year's active plan, quotas far above anything reserved here (only the ratio caps can refuse)."""
    p = plans.create_plan(bank["planner"], code="y", name="年度计划", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="100000000000",
                          new_lending_limit="1000000000", balance_limit="1000000000")
    plans.activate_plan(bank["planner"], p.id)
    return p


def cell(plan_id: int, *, product: str = "", industry: str = "", segment: str = "", opening: str = "0",
         outstanding: str = "0", new_lending: str = "0", branch: str = "BJ01") -> None:
    BookCell.objects.create(plan_id=plan_id, branch=Branch.objects.get(code=branch), product=product,
                            industry=industry, segment=segment, opening_minor=int(opening) * 100,
                            outstanding_minor=int(outstanding) * 100, new_lending_minor=int(new_lending) * 100)


@pytest.fixture
def property_book(plan):
    """All loans 1,000,000.00: consumer 800,000.00, mortgages 150,000.00, a business loan to a real-estate company
    (industry K) 50,000.00. Property loans (K + mortgages) 200,000.00 = 20.00 %; mortgages 15.00 %."""
    cell(plan.id, product="consumer", outstanding="800000")
    cell(plan.id, product="mortgage", outstanding="150000")
    cell(plan.id, product="business", industry="K", outstanding="50000")
    return plan


def reserve(bank, ref: str, amount: str, **dims: str):  # type: ignore[no-untyped-def]
    return plans.reserve_quota(bank["approver_bj"], application_ref=ref, amount=amount, branch="BJ01", **dims)


# --- the ratio cap in the reservation ---------------------------------------------------------------------------

def test_real_estate_mortgage_cap_refuses_the_reservation_that_breaks_it(bank, property_book):
    """Tier 3 (中资小型银行和非县域农合机构): property ≤ 22.50 %, mortgages ≤ 17.50 % of all loans.
    Mortgages 150,000.00 of 1,000,000.00. A mortgage of a: (150,000 + a) ÷ (1,000,000 + a) ≤ 0.175
    ⇔ a ≤ 25,000 ÷ 0.825 = 30,303.0303… → 30,303.03 fits, 30,303.04 does not:
    in fen 18,030,304 × 10,000 = 180,303,040,000 > 1,750 × 103,030,304 = 180,303,032,000."""
    made = plans.apply_template(bank["planner"], property_book.id, "real_estate", {"tier": 3})
    assert [(x.code, x.threshold, x.control) for x in made] == [("re_property", 2250, "refuse"),
                                                                ("re_mortgage", 1750, "refuse")]
    with pytest.raises(LimitExceeded) as exc:
        reserve(bank, "M-1", "30303.04", product="mortgage")
    assert exc.value.code == "ratio_cap_exceeded" and exc.value.extra["target"] == "re_mortgage"
    # before 15.00 %; after 180,303.04 ÷ 1,030,303.04 = 17.50000…% → "17.50"; the cap 17.50 %; room 30,303.03
    assert "(15.00 % before)" in exc.value.message and "cap of 17.50 %" in exc.value.message
    assert "at most 30,303.03 fits" in exc.value.message
    assert exc.value.extra["share_before"] == "15.00" and exc.value.extra["cap"] == "17.50"
    assert not Reservation.objects.filter(application_ref="M-1").exists()
    r = reserve(bank, "M-2", "30303.03", product="mortgage")
    assert r.status == "reserved" and r.reason == ""
    # the approval not yet paid out counts: the next fen of mortgage would break the cap
    with pytest.raises(LimitExceeded):
        reserve(bank, "M-3", "0.01", product="mortgage")
    assert reserve(bank, "C-1", "5000000", product="consumer").status == "reserved"  # outside both caps


def test_property_cap_counts_industry_k_and_reserved_approvals(bank, property_book):
    """Property loans 200,000.00 of 1,000,000.00 (20.00 %); a loan to a real-estate company (industry K) of a:
    (200,000 + a) ÷ (1,000,000 + a) ≤ 0.225 ⇔ a ≤ 25,000 ÷ 0.775 = 32,258.0645… → 32,258.06 fits:
    23,225,806 × 10,000 = 232,258,060,000 ≤ 2,250 × 103,225,806 = 232,258,063,500; one fen more does not:
    232,258,070,000 > 232,258,065,750."""
    plans.apply_template(bank["planner"], property_book.id, "real_estate", {"tier": "3"})
    with pytest.raises(LimitExceeded) as exc:
        reserve(bank, "K-1", "32258.07", product="business", industry="K")
    assert exc.value.extra["target"] == "re_property" and "(20.00 % before)" in exc.value.message
    assert reserve(bank, "K-2", "32258.06", product="business", industry="K").status == "reserved"
    status = {s.target.code: s for s in plans.evaluate_targets(bank["planner"], property_book.id)}
    # on the book alone still 20.00 % (within); with the approval 232,258.06 ÷ 1,032,258.06 = 22.4999994 %
    assert status["re_property"].evaluation.status == "within" and status["re_property"].evaluation.value == 2000
    assert t.percent(status["re_property"].share_with_reserved) == "22.50" and status["re_property"].headroom == 0
    with pytest.raises(LimitExceeded):
        reserve(bank, "K-3", "0.01", product="business", industry="K")


def test_no_round_trip_unless_a_cap_matches_the_loan(bank, property_book):
    """The caps are cached per process under (plan, targets_version): a consumer loan costs the same statements
    with the caps as without them; a mortgage costs one more (the figures)."""
    reserve(bank, "W-0", "100", product="consumer")  # warms the cache: the plan has no cap

    def statements(ref: str, **dims: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            reserve(bank, ref, "100", **dims)
        return len(ctx.captured_queries)

    without = statements("W-1", product="consumer")
    plans.apply_template(bank["planner"], property_book.id, "real_estate", {"tier": 3})
    assert statements("W-2", product="consumer") == without + 1  # the version moved: the caps read once
    assert statements("W-3", product="consumer") == without
    assert statements("W-4", product="mortgage") == without + 1


def test_changing_a_cap_reaches_the_next_reservation(bank, property_book):
    """Raising the mortgage cap to 20 % (update_target bumps the version the cache is keyed by): the mortgage
    refused under 17.50 % now fits (180,303.04 ÷ 1,030,303.04 = 17.50 % ≤ 20 %)."""
    made = {x.code: x for x in plans.apply_template(bank["planner"], property_book.id, "real_estate", {"tier": 3})}
    with pytest.raises(LimitExceeded):
        reserve(bank, "U-1", "30303.04", product="mortgage")
    changed = plans.update_target(bank["planner"], made["re_mortgage"].id, threshold="20")
    assert changed.threshold == 2000 and changed.threshold_text == "20.00"
    assert reserve(bank, "U-2", "30303.04", product="mortgage").status == "reserved"
    plans.remove_target(bank["planner"], made["re_mortgage"].id)
    plans.remove_target(bank["planner"], made["re_property"].id)
    assert reserve(bank, "U-3", "500000", product="mortgage").status == "reserved"  # no cap left
    kinds = list(Event.objects.filter(kind__startswith="plan.t").values_list("kind", flat=True))
    assert kinds == ["plan.template_applied", "plan.target_updated", "plan.target_removed", "plan.target_removed"]


@pytest.mark.parametrize(("control", "status"), [("escalate", "escalated"), ("monitor", "reserved")])
def test_escalate_and_monitor_caps_keep_the_reservation_with_the_reason(bank, property_book, control, status):
    plans.apply_template(bank["planner"], property_book.id, "real_estate", {"tier": 3, "control": control})
    # mortgages 181,000 ÷ 1,031,000 = 17.5558 % > 17.50 %; property 231,000 ÷ 1,031,000 = 22.405 % ≤ 22.50 %
    r = reserve(bank, "E-1", "31000", product="mortgage")
    assert r.status == status
    assert r.reason == "ratio cap re_mortgage: 17.56 % after this reservation, above the cap of 17.50 % (15.00 % before)"


def test_tier_thresholds_and_overrides():
    """银发〔2020〕322号: tier → property / mortgage caps."""
    expected = {1: (4000, 3250), 2: (2750, 2000), 3: (2250, 1750), 4: (1750, 1250), 5: (1250, 750)}
    for tier, caps in expected.items():
        drafts = t.build_template("real_estate", {"tier": tier})
        assert tuple(d.threshold for d in drafts) == caps
        assert drafts[0].numerator == [{"industry": "K"}, {"product": "mortgage"}]
        assert drafts[1].numerator == [{"product": "mortgage"}]
    # a local adjustment (±2.5 points for tiers 3-5) and the bank's own property products ([]: no industry)
    drafts = t.build_template("real_estate", {"tier": 3, "property_cap": "25", "mortgage_cap": "20",
                                              "property_products": "mortgage, developer", "property_industries": []})
    assert [d.threshold for d in drafts] == [2500, 2000]
    assert drafts[0].numerator == [{"product": "mortgage"}, {"product": "developer"}]


# --- 普惠小微 两增两控 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sme_now", "other_now", "status", "sme_growth", "all_growth"), [
    # all 1,000,000 → 1,100,000 (+10 %); segment 200,000 → 210,000 (+5 %): slower → behind
    ("210000", "890000", "behind", 500, 1000),
    # segment 200,000 → 230,000 (+15 %) with all still +10 %: faster → met
    ("230000", "870000", "met", 1500, 1000),
    # exactly as fast (+10 %: 220,000) is "not below" → met
    ("220000", "880000", "met", 1000, 1000),
])
def test_inclusive_sme_growth_against_all_loans(bank, plan, book, sme_now, other_now, status, sme_growth,
                                                all_growth):
    cell(plan.id, product="business", segment="inclusive_sme", opening="200000", outstanding=sme_now)
    cell(plan.id, product="consumer", opening="800000", outstanding=other_now)
    made = plans.apply_template(bank["planner"], plan.id, "inclusive_sme")
    assert [(x.code, x.kind) for x in made] == [("sme_growth", "min_growth_vs"), ("sme_borrowers", "min_borrowers")]
    s = {x.target.code: x.evaluation for x in plans.evaluate_targets(bank["planner"], plan.id)}["sme_growth"]
    assert (s.status, s.value, s.reference, s.goal) == (status, sme_growth, all_growth, all_growth)
    assert s.numerator == t.Figure(int(sme_now) * 100, 20_000_000)
    assert s.denominator == t.Figure(110_000_000, 100_000_000)


def test_inclusive_sme_borrowers_not_below_the_start(bank, plan, book):
    """The base is the segment's borrower count when the template is applied (120); 118 later is behind, 125 met."""
    plans.apply_template(bank["planner"], plan.id, "inclusive_sme")
    target = Target.objects.get(code="sme_borrowers")
    assert (target.threshold, target.base_value) == (120, 120)
    book.counts["inclusive_sme"] = 118
    s = {x.target.code: x.evaluation for x in plans.evaluate_targets(bank["planner"], plan.id)}["sme_borrowers"]
    assert (s.status, s.value, s.goal) == ("behind", 118, 120)
    book.counts["inclusive_sme"] = 125
    s = {x.target.code: x.evaluation for x in plans.evaluate_targets(bank["planner"], plan.id)}["sme_borrowers"]
    assert s.status == "met"
    # a base the planner gives (last year's count) instead of today's
    other = plans.create_plan(bank["planner"], code="next", name="明年", period_start=dt.date(2040, 1, 1),
                              period_end=dt.date(2040, 12, 31), net_capital="1", new_lending_limit="1",
                              balance_limit="1")
    made = plans.apply_template(bank["planner"], other.id, "inclusive_sme", {"base_borrowers": "130"})
    assert (made[1].threshold, made[1].base_value) == (130, 130)


def test_inclusive_sme_needs_its_segment(bank, plan, book):
    with pytest.raises(ValidationError) as exc:
        plans.apply_template(bank["planner"], plan.id, "inclusive_sme", {"segment": "sme2"})
    assert [(p.field, p.code) for p in exc.value.problems] == [("segment", "unknown_segment")]
    assert not Target.objects.exists()


# --- pace ------------------------------------------------------------------------------------------------------

@pytest.fixture
def hundred_days(bank, codes):
    """A draft plan of 100 days, 2040-01-01 to 2040-04-09; on 2040-02-19 50 days are done: elapsed 1/2."""
    return plans.create_plan(bank["planner"], code="p100", name="百日计划", period_start=dt.date(2040, 1, 1),
                             period_end=dt.date(2040, 4, 9), net_capital="1", new_lending_limit="1",
                             balance_limit="1")


HALF = dt.date(2040, 2, 19)


def test_pace_of_minimum_targets(bank, hundred_days, book):
    """Halfway through the period:
    - new lending at least 1,000,000: 400,000 lent → 2/5 achieved, pace 4/5 → behind;
    - balance at least 1,200,000 from an opening of 1,000,000: 1,100,000 now → (100,000 ÷ 200,000) = 1/2, pace 1
      → on pace;
    - balance growth at least 10 % (from 1,000,000): 1,100,000 is +10 % → met;
    - borrowers at least 150 from 100: 130 → 30 ÷ 50 = 3/5, pace 6/5 → on pace."""
    pid = hundred_days.id
    cell(pid, product="consumer", opening="1000000", outstanding="1100000", new_lending="400000")
    book.counts[""] = 130
    planner = bank["planner"]
    plans.add_target(planner, pid, code="lend", name="新增投放", kind="min_amount", measure="new_lending",
                     threshold="1000000")
    plans.add_target(planner, pid, code="bal", name="余额", kind="min_amount", threshold="1200000")
    plans.add_target(planner, pid, code="grow", name="增速", kind="min_growth", threshold="10")
    plans.add_target(planner, pid, code="cnt", name="户数", kind="min_borrowers", threshold="150", base_value="100")
    s = {x.target.code: x.evaluation for x in plans.evaluate_targets(planner, pid, today=HALF)}
    assert s["lend"].elapsed == Fraction(1, 2)
    assert (s["lend"].status, s["lend"].progress, s["lend"].pace) == ("behind", Fraction(2, 5), Fraction(4, 5))
    assert (s["bal"].status, s["bal"].progress, s["bal"].pace) == ("on_pace", Fraction(1, 2), 1)
    assert (s["grow"].status, s["grow"].value) == ("met", 1000)
    assert (s["cnt"].status, s["cnt"].progress, s["cnt"].pace) == ("on_pace", Fraction(3, 5), Fraction(6, 5))
    # the same figures when the period is over: the minimums not reached are missed
    after = {x.target.code: x.evaluation for x in plans.evaluate_targets(planner, pid, today=dt.date(2040, 4, 10))}
    assert [after[c].status for c in ("lend", "bal", "grow", "cnt")] == ["missed", "missed", "met", "missed"]


def test_growth_pace_and_shares(bank, hundred_days, book):
    """Growth at least 10 % halfway: +4 % (1,040,000) is 2/5 of it, pace 4/5 → behind; +6 % → pace 6/5 → on pace.
    A share at least 30 % of mortgages in new lending: 100,000 of 400,000 = 25 % → behind; a cap at 20 % of the
    same: breached."""
    pid = hundred_days.id
    cell(pid, product="consumer", opening="1000000", outstanding="1040000", new_lending="300000")
    cell(pid, product="mortgage", segment="inclusive_sme", opening="500000", outstanding="530000",
         new_lending="100000")
    planner = bank["planner"]
    plans.add_target(planner, pid, code="g", name="消费贷增速", kind="min_growth", threshold="10",
                     numerator=[{"product": "consumer"}])
    plans.add_target(planner, pid, code="g2", name="按揭增速", kind="min_growth", threshold="10",
                     numerator=[{"product": "mortgage"}])
    plans.add_target(planner, pid, code="s", name="按揭占比", kind="min_share", measure="new_lending",
                     threshold="30", numerator=[{"product": "mortgage"}])
    plans.add_target(planner, pid, code="cap", name="按揭上限", kind="max_share", measure="new_lending",
                     threshold="20", numerator=[{"product": "mortgage"}], control="refuse")
    s = {x.target.code: x for x in plans.evaluate_targets(planner, pid, today=HALF)}
    assert (s["g"].evaluation.status, s["g"].evaluation.pace) == ("behind", Fraction(4, 5))
    assert (s["g2"].evaluation.status, s["g2"].evaluation.pace) == ("on_pace", Fraction(6, 5))  # 530 ÷ 500 = +6 %
    assert (s["s"].evaluation.status, s["s"].evaluation.value) == ("behind", 2500)
    assert (s["cap"].evaluation.status, s["cap"].headroom) == ("breached", 0)


# --- bad input -------------------------------------------------------------------------------------------------

GOOD = {"code": "x", "name": "目标", "kind": "max_share", "threshold": "22.5", "numerator": [{"product": "mortgage"}]}


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"kind": "max_ratio"}, "kind", "unknown_target_kind"),
    ({"measure": "profit"}, "measure", "unknown_measure"),
    ({"measure": "borrowers"}, "measure", "measure_not_for_kind"),
    ({"numerator": [{"colour": "red"}]}, "numerator", "unknown_filter_key"),
    ({"numerator": [{"product": "boat"}]}, "numerator", "unknown_product"),
    ({"numerator": [{"industry": "K70"}]}, "numerator", "unknown_industry"),
    ({"numerator": [{"region": "99"}]}, "numerator", "unknown_region"),
    ({"numerator": [{"branch": "XX"}]}, "numerator", "unknown_branch"),
    ({"numerator": [{}]}, "numerator", "filter_format"),
    ({"numerator": "mortgage"}, "numerator", "filter_format"),
    ({"denominator": [{"segment": "nope"}]}, "denominator", "unknown_segment"),
    ({"threshold": "100.01"}, "threshold", "threshold_out_of_range"),
    ({"threshold": "22.555"}, "threshold", "percent_decimals"),
    ({"threshold": "many"}, "threshold", "percent_format"),
    ({"threshold": ""}, "threshold", "required"),
    ({"control": "block"}, "control", "unknown_control"),
    ({"code": "Bad Code!"}, "code", "code_format"),
    ({"name": " "}, "name", "required"),
    ({"kind": "min_amount", "threshold": "0"}, "threshold", "not_positive"),
    ({"kind": "min_amount", "threshold": "100", "control": "refuse"}, "control", "control_not_for_kind"),
    ({"kind": "min_amount", "threshold": "100", "denominator": [{"product": "consumer"}]}, "denominator",
     "denominator_not_for_kind"),
    ({"kind": "min_growth", "measure": "new_lending", "threshold": "5"}, "base_value", "base_required"),
    ({"kind": "min_growth", "threshold": "-100.01"}, "threshold", "threshold_out_of_range"),
    ({"kind": "min_borrowers", "threshold": "1.5"}, "threshold", "count_format"),
    ({"base_value": "100"}, "base_value", "base_not_for_kind"),
])
def test_bad_target_is_refused_naming_the_field_and_nothing_written(bank, plan, change, field, code):
    events = Event.objects.count()
    with pytest.raises(ValidationError) as exc:
        plans.add_target(bank["planner"], plan.id, **{**GOOD, **change})
    assert (field, code) in [(p.field, p.code) for p in exc.value.problems]
    assert not Target.objects.exists() and Event.objects.count() == events


def test_every_problem_at_once(bank, plan):
    with pytest.raises(ValidationError) as exc:
        plans.add_target(bank["planner"], plan.id, code="", name="", kind="max_share", threshold="120",
                         numerator=[{"product": "boat"}])
    assert {p.field for p in exc.value.problems} == {"code", "name", "numerator", "threshold"}


def test_conflicts_permissions_and_templates(bank, plan):
    planner = bank["planner"]
    plans.add_target(planner, plan.id, **GOOD)
    with pytest.raises(Conflict) as exc:
        plans.add_target(planner, plan.id, **GOOD)
    assert exc.value.code == "duplicate_target" and exc.value.field == "code"
    with pytest.raises(Forbidden):
        plans.add_target(bank["officer_bj"], plan.id, **{**GOOD, "code": "y"})
    with pytest.raises(NotFound):
        plans.update_target(planner, 999999, threshold="10")
    with pytest.raises(ValidationError) as exc:
        plans.update_target(planner, Target.objects.get().pk, code="renamed")
    assert exc.value.problems[0].code == "not_updatable"
    with pytest.raises(ValidationError) as exc:
        plans.apply_template(planner, plan.id, "real_estate", {"tier": 6, "colour": "red"})
    assert {(p.field, p.code) for p in exc.value.problems} == {("tier", "unknown_tier"), ("colour", "unknown_param")}
    with pytest.raises(ValidationError) as exc:
        plans.apply_template(planner, plan.id, "golden")
    assert exc.value.code == "unknown_template"
    plans.apply_template(planner, plan.id, "real_estate", {"tier": 1})
    with pytest.raises(Conflict) as exc:
        plans.apply_template(planner, plan.id, "real_estate", {"tier": 2})
    assert exc.value.code == "template_applied"
    assert Target.objects.count() == 3
    plans.close_plan(planner, plan.id)
    with pytest.raises(Conflict) as exc:
        plans.add_target(planner, plan.id, **{**GOOD, "code": "z"})
    assert exc.value.code == "plan_closed"


# --- the pure rules --------------------------------------------------------------------------------------------

def test_percent_and_parse_percent():
    assert t.percent(2261) == "22.61" and t.percent(Fraction(4499, 2)) == "22.50" and t.percent(-500) == "-5.00"
    assert t.percent(Fraction(2, 3)) == "0.01" and t.percent(0) == "0.00"
    assert t.parse_percent("22.5 %", "x") == 2250 and t.parse_percent(7, "x") == 700
    with pytest.raises(ValidationError):
        t.parse_percent(22.5, "x")  # a float is refused, as money's are


def test_cap_headroom_is_exact():
    """The headroom fits and one fen more breaches, for caps and books of every shape."""
    for x in (750, 1750, 2250, 4000, 9999):
        for n, d in ((0, 1), (15_000_000, 100_000_000), (1, 3), (123_456_789, 987_654_321)):
            room = t.cap_headroom(x, n, d)
            if n * t.BP > x * d:
                assert room == 0
                continue
            assert not t.check_cap(x, n, d, room, in_numerator=True, in_denominator=True).breached
            assert t.check_cap(x, n, d, room + 1, in_numerator=True, in_denominator=True).breached
    # lending outside the numerator never breaches; outside the denominator only the numerator grows
    assert not t.check_cap(1750, 10, 100, 10**9, in_numerator=False, in_denominator=True).breached
    assert t.cap_headroom(1750, 10, 100, in_denominator=False) == 7  # (10 + 7) ÷ 100 = 17 % ≤ 17.5 %


# --- the demo, the API and the pages ---------------------------------------------------------------------------

def test_demo_seed_applies_both_templates_once(bank, plan, book):
    from creditplan.plans import services as plan_services
    from creditplan.plans.demo_targets import seed_demo

    plan_services.dimension_codes("segment")
    made = seed_demo(bank["planner"], plan.id)
    assert [x.code for x in made] == ["sme_growth", "sme_borrowers", "re_property", "re_mortgage"]
    assert seed_demo(bank["planner"], plan.id) == []


@pytest.fixture
def call(client, bank):
    from factories import PASSWORD

    tokens: dict[str, str] = {}

    def _call(method, path, user, body=None):  # type: ignore[no-untyped-def]
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method in ("get", "delete"):
            return getattr(client, method)(path, **kw)
        return getattr(client, method)(path, body or {}, content_type="application/json", **kw)

    return _call


def test_targets_over_the_api(call, bank, property_book):
    pid = property_book.id
    r = call("post", f"/api/v1/plans/{pid}/targets/templates/real_estate", "planner", {"params": {"tier": 3}})
    assert r.status_code == 201, r.content
    assert [(x["code"], x["threshold"], x["unit"]) for x in r.json()] == [("re_property", "22.50", "bp"),
                                                                         ("re_mortgage", "17.50", "bp")]
    r = call("post", f"/api/v1/plans/{pid}/targets", "planner", {
        "code": "mortgage-lending", "name": "按揭投放", "kind": "min_amount", "measure": "new_lending",
        "threshold": "1000000", "numerator": [{"product": "mortgage"}]})
    assert r.status_code == 201, r.content
    assert r.json()["threshold"] == "1000000.00"
    r = call("post", f"/api/v1/plans/{pid}/targets", "planner", {
        "code": "bad", "name": "x", "kind": "max_share", "threshold": "150", "numerator": [{"colour": "red"}]})
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {("threshold", "threshold_out_of_range"),
                                                                     ("numerator", "unknown_filter_key")}
    assert call("post", f"/api/v1/plans/{pid}/targets", "officer_bj", {
        "code": "x", "name": "x", "kind": "min_share", "threshold": "1"}).status_code == 403
    r = call("get", f"/api/v1/plans/{pid}/targets", "approver_bj")
    assert r.status_code == 200
    got = {x["target"]["code"]: x for x in r.json()}
    # mortgages 150,000 of 1,000,000 = 15.00 %: within; room (175,000 − 150,000) ÷ 0.825 = 30,303.03
    assert (got["re_mortgage"]["status"], got["re_mortgage"]["value"], got["re_mortgage"]["headroom"]) == (
        "within", "15.00", "30303.03")
    assert got["mortgage-lending"]["status"] in ("behind", "missed") and got["mortgage-lending"]["value"] == "0.00"
    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "API-1", "amount": "30303.04", "branch": "BJ01", "product": "mortgage"})
    assert r.status_code == 409 and r.json()["code"] == "ratio_cap_exceeded"
    assert "cap of 17.50 %" in r.json()["detail"]
    target_id = got["re_mortgage"]["target"]["id"]
    r = call("patch", f"/api/v1/plans/targets/{target_id}", "planner", {"control": "escalate"})
    assert r.status_code == 200 and r.json()["control"] == "escalate"
    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "API-1", "amount": "30303.04", "branch": "BJ01", "product": "mortgage"})
    assert r.status_code == 201 and r.json()["status"] == "escalated"
    assert call("delete", f"/api/v1/plans/targets/{target_id}", "planner").status_code == 204
    templates = call("get", "/api/v1/plans/targets/templates", "planner").json()
    assert [x["code"] for x in templates] == ["inclusive_sme", "real_estate", "green", "manufacturing_mlt"]


def visible(page: str) -> str:
    """The text a person reads: no tags, scripts or styles."""
    page = re.sub(r"<(script|style).*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_pages_in_both_languages(client, bank, property_book, book):
    from factories import PASSWORD

    pid = property_book.id
    assert client.login(username="planner", password=PASSWORD)
    r = client.post(f"/plans/{pid}/targets/template/", {"template": "real_estate", "tier": "3"})
    assert r.status_code == 302
    r = client.post(f"/plans/{pid}/targets/", {"code": "k-growth", "name": "房地产开发贷增速", "kind": "min_growth",
                                               "numerator": "行业=K", "threshold": "5", "control": "monitor"})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Target.objects.get(code="k-growth").numerator == [{"industry": "K"}]
    r = client.post(f"/plans/{pid}/targets/", {"code": "bad", "name": "x", "kind": "max_share",
                                               "numerator": "product=boat", "threshold": "150", "control": "refuse"})
    assert r.status_code == 422 and not Target.objects.filter(code="bad").exists()
    zh = r.content.decode()
    assert "筛选条件中的产品尚未配置。" in zh and "超出范围" in zh
    page = client.get(f"/plans/{pid}/targets/").content.decode()
    assert "房地产贷款占比" in page and "未超上限" in page
    words = set(re.findall(r"[A-Za-z][A-Za-z_]{2,}", visible(page.split('id="add"')[0])))
    assert words <= {"creditplan", "planner", "mortgage", "inclusive_sme", "green"}, words  # codes and the user
    en = client.get(f"/plans/{pid}/targets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Property loans, share of all loans" in en and "Within the cap" in en and "at most 22.50 %" in en
    dash = client.get(f"/plans/{pid}/dashboard/").content.decode()
    assert 'id="targets"' in dash and "目标与比例限额" in dash and "个人住房贷款占比" in dash
    assert "距上限尚可投放 30,303.03 元" in dash
    dash_en = client.get(f"/plans/{pid}/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Room for 30,303.03 yuan more before the cap" in dash_en
    target_id = Target.objects.get(code="k-growth").pk
    assert client.post(f"/plans/{pid}/targets/{target_id}/remove/").status_code == 302
    assert not Target.objects.filter(code="k-growth").exists()
    client.logout()
    assert client.login(username="officer_bj", password=PASSWORD)
    assert client.get(f"/plans/{pid}/targets/").status_code == 200
    assert client.post(f"/plans/{pid}/targets/template/", {"template": "green"}).status_code == 403
