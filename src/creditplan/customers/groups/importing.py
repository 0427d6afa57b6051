"""Importing customer group relations from a file (CSV or Excel, `creditplan import-groups` and the groups page):
each row becomes a proposed change (and each group the file creates or moves one more), all or nothing, sharing a
batch that a second user decides like any other change (creditplan.customers.groups.changes).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, FieldProblem, ValidationError
from creditplan.customers.groups.changes import (
    ADD,
    CREATE,
    MOVE,
    _check_membership,
    _date,
    _dates,
    _group_code,
    _group_name,
    _proposed_event,
    _relation,
)
from creditplan.customers.groups.registry import ACTIVE, _group_by_code, _text, resolve_customer
from creditplan.customers.models import CustomerGroup, GroupChange
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
COLUMNS = ("group_code", "group_name", "parent_group", "customer", "relation", "effective_from", "effective_to")
REQUIRED_COLUMNS = ("group_code", "customer", "relation", "effective_from")
_HEADER_WORDS = {
    "group_code": "group_code", "集团编号": "group_code", "集团代码": "group_code",
    "group_name": "group_name", "集团名称": "group_name",
    "parent_group": "parent_group", "parent": "parent_group", "上级集团": "parent_group", "上级集团编号": "parent_group",
    "customer": "customer", "客户": "customer", "客户号/证件号": "customer", "证件号码": "customer",
    "relation": "relation", "关系": "relation", "关系类型": "relation", "关联关系": "relation",
    "effective_from": "effective_from", "生效日期": "effective_from", "起始日期": "effective_from",
    "effective_to": "effective_to", "终止日期": "effective_to", "失效日期": "effective_to",
}


@dataclass(frozen=True)
class ImportResult:
    file: str
    batch: str
    changes: int
    new_groups: int
    moves: int
    members: int


@dataclass
class _Line:
    line: int
    values: dict[str, Any]


class _Problems:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.bad_lines: set[int] = set()

    def add(self, line: int, column: str, code: str, message: str, group: str = "") -> None:
        self.rows.append({"line": line, "column": column, "code": code, "message": message, "group": group})
        self.bad_lines.add(line)


def _bad_file(message: str, code: str) -> ValidationError:
    return ValidationError(message, field="file", code=code)


def _read_csv(data: bytes) -> list[_Line]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _bad_file("the file is neither UTF-8 nor GB18030 text", "import_format")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Line] = []
    try:
        for r in reader:
            rows.append(_Line(reader.line_num, {str(i): v for i, v in enumerate(r)}))
    except csv.Error as exc:
        raise _bad_file(f"line {reader.line_num}: not a CSV line ({exc})", "import_format")
    return rows


def _read_xlsx(data: bytes) -> list[_Line]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, xml, key errors) on a file that is not xlsx
        raise _bad_file(f"not an Excel (.xlsx) file: {exc.__class__.__name__}", "import_format")
    ws = wb.worksheets[0]
    rows = [_Line(i, {str(j): v for j, v in enumerate(r)}) for i, r in enumerate(ws.iter_rows(values_only=True),
                                                                               start=1)]
    wb.close()
    return rows


def read_import_file(filename: str, data: bytes) -> list[_Line]:
    """The file's data rows (line number, column → value), read by the file's kind: .xlsx (Excel; the first
    sheet) or CSV (UTF-8, or GB18030 as Excel saves it on a Chinese system). The header row names the columns."""
    if len(data) > MAX_IMPORT_BYTES:
        raise _bad_file(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB", "import_too_large")
    name = (filename or "").lower()
    if name.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _bad_file("an old Excel (.xls) file: save it as .xlsx or .csv", "import_format")
    raw = _read_xlsx(data) if data[:2] == b"PK" or name.endswith(".xlsx") else _read_csv(data)
    rows = [r for r in raw if any(_text(v) for v in r.values.values())]
    if not rows:
        raise _bad_file("the file is empty", "import_layout")
    header, body = rows[0], rows[1:]
    position: dict[str, str] = {}
    for j, title in header.values.items():
        key = _HEADER_WORDS.get(re.sub(r"\s+", "_", _text(title).lower())) or _HEADER_WORDS.get(_text(title))
        if key and key not in position:
            position[key] = j
    missing = [c for c in REQUIRED_COLUMNS if c not in position]
    if missing:
        raise _bad_file(f"line {header.line}: the header row lacks the column(s) {', '.join(missing)} (columns: "
                        f"{', '.join(COLUMNS)})", "import_layout")
    if len(body) > MAX_IMPORT_ROWS:
        raise _bad_file(f"the file has {len(body)} rows, more than {MAX_IMPORT_ROWS}", "import_too_large")
    return [_Line(r.line, {k: r.values.get(j) for k, j in position.items()}) for r in body]


def _cell_customer(value: Any) -> Any:
    """An Excel number in the customer column: a customer number is fine; an identity number typed as a number has
    lost its last digits (Excel keeps 15)."""
    if isinstance(value, bool):
        raise ValidationError("not a customer", field="customer", code="customer_identifier")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer() or value >= 10**12:
            raise ValidationError("an identity number stored as a number in Excel has lost digits: format the "
                                  "column as text and type it again", field="customer", code="customer_number_cell")
        return int(value)
    return value


@transaction.atomic
def import_file(actor: Actor, filename: str, data: bytes, *,
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Propose the group relations of a file, one change per row (and one per group it creates or moves), all or
    nothing: any bad row rejects the whole file with every bad row's line and reason, and nothing is written. The
    changes share a batch and wait for a second user's decision like any other."""
    org.require(actor, Perm.GROUP_MANAGE)
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:80] or "upload"
    rows = read_import_file(name, data)
    bad = _Problems()
    new_groups: dict[str, dict[str, Any]] = {}  # code (lower) → code, name, parent code, first line
    moves: dict[str, dict[str, Any]] = {}  # existing group code (lower) → group, parent code, line
    existing: dict[str, CustomerGroup | None] = {}
    members: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        if progress is not None:
            progress(n, len(rows))
        v = row.values
        try:
            code = _group_code(v.get("group_code"))
        except ValidationError as exc:
            bad.add(row.line, "group_code", exc.code, exc.message)
            continue
        key = code.lower()
        if key not in existing:
            existing[key] = _group_by_code(code, "group_code")
        group = existing[key]
        parent_code = _text(v.get("parent_group"))
        if parent_code and parent_code.lower() == key:
            bad.add(row.line, "parent_group", "group_cycle", f"group {code} cannot sit under itself")
        elif group is not None:
            if group.status != ACTIVE:
                bad.add(row.line, "group_code", "group_dissolved", f"group {code} is dissolved")
            elif parent_code:
                seen = moves.get(key)
                if seen is not None and seen["parent"].lower() != parent_code.lower():
                    bad.add(row.line, "parent_group", "parent_differs",
                            f"group {code} is put under {seen['parent']} on line {seen['line']}")
                elif seen is None:
                    moves[key] = {"group": group, "parent": parent_code, "line": row.line}
        else:
            seen = new_groups.get(key)
            gname = _text(v.get("group_name"))
            if seen is None:
                try:
                    gname = _group_name(gname)
                except ValidationError as exc:
                    bad.add(row.line, "group_name", exc.code, f"a new group needs its name: {exc.message}")
                    gname = ""
                new_groups[key] = {"code": code, "name": gname, "parent": parent_code, "line": row.line}
            else:
                if gname and seen["name"] and gname != seen["name"]:
                    bad.add(row.line, "group_name", "group_name_differs",
                            f"group {code} is named {seen['name']} on line {seen['line']}")
                if parent_code and seen["parent"] and parent_code.lower() != seen["parent"].lower():
                    bad.add(row.line, "parent_group", "parent_differs",
                            f"group {code} is put under {seen['parent']} on line {seen['line']}")
                elif parent_code and not seen["parent"]:
                    seen["parent"] = parent_code
        member: dict[str, Any] = {"line": row.line, "code": code, "key": key, "group": group}
        for column, read in (
            ("customer", lambda x: resolve_customer(actor, _cell_customer(x))),
            ("relation", _relation),
            ("effective_from", lambda x: _date(x, "effective_from", required=True)),
            ("effective_to", lambda x: _date(x, "effective_to", required=False)),
        ):
            try:
                member[column] = read(v.get(column))
            except ValidationError as exc:
                bad.add(row.line, column, exc.code, exc.message)
                member[column] = None
        if member["effective_from"] and member["effective_to"]:
            try:
                _dates(member["effective_from"], member["effective_to"])
            except ValidationError as exc:
                bad.add(row.line, "effective_to", exc.code, exc.message)
        members.append(member)
    _check_import_tree(new_groups, moves, existing, bad)
    _check_import_members(members, bad)
    if bad.rows:
        bad.rows.sort(key=lambda p: (p["line"], COLUMNS.index(p["column"]) if p["column"] in COLUMNS else 99))
        lines = "; ".join(f"line {p['line']} ({p['column']}): {p['message']}" for p in bad.rows[:50])
        more = f"; and {len(bad.rows) - 50} more" if len(bad.rows) > 50 else ""
        raise ValidationError(
            f"{name}: {len(bad.bad_lines)} bad row(s), nothing imported — {lines}{more}", field="file",
            code="import_rejected",
            problems=[FieldProblem(f"line {p['line']}", p["message"], p["code"]) for p in bad.rows],
            extra={"file": name, "lines": bad.rows})
    return _propose_import(actor, name, new_groups, moves, members)


