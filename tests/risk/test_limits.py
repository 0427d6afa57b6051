"""Dynamic limits (issue 17, item 5): the published limit table proposes, per customer with an active line, an
increase for good payers and a cut or freeze for deteriorating ones; within policy the change applies at once, above
it the proposal waits in the credit lines' maker-checker queue; the customer is told, in their language, once a
change takes effect; every proposal keeps its reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.money import to_major
from creditplan.integration import senders
from creditplan.integration import services as integration
from creditplan.integration.models import Notification
from creditplan.ledger import services as ledger
from creditplan.lines import services as lines
from creditplan.loans import payments
from creditplan.loans import services as loans
from creditplan.risk.domain import reviews as rules
from creditplan.risk.domain.reviews import LimitFacts
from creditplan.risk.models import LimitProposal, LimitRun
from creditplan.risk.services import limits, reviews

START = dt.date(2025, 1, 15)


def _give_line(book: dict[str, Any], customer: int, amount: str) -> Any:
    change = lines.propose_line(book["officer_bj"] if customer < 2 else book["officer_sh"],
                                customer_id=book["customers"][customer], amount=amount,
                                expires_on=(dt.date.today() + dt.timedelta(days=365)).isoformat(), reason="年度授信")
    approver = book["approver_bj"] if customer < 2 else book["risk"]
    lines.decide_change(approver, change.id, approve=True, note="ok")
    return lines.get_line(book["risk"], change.line_id)


@pytest.fixture
def line_book(risk_book: dict[str, Any], close_days: Any) -> dict[str, Any]:
    """The risk book (four loans of 100,000.00 from 15 January 2025; the second customer never pays) closed to 20
    March, the first two customers with a line of 150,000.00 (the loan takes 100,000.00 of it)."""
    payers = [risk_book["loans"][0], risk_book["loans"][2], risk_book["loans"][3]]

    def pay(day: dt.date) -> None:
        for loan in payers:
            fresh = loans.get_loan(risk_book["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(risk_book["ops"], loan_ref=loan.ref, amount=str(to_major(due)), value_date=day,
                                      reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")

    close_days(START, dt.date(2025, 3, 20), pay=pay)
    made = [_give_line(risk_book, k, "150000.00") for k in (0, 1)]
    return {**risk_book, "lines": made}


@pytest.mark.django_db
def test_the_table_reads_the_book_and_a_customer_30_days_late_is_frozen_at_once_and_told(line_book, settings):
    from creditplan.customers import services as customers

    settings.CREDITPLAN_NOTIFICATION_SENDER = "creditplan.integration.senders.memory"
    senders.memory.clear()
    payer, late = line_book["customers"][0], line_book["customers"][1]
    customers.link_customer_user(late, line_book["customer"])
    line_book["customer"].preferred_language = "en"
    line_book["customer"].save(update_fields=["preferred_language"])
    day = dt.date(2025, 3, 20)
    facts, _grades = limits.customer_facts(day, [r for r in limits.reads.active_lines()])
    # the payer paid 15 February and 15 March on the day: nothing past due since their loan began two months ago;
    # what they still owe (about 83,000.00 of principal) uses 55 % of their revolving line
    assert facts[payer] == LimitFacts(warning=0, dpd=0, months_clean=2, months_on_book=2, behaviour_grade=-1,
                                      behaviour_worse=False, utilisation_pct=55)
    # the other never paid: past due since 15 February (33 days on 20 March), the whole 100,000.00 still owed
    assert (facts[late].dpd, facts[late].months_clean, facts[late].utilisation_pct) == (33, 0, 66)

    summary = limits.run_limits(day)
    assert summary.counts == {"keep": 1, "applied": 1}  # two months clean is not six: the payer keeps their line
    frozen = lines.get_line(line_book["risk"], line_book["lines"][1].id)
    assert frozen.state == "frozen" and frozen.changes[0].proposed_by == "system" and frozen.changes[0].immediate
    p = LimitProposal.objects.get(customer_id=late)
    assert (p.outcome, p.status, p.within_policy, p.reason, p.notified) == ("freeze", "applied", True, "dpd_30", True)
    assert p.message_zh == "逾期30天及以上：冻结额度"
    assert p.facts_en == "warning level green; 33 days past due now; 66% of the line used"
    assert "逾期33天" in p.facts_zh
    assert ledger.history(line_book["auditor"], "customer", str(late))[0].kind == "risk.limit_changed"

    integration.run_once()
    told = Notification.objects.get(customer_id=late, kind="risk.limit_changed")
    assert told.subject_zh == "您的授信额度已冻结" and "逾期30天及以上" in told.body_zh
    assert "frozen" in told.body_en and "30 days or more past due" in told.body_en
    sent = [m for m in senders.memory.outbox if m.id == told.pk]
    assert [m.body for m in sent] == [told.body_en]  # the customer reads English (their log-in's language)
    assert not Notification.objects.filter(customer_id=payer, kind="risk.limit_changed").exists()

    # once a month: a second run in March makes no second proposal (the frozen line is no longer active)
    assert limits.run_limits(dt.date(2025, 3, 31)).counts == {"keep": 1}
    assert LimitRun.objects.count() == 1 and LimitProposal.objects.count() == 1


def _facts(**kw: Any) -> LimitFacts:
    base = {"warning": 0, "dpd": 0, "months_clean": 12, "months_on_book": 12, "behaviour_grade": 1,
            "behaviour_worse": False, "utilisation_pct": 80}
    return LimitFacts(**{**base, **kw})


@pytest.fixture
def two_lines(risk_book: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The risk book with no close: a line of 150,000.00 for the first customer and 800,000.00 for the third
    (SH01); the facts the table reads are set by each test."""
    made = [_give_line(risk_book, 0, "150000.00"), _give_line(risk_book, 2, "800000.00")]
    chosen: dict[int, LimitFacts] = {}

    def facts(day: dt.date, rows: list[Any]) -> tuple[dict[int, LimitFacts], list[str]]:
        return {r.customer_id: chosen.get(r.customer_id, _facts(utilisation_pct=10)) for r in rows}, []

    monkeypatch.setattr(limits, "customer_facts", facts)
    return {**risk_book, "lines": made, "facts": chosen}


