"""Expected credit loss and behaviour re-rating benchmark (issue 17): a million loans on PostgreSQL with fsync on.

Targets (each the wall clock of the command the month-end schedule runs, a process of its own, on a durable
database):
- `creditplan risk rerate --month 2025-06`: every active loan's behaviour features (twelve month-end snapshots, six
  months of instalments), scored with the behaviour model's compiled artifact, a rating per customer stored with
  last month's — <= 60 s for 1,000,000 loans;
- `creditplan risk ecl --date 2025-06-30`: staging with the cure rule, PD curves from the observed transition matrix,
  exposure schedules, three scenarios, 12-month and lifetime ECL per loan stored (COPY), the month-end posting per
  branch and its reconciliation — <= 60 s for 1,000,000 loans.
Then both again on Spark (local[2], `--engine spark`) and a check that every stored figure is identical.

The book comes from `creditplan.loans.bulk.generate_loans` as in bench_close.py and bench_risk.py (customers through
the customers service, schedules from the schedule domain, ~8 % delinquent), in its state as of 30 June 2025, which
is recorded as closed (the close itself is bench_close.py's figure). Its snapshot is taken as the nightly run would
(timed, not part of the targets) and kept for the eleven month ends before as well (the same files: the history's
reads cost what they cost in production; the transitions are then all "stay"). The behaviour model is trained on the
Taiwan data first (timed, not part of the targets). Generation time is reported but is not part of any figure.

PostgreSQL: CREDITPLAN_BENCH_DATABASE_URL (a database this script may fill), else a throwaway server started with
scripts/pg_ctl_as_postgres with fsync and synchronous_commit ON (initdb defaults; durable) and shared_buffers = 1GB.

    python benchmarks/bench_ecl.py                       # 1,000,000 loans (generation takes minutes)
    python benchmarks/bench_ecl.py --loans 200000        # smaller; figures extrapolated to 1M are labelled
    python benchmarks/bench_ecl.py --quick               # 20,000 loans, to check that it runs
    python benchmarks/bench_ecl.py --no-spark            # without the Spark runs

Writes benchmarks/results/ecl.json; exits 1 when a target is missed or Spark disagrees (figures written anyway).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_close  # noqa: E402  (make_branches, generate, AS_OF)
import bench_common  # noqa: E402  (durable_django)
import bench_ledger  # noqa: E402  (postgres_url, machine)

RESULTS = ROOT / "benchmarks" / "results" / "ecl.json"
AS_OF = bench_close.AS_OF  # 2025-06-30, a month end
TARGET_S = 60
CREDITPLAN = Path(sys.executable).parent / "creditplan"


def _command(env: dict[str, str], *args: str) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run([str(CREDITPLAN), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"creditplan {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return round(wall, 2), done.stdout.strip()


def _month_end(index: int) -> dt.date:
    import calendar

    y, m = divmod(index, 12)
    return dt.date(y, m + 1, calendar.monthrange(y, m + 1)[1])


def keep_history(day: dt.date) -> dict:
    """The snapshot of `day` (as the nightly run takes it) and the same files kept for the eleven month ends before."""
    from creditplan.risk import store
    from creditplan.risk.models import Snapshot
    from creditplan.risk.services.run import take_snapshot

    t = time.perf_counter()
    snap = take_snapshot(day)
    taken = round(time.perf_counter() - t, 2)
    index = day.year * 12 + day.month - 1
    for j in range(1, 12):
        earlier = _month_end(index - j)
        target = store.folder(earlier)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(store.folder(day), target)
        Snapshot.objects.get_or_create(as_of=earlier, defaults={"path": str(target), "loans": snap.loans,
                                                                "sha256": snap.sha256})
    return {"snapshot_s": taken, "loans": snap.loans, "month_ends_kept": 12}


def _rows(model: str, day: dt.date) -> list[tuple]:
    from creditplan.risk.models import BehaviourScore, LoanEcl

    if model == "ecl":
        return list(LoanEcl.objects.filter(as_of=day).order_by("loan_id").values_list(
            "loan_id", "stage", "cured", "ead_minor", "ecl_12m_minor", "ecl_lifetime_minor", "ecl_minor"))
    return list(BehaviourScore.objects.filter(month=day).order_by("customer_id").values_list(
        "customer_id", "score", "pd", "grade", "previous_grade"))


def _same(a: list[tuple], b: list[tuple]) -> dict:
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
    return {"rows": len(a), "identical": len(a) == len(b) and not differ,
            "differences": [[list(a[i]), list(b[i])] for i in differ[:5]]}


def phases(day: dt.date) -> dict:
    """Where the ECL run's time goes, in this process (a recomputation: nothing more is posted)."""
    from creditplan.risk.services import ecl

    out: dict[str, float] = {}
    t = time.perf_counter()
    prepared = ecl.prepare(day)
    out["prepare_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    computed = ecl.compute(prepared)
    out["compute_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    ecl._store(prepared, computed, engine="local", post=True, actor=None, started=t)
    out["store_and_post_s"] = round(time.perf_counter() - t, 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 loans")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark runs")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.loans
    out: dict = {"benchmark": "ecl", "issue": 17, "machine": bench_ledger.machine(),
                 "targets": {"rerate_1m_s": TARGET_S, "ecl_1m_s": TARGET_S}, "as_of": AS_OF.isoformat()}
    risk_dir = Path(tempfile.mkdtemp(prefix="creditplan-bench-ecl-"))
    with bench_common.durable_django("ecl", risk_dir=risk_dir, after_close="off") as database:
        out["database"] = database
        env = dict(os.environ)  # the commands measured below run in processes of their own
        from django.db import connection
        bench_close.make_branches()
        print(f"== generate {n:,} loans")
        out["generation"] = bench_close.generate(n)
        from django.utils import timezone

        from creditplan.loans.models import CloseRun
        from creditplan.org import services as org
        from creditplan.risk.services import behaviour

        CloseRun.objects.create(business_date=AS_OF, status="done", finished_at=timezone.now(),
                                report={"note": "generated book, in its state after the close of this date"})
        print("== the snapshot of the month end and its history")
        out["snapshot"] = keep_history(AS_OF)
        print(json.dumps(out["snapshot"]))
        author = org.create_user(None, username="risk", password="bench-pass-123", role="risk_manager",
                                 branch_code="HO", display_name="risk")
        approver = org.create_user(None, username="risk2", password="bench-pass-123", role="risk_manager",
                                   branch_code="HO", display_name="risk2")
        t = time.perf_counter()
        version = behaviour.train_behaviour_model(author, approver)
        out["behaviour_model"] = {"train_and_register_s": round(time.perf_counter() - t, 1),
                                  "holdout_auc": version.metrics.get("holdout", {}).get("auc")}
        connection.close()
        _command(env, "risk", "ecl-setup")

        print("== re-rating, local")
        wall, text = _command(env, "risk", "rerate", "--month", f"{AS_OF:%Y-%m}")
        from creditplan.risk.models import RerateRun

        rerun = RerateRun.objects.get(month=AS_OF)
        out["rerate_local"] = {"wall_s": wall, "seconds_in_process": rerun.seconds, "loans": rerun.loans,
                               "customers": rerun.customers, "printed": text}
        print(json.dumps(out["rerate_local"]))
        local_scores = _rows("behaviour", AS_OF)

        print("== ECL, local (posted: a month end)")
        wall, text = _command(env, "risk", "ecl", "--date", AS_OF.isoformat(), "--no-indicators")
        out["ecl_local"] = {"wall_s": wall, "printed": text.splitlines()}
        print(json.dumps(out["ecl_local"]))
        from creditplan.risk.models import EclRun
        from creditplan.risk.services import ecl

        run = EclRun.objects.get(as_of=AS_OF)
        out["ecl_run"] = {"loans": run.loans, "stage_loans": run.stage_loans, "stage_ecl_fen": run.stage_ecl,
                          "total_fen": run.total_minor, "ead_fen": run.ead_minor, "seconds_in_process": run.seconds,
                          "pd_sources": run.pd_sources, "posted_entries": len(run.entries)}
        checks = ecl.reconcile_allowance(AS_OF)
        out["reconciliation"] = {"branches": len(checks), "all_equal": all(c.difference_minor == 0 for c in checks),
                                 "gl_fen": sum(c.gl_minor for c in checks), "loans_fen": sum(c.loans_minor
                                                                                              for c in checks)}
        local_ecl = _rows("ecl", AS_OF)
        print("== where the ECL run's time goes (in this process)")
        out["ecl_phases"] = phases(AS_OF)
        out["recomputed_identical"] = _same(local_ecl, _rows("ecl", AS_OF))
        print(json.dumps(out["ecl_phases"]))
        connection.close()

        if not args.no_spark:
            print("== re-rating and ECL on Spark (local[2])")
            wall, text = _command(env, "risk", "rerate", "--month", f"{AS_OF:%Y-%m}", "--engine", "spark")
            out["rerate_spark"] = {"wall_s": wall, "identical": _same(local_scores, _rows("behaviour", AS_OF))}
            connection.close()
            wall, text = _command(env, "risk", "ecl", "--date", AS_OF.isoformat(), "--engine", "spark",
                                  "--no-indicators")
            out["ecl_spark"] = {"wall_s": wall, "identical": _same(local_ecl, _rows("ecl", AS_OF)),
                                "printed": text.splitlines()}
            print(json.dumps(out["rerate_spark"]), json.dumps(out["ecl_spark"]))
            connection.close()

        print("== stress tests (informative)")
        wall, text = _command(env, "risk", "stress", "--date", AS_OF.isoformat())
        out["stress_local"] = {"wall_s": wall, "printed": text.splitlines()}
        connection.close()
    shutil.rmtree(risk_dir, ignore_errors=True)

    scale = 1_000_000 / n

    def at_1m(wall: float, in_process: float) -> float:
        return wall if n == 1_000_000 else (wall - in_process) + in_process * scale

    ecl_1m = at_1m(out["ecl_local"]["wall_s"], out["ecl_run"]["seconds_in_process"])
    rerate_1m = at_1m(out["rerate_local"]["wall_s"], out["rerate_local"]["seconds_in_process"])
    out["results"] = {
        "loans_measured": n, "measured_is": "measured" if n == 1_000_000 else
        f"at {n:,} loans; the 1M figures are extrapolated linearly (process start kept as measured)",
        "rerate_local_s": out["rerate_local"]["wall_s"], "ecl_local_s": out["ecl_local"]["wall_s"],
        "rerate_local_s_1m": round(rerate_1m, 1), "ecl_local_s_1m": round(ecl_1m, 1),
        "rerate_spark_s": out.get("rerate_spark", {}).get("wall_s"), "ecl_spark_s": out.get("ecl_spark", {}).get("wall_s"),
        "target_met": rerate_1m <= TARGET_S and ecl_1m <= TARGET_S,
        "spark_identical": None if args.no_spark else (out["rerate_spark"]["identical"]["identical"]
                                                       and out["ecl_spark"]["identical"]["identical"]),
        "recomputation_identical": out["recomputed_identical"]["identical"],
        "allowance_reconciles": out["reconciliation"]["all_equal"], "quick_run": args.quick,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out["results"], indent=2))
    ok = out["results"]["target_met"] and out["results"]["spark_identical"] is not False \
        and out["results"]["recomputation_identical"] and out["results"]["allowance_reconciles"]
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
