"""Quota transfers (调剂规模余缺) and freezing (issue 19 §3): maker-checker, an applied transfer moving both limits
with its movements and ledger event, a transfer whose source was used up after it was proposed refused with
nothing changed, every bad input naming its field, the rule on transfers across dimensions, freezing; then the
same through the API and the pages.

The plan (fen in the code, yuan here): root 100 m new lending / 80 m balance; under it BJ 40 m / 30 m, SH 30 m /
25 m and the product quota "consumer" 10 m / 8 m (the root keeps 20 m / 17 m unallocated); under BJ, BJ01 20 m /
15 m (BJ keeps 20 m / 15 m unallocated). All hard.
"""

from __future__ import annotations

import datetime as dt

import pytest

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.ledger.models import Event
from creditplan.org import services as org
from creditplan.plans import services as plans
from creditplan.plans.domain import QuotaState
from creditplan.plans.domain import transfers as rules
from creditplan.plans.models import Movement, Quota, Transfer
from factories import PASSWORD

TODAY = dt.date.today()
M = 100_000_000  # one million yuan in fen
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def planner2(bank):
    return org.create_user(None, username="planner2", password=PASSWORD, role="planner", branch_code="HO",
                           display_name="planner2")


@pytest.fixture
def plan(bank, planner2):
    p = plans.create_plan(bank["planner"], code="y-transfers", name="调剂测试", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="5000000000",
                          new_lending_limit="100000000", balance_limit="80000000")
    plans.add_dimension_code(bank["planner"], "product", "consumer", "个人消费贷")
    bj, sh, consumer = plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": "40000000", "balance_limit": "30000000"},
        {"branch": "SH", "new_lending_limit": "30000000", "balance_limit": "25000000"},
        {"product": "consumer", "new_lending_limit": "10000000", "balance_limit": "8000000"},
    ])
    [bj01] = plans.split_quota(bank["planner"], bj.id, [
        {"branch": "BJ01", "new_lending_limit": "20000000", "balance_limit": "15000000"}])
    plans.activate_plan(bank["planner"], p.id)
    return {"plan": p.id, "root": p.root.id, "bj": bj.id, "sh": sh.id, "consumer": consumer.id, "bj01": bj01.id}


def limits(quota_id: int) -> tuple[int, int]:
    q = Quota.objects.get(pk=quota_id)
    return q.new_lending_limit_minor, q.balance_limit_minor


def snapshot(plan_id: int) -> dict:
    """Every counter, limit, flag and version of every quota of the plan, and the movements and reservations."""
    quotas = {q["id"]: q for q in Quota.objects.filter(plan_id=plan_id).values()}
    return {"quotas": quotas, "movements": list(Movement.objects.order_by("id").values_list("id", "kind")),
            "limits_moved": list(Movement.objects.exclude(limit_delta=0, balance_limit_delta=0).values_list("id"))}


# --- maker-checker ------------------------------------------------------------------------------------------------

def test_the_proposer_cannot_decide_and_only_planners_may_act(bank, plan, planner2):
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "5000000", reason="SH 需求旺")
    assert t.status == "pending" and t.requested_by == "planner"
    before = snapshot(plan["plan"])
    for approve in (True, False):
        with pytest.raises(Conflict) as exc:
            plans.decide_transfer(bank["planner"], t.id, approve=approve)
        assert exc.value.code == "maker_checker"
    with pytest.raises(Forbidden):  # a branch approver is no planner
        plans.decide_transfer(bank["approver_bj"], t.id, approve=True)
    with pytest.raises(Forbidden):
        plans.propose_transfer(bank["approver_bj"], plan["plan"], plan["bj"], plan["sh"], "1", reason="x")
    assert Transfer.objects.get(pk=t.id).status == "pending"
    assert snapshot(plan["plan"]) == before  # nothing moved while nobody else decided
    done = plans.decide_transfer(planner2, t.id, approve=True, note="同意")
    assert (done.status, done.requested_by, done.decided_by, done.decision_note) == ("applied", "planner", "planner2",
                                                                                     "同意")
    with pytest.raises(Conflict) as exc:  # decided once only
        plans.decide_transfer(planner2, t.id, approve=True)
    assert exc.value.code == "transfer_decided"


