"""A line's life through the services: proposed by a maker, approved by another user with the authority (an
approver up to LINE_APPROVER_MAX_MINOR, a risk manager any amount), changed the same way, frozen or reduced at
once for risk reasons — every step a ledger event; bad input refused naming the field, nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from line_data import in_a_year

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.ledger.models import Event
from creditplan.lines import services as lines
from creditplan.lines.models import CreditLine, LineChange


def _fields(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {p.field: p.code for p in exc.value.problems}


def _events(line_id: int) -> list[str]:
    return list(Event.objects.filter(subject_type="credit_line", subject_id=str(line_id)).order_by("seq")
                .values_list("kind", flat=True))


def test_a_line_is_in_force_only_once_another_user_approves_it(world):
    cid = world["customers"][0]
    change = lines.propose_line(world["officer_bj"], customer_id=cid, amount="80000.00", expires_on=in_a_year(),
                                sub_limits={"consumer": "60000.00"}, reason="annual review")
    line = lines.get_line(world["risk"], change.line_id)
    assert line.status == "proposed" and line.available_minor == 0 and line.pending.kind == "open"
    with pytest.raises(Forbidden) as exc:  # the maker may not check their own proposal…
        lines.decide_change(world["officer_bj"], change.id, approve=True)
    assert exc.value.code == "permission_denied"
    with pytest.raises(Forbidden) as exc:  # …nor may a checker who proposed it
        c2 = lines.propose_line(world["approver_bj"], customer_id=world["customers"][1], amount="1000.00",
                                expires_on=in_a_year(), reason="r")
        lines.decide_change(world["approver_bj"], c2.id, approve=True)
    assert exc.value.code == "maker_checker"
    done = lines.decide_change(world["approver_bj"], change.id, approve=True, note="fine")
    assert done.status == "approved" and done.decided_by == "approver_bj"
    line = lines.get_line(world["risk"], change.line_id)
    assert line.status == "active" and line.amount_minor == 8_000_000 and line.available_minor == 8_000_000
    assert [(s.product, s.amount_minor) for s in line.sub_limits] == [("consumer", 6_000_000)]
    assert _events(line.id) == ["line.proposed", "line.activated"]


def test_an_approver_approves_up_to_the_configured_amount_a_risk_manager_any(world, settings):
    settings.LINE_APPROVER_MAX_MINOR = 5_000_000  # 50,000.00 yuan
    change = lines.propose_line(world["officer_bj"], customer_id=world["customers"][0], amount="50000.01",
                                expires_on=in_a_year(), reason="big customer")
    with pytest.raises(Forbidden) as exc:
        lines.decide_change(world["approver_bj"], change.id, approve=True)
    assert exc.value.code == "insufficient_authority" and "risk manager" in exc.value.message
    assert LineChange.objects.get(pk=change.id).status == "pending"  # nothing written
    with pytest.raises(Forbidden) as exc:  # administrators run the system, they grant no credit
        lines.decide_change(world["admin"], change.id, approve=True)
    assert exc.value.code == "insufficient_authority"
    lines.decide_change(world["risk"], change.id, approve=True)
    assert CreditLine.objects.get(pk=change.line_id).status == "active"


def test_staff_of_another_branch_neither_see_nor_propose(world, give_line):
    line = give_line()
    with pytest.raises(NotFound):
        lines.get_line(world["officer_sh"], line.id)
    with pytest.raises(NotFound) as exc:
        lines.propose_line(world["officer_sh"], customer_id=world["customers"][1], amount="1000.00",
                           expires_on=in_a_year(), reason="r")
    assert exc.value.field == "customer_id"
    assert [v.id for v in lines.list_lines(world["officer_sh"])] == []


def test_bad_proposals_are_refused_naming_each_field_and_write_nothing(world, apply):
    apply("30000.00", customer=1)  # approved straight through: 30,000 the customer already holds
    cid = world["customers"][1]
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError) as exc:
        lines.propose_line(world["officer_bj"], customer_id=cid, amount="20000.00", expires_on=yesterday,
                           sub_limits={"consumer": "25000.00", "nosuch": "1.00"}, reason="")
    assert _fields(exc) == {"sub_limits.nosuch": "unknown_product", "reason": "required"}
    with pytest.raises(ValidationError) as exc:
        lines.propose_line(world["officer_bj"], customer_id=cid, amount="20000.00", expires_on=yesterday,
                           sub_limits={"consumer": "25000.00"}, reason="r")
    assert _fields(exc) == {"amount": "below_used", "sub_limits.consumer": "sub_limit_above_line",
                            "expires_on": "expiry_in_past"}
    with pytest.raises(ValidationError) as exc:
        lines.propose_line(world["officer_bj"], customer_id=cid, amount="-5", expires_on="2026-02-30", reason="r")
    assert _fields(exc) == {"amount": "negative_amount", "expires_on": "date_format"}
    assert not CreditLine.objects.exists() and not Event.objects.filter(subject_type="credit_line").exists()


def test_a_new_line_takes_over_what_the_customer_already_holds(world, apply):
    a = apply("30000.00")
    assert a.status == "approved"
    change = lines.propose_line(world["officer_bj"], customer_id=world["customers"][0], amount="50000.00",
                                expires_on=in_a_year(), reason="r")
    lines.decide_change(world["approver_bj"], change.id, approve=True)
    line = lines.get_line(world["risk"], change.line_id)
    assert line.reserved_minor == 3_000_000 and line.available_minor == 2_000_000
    assert [o.application_ref for o in lines.line_occupations(world["risk"], line.id)] == [a.ref]


def test_changes_go_through_maker_checker_and_are_refused_naming_the_field(world, give_line, apply):
    line = give_line("50000.00", sub_limits={"consumer": "50000.00"})
    apply("30000.00")  # 30,000 reserved on the line
    with pytest.raises(ValidationError) as exc:  # a limit below what is already used
        lines.propose_change(world["officer_bj"], line.id, kind="reduce", amount="20000.00", reason="r")
    assert _fields(exc) == {"amount": "below_used", "sub_limits.consumer": "sub_limit_above_line"}
    with pytest.raises(ValidationError) as exc:  # a sub-limit above its line
        lines.propose_change(world["officer_bj"], line.id, kind="sub_limits",
                             sub_limits={"consumer": "50000.01"}, reason="r")
    assert _fields(exc) == {"sub_limits.consumer": "sub_limit_above_line"}
    with pytest.raises(ValidationError) as exc:  # a sub-limit left above a reduced line
        lines.propose_change(world["officer_bj"], line.id, kind="reduce", amount="40000.00", reason="r")
    assert _fields(exc) == {"sub_limits.consumer": "sub_limit_above_line"}
    with pytest.raises(ValidationError) as exc:
        lines.propose_change(world["officer_bj"], line.id, kind="extend",
                             expires_on=dt.date.today().isoformat(), reason="r")
    assert _fields(exc) == {"expires_on": "expiry_in_past"}
    with pytest.raises(Conflict) as exc:  # approvals not paid out hold part of it
        lines.propose_change(world["officer_bj"], line.id, kind="close", reason="r")
    assert exc.value.code == "line_has_reservations"
    c = lines.propose_change(world["officer_bj"], line.id, kind="increase", amount="90000.00", reason="more")
    with pytest.raises(Conflict) as exc:  # one pending change at a time
        lines.propose_change(world["officer_bj"], line.id, kind="freeze", reason="r")
    assert exc.value.code == "change_pending"
    assert lines.get_line(world["risk"], line.id).amount_minor == 5_000_000  # not yet
    lines.decide_change(world["approver_bj"], c.id, approve=True)
    assert lines.get_line(world["risk"], line.id).amount_minor == 9_000_000
    r = lines.propose_change(world["officer_bj"], line.id, kind="reduce", amount="40000.00",
                             sub_limits={"consumer": "40000.00"}, reason="less")
    lines.decide_change(world["approver_bj"], r.id, approve=False, note="no")
    v = lines.get_line(world["risk"], line.id)
    assert v.amount_minor == 9_000_000 and [c.status for c in v.changes][:2] == ["rejected", "approved"]
    assert _events(line.id)[-4:] == ["line.change_proposed", "line.changed", "line.change_proposed",
                                     "line.change_rejected"]


def test_a_risk_manager_freezes_at_once_and_lifting_the_freeze_needs_an_approval(world, give_line):
    line = give_line()
    with pytest.raises(Forbidden):
        lines.freeze_line(world["officer_bj"], world["customers"][0], "worried")
    with pytest.raises(ValidationError) as exc:
        lines.freeze_line(world["risk"], world["customers"][0], "  ")
    assert _fields(exc) == {"reason": "required"}
    v = lines.freeze_line(world["risk"], world["customers"][0], "overdue elsewhere")
    assert v.state == "frozen" and v.available_minor == 0 and v.freeze_reason == "overdue elsewhere"
    assert lines.get_line(world["risk"], line.id).changes[0].immediate
    with pytest.raises(Conflict):
        lines.freeze_line(None, world["customers"][0], "again")  # (the post-loan review, as trusted code)
    c = lines.propose_change(world["risk"], line.id, kind="unfreeze", reason="cleared")
    with pytest.raises(Forbidden):
        lines.decide_change(world["risk"], c.id, approve=True)  # maker-checker, risk managers too
    lines.decide_change(world["risk2"], c.id, approve=True)
    assert lines.get_line(world["risk"], line.id).state == "active"
    assert "line.frozen" in _events(line.id) and _events(line.id)[-1] == "line.changed"


def test_the_post_loan_review_reduces_a_line_but_never_below_what_is_used(world, give_line, apply):
    line = give_line("50000.00", sub_limits={"consumer": "45000.00"})
    apply("30000.00")
    with pytest.raises(ValidationError) as exc:
        lines.reduce_line(None, world["customers"][0], "29999.99", "watch list")
    assert _fields(exc) == {"amount": "below_used"}
    v = lines.reduce_line(None, world["customers"][0], "30000.00", "watch list")
    assert v.amount_minor == 3_000_000 and v.available_minor == 0
    assert [(s.product, s.amount_minor) for s in v.sub_limits] == [("consumer", 3_000_000)]
    assert _events(line.id)[-1] == "line.reduced"
    with pytest.raises(NotFound):
        lines.reduce_line(None, world["customers"][2], "1.00", "no line")


def test_a_customer_sees_their_own_line_only(world, give_line):
    give_line("50000.00", customer=0)
    give_line("70000.00", customer=1)
    mine = lines.my_line(world["customer"])
    assert mine is not None and mine.amount_minor == 5_000_000 and mine.customer_id == world["customers"][0]
    assert lines.my_line(world["officer_bj"]) is None


def test_expired_reservations_give_the_room_back(world, give_line, apply):
    line = give_line()
    apply("30000.00")
    assert lines.expire_reservations(days=30) == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert lines.expire_reservations(later, days=30) == 1
    assert lines.get_line(world["risk"], line.id).available_minor == 5_000_000
    assert _events(line.id)[-1] == "line.reservation_expired"


def test_a_frozen_line_refuses_the_approval_of_a_referred_case(world, give_line, apply):
    from application_data import REFER

    from creditplan.origination import services as origination

    give_line("200000.00")
    a = apply("30000.00", inputs=REFER)
    assert a.status == "referred"
    lines.freeze_line(world["risk"], world["customers"][0], "fraud alert")
    with pytest.raises(Conflict) as exc:
        origination.approve(world["approver_ho"], a.ref, "within_policy")
    assert exc.value.code == "line_frozen" and exc.value.field == "amount"
    assert origination.get_application(world["approver_ho"], a.ref).status == "referred"


def test_an_approval_above_the_room_left_is_refused(world, give_line, apply):
    from application_data import REFER

    from creditplan.origination import services as origination

    line = give_line("40000.00")
    a = apply("30000.00", inputs=REFER)  # referred: nothing reserved yet
    apply("30000.00", customer=0)  # approved at 30,000 (the line had 40,000): 10,000 left
    with pytest.raises(LimitExceeded) as exc:
        origination.approve(world["approver_ho"], a.ref, "within_policy")
    assert exc.value.code == "line_exceeded" and exc.value.field == "amount"
    assert lines.get_line(world["risk"], line.id).reserved_minor == 3_000_000
