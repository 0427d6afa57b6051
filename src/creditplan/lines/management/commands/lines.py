"""`creditplan lines …`: the credit lines' daily job.

    creditplan lines expire [--days 30]
        release the reservations of approvals not paid out within --days (default: the Django setting
        LINE_RESERVATION_DAYS, 30): the room goes back to the customer's line. Idempotent.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.lines import services


class Command(BaseCommand):
    help = "Credit lines: release reservations of approvals not paid out in time."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        expire = sub.add_parser("expire", help="release reservations held longer than --days")
        expire.add_argument("--days", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options.get("days")
        if days is not None and (not str(days).isdigit() or not 1 <= int(days) <= 3650):
            raise CommandError(f"days must be a whole number from 1 to 3650, got {days!r}")
        n = services.expire_reservations(days=int(days) if days is not None else None)
        self.stdout.write(f"{n} credit-line reservation(s) released")
