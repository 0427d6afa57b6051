"""The statement of account of one loan (贷款对账单): what happened to it, line by line, with opening and
closing balances of each component, and the schedule now in force — as page data and as a PDF.

Components are the loan's receivables and the customer's credit, exactly the balances the general ledger
carries for it: principal (1301), interest due (1322), accrued interest not yet due (1321), penalty interest
(1323), fees (1324) and credit held for the customer (2241, owed *to* the customer).

Where the lines come from, and why every closing balance is exact
------------------------------------------------------------------
* The loan's own journal entries (disbursement, repayments, capitalisation, write-off, recovery, adjustments,
  reversals): each posting moves its component exactly. (When the close ran for this loan alone,
  `cob.advance_loan`, it booked its entries per loan; they say what its activities and the checkpoints below
  say, so they are not listed a second time.)
* Payments, with their allocation, carry the journal entry booked for them (matched by reference).
* The close's per-loan activities: an installment falling due (its interest moves from accrued to due, its fee
  is charged), a late fee, an auto-debit of the credit, the refund at closure. The nightly close books its
  journal entries per branch, not per loan; these activities are its per-loan record.
* What no per-loan record itemises is the daily accrual of interest and of penalty interest (a million loans
  do not make a million entries a night). It is measured at *checkpoints* where a balance is known: every
  installment due date (the accrued interest then equals the installment's interest), the state stored with
  each payment, restructuring and write-off, and the loan as it is now. At a checkpoint the difference between
  the known balance and the running balance of the lines before it is one line: "interest accrued" or "penalty
  interest" over the days since the previous checkpoint. Any other difference there (none in normal
  operation) is shown as an adjustment, never hidden.

So the lines always add up: for each component, opening + Σ movements = closing, and over the whole life the
closing balances are the loan's balances now (`reconciled`). A window that ends between checkpoints shows
accrued interest and penalty as of the last checkpoint inside it.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from creditplan.core.access import Actor
from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor
from creditplan.core.pdf import PdfDocument, cjk_font, latin1
from creditplan.loans import services as loans
from creditplan.loans.domain import accounts
from creditplan.loans.models import JournalEntry, Loan, LoanActivity, Payment

COMPONENTS: tuple[str, ...] = ("principal", "interest_due", "accrued_interest", "penalty", "fees", "credit")
COMPONENT_LABELS: dict[str, tuple[str, str]] = {
    "principal": ("Principal", "本金"), "interest_due": ("Interest due", "应收利息"),
    "accrued_interest": ("Accrued interest", "应计利息"), "penalty": ("Penalty interest", "罚息"),
    "fees": ("Fees", "费用"), "credit": ("Credit held", "溢缴款"),
}
_ACCOUNT_COMPONENT: dict[str, tuple[str, int]] = {
    accounts.LOAN_PRINCIPAL: ("principal", 1), accounts.INTEREST_DUE: ("interest_due", 1),
    accounts.ACCRUED_INTEREST: ("accrued_interest", 1), accounts.PENALTY_RECEIVABLE: ("penalty", 1),
    accounts.FEES_RECEIVABLE: ("fees", 1), accounts.CUSTOMER_CREDIT: ("credit", -1),
}
KIND_LABELS: dict[str, tuple[str, str]] = {
    "disbursement": ("Disbursement", "放款"), "repayment": ("Repayment", "还款"),
    "recovery": ("Recovery", "核销后收回"), "installment_due": ("Installment due", "到期应还"),
    "late_fee": ("Late fee", "滞纳金"), "auto_debit": ("Auto-debit of credit", "溢缴款自动扣款"),
    "debit_attempt": ("Settlement account debit", "结算账户代扣"),  # issue 18
    "refund": ("Credit refunded", "退还溢缴款"), "accrual": ("Interest accrued", "计提利息"),
    "penalty": ("Penalty interest", "罚息"), "adjustment": ("Adjustment", "调整"),
    "restructuring": ("Restructuring", "贷款重组"), "capitalisation": ("Arrears capitalised", "欠款资本化"),
    "write_off": ("Write-off", "核销"), "reversal": ("Reversal", "冲正"), "rate_reset": ("Rate reset", "利率调整"),
    "class_changed": ("Classification", "风险分类调整"), "frozen": ("Credit limit frozen", "额度冻结"),
    "matured": ("Matured", "到期"), "closed": ("Loan closed", "结清"), "penalty_started": ("Penalty starts", "起息罚息"),
    "entry": ("Journal entry", "会计分录"),
}
_CLOSE_KINDS = frozenset({"accrual", "due", "fee", "auto_debit", "penalty", "refund",
                          # non-accrual: the same debt, booked off the balance sheet (the statement shows the debt)
                          "off_balance", "non_accrual", "accrual_resumed"})
# Entries of a loan that change no balance the borrower owes: the allowance topped up for its write-off.
_BOOK_ONLY_KINDS = frozenset({"provision", "write_back", "write_off_provision"})
_INFO_ACTIVITIES = {"rate_reset", "rate_reset_skipped", "class_changed", "frozen", "matured", "penalty_started"}


@dataclass(frozen=True)
class StatementLine:
    date: dt.date
    kind: str
    description: str
    amount_minor: int  # the line's headline amount (money received, installment billed, fee charged…); ≥ 0
    changes: dict[str, int]  # component → movement (only the components that moved)
    balances: dict[str, int]  # every component after this line
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def owed_after_minor(self) -> int:
        return owed(self.balances)

    @property
    def label(self) -> tuple[str, str]:
        return KIND_LABELS.get(self.kind, (self.kind.replace("_", " ").capitalize(), ""))


@dataclass(frozen=True)
class ComponentTotals:
    component: str
    opening_minor: int
    increases_minor: int
    decreases_minor: int
    closing_minor: int

    @property
    def label(self) -> tuple[str, str]:
        return COMPONENT_LABELS[self.component]


@dataclass(frozen=True)
class ScheduleRow:
    seq: int
    version: int
    start_date: dt.date
    due_date: dt.date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    paid_minor: int
    status: str

    @property
    def payment_minor(self) -> int:
        return self.principal_minor + self.interest_minor + self.fee_minor


@dataclass(frozen=True)
class Statement:
    loan_ref: str
    customer_name: str
    branch: str
    product: str
    currency: str
    status: str
    principal_minor: int
    rate_ppm: int
    method: str
    term: int
    start_date: dt.date
    maturity_date: dt.date
    closed_through: dt.date
    date_from: dt.date
    date_to: dt.date
    generated_on: dt.date
    lines: tuple[StatementLine, ...]
    opening: dict[str, int]
    closing: dict[str, int]
    totals: tuple[ComponentTotals, ...]
    received_minor: int  # money received in the window (repayments and recoveries)
    schedule: tuple[ScheduleRow, ...]
    reconciled: bool | None  # closing == the loan's balances now, when the window reaches the end; else None
    written_off_minor: int = 0
    recovered_minor: int = 0
    compound_minor: int = 0  # of the penalty charged over the loan's life, 复利 on overdue interest (issue 18)
    penalty_charged_minor: int = 0  # all penalty charged over the loan's life (罚息 = this less compound_minor)

    @property
    def opening_owed_minor(self) -> int:
        return owed(self.opening)

    @property
    def closing_owed_minor(self) -> int:
        return owed(self.closing)


def owed(balances: dict[str, int]) -> int:
    """What the customer owes on these balances: every receivable less the credit held for them."""
    return sum(balances.get(c, 0) for c in COMPONENTS if c != "credit") - balances.get("credit", 0)


def balances_of(loan: Loan) -> dict[str, int]:
    return {"principal": loan.principal_outstanding_minor, "interest_due": loan.overdue_interest_minor,
            "accrued_interest": loan.accrued_interest_minor, "penalty": loan.penalty_minor,
            "fees": loan.fees_minor, "credit": loan.credit_minor}


def _state_balances(state: dict[str, Any]) -> dict[str, int] | None:
    """Balances from a stored state: a payment's `state_before["loan"]` (Loan column names) or a
    restructuring's / write-off's `state_before` (restructure.state_of names)."""
    if not state:
        return None
    if "principal_outstanding_minor" in state:
        return {"principal": int(state["principal_outstanding_minor"]),
                "interest_due": int(state["overdue_interest_minor"]),
                "accrued_interest": int(state["accrued_interest_minor"]), "penalty": int(state["penalty_minor"]),
                "fees": int(state["fees_minor"]), "credit": int(state["credit_minor"])}
    if "principal" in state:
        return {"principal": int(state["principal"]), "interest_due": int(state["overdue_interest"]),
                "accrued_interest": int(state["accrued_interest"]), "penalty": int(state["penalty"]),
                "fees": int(state["fees"]), "credit": int(state["credit"])}
    return None


# --- assembling the lines ----------------------------------------------------------------------------------

@dataclass
class _Item:
    """A line to be, or a checkpoint (`known` balances), at its place in the loan's history."""

    # (date, phase: 0 the business day / 1 the close / 2 after the close, when within it, 0 checkpoint / 1 line)
    key: tuple[dt.date, int, float, int]
    kind: str
    description: str = ""
    amount_minor: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    known: dict[str, int] | None = None
    known_as_of: dt.date | None = None


