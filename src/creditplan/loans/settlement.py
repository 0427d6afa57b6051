"""Repayment by debit of the borrower's settlement account (代扣, issue 18): the debit mandate of a loan, and the
settlement gateway the close asks "debit up to X from account A" (it answers what it debited).

`SettlementGateway` is the interface a core-banking adapter implements; the built-in `BookGateway` answers from
the `SettlementAccount` table (the available balance: it debits up to it, or nothing when partial debits are not
allowed and the balance is short), idempotently by reference (`SettlementDebit`). `set_gateway` installs another
(an integration at start-up, a test). The close's step is `loans.cob.debit`.

Account numbers are kept in full (the gateway needs them) and shown masked (last 4: `mask_account`) on pages, in
API answers and in ledger events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans.loan_state import loan_for_update
from creditplan.loans.models import DebitMandate, LoanStatus, SettlementAccount, SettlementDebit
from creditplan.org import services as org
from creditplan.org.domain import Perm

__all__ = ["BookGateway", "MandateView", "SettlementGateway", "clean_account_no", "fund_account", "gateway",
           "mandate_of", "mask_account", "revoke_mandate", "set_gateway", "set_mandate"]


class SettlementGateway(Protocol):
    """What the close needs of core banking: debit up to `amount_minor` from `account_no` (everything or nothing
    when `partial` is False), idempotent by `reference` (the same reference again answers the same debit).
    Returns the amount debited (0 ≤ debited ≤ amount_minor)."""

    def debit(self, account_no: str, amount_minor: int, *, reference: str, partial: bool,
              currency: str = "CNY") -> int: ...


class BookGateway:
    """The built-in gateway: balances in `SettlementAccount`, debits recorded in `SettlementDebit` — in the
    caller's transaction (the close's chunk), so a killed close leaves no debit without its payment."""

    def debit(self, account_no: str, amount_minor: int, *, reference: str, partial: bool,
              currency: str = "CNY") -> int:
        done = SettlementDebit.objects.filter(reference=reference).values_list("debited_minor", flat=True).first()
        if done is not None:
            return int(done)
        acct = SettlementAccount.objects.select_for_update().filter(account_no=account_no,
                                                                     currency=currency).first()
        available = acct.balance_minor if acct is not None else 0
        debited = min(available, amount_minor) if partial else (amount_minor if available >= amount_minor else 0)
        if debited and acct is not None:
            acct.balance_minor -= debited
            acct.save(update_fields=["balance_minor", "updated_at"])
        SettlementDebit.objects.create(reference=reference, account_no=account_no, asked_minor=amount_minor,
                                       debited_minor=debited)
        return debited


_gateway: list[SettlementGateway] = [BookGateway()]


def gateway() -> SettlementGateway:
    return _gateway[0]


def set_gateway(g: SettlementGateway) -> SettlementGateway:
    """Install a gateway (a core-banking adapter); returns the one it replaces."""
    old, _gateway[0] = _gateway[0], g
    return old


def mask_account(account_no: str) -> str:
    """Last 4 characters only, as every mask in creditplan (docs/architecture.md, Data protection)."""
    return "*" * max(0, len(account_no) - 4) + account_no[-4:]


def clean_account_no(value: Any) -> str:
    no = "".join(str(value or "").split())
    if not no.isdigit() or not 8 <= len(no) <= 34:
        raise ValidationError("the settlement account number is 8 to 34 digits", field="account_no",
                              code="invalid_account_no")
    return no


@dataclass(frozen=True)
class MandateView:
    loan_ref: str
    account: str  # masked
    active: bool
    retries_left: int
    cycle_date: Any


def _view(loan_ref: str, m: DebitMandate) -> MandateView:
    return MandateView(loan_ref, mask_account(m.account_no), m.active, m.retries_left, m.cycle_date)


def set_mandate(actor: Actor, *, loan_ref: Any, account_no: Any) -> MandateView:
    """The borrower's debit mandate for a loan (a new account replaces the old one)."""
    org.require(actor, Perm.LOAN_REPAY)
    no = clean_account_no(account_no)
    with transaction.atomic():
        loan = loan_for_update(str(loan_ref or "").strip())
        org.require_in_scope(actor, loan.branch, message=f"no loan {loan.ref}", code="unknown_loan",
                             field="loan_ref")
        if loan.status != LoanStatus.ACTIVE:
            raise ValidationError(f"loan {loan.ref} is {loan.status}", field="loan_ref", code="loan_not_active")
        m, _ = DebitMandate.objects.update_or_create(loan=loan, defaults={"account_no": no, "active": True,
                                                                          "created_by": actor})
        ledger.append(actor, "loan.debit_mandate_set", "loan", loan.ref, {"account": mask_account(no)})
        return _view(loan.ref, m)


def revoke_mandate(actor: Actor, *, loan_ref: Any) -> MandateView:
    org.require(actor, Perm.LOAN_REPAY)
    with transaction.atomic():
        loan = loan_for_update(str(loan_ref or "").strip())
        org.require_in_scope(actor, loan.branch, message=f"no loan {loan.ref}", code="unknown_loan",
                             field="loan_ref")
        m = DebitMandate.objects.select_for_update().filter(loan=loan).first()
        if m is None:
            raise NotFound(f"loan {loan.ref} has no debit mandate", field="loan_ref", code="no_mandate")
        m.active, m.retries_left = False, 0
        m.save(update_fields=["active", "retries_left"])
        ledger.append(actor, "loan.debit_mandate_revoked", "loan", loan.ref, {"account": mask_account(m.account_no)})
        return _view(loan.ref, m)


def mandate_of(loan: Any) -> MandateView | None:
    m = DebitMandate.objects.filter(loan_id=loan.pk).first()
    return _view(loan.ref, m) if m is not None else None


def fund_account(account_no: Any, amount_minor: int, currency: str = "CNY") -> int:
    """Trusted code (a core-banking balance feed, the demo, tests): set the built-in gateway's available balance of
    an account. Returns the balance."""
    no = clean_account_no(account_no)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 0:
        raise ValidationError("a balance is a non-negative number of minor units", field="amount")
    SettlementAccount.objects.update_or_create(account_no=no, currency=currency,
                                               defaults={"balance_minor": amount_minor})
    return amount_minor
