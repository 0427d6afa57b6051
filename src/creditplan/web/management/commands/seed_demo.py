from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from rich.progress import Progress

from creditplan.core.errors import CreditplanError
from creditplan.customers import demo
from creditplan.customers import services as customers
from creditplan.org import services as org
from creditplan.plans import demo as plan_demo

DETAILED_LOANS = 300


class Command(BaseCommand):
    help = "Load the deterministic demo data set (branches, staff of every role, customers). Skips if already loaded."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=20261129)
        parser.add_argument("--loans", type=int, default=300,
                            help="demo loans: up to 300 get a full history (payments, daily closes); beyond that "
                                 "the rest are generated in bulk in their current state (default: 300)")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = opts["customers"]
        if n < 0:
            raise CommandError("--customers must be zero or more")
        if opts["loans"] < 0:
            raise CommandError("--loans must be zero or more")
        if org.list_all_branches():
            self.stdout.write("demo data already present: nothing loaded (use a fresh database to reseed)")
            self._print_logins()
            return
        try:
            with transaction.atomic():
                self._seed(n, opts["seed"])
            from creditplan.risk import demo as risk_demo

            with risk_demo.snapshots_only():  # the close keeps each date's book; indicators come after
                self._seed_loans(opts["loans"], opts["seed"])
            with transaction.atomic():
                self._seed_plan_second_pass(opts["seed"])
            with transaction.atomic():
                risk_demo.seed_risk(log=self.stdout.write)
            from creditplan.risk.demo_post_loan import seed_post_loan

            with transaction.atomic():  # lines, ECL, early warning, reviews, limits, model monitoring
                seed_post_loan(seed=opts["seed"], log=self.stdout.write)
        except CreditplanError as exc:
            raise CommandError(exc.message)
        from creditplan.ledger import services as ledger

        head = ledger.issue_tree_head(None, reason="demo data loaded")
        self.stdout.write(f"ledger: signed tree head at size {head.tree_size}")
        self._print_logins()

    def _seed(self, n: int, seed: int) -> None:
        for code, name, name_en, level, parent, region in demo.BRANCHES:
            org.create_branch(None, code=code, name=name, name_en=name_en, level=level, parent_code=parent,
                              region_code=region)
        users = {}
        for username, role, branch, display in demo.STAFF:
            users[username] = org.create_user(None, username=username, password=demo.DEMO_PASSWORD, role=role,
                                              branch_code=branch, display_name=display)
        rows = list(demo.customer_rows(n, seed=seed, today=timezone.localdate()))
        chunk = 500
        with Progress(transient=False) as progress:
            task = progress.add_task("customers", total=len(rows))
            for start in range(0, len(rows), chunk):
                customers.import_customers(None, rows[start:start + chunk])
                progress.advance(task, len(rows[start:start + chunk]))
        if rows:
            first = customers.search_customers(users["admin"], "", page=1, kind="individual", page_size=1)
            if first.items:
                customers.link_customer_user(first.items[0].id, users["customer"])
        from creditplan.scoring.demo import seed_models

        models = seed_models(users["risk"], users["risk2"], log=self.stdout.write)
        from creditplan.risk.services.behaviour import seed_behaviour_model

        models += seed_behaviour_model(users["risk"], users["risk2"], log=self.stdout.write)
        from creditplan.plans import demo_capital
        from creditplan.plans.demo import seed_plan

        seed_plan(users["planner"])
        demo_capital.seed_demo(users["planner"], users["planner2"], amount=plan_demo.CAPITAL, pending="650000000")

        self.stdout.write(self.style.SUCCESS(
            f"loaded {len(demo.BRANCHES)} branches, {len(demo.STAFF)} users, {len(rows)} customers, "
            f"{models} model versions, this year's credit plan (its book opens with the loans)"))

    def _seed_loans(self, count: int, seed: int) -> None:
        """Loans with their history (products, LPR, repayments, every daily close) and, beyond
        `DETAILED_LOANS`, a bulk-generated book in its state as of today (`loans.bulk.generate_loans`)."""
        from creditplan.loans.demo import HISTORY_DAYS, seed_loans
        from creditplan.org.models import User

        admin = User.objects.get(username="admin")
        detailed = min(count, DETAILED_LOANS)
        with transaction.atomic():
            book = seed_loans(admin, count=detailed, seed=seed, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"loans: {book.summary()}"))
        from creditplan.decisions.services import seed_default_policies

        with transaction.atomic():
            seeded = seed_default_policies(None, model_name="retail-pd")
            from creditplan.decisions.demo import recalibrate

            recalibrate(User.objects.get(username="risk"), User.objects.get(username="risk2"))
        self.stdout.write(self.style.SUCCESS(f"decisions: default policy, pricing and authority for {len(seeded)} "
                                             "products"))
        from creditplan.origination.demo import seed_applications, seed_open_cases

        with transaction.atomic():
            apps, forms = seed_applications(seed=seed)
        open_cases = seed_open_cases(seed=seed)
        self.stdout.write(self.style.SUCCESS(
            f"applications: {apps} finished ones with six weeks of history, {forms} online forms, "
            f"{sum(open_cases.values())} open ones submitted now ({', '.join(f'{k} {n}' for k, n in open_cases.items())})"))
        if count > detailed:
            from creditplan.loans import services as loan_services
            from creditplan.loans.bulk import generate_loans

            today = loan_services.business_date()
            with Progress(transient=False) as progress:
                task = progress.add_task("bulk loans", total=count - detailed)

                def step(stage: str, done: int, total: int) -> None:
                    progress.update(task, description=f"bulk {stage}", completed=done, total=total)

                made = generate_loans(count - detailed, start_range=(today - dt.timedelta(days=HISTORY_DAYS),
                                                                     today - dt.timedelta(days=1)),
                                      as_of=today, seed=seed, progress=step)
            self.stdout.write(self.style.SUCCESS(f"loans: {made.loans} more generated in bulk "
                                                 f"({made.customers_created} customers) as of {made.as_of}"))

    def _seed_plan_second_pass(self, seed: int) -> None:
        """The credit plan once the loans are booked: the pipeline of approvals, customer groups (risk proposes,
        risk2 approves), a transfer applied and one waiting, a frozen quota, the 普惠小微 and real-estate targets,
        the year split into months."""
        from creditplan.customers import demo_groups
        from creditplan.org.models import User
        from creditplan.plans import demo_periods, demo_targets, demo_transfers
        from creditplan.plans import services as plans

        users = {u.username: u for u in User.objects.filter(username__in=("planner", "planner2", "risk", "risk2",
                                                                             "admin"))}
        approvals = plan_demo.seed_pipeline(users["admin"], seed=seed)
        groups = demo_groups.seed_demo(users["risk"], users["risk2"])
        plan_id = plans.list_plans(users["planner"])[0].id
        demo_transfers.seed_demo(users["planner"], users["planner2"], plan_id)
        targets = demo_targets.seed_demo(users["planner"], plan_id, control="escalate")
        demo_periods.seed_demo(users["planner"], plan_id)
        self.stdout.write(self.style.SUCCESS(
            f"credit plan: {approvals} approvals in the pipeline, {len(groups)} customer groups, transfers, "
            f"{len(targets)} targets, monthly periods"))

    def _print_logins(self) -> None:
        self.stdout.write(f"demo log-ins (password for all: {demo.DEMO_PASSWORD}):")
        for username, role, branch, _display in demo.STAFF:
            self.stdout.write(f"  {username:<12} {role:<13} {branch or ''}")
