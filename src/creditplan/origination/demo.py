"""Demo history for the origination pages: a few hundred applications over the last six weeks, each with the
transitions a real one would have had (straight through, referred and reviewed, sent back for information,
declined, withdrawn, contracted and disbursed), some still waiting, plus online-form drafts abandoned at each step.
So the review queue shows SLA timers and the process-analytics page has something to show.

Two parts. The history (`seed_applications`): finished cases only (disbursed, declined, withdrawn), written in
bulk (a few thousand rows: well under a second), deterministic for a seed; demo only — they carry no stored
decision (their page says so) and their history is not on the ledger. The cases still open (`seed_open_cases`):
real submissions through `submit_application` (scored, decided, quota reserved, on the ledger), their submission
times then moved back a few working hours so that the review queue shows SLA timers of every colour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from django.utils import timezone

from creditplan.origination.models import Application, ApplicationDraft, Transition

H = dt.timedelta(hours=1)


def _path(rng: random.Random) -> tuple[str, bool, list[tuple[str, float]]]:
    """(channel, straight through, [(state, hours after the previous state)]) for one application."""
    channel = rng.choices(["web", "api", "branch"], weights=[45, 25, 30])[0]
    roll = rng.random()
    steps: list[tuple[str, float]] = [("submitted", 0.0)]
    auto = False
    if roll < 0.45 + (0.1 if channel != "branch" else 0):
        auto = True
        steps.append(("approved", 0.0))
    elif roll < 0.82:
        steps.append(("referred", 0.0))
        if rng.random() < 0.2:
            steps += [("info_requested", rng.uniform(2, 16)), ("referred", rng.uniform(6, 96))]
        if rng.random() < 0.06:
            steps.append(("withdrawn", rng.uniform(4, 60)))
            return channel, auto, steps
        wait = rng.uniform(1, 30) * (1.8 if channel == "branch" else 1.0)
        steps.append(("approved" if rng.random() < 0.7 else "declined", wait))
    else:
        steps.append(("declined", 0.0))
        return channel, auto, steps
    if steps[-1][0] == "approved":
        steps += [("contract_offered", rng.uniform(0.2, 20)), ("signed", rng.uniform(1, 60)),
                  ("ready_to_disburse", rng.uniform(0.5, 8)), ("disbursed", rng.uniform(1, 30))]
    return channel, auto, steps


def _history_line(rng: random.Random, a: Application, prev: str, state: str,
                  people: dict[str, str]) -> tuple[str, str]:
    """(who, why) of one step of a demo case, in the very words the services write (so the case page says them
    in the reader's language, like a real case's history): the automated decision by the system, a review by an
    approver of the branch with a reason code, the customer's own steps by the customer."""
    hexdigits = hashlib.sha256(f"demo contract {a.ref}".encode()).hexdigest()[:16]  # the same offered and signed
    submitter = people["officer"] if a.channel == "branch" else people["customer"] if a.channel == "web" else "system"
    if state == "submitted":
        return submitter, f"submitted via {a.channel}"
    if prev == "submitted":  # the automated decision: approved, referred or declined
        return "system", f"automated decision: {a.decision_outcome if state != 'referred' else 'refer'}"
    if state == "approved":
        return people["approver"], f"approved ({rng.choice(['within_policy', 'income_verified', 'existing_customer'])})"
    if state == "declined":
        return people["approver"], f"declined ({rng.choice(['insufficient_income', 'high_debt_burden'])})"
    if state == "info_requested":
        return people["approver"], f"information requested ({rng.choice(['income_proof', 'bank_statements'])})"
    if state == "referred":
        return people["customer"], "information provided: monthly_income_minor"
    if state == "withdrawn":
        return people["customer"], rng.choice(["no_longer_needed", "better_offer", "changed_terms"])
    if state == "contract_offered":
        return people["officer"], f"contract offered (SHA-256 {hexdigits}…)"
    if state == "signed":
        return people["customer"], f"signed online (SHA-256 {hexdigits}…)"
    if state == "ready_to_disburse":
        return "system", "contract signed: ready to disburse"
    return people["officer"], ""  # disbursed: demo cases have no loan to name


