"""Credit plan use cases: a plan, its split, the quota moving with the loan, concentration, reallocation."""

from __future__ import annotations

import datetime as dt

import pytest

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, ValidationError
from creditplan.plans import services as plans
from creditplan.plans.models import Movement, Quota

TODAY = dt.date.today()


@pytest.fixture
def plan(bank):
    """Plan for this year: 100 m new lending, 80 m balance, net capital 500 m; BJ 60 m (hard), SH 30 m (soft)."""
    p = plans.create_plan(bank["planner"], code="y2026", name="2026 信贷计划", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="500000000",
                          new_lending_limit="100000000", balance_limit="80000000")
    bj, sh = plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": "60000000", "balance_limit": "50000000"},
        {"branch": "SH", "new_lending_limit": "30000000", "balance_limit": "25000000", "control_mode": "soft"},
    ])
    plans.activate_plan(bank["planner"], p.id)
    return {"plan": p, "root": p.root.id, "bj": bj.id, "sh": sh.id}


def test_reserve_consume_repay_move_every_matching_quota(bank, plan):
    r = plans.reserve_quota(bank["approver_bj"], application_ref="APP-1", amount="1000000", branch="BJ01",
                            customer_ref="C1")
    assert r.status == "reserved" and set(r.quota_ids) == {plan["root"], plan["bj"]}
    states = plans.quota_states(plan["plan"].id)
    assert states[plan["bj"]].reserved == 100_000_000 and states[plan["sh"]].reserved == 0
    plans.consume_quota(bank["approver_bj"], application_ref="APP-1", amount="800000")
    s = plans.quota_states(plan["plan"].id)[plan["bj"]]
    assert (s.reserved, s.consumed, s.outstanding) == (0, 80_000_000, 80_000_000)
    plans.repay_principal(bank["approver_bj"], application_ref="APP-1", amount="300000")
    s = plans.quota_states(plan["plan"].id)[plan["bj"]]
    assert (s.consumed, s.outstanding) == (80_000_000, 50_000_000)
    assert [m.kind for m in Movement.objects.filter(quota_id=plan["bj"])] == ["reserve", "consume", "repay"]
    assert plans.reserve_quota(bank["approver_bj"], application_ref="APP-1", amount="1000000",
                               branch="BJ01").status == "consumed"  # idempotent per application


def test_hard_refuses_soft_escalates(bank, plan):
    with pytest.raises(LimitExceeded) as exc:
        plans.reserve_quota(bank["admin"], application_ref="BIG", amount="60000000.01", branch="BJ01")
    assert exc.value.code == "quota_exceeded"
    assert plans.quota_states(plan["plan"].id)[plan["bj"]].reserved == 0
    r = plans.reserve_quota(bank["admin"], application_ref="SH-BIG", amount="31000000", branch="SH01")
    assert r.status == "escalated" and "available" in r.reason


def test_single_customer_concentration(bank, plan):
    plans.reserve_quota(bank["admin"], application_ref="A", amount="30000000", branch="BJ01", customer_ref="C9")
    with pytest.raises(LimitExceeded) as exc:  # 10 % of 500 m = 50 m
        plans.reserve_quota(bank["admin"], application_ref="B", amount="20000001", branch="BJ01", customer_ref="C9")
    assert exc.value.code == "concentration_exceeded"
    big = plans.reserve_quota(bank["admin"], application_ref="C", amount="13000000", branch="BJ01", customer_ref="C8")
    assert big.large_exposure  # ≥ 2.5 % of net capital


def test_split_rules(bank, plan):
    with pytest.raises(ValidationError) as exc:
        plans.split_quota(bank["planner"], plan["root"], [{"branch": "HO", "new_lending_limit": "20000000",
                                                           "balance_limit": "1"}])
    with pytest.raises(ValidationError) as exc:
        plans.split_quota(bank["planner"], plan["bj"], [{"branch": "BJ01", "new_lending_limit": "60000001",
                                                         "balance_limit": "1"}])
    assert exc.value.code == "split_above_parent"
    with pytest.raises(ValidationError) as exc:
        plans.split_quota(bank["planner"], plan["bj"], [{"branch": "SH01", "new_lending_limit": "1",
                                                         "balance_limit": "1"}])
    assert exc.value.code == "child_outside_parent"
    assert Quota.objects.count() == 3


def test_adjustment_needs_a_second_person_and_room(bank, plan):
    a = plans.request_adjustment(bank["approver_bj"], plan["bj"], "5000000", "strong Q4 pipeline")
    with pytest.raises(Forbidden):
        plans.decide_adjustment(bank["approver_bj"], a.id, approve=True)
    done = plans.decide_adjustment(bank["planner"], a.id, approve=True, note="ok")
    assert done.status == "approved"
    assert plans.quota_states(plan["plan"].id)[plan["bj"]].new_lending_limit == 6_500_000_000
    b = plans.request_adjustment(bank["approver_bj"], plan["bj"], "6000000", "more")
    with pytest.raises(Conflict):  # parent 100 m: BJ 65 + SH 30 + 6 > 100
        plans.decide_adjustment(bank["planner"], b.id, approve=True)


def test_expiry_compares_stored_times_correctly(bank, plan):
    """The hot path writes rows in plain SQL: stored timestamps must still compare as the ORM's do."""
    import datetime as _dt

    from django.utils import timezone

    plans.reserve_quota(bank["admin"], application_ref="OLD", amount="1000", branch="BJ01")
    plans.reserve_quota(bank["admin"], application_ref="NEW", amount="1000", branch="BJ01")
    from creditplan.plans.models import Reservation

    Reservation.objects.filter(application_ref="OLD").update(expires_at=timezone.now() - _dt.timedelta(seconds=1))
    assert Reservation.objects.get(application_ref="NEW").created_at <= timezone.now()
    assert plans.expire_reservations() == 1
    assert Reservation.objects.get(application_ref="OLD").status == "expired"
    assert Reservation.objects.get(application_ref="NEW").status == "reserved"
    assert plans.expire_reservations(timezone.now() + _dt.timedelta(days=31)) == 1


def test_a_refusal_inside_the_callers_transaction_writes_nothing_and_the_caller_carries_on(bank, plan):
    """The decision engine reserves inside its own transaction, without a savepoint: a refused amount must leave
    no reservation, movement or event behind, and the caller's transaction must still commit its own work."""
    from django.db import transaction

    from creditplan.ledger.models import Event
    from creditplan.plans.models import Reservation

    events = Event.objects.count()
    with transaction.atomic():
        with pytest.raises(LimitExceeded):
            plans.reserve_quota_in_transaction(bank["admin"], application_ref="BIG", amount="60000000.01",
                                               branch="BJ01")
        r = plans.reserve_quota_in_transaction(bank["admin"], application_ref="OK", amount="1000000", branch="BJ01")
    assert r.status == "reserved"
    assert list(Reservation.objects.values_list("application_ref", flat=True)) == ["OK"]
    assert Movement.objects.filter(reservation__application_ref="BIG").count() == 0
    assert plans.quota_states(plan["plan"].id)[plan["bj"]].reserved == 100_000_000
    assert list(Event.objects.filter(seq__gt=events).values_list("kind", "subject_id")) == [
        ("plan.quota_reserved", "OK")]
