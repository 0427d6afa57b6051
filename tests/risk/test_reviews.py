"""Post-loan review tasks (issue 17, item 3): a task per customer entering the watch list, due in working days, owned
by the officer who entered their latest application or a loan officer of their branch, seen by them and their
approvers; the visit recorded with its action (the line frozen at once, a reduction at once for an approver and
proposed for an officer); escalation of overdue tasks to the approvers then the risk managers; the routine checks 30
days after a business loan and every year."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.customers import services as customers
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.risk.domain import reviews as rules
from creditplan.risk.models import ReviewTask, WatchEntry
from creditplan.risk.services import reviews, signals
from factories import PASSWORD, company, individual

ORIGINATION_TESTS = str(Path(__file__).resolve().parents[1] / "origination")
if ORIGINATION_TESTS not in sys.path:
    sys.path.insert(0, ORIGINATION_TESTS)

MONDAY = dt.date(2025, 3, 10)


def _enter(customer_id: int, level: str, day: dt.date = MONDAY, *, listen: bool = True) -> WatchEntry:
    """The customer enters the watch list on `day` at `level` (as the signals' run would), and the run's listener is
    told."""
    from creditplan.customers.models import Customer

    c = Customer.objects.get(pk=customer_id)
    entry = WatchEntry.objects.create(
        customer_id=customer_id, branch_id=c.branch_id, entered_on=day, entry_level=level, level=level,
        peak_level=level, updated_on=day, reason={
            "score": 85 if level == "red" else 60, "rule": f"score_{level}", "message_en": f"Weighted score ({level})",
            "message_zh": f"加权得分（{level}）", "signals": [{"code": "dpd_rising", "weight": 15, "figures": {
                "to": 20, "week": 13, "month": 0}}]})
    if listen:
        reviews.on_watch_changes(signals.WatchChanges(day, (signals.WatchChange(entry.pk, customer_id, "entered",
                                                                                level, day),)))
    return entry


@pytest.fixture
def people(bank: dict[str, Any]) -> dict[str, Any]:
    """Two BJ01 customers and one in SH01; a second loan officer in BJ01; a BJ01 approver."""
    made = [customers.create_customer(bank[officer], individual(n, branch=b)).id
            for n, b, officer in ((1, "BJ01", "officer_bj"), (2, "BJ01", "officer_bj"), (3, "SH01", "officer_sh"))]
    officer2 = org.create_user(None, username="officer_bj2", password=PASSWORD, role="loan_officer",
                               branch_code="BJ01")
    approver01 = org.create_user(None, username="approver_bj01", password=PASSWORD, role="approver",
                                 branch_code="BJ01")
    return {**bank, "customers": made, "officer_bj2": officer2, "approver_bj01": approver01}


@pytest.mark.django_db
def test_entering_the_watch_list_makes_one_task_due_in_working_days_owned_by_a_branch_officer(people):
    bj1, _bj2, sh = people["customers"]
    _enter(bj1, "orange")
    _enter(sh, "red")
    task = ReviewTask.objects.get(customer_id=bj1)
    # created on Monday 10 March 2025: orange is due 10 working days later (two weeks), red 3 (Thursday)
    assert (task.kind, task.level, task.status, task.created_on, task.due_on) == (
        "watch", "orange", "open", MONDAY, dt.date(2025, 3, 24))
    assert ReviewTask.objects.get(customer_id=sh).due_on == dt.date(2025, 3, 13)
    # no application entered for them: a loan officer of their branch, the one with the fewest open tasks
    assert task.owner.username == "officer_bj" and task.owner_source == "branch"
    assert ReviewTask.objects.get(customer_id=sh).owner.username == "officer_sh"
    # the same move told twice creates nothing twice
    entry = WatchEntry.objects.get(customer_id=bj1)
    reviews.on_watch_changes(signals.WatchChanges(MONDAY, (signals.WatchChange(entry.pk, bj1, "entered", "orange",
                                                                               MONDAY),)))
    assert ReviewTask.objects.filter(customer_id=bj1).count() == 1
    assert ledger.history(people["auditor"], "review_task", str(task.pk))[0].kind == "risk.review_created"


@pytest.mark.django_db
def test_owners_share_the_load_and_the_officer_of_the_latest_application_comes_first(people):
    bj1, bj2, _sh = people["customers"]
    _enter(bj1, "orange")
    _enter(bj2, "orange")
    owners = {t.customer_id: t.owner.username for t in ReviewTask.objects.all()}
    # two officers in BJ01: the second task goes to the one without any
    assert sorted(owners.values()) == ["officer_bj", "officer_bj2"]


@pytest.mark.django_db
def test_the_officer_who_entered_the_latest_application_owns_the_task(bank, settings, tmp_path, monkeypatch):
    import application_data

    from creditplan.origination import services as origination

    settings.CREDITPLAN_BUREAU_CLIENT = application_data.BUREAU
    settings.DOCUMENT_DIR = tmp_path / "documents"
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
    world = application_data.make_world(bank)
    org.create_user(None, username="officer_bj2", password=PASSWORD, role="loan_officer", branch_code="BJ01")
    cid = world["customers"][1]
    origination.submit_application(world["officer_bj"], customer_id=cid, product="consumer", amount="30000.00",
                                   term=12, inputs=dict(application_data.GOOD), channel="branch")
    _enter(world["customers"][2], "orange")  # a tie on load (none each): the lower id, officer_bj
    _enter(cid, "red")
    task = ReviewTask.objects.get(customer_id=cid)
    assert (task.owner.username, task.owner_source) == ("officer_bj", "application")


@pytest.mark.django_db
def test_a_customer_turning_red_brings_the_open_task_forward_and_after_a_done_task_gets_a_new_one(people):
    bj1 = people["customers"][0]
    entry = _enter(bj1, "orange")
    thursday = dt.date(2025, 3, 13)
    entry.level = entry.peak_level = "red"
    entry.escalated_on = thursday
    entry.save()
    reviews.on_watch_changes(signals.watch_changes(thursday))
    task = ReviewTask.objects.get(customer_id=bj1)
    assert (task.level, task.due_on) == ("red", dt.date(2025, 3, 18))  # 3 working days from Thursday: Tuesday
    assert ledger.history(people["auditor"], "review_task", str(task.pk))[0].kind == "risk.review_level_raised"
    reviews.record_review(people["officer_bj"], task.pk, contact_on="2025-03-10", channel="visit",
                          findings="经营正常，暂时资金周转困难", action="keep")
    # the daily job finds the entry reviewed at red: nothing new
    reviews.run_reviews(dt.date(2025, 3, 14))
    assert ReviewTask.objects.filter(customer_id=bj1).count() == 1


@pytest.mark.django_db
def test_the_officer_sees_their_tasks_the_approver_their_branch_others_nothing(people):
    bj1, bj2, sh = people["customers"]
    for c in (bj1, bj2, sh):
        _enter(c, "orange")
    mine = {t.customer_id for t in reviews.list_tasks(people["officer_bj"])}
    assert mine == {ReviewTask.objects.get(owner__username="officer_bj", customer_id__in=(bj1, bj2)).customer_id}
    assert {t.customer_id for t in reviews.list_tasks(people["approver_bj"])} == {bj1, bj2}
    assert {t.customer_id for t in reviews.list_tasks(people["risk"])} == {bj1, bj2, sh}
    sh_task = ReviewTask.objects.get(customer_id=sh)
    with pytest.raises(NotFound):
        reviews.get_task(people["officer_bj"], sh_task.pk)
    with pytest.raises(NotFound):
        reviews.get_task(people["approver_bj"], sh_task.pk)
    with pytest.raises(Forbidden):
        reviews.list_tasks(people["planner"])
    other = ReviewTask.objects.get(owner__username="officer_bj2")
    with pytest.raises(NotFound):  # another officer's task of the same branch is not theirs
        reviews.record_review(people["officer_bj"], other.pk, contact_on="2025-03-10", channel="call",
                              findings="x", action="keep")


@pytest.mark.django_db
def test_a_bad_review_is_refused_naming_each_field_and_writes_nothing(people, monkeypatch):
    monkeypatch.setattr(reviews, "today", lambda: dt.date(2025, 3, 11))
    bj1 = people["customers"][0]
    _enter(bj1, "orange")
    task = ReviewTask.objects.get(customer_id=bj1)
    events = ledger.last_seq()
    with pytest.raises(ValidationError) as refused:
        reviews.record_review(task.owner, task.pk, contact_on="2025-03-12", channel="email", findings="  ",
                              action="sell")
    assert {(p.field, p.code) for p in refused.value.problems} == {
        ("contact_on", "contact_in_future"), ("channel", "unknown_channel"), ("findings", "required"),
        ("action", "unknown_action")}
    with pytest.raises(ValidationError) as refused:
        reviews.record_review(task.owner, task.pk, contact_on="2025-03-11", channel="visit", findings="x",
                              action="reduce", amount="")
    assert [p.field for p in refused.value.problems] == ["amount"]
    with pytest.raises(Conflict) as refused:  # no credit line to freeze
        reviews.record_review(task.owner, task.pk, contact_on="2025-03-11", channel="visit", findings="x",
                              action="freeze")
    assert (refused.value.code, refused.value.field) == ("no_line", "action")
    task.refresh_from_db()
    assert task.status == "open" and not task.findings and ledger.last_seq() == events
    view = reviews.record_review(task.owner, task.pk, contact_on="2025-03-11", channel="call",
                                 findings="客户称下月回款", action="collateral")
    assert (view.status, view.action, view.action_result, view.done_by) == ("done", "collateral", "recorded",
                                                                            task.owner.username)
    with pytest.raises(Conflict):
        reviews.record_review(task.owner, task.pk, contact_on="2025-03-11", channel="call", findings="again",
                              action="keep")


@pytest.mark.django_db
def test_open_tasks_escalate_to_the_approvers_then_to_the_risk_managers(people):
    bj1, _bj2, sh = people["customers"]
    _enter(bj1, "red")  # Monday 10 March: due Thursday 13 March
    _enter(sh, "orange")  # due 24 March
    task = ReviewTask.objects.get(customer_id=bj1)
    reviews.run_reviews(dt.date(2025, 3, 12))
    task.refresh_from_db()
    assert task.escalation_level == 0
    reviews.run_reviews(dt.date(2025, 3, 13))  # the close of the due date: overdue from the next morning
    task.refresh_from_db()
    assert (task.escalation_level, task.escalated_on) == (1, dt.date(2025, 3, 13))
    assert ReviewTask.objects.get(customer_id=sh).escalation_level == 0
    assert reviews.task_counts(people["approver_bj"])["escalated"] == 1
    assert reviews.task_counts(people["risk"])["escalated"] == 0
    reviews.run_reviews(dt.date(2025, 3, 19))  # 4 working days after the due date: still the approvers
    task.refresh_from_db()
    assert task.escalation_level == 1
    reviews.run_reviews(dt.date(2025, 3, 20))  # the 5th working day after it: the risk managers
    task.refresh_from_db()
    assert (task.escalation_level, task.escalated_on) == (2, dt.date(2025, 3, 20))
    assert reviews.task_counts(people["risk"])["escalated"] == 1
    kinds = [e.kind for e in ledger.history(people["auditor"], "review_task", str(task.pk))]
    assert kinds.count("risk.review_escalated") == 2
    reviews.run_reviews(dt.date(2025, 3, 20))  # again: nothing new
    assert [e.kind for e in ledger.history(people["auditor"], "review_task", str(task.pk))].count(
        "risk.review_escalated") == 2
    assert [t.id for t in reviews.list_tasks(people["risk"], escalated="2")] == [task.pk]


@pytest.mark.django_db
def test_due_dates_skip_weekends_and_holidays_and_are_configurable(people, settings):
    settings.CREDITPLAN_HOLIDAYS = ["2025-03-12"]
    settings.REVIEW_DUE_DAYS = {"red": 2}
    _enter(people["customers"][0], "red")  # Monday; Tuesday, (Wednesday a holiday), Thursday
    assert ReviewTask.objects.get().due_on == dt.date(2025, 3, 13)
    assert rules.add_working_days(dt.date(2025, 3, 14), 1, rules.WorkingCalendar()) == dt.date(2025, 3, 17)


CONSUMER = {"code": "consumer", "name": "个人消费贷", "min_amount": "1000", "max_amount": "2000000", "min_term": 1,
            "max_term": 360, "method": "equal-installment", "day_count": "30/360", "rate": "0.0435"}
BUSINESS = {**CONSUMER, "code": "business", "name": "小微经营贷"}


@pytest.mark.django_db
def test_routine_checks_thirty_days_after_a_business_loan_and_every_year(people):
    bank = people
    for p in (CONSUMER, BUSINESS):
        loans.create_product(bank["risk"], **p)
    loans.set_lpr(bank["risk"], tenor="1y", effective_date="2024-01-20", rate="0.0345")
    person, _bj2, sh = people["customers"]
    firm = customers.create_customer(bank["officer_bj"], company(1, branch="BJ01")).id
    start = dt.date(2025, 1, 15)
    loans.disburse(None, customer_id=person, product="business", amount="100000.00", term=12, start_date=start)
    loans.disburse(None, customer_id=sh, product="consumer", amount="50000.00", term=12, start_date=start)
    loans.disburse(None, customer_id=firm, product="consumer", amount="80000.00", term=12,
                   start_date=dt.date(2025, 1, 20))
    reviews.run_reviews(dt.date(2025, 2, 10))  # the first run looks at its own date only
    assert not ReviewTask.objects.exists()
    reviews.run_reviews(dt.date(2025, 2, 21))  # catches up 11–21 February: 14 Feb (+30 of 15 Jan) and 19 Feb
    checks = {t.customer_id: t for t in ReviewTask.objects.filter(kind="disbursement")}
    assert set(checks) == {person, firm}  # a business product, and any loan to a company; not the consumer loan
    assert checks[person].created_on == dt.date(2025, 2, 21) and checks[person].due_on == dt.date(2025, 3, 7)
    assert checks[person].reason["check_on"] == "2025-02-14"
    reviews.run_reviews(dt.date(2025, 2, 21))
    assert ReviewTask.objects.count() == 2
    # a year on: every customer with a loan on the book, on the anniversary of their oldest loan
    reviews.run_reviews(dt.date(2026, 1, 14))
    assert not ReviewTask.objects.filter(kind="annual").exists()
    reviews.run_reviews(dt.date(2026, 1, 15))
    annual = ReviewTask.objects.filter(kind="annual")
    assert {t.customer_id for t in annual} == {person, sh}
    assert {t.due_on for t in annual} == {dt.date(2026, 2, 12)}  # 20 working days
    reviews.run_reviews(dt.date(2026, 1, 21))
    assert {t.customer_id for t in ReviewTask.objects.filter(kind="annual")} == {person, sh, firm}


def test_anniversaries_and_escalation_levels_as_plain_rules() -> None:
    cal = rules.WorkingCalendar()
    assert rules.anniversaries_between(dt.date(2024, 2, 29), dt.date(2025, 2, 1), dt.date(2025, 3, 1)) == [
        dt.date(2025, 2, 28)]
    assert rules.anniversaries_between(dt.date(2025, 1, 15), dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == []
    due = dt.date(2025, 3, 13)  # Thursday
    assert [rules.escalation_level(due, d, 5, cal) for d in (dt.date(2025, 3, 12), due, dt.date(2025, 3, 19),
                                                             dt.date(2025, 3, 20))] == [0, 1, 1, 2]
    assert rules.parse_due_days("red=2, annual=15") == {**rules.DEFAULT_DUE_DAYS, "red": 2, "annual": 15}
    with pytest.raises(ValueError):
        rules.parse_due_days("purple=3")