def _check_import_tree(new_groups: dict[str, dict[str, Any]], moves: dict[str, dict[str, Any]],
                       existing: dict[str, CustomerGroup | None], bad: _Problems) -> None:
    """Every parent exists (in the registry or the file), and the tree after the file has no loop."""
    parent_of: dict[str, str | None] = {}  # the tree after the file, by code (lower)
    registry = {g.pk: g for g in CustomerGroup.objects.all()}
    for g in registry.values():
        parent = registry.get(g.parent_id) if g.parent_id else None
        parent_of[g.code.lower()] = parent.code.lower() if parent else None
    for key, spec in [*new_groups.items(), *moves.items()]:
        pcode = spec["parent"]
        if not pcode:
            parent_of[key] = None
            continue
        pkey = pcode.lower()
        if pkey not in new_groups:
            g = existing.get(pkey) if pkey in existing else _group_by_code(pcode, "parent_group")
            if g is None:
                bad.add(spec["line"], "parent_group", "unknown_group", f"no group {pcode} in the registry or the file")
                parent_of[key] = None
                continue
            if g.status != ACTIVE:
                bad.add(spec["line"], "parent_group", "group_dissolved", f"group {pcode} is dissolved")
        parent_of[key] = pkey
    for key, spec in [*new_groups.items(), *moves.items()]:
        seen, up = {key}, parent_of.get(key)
        while up is not None:
            if up in seen:
                bad.add(spec["line"], "parent_group", "group_cycle",
                        f"group {spec.get('code') or spec['group'].code} under {spec['parent']} would contain "
                        "itself")
                break
            seen.add(up)
            up = parent_of.get(up)
    for spec in moves.values():
        g = spec["group"]
        current = registry.get(g.parent_id) if g.parent_id else None
        if current is not None and current.code.lower() == spec["parent"].lower():
            spec["unchanged"] = True


