"""A month's quota under concurrency (issue 19 §7), on SQLite and on PostgreSQL.

A plan for this calendar year whose current month has 1 % of a 50,000,000-yuan quota (500,000 yuan: room for exactly
N = 5 loans of 100,000) and the other eleven months 9 % each, with unused quota lapsing. 10 × N approvals arrive at
the same moment from separate OS processes: exactly N are reserved and the rest refused with
LimitExceeded("period_quota_exceeded"). Under "lapse" the month's use is a sum of the month's movements read by the
reservation's one statement; on PostgreSQL a reservation that waited for the row locks finds that sum stale and reads
it again under the locks (plans.services.periods.check_month) — this is the test of that path. The year's quota alone
would have let all 50 through.

This file is also the worker script: `python test_periods_race_19.py seed|reserve|report …`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from process_race import Processes, postgres_test_url

HERE = Path(__file__).resolve()
TESTS = HERE.parents[1]
N = 5
ATTEMPTS = 10 * N
WORKERS = 6
AMOUNT = "100000.00"
AMOUNT_MINOR = 100_000_00

PROCESSES = Processes(HERE, timeout=120)


def run_and_check(url: str, cwd: Path) -> None:
    seeded = PROCESSES.run(url, cwd, "seed")
    results, _elapsed = PROCESSES.release([PROCESSES.start(url, cwd, "reserve", str(k)) for k in range(WORKERS)])
    report = PROCESSES.run(url, cwd, "report", str(seeded["plan_id"]))
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r] = outcomes.get(r, 0) + 1
    assert outcomes == {"reserved": N, "period_quota_exceeded": ATTEMPTS - N}, outcomes
    assert report == {"reserved_rows": N, "root_reserved": N * AMOUNT_MINOR, "month_use": N * AMOUNT_MINOR}


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return PROCESSES.migrated_sqlite(tmp_path_factory.mktemp("periods-sqlite"))


@pytest.mark.slow
def test_a_lapsing_month_is_never_overdrawn_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    shutil.copy(sqlite_template, db)
    run_and_check(f"sqlite:///{db}", tmp_path)


@pytest.mark.slow
@pytest.mark.postgres_only
def test_a_lapsing_month_is_never_overdrawn_on_postgresql(transactional_db: None, tmp_path: Path) -> None:
    run_and_check(postgres_test_url(), tmp_path)


# --- the worker side ----------------------------------------------------------------------------------------

def _setup() -> None:
    sys.path.insert(0, str(TESTS))
    import django

    django.setup()


def seed() -> dict:
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from creditplan.plans import services as plans
    from factories import make_bank

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only
    users = make_bank()
    today = timezone.localdate()
    plan = plans.create_plan(users["planner"], code="race-lapse", name="分月并发测试",
                             period_start=dt.date(today.year, 1, 1), period_end=dt.date(today.year, 12, 31),
                             net_capital="100000000000", new_lending_limit=str(100 * N * 100_000),
                             balance_limit=str(100 * N * 100_000), control_mode="hard")
    plans.activate_plan(users["planner"], plan.id)
    months = [900] * 12
    months[today.month - 1] = 100  # 11 × 900 + 100 = 10000
    plans.set_periods(users["planner"], plan.id, months=months, period_control="lapse")
    return {"plan_id": plan.id}


def reserve(k: int) -> list[str]:
    from django.db import connection

    from creditplan.core.errors import LimitExceeded
    from creditplan.org.models import User
    from creditplan.plans import services as plans

    actor = User.objects.get(username="approver_bj")
    refs = [f"APP-{i:04d}" for i in range(ATTEMPTS) if i % WORKERS == k]
    print("ready", flush=True)
    sys.stdin.readline()
    results = []
    for ref in refs:
        try:
            results.append(plans.reserve_quota(actor, application_ref=ref, amount=AMOUNT, branch="BJ01").status)
        except LimitExceeded as exc:
            results.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            results.append(f"error {type(exc).__name__}: {exc}")
    connection.close()
    return results


def report(plan_id: int) -> dict:
    from django.db.models import F, Sum

    from creditplan.plans.models import Movement, Quota, Reservation

    root = Quota.objects.get(plan_id=plan_id, parent__isnull=True)
    use = Movement.objects.filter(quota=root).aggregate(s=Sum(F("reserved_delta") + F("consumed_delta")))["s"]
    return {"reserved_rows": Reservation.objects.filter(plan_id=plan_id, status="reserved").count(),
            "root_reserved": root.reserved_minor, "month_use": int(use or 0)}


if __name__ == "__main__":
    _setup()
    role, args = sys.argv[1], sys.argv[2:]
    if role == "seed":
        result: object = seed()
    elif role == "reserve":
        result = reserve(int(args[0]))
    elif role == "report":
        result = report(int(args[0]))
    else:
        raise SystemExit(f"unknown role {role}")
    print(json.dumps(result), flush=True)
