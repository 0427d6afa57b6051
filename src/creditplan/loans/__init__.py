"""Loan servicing: products, loans and their schedules, repayments, the daily close and the general ledger."""
