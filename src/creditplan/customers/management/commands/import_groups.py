"""`creditplan import-groups`: propose the customer group relations of a CSV or Excel file (customers/groups.py).

    creditplan import-groups FILE --user risk1 [--plain]

The file has a header row naming the columns group_code, group_name, parent_group, customer (customer number,
resident ID number or unified social credit code), relation, effective_from [, effective_to] — or their Chinese
names (docs/customer-groups.md). Each row becomes a proposed change that another user who manages groups approves
(on the page /plans/groups/changes/, or the API). All or nothing: any bad row rejects the whole file, every bad row
is printed with its line and reason, nothing is written, and the exit status is 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from creditplan.core.errors import CreditplanError
from creditplan.customers import groups


class Command(BaseCommand):
    help = "Propose the customer group relations of a CSV or Excel file (all rows or none; another user approves)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the file: .csv (UTF-8 or GB18030) or .xlsx")
        parser.add_argument("--user", required=True, metavar="NAME",
                            help="the user proposing the changes (a role that manages customer groups)")
        parser.add_argument("--plain", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **o: Any) -> None:
        from creditplan.org.models import User

        try:
            user = User.objects.get(username=o["user"], is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"no active user {o['user']}") from None
        path = Path(o["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
        try:
            if o["plain"]:
                result = groups.import_file(user, path.name, data)
            else:
                with Progress(TextColumn(f"import {path.name}"), BarColumn(),
                              TextColumn("{task.completed:,} rows"), TimeElapsedColumn(),
                              transient=True) as bar:
                    task = bar.add_task("import", total=None)

                    def advance(done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                    result = groups.import_file(user, path.name, data, progress=advance)
        except CreditplanError as exc:
            for p in exc.extra.get("lines", []):
                self.stderr.write(f"  line {p['line']} ({p['column']}): {p['message']}")
            if exc.code == "import_rejected":
                bad = len({p["line"] for p in exc.extra["lines"]})
                raise CommandError(f"{path.name}: {bad} bad row(s), nothing imported") from None
            raise CommandError(f"{path.name}: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(
            f"{result.file}: proposed {result.changes} change(s) — {result.new_groups} new group(s), {result.moves} "
            f"move(s), {result.members} member(s) — batch {result.batch}; another user who manages groups approves "
            "them (/plans/groups/changes/)"))
