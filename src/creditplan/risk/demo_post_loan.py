"""Post-loan management in the demo (`creditplan seed-demo`, `make demo`): the pages a risk manager, a loan officer
and a customer open after disbursement show a department at work — credit lines, behaviour re-rating, the loss
allowance posted and reconciled, a stress test, early-warning levels and the watch list, review tasks, limit
proposals and model monitoring.

Everything goes through the services and jobs the product runs (nothing is written around them), in the order the
schedule runs them (docs/architecture.md, "The path of a batch job"), over the demo's kept snapshots:

1. **Credit lines** (lines/demo.py) for about two thirds of the customers who owe principal or hold an approval not
   paid out — and always for the demo customer log-in — proposed by the branch's maker and approved by a checker
   with the authority; each takes over what its customer holds. Some revolving, some with sub-limits, a couple
   expiring within weeks, one proposal left waiting for its approver.
2. **Inputs of early warning**: a few negative external records (a court judgment, a blacklist entry…) and five
   months of inflows for a handful of customers, some falling.
3. **The month-ends before the recent weeks**: behaviour re-rating (`risk rerate`), and for the allowance months the
   ECL run posted to the general ledger (`risk ecl`).
4. **The recent weeks, day by day**: the signals (`risk signals`: levels, the watch list moving — its listener opens
   review tasks) and the daily review job (`risk reviews`: routine checks, escalation); at the month-end among them
   the re-rating, the ECL run posted, the stress test beside the base and the monthly limits run (`risk limits`).
5. Afterwards: the indicators of the dates since the first allowance are computed again (provision coverage reads
   the allowance, as `risk ecl` does for its date), three reviews are recorded (one freezing a line), and the weekly
   model monitoring (`risk monitor-models`) runs for the last six weeks.

Deterministic: the same seed and book give the same choices (customers are taken in id order from a seeded random).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor
from creditplan.customers.models import Customer
from creditplan.decisions import services as decisions
from creditplan.lines import demo as lines_demo
from creditplan.lines import services as lines
from creditplan.loans import services as loans
from creditplan.loans.models import Loan
from creditplan.org.models import User
from creditplan.origination.domain import Status
from creditplan.origination.models import Application
from creditplan.risk.models import Run, Snapshot
from creditplan.risk.services import behaviour, ecl, limits, monitoring, reviews, signals, stress
from creditplan.risk.services.run import run_indicators

LINE_SHARE = 0.65  # of the customers who hold something
WATCH_DAYS = 42  # the signals and reviews are run for the last six weeks, day by day
RERATE_MONTHS = 4  # month-ends re-rated (grade migration needs two)
ECL_MONTHS = 2  # month-ends with the allowance posted
MONITOR_WEEKS = 6  # the demo's applications span six weeks
STAFF = ("risk", "risk2", "officer_bj", "approver_bj", "officer_sh", "approver_sh", "officer_gz", "officer_cd",
         "officer_hz")


@dataclass
class PostLoanSummary:
    lines: dict[str, int] = field(default_factory=dict)
    ecl: list[str] = field(default_factory=list)
    warning: dict[str, int] = field(default_factory=dict)
    reviews: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    monitoring: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def _yuan(minor: int) -> str:
    return format_minor(minor, grouping=False)


# --- 1. credit lines ------------------------------------------------------------------------------------------

def _holders() -> list[int]:
    """Customers owing principal or holding an approval not paid out, in id order."""
    owing = set(Loan.objects.filter(status="active", principal_outstanding_minor__gt=0)
                .values_list("customer_id", flat=True))
    waiting = (Status.APPROVED, Status.CONTRACT_OFFERED, Status.SIGNED, Status.READY_TO_DISBURSE)
    approved = set(Application.objects.filter(status__in=waiting).values_list("customer_id", flat=True))
    return sorted(owing | approved)


def seed_lines(rnd: random.Random, users: dict[str, Any], today: dt.date) -> dict[str, int]:
    """Lines for a share of the holders and the demo customer; one proposal left for its approver."""
    staff = lines_demo.Staff(users)
    holders = _holders()
    demo_customer = Customer.objects.filter(user__username="customer").values_list("pk", flat=True).first()
    chosen = [c for c in holders if c == demo_customer or rnd.random() < LINE_SHARE]
    customers = {c.pk: c for c in Customer.objects.select_related("branch").filter(pk__in=chosen)}
    counts = {"active": 0, "revolving": 0, "sub_limits": 0, "expiring": 0, "waiting": 0}
    expiring = 2
    waiting_left = 1
    for cid in chosen:
        customer = customers[cid]
        holding = lines_demo.held(cid)
        if holding.occupied <= 0:
            continue
        if cid == demo_customer:  # the customer log-in: a revolving line with room, a consumer sub-limit
            amount = lines_demo.round_up(holding.occupied * 4 // 3)
            consumer = holding.usage["consumer"].total if "consumer" in holding.usage else 0
            # 200,000.00 yuan, or room above what the customer's consumer loans already use
            sub = 20_000_000 if consumer <= 20_000_000 else min(amount, lines_demo.round_up(consumer + amount // 10))
            terms = lines_demo.Terms(amount, today + dt.timedelta(days=900), True, {"consumer": sub})
        else:
            # one line in four well used (the monthly limits run may raise it), the others with room
            use = rnd.uniform(0.55, 0.9) if rnd.random() < 0.25 else rnd.uniform(0.3, 0.55)
            soon = None
            if expiring and rnd.random() < 0.05:
                soon, expiring = (18 if expiring == 2 else 45), expiring - 1
            terms = lines_demo.terms_for(holding, rnd, today, use=use, expires_in_days=soon)
            counts["expiring"] += soon is not None
        maker, checker = staff.for_customer(customer, terms.amount_minor)
        wait = (waiting_left > 0 and cid != demo_customer and maker.role == "loan_officer"
                and checker.role == "approver" and rnd.random() < 0.2)
        lines_demo.open_line(maker, checker, cid, terms, _line_reason(holding, terms), approve=not wait)
        if wait:
            waiting_left -= 1
            counts["waiting"] += 1
            continue
        counts["active"] += 1
        counts["revolving"] += terms.revolving
        counts["sub_limits"] += bool(terms.sub_limits)
    return counts


def _line_reason(holding: Any, terms: lines_demo.Terms) -> str:
    share = holding.occupied * 100 // max(terms.amount_minor, 1)
    return (f"统一授信：现有贷款及已批未放款 {format_minor(holding.occupied)} 元，授信额度 "
            f"{format_minor(terms.amount_minor)} 元（占用 {share}%）。")


# --- 2. inputs of early warning -----------------------------------------------------------------------------------

# Negative external records arriving during the recent weeks: (days before the last close, kind, whom). "watched": the
# customer with the most signals the day before (late for the first time, say: the record makes them red); "clean": a
# customer without a day past due (the record alone makes them orange).
RECORDS = ((33, "court_judgment", "watched"), (24, "blacklist", "clean"), (10, "dishonest_debtor", "watched"),
           (5, "enforcement", "clean"))
RECORD_TEXT = {
    "court_judgment": ("中国裁判文书网", "({year})京0105民初{n}号", "86000.00", "民间借贷纠纷，判决偿还本金及利息"),
    "blacklist": ("同业黑名单共享平台", "HMD-{year}-{n}", "", "多头借贷、提供虚假流水"),
    "dishonest_debtor": ("中国执行信息公开网", "SX-{year}-{n}", "", "列入失信被执行人名单"),
    "enforcement": ("中国执行信息公开网", "({year})沪0115执{n}号", "152000.00", "买卖合同纠纷强制执行"),
    "administrative_penalty": ("国家企业信用信息公示系统", "京市监罚〔{year}〕{n}号", "20000.00", "广告违法，已缴纳罚款"),
}


class Inputs:
    """Chooses the customers of the external records and inflows (customers with a line in force)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        with_line = {int(v.customer_id) for v in lines.list_lines(User.objects.get(username="risk"), limit=1000)
                     if v.customer_id is not None and v.status in ("active", "frozen")}
        late: set[int] = set()
        watched: set[int] = set()
        for cid, dpd, risk_class in Loan.objects.filter(status="active").values_list("customer_id", "dpd",
                                                                                        "risk_class"):
            (late if dpd > 0 else watched if risk_class > 1 else set()).add(cid)
        clean = sorted(c for c in with_line if c not in late and c not in watched)
        self.clean = rnd.sample(clean, min(len(clean), 12))
        self.late = sorted(c for c in late if c in with_line)
        self.with_line = with_line
        self.taken: set[int] = set()
        self.records = 0

    def _watched(self, before: dt.date) -> int | None:
        """The customer with the highest score on the latest run before `before` (a line breaking ties; else one
        past due)."""
        from creditplan.risk.models import CustomerSignal

        latest = CustomerSignal.objects.filter(as_of__lt=before).order_by("-as_of").values_list("as_of", flat=True)
        day = latest.first()
        rows = (CustomerSignal.objects.filter(as_of=day, level__in=("yellow", "orange")).exclude(
            customer_id__in=self.taken).values_list("score", "customer_id") if day else [])
        best = sorted(rows, key=lambda r: (-r[0], r[1] not in self.with_line, r[1]))
        if best:
            return int(best[0][1])
        return next((c for c in self.late if c not in self.taken), None)

    def _clean(self) -> int | None:
        return next((c for c in self.clean if c not in self.taken), None)

    def record(self, kind: str, whom: str, on: dt.date, *, today: dt.date | None = None) -> None:
        """Import one record dated `on`, as the file of `today` (default: that day) would bring it."""
        cid = self._watched(on) if whom == "watched" else self._clean()
        if cid is None:
            return
        self.taken.add(cid)
        source, ref, amount, note = RECORD_TEXT[kind]
        reference = ref.format(year=on.year, n=self.rnd.randrange(1000, 9999))
        signals.import_external_records(None, [{
            "customer_id": str(cid), "kind": kind, "source": source, "reference": reference,
            "record_date": on.isoformat(), "amount": amount, "note": note}], today=today or on)
        self.records += 1

    def inflows(self, last: dt.date) -> int:
        """Five months of inflows on the linked accounts of eight customers (the monthly statement file): steady,
        but for three of them the last month falls to about a third."""
        months = [_months_back(last.replace(day=1), n) for n in range(5, 0, -1)]
        who = [c for c in self.clean if c not in self.taken][-6:] + self.late[:2]
        rows = []
        for k, cid in enumerate(who):
            base = self.rnd.randrange(30_000, 180_000)
            for n, month in enumerate(months):
                amount = base * self.rnd.uniform(0.9, 1.1) * (0.35 if k % 3 == 0 and n == len(months) - 1 else 1)
                rows.append({"customer_id": str(cid), "account": f"6222{cid:012d}", "month": f"{month:%Y-%m}",
                             "amount": f"{amount:.2f}", "source": "核心系统"})
        if rows:
            signals.import_inflows(None, rows)
        return len(who)


