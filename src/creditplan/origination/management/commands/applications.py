"""`creditplan applications …`: the origination jobs.

    creditplan applications expire [--days 30] [--draft-days 30] [--now 2025-07-01T09:00]
        close cases left waiting (referred, information requested) with no move for --days, releasing any quota
        they hold, and wipe what was typed into online-form drafts untouched for --draft-days
    creditplan applications sla [--now 2025-07-01T09:00]
        escalate every case that has waited longer than its state's service level (see origination/sla.py)

Both are idempotent: run them again and nothing more happens. `creditplan cob schedule` prints the systemd units
and cron lines that run them every day with the close (expire) and every 15 minutes in working hours (sla).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from creditplan.core.errors import CreditplanError


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date-time (YYYY-MM-DDTHH:MM): {value!r}") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise CommandError(f"days must be a whole number from 1 to 3650, got {value!r}")
    return int(value)


class Command(BaseCommand):
    help = "Origination jobs: expire stale applications and drafts; escalate cases past their service level."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("expire", help="expire cases waiting with no move for --days; purge old form drafts")
        p.add_argument("--days", type=_days, default=30, help="days without a move before a case expires (30)")
        p.add_argument("--draft-days", type=_days, default=30,
                       help="days untouched before an online-form draft's data is wiped (30)")
        p.add_argument("--now", type=_moment, default=None, help="the moment to judge by (default: now; tests)")
        p = sub.add_parser("sla", help="escalate cases waiting longer than their state's service level")
        p.add_argument("--now", type=_moment, default=None, help="the moment to judge by (default: now; tests)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except CreditplanError as exc:
            raise CommandError(exc.message) from None

    def _expire(self, opts: dict[str, Any]) -> None:
        from creditplan.origination import drafts, services

        now = opts["now"] or timezone.now()
        expired = services.expire_applications(older_than_days=opts["days"], now=now)
        purged = drafts.purge_drafts(older_than_days=opts["draft_days"], now=now)
        self.stdout.write(f"{expired} application(s) expired (no move for {opts['days']} days); "
                          f"{purged} draft(s) purged (untouched for {opts['draft_days']} days)")

    def _sla(self, opts: dict[str, Any]) -> None:
        from creditplan.origination import sla

        report = sla.escalate_overdue(opts["now"])
        self.stdout.write(f"{report.checked} waiting case(s) checked; {report.escalated} escalated now; "
                          f"{report.already} escalation(s) already on record")