def _entry_changes(postings: Iterable[tuple[str, int]]) -> dict[str, int]:
    postings = list(postings)
    mapping = _ACCOUNT_COMPONENT
    if any(account == accounts.OFF_BALANCE_INTEREST for account, _ in postings):
        # a payment on a non-accrual loan: the interest and penalty it paid went straight to income
        mapping = {**mapping, accounts.INTEREST_INCOME: ("interest_due", 1), accounts.PENALTY_INCOME: ("penalty", 1)}
    out: dict[str, int] = {}
    for account, amount in postings:
        if account in mapping:
            comp, sign = mapping[account]
            out[comp] = out.get(comp, 0) + sign * amount
    return {k: v for k, v in out.items() if v}


def _entries(loan: Loan) -> list[dict[str, Any]]:
    """The loan's journal entries with their ids (accounting.entries_for_loan, plus the id to match on)."""
    out = []
    for e in JournalEntry.objects.filter(loan=loan).prefetch_related("postings").order_by("entry_date", "id"):
        out.append({"id": e.pk, "date": e.entry_date, "kind": e.kind, "memo": e.memo, "when": e.created_at.timestamp(),
                    "postings": [(p.account, p.amount_minor) for p in e.postings.all()]})
    return out


def _phase(day: dt.date, closed_through: Any) -> int:
    """Business-day operations come before the close of their date; one done after that close, after it."""
    if closed_through and dt.date.fromisoformat(str(closed_through)) >= day:
        return 2
    return 0