def _months_back(first: dt.date, n: int) -> dt.date:
    y, m = divmod(first.year * 12 + first.month - 1 - n, 12)
    return dt.date(y, m + 1, 1)


# --- the demo's limit table ------------------------------------------------------------------------------------

GOOD_PAYER_GRADE = 3  # D


def align_limit_table(author: Any, approver: Any) -> int:
    """The risk managers align the dynamic-limit table with the behaviour model, through the four-eyes path of the
    decision engine (as decisions/demo.py recalibrates the credit policy's cut-offs for the demo scorecard).

    The shipped table raises good payers graded C or better. The demo's behaviour model reads a 12-month PD off the
    Taiwan data's one-month default (docs/ecl.md): its PD is conservative, and it grades every demo borrower without a
    day past due D (10–20 %). A risk manager uploads the shipped table with the good-payer row reading "grade D or
    better", validates and submits it; a second risk manager approves it, and it is published as version 2."""
    limits.install_limit_table(None)
    doc = limits.default_limit_table()
    for node in doc["nodes"]:
        for row in (node.get("content") or {}).get("rules", []):
            if row.get("_id") == "good":
                row["in_behaviour_grade"] = f"<= {GOOD_PAYER_GRADE}"
    v = decisions.upload_policy(author, product=limits.LIMIT_RULESET, jdm=doc,
                                note="good payers: behaviour grade D or better (the demo's behaviour model)")
    decisions.validate_version(author, v.id)
    decisions.submit_version(author, v.id)
    return decisions.approve_version(approver, v.id).number


