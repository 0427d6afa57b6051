"""The plan in Excel: export → import round-trips; a bad row is refused by row and column, nothing written."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from creditplan.core.errors import Forbidden, ValidationError
from creditplan.plans import excel
from creditplan.plans import services as plans

TODAY = dt.date.today()


@pytest.fixture
def plan(bank):
    planner = bank["planner"]
    plans.add_dimension_code(planner, "product", "mortgage", "个人住房贷款")
    plans.add_dimension_code(planner, "segment", "sme", "小微企业")
    p = plans.create_plan(planner, code="y2026", name="2026 信贷计划", period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="500000000.50",
                          new_lending_limit="100000000", balance_limit="80000000", control_mode="soft")
    bj, _sh = plans.split_quota(planner, p.root.id, [
        {"branch": "BJ", "new_lending_limit": "60000000", "balance_limit": "50000000", "control_mode": "hard"},
        {"branch": "SH", "new_lending_limit": "30000000.25", "balance_limit": "25000000", "control_mode": "monitor"},
    ])
    plans.split_quota(planner, bj.id, [
        {"branch": "BJ01", "product": "mortgage", "new_lending_limit": "20000000", "balance_limit": "20000000"},
        {"branch": "BJ", "industry": "C", "region": "11", "segment": "sme", "new_lending_limit": "10000000",
         "balance_limit": "5000000"},
    ])
    plans.activate_plan(planner, p.id)
    plans.reserve_quota(bank["approver_bj"], application_ref="APP-1", amount="2000000", branch="BJ01",
                        product="mortgage")
    return p


def shape(actor, plan_id):  # type: ignore[no-untyped-def]
    """The tree without ids: (depth, dimensions, limits, mode) in depth-first order."""
    depth: dict[int, int] = {}
    out = []
    for q in plans.plan_quotas(actor, plan_id):
        depth[q.id] = depth.get(q.parent_id, -1) + 1 if q.parent_id else 0
        out.append((depth[q.id], q.branch, q.product, q.industry, q.region, q.segment, q.state.new_lending_limit,
                    q.state.balance_limit, q.control_mode))
    return out


def sheet(data: bytes):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data))["plan"]


def table_start(ws) -> int:  # type: ignore[no-untyped-def]
    return next(r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 1).value or "").startswith("序号"))


def edit(data: bytes, changes: dict[tuple[int, int], object]) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    ws = wb["plan"]
    head = table_start(ws)
    for (row, col), value in changes.items():
        ws.cell(head + row if row > 0 else -row, col, value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_export_layout(bank, plan):
    ws = sheet(excel.export_plan_xlsx(bank["planner"], plan.id))
    assert ws["B2"].value == "y2026" and ws["B3"].value == "2026 信贷计划"
    head = table_start(ws)
    titles = [ws.cell(head, c).value for c in range(1, 16)]
    assert [t.split()[0] for t in titles] == ["序号", "层级", "上级", "机构", "产品", "行业", "地区", "客群", "新增投放额度（元）",
                                              "余额额度（元）", "控制方式", "已占用（元）", "已投放（元）", "余额（元）", "使用率"]
    rows = [[ws.cell(r, c).value for c in range(1, 16)] for r in range(head + 1, ws.max_row + 1)]
    assert len(rows) == 5  # one row per dimension combination
    root, bj, bj01 = rows[0], rows[1], rows[2]
    assert root[:3] == [1, 1, None] and root[10].startswith("柔性控制")
    assert bj[:4] == [2, 2, 1, "BJ"] and bj[10].startswith("刚性控制")
    assert bj01[:5] == [3, 3, 2, "BJ01", "mortgage"]
    assert bj01[11] == 2_000_000 and bj01[14] == pytest.approx(0.1)  # reserved 2 m of 20 m
    assert rows[3][5:8] == ["C", "11", "sme"]


def test_export_then_import_round_trips(bank, plan):
    planner = bank["planner"]
    data = excel.export_plan_xlsx(planner, plan.id)
    plans.close_plan(planner, plan.id)  # the copy covers the same period
    copy = excel.import_plan_xlsx(planner, data, code="y2026-copy")
    assert copy.code == "y2026-copy" and copy.name == "2026 信贷计划" and copy.status == "draft"
    assert (copy.period_start, copy.period_end) == (plan.period_start, plan.period_end)
    assert copy.net_capital_minor == 50_000_000_050
    assert shape(planner, copy.id) == shape(planner, plan.id)
    again = excel.export_plan_xlsx(planner, copy.id)
    a, b = sheet(data), sheet(again)
    head = table_start(a)
    for r in range(head, a.max_row + 1):  # editable columns identical; counters are zero in the copy
        assert [a.cell(r, c).value for c in range(1, 12)] == [b.cell(r, c).value for c in range(1, 12)]


def test_a_bad_row_names_row_and_column_and_writes_nothing(bank, plan):
    planner = bank["planner"]
    data = excel.export_plan_xlsx(planner, plan.id)
    plans.close_plan(planner, plan.id)
    before = len(plans.list_plans(planner))
    head = table_start(sheet(data))
    cases = [
        ({(3, 9): "-5"}, f"row {head + 3}, column I", "negative_amount"),
        ({(4, 7): "99"}, f"row {head + 4}, column G", "unknown_region"),
        ({(3, 5): "no-such-product"}, f"row {head + 3}, column E", "unknown_product"),
        ({(2, 4): "XX"}, f"row {head + 2}, column D", "unknown_branch"),
        ({(3, 3): 9}, f"row {head + 3}, column C", "excel_row"),
        ({(2, 11): "strict"}, f"row {head + 2}, column K", "unknown_control_mode"),
        ({(2, 9): 95_000_000}, f"row {head + 2}, column I", "split_above_parent"),
        ({(3, 9): "abc"}, f"row {head + 3}, column I", "amount_format"),
    ]
    for changes, where, code in cases:
        with pytest.raises(ValidationError) as exc:
            excel.import_plan_xlsx(planner, edit(data, changes), code="bad")
        assert exc.value.message.startswith(where), exc.value.message
        assert exc.value.code == code
        assert len(plans.list_plans(planner)) == before  # all or nothing: not even the plan
    with pytest.raises(ValidationError) as exc:
        excel.import_plan_xlsx(planner, edit(data, {(2, 9): 95_000_000}), code="bad")
    assert "above the parent's 100,000,000.00" in exc.value.message


def test_import_from_a_hand_made_sheet_and_refusals(bank):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "plan"
    ws.append(["信贷计划"])
    ws.append(["计划代码", "h2026"])
    ws.append(["计划名称", "手工计划"])
    ws.append(["期间开始", dt.datetime(TODAY.year, 1, 1)])
    ws.append(["期间结束", f"{TODAY.year}/12/31"])
    ws.append(["净资本（元）", 300_000_000])
    ws.append([])
    ws.append(["序号", "层级", "上级", "机构", "产品", "行业", "地区", "客群", "新增投放额度（元）", "余额额度（元）", "控制方式"])
    ws.append([1, 1, None, None, None, None, None, None, 50_000_000, "40,000,000.00", "刚性控制"])
    ws.append([2, 2, 1, "BJ", None, None, None, None, 20_000_000.5, 10_000_000, "柔性控制"])
    ws.append([3, 2, 1, "SH", None, None, None, None, "20000000", 10_000_000, ""])
    buf = io.BytesIO()
    wb.save(buf)
    p = excel.import_plan_xlsx(bank["planner"], buf.getvalue())
    assert p.code == "h2026" and p.root.state.balance_limit == 4_000_000_000
    assert [(q.branch, q.state.new_lending_limit, q.control_mode) for q in plans.plan_quotas(bank["planner"], p.id)] == [
        ("", 5_000_000_000, "hard"), ("BJ", 2_000_000_050, "soft"), ("SH", 2_000_000_000, "hard")]
    with pytest.raises(Forbidden):
        excel.import_plan_xlsx(bank["officer_bj"], buf.getvalue(), code="other")
    with pytest.raises(ValidationError) as exc:
        excel.import_plan_xlsx(bank["planner"], b"not a spreadsheet")
    assert exc.value.code == "excel_format"


def test_dashboard_export(bank, plan):
    wb = load_workbook(io.BytesIO(excel.export_dashboard_xlsx(bank["planner"], plan.id, branch="BJ")))
    ws = wb["dashboard"]
    labels = [ws.cell(r, 1).value for r in range(5, ws.max_row + 1)]
    assert labels and all("北京" in x for x in labels)
    assert {"dashboard", "ranking", "alerts"} <= set(wb.sheetnames)
