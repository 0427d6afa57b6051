"""A credit plan as the spreadsheet planners already use: one sheet, the plan in a few header rows, then
one row per dimension combination (a quota), each pointing at its parent row.

Why here and not in the views: the import is a use case (a plan and its whole quota tree, all or nothing)
that the page, the API and the CLI can share. It only calls `services`, so the spreadsheet goes through
exactly the checks a planner typing into the form would meet (registered dimension codes, children not
above their parent, no negative quota...). A problem names the sheet row and the column.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from creditplan.core.access import Actor
from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.core.money import format_minor, parse_minor, to_major
from creditplan.plans import services
from creditplan.plans.domain import parse_plan_amount
from creditplan.plans.services import PlanView

SHEET = "plan"
# Header rows: (label in column A, key). Values are in column B.
HEADER_ROWS = [
    ("计划代码 plan code", "code"),
    ("计划名称 plan name", "name"),
    ("期间开始 period start", "period_start"),
    ("期间结束 period end", "period_end"),
    ("净资本（元） net capital (yuan)", "net_capital"),
    ("状态 status", "status"),
]
# Table columns: (header, key, editable on import).
COLUMNS = [
    ("序号 row", "row", True),
    ("层级 level", "level", True),
    ("上级 parent row", "parent", True),
    ("机构 branch", "branch", True),
    ("产品 product", "product", True),
    ("行业 industry", "industry", True),
    ("地区 region", "region", True),
    ("客群 segment", "segment", True),
    ("新增投放额度（元） new lending (yuan)", "new_lending_limit", True),
    ("余额额度（元） balance (yuan)", "balance_limit", True),
    ("控制方式 mode", "control_mode", True),
    ("已占用（元） reserved (yuan)", "reserved", False),
    ("已投放（元） consumed (yuan)", "consumed", False),
    ("余额（元） outstanding (yuan)", "outstanding", False),
    ("使用率 utilisation", "utilisation", False),
]
COLUMN_OF = {key: i for i, (_h, key, _e) in enumerate(COLUMNS)}
MODE_LABELS = {"hard": "刚性控制 hard", "soft": "柔性控制 soft", "monitor": "仅监测 monitor"}
_MODE_WORDS = {"hard": "hard", "刚性控制": "hard", "刚性": "hard", "soft": "soft", "柔性控制": "soft", "柔性": "soft",
               "monitor": "monitor", "仅监测": "monitor", "监测": "monitor"}
_MONEY = "#,##0.00"
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")
_READ_ONLY_FILL = PatternFill("solid", fgColor="F2F2F2")


#: A text cell starting with one of these is a formula (or becomes one when edited) in Excel, WPS and LibreOffice:
#: `=HYPERLINK("http://…","点击")` in a branch or product name would run on the planner's machine.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _as_text(wb: Workbook) -> None:
    """Every text cell is written as text, never as a formula: data type "s" (openpyxl otherwise stores a string
    starting with "=" as a formula) and Excel's quote prefix (the cell shows the text and stays text when edited).
    The import reads it back as the same string (tests/plans/test_excel_text_cells.py). The exports write no
    formulas of their own; the mode list is a data validation, not a cell."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    cell.data_type = "s"
                    cell.quotePrefix = True


