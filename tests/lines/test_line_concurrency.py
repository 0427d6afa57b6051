"""Concurrent applications for one customer never exceed the customer's credit line (issue 17, acceptance).

Separate OS processes (each its own interpreter, Django and database connection) submit applications for the
same customer at the same moment, released together by one line on their stdin. The customer has a line of
100,000.00 yuan; every application asks for 30,000.00 (approved straight through up to what the line has left).
Whatever the interleaving: what the line holds never exceeds it, it equals what the approved applications hold
(the capped one included), each approval holds exactly one reservation on the line (one `line.reserved`
event), and every application beyond the line is declined with the line as the reason.

PostgreSQL (the line's row locked FOR UPDATE in origination's look-up, READ COMMITTED) is what the test is for
(`postgres_only`); the SQLite variant runs the same scenario on the embedded database (IMMEDIATE transactions
serialise the writers).

This file is also the worker script: `python test_line_concurrency.py seed|act|report …`.
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
WORKERS = 5
EACH = 2
LINE_MINOR = 10_000_000  # 100,000.00 yuan
ASK = "30000.00"


PROCESSES = Processes(HERE, CREDITPLAN_BUREAU_CLIENT="application_data.bureau_client")  # a clean bureau file


def run_scenario(url: str, cwd: Path) -> dict:
    PROCESSES.run(url, cwd, "seed")
    results, _ = PROCESSES.release([PROCESSES.start(url, cwd, "act", str(k)) for k in range(WORKERS)])
    return {"results": results, "report": PROCESSES.run(url, cwd, "report")}


def check(outcome: dict) -> None:
    results, report = outcome["results"], outcome["report"]
    errors = [r for r in results if r["outcome"].startswith("error")]
    assert not errors, errors
    assert len(results) == WORKERS * EACH and report["applications"] == WORKERS * EACH
    approved = [r for r in results if r["outcome"] == "approved"]
    declined = [r for r in results if r["outcome"] == "declined"]
    assert len(approved) + len(declined) == len(results), results
    held = sum(r["approved_minor"] for r in approved)
    assert held <= LINE_MINOR  # never beyond the line…
    assert held == LINE_MINOR  # …and all of it lent: 3 × 30,000 and one capped at 10,000
    assert sorted(r["approved_minor"] for r in approved) == [1_000_000, 3_000_000, 3_000_000, 3_000_000]
    assert report["line"] == {"reserved": LINE_MINOR, "used": 0, "amount": LINE_MINOR}
    assert report["occupations"] == sorted(r["approved_minor"] for r in approved)
    assert report["events"] == len(approved)
    assert all("LINE" in " ".join(r["codes"]) or "NO_LIMIT" in r["codes"] for r in declined)
    first = max(min(r["begun"] for r in results if r["worker"] == k) for k in range(WORKERS))
    last = min(max(r["ended"] for r in results if r["worker"] == k) for k in range(WORKERS))
    assert last - first > 0, "the worker processes never applied at the same time"


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return PROCESSES.migrated_sqlite(tmp_path_factory.mktemp("lines-sqlite"))


@pytest.mark.slow
def test_concurrent_applications_never_exceed_the_line_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    shutil.copy(sqlite_template, db)
    check(run_scenario(f"sqlite:///{db}", tmp_path))


@pytest.mark.slow
@pytest.mark.postgres_only
def test_concurrent_applications_never_exceed_the_line_on_postgresql(transactional_db: None, tmp_path: Path) -> None:
    url = postgres_test_url()
    check(run_scenario(url, tmp_path))


# --- the worker side ------------------------------------------------------------------------------------

def _setup() -> None:
    sys.path.insert(0, str(TESTS))  # factories
    sys.path.insert(0, str(TESTS / "origination"))  # application_data
    import django

    django.setup()


def seed() -> dict:
    import datetime as dt

    from application_data import make_world
    from django.conf import settings
    from django.db import transaction

    from creditplan.lines import services as lines
    from factories import make_bank

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with transaction.atomic():
        world = make_world(make_bank())
    change = lines.propose_line(world["officer_bj"], customer_id=world["customers"][0], amount="100000.00",
                                expires_on=(dt.date.today() + dt.timedelta(days=365)).isoformat(), reason="r")
    lines.decide_change(world["approver_bj"], change.id, approve=True)
    return {"customer": world["customers"][0]}


def act(k: int) -> list[dict]:
    from application_data import GOOD
    from django.db import connection

    from creditplan.customers.models import Customer
    from creditplan.org.models import User
    from creditplan.origination import services as origination

    actor = User.objects.select_related("branch").get(username="officer_bj")
    cid = Customer.objects.order_by("id").values_list("id", flat=True)[0]
    print("ready", flush=True)
    sys.stdin.readline()
    results = []
    for _ in range(EACH):
        begun = time.time()
        try:
            v = origination.submit_application(actor, customer_id=cid, product="consumer", amount=ASK, term=12,
                                               inputs=dict(GOOD), channel="branch")
            outcome, approved, codes = v.status, v.approved_amount_minor, list(v.reason_codes)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            outcome, approved, codes = f"error {type(exc).__name__}: {exc}", 0, []
        results.append({"worker": k, "outcome": outcome, "approved_minor": approved, "codes": codes,
                        "begun": begun, "ended": time.time()})
    connection.close()
    return results


def report() -> dict:
    from creditplan.ledger.models import Event
    from creditplan.lines.models import CreditLine, Occupation
    from creditplan.origination.models import Application

    line = CreditLine.objects.get()
    return {"line": {"reserved": line.reserved_minor, "used": line.used_minor, "amount": line.amount_minor},
            "occupations": sorted(Occupation.objects.filter(line=line, status="reserved")
                                  .values_list("reserved_minor", flat=True)),
            "events": Event.objects.filter(kind="line.reserved").count(),
            "applications": Application.objects.count()}


if __name__ == "__main__":
    _setup()
    role, args = sys.argv[1], sys.argv[2:]
    if role == "seed":
        result: object = seed()
    elif role == "act":
        result = act(int(args[0]))
    elif role == "report":
        result = report()
    else:
        raise SystemExit(f"unknown role {role}")
    print(json.dumps(result), flush=True)