def _check_import_members(members: list[dict[str, Any]], bad: _Problems) -> None:
    """Each membership against the registry and against the file's other rows."""
    seen: dict[tuple[int, str], list[dict[str, Any]]] = {}  # (customer, relation) → rows
    by_customer: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        c, relation, start = m.get("customer"), m.get("relation"), m.get("effective_from")
        if c is None or relation is None or start is None or m["line"] in bad.bad_lines:
            continue
        end = m.get("effective_to")
        try:
            _check_membership(c, m["group"].pk if m["group"] is not None else None, relation, start, end)
        except (ValidationError, Conflict) as exc:
            bad.add(m["line"], "customer", exc.code, exc.message, exc.extra.get("group", ""))
            continue

        def overlaps(o: dict[str, Any], start: dt.date = start, end: dt.date | None = end) -> bool:
            return (o["effective_to"] is None or o["effective_to"] >= start) and (
                end is None or o["effective_from"] <= end)

        twin = next((o for o in by_customer.get(c.pk, []) if o["key"] == m["key"] and overlaps(o)), None)
        if twin is not None:
            bad.add(m["line"], "customer", "already_member",
                    f"customer {c.pk} is already put in group {m['code']} on line {twin['line']}", m["code"])
            continue
        other = next((o for o in seen.get((c.pk, relation), []) if o["key"] != m["key"] and overlaps(o)), None)
        if other is not None:
            bad.add(m["line"], "customer", "member_same_relation",
                    f"customer {c.pk} is put in group {other['code']} by the same relation ({relation}) on line "
                    f"{other['line']}: a customer belongs to one group per relation type", other["code"])
            continue
        seen.setdefault((c.pk, relation), []).append(m)
        by_customer.setdefault(c.pk, []).append(m)