# --- 3.-5. the schedule -------------------------------------------------------------------------------------------

def seed_post_loan(*, seed: int = 20261129, log: Callable[[str], None] | None = None) -> PostLoanSummary:
    """Seed the post-loan pages over the demo's book (see the module docstring). Prints one line per part."""
    say = log or (lambda _msg: None)
    out = PostLoanSummary()
    last = loans.last_closed_date()
    if last is None:
        return out
    rnd = random.Random(seed)
    users = {u.username: u for u in User.objects.select_related("branch").filter(username__in=STAFF)}
    kept = list(Snapshot.objects.order_by("as_of").values_list("as_of", flat=True))
    month_ends = [d for d in kept if _month_end(d) and d < last][-RERATE_MONTHS:]
    ecl_days = set(month_ends[-ECL_MONTHS:])
    window = [d for d in kept if d > last - dt.timedelta(days=WATCH_DAYS)]
    if not window:
        say("post-loan: no snapshot of the book is kept (CREDITPLAN_RISK_AFTER_CLOSE=off): nothing seeded")
        return out

    t = time.perf_counter()
    out.lines = seed_lines(rnd, users, loans.business_date())
    out.seconds["lines"] = time.perf_counter() - t
    say(f"lines: {out.lines['active']} credit lines in force ({out.lines['revolving']} revolving, "
        f"{out.lines['sub_limits']} with sub-limits, {out.lines['expiring']} expiring within weeks), "
        f"{out.lines['waiting']} waiting for approval")

    t = time.perf_counter()
    ecl.install_defaults(None)
    stress.install_standard(None)
    table = align_limit_table(users["risk"], users["risk2"])
    inputs = Inputs(rnd)
    inputs.record("administrative_penalty", "clean", last - dt.timedelta(days=150), today=window[0])  # too old
    inflow_customers = inputs.inflows(last)
    arriving = sorted((last - dt.timedelta(days=days), kind, whom) for days, kind, whom in RECORDS)
    moves = {"rerated": 0, "upgrades": 0, "downgrades": 0}
    levels: dict[str, int] = {}
    limit_counts: dict[str, int] = {}

    def month_end_jobs(day: dt.date) -> None:
        r = behaviour.rerate(day.strftime("%Y-%m"))
        moves["rerated"] += 1
        moves["upgrades"] += r.upgrades
        moves["downgrades"] += r.downgrades
        if day in ecl_days:
            s = ecl.run_ecl(day)
            out.ecl.append(f"{day} allowance {format_minor(s.total_minor)} on {s.loans} exposures posted"
                           f"{'' if s.reconciled else ' (NOT reconciled)'}")
        if day == month_ends[-1]:
            st = stress.run_stress(day)
            out.ecl.append(f"stress test of {day}: provision {format_minor(st.base['provision'])} in the base, "
                           + ", ".join(f"{format_minor(f['provision'])} {c}" for c, f in st.stressed.items()))
            limit_counts.update(limits.run_limits(day).counts)

    for day in month_ends:
        if window and day < window[0]:
            month_end_jobs(day)
    for day in window:
        while arriving and arriving[0][0] <= day:  # the records that came in by that day
            on, kind, whom = arriving.pop(0)
            inputs.record(kind, whom, on, today=day)
        levels = dict(signals.run_signals(day).levels)
        reviews.run_reviews(day)
        if day in month_ends:
            month_end_jobs(day)
    again = list(Run.objects.filter(as_of__gte=min(ecl_days, default=last)).order_by("as_of")
                 .values_list("as_of", flat=True))
    for day in again:  # provision coverage reads the allowance (as `risk ecl` recomputes its date)
        run_indicators(day)
    out.seconds["ecl"] = time.perf_counter() - t
    say(f"ecl: {moves['rerated']} month-ends re-rated ({moves['upgrades']} up, {moves['downgrades']} down); "
        + "; ".join(out.ecl) + f"; indicators of {len(again)} dates recomputed with the allowance")
    watch = signals.open_watch_entries()
    out.warning = {"records": inputs.records, "inflow_customers": inflow_customers, "days": len(window),
                   "watch_open": len(watch), **levels}
    say(f"early warning: signals of {len(window)} days to {last}, {inputs.records} external records, inflows of "
        f"{inflow_customers} customers; on {last} " + ", ".join(f"{n} {lv}" for lv, n in levels.items())
        + f"; {len(watch)} on the watch list")

    t = time.perf_counter()
    out.reviews = seed_reviews(users)
    out.limits = limit_counts
    say(f"post-loan: {out.reviews['tasks']} review tasks ({out.reviews['open']} open, {out.reviews['escalated']} "
        f"escalated, {out.reviews['done']} recorded); limits of {month_ends[-1] if month_ends else '–'} (table "
        f"v{table}): " + (", ".join(f"{n} {k}" for k, n in sorted(limit_counts.items())) or "nothing"))
    this_week = monitoring.week_start(loans.business_date())
    weeks = [this_week - dt.timedelta(weeks=n) for n in range(MONITOR_WEEKS, -1, -1)]
    rows: list[monitoring.MonitorSummary] = []
    for monday in weeks:
        rows = monitoring.monitor_models(monday)
    out.monitoring = [f"{r.model} v{r.number} {r.decisions} decisions, {r.verdict}" for r in rows]
    out.seconds["reviews+monitoring"] = time.perf_counter() - t
    say(f"model monitoring: {len(weeks)} weeks from {weeks[0]} (this one so far: " + "; ".join(out.monitoring) + ")")
    return out


