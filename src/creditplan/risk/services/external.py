"""Early warning's outside inputs: negative external records (court judgments, blacklists) and inflows on linked
accounts, imported from a file or the API; risk.services.signals reads them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import FieldProblem, ValidationError
from creditplan.core.money import parse_minor
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.risk import signals_sql
from creditplan.risk.domain import signals as sig
from creditplan.risk.models import (
    ExternalRecord,
    Inflow,
)

MAX_IMPORT_ROWS = 100_000


# --- external records and inflows --------------------------------------------------------------------------------

_KIND_OF = {name.lower(): code for code, en, zh in sig.EXTERNAL_KINDS for name in (code, en, zh)}
"""A kind as an import may write it: its code, or its English or Chinese name."""
EXTERNAL_FIELDS = ("customer_id", "kind", "source", "reference", "record_date", "amount", "note")
INFLOW_FIELDS = ("customer_id", "account", "month", "amount", "source")


def _text(row: Mapping[str, Any], name: str, limit: int, where: str, problems: list[FieldProblem], *,
          required: bool = True) -> str:
    value = row.get(name)
    text = "" if value is None else str(value).strip()
    if required and not text:
        problems.append(FieldProblem(f"{where}{name}", f"{name} is required", "required"))
    elif len(text) > limit:
        problems.append(FieldProblem(f"{where}{name}", f"{name} is longer than {limit} characters",
                                     "text_too_long"))
    return text


def _customer(row: Mapping[str, Any], where: str, problems: list[FieldProblem], known: set[int]) -> int:
    raw = str(row.get("customer_id") if row.get("customer_id") is not None else "").strip()
    if not raw.isdigit():
        problems.append(FieldProblem(f"{where}customer_id", "customer_id is a customer number", "invalid_customer"))
        return 0
    value = int(raw)
    if value not in known:
        problems.append(FieldProblem(f"{where}customer_id", f"customer {value} does not exist", "unknown_customer"))
    return value


def _existing_customers(rows: list[Mapping[str, Any]]) -> set[int]:
    ids = {int(str(r.get("customer_id")).strip()) for r in rows
           if str(r.get("customer_id") if r.get("customer_id") is not None else "").strip().isdigit()}
    return signals_sql.existing_customers(ids)


def _where(rows: list[Any], k: int) -> str:
    return f"rows[{k}]." if len(rows) > 1 else ""


@dataclass(frozen=True)
class ImportResult:
    received: int
    created: int
    unchanged: int
    updated: int = 0


@transaction.atomic
def import_external_records(actor: Actor | None, rows: Iterable[Mapping[str, Any]], *, today: dt.date | None = None
                            ) -> ImportResult:
    """Store negative external records (the API, the CSV import). Every row is checked first and the whole batch is
    refused when one is wrong, each problem naming its field (`rows[i].field` for a batch): customer_id (an existing
    customer), kind (one of risk.domain.signals.EXTERNAL_KIND_CODES), source and reference (text, required), record_date
    (YYYY-MM-DD, not in the future), amount (optional yuan), note (optional). A record already stored under the same
    source and reference is left as it is (an import can be run again); the same reference with other values is
    refused."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    batch = list(rows)
    if not batch:
        raise ValidationError("no record to import", field="rows", code="required")
    if len(batch) > MAX_IMPORT_ROWS:
        raise ValidationError(f"at most {MAX_IMPORT_ROWS} records at once", field="rows", code="too_many_rows")
    today = today or timezone.localdate()
    problems: list[FieldProblem] = []
    known = _existing_customers([r if isinstance(r, Mapping) else {} for r in batch])
    clean: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for k, row in enumerate(batch):
        where = _where(batch, k)
        if not isinstance(row, Mapping):
            problems.append(FieldProblem(f"{where}row", "a record is an object of fields", "invalid_row"))
            continue
        unknown = sorted(set(row) - set(EXTERNAL_FIELDS))
        if unknown:
            problems.append(FieldProblem(f"{where}{unknown[0]}", f"{unknown[0]} is not a field of an external record",
                                         "unknown_field"))
        customer = _customer(row, where, problems, known)
        kind = _KIND_OF.get(_text(row, "kind", 30, where, problems).lower(), "")
        if not kind and str(row.get("kind") or "").strip():
            problems.append(FieldProblem(f"{where}kind", f"kind must be one of {', '.join(sig.EXTERNAL_KIND_CODES)} "
                                         "(or its English or Chinese name)", "unknown_kind"))
        source = _text(row, "source", 100, where, problems)
        reference = _text(row, "reference", 100, where, problems)
        date_text = _text(row, "record_date", 10, where, problems)
        record_date = None
        if date_text:
            try:
                record_date = dt.date.fromisoformat(date_text)
            except ValueError:
                problems.append(FieldProblem(f"{where}record_date", "record_date is written YYYY-MM-DD", "date_format"))
            else:
                if record_date > today:
                    problems.append(FieldProblem(f"{where}record_date", "record_date is in the future",
                                                 "record_date_in_future"))
        amount = None
        if row.get("amount") not in (None, ""):
            try:
                amount = parse_minor(row.get("amount"), field="amount")
            except ValidationError as exc:
                problems.append(FieldProblem(f"{where}amount", exc.message, exc.code))
        note = _text(row, "note", 300, where, problems, required=False)
        if (source, reference) in seen:
            problems.append(FieldProblem(f"{where}reference", f"reference {reference!r} of {source} appears twice",
                                         "duplicate_reference"))
        seen.add((source, reference))
        clean.append({"customer_id": customer, "kind": kind, "source": source, "reference": reference,
                      "record_date": record_date, "amount_minor": amount, "note": note, "where": where})
    if problems:
        raise ValidationError.collect(problems)
    existing = {(r.source, r.reference): r for r in ExternalRecord.objects.filter(
        source__in={c["source"] for c in clean}, reference__in={c["reference"] for c in clean})}
    for c in clean:
        old = existing.get((c["source"], c["reference"]))
        if old is not None and (old.customer_id, old.kind, old.record_date, old.amount_minor) != (
                c["customer_id"], c["kind"], c["record_date"], c["amount_minor"]):
            problems.append(FieldProblem(f"{c['where']}reference", f"reference {c['reference']!r} of {c['source']} is "
                                         "stored already with other values", "reference_conflict"))
    if problems:
        raise ValidationError.collect(problems)
    now = timezone.now()
    fresh = [ExternalRecord(customer_id=c["customer_id"], kind=c["kind"], source=c["source"], reference=c["reference"],
                            record_date=c["record_date"], amount_minor=c["amount_minor"], note=c["note"],
                            imported_at=now, imported_by=actor if getattr(actor, "pk", None) else None)
             for c in clean if (c["source"], c["reference"]) not in existing]
    ExternalRecord.objects.bulk_create(fresh, batch_size=2000)
    ledger.append(actor, "risk.external_records_imported", "risk", "external_records", {
        "received": len(clean), "created": len(fresh), "unchanged": len(clean) - len(fresh),
        "kinds": {k: sum(1 for f in fresh if f.kind == k) for k in sig.EXTERNAL_KIND_CODES if any(
            f.kind == k for f in fresh)}})
    return ImportResult(len(clean), len(fresh), len(clean) - len(fresh))


