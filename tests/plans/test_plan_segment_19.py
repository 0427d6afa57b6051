"""Every path that books a loan passes its full dimensions to the plan, the segment included (issue 19 §5): a
direct disbursement names its plan segment; an application's segment — held by the bank (the bureau's file or the
bank's records, never stated by the applicant) — reaches the reservation whether the application is approved
straight through or by a person, and the loan paid out against it is booked under the same segment. A segment
quota (普惠小微) counts each of these loans.

Before issue 19 the direct disbursement and the manual approval passed no segment and the loan kept none: the
segment quota undercounted and the loan's cell had no segment.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.loans.conftest import app_world, loan_world, make_loan, signed_application  # noqa: F401

from creditplan.core.errors import ValidationError
from creditplan.loans import services as loans
from creditplan.loans.models import Loan
from creditplan.plans import services as plans
from creditplan.plans.models import BookCell, Quota, Reservation

SME = "inclusive_sme"


def _segment_quota(w: dict[str, Any], plan_id: int, root_id: int) -> int:
    plans.add_dimension_code(w["planner"], "segment", SME, "普惠小微")
    [q] = plans.split_quota(w["planner"], root_id, [{"segment": SME, "new_lending_limit": "1000000",
                                                      "balance_limit": "1000000"}])
    return q.id


def test_a_direct_disbursement_books_the_loan_under_its_segment(loan_world: dict[str, Any]) -> None:  # noqa: F811
    w = loan_world
    plan = plans.create_plan(w["planner"], code="fy2025", name="2025", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="100000000", new_lending_limit="10000000",
                             balance_limit="10000000")
    sme = _segment_quota(w, plan.id, plan.root.id)
    plans.activate_plan(w["planner"], plan.id)
    loan = loans.disburse(None, customer_id=w["customers"][0], product="consumer", amount="20000.00", term=12,
                          start_date="2025-03-03", segment=SME)
    assert Loan.objects.get(pk=loan.pk).segment == SME
    assert Reservation.objects.get(application_ref=loan.ref).segment == SME
    q = Quota.objects.get(pk=sme)
    assert (q.consumed_minor, q.outstanding_minor) == (2_000_000, 2_000_000)  # the segment quota counts it
    assert BookCell.objects.get(plan_id=plan.id, segment=SME).outstanding_minor == 2_000_000
    # a segment no plan is configured with is refused by name, and nothing is booked
    count = Loan.objects.count()
    with pytest.raises(ValidationError) as exc:
        loans.disburse(None, customer_id=w["customers"][0], product="consumer", amount="20000.00", term=12,
                       start_date="2025-03-03", segment="vip")
    assert (exc.value.field, exc.value.code) == ("segment", "unknown_segment")
    assert Loan.objects.count() == count


def _bank_holds_segment() -> None:
    import application_data  # tests/origination (on the path once app_world has run)

    application_data.BUREAU_FILE["segment"] = SME  # the bureau's file classifies the borrower 普惠小微


def test_a_straight_through_approval_and_its_loan_carry_the_segment(app_world: dict[str, Any],  # noqa: F811
                                                                    signed_application: Any) -> None:  # noqa: F811
    from creditplan.documents import contracts

    w = app_world
    sme = _segment_quota(w, w["plan"].id, w["plan"].root.id)
    _bank_holds_segment()
    app = signed_application(amount="30000.00", term=12)
    assert Reservation.objects.get(application_ref=app.ref).segment == SME  # decisions reserved it so
    done = contracts.disburse_application(w["ops"], app.ref)
    loan = Loan.objects.get(ref=done.loan_ref)
    assert loan.segment == SME
    q = Quota.objects.get(pk=sme)
    assert (q.reserved_minor, q.consumed_minor, q.outstanding_minor) == (0, 3_000_000, 3_000_000)


def test_a_manual_approval_reserves_under_the_segment_and_its_loan_carries_it(app_world: dict[str, Any]  # noqa: F811
                                                                               ) -> None:
    from application_data import REFER

    from creditplan.documents import contracts
    from creditplan.origination import services as origination
    from factories import PASSWORD, resident_id

    w = app_world
    sme = _segment_quota(w, w["plan"].id, w["plan"].root.id)
    _bank_holds_segment()
    v = origination.submit_application(w["officer_bj"], customer_id=w["customers"][0], product="consumer",
                                       amount="30000.00", term=12, inputs=dict(REFER), channel="branch")
    assert v.status == "referred" and not Reservation.objects.filter(application_ref=v.ref).exists()
    origination.approve(w["risk"], v.ref, "compensating_factors", "long-standing customer")
    assert Reservation.objects.get(application_ref=v.ref).segment == SME  # the reviewer's approval reserved it so
    assert Quota.objects.get(pk=sme).reserved_minor == 3_000_000
    c = contracts.offer_contract(w["officer_bj"], v.ref)
    contracts.sign_contract(w["customer"], v.ref, password=PASSWORD, id_last4=resident_id(1)[-4:],
                            seen_sha256=c.sha256)
    done = contracts.disburse_application(w["ops"], v.ref)
    assert Loan.objects.get(ref=done.loan_ref).segment == SME
    q = Quota.objects.get(pk=sme)
    assert (q.reserved_minor, q.consumed_minor, q.outstanding_minor) == (0, 3_000_000, 3_000_000)
