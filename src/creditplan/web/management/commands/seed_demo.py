from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rich.progress import Progress

from creditplan.core.errors import CreditplanError
from creditplan.customers import demo
from creditplan.customers import services as customers
from creditplan.org import services as org


class Command(BaseCommand):
    help = "Load the deterministic demo data set (branches, staff of every role, customers). Skips if already loaded."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--customers", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=20261129)

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        n = opts["customers"]
        if n < 0:
            raise CommandError("--customers must be zero or more")
        if org.list_all_branches():
            self.stdout.write("demo data already present: nothing loaded (use a fresh database to reseed)")
            self._print_logins()
            return
        try:
            with transaction.atomic():
                self._seed(n, opts["seed"])
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
        from creditplan.plans.demo import seed_plan

        loans = seed_plan(users["planner"], users["admin"])

        self.stdout.write(self.style.SUCCESS(
            f"loaded {len(demo.BRANCHES)} branches, {len(demo.STAFF)} users, {len(rows)} customers, "
            f"{models} model versions, a credit plan with {loans} approvals"))

    def _print_logins(self) -> None:
        self.stdout.write(f"demo log-ins (password for all: {demo.DEMO_PASSWORD}):")
        for username, role, branch, _display in demo.STAFF:
            self.stdout.write(f"  {username:<12} {role:<13} {branch or ''}")
