"""What the administration pages call things: roles, permissions (in words), branch levels, a user's standing,
the reasons chosen for a deactivation or a branch's closing, and the translated text of every refusal of the
organisation's use cases (the branch-close refusal with its counts).

One table, `label(kind, code)`: pages and exports call it; a code it does not know is shown as it is, which the
page tests find."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, ngettext, pgettext_lazy
from django.utils.translation import gettext as _

from creditplan.common.text import problem_text
from creditplan.core.access import ROLE_LABELS, Perm, Role

_TABLE: dict[str, dict[str, Promise]] = {
    "level": {"head_office": pgettext_lazy("branch level", "Head office"),
              "branch": pgettext_lazy("branch level", "Branch"),
              "sub_branch": pgettext_lazy("branch level", "Sub-branch")},
    "user_status": {"active": pgettext_lazy("user", "Active"), "inactive": pgettext_lazy("user", "Deactivated"),
                    "must_change": pgettext_lazy("user", "Must change password")},
    "branch_status": {"open": pgettext_lazy("branch", "Open"), "closed": pgettext_lazy("branch", "Closed")},
    "user_reason": {
        "left": gettext_lazy("Left the bank"), "leave": gettext_lazy("Long leave"),
        "role_change": gettext_lazy("Moved to a job without this access"),
        "security": gettext_lazy("Security concern (log-in misused or exposed)"),
        "error": gettext_lazy("Created or changed by mistake"), "returned": gettext_lazy("Returned to work"),
        "other": gettext_lazy("Other"),
    },
    "branch_reason": {
        "merged": gettext_lazy("Merged into another branch"), "relocated": gettext_lazy("Relocated"),
        "closed_down": gettext_lazy("Closed down"), "error": gettext_lazy("Created by mistake"),
        "other": gettext_lazy("Other"),
    },
    "event": {
        "user.created": gettext_lazy("User created"), "user.changed": gettext_lazy("User changed"),
        "user.deactivated": gettext_lazy("User deactivated"), "user.reactivated": gettext_lazy("User reactivated"),
        "user.password_reset": gettext_lazy("Temporary password given"),
        "user.password_changed": gettext_lazy("Password changed by the user"),
        "auth.token_issued": gettext_lazy("API token issued"), "auth.token_revoked": gettext_lazy("API token revoked"),
        "auth.tokens_revoked": gettext_lazy("API tokens revoked"),
        "branch.created": gettext_lazy("Branch created"), "branch.renamed": gettext_lazy("Branch renamed"),
        "branch.moved": gettext_lazy("Branch moved"), "branch.closed": gettext_lazy("Branch closed"),
        "branch.reopened": gettext_lazy("Branch reopened"),
    },
    "field": {
        "role": gettext_lazy("Role"), "branch": gettext_lazy("Branch"), "display_name": gettext_lazy("Display name"),
        "email": gettext_lazy("E-mail"), "is_active": gettext_lazy("Active"), "is_staff": gettext_lazy("Staff"),
        "is_superuser": gettext_lazy("Superuser"), "name": gettext_lazy("Name (Chinese)"),
        "name_en": gettext_lazy("Name (English)"), "parent": gettext_lazy("Parent"),
    },
    "perm": {
        Perm.CUSTOMER_VIEW: gettext_lazy("See customers of their branches"),
        Perm.CUSTOMER_CREATE: gettext_lazy("Enter new customers"),
        Perm.CUSTOMER_UPDATE: gettext_lazy("Change customer details"),
        Perm.CUSTOMER_ARCHIVE: gettext_lazy("Archive customers"),
        Perm.CUSTOMER_VIEW_PII: gettext_lazy("See ID and phone numbers in full (each view recorded)"),
        Perm.CUSTOMER_IDENTITY_APPROVE: gettext_lazy("Approve another user's identity correction"),
        Perm.AUDIT_VIEW: gettext_lazy("Read and export the audit trail"),
        Perm.TREE_HEAD_ISSUE: gettext_lazy("Sign the ledger's tree head"),
        Perm.USER_MANAGE: gettext_lazy("Manage users, their roles and passwords"),
        Perm.BRANCH_MANAGE: gettext_lazy("Manage branches and their hierarchy"),
        Perm.MODEL_VIEW: gettext_lazy("See scoring models"),
        Perm.MODEL_MANAGE: gettext_lazy("Train and retire scoring models"),
        Perm.MODEL_APPROVE: gettext_lazy("Approve scoring models"),
        Perm.MODEL_SCORE: gettext_lazy("Score applications"),
        Perm.PLAN_VIEW: gettext_lazy("See the credit plan"),
        Perm.PLAN_MANAGE: gettext_lazy("Draw up and change the credit plan"),
        Perm.QUOTA_RESERVE: gettext_lazy("Reserve credit-plan quota"),
        Perm.QUOTA_REQUEST: gettext_lazy("Request a quota adjustment"),
        Perm.LOAN_VIEW: gettext_lazy("See loans"),
        Perm.LOAN_DISBURSE: gettext_lazy("Pay out loans"),
        Perm.LOAN_REPAY: gettext_lazy("Record repayments"),
        Perm.LOAN_REVERSE: gettext_lazy("Reverse payments"),
        Perm.LOAN_RESTRUCTURE: gettext_lazy("Propose restructurings"),
        Perm.LOAN_WRITE_OFF: gettext_lazy("Propose write-offs"),
        Perm.PRODUCT_MANAGE: gettext_lazy("Manage loan products"),
        Perm.CLOSE_RUN: gettext_lazy("Run the daily close"),
        Perm.LOAN_CLASSIFY: gettext_lazy("Propose a loan's risk class"),
        Perm.LOAN_CHANGE_APPROVE: gettext_lazy("Approve another user's loan change"),
        Perm.LOAN_BACKDATE: gettext_lazy("Date payments beyond the back-dating limit"),
        Perm.LOAN_AMEND: gettext_lazy("Amend live contracts in batch"),
        Perm.GL_VIEW: gettext_lazy("See the general ledger postings"),
        Perm.DECISION_MAKE: gettext_lazy("Run credit decisions"),
        Perm.DECISION_VIEW: gettext_lazy("See credit decisions"),
        Perm.POLICY_VIEW: gettext_lazy("See credit policies"),
        Perm.POLICY_EDIT: gettext_lazy("Write credit policies"),
        Perm.POLICY_APPROVE: gettext_lazy("Publish another user's credit policy"),
        Perm.APPLICATION_VIEW: gettext_lazy("See applications (customers: their own)"),
        Perm.APPLICATION_APPLY: gettext_lazy("Apply online for themselves"),
        Perm.APPLICATION_CREATE: gettext_lazy("Enter applications for customers"),
        Perm.APPLICATION_REVIEW: gettext_lazy("Review referred applications"),
        Perm.APPLICATION_APPROVE: gettext_lazy("Decide referred applications, within their authority"),
        Perm.APPLICATION_ANALYTICS: gettext_lazy("See process analytics"),
        Perm.INTEGRATION_MANAGE: gettext_lazy("Manage webhooks and their deliveries"),
        Perm.RISK_VIEW: gettext_lazy("See risk indicators and alerts"),
        Perm.RISK_MANAGE: gettext_lazy("Define risk indicators and thresholds"),
        Perm.RISK_ALERT_HANDLE: gettext_lazy("Handle the risk alerts routed to them"),
        Perm.LINE_PROPOSE: gettext_lazy("Propose credit lines"),
        Perm.LINE_APPROVE: gettext_lazy("Approve another user's credit line, within their authority"),
        Perm.GROUP_MANAGE: gettext_lazy("Manage customer groups (four eyes)"),
    },
}


REASON_CODES = frozenset(_TABLE["user_reason"])


def chinese() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


def label(kind: str, code: Any) -> str:
    """The words for `code` of `kind` in the page's language (roles from the kernel's table)."""
    if kind == "role":
        try:
            en, zh = ROLE_LABELS[Role(str(code))]
        except ValueError:
            return str(code)
        return zh if chinese() else en
    text = _TABLE.get(kind, {}).get(str(code))
    return str(text) if text is not None else str(code)


def choices(kind: str) -> list[tuple[str, str]]:
    if kind == "role":
        return [(r.value, label("role", r.value)) for r in Role]
    return [(k, str(v)) for k, v in _TABLE[kind].items()]


def branch_name(name: str, name_en: str) -> str:
    """A branch's name in the page's language (the Chinese name where no English one is given)."""
    return name_en if name_en and not chinese() else name


_ORG_TEXT: dict[str, Promise] = {
    "unknown_user": gettext_lazy("No such user."),
    "duplicate_user": gettext_lazy("A user with this user name already exists."),
    "unknown_role": gettext_lazy("Choose a role."),
    "branch_required": gettext_lazy("Staff users need a branch."),
    "password_too_short": gettext_lazy("A password has at least 8 characters."),
    "password_too_long": gettext_lazy("A password has at most 128 characters."),
    "password_weak": gettext_lazy("This password is too weak: choose a longer one."),
    "wrong_password": gettext_lazy("The current password is wrong."),
    "same_password": gettext_lazy("The new password must differ from the current one."),
    "password_mismatch": gettext_lazy("The two new passwords differ."),
    "own_account": gettext_lazy("You cannot do this to your own log-in: another administrator does."),
    "user_already_active": gettext_lazy("The user is already active."),
    "user_already_inactive": gettext_lazy("The user is already deactivated."),
    "reason_required": gettext_lazy("Choose a reason."),
    "bad_email": gettext_lazy("Not an e-mail address."),
    "duplicate_branch": gettext_lazy("A branch with this code already exists."),
    "branch_hierarchy": gettext_lazy("A branch sits under the head office, a sub-branch under a branch; the head "
                                     "office has no parent."),
    "branch_cycle": gettext_lazy("A branch cannot move under itself or one of its own sub-branches."),
    "branch_closed": gettext_lazy("The branch is already closed."),
    "branch_open": gettext_lazy("The branch is open."),
    "parent_closed": gettext_lazy("The parent branch is closed: reopen it first."),
    "bad_branch_code": gettext_lazy("A branch code is 1 to 20 letters or digits."),
    "required": gettext_lazy("This field is required."),
    "too_long": gettext_lazy("At most 100 characters."),
    "password_change_required": gettext_lazy("Choose your own password first."),
}


def _counted(code: str, n: int) -> str:
    if code == "users":
        return ngettext("%(n)d active user", "%(n)d active users", n) % {"n": n}
    if code == "customers":
        return ngettext("%(n)d customer", "%(n)d customers", n) % {"n": n}
    if code == "live_loans":
        return ngettext("%(n)d live loan", "%(n)d live loans", n) % {"n": n}
    if code == "branches":
        return ngettext("%(n)d open sub-branch", "%(n)d open sub-branches", n) % {"n": n}
    return f"{n} {code}"


def problem(code: str, message: str, extra: dict[str, Any] | None = None) -> str:
    """A refusal of the organisation's use cases as a sentence in the page's language."""
    extra = extra or {}
    if code == "branch_not_empty":
        held = [_counted(k, int(v)) for k, v in extra.items() if k != "branch" and isinstance(v, int) and v]
        sep = "、" if chinese() else ", "
        return _("Branch %(branch)s cannot be closed: it still has %(held)s. Move them to another branch first.") % {
            "branch": extra.get("branch", ""), "held": sep.join(held)}
    text = _ORG_TEXT.get(code)
    if text is None:
        return problem_text(code, message, extra)
    if not chinese() and code in ("password_weak",):
        return message[:1].upper() + message[1:]
    return str(text)
