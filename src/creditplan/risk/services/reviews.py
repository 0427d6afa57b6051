"""Post-loan review tasks (issue 17, item 3; docs/post-loan.md).

Where tasks come from
    - the watch list (risk.services.signals): a customer entering it at orange or red gets a task at once (the watch
      listener registered from RiskConfig.ready()); a customer on it who turns red while their task is open has the
      task's level raised and its due date brought forward; one turning red after their task was done gets a new one;
    - routine checks, scheduled by the daily job: 30 days after a business loan is paid out (a product listed in
      REVIEW_BUSINESS_PRODUCTS, default "business", or any loan to a company), and every year on the anniversary of a
      customer's oldest loan still on the book.
    At most one open task per customer and kind; each has an idempotency key, so a rerun creates nothing twice.

Due dates: working days after the task was created (REVIEW_DUE_DAYS; red 3, orange 10, the 30-day check 10, the yearly
review 20), on the bank's calendar (the review queue's: weekdays, CREDITPLAN_HOLIDAYS).

Owner: the loan officer who entered the customer's latest application (entered by a loan officer, still active and
still over the customer's branch); otherwise a loan officer of the customer's branch — the one with the fewest open
tasks (then the lowest id), looking up the hierarchy when the branch has none; otherwise nobody, and the branch's
approvers see the task unassigned and assign it. Approvers and risk managers may reassign a task.

Who sees a task: its owner; the approvers over the customer's branch (their branch subtree); risk managers, auditors
and administrators (every branch). Who records the review: the owner, an approver over the branch, a risk manager.

The review: the date and channel (visit or call), the findings and an action — keep, reduce the line, freeze the line,
demand collateral, restructure, recover. Freezing takes effect at once for whoever records the review (a protective
measure; lifting it goes through maker-checker): the review calls lines.freeze_line as trusted code. A reduction takes
effect at once when an approver or a risk manager records it (they hold that authority over lines); a loan officer's
reduction is proposed in the lines' maker-checker queue. Restructuring and recovery are done on the loan's page (the
task links to it).

Escalation (the daily job, `creditplan risk reviews --date D`, also run after each close): a task still open at the
close of its due date escalates to the approvers over the customer's branch (level 1); REVIEW_ESCALATE_DAYS (5) working
days after the due date, to the risk managers (level 2). Every creation, escalation, assignment and review is a ledger
event (risk.review_created / _escalated / _assigned / _recorded, subject "review_task").
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from creditplan.core.access import Actor, Perm, Role, sees_all_branches
from creditplan.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationError
from creditplan.core.money import parse_minor
from creditplan.ledger import services as ledger
from creditplan.lines import services as lines
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.risk import post_loan_sql as reads
from creditplan.risk.domain import reviews as rules
from creditplan.risk.domain.reviews import Action, Channel, TaskKind
from creditplan.risk.models import ReviewRun, ReviewTask

log = logging.getLogger("creditplan.risk")

FINDINGS_MAX = 2000
VIEW_ROLES = frozenset({Role.LOAN_OFFICER, Role.APPROVER, Role.RISK_MANAGER, Role.AUDITOR, Role.ADMIN})
RECORD_ROLES = frozenset({Role.LOAN_OFFICER, Role.APPROVER, Role.RISK_MANAGER})
ASSIGN_ROLES = frozenset({Role.APPROVER, Role.RISK_MANAGER})


# --- configuration -------------------------------------------------------------------------------------------------

def _setting(name: str) -> Any:
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(f"CREDITPLAN_{name}") or None
    return value


def due_days() -> dict[str, int]:
    """Working days to the due date, by level (watch tasks) or kind (routine checks): REVIEW_DUE_DAYS, a dict or the
    text "red=3,orange=10,disbursement=10,annual=20" (CREDITPLAN_REVIEW_DUE_DAYS); the defaults otherwise."""
    value = _setting("REVIEW_DUE_DAYS")
    if isinstance(value, Mapping):
        value = ",".join(f"{k}={v}" for k, v in value.items())
    try:
        return rules.parse_due_days(str(value or ""))
    except ValueError as exc:
        log.error("REVIEW_DUE_DAYS %s: the defaults apply", exc)
        return dict(rules.DEFAULT_DUE_DAYS)


def escalate_days() -> int:
    """Working days after the due date before an open task goes to the risk managers (REVIEW_ESCALATE_DAYS, 5)."""
    try:
        return max(1, int(_setting("REVIEW_ESCALATE_DAYS") or rules.DEFAULT_ESCALATE_DAYS))
    except (TypeError, ValueError):
        return rules.DEFAULT_ESCALATE_DAYS


def business_products() -> frozenset[str]:
    """Product codes whose loans get the 30-day check (REVIEW_BUSINESS_PRODUCTS, default "business"; loans to
    companies always do)."""
    value = _setting("REVIEW_BUSINESS_PRODUCTS") or "business"
    items = value if isinstance(value, (list, tuple, set, frozenset)) else str(value).split(",")
    return frozenset(str(x).strip().lower() for x in items if str(x).strip())


def working_calendar() -> rules.WorkingCalendar:
    """The bank's working days: the review queue's calendar (origination.sla: weekdays, CREDITPLAN_HOLIDAYS)."""
    from creditplan.origination import sla

    cal = sla.calendar()
    return rules.WorkingCalendar(frozenset(cal.weekdays), frozenset(cal.holidays))


def today() -> dt.date:
    return loans.business_date()


# --- creating tasks ------------------------------------------------------------------------------------------------

class _Owners:
    """Chooses owners for a batch of new tasks (one read of the officers and their open tasks)."""

    def __init__(self, customer_ids: Iterable[int]) -> None:
        self.officers = reads.users_by_role(Role.LOAN_OFFICER)
        self.path_of = {uid: path for uid, _name, path in self.officers}
        self.name_of = {uid: name for uid, name, _path in self.officers}
        self.by_application = reads.application_officers(customer_ids)
        self.load: dict[int, int] = dict(
            ReviewTask.objects.filter(status="open", owner__isnull=False).values("owner_id")
            .annotate(n=Count("id")).values_list("owner_id", "n"))

    def choose(self, branch_path: str, customer_id: int) -> tuple[int | None, str]:
        uid = self.by_application.get(customer_id)
        if uid is not None and uid in self.path_of and branch_path.startswith(self.path_of[uid]):
            return self._take(uid), "application"
        path = branch_path
        while path:
            here = [u for u, _n, p in self.officers if p == path]
            if here:
                best = min(here, key=lambda u: (self.load.get(u, 0), u))
                return self._take(best), "branch"
            path = path[: path.rstrip("/").rfind("/") + 1] if path.rstrip("/").count("/") > 1 else ""
        return None, ""

    def _take(self, uid: int) -> int:
        self.load[uid] = self.load.get(uid, 0) + 1
        return uid


@dataclass
class _New:
    customer_id: int
    kind: str
    key: str
    level: str = ""
    entry_id: int | None = None
    loan_ref: str = ""
    reason: dict[str, Any] = field(default_factory=dict)


def _create(items: list[_New], day: dt.date) -> list[ReviewTask]:
    """Create the tasks not created yet (by key) for customers without an open task of the kind; events appended."""
    if not items:
        return []
    known = set(ReviewTask.objects.filter(key__in=[i.key for i in items]).values_list("key", flat=True))
    busy = set(ReviewTask.objects.filter(status="open", customer_id__in={i.customer_id for i in items})
               .values_list("customer_id", "kind"))
    wanted = []
    for i in items:
        if i.key in known or (i.customer_id, i.kind) in busy:
            continue
        known.add(i.key)
        busy.add((i.customer_id, i.kind))
        wanted.append(i)
    if not wanted:
        return []
    who = reads.customers(i.customer_id for i in wanted)
    owners = _Owners(who)
    days, cal = due_days(), working_calendar()
    made = []
    for i in wanted:
        c = who.get(i.customer_id)
        if c is None:
            continue
        owner, source = owners.choose(c.branch_path, c.customer_id)
        made.append(ReviewTask.objects.create(
            customer_id=c.customer_id, branch_id=c.branch_id, kind=i.kind, key=i.key, level=i.level,
            watch_entry_id=i.entry_id, loan_ref=i.loan_ref, reason=i.reason, created_on=day,
            due_on=rules.due_on(i.kind, i.level, day, days, cal), owner_id=owner, owner_source=source))
    names = owners.name_of
    ledger.append_many(None, [ledger.EventSpec("risk.review_created", "review_task", str(t.pk), {
        "customer": t.customer_id, "kind": t.kind, "level": t.level, "created_on": day.isoformat(),
        "due_on": t.due_on.isoformat(), "owner": names.get(t.owner_id or 0, ""), "owner_source": t.owner_source,
        "watch_entry": t.watch_entry_id, "loan": t.loan_ref}) for t in made])
    return made


def _raise_level(task: ReviewTask, level: str, entry_id: int, day: dt.date) -> bool:
    """An open watch task whose customer turned worse: the level raised, the due date brought forward."""
    if rules.LEVEL_RANK.get(level, 0) <= rules.LEVEL_RANK.get(task.level, 0):
        return False
    due = min(task.due_on, rules.due_on(TaskKind.WATCH, level, day, due_days(), working_calendar()))
    before = (task.level, task.due_on)
    task.level, task.due_on, task.watch_entry_id = level, due, entry_id
    task.save(update_fields=["level", "due_on", "watch_entry_id", "updated_at"])
    ledger.append(None, "risk.review_level_raised", "review_task", task.pk, {
        "customer": task.customer_id, "level": level, "was": before[0], "due_on": due.isoformat(),
        "was_due_on": before[1].isoformat(), "as_of": day.isoformat()})
    return True


def _entry_reason(entry: Any) -> dict[str, Any]:
    return {"score": entry.score, "rule": entry.rule, "message_en": entry.message_en, "message_zh": entry.message_zh,
            "entered_on": entry.entered_on.isoformat(), "entry_level": entry.entry_level,
            "signals": [{"code": s.code, "weight": s.weight, "figures": s.figures} for s in entry.reason_signals]}


def _watch_tasks(entries: Iterable[Any], day: dt.date) -> tuple[int, int]:
    """Tasks for watch entries at orange or red (entries: signals.WatchEntryView): (created, raised)."""
    entries = [e for e in entries if e.status == "open" and e.peak_level in ("orange", "red")]
    if not entries:
        return 0, 0
    open_tasks = {t.customer_id: t for t in ReviewTask.objects.select_for_update()
                  .filter(status="open", kind=TaskKind.WATCH, customer_id__in={e.customer_id for e in entries})}
    covered = {(int(e), lv) for e, lv in ReviewTask.objects.filter(
        kind=TaskKind.WATCH, watch_entry_id__in=[e.id for e in entries]).values_list("watch_entry_id", "level")}
    new, raised = [], 0
    for e in entries:
        level = e.peak_level
        task = open_tasks.get(e.customer_id)
        if task is not None:
            raised += _raise_level(task, level, e.id, day)
            continue
        rank = rules.LEVEL_RANK[level]
        if any(entry == e.id and rules.LEVEL_RANK.get(lv, 0) >= rank for entry, lv in covered):
            continue  # reviewed already for this entry at this level (or worse)
        new.append(_New(e.customer_id, TaskKind.WATCH, f"watch:{e.id}:{level}", level=level, entry_id=e.id,
                        reason=_entry_reason(e)))
    return len(_create(new, day)), raised


def on_watch_changes(changes: Any) -> None:
    """The watch listener (risk.services.signals.register_watch_listener): after each run that moved the watch list,
    tasks for the customers who entered it or turned red on it (committed with its own transaction)."""
    import creditplan.risk.services.signals as signals

    wanted = {c.entry_id for c in changes.changes if c.kind in ("entered", "escalated")}
    if not wanted:
        return
    entries = [e for e in signals.open_watch_entries() if e.id in wanted]
    with transaction.atomic():
        _watch_tasks(entries, changes.as_of)


def _routine(after: dt.date, upto: dt.date) -> list[_New]:
    """The routine checks falling due in (after, upto]: the 30-day check of business loans, the yearly review."""
    gap = dt.timedelta(days=rules.DISBURSEMENT_CHECK_DAYS)
    items = [_New(loan.customer_id, TaskKind.DISBURSEMENT, f"disbursement:{loan.ref}", loan_ref=loan.ref,
                  reason={"loan": loan.ref, "product": loan.product, "start_date": loan.start_date.isoformat(),
                          "company": loan.company, "check_on": (loan.start_date + gap).isoformat()})
             for loan in reads.loans_started(after - gap, upto - gap, business_products())]
    for customer, first in sorted(reads.first_loans_on_book().items()):
        for day in rules.anniversaries_between(first, after, upto):
            items.append(_New(customer, TaskKind.ANNUAL, f"annual:{customer}:{day.year}",
                              reason={"first_on": first.isoformat(), "anniversary": day.isoformat()}))
    return items


def _escalate(day: dt.date) -> dict[str, int]:
    """Open tasks past their due date move up: level 1 the branch's approvers, level 2 the risk managers."""
    cal, again = working_calendar(), escalate_days()
    counts = {"1": 0, "2": 0}
    events = []
    for t in ReviewTask.objects.select_for_update().filter(status="open", due_on__lte=day, escalation_level__lt=2):
        level = rules.escalation_level(t.due_on, day, again, cal)
        if level <= t.escalation_level:
            continue
        t.escalation_level, t.escalated_on = level, day
        t.save(update_fields=["escalation_level", "escalated_on", "updated_at"])
        counts[str(level)] += 1
        events.append(ledger.EventSpec("risk.review_escalated", "review_task", str(t.pk), {
            "customer": t.customer_id, "level": level, "to": "approver" if level == 1 else "risk_manager",
            "due_on": t.due_on.isoformat(), "as_of": day.isoformat()}))
    ledger.append_many(None, events)
    return counts


