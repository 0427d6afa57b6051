"""Classification by the 2023 rules (商业银行金融资产风险分类办法, 银保监会 中国人民银行令〔2023〕第1号, in force
1 July 2023) and the four-eyes queue of loan changes (issue 18 §2). Every date below is worked by hand in the
comments (month arithmetic clamps to the month end, as core.daycount.add_months)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from django.db import transaction

from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.customers.models import Customer
from creditplan.ledger.models import Event
from creditplan.loans import accounting, approvals, cob
from creditplan.loans.domain import accounts
from creditplan.loans.domain import kernel as K
from creditplan.loans.domain.accounts import Line
from creditplan.loans.models import Installment, Loan, LoanActivity, LoanChangeRequest, Restructuring
from creditplan.loans.restructure import restructure
from creditplan.org import services as org

D = dt.date


def o(d: dt.date) -> int:
    return d.toordinal()


def day_of(v: Any) -> dt.date | None:
    return dt.date.fromordinal(int(v)) if int(v) else None


# --- the kernel: cure before upgrade -----------------------------------------------------------------------

def _state(n: int, **cols: list[int]) -> dict[str, np.ndarray]:
    s = K.empty_state(n)
    s["current_seq"][:] = 0  # nothing accrues or falls due in these tests: only the classification moves
    for k, v in cols.items():
        s[k] = np.array(v, dtype=np.int64)
    return s


def _night(state: dict[str, np.ndarray], day: dt.date, *, months: list[int], company: list[int] | None = None,
           customer: list[int] | None = None) -> dict[str, np.ndarray]:
    """One night's classification: fall_due (nothing falls due) then classify_day, as assess runs it."""
    n = len(months)
    prm = {"late_fee_minor": np.zeros(n, np.int64), "late_fee_days": np.zeros(n, np.int64),
           "auto_debit": np.zeros(n, np.int64), "months_per_period": np.array(months, np.int64),
           "non_retail": np.array(company or [0] * n, np.int64)}
    res = K.fall_due(state, prm, o(day))
    K.classify_day(res, prm, np.array(customer or list(range(n)), np.int64))
    return res.state


def test_an_upgrade_out_of_non_performing_waits_for_the_longer_of_six_months_and_two_periods() -> None:
    # Three 次级 loans whose arrears were cleared before the close of 2025-06-20 (dpd 0, nothing overdue):
    #  A monthly, next due 2025-07-15: six months → 2025-12-20; two periods → 2025-08-15 (07-15 + 1 month);
    #    the longer: cure until 2025-12-20.
    #  B half-yearly, next due 2025-12-31: six months → 2025-12-20; two periods → 2026-06-30 (12-31 + 6 months,
    #    clamped to the 30th); the longer: 2026-06-30.
    #  C is 正常 and 91 days past due tonight: a downgrade is immediate (次级 at once).
    s = _state(3, risk_class=[3, 3, 1], next_due_date=[o(D(2025, 7, 15)), o(D(2025, 12, 31)), 0],
               dpd=[0, 0, 91], oldest_due_date=[0, 0, o(D(2025, 3, 21))], overdue_principal_minor=[0, 0, 100_000])
    s = _night(s, D(2025, 6, 20), months=[1, 6, 1])
    assert s["risk_class"].tolist() == [3, 3, 3]  # A and B refused the upgrade; C downgraded at once
    assert [day_of(x) for x in s["cure_until"]] == [D(2025, 12, 20), D(2026, 6, 30), None]

    s = _night(s, D(2025, 12, 19), months=[1, 6, 1])
    assert s["risk_class"][:2].tolist() == [3, 3]  # the day before A's cure ends: still refused
    s = _night(s, D(2025, 12, 20), months=[1, 6, 1])
    assert s["risk_class"][:2].tolist() == [1, 3]  # A upgraded on the day its cure ends; B waits
    assert int(s["cure_until"][0]) == 0
    s = _night(s, D(2026, 6, 29), months=[1, 6, 1])
    assert int(s["risk_class"][1]) == 3
    s = _night(s, D(2026, 6, 30), months=[1, 6, 1])
    assert int(s["risk_class"][1]) == 1


