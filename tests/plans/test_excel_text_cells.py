"""Security issue 14 (low): names typed into the system reach planners' spreadsheets. A branch, product or plan named
`=HYPERLINK("http://x","y")` must arrive as text — never as a formula Excel or WPS would run — and the plan import
must read the exported file back with the same names."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from creditplan.org import services as org
from creditplan.plans import excel
from creditplan.plans import services as plans

TODAY = dt.date.today()
EVIL = '=HYPERLINK("http://x","y")'
OTHERS = ["+SUM(1,1)", "-2+3", "@SUM(1)", "\t=1+1"]


@pytest.fixture
def evil_plan(bank):  # type: ignore[no-untyped-def]
    planner = bank["planner"]
    org.create_branch(None, code="EV", name=EVIL, level="branch", parent_code="HO")
    plans.add_dimension_code(planner, "product", EVIL, EVIL)
    p = plans.create_plan(planner, code="evil", name=EVIL, period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="1000000",
                          new_lending_limit="1000000", balance_limit="1000000", control_mode="soft")
    plans.split_quota(planner, p.root.id, [
        {"branch": "EV", "product": EVIL, "new_lending_limit": "500000", "balance_limit": "500000"},
    ])
    plans.activate_plan(planner, p.id)
    return p


def _text_cells(data: bytes) -> dict[str, list[tuple[str, str]]]:
    """(value, data type) of every cell holding one of the names, per sheet, as Excel would read the file."""
    wb = load_workbook(io.BytesIO(data))
    out: dict[str, list[tuple[str, str]]] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and ("HYPERLINK" in cell.value):
                    out.setdefault(ws.title, []).append((cell.value, cell.data_type))
    return out


def test_a_plan_product_and_branch_named_like_a_formula_export_as_text(bank, evil_plan) -> None:  # type: ignore[no-untyped-def]
    cells = _text_cells(excel.export_plan_xlsx(bank["planner"], evil_plan.id))["plan"]
    assert (EVIL, "s") in cells  # the plan name (B3) and the product column
    assert cells and all(kind == "s" for _v, kind in cells) and {v for v, _k in cells} == {EVIL}
    dashboard = _text_cells(excel.export_dashboard_xlsx(bank["planner"], evil_plan.id))
    labels = [v for sheet in dashboard.values() for v, _k in sheet]
    assert any(v.startswith(EVIL) for v in labels)  # the EV branch's quota label
    assert all(kind == "s" for sheet in dashboard.values() for _v, kind in sheet)


def test_every_dangerous_first_character_is_written_as_text() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    for i, value in enumerate([EVIL, *OTHERS, "plain", "北京分行"], start=1):
        wb.active.cell(i, 1, value)
    back = load_workbook(io.BytesIO(excel._to_bytes(wb))).active
    for i, value in enumerate([EVIL, *OTHERS], start=1):
        cell = back.cell(i, 1)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value, "s", True)
    assert back.cell(len(OTHERS) + 2, 1).quotePrefix is False  # ordinary text is left as it was


def test_the_import_reads_the_names_back_intact(bank, evil_plan) -> None:  # type: ignore[no-untyped-def]
    planner = bank["planner"]
    data = excel.export_plan_xlsx(planner, evil_plan.id)
    plans.close_plan(planner, evil_plan.id)
    copy = excel.import_plan_xlsx(planner, data, code="evil-copy")
    assert copy.name == EVIL
    assert [(q.branch, q.product) for q in plans.plan_quotas(planner, copy.id)] == [("", ""), ("EV", EVIL)]
