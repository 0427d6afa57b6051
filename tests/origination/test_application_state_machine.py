"""The application's state machine as plain data: every pair of states not in the table is refused, every pair
in it is allowed; withdrawn / expired from any open state; approvals and maker-checker rules."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from creditplan.core.errors import Conflict, ValidationError
from creditplan.origination import domain
from creditplan.origination.domain import OPEN, TERMINAL, TRANSITIONS, IllegalTransition, Status

ALL_PAIRS = list(itertools.product(Status, Status))
LEGAL = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


def test_the_table_is_the_documented_workflow():
    assert TRANSITIONS[Status.DRAFT] >= {Status.SUBMITTED}
    assert TRANSITIONS[Status.SUBMITTED] == {Status.APPROVED, Status.REFERRED, Status.DECLINED, Status.WITHDRAWN,
                                             Status.EXPIRED}
    assert TRANSITIONS[Status.REFERRED] == {Status.APPROVED, Status.DECLINED, Status.INFO_REQUESTED,
                                            Status.WITHDRAWN, Status.EXPIRED}
    assert Status.CONTRACT_OFFERED in TRANSITIONS[Status.APPROVED]
    assert TRANSITIONS[Status.CONTRACT_OFFERED] >= {Status.SIGNED}
    assert TRANSITIONS[Status.SIGNED] >= {Status.READY_TO_DISBURSE}
    assert TRANSITIONS[Status.READY_TO_DISBURSE] >= {Status.DISBURSED}
    assert {Status.DECLINED, Status.DISBURSED, Status.WITHDRAWN, Status.EXPIRED} == TERMINAL
    for s in OPEN:  # withdrawn / expired from any open state
        assert {Status.WITHDRAWN, Status.EXPIRED} <= TRANSITIONS[s]
    for s in TERMINAL:
        assert TRANSITIONS[s] == frozenset()
    assert len(LEGAL) + len(ILLEGAL) == len(Status) ** 2 and len(ILLEGAL) > 100


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{a.value}->{b.value}" for a, b in ILLEGAL])
def test_every_illegal_transition_is_refused(current: Status, target: Status):
    with pytest.raises(IllegalTransition) as exc:
        domain.transition(current, target)
    assert exc.value.code == "illegal_transition" and exc.value.http_status == 409
    assert exc.value.extra == {"from": current.value, "to": target.value}
    assert not domain.allowed(current, target)


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=[f"{a.value}->{b.value}" for a, b in LEGAL])
def test_every_legal_transition_is_allowed(current: Status, target: Status):
    assert domain.transition(current.value, target.value) is target


def test_no_state_returns_to_itself_and_terminal_states_are_final():
    for s in Status:
        assert s not in TRANSITIONS[s]
    with pytest.raises(IllegalTransition, match="final state"):
        domain.transition(Status.DECLINED, Status.APPROVED)


def test_decision_outcomes_map_to_states():
    assert domain.outcome_status("approve") is Status.APPROVED
    assert domain.outcome_status("refer") is Status.REFERRED
    assert domain.outcome_status("decline") is Status.DECLINED
    with pytest.raises(ValueError):
        domain.outcome_status("maybe")


def test_maker_checker():
    assert domain.maker_checker_problem(7, entered_by=7, reviewed_by=[]) is not None
    assert "reviewed" in domain.maker_checker_problem(7, entered_by=1, reviewed_by=[7])
    assert domain.maker_checker_problem(7, entered_by=1, reviewed_by=[2, 3]) is None
    assert domain.maker_checker_problem(7, entered_by=None, reviewed_by=[]) is None


def test_two_approvals_from_two_different_people():
    first = domain.next_approval(5, [], 2)
    assert (first.final, first.count, first.required) == (False, 1, 2)
    with pytest.raises(Conflict) as exc:
        domain.next_approval(5, [domain.PriorApproval(5, "approve")], 2)
    assert exc.value.code == "already_approved"
    second = domain.next_approval(6, [domain.PriorApproval(5, "approve")], 2)
    assert second.final and second.count == 2
    assert domain.next_approval(5, [], 1).final
    assert domain.next_approval(5, [], 0).final  # never fewer than one approval


def test_reason_codes_and_keys():
    assert domain.clean_reason("approve", "within_policy", "  ok ") == ("within_policy", "ok")
    with pytest.raises(ValidationError) as exc:
        domain.clean_reason("approve", "because", "")
    assert exc.value.field == "reason_code"
    with pytest.raises(ValidationError) as exc:
        domain.clean_reason("decline", "other", " ")
    assert exc.value.field == "note"
    assert domain.normalised_key("  ") is None and domain.normalised_key(" k-1 ") == "k-1"
    with pytest.raises(ValidationError):
        domain.normalised_key("x" * 101)
    assert domain.idempotency_scope(3, "k") != domain.idempotency_scope(4, "k")
    ref = domain.new_ref(dt.date(2026, 3, 5))
    assert ref.startswith("AP20260305") and len(ref) == 20 and ref[2:].isdigit()
