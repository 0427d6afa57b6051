"""The configuration pages of the decision engine: the approval authority matrix, the pricing grid and decision
settings, the LPR table — their checks (pure), the pages (typed values kept, each problem next to its box,
refused for the wrong role, nothing half-written), the ledger events, the next decision seeing each change;
and the simulation pricing each past application at the LPR of its own day."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from decisions_data import TODAY

from creditplan.core.errors import Forbidden
from creditplan.decisions import services
from creditplan.decisions.domain import configuration as cfg
from creditplan.decisions.domain.authority import Authority
from creditplan.decisions.models import AuthorityRule, Decision, GradeTerms
from creditplan.ledger.models import Event
from creditplan.loans import services as loans
from creditplan.loans.models import Product
from factories import PASSWORD

# --- pure checks ----------------------------------------------------------------------------------------

ROLES = ("approver", "risk_manager", "admin")


def test_unknown_role_level_product_grade_and_bad_amounts_are_named_by_their_box():
    rows = [
        {"role": "boss", "branch_level": "branch", "product": "", "max_amount": "100000", "worst_grade": "C"},
        {"role": "approver", "branch_level": "region", "product": "", "max_amount": "100000", "worst_grade": "C"},
        {"role": "", "branch_level": "", "product": "", "max_amount": "", "worst_grade": ""},  # a spare row
        {"role": "approver", "branch_level": "branch", "product": "yacht", "max_amount": "1e3x", "worst_grade": "Z"},
        {"role": "approver", "branch_level": "branch", "product": "", "max_amount": "-5", "worst_grade": "C"},
        {"role": "approver", "branch_level": "branch", "product": "consumer", "max_amount": "1,000,000.50",
         "worst_grade": "d"},
    ]
    rules, problems = cfg.parse_matrix(rows, roles=ROLES, products=["consumer"])
    assert {(p.field, p.code) for p in problems} == {
        ("role-0", "unknown_role"), ("branch_level-1", "unknown_level"), ("product-3", "unknown_product"),
        ("max_amount-3", "amount_format"), ("worst_grade-3", "unknown_grade"),
        ("max_amount-4", "negative_amount")}
    assert "row 1: unknown role 'boss'" in next(p.message for p in problems if p.field == "role-0")
    assert rules == [(5, Authority("approver", "branch", "consumer", 100_000_050, "D"))]


def test_a_typo_in_an_amount_box_is_refused_not_read_as_another_amount():
    """"1e3" (exponent notation) and "50,0000" (commas out of place) were read as 1,000 and 500,000 yuan of
    authority; the money edge refuses both by name. Full-width commas in their proper places still read."""
    row = {"role": "approver", "branch_level": "branch", "product": "", "worst_grade": "C"}
    for typed in ("1e3", "50,0000"):
        rules, problems = cfg.parse_matrix([row | {"max_amount": typed}], roles=ROLES, products=[])
        assert rules == [] and [(p.field, p.code) for p in problems] == [("max_amount-0", "amount_format")]
    rules, problems = cfg.parse_matrix([row | {"max_amount": "1，000，000.00"}], roles=ROLES, products=[])
    assert problems == [] and rules[0][1].max_amount_minor == 100_000_000
    form = {"rate_floor": "3", "rate_cap": "18", "dsr_pct": "50", "dual_above": "5e5"}
    form |= {f"{k}-{g}": "0" for g in "ABCDEFG" for k in ("spread", "limit", "auto")}
    _clean, problems, _warnings = cfg.parse_pricing(form | {"limit-C": "10,00,000"})
    assert {(p.field, p.code) for p in problems} == {("dual_above", "amount_format"),
                                                     ("limit-C", "amount_format")}


def test_a_rule_inside_another_is_an_overlap_a_staircase_is_not_and_unlendable_amounts_are_gaps():
    rules = list(enumerate([
        Authority("approver", "branch", "", 100_000_000, "D"),
        Authority("approver", "branch", "", 30_000_000, "E"),  # staircase: more risk, less money — fine
        Authority("approver", "branch", "consumer", 50_000_000, "C"),  # inside row 1 (every product)
        Authority("approver", "sub_branch", "", 20_000_000, "C"),
        Authority("approver", "sub_branch", "", 20_000_000, "C"),  # exact duplicate: reported once, on the copy
    ]))
    found = cfg.overlaps(rules)
    assert [(f.row, f.kind) for f in found] == [(2, "overlap"), (4, "overlap")]
    assert "row 3 (approver at a branch, consumer, up to 500,000.00, grade C) lies inside row 1" in found[0].en
    lendable = {"consumer": {"A": 200_000_000, "E": 15_000_000, "F": 5_000_000, "G": 0}}
    gaps = cfg.gaps([r for _i, r in rules], lendable)
    assert [g.en for g in gaps] == [
        "consumer, grade A: nobody may approve amounts above 1,000,000.00 (it lends up to 2,000,000.00)",
        "consumer, grade F: nobody may approve any amount (it lends up to 50,000.00)"]


def test_pricing_form_checks_and_the_rate_preview():
    form = {"rate_floor": "3.00", "rate_cap": "18", "dsr_pct": "50", "dual_above": "500000"}
    for g, spread in zip("ABCDEFG", (30, 60, 100, 180, 300, 450, 600), strict=True):
        form |= {f"spread-{g}": str(spread), f"limit-{g}": "100000", f"auto-{g}": "0"}
    clean, problems, warnings = cfg.parse_pricing(form)
    assert problems == [] and clean is not None and clean.rate_floor_ppm == 30_000 and clean.rate_cap_ppm == 180_000
    preview = {p.grade: (p.rate_ppm, p.bound) for p in cfg.preview_rates(34_500, 40_000, 80_000, clean.grades)}
    assert preview["A"] == (40_000, "floor") and preview["C"] == (44_500, "") and preview["G"] == (80_000, "cap")
    bad = form | {"rate_floor": "5", "rate_cap": "4.5", "spread-B": "12.5", "auto-C": "200000", "limit-D": "-1",
                  "dsr_pct": "0", "spread-A": "90"}
    clean, problems, warnings = cfg.parse_pricing(bad)
    assert clean is None
    assert {(p.field, p.code) for p in problems} == {
        ("rate_cap", "floor_above_cap"), ("spread-B", "not_whole"), ("auto-C", "auto_above_limit"),
        ("limit-D", "negative_amount"), ("dsr_pct", "out_of_range")}
    _clean, _problems, warnings = cfg.parse_pricing(form | {"spread-B": "20"})
    assert warnings == ["grade B is priced below grade A (20 bp < 30 bp)"]


# --- the pages ------------------------------------------------------------------------------------------

def _login(client, user: str) -> None:  # type: ignore[no-untyped-def]
    assert client.login(username=user, password="test-pass-123" if user == "risk2" else PASSWORD)


def _matrix_post(rows: list[dict[str, str]], remove: tuple[int, ...] = ()) -> dict[str, str]:
    data = {"rows": str(len(rows))}
    for i, r in enumerate(rows):
        data |= {f"{k}-{i}": v for k, v in r.items()}
        if i in remove:
            data[f"remove-{i}"] = "1"
    return data


def _current_rows() -> list[dict[str, str]]:
    return [{"role": r.role, "branch_level": r.branch_level, "product": r.product,
             "max_amount": f"{r.max_amount_minor // 100}", "worst_grade": r.worst_grade}
            for r in AuthorityRule.objects.order_by("id")]


def test_a_risk_manager_edits_the_matrix_and_the_next_decision_uses_it(client, world, decide):
    assert decide("BEFORE").required_level == "sub_branch"
    _login(client, "risk")
    page = client.get("/decisions/authority/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b'value="200000.00"' in page.content and b'id="gaps"' not in page.content
    rows = _current_rows()
    sub = next(i for i, r in enumerate(rows) if r["branch_level"] == "sub_branch")
    blank = {"role": "", "branch_level": "", "product": "", "max_amount": "", "worst_grade": ""}
    added = {"role": "approver", "branch_level": "head_office", "product": "consumer", "max_amount": "300000",
             "worst_grade": "F"}  # a staircase under the head-office approver's 5,000,000 / E
    r = client.post("/decisions/authority/", _matrix_post([*rows, added, blank], remove=(sub,)))
    assert r.status_code == 302
    assert not AuthorityRule.objects.filter(branch_level="sub_branch").exists()
    assert AuthorityRule.objects.filter(product="consumer", worst_grade="F", max_amount_minor=30_000_000).exists()
    assert decide("AFTER").required_level == "branch"  # nobody at a sub-branch may approve any more
    event = json.loads(Event.objects.filter(kind="decision.authority_set").order_by("-seq").first().entry)
    assert ["approver", "sub_branch", "", 20_000_000, "C"] in event["data"]["before"]
    assert ["approver", "head_office", "consumer", 30_000_000, "F"] in event["data"]["rules"]


def test_a_bad_matrix_is_refused_keeping_what_was_typed_and_changes_nothing(client, world):
    _login(client, "risk")
    rows = _current_rows()
    before = list(AuthorityRule.objects.values_list("role", "branch_level", "max_amount_minor"))
    events = Event.objects.count()
    bad = [*rows, {"role": "boss", "branch_level": "branch", "product": "", "max_amount": "12abc",
                   "worst_grade": "C"}]
    r = client.post("/decisions/authority/", _matrix_post(bad), HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 422
    text = r.content.decode()
    assert "unknown role &#x27;boss&#x27;" in text and 'value="12abc"' in text
    assert '<option value="boss" selected>' in text  # the typed value is kept in its box
    r = client.post("/decisions/authority/", _matrix_post(bad))  # the Chinese page names the box in Chinese
    assert r.status_code == 422 and "未知角色" in r.content.decode()
    inside = [*rows, {"role": "approver", "branch_level": "branch", "product": "consumer", "max_amount": "1000",
                      "worst_grade": "A"}]
    r = client.post("/decisions/authority/", _matrix_post(inside), HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 422 and f'id="row-error-{len(rows)}"' in r.content.decode()
    assert "it never decides anything" in r.content.decode()
    assert list(AuthorityRule.objects.values_list("role", "branch_level", "max_amount_minor")) == before
    assert Event.objects.count() == events


def test_a_mistyped_amount_is_named_in_chinese_next_to_its_box(client, world):
    _login(client, "risk")
    rows = _current_rows()
    before = list(AuthorityRule.objects.values_list("role", "branch_level", "max_amount_minor"))
    typo = {"role": "approver", "branch_level": "head_office", "product": "consumer", "max_amount": "3e5",
            "worst_grade": "F"}
    r = client.post("/decisions/authority/", _matrix_post([*rows, typo]))
    text = r.content.decode()
    assert r.status_code == 422 and 'value="3e5"' in text
    assert "金额格式不正确" in text and "is not an amount" not in text
    r = client.post("/decisions/authority/", _matrix_post([*rows, typo | {"max_amount": "300000.001"}]))
    assert r.status_code == 422 and "金额最多两位小数（分）" in r.content.decode()
    assert list(AuthorityRule.objects.values_list("role", "branch_level", "max_amount_minor")) == before


def test_an_approver_may_read_the_matrix_but_not_change_it(client, world):
    _login(client, "approver_bj")
    page = client.get("/decisions/authority/")
    assert page.status_code == 200 and b'id="read-only"' in page.content and "保存矩阵".encode() not in page.content
    before = AuthorityRule.objects.count()
    r = client.post("/decisions/authority/", _matrix_post(_current_rows()[:1]))
    assert r.status_code == 403 and AuthorityRule.objects.count() == before
    with pytest.raises(Forbidden):
        services.update_authority_matrix(world["approver_bj"], [])
    _login(client, "planner")  # no policy.view at all
    assert client.get("/decisions/authority/").status_code == 403


def _pricing_form(**changes: str) -> dict[str, str]:
    form = {"rate_floor": "3.00", "rate_cap": "18.00", "dsr_pct": "50", "dual_above": "500000.00"}
    for g in "ABCDEFG":
        row = GradeTerms.objects.get(product="consumer", grade=g)
        form |= {f"spread-{g}": str(row.spread_bp), f"limit-{g}": str(row.limit_minor // 100),
                 f"auto-{g}": str(row.auto_approve_max_minor // 100)}
    return form | changes


def test_pricing_page_previews_saves_and_the_next_decision_prices_with_it(client, world, decide):
    assert decide("BEFORE").rate_ppm == 44_500  # LPR 3.45 % + grade C's 100 bp
    _login(client, "risk")
    page = client.get("/decisions/pricing/consumer/")
    assert page.status_code == 200 and '<tr id="grade-C">' in page.content.decode()
    assert "4.45 %" in page.content.decode() and "利率下限（%）" in page.content.decode()
    assert "今日基准：LPR 1y 3.45 %。" in page.content.decode()
    r = client.post("/decisions/pricing/consumer/", _pricing_form(**{"spread-C": "200", "preview": "1"}))
    assert r.status_code == 200 and "5.45 %" in r.content.decode()
    assert GradeTerms.objects.get(product="consumer", grade="C").spread_bp == 100  # a preview stores nothing
    r = client.post("/decisions/pricing/consumer/", _pricing_form(**{"spread-C": "200", "rate_floor": "6",
                                                                    "dual_above": "40000"}))
    assert r.status_code == 302
    d = decide("AFTER")
    assert d.rate_ppm == 60_000 and d.required_approvals == 2  # 5.45 % is under the new 6 % floor; 50,000 > 40,000
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {"loan.product_rate_bounds", "decision.product_settings"} <= kinds


def test_a_bad_pricing_form_is_refused_whole_and_keeps_what_was_typed(client, world):
    _login(client, "risk")
    r = client.post("/decisions/pricing/consumer/",
                    _pricing_form(**{"rate_floor": "9", "rate_cap": "8", "spread-D": "1.5", "dsr_pct": "50"}),
                    HTTP_ACCEPT_LANGUAGE="en")
    text = r.content.decode()
    assert r.status_code == 422
    assert 'id="err-rate_cap"' in text and "The cap 8.00% is below the floor 9.00%" in text
    assert 'name="spread-D" value="1.5"' in text and "whole number of basis points" in text
    p = Product.objects.get(code="consumer")
    assert (p.rate_floor_ppm, p.rate_cap_ppm) == (30_000, 180_000)
    _login(client, "approver_bj")
    r = client.post("/decisions/pricing/consumer/", _pricing_form(**{"spread-C": "150"}))
    assert r.status_code == 403 and GradeTerms.objects.get(product="consumer", grade="C").spread_bp == 100


def test_lpr_page_records_a_publication_the_next_decision_prices_at(client, world, decide):
    _login(client, "risk")
    page = client.get("/decisions/lpr/")
    assert page.status_code == 200 and "3.45" in page.content.decode() and "今日适用" in page.content.decode()
    r = client.post("/decisions/lpr/", {"tenor": "1y", "effective_date": (TODAY - dt.timedelta(days=1)).isoformat(),
                                        "rate": "abc"})
    assert r.status_code == 422 and 'value="abc"' in r.content.decode() and 'id="err-rate"' in r.content.decode()
    r = client.post("/decisions/lpr/", {"tenor": "1y", "effective_date": (TODAY - dt.timedelta(days=1)).isoformat(),
                                        "rate": "3.00"})
    assert r.status_code == 302
    assert decide("LPR").rate_ppm == 40_000
    _login(client, "approver_bj")
    assert client.get("/decisions/lpr/").status_code == 200
    r = client.post("/decisions/lpr/", {"tenor": "1y", "effective_date": TODAY.isoformat(), "rate": "9"})
    assert r.status_code == 403 and loans.lpr_on("1y", TODAY) == 30_000


def test_simulation_prices_each_past_application_at_the_lpr_of_its_day(world, decide):
    # income 10,000 a month, no debt: 60,000 over 12 months costs ~5,120 a month (DTI 0.51, no knock-out) but the
    # capacity is 5,000, so affordability binds and the rate sets the approved amount
    small = {"monthly_income_minor": 1_000_000, "existing_debt_service_minor": 0}
    d = decide("SIM-1", amount_minor=6_000_000, reserve=False, **small)
    assert d.outcome == "approve" and d.limit_steps and d.approved_amount_minor < 10_000_000
    loans.set_lpr(world["risk"], tenor="1y", effective_date=TODAY - dt.timedelta(days=400), rate="0.1200")
    today = services.simulate(world["risk"], product="consumer")
    assert today.comparison["after"]["volume_minor"] == d.approved_amount_minor
    Decision.objects.update(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=200))  # when LPR was 12 %
    then = services.simulate(world["risk"], product="consumer")
    assert 0 < then.comparison["after"]["volume_minor"] < d.approved_amount_minor  # 13 % repays less principal
