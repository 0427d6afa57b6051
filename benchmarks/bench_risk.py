"""Risk indicators benchmark (issue 16): every standard indicator over a million loans after the close, on
PostgreSQL with fsync on.

Target: the indicator run for a closed date — the snapshot of the book (read as columns, history carried from the
previous snapshot, written as Parquet) and every active standard indicator for every member of each of its
dimensions, judged, with the alerts raised — in <= 30 s for 1,000,000 loans, with the close's own time beside it,
measured the same way: each is the wall clock of the command the scheduler runs (`creditplan cob run --date D`,
`creditplan risk run --date D`), a process of its own, on the same durable database. Then the same date on Spark
(`--engine spark`, local[2]), recomputed from the kept snapshot, and a check that every stored value is identical;
then the next night as it runs in production (`cob run` with the indicators after the close, the default).

The book comes from `creditplan.loans.bulk.generate_loans`, as in bench_close.py (customers through the customers
service, schedules from the schedule domain, ~8 % delinquent, in its state as of the day before the close).
Generation time is reported but is not part of any figure. Where the time goes is measured separately, in this
process, phase by phase and with cProfile (a recomputation of the same date).

PostgreSQL: CREDITPLAN_BENCH_DATABASE_URL (a database this script may fill), else a throwaway server started with
scripts/pg_ctl_as_postgres with fsync and synchronous_commit ON (initdb defaults; durable) and shared_buffers = 1GB.
A database given that already holds a book is reused (no generation): the run closes its next open dates, with the
snapshots kept in CREDITPLAN_BENCH_RISK_DIR.

    python benchmarks/bench_risk.py                       # 1,000,000 loans (generation takes minutes)
    python benchmarks/bench_risk.py --loans 200000        # smaller; figures extrapolated to 1M are labelled
    python benchmarks/bench_risk.py --quick               # 20,000 loans, to check that it runs
    python benchmarks/bench_risk.py --no-spark            # without the Spark run

Writes benchmarks/results/risk.json; exits 1 when the target is missed or Spark disagrees (figures written anyway).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_close  # noqa: E402  (make_branches, generate, dates)
import bench_common  # noqa: E402  (durable_django)
import bench_ledger  # noqa: E402  (postgres_url, machine)

RESULTS = ROOT / "benchmarks" / "results" / "risk.json"
CLOSE_DAY = bench_close.CLOSE_DAY
TARGET_S = 30

CREDITPLAN = Path(sys.executable).parent / "creditplan"


def _command(env: dict[str, str], *args: str) -> tuple[float, str]:
    """Wall clock of one `creditplan …` process (as the scheduler starts it) and what it printed."""
    t = time.perf_counter()
    done = subprocess.run([str(CREDITPLAN), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"creditplan {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return round(wall, 2), done.stdout.strip()


def _values(day: dt.date) -> dict[tuple[str, str, str], tuple]:
    from creditplan.risk.models import IndicatorValue

    return {(code, dim, member): (value, num, den, prev, rag) for code, dim, member, value, num, den, prev, rag in
            IndicatorValue.objects.filter(as_of=day).values_list(
                "indicator__code", "dimension", "member", "value", "numerator", "denominator", "previous", "rag")}


def _same(a: dict, b: dict) -> dict:
    """Every stored value identical (NaN never stored: None is no value)."""
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return {"values": len(a), "identical": not differ and len(a) == len(b),
            "differences": [[*k, a.get(k), b.get(k)] for k in differ[:10]]}


def _run_row(day: dt.date) -> dict:
    from creditplan.risk.models import Run

    r = Run.objects.filter(as_of=day).order_by("-id").first()
    return {"engine": r.engine, "recompute": r.recompute, "loans": r.loans, "values": r.values, "alerts": r.alerts,
            "seconds_in_process": round(r.seconds, 2)} if r else {}


def _close_row(day: dt.date) -> dict:
    from creditplan.loans.models import CloseRun

    run = CloseRun.objects.get(business_date=day)
    return {"status": run.status, "loans": run.report.get("loans"), "chunks": run.report.get("chunks"),
            "close_own_seconds": round(float(run.report.get("seconds", 0.0)), 2)}


def _after_close(day: dt.date) -> dict:
    """From the end of the close (its run marked done) to the snapshot kept and to the indicators stored: what the
    close's own process spends on risk monitoring afterwards, by the database's clocks."""
    from creditplan.loans.models import CloseRun
    from creditplan.risk.models import Run, Snapshot

    closed = CloseRun.objects.get(business_date=day).finished_at
    snap = Snapshot.objects.get(as_of=day).taken_at
    run = Run.objects.filter(as_of=day).order_by("id").first()
    return {"snapshot_s": round((snap - closed).total_seconds(), 2),
            "snapshot_and_indicators_s": round((run.finished_at - closed).total_seconds(), 2) if run else None}


def phases(day: dt.date) -> dict:
    """The indicator run's steps one by one, in this process, over the kept snapshot of `day` and the book."""
    import numpy as np

    from creditplan.risk import sql, store
    from creditplan.risk.domain.catalogue import FACTS
    from creditplan.risk.domain.facts import loan_facts
    from creditplan.risk.domain.snapshot import derive
    from creditplan.risk.engine import Task, run_local
    from creditplan.risk.models import Indicator, Snapshot
    from creditplan.risk.services.indicators import formula_of

    out: dict[str, float] = {}

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        value = fn()
        out[name] = round(time.perf_counter() - t, 3)
        return value

    snap = Snapshot.objects.get(as_of=day)
    book = timed("read_book_sql_s", lambda: sql.read_book(day))
    derived = timed("derive_s", lambda: derive(book, day, None))
    tmp = Path(tempfile.mkdtemp(prefix="bench-risk-"))
    try:
        import pyarrow.parquet as pq

        timed("write_parquet_s", lambda: pq.write_table(store._arrow(derived), tmp / "loans.parquet",
                                                        compression="zstd"))
        out["snapshot_loans_parquet_bytes"] = (tmp / "loans.parquet").stat().st_size
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tables = timed("read_snapshot_s", lambda: store.read(snap.as_of, snap.sha256))
    facts = timed("loan_facts_s", lambda: loan_facts(tables["loans"], None))
    indicators = [i for i in Indicator.objects.filter(active=True, fact="loans")]
    tasks = [Task(i.code, formula_of(i), tuple(i.dimensions)) for i in indicators]
    results = timed("engine_loans_s", lambda: run_local(facts, tasks, FACTS["loans"]))
    out["loan_indicators"] = len(tasks)
    out["loan_values"] = int(sum(np.asarray(r.values).size for r in results))
    out["snapshot_folder_bytes"] = sum(f.stat().st_size for f in store.folder(day).iterdir())
    return out