def _items(loan: Loan) -> list[_Item]:
    entries = _entries(loan)
    by_id = {e["id"]: e for e in entries}
    used: set[int] = set()
    items: list[_Item] = []
    # The close's own entries for this loan (cob.advance_loan books them per loan) say what its activities
    # and the checkpoints already say: the activities are itemised instead, the accruals measured.
    used.update(e["id"] for e in entries if e["memo"].startswith("close ") and e["kind"] in _CLOSE_KINDS)

    # payments (and recoveries), each with the entry booked for it
    for p in Payment.objects.filter(loan=loan).order_by("value_date", "id"):
        before = (p.state_before or {}).get("loan", {})
        phase = _phase(p.value_date, before.get("closed_through"))
        mine = [e for e in entries if e["id"] not in used and e["kind"] in ("repayment", "recovery")
                and p.reference in e["memo"].split()]
        changes: dict[str, int] = {}
        for e in mine[:1]:
            used.add(e["id"])
            changes = _entry_changes(e["postings"])
        key = (p.value_date, phase, p.posted_at.timestamp(), 1)
        known = _state_balances(before)
        if known is not None:
            # Only what accrues is measured here: a reversal or a backdated payment replays the loan and
            # rewrites the stored states of the payments after it, while the lines keep the history as booked
            # (the original entries and the one adjusting entry); the other components are itemised anyway.
            known = {c: known[c] for c in ("accrued_interest", "penalty")}
            as_of = before.get("closed_through")
            items.append(_Item((p.value_date, phase, key[2], 0), "checkpoint", known=known,
                               known_as_of=dt.date.fromisoformat(as_of) if as_of else None))
        kind = "recovery" if p.kind == "recovery" else "repayment"
        alloc = {k: int(v) for k, v in (p.allocation or {}).items() if isinstance(v, int) and v
                 and k not in ("cash",)}
        parts = ", ".join(f"{k} {format_minor(v)}" for k, v in alloc.items() if k != "recovery")
        text = f"{KIND_LABELS[kind][0]} {p.reference}" + (f" ({parts})" if parts else "")
        if p.kind not in ("regular", "recovery"):
            text += f" [{p.kind}]"
        if p.status != "posted":
            text += f" — {p.status}"
        items.append(_Item(key, kind, text, p.amount_minor, changes,
                           {"reference": p.reference, "allocation": dict(p.allocation or {}), "status": p.status,
                            "channel": p.channel}))

    # activities: the close's per-loan record, and restructurings / write-offs with their entry
    for order, a in enumerate(LoanActivity.objects.filter(loan=loan).order_by("business_date", "id")):
        d, detail = a.business_date, a.detail or {}
        when = a.created_at.timestamp()
        if a.kind in ("repayment", "prepayment", "payment_reversed", "recovery", "disbursed"):
            continue  # shown through the payment, its reversal entry, the disbursement entry
        if a.kind in ("restructured", "written_off"):
            phase = _phase(d, detail.get("closed_through"))
            known = _state_balances(detail.get("state_before") or {})
            if known is not None:
                as_of = detail.get("closed_through")
                items.append(_Item((d, phase, when, 0), "checkpoint", known=known,
                                   known_as_of=dt.date.fromisoformat(as_of) if as_of else None))
            entry = by_id.get(detail.get("entry"))
            changes = {}
            if entry is not None:
                used.add(entry["id"])
                changes = _entry_changes(entry["postings"])
            if a.kind == "written_off" and known is not None:  # all the borrower owed leaves the books (账销案存)
                changes = {c: -v for c, v in known.items() if v and c != "credit"}
            if a.kind == "restructured":
                text = _restructuring_text(detail)
                kind = "restructuring"
            else:
                text = f"Written off: {detail.get('reason', '')}"
                kind = "write_off"
            items.append(_Item((d, phase, when, 1), kind, text, a.amount_minor, changes, detail))
            continue
        if a.kind == "installment_due":
            i, f, p = (int(detail.get("interest_minor", 0)), int(detail.get("fee_minor", 0)),
                       int(detail.get("principal_minor", 0)))
            items.append(_Item((d, 1, 20, 0), "checkpoint", known={"accrued_interest": i}, known_as_of=d))
            changes = {"accrued_interest": -i, "interest_due": i, "fees": f}
            text = (f"Installment {detail.get('seq', '')} due: principal {format_minor(p)}, "
                    f"interest {format_minor(i)}"
                    + (f", fee {format_minor(f)}" if f else ""))
            items.append(_Item((d, 1, 30, 1), "installment_due", text, p + i + f,
                               {k: v for k, v in changes.items() if v}, detail))
        elif a.kind == "auto_debit":
            changes = {"credit": -a.amount_minor, "penalty": -int(detail.get("penalty", 0)),
                       "fees": -int(detail.get("fee", 0)), "interest_due": -int(detail.get("interest", 0)),
                       "principal": -int(detail.get("principal", 0))}
            items.append(_Item((d, 1, 40, 1), "auto_debit", "Credit applied to what fell due", a.amount_minor,
                               {k: v for k, v in changes.items() if v}, detail))
        elif a.kind == "late_fee":
            items.append(_Item((d, 1, 50, 1), "late_fee", f"Late fee ({detail.get('dpd', '')} days past due)",
                               a.amount_minor, {"fees": a.amount_minor}, detail))
        elif a.kind == "closed":
            refund = int(detail.get("refund_minor", a.amount_minor))
            items.append(_Item((d, 1, 70, 1), "closed", "Loan repaid and closed" + (
                f"; credit {format_minor(refund)} refunded" if refund else ""), refund,
                {"credit": -refund} if refund else {}, detail))
        else:
            close = a.kind in _INFO_ACTIVITIES
            items.append(_Item((d, 1 if close else 0, 80 + order / 1e6 if close else when, 1), a.kind,
                               _info_text(a.kind, detail), a.amount_minor, {}, detail))

    # every other entry of the loan: the disbursement, the close's own entries, adjustments, reversals
    for e in entries:
        if e["id"] in used or e["kind"] in _BOOK_ONLY_KINDS:
            continue
        changes = _entry_changes(e["postings"])
        if e["kind"] == "disbursement":
            cash = -sum(a for acc, a in e["postings"] if acc == accounts.CASH)
            fee = sum(-a for acc, a in e["postings"] if acc == accounts.FEE_INCOME)
            text = f"Loan disbursed: {format_minor(changes.get('principal', 0))}" + (
                f" (upfront fee {format_minor(fee)} deducted, paid out {format_minor(cash)})" if fee else "")
            items.append(_Item((e["date"], 0, -1.0, 1), "disbursement", text, changes.get("principal", 0), changes,
                               {"entry": e["id"]}))
            continue
        kind = e["kind"] if e["kind"] in KIND_LABELS else "entry"
        amount = sum(v for v in changes.values() if v > 0) or sum(-v for v in changes.values())
        text = e["memo"][:1].upper() + e["memo"][1:] if e["memo"] else KIND_LABELS[kind][0]
        items.append(_Item((e["date"], 0, e["when"], 1), kind, text, amount,
                           changes, {"entry": e["id"]}))
    return items


