"""`creditplan loan …`: loan calculations from the command line.

    creditplan loan schedule --amount 1000000 --rate 3.95 --term 360 [--method equal-installment]
        [--day-count 30/360] [--start 2026-01-01] [--first-due DATE] [--frequency monthly|quarterly|N]
        [--grace N] [--rounding half_up] [--interest-rule running-total|per-line] [--fee 0] [--currency CNY]
        [--format table|json]

`--amount` and `--fee` are in yuan (major units, plain decimal text), `--rate` is a percent a year
(3.95 means 3.95 %). The schedule is computed by `creditplan.loans.domain.schedule`, the same code the
loan book uses, and touches no database. Bad input ends with one line on standard error that names the
option, and exit status 2 (as argparse does for a malformed command line).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creditplan.core.daycount import DayCount
from creditplan.core.errors import CreditplanError
from creditplan.core.money import (
    Money,
    Rounding,
    format_minor,
    format_rate,
    get_currency,
    parse_money,
    parse_rate,
)
from creditplan.loans.domain.schedule import (
    RATE_CAP,
    Installment,
    InterestRule,
    Method,
    ScheduleTerms,
    build_schedule,
    parse_frequency,
    totals,
)

USAGE_ERROR = 2

# ScheduleTerms names the field at fault; the user typed an option.
_OPTION_OF_FIELD = {
    "principal_minor": "--amount",
    "annual_rate": "--rate",
    "rate": "--rate",
    "periods": "--term",
    "method": "--method",
    "start": "--start",
    "first_due": "--first-due",
    "months_per_period": "--frequency",
    "day_count": "--day-count",
    "rounding": "--rounding",
    "interest_rule": "--interest-rule",
    "grace_periods": "--grace",
    "fee_per_installment_minor": "--fee",
    "currency": "--currency",
}


def _usage_error(option: str, message: str) -> CommandError:
    return CommandError(f"{option}: {message}", returncode=USAGE_ERROR)


class Command(BaseCommand):
    help = "Loan calculations: `loan schedule` prints a repayment schedule (no database needed)."
    requires_system_checks: list[str] = []  # a calculator: nothing to check, nothing to migrate

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("schedule", help="print the repayment schedule of a loan")
        # Every value is taken as text and checked here, so that any bad value gives the same one-line
        # error naming the option, from the shell and from call_command alike.
        p.add_argument("--amount", help="amount lent, in yuan (major units): 1000000 or 1,000,000.00")
        p.add_argument("--rate", help="annual interest rate in percent: 3.95 means 3.95 %%")
        p.add_argument("--term", help="number of periods (installments), 1 to 600")
        p.add_argument("--method", default=Method.EQUAL_INSTALLMENT.value,
                       help=f"{' | '.join(m.value for m in Method)} (default: %(default)s)")
        p.add_argument("--day-count", default=DayCount.THIRTY_360.value,
                       help=f"{' | '.join(d.value for d in DayCount)} (default: %(default)s)")
        p.add_argument("--start", default=None, help="value date YYYY-MM-DD (default: today)")
        p.add_argument("--first-due", default=None, help="first due date YYYY-MM-DD (default: one period on)")
        p.add_argument("--frequency", default="monthly",
                       help="monthly | quarterly | a number of months 1-12 (default: %(default)s)")
        p.add_argument("--grace", default="0", help="interest-only periods before amortising (default: 0)")
        p.add_argument("--rounding", default=Rounding.HALF_UP.value,
                       help=f"{' | '.join(r.value for r in Rounding)} (default: %(default)s)")
        p.add_argument("--interest-rule", default=InterestRule.RUNNING_TOTAL.value,
                       help=f"{' | '.join(r.value for r in InterestRule)}: interest of the exact schedule with "
                            "the fen carried so the total is the closed form, or each line rounded on the balance "
                            "outstanding (default: %(default)s)")
        p.add_argument("--fee", default="0", help="fee per installment, in yuan (default: 0)")
        p.add_argument("--currency", default="CNY", help="ISO 4217 code (default: %(default)s)")
        p.add_argument("--format", default="table", help="table | json (default: %(default)s)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "schedule":
            self._schedule(opts)

    # -- schedule ------------------------------------------------------------------------------

    def _schedule(self, opts: dict[str, Any]) -> None:
        output = (opts["format"] or "").strip().lower()
        if output not in ("table", "json"):
            raise _usage_error("--format", f"expected table or json, got {opts['format']!r}")
        try:
            currency = get_currency(opts["currency"]).code
        except CreditplanError as exc:
            raise _usage_error("--currency", exc.message)
        terms = _terms_from_options(opts, currency)
        lines = build_schedule(terms)
        if output == "json":
            rows = [_json_row(line, currency) for line in lines]
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(_table(terms, lines, currency))


def _terms_from_options(opts: dict[str, Any], currency: str) -> ScheduleTerms:
    amount = _money(opts["amount"], currency, "--amount", allow_zero=False)
    fee = _money(opts["fee"], currency, "--fee")
    rate = _rate(opts["rate"])
    term = _whole_number(opts["term"], "--term")
    grace = _whole_number(opts["grace"], "--grace")
    start = _date(opts["start"], "--start") if opts["start"] else date.today()
    first_due = _date(opts["first_due"], "--first-due") if opts["first_due"] else None
    try:
        months = parse_frequency(opts["frequency"])
        return ScheduleTerms(
            principal_minor=amount.minor,
            annual_rate=rate,
            periods=term,
            method=opts["method"],
            start=start,
            first_due=first_due,
            months_per_period=months,
            day_count=opts["day_count"],
            rounding=opts["rounding"].strip().replace("-", "_"),
            interest_rule=opts["interest_rule"],
            grace_periods=grace,
            fee_per_installment_minor=fee.minor,
        )
    except CreditplanError as exc:
        raise _usage_error(_OPTION_OF_FIELD.get(exc.field or "", "schedule"), exc.message)


def _money(text: str | None, currency: str, option: str, *, allow_zero: bool = True) -> Money:
    """An amount typed as an option, through the one money edge (exact: "100.001" is refused, never rounded)."""
    if text is None or not text.strip():
        raise _usage_error(option, "is required (an amount in yuan, such as 1000000 or 1,000,000.00)")
    try:
        return parse_money(text, option.removeprefix("--"), currency=currency, allow_zero=allow_zero)
    except CreditplanError as exc:
        raise _usage_error(option, exc.message)


def _rate(text: str | None) -> Decimal:
    if text is None or not text.strip():
        raise _usage_error("--rate", "is required (a percent a year, such as 3.95)")
    cleaned = text.strip()
    try:
        rate = parse_rate(cleaned if cleaned.endswith("%") else f"{cleaned}%")
    except CreditplanError as exc:
        if exc.code == "invalid_rate":
            raise _usage_error("--rate", f"{text!r} is not a percent a year, such as 3.95")
        raise _usage_error("--rate", f"{text.strip().rstrip('%')}% is not between 0% and {RATE_CAP:.0%}")
    if rate > RATE_CAP:
        raise _usage_error("--rate", f"{format_rate(rate)} is above the cap of {RATE_CAP:.0%} a year")
    return rate


def _whole_number(text: str | None, option: str) -> int:
    if text is None or not text.strip():
        raise _usage_error(option, "is required (a whole number)")
    try:
        return int(text.strip())
    except ValueError:
        raise _usage_error(option, f"{text!r} is not a whole number")


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _usage_error(option, f"{text!r} is not a date like 2026-01-31")


def _json_row(line: Installment, currency: str) -> dict[str, Any]:
    row = line.as_json(currency)
    row["remaining_balance"] = row.pop("balance_after")
    return row


def _table(terms: ScheduleTerms, lines: tuple[Installment, ...], currency: str) -> str:
    sums = totals(lines)
    show_fee = sums["fees"] > 0
    headers = ["#", "due date", "principal", "interest"] + (["fee"] if show_fee else []) + ["payment", "balance"]
    body = []
    for line in lines:
        amounts = [line.principal, line.interest] + ([line.fee] if show_fee else []) + [line.payment,
                                                                                        line.balance_after]
        body.append([str(line.seq), line.due_date.isoformat(), *(format_minor(a, currency) for a in amounts)])
    total_amounts = [sums["principal"], sums["interest"]] + ([sums["fees"]] if show_fee else []) + [sums["payments"]]
    footer = ["", "total", *(format_minor(a, currency) for a in total_amounts), ""]
    widths = [max(len(row[i]) for row in [headers, footer, *body]) for i in range(len(headers))]

    def render(row: list[str]) -> str:
        cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        return "  ".join(cells).rstrip()

    frequency = {1: "monthly", 3: "quarterly"}.get(terms.months_per_period, f"every {terms.months_per_period} months")
    title = (f"{currency} {format_minor(terms.principal_minor, currency)} at {format_rate(terms.annual_rate)} a year, "
             f"{terms.periods} {frequency} periods, {terms.method.value}, {terms.day_count.value}, "
             f"{terms.rounding.value}, {terms.interest_rule.value} interest, value date {terms.start.isoformat()}"
             + (f", {terms.grace_periods} grace periods" if terms.grace_periods else ""))
    rule = "-" * len(render(headers))
    return "\n".join([title, "", render(headers), rule, *(render(row) for row in body), rule, render(footer)])