def seed_reviews(users: dict[str, Any]) -> dict[str, int]:
    """Reviews recorded by the tasks' owners: a call on a watch-list customer that freezes the line, a yearly visit
    and a 30-day check that keep it (the newest tasks: the escalated ones stay open)."""
    today = loans.business_date()
    risk = users["risk"]
    done = 0
    plans = [("watch", "call", "freeze", "电话联系客户，确认其涉诉且经营收入明显下降，暂停额度使用，待补充材料后复核。"),
             ("annual", "visit", "keep", "上门走访：经营及收入稳定，按期还款，未发现风险信号，维持现有额度。"),
             ("disbursement", "visit", "keep", "贷后首次检查：贷款资金按约定用途使用，经营正常。")]
    for kind, channel, action, findings in plans:
        for task in reviews.list_tasks(risk, status="open", kind=kind)[::-1]:
            if task.owner_id is None or task.escalation_level:
                continue
            line = reviews.get_task(risk, task.id).line
            if action == "freeze" and (line is None or line.status != "active"):
                continue
            owner = User.objects.get(pk=task.owner_id)
            try:
                reviews.record_review(owner, task.id, contact_on=today, channel=channel, findings=findings,
                                      action=action)
            except CreditplanError:
                continue
            done += 1
            break
    return {"tasks": len(reviews.list_tasks(risk, status="all")), "open": len(reviews.list_tasks(risk)),
            "escalated": len(reviews.list_tasks(risk, escalated="1")), "done": done}