@dataclass(frozen=True)
class ReviewSummary:
    as_of: dt.date
    window_from: dt.date
    created: dict[str, int]
    raised: int
    escalated: dict[str, int]
    proposals_closed: int


def run_reviews(as_of: Any) -> ReviewSummary:
    """The daily job for a closed date D (`creditplan risk reviews --date D`, and after each close): tasks for the
    watch-list entries still without one, the routine checks falling due since the last run (at most a year back;
    the first run looks at D only), escalation of the tasks past their due date, and the limit proposals decided in
    the credit lines' queue since (risk.services.limits.settle_proposals). Idempotent: a rerun creates nothing twice."""
    import creditplan.risk.services.limits as limits
    import creditplan.risk.services.signals as signals

    day = _date(as_of)
    last = ReviewRun.objects.filter(as_of__lt=day).order_by("-as_of").values_list("as_of", flat=True).first()
    after = max(last, day - dt.timedelta(days=366)) if last else day - dt.timedelta(days=1)
    with transaction.atomic():
        created_watch, raised = _watch_tasks(signals.open_watch_entries(), day)
        routine = _create(_routine(after, day), day)
        escalated = _escalate(day)
        created = {TaskKind.WATCH.value: created_watch}
        for t in routine:
            created[t.kind] = created.get(t.kind, 0) + 1
        closed = limits.settle_proposals()
        ReviewRun.objects.update_or_create(as_of=day, defaults={
            "created": created, "escalated": escalated, "proposals_closed": closed, "computed_at": timezone.now()})
        ledger.append(None, "risk.reviews_run", "risk", day.isoformat(), {
            "as_of": day.isoformat(), "window_from": (after + dt.timedelta(days=1)).isoformat(), "created": created,
            "raised": raised, "escalated": escalated, "proposals_closed": closed})
    return ReviewSummary(day, after + dt.timedelta(days=1), created, raised, escalated, closed)