def seed_applications(*, count: int = 360, drafts: int = 420, seed: int = 20261129, days: int = 42,
                      now: dt.datetime | None = None) -> tuple[int, int]:
    """Applications from random active customers over the last `days`, and drafts; (applications, drafts)."""
    from creditplan.customers.models import Customer
    from creditplan.loans.models import Product
    from creditplan.org.models import User

    rng = random.Random(seed)
    now = timezone.localtime(now or timezone.now())  # office hours are local hours
    customers = list(Customer.objects.filter(status="active", kind="individual").order_by("id")
                     .values_list("id", "branch_id")[:2000])
    products = {p.code: p for p in Product.objects.filter(is_active=True)}
    product_codes = [c for c in ("consumer", "business") if c in products] or list(products)
    if not customers or not product_codes:
        return 0, 0
    officer = User.objects.filter(role="loan_officer").order_by("id").first()
    apps: list[Application] = []
    paths: list[list[tuple[str, dt.datetime]]] = []
    for n in range(count):
        cid, branch_id = rng.choice(customers)
        code = rng.choice(product_codes)
        p = products[code]
        amount = rng.randrange(max(p.min_amount_minor, 2_000_000), min(p.max_amount_minor, 30_000_000) + 1, 100_000) \
            if p.max_amount_minor > 2_000_000 else p.min_amount_minor
        day = now - dt.timedelta(days=rng.uniform(0, days))
        submitted = day.replace(hour=rng.randint(8, 20), minute=rng.randint(0, 59), second=0, microsecond=0)
        if submitted > now:
            submitted -= dt.timedelta(days=1)
        channel, auto, steps = _path(rng)
        at, history = submitted, []
        for state, hours in steps:
            at = at + hours * H
            history.append((state, at))
        if history[-1][1] > now:  # every history here is finished: move one that would end after now back
            back = history[-1][1] - now + rng.uniform(1, 48) * H
            history = [(state, t - back) for state, t in history]
            submitted -= back
        status = history[-1][0]
        decided = next((t for s, t in history if s in ("approved", "declined")), None)
        queued = next((t for s, t in history if s == "referred"), None)
        apps.append(Application(
            ref=f"AP{submitted:%Y%m%d}D{n:08d}", customer_id=cid, branch_id=branch_id, product=code,
            amount_minor=amount, term=rng.choice([12, 24, 36]) if code == "consumer" else rng.choice([4, 8, 12]),
            channel=channel, status=status, auto_approved=auto and decided is not None,
            entered_by=officer if channel == "branch" else None, queued_at=queued, decided_at=decided,
            quota_status="untracked", decision_outcome="approve" if auto else ("refer" if queued else "decline"),
            created_at=submitted, updated_at=history[-1][1]))
        paths.append(history)
    times = [(a.created_at, a.updated_at) for a in apps]
    Application.objects.bulk_create(apps, batch_size=500)
    # created_at / updated_at are set by Django on insert: put the submission and last-move times back
    made = dict(Application.objects.filter(ref__in=[a.ref for a in apps]).values_list("ref", "id"))
    for a, (created, updated) in zip(apps, times, strict=True):
        a.pk, a.created_at, a.updated_at = made[a.ref], created, updated
    Application.objects.bulk_update(apps, ["created_at", "updated_at"], batch_size=500)
    names = dict(Customer.objects.filter(id__in={a.customer_id for a in apps}).values_list("id", "name"))
    approvers = list(User.objects.filter(role="approver", is_active=True).order_by("id").values_list("branch_id",
                                                                                                    "username"))
    transitions = []
    for a, history in zip(apps, paths, strict=True):
        people = {"customer": names.get(a.customer_id) or "system",
                  "officer": officer.username if officer is not None else "system",
                  "approver": next((u for b, u in approvers if b == a.branch_id), approvers[0][1] if approvers
                                   else "system")}
        prev = "draft"
        for state, at in history:
            actor, reason = _history_line(rng, a, prev, state, people)
            transitions.append(Transition(application_id=a.pk, from_status=prev, to_status=state,
                                          actor_name=actor, reason=reason, at=at))
            prev = state
    Transition.objects.bulk_create(transitions, batch_size=1000)
    user = User.objects.filter(role="customer").order_by("id").first()
    rows = []
    if user is not None:
        for k in range(drafts):
            cid, branch_id = rng.choice(customers)
            start = now - dt.timedelta(days=rng.uniform(0, days))
            furthest = rng.choices([1, 2, 3, 4], weights=[34, 18, 9, 39])[0]
            rows.append(ApplicationDraft(token=f"demo-{seed}-{k}", user=user, branch_id=branch_id,
                                         product=rng.choice(product_codes), furthest_step=furthest,
                                         created_at=start, updated_at=start,
                                         submitted_at=start + dt.timedelta(minutes=9) if furthest == 4 else None,
                                         purged_at=start))
        ApplicationDraft.objects.bulk_create(rows, batch_size=1000)
    return len(apps), len(rows)