def _restructuring_text(detail: dict[str, Any]) -> str:
    kind = detail.get("restructuring", "")
    what = {"extend_term": f"term extended by {detail.get('extend_periods')} periods",
            "change_method": f"method changed to {detail.get('new_method')}",
            "capitalise": "arrears capitalised",
            "holiday": f"payment holiday of {detail.get('holiday_periods')} periods (interest only)"}.get(kind, kind)
    if kind != "capitalise" and detail.get("capitalise"):
        what += ", arrears capitalised"
    if kind == "extension":  # 展期 for a borrower not in difficulty (issue 18): no observation period
        return (f"Term extended by {detail.get('extend_periods')} periods (extension); schedule "
                f"v{detail.get('old_version')} → v{detail.get('new_version')}")
    return (f"Restructured: {what}; schedule v{detail.get('old_version')} → v{detail.get('new_version')}, "
            f"observed until {detail.get('observation_until')}")


def _info_text(kind: str, detail: dict[str, Any]) -> str:
    if kind == "rate_reset":
        return f"Rate reset from {detail.get('from_ppm', 0) / 10_000:g} % to {detail.get('to_ppm', 0) / 10_000:g} %"
    if kind == "class_changed":
        return f"Risk class {detail.get('from')} → {detail.get('to')} ({detail.get('dpd')} days past due)"
    if kind == "frozen":
        return f"Credit limit frozen ({detail.get('dpd')} days past due)"
    if kind == "penalty_started":
        return f"Penalty interest starts ({detail.get('dpd')} days past due)"
    if kind == "matured":
        return "Last installment fell due"
    if kind == "debit_attempt":  # the close's settlement account debit (issue 18); the money is its payment's line
        return (f"Settlement account {detail.get('account')}: asked {format_minor(int(detail.get('asked_minor', 0)))}, "
                f"debited {format_minor(int(detail.get('debited_minor', 0)))}, "
                f"left {format_minor(int(detail.get('left_minor', 0)))}")
    return KIND_LABELS.get(kind, (kind.replace("_", " ").capitalize(), ""))[0]


