"""Concurrent transitions on one application leave exactly one outcome (issue 6, acceptance: state machine).

Separate OS processes (each its own interpreter, Django and database connection) act on the same applications
at the same moment, released together by one line on their stdin:

* "race": four approvers — two approving, two declining — on each of ten referred applications. Every
  application ends approved or declined, decided by exactly one of them; the others are told it is no longer in
  review (Conflict), nothing else; one Approval row, one referred → decided transition, one ledger event, and a
  quota reservation exactly when it was approved.
* "dual": three approvers on applications that need two approvals: exactly two approvals are recorded (two
  different people), the application is approved once, the quota is reserved once, the third is told no.
* "same_key": six processes submit the same application with the same Idempotency-Key: one application, and
  every process gets its reference back.

PostgreSQL (row locks, READ COMMITTED) is what these tests are for (`postgres_only`); the SQLite variant runs the
same scenarios on the embedded database (IMMEDIATE transactions serialise the writers).

This file is also the worker script: `python test_application_concurrency.py seed|act|report …`.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from process_race import Processes, postgres_test_url

HERE = Path(__file__).resolve()
TESTS = HERE.parents[1]
APPLICATIONS = 10
ACTORS = {"race": [("approver_bj", "approve"), ("approver_bj2", "approve"), ("approver_ho", "decline"),
                   ("risk", "decline")],
          "dual": [("approver_bj", "approve"), ("approver_bj2", "approve"), ("approver_ho", "approve")],
          "same_key": [("officer_bj", "submit")] * 6}


PROCESSES = Processes(HERE, CREDITPLAN_BUREAU_CLIENT="application_data.bureau_client")  # a clean bureau file


def run_scenario(url: str, cwd: Path, mode: str) -> dict:
    seeded = PROCESSES.run(url, cwd, "seed", mode)
    results, _ = PROCESSES.release([PROCESSES.start(url, cwd, "act", mode, user, action, str(k))
                                    for k, (user, action) in enumerate(ACTORS[mode])])
    return {"seeded": seeded, "results": results, "report": PROCESSES.run(url, cwd, "report", mode)}


def check(mode: str, outcome: dict) -> None:
    results, report = outcome["results"], outcome["report"]
    errors = [r for r in results if r["outcome"].startswith("error")]
    assert not errors, errors
    if mode == "same_key":
        refs = {r["ref"] for r in results}
        assert len(refs) == 1 and report["applications"] == 1, (refs, report)
        assert report["reservations"] == 1 and report["events"].get("application.submitted") == 1
        assert sorted(r["outcome"] for r in results).count("created") == 1  # one made it, five replayed it
        return
    apps = report["by_ref"]
    assert len(apps) == APPLICATIONS
    for ref, app in apps.items():
        mine = [r for r in results if r["ref"] == ref]
        done = [r for r in mine if r["outcome"] in ("approved", "declined", "approval_recorded")]
        refused = [r for r in mine if r["outcome"] not in ("approved", "declined", "approval_recorded")]
        assert {r["outcome"] for r in refused} <= {"not_in_review", "already_approved"}, refused
        if mode == "race":
            assert len(done) == 1, (ref, mine)  # exactly one decided it
            assert app["status"] == done[0]["outcome"]
            assert app["approvals"] == [[done[0]["user"], "approve" if app["status"] == "approved" else "decline"]]
            assert app["decided_transitions"] == 1
            assert app["reservation"] == ("reserved" if app["status"] == "approved" else None)
        else:
            assert app["status"] == "approved"
            approvers = [u for u, d in app["approvals"] if d == "approve"]
            assert len(approvers) == 2 and len(set(approvers)) == 2, app
            assert sorted(r["outcome"] for r in done) == ["approval_recorded", "approved"]
            assert app["decided_transitions"] == 1 and app["reservation"] == "reserved"
    decided = sum(1 for a in apps.values() if a["status"] in ("approved", "declined"))
    assert decided == APPLICATIONS
    assert report["events"].get("application.approved", 0) + report["events"].get("application.declined", 0) == decided
    assert report["events"].get("plan.quota_reserved", 0) == sum(1 for a in apps.values() if a["status"] == "approved")
    assert _overlap(results) > 0, "the worker processes never acted at the same time"


def _overlap(results: list[dict]) -> float:
    """Seconds during which every worker process had work in flight or still to come."""
    users = {r["user"] for r in results}
    first = max(min(r["begun"] for r in results if r["user"] == u) for u in users)
    last = min(max(r["ended"] for r in results if r["user"] == u) for u in users)
    return last - first


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return PROCESSES.migrated_sqlite(tmp_path_factory.mktemp("origination-sqlite"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["race"])  # the embedded database serialises writers; PostgreSQL runs all three
def test_concurrent_transitions_leave_one_outcome_on_sqlite(mode: str, sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    shutil.copy(sqlite_template, db)
    check(mode, run_scenario(f"sqlite:///{db}", tmp_path, mode))


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.parametrize("mode", ["race", "dual", "same_key"])
def test_concurrent_transitions_leave_one_outcome_on_postgresql(mode: str, transactional_db: None,
                                                                tmp_path: Path) -> None:
    url = postgres_test_url()
    check(mode, run_scenario(url, tmp_path, mode))


# --- the worker side ------------------------------------------------------------------------------------

def _setup() -> None:
    sys.path.insert(0, str(TESTS))  # factories
    sys.path.insert(0, str(HERE.parent))  # application_data
    import django

    django.setup()


def seed(mode: str) -> dict:
    from application_data import GOOD, make_world
    from django.conf import settings
    from django.db import transaction

    from creditplan.decisions import services as decisions
    from creditplan.origination import services as origination
    from factories import make_bank

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with transaction.atomic():
        world = make_world(make_bank())
    if mode == "dual":
        with transaction.atomic():
            decisions.set_product_settings(world["risk"], "consumer", dual_approval_above_minor=10_000_000)
    refs = []
    if mode != "same_key":
        for i in range(APPLICATIONS):  # grade C, 150,000 yuan: above the automatic approval, referred
            a = origination.submit_application(world["officer_bj"], customer_id=world["customers"][i % 3],
                                               product="consumer", amount="150000.00", term=36, inputs=GOOD)
            assert a.status == "referred" and a.required_approvals == (2 if mode == "dual" else 1), a
            refs.append(a.ref)
    return {"refs": refs, "customer": world["customers"][1]}


def act(mode: str, username: str, action: str, k: int) -> list[dict]:
    from application_data import GOOD
    from django.db import connection

    from creditplan.core.errors import CreditplanError
    from creditplan.org.models import User
    from creditplan.origination import services as origination
    from creditplan.origination.models import Application

    actor = User.objects.select_related("branch").get(username=username)
    refs = list(Application.objects.order_by("id").values_list("ref", flat=True))
    print("ready", flush=True)
    sys.stdin.readline()
    results = []
    if mode == "same_key":
        from creditplan.customers.models import Customer

        cid = Customer.objects.order_by("id").values_list("id", flat=True)[1]
        begun = time.time()
        try:
            v = origination.submit_application(actor, customer_id=cid, product="consumer", amount="30000.00",
                                               term=12, inputs=GOOD, channel="api", idempotency_key="same-key-1")
            outcome, ref = ("replayed" if v.replayed else "created"), v.ref
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcome, ref = f"error {type(exc).__name__}: {exc}", ""
        results.append({"ref": ref, "user": username, "outcome": outcome, "begun": begun, "ended": time.time()})
    else:
        order = refs if k % 2 == 0 else list(reversed(refs))  # meet the others in the middle, and at the ends
        for ref in order:
            begun = time.time()
            try:
                if action == "approve":
                    v = origination.approve(actor, ref, "within_policy")
                    outcome = v.status if v.status == "approved" else "approval_recorded"
                else:
                    v = origination.decline(actor, ref, "credit_history")
                    outcome = v.status
            except CreditplanError as exc:
                outcome = exc.code
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
                outcome = f"error {type(exc).__name__}: {exc}"
            results.append({"ref": ref, "user": username, "outcome": outcome, "begun": begun, "ended": time.time()})
    connection.close()
    return results


def report(mode: str) -> dict:
    from django.db.models import Count

    from creditplan.ledger.models import Event
    from creditplan.origination.models import Application
    from creditplan.plans.models import Reservation

    by_ref = {}
    for a in Application.objects.order_by("id"):
        res = Reservation.objects.filter(application_ref=a.ref).values_list("status", flat=True).first()
        by_ref[a.ref] = {
            "status": a.status,
            "approvals": [[u, d] for u, d in a.approvals.order_by("id").values_list("user__username", "decision")],
            "decided_transitions": a.transitions.filter(from_status="referred",
                                                        to_status__in=("approved", "declined")).count(),
            "reservation": res}
    events = dict(Event.objects.values_list("kind").annotate(n=Count("seq")))
    return {"by_ref": by_ref if mode != "same_key" else {}, "applications": Application.objects.count(),
            "reservations": Reservation.objects.count(), "events": events}


if __name__ == "__main__":
    _setup()
    role, args = sys.argv[1], sys.argv[2:]
    if role == "seed":
        result: object = seed(args[0])
    elif role == "act":
        result = act(args[0], args[1], args[2], int(args[3]))
    elif role == "report":
        result = report(args[0])
    else:
        raise SystemExit(f"unknown role {role}")
    print(json.dumps(result), flush=True)
