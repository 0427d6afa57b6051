"""Concentration on the whole book (issue 19 §1): a customer's exposure is every live loan's outstanding principal,
whatever plan it was booked under (or none), plus its open reservations in any plan; a group's is the same over every
member of every group under its root, from the registry on the day — never from the request —; both against the
capital base (资本净额) in force, which one planner proposes and another approves.

Hand-computed figures (yuan), the capital base 100,000,000.00 from 1 January this year:
    single customer 10 % → 10,000,000.00; group 15 % → 15,000,000.00; large exposure 2.5 % → 2,500,000.00.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from creditplan.core.errors import Conflict, LimitExceeded, ValidationError
from creditplan.customers import services as customers
from creditplan.customers.models import CustomerGroup, GroupMember
from creditplan.ledger.models import Event
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.plans import services as plans
from creditplan.plans import sql
from creditplan.plans.models import Reservation
from creditplan.plans.services.reservations import _book_sql
from factories import PASSWORD, individual

TODAY = dt.date.today()
YEAR = TODAY.year
LAST_YEAR = dt.date(YEAR - 1, 3, 1)  # booked under last year's plan
NO_PLAN = dt.date(YEAR - 2, 6, 1)  # booked when no plan covered the day
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
TERM = {"code": "term", "name": "经营贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
        "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435", "grace_days": 3,
        "late_fee": "50.00", "penalty_markup_pct": 50}


def _plan(planner: Any, code: str, year: int) -> Any:
    p = plans.create_plan(planner, code=code, name=f"{year}年信贷计划", period_start=dt.date(year, 1, 1),
                          period_end=dt.date(year, 12, 31), net_capital="1000000000",
                          new_lending_limit="500000000", balance_limit="500000000")
    plans.activate_plan(planner, p.id)
    return p


def _approve_capital(world: dict[str, Any], amount: str, day: dt.date) -> Any:
    c = plans.propose_capital_base(world["planner"], amount=amount, effective_from=day.isoformat(), note="年报")
    return plans.decide_capital_base(world["planner2"], c.id, approve=True)


def _book(customer: int, amount: str, day: dt.date) -> Any:
    """A loan booked by trusted code (a legacy import): it reserves and consumes the plan covering the day, if any."""
    return loans.disburse(None, customer_id=customer, product="term", amount=amount, term=24, start_date=day)


@pytest.fixture
def book_world(bank: dict[str, Any]) -> dict[str, Any]:
    """Six BJ01 customers, last year's plan and this year's (each with a capital of 1,000,000,000 of its own), the
    capital base 100,000,000.00 approved from 1 January, and the `term` product (fixed rate, up to 2,000,000)."""
    planner2 = org.create_user(None, username="planner2", password=PASSWORD, role="planner", branch_code="HO")
    world = {**bank, "planner2": planner2}
    loans.create_product(bank["risk"], **TERM)
    world["customers"] = [customers.create_customer(bank["officer_bj"], individual(n, branch="BJ01")).id
                          for n in range(1, 7)]
    world["last"] = _plan(bank["planner"], "plan-last", YEAR - 1)
    world["now"] = _plan(bank["planner"], "plan-now", YEAR)
    _approve_capital(world, "100000000", dt.date(YEAR, 1, 1))
    return world


@pytest.fixture
def call(client: Any, bank: dict[str, Any]):  # type: ignore[no-untyped-def]
    tokens: dict[str, str] = {}

    def _call(method: str, path: str, user: str, body: dict | None = None) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, **kw)
        return getattr(client, method)(path, body or {}, content_type="application/json", **kw)

    return _call


def _group(code: str, parent: CustomerGroup | None = None) -> CustomerGroup:
    root = (parent.root or parent) if parent is not None else None
    return CustomerGroup.objects.create(code=code, name=f"{code}集团", parent=parent, root=root)


def _member(group: CustomerGroup, customer: int, relation: str = "control", start: dt.date | None = None,
            end: dt.date | None = None) -> None:
    GroupMember.objects.create(group=group, customer_id=customer, relation=relation,
                               effective_from=start or dt.date(YEAR - 3, 1, 1), effective_to=end)


# --- single customer ---------------------------------------------------------------------------------------------

def test_loans_under_last_years_plan_count_and_the_api_refuses_with_the_figures(book_world, call):
    """Customer 1: four loans of 1,900,000 booked under last year's plan (now closed) and one of 1,900,000 booked when
    no plan existed: 9,500,000 outstanding, nothing under this year's plan. A new application of 1,000,000 takes the
    exposure to 10,500,000 > 10,000,000 (10 % of 100,000,000): refused. 500,000 takes it to exactly 10,000,000:
    allowed, and flagged as a large exposure (≥ 2,500,000)."""
    c1 = book_world["customers"][0]
    for _ in range(4):
        _book(c1, "1900000", LAST_YEAR)
    _book(c1, "1900000", NO_PLAN)
    plans.close_plan(book_world["planner"], book_world["last"].id)
    assert Reservation.objects.filter(plan_id=book_world["last"].id, customer_ref=str(c1), status="consumed").count() == 4
    assert not Reservation.objects.filter(plan_id=book_world["now"].id, customer_ref=str(c1)).exists()
    assert plans.customer_exposure(c1) == 9_500_000_00

    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "NEW-1", "amount": "1000000", "branch": "BJ01", "customer_ref": str(c1)})
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["code"] == "concentration_exceeded"
    assert body["detail"] == ("single-customer exposure 10,500,000.00 would exceed 10 % of the capital base "
                              "100,000,000.00 (limit 10,000,000.00)")
    assert (body["limit_kind"], body["exposure_minor"], body["amount_minor"], body["limit_minor"],
            body["capital_base_minor"], body["limit_bp"]) == ("single_customer", 10_500_000_00, 1_000_000_00,
                                                              10_000_000_00, 100_000_000_00, 1000)
    assert body["errors"][0]["field"] == "amount"
    assert not Reservation.objects.filter(application_ref="NEW-1").exists()  # a refusal writes nothing

    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "NEW-2", "amount": "500000", "branch": "BJ01", "customer_ref": str(c1)})
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "reserved" and r.json()["large_exposure"] is True
    assert plans.customer_exposure(c1) == 10_000_000_00


def test_a_loan_booked_before_its_reservation_counts_once(book_world):
    """Trusted code books the loan first and reserves under the loan's reference afterwards: the loan is already
    in the book when the reservation checks the exposure, and must not be counted twice. Customer 2 has
    8,500,000 outstanding (4 × 1,900,000 + 900,000); a loan of 1,500,000 brings it to exactly 10,000,000: booked."""
    c2 = book_world["customers"][1]
    for amount in ("1900000", "1900000", "1900000", "1900000", "900000"):
        _book(c2, amount, NO_PLAN)
    loan = _book(c2, "1500000", TODAY)
    assert Reservation.objects.get(application_ref=loan.ref).status == "consumed"
    assert plans.customer_exposure(c2) == 10_000_000_00
    with pytest.raises(LimitExceeded) as exc:  # one fen more is one fen too many
        plans.reserve_quota(book_world["approver_bj"], application_ref="ONE-FEN", amount="0.01", branch="BJ01",
                            customer_ref=str(c2))
    assert exc.value.extra["exposure_minor"] == 10_000_000_01


# --- groups ------------------------------------------------------------------------------------------------------

@pytest.fixture
def group_world(book_world: dict[str, Any]) -> dict[str, Any]:
    """Group G (root) and its sub-group G-S. Members on the day: customer 2 (G, 4 × 1,900,000 booked last year =
    7,600,000), customer 3 (G, an open reservation of 5,000,000 under this year's plan), customer 4 (G-S, a loan of
    1,900,000 booked with no plan). Not members on the day: customer 5 (left G yesterday, 1,900,000) and customer 6
    (joins G tomorrow, 1,900,000). G's exposure: 7,600,000 + 5,000,000 + 1,900,000 = 14,500,000."""
    c = book_world["customers"]
    g = _group("G")
    gs = _group("G-S", parent=g)
    _member(g, c[1])
    _member(g, c[2], "guarantee")
    _member(gs, c[3], "family")
    _member(g, c[4], end=TODAY - dt.timedelta(days=1))
    _member(g, c[5], start=TODAY + dt.timedelta(days=1))
    for _ in range(4):
        _book(c[1], "1900000", LAST_YEAR)
    plans.reserve_quota(book_world["approver_bj"], application_ref="HOLD-3", amount="5000000", branch="BJ01",
                        customer_ref=str(c[2]))
    for who in (c[3], c[4], c[5]):
        _book(who, "1900000", NO_PLAN)
    return {**book_world, "g": g, "gs": gs}


