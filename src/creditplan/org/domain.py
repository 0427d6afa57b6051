"""Roles, permissions and the branch hierarchy rules, as plain data.

Why a table in code rather than Django's permission rows: the permission model is part of the product's
control framework (who may see personal data, who may approve), reviewed like code and identical in
every installation; Django groups would let it drift per database.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    LOAN_OFFICER = "loan_officer"
    APPROVER = "approver"
    RISK_MANAGER = "risk_manager"
    PLANNER = "planner"
    OPERATIONS = "operations"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Perm(StrEnum):
    CUSTOMER_VIEW = "customer.view"
    CUSTOMER_CREATE = "customer.create"
    CUSTOMER_UPDATE = "customer.update"
    CUSTOMER_ARCHIVE = "customer.archive"
    CUSTOMER_VIEW_PII = "customer.view_pii"
    AUDIT_VIEW = "audit.view"
    USER_MANAGE = "org.user_manage"
    BRANCH_MANAGE = "org.branch_manage"
    MODEL_VIEW = "model.view"
    MODEL_MANAGE = "model.manage"
    MODEL_APPROVE = "model.approve"
    MODEL_SCORE = "model.score"
    PLAN_VIEW = "plan.view"
    PLAN_MANAGE = "plan.manage"
    QUOTA_RESERVE = "plan.reserve"
    QUOTA_REQUEST = "plan.request_adjustment"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.CUSTOMER: ("Customer", "客户"),
    Role.LOAN_OFFICER: ("Loan officer", "客户经理"),
    Role.APPROVER: ("Approver", "审批人"),
    Role.RISK_MANAGER: ("Risk manager", "风险经理"),
    Role.PLANNER: ("Planner", "计划管理员"),
    Role.OPERATIONS: ("Operations", "运营"),
    Role.AUDITOR: ("Auditor", "审计"),
    Role.ADMIN: ("Administrator", "系统管理员"),
}

_STAFF_READ = {Perm.CUSTOMER_VIEW}
ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.CUSTOMER: frozenset(),
    Role.LOAN_OFFICER: frozenset(
        _STAFF_READ | {Perm.CUSTOMER_CREATE, Perm.CUSTOMER_UPDATE, Perm.CUSTOMER_VIEW_PII, Perm.MODEL_SCORE,
                       Perm.PLAN_VIEW, Perm.QUOTA_REQUEST}
    ),
    Role.APPROVER: frozenset(
        _STAFF_READ | {Perm.CUSTOMER_VIEW_PII, Perm.MODEL_SCORE, Perm.PLAN_VIEW, Perm.QUOTA_RESERVE,
                       Perm.QUOTA_REQUEST}
    ),
    Role.RISK_MANAGER: frozenset(
        _STAFF_READ | {Perm.MODEL_VIEW, Perm.MODEL_MANAGE, Perm.MODEL_APPROVE, Perm.MODEL_SCORE, Perm.PLAN_VIEW}
    ),
    Role.PLANNER: frozenset(_STAFF_READ | {Perm.PLAN_VIEW, Perm.PLAN_MANAGE}),
    Role.OPERATIONS: frozenset(
        _STAFF_READ | {Perm.CUSTOMER_UPDATE, Perm.CUSTOMER_ARCHIVE, Perm.CUSTOMER_VIEW_PII, Perm.PLAN_VIEW,
                       Perm.QUOTA_RESERVE}
    ),
    Role.AUDITOR: frozenset(_STAFF_READ | {Perm.AUDIT_VIEW, Perm.MODEL_VIEW, Perm.PLAN_VIEW}),
    Role.ADMIN: frozenset(set(Perm)),
}

# Head-office functions work across the whole institution; branch staff see their own subtree only.
ALL_BRANCH_ROLES: frozenset[Role] = frozenset({Role.RISK_MANAGER, Role.PLANNER, Role.AUDITOR, Role.ADMIN})


def has_perm(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def sees_all_branches(role: str) -> bool:
    return role in ALL_BRANCH_ROLES


class BranchLevel(StrEnum):
    HEAD_OFFICE = "head_office"
    BRANCH = "branch"
    SUB_BRANCH = "sub_branch"


_PARENT_LEVEL: dict[BranchLevel, BranchLevel | None] = {
    BranchLevel.HEAD_OFFICE: None,
    BranchLevel.BRANCH: BranchLevel.HEAD_OFFICE,
    BranchLevel.SUB_BRANCH: BranchLevel.BRANCH,
}


def parent_level_problem(level: BranchLevel, parent_level: BranchLevel | None) -> str | None:
    """Why `level` cannot sit under `parent_level`, or None when the hierarchy is respected."""
    expected = _PARENT_LEVEL[level]
    if expected is None and parent_level is not None:
        return "a head office has no parent"
    if expected is not None and parent_level != expected:
        return f"a {level.value} must sit under a {expected.value}"
    return None
