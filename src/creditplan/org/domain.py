"""The organisation's rules as plain data: the branch hierarchy, and (re-exported from the kernel, core/access.py)
roles, permissions and the permission check."""

from __future__ import annotations

from enum import StrEnum

# Roles and permissions are the kernel's (every layer checks them, the ledger included): core/access.py.
# Re-exported here because they are the organisation's vocabulary.
from creditplan.core.access import (
    ALL_BRANCH_ROLES,
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    Actor,
    Perm,
    Role,
    has_perm,
    may,
    require,
    sees_all_branches,
)

__all__ = ["ALL_BRANCH_ROLES", "ROLE_LABELS", "ROLE_PERMISSIONS", "Actor", "BranchLevel", "Perm", "Role", "has_perm",
           "may", "parent_level_problem", "require", "sees_all_branches"]


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