def test_a_rejected_transfer_moves_nothing(bank, plan, planner2):
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "5000000", reason="r")
    before = snapshot(plan["plan"])
    assert plans.decide_transfer(planner2, t.id, approve=False, note="不必").status == "rejected"
    assert snapshot(plan["plan"]) == before
    assert Event.objects.filter(kind="plan.transfer_rejected", subject_id=str(t.id)).count() == 1


# --- applied ------------------------------------------------------------------------------------------------------

def test_an_applied_transfer_moves_both_limits_and_the_movements_and_ledger_say_so(bank, plan, planner2):
    """New lending 5 m BJ → SH: BJ 40 m → 35 m, SH 30 m → 35 m, balance limits and the root untouched. Then
    balance 2 m SH → BJ: SH 25 m → 23 m, BJ 30 m → 32 m."""
    versions = dict(Quota.objects.values_list("id", "version"))
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "5000000", reason="SH 需求旺")
    plans.decide_transfer(planner2, t.id, approve=True)
    assert limits(plan["bj"]) == (35 * M, 30 * M)
    assert limits(plan["sh"]) == (35 * M, 25 * M)
    assert limits(plan["root"]) == (100 * M, 80 * M)
    after = dict(Quota.objects.values_list("id", "version"))
    assert after[plan["bj"]] == versions[plan["bj"]] + 1 and after[plan["sh"]] == versions[plan["sh"]] + 1
    assert after[plan["root"]] == versions[plan["root"]]
    moved = list(Movement.objects.filter(kind__startswith="transfer").values_list(
        "quota_id", "kind", "limit_delta", "balance_limit_delta", "reserved_delta", "consumed_delta", "actor_name"))
    assert moved == [(plan["bj"], "transfer_out", -5 * M, 0, 0, 0, "planner2"),
                     (plan["sh"], "transfer_in", 5 * M, 0, 0, 0, "planner2")]
    event = Event.objects.get(kind="plan.transfer_applied")
    assert event.subject_id == str(t.id)

    b = plans.propose_transfer(bank["planner"], plan["plan"], plan["sh"], plan["bj"], "2000000", measure="balance",
                               reason="BJ 余额不足")
    plans.decide_transfer(planner2, b.id, approve=True)
    assert limits(plan["sh"]) == (35 * M, 23 * M)
    assert limits(plan["bj"]) == (35 * M, 32 * M)
    assert list(Movement.objects.filter(kind__startswith="transfer").exclude(balance_limit_delta=0)
                .values_list("quota_id", "kind", "limit_delta", "balance_limit_delta")) == [
        (plan["sh"], "transfer_out", 0, -2 * M), (plan["bj"], "transfer_in", 0, 2 * M)]
    # the root's split still holds: 35 + 35 + 10 = 80 ≤ 100 and 32 + 23 + 8 = 63 ≤ 80
    kinds = list(Event.objects.filter(kind__startswith="plan.transfer").values_list("kind", flat=True).order_by("seq"))
    assert kinds == ["plan.transfer_proposed", "plan.transfer_applied"] * 2


def test_the_quota_history_shows_transfers_in_and_out_and_freezes(bank, plan, planner2):
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "5000000", reason="SH 需求旺")
    plans.decide_transfer(planner2, t.id, approve=True)
    plans.freeze_quota(planner2, plan["sh"], "季末压降")
    history = plans.quota_history(bank["planner"], plan["sh"])
    assert [(h.kind, h.other_label, h.amount_minor, h.proposed_by, h.decided_by, h.status) for h in history] == [
        ("freeze", "", 0, "planner2", "", "done"),
        ("transfer_in", "北京分行", 5 * M, "planner", "planner2", "applied")]
    assert history[0].reason == "季末压降"
    [out] = plans.quota_history(bank["planner"], plan["bj"])
    assert (out.kind, out.other_label, out.amount_minor, out.measure) == ("transfer_out", "上海分行", 5 * M,
                                                                         "new_lending")


# --- refused: the source used up after the proposal ------------------------------------------------------------

