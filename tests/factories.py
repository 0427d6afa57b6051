"""Readable builders for test data: a small bank with one branch tree and a user per role."""

from __future__ import annotations

import datetime as dt
from typing import Any

from creditplan.core.ids import make_resident_id, make_uscc
from creditplan.org import services as org

PASSWORD = "test-pass-123"


def make_bank() -> dict[str, Any]:
    """HO → BJ → BJ01 and HO → SH → SH01, with staff of every role placed as a real bank would."""
    org.create_branch(None, code="HO", name="总行", name_en="Head office", level="head_office")
    org.create_branch(None, code="BJ", name="北京分行", level="branch", parent_code="HO", region_code="110100")
    org.create_branch(None, code="BJ01", name="北京海淀支行", level="sub_branch", parent_code="BJ",
                      region_code="110108")
    org.create_branch(None, code="SH", name="上海分行", level="branch", parent_code="HO", region_code="310100")
    org.create_branch(None, code="SH01", name="上海浦东支行", level="sub_branch", parent_code="SH",
                      region_code="310115")
    users = {}
    for username, role, branch in [
        ("admin", "admin", "HO"), ("risk", "risk_manager", "HO"), ("planner", "planner", "HO"),
        ("auditor", "auditor", "HO"), ("ops", "operations", "HO"), ("officer_bj", "loan_officer", "BJ01"),
        ("approver_bj", "approver", "BJ"), ("officer_sh", "loan_officer", "SH01"), ("customer", "customer", None),
    ]:
        users[username] = org.create_user(None, username=username, password=PASSWORD, role=role,
                                          branch_code=branch, display_name=username)
    return users


def resident_id(n: int = 1, *, region: str = "110108", birth: dt.date = dt.date(1985, 6, 15), sex: str = "M") -> str:
    return make_resident_id(region, birth, n, sex)


def individual(n: int = 1, **overrides: Any) -> dict[str, Any]:
    data = {"kind": "individual", "name": f"张三{n}", "id_number": resident_id(n), "phone": "13800138000",
            "monthly_income": "15000.00", "employer": "华为技术有限公司"}
    data.update(overrides)
    return data


def company(n: int = 1, **overrides: Any) -> dict[str, Any]:
    data = {"kind": "company", "name": f"北京华信科技有限公司{n}", "uscc": make_uscc(f"91110108MA{n:07d}"),
            "industry_code": "I65", "region_code": "110108"}
    data.update(overrides)
    return data
