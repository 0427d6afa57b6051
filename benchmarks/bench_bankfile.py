"""Bank-file benchmark (issue 7): 100,000 payments posted from one CSV file in <= 60 s on PostgreSQL.

What is timed: `loans.payments.import_bank_file` on a 100,000-line file, the whole use case — decoding and
checking every line, locking the loans and reading their due installments in bulk, the waterfall for each
payment (the same `loans.domain.allocation.apply_payment` as a teller's payment), and writing the payments
(each with its state snapshot), installments, loans, one journal entry per payment, activities and ledger
events, in batches of 1,000 lines, one transaction each, committed. Then the same file again (every line a
duplicate: idempotent).

Against what (same run, same database): 1,000 payments posted one by one through `payments.post_payment`,
each its own transaction — what a naive import would do line by line. Reported as payments/s and the ratio.

The book comes from `creditplan.loans.bulk.generate_loans` (about 8 % delinquent, 2 % holding a credit), as of
yesterday, so every payment is dated today (after the last close: no replay). The payments: a delinquent loan
pays what it owes (60 %), half of it (20 %) or a bit more (20 %, the rest kept as credit); a current loan pays
its next installment ahead of time (kept as credit until the due date). A few hundred bad lines (unknown
loan, negative amount, future date) are mixed in and must be reported, not posted. After the run the general
ledger must balance and reconcile with the loans (checked, not timed).

PostgreSQL: CREDITPLAN_BENCH_DATABASE_URL, else a throwaway server (bench_ledger.postgres_url: initdb
defaults, fsync on).

    python benchmarks/bench_bankfile.py              # 100,000 payments (book generation takes a minute or two)
    python benchmarks/bench_bankfile.py --quick      # 5,000 payments, to check that it runs

Writes benchmarks/results/bankfile.json; exits 1 when the target is missed (the figures are written anyway).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "bankfile.json"
TARGET_S = 60.0
TARGET_PAYMENTS = 100_000
sys.path.insert(0, str(HERE))

from bench_ledger import machine, postgres_url  # noqa: E402


def make_bank() -> object:
    from django.conf import settings

    from creditplan.org import services as org

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only
    org.create_branch(None, code="HO", name="总行", name_en="Head office", level="head_office")
    for code, region, sub in (("BJ", "110100", "110108"), ("SH", "310100", "310115"), ("GZ", "440100", "440106")):
        org.create_branch(None, code=code, name=f"{code}分行", level="branch", parent_code="HO", region_code=region)
        for k in (1, 2):
            org.create_branch(None, code=f"{code}0{k}", name=f"{code}支行{k}", level="sub_branch", parent_code=code,
                              region_code=sub)
    return org.create_user(None, username="ops", password="bench-pass-123", role="operations", branch_code="HO")


def generate(n: int, today: dt.date) -> dict:
    from django.db import connection

    from creditplan.loans import bulk
    from creditplan.loans.models import LprRate

    LprRate.objects.get_or_create(tenor="1y", effective_date=today - dt.timedelta(days=500),
                                  defaults={"rate_ppm": 34_500})
    as_of = today - dt.timedelta(days=1)
    t = time.perf_counter()
    book = bulk.generate_loans(n, start_range=(as_of - dt.timedelta(days=364), as_of - dt.timedelta(days=20)),
                               seed=2026, as_of=as_of, terms=(6, 12, 24))
    out = book.as_dict()
    out["wall_s"] = round(time.perf_counter() - t, 1)
    with connection.cursor() as cur:
        for table in ("loans_loan", "loans_installment"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return out


def build_file(loan_rows: list[tuple], today: dt.date, bad: int, rng: random.Random) -> tuple[bytes, dict]:
    """One payment per loan (CSV with a header), plus `bad` bad lines spread through the file."""
    lines = ["reference,loan_ref,amount,value_date"]
    kinds = {"overdue_full": 0, "overdue_half": 0, "overdue_plus": 0, "ahead": 0, "bad": 0}
    bad_at = set(rng.sample(range(len(loan_rows)), min(bad, len(loan_rows))))
    for k, (ref, op, oi, pen, fees, pp, pi, pf) in enumerate(loan_rows):
        owed = op + oi + pen + fees
        if owed:
            draw = rng.random()
            kind = "overdue_full" if draw < 0.6 else "overdue_half" if draw < 0.8 else "overdue_plus"
            amount = owed if kind == "overdue_full" else max(1, owed // 2) if kind == "overdue_half" else owed + 10_000
        else:
            kind, amount = "ahead", max(100, pp + pi + pf)
        kinds[kind] += 1
        lines.append(f"BF{k:08d},{ref},{amount // 100}.{amount % 100:02d},{today.isoformat()}")
        if k in bad_at:
            kinds["bad"] += 1
            which = k % 3
            lines.append(f"BAD{k:08d},NO-SUCH-LOAN,10.00,{today.isoformat()}" if which == 0 else
                         f"BAD{k:08d},{ref},-5.00,{today.isoformat()}" if which == 1 else
                         f"BAD{k:08d},{ref},10.00,{(today + dt.timedelta(days=1)).isoformat()}")
    return ("\n".join(lines) + "\n").encode("utf-8"), kinds


def books() -> dict:
    from creditplan.loans import accounting

    tb = accounting.trial_balance()
    diffs = {r.account: r.difference_minor for r in accounting.reconcile() if r.difference_minor}
    return {"trial_balance_balanced": sum(r.debit_minor for r in tb) == sum(r.credit_minor for r in tb),
            "reconcile_differences": diffs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=TARGET_PAYMENTS)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--bad", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="5,000 payments, 200 one by one")
    args = parser.parse_args()
    n = 5_000 if args.quick else args.payments
    n_base = 200 if args.quick else args.baseline
    out: dict = {"benchmark": "bankfile", "issue": 7, "machine": machine(),
                 "targets": {"payments": TARGET_PAYMENTS, "seconds": TARGET_S}}
    with postgres_url() as (url, source):
        os.environ["CREDITPLAN_DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditplan.settings")
        os.environ.setdefault("CREDITPLAN_DEBUG", "0")
        os.environ.setdefault("CREDITPLAN_SECRET_KEY", "bench-bankfile-not-a-secret")
        # no key is derived any more: a throwaway one encrypts the generated customers' personal data
        os.environ.setdefault("CREDITPLAN_PII_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
        sys.path.insert(0, str(ROOT / "src"))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from creditplan.core.money import to_major
        from creditplan.loans import payments
        from creditplan.loans import services as loans
        from creditplan.loans.models import JournalEntry, Loan, Payment

        call_command("migrate", verbosity=0)
        with connection.cursor() as cur:
            cur.execute("SELECT version(), current_setting('fsync'), current_setting('synchronous_commit'), "
                        "current_setting('shared_buffers')")
            version, fsync, sync, buffers = cur.fetchone()
        out["database"] = {"source": source, "version": version.split(" on ")[0], "fsync": fsync,
                           "synchronous_commit": sync, "shared_buffers": buffers}
        ops = make_bank()
        today = loans.business_date()
        print(f"== generate {n + n_base:,} loans (as of {today - dt.timedelta(days=1)})", flush=True)
        out["generation"] = generate(n + n_base, today)
        print(json.dumps(out["generation"]), flush=True)
        rows = list(Loan.objects.order_by("id").values_list(
            "ref", "overdue_principal_minor", "overdue_interest_minor", "penalty_minor", "fees_minor",
            "period_principal_minor", "period_interest_minor", "period_fee_minor"))
        rng = random.Random(7)
        rng.shuffle(rows)
        file_rows, base_rows = rows[:n], rows[n:n + n_base]
        content, kinds = build_file(file_rows, today, args.bad, rng)
        out["file"] = {"bytes": len(content), "payments": n, "bad_lines": kinds["bad"], "mix": kinds}

        print(f"== baseline: {len(base_rows):,} payments one by one through post_payment", flush=True)
        t = time.perf_counter()
        for k, (ref, op, oi, pen, fees, pp, pi, pf) in enumerate(base_rows):
            amount = (op + oi + pen + fees) or max(100, pp + pi + pf)
            payments.post_payment(ops, loan_ref=ref, amount=to_major(amount), reference=f"ONE{k:08d}",
                                  channel="teller")
        base_s = time.perf_counter() - t
        base_rate = len(base_rows) / base_s
        out["baseline"] = {"payments": len(base_rows), "seconds": round(base_s, 2),
                           "payments_per_s": round(base_rate, 1),
                           "what": "post_payment per line: one transaction, lock, snapshot, allocation, entry, "
                                   "activity, ledger event each"}
        print(json.dumps(out["baseline"]), flush=True)

        print(f"== bank file: {n:,} payments", flush=True)
        entries_before = JournalEntry.objects.count()
        t = time.perf_counter()
        report = payments.import_bank_file(ops, content, filename="bench.csv")
        file_s = time.perf_counter() - t
        rate = report.posted / file_s
        out["bank_file"] = {
            "lines": report.lines, "posted": report.posted, "rejected": len(report.rejected),
            "duplicates": report.duplicates, "replayed": report.replayed, "batches_retried": report.batches_retried,
            "seconds": round(file_s, 2), "payments_per_s": round(rate, 1),
            "speedup_vs_baseline": round(rate / base_rate, 1),
            "seconds_extrapolated_100k": round(file_s * TARGET_PAYMENTS / max(report.posted, 1), 2),
            "journal_entries": JournalEntry.objects.count() - entries_before, "phases_s": report.phases,
            "totals_minor": report.totals,
        }
        print(json.dumps(out["bank_file"]), flush=True)

        print("== the same file again (every line already posted)", flush=True)
        t = time.perf_counter()
        again = payments.import_bank_file(ops, content, filename="bench.csv")
        again_s = time.perf_counter() - t
        out["reimport"] = {"seconds": round(again_s, 2), "posted": again.posted, "duplicates": again.duplicates,
                           "rejected": len(again.rejected)}
        print(json.dumps(out["reimport"]), flush=True)
        out["checks"] = {**books(), "payments_in_db": Payment.objects.filter(channel="file").count(),
                         "bad_lines_reported": len(report.rejected) == kinds["bad"],
                         "reimport_posted_nothing": again.posted == 0 and again.duplicates == report.posted}
        print(json.dumps(out["checks"]), flush=True)
        connection.close()
    ok_checks = (out["checks"]["trial_balance_balanced"] and not out["checks"]["reconcile_differences"]
                 and out["checks"]["bad_lines_reported"] and out["checks"]["reimport_posted_nothing"]
                 and out["bank_file"]["posted"] == n)
    secs = out["bank_file"]["seconds_extrapolated_100k"]
    out["results"] = {"payments": out["bank_file"]["posted"], "seconds": out["bank_file"]["seconds"],
                      "payments_per_s": out["bank_file"]["payments_per_s"],
                      "baseline_payments_per_s": out["baseline"]["payments_per_s"],
                      "speedup_vs_baseline": out["bank_file"]["speedup_vs_baseline"],
                      "seconds_for_100k": secs, "target_met": secs <= TARGET_S and ok_checks,
                      "checks_ok": ok_checks, "quick_run": args.quick}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")
    print(json.dumps(out["results"], indent=2))
    return 0 if out["results"]["target_met"] or (args.quick and ok_checks) else 1


if __name__ == "__main__":
    sys.exit(main())
