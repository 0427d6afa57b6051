"""Credit-plan benchmark (issue 5): "a quota check adds <= 2 ms to a decision".

What is timed: `plans.services.reserve_quota`, the whole use case a decision calls — permission check,
active plan, dimension validation, concentration exposure of the customer and group, SELECT … FOR UPDATE of
every matching quota (ordered by id), the checks, counter updates, one Movement row per quota, the
Reservation row and its quota links, and the ledger event, in one transaction, committed.

Against what: a decision writes its own ledger event and commits anyway, so the baseline is a transaction
that appends only a ledger event of the same shape and commits ("added" = reserve − baseline); a second
baseline, an empty transaction, is reported too. Reserve and both baselines are interleaved sample by sample
(rotating order) in the same process, so drift on a noisy machine hits all three alike.

The plan is a realistic tree: head office (root) → 5 branches → 2 sub-branches each → 3 products under each
sub-branch: 46 quotas, a loan at a sub-branch with a product locks 4 of them. Customers repeat (2,000 of
them), so the exposure queries find history. Issue 19: the exposure is the whole book — the loan book holds
20,000 loans over the 2,000 customers (a tenth of them closed or written off, so the status filter matters),
and a tenth of the customers are members of customer groups from the registry (20 groups of 10 members, each a
root with a sub-group, half the members in each), so a grouped customer's check sums the loans and open
reservations of 10 members; an approved capital base is in force.

Databases: SQLite (a file in a temporary folder, the project's settings: WAL, synchronous=NORMAL,
BEGIN IMMEDIATE) and PostgreSQL (CREDITPLAN_BENCH_DATABASE_URL, else a throwaway server started the way
bench_ledger.py does: scripts/pg_ctl_as_postgres, initdb defaults, fsync on). Each backend runs in its own
child process (Django is configured once per process), with production settings (CREDITPLAN_DEBUG=0).

Besides the figure, the JSON says where a reservation's time goes: the SQL statements it issues, and a
separate pass that splits its time between the database driver and Python (Django building queries, the
service's own code).

    python benchmarks/bench_plans.py            # 1,000 samples of each kind per backend, 1-2 minutes
    python benchmarks/bench_plans.py --quick    # 200 samples, to check that it runs

Writes benchmarks/results/plans.json; exits 1 when the target is missed on a backend (written anyway).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "plans.json"
TARGET_MS = 2.0
CUSTOMERS, LOANS, GROUPS = 2000, 20_000, 20
# Recorded before issue 19 changed the reservation (per-plan exposure, no loan book, no registry groups): the same
# benchmark on this machine, 1,000 samples per backend (benchmarks/results/plans.json of that run).
BEFORE = {"date": "2026-12-07", "what": "before issue 19 (exposure per plan; no loans in the book)",
          "sqlite": {"reserve_ms_p50": 1.393, "reserve_ms_p95": 2.379, "added_ms_p50": 1.027, "added_ms_p95": 1.784},
          "postgresql": {"reserve_ms_p50": 3.346, "reserve_ms_p95": 4.564, "added_ms_p50": 2.338,
                         "added_ms_p95": 3.184}}
BRANCHES = ["BJ", "SH", "GZ", "SZ", "HZ"]
PRODUCTS = ["mortgage", "consumer", "sme"]


def _ms(seconds: list[float]) -> dict:
    s = sorted(seconds)
    return {"p50": round(statistics.median(s) * 1000, 3), "p95": round(s[int(len(s) * 0.95)] * 1000, 3),
            "mean": round(statistics.fmean(s) * 1000, 3), "min": round(s[0] * 1000, 3), "samples": len(s)}


def _statement(sql: str) -> str:
    """'SELECT plans_quota' — what a statement does and to which table, for the breakdown in the JSON."""
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
    return f"{sql.split()[0]} {table.group(1) if table else ''}".strip()


# --- child: one backend ------------------------------------------------------------------------------------

def seed() -> dict:
    from django.conf import settings
    from django.utils import timezone

    from creditplan.org import services as org
    from creditplan.plans import services as plans

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only
    org.create_branch(None, code="HO", name="总行", level="head_office")
    for b in BRANCHES:
        org.create_branch(None, code=b, name=f"{b}分行", level="branch", parent_code="HO")
        for k in (1, 2):
            org.create_branch(None, code=f"{b}0{k}", name=f"{b}第{k}支行", level="sub_branch", parent_code=b)
    planner = org.create_user(None, username="planner", password="bench-pass-123", role="planner", branch_code="HO")
    ops = org.create_user(None, username="ops", password="bench-pass-123", role="operations", branch_code="HO")
    org.create_user(None, username="risk", password="bench-pass-123", role="risk_manager", branch_code="HO")
    for p in PRODUCTS:
        plans.add_dimension_code(planner, "product", p, p)
    today = timezone.localdate()
    big = 10**10  # yuan: room for every reservation the benchmark makes (no refusal paths timed)
    plan = plans.create_plan(planner, code="bench", name="基准计划", period_start=today - dt.timedelta(days=30),
                             period_end=today + dt.timedelta(days=330), net_capital=str(big * 100),
                             new_lending_limit=str(big), balance_limit=str(big))
    per_branch = big // len(BRANCHES)
    branch_quotas = plans.split_quota(planner, plan.root.id, [
        {"branch": b, "new_lending_limit": str(per_branch), "balance_limit": str(per_branch)} for b in BRANCHES])
    count = 1 + len(branch_quotas)
    for bq in branch_quotas:
        subs = plans.split_quota(planner, bq.id, [
            {"branch": f"{bq.branch}0{k}", "new_lending_limit": str(per_branch // 2),
             "balance_limit": str(per_branch // 2)} for k in (1, 2)])
        count += len(subs)
        for sq in subs:
            count += len(plans.split_quota(planner, sq.id, [
                {"branch": sq.branch, "product": p, "new_lending_limit": str(per_branch // 2 // len(PRODUCTS)),
                 "balance_limit": str(per_branch // 2 // len(PRODUCTS))} for p in PRODUCTS]))
    plans.activate_plan(planner, plan.id)
    planner2 = org.create_user(None, username="planner2", password="bench-pass-123", role="planner",
                               branch_code="HO")
    base = plans.propose_capital_base(planner, amount=str(big * 100), effective_from=today - dt.timedelta(days=30))
    plans.decide_capital_base(planner2, base.id, approve=True)
    return {"actor": ops, "quotas": count, **seed_book(today)}


def seed_book(today: dt.date) -> dict:
    """The loan book the exposure reads: 2,000 customers, 20,000 loans (ORM bulk_create: the benchmark needs rows,
    not the disbursement's accounting), a tenth of the customers in 20 registry groups (root + sub-group)."""
    from creditplan.customers.models import Customer, CustomerGroup, GroupMember
    from creditplan.loans import services as loans
    from creditplan.loans.models import Loan
    from creditplan.org.models import Branch, User

    rnd = random.Random(19)
    subs = list(Branch.objects.filter(level="sub_branch"))
    product = loans.create_product(User.objects.get(username="risk"), code="bench-loan", name="基准贷款",
                                   min_amount="1000", max_amount="5000000", min_term=1, max_term=360,
                                   method="equal-installment", day_count="30/360", rate="0.0435")
    customers = Customer.objects.bulk_create([
        Customer(kind="individual", name=f"客户{n:05d}", branch=subs[n % len(subs)], onboarded_on=today)
        for n in range(CUSTOMERS)])
    ids = [c.pk for c in customers]
    start = today - dt.timedelta(days=400)
    loans_rows = []
    for n in range(LOANS):
        principal = rnd.randint(10_000, 500_000) * 100
        status = rnd.choices(["active", "closed", "written_off"], [90, 8, 2])[0]
        loans_rows.append(Loan(
            ref=f"BL{n:07d}", customer_id=ids[n % CUSTOMERS], branch_id=subs[n % len(subs)].pk, product_id=product.pk,
            status=status, principal_minor=principal, rate_ppm=43_500, method="equal-installment", term=36,
            start_date=start, first_due_date=start + dt.timedelta(days=30),
            maturity_date=start + dt.timedelta(days=1095),
            principal_outstanding_minor=0 if status == "closed" else principal * rnd.randint(30, 100) // 100,
            period_start_date=start, closed_through=today - dt.timedelta(days=1)))
    Loan.objects.bulk_create(loans_rows, batch_size=2000)
    grouped = ids[::10]  # a tenth of the customers
    members = []
    for g in range(GROUPS):
        root = CustomerGroup.objects.create(code=f"G{g:03d}", name=f"集团{g}")
        sub = CustomerGroup.objects.create(code=f"G{g:03d}-S", name=f"集团{g}子集团", parent=root, root=root)
        for k, c in enumerate(grouped[g::GROUPS]):
            members.append(GroupMember(group=root if k % 2 else sub, customer_id=c, relation="control",
                                       effective_from=today - dt.timedelta(days=365)))
    GroupMember.objects.bulk_create(members)
    return {"customer_ids": ids, "loans": LOANS, "grouped_customers": len(members)}


def child(samples: int, warmup: int) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from creditplan.ledger import services as ledger
    from creditplan.plans import services as plans

    call_command("migrate", verbosity=0)
    seeded = seed()
    actor = seeded["actor"]
    rnd = random.Random(5)
    subs = [f"{b}0{k}" for b in BRANCHES for k in (1, 2)]
    ids = seeded["customer_ids"]
    counter = iter(range(10**9))

    def request() -> dict:
        n = next(counter)
        customer = ids[rnd.randrange(CUSTOMERS)]  # a tenth of them in a group (ids[::10]), by the registry
        return {"application_ref": f"APP{n:08d}", "amount": f"{rnd.randint(10_000, 500_000)}.{rnd.randrange(100):02d}",
                "branch": rnd.choice(subs), "product": rnd.choice(PRODUCTS), "customer_ref": str(customer)}

    def reserve_once() -> float:
        args = request()
        t = time.perf_counter()
        plans.reserve_quota(actor, **args)
        return time.perf_counter() - t

    def ledger_only() -> float:
        args = request()
        t = time.perf_counter()
        with transaction.atomic():
            ledger.append(actor, "plan.quota_reserved", "reservation", args["application_ref"],
                          {"plan": "bench", "amount_minor": int(args["amount"].replace(".", "")),
                           "status": "reserved", "quotas": [1, 2, 3, 4], "large_exposure": False, "reason": ""})
        return time.perf_counter() - t

    def empty() -> float:
        t = time.perf_counter()
        with transaction.atomic():
            pass
        return time.perf_counter() - t

    kinds = {"reserve": reserve_once, "baseline_ledger_event": ledger_only, "baseline_empty_transaction": empty}
    for _ in range(warmup):
        for fn in kinds.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in kinds}
    order = list(kinds)
    started = time.perf_counter()
    for i in range(samples):
        for name in order[i % 3:] + order[: i % 3]:  # rotate which one goes first
            times[name].append(kinds[name]())
        if i % 250 == 0:
            print(f"  {i:,}/{samples:,}", end="\r", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    from django.test.utils import CaptureQueriesContext

    # Where the time goes: a separate pass measuring the time spent inside the database driver per reserve
    # (the rest is Python: Django building and compiling the queries, the service's own code).
    in_driver = [0.0]
    per_statement: dict[int, list[float]] = {}
    position = [0]

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - t
            in_driver[0] += took
            per_statement.setdefault(position[0], []).append(took)
            position[0] += 1

    split_n = max(50, samples // 5)
    with connection.execute_wrapper(timed):
        t = time.perf_counter()
        for _ in range(split_n):
            position[0] = 0
            plans.reserve_quota(actor, **request())
        split_total = time.perf_counter() - t
    breakdown = {"reserves": split_n, "mean_ms": round(split_total / split_n * 1000, 3),
                 "in_database_driver_mean_ms": round(in_driver[0] / split_n * 1000, 3),
                 "in_python_mean_ms": round((split_total - in_driver[0]) / split_n * 1000, 3)}
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        plans.reserve_quota(actor, **request())
    statements = [_statement(q["sql"]) for q in queries.captured_queries]
    # median time of each statement of a reservation, in order (driver calls; BEGIN/COMMIT are not wrapped)
    breakdown["statement_median_ms"] = [round(statistics.median(v) * 1000, 3) for _, v in sorted(per_statement.items())]
    stats = {k: _ms(v) for k, v in times.items()}
    added_vs_ledger = {q: round(stats["reserve"][q] - stats["baseline_ledger_event"][q], 3) for q in ("p50", "p95")}
    added_vs_empty = {q: round(stats["reserve"][q] - stats["baseline_empty_transaction"][q], 3) for q in ("p50", "p95")}
    # the difference of medians above, and here the median of per-sample differences (paired samples)
    paired = sorted(r - b for r, b in zip(times["reserve"], times["baseline_ledger_event"], strict=True))
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT version(), current_setting('fsync'), current_setting('synchronous_commit')")
            version, fsync, sync = cur.fetchone()
            db = {"vendor": "postgresql", "version": version.split(" on ")[0], "fsync": fsync,
                  "synchronous_commit": sync}
        else:
            cur.execute("SELECT sqlite_version()")
            version = cur.fetchone()[0]
            cur.execute("PRAGMA journal_mode")
            db = {"vendor": "sqlite", "version": version, "journal_mode": cur.fetchone()[0],
                  "synchronous": "NORMAL", "transaction_mode": "IMMEDIATE"}
    connection.close()
    from creditplan.plans.models import Movement, Reservation

    return {
        "database": db, "quotas_in_plan": seeded["quotas"], "quotas_locked_per_reservation": 4,
        "book": {"customers": CUSTOMERS, "loans": seeded["loans"], "grouped_customers": seeded["grouped_customers"],
                 "groups": GROUPS},
        "reservations_made": Reservation.objects.count(), "movements": Movement.objects.count(),
        "debug": settings.DEBUG, "timings_ms": stats, "loop_s": round(elapsed, 1),
        "statements_per_reserve": len(statements), "statements": statements, "time_split": breakdown,
        "added_ms_vs_ledger_event": added_vs_ledger, "added_ms_vs_empty_transaction": added_vs_empty,
        "added_ms_paired_median_vs_ledger_event": round(statistics.median(paired) * 1000, 3),
        "target_ms": TARGET_MS, "target_met": added_vs_ledger["p50"] <= TARGET_MS,
    }


# --- parent: both backends, then the JSON ------------------------------------------------------------------

def run_child(url: str, samples: int, warmup: int, cwd: Path) -> dict:
    # production settings: DEBUG off (no query log kept in memory, as in a served request)
    env = dict(os.environ, CREDITPLAN_DATABASE_URL=url, DJANGO_SETTINGS_MODULE="creditplan.settings",
               CREDITPLAN_LOG_LEVEL="ERROR", CREDITPLAN_DEBUG="0",
               CREDITPLAN_SECRET_KEY=os.environ.get("CREDITPLAN_SECRET_KEY", "bench-" + "k" * 50),
               CREDITPLAN_PII_KEY=os.environ.get("CREDITPLAN_PII_KEY") or base64.urlsafe_b64encode(os.urandom(32)).decode())
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--samples", str(samples),
                          "--warmup", str(warmup)], env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child for {url.split(':')[0]} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 samples (a smoke run)")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one backend")
    args = parser.parse_args()
    samples = 200 if args.quick else args.samples
    warmup = 30 if args.quick else args.warmup
    if args.child:
        print(json.dumps(child(samples, warmup)))
        return 0

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_ledger import machine, postgres_url

    out: dict = {"benchmark": "plans", "issue": "5, 19", "machine": machine(),
                 "target": f"a quota check (reserve_quota) adds <= {TARGET_MS} ms to a decision (median)",
                 "what": "reserve_quota end to end (locks, checks, counters, movements, reservation, ledger event, "
                         "commit) minus a same-process, interleaved transaction that appends only the ledger event",
                 "backends": {}}
    with tempfile.TemporaryDirectory(prefix="creditplan-bench-plans-") as tmp:
        if args.only in (None, "sqlite"):
            print("== sqlite", flush=True)
            out["backends"]["sqlite"] = run_child(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", samples, warmup,
                                                  Path(tmp))
            print(json.dumps(out["backends"]["sqlite"]["timings_ms"]), flush=True)
        if args.only in (None, "postgresql"):
            print("== postgresql", flush=True)
            with postgres_url() as (url, source):
                out["backends"]["postgresql"] = run_child(url, samples, warmup, Path(tmp))
                out["backends"]["postgresql"]["database"]["source"] = source
            print(json.dumps(out["backends"]["postgresql"]["timings_ms"]), flush=True)
    out["results"] = {name: {"reserve_ms_p50": b["timings_ms"]["reserve"]["p50"],
                             "reserve_ms_p95": b["timings_ms"]["reserve"]["p95"],
                             "added_ms_p50": b["added_ms_vs_ledger_event"]["p50"],
                             "added_ms_p95": b["added_ms_vs_ledger_event"]["p95"],
                             "added_ms_p50_vs_empty_transaction": b["added_ms_vs_empty_transaction"]["p50"],
                             "target_met": b["target_met"]}
                      for name, b in out["backends"].items()}
    out["results"]["quick_run"] = args.quick
    out["before"] = BEFORE  # recorded figures, not re-measured here
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False))
    met = all(b["target_met"] for b in out["backends"].values())
    return 0 if met or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
