"""`creditplan risk reviews | limits`: post-loan management from the scheduler (docs/post-loan.md), added to
`creditplan risk` (management/commands/risk.py).

    creditplan risk reviews [--date D]    the daily review job for a closed date: tasks for the watch list's customers
                                          still without one, the routine checks falling due, escalation of overdue
                                          tasks, limit proposals decided since (the close runs it by itself after the
                                          signals when CREDITPLAN_RISK_AFTER_CLOSE=indicators)
    creditplan risk limits [--date D]     the monthly dynamic-limit run (once a month, e.g. after the month-end close)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError

ACTIONS = frozenset({"reviews", "limits"})


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def add_subcommands(sub: Any) -> None:
    r = sub.add_parser("reviews", help="post-loan review tasks for a closed date: create, schedule, escalate")
    r.add_argument("--date", type=_date, default=None, help="the closed business date (default: the last one)")
    m = sub.add_parser("limits", help="the monthly dynamic-limit run: increase, cut or freeze lines by the rules")
    m.add_argument("--date", type=_date, default=None, help="the date it runs for (default: the last closed date)")


def run(action: str, opts: dict[str, Any], write: Any) -> None:
    """Do one of `ACTIONS` (CreditplanError passes to the caller, which prints its message)."""
    from creditplan.loans import services as loans
    from creditplan.risk.services import limits, reviews

    day = opts.get("date") or loans.last_closed_date()
    if day is None:
        raise CommandError("no close has run yet: give --date")
    if action == "reviews":
        s = reviews.run_reviews(day)
        created = ", ".join(f"{n} {k}" for k, n in s.created.items() if n) or "none"
        write(f"{s.as_of}: tasks created {created} (routine checks from {s.window_from}); {s.raised} raised to red; "
              f"escalated {s.escalated.get('1', 0)} to approvers, {s.escalated.get('2', 0)} to risk managers; "
              f"{s.proposals_closed} limit proposals settled")
        return
    summary = limits.run_limits(day)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items())) or "nothing new"
    write(f"{summary.as_of}: {summary.lines} active lines, limit table v{summary.policy_number}: {counts}")