@pytest.mark.parametrize("measure", ["new_lending", "balance"])
def test_a_transfer_whose_source_was_used_up_meanwhile_is_refused_with_nothing_changed(bank, plan, planner2, measure):
    """Proposed: 15 m out of BJ (40 m new lending / 30 m balance, nothing used: room enough). Then a loan booked at
    the BJ branch itself is reserved: 27 m (new lending left 40 − 27 = 13 m) or 28 m (balance left 30 − 28 = 2 m).
    The approval finds 15 m no longer available: refused, and not one figure of the plan moves."""
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "15000000", measure=measure,
                               reason="SH 需求旺")
    taken = "27000000" if measure == "new_lending" else "28000000"
    plans.reserve_quota(bank["admin"], application_ref="APP-LATE", amount=taken, branch="BJ")
    left = 13 * M if measure == "new_lending" else 2 * M
    before = snapshot(plan["plan"])
    events = Event.objects.count()
    with pytest.raises(Conflict) as exc:
        plans.decide_transfer(planner2, t.id, approve=True)
    assert exc.value.code == "transfer_source_short" and exc.value.field == "amount"
    assert f"{left // 100:,}.00" in exc.value.message and "15,000,000.00" in exc.value.message
    assert exc.value.extra["available"] == f"{left // 100}.00" and exc.value.extra["requested"] == "15000000.00"
    assert snapshot(plan["plan"]) == before  # every counter, limit, version and movement as it was
    stored = Transfer.objects.get(pk=t.id)
    assert (stored.status, stored.refusal_code, stored.refusal_available_minor, stored.decided_by.username) == (
        "refused", "transfer_source_short", left, "planner2")
    assert "15,000,000.00" in stored.refusal
    assert list(Event.objects.filter(seq__gt=events).values_list("kind", flat=True)) == ["plan.transfer_refused"]


def test_the_proposal_itself_is_refused_when_the_source_lacks_the_amount(bank, plan):
    plans.reserve_quota(bank["admin"], application_ref="APP-1", amount="28000000", branch="BJ")
    with pytest.raises(Conflict) as exc:  # new lending 40 − 28 = 12 m available
        plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "12000000.01", reason="r")
    assert exc.value.code == "transfer_source_short" and exc.value.extra["available"] == "12000000.00"
    with pytest.raises(Conflict) as exc:  # balance 30 − 28 = 2 m available
        plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "2000000.01", "balance", "r")
    assert exc.value.code == "transfer_source_short" and exc.value.extra["available"] == "2000000.00"
    assert Transfer.objects.count() == 0


def test_a_source_cannot_give_what_its_children_hold(bank, plan):
    """BJ 40 m, BJ01 holds 20 m of it: at most 20 m may leave BJ although nothing is reserved."""
    with pytest.raises(Conflict) as exc:
        plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "20000000.01", reason="r")
    assert exc.value.code == "transfer_source_allocated" and exc.value.extra["available"] == "20000000.00"
    assert plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "20000000",
                                  reason="r").status == "pending"


# --- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "field", "code"), [
    ({"target": "bj"}, "target", "same_quota"),
    ({"amount": "0"}, "amount", "not_positive"),
    ({"amount": "-5"}, "amount", "negative_amount"),
    ({"amount": "1.001"}, "amount", "too_many_decimals"),
    ({"amount": ""}, "amount", "required"),
    ({"source": 999_999}, "source", "unknown_quota"),
    ({"source": None}, "source", "required"),
    ({"target": "other"}, "target", "quota_other_plan"),
    ({"measure": "both"}, "measure", "unknown_measure"),
    ({"reason": "  "}, "reason", "required"),
])
def test_bad_input_is_refused_naming_its_field(bank, plan, change, field, code):
    other = plans.create_plan(bank["planner"], code="next-year", name="明年", period_start=TODAY.replace(
        year=TODAY.year + 1, month=1, day=1), period_end=TODAY.replace(year=TODAY.year + 1, month=12, day=31),
        net_capital="1000000", new_lending_limit="1000", balance_limit="1000")
    args = {"source": plan["bj"], "target": plan["sh"], "amount": "1000", "measure": "new_lending", "reason": "r"}
    args.update(change)
    ids = {"bj": plan["bj"], "other": other.root.id}  # names in the table above, ids here
    args = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in args.items()}
    with pytest.raises(ValidationError) as exc:
        plans.propose_transfer(bank["planner"], plan["plan"], args["source"], args["target"], args["amount"],
                               args["measure"], args["reason"])
    assert [(p.field, p.code) for p in exc.value.problems] == [(field, code)]
    assert Transfer.objects.count() == 0