def test_a_group_member_is_refused_past_15_percent_of_the_group_over_the_api(group_world, call):
    """Customer 3 asks for 1,000,000: its own exposure 6,000,000 is within 10,000,000, but G's would be 15,500,000 >
    15,000,000 (15 % of 100,000,000): refused, whatever group the request names. 500,000 brings G to exactly
    15,000,000: reserved, and the reservation records the group checked."""
    c3 = group_world["customers"][2]
    assert plans.group_exposure(group_world["g"]) == plans.group_exposure(group_world["gs"]) == 14_500_000_00
    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "G-1", "amount": "1000000", "branch": "BJ01", "customer_ref": str(c3),
              "group_ref": ""})  # the request cannot take a customer out of its group
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["code"] == "concentration_exceeded"
    assert body["detail"] == ("exposure of group G 15,500,000.00 would exceed 15 % of the capital base "
                              "100,000,000.00 (limit 15,000,000.00)")
    assert (body["limit_kind"], body["group"], body["exposure_minor"], body["limit_minor"]) == (
        "group", "G", 15_500_000_00, 15_000_000_00)
    r = call("post", "/api/v1/plans/reservations", "approver_bj",
             {"application_ref": "G-2", "amount": "500000", "branch": "BJ01", "customer_ref": str(c3)})
    assert r.status_code == 201, r.content
    assert Reservation.objects.get(application_ref="G-2").group_ref == "G"
    assert plans.group_exposure(group_world["g"]) == 15_000_000_00