def _to_bytes(wb: Workbook) -> bytes:
    _as_text(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- export ----------------------------------------------------------------------------------------------

def export_plan_xlsx(actor: Actor, plan_id: int) -> bytes:
    """The plan and its quota tree (depth first, so a parent row always comes before its children), with
    the live counters as read-only columns."""
    plan = services.get_plan(actor, plan_id)
    quotas = services.plan_quotas(actor, plan_id)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = "信贷计划 credit plan"
    ws["A1"].font = Font(bold=True, size=14)
    values = {"code": plan.code, "name": plan.name, "period_start": plan.period_start,
              "period_end": plan.period_end, "net_capital": to_major(plan.net_capital_minor), "status": plan.status}
    for i, (label, key) in enumerate(HEADER_ROWS, start=2):
        ws.cell(i, 1, label).font = _BOLD
        cell = ws.cell(i, 2, values[key])
        if key == "net_capital":
            cell.number_format = _MONEY
        elif key.startswith("period"):
            cell.number_format = "yyyy-mm-dd"
    head = len(HEADER_ROWS) + 3
    for c, (title, _key, editable) in enumerate(COLUMNS, start=1):
        cell = ws.cell(head, c, title)
        cell.font = _BOLD
        cell.fill = _HEAD_FILL if editable else _READ_ONLY_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    number: dict[int, int] = {}
    level: dict[int | None, int] = {None: 0}
    for n, q in enumerate(quotas, start=1):
        number[q.id] = n
        level[q.id] = level.get(q.parent_id, 0) + 1
        s = q.state
        row = {
            "row": n, "level": level[q.id], "parent": number.get(q.parent_id) if q.parent_id else None,
            "branch": q.branch or None, "product": q.product or None, "industry": q.industry or None,
            "region": q.region or None, "segment": q.segment or None,
            "new_lending_limit": to_major(s.new_lending_limit), "balance_limit": to_major(s.balance_limit),
            "control_mode": MODE_LABELS.get(q.control_mode, q.control_mode), "reserved": to_major(s.reserved),
            "consumed": to_major(s.consumed), "outstanding": to_major(s.outstanding),
            "utilisation": float(s.utilisation),  # display only
        }
        for c, (_title, key, editable) in enumerate(COLUMNS, start=1):
            cell = ws.cell(head + n, c, row[key])
            if key in ("new_lending_limit", "balance_limit", "reserved", "consumed", "outstanding"):
                cell.number_format = _MONEY
            elif key == "utilisation":
                cell.number_format = "0.0%"
            elif key == "region":
                cell.number_format = "@"
            if not editable:
                cell.fill = _READ_ONLY_FILL
    modes = DataValidation(type="list", formula1='"' + ",".join(MODE_LABELS.values()) + '"', allow_blank=True)
    ws.add_data_validation(modes)
    mode_col = get_column_letter(COLUMN_OF["control_mode"] + 1)
    modes.add(f"{mode_col}{head + 1}:{mode_col}{head + 500}")
    widths = [8, 8, 10, 10, 12, 10, 10, 12, 20, 20, 16, 18, 18, 18, 12]
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = w
    ws.column_dimensions["A"].width = 30
    ws.freeze_panes = ws.cell(head + 1, 1)
    return _to_bytes(wb)


def export_dashboard_xlsx(actor: Actor, plan_id: int, *, branch: str | None = None) -> bytes:
    """The dashboard's tables (quotas with utilisation, pace and forecast; the branch ranking; alerts)."""
    d = services.plan_dashboard(actor, plan_id, branch=branch)
    wb = Workbook()
    ws = wb.active
    ws.title = "dashboard"
    ws.append([f"信贷计划执行 plan execution: {d['plan']['code']} {d['plan']['name']}"])
    ws.append(["期间 period", *d["plan"]["period"], "截至 as of", d["plan"]["today"], "机构 branch", branch or "全部 all"])
    ws.append([])
    heads = ["额度 quota", "机构 branch", "控制方式 mode", "新增投放额度（元） new lending", "已占用（元） reserved",
             "已投放（元） consumed", "可用（元） available", "余额（元） outstanding", "余额额度（元） balance",
             "使用率 utilisation", "进度 pace", "期末预测（元） forecast",
             # the forecast term by term (issue 19 §4, docs/plan-forecast.md)
             "在途申请×转化率（元） pipeline × conversion", "日均投放推算（元） run-rate",
             "到期末计划回收本金（元） scheduled repayments", "期末余额预测（元） balance forecast"]
    ws.append(heads)
    for c in range(1, len(heads) + 1):
        ws.cell(ws.max_row, c).font = _BOLD
    for r in d["quotas"]:
        f = r["forecast"]
        ws.append([r["label"], r["branch"], MODE_LABELS.get(r["mode"], r["mode"]), to_major(r["new_lending_limit"]),
                   to_major(r["reserved"]), to_major(r["consumed"]), to_major(r["available"]), to_major(r["outstanding"]),
                   to_major(r["balance_limit"]), r["utilisation"], r["pace"], to_major(r["forecast_new_lending"]),
                   to_major(f["pipeline"]), to_major(f["run_rate"]), to_major(f["repayments"]), to_major(f["balance"])])
        for c in (*range(4, 10), *range(12, 17)):
            ws.cell(ws.max_row, c).number_format = _MONEY
        ws.cell(ws.max_row, 10).number_format = "0.0%"
        ws.cell(ws.max_row, 11).number_format = "0.00"
    pace_words = {"ahead": "领先 ahead", "behind": "落后 behind", "on_plan": "符合 on plan"}
    rank = wb.create_sheet("ranking")
    rank.append(["额度 quota", "机构 branch", "期末预测（元） forecast", "额度（元） quota", "偏离 deviation",
                 "方向 over/under", "进度 pace", "与计划相比 against the plan", "调整次数 adjustments",
                 "闲置额度（元） idle (yuan)"])
    for r in d["ranking"]:
        direction = {"over": "超出 over", "under": "不足 under"}.get(r["direction"], "持平 on the quota")
        rank.append([r["label"], r["branch"], to_major(r["forecast"]), to_major(r["limit"]), r["deviation"], direction,
                     r["pace"], pace_words.get(r["pace_status"] or "", ""), r["adjustments"], to_major(r["idle"])])
        for c in (3, 4, 10):
            rank.cell(rank.max_row, c).number_format = _MONEY
        rank.cell(rank.max_row, 5).number_format = "0.0%"
        rank.cell(rank.max_row, 7).number_format = "0.00"
    alerts = wb.create_sheet("alerts")
    alerts.append(["额度 quota", "类型 kind", "级别 level", "说明 message"])
    for a in d["alerts"]:
        alerts.append([a["quota"], a["kind"], a["level"], a["message"]])
    for sheet in (ws, rank, alerts):
        sheet.column_dimensions["A"].width = 36
        for c in range(2, 17):
            sheet.column_dimensions[get_column_letter(c)].width = 18
    return _to_bytes(wb)


# --- import ----------------------------------------------------------------------------------------------

@dataclass
class _Row:
    sheet_row: int
    number: int
    level: int
    parent: int | None
    data: dict[str, str]
    quota_id: int | None = None
    children: list[_Row] = field(default_factory=list)


def _bad(sheet_row: int, key: str | None, message: str, *, code: str = "excel_row") -> ValidationError:
    column = ""
    if key in COLUMN_OF:
        c = COLUMN_OF[key]
        column = f", column {get_column_letter(c + 1)} ({COLUMNS[c][0]})"
    return ValidationError(f"row {sheet_row}{column}: {message}", field=key or "file", code=code,
                           extra={"row": sheet_row, "column": key})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _amount(value: Any, sheet_row: int, key: str) -> str:
    """A cell to the plain decimal text the services read (core.money.parse_minor), checked here so that a bad
    amount names its row and column. A blank cell is 0. Numbers typed in Excel come back as float: the shortest
    decimal that round-trips (repr) is what the planner typed, and is then checked like any text — a third
    decimal is refused, never rounded. Thousands separators (, or ，) are the sheet's display, not the amount."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "0"
    if isinstance(value, bool):
        raise _bad(sheet_row, key, "not an amount", code="amount_format")
    if isinstance(value, float):
        value = format(Decimal(repr(value)), "f")  # 1e+16 → "10000000000000000": the cell's number, not notation
    text = str(value).replace(",", "").replace("，", "").strip()
    try:
        parse_plan_amount(text, key, allow_negative=True)  # the sign is the services' to judge (negative_amount)
    except ValidationError as exc:
        raise _bad(sheet_row, key, exc.message, code=exc.code)
    return text


def _integer(value: Any, sheet_row: int, key: str, *, required: bool) -> int | None:
    text = _text(value)
    if not text:
        if required:
            raise _bad(sheet_row, key, "a whole number is required", code="required")
        return None
    try:
        return int(text)
    except ValueError:
        raise _bad(sheet_row, key, f"{text!r} is not a whole number")


def _mode(value: Any, sheet_row: int) -> str:
    text = _text(value)
    if not text:
        return ""
    for word in text.replace("/", " ").split():
        if word.lower() in _MODE_WORDS:
            return _MODE_WORDS[word.lower()]
    raise _bad(sheet_row, "control_mode", f"{text!r}: the mode is 刚性控制 hard, 柔性控制 soft or 仅监测 monitor",
               code="unknown_control_mode")


def _date(value: Any, key: str, sheet_row: int) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _text(value).replace("/", "-")
    if not text:
        raise _bad(sheet_row, None, f"{key} is required (B{sheet_row})", code="required")
    return text


def _read(data: bytes) -> tuple[dict[str, Any], dict[str, int], list[_Row]]:
    try:
        wb = load_workbook(io.BytesIO(data), data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, xml, key errors) on a file that is not xlsx
        raise ValidationError(f"not an Excel (.xlsx) file: {exc.__class__.__name__}", field="file",
                              code="excel_format")
    ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    header: dict[str, Any] = {}
    header_row: dict[str, int] = {}
    head_at = None
    for i, r in enumerate(rows, start=1):
        first = _text(r[0] if r else None)
        if first.startswith("序号"):
            head_at = i
            break
        for label, key in HEADER_ROWS:
            if first and first.split()[0] == label.split()[0]:
                header[key] = r[1] if len(r) > 1 else None
                header_row[key] = i
    if head_at is None:
        raise ValidationError("no quota table: the header row starting with 序号 is missing", field="file",
                              code="excel_layout")
    titles = [_text(c) for c in rows[head_at - 1]]
    position: dict[str, int] = {}
    for title, key, editable in COLUMNS:
        word = title.split()[0]
        found = next((j for j, t in enumerate(titles) if t.split() and t.split()[0] == word), None)
        if found is None and editable:
            raise _bad(head_at, None, f"the column {title} is missing", code="excel_layout")
        if found is not None:
            position[key] = found
    table: list[_Row] = []
    for i, r in enumerate(rows[head_at:], start=head_at + 1):
        def cell(key: str, r: list[Any] = r) -> Any:
            j = position.get(key)
            return r[j] if j is not None and j < len(r) else None

        if all(_text(cell(k)) == "" for k, _ in ((c[1], 0) for c in COLUMNS if c[2])):
            continue  # blank line
        number = _integer(cell("row"), i, "row", required=True)
        level = _integer(cell("level"), i, "level", required=True)
        parent = _integer(cell("parent"), i, "parent", required=False)
        assert number is not None and level is not None
        values = {k: _text(cell(k)) for k in ("branch", "product", "industry", "region", "segment")}
        if values["region"].isdigit() and len(values["region"]) == 1:
            values["region"] = "0" + values["region"]
        values["new_lending_limit"] = _amount(cell("new_lending_limit"), i, "new_lending_limit")
        values["balance_limit"] = _amount(cell("balance_limit"), i, "balance_limit")
        values["control_mode"] = _mode(cell("control_mode"), i)
        table.append(_Row(i, number, level, parent, values))
    if not table:
        raise ValidationError("the quota table is empty", field="file", code="excel_layout")
    return header, header_row, table


def _tree(table: list[_Row]) -> _Row:
    by_number: dict[int, _Row] = {}
    root = None
    for row in table:
        if row.number in by_number:
            raise _bad(row.sheet_row, "row", f"row number {row.number} appears twice")
        if row.parent is None:
            if root is not None:
                raise _bad(row.sheet_row, "parent", f"only one row may have no parent (row {root.sheet_row} has none)")
            if row.level != 1:
                raise _bad(row.sheet_row, "level", "the row without a parent is level 1")
            if any(row.data[k] for k in ("branch", "product", "industry", "region", "segment")):
                raise _bad(row.sheet_row, "branch", "the level-1 row is the whole plan: leave its dimensions blank")
            root = row
        else:
            parent = by_number.get(row.parent)
            if parent is None:
                raise _bad(row.sheet_row, "parent", f"parent row {row.parent} does not come before this row")
            if row.level != parent.level + 1:
                raise _bad(row.sheet_row, "level", f"level {row.level} under a level-{parent.level} parent "
                                                   f"should be {parent.level + 1}")
            parent.children.append(row)
        by_number[row.number] = row
    if root is None:
        raise ValidationError("no level-1 row (the whole plan)", field="file", code="excel_layout")
    return root


def import_plan_xlsx(actor: Actor, data: bytes, *, code: str | None = None) -> PlanView:
    """Create the plan and its whole quota tree from a spreadsheet, in one transaction: any bad row and
    nothing is written. `code` overrides the plan code in the sheet (e.g. to copy last year's plan)."""
    header, header_row, table = _read(data)
    root = _tree(table)
    with transaction.atomic():
        try:
            plan = services.create_plan(
                actor, code=code or _text(header.get("code")), name=_text(header.get("name")),
                period_start=_date(header.get("period_start"), "period start", header_row.get("period_start", 0)),
                period_end=_date(header.get("period_end"), "period end", header_row.get("period_end", 0)),
                net_capital=_amount(header.get("net_capital"), header_row.get("net_capital", 0), "net_capital"),
                new_lending_limit=root.data["new_lending_limit"], balance_limit=root.data["balance_limit"],
                control_mode=root.data["control_mode"] or "hard",
            )
        except ValidationError as exc:
            if exc.field in ("new_lending_limit", "balance_limit", "control_mode"):
                raise _bad(root.sheet_row, exc.field, exc.message, code=exc.code)
            if exc.field in header_row:
                raise ValidationError(f"row {header_row[exc.field]}: {exc.message}", field=exc.field,
                                      code=exc.code, extra={"row": header_row[exc.field]})
            raise
        assert plan.root is not None
        root.quota_id = plan.root.id
        queue = [root]
        while queue:
            parent = queue.pop(0)
            if not parent.children:
                continue
            try:
                made = services.split_quota(actor, parent.quota_id, [c.data for c in parent.children])
            except CreditplanError as exc:
                if exc.http_status in (401, 403):
                    raise
                culprit, message = parent.children[0], exc.message
                child = exc.extra.get("child")
                if isinstance(child, int) and 1 <= child <= len(parent.children):
                    culprit, message = parent.children[child - 1], exc.extra.get("problem", message)
                key = exc.field if exc.field in COLUMN_OF else None
                if exc.code == "split_above_parent":  # the domain counts in fen; the sheet speaks yuan
                    parts = []
                    for k, word in (("new_lending_limit", "new-lending"), ("balance_limit", "balance")):
                        total = sum(parse_minor(c.data[k], k, allow_negative=True) for c in parent.children)
                        limit = parse_minor(parent.data[k], k, allow_negative=True)
                        if total > limit:
                            parts.append(f"the children's {word} quotas add up to {format_minor(total)} yuan, above "
                                         f"the parent's {format_minor(limit)}")
                            key = key or k
                    message = f"children of row {parent.number} (sheet row {parent.sheet_row}): " + (
                        "; ".join(parts) or message)
                raise _bad(culprit.sheet_row, key, message, code=exc.code)
            for child, view in zip(parent.children, made, strict=True):
                child.quota_id = view.id
                queue.append(child)
        return services.get_plan(actor, plan.id)
