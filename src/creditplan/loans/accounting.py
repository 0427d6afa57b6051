"""Double-entry bookkeeping for the loan book: post balanced entries, read the trial balance, and reconcile
the general ledger with the loans it summarises (the subledger).

Why the reconciliation matters as much as the balance: a trial balance that balances proves each entry
balanced; only comparing GL account balances with Σ over loans proves that the entries say what happened to
the loans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum

from creditplan.core.errors import Conflict, ValidationError
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line, check_balanced
from creditplan.loans.models import Account, JournalEntry, Loan, LoanStatus, Posting


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("journal entries are posted inside the transaction of the change they record")


def post_entry(entry_date: dt.date, kind: str, lines: Iterable[Line], *, loan: Loan | None = None,
               batch_ref: str = "", memo: str = "") -> JournalEntry | None:
    """Post one balanced entry; None when every line is zero (nothing happened, nothing to record)."""
    _require_transaction()
    kept = check_balanced(lines)
    if not kept:
        return None
    entry = JournalEntry.objects.create(entry_date=entry_date, kind=kind, loan=loan, batch_ref=batch_ref,
                                        memo=memo[:200])
    Posting.objects.bulk_create([Posting(entry=entry, account=ln.account, branch_code=ln.branch,
                                         currency=ln.currency, amount_minor=ln.amount_minor) for ln in kept])
    return entry


def post_entries(entry_date: dt.date, entries: Sequence[tuple[str, Sequence[Line]]], *, batch_ref: str = ""
                 ) -> int:
    """Bulk variant for the close: several (kind, lines) entries in two INSERTs. Returns entries written."""
    _require_transaction()
    checked = [(kind, check_balanced(lines)) for kind, lines in entries]
    checked = [(kind, lines) for kind, lines in checked if lines]
    if not checked:
        return 0
    made = JournalEntry.objects.bulk_create([JournalEntry(entry_date=entry_date, kind=kind, batch_ref=batch_ref)
                                             for kind, _ in checked])
    Posting.objects.bulk_create([Posting(entry=e, account=ln.account, branch_code=ln.branch, currency=ln.currency,
                                         amount_minor=ln.amount_minor)
                                 for e, (_, lines) in zip(made, checked, strict=True) for ln in lines])
    return len(made)


@dataclass(frozen=True)
class TrialBalanceRow:
    code: str
    name: str
    name_zh: str
    kind: str
    debit_minor: int
    credit_minor: int

    @property
    def balance_minor(self) -> int:
        """Debit-positive balance."""
        return self.debit_minor - self.credit_minor


def trial_balance(*, as_of: dt.date | None = None, branch_prefix: str = "",
                  branch_codes: Sequence[str] | None = None) -> list[TrialBalanceRow]:
    """Debits and credits per account up to `as_of` (inclusive), optionally for some branches only."""
    qs = Posting.objects.all()
    if as_of is not None:
        qs = qs.filter(entry__entry_date__lte=as_of)
    if branch_codes is not None:
        qs = qs.filter(branch_code__in=list(branch_codes))
    elif branch_prefix:
        qs = qs.filter(branch_code__startswith=branch_prefix)
    sums = {r["account"]: r for r in qs.values("account").annotate(
        dr=Sum("amount_minor", filter=Q(amount_minor__gt=0)), cr=Sum("amount_minor", filter=Q(amount_minor__lt=0)))}
    rows = []
    for a in Account.objects.order_by("code"):
        s = sums.get(a.code, {})
        rows.append(TrialBalanceRow(a.code, a.name, a.name_zh, a.kind, int(s.get("dr") or 0),
                                    -int(s.get("cr") or 0)))
    return rows


def account_balances() -> dict[str, int]:
    """Debit-positive balance of every account, all branches, all dates."""
    return {r["account"]: int(r["s"] or 0) for r in Posting.objects.values("account").annotate(s=Sum("amount_minor"))}


@dataclass(frozen=True)
class Reconciliation:
    account: str
    gl_minor: int
    loans_minor: int

    @property
    def difference_minor(self) -> int:
        return self.gl_minor - self.loans_minor


def reconcile() -> list[Reconciliation]:
    """GL balance of each loan-book account against the sum over loans of the field it summarises."""
    gl = account_balances()
    active = Loan.objects.filter(status=LoanStatus.ACTIVE)
    s = active.aggregate(p=Sum("principal_outstanding_minor"), f=Sum("fees_minor"),
                         a=Sum("accrued_interest_minor", filter=Q(non_accrual=False)),
                         i=Sum("overdue_interest_minor", filter=Q(non_accrual=False)),
                         pen=Sum("penalty_minor", filter=Q(non_accrual=False)),
                         off_a=Sum("accrued_interest_minor", filter=Q(non_accrual=True)),
                         off_i=Sum("overdue_interest_minor", filter=Q(non_accrual=True)),
                         off_pen=Sum("penalty_minor", filter=Q(non_accrual=True)))
    credit = Loan.objects.aggregate(c=Sum("credit_minor"))["c"] or 0
    w = Loan.objects.filter(status=LoanStatus.WRITTEN_OFF).aggregate(
        w=Sum("written_off_minor"), m=Sum("memo_interest_minor"), r=Sum("recovered_minor"))
    pairs = [
        (accounts.LOAN_PRINCIPAL, s["p"]), (accounts.ACCRUED_INTEREST, s["a"]), (accounts.INTEREST_DUE, s["i"]),
        (accounts.PENALTY_RECEIVABLE, s["pen"]), (accounts.FEES_RECEIVABLE, s["f"]),
        (accounts.CUSTOMER_CREDIT, -credit),  # a liability: credit-normal
        # off the balance sheet: what non-accrual loans owe in interest and penalty (表外应收利息) …
        (accounts.OFF_BALANCE_INTEREST, sum(int(s[k] or 0) for k in ("off_a", "off_i", "off_pen"))),
        # … and what written-off loans still owe (账销案存), interest after the write-off included
        (accounts.WRITTEN_OFF_RECORD, int(w["w"] or 0) + int(w["m"] or 0) - int(w["r"] or 0)),
    ]
    return [Reconciliation(code, gl.get(code, 0), int(v or 0)) for code, v in pairs]


PROVISION_KINDS = ("provision", "write_back")


def allowance_balances(as_of: dt.date) -> dict[tuple[str, str], int]:
    """The loss allowance (1304, credit-normal: shown positive) of each (branch, currency) after every entry dated on
    or before `as_of`."""
    rows = (Posting.objects.filter(account=accounts.ALLOWANCE, entry__entry_date__lte=as_of)
            .values("branch_code", "currency").annotate(s=Sum("amount_minor")))
    return {(r["branch_code"], r["currency"]): -int(r["s"] or 0) for r in rows if r["s"]}


def post_provision(entry_date: dt.date, allowance: Mapping[tuple[str, str], int], *, batch_ref: str
                   ) -> list[dict[str, Any]]:
    """Bring the loss allowance of each (branch, currency) to `allowance` (fen, ≥ 0: the loan-level ECL summed) as
    of `entry_date`: an increase is charged — Dr 6703 credit impairment / Cr 1304 allowance (entry kind
    "provision") —, a decrease written back — Dr 1304 / Cr 6703 ("write_back"); a branch holding an allowance but
    absent from `allowance` is written back to zero. One entry per kind, a posting pair per branch; nothing when
    every allowance already stands at its figure (a run repeated). Refused when a provision dated after
    `entry_date` exists: the later one was computed on this balance. Returns what was posted:
    [{"entry", "kind", "branch", "currency", "amount_minor"}]."""
    _require_transaction()
    later = JournalEntry.objects.filter(kind__in=PROVISION_KINDS, entry_date__gt=entry_date).order_by("-entry_date")
    if later.exists():
        raise Conflict(f"a provision dated {later[0].entry_date} is posted already: the allowance of {entry_date} "
                       "can no longer be changed", code="later_provision_posted", field="date")
    for key, amount in allowance.items():
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValidationError(f"the allowance of {key[0]} must be a whole number of fen, 0 or more",
                                  code="invalid_amount", field="allowance")
    current = allowance_balances(entry_date)
    moves: dict[str, list[tuple[str, str, int]]] = {"provision": [], "write_back": []}
    for branch, currency in sorted(set(current) | set(allowance)):
        delta = int(allowance.get((branch, currency), 0)) - current.get((branch, currency), 0)
        if delta:
            moves["provision" if delta > 0 else "write_back"].append((branch, currency, delta))
    posted: list[dict[str, Any]] = []
    for kind, items in moves.items():
        if not items:
            continue
        lines = [ln for branch, currency, delta in items for ln in (
            Line(accounts.IMPAIRMENT, branch, delta, currency), Line(accounts.ALLOWANCE, branch, -delta, currency))]
        entry = post_entry(entry_date, kind, lines, batch_ref=batch_ref,
                           memo=f"loss allowance {entry_date} ({'charge' if kind == 'provision' else 'write-back'})")
        posted += [{"entry": entry.pk if entry else None, "kind": kind, "branch": branch, "currency": currency,
                    "amount_minor": abs(delta)} for branch, currency, delta in items]
    return posted


def entries_for_loan(loan_id: int) -> list[dict[str, Any]]:
    """The loan's own journal entries (disbursement, payments, write-off…) with their postings, oldest first."""
    out = []
    for e in JournalEntry.objects.filter(loan_id=loan_id).prefetch_related("postings").order_by("entry_date", "id"):
        out.append({"date": e.entry_date, "kind": e.kind, "memo": e.memo,
                    "postings": [(p.account, p.amount_minor) for p in e.postings.all()]})
    return out