def test_every_bad_field_is_named_at_once(bank, plan):
    with pytest.raises(ValidationError) as exc:
        plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["bj"], "-1", "both", "")
    assert {p.field for p in exc.value.problems} == {"target", "amount", "measure", "reason"}


def test_an_unknown_plan_or_a_closed_one(bank, plan):
    with pytest.raises(NotFound):
        plans.propose_transfer(bank["planner"], 999_999, plan["bj"], plan["sh"], "1", reason="r")
    plans.close_plan(bank["planner"], plan["plan"])
    with pytest.raises(Conflict) as exc:
        plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "1", reason="r")
    assert exc.value.code == "plan_closed"


def test_a_plan_closed_before_the_approval_refuses_the_transfer(bank, plan, planner2):
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["sh"], "1000", reason="r")
    plans.close_plan(bank["planner"], plan["plan"])
    before = snapshot(plan["plan"])
    with pytest.raises(Conflict) as exc:
        plans.decide_transfer(planner2, t.id, approve=True)
    assert exc.value.code == "plan_closed"
    assert Transfer.objects.get(pk=t.id).status == "refused" and snapshot(plan["plan"]) == before


# --- across dimensions ----------------------------------------------------------------------------------------

def test_transfers_across_dimensions_only_where_the_plan_allows_them(bank, plan, planner2):
    def propose(source: str, target: str, amount: str = "1000000") -> plans.TransferView:
        return plans.propose_transfer(bank["planner"], plan["plan"], plan[source], plan[target], amount, reason="r")

    for source, target in [("bj", "consumer"), ("bj01", "sh"), ("sh", "bj01")]:
        with pytest.raises(ValidationError) as exc:  # branch → product; different parents
            propose(source, target)
        assert (exc.value.field, exc.value.code) == ("target", "transfer_not_siblings")
    for source, target in [("bj", "bj01"), ("bj01", "bj"), ("root", "sh")]:
        with pytest.raises(ValidationError) as exc:
            propose(source, target)
        assert (exc.value.field, exc.value.code) == ("target", "transfer_ancestor")

    assert plans.set_transfer_rule(bank["planner"], plan["plan"], across_dimensions=True) is True
    # branch → product under the root: the root's split is unchanged (40 + 30 + 10 = 80)
    plans.decide_transfer(planner2, propose("bj", "consumer", "5000000").id, approve=True)
    assert limits(plan["bj"])[0] == 35 * M and limits(plan["consumer"])[0] == 15 * M
    # BJ01 → SH: SH's parent, the root, gets 5 m more among its children: 35 + 35 + 15 = 85 ≤ 100
    plans.decide_transfer(planner2, propose("bj01", "sh", "5000000").id, approve=True)
    assert limits(plan["bj01"])[0] == 15 * M and limits(plan["sh"])[0] == 35 * M
    # SH → BJ01: BJ (35 m) has BJ01 at 15 m: 20 m unallocated; 20 m more for BJ01 fits exactly, 20.01 m not
    with pytest.raises(Conflict) as exc:
        propose("sh", "bj01", "20000000.01")
    assert (exc.value.code, exc.value.extra["quota_id"]) == ("split_above_parent", plan["bj"])
    plans.decide_transfer(planner2, propose("sh", "bj01", "20000000").id, approve=True)
    assert limits(plan["bj01"])[0] == 35 * M == limits(plan["bj"])[0]
    with pytest.raises(ValidationError) as exc:  # still never up or down a tree
        propose("bj", "bj01")
    assert exc.value.code == "transfer_ancestor"