def test_a_miss_during_the_cure_restarts_it() -> None:
    # cured on 2025-06-20 (cure until 2025-12-20), then the 2025-09-15 installment is missed: on 2025-09-16
    # (dpd 1, principal overdue) the cure stops — 次级 still, not the 关注 the DPD alone would give.
    s = _state(1, risk_class=[3], next_due_date=[o(D(2025, 7, 15))])
    s = _night(s, D(2025, 6, 20), months=[1])
    assert day_of(s["cure_until"][0]) == D(2025, 12, 20)
    s["dpd"][0], s["oldest_due_date"][0], s["overdue_principal_minor"][0] = 1, o(D(2025, 9, 15)), 100_000
    s["next_due_date"][0] = o(D(2025, 10, 15))
    s = _night(s, D(2025, 9, 16), months=[1])
    assert (int(s["risk_class"][0]), int(s["cure_until"][0])) == (3, 0)
    # paid on 2025-09-25: the cure starts again — six months → 2026-03-25 (two periods → 2025-11-15)
    s["dpd"][0], s["oldest_due_date"][0], s["overdue_principal_minor"][0] = 0, 0, 0
    s = _night(s, D(2025, 9, 25), months=[1])
    assert (int(s["risk_class"][0]), day_of(s["cure_until"][0])) == (3, D(2026, 3, 25))
    s = _night(s, D(2025, 12, 20), months=[1])  # the old end date no longer upgrades it
    assert int(s["risk_class"][0]) == 3
    s = _night(s, D(2026, 3, 25), months=[1])
    assert int(s["risk_class"][0]) == 1


def test_a_missed_repayment_restarts_the_restructuring_observation_from_the_missed_due_date() -> None:
    # Observed until 2026-02-15 (pre-restructuring class 正常). The 2025-05-15 installment is missed: on
    # 2025-05-16 the observation restarts from 2025-05-15 — monthly: max(12, 2 × 1) = 12 months → 2026-05-15;
    # the yearly loan: max(12, 2 × 12) = 24 months → 2027-05-15.
    s = _state(2, risk_class=[2, 2], restructured_until=[o(D(2026, 2, 15))] * 2, pre_restructure_class=[1, 1],
               dpd=[1, 1], oldest_due_date=[o(D(2025, 5, 15))] * 2, overdue_principal_minor=[50_000] * 2)
    s = _night(s, D(2025, 5, 16), months=[1, 12])
    assert [day_of(x) for x in s["restructured_until"]] == [D(2026, 5, 15), D(2027, 5, 15)]
    assert s["risk_class"].tolist() == [2, 2]


def test_the_ten_percent_debtor_rule_applies_to_companies_not_to_individuals() -> None:
    # Each debtor owes 900 (current) + 101 (100 days past due, 次级): 101 / 1,001 = 10.09 % > 10 %.
    # Debtor 1 is a company: both its loans are 次级. Debtor 2 is an individual: loan by loan.
    s = _state(4, dpd=[0, 100, 0, 100], principal_outstanding_minor=[900, 101, 900, 101],
               oldest_due_date=[0, o(D(2025, 2, 6))] * 2, overdue_principal_minor=[0, 101, 0, 101])
    s = _night(s, D(2025, 5, 17), months=[1] * 4, company=[1, 1, 0, 0], customer=[1, 1, 2, 2])
    assert s["risk_class"].tolist() == [3, 3, 1, 3]


