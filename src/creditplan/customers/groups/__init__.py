"""Customer groups (关联集团 / 关联方): the registry of connected customers whose exposures count together against
the group limit (docs/customer-groups.md).

A group has member customers, each by a relation type (control, mutual guarantee, same actual controller, family)
from an effective date (to one, once it ends), and may sit inside a larger group; `CustomerGroup.root` is the top of
its tree, where the limit applies. Nothing in the registry changes directly: every change is a `GroupChange`
proposed by one user and applied only when another user approves it (maker-checker, both with
Perm.GROUP_MANAGE). The change is checked when it is proposed and again when it is approved (the registry may have
moved meanwhile); applying it writes the registry and appends a ledger event in the same transaction.

A customer is named by customer number, resident ID number (GB 11643, found through the blind index) or unified
social credit code (GB 32100): what waits in a change is the customer number, never the identity number, and the
pages show an individual's identity masked.

Groups are head-office data: roles that see every branch see every group; branch staff see the groups that
have one of their branch's customers, and of their members only their branch's customers.

Split by what each part does (every name callers use is re-exported here, so `from creditplan.customers import
groups` and `from creditplan.customers.groups import X` keep working):

    registry.py   reading the registry: groups as a tree, a group with its members, a customer's groups, the
                  records callers get back; a customer named by customer number, ID number or credit code
    changes.py    proposing and deciding changes (maker-checker): checking each against the registry, applying
                  it onto the registry and the ledger in one transaction, the changes waiting for a decision
    importing.py  the file import: a CSV or Excel file of group relations proposed as one batch of changes
"""

from __future__ import annotations

from creditplan.customers.groups.changes import (
    ADD,
    APPROVED,
    CREATE,
    DISSOLVE,
    END,
    KINDS,
    MOVE,
    PENDING,
    REJECTED,
    ChangeView,
    decide_batch,
    decide_change,
    list_changes,
    propose_change,
)
from creditplan.customers.groups.importing import (
    COLUMNS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_COLUMNS,
    ImportResult,
    import_file,
    read_import_file,
)
from creditplan.customers.groups.registry import (
    ACTIVE,
    DISSOLVED,
    RELATIONS,
    GroupDetail,
    GroupRef,
    GroupView,
    MemberView,
    get_group,
    group_record,
    groups_of_customer,
    list_groups,
    resolve_customer,
)

__all__ = [
    # registry.py
    "ACTIVE",
    "DISSOLVED",
    "RELATIONS",
    "GroupDetail",
    "GroupRef",
    "GroupView",
    "MemberView",
    "get_group",
    "group_record",
    "groups_of_customer",
    "list_groups",
    "resolve_customer",
    # changes.py
    "ADD",
    "APPROVED",
    "CREATE",
    "DISSOLVE",
    "END",
    "KINDS",
    "MOVE",
    "PENDING",
    "REJECTED",
    "ChangeView",
    "decide_batch",
    "decide_change",
    "list_changes",
    "propose_change",
    # importing.py
    "COLUMNS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "REQUIRED_COLUMNS",
    "ImportResult",
    "import_file",
    "read_import_file",
]