def after_close(day: dt.date) -> None:
    """After the close of `day`, once the signals ran (CREDITPLAN_RISK_AFTER_CLOSE=indicators): the daily review job.
    Never raises: a failure is recorded (`risk.run_failed`, step "reviews") for `creditplan risk reviews --date D`."""
    import creditplan.risk.services.nightly as nightly

    if nightly.mode() != "indicators":
        return
    try:
        with transaction.atomic():
            run_reviews(day)
    except Exception as exc:  # noqa: BLE001 - recorded; the close is done
        nightly.record_failure(day, "reviews", exc)


def register() -> None:
    """From RiskConfig.ready(), after the signals registered: the watch listener, and the daily job after the close
    (after the signals' hook, so the day's watch list is there)."""
    import creditplan.risk.services.signals as signals
    from creditplan.loans import cob

    signals.register_watch_listener(on_watch_changes)
    cob.register_after_close(after_close)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("the date is written YYYY-MM-DD", field="date", code="date_format") from None


# --- reading -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskView:
    id: int
    customer_id: int
    customer_name: str
    branch: str
    kind: str
    level: str
    status: str
    created_on: dt.date
    due_on: dt.date
    overdue: bool
    owner: str  # the owner's name as people are shown (display name, else user name); "" unassigned
    owner_id: int | None
    owner_source: str
    escalation_level: int
    escalated_on: dt.date | None
    watch_entry_id: int | None
    loan_ref: str
    reason: dict[str, Any]
    contact_on: dt.date | None
    channel: str
    findings: str
    action: str
    action_amount_minor: int | None
    action_result: str
    line_change_id: int | None
    done_by: str
    done_at: dt.datetime | None

    def message(self, zh: bool) -> str:
        """Why the task exists, in words."""
        r = self.reason
        if self.kind == TaskKind.WATCH:
            text = str(r.get("message_zh" if zh else "message_en") or "")
            entered = str(r.get("entered_on") or "")
            if zh:
                return f"{entered} 进入预警名单：{text}" if text else f"{entered} 进入预警名单"
            return f"Entered the watch list on {entered}: {text}" if text else f"Entered the watch list on {entered}"
        if self.kind == TaskKind.DISBURSEMENT:
            if zh:
                return f"经营性贷款 {r.get('loan', '')} 于 {r.get('start_date', '')} 放款，放款后30天应进行贷后检查"
            return (f"Business loan {r.get('loan', '')} was paid out on {r.get('start_date', '')}: its post-loan check "
                    "is due 30 days after")
        if zh:
            return f"年度贷后检查（客户首笔在贷贷款放款日 {r.get('first_on', '')}，周年日 {r.get('anniversary', '')}）"
        return (f"Yearly post-loan review (the customer's oldest loan on the book was paid out on "
                f"{r.get('first_on', '')}; anniversary {r.get('anniversary', '')})")

    def signals(self) -> list[Any]:
        import creditplan.risk.services.signals as signals

        return list(signals.signal_views(self.reason.get("signals") or []))