def test_the_decision_takes_the_group_from_the_registry_not_from_the_inputs(group_world):
    """reserve_quota has no group argument any more: a caller cannot name (or omit) a group."""
    with pytest.raises(TypeError):
        plans.reserve_quota(group_world["approver_bj"], application_ref="X", amount="1", branch="BJ01",
                            customer_ref=str(group_world["customers"][2]), group_ref="")


def test_every_root_group_of_a_customer_is_checked(group_world):
    """Customer 1 has no loan; it belongs to G (14,500,000) through a guarantee and to H through the same actual
    controller, where customer 5 holds 1,900,000. 600,000 for customer 1: H would be 2,500,000 and G 15,100,000 >
    15,000,000 — refused on G. 500,000: G exactly 15,000,000, reserved, both groups recorded."""
    c = group_world["customers"]
    h = _group("H")
    _member(h, c[0], "controller")
    _member(h, c[4], "controller")
    _member(group_world["g"], c[0], "guarantee")
    with pytest.raises(LimitExceeded) as exc:
        plans.reserve_quota(group_world["approver_bj"], application_ref="H-1", amount="600000", branch="BJ01",
                            customer_ref=str(c[0]))
    assert (exc.value.extra["group"], exc.value.extra["exposure_minor"]) == ("G", 15_100_000_00)
    plans.reserve_quota(group_world["approver_bj"], application_ref="H-2", amount="500000", branch="BJ01",
                        customer_ref=str(c[0]))
    assert Reservation.objects.get(application_ref="H-2").group_ref == "G,H"
    assert [g.code for g in plans.customer_root_groups(c[0])] == ["G", "H"]


def test_the_pages_exposure_equals_the_reservations_figure(group_world):
    """plans.services.exposure (the pages, the ORM) and the reservation's one statement (plans.sql) read the same
    figures: for each customer, and for the group."""
    c, plan_id = group_world["customers"], group_world["now"].id
    book = _book_sql()
    for who in c:
        checks = sql.recheck(plan_id, "PROBE", str(who), TODAY, book)
        assert checks.customer_exposure == plans.customer_exposure(who), who
    checks = sql.recheck(plan_id, "PROBE", str(c[2]), TODAY, book)
    assert checks.groups == (("G", plans.group_exposure(group_world["g"])),) == (("G", 14_500_000_00),)
    assert checks.capital_base == plans.concentration_limits().capital_base_minor == 100_000_000_00
    with pytest.raises(LimitExceeded) as exc:
        plans.reserve_quota(group_world["approver_bj"], application_ref="P-1", amount="700000", branch="BJ01",
                            customer_ref=str(c[3]))
    figures = exc.value.extra
    assert figures["exposure_minor"] - figures["amount_minor"] == plans.group_exposure(group_world["g"])