def _propose_import(actor: Actor, name: str, new_groups: dict[str, dict[str, Any]],
                    moves: dict[str, dict[str, Any]], members: list[dict[str, Any]]) -> ImportResult:
    batch = f"{timezone.now():%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    changes: list[GroupChange] = []

    def source(line: int) -> str:
        return f"{name}:{line}"

    def add(kind: str, payload: dict[str, Any], line: int, group: CustomerGroup | None = None) -> None:
        changes.append(GroupChange(kind=kind, group=group, payload=payload, proposed_by=actor, batch=batch,
                                   source=source(line)))

    done: set[str] = set()

    def create(key: str, trail: tuple[str, ...] = ()) -> None:  # parents first
        spec = new_groups[key]
        pkey = spec["parent"].lower() if spec["parent"] else None
        if pkey in new_groups and pkey not in done and pkey not in trail:
            create(pkey, (*trail, key))
        if key in done:
            return
        done.add(key)
        parent = _group_by_code(spec["parent"], "parent_group") if spec["parent"] and pkey not in new_groups else None
        add(CREATE, {"code": spec["code"], "name": spec["name"], "parent": parent.pk if parent else None,
                     "parent_code": spec["parent"] if pkey in new_groups else None, "head": None}, spec["line"])

    for key in sorted(new_groups, key=lambda k: new_groups[k]["line"]):
        create(key)
    moved = 0
    for spec in sorted(moves.values(), key=lambda s: s["line"]):
        if spec.get("unchanged"):
            continue
        pkey = spec["parent"].lower()
        parent = None if pkey in new_groups else _group_by_code(spec["parent"], "parent_group")
        add(MOVE, {"group": spec["group"].pk, "parent": parent.pk if parent else None,
                   "parent_code": spec["parent"] if pkey in new_groups else None}, spec["line"], spec["group"])
        moved += 1
    for m in members:
        g = m["group"]
        add(ADD, {"group": g.pk if g is not None else None, "group_code": m["code"], "customer": m["customer"].pk,
                  "relation": m["relation"], "effective_from": m["effective_from"].isoformat(),
                  "effective_to": m["effective_to"].isoformat() if m["effective_to"] else None}, m["line"], g)
    created = GroupChange.objects.bulk_create(changes)
    if any(c.pk is None for c in created):  # backends without RETURNING: read the ids back
        created = list(GroupChange.objects.filter(batch=batch).order_by("pk"))
    ledger.append_many(actor, (_proposed_event(c) for c in created))
    return ImportResult(file=name, batch=batch, changes=len(created), new_groups=len(new_groups), moves=moved,
                        members=len(members))
