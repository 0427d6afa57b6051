"""A ratio cap under concurrency (issue 19 §6), on SQLite and on PostgreSQL: the book holds 1,000,000.00 of loans,
150,000.00 of them mortgages, under a tier-3 mortgage cap of 17.50 % (refuse). The room left is
(0.175 × 1,000,000 − 150,000) ÷ (1 − 0.175) = 25,000 ÷ 0.825 = 30,303.03, so exactly 3 mortgages of 10,000.00 fit
(3 × 10,000 = 30,000 ≤ 30,303.03; a 4th would make 190,000 ÷ 1,040,000 = 18.27 %). 20 applications of 10,000.00
arrive at the same moment from separate OS processes: exactly 3 are reserved, 17 refused with ratio_cap_exceeded —
the cap is read under the root quota's lock every reservation takes, so two cannot both take the last room.

This file is also the worker script: `python test_ratio_cap_race_19.py seed|reserve|report …`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from process_race import Processes, postgres_test_url

HERE = Path(__file__).resolve()
TESTS = HERE.parents[1]
ATTEMPTS, WORKERS, FITS = 20, 5, 3
PROCESSES = Processes(HERE, timeout=120)


def run_and_check(url: str, cwd: Path) -> None:
    seeded = PROCESSES.run(url, cwd, "seed")
    results, _elapsed = PROCESSES.release([PROCESSES.start(url, cwd, "reserve", str(k)) for k in range(WORKERS)])
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r] = outcomes.get(r, 0) + 1
    assert outcomes == {"reserved": FITS, "ratio_cap_exceeded": ATTEMPTS - FITS}, outcomes
    report = PROCESSES.run(url, cwd, "report", str(seeded["plan_id"]))
    assert report["reserved_minor"] == FITS * 1_000_000
    # 180,000 ÷ 1,030,000 = 17.4757 % ≤ 17.50 %
    assert report["share_with_reserved"] == "17.48" and report["headroom"] == "303.03"


@pytest.mark.slow
def test_parallel_mortgages_never_break_the_cap_on_sqlite(tmp_path: Path) -> None:
    template = PROCESSES.migrated_sqlite(tmp_path)
    db = tmp_path / "race.sqlite3"
    shutil.copy(template, db)
    run_and_check(f"sqlite:///{db}", tmp_path)


@pytest.mark.slow
@pytest.mark.postgres_only
def test_parallel_mortgages_never_break_the_cap_on_postgresql(transactional_db: None, tmp_path: Path) -> None:
    run_and_check(postgres_test_url(), tmp_path)


# --- the worker side -------------------------------------------------------------------------------------------

def _setup() -> None:
    sys.path.insert(0, str(TESTS))  # factories
    import django

    django.setup()


def seed() -> dict:
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from creditplan.org.models import Branch
    from creditplan.plans import services as plans
    from creditplan.plans.models import BookCell
    from factories import make_bank

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only
    users = make_bank()
    for code in ("mortgage", "consumer"):
        plans.add_dimension_code(users["planner"], "product", code, code)
    today = timezone.localdate()
    plan = plans.create_plan(users["planner"], code="cap-race", name="占比上限并发", net_capital="100000000000",
                             period_start=today - dt.timedelta(days=90), period_end=today + dt.timedelta(days=270),
                             new_lending_limit="100000000", balance_limit="100000000")
    plans.activate_plan(users["planner"], plan.id)
    bj01 = Branch.objects.get(code="BJ01")
    BookCell.objects.filter(plan_id=plan.id).delete()  # the book is exactly this one (whatever loans exist)
    BookCell.objects.create(plan_id=plan.id, branch=bj01, product="consumer", outstanding_minor=85_000_000)
    BookCell.objects.create(plan_id=plan.id, branch=bj01, product="mortgage", outstanding_minor=15_000_000)
    plans.add_target(users["planner"], plan.id, code="re_mortgage", name="个人住房贷款占比", kind="max_share",
                     threshold="17.5", numerator=[{"product": "mortgage"}], control="refuse")
    return {"plan_id": plan.id}


def reserve(k: int) -> list[str]:
    from django.db import connection

    from creditplan.core.errors import LimitExceeded
    from creditplan.org.models import User
    from creditplan.plans import services as plans

    actor = User.objects.get(username="approver_bj")
    print("ready", flush=True)
    sys.stdin.readline()
    out = []
    for i in range(ATTEMPTS):
        if i % WORKERS != k:
            continue
        try:
            out.append(plans.reserve_quota(actor, application_ref=f"M-{i:03d}", amount="10000", branch="BJ01",
                                           product="mortgage").status)
        except LimitExceeded as exc:
            out.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            out.append(f"error {type(exc).__name__}: {exc}")
    connection.close()
    return out


def report(plan_id: int) -> dict:
    from django.db.models import Sum

    from creditplan.org.models import User
    from creditplan.plans import services as plans
    from creditplan.plans.domain import targets as t
    from creditplan.plans.models import Reservation

    [s] = plans.evaluate_targets(User.objects.get(username="planner"), plan_id)
    reserved = Reservation.objects.filter(plan_id=plan_id, status="reserved").aggregate(s=Sum("amount_minor"))["s"]
    return {"reserved_minor": reserved or 0, "share_with_reserved": t.percent(s.share_with_reserved),
            "headroom": f"{s.headroom // 100}.{s.headroom % 100:02d}"}


if __name__ == "__main__":
    import json

    _setup()
    role, *args = sys.argv[1:]
    result = {"seed": lambda: seed(), "reserve": lambda: reserve(int(args[0])),
              "report": lambda: report(int(args[0]))}[role]()
    print(json.dumps(result), flush=True)