# --- the capital base: maker-checker, effective date, bad input ---------------------------------------------------

def test_capital_base_maker_checker_and_effective_date(book_world):
    """The proposer cannot decide; a base takes effect on its date, not before; with none approved for a day the
    plan's own net capital is used. Customer 1 asks for 1,500,000 (no loans): under the base of 100,000,000 in
    force today the limit is 10,000,000 — reserved —, although a base of 10,000,000 (limit 1,000,000) is approved
    from tomorrow and another is still pending."""
    planner, planner2 = book_world["planner"], book_world["planner2"]
    tomorrow = TODAY + dt.timedelta(days=1)
    small = plans.propose_capital_base(planner, amount="10000000", effective_from=tomorrow)
    with pytest.raises(Conflict) as exc:
        plans.decide_capital_base(planner, small.id, approve=True)
    assert exc.value.code == "maker_checker"
    assert plans.decide_capital_base(planner2, small.id, approve=True).status == "approved"
    pending = plans.propose_capital_base(planner, amount="1000000", effective_from=TODAY.isoformat())
    assert pending.status == "pending"
    assert plans.current_capital_base(TODAY).amount_minor == 100_000_000_00
    assert plans.current_capital_base(tomorrow).amount_minor == 10_000_000_00
    assert plans.current_capital_base(dt.date(YEAR - 1, 6, 1)) is None
    with pytest.raises(Conflict) as exc:
        plans.decide_capital_base(planner2, small.id, approve=False)
    assert exc.value.code == "capital_base_decided"
    c1 = book_world["customers"][0]
    assert plans.reserve_quota(book_world["approver_bj"], application_ref="CB-1", amount="1500000", branch="BJ01",
                               customer_ref=str(c1)).status == "reserved"
    # back-dated into last year's plan, before any base: the plan's own 1,000,000,000 (limit 100,000,000)
    assert plans.reserve_quota(None, application_ref="CB-2", amount="20000000", branch="BJ01",
                               customer_ref=str(c1), on=dt.date(YEAR - 1, 6, 1)).status == "reserved"
    kinds = list(Event.objects.filter(kind__startswith="plan.capital_base").values_list("kind", flat=True))
    assert kinds.count("plan.capital_base_proposed") == 3 and kinds.count("plan.capital_base_approved") == 2
    # a second approval for the same day supersedes the first: one base per effective date
    again = plans.propose_capital_base(planner, amount="12000000", effective_from=tomorrow)
    plans.decide_capital_base(planner2, again.id, approve=True)
    assert plans.current_capital_base(tomorrow).amount_minor == 12_000_000_00
    assert {c.id: c.status for c in plans.list_capital_bases(planner)}[small.id] == "superseded"


@pytest.mark.parametrize(("amount", "day", "field", "code"), [
    ("0", "2026-01-01", "amount", "not_positive"),
    ("-5000000", "2026-01-01", "amount", "negative_amount"),
    ("abc", "2026-01-01", "amount", "amount_format"),
    ("5000000", "2026-02-30", "effective_from", "date_format"),
    ("5000000", "", "effective_from", "required"),
    ("5000000", "1899-12-31", "effective_from", "date_out_of_range"),
])
def test_bad_capital_base_input_is_refused_naming_the_field(book_world, call, amount, day, field, code):
    before = len(plans.list_capital_bases(book_world["planner"]))
    with pytest.raises(ValidationError) as exc:
        plans.propose_capital_base(book_world["planner"], amount=amount, effective_from=day)
    assert (exc.value.field, exc.value.code) == (field, code)
    r = call("post", "/api/v1/plans/capital-base/proposals", "planner", {"amount": amount, "effective_from": day})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.content
    assert len(plans.list_capital_bases(book_world["planner"])) == before  # nothing written