def _walk(loan: Loan, items: list[_Item]) -> list[StatementLine]:
    """Order the items, turn each checkpoint's unexplained difference into a line, keep running balances."""
    end = max([loan.closed_through, *(i.key[0] for i in items)])
    items.append(_Item((end, 9, 0.0, 0), "checkpoint", known=balances_of(loan), known_as_of=loan.closed_through))
    items.sort(key=lambda i: i.key)
    running = dict.fromkeys(COMPONENTS, 0)
    since = dict.fromkeys(COMPONENTS, loan.start_date)
    lines: list[StatementLine] = []

    def emit(item: _Item, kind: str, text: str, amount: int, changes: dict[str, int]) -> None:
        for c, v in changes.items():
            running[c] += v
        lines.append(StatementLine(item.key[0], kind, text, amount, dict(changes), dict(running), item.detail))

    for item in items:
        if item.known is None:
            emit(item, item.kind, item.description, item.amount_minor, item.changes)
            continue
        as_of = item.known_as_of or item.key[0]
        for comp, value in item.known.items():
            diff = value - running[comp]
            if diff:
                start = since[comp] + dt.timedelta(days=1)
                period = f"{start.isoformat()} – {as_of.isoformat()}" if start < as_of else as_of.isoformat()
                if comp == "accrued_interest":
                    kind, text = "accrual", f"Interest accrued {period}"
                elif comp == "penalty":
                    kind, text = "penalty", f"Penalty interest {period}"
                else:
                    kind, text = "adjustment", f"{COMPONENT_LABELS[comp][0]}: unitemised change {period}"
                emit(_Item(item.key, kind, detail={"as_of": as_of.isoformat()}), kind, text, abs(diff),
                     {comp: diff})
            since[comp] = max(since[comp], as_of)
    return lines


