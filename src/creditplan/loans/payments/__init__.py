"""Repayments: posting a payment through the waterfall, idempotently; backdating and reversal by replay; the
payoff quote and prepayments; and bank files of a hundred thousand payments.

One allocation function (`domain/allocation.apply_payment`) serves every path — a teller's payment, an API
call, each line of a bank file, and each payment a replay re-applies — so a payment means the same thing however
it arrives.

Where a payment goes (the waterfall, `domain/waterfall.py`): loan-level penalty and fees, then interest and
principal of the installments that have fallen due by the value date (the one falling due on it included,
before that night's close marks it due), oldest first, in the product's order. A regular payment pays only what is
due; the rest is kept as the customer's credit (product.overpayment = "credit", GL 2241) or
refunded ("refund": recorded on the payment, never held, no GL movement). A loan with nothing left to pay and
no installment left to fall due is closed, and any credit it still holds is refunded.

The state a payment found (`Payment.state_before`) is stored with it so that a reversal, or a payment dated
before the last close (backdated), can put the loan back and replay what followed: the later payments and the
daily close in between (`cob.advance_loan`), then post ONE adjusting journal entry with the difference.
The stored state is compact (`scope: "due"`): the loan's columns, the installments then due, and the highest
installment id — every other row is derivable (see `state.restore`), which keeps a bank file's 100,000
snapshots small whatever the length of the schedules.

The modules: `checks.py` (what refuses a payment before anything is written), `state.py` (the stored state and
its restore), `records.py` (idempotency, the payment row, the result, the quota), `posting.py` (one payment),
`replay.py` (backdating and reversal), `prepayment.py` (the payoff quote and prepayments), `bankfile.py` (bank
files); the allocation is `domain/allocation.py`, the raw statements `loans/sql/payments.py`. This package is
the public door.
"""

from __future__ import annotations

from creditplan.loans.payments.bankfile import BankFileReport, Rejected, import_bank_file
from creditplan.loans.payments.checks import CHANNELS, MAX_AMOUNT_MINOR, STAFF_CHANNELS
from creditplan.loans.payments.posting import post_payment
from creditplan.loans.payments.prepayment import PREPAY_MODES, PayoffQuote, payoff_quote, prepay
from creditplan.loans.payments.records import PaymentResult
from creditplan.loans.payments.replay import reverse_payment

__all__ = ["CHANNELS", "MAX_AMOUNT_MINOR", "PREPAY_MODES", "STAFF_CHANNELS", "BankFileReport", "PaymentResult",
           "PayoffQuote", "Rejected", "import_bank_file", "payoff_quote", "post_payment", "prepay", "reverse_payment"]
