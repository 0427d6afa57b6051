"""Process analytics against a seeded data set with known durations: applications and their transitions are
written with fixed timestamps, so every figure (time in state, now waiting, straight-through rate, time to
decision and to cash by channel and branch, the online form's drop-off) is known by hand.

Percentiles are numpy's linear (type 7): p = x[k] + f·(x[k+1] − x[k]) with (n − 1)·q = k + f.

The cohort (submitted in March 2025; hours after each application's submission):
  A1 web    BJ01  submitted 0, approved 0 (straight through), contract offered 2, signed 6, ready 7, disbursed 10
  A2 web    BJ01  submitted 0, referred 0, approved 4, contract offered 5 … still waiting
  A3 branch SH01  submitted 0, referred 0, info requested 8, referred 20, declined 26
  A4 api    BJ01  submitted 0, approved 0 (straight through), contract offered 1, signed 3, ready 4, disbursed 12
  A5 branch SH01  submitted 0, referred 0 … still waiting
  A6 web    BJ01  submitted in February: outside the period
submitted at T0 + 24 h × (n − 1); T0 = Monday 3 March 2025 10:00 Beijing time; now = T0 + 200 h.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from creditplan.core.errors import Forbidden, ValidationError
from creditplan.origination import analytics
from creditplan.origination.models import Application, ApplicationDraft, Transition

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=TZ)
NOW = T0 + dt.timedelta(hours=200)
H = dt.timedelta(hours=1)
MARCH = {"date_from": "2025-03-01", "date_to": "2025-03-31", "now": NOW}

COHORT = [  # (channel, customer index, auto approved, [(status, hours)], submitted at)
    ("web", 0, True, [("submitted", 0), ("approved", 0), ("contract_offered", 2), ("signed", 6),
                      ("ready_to_disburse", 7), ("disbursed", 10)], T0),
    ("web", 0, False, [("submitted", 0), ("referred", 0), ("approved", 4), ("contract_offered", 5)], T0 + 24 * H),
    ("branch", 1, False, [("submitted", 0), ("referred", 0), ("info_requested", 8), ("referred", 20),
                          ("declined", 26)], T0 + 48 * H),
    ("api", 0, True, [("submitted", 0), ("approved", 0), ("contract_offered", 1), ("signed", 3),
                      ("ready_to_disburse", 4), ("disbursed", 12)], T0 + 72 * H),
    ("branch", 1, False, [("submitted", 0), ("referred", 0)], T0 + 96 * H),
    ("web", 0, True, [("submitted", 0), ("approved", 0)], dt.datetime(2025, 2, 20, 10, tzinfo=TZ)),
]
FURTHEST_STEPS = [1, 1, 1, 1, 2, 2, 3, 4, 4, 4]  # ten online forms started in March


@pytest.fixture
def seeded(bank):
    from creditplan.customers import services as customers
    from factories import individual

    bj = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    sh = customers.create_customer(bank["officer_sh"], individual(2, branch="SH01"))
    custs = [bj, sh]
    from creditplan.customers.models import Customer

    for n, (channel, ci, auto, steps, at) in enumerate(COHORT, start=1):
        c = Customer.objects.select_related("branch").get(pk=custs[ci].id)
        a = Application.objects.create(ref=f"AP-T{n}", customer=c, branch=c.branch, product="consumer",
                                       amount_minor=3_000_000, term=12, channel=channel, status=steps[-1][0],
                                       auto_approved=auto)
        Application.objects.filter(pk=a.pk).update(created_at=at)
        prev = "draft"
        for status, hours in steps:
            Transition.objects.create(application=a, from_status=prev, to_status=status, actor_name="t",
                                      at=at + hours * H)
            prev = status
    from creditplan.org.models import Branch

    bj01, sh01 = Branch.objects.get(code="BJ01"), Branch.objects.get(code="SH01")
    for k, furthest in enumerate(FURTHEST_STEPS):  # odd ones from Shanghai
        start = T0 + k * H
        ApplicationDraft.objects.create(token=f"tok{k}", user=bank["customer"], branch=sh01 if k % 2 else bj01,
                                        product="consumer", furthest_step=furthest, created_at=start,
                                        updated_at=start)
    ApplicationDraft.objects.create(token="feb", user=bank["customer"], furthest_step=1,
                                    created_at=dt.datetime(2025, 2, 1, tzinfo=TZ),
                                    updated_at=dt.datetime(2025, 2, 1, tzinfo=TZ))
    return bank


def _stat(s):
    return (s.n, s.median_h, s.p90_h)


def test_time_in_each_state_and_where_applications_wait(seeded):
    r = analytics.process_report(seeded["risk"], **MARCH)
    assert r.applications == 5 and not r.empty  # A6 was submitted in February
    states = {row.status: _stat(row.stat) for row in r.states}
    assert states == {
        "submitted": (5, 0.0, 0.0),
        "approved": (3, 1.0, 1.8),  # 2, 1, 1 h
        "referred": (3, 6.0, 7.6),  # 4, 8, 6 h (A3 was referred twice)
        "info_requested": (1, 12.0, 12.0),
        "contract_offered": (2, 3.0, 3.8),  # 4, 2 h
        "signed": (2, 1.0, 1.0),
        "ready_to_disburse": (2, 5.5, 7.5),  # 3, 8 h
    }
    # finished stays only: still-open cases are reported apart, with how long they have waited so far
    waiting = {row.status: _stat(row.stat) for row in r.waiting}
    assert waiting == {"referred": (1, 104.0, 104.0), "contract_offered": (1, 171.0, 171.0)}
    assert [row.status for row in r.states][:2] == ["submitted", "approved"]  # in the process's order


def test_straight_through_rate_and_time_to_decision_and_cash(seeded):
    r = analytics.process_report(seeded["risk"], **MARCH)
    assert (r.decided, r.straight_through, r.stp_rate_pct) == (4, 2, 50.0)
    assert _stat(r.to_decision) == (4, 2.0, 19.4)  # 0, 4, 26, 0 h
    assert _stat(r.to_cash) == (2, 11.0, 11.8)  # 10, 12 h
    channels = {g.key: (g.applications, g.decided, g.straight_through, _stat(g.to_decision), _stat(g.to_cash))
                for g in r.by_channel}
    assert channels == {
        "api": (1, 1, 1, (1, 0.0, 0.0), (1, 12.0, 12.0)),
        "branch": (2, 1, 0, (1, 26.0, 26.0), (0, None, None)),
        "web": (2, 2, 1, (2, 2.0, 3.6), (1, 10.0, 10.0)),
    }
    branches = {g.key: (g.applications, _stat(g.to_decision), _stat(g.to_cash)) for g in r.by_branch}
    assert branches == {"BJ01": (3, (3, 0.0, 3.2), (2, 11.0, 11.8)), "SH01": (2, (1, 26.0, 26.0), (0, None, None))}


def test_drop_off_per_step_of_the_online_form(seeded):
    r = analytics.process_report(seeded["risk"], **MARCH)
    assert r.drafts == 10  # the February draft is outside the period
    assert [(s.step, s.reached, s.lost, s.lost_pct) for s in r.form] == [
        ("offer", 10, 4, 40.0), ("details", 6, 2, 33.33), ("consent", 4, 1, 25.0), ("submitted", 3, 0, None)]


def test_filters_branch_scope_and_empty_periods(seeded):
    web = analytics.process_report(seeded["risk"], **MARCH, channel="web")
    assert web.applications == 2 and web.stp_rate_pct == 50.0
    sh = analytics.process_report(seeded["risk"], **MARCH, branch="SH")
    assert sh.applications == 2 and sh.decided == 1 and sh.stp_rate_pct == 0.0 and sh.drafts == 5
    # an approver of the Beijing branch sees Beijing only
    bj = analytics.process_report(seeded["approver_bj"], **MARCH)
    assert bj.applications == 3 and {g.key for g in bj.by_branch} == {"BJ01"}
    with pytest.raises(ValidationError):
        analytics.process_report(seeded["approver_bj"], **MARCH, branch="SH")
    empty = analytics.process_report(seeded["risk"], date_from="2024-01-01", date_to="2024-01-31", now=NOW)
    assert empty.empty and empty.stp_rate_pct is None and empty.to_decision.median_h is None and empty.form == []
    with pytest.raises(ValidationError) as exc:
        analytics.process_report(seeded["risk"], date_from="2025-03-31", date_to="2025-03-01")
    assert exc.value.field == "date_to"
    with pytest.raises(Forbidden):
        analytics.process_report(seeded["customer"], **MARCH)


def test_the_analytics_page_shows_the_figures_and_says_when_a_period_is_empty(seeded, client):
    client.force_login(seeded["risk"])
    en = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = client.get("/applications/analytics/?date_from=2025-03-01&date_to=2025-03-31", **en)
    html = page.content.decode()
    assert page.status_code == 200 and "Process analytics" in html
    assert "Straight through (2 of 4 decided)" in html and "40.0 %" in html and 'id="chart-states"' in html
    empty = client.get("/applications/analytics/?date_from=2024-01-01&date_to=2024-01-31", **en).content.decode()
    assert "No applications in this period." in empty and "No online form was started" in empty
    bad = client.get("/applications/analytics/?date_from=2025-13-01&date_to=2025-03-31", **en)
    assert bad.status_code == 422 and "date" in bad.content.decode()
    client.force_login(seeded["customer"])
    assert client.get("/applications/analytics/").status_code == 403


def test_percentiles_follow_the_documented_method():
    assert _stat(analytics.stat([h * 3600 for h in (1, 2, 3, 4)])) == (4, 2.5, 3.7)
    assert _stat(analytics.stat([h * 3600 for h in range(1, 11)])) == (10, 5.5, 9.1)
    assert _stat(analytics.stat([])) == (0, None, None)