def _view(t: ReviewTask, day: dt.date) -> TaskView:
    owner: Any = t.owner
    return TaskView(
        id=int(t.pk), customer_id=int(t.customer_id), customer_name=getattr(t.customer, "name", ""),
        branch=t.branch.code, kind=t.kind, level=t.level, status=t.status, created_on=t.created_on, due_on=t.due_on,
        overdue=t.status == "open" and rules.is_overdue(t.due_on, day), owner=str(owner) if owner else "",
        owner_id=t.owner_id, owner_source=t.owner_source, escalation_level=t.escalation_level,
        escalated_on=t.escalated_on, watch_entry_id=t.watch_entry_id, loan_ref=t.loan_ref, reason=dict(t.reason or {}),
        contact_on=t.contact_on, channel=t.channel, findings=t.findings, action=t.action,
        action_amount_minor=t.action_amount_minor, action_result=t.action_result, line_change_id=t.line_change_id,
        done_by=t.done_by_name, done_at=t.done_at)


def _require_view(actor: Actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        from creditplan.core.errors import NotAuthenticated

        raise NotAuthenticated("log in first")
    if not actor.is_active or actor.role not in VIEW_ROLES:
        raise Forbidden(f"your role ({actor.role}) has no review tasks", code="permission_denied")


def _visible(actor: Actor) -> Any:
    """The tasks the actor sees: a loan officer their own; an approver those of their branch subtree; risk managers,
    auditors and administrators all."""
    _require_view(actor)
    qs = ReviewTask.objects.select_related("customer", "branch", "owner")
    if actor.role == Role.LOAN_OFFICER:
        return qs.filter(owner_id=actor.pk)
    if sees_all_branches(actor.role):
        return qs
    return org.scope_to_branches(actor, qs)


def may_see_tasks(actor: Actor | None) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.role in VIEW_ROLES)