def profile_recompute(day: dt.date, top: int = 25) -> str:
    from creditplan.risk.services import run

    prof = cProfile.Profile()
    prof.enable()
    run.run_indicators(day)
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 loans")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark run")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.loans
    out: dict = {"benchmark": "risk", "issue": 16, "machine": bench_ledger.machine(),
                 "targets": {"indicators_1m_s": TARGET_S}}
    kept_dir = os.environ.get("CREDITPLAN_BENCH_RISK_DIR")  # with a reused database: its snapshots' folder
    risk_dir = Path(kept_dir) if kept_dir else Path(tempfile.mkdtemp(prefix="creditplan-bench-risk-"))
    with bench_common.durable_django("risk", risk_dir=risk_dir, after_close="off") as database:
        out["database"] = database
        env = dict(os.environ)  # the commands measured below run in processes of their own
        from django.db import connection

        from creditplan.loans import cob
        from creditplan.loans.models import Loan

        on_book = Loan.objects.count()
        if on_book:  # CREDITPLAN_BENCH_DATABASE_URL with the book of an earlier run: the next open dates
            n = on_book
            out["generation"] = {"reused": True, "loans": on_book}
            print(f"== reusing the {n:,} loans of the database given")
        else:
            bench_close.make_branches()
            print(f"== generate {n:,} loans")
            out["generation"] = bench_close.generate(n)
        close_day = cob.first_open_date() or CLOSE_DAY
        next_day = close_day + dt.timedelta(days=1)
        out["business_date"] = close_day.isoformat()
        from creditplan.risk.services import indicators

        indicators.install_standard(None)
        connection.close()  # the commands below are processes of their own

        print(f"== the close of {close_day} (risk after the close off: measured on its own)")
        wall, text = _command(env, "cob", "run", "--date", close_day.isoformat(), "--plain")
        out["close"] = {"wall_s": wall, **_close_row(close_day), "printed": text.splitlines()[-1]}
        print(json.dumps(out["close"]))

        print(f"== the indicator run for {close_day}: snapshot + every standard indicator, local")
        wall, text = _command(env, "risk", "run", "--date", close_day.isoformat())
        out["indicators_local"] = {"wall_s": wall, **_run_row(close_day), "printed": text.splitlines()[-1]}
        print(json.dumps(out["indicators_local"]))
        local = _values(close_day)

        print("== where the time goes (in this process)")
        out["phases"] = phases(close_day)
        print(json.dumps(out["phases"]))
        out["profile_recompute_top"] = profile_recompute(close_day).splitlines()
        again = _values(close_day)
        out["recomputed_local_identical"] = _same(local, again)
        connection.close()

        if not args.no_spark:
            print("== the same date on Spark (local[2]), from the kept snapshot")
            wall, text = _command(env, "risk", "run", "--date", close_day.isoformat(), "--engine", "spark")
            out["indicators_spark"] = {"wall_s": wall, **_run_row(close_day), "printed": text.splitlines()[-1]}
            out["spark_identical"] = _same(local, _values(close_day))
            print(json.dumps(out["indicators_spark"]), json.dumps(out["spark_identical"]))
            connection.close()

        print(f"== the next night as in production: `cob run --date {next_day}`, indicators after the close")
        night = {**env, "CREDITPLAN_RISK_AFTER_CLOSE": "indicators"}
        wall, text = _command(night, "cob", "run", "--date", next_day.isoformat(), "--plain")
        out["next_night"] = {"wall_s": wall, **_close_row(next_day), "indicators": _run_row(next_day),
                             "after_the_close": _after_close(next_day),
                             "printed": text.splitlines()[-1]}
        print(json.dumps(out["next_night"]))
        connection.close()
    if not kept_dir:
        shutil.rmtree(risk_dir, ignore_errors=True)

    scale = 1_000_000 / n
    local_s = out["indicators_local"]["wall_s"]
    in_process = out["indicators_local"].get("seconds_in_process", local_s)
    local_1m = local_s if n == 1_000_000 else (local_s - in_process) + in_process * scale
    after = out["next_night"]["after_the_close"]["snapshot_and_indicators_s"]
    out["results"] = {
        "loans_measured": n, "measured_is": "measured" if n == 1_000_000 else
        f"at {n:,} loans; the 1M figures are extrapolated linearly",
        "close_s": out["close"]["wall_s"], "close_own_s": out["close"]["close_own_seconds"],
        "indicators_local_s": local_s,
        "indicators_spark_s": out.get("indicators_spark", {}).get("wall_s"),
        "next_night_close_plus_indicators_s": out["next_night"]["wall_s"],
        "next_night_after_the_close_s": out["next_night"]["after_the_close"]["snapshot_and_indicators_s"],
        # below 1M: the work in the process grows with the book, the process start (Django, imports) does not
        "indicators_local_s_1m": round(local_1m, 1),
        "indicators_local_1m_is": "measured" if n == 1_000_000 else
        f"extrapolated from {n:,} loans: process start as measured + in-process seconds x {scale:g}",
        # both ways of running it: the command by itself, and the close's own run after it
        "target_met": local_1m <= TARGET_S and (n != 1_000_000 or (after or 0) <= TARGET_S),
        "spark_identical": out.get("spark_identical", {}).get("identical"),
        "recomputation_identical": out["recomputed_local_identical"]["identical"],
        "quick_run": args.quick,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out["results"], indent=2))
    ok = out["results"]["target_met"] and out["results"]["spark_identical"] is not False \
        and out["results"]["recomputation_identical"]
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
