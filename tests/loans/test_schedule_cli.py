"""`creditplan loan schedule`: the reference loan as JSON and as a table, options passed through, and bad
input refused with one line naming the option and exit status 2. No database is touched (these tests run
without the `db` fixture, so any query would fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

REFERENCE = ("--amount", "1000000", "--rate", "3.95", "--term", "360", "--start", "2026-01-01")


def run(*args: str) -> str:
    out = StringIO()
    call_command("loan", "schedule", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def rows(*args: str) -> list[dict[str, Any]]:
    data = json.loads(run(*args, "--format", "json"))
    assert isinstance(data, list)
    return data


def test_json_schedule_of_the_reference_loan() -> None:
    data = rows(*REFERENCE)
    assert len(data) == 360
    assert data[0] == {
        "seq": 1,
        "start_date": "2026-01-01",
        "due_date": "2026-02-01",
        "principal": "1453.70",
        "interest": "3291.67",
        "fee": "0.00",
        "payment": "4745.37",
        "remaining_balance": "998546.30",
    }
    assert {row["payment"] for row in data[:-1]} == {"4745.37"}
    assert data[-1]["payment"] == "4746.22" and data[-1]["remaining_balance"] == "0.00"
    assert data[-1]["due_date"] == "2056-01-01"
    assert sum(Decimal(row["principal"]) for row in data) == Decimal("1000000.00")
    assert sum(Decimal(row["interest"]) for row in data) == Decimal("708334.05")  # the reference loan (docs/loans.md)
    per_line = rows(*REFERENCE, "--interest-rule", "per-line")
    assert per_line[0] == data[0] and per_line[-1]["payment"] == "4747.07"
    assert sum(Decimal(row["interest"]) for row in per_line) == Decimal("708334.90")


def test_equal_principal_first_and_last_payments() -> None:
    data = rows(*REFERENCE, "--method", "equal-principal")
    assert (data[0]["payment"], data[-1]["payment"]) == ("6069.44", "2786.92")
    assert sum(Decimal(row["interest"]) for row in data) == Decimal("594145.83")  # the reference loan (docs/loans.md)


def test_table_is_aligned_with_totals_at_the_bottom() -> None:
    text = run(*REFERENCE)
    lines = text.splitlines()
    assert lines[0].startswith("CNY 1,000,000.00 at 3.95% a year, 360 monthly periods, equal-installment")
    header = lines[2]
    assert header.split() == ["#", "due", "date", "principal", "interest", "payment", "balance"]
    body = [line for line in lines[4:] if line[:1] != "-"]
    assert len({len(line) for line in body[:-1]}) == 1  # every installment line as wide as the next
    assert "4,745.37" in body[0] and "998,546.30" in body[0]
    assert lines[-1].split() == ["total", "1,000,000.00", "708,334.05", "1,708,334.05"]


def test_options_reach_the_schedule() -> None:
    quarterly = rows("--amount", "12,000.00", "--rate", "4%", "--term", "4", "--start", "2026-01-31",
                     "--frequency", "quarterly", "--method", "interest-only", "--day-count", "ACT/365F",
                     "--rounding", "down", "--fee", "1.50")
    assert [row["due_date"] for row in quarterly] == ["2026-04-30", "2026-07-31", "2026-10-31", "2027-01-31"]
    # 12,000.00 × 4 % × 89/365 = 117.04109… rounded down.
    assert quarterly[0]["interest"] == "117.04" and quarterly[0]["fee"] == "1.50"
    assert quarterly[0]["payment"] == "118.54" and quarterly[-1]["principal"] == "12000.00"
    graced = rows(*REFERENCE[:4], "--term", "12", "--grace", "3", "--start", "2026-01-01")
    assert [row["principal"] for row in graced[:3]] == ["0.00"] * 3
    one = rows("--amount", "1000", "--rate", "3.65", "--term", "12", "--method", "bullet",
               "--day-count", "ACT/365F", "--start", "2026-01-01", "--first-due", "2026-02-01")
    assert one == [{"seq": 1, "start_date": "2026-01-01", "due_date": "2027-01-01", "principal": "1000.00",
                    "interest": "36.50", "fee": "0.00", "payment": "1036.50", "remaining_balance": "0.00"}]
    custom = rows("--amount", "600", "--rate", "0", "--term", "3", "--frequency", "2", "--start", "2026-01-15")
    assert [row["due_date"] for row in custom] == ["2026-03-15", "2026-05-15", "2026-07-15"]


def test_start_defaults_to_today() -> None:
    data = rows("--amount", "100", "--rate", "3", "--term", "1")
    assert data[0]["start_date"] == date.today().isoformat()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--rate", "3.95", "--term", "12"), "--amount"),
        (("--amount", "abc", "--rate", "3.95", "--term", "12"), "--amount"),
        (("--amount", "100.001", "--rate", "3.95", "--term", "12"), "--amount"),
        (("--amount", "0", "--rate", "3.95", "--term", "12"), "--amount"),
        (("--amount", "-5", "--rate", "3.95", "--term", "12"), "--amount"),
        (("--amount", "100", "--term", "12"), "--rate"),
        (("--amount", "100", "--rate", "abc", "--term", "12"), "--rate"),
        (("--amount", "100", "--rate", "37", "--term", "12"), "--rate"),
        (("--amount", "100", "--rate", "-1", "--term", "12"), "--rate"),
        (("--amount", "100", "--rate", "3.95"), "--term"),
        (("--amount", "100", "--rate", "3.95", "--term", "1.5"), "--term"),
        (("--amount", "100", "--rate", "3.95", "--term", "601"), "--term"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--method", "annuity"), "--method"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--day-count", "ACT/366"), "--day-count"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--start", "2026-02-30"), "--start"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--start", "2026-01-01",
          "--first-due", "2025-12-31"), "--first-due"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--frequency", "weekly"), "--frequency"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--grace", "12"), "--grace"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--rounding", "nearest"), "--rounding"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--interest-rule", "exact"), "--interest-rule"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--fee", "-1"), "--fee"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--currency", "XYZ"), "--currency"),
        (("--amount", "100", "--rate", "3.95", "--term", "12", "--format", "xml"), "--format"),
    ],
)
def test_bad_input_names_the_option_and_exits_2(args: tuple[str, ...], option: str) -> None:
    with pytest.raises(CommandError) as err:
        run(*args)
    assert err.value.returncode == 2
    message = str(err.value)
    assert message.startswith(f"{option}: ") and "\n" not in message


def test_from_the_shell_bad_input_is_one_line_on_stderr_and_status_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "creditplan.cli", "loan", "schedule", "--amount", "abc", "--rate", "3.95",
         "--term", "12"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "--amount" in result.stderr
