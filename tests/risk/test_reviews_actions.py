"""The action a post-loan review records on the customer's credit line: a freeze takes effect at once whoever records
it (the customer's next application is declined), a reduction at once when an approver records it and as a proposal
for an approver when a loan officer does; restructuring and recovery are recorded and done on the loan's page."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from creditplan.core.errors import ValidationError
from creditplan.ledger import services as ledger
from creditplan.lines import services as lines
from creditplan.risk.models import ReviewTask, WatchEntry
from creditplan.risk.services import reviews, signals

TESTS = Path(__file__).resolve().parents[1]
for folder in ("origination", "lines"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from line_data import in_a_year  # noqa: E402


@pytest.fixture
def world(bank: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import application_data

    settings.CREDITPLAN_BUREAU_CLIENT = application_data.BUREAU
    settings.DOCUMENT_DIR = tmp_path / "documents"
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)
    application_data.BUREAU_FILE.clear()
    return application_data.make_world(bank)


def _line(world: Any, amount: str = "50000.00", customer: int = 0) -> Any:
    change = lines.propose_line(world["officer_bj"], customer_id=world["customers"][customer], amount=amount,
                                expires_on=in_a_year(), reason="annual review")
    lines.decide_change(world["approver_bj"], change.id, approve=True, note="ok")
    return lines.get_line(world["risk"], change.line_id)


def _apply(world: Any, amount: str, customer: int = 0) -> Any:
    from application_data import GOOD

    from creditplan.origination import services as origination

    return origination.submit_application(world["officer_bj"], customer_id=world["customers"][customer],
                                          product="consumer", amount=amount, term=12, inputs=dict(GOOD),
                                          channel="branch")


def _task(world: Any, customer: int = 0, level: str = "red") -> ReviewTask:
    from creditplan.customers.models import Customer

    cid = world["customers"][customer]
    day = dt.date.today()
    entry = WatchEntry.objects.create(customer_id=cid, branch_id=Customer.objects.get(pk=cid).branch_id,
                                      entered_on=day, entry_level=level, level=level, peak_level=level, updated_on=day,
                                      reason={"score": 85, "rule": "score_red", "message_en": "Weighted score of 80 "
                                              "or more", "message_zh": "加权得分80分及以上", "signals": []})
    reviews.on_watch_changes(signals.WatchChanges(day, (signals.WatchChange(entry.pk, cid, "entered", level, day),)))
    return ReviewTask.objects.get(customer_id=cid, status="open")


TODAY = dt.date.today().isoformat


@pytest.mark.django_db
def test_the_officer_freezes_the_line_at_once_and_the_next_application_is_declined(world):
    line = _line(world)
    task = _task(world)
    assert task.owner.username == "officer_bj"
    view = reviews.record_review(world["officer_bj"], task.pk, contact_on=TODAY(), channel="visit",
                                 findings="企业停产，法人失联", action="freeze")
    assert (view.status, view.action, view.action_result) == ("done", "freeze", "frozen")
    frozen = lines.get_line(world["risk"], line.id)
    assert frozen.state == "frozen" and frozen.freeze_reason.startswith(f"R{task.pk}: 企业停产")
    assert frozen.changes[0].id == view.line_change_id and frozen.changes[0].immediate
    events = [e.kind for e in ledger.history(world["auditor"], "review_task", str(task.pk))]
    assert events[0] == "risk.review_recorded"  # newest first
    decided = _apply(world, "10000.00")
    assert decided.status == "declined"
    assert "LINE_FROZEN" in decided.reason_codes
    assert any("授信额度已冻结" in r for r in decided.reasons_zh)


@pytest.mark.django_db
def test_an_officer_proposes_a_reduction_an_approver_reduces_at_once_never_below_what_is_used(world):
    line = _line(world, "50000.00")
    _apply(world, "30000.00")  # approved straight through: 30,000.00 reserved on the line
    task = _task(world)
    with pytest.raises(ValidationError) as refused:
        reviews.record_review(world["approver_bj"], task.pk, contact_on=TODAY(), channel="call", findings="收入下降",
                              action="reduce", amount="29999.99")
    assert [(p.field, p.code) for p in refused.value.problems] == [("amount", "below_used")]
    assert ReviewTask.objects.get(pk=task.pk).status == "open"
    view = reviews.record_review(world["officer_bj"], task.pk, contact_on=TODAY(), channel="call",
                                 findings="收入下降", action="reduce", amount="35000.00")
    assert view.action_result == "proposed"
    waiting = lines.get_line(world["risk"], line.id)
    assert waiting.amount_minor == 5_000_000 and waiting.pending is not None
    assert (waiting.pending.kind, waiting.pending.amount_minor, waiting.pending.proposed_by) == (
        "reduce", 3_500_000, "officer_bj")
    lines.decide_change(world["approver_bj"], waiting.pending.id, approve=True)
    assert lines.get_line(world["risk"], line.id).amount_minor == 3_500_000

    other = _line(world, "80000.00", customer=1)
    task2 = _task(world, customer=1)
    view = reviews.record_review(world["approver_bj"], task2.pk, contact_on=TODAY(), channel="visit",
                                 findings="担保人资产减少", action="reduce", amount="40000.00")
    assert view.action_result == "reduced"
    assert lines.get_line(world["risk"], other.id).amount_minor == 4_000_000


@pytest.mark.django_db
def test_restructure_and_recovery_are_recorded_and_keep_the_line(world):
    line = _line(world)
    task = _task(world)
    view = reviews.record_review(world["officer_bj"], task.pk, contact_on=TODAY(), channel="visit",
                                 findings="短期流动性困难，建议展期", action="restructure")
    assert (view.action, view.action_result, view.line_change_id) == ("restructure", "recorded", None)
    assert lines.get_line(world["risk"], line.id).state == "active"


@pytest.mark.django_db
def test_approvers_assign_a_task_to_an_officer_of_the_branch(world):
    from creditplan.org import services as org
    from factories import PASSWORD

    task = _task(world)
    officer2 = org.create_user(None, username="officer_bj2", password=PASSWORD, role="loan_officer",
                               branch_code="BJ01")
    with pytest.raises(ValidationError) as refused:
        reviews.assign_task(world["approver_bj"], task.pk, world["officer_sh"].pk)
    assert refused.value.field == "owner"
    view = reviews.assign_task(world["approver_bj"], task.pk, officer2.pk)
    assert (view.owner, view.owner_source) == ("officer_bj2", "assigned")
    assert [t.id for t in reviews.list_tasks(officer2)] == [task.pk]
    assert reviews.list_tasks(world["officer_bj"]) == []
