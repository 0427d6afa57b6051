"""Interest after a write-off (账销案存): a written-off loan leaves the balance sheet, not the borrower's debt.
Each close charges the principal still unrecovered its penalty interest (罚息: the contract rate × (1 + the
penalty markup), the loan's day-count year) for the days since the loan was last brought up to date, into the
off-balance record (Dr 7101 / Cr 7102, one entry per branch), so that what the bank claims in collection and in
court is what the contract says. Exact integer arithmetic with the sub-fen rest carried (`memo_carry`), like
the penalty of the close. Few loans: plain Python over one query, in one transaction, idempotent by
`closed_through` (a rerun after a crash finds nothing left to do).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F

from creditplan.loans import accounting
from creditplan.loans.cob.context import Context
from creditplan.loans.domain import accounts
from creditplan.loans.domain import kernel as K
from creditplan.loans.domain.accounts import Line
from creditplan.loans.models import Loan, LoanStatus

__all__ = ["accrue_written_off"]

_PPM_PCT = 1_000_000 * 100


def accrue_written_off(ctx: Context, day: dt.date) -> dict[str, int]:
    """Bring every written-off loan's record up to `day`. Returns {"written_off_loans", "memo_interest_minor"}."""
    with transaction.atomic():
        loans = list(Loan.objects.select_for_update().filter(
            status=LoanStatus.WRITTEN_OFF, closed_through__lt=day,
            written_off_principal_minor__gt=F("recovered_minor")).select_related("branch")
            .only("id", "branch__code", "currency", "rate_ppm", "day_count", "term_sheet_id", "product_id",
                  "written_off_principal_minor", "recovered_minor", "memo_interest_minor", "memo_carry",
                  "closed_through"))
        per_branch: dict[tuple[str, str], int] = {}
        total = 0
        for loan in loans:
            sheet = ctx.sheets.get(loan.term_sheet_id if loan.term_sheet_id else -loan.product_id)
            markup = int(getattr(sheet, "penalty_markup_pct", 0) or 0)
            days = (day - loan.closed_through).days
            base = loan.written_off_principal_minor - loan.recovered_minor
            num = base * loan.rate_ppm * (100 + markup) * days + loan.memo_carry
            interest, loan.memo_carry = divmod(num, _PPM_PCT * K.basis_of(loan.day_count))
            loan.memo_interest_minor += interest
            loan.closed_through = day
            key = (loan.branch.code, loan.currency)
            per_branch[key] = per_branch.get(key, 0) + interest
            total += interest
        if loans:
            Loan.objects.bulk_update(loans, ["memo_interest_minor", "memo_carry", "closed_through"], batch_size=1000)
        lines: list[Line] = []
        for (branch, currency), amount in sorted(per_branch.items()):
            lines += [Line(accounts.WRITTEN_OFF_RECORD, branch, amount, currency),
                      Line(accounts.WRITTEN_OFF_RECORD_CONTRA, branch, -amount, currency)]
        accounting.post_entry(day, "written_off_interest", lines, batch_ref=f"close:{day.isoformat()}:written-off",
                              memo=f"interest on written-off loans {day}")
    out: dict[str, Any] = {"written_off_loans": len(loans), "memo_interest_minor": total}
    return out
