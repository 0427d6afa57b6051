"""`make demo` opens on a living post-loan department: what a customer, a risk manager and an approver find on their
pages after the demo is seeded — a credit line with room, the allowance posted and reconciled, a watch list whose
customers each have a review task, limit proposals waiting for a person, levels given by the published table.

A small book (40 customers, 24 loans with their daily closes) through the same seeding steps as `creditplan
seed-demo`: loans, indicators (risk/demo.py), then the post-loan part (risk/demo_post_loan.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from creditplan.customers import demo as customer_demo
from creditplan.customers import services as customers
from creditplan.decisions import services as decisions
from creditplan.lines import services as lines
from creditplan.loans import services as loans
from creditplan.loans.demo import seed_loans
from creditplan.org import services as org
from creditplan.risk import demo as risk_demo
from creditplan.risk.demo_post_loan import seed_post_loan
from creditplan.risk.domain import signals as sig
from creditplan.risk.models import CustomerSignal, EclRun, ReviewTask, SignalRun
from creditplan.risk.services import ecl, limits, signals
from creditplan.risk.services.behaviour import seed_behaviour_model
from factories import PASSWORD


@pytest.mark.slow
@pytest.mark.django_db
def test_the_demo_opens_on_a_living_post_loan_department(bank: dict[str, Any], settings: Any, tmp_path: Any) -> None:
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "indicators"  # as `make demo` runs (the default)
    risk, customer = bank["risk"], bank["customer"]
    risk2 = org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager", branch_code="HO",
                            display_name="risk2")
    rows = list(customer_demo.customer_rows(40, seed=3, today=timezone.localdate(), branch_codes=["BJ01", "SH01"]))
    customers.import_customers(None, rows)
    first = customers.search_customers(bank["admin"], "", page=1, kind="individual", page_size=1).items[0]
    customers.link_customer_user(first.id, customer)  # as seed-demo links the customer log-in
    seed_behaviour_model(risk, risk2, log=lambda _m: None)
    with risk_demo.snapshots_only():
        seed_loans(bank["admin"], count=24, seed=5)
    risk_demo.seed_risk()
    said: list[str] = []
    seed_post_loan(log=said.append)
    assert [s.split(":")[0] for s in said] == ["lines", "ecl", "early warning", "post-loan", "model monitoring"]

    # The customer's home page: their credit line, with room to borrow.
    mine = lines.my_line(customer)
    assert mine is not None and mine.state == "active" and mine.available_minor > 0
    web = Client()
    web.force_login(customer)
    home = web.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "可借额度" in home

    # The last month-end's allowance is posted, and the GL reconciliation shows no difference in any branch.
    last = loans.last_closed_date()
    assert last is not None
    month_end = last.replace(day=1) - dt.timedelta(days=1)
    run = EclRun.objects.filter(as_of=month_end).first()
    assert run is not None, "\n".join(said)
    assert run.posted and run.total_minor > 0
    checks = ecl.reconcile_allowance(month_end)
    assert checks and all(c.difference_minor == 0 for c in checks)
    assert sum(c.gl_minor for c in checks) == run.total_minor
    web.force_login(risk)
    page = web.get(f"/risk/ecl/?date={month_end}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="reconciliation"' in page and "Reconciled" in page and 'class="num diff"' not in page

    # The watch list has customers, and each open entry has a review task.
    entries = signals.open_watch_entries()
    assert entries
    tasked = set(ReviewTask.objects.filter(kind="watch").values_list("watch_entry_id", flat=True))
    assert all(e.id in tasked for e in entries)
    assert ReviewTask.objects.filter(status="open").exclude(kind="watch").exists()  # routine checks too

    # A limit proposal waits for a person with the authority; the rules applied others at once.
    waiting = limits.list_proposals(risk2, status="pending")
    assert waiting
    assert limits.list_proposals(risk2, status="applied")
    assert lines.list_changes(risk2, status="pending")  # …in the credit lines' approvals queue

    # Every level of the last run is the published warning-level table's answer for that customer's signals.
    stored = list(CustomerSignal.objects.filter(as_of=last))
    assert {s.level for s in stored} - {"green"}
    published = decisions.evaluate_ruleset(signals.WARNING_RULESET, [sig.facts_of(s.mask, s.score) for s in stored])
    assert SignalRun.objects.get(as_of=last).policy_version_id == published.version_id
    assert [a.outcome for a in published.answers] == [s.level for s in stored]