@pytest.mark.django_db
def test_an_increase_within_policy_applies_at_once_and_above_it_waits_for_an_approver(two_lines):
    small, big = two_lines["customers"][0], two_lines["customers"][2]
    two_lines["facts"].update({small: _facts(), big: _facts()})
    summary = limits.run_limits(dt.date(2025, 6, 30))
    assert summary.counts == {"applied": 1, "pending": 1}
    # 20 % of 150,000.00 is 30,000.00: within 20 % and within the 50,000.00 a rule may add alone: at once
    assert lines.get_line(two_lines["risk"], two_lines["lines"][0].id).amount_minor == 18_000_000
    up = LimitProposal.objects.get(customer_id=small)
    assert (up.status, up.amount_before_minor, up.amount_after_minor, up.message_en) == (
        "applied", 15_000_000, 18_000_000,
        "Good payer: no day past due for six months or more, and half the line or more in use")
    # 20 % of 800,000.00 is 160,000.00, above the 50,000.00 a rule may add alone: proposed, the line unchanged
    waiting = LimitProposal.objects.get(customer_id=big)
    assert (waiting.status, waiting.within_policy, waiting.amount_after_minor, waiting.notified) == (
        "pending", False, 96_000_000, False)
    line = lines.get_line(two_lines["risk"], two_lines["lines"][1].id)
    assert line.amount_minor == 80_000_000 and line.pending is not None and line.pending.proposed_by == "system"
    # an approver (up to 1,000,000.00 yuan of authority) approves it on the proposals page
    view = limits.decide_proposal(two_lines["risk"], waiting.pk, approve=True, note="经营稳定")
    assert (view.status, view.decided_by) == ("approved", "risk")
    assert lines.get_line(two_lines["risk"], two_lines["lines"][1].id).amount_minor == 96_000_000
    assert LimitProposal.objects.get(pk=waiting.pk).notified
    kinds = [e.kind for e in ledger.history(two_lines["auditor"], "customer", str(big))]
    assert kinds[:2] == ["risk.limit_changed", "risk.limit_proposed"]


@pytest.mark.django_db
def test_a_proposal_rejected_on_the_lines_page_is_settled_by_the_daily_job_and_nobody_is_told(two_lines, settings):
    settings.LIMIT_AUTO_CUTS = "0"  # cuts too wait for a person
    big = two_lines["customers"][2]
    two_lines["facts"][big] = _facts(warning=2, utilisation_pct=40)
    assert limits.run_limits(dt.date(2025, 6, 30)).counts == {"pending": 1, "keep": 1}
    p = LimitProposal.objects.get(customer_id=big)
    # a 30 % cut of 800,000.00: 560,000.00 (what is used, 100,000.00, is below)
    assert (p.outcome, p.amount_after_minor, p.reason) == ("reduce", 56_000_000, "warning_orange")
    lines.decide_change(two_lines["risk"], p.line_change_id, approve=False, note="已追加担保")
    assert reviews.run_reviews(dt.date(2025, 7, 1)).proposals_closed == 1
    p.refresh_from_db()
    assert (p.status, p.notified) == ("rejected", False)
    assert lines.get_line(two_lines["risk"], two_lines["lines"][1].id).amount_minor == 80_000_000


