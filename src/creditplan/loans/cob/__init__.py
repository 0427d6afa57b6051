"""The daily close (close of business, 日终批处理): every active loan, one business date at a time.

What the close of date D does to each active loan not yet closed through D (in this order, per loan):

1. accrues the day's interest (`domain/kernel.py`: exact, no stored remainder);
2. if an installment falls due on D: it becomes `due` (or `paid` if already covered), its principal, interest
   and fee move to the overdue balances (Dr 1322 / Cr 1321 for the interest, Dr 1324 / Cr 6021 for the fee);
3. auto-debit (clause `auto_debit`): a credit balance pays what is due, by the product's waterfall;
4. the loan rolls to its next installment, or matures (clause `maturity`) when none is left;
5. a floating loan whose reset date has come takes LPR + spread within floor and cap (clause `rate_reset`)
   and its unpaid schedule is rebuilt under a new version;
6. DPD; penalty interest beyond the grace days (clause `penalty_interest`, Dr 1323 / Cr 6012); the late fee
   on the fee check date (clause `late_fee`); bucket; five-category class with the restructuring floor and
   the 10 % borrower rule; the limit freeze (clause `limit_freeze`);
7. a loan with nothing left to pay and no installment left closes (any credit left is refunded).

How it is made fast: loans are read and written as columns (raw SQL, no model instances), the arithmetic is
numpy over a whole chunk, and each chunk's postings are aggregated per branch into a few journal entries.

How it is made restartable: loans are processed in chunks of whole customers (the borrower rule needs all of
a customer's loans together), ordered by customer. One chunk = one transaction: the loan columns (with
`closed_through = D`), its installments, activities, journal entries and its `CloseChunk` row commit
together or not at all. A killed run leaves every loan either closed through D or untouched; running the
same date again picks up exactly the loans with `closed_through < D`. Once every loan is done the run is
marked `done` with its report and the ledger event `loan.close_completed`; a second run of a done date
returns the stored report and changes nothing.

`advance_loan` applies the very same steps to one loan, day by day (a backdated payment or a reversal
replays the loan from the payment's value date).

The modules: `run.py` (the run and `advance_loan`), `day.py` (one day over a set of loans), `steps.py` (the
steps around the kernel), `context.py` (what a run loads once), `report.py` (the report), `points.py` (phase
timing and fault injection), `launch.py` (the close started from its page, and its progress), `hooks.py` (what the apps above loans run before and after a date's close);
the statements are in `loans/sql/close.py`. This package is the public door.
"""

from __future__ import annotations

from creditplan.loans.cob.hooks import register_after_close, register_before_close
from creditplan.loans.cob.launch import CloseProgress, close_progress, next_close_date, start_close
from creditplan.loans.cob.points import FAULT_ENV, PHASE_SECONDS
from creditplan.loans.cob.report import CloseReport
from creditplan.loans.cob.run import advance_loan, run_close
from creditplan.loans.cob.steps import next_reset_after
from creditplan.loans.sql.close import first_open_date

__all__ = ["FAULT_ENV", "PHASE_SECONDS", "CloseProgress", "CloseReport", "advance_loan", "close_progress",
           "first_open_date", "next_close_date", "next_reset_after", "register_after_close", "register_before_close",
           "run_close", "start_close"]
