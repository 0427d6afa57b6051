"""Bad input is refused with the reason and writes nothing (issue 5, acceptance 4).

A child split above its parent, a negative quota, overlapping plan periods and dimension codes that do not
exist (branch, product, segment, GB/T 4754 industry section, GB/T 2260 province) each raise
core.errors.ValidationError naming the offending field and a stable code. Every table the plan use cases
write — plans, quotas, reservations, movements, adjustments, dimension codes — and the ledger keep exactly
the rows they had. The same refusals come out of /api/v1/plans as 422 problem+json.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.errors import ValidationError
from creditplan.ledger.models import Event
from creditplan.plans import services as plans
from creditplan.plans.models import Adjustment, DimensionCode, Movement, Plan, Quota, Reservation
from factories import PASSWORD

YEAR = dt.date.today().year
PLAN: dict[str, Any] = {"code": "plan-a", "name": "年度信贷计划", "period_start": dt.date(YEAR, 1, 1),
                        "period_end": dt.date(YEAR, 12, 31), "net_capital": "1000000000",
                        "new_lending_limit": "10000000", "balance_limit": "9000000"}


def rows() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Plan, Quota, Reservation, Movement, Adjustment, DimensionCode,
                                                    Event)}


def refused(call: Any, *, field: str, code: str) -> ValidationError:
    """Run `call`; it must raise ValidationError for `field` with `code` and leave every table as it was."""
    before = rows()
    with pytest.raises(ValidationError) as info:
        call()
    exc = info.value
    assert exc.field == field, (exc.field, exc.message)
    assert exc.code == code, (exc.code, exc.message)
    assert exc.problems and exc.problems[0].field == field and exc.message
    assert rows() == before
    return exc


@pytest.fixture
def plan(bank) -> plans.PlanView:  # type: ignore[no-untyped-def]
    """A draft plan for this year, with a product code configured and BJ split off the root."""
    p = plans.create_plan(bank["planner"], **PLAN)
    plans.add_dimension_code(bank["planner"], "product", "mortgage", "住房按揭")
    plans.add_dimension_code(bank["planner"], "segment", "sme", "小微企业")
    plans.split_quota(bank["planner"], p.root.id, [{"branch": "BJ", "new_lending_limit": "6000000",
                                                     "balance_limit": "5000000"}])
    return p


def _bj(p: plans.PlanView) -> int:
    return Quota.objects.get(plan_id=p.id, branch__code="BJ").pk


# --- a child split above its parent ---------------------------------------------------------------------

def test_children_above_the_parent_are_refused(bank, plan):
    planner, root = bank["planner"], plan.root.id
    # with BJ's 6,000,000 already split off, SH can have at most 4,000,000 of the root's 10,000,000
    exc = refused(lambda: plans.split_quota(planner, root, [
        {"branch": "SH", "new_lending_limit": "4000000.01", "balance_limit": "1"}]),
        field="new_lending_limit", code="split_above_parent")
    assert "above the parent" in exc.message
    refused(lambda: plans.split_quota(planner, root, [{"branch": "SH", "new_lending_limit": "1",
                                                        "balance_limit": "4000000.01"}]),
            field="new_lending_limit", code="split_above_parent")  # the balance measure is checked too
    # several children that fit one by one but not together; the first valid one is not written either
    refused(lambda: plans.split_quota(planner, root, [
        {"branch": "SH", "new_lending_limit": "3000000", "balance_limit": "1"},
        {"product": "mortgage", "new_lending_limit": "3000000", "balance_limit": "1"}]),
        field="new_lending_limit", code="split_above_parent")
    # a grandchild above its own parent (BJ), though well inside the root
    refused(lambda: plans.split_quota(planner, _bj(plan), [
        {"branch": "BJ01", "new_lending_limit": "6000001", "balance_limit": "1"}]),
        field="new_lending_limit", code="split_above_parent")
    # exactly filling the parent is allowed
    plans.split_quota(planner, root, [{"branch": "SH", "new_lending_limit": "4000000", "balance_limit": "4000000"}])


def test_a_child_must_stay_inside_its_parent(bank, plan):
    refused(lambda: plans.split_quota(bank["planner"], _bj(plan), [
        {"branch": "SH01", "new_lending_limit": "1", "balance_limit": "1"}]),
        field="branch", code="child_outside_parent")


# --- negative quotas and amounts -------------------------------------------------------------------------

# One code per fault, the same in every app (issue 15: core.money.parse_minor). Changed from the plans' own codes:
# zero_amount → not_positive, amount_precision → too_many_decimals, "NaN" amount_format → not_finite.
@pytest.mark.parametrize(("field", "value", "code"), [
    ("new_lending_limit", "-1", "negative_amount"),
    ("balance_limit", "-0.01", "negative_amount"),
    ("net_capital", "-1000000", "negative_amount"),
    ("net_capital", "0", "not_positive"),
    ("new_lending_limit", 1.5, "float_money"),  # a float never reaches a money path
    ("new_lending_limit", "100.001", "too_many_decimals"),
    ("balance_limit", "12abc", "amount_format"),
    ("balance_limit", "NaN", "not_finite"),
    ("net_capital", "", "required"),
    ("net_capital", None, "required"),
    ("balance_limit", "1e400", "amount_format"),  # exponent notation: used to escape as decimal.InvalidOperation
    ("balance_limit", "1 000", "amount_format"),
    ("new_lending_limit", "92233720368547758.08", "amount_out_of_range"),  # one fen above a BIGINT of fen
])
def test_negative_or_malformed_plan_limits_are_refused(bank, field, value, code):
    refused(lambda: plans.create_plan(bank["planner"], **{**PLAN, field: value}), field=field, code=code)


@pytest.mark.parametrize(("field", "value"), [("new_lending_limit", "-1"), ("balance_limit", "-500")])
def test_a_negative_child_quota_is_refused(bank, plan, field, value):
    child = {"branch": "SH", "new_lending_limit": "1000", "balance_limit": "1000", field: value}
    exc = refused(lambda: plans.split_quota(bank["planner"], plan.root.id, [child]), field=field,
                  code="negative_amount")
    assert exc.message.startswith("child 1:")  # which child, in a list of several


def test_a_negative_or_zero_reservation_is_refused(bank, plan):
    plans.activate_plan(bank["planner"], plan.id)
    for amount, code in [("-100", "negative_amount"), ("0", "not_positive"), (99.5, "float_money"),
                         ("0.001", "too_many_decimals")]:
        refused(lambda a=amount: plans.reserve_quota(bank["approver_bj"], application_ref="APP-1", amount=a,
                                                     branch="BJ01"), field="amount", code=code)


# --- overlapping periods ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end"), [
    (dt.date(YEAR, 6, 1), dt.date(YEAR + 1, 5, 31)),  # overlaps the second half
    (dt.date(YEAR - 1, 7, 1), dt.date(YEAR, 1, 1)),  # touches the first day
    (dt.date(YEAR, 12, 31), dt.date(YEAR + 1, 12, 31)),  # touches the last day
    (dt.date(YEAR, 3, 1), dt.date(YEAR, 3, 31)),  # inside
    (dt.date(YEAR - 1, 1, 1), dt.date(YEAR + 1, 12, 31)),  # around
])
def test_overlapping_periods_are_refused_while_the_other_plan_is_open(bank, plan, start, end):
    attempt = {**PLAN, "code": "plan-b", "period_start": start, "period_end": end}
    exc = refused(lambda: plans.create_plan(bank["planner"], **attempt), field="period_start",
                  code="overlapping_plan")
    assert "plan-a" in exc.message
    plans.activate_plan(bank["planner"], plan.id)  # an active plan blocks as well as a draft one
    refused(lambda: plans.create_plan(bank["planner"], **attempt), field="period_start", code="overlapping_plan")


def test_adjacent_periods_and_closed_plans_do_not_block(bank, plan):
    plans.create_plan(bank["planner"], **{**PLAN, "code": "plan-next", "period_start": dt.date(YEAR + 1, 1, 1),
                                          "period_end": dt.date(YEAR + 1, 12, 31)})
    plans.close_plan(bank["planner"], plan.id)
    plans.create_plan(bank["planner"], **{**PLAN, "code": "plan-redo"})


def test_a_period_that_ends_before_it_starts_is_refused(bank):
    refused(lambda: plans.create_plan(bank["planner"], **{**PLAN, "period_end": dt.date(YEAR - 1, 12, 31)}),
            field="period_end", code="end_before_start")


# --- dimension codes that do not exist -------------------------------------------------------------------

UNKNOWN = [
    ({"branch": "GZ"}, "branch", "unknown_branch"),
    ({"product": "auto-loan"}, "product", "unknown_product"),
    ({"segment": "whales"}, "segment", "unknown_segment"),
    ({"industry": "Z"}, "industry", "unknown_industry"),
    ({"industry": "U"}, "industry", "unknown_industry"),
    ({"region": "99"}, "region", "unknown_region"),
    ({"region": "00"}, "region", "unknown_region"),
]


@pytest.mark.parametrize(("dims", "field", "code"), UNKNOWN)
def test_a_split_into_an_unknown_dimension_code_is_refused(bank, plan, dims, field, code):
    child = {**dims, "new_lending_limit": "1000", "balance_limit": "1000"}
    exc = refused(lambda: plans.split_quota(bank["planner"], plan.root.id, [child]), field=field, code=code)
    assert str(next(iter(dims.values()))) in exc.message  # the refused value is named


@pytest.mark.parametrize(("dims", "field", "code"), UNKNOWN)
def test_a_reservation_in_an_unknown_dimension_code_is_refused(bank, plan, dims, field, code):
    plans.activate_plan(bank["planner"], plan.id)
    args = {"branch": "BJ01", **dims}
    refused(lambda: plans.reserve_quota(bank["admin"], application_ref="APP-X", amount="1000", **args),
            field=field, code=code)


def test_known_codes_are_accepted(bank, plan):
    made = plans.split_quota(bank["planner"], plan.root.id, [
        {"product": "mortgage", "industry": "c", "region": "310115", "segment": "sme", "new_lending_limit": "1000",
         "balance_limit": "1000"}])
    assert (made[0].product, made[0].industry, made[0].region, made[0].segment) == ("mortgage", "C", "31", "sme")


# --- the same through the API ----------------------------------------------------------------------------

@pytest.fixture
def api(client, bank):  # type: ignore[no-untyped-def]
    tokens: dict[str, str] = {}

    def call(path: str, user: str, body: dict) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        return client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tokens[user]}")

    return call


API_PLAN = {**PLAN, "period_start": PLAN["period_start"].isoformat(), "period_end": PLAN["period_end"].isoformat()}


def _api_refused(api: Any, path: str, user: str, body: dict, *, field: str, code: str | None) -> dict:
    before = rows()  # the caller has logged in already (issuing a token is itself a ledger event)
    r = api(path, user, body)
    assert r.status_code == 422, r.content
    problem = r.json()
    assert r["Content-Type"].startswith("application/problem+json")
    # nested fields keep their path (children.0.new_lending_limit), but never a union branch (".str")
    assert any(e["field"].split(".")[-1] == field or e["field"] == field for e in problem["errors"]), problem
    assert not any(e["field"].endswith((".str", ".int")) for e in problem["errors"]), problem
    if code:
        assert problem["code"] == code, problem
    assert rows() == before
    return problem


def test_bad_input_through_the_api(api):
    root = api("/api/v1/plans", "planner", API_PLAN).json()["root"]["id"]
    split = f"/api/v1/plans/quotas/{root}/split"
    _api_refused(api, split, "planner", {"children": [
        {"branch": "BJ", "new_lending_limit": "6000000", "balance_limit": "1"},
        {"branch": "SH", "new_lending_limit": "6000000", "balance_limit": "1"}]},
        field="new_lending_limit", code="split_above_parent")
    _api_refused(api, split, "planner", {"children": [{"branch": "BJ", "new_lending_limit": "-1",
                                                       "balance_limit": "1"}]},
                 field="new_lending_limit", code="negative_amount")
    for dims, field, code in UNKNOWN:
        _api_refused(api, split, "planner", {"children": [{**dims, "new_lending_limit": "1", "balance_limit": "1"}]},
                     field=field, code=code)
    _api_refused(api, "/api/v1/plans", "planner",
                 {**API_PLAN, "code": "plan-b", "period_start": f"{YEAR}-07-01", "period_end": f"{YEAR + 1}-06-30"},
                 field="period_start", code="overlapping_plan")
    # a JSON number with a fraction is not an amount (floats never reach a money path): refused at the edge
    _api_refused(api, "/api/v1/plans", "planner", {**API_PLAN, "code": "plan-c", "new_lending_limit": 1.5},
                 field="new_lending_limit", code=None)
    _api_refused(api, "/api/v1/plans", "planner", {**API_PLAN, "code": "plan-d", "period_start": "2026-02-30"},
                 field="period_start", code=None)