def test_the_vectorised_month_arithmetic_agrees_with_add_months() -> None:
    from creditplan.core.daycount import add_months

    days = [D(2024, 1, 31), D(2024, 2, 29), D(2025, 8, 31), D(2025, 12, 31), D(2025, 6, 15)]
    for k in (1, 2, 6, 12, 24):
        got = K.add_months(np.array([o(d) for d in days]), k)
        assert [day_of(x) for x in got] == [add_months(d, k) for d in days]
    assert K.add_months(np.array([0]), 6).tolist() == [0]  # NULL stays NULL


# --- in the database: the close, the observation start ---------------------------------------------------

def test_the_close_applies_the_debtor_rule_to_a_company_and_not_to_an_individual(loan_world: dict[str, Any],
                                                                                  make_loan: Any) -> None:
    loans = {}
    for c in (0, 1):
        loans[c] = (make_loan(amount="90000.00", customer=c), make_loan(amount="20000.00", customer=c))
        Loan.objects.filter(pk=loans[c][1].pk).update(oldest_due_date=D(2024, 10, 13), overdue_principal_minor=100_000,
                                                      dpd=94)
    Customer.objects.filter(pk=loan_world["customers"][0]).update(kind="company")
    cob.run_close(D(2025, 1, 16))
    got = {c: [Loan.objects.get(pk=x.pk).risk_class for x in pair] for c, pair in loans.items()}
    # 20,000 of 110,000 (18.2 %) is non-performing: the company's current loan is 次级 too, the individual's not
    assert got == {0: [3, 3], 1: [1, 3]}


def _close(loan: Loan, day: dt.date) -> Loan:
    cob.advance_loan(loan, day)
    return Loan.objects.select_related("product", "branch").get(pk=loan.pk)


def _credit(loan: Loan, amount: int, on: dt.date) -> None:
    """Money held for the customer; the auto-debit pays the installment with it on the due date."""
    with transaction.atomic():
        Loan.objects.filter(pk=loan.pk).update(credit_minor=loan.credit_minor + amount)
        accounting.post_entry(on, "repayment", [Line(accounts.CASH, loan.branch.code, amount),
                                                Line(accounts.CUSTOMER_CREDIT, loan.branch.code, -amount)], loan=loan)


def test_observation_starts_at_the_first_repayment_after_the_change_and_restarts_on_a_miss(
        make_loan: Any, loan_world: dict[str, Any]) -> None:
    loan = _close(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 10))
    loan = restructure(loan_world["approver_bj"], loan.ref, kind="extend_term", extend_periods=6, reason="income fell")
    # effective 2025-02-11; the first repayment date after the change is 2025-02-15: + 12 months = 2026-02-15
    assert loan.restructured_until == D(2026, 2, 15)
    first = Installment.objects.get(loan=loan, version=2, seq=1)
    _credit(loan, first.principal_minor + first.interest_minor + first.fee_minor, D(2025, 2, 14))
    loan = _close(loan, D(2025, 3, 15))
    assert loan.dpd == 0 and loan.restructured_until == D(2026, 2, 15)  # paid on time: unchanged
    loan = _close(loan, D(2025, 3, 16))  # the 2025-03-15 installment is missed
    assert loan.dpd == 1 and loan.risk_class == 2
    assert loan.restructured_until == D(2026, 3, 15)  # restarted from the missed due date: + 12 months


# --- extension (展期) apart from restructuring -----------------------------------------------------------

def test_an_extension_for_a_borrower_not_in_difficulty_sets_no_floor_and_no_observation(
        make_loan: Any, loan_world: dict[str, Any]) -> None:
    loan = _close(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 10))
    loan = restructure(loan_world["approver_bj"], loan.ref, kind="extension", extend_periods=6,
                       reason="project runs longer")
    assert (loan.term, loan.maturity_date) == (18, D(2026, 7, 15))
    assert (loan.risk_class, loan.restructured_until, loan.restructure_count) == (1, None, 0)
    activity = LoanActivity.objects.get(loan=loan, kind="restructured")
    assert (activity.clause, activity.detail["restructuring"], activity.detail["observation_until"]) == (
        "extension", "extension", None)
    assert Event.objects.filter(kind="loan.extended", subject_id=loan.ref).count() == 1
    assert Restructuring.objects.get(loan=loan).observation_until is None


