"""No group past its limit under concurrency (issue 19 §1), on SQLite and on PostgreSQL.

Twenty customers are the members of ONE group (the registry, customers.models). The capital base approved for the
day is 10,000,000.00 yuan, so the group limit (15 %) is 1,500,000.00; one member already owes 700,000.00 on a loan
booked when no plan covered the day. 20 applications of 100,000.00 — one per member — arrive at the same moment from
separate OS processes (each its own interpreter, Django and database connection): room for exactly
(1,500,000 − 700,000) / 100,000 = 8. Exactly 8 are reserved and the other 12 refused with
LimitExceeded("concentration_exceeded") naming the group, however the reservations interleave: the exposure a
reservation checks (other members' reservations committed while it waited for the plan's locks) is never stale.
Afterwards the group's exposure on the pages' figure (plans.services.group_exposure) is exactly its limit.

(The plan's own net capital is 1,000,000,000: were the capital base not read, all 20 would pass.)

This file is also the worker script: `python test_group_concurrency_19.py seed|reserve|report …` runs one role in
a fresh process pointed at CREDITPLAN_DATABASE_URL.
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
MEMBERS = 20
WORKERS = 5  # processes; the 20 applications are dealt out between them
AMOUNT = "100000.00"
AMOUNT_MINOR = 100_000_00
LIMIT_MINOR = 1_500_000_00  # 15 % of the capital base 10,000,000.00
OWED_MINOR = 700_000_00
FITS = (LIMIT_MINOR - OWED_MINOR) // AMOUNT_MINOR  # 8

PROCESSES = Processes(HERE, timeout=180)


def run_race(url: str, cwd: Path) -> dict:
    seeded = PROCESSES.run(url, cwd, "seed")
    ids = ",".join(str(c) for c in seeded["customers"])
    results, elapsed = PROCESSES.release([PROCESSES.start(url, cwd, "reserve", str(k), ids) for k in range(WORKERS)])
    report = PROCESSES.run(url, cwd, "report", str(seeded["group"]))
    return {"seeded": seeded, "results": results, "report": report, "elapsed": elapsed}


def _overlap(results: list[dict]) -> float:
    """Seconds during which every worker process had a reservation in flight or still to come."""
    workers = {r["worker"] for r in results}
    first = max(min(r["begun"] for r in results if r["worker"] == k) for k in workers)
    last = min(max(r["ended"] for r in results if r["worker"] == k) for k in workers)
    return last - first


def check_race(outcome: dict) -> None:
    results, report = outcome["results"], outcome["report"]
    assert len(results) == MEMBERS
    assert _overlap(results) > 0, "the worker processes never had reservations in flight at the same time"
    errors = [r for r in results if r["outcome"].startswith("error")]
    assert not errors, errors
    by_outcome: dict[str, int] = {}
    for r in results:
        by_outcome[r["outcome"]] = by_outcome.get(r["outcome"], 0) + 1
    assert by_outcome == {"reserved": FITS, "concentration_exceeded": MEMBERS - FITS}
    refused = [r for r in results if r["outcome"] == "concentration_exceeded"]
    # every refusal names the group and a figure above its limit, never a stale one at or below it
    assert {(r["group"], r["limit_minor"]) for r in refused} == {("G", LIMIT_MINOR)}
    assert all(r["exposure_minor"] > LIMIT_MINOR for r in refused)
    assert report["reservations"] == {"reserved": FITS}
    assert report["group_refs"] == ["G"]
    assert report["group_exposure"] == LIMIT_MINOR == OWED_MINOR + FITS * AMOUNT_MINOR
    assert report["events"] == FITS


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return PROCESSES.migrated_sqlite(tmp_path_factory.mktemp("plans-group-sqlite"))


@pytest.mark.slow
def test_parallel_applications_of_one_group_never_exceed_its_limit_on_sqlite(sqlite_template: Path,
                                                                            tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    shutil.copy(sqlite_template, db)
    check_race(run_race(f"sqlite:///{db}", tmp_path))


@pytest.mark.slow
@pytest.mark.postgres_only
def test_parallel_applications_of_one_group_never_exceed_its_limit_on_postgresql(transactional_db: None,
                                                                                tmp_path: Path) -> None:
    url = postgres_test_url()  # the workers, not this process, use the database now
    check_race(run_race(url, tmp_path))


# --- the worker side: each role runs in its own process ---------------------------------------------------

def _setup() -> None:
    sys.path.insert(0, str(TESTS))  # factories
    import django

    django.setup()


def seed() -> dict:
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from creditplan.customers import services as customers
    from creditplan.customers.models import CustomerGroup, GroupMember
    from creditplan.loans import services as loans
    from creditplan.org import services as org
    from creditplan.plans import services as plans
    from factories import PASSWORD, individual, make_bank

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only
    users = make_bank()
    planner2 = org.create_user(None, username="planner2", password=PASSWORD, role="planner", branch_code="HO")
    today = timezone.localdate()
    loans.create_product(users["risk"], code="term", name="经营贷", min_amount="1000", max_amount="2000000",
                         min_term=1, max_term=360, method="equal-installment", day_count="30/360", rate="0.0435",
                         grace_days=3, late_fee="50.00", penalty_markup_pct=50)
    ids = [customers.create_customer(users["officer_bj"], individual(n, branch="BJ01")).id
           for n in range(1, MEMBERS + 1)]
    group = CustomerGroup.objects.create(code="G", name="并发集团")
    GroupMember.objects.bulk_create([GroupMember(group=group, customer_id=c, relation="control",
                                                 effective_from=today - dt.timedelta(days=1000)) for c in ids])
    # a loan booked before the plan's period (no plan covered the day): in the book, in no plan
    loans.disburse(None, customer_id=ids[0], product="term", amount="700000", term=24,
                   start_date=today - dt.timedelta(days=200))
    plan = plans.create_plan(users["planner"], code="group-race", name="集团并发测试",
                             period_start=today - dt.timedelta(days=90), period_end=today + dt.timedelta(days=270),
                             net_capital="1000000000", new_lending_limit="100000000", balance_limit="100000000")
    plans.split_quota(users["planner"], plan.root.id, [
        {"branch": "BJ", "new_lending_limit": "50000000", "balance_limit": "50000000"}])
    plans.activate_plan(users["planner"], plan.id)
    base = plans.propose_capital_base(users["planner"], amount="10000000", effective_from=today - dt.timedelta(days=5))
    plans.decide_capital_base(planner2, base.id, approve=True)
    return {"plan_id": plan.id, "group": group.pk, "customers": ids}


def reserve(k: int, ids: list[int]) -> list[dict]:
    from django.db import connection

    from creditplan.core.errors import LimitExceeded
    from creditplan.org.models import User
    from creditplan.plans import services as plans

    actor = User.objects.get(username="approver_bj")
    mine = [(i, c) for i, c in enumerate(ids) if i % WORKERS == k]
    print("ready", flush=True)
    sys.stdin.readline()
    results = []
    for i, customer in mine:
        begun, extra = time.time(), {}
        try:
            outcome = plans.reserve_quota(actor, application_ref=f"APP-G-{i:02d}", amount=AMOUNT, branch="BJ01",
                                          customer_ref=str(customer)).status
        except LimitExceeded as exc:
            outcome, extra = exc.code, {k2: exc.extra.get(k2) for k2 in ("group", "limit_minor", "exposure_minor")}
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            outcome = f"error {type(exc).__name__}: {exc}"
        results.append({"ref": i, "worker": k, "outcome": outcome, "begun": begun, "ended": time.time(), **extra})
    connection.close()
    return results


def report(group_id: int) -> dict:
    from django.db.models import Count

    from creditplan.customers.models import CustomerGroup
    from creditplan.ledger.models import Event
    from creditplan.plans import services as plans
    from creditplan.plans.models import Reservation

    rows = Reservation.objects.filter(application_ref__startswith="APP-G-")
    return {"reservations": dict(rows.values_list("status").annotate(n=Count("id"))),
            "group_refs": sorted(set(rows.values_list("group_ref", flat=True))),
            "group_exposure": plans.group_exposure(CustomerGroup.objects.get(pk=group_id)),
            "events": Event.objects.filter(kind="plan.quota_reserved", subject_id__startswith="APP-G-").count()}


if __name__ == "__main__":
    _setup()
    role, args = sys.argv[1], sys.argv[2:]
    if role == "seed":
        result: object = seed()
    elif role == "reserve":
        result = reserve(int(args[0]), [int(c) for c in args[1].split(",")])
    elif role == "report":
        result = report(int(args[0]))
    else:
        raise SystemExit(f"unknown role {role}")
    print(json.dumps(result), flush=True)
