"""Origination use cases: submission and its three automated outcomes, bad input, idempotent resubmission, the
review queue, approval authority, maker-checker, two approvals above the threshold, the quota on approval,
information requests, withdrawal and expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from application_data import DECLINE, GOOD, REFER
from django.utils import timezone

from creditplan.core.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.decisions import services as decisions
from creditplan.ledger.models import Event
from creditplan.org.models import User
from creditplan.origination import services as origination
from creditplan.origination.models import Application, Approval, Transition
from creditplan.plans import services as plans
from creditplan.plans.models import Reservation

# GOOD scores 560 (grade C): approved straight through up to C's auto-approval amount (100,000 yuan); above it the
# case is referred with grade C, which a sub-branch approver may take up to 200,000 and a branch approver to 1 m.
ABOVE_AUTO = "150000.00"


def _events(ref: str) -> list[str]:
    return list(Event.objects.filter(subject_type="application", subject_id=ref).order_by("seq")
                .values_list("kind", flat=True))


def _path(ref: str) -> list[tuple[str, str, str]]:
    return list(Transition.objects.filter(application__ref=ref).order_by("id")
                .values_list("from_status", "to_status", "actor_name"))


# --- submission -------------------------------------------------------------------------------------------

def test_straight_through_approval_reserves_quota_with_no_human_touch(submit, world):
    a = submit()
    assert a.status == "approved" and a.auto_approved and a.decision_outcome == "approve"
    assert a.ref.startswith("AP") and a.grade == "C" and a.score == 560
    assert a.approved_amount_minor == 3_000_000 and a.rate_ppm > 0 and a.installment_minor > 0
    assert a.quota_status == "reserved" and a.decided_at is not None and a.queued_at is None
    r = Reservation.objects.get(application_ref=a.ref)
    assert r.status == "reserved" and r.amount_minor == 3_000_000
    assert _path(a.ref) == [("draft", "submitted", "officer_bj"), ("submitted", "approved", "system")]
    assert _events(a.ref) == ["application.submitted"]
    row = Application.objects.get(ref=a.ref)
    assert row.entered_by == world["officer_bj"] and row.channel == "branch" and row.reviewed_by is None
    assert row.inputs["loan_purpose"] == "consumption" and row.decision_id == a.decision_id
    assert not Approval.objects.filter(application=row).exists()  # nobody touched it
    assert a.decision["rules_fired"] and a.decision["limit_steps"] and a.decision["price_steps"]


def test_referred_and_declined_outcomes(submit):
    referred = submit(REFER)
    assert referred.status == "referred" and not referred.auto_approved and referred.queued_at is not None
    assert any("review zone" in r for r in referred.reasons) and referred.reasons_zh
    assert referred.quota_status != "reserved" and not Reservation.objects.filter(application_ref=referred.ref)
    declined = submit(DECLINE)
    assert declined.status == "declined" and declined.decided_at is not None
    assert any("below the cut-off" in r for r in declined.reasons)
    above = submit(amount=ABOVE_AUTO, term=36)
    assert above.status == "referred" and above.grade == "C"
    assert any("automatic approval" in r for r in above.reasons)


def test_a_missing_field_a_rule_needs_refers_the_case_naming_it(submit, settings):
    settings.CREDITPLAN_BUREAU_CLIENT = ""  # no bureau: nobody holds the blacklist (the applicant cannot state it)
    a = submit(GOOD)
    assert a.status == "referred" and not a.auto_approved
    assert any("blacklist" in r and "missing" in r for r in a.reasons)
    bad = submit({**GOOD, "existing_debt_service_minor": "lots"})  # unreadable: refer, never a 500
    assert bad.status == "referred" and any("existing_debt_service_minor" in r for r in bad.reasons)


def test_the_customer_record_and_the_bureau_fill_what_the_applicant_did_not_state(submit, world, settings):
    settings.CREDITPLAN_BUREAU_CLIENT = ""
    stated = {"loan_purpose": "car", "months_employed": 60, "housing": "own", "existing_debt_service_minor": 0}
    a = submit(stated)
    assert a.inputs["age"] > 18 and a.inputs["residency"] == "resident"
    assert a.inputs["monthly_income_minor"] == 3_000_000  # 30,000.00 yuan on the customer record
    assert a.inputs["existing_overdue"] is False
    assert a.status == "referred" and any("bureau_flag" in r or "blacklist" in r for r in a.reasons)
    settings.CREDITPLAN_BUREAU_CLIENT = "creditplan.origination.sources.demo_bureau"
    b = submit(stated)
    assert b.inputs["bureau_flags"] == [] and b.inputs["blacklist"] is False
    assert b.status == "approved" and b.auto_approved
    assert b.input_sources == {"loan_purpose": "stated", "months_employed": "stated", "housing": "stated",
                               "existing_debt_service_minor": "stated", "age": "records", "residency": "records",
                               "monthly_income_minor": "records", "region_code": "records", "bureau_flags": "bureau",
                               "blacklist": "bureau", "existing_overdue": "derived"}


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"customer_id": 999_999}, "customer_id", "unknown_customer"),
    ({"customer_id": "abc"}, "customer_id", "unknown_customer"),
    ({"product": "yacht"}, "product", "unknown_product"),
    ({"amount": "500.00"}, "amount", "amount_out_of_range"),
    ({"amount": "2000000.01"}, "amount", "amount_out_of_range"),
    ({"amount": 1.5}, "amount", "float_money"),
    ({"amount": "12.345"}, "amount", "too_many_decimals"),
    ({"amount": "-5"}, "amount", "negative_amount"),
    ({"amount": "0"}, "amount", "not_positive"),
    ({"amount": "3e4"}, "amount", "amount_format"),  # was read as 30,000 yuan
    ({"amount": "3,0000"}, "amount", "amount_format"),  # a comma out of place was dropped: 30,000 yuan
    ({"amount": "NaN"}, "amount", "not_finite"),
    ({"term": 2}, "term", "term_out_of_range"),
    ({"term": "twelve"}, "term", "term_format"),
    ({"inputs": {**GOOD, "loan_purpose": ""}}, "inputs.loan_purpose", "required"),
    ({"inputs": ["not", "an", "object"]}, "inputs", "inputs_format"),
    ({"inputs": {**GOOD, "nested": {"a": 1}}}, "inputs.nested", "inputs_format"),
    ({"channel": "fax"}, "channel", "unknown_channel"),
    ({"channel": "web"}, "channel", "channel_not_allowed"),
])
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(world, change, field, code):
    request = {"customer_id": world["customers"][0], "product": "consumer", "amount": "30000.00", "term": 12,
               "inputs": dict(GOOD), "channel": "branch", **change}
    before = (Application.objects.count(), Event.objects.count())
    with pytest.raises(ValidationError) as exc:
        origination.submit_application(world["officer_bj"], **request)
    assert field in [p.field for p in exc.value.problems], exc.value.problems
    assert code in [p.code for p in exc.value.problems]
    assert (Application.objects.count(), Event.objects.count()) == before


def test_every_problem_is_reported_at_once(world):
    with pytest.raises(ValidationError) as exc:
        origination.submit_application(world["officer_bj"], customer_id=999_999, product="consumer", amount="1",
                                       term=999, inputs={})
    assert {p.field for p in exc.value.problems} == {"customer_id", "amount", "term", "inputs.loan_purpose"}


def test_scope_who_may_apply_for_whom(world, submit):
    with pytest.raises(ValidationError) as exc:  # a customer of another branch
        submit(actor=world["officer_sh"])
    assert exc.value.code == "unknown_customer"
    for who in ("approver_bj", "planner", "auditor"):
        with pytest.raises(Forbidden):
            submit(actor=world[who])
    own = origination.submit_application(world["customer"], customer_id=world["customers"][0], product="consumer",
                                         amount="30000.00", term=12, inputs=GOOD, channel="web")
    assert own.channel == "web" and own.status == "approved"
    with pytest.raises(ValidationError) as exc:  # a customer applies for themselves only
        origination.submit_application(world["customer"], customer_id=world["customers"][1], product="consumer",
                                       amount="30000.00", term=12, inputs=GOOD, channel="web")
    assert exc.value.code == "unknown_customer"
    with pytest.raises(ValidationError):  # customers have no branch channel
        origination.submit_application(world["customer"], customer_id=world["customers"][0], product="consumer",
                                       amount="30000.00", term=12, inputs=GOOD, channel="branch")


def test_an_archived_customer_cannot_apply(world, submit):
    from creditplan.customers import services as customers

    customers.archive_customer(world["ops"], world["customers"][1], "left the bank")
    with pytest.raises(ValidationError) as exc:
        submit(customer=1)
    assert exc.value.code == "customer_inactive"


# --- idempotency ------------------------------------------------------------------------------------------

def test_the_same_idempotency_key_returns_the_same_application(submit, world):
    first = submit(idempotency_key="mobile-req-1")
    again = submit(idempotency_key="mobile-req-1")
    assert again.ref == first.ref and again.replayed and not first.replayed
    assert Application.objects.filter(ref=first.ref).count() == 1 and Application.objects.count() == 1
    assert Reservation.objects.count() == 1 and _events(first.ref) == ["application.submitted"]
    with pytest.raises(Conflict) as exc:  # the same key for another request is a client bug, said out loud
        submit(idempotency_key="mobile-req-1", amount="40000.00")
    assert exc.value.code == "idempotency_key_reused" and exc.value.extra["ref"] == first.ref
    # keys are per client: another user's identical key is another request
    other = origination.submit_application(world["customer"], customer_id=world["customers"][0], product="consumer",
                                           amount="30000.00", term=12, inputs=GOOD, channel="api",
                                           idempotency_key="mobile-req-1")
    assert other.ref != first.ref and Application.objects.count() == 2
    assert submit().ref != first.ref  # no key: a new application every time


# --- reading ---------------------------------------------------------------------------------------------

def test_who_sees_which_application(submit, world):
    a = submit()
    assert origination.get_application(world["approver_bj"], a.ref).ref == a.ref
    assert origination.get_application(world["customer"], a.ref).ref == a.ref  # their own
    with pytest.raises(NotFound):
        origination.get_application(world["officer_sh"], a.ref)  # another branch
    b = submit(customer=1)
    with pytest.raises(NotFound):
        origination.get_application(world["customer"], b.ref)  # someone else's
    assert [x.ref for x in origination.list_applications(world["customer"])] == [a.ref]
    assert {x.ref for x in origination.list_applications(world["officer_bj"])} == {a.ref, b.ref}
    case = origination.application_case(world["approver_bj"], a.ref)
    assert [t.to_status for t in case.transitions] == ["submitted", "approved"]
    assert case.reservation["status"] == "reserved" and case.quotas
    assert not case.may_approve[0] and "referred" in case.may_approve[1]


# --- the review queue and approval authority -------------------------------------------------------------

def test_the_queue_holds_the_referred_cases_the_approver_may_approve(submit, world):
    c_case = submit(amount=ABOVE_AUTO, term=36)  # grade C, 150,000: sub-branch authority is enough
    e_case = submit(REFER, customer=1)  # grade E: head office only
    submit()  # approved straight through: never in a queue
    assert [i.application.ref for i in origination.review_queue(world["approver_bj01"])] == [c_case.ref]
    assert [i.application.ref for i in origination.review_queue(world["approver_bj"])] == [c_case.ref]
    assert {i.application.ref for i in origination.review_queue(world["approver_ho"])} == {c_case.ref, e_case.ref}
    every = origination.review_queue(world["approver_bj"], {"scope": "all"})
    assert {i.application.ref: i.may_approve for i in every} == {c_case.ref: True, e_case.ref: False}
    assert "grade E" in next(i.why_not for i in every if i.application.ref == e_case.ref)
    # filters
    ho = world["approver_ho"]
    assert [i.application.ref for i in origination.review_queue(ho, {"grade": "E"})] == [e_case.ref]
    assert [i.application.ref for i in origination.review_queue(ho, {"min_amount": "100000"})] == [c_case.ref]
    assert [i.application.ref for i in origination.review_queue(ho, {"max_amount": "100000"})] == [e_case.ref]
    assert origination.review_queue(ho, {"branch": "SH"}) == []
    assert len(origination.review_queue(ho, {"branch": "BJ", "product": "consumer"})) == 2
    assert origination.review_queue(ho, {"min_age_hours": "24"}) == []
    Application.objects.filter(ref=e_case.ref).update(queued_at=timezone.now() - dt.timedelta(days=3))
    assert [i.application.ref for i in origination.review_queue(ho, {"min_age_hours": "48"})] == [e_case.ref]
    assert [i.application.ref for i in origination.review_queue(ho, {"max_age_hours": "48"})] == [c_case.ref]
    # branch scope: a Shanghai approver sees none of Beijing's cases; an officer sees the cases of the branch
    sh = User.objects.create_user(username="approver_sh", password="x" * 10, role="approver",
                                  branch=world["officer_sh"].branch)
    assert origination.review_queue(sh) == []
    assert len(origination.review_queue(world["officer_bj"])) == 2
    with pytest.raises(Forbidden):
        origination.review_queue(world["customer"])
    with pytest.raises(ValidationError):
        origination.review_queue(ho, {"branch": "NOPE"})


def test_approval_needs_enough_authority(submit, world):
    a = submit(amount="250000.00", term=36)  # grade C, above the sub-branch's 200,000
    assert a.status == "referred" and a.required_approvals == 1
    with pytest.raises(Forbidden) as exc:
        origination.approve(world["approver_bj01"], a.ref, "within_policy")
    assert exc.value.code == "insufficient_authority" and "above the authority" in exc.value.message
    for who in ("officer_bj", "planner", "customer"):
        with pytest.raises((Forbidden, NotFound)):
            origination.approve(world[who], a.ref, "within_policy")
    assert Application.objects.get(ref=a.ref).status == "referred" and not Approval.objects.exists()
    done = origination.approve(world["approver_bj"], a.ref, "income_verified", "payslips seen")
    assert done.status == "approved" and not done.auto_approved and done.quota_status == "reserved"
    assert Reservation.objects.get(application_ref=a.ref).amount_minor == 25_000_000
    assert _path(a.ref)[-1] == ("referred", "approved", "approver_bj")
    assert _events(a.ref) == ["application.submitted", "application.approved"]
    approval = Approval.objects.get(application__ref=a.ref)
    assert (approval.user, approval.decision, approval.reason_code, approval.note) == (
        world["approver_bj"], "approve", "income_verified", "payslips seen")
    with pytest.raises(Conflict) as exc:  # decided: a second approval has nothing to approve
        origination.approve(world["approver_ho"], a.ref, "within_policy")
    assert exc.value.code == "not_in_review"


def test_a_head_office_risk_manager_approves_within_the_matrix(submit, world):
    a = submit(REFER)  # grade E
    done = origination.approve(world["risk"], a.ref, "compensating_factors", "long-standing customer")
    assert done.status == "approved" and done.quota_status == "reserved"
    assert Reservation.objects.get(application_ref=a.ref).status == "reserved"


def test_reason_codes_are_checked(submit, world):
    a = submit(amount=ABOVE_AUTO, term=36)
    with pytest.raises(ValidationError) as exc:
        origination.approve(world["approver_bj"], a.ref, "because")
    assert exc.value.field == "reason_code"
    with pytest.raises(ValidationError) as exc:
        origination.decline(world["approver_bj"], a.ref, "other", "")
    assert exc.value.field == "note"


def test_maker_checker_the_person_who_entered_or_reviewed_may_not_approve(submit, world):
    a = submit(amount=ABOVE_AUTO, term=36)
    # the loan officer who entered it is promoted to approver at the same sub-branch: still not for this case
    User.objects.filter(pk=world["officer_bj"].pk).update(role="approver")
    maker = User.objects.get(pk=world["officer_bj"].pk)
    with pytest.raises(Forbidden) as exc:
        origination.approve(maker, a.ref, "within_policy")
    assert exc.value.code == "maker_checker" and "entered" in exc.value.message
    assert a.ref not in [i.application.ref for i in origination.review_queue(maker)]
    # the approver who reviewed it (asked for information) may not approve it either
    b = submit(amount=ABOVE_AUTO, term=36, customer=1, actor=world["admin"])
    origination.request_info(world["approver_bj"], b.ref, "income_proof", "latest payslips please")
    origination.provide_info(world["officer_bj"], b.ref, {}, "payslips attached")
    assert Application.objects.get(ref=b.ref).status == "referred"
    with pytest.raises(Forbidden) as exc:
        origination.approve(world["approver_bj"], b.ref, "income_verified")
    assert exc.value.code == "maker_checker" and "reviewed" in exc.value.message
    with pytest.raises(Forbidden):
        origination.decline(world["approver_bj"], b.ref, "credit_history")
    assert origination.approve(world["approver_bj2"], b.ref, "income_verified").status == "approved"


def test_two_approvals_above_the_threshold_from_two_different_people(submit, world):
    decisions.set_product_settings(world["risk"], "consumer", dual_approval_above_minor=20_000_000)  # 200,000
    a = submit(amount="250000.00", term=36)
    assert a.status == "referred" and a.required_approvals == 2
    first = origination.approve(world["approver_bj"], a.ref, "within_policy")
    assert first.status == "referred" and first.approvals == 1 and first.quota_status != "reserved"
    assert not Reservation.objects.filter(application_ref=a.ref).exists()  # quota waits for the last approval
    queue = origination.review_queue(world["approver_bj"], {"scope": "all"})
    assert queue[0].approved_by_me and not queue[0].may_approve
    assert origination.review_queue(world["approver_bj"]) == []  # nothing more for them to do
    with pytest.raises(Conflict) as exc:
        origination.approve(world["approver_bj"], a.ref, "within_policy")
    assert exc.value.code == "already_approved"
    assert [i.application.ref for i in origination.review_queue(world["approver_bj2"])] == [a.ref]
    second = origination.approve(world["approver_bj2"], a.ref, "income_verified")
    assert second.status == "approved" and second.approvals == 2 and second.quota_status == "reserved"
    assert list(Approval.objects.filter(application__ref=a.ref).values_list("user__username", flat=True)) == [
        "approver_bj", "approver_bj2"]
    assert _events(a.ref) == ["application.submitted", "application.approval_recorded", "application.approved"]


def test_a_hard_quota_refuses_the_approval_and_leaves_the_case_in_review(submit, world):
    a = submit(amount="250000.00", term=36)
    # fill the BJ quota (hard; balance limit 15 m) to within 100,000 yuan
    plans.reserve_quota(world["approver_bj"], application_ref="OTHER-1", amount="14900000", branch="BJ01",
                        customer_ref="x1")
    with pytest.raises(LimitExceeded) as exc:
        origination.approve(world["approver_bj"], a.ref, "within_policy")
    assert exc.value.code == "quota_exceeded"
    row = Application.objects.get(ref=a.ref)
    assert row.status == "referred" and not row.approvals.exists()  # nothing half-written
    assert _events(a.ref) == ["application.submitted"]
    case = origination.application_case(world["approver_bj"], a.ref)
    assert any(q.reserved_minor == 1_490_000_000 for q in case.quotas)  # the position shows why


def test_decline_request_info_provide_info(submit, world):
    a = submit(amount=ABOVE_AUTO, term=36)
    info = origination.request_info(world["officer_bj"], a.ref, "employment", "employer letter", ["months_employed"])
    assert info.status == "info_requested" and info.reviewed_by == "officer_bj"
    assert info.requested_inputs == ["months_employed"]
    with pytest.raises(Conflict):
        origination.approve(world["approver_bj"], a.ref, "within_policy")
    assert origination.review_queue(world["approver_bj"], {"status": "info_requested", "scope": "all"})
    with pytest.raises(Forbidden):  # an approver does not answer for the customer
        origination.provide_info(world["approver_bj"], a.ref, {"months_employed": 70})
    with pytest.raises(ValidationError):
        origination.provide_info(world["customer"], a.ref, {})
    back = origination.provide_info(world["customer"], a.ref, {"months_employed": 70}, "letter uploaded")
    assert back.status == "referred" and back.inputs["months_employed"] == 70
    assert back.input_sources["months_employed"] == "stated"
    declined = origination.decline(world["approver_bj"], a.ref, "high_debt_burden", "too much debt")
    assert declined.status == "declined" and declined.decided_at is not None
    assert [t[1] for t in _path(a.ref)] == ["submitted", "referred", "info_requested", "referred", "declined"]
    assert _events(a.ref)[-3:] == ["application.info_requested", "application.info_provided",
                                   "application.declined"]
    with pytest.raises(Conflict):
        origination.request_info(world["approver_bj"], a.ref, "employment")


def test_withdrawal_releases_the_quota_and_expiry_closes_waiting_cases(submit, world):
    a = submit()
    assert Reservation.objects.get(application_ref=a.ref).status == "reserved"
    with pytest.raises(Forbidden):
        origination.withdraw(world["approver_bj"], a.ref)
    gone = origination.withdraw(world["customer"], a.ref, "found a cheaper loan")
    assert gone.status == "withdrawn" and gone.quota_status == "released"
    assert Reservation.objects.get(application_ref=a.ref).status == "released"
    with pytest.raises(Conflict) as exc:  # a final state: nothing follows
        origination.withdraw(world["customer"], a.ref)
    assert exc.value.code == "illegal_transition"
    waiting = submit(REFER, customer=1)
    fresh = submit(REFER, customer=2)
    Application.objects.filter(ref=waiting.ref).update(updated_at=timezone.now() - dt.timedelta(days=40))
    assert origination.expire_applications(older_than_days=30) == 1
    assert Application.objects.get(ref=waiting.ref).status == "expired"
    assert Application.objects.get(ref=fresh.ref).status == "referred"
    assert _path(waiting.ref)[-1] == ("referred", "expired", "system")


def test_application_view_amounts(submit):
    a: Any = submit(amount="30000.50")
    assert str(a.amount) == "30000.50" and a.open