def test_a_borrower_in_arrears_is_restructured_not_extended(make_loan: Any, loan_world: dict[str, Any]) -> None:
    loan = _close(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 20))
    assert loan.dpd == 5
    with pytest.raises(Conflict) as e:
        restructure(loan_world["approver_bj"], loan.ref, kind="extension", extend_periods=6, reason="cannot pay")
    assert e.value.code == "extension_needs_normal_loan"
    assert Loan.objects.get(pk=loan.pk).schedule_version == 1


# --- the four-eyes queue ------------------------------------------------------------------------------------

@pytest.fixture
def others(loan_world: dict[str, Any]) -> dict[str, Any]:
    return {"risk2": org.create_user(None, username="risk2", password="x" * 12, role="risk_manager",
                                     branch_code="HO", display_name="风险二"),
            "approver_sh": org.create_user(None, username="approver_sh", password="x" * 12, role="approver",
                                           branch_code="SH", display_name="上海审批")}


def test_manual_classification_with_four_eyes(make_loan: Any, loan_world: dict[str, Any],
                                              others: dict[str, Any]) -> None:
    risk, risk2 = loan_world["risk"], others["risk2"]
    loan = _close(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 1, 20))
    req = approvals.propose(risk, "classification", loan.ref, params={"risk_class": 2},
                            reason="borrower's employer announced lay-offs")
    assert req.status == "pending" and Loan.objects.get(pk=loan.pk).risk_class == 1  # nothing before approval
    with pytest.raises(Conflict) as e:
        approvals.decide(risk, req.pk, approve=True)
    assert e.value.code == "maker_checker"
    assert LoanChangeRequest.objects.get(pk=req.pk).status == "pending"
    with pytest.raises(Conflict) as e:  # one pending request per loan and kind
        approvals.propose(risk2, "classification", loan.ref, params={"risk_class": 3}, reason="again")
    assert e.value.code == "change_pending"
    req = approvals.decide(risk2, req.pk, approve=True, note="agreed")
    loan.refresh_from_db()
    assert (req.status, req.decided_by, loan.manual_class, loan.risk_class) == ("approved", risk2, 2, 2)
    assert req.result["risk_class"] == 2 and req.result["risk_class_before"] == 1
    assert Event.objects.filter(kind="loan.change_proposed", subject_id=loan.ref).count() == 1
    assert Event.objects.filter(kind="loan.change_decided", subject_id=loan.ref).count() == 1
    # the floor holds against the DPD: current (dpd 0 → 正常 by days) yet 关注
    loan = _close(loan, D(2025, 2, 10))
    assert (loan.dpd, loan.risk_class) == (0, 2)
    # the DPD may make it worse: 2025-02-15 unpaid, 2025-05-17 is 91 days past due → 次级
    loan = _close(loan, D(2025, 5, 16))
    assert (loan.dpd, loan.risk_class) == (90, 2)
    loan = _close(loan, D(2025, 5, 17))
    assert (loan.dpd, loan.risk_class) == (91, 3)

    # lifted the same way (another loan, current, to see the class follow the DPD again)
    other = _close(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15), customer=1), D(2025, 1, 20))
    req = approvals.propose(risk, "classification", other.ref, params={"risk_class": "2"}, reason="watch")
    approvals.decide(risk2, req.pk, approve=True)
    other = _close(other, D(2025, 1, 25))
    assert other.risk_class == 2
    lift = approvals.propose(risk, "classification", other.ref, params={"lift": True}, reason="lay-offs averted")
    approvals.decide(risk2, lift.pk, approve=True)
    other = _close(other, D(2025, 1, 26))
    assert (other.manual_class, other.dpd, other.risk_class) == (0, 0, 1)
    kinds = list(LoanActivity.objects.filter(loan=other).values_list("kind", flat=True))
    assert kinds.count("manual_class") == 1 and kinds.count("manual_class_lifted") == 1


