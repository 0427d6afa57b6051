"""`creditplan amend-spreads`: a batch change of live floating loans' spreads (loans/amendments.py).

    creditplan amend-spreads --user risk1 --batch-ref MORTGAGE-2023-09 --spread-bp -30 \
        [--product mortgage …] [--branch BJ01 …] [--disbursed-from 2019-10-08] [--disbursed-to 2022-12-31] \
        [--effective-date 2023-09-25] [--apply-at next_reset|effective] [--dry-run] [--plain]

--dry-run prints what would change (loans, old → new spread, a year's interest effect, what is left out and why)
and writes nothing. Without it the batch is applied in one transaction, with a progress bar; the same
--batch-ref again changes nothing and prints what it did. Exit status 1 with the reason when it is refused.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor
from creditplan.loans import amendments


class Command(BaseCommand):
    help = "Amend the spread of live floating-rate loans in batch (preview with --dry-run), without restructuring."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="the user making the change (needs loan.amend)")
        parser.add_argument("--batch-ref", required=True, help="the batch's reference: running it again is a no-op")
        parser.add_argument("--spread-bp", required=True, help="the new spread over the LPR in basis points (e.g. -30)")
        parser.add_argument("--product", action="append", default=[], help="product code (repeatable; default all)")
        parser.add_argument("--branch", action="append", default=[],
                            help="branch code, with the branches below it (repeatable; default all in your scope)")
        parser.add_argument("--disbursed-from", default=None, help="loans disbursed on or after (YYYY-MM-DD)")
        parser.add_argument("--disbursed-to", default=None, help="loans disbursed on or before (YYYY-MM-DD)")
        parser.add_argument("--effective-date", default=None,
                            help="the day it takes effect: the business day after the last close (default today)")
        parser.add_argument("--apply-at", choices=amendments.APPLY_AT, default="next_reset",
                            help="next_reset: at each loan's next reset; effective: reprice on the effective date")
        parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
        parser.add_argument("--plain", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **o: Any) -> None:
        from creditplan.org.models import User

        try:
            user = User.objects.get(username=o["user"], is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"no active user {o['user']}") from None
        kw = {"batch_ref": o["batch_ref"], "spread_bp": o["spread_bp"], "effective_date": o["effective_date"],
              "apply_at": o["apply_at"], "products": o["product"], "branches": o["branch"],
              "disbursed_from": o["disbursed_from"], "disbursed_to": o["disbursed_to"]}
        try:
            if o["dry_run"]:
                self._print(amendments.preview(user, **kw), dry_run=True)
                return
            if o["plain"]:
                result = amendments.apply(user, **kw)
            else:
                with Progress(TextColumn(f"amend {o['batch_ref']}"), BarColumn(),
                              TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                              transient=True) as bar:
                    task = bar.add_task("amend", total=None)

                    def advance(done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                    result = amendments.apply(user, progress=advance, **kw)
        except CreditplanError as exc:
            raise CommandError(f"{getattr(exc, 'field', '') or 'amend-spreads'}: {exc}") from None
        self._print(result, dry_run=False)

    def _print(self, a: amendments.Amendment, *, dry_run: bool) -> None:
        state = "would amend" if dry_run else ("already applied:" if a.duplicate else "amended")
        self.stdout.write(f"{a.batch_ref}: {state} {a.loans:,} loans, spread → {a.spread_ppm / 10_000:+.2f} % "
                          f"({a.apply_at}, effective {a.effective_date})")
        for g in a.by_spread:
            self.stdout.write(f"  from {g['from_spread_ppm'] / 10_000:+.2f} %: {g['loans']:,} loans, principal "
                              f"{format_minor(g['principal_minor'])}, a year's interest "
                              f"{format_minor(g['annual_interest_change_minor'])}")
        self.stdout.write(f"  principal {format_minor(a.principal_minor)}; a year's interest change "
                          f"{format_minor(a.annual_interest_change_minor)}")
        for reason, n in a.left_out.items():
            self.stdout.write(f"  left out: {n:,} {reason.replace('_', ' ')}")