@transaction.atomic
def import_inflows(actor: Actor | None, rows: Iterable[Mapping[str, Any]]) -> ImportResult:
    """Store monthly inflows on customers' linked accounts (the CSV import): customer_id, account (the institution's
    reference of the account), month (YYYY-MM), amount (yuan, the month's credits), source (optional). The whole
    file is refused when a row is wrong, naming the field; a month already stored for the account is replaced (a
    corrected statement)."""
    if actor is not None:
        require(actor, Perm.RISK_MANAGE)
    batch = list(rows)
    if not batch:
        raise ValidationError("no inflow to import", field="rows", code="required")
    if len(batch) > MAX_IMPORT_ROWS:
        raise ValidationError(f"at most {MAX_IMPORT_ROWS} rows at once", field="rows", code="too_many_rows")
    problems: list[FieldProblem] = []
    known = _existing_customers([r if isinstance(r, Mapping) else {} for r in batch])
    clean: dict[tuple[int, str, dt.date], dict[str, Any]] = {}
    for k, row in enumerate(batch):
        where = _where(batch, k)
        if not isinstance(row, Mapping):
            problems.append(FieldProblem(f"{where}row", "a row is an object of fields", "invalid_row"))
            continue
        customer = _customer(row, where, problems, known)
        account = _text(row, "account", 40, where, problems)
        month_text = _text(row, "month", 7, where, problems)
        month = None
        if month_text:
            try:
                month = dt.date.fromisoformat(f"{month_text}-01")
            except ValueError:
                problems.append(FieldProblem(f"{where}month", "month is written YYYY-MM", "month_format"))
        amount = 0
        try:
            amount = parse_minor(row.get("amount"), field="amount")
        except ValidationError as exc:
            problems.append(FieldProblem(f"{where}amount", exc.message, exc.code))
        source = _text(row, "source", 60, where, problems, required=False)
        if month is not None and account:
            clean[(customer, account, month)] = {"amount_minor": amount, "source": source}
    if problems:
        raise ValidationError.collect(problems)
    existing = {(i.customer_id, i.account, i.month): i for i in Inflow.objects.filter(
        customer_id__in={k[0] for k in clean}, month__in={k[2] for k in clean})}
    now = timezone.now()
    fresh, changed = [], []
    for key, values in clean.items():
        old = existing.get(key)
        if old is None:
            fresh.append(Inflow(customer_id=key[0], account=key[1], month=key[2], imported_at=now, **values))
        elif (old.amount_minor, old.source) != (values["amount_minor"], values["source"]):
            old.amount_minor, old.source, old.imported_at = values["amount_minor"], values["source"], now
            changed.append(old)
    Inflow.objects.bulk_create(fresh, batch_size=2000)
    Inflow.objects.bulk_update(changed, ["amount_minor", "source", "imported_at"], batch_size=1000)
    ledger.append(actor, "risk.inflows_imported", "risk", "inflows", {
        "received": len(batch), "created": len(fresh), "updated": len(changed),
        "unchanged": len(clean) - len(fresh) - len(changed)})
    return ImportResult(len(batch), len(fresh), len(clean) - len(fresh) - len(changed), len(changed))


