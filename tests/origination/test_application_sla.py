"""SLA timers and escalation: the working-hours clock (Mon–Fri 09:00–17:00 Beijing), the badge a queue row shows,
the `applications sla` job (who/when/why recorded, brought to the next level of the branch tree, a ledger event,
nothing twice), the queue's "overdue" filter, and the `applications expire` job."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from creditplan.origination import sla
from creditplan.origination.models import Application, ApplicationDraft, Escalation, Transition

TZ = ZoneInfo("Asia/Shanghai")
CAL = sla.Calendar()
MON9 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=TZ)  # a Monday
REFERRED = sla.Rule("referred", 8, True, 0.25, 2)
CUSTOMER_WAIT = sla.Rule("info_requested", 120, False, 0.25, 2)


def at(day_offset: int, hour: float) -> dt.datetime:
    return MON9.replace(hour=0) + dt.timedelta(days=day_offset, hours=hour)


def test_the_working_hours_clock_skips_nights_weekends_and_holidays():
    assert sla.add_working_time(at(4, 16), 8 * 3600, CAL) == at(7, 16)  # Friday 16:00 + 8 h → Monday 16:00
    assert sla.add_working_time(at(5, 10), 8 * 3600, CAL) == at(7, 17)  # a Saturday start waits for Monday
    assert sla.add_working_time(at(0, 7), 3600, CAL) == at(0, 10)  # before opening
    assert sla.working_seconds_between(at(4, 16), at(7, 10), CAL) == 2 * 3600
    holiday = sla.Calendar(holidays=frozenset({dt.date(2025, 3, 4)}))  # Tuesday off
    assert sla.add_working_time(at(0, 16), 2 * 3600, holiday) == at(2, 10)


def test_the_badge_turns_due_soon_in_the_last_quarter_and_overdue_at_the_deadline():
    states = [sla.timer(REFERRED, MON9, at(0, h), CAL).state for h in (14, 14.5, 15, 17)]
    assert states == ["ok", "ok", "due_soon", "overdue"]  # the last quarter starts at 15:00
    t = sla.timer(REFERRED, MON9, at(1, 10), CAL)
    assert (t.due_at, t.waited_hours, t.limit_hours) == (at(0, 17), 9.0, 8.0)
    # the customer's wait runs around the clock: five days
    assert sla.timer(CUSTOMER_WAIT, MON9, at(3, 0), CAL).state == "ok"
    assert sla.timer(CUSTOMER_WAIT, MON9, at(5, 8.9), CAL).state == "due_soon"
    assert sla.timer(CUSTOMER_WAIT, MON9, at(5, 9), CAL).state == "overdue"
    assert [lv for lv, _ in sla.levels_due(REFERRED, MON9, at(1, 10), CAL)] == [1]
    assert [lv for lv, _ in sla.levels_due(REFERRED, MON9, at(9, 10), CAL)] == [1, 2]


def _case(customer, status: str, since: dt.datetime, ref: str) -> Application:
    a = Application.objects.create(ref=ref, customer=customer, branch=customer.branch, product="consumer",
                                   amount_minor=3_000_000, term=12, channel="branch", status=status,
                                   queued_at=since)
    Transition.objects.create(application=a, from_status="draft", to_status="submitted", actor_name="t", at=since)
    Transition.objects.create(application=a, from_status="submitted", to_status=status, actor_name="t", at=since)
    return a


@pytest.fixture
def customer(bank):
    from creditplan.customers import services as customers
    from creditplan.customers.models import Customer
    from factories import individual

    return Customer.objects.select_related("branch").get(
        pk=customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01")).id)


def _sla(now: dt.datetime) -> str:
    out = StringIO()
    call_command("applications", "sla", "--now", now.isoformat(), stdout=out)
    return out.getvalue()


def test_the_job_escalates_an_overdue_case_to_the_next_level_once(customer):
    from creditplan.ledger import services as ledger

    late = _case(customer, "referred", MON9, "AP-LATE")
    _case(customer, "referred", at(1, 9), "AP-FRESH")  # Tuesday 09:00: 1 working hour by 10:00
    out = _sla(at(1, 10))
    assert "2 waiting case(s) checked; 1 escalated now" in out
    e = Escalation.objects.get()
    assert (e.application_id, e.level, e.to_branch.code, e.actor_name, e.at) == (late.id, 1, "BJ", "system", at(1, 10))
    assert "longer than 1 × 8 working hours" in e.reason and e.due_at == at(0, 17)
    assert ledger.count_events("application.escalated") == 1
    # again: nothing new
    assert "0 escalated now; 1 escalation(s) already on record" in _sla(at(1, 11))
    assert Escalation.objects.count() == 1 and ledger.count_events("application.escalated") == 1
    # a second allowance later it climbs to head office, and no further
    _sla(at(9, 10))
    assert sorted((x.application.ref, x.level, x.to_branch.code) for x in Escalation.objects.all()) == [
        ("AP-FRESH", 1, "BJ"), ("AP-FRESH", 2, "HO"), ("AP-LATE", 1, "BJ"), ("AP-LATE", 2, "HO")]
    # the case's state is untouched: who may approve is still the authority matrix's business
    late.refresh_from_db()
    assert late.status == "referred"


def test_the_queue_shows_timers_and_filters_overdue_cases(customer, bank, client):
    from django.utils import timezone

    now = timezone.now()
    _case(customer, "referred", now - dt.timedelta(days=30), "AP-OLD")
    _case(customer, "referred", now - dt.timedelta(minutes=1), "AP-NEW")
    call_command("applications", "sla", stdout=StringIO())
    client.force_login(bank["risk"])
    en = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = client.get("/applications/?scope=all", **en).content.decode()
    assert "AP-OLD" in page and "AP-NEW" in page and "Overdue" in page and "On time" in page
    assert "Escalated to 总行" in page  # 30 days late: past both levels, up to head office
    overdue = client.get("/applications/?scope=all&sla=overdue", HTTP_HX_REQUEST="true", **en).content.decode()
    assert "AP-OLD" in overdue and "AP-NEW" not in overdue
    escalated = client.get("/applications/?scope=all&sla=escalated", HTTP_HX_REQUEST="true", **en).content.decode()
    assert "AP-OLD" in escalated and "AP-NEW" not in escalated
    # the case page: its timer, and each escalation with when, where to and why
    case = client.get("/applications/AP-OLD/", **en).content.decode()
    assert "Service level" in case and "Overdue" in case
    assert "Escalated to 北京分行 (level 1)" in case and "Escalated to 总行 (level 2)" in case
    assert "longer than 1 × 8 working hours" in case
    assert "Escalated to" not in client.get("/applications/AP-NEW/", **en).content.decode()


def test_the_expire_job_closes_stale_cases_and_purges_old_drafts_idempotently(customer, bank):
    from django.utils import timezone

    now = timezone.now()
    stale = _case(customer, "info_requested", now - dt.timedelta(days=40), "AP-STALE")
    Application.objects.filter(pk=stale.pk).update(updated_at=now - dt.timedelta(days=40))
    _case(customer, "referred", now - dt.timedelta(days=2), "AP-RECENT")
    old = now - dt.timedelta(days=45)
    ApplicationDraft.objects.create(token="old", user=bank["customer"], data={"amount": "5000"}, furthest_step=2,
                                    created_at=old, updated_at=old)
    ApplicationDraft.objects.create(token="new", user=bank["customer"], data={"amount": "6000"}, created_at=now,
                                    updated_at=now)
    out = StringIO()
    call_command("applications", "expire", "--days", "30", stdout=out)
    assert "1 application(s) expired" in out.getvalue() and "1 draft(s) purged" in out.getvalue()
    assert Application.objects.get(ref="AP-STALE").status == "expired"
    assert Application.objects.get(ref="AP-RECENT").status == "referred"
    gone = ApplicationDraft.objects.get(token="old")
    assert gone.data == {} and gone.purged_at is not None and gone.furthest_step == 2  # the funnel keeps it
    assert ApplicationDraft.objects.get(token="new").data == {"amount": "6000"}
    out = StringIO()
    call_command("applications", "expire", "--days", "30", stdout=out)
    assert "0 application(s) expired" in out.getvalue() and "0 draft(s) purged" in out.getvalue()