def statement(actor: Actor, loan_ref: str, *, date_from: Any = None, date_to: Any = None) -> Statement:
    """The statement of loan `loan_ref` for the dates from `date_from` to `date_to` (inclusive; default: the
    whole life of the loan). Staff see loans in their branch scope (loan.view); a customer their own."""
    loan = loans.get_loan(actor, str(loan_ref))
    lines = _walk(loan, _items(loan))
    first = loans.parse_date(date_from, "date_from") if date_from not in (None, "") else loan.start_date
    last_line = lines[-1].date if lines else loan.closed_through
    end = max(loan.closed_through, last_line)
    last = loans.parse_date(date_to, "date_to") if date_to not in (None, "") else end
    if last < first:
        raise ValidationError("date_to is before date_from", field="date_to", code="invalid_range")
    opening = dict.fromkeys(COMPONENTS, 0)
    for line in lines:
        if line.date < first:
            opening = dict(line.balances)
    window = tuple(line for line in lines if first <= line.date <= last)
    closing = dict(window[-1].balances) if window else dict(opening)
    totals = tuple(ComponentTotals(
        c, opening[c], sum(v for line in window for k, v in line.changes.items() if k == c and v > 0),
        -sum(v for line in window for k, v in line.changes.items() if k == c and v < 0), closing[c])
        for c in COMPONENTS)
    received = sum(line.amount_minor for line in window if line.kind in ("repayment", "recovery")
                   and line.detail.get("status", "posted") == "posted")
    schedule = tuple(ScheduleRow(r.seq, r.version, r.start_date, r.due_date, r.principal_minor, r.interest_minor,
                                 r.fee_minor, r.paid_principal_minor + r.paid_interest_minor + r.paid_fee_minor,
                                 r.status) for r in loans.current_schedule(loan))
    return Statement(
        loan_ref=loan.ref, customer_name=loan.customer.name, branch=loan.branch.code, product=loan.product.name,
        currency=loan.currency, status=loan.status, principal_minor=loan.principal_minor, rate_ppm=loan.rate_ppm,
        method=loan.method, term=loan.term, start_date=loan.start_date, maturity_date=loan.maturity_date,
        closed_through=loan.closed_through, date_from=first, date_to=last, generated_on=loans.business_date(),
        lines=window, opening=opening, closing=closing, totals=totals, received_minor=received, schedule=schedule,
        reconciled=(closing == balances_of(loan)) if last >= end else None,
        written_off_minor=loan.written_off_minor, recovered_minor=loan.recovered_minor,
        compound_minor=loan.compound_minor, penalty_charged_minor=loan.penalty_charged_minor)