def list_tasks(actor: Actor, *, status: str = "open", escalated: str = "", kind: str = "", owner: str = "",
               limit: int = 500) -> list[TaskView]:
    """The tasks the actor sees: open ones overdue first, then by due date; `status` open / done / all, `escalated`
    "1" (to the branch's approvers or beyond) or "2" (to the risk managers), `kind` watch / disbursement / annual,
    `owner` "none" for unassigned tasks."""
    qs = _visible(actor)
    if status in ("open", "done"):
        qs = qs.filter(status=status)
    if escalated in ("1", "2"):
        qs = qs.filter(escalation_level__gte=int(escalated))
    if kind in set(TaskKind):
        qs = qs.filter(kind=kind)
    if owner == "none":
        qs = qs.filter(owner__isnull=True)
    day = today()
    rows = [_view(t, day) for t in qs.order_by("status", "due_on", "id")[: max(1, min(limit, 5000))]]
    rows.sort(key=lambda v: (v.status != "open", not v.overdue, -v.escalation_level, v.due_on, v.id))
    return rows


def task_counts(actor: Actor) -> dict[str, int]:
    """The dashboard card: open tasks the actor sees, how many are overdue, how many escalated (for an approver:
    to the approvers or beyond; for a risk manager: to the risk managers)."""
    if not may_see_tasks(actor):
        return {"open": 0, "overdue": 0, "escalated": 0}
    qs = _visible(actor).filter(status="open")
    level = 2 if actor.role == Role.RISK_MANAGER else 1
    return {"open": qs.count(), "overdue": qs.filter(due_on__lt=today()).count(),
            "escalated": qs.filter(escalation_level__gte=level).count()}