def test_a_rejected_change_does_nothing(make_loan: Any, loan_world: dict[str, Any], others: dict[str, Any]) -> None:
    loan = make_loan()
    req = approvals.propose(loan_world["risk"], "classification", loan.ref, params={"risk_class": 4}, reason="x")
    req = approvals.decide(others["risk2"], req.pk, approve=False, note="no evidence")
    loan.refresh_from_db()
    assert (req.status, req.note, loan.manual_class, loan.risk_class) == ("rejected", "no evidence", 0, 1)
    with pytest.raises(Conflict) as e:
        approvals.decide(loan_world["admin"], req.pk, approve=True)
    assert e.value.code == "already_decided"


@pytest.mark.parametrize(("kind", "params", "reason", "error", "field"), [
    ("promote", {"risk_class": 2}, "r", ValidationError, "kind"),  # unknown kind
    ("classification", {"risk_class": 2}, "   ", ValidationError, "reason"),  # no reason
    ("classification", {"risk_class": 1}, "r", ValidationError, "risk_class"),  # a floor of 正常 means nothing
    ("classification", {"risk_class": 6}, "r", ValidationError, "risk_class"),
    ("classification", {"risk_class": 2, "until": "2020-01-01"}, "r", ValidationError, "until"),
    ("classification", {"lift": True}, "r", Conflict, "lift"),  # nothing to lift
    ("classification", {"risk_class": 2, "colour": "red"}, "r", ValidationError, "colour"),
])
def test_the_queue_refuses_bad_proposals_and_writes_nothing(make_loan: Any, loan_world: dict[str, Any], kind: str,
                                                            params: dict, reason: str, error: type,
                                                            field: str) -> None:
    loan = make_loan()
    with pytest.raises(error) as e:
        approvals.propose(loan_world["risk"], kind, loan.ref, params=params, reason=reason)
    assert e.value.field == field
    assert not LoanChangeRequest.objects.exists()


def test_the_queue_keeps_branches_apart_and_asks_for_the_permissions(make_loan: Any, loan_world: dict[str, Any],
                                                                     others: dict[str, Any]) -> None:
    loan = make_loan()  # a BJ01 loan
    with pytest.raises(NotFound):  # another branch's loan is a loan that does not exist
        approvals.propose(others["approver_sh"], "restructure", loan.ref,
                          params={"kind": "extend_term", "extend_periods": 2}, reason="r")
    with pytest.raises(Forbidden):  # a loan officer may not propose a class
        approvals.propose(loan_world["officer_bj"], "classification", loan.ref, params={"risk_class": 2}, reason="r")
    req = approvals.propose(loan_world["risk"], "classification", loan.ref, params={"risk_class": 2}, reason="r")
    with pytest.raises(NotFound):
        approvals.decide(others["approver_sh"], req.pk, approve=True)
    with pytest.raises(Forbidden):
        approvals.decide(loan_world["officer_bj"], req.pk, approve=True)
    assert approvals.pending(others["approver_sh"]) == []
    assert [r.pk for r in approvals.pending(loan_world["approver_bj"], loan=loan)] == [req.pk]
    assert LoanChangeRequest.objects.get(pk=req.pk).status == "pending"