def seed_open_cases(*, count: int = 48, seed: int = 20261129, now: dt.datetime | None = None) -> dict[str, int]:
    """Real applications entered by the demo's loan officers for customers of their branches, with the demo
    bureau; submission times then spread over the last ~2 working days. Returns the count per status."""
    from django.test.utils import override_settings

    from creditplan.customers.models import Customer
    from creditplan.org.models import User
    from creditplan.origination import services

    rng = random.Random(seed + 1)
    now = now or timezone.now()
    officers = list(User.objects.filter(role="loan_officer", branch__isnull=False).select_related("branch")
                    .order_by("id"))
    pools = [(o, list(Customer.objects.filter(status="active", kind="individual",
                                              branch__path__startswith=o.branch.path)
                      .order_by("id").values_list("id", flat=True)[:400])) for o in officers]
    pools = [(o, ids) for o, ids in pools if ids]
    counts: dict[str, int] = {}
    if not pools:
        return counts
    with override_settings(CREDITPLAN_BUREAU_CLIENT="creditplan.origination.sources.demo_credit_file"):
        for n in range(count):
            officer, ids = pools[n % len(pools)]
            income = rng.randrange(600_000, 4_000_000, 50_000)
            inputs = {"loan_purpose": rng.choice(["consumption", "education", "renovation", "car"]),
                      "monthly_income_minor": income,
                      "existing_debt_service_minor": rng.randrange(0, income // 10, 10_000),
                      "employment": rng.choice(["employed", "employed", "self_employed"]),
                      "months_employed": rng.randrange(3, 180), "housing": rng.choice(["own", "rent", "free"]),
                      "dependants": rng.randrange(0, 4)}
            try:
                v = services.submit_application(
                    officer, customer_id=rng.choice(ids), product="consumer",
                    amount=f"{rng.randrange(5, 80) * 1000}.00", term=rng.choice([12, 24, 36]), inputs=inputs,
                    channel="branch")
            except Exception:  # noqa: BLE001 - a demo customer the product refuses (age, income…): skip them
                continue
            counts[v.status] = counts.get(v.status, 0) + 1
            back = dt.timedelta(minutes=rng.randrange(5, 60 * 30))
            a = Application.objects.get(ref=v.ref)
            Application.objects.filter(pk=a.pk).update(
                created_at=a.created_at - back, updated_at=a.updated_at - back,
                queued_at=None if a.queued_at is None else a.queued_at - back)
            for t in Transition.objects.filter(application_id=a.pk):
                Transition.objects.filter(pk=t.pk).update(at=t.at - back)
    return counts
