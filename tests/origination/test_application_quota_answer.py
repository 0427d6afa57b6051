"""A submission writes its decision, application and transitions before it reserves plan quota (the quota rows
stay locked from the reservation to the commit, so that span is kept short), as if the plan grants it. These
tests cover the other answers: the rows stored must be exactly those of a referral, as if written afterwards."""

from __future__ import annotations

import json

from application_data import GOOD

from creditplan.decisions.models import Decision
from creditplan.ledger.models import Event
from creditplan.origination import services as origination
from creditplan.origination.models import Application, Transition
from creditplan.plans import services as plans
from creditplan.plans.models import Reservation


def _decision_event(decision_id: int) -> dict:
    return json.loads(Event.objects.get(kind="decision.made", subject_id=str(decision_id)).entry)["data"]


def _stored(ref: str) -> tuple[Application, Decision, list[tuple[str, str, str]]]:
    a = Application.objects.get(ref=ref)
    path = list(Transition.objects.filter(application=a).order_by("id").values_list("from_status", "to_status",
                                                                                    "reason"))
    return a, Decision.objects.get(pk=a.decision_id), path


def test_a_straight_through_approval_stores_consistent_rows(submit, world):
    view = submit()
    a, d, path = _stored(view.ref)
    assert (a.status, a.auto_approved, a.decision_outcome, a.quota_status) == ("approved", True, "approve", "reserved")
    assert a.decided_at is not None and a.queued_at is None and a.decision_id == view.decision_id
    assert (d.outcome, d.quota_status, d.quota_detail, d.application_ref) == ("approve", "reserved", "", view.ref)
    assert [p[:2] for p in path] == [("draft", "submitted"), ("submitted", "approved")]
    assert _decision_event(d.pk)["outcome"] == "approve" and _decision_event(d.pk)["quota"] == "reserved"
    assert Reservation.objects.get(application_ref=view.ref).status == "reserved"
    assert "total" in d.timings_us


def test_a_hard_quota_refusing_at_submission_refers_and_the_rows_say_so(submit, world):
    # the BJ quota is hard (balance limit 15 m): leave 10,000 yuan
    plans.reserve_quota(world["approver_bj"], application_ref="FILL-BJ", amount="14990000", branch="BJ01",
                        customer_ref="x1")
    view = submit()  # passes the policy, 30,000 yuan: more than the quota left
    assert view.status == "referred" and not view.auto_approved and view.quota_status == "refused"
    assert "QUOTA_REFUSED" in view.reason_codes
    a, d, path = _stored(view.ref)
    assert (a.status, a.auto_approved, a.decision_outcome, a.quota_status) == ("referred", False, "refer", "refused")
    assert a.queued_at is not None and a.decided_at is None
    assert [r["code"] for r in a.reasons][-1] == "QUOTA_REFUSED"
    assert (d.outcome, d.policy_outcome, d.quota_status) == ("refer", "approve", "refused")
    assert d.quota_detail and [r["code"] for r in d.reasons] == [r["code"] for r in a.reasons]
    assert [p[:2] for p in path] == [("draft", "submitted"), ("submitted", "referred")]
    assert "quota" in path[1][2]
    event = _decision_event(d.pk)
    assert (event["outcome"], event["quota"]) == ("refer", "refused") and "QUOTA_REFUSED" in event["reasons"]
    submitted = json.loads(Event.objects.get(kind="application.submitted", subject_id=view.ref).entry)["data"]
    assert (submitted["status"], submitted["auto_approved"], submitted["quota"]) == ("referred", False, "refused")
    assert not Reservation.objects.filter(application_ref=view.ref).exists()
    assert [i.application.ref for i in origination.review_queue(world["approver_bj"])] == [view.ref]


def test_a_soft_quota_escalating_at_submission_refers_and_keeps_the_escalated_reservation(world):
    # the SH quota is soft (balance limit 4 m): leave 10,000 yuan
    plans.reserve_quota(world["admin"], application_ref="FILL-SH", amount="3990000", branch="SH01",
                        customer_ref="x2")
    view = origination.submit_application(world["officer_sh"], customer_id=world["customer_sh"], product="consumer",
                                          amount="30000.00", term=12, inputs=dict(GOOD), channel="branch")
    assert view.status == "referred" and view.quota_status == "escalated"
    a, d, path = _stored(view.ref)
    assert (a.status, a.quota_status, d.outcome, d.quota_status) == ("referred", "escalated", "refer", "escalated")
    assert "QUOTA_ESCALATION" in [r["code"] for r in d.reasons] and a.reasons == [
        {"code": r["code"], "en": r["en"], "zh": r["zh"]} for r in d.reasons]
    assert [p[:2] for p in path] == [("draft", "submitted"), ("submitted", "referred")]
    assert Reservation.objects.get(application_ref=view.ref).status == "escalated"
