from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.core.errors import CreditplanError
from creditplan.org import services as org
from creditplan.org.domain import Role


class Command(BaseCommand):
    help = "Create a user with a role (and a branch for staff). Password from --password, $CREDITPLAN_PASSWORD or a prompt."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--branch", help="branch code, e.g. BJ01 (required for staff)")
        parser.add_argument("--password")
        parser.add_argument("--display-name", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        password = opts["password"] or os.environ.get("CREDITPLAN_PASSWORD") or getpass.getpass("Password: ")
        try:
            user = org.create_user(None, username=opts["username"], password=password, role=opts["role"],
                                   branch_code=opts["branch"], display_name=opts["display_name"])
        except CreditplanError as exc:
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc.message}")
        self.stdout.write(self.style.SUCCESS(f"created {user.username} ({user.role})"))
