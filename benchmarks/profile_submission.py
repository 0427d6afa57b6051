"""Where the CPU of one `POST /api/v1/applications` goes, in-process, on PostgreSQL (issue 4's latency work).

Seeds the same world as benchmarks/bench_decision_http.py (a throwaway PostgreSQL, production settings), then
sends N submissions straight through the project's WSGI application (the handler gunicorn calls: middleware,
ninja, the token check, origination, the decision, the plan, the ledger, the commit) — no HTTP, no server — and
prints:

- wall and CPU time per submission of this process, and the CPU the PostgreSQL backend serving it used
  (read from /proc), so the web side and the database side can be told apart;
- SQL statements per submission with their time (execute wrapper: round trip + server time);
- a cProfile of the same submissions, its top functions by own and by cumulative time, and the cumulative
  time of the named stages (auth, ninja parsing, validation, configuration, scorer, zen-engine, limit/price,
  reservation, ledger, response).

    python benchmarks/profile_submission.py               # 300 submissions after 100 to warm up
    python benchmarks/profile_submission.py -n 1000 --top 40
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

# cumulative time of these functions = the stage's cost (file suffix, function name)
STAGES = [
    ("auth: token look-up", "org/services.py", "user_for_token"),
    ("origination: submit_application", "origination/services/submission.py", "submit_application"),
    ("origination: _validate (look-up + checks)", "origination/services/submission.py", "_validate"),
    ("origination: sources.gather", "origination/sources.py", "gather"),
    ("decisions: begin_decision", "decisions/services/deciding.py", "begin_decision"),
    ("decisions: configuration", "decisions/services/snapshot.py", "configuration"),
    ("decisions: kernel.run", "decisions/domain/kernel.py", "run"),
    ("decisions: PendingDecision.__init__", "decisions/services/deciding.py", "__init__"),
    ("origination: insert_submission", "origination/sql.py", "insert_submission"),
    ("plans: reserve_quota", "plans/services/reservations.py", "reserve_quota"),
    ("ledger: append_many", "ledger/append.py", "append_many"),
    ("origination: application_view", "origination/services/records.py", "application_view"),
    ("api: _read (response schema)", "origination/api.py", "_read"),
    ("db: commit", "django/db/backends/base/base.py", "commit"),
]


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc (the PostgreSQL backend's is on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(seeded: dict, n: int, warm: int, top: int) -> dict:
    import django

    django.setup()
    from bench_decision_http import applicant
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()
    rnd = random.Random(5)
    branches = sorted(seeded["tokens"])

    def environ(k: int, tag: str) -> dict:
        branch = branches[k % len(branches)]
        body = json.dumps({"customer_id": rnd.choice(seeded["customers"][branch]), "product": "consumer",
                           "amount": f"{rnd.randint(5, 80) * 1000}.00", "term": rnd.choice([6, 12, 24, 36]),
                           "inputs": applicant(rnd, seeded["features"]), "channel": "api"}).encode()
        return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/applications", "SCRIPT_NAME": "",
                "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {seeded['tokens'][branch]}",
                "HTTP_IDEMPOTENCY_KEY": f"{tag}-{k}", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
                "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
                "wsgi.run_once": False, "wsgi.version": (1, 0)}

    statuses: dict[int, int] = {}

    def one(env: dict) -> None:
        got: list[str] = []
        response = handler(env, lambda status, headers, exc_info=None: got.append(status))
        b"".join(response)
        response.close()
        code = int(got[0].split()[0])
        statuses[code] = statuses.get(code, 0) + 1
        if code >= 300 and statuses[code] <= 2:
            print("unexpected", got[0], file=sys.stderr)

    tag = f"p{os.getpid()}"
    for k in range(warm):
        one(environ(k, tag + "w"))
    backend = connection.cursor().connection.info.backend_pid

    # 1) plain timing, no profiler: wall and CPU of this process, CPU of the database backend, statements
    timings: list[float] = []
    queries: list[tuple[str, float]] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql.split(None, 1)[0].upper() if sql else "", time.perf_counter() - t))

    envs = [environ(k, tag) for k in range(n)]
    cpu0, pg0, wall0 = time.process_time(), _proc_cpu(backend), time.perf_counter()
    with connection.execute_wrapper(wrapper):
        for env in envs:
            t = time.perf_counter()
            one(env)
            timings.append(time.perf_counter() - t)
    wall, cpu, pg = time.perf_counter() - wall0, time.process_time() - cpu0, _proc_cpu(backend) - pg0
    by_kind: dict[str, list[float]] = {}
    for kind, s in queries:
        by_kind.setdefault(kind, []).append(s)

    # 2) the same again under cProfile
    envs = [environ(k, tag + "p") for k in range(n)]
    prof = cProfile.Profile(time.process_time)  # CPU only: waiting for the database is not counted
    prof.enable()
    for env in envs:
        one(env)
    prof.disable()
    stats = pstats.Stats(prof)
    if os.environ.get("PROFILE_DUMP"):  # for pstats / snakeviz afterwards
        stats.dump_stats(os.environ["PROFILE_DUMP"])
    total = sum(v[2] for v in stats.stats.values())  # own time of everything = profiled CPU
    stages = {}
    for label, suffix, name in STAGES:
        cum = sum(v[3] for (file, _line, fn), v in stats.stats.items() if fn == name and file.endswith(suffix))
        stages[label] = round(cum / n * 1000, 3)
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return {
        "submissions": n, "statuses": statuses,
        "per_submission_ms": {"wall": round(wall / n * 1000, 3), "web_cpu": round(cpu / n * 1000, 3),
                              "postgres_backend_cpu": round(pg / n * 1000, 3),
                              "wall_median": round(statistics.median(timings) * 1000, 3)},
        "sql": {"statements_per_submission": round(len(queries) / n, 2),
                "time_per_submission_ms": round(sum(s for _k, s in queries) / n * 1000, 3),
                "by_kind": {k: {"count": round(len(v) / n, 2), "ms": round(sum(v) / n * 1000, 3)}
                            for k, v in sorted(by_kind.items())}},
        "profiled_ms_per_submission": round(total / n * 1000, 3),
        "stages_cumulative_ms (under cProfile)": stages,
        "_profile": out.getvalue(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="submissions measured (and as many profiled)")
    parser.add_argument("--warm", type=int, default=100, help="submissions before measuring")
    parser.add_argument("--top", type=int, default=35, help="functions listed by own and cumulative time")
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        result = profile(json.loads(Path(args.profile).read_text()), args.n, args.warm, args.top)
        print(result.pop("_profile"))
        print(json.dumps(result, indent=2))
        return 0
    from bench_decision_http import _child, _env
    from bench_ledger import postgres_url

    with tempfile.TemporaryDirectory(prefix="creditplan-profile-") as tmp, postgres_url() as (url, _source):
        cwd = Path(tmp)
        print("== seed", flush=True)
        seeded = _child("seed", url, cwd)
        seeded.pop("database", None)
        path = cwd / "seeded.json"
        path.write_text(json.dumps(seeded))
        print(f"== profile: {args.warm} to warm up, then {args.n} timed and {args.n} profiled", flush=True)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--profile", str(path), "-n", str(args.n),
                        "--warm", str(args.warm), "--top", str(args.top)], env=_env(url), cwd=cwd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