@dataclass(frozen=True)
class LoanLine:
    ref: str
    product: str
    status: str
    dpd: int
    outstanding_minor: int


@dataclass(frozen=True)
class TaskDetail:
    task: TaskView
    line: Any  # lines.LineView of the customer's line in force, or None
    loans: list[LoanLine]
    may_record: bool
    reduce_at_once: bool  # the actor's reduction applies at once (approver, risk manager); an officer's is proposed
    may_assign: bool
    officers: list[tuple[int, str]]  # whom the task may be assigned to


def _task(actor: Actor, task_id: Any, *, lock: bool = False) -> ReviewTask:
    try:
        pk = int(task_id)
    except (TypeError, ValueError):
        pk = -1
    qs = _visible(actor)
    row = (qs.select_for_update(of=("self",)) if lock else qs).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"no review task {task_id}", code="review_not_found", field="task_id")
    return row


def _may_record(actor: Actor, t: ReviewTask) -> bool:
    if actor.role not in RECORD_ROLES:
        return False
    return actor.role != Role.LOAN_OFFICER or t.owner_id == actor.pk


def _line_of(actor: Actor, customer_id: int) -> Any:
    found = [v for v in lines.customer_lines(actor, customer_id) if v.status in ("active", "frozen")]
    return found[0] if found else None


def _officers_over(branch_path: str) -> list[tuple[int, str]]:
    """The active loan officers who see a customer of this branch (their branch is it or above it)."""
    return [(uid, name) for uid, name, path in reads.users_by_role(Role.LOAN_OFFICER) if branch_path.startswith(path)]


def get_task(actor: Actor, task_id: Any) -> TaskDetail:
    """One task with the customer's credit line and loans (NotFound outside the actor's tasks)."""
    t = _task(actor, task_id)
    loans_of = [LoanLine(x.ref, x.product.code, x.status, int(x.dpd), int(x.principal_outstanding_minor))
                for x in loans.loans_visible_to(actor).filter(customer_id=t.customer_id).select_related("product")
                .order_by("-id")[:20]] if org.may(actor, Perm.LOAN_VIEW) else []
    may_assign = actor.role in ASSIGN_ROLES and t.status == "open"
    return TaskDetail(_view(t, today()), _line_of(actor, t.customer_id), loans_of, _may_record(actor, t) and
                      t.status == "open", actor.role in (Role.APPROVER, Role.RISK_MANAGER), may_assign,
                      [(uid, _shown_name(uid, name)) for uid, name in _officers_over(t.branch.path)]
                      if may_assign else [])