# --- the PDF ------------------------------------------------------------------------------------------------

class _Pdf(PdfDocument):
    """The statement's PDF: A4 landscape (see core.pdf.PdfDocument for the fonts)."""

    def __init__(self, title: str) -> None:
        super().__init__(title, orientation="L", margin=12, font=cjk_font())

    def cell(self, w: float, text: str, *, size: float = 8, bold: bool = False, align: str = "L",
             border: Literal[0, 1] | str = 0, h: float = 5, ln: bool = False) -> None:
        text = self.font(text, size, bold)
        while w and len(text) > 1 and self.pdf.get_string_width(text) > w - 1:
            text = text[:-2] + "…" if self.cjk and not latin1(text) else text[:-2] + "."
            text = self.font(text, size, bold)
        self.pdf.cell(w, h, text, border=border, align=align)
        if ln:
            self.pdf.ln(h)

    def label(self, pair: tuple[str, str]) -> str:
        return f"{pair[0]} {pair[1]}" if self.cjk and pair[1] else pair[0]


def statement_pdf(st: Statement) -> bytes:
    """The statement as a PDF (A4 landscape): header, balances per component, the lines, the schedule."""
    doc = _Pdf(f"Statement of account {st.loan_ref}")
    pdf = doc.pdf
    doc.cell(0, doc.label(("Statement of account", "贷款对账单")), size=14, bold=True, h=8, ln=True)
    head = [
        (("Loan", "贷款编号"), st.loan_ref), (("Customer", "客户"), st.customer_name),
        (("Product", "产品"), st.product), (("Branch", "机构"), st.branch),
        (("Principal lent", "贷款金额"), f"{st.currency} {format_minor(st.principal_minor)}"),
        (("Rate", "年利率"), f"{st.rate_ppm / 10_000:g} %"), (("Method", "还款方式"), st.method),
        (("Term", "期数"), str(st.term)),
        (("Value date – maturity", "起止日期"), f"{st.start_date.isoformat()} – {st.maturity_date.isoformat()}"),
        (("Status", "状态"), st.status),
        (("Statement period", "对账期间"), f"{st.date_from.isoformat()} – {st.date_to.isoformat()}"),
        (("Closed through", "日终至"), st.closed_through.isoformat()),
    ]
    for i, (lab, value) in enumerate(head):
        doc.cell(42, doc.label(lab), size=8, bold=True)
        doc.cell(96, value, size=8, ln=i % 2 == 1)
    pdf.ln(3)

    doc.cell(0, doc.label(("Balances", "余额")), size=11, bold=True, h=7, ln=True)
    widths = (60, 40, 40, 40, 40)
    for w, t in zip(widths, ("", "Opening", "Increases", "Decreases", "Closing"), strict=True):
        doc.cell(w, t, bold=True, border="B", align="R" if t else "L")
    pdf.ln(5)
    for tot in st.totals:
        doc.cell(widths[0], doc.label(tot.label))
        for w, v in zip(widths[1:], (tot.opening_minor, tot.increases_minor, tot.decreases_minor, tot.closing_minor),
                        strict=True):
            doc.cell(w, format_minor(v), align="R")
        pdf.ln(5)
    doc.cell(widths[0], doc.label(("Total owed", "合计应还")), bold=True, border="T")
    doc.cell(widths[1], format_minor(st.opening_owed_minor), bold=True, align="R", border="T")
    doc.cell(widths[2] + widths[3], "", border="T")
    doc.cell(widths[4], format_minor(st.closing_owed_minor), bold=True, align="R", border="T", ln=True)
    doc.cell(0, f"Received in the period: {st.currency} {format_minor(st.received_minor)}" + (
        f"   Written off: {format_minor(st.written_off_minor)}   Recovered: {format_minor(st.recovered_minor)}"
        if st.written_off_minor else ""), size=8, ln=True)
    if st.penalty_charged_minor:  # 罚息 and 复利 apart (issue 18)
        doc.cell(0, doc.label(("Penalty charged to date: on overdue principal ", "累计罚息（逾期本金）")) + " "
                 + format_minor(max(st.penalty_charged_minor - st.compound_minor, 0)) + "   "
                 + doc.label(("compound interest on overdue interest", "复利（逾期利息）")) + " "
                 + format_minor(st.compound_minor), size=8, ln=True)
    pdf.ln(3)

    doc.cell(0, doc.label(("Transactions", "交易明细")), size=11, bold=True, h=7, ln=True)
    cols = (("Date", 20), ("Description", 83), ("Amount", 23), ("Principal", 23), ("Interest", 23),
            ("Penalty", 20), ("Fees", 20), ("Credit", 20), ("Owed after", 26))

    def line_header() -> None:
        for name, w in cols:
            doc.cell(w, name, bold=True, border="B", align="L" if name in ("Date", "Description") else "R")
        pdf.ln(5)

    line_header()
    for line in st.lines:
        if pdf.will_page_break(5):
            pdf.add_page()
            line_header()
        ch = line.changes
        interest = ch.get("interest_due", 0) + ch.get("accrued_interest", 0)
        cells = [line.date.isoformat(), line.description, format_minor(line.amount_minor) if line.amount_minor else "",
                 _delta(ch.get("principal")), _delta(interest or None), _delta(ch.get("penalty")),
                 _delta(ch.get("fees")), _delta(ch.get("credit")), format_minor(line.owed_after_minor)]
        for (name, w), text in zip(cols, cells, strict=True):
            doc.cell(w, text, size=7, align="L" if name in ("Date", "Description") else "R")
        pdf.ln(5)
    pdf.ln(3)

    if pdf.will_page_break(20):
        pdf.add_page()
    doc.cell(0, doc.label(("Schedule in force", "当前还款计划")), size=11, bold=True, h=7, ln=True)
    scols = (("#", 12), ("Due date", 26), ("Principal", 30), ("Interest", 30), ("Fee", 24), ("Installment", 32),
             ("Paid", 30), ("Status", 26))

    def schedule_header() -> None:
        for name, w in scols:
            doc.cell(w, name, bold=True, border="B", align="L" if name in ("#", "Due date", "Status") else "R")
        pdf.ln(5)

    schedule_header()
    for r in st.schedule:
        if pdf.will_page_break(5):
            pdf.add_page()
            schedule_header()
        cells = [str(r.seq), r.due_date.isoformat(), format_minor(r.principal_minor), format_minor(r.interest_minor),
                 format_minor(r.fee_minor), format_minor(r.payment_minor), format_minor(r.paid_minor), r.status]
        for (name, w), text in zip(scols, cells, strict=True):
            doc.cell(w, text, size=7, align="L" if name in ("#", "Due date", "Status") else "R")
        pdf.ln(5)
    pdf.ln(2)
    doc.cell(0, f"Generated on {st.generated_on.isoformat()}. Amounts in {st.currency}. "
                "Accrued interest and penalty are measured at due dates, payments and the latest close.",
             size=7, ln=True)
    return bytes(pdf.output())


def _delta(v: int | None) -> str:
    if not v:
        return ""
    return ("+" if v > 0 else "") + format_minor(v)


def pdf_text(data: bytes) -> bytes:
    """The uncompressed content of a PDF's streams (for tests and support: finding a loan ref in a file)."""
    out = []
    pos = 0
    while (start := data.find(b"stream", pos)) != -1:
        body = start + len(b"stream")
        body += 2 if data[body:body + 2] == b"\r\n" else 1
        end = data.find(b"endstream", body)
        if end == -1:
            break
        raw = data[body:end]
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
        pos = end + len(b"endstream")
    return b"\n".join(out)
