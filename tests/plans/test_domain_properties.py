"""Quota arithmetic reconciles exactly, for any sequence of loan events (issue 5, acceptance 2).

A simulated book of loans is driven through approve (reserve) / cancel (release) / disburse (consume,
possibly less than approved) / repay events. After every event the quota state must agree with the book:
reserved = approved-not-disbursed, consumed = disbursed, outstanding = unpaid principal, and
reserved + consumed + available = the new-lending limit. Under a hard quota nothing is ever reserved past
either limit. Everything stays a Python int (fen) — no float or Decimal creeps in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.plans.domain import (
    ControlMode,
    Outcome,
    QuotaState,
    check_reserve,
    consume,
    periods_overlap,
    release,
    repay,
    reserve,
    split_problem,
)

FAST = settings(max_examples=300, deadline=None)
AMOUNT = st.integers(min_value=1, max_value=5_000_000_00)  # up to 5 million yuan, in fen


@dataclass
class Loan:
    approved: int
    state: str = "reserved"  # reserved → consumed | released
    disbursed: int = 0  # new lending measures flow: repayments do not give it back
    outstanding: int = 0


def _assert_ints(state: QuotaState) -> None:
    for f in fields(state):
        assert type(getattr(state, f.name)) is int, f.name
    assert type(state.available) is int and type(state.balance_available) is int


def _reconcile(state: QuotaState, book: list[Loan], limit: int, balance_limit: int) -> None:
    _assert_ints(state)
    assert state.new_lending_limit == limit and state.balance_limit == balance_limit
    reserved = sum(loan.approved for loan in book if loan.state == "reserved")
    consumed = sum(loan.disbursed for loan in book if loan.state == "consumed")
    outstanding = sum(loan.outstanding for loan in book if loan.state == "consumed")
    assert state.reserved == reserved
    assert state.consumed == consumed
    assert state.outstanding == outstanding
    assert state.reserved + state.consumed + state.available == state.new_lending_limit
    assert state.outstanding + state.reserved + state.balance_available == state.balance_limit


EVENT = st.sampled_from(["approve", "approve", "approve", "cancel", "disburse", "disburse", "repay"])


@FAST
@given(limit=st.integers(min_value=0, max_value=50_000_000_00),
       balance_limit=st.integers(min_value=0, max_value=50_000_000_00),
       mode=st.sampled_from(list(ControlMode)),
       data=st.data())
def test_any_event_sequence_reconciles_with_the_loan_book(limit, balance_limit, mode, data):
    state = QuotaState(new_lending_limit=limit, balance_limit=balance_limit)
    book: list[Loan] = []
    for _ in range(data.draw(st.integers(min_value=1, max_value=40), label="events")):
        event = data.draw(EVENT, label="event")
        reserved = [loan for loan in book if loan.state == "reserved"]
        consumed = [loan for loan in book if loan.state == "consumed" and loan.outstanding > 0]
        if event == "approve":
            amount = data.draw(st.one_of(AMOUNT, st.integers(min_value=1, max_value=max(1, limit))), label="amount")
            check = check_reserve(state, amount, mode)
            if mode is ControlMode.HARD:
                fits = amount <= state.available and amount <= state.balance_available
                assert check.outcome is (Outcome.RESERVED if fits else Outcome.REFUSED)
            elif mode is ControlMode.SOFT:
                assert check.outcome in (Outcome.RESERVED, Outcome.ESCALATED)
            else:
                assert check.outcome is Outcome.RESERVED
            assert bool(check.reason) == (amount > min(state.available, state.balance_available))
            if check.outcome is not Outcome.REFUSED:  # an escalated approval still holds its quota
                state = reserve(state, amount)
                book.append(Loan(approved=amount))
        elif event == "cancel" and reserved:
            loan = data.draw(st.sampled_from(reserved), label="cancel")
            state = release(state, loan.approved)
            loan.state = "released"
        elif event == "disburse" and reserved:
            loan = data.draw(st.sampled_from(reserved), label="disburse")
            disbursed = data.draw(st.integers(min_value=1, max_value=loan.approved), label="disbursed")
            state = consume(state, loan.approved, disbursed)
            loan.state, loan.disbursed, loan.outstanding = "consumed", disbursed, disbursed
        elif event == "repay" and consumed:
            loan = data.draw(st.sampled_from(consumed), label="repay")
            principal = data.draw(st.integers(min_value=1, max_value=loan.outstanding), label="principal")
            state = repay(state, principal)
            loan.outstanding -= principal
        _reconcile(state, book, limit, balance_limit)
        if mode is ControlMode.HARD:
            assert state.reserved + state.consumed <= state.new_lending_limit
            assert state.outstanding + state.reserved <= state.balance_limit
            assert state.available >= 0 and state.balance_available >= 0
    if limit > 0:
        assert state.utilisation * limit == state.reserved + state.consumed


@FAST
@given(limit=st.integers(min_value=1, max_value=10_000_000), n=st.integers(min_value=1, max_value=30))
def test_a_hard_quota_with_room_for_exactly_n_loans_takes_exactly_n(limit, n):
    amount = max(1, limit // n)
    state = QuotaState(new_lending_limit=amount * n, balance_limit=amount * n)
    taken = 0
    for _ in range(10 * n):
        if check_reserve(state, amount, ControlMode.HARD).outcome is Outcome.RESERVED:
            state = reserve(state, amount)
            taken += 1
    assert taken == n and state.available == 0 and state.utilisation == 1


@FAST
@given(state=st.builds(QuotaState, new_lending_limit=st.integers(0, 10**12), balance_limit=st.integers(0, 10**12),
                       reserved=st.integers(0, 10**9), consumed=st.integers(0, 10**9),
                       outstanding=st.integers(0, 10**9)),
       extra=st.integers(min_value=1, max_value=10**9))
def test_impossible_moves_are_refused(state, extra):
    with pytest.raises(ValueError):
        release(state, state.reserved + extra)
    with pytest.raises(ValueError):
        consume(state, state.reserved + extra, state.reserved + extra)  # more than is reserved
    with pytest.raises(ValueError):
        consume(state, state.reserved, state.reserved + extra)  # disbursed above the approval
    with pytest.raises(ValueError):
        repay(state, state.outstanding + extra)
    for bad in (0, -extra):
        for mode in ControlMode:
            with pytest.raises(ValueError):
                check_reserve(state, bad, mode)


@FAST
@given(parent=st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)),
       children=st.lists(st.tuples(st.integers(-10**6, 10**11), st.integers(-10**6, 10**11)), max_size=8))
def test_children_never_add_up_to_more_than_their_parent(parent, children):
    problem = split_problem(parent[0], parent[1], children)
    ok = (all(n >= 0 and b >= 0 for n, b in children) and sum(n for n, _ in children) <= parent[0]
          and sum(b for _, b in children) <= parent[1])
    assert (problem is None) == ok
    if problem is not None:
        assert isinstance(problem, str) and problem


DATES = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31))


@FAST
@given(a=st.tuples(DATES, DATES).map(sorted), b=st.tuples(DATES, DATES).map(sorted))
def test_period_overlap_is_symmetric_and_day_exact(a, b):
    a, b = tuple(a), tuple(b)
    days_a = {a[0] + dt.timedelta(d) for d in range((a[1] - a[0]).days + 1)}
    share = b[0] <= max(days_a) and min(days_a) <= b[1]
    assert periods_overlap(a, b) == periods_overlap(b, a) == share


# --- the same reconciliation through the services and the database ---------------------------------------

NET_CAPITAL_MINOR = 20_000_000_00  # 20 million yuan: 10 % = 2 million per customer, so concentration bites
ANCESTORS = {"BJ01": {"HO", "BJ", "BJ01"}, "BJ": {"HO", "BJ"}, "SH01": {"HO", "SH", "SH01"}, "SH": {"HO", "SH"}}


def _yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_walk_through_the_services_reconciles_rows_movements_and_ledger(bank, seed):
    """Approve / cancel / disburse / repay / expire at random through the real use cases. After every step
    each Quota row equals a model built with the pure domain functions; at the end each counter equals the
    sum of its Movement deltas and the sum over the Reservation rows behind it, and every successful step
    left exactly one ledger event."""
    import random
    from collections import Counter

    from django.db.models import Sum
    from django.utils import timezone

    from creditplan.core.errors import LimitExceeded
    from creditplan.ledger.models import Event
    from creditplan.plans import services as plans
    from creditplan.plans.models import Movement, Quota, Reservation

    rnd = random.Random(seed)
    planner, actor = bank["planner"], bank["ops"]
    today = timezone.localdate()
    for code in ("mortgage", "consumer"):
        plans.add_dimension_code(planner, "product", code, code)
    plan = plans.create_plan(planner, code=f"walk-{seed}", name="随机游走", period_start=today - dt.timedelta(days=30),
                             period_end=today + dt.timedelta(days=300), net_capital=_yuan(NET_CAPITAL_MINOR),
                             new_lending_limit="30000000", balance_limit="25000000")
    root = plan.root.id
    bj, _sh, _mortgage = plans.split_quota(planner, root, [
        {"branch": "BJ", "new_lending_limit": "8000000", "balance_limit": "6000000"},
        {"branch": "SH", "new_lending_limit": "5000000", "balance_limit": "5000000", "control_mode": "soft"},
        {"product": "mortgage", "new_lending_limit": "6000000", "balance_limit": "6000000",
         "control_mode": "monitor"}])
    plans.split_quota(planner, bj.id, [{"branch": "BJ01", "new_lending_limit": "4000000",
                                        "balance_limit": "3000000"}])
    plans.activate_plan(planner, plan.id)

    rows = {q.pk: q for q in Quota.objects.filter(plan_id=plan.id).select_related("branch")}
    model = plans.quota_states(plan.id)  # expected states, moved with the pure domain functions only
    loans: dict[str, dict] = {}  # application_ref → what the test believes about it
    events_before = Event.objects.filter(kind__startswith="plan.quota_").count() + \
        Event.objects.filter(kind="plan.balance_restored").count()
    successes, seen = 0, Counter()

    def matching(branch: str, product: str) -> list[int]:
        return sorted(pk for pk, q in rows.items() if (q.branch is None or q.branch.code in ANCESTORS[branch])
                      and q.product in ("", product))

    def exposure(customer: str) -> int:
        # issue 19: exposure is the whole loan book (live loans' outstanding principal, from the loans app) plus open
        # reservations in any plan. This walk books no loan (it consumes through the plan alone, and its customer
        # references are not customer ids), so only the pending approvals count.
        return sum(x["amount"] for x in loans.values()
                   if x["customer"] == customer and x["status"] in ("reserved", "escalated"))

    for step in range(150):
        pending = [ref for ref, x in loans.items() if x["status"] in ("reserved", "escalated")]
        owing = [ref for ref, x in loans.items() if x["status"] == "consumed" and x["outstanding"] > 0]
        op = rnd.choice(["reserve"] * 5 + ["consume"] * 3 + ["release", "repay", "repay", "expire", "again"])
        if op == "reserve" or (op in ("consume", "release", "expire") and not pending) or \
                (op == "repay" and not owing) or (op == "again" and not loans):
            ref, branch = f"A{seed}-{step}", rnd.choice(sorted(ANCESTORS))
            product = rnd.choice(["", "mortgage", "consumer"])
            amount = rnd.randint(1, 2_500_000_00)
            customer = rnd.choice(["", "C1", "C2", "C3"])
            quotas = matching(branch, product)
            expected = "reserved"
            if customer and exposure(customer) + amount > NET_CAPITAL_MINOR // 10:
                expected = "concentration_exceeded"
            else:
                for qid in quotas:
                    outcome = check_reserve(model[qid], amount, ControlMode(rows[qid].control_mode)).outcome
                    if outcome is Outcome.REFUSED:
                        expected = "quota_exceeded"
                        break
                    if outcome is Outcome.ESCALATED:
                        expected = "escalated"
            try:
                view = plans.reserve_quota(actor, application_ref=ref, amount=_yuan(amount), branch=branch,
                                           product=product, customer_ref=customer)
                got = view.status
                assert sorted(view.quota_ids) == quotas
            except LimitExceeded as exc:
                got = exc.code
            assert got == expected, (step, ref, branch, product, amount)
            seen[got] += 1
            if got in ("reserved", "escalated"):
                successes += 1
                loans[ref] = {"status": got, "amount": amount, "quotas": quotas, "customer": customer,
                              "outstanding": 0, "disbursed": 0}
                for qid in quotas:
                    model[qid] = reserve(model[qid], amount)
        elif op == "again":  # the same application asking again changes nothing
            ref = rnd.choice(sorted(loans))
            view = plans.reserve_quota(actor, application_ref=ref, amount=_yuan(loans[ref]["amount"]), branch="BJ01")
            assert view.status == loans[ref]["status"]
        elif op == "consume":
            ref = rnd.choice(pending)
            x = loans[ref]
            paid = x["amount"] if rnd.random() < 0.5 else rnd.randint(1, x["amount"])
            plans.consume_quota(actor, application_ref=ref, amount=_yuan(paid))
            for qid in x["quotas"]:
                model[qid] = consume(model[qid], x["amount"], paid)
            x.update(status="consumed", outstanding=paid, disbursed=paid)
            successes += 1
        elif op in ("release", "expire"):
            ref = rnd.choice(pending)
            x = loans[ref]
            if op == "release":
                plans.release_quota(actor, application_ref=ref, reason="客户放弃")
            else:
                Reservation.objects.filter(plan_id=plan.id, application_ref=ref).update(
                    expires_at=timezone.now() - dt.timedelta(seconds=1))
                assert plans.expire_reservations() == 1
            for qid in x["quotas"]:
                model[qid] = release(model[qid], x["amount"])
            x["status"] = "released" if op == "release" else "expired"
            successes += 1
        else:  # repay
            ref = rnd.choice(owing)
            x = loans[ref]
            principal = x["outstanding"] if rnd.random() < 0.3 else rnd.randint(1, x["outstanding"])
            plans.repay_principal(actor, application_ref=ref, amount=_yuan(principal))
            for qid in x["quotas"]:
                model[qid] = repay(model[qid], principal)
            x["outstanding"] -= principal
            if x["outstanding"] == 0:
                x["status"] = "repaid"
            successes += 1
        seen[op] += 1
        assert plans.quota_states(plan.id) == model, (step, op)
        for qid, state in model.items():
            if rows[qid].control_mode == "hard":
                assert state.reserved + state.consumed <= state.new_lending_limit
                assert state.outstanding + state.reserved <= state.balance_limit

    # the walk went everywhere: every event, and every outcome a reservation can have
    assert all(seen[k] for k in ("consume", "release", "expire", "repay", "again", "reserved", "escalated",
                                 "quota_exceeded", "concentration_exceeded")), seen
    for q in Quota.objects.filter(plan_id=plan.id):
        sums = Movement.objects.filter(quota=q).aggregate(r=Sum("reserved_delta"), c=Sum("consumed_delta"),
                                                          o=Sum("outstanding_delta"), n=Sum("limit_delta"))
        assert (sums["r"] or 0, sums["c"] or 0, sums["o"] or 0, sums["n"] or 0) == (
            q.reserved_minor, q.consumed_minor, q.outstanding_minor, 0), q.pk
        mine = Reservation.objects.filter(quotas=q)
        pending_sum = mine.filter(status__in=("reserved", "escalated")).aggregate(s=Sum("amount_minor"))["s"] or 0
        disbursed_sum = mine.filter(status__in=("consumed", "repaid")).aggregate(s=Sum("disbursed_minor"))["s"] or 0
        owed_sum = mine.filter(status__in=("consumed", "repaid")).aggregate(s=Sum("outstanding_minor"))["s"] or 0
        assert (q.reserved_minor, q.consumed_minor, q.outstanding_minor) == (pending_sum, disbursed_sum, owed_sum)
    for ref, x in loans.items():
        r = Reservation.objects.get(plan_id=plan.id, application_ref=ref)
        assert (r.status, r.amount_minor, r.disbursed_minor, r.outstanding_minor) == (
            x["status"], x["amount"], x["disbursed"], x["outstanding"])
    assert Reservation.objects.filter(plan_id=plan.id).count() == len(loans)  # refusals wrote nothing
    events = Event.objects.filter(kind__startswith="plan.quota_").count() + \
        Event.objects.filter(kind="plan.balance_restored").count()
    assert events - events_before == successes