@pytest.mark.django_db
def test_a_line_with_a_change_waiting_or_nothing_to_cut_is_left_alone_with_the_reason(two_lines):
    small, full = two_lines["customers"][0], two_lines["customers"][3]
    _give_line(two_lines, 3, "100000.00")  # the customer's loan of 100,000.00 takes all of it
    lines.propose_change(two_lines["officer_bj"], two_lines["lines"][0].id, kind="extend",
                         expires_on=(dt.date.today() + dt.timedelta(days=700)).isoformat(), reason="续期")
    two_lines["facts"].update({small: _facts(warning=3, dpd=40), full: _facts(warning=2, utilisation_pct=100)})
    limits.run_limits(dt.date(2025, 6, 30))
    waiting = LimitProposal.objects.get(customer_id=small)
    assert (waiting.status, waiting.note) == ("skipped", "change_pending")
    assert lines.get_line(two_lines["risk"], two_lines["lines"][0].id).state == "active"
    cut = LimitProposal.objects.get(customer_id=full)
    assert (cut.status, cut.note, cut.outcome) == ("skipped", "nothing_to_cut", "reduce")


def test_amounts_and_policy_bounds_as_plain_rules() -> None:
    bounds = rules.LimitPolicy()
    assert rules.propose("increase", 15_000_000, 0, bounds) == rules.Proposed("increase", 15_000_000, 18_000_000, True)
    assert rules.propose("increase", 30_000_000, 0, bounds).within_policy is False  # +60,000.00 > 50,000.00
    assert rules.propose("increase", 25_000_000, 0, bounds).within_policy is True  # +50,000.00 exactly
    assert rules.propose("reduce", 10_000_000, 8_000_000, bounds).after == 8_000_000  # never below what is used
    assert rules.propose("reduce", 10_000_055, 0, bounds).after == 7_000_000  # whole hundreds of yuan
    assert not rules.propose("freeze", 10_000_000, 0, rules.LimitPolicy(auto_cuts=False)).within_policy
    assert rules.whole_months(dt.date(2025, 1, 31), dt.date(2025, 2, 28)) == 1
    assert rules.whole_months(dt.date(2025, 1, 15), dt.date(2025, 3, 14)) == 1
    assert rules.last_past_due([(dt.date(2025, 2, 15), dt.date(2025, 2, 18))], dt.date(2025, 6, 1)) == dt.date(
        2025, 2, 17)
    assert rules.last_past_due([(dt.date(2025, 5, 15), None)], dt.date(2025, 6, 1)) == dt.date(2025, 6, 1)


@pytest.mark.django_db
def test_the_rules_reason_on_the_line_is_kept_in_both_languages_and_shown_in_the_pages(two_lines, client):
    import html
    import re

    small, big = two_lines["customers"][0], two_lines["customers"][2]
    two_lines["facts"].update({big: _facts()})
    assert limits.run_limits(dt.date(2025, 6, 30)).counts == {"pending": 1, "keep": 1}
    change = lines.get_line(two_lines["risk"], two_lines["lines"][1].id).pending
    assert change is not None and len(change.reason) <= 300
    client.force_login(two_lines["risk"])

    def text(url: str, lang: str) -> str:
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        return html.unescape(re.sub(r"<[^>]+>", " ", page.split("<main>", 1)[1]))

    en, zh = text("/lines/approvals/", "en"), text("/lines/approvals/", "zh-hans")
    assert "Dynamic limit rules: Good payer: no day past due for six months or more" in en
    assert "动态额度规则" not in en and "按时还款" not in en
    assert "动态额度规则：按时还款：连续6个月以上无逾期" in zh and "Dynamic limit rules" not in zh
    assert "good_payer" not in en + zh and '"zh"' not in en + zh
    # a reason written before, in one language, still shows as written
    lines.rule_change(small, kind="freeze", reason="动态额度规则: 逾期30天及以上：冻结额度", at_once=True)
    assert "动态额度规则: 逾期30天及以上：冻结额度" in text(f"/lines/{two_lines['lines'][0].id}/", "en")


def test_the_rules_reason_fits_the_line_change_whole_when_the_messages_are_long() -> None:
    import json

    class Answer:
        reason, message_en, message_zh = "long_row", "E" * 290 + '"', "中" * 290

    stored = json.loads(limits._line_reason(Answer()))
    assert len(limits._line_reason(Answer())) <= 300
    assert stored["en"].startswith("Dynamic limit rules: EEE") and stored["zh"].startswith("动态额度规则：中中")