def _shown_name(user_id: int, username: str) -> str:
    """A person as the pages show people: their display name, else their user name (the officers of one branch)."""
    found = reads.user(user_id)
    return str(found) if found is not None else username


# --- recording the review ------------------------------------------------------------------------------------------

def _clean(contact_on: Any, channel: Any, findings: Any, action: Any, amount: Any, day: dt.date,
           ) -> tuple[dt.date, str, str, str, int | None]:
    problems: list[FieldProblem] = []
    when: dt.date | None = None
    if contact_on in (None, ""):
        problems.append(FieldProblem("contact_on", "the date of the visit or call is required", "required"))
    else:
        try:
            when = contact_on if isinstance(contact_on, dt.date) else dt.date.fromisoformat(str(contact_on).strip())
        except ValueError:
            problems.append(FieldProblem("contact_on", "not a date (YYYY-MM-DD)", "date_format"))
        if when is not None and when > day:
            problems.append(FieldProblem("contact_on", f"the visit or call cannot be after today ({day})",
                                         "contact_in_future"))
    ch = str(channel or "").strip()
    if ch not in set(Channel):
        problems.append(FieldProblem("channel", "the channel is visit or call", "unknown_channel"))
    text = str(findings or "").strip()
    if not text:
        problems.append(FieldProblem("findings", "the findings are required", "required"))
    elif len(text) > FINDINGS_MAX:
        problems.append(FieldProblem("findings", f"the findings are at most {FINDINGS_MAX} characters",
                                     "findings_too_long"))
    act = str(action or "").strip()
    if act not in set(Action):
        problems.append(FieldProblem("action", "the action is keep, reduce, freeze, collateral, restructure or "
                                               "recover", "unknown_action"))
    minor = None
    if act == Action.REDUCE:
        try:
            minor = parse_minor(amount, "amount", allow_zero=False)
        except ValidationError as exc:
            problems.extend(exc.problems or [FieldProblem("amount", exc.message, exc.code)])
    if problems:
        raise ValidationError.collect(problems)
    assert when is not None
    return when, ch, text, act, minor


def _line_reason(t: ReviewTask, findings: str) -> str:
    return f"R{t.pk}: {findings}"[:300]


def _line_action(actor: Actor, t: ReviewTask, act: str, minor: int | None, findings: str) -> tuple[str, int | None]:
    """Carry out a line action: (result, the line change's id)."""
    line = _line_of(actor, t.customer_id)
    if line is None:
        raise Conflict(f"customer {t.customer_id} has no credit line in force", code="no_line", field="action")
    reason = _line_reason(t, findings)
    try:
        if act == Action.FREEZE:
            if line.status == "frozen":
                return "already_frozen", None
            # a protective measure: at once for whoever records the review (risk managers in their own name)
            done = lines.freeze_line(actor if actor.role == Role.RISK_MANAGER else None, t.customer_id, reason)
            return "frozen", reads.latest_change_id(done.id)
        if actor.role in (Role.APPROVER, Role.RISK_MANAGER):
            done = lines.reduce_line(actor if actor.role == Role.RISK_MANAGER else None, t.customer_id,
                                     _yuan(minor), reason)
            return "reduced", reads.latest_change_id(done.id)
        change = lines.propose_change(actor, line.id, kind="reduce", amount=_yuan(minor), reason=reason)
        return "proposed", change.id
    except ValidationError as exc:
        raise ValidationError.collect([FieldProblem("amount" if p.field == "amount" else "action", p.message, p.code)
                                       for p in (exc.problems or [FieldProblem(exc.field or "action", exc.message,
                                                                               exc.code)])]) from None
    except (Conflict, NotFound) as exc:
        raise type(exc)(exc.message, code=exc.code, field="action") from None


def _yuan(minor: int | None) -> str:
    from creditplan.core.money import format_minor

    return format_minor(int(minor or 0), grouping=False)


