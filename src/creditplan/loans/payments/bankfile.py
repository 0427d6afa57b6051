"""Bank files: a hundred thousand payments from one CSV file, each line checked on its own and the good ones
posted in batches (the same allocation as a single payment, written in bulk; `loans/sql/payments.py`), lines
dated before their loan's last close and the lines of a batch that met a database error posted one by one.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import DatabaseError, transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.core.money import Money, parse_minor
from creditplan.ledger import services as ledger
from creditplan.loans import clock as loans_clock
from creditplan.loans import plan_book, sql
from creditplan.loans.domain import accounts
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.allocation import InstallmentRow, apply_payment
from creditplan.loans.loan_state import STATE_FIELDS
from creditplan.loans.models import JournalEntry, Loan, LoanActivity, LoanStatus, Payment, Posting, Product
from creditplan.loans.payments.checks import (
    MAX_AMOUNT_MINOR,
    check_loan,
    clean_reference,
    is_backdated,
    parse_value_date,
)
from creditplan.loans.payments.order import rules_of
from creditplan.loans.payments.posting import post_with_channel
from creditplan.loans.payments.records import event_data, reference_reused, restore_quota, save_rows
from creditplan.loans.payments.state import due_rows, falling_due_rows, falling_for, snapshot
from creditplan.loans.payments.state import layouts as loan_layouts
from creditplan.loans.sql import payments as payments_sql
from creditplan.loans.sql import where_in
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.org.models import Branch

Entry = tuple[Any, dt.date, str, list[Line]]  # (loan, entry date, memo, journal lines)

__all__ = ["BANK_FILE_BATCH", "BANK_FILE_PIPELINE", "BankFileReport", "Rejected", "import_bank_file"]

log = logging.getLogger("creditplan.loans.payments")

BANK_FILE_BATCH = 2000
BANK_FILE_PIPELINE = 2  # PostgreSQL: batches in flight at once (see _run_batches); 1 = one after the other


class Rejected(NamedTuple):
    line: int
    reference: str
    reason: str


@dataclass
class BankFileReport:
    filename: str
    digest: str
    lines: int = 0  # payment lines read (header and blank lines not counted)
    posted: int = 0
    duplicates: int = 0  # references already posted before (idempotent: nothing applied again)
    rejected: list[Rejected] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    replayed: int = 0  # lines dated before the loan's last close, posted through the replay path
    batches_retried: int = 0  # batches that met a database error and were posted line by line
    phases: dict[str, float] = field(default_factory=dict)  # seconds: parse, read, allocate, write, ledger, …

    @property
    def ok(self) -> bool:
        return not self.rejected


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content.lstrip("\ufeff")
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationError("a bank file is text (bytes or str)", field="content", code="invalid_file")
    raw = bytes(content)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "gb18030"):  # GB18030: a superset of GBK and GB2312
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("the bank file is neither UTF-8 nor GBK text", field="content", code="invalid_encoding")


class _Line(NamedTuple):
    number: int
    reference: str
    loan_ref: str
    amount_minor: int
    value_date: dt.date


_HEADER = ("reference", "loan_ref", "amount", "value_date")


def _parse_lines(text: str, today: dt.date, report: BankFileReport) -> list[_Line]:
    """Every line checked on its own (format, amount, date, a reference repeated in the file); rejects are
    reported with their line number, the good ones returned in file order."""
    good: list[_Line] = []
    first_seen: dict[str, int] = {}
    header_done = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        fields = next(csv.reader([raw])) if '"' in raw else raw.split(",")
        fields = [f.strip() for f in fields]
        if not header_done:
            header_done = True
            if fields and fields[0].lower().lstrip("\ufeff") == "reference":
                if tuple(f.lower() for f in fields) != _HEADER:
                    report.rejected.append(Rejected(number, "", f"malformed header: expected {','.join(_HEADER)}"))
                continue
        report.lines += 1
        reference = fields[0] if fields else ""
        if len(fields) != 4:
            report.rejected.append(Rejected(number, reference, f"malformed: expected 4 fields "
                                                               f"(reference,loan_ref,amount,value_date), got "
                                                               f"{len(fields)}"))
            continue
        reference, loan_ref, amount, value_date = fields
        try:
            ref = clean_reference(reference)
            if not loan_ref:
                raise ValidationError("loan_ref is empty", field="loan_ref", code="required")
            minor = parse_minor(amount, "amount", allow_zero=False, maximum=MAX_AMOUNT_MINOR)
            day = parse_value_date(value_date, today) if value_date else None
            if day is None:
                raise ValidationError("value_date is empty", field="value_date", code="required")
        except CreditplanError as exc:
            report.rejected.append(Rejected(number, reference, _reason(exc)))
            continue
        if ref in first_seen:
            report.rejected.append(Rejected(number, ref, f"duplicate reference in this file (first on line "
                                                         f"{first_seen[ref]})"))
            continue
        first_seen[ref] = number
        good.append(_Line(number, ref, loan_ref, minor, day))
    return good


# What the rejection list says first about a refused line (the service's sentence follows it).
_REASONS = {"unknown_loan": "unknown loan", "loan_closed": "closed loan", "loan_written_off": "written-off loan",
            "date_in_future": "future date", "reference_reused": "reference already used",
            "invalid_date": "malformed date",
            # the money edge's codes (core.money.MONEY_ERROR_CODES)
            "amount_format": "malformed amount", "not_finite": "malformed amount",
            "too_many_decimals": "malformed amount", "float_money": "malformed amount",
            "negative_amount": "negative amount", "not_positive": "zero amount",
            "amount_out_of_range": "amount too large"}


def _reason(exc: CreditplanError) -> str:
    label = _REASONS.get(exc.code, exc.code.replace("_", " "))
    return f"{label}: {exc.message}"


def _add_totals(totals: dict[str, int], amount: int, alloc: dict[str, Any]) -> None:
    totals["posted_minor"] = totals.get("posted_minor", 0) + amount
    for k in ("penalty", "fee", "interest", "principal", "credit", "refund"):
        totals[k + "_minor"] = totals.get(k + "_minor", 0) + int(alloc.get(k, 0))


def import_bank_file(actor: Actor, content: bytes | str, *, filename: str = "") -> BankFileReport:
    """Post a bank file of payments, one per line: `reference,loan_ref,amount,value_date` (a header line is
    optional; UTF-8 with or without BOM, or GBK). Good lines post, bad ones are reported with their line
    number and reason and leave nothing behind; a reference already posted is counted as a duplicate
    (idempotent: importing the same file twice posts nothing the second time).

    Fast: lines go in batches (BANK_FILE_BATCH), one transaction each — loans locked and their due
    installments read in bulk, every line validated and allocated in memory by the same `apply_payment` as
    post_payment, then the payments, installments, loans, journal entries, activities and ledger events
    written in bulk. On PostgreSQL (outside a caller's transaction) two batches are in flight at a time, see
    `_run_batches`. Lines dated before their loan's last close, and the lines of a batch that met a database
    error (e.g. a concurrent import of the same references; the batch is rolled back whole), are posted at the
    end, one by one in file order, through post_payment (the replay for the former)."""
    org.require(actor, Perm.LOAN_REPAY)
    started = time.perf_counter()
    text = _decode(content)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    report = BankFileReport(filename=str(filename or "")[:200], digest=digest)
    today = loans_clock.business_date()
    lines = _parse_lines(text, today, report)
    batch_ref = f"bank:{digest[:16]}"
    _lap(report.phases, "parse", started)
    batches = [lines[k:k + BANK_FILE_BATCH] for k in range(0, len(lines), BANK_FILE_BATCH)]
    one_by_one = _run_batches(actor, batches, today, batch_ref, report)
    clock = time.perf_counter()
    for line in sorted(one_by_one, key=lambda ln: ln.number):
        _post_line(actor, line, report)
    if one_by_one:
        _lap(report.phases, "one_by_one", clock)
    report.rejected.sort(key=lambda r: r.line)
    report.totals.setdefault("posted_minor", 0)
    report.seconds = round(time.perf_counter() - started, 3)
    with transaction.atomic():
        ledger.append(actor, "loan.bank_file_imported", "bank_file", digest[:32],
                      {"sha256": digest, "filename": report.filename, "lines": report.lines, "posted": report.posted,
                       "duplicates": report.duplicates, "rejected": len(report.rejected),
                       "totals": dict(report.totals)})
    return report


def _post_line(actor: Actor, line: _Line, report: BankFileReport) -> None:
    """One line on its own (its own transaction, through post_payment): the replay path and the fallback."""
    try:
        result = post_with_channel(actor, loan_ref=line.loan_ref, amount=Money(line.amount_minor),
                               reference=line.reference, value_date=line.value_date, channel="file")
    except CreditplanError as exc:
        report.rejected.append(Rejected(line.number, line.reference, _reason(exc)))
        return
    if result.duplicate:
        report.duplicates += 1
        report.totals["duplicate_minor"] = report.totals.get("duplicate_minor", 0) + line.amount_minor
        return
    report.posted += 1
    report.replayed += int(result.backdated)
    _add_totals(report.totals, line.amount_minor, result.allocation)


class _LoanRow:
    """The columns of a loan a payment reads and writes, without the ORM (the bank file locks and reads a
    thousand loans a batch); the same attribute names as `Loan`, so `apply_payment` takes either."""

    __slots__ = ("pk", "ref", "product", "branch", "currency", "start_date", "application_ref", "version",
                 "term_sheet_id", *STATE_FIELDS)
    COLUMNS = ("id", "ref", "product_id", "branch_id", "currency", "start_date", "application_ref", "version",
               "term_sheet_id", *STATE_FIELDS)

    def __init__(self, values: Sequence[Any], products: dict[int, Product], branches: dict[int, Branch]) -> None:
        (pk, self.ref, product_id, branch_id, self.currency, self.start_date, self.application_ref, self.version,
         self.term_sheet_id) = values[:9]
        self.pk = pk
        self.product, self.branch = products[product_id], branches[branch_id]
        for name, value in zip(STATE_FIELDS, values[9:], strict=True):
            setattr(self, name, value)


def _lock_loan_rows(refs: Sequence[str]) -> dict[str, Any]:
    """Lock the loans (in id order: no deadlock between two imports) and read them as `_LoanRow`s."""
    found = list(where_in(Loan.objects.select_for_update(of=("self",)), "ref", refs).order_by("id")
                 .values_list(*_LoanRow.COLUMNS))
    products = {p.pk: p for p in Product.objects.filter(pk__in={v[2] for v in found})}
    branches = {b.pk: b for b in Branch.objects.filter(pk__in={v[3] for v in found})}
    return {v[1]: _LoanRow(v, products, branches) for v in found}


def _lap(phases: dict[str, float], phase: str, since: float) -> float:
    now = time.perf_counter()
    phases[phase] = round(phases.get(phase, 0.0) + now - since, 3)
    return now


@dataclass
class _BatchOutcome:
    """What one batch did, merged into the report (in file order) once it has committed."""

    posted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    one_by_one: list[_Line] = field(default_factory=list)  # backdated lines, or the whole batch after an error
    retried: bool = False
    phases: dict[str, float] = field(default_factory=dict)


def _run_batches(actor: Actor, batches: Sequence[Sequence[_Line]], today: dt.date, batch_ref: str,
                 report: BankFileReport) -> list[_Line]:
    """Post the batches, each in its own transaction; returns the lines to post one by one.

    On PostgreSQL, outside a caller's transaction, BANK_FILE_PIPELINE batches are in flight (one connection
    each; default two): while batch k commits (the server's work: COPY, index maintenance, the WAL flush),
    batch k+1 locks its loans, allocates in Python and writes its own rows. Two rules keep this equal to
    posting the batches one after the other: batch k+1 locks its loans only once batch k holds all of its own
    (so a loan in both is read by k+1 after k has committed: PostgreSQL makes the lock wait), and batch k+1
    touches what batches share — the plan's quota rows, the ledger's sequencer — only after batch k has
    committed (so they are taken in file order: no deadlock, events in file order). What a batch writes
    before that is its own: the loans it has locked, their installments, and new rows."""
    n = len(batches)
    outcomes: list[_BatchOutcome] = [_BatchOutcome() for _ in range(n)]
    depth = max(1, min(int(BANK_FILE_PIPELINE), n))
    parallel = depth > 1 and sql.is_postgresql() and not sql.in_transaction()
    locked = [threading.Event() for _ in range(n)]
    committed = [threading.Event() for _ in range(n)]
    failures: list[BaseException] = []

    def one(k: int) -> None:
        batch = batches[k]
        try:
            if parallel and k:
                locked[k - 1].wait()
            with transaction.atomic():
                out = _post_batch(actor, batch, today, batch_ref, locked=locked[k].set,
                                  turn=committed[k - 1].wait if parallel and k else None)
                clock = time.perf_counter()
            _lap(out.phases, "commit", clock)
            outcomes[k] = out
        except (DatabaseError, CreditplanError) as exc:  # IntegrityError is a DatabaseError
            log.info("bank file batch from line %s rolled back, its lines go one by one: %s", batch[0].number, exc)
            outcomes[k] = _BatchOutcome(one_by_one=list(batch), retried=True)
        finally:
            locked[k].set()
            committed[k].set()

    if parallel:
        def worker(first: int) -> None:
            try:
                for k in range(first, n, depth):
                    one(k)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller's thread
                failures.append(exc)
                for k in range(first, n, depth):  # never leave the other workers waiting
                    locked[k].set()
                    committed[k].set()
            finally:
                sql.close_connections()

        threads = [threading.Thread(target=worker, args=(first,), name=f"bank-file-{first}")
                   for first in range(depth)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]
    else:
        for k in range(n):
            one(k)
    one_by_one: list[_Line] = []
    for out in outcomes:
        report.posted += out.posted
        report.duplicates += out.duplicates
        report.rejected += out.rejected
        report.batches_retried += int(out.retried)
        for key, v in out.totals.items():
            report.totals[key] = report.totals.get(key, 0) + v
        for key, secs in out.phases.items():
            report.phases[key] = round(report.phases.get(key, 0.0) + secs, 3)
        one_by_one += out.one_by_one
    return one_by_one


class _NewPayment(NamedTuple):
    reference: str
    loan: Loan
    value_date: dt.date
    amount_minor: int
    allocation: dict[str, Any]
    state_before: dict[str, Any]
    channel: str = "file"
    kind: str = "regular"


def _post_batch(actor: Actor, batch: Sequence[_Line], today: dt.date, batch_ref: str, *,
                locked: Any = None, turn: Any = None) -> _BatchOutcome:
    """Validate and allocate a batch in memory, then write it in bulk, inside the caller's transaction.
    `locked()` is called once the batch's loans are locked; `turn()` is waited for before writing."""
    out = _BatchOutcome()
    rejected = out.rejected
    dup_minor = duplicates = 0
    clock = time.perf_counter()
    existing = {r: (lr, a) for r, lr, a in where_in(Payment.objects.all(), "reference",
                                                     [ln.reference for ln in batch])
                .values_list("reference", "loan__ref", "amount_minor")}
    wanted = {ln.loan_ref for ln in batch if ln.reference not in existing}
    loans = _lock_loan_rows(sorted(wanted)) if wanted else {}
    if locked is not None:
        locked()
    # the loans named by lines whose reference is already taken: read (not locked) only to check their scope
    named = sorted({ln.loan_ref for ln in batch if ln.reference in existing})
    visible = ({x.ref for x in where_in(Loan.objects.select_related("branch"), "ref", named)
                if org.branch_in_scope(actor, x.branch)} if named else set())
    branches = {x.branch.pk: x.branch for x in loans.values()}
    due = due_rows(loan.pk for loan in loans.values())
    current = falling_due_rows(loans.values(), today)  # installments falling due, not yet marked due
    layouts = loan_layouts(loan.pk for loan in loans.values())
    rules = rules_of(loans.values())  # the allocation of each loan's term sheet (issue 18)
    in_scope = {pk: org.branch_in_scope(actor, b) for pk, b in branches.items()}
    clock = _lap(out.phases, "read", clock)
    slow = out.one_by_one
    made: list[_NewPayment] = []
    entries: list[tuple[Loan, dt.date, str, list[Line]]] = []
    changed: dict[int, Loan] = {}
    principal_by_app: dict[str, tuple[Loan, int, dt.date]] = {}
    principal_by_loan: dict[int, int] = {}  # the plan's book: every loan's principal repaid, in one call
    totals = out.totals
    slow_loans: set[str] = set()
    for ln in batch:
        if ln.reference in existing:  # the named loan's scope first, as post_payment does
            lr, amt = existing[ln.reference]
            if ln.loan_ref not in visible:
                rejected.append(Rejected(ln.number, ln.reference, f"unknown loan: no loan {ln.loan_ref}"))
            elif lr == ln.loan_ref and amt == ln.amount_minor:
                duplicates += 1
                dup_minor += ln.amount_minor
            else:
                exc = reference_reused(ln.reference, amt if lr == ln.loan_ref else None)
                rejected.append(Rejected(ln.number, ln.reference, _reason(exc)))
            continue
        loan = loans.get(ln.loan_ref)
        if loan is None or not in_scope[loan.branch.pk]:  # another branch's loan: as unknown as a missing one
            rejected.append(Rejected(ln.number, ln.reference, f"unknown loan: no loan {ln.loan_ref}"))
            continue
        try:
            check_loan(None, loan, ln.value_date, today)
        except CreditplanError as exc:
            rejected.append(Rejected(ln.number, ln.reference, _reason(exc)))
            continue
        if is_backdated(loan, ln.value_date) or loan.ref in slow_loans:
            slow.append(ln)  # the replay path; later lines of the loan follow it there, in file order
            slow_loans.add(loan.ref)
            continue
        rows = due.setdefault(loan.pk, [])
        cur = current.get(loan.pk)  # falling due on or before the value date; earlier lines may have paid it
        snap = snapshot(loan, rows if cur is None else [*rows, cur], layouts[loan.pk])
        applied = apply_payment(loan, rows, ln.amount_minor, ln.value_date,
                                falling=falling_for(loan, cur, ln.value_date), rule=rules[loan.pk])
        changed[loan.pk] = loan
        made.append(_NewPayment(ln.reference, loan, ln.value_date, ln.amount_minor, applied.allocation, snap))
        entries.append((loan, ln.value_date, f"repayment {ln.reference}", applied.lines))
        if applied.principal_paid:
            principal_by_loan[loan.pk] = principal_by_loan.get(loan.pk, 0) + applied.principal_paid
        if loan.application_ref and applied.principal_paid:
            _, before, _ = principal_by_app.get(loan.application_ref, (loan, 0, ln.value_date))
            principal_by_app[loan.application_ref] = (loan, before + applied.principal_paid, ln.value_date)
        _add_totals(totals, ln.amount_minor, applied.allocation)
    clock = _lap(out.phases, "allocate", clock)
    # --- write (all or nothing: the caller's transaction). First what only this batch touches (its locked
    # loans and their installments, new rows); then, in file order (`turn`), what batches share: the quota
    # rows and the ledger's sequencer.
    pg = sql.is_postgresql()
    t = [clock]

    def laps(phase: str) -> None:
        t[0] = _lap(out.phases, phase, t[0])

    if made:
        dirty = [r for rows in (*due.values(), current.values()) for r in rows if r.dirty]
        (_write_batch_pg if pg else _write_batch_generic)(actor, made, dirty, list(changed.values()), entries,
                                                          batch_ref, laps)
    if turn is not None:
        turn()
        laps("wait")
    if made:
        quotas = {app: restore_quota(loan, principal, day, book=False)
                  for app, (loan, principal, day) in principal_by_app.items()}
        plan_book.principal_moved_many({k: -v for k, v in principal_by_loan.items()}, today, "repayment")
        laps("quota")
        _write_activities(made, batch_ref, quotas, pg)
        laps("write.activities")
        ledger.append_many(actor, [ledger.EventSpec("loan.repayment", "loan", p.loan.ref, event_data(p, p.loan))
                                   for p in made])
        laps("ledger")
    out.duplicates = duplicates
    if dup_minor:
        totals["duplicate_minor"] = totals.get("duplicate_minor", 0) + dup_minor
    out.posted = len(made)
    return out


def _activity_detail(p: _NewPayment, batch_ref: str, quotas: dict[str, str]) -> dict[str, Any]:
    quota = quotas.get(p.loan.application_ref, "none") if p.allocation.get("principal") else "none"
    return {"reference": p.reference, "channel": p.channel, "allocation": p.allocation, "quota": quota,
            "closed": p.loan.status == LoanStatus.CLOSED, "batch": batch_ref}


def _checked_entries(entries: Sequence[tuple[Loan, dt.date, str, list[Line]]]
                     ) -> list[tuple[Loan, dt.date, str, list[Line]]]:
    """Every entry checked by check_balanced, as accounting.post_entry does; empty ones dropped."""
    checked = [(loan, day, memo, accounts.check_balanced(lines)) for loan, day, memo, lines in entries]
    return [c for c in checked if c[3]]


def _write_batch_generic(actor: Actor, made: Sequence[_NewPayment], rows: Sequence[InstallmentRow],
                         loans: Sequence[Any], entries: Sequence[Entry], batch_ref: str,
                         laps: Callable[[str], None]) -> None:
    """Any database: bulk INSERTs and executemany UPDATEs."""
    Payment.objects.bulk_create([Payment(reference=p.reference, loan_id=p.loan.pk, value_date=p.value_date,
                                         amount_minor=p.amount_minor, channel=p.channel, kind=p.kind,
                                         allocation=p.allocation, state_before=p.state_before, posted_by=actor)
                                 for p in made], batch_size=BANK_FILE_BATCH)
    save_rows(rows)
    payments_sql.update_loans(loans)
    checked = _checked_entries(entries)
    saved = JournalEntry.objects.bulk_create([JournalEntry(entry_date=day, kind="repayment", loan_id=loan.pk,
                                                           batch_ref=batch_ref, memo=memo[:200])
                                              for loan, day, memo, _ in checked], batch_size=BANK_FILE_BATCH)
    Posting.objects.bulk_create([Posting(entry=e, account=ln.account, branch_code=ln.branch, currency=ln.currency,
                                         amount_minor=ln.amount_minor)
                                 for e, (_, _, _, lines) in zip(saved, checked, strict=True) for ln in lines],
                                batch_size=5 * BANK_FILE_BATCH)
    laps("write")


def _write_batch_pg(actor: Actor, made: Sequence[_NewPayment], rows: Sequence[InstallmentRow],
                    loans: Sequence[Any], entries: Sequence[Entry], batch_ref: str,
                    laps: Callable[[str], None] | None = None) -> None:
    """PostgreSQL: COPY for the new rows (Django's bulk INSERT escapes every quote of every JSON document
    through a regular expression: it was most of the time), one UPDATE … FROM unnest() per table for the
    changed installments and loans. Journal entry ids are taken from their sequence first, so the postings
    can name them in the same COPY pass."""
    lap = laps or (lambda phase: None)
    now = timezone.now()
    payments_sql.copy_payments(made, getattr(actor, "pk", None), now)
    lap("write.payments")
    if rows:
        payments_sql.update_installments_pg(rows)
        for r in rows:
            r.dirty = False
    lap("write.installments")
    payments_sql.update_loans_pg(loans)
    lap("write.loans")
    checked = _checked_entries(entries)
    payments_sql.copy_journal(checked, "repayment", batch_ref, now)
    lap("write.journal")


def _write_activities(made: Sequence[_NewPayment], batch_ref: str, quotas: dict[str, str], pg: bool) -> None:
    if not pg:
        LoanActivity.objects.bulk_create([LoanActivity(loan_id=p.loan.pk, business_date=p.value_date,
                                                       kind="repayment", amount_minor=p.amount_minor,
                                                       detail=_activity_detail(p, batch_ref, quotas))
                                          for p in made], batch_size=BANK_FILE_BATCH)
        return
    now = timezone.now()
    dumps = payments_sql.dumps
    payments_sql.copy_activities((p.loan.pk, p.value_date, "repayment", "", p.amount_minor,
                                  dumps(_activity_detail(p, batch_ref, quotas)), now) for p in made)
