"""The chart of accounts the loan book posts to, and the rule every journal entry obeys.

Codes follow the shape of the Chinese bank chart (1xxx assets, 2xxx liabilities, 6xxx profit and loss) so a
finance team can map them to their own general ledger one to one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from creditplan.core.errors import ValidationError

CASH = "1001"  # settlement / clearing: where repayments arrive and disbursements leave
LOAN_PRINCIPAL = "1301"  # 贷款本金
ALLOWANCE = "1304"  # 贷款损失准备 (loss allowance, contra-asset: credit-normal)
ACCRUED_INTEREST = "1321"  # 应收利息-应计 (accrued, not yet due)
INTEREST_DUE = "1322"  # 应收利息-到期 (due, unpaid)
PENALTY_RECEIVABLE = "1323"  # 应收罚息
FEES_RECEIVABLE = "1324"  # 应收费用
CUSTOMER_CREDIT = "2241"  # 客户溢缴款 (overpayments held for customers)
INTEREST_INCOME = "6011"  # 利息收入
PENALTY_INCOME = "6012"  # 罚息收入
FEE_INCOME = "6021"  # 手续费收入
WRITE_OFF_LOSS = "6701"  # 信用减值损失 (write-offs)
RECOVERY_INCOME = "6702"  # 已核销贷款收回
IMPAIRMENT = "6703"  # 信用减值损失-贷款损失准备 (provision charged; write-backs credit it)
# Off-balance-sheet memo accounts (表外): each posts against its contra, so the pair always sums to zero.
OFF_BALANCE_INTEREST = "7001"  # 表外应收未收利息: interest and penalty owed by non-accrual loans
OFF_BALANCE_INTEREST_CONTRA = "7002"
WRITTEN_OFF_RECORD = "7101"  # 已核销贷款本息 (账销案存): what written-off loans still owe
WRITTEN_OFF_RECORD_CONTRA = "7102"

CHART: tuple[tuple[str, str, str, str], ...] = (
    (CASH, "Cash and settlement", "清算资金往来", "asset"),
    (LOAN_PRINCIPAL, "Loans – principal", "贷款本金", "asset"),
    (ALLOWANCE, "Loan loss allowance (contra-asset)", "贷款损失准备", "asset"),
    (ACCRUED_INTEREST, "Accrued interest receivable", "应收利息-应计", "asset"),
    (INTEREST_DUE, "Interest receivable – due", "应收利息-到期", "asset"),
    (PENALTY_RECEIVABLE, "Penalty interest receivable", "应收罚息", "asset"),
    (FEES_RECEIVABLE, "Fees receivable", "应收费用", "asset"),
    (CUSTOMER_CREDIT, "Customer credit balances", "客户溢缴款", "liability"),
    (INTEREST_INCOME, "Interest income", "利息收入", "income"),
    (PENALTY_INCOME, "Penalty interest income", "罚息收入", "income"),
    (FEE_INCOME, "Fee income", "手续费收入", "income"),
    (WRITE_OFF_LOSS, "Credit impairment – write-offs", "信用减值损失-核销", "expense"),
    (RECOVERY_INCOME, "Recoveries of written-off loans", "已核销贷款收回", "income"),
    (IMPAIRMENT, "Credit impairment – loan loss provision", "信用减值损失-贷款损失准备", "expense"),
    (OFF_BALANCE_INTEREST, "Off-balance interest receivable (non-accrual)", "表外应收未收利息", "memo"),
    (OFF_BALANCE_INTEREST_CONTRA, "Off-balance interest receivable – contra", "表外应收未收利息对转", "memo"),
    (WRITTEN_OFF_RECORD, "Written-off loans kept on record (principal and interest)", "已核销贷款本息（账销案存）",
     "memo"),
    (WRITTEN_OFF_RECORD_CONTRA, "Written-off loans kept on record – contra", "已核销贷款本息对转", "memo"),
)
ACCOUNT_CODES = frozenset(code for code, *_ in CHART)


# What a receivable of interest or penalty becomes when its loan is non-accrual (cash basis: income when received).
_INCOME_OF = {ACCRUED_INTEREST: INTEREST_INCOME, INTEREST_DUE: INTEREST_INCOME, PENALTY_RECEIVABLE: PENALTY_INCOME}
OFF_WHEN_NON_ACCRUAL = frozenset(_INCOME_OF)
"""The receivables a non-accrual loan keeps in the memo account 7001 instead."""


def off_balance(amounts: dict[str, int]) -> tuple[dict[str, int], int, int]:
    """The postings of a movement (account → amount, > 0 debit) on a NON-ACCRUAL loan, whose interest and penalty
    owed are off the balance sheet (memo 7001): what the accrual form posts to an interest or penalty receivable
    goes to income instead (money received on a non-accrual loan is income when received), and the memo moves
    by as much. Returns (the amounts, interest income recognised, penalty income recognised)."""
    out: dict[str, int] = {}
    memo = interest = penalty = 0
    for account, amount in amounts.items():
        income = _INCOME_OF.get(account)
        if income is None:
            out[account] = out.get(account, 0) + amount
            continue
        out[income] = out.get(income, 0) + amount
        memo += amount
        if income == INTEREST_INCOME:
            interest -= amount
        else:
            penalty -= amount
    if memo:
        out[OFF_BALANCE_INTEREST] = out.get(OFF_BALANCE_INTEREST, 0) + memo
        out[OFF_BALANCE_INTEREST_CONTRA] = out.get(OFF_BALANCE_INTEREST_CONTRA, 0) - memo
    return out, interest, penalty


@dataclass(frozen=True)
class Line:
    """One posting: > 0 debits the account, < 0 credits it."""

    account: str
    branch: str
    amount_minor: int
    currency: str = "CNY"


def check_balanced(lines: Iterable[Line]) -> list[Line]:
    """Refuse an entry that does not sum to zero per currency or names an account not in the chart; drop
    zero lines (a posting of nothing is noise in a statement)."""
    kept: list[Line] = []
    per_currency: dict[str, int] = {}
    for line in lines:
        if line.account not in ACCOUNT_CODES:
            raise ValidationError(f"account {line.account} is not in the chart of accounts", code="unknown_account")
        if isinstance(line.amount_minor, bool) or not isinstance(line.amount_minor, int):
            raise ValidationError("posting amounts are integer minor units", code="invalid_amount")
        per_currency[line.currency] = per_currency.get(line.currency, 0) + line.amount_minor
        if line.amount_minor:
            kept.append(line)
    unbalanced = {c: s for c, s in per_currency.items() if s}
    if unbalanced:
        raise ValidationError(f"journal entry does not balance: {unbalanced}", code="unbalanced_entry")
    return kept