EXTERNAL_REQUIRED = ("customer_id", "kind", "source", "reference", "record_date")
INFLOW_REQUIRED = ("customer_id", "account", "month", "amount")


def read_csv(text: str, fields: tuple[str, ...], required: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line; refused (naming the column) when a required column is missing.
    Empty cells of optional columns are left out of the row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in required if f not in header]
    if missing:
        raise ValidationError(f"the file has no {missing[0]} column (the header line names the columns: "
                              f"{', '.join(fields)})", field=missing[0], code="missing_column")
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()
             if k and (k.strip() in required or (v or "").strip())} for row in reader]


@dataclass(frozen=True)
class ExternalRecordView:
    id: int
    customer_id: int
    kind: str
    source: str
    reference: str
    record_date: dt.date
    amount_minor: int | None
    note: str


def _record_view(r: ExternalRecord) -> ExternalRecordView:
    return ExternalRecordView(r.pk, r.customer_id, r.kind, r.source, r.reference, r.record_date, r.amount_minor, r.note)


def list_external_records(actor: Actor, customer_id: int, *, limit: int = 50) -> list[ExternalRecordView]:
    require(actor, Perm.RISK_VIEW)
    return [_record_view(r) for r in ExternalRecord.objects.filter(customer_id=customer_id)
            .order_by("-record_date", "-id")[:limit]]


def recent_external_records(actor: Actor, *, limit: int = 50) -> list[ExternalRecordView]:
    """The latest imported records in the actor's branch scope."""
    require(actor, Perm.RISK_VIEW)
    qs = org.scope_to_branches(actor, ExternalRecord.objects.all(), "customer__branch")
    return [_record_view(r) for r in qs.order_by("-imported_at", "-id")[:limit]]