def test_capital_base_over_the_api(book_world, call):
    r = call("post", "/api/v1/plans/capital-base/proposals", "planner", {"amount": "80000000", "effective_from": "2026-01-15"})
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    r = call("post", f"/api/v1/plans/capital-base/proposals/{cid}/decision", "planner", {"approve": True})
    assert r.status_code == 409 and r.json()["code"] == "maker_checker"
    assert call("post", f"/api/v1/plans/capital-base/proposals/{cid}/decision", "approver_bj",
                {"approve": True}).status_code == 403  # not a planner
    r = call("post", f"/api/v1/plans/capital-base/proposals/{cid}/decision", "planner2", {"approve": False, "note": "未审计"})
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["decided_by"] == "planner2"
    listing = call("get", "/api/v1/plans/capital-base/proposals", "auditor").json()
    assert listing["current"]["amount"] == "100000000.00" and listing["current"]["effective_from"] == f"{YEAR}-01-01"
    assert [p["status"] for p in listing["proposals"]] == ["rejected", "approved"]


def test_capital_base_page_in_both_languages(book_world, client):
    """A planner proposes on the page (a zero amount is refused next to the field, in Chinese too); the proposer sees
    no approve button on their own proposal; another planner approves it and it is in force."""
    client.force_login(book_world["planner"])
    page = client.get("/plans/", **EN).content.decode()
    assert 'href="/plans/capital-base/"' in page
    page = client.get("/plans/capital-base/", **EN).content.decode()
    assert "100,000,000.00" in page and "10,000,000.00" in page and "15,000,000.00" in page
    r = client.post("/plans/capital-base/", {"amount": "0", "effective_from": TODAY.isoformat()}, **ZH)
    assert r.status_code == 422 and "资本净额必须大于零" in r.content.decode()
    r = client.post("/plans/capital-base/", {"amount": "120000000", "effective_from": TODAY.isoformat()}, **EN)
    assert r.status_code == 302
    mine = plans.list_capital_bases(book_world["planner"])[0]
    page = client.get("/plans/capital-base/", **EN).content.decode()
    assert f"/plans/capital-base/{mine.id}/approve/" not in page
    r = client.post(f"/plans/capital-base/{mine.id}/approve/", **ZH)  # posted anyway: refused, nothing changes
    assert plans.list_capital_bases(book_world["planner"])[0].status == "pending"
    client.force_login(book_world["planner2"])
    page = client.get("/plans/capital-base/", **ZH).content.decode()
    assert f"/plans/capital-base/{mine.id}/approve/" in page and "资本净额" in page
    client.post(f"/plans/capital-base/{mine.id}/approve/", **ZH)
    assert plans.current_capital_base().amount_minor == 120_000_000_00
    page = client.get("/plans/capital-base/", **ZH).content.decode()
    assert "120,000,000.00" in page and "12,000,000.00" in page and "Capital base" not in page


# --- on the pages: the manual approval and the decision ------------------------------------------------------------

@pytest.fixture
def app_world(bank: dict[str, Any], settings: Any) -> dict[str, Any]:
    """The origination world (tests/origination/application_data.py: the consumer product up to 2,000,000, this
    year's plan, three BJ01 customers), last year's plan, and the capital base 20,000,000.00 approved from 1 January:
    single customer limit 2,000,000.00, group limit 3,000,000.00."""
    origination_tests = str(Path(__file__).resolve().parents[1] / "origination")
    if origination_tests not in sys.path:
        sys.path.insert(0, origination_tests)
    import application_data

    settings.CREDITPLAN_BUREAU_CLIENT = application_data.BUREAU
    application_data.BUREAU_FILE.clear()
    world = application_data.make_world(bank)
    world["planner2"] = org.create_user(None, username="planner2", password=PASSWORD, role="planner",
                                        branch_code="HO")
    world["last"] = _plan(bank["planner"], "plan-last", YEAR - 1)
    _approve_capital(world, "20000000", dt.date(YEAR, 1, 1))
    world["good"] = application_data.GOOD
    return world


def _consumer_loan(customer: int, amount: str) -> None:
    loans.disburse(None, customer_id=customer, product="consumer", amount=amount, term=36, start_date=LAST_YEAR)


