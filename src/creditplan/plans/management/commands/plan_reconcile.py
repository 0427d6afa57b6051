"""`creditplan plan-reconcile [--plan CODE] [--open-book]`: the plan's book against the loans (docs/plan-book.md).

    creditplan plan-reconcile                  every active plan with an opening book
    creditplan plan-reconcile --plan fy2025    one plan (active or closed)
    creditplan plan-reconcile --plan fy2025 --open-book
                                               take the opening book now, for an active plan activated before the
                                               plan tracked the whole book; then reconcile it

Each run compares every cell's balance with the loans' outstanding principal in it and every quota's balance with
the loans' in the cells it covers, prints each difference (what, the plan's figure, the loans' figure, in yuan),
records the run (the plan's dashboard shows the last one) and exits 1 when there is any difference. Run it after
each close (`creditplan cob schedule`).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor
from creditplan.plans import services


class Command(BaseCommand):
    help = "Reconcile each plan's book (cells and quotas) with the loans; exit 1 on any difference."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", default="", help="the plan's code (default: every active plan with a book)")
        parser.add_argument("--open-book", action="store_true",
                            help="take the opening book now for an active plan that has none (needs --plan)")

    def handle(self, *args: Any, **options: Any) -> None:
        code = str(options.get("plan") or "").strip()
        try:
            if options.get("open_book"):
                if not code:
                    raise CommandError("--open-book needs --plan CODE")
                cells, total = services.open_plan_book(None, code)
                self.stdout.write(f"plan {code}: opening book taken, {cells} cell(s), {format_minor(total)} yuan")
            codes = [code] if code else [p.code for p in services.opened_plans()]
            if not codes:
                self.stdout.write("no active plan with an opening book")
                return
            differences = 0
            for c in codes:
                r = services.reconcile(None, code=c)
                if r.ok:
                    self.stdout.write(f"plan {r.plan}: book reconciled ({r.cells} cell(s), {r.quotas} quota(s))")
                    continue
                differences += len(r.differences)
                self.stdout.write(f"plan {r.plan}: {len(r.differences)} difference(s) with the loans")
                for d in r.differences:
                    self.stdout.write(f"  {d['what']} {d['label']}: plan {format_minor(d['plan_minor'])}, "
                                      f"loans {format_minor(d['loans_minor'])}, "
                                      f"difference {format_minor(d['difference_minor'])}")
        except CreditplanError as exc:
            raise CommandError(exc.message) from None
        if differences:
            raise CommandError(f"{differences} difference(s) between the plan's book and the loans", returncode=1)