def test_a_pending_cross_dimension_transfer_is_refused_once_the_rule_is_withdrawn(bank, plan, planner2):
    plans.set_transfer_rule(bank["planner"], plan["plan"], across_dimensions=True)
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["bj"], plan["consumer"], "1000", reason="r")
    plans.set_transfer_rule(bank["planner"], plan["plan"], across_dimensions=False)
    with pytest.raises(ValidationError) as exc:
        plans.decide_transfer(planner2, t.id, approve=True)
    assert exc.value.code == "transfer_not_siblings"
    assert Transfer.objects.get(pk=t.id).status == "refused"


# --- freezing -------------------------------------------------------------------------------------------------

def test_freezing_refuses_new_reservations_keeps_old_ones_and_unfreezing_restores(bank, plan, planner2):
    plans.reserve_quota(bank["admin"], application_ref="OLD", amount="1000000", branch="SH01")
    q = plans.freeze_quota(bank["planner"], plan["sh"], "风险排查")
    assert q.frozen and Quota.objects.get(pk=plan["sh"]).frozen
    with pytest.raises(LimitExceeded) as exc:
        plans.reserve_quota(bank["admin"], application_ref="NEW", amount="1000", branch="SH01")
    assert exc.value.code == "quota_frozen" and exc.value.extra["quota_id"] == plan["sh"]
    assert plans.reserve_quota(bank["admin"], application_ref="BJ-OK", amount="1000", branch="BJ01").status == \
        "reserved"  # other quotas are not frozen
    # the reservation made before the freeze is kept and can still be paid out
    assert plans.consume_quota(bank["admin"], application_ref="OLD").status == "consumed"
    assert plans.quota_states(plan["plan"])[plan["sh"]].consumed == 1 * M
    assert list(Movement.objects.filter(kind__in=("freeze", "unfreeze")).values_list(
        "quota_id", "kind", "reserved_delta", "consumed_delta", "outstanding_delta", "limit_delta",
        "balance_limit_delta")) == [(plan["sh"], "freeze", 0, 0, 0, 0, 0)]
    event = Event.objects.get(kind="plan.quota_frozen")
    assert event.subject_id == str(plan["sh"])
    with pytest.raises(Conflict) as exc:
        plans.freeze_quota(bank["planner"], plan["sh"], "again")
    assert exc.value.code == "quota_already_frozen"
    # a frozen source may still give its unused quota away
    t = plans.propose_transfer(bank["planner"], plan["plan"], plan["sh"], plan["bj"], "1000000", reason="r")
    assert plans.decide_transfer(planner2, t.id, approve=True).status == "applied"
    assert not plans.unfreeze_quota(planner2, plan["sh"], "排查完毕").frozen
    assert plans.reserve_quota(bank["admin"], application_ref="NEW", amount="1000", branch="SH01").status == "reserved"
    with pytest.raises(Conflict) as exc:
        plans.unfreeze_quota(planner2, plan["sh"], "again")
    assert exc.value.code == "quota_not_frozen"


def test_freezing_needs_a_planner_and_a_reason(bank, plan):
    with pytest.raises(Forbidden):
        plans.freeze_quota(bank["approver_bj"], plan["sh"], "x")
    with pytest.raises(ValidationError) as exc:
        plans.freeze_quota(bank["planner"], plan["sh"], " ")
    assert exc.value.field == "reason"
    with pytest.raises(NotFound):
        plans.freeze_quota(bank["planner"], 999_999, "x")
    assert not Quota.objects.filter(frozen=True).exists() and not Movement.objects.filter(kind="freeze").exists()


# --- the pure rules -------------------------------------------------------------------------------------------

def test_the_source_shortfall_on_each_measure():
    s = QuotaState(new_lending_limit=100, balance_limit=80, reserved=30, consumed=20, outstanding=40)
    assert rules.source_shortfall(s, rules.Measure.NEW_LENDING, 50) is None  # 100 − 30 − 20 = 50
    assert rules.source_shortfall(s, rules.Measure.NEW_LENDING, 51) == rules.Shortfall("transfer_source_short", 50,
                                                                                        51)
    assert rules.source_shortfall(s, rules.Measure.BALANCE, 10) is None  # 80 − 40 − 30 = 10
    assert rules.source_shortfall(s, rules.Measure.BALANCE, 11).available == 10
    assert rules.source_shortfall(s, rules.Measure.NEW_LENDING, 30, children_limit=75) == rules.Shortfall(
        "transfer_source_allocated", 25, 30)