def _submit(world: dict[str, Any], customer: int, amount: str, term: int = 12) -> Any:
    from creditplan.origination import services as origination

    return origination.submit_application(world["officer_bj"], customer_id=customer, product="consumer",
                                          amount=amount, term=term, inputs=dict(world["good"]), channel="branch")


@pytest.mark.parametrize(("lang", "expected"), [
    (EN, "The exposure to this customer would be 2,150,000.00 yuan, above 10% of the capital base 20,000,000.00 yuan "
         "(limit 2,000,000.00 yuan): the concentration limit refuses the amount."),
    (ZH, "该客户的风险暴露将达 2,150,000.00 元，超过资本净额 20,000,000.00 元的 10%（限额 2,000,000.00 元）"),
])
def test_a_manual_approval_is_refused_on_the_page_with_the_numbers(app_world, client, lang, expected):
    """Customer 0 has 1,900,000 outstanding on a loan booked under last year's plan. An application of 250,000
    (referred: above the automatic approval) approved by hand would take it to 2,150,000 > 2,000,000."""
    from creditplan.origination.models import Application

    c0 = app_world["customers"][0]
    _consumer_loan(c0, "1900000")
    plans.close_plan(app_world["planner"], app_world["last"].id)
    a = _submit(app_world, c0, "250000.00", term=36)
    assert a.status == "referred"
    client.force_login(app_world["approver_bj"])
    r = client.post(f"/applications/{a.ref}/approve/", {"approve-reason_code": "income_verified"}, **lang)
    assert r.status_code == 409
    assert expected in r.content.decode()
    assert Application.objects.get(ref=a.ref).status == "referred"
    assert not Reservation.objects.filter(application_ref=a.ref).exists()


def test_a_group_member_is_refused_on_the_page_in_both_languages(app_world, client):
    """Customers 1 and 2 are in group GX: 1,500,000 + 1,400,000 outstanding = 2,900,000. Customer 2's application
    of 250,000 approved by hand: its own 1,650,000 is within 2,000,000, GX's 3,150,000 is above 3,000,000."""
    c = app_world["customers"]
    gx = _group("GX")
    _member(gx, c[1])
    _member(gx, c[2], "controller")
    _consumer_loan(c[1], "1500000")
    _consumer_loan(c[2], "1400000")
    a = _submit(app_world, c[2], "250000.00", term=36)
    client.force_login(app_world["approver_bj"])
    r = client.post(f"/applications/{a.ref}/approve/", {"approve-reason_code": "income_verified"}, **EN)
    assert r.status_code == 409
    assert ("The exposure of group GX would be 3,150,000.00 yuan, above 15% of the capital base 20,000,000.00 yuan "
            "(limit 3,000,000.00 yuan)") in r.content.decode()
    r = client.post(f"/applications/{a.ref}/approve/", {"approve-reason_code": "income_verified"}, **ZH)
    assert "集团 GX 的风险暴露将达 3,150,000.00 元，超过资本净额 20,000,000.00 元的 15%（限额 3,000,000.00 元）" in \
        r.content.decode()


def test_the_decision_refers_with_the_numbers_in_both_languages(app_world, client):
    """Customer 1 has 1,990,000 outstanding from last year: a straight-through application of 30,000 would take it
    to 2,020,000 > 2,000,000. The decision refers it, and its reason says the figures in both languages."""
    c1 = app_world["customers"][1]
    _consumer_loan(c1, "1990000")
    a = _submit(app_world, c1, "30000.00")
    assert a.status == "referred" and a.quota_status == "refused"
    assert "CONCENTRATION_EXCEEDED" in a.reason_codes
    client.force_login(app_world["approver_bj"])
    en = client.get(f"/applications/{a.ref}/", **EN).content.decode()
    assert ("the exposure to the customer would be 2,020,000.00 yuan, above 10 % of the capital base 20,000,000.00 yuan "
            "(limit 2,000,000.00 yuan)") in en
    zh = client.get(f"/applications/{a.ref}/", **ZH).content.decode()
    assert "超出集中度限额：单一客户风险暴露将达 2,020,000.00 元，超过资本净额 20,000,000.00 元的 10%（限额 2,000,000.00 元）" in zh
