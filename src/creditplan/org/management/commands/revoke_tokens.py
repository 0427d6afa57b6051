from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.core.errors import CreditplanError
from creditplan.org import services as org


class Command(BaseCommand):
    help = "Revoke every API token of a user: they stop working on their next call (a ledger event records it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="NAME", help="the user name whose tokens to revoke")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            count = org.revoke_tokens(None, opts["user"], reason="command")
        except CreditplanError as exc:
            raise CommandError(exc.message)
        plural = "" if count == 1 else "s"
        self.stdout.write(self.style.SUCCESS(f"revoked {count} API token{plural} of {opts['user']}"))