def test_a_restructuring_goes_through_the_queue_and_is_rechecked_at_the_decision(
        make_loan: Any, loan_world: dict[str, Any], others: dict[str, Any]) -> None:
    approver = loan_world["approver_bj"]
    loan = _close(make_loan(amount="12000.00", term=12, start=D(2025, 1, 15)), D(2025, 2, 10))
    with pytest.raises(ValidationError) as e:  # checked at the proposal (a dry run: nothing written)
        approvals.propose(approver, "restructure", loan.ref, params={"kind": "extend_term"}, reason="r")
    assert e.value.field == "extend_periods"
    req = approvals.propose(approver, "restructure", loan.ref, params={"kind": "extend_term", "extend_periods": 6},
                            reason="income fell")
    assert Loan.objects.get(pk=loan.pk).schedule_version == 1
    req = approvals.decide(loan_world["risk"], req.pk, approve=True)  # the checker need not restructure herself
    loan.refresh_from_db()
    assert (loan.schedule_version, loan.term, loan.risk_class) == (2, 18, 2)
    assert req.result["schedule_version"] == 2 and req.result["observation_until"] == "2026-02-15"
    # re-checked at the decision: proposed to take effect on 2025-02-11, decided after the close of 2025-02-12
    req = approvals.propose(approver, "restructure", loan.ref, params={
        "kind": "change_method", "new_method": "equal-principal", "effective_date": "2025-02-11"}, reason="r")
    loan = _close(loan, D(2025, 2, 12))
    with pytest.raises(ValidationError) as e:  # its effective date is closed: refused, nothing is written
        approvals.decide(others["risk2"], req.pk, approve=True)
    assert e.value.code == "date_closed"
    assert LoanChangeRequest.objects.get(pk=req.pk).status == "pending"
    assert Loan.objects.get(pk=loan.pk).schedule_version == 2


# --- the API and the pages ----------------------------------------------------------------------------------

def _token(client: Any, user: str) -> dict[str, str]:
    from factories import PASSWORD

    r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD}, content_type="application/json")
    return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}


def test_the_api_proposes_lists_and_decides(client: Any, make_loan: Any, loan_world: dict[str, Any]) -> None:
    loan = make_loan()
    risk, approver = _token(client, "risk"), _token(client, "approver_bj")
    r = client.post(f"/api/v1/loans/{loan.ref}/changes", {"kind": "classification", "params": {"risk_class": 3},
                                                         "reason": "fraud suspected"},
                    content_type="application/json", **risk)
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["status"], body["params"]["risk_class"], body["proposed_by"]) == ("pending", 3, "risk")
    bad = client.post(f"/api/v1/loans/{loan.ref}/changes", {"kind": "nope", "params": {}, "reason": "r"},
                      content_type="application/json", **risk)
    assert bad.status_code == 422, bad.content
    assert "kind" in {e.get("field") for e in bad.json().get("errors", [])} | {bad.json().get("field")}
    listed = client.get("/api/v1/loans/changes", **approver).json()
    assert [c["id"] for c in listed] == [body["id"]]
    own = client.post(f"/api/v1/loans/changes/{body['id']}/decision", {"approve": True},
                      content_type="application/json", **risk)
    assert own.status_code == 409
    done = client.post(f"/api/v1/loans/changes/{body['id']}/decision", {"approve": True, "note": "ok"},
                       content_type="application/json", **approver)
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert done.json()["result"]["risk_class"] == 3 and Loan.objects.get(pk=loan.pk).risk_class == 3


def test_the_checkers_page_in_chinese_names_the_proposer_and_decides(client: Any, make_loan: Any,
                                                                    loan_world: dict[str, Any],
                                                                    others: dict[str, Any]) -> None:
    from factories import PASSWORD

    loan = make_loan()
    req = approvals.propose(others["risk2"], "classification", loan.ref, params={"risk_class": 2},
                            reason="行业下行")
    assert client.login(username="risk", password=PASSWORD)
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    page = client.get("/loans/changes/", **zh).content.decode()
    assert "风险二" in page and "行业下行" in page and "人工风险分类" in page and "关注" in page
    assert "classification" not in page and "Approve" not in page
    r = client.post(f"/loans/changes/{req.pk}/decide/", {"decision": "approve", "next": f"/loans/{loan.ref}/"}, **zh)
    assert r.status_code == 302 and r["Location"] == f"/loans/{loan.ref}/"
    page = client.get(f"/loans/{loan.ref}/", **zh).content.decode()
    assert 'id="classification-note"' in page and "行业下行" in page