@transaction.atomic
def record_review(actor: Actor, task_id: Any, *, contact_on: Any, channel: Any, findings: Any, action: Any,
                  amount: Any = None) -> TaskView:
    """Record the visit or call of a review and its action, which completes the task. The owner, an approver over the
    customer's branch or a risk manager. Freezing the line takes effect at once; reducing it at once for an approver
    or a risk manager, as a proposal waiting for an approver for a loan officer (`amount`: the line's new amount).
    Refused, naming the field, with nothing written: a bad date (`contact_on`, not after today), channel, empty
    findings, an unknown action, a reduction without an amount or below what the line already holds (`amount`), a
    line action for a customer without a line in force (`action`); a task already done (`review_done`)."""
    t = _task(actor, task_id, lock=True)
    if not _may_record(actor, t):
        raise Forbidden("only the task's owner, an approver over the branch or a risk manager records the review",
                        code="not_review_owner")
    if t.status != "open":
        raise Conflict(f"review task {t.pk} is done already", code="review_done")
    day = today()
    when, ch, text, act, minor = _clean(contact_on, channel, findings, action, amount, day)
    result, change_id = ("recorded", None)
    if act in rules.LINE_ACTIONS:
        result, change_id = _line_action(actor, t, act, minor, text)
    t.status, t.contact_on, t.channel, t.findings, t.action = "done", when, ch, text, act
    t.action_amount_minor, t.action_result, t.line_change_id = minor, result, change_id
    person = actor if getattr(actor, "pk", None) else None
    t.done_by, t.done_by_name, t.done_at = person, actor.username, timezone.now()
    t.save()
    ledger.append(actor, "risk.review_recorded", "review_task", t.pk, {
        "customer": t.customer_id, "kind": t.kind, "contact_on": when.isoformat(), "channel": ch, "action": act,
        "amount_minor": minor, "result": result, "line_change": change_id, "overdue": rules.is_overdue(t.due_on, day),
        "escalation_level": t.escalation_level})
    return _view(t, day)


@transaction.atomic
def assign_task(actor: Actor, task_id: Any, owner: Any) -> TaskView:
    """Give an open task to another loan officer over the customer's branch (an approver over the branch or a risk
    manager). Refused: an unknown officer or one outside the branch (`owner`)."""
    t = _task(actor, task_id, lock=True)
    if actor.role not in ASSIGN_ROLES:
        raise Forbidden("approvers and risk managers assign review tasks", code="permission_denied")
    if t.status != "open":
        raise Conflict(f"review task {t.pk} is done already", code="review_done")
    try:
        uid = int(owner)
    except (TypeError, ValueError):
        uid = -1
    allowed = dict(_officers_over(t.branch.path))
    if uid not in allowed:
        raise ValidationError("choose a loan officer of the customer's branch", field="owner", code="unknown_officer")
    before = t.owner.username if t.owner_id else ""
    t.owner_id, t.owner_source = uid, "assigned"
    t.save(update_fields=["owner", "owner_source", "updated_at"])
    ledger.append(actor, "risk.review_assigned", "review_task", t.pk, {
        "customer": t.customer_id, "owner": allowed[uid], "was": before})
    t.refresh_from_db()
    return _view(t, today())


def open_tasks_of(customer_ids: Iterable[int]) -> dict[int, list[int]]:
    """Trusted read: customer → their open task ids (the limit rules and other batch readers)."""
    out: dict[int, list[int]] = {}
    for c, pk in ReviewTask.objects.filter(status="open", customer_id__in=list(customer_ids)).values_list(
            "customer_id", "id"):
        out.setdefault(int(c), []).append(int(pk))
    return out


def task_counts_by_level() -> dict[str, int]:
    """Open tasks by escalation level (the risk managers' overview)."""
    rows = ReviewTask.objects.filter(status="open").values("escalation_level").annotate(n=Count("id"))
    return {str(r["escalation_level"]): int(r["n"]) for r in rows}


__all__ = ["ReviewSummary", "TaskDetail", "TaskView", "after_close", "assign_task", "get_task", "list_tasks",
           "on_watch_changes", "record_review", "register", "run_reviews", "task_counts"]
