"""`creditplan risk signals | external-records | inflows`: early warning from the command line and the scheduler
(docs/early-warning.md), added to `creditplan risk` (management/commands/risk.py).

    creditplan risk signals [--date D] [--engine spark]    every customer's signals, level and the watch list
    creditplan risk external-records FILE.csv               import negative external records (court judgments…)
    creditplan risk inflows FILE.csv                        import monthly inflows on linked accounts

The close runs `signals` by itself after the indicators (CREDITPLAN_RISK_AFTER_CLOSE=indicators); this command
recomputes a date, or runs it on Spark. An import refuses the whole file when a row is wrong, naming the row and the
field, and stores nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

ACTIONS = frozenset({"signals", "external-records", "inflows"})


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def add_subcommands(sub: Any) -> None:
    s = sub.add_parser("signals", help="early-warning signals, warning levels and the watch list for a closed date")
    s.add_argument("--date", type=_date, default=None, help="the closed business date (default: the last one)")
    s.add_argument("--engine", choices=("local", "spark"), default="local")
    e = sub.add_parser("external-records", help="import negative external records from a CSV file (header line: "
                                                "customer_id,kind,source,reference,record_date[,amount,note])")
    e.add_argument("file", help="the CSV file (UTF-8)")
    i = sub.add_parser("inflows", help="import monthly inflows on linked accounts from a CSV file (header line: "
                                       "customer_id,account,month,amount[,source])")
    i.add_argument("file", help="the CSV file (UTF-8)")


def _text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None


def run(action: str, opts: dict[str, Any], write: Any) -> None:
    """Do one of `ACTIONS` (CreditplanError passes to the caller, which prints its message)."""
    from creditplan.core.errors import ValidationError
    from creditplan.risk.services import signals

    if action == "signals":
        from creditplan.loans import services as loans

        day = opts.get("date") or loans.last_closed_date()
        if day is None:
            raise CommandError("no close has run yet: signals are computed after the close")
        s = signals.run_signals(day, engine=opts["engine"])
        levels = ", ".join(f"{n} {lv}" for lv, n in s.levels.items())
        absent = f"; not evaluated (no input): {', '.join(s.absent)}" if s.absent else ""
        watch = (f"watch list: {s.entered} entered, {s.left} left" if s.watch_updated else
                 "watch list unchanged (a recomputation, or a date before the last one it moved for)")
        write(f"{s.as_of}: {s.customers} customers ({levels}), table v{s.policy_number}, {s.combinations} "
              f"combinations; {watch}; {s.seconds:.1f} s on {s.engine}{absent}")
        return
    rows_of = {"external-records": (signals.EXTERNAL_FIELDS, signals.EXTERNAL_REQUIRED,
                                    signals.import_external_records),
               "inflows": (signals.INFLOW_FIELDS, signals.INFLOW_REQUIRED, signals.import_inflows)}
    fields, required, importer = rows_of[action]
    rows = signals.read_csv(_text(opts["file"]), fields, required)
    try:
        result = importer(None, rows)
    except ValidationError as exc:
        problems = exc.problems or []
        lines = [f"  {_line(p.field)}{p.message}" for p in problems[:50]]
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise CommandError("nothing was imported:\n" + "\n".join(lines) + more) from None
    write(f"{result.received} rows: {result.created} new, {result.updated} replaced, {result.unchanged} unchanged")


def _line(field: str) -> str:
    """"rows[3].kind" → "line 5, kind: " (the header is line 1)."""
    if field.startswith("rows[") and "]." in field:
        index, _, name = field[5:].partition("].")
        if index.isdigit():
            return f"line {int(index) + 2}, {name}: "
    return f"{field}: " if field else ""