# --- API ------------------------------------------------------------------------------------------------------

@pytest.fixture
def call(client):
    tokens: dict[str, str] = {}

    def _call(method, path, user, body=None):  # type: ignore[no-untyped-def]
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, **kw)
        return getattr(client, method)(path, body or {}, content_type="application/json", **kw)

    return _call


def test_transfers_and_freezing_over_the_api(bank, plan, planner2, call):
    pid = plan["plan"]
    r = call("post", f"/api/v1/plans/{pid}/transfers", "planner",
             {"source": plan["bj"], "target": plan["bj"], "amount": "0", "reason": ""})
    assert r.status_code == 422 and r["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} == {"target", "amount", "reason"}
    r = call("post", f"/api/v1/plans/{pid}/transfers", "planner",
             {"source": plan["bj"], "target": plan["sh"], "amount": "15000000", "reason": "SH 需求旺"})
    assert r.status_code == 201 and r.json()["status"] == "pending", r.content
    tid = r.json()["id"]
    r = call("post", f"/api/v1/plans/transfers/{tid}/decision", "planner", {"approve": True})
    assert r.status_code == 409 and r.json()["code"] == "maker_checker"
    call("post", "/api/v1/plans/reservations", "approver_bj", {"application_ref": "A1", "amount": "30000000",
                                                                "branch": "BJ"})
    r = call("post", f"/api/v1/plans/transfers/{tid}/decision", "planner2", {"approve": True})
    assert r.status_code == 409 and r.json()["code"] == "transfer_source_short"
    assert (r.json()["available"], r.json()["requested"]) == ("10000000.00", "15000000.00")
    [listed] = call("get", f"/api/v1/plans/{pid}/transfers", "planner").json()
    assert (listed["status"], listed["refusal_code"], listed["refusal_available"]) == (
        "refused", "transfer_source_short", "10000000.00")
    r = call("post", f"/api/v1/plans/{pid}/transfers", "planner",
             {"source": plan["bj"], "target": plan["sh"], "amount": "10000000", "reason": "r"})
    r = call("post", f"/api/v1/plans/transfers/{r.json()['id']}/decision", "planner2", {"approve": True})
    assert r.status_code == 200 and r.json()["status"] == "applied"
    quotas = {q["id"]: q for q in call("get", f"/api/v1/plans/{pid}/quotas", "planner").json()}
    assert quotas[plan["bj"]]["new_lending_limit"] == "30000000.00"
    assert quotas[plan["sh"]]["new_lending_limit"] == "40000000.00"
    r = call("post", f"/api/v1/plans/quotas/{plan['sh']}/freeze", "planner", {"reason": "排查"})
    assert r.status_code == 200 and r.json()["frozen"] is True
    r = call("post", "/api/v1/plans/reservations", "admin", {"application_ref": "A2", "amount": "1", "branch": "SH"})
    assert r.status_code == 409 and r.json()["code"] == "quota_frozen"
    history = call("get", f"/api/v1/plans/quotas/{plan['sh']}/history", "planner").json()
    assert [(h["kind"], h["status"]) for h in history] == [("freeze", "done"), ("transfer_in", "applied"),
                                                           ("transfer_in", "refused")]
    r = call("post", f"/api/v1/plans/quotas/{plan['sh']}/unfreeze", "planner2", {"reason": "好了"})
    assert r.json()["frozen"] is False
    r = call("put", f"/api/v1/plans/{pid}/transfer-rule", "planner", {"across_dimensions": True})
    assert r.json() == {"across_dimensions": True}


# --- pages ----------------------------------------------------------------------------------------------------

def login(client, username: str):  # type: ignore[no-untyped-def]
    assert client.login(username=username, password=PASSWORD)
    return client


def test_the_pages_propose_decide_refuse_and_freeze_in_words(client, bank, plan, planner2):
    pid = plan["plan"]
    login(client, "planner")
    page = client.get(f"/plans/{pid}/").content.decode()
    assert f"/plans/{pid}/transfers/" in page and "额度调剂" in page and "冻结" in page
    r = client.post(f"/plans/{pid}/transfers/", {"source": plan["bj"], "target": plan["bj"], "measure": "new_lending",
                                                 "amount": "-1", "reason": ""})
    assert r.status_code == 422
    body = r.content.decode()
    assert "请选择两个不同的额度" in body and "此项为必填项" in body
    assert "same_quota" not in body and "negative_amount" not in body
    r = client.post(f"/plans/{pid}/transfers/", {"source": plan["bj"], "target": plan["sh"], "measure": "new_lending",
                                                 "amount": "15000000", "reason": "SH 需求旺"})
    assert r.status_code == 302
    tid = Transfer.objects.get().pk
    page = client.get(f"/plans/{pid}/transfers/").content.decode()
    assert "待审批" in page and f"/transfers/{tid}/approve/" not in page  # not for the proposer
    plans.reserve_quota(bank["admin"], application_ref="A1", amount="30000000", branch="BJ")
    client.logout()
    login(client, "planner2")
    page = client.get(f"/plans/{pid}/transfers/").content.decode()
    assert f"/transfers/{tid}/approve/" in page
    r = client.post(f"/plans/{pid}/transfers/{tid}/approve/", follow=True)
    body = r.content.decode()
    assert "调出额度可用仅 10,000,000.00 元，申请调剂 15,000,000.00 元。" in body  # the message and the row
    assert "未能执行" in body
    assert "transfer_source_short" not in body and ">refused<" not in body
    r = client.get(f"/plans/{pid}/transfers/", **EN)
    assert "The source quota has only 10,000,000.00 yuan available; 15,000,000.00 yuan were asked for." in \
        r.content.decode()
    # freeze from the plan's page, then the explain page shows it
    r = client.post(f"/plans/{pid}/quotas/{plan['sh']}/freeze/", {"action": "freeze", "reason": ""}, follow=True)
    assert "请填写冻结或解冻的原因" in r.content.decode() and not Quota.objects.get(pk=plan["sh"]).frozen
    r = client.post(f"/plans/{pid}/quotas/{plan['sh']}/freeze/", {"action": "freeze", "reason": "排查"}, follow=True)
    assert Quota.objects.get(pk=plan["sh"]).frozen and "已冻结" in r.content.decode()
    assert "解冻" in r.content.decode()
    page = client.get(f"/plans/{pid}/quotas/{plan['sh']}/").content.decode()
    assert "调剂与冻结记录" in page and "排查" in page and "调入" in page and "北京分行" in page
    login(client, "officer_bj")
    assert client.post(f"/plans/{pid}/quotas/{plan['sh']}/freeze/", {"action": "unfreeze", "reason": "x"}
                       ).status_code == 403
    assert client.post(f"/plans/{pid}/transfers/", {"source": plan["bj"]}).status_code == 403


def test_the_demo_seed_leaves_one_applied_one_pending_and_one_frozen(bank, plan, planner2):
    """On this plan the sibling branch quotas are BJ and SH under the root. SH can give 30 m, BJ 20 m (BJ01 holds
    the other 20 m of its 40 m): a tenth of SH's 30 m, 3 m, goes SH → BJ and is applied; then a twentieth of SH's
    27 m, 1.35 m, is proposed SH → BJ and waits; the less used of the two (neither is used here) is frozen."""
    from creditplan.plans import demo_transfers

    done = demo_transfers.seed_demo(bank["planner"], planner2, plan["plan"])
    transfers = {t.id: t for t in plans.list_transfers(bank["planner"], plan["plan"])}
    applied, pending = transfers[done["applied"]], transfers[done["pending"]]
    assert (applied.status, applied.source_id, applied.target_id, applied.amount_minor) == (
        "applied", plan["sh"], plan["bj"], 3 * M)
    assert (pending.status, pending.source_id, pending.target_id, pending.amount_minor) == (
        "pending", plan["sh"], plan["bj"], 135 * M // 100)
    assert limits(plan["sh"])[0] == 27 * M and limits(plan["bj"])[0] == 43 * M
    assert Quota.objects.get(pk=done["frozen"]).frozen
