"""Who may do what: roles, permissions, the acting principal, and the one check every use case starts with.

Why a table in code rather than Django's permission rows: the permission model is part of the product's
control framework (who may see personal data, who may approve), reviewed like code and identical in
every installation; Django groups would let it drift per database.

Why in the kernel: every layer checks permissions, the ledger at the bottom included (who may read the audit
trail, who may issue a tree head), so the check lives below all of them. It is plain data and two functions; the
organisation app (branches, users, tokens) builds on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from creditplan.core.errors import Forbidden, NotAuthenticated


class BranchRef(Protocol):
    """What a use case reads of the actor's branch (org.models.Branch): its code, its place in the hierarchy
    (`path`: "/HO/BJ/BJ01/", a subtree is a path prefix) and its level."""

    @property
    def code(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def level(self) -> str: ...


@runtime_checkable
class Actor(Protocol):
    """The principal a use case acts for: a logged-in user (org.models.User), an API token's user, or a named
    system principal (the decision engine, the close). `None` where trusted code acts with no person behind it
    (the CLI operator, the demo seed, batch jobs): each use case says whether it allows that."""

    @property
    def pk(self) -> Any: ...
    @property
    def role(self) -> str: ...
    @property
    def branch_id(self) -> int | None: ...
    @property
    def branch(self) -> BranchRef | None: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def username(self) -> str: ...


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
    CUSTOMER_IDENTITY_APPROVE = "customer.identity_approve"  # approve another user's identity correction
    AUDIT_VIEW = "audit.view"
    TREE_HEAD_ISSUE = "audit.issue_tree_head"  # sign the ledger's tree: adds evidence, changes nothing
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
    LOAN_VIEW = "loan.view"
    LOAN_DISBURSE = "loan.disburse"
    LOAN_REPAY = "loan.repay"
    LOAN_REVERSE = "loan.reverse"
    LOAN_RESTRUCTURE = "loan.restructure"
    LOAN_WRITE_OFF = "loan.write_off"
    PRODUCT_MANAGE = "loan.product_manage"
    CLOSE_RUN = "loan.close_run"
    LOAN_CLASSIFY = "loan.classify"  # propose a manual risk classification (maker)
    LOAN_CHANGE_APPROVE = "loan.change_approve"  # decide another user's loan change: class, restructuring, write-off
    LOAN_BACKDATE = "loan.backdate"  # date a payment or correction beyond the back-dating limit
    LOAN_AMEND = "loan.amend"  # amend live contracts in batch (spread changes), repricing calendars
    GL_VIEW = "loan.gl_view"
    DECISION_MAKE = "decision.make"
    DECISION_VIEW = "decision.view"
    POLICY_VIEW = "policy.view"
    POLICY_EDIT = "policy.edit"
    POLICY_APPROVE = "policy.approve"
    APPLICATION_VIEW = "application.view"  # customers: their own applications only
    APPLICATION_APPLY = "application.apply"  # a customer applies for themselves (online, mobile API)
    APPLICATION_CREATE = "application.create"  # staff enter an application for a customer
    APPLICATION_REVIEW = "application.review"  # examine a referred case, ask for more information
    APPLICATION_APPROVE = "application.approve"  # decide a referred case, within the authority matrix
    APPLICATION_ANALYTICS = "application.analytics"  # process analytics of their branch scope
    INTEGRATION_MANAGE = "integration.manage"  # webhooks and their delivery log (administrators / IT)
    RISK_VIEW = "risk.view"  # risk indicators, portfolio analytics, model monitoring, the alerts routed to the role
    RISK_MANAGE = "risk.manage"  # define indicators and thresholds, run or recompute them
    RISK_ALERT_HANDLE = "risk.alert_handle"  # acknowledge, comment on and resolve the alerts routed to the role
    LINE_PROPOSE = "line.propose"  # propose a customer's credit line or a change to it (maker)
    LINE_APPROVE = "line.approve"  # approve another user's proposal, within the line authority (checker)
    GROUP_MANAGE = "customer.group_manage"  # propose and decide changes to customer groups (关联集团), four eyes


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

# What each permission allows, in words a refusal can name (English, Chinese): "may not do this: approve referred
# applications". Pages say them through creditplan.common.text (a refused action on any page).
PERM_LABELS: dict[Perm, tuple[str, str]] = {
    Perm.CUSTOMER_VIEW: ("see customers", "查看客户"),
    Perm.CUSTOMER_CREATE: ("enter new customers", "录入新客户"),
    Perm.CUSTOMER_UPDATE: ("change customer details", "修改客户资料"),
    Perm.CUSTOMER_ARCHIVE: ("archive customers", "归档客户"),
    Perm.CUSTOMER_VIEW_PII: ("see ID and phone numbers in full", "查看完整的证件号码和手机号码"),
    Perm.CUSTOMER_IDENTITY_APPROVE: ("approve another user's identity correction", "审批他人提出的身份信息更正"),
    Perm.AUDIT_VIEW: ("read the audit trail", "查看审计记录"),
    Perm.TREE_HEAD_ISSUE: ("sign the ledger's tree head", "签发账本树头"),
    Perm.USER_MANAGE: ("manage users", "管理用户"),
    Perm.BRANCH_MANAGE: ("manage branches", "管理机构"),
    Perm.MODEL_VIEW: ("see scoring models", "查看评分模型"),
    Perm.MODEL_MANAGE: ("train and retire scoring models", "训练和停用评分模型"),
    Perm.MODEL_APPROVE: ("approve scoring models", "审批评分模型"),
    Perm.MODEL_SCORE: ("score applications", "对申请评分"),
    Perm.PLAN_VIEW: ("see the credit plan", "查看信贷计划"),
    Perm.PLAN_MANAGE: ("draw up and change the credit plan", "编制和调整信贷计划"),
    Perm.QUOTA_RESERVE: ("reserve credit-plan quota", "占用信贷计划额度"),
    Perm.QUOTA_REQUEST: ("request a quota adjustment", "申请调整额度"),
    Perm.LOAN_VIEW: ("see loans", "查看贷款"),
    Perm.LOAN_DISBURSE: ("pay out loans", "发放贷款"),
    Perm.LOAN_REPAY: ("record repayments", "登记还款"),
    Perm.LOAN_REVERSE: ("reverse payments", "冲正还款"),
    Perm.LOAN_RESTRUCTURE: ("propose restructurings", "提出贷款重组"),
    Perm.LOAN_WRITE_OFF: ("propose write-offs", "提出核销"),
    Perm.PRODUCT_MANAGE: ("manage loan products", "管理贷款产品"),
    Perm.CLOSE_RUN: ("run the daily close", "执行日终批处理"),
    Perm.LOAN_CLASSIFY: ("propose a loan's risk class", "提出贷款风险分类"),
    Perm.LOAN_CHANGE_APPROVE: ("approve another user's loan change", "审批他人提出的贷款变更"),
    Perm.LOAN_BACKDATE: ("date payments beyond the back-dating limit", "超出倒起息期限登记还款"),
    Perm.LOAN_AMEND: ("amend live contracts in batch", "批量修改存续合同"),
    Perm.GL_VIEW: ("see the general ledger", "查看总账"),
    Perm.DECISION_MAKE: ("run credit decisions", "发起授信决策"),
    Perm.DECISION_VIEW: ("see credit decisions", "查看授信决策"),
    Perm.POLICY_VIEW: ("see credit policies", "查看信贷政策"),
    Perm.POLICY_EDIT: ("write credit policies", "编写信贷政策"),
    Perm.POLICY_APPROVE: ("publish another user's credit policy", "发布他人编写的信贷政策"),
    Perm.APPLICATION_VIEW: ("see applications", "查看贷款申请"),
    Perm.APPLICATION_APPLY: ("apply online", "在线申请贷款"),
    Perm.APPLICATION_CREATE: ("enter applications for customers", "为客户录入贷款申请"),
    Perm.APPLICATION_REVIEW: ("review referred applications", "审查转人工的申请"),
    Perm.APPLICATION_APPROVE: ("approve or decline referred applications", "审批转人工的申请"),
    Perm.APPLICATION_ANALYTICS: ("see process analytics", "查看流程分析"),
    Perm.INTEGRATION_MANAGE: ("manage webhooks", "管理 Webhook"),
    Perm.RISK_VIEW: ("see risk indicators and alerts", "查看风险指标和预警"),
    Perm.RISK_MANAGE: ("define risk indicators and thresholds", "定义风险指标和阈值"),
    Perm.RISK_ALERT_HANDLE: ("handle risk alerts", "处理风险预警"),
    Perm.LINE_PROPOSE: ("propose credit lines", "提出授信额度"),
    Perm.LINE_APPROVE: ("approve credit lines", "审批授信额度"),
    Perm.GROUP_MANAGE: ("manage customer groups", "管理关联集团"),
}

_STAFF_READ = {Perm.CUSTOMER_VIEW, Perm.LOAN_VIEW}
ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.CUSTOMER: frozenset({Perm.APPLICATION_VIEW, Perm.APPLICATION_APPLY}),  # their own applications
    Role.LOAN_OFFICER: frozenset(
        _STAFF_READ | {Perm.CUSTOMER_CREATE, Perm.CUSTOMER_UPDATE, Perm.CUSTOMER_VIEW_PII, Perm.MODEL_SCORE,
                       Perm.PLAN_VIEW, Perm.QUOTA_REQUEST, Perm.LOAN_REPAY, Perm.DECISION_MAKE, Perm.DECISION_VIEW,
                       Perm.APPLICATION_VIEW, Perm.APPLICATION_CREATE, Perm.APPLICATION_REVIEW, Perm.LINE_PROPOSE}
    ),
    Role.APPROVER: frozenset(
        _STAFF_READ | {Perm.CUSTOMER_VIEW_PII, Perm.MODEL_SCORE, Perm.PLAN_VIEW, Perm.QUOTA_RESERVE,
                       Perm.QUOTA_REQUEST, Perm.LOAN_RESTRUCTURE, Perm.DECISION_MAKE, Perm.DECISION_VIEW,
                       Perm.POLICY_VIEW, Perm.APPLICATION_VIEW, Perm.APPLICATION_REVIEW, Perm.APPLICATION_APPROVE,
                       Perm.APPLICATION_ANALYTICS, Perm.LINE_PROPOSE, Perm.LINE_APPROVE, Perm.LOAN_CHANGE_APPROVE}
    ),
    # risk managers write policies; publishing needs a second risk manager (four eyes, checked in decisions)
    Role.RISK_MANAGER: frozenset(
        _STAFF_READ | {Perm.MODEL_VIEW, Perm.MODEL_MANAGE, Perm.MODEL_APPROVE, Perm.MODEL_SCORE, Perm.PLAN_VIEW,
                       Perm.LOAN_WRITE_OFF, Perm.PRODUCT_MANAGE, Perm.GL_VIEW, Perm.DECISION_VIEW,
                       Perm.POLICY_VIEW, Perm.POLICY_EDIT, Perm.POLICY_APPROVE, Perm.APPLICATION_VIEW,
                       Perm.APPLICATION_REVIEW, Perm.APPLICATION_APPROVE, Perm.APPLICATION_ANALYTICS,
                       Perm.RISK_VIEW, Perm.RISK_MANAGE, Perm.RISK_ALERT_HANDLE, Perm.LINE_PROPOSE,
                       Perm.LINE_APPROVE, Perm.LOAN_CLASSIFY, Perm.LOAN_CHANGE_APPROVE, Perm.LOAN_BACKDATE,
                       Perm.LOAN_AMEND, Perm.GROUP_MANAGE}
    ),
    # planners own the credit plan's indicators (utilisation, pace): they see and handle those alerts
    Role.PLANNER: frozenset(_STAFF_READ | {Perm.PLAN_VIEW, Perm.PLAN_MANAGE, Perm.APPLICATION_VIEW,
                                           Perm.APPLICATION_ANALYTICS, Perm.RISK_VIEW, Perm.RISK_ALERT_HANDLE}),
    Role.OPERATIONS: frozenset(
        _STAFF_READ | {Perm.CUSTOMER_UPDATE, Perm.CUSTOMER_ARCHIVE, Perm.CUSTOMER_VIEW_PII,
                       Perm.CUSTOMER_IDENTITY_APPROVE, Perm.PLAN_VIEW,
                       Perm.QUOTA_RESERVE, Perm.LOAN_DISBURSE, Perm.LOAN_REPAY, Perm.LOAN_REVERSE, Perm.CLOSE_RUN,
                       Perm.GL_VIEW, Perm.DECISION_VIEW, Perm.APPLICATION_VIEW, Perm.APPLICATION_ANALYTICS,
                       Perm.TREE_HEAD_ISSUE, Perm.RISK_VIEW}
    ),
    Role.AUDITOR: frozenset(_STAFF_READ | {Perm.AUDIT_VIEW, Perm.TREE_HEAD_ISSUE, Perm.MODEL_VIEW, Perm.PLAN_VIEW,
                                           Perm.GL_VIEW, Perm.DECISION_VIEW, Perm.POLICY_VIEW, Perm.APPLICATION_VIEW,
                                           Perm.APPLICATION_ANALYTICS, Perm.RISK_VIEW}),
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


def require(actor: Actor | None, perm: Perm) -> None:
    """Raise Forbidden unless the actor's role carries `perm`. Every use case calls this first."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotAuthenticated("log in first")
    if not actor.is_active or not has_perm(actor.role, perm):
        # the English detail names the internal codes (for the API and the logs); pages say the role and the
        # permission in words from `extra` (creditplan.common.text, with ROLE_LABELS and PERM_LABELS)
        raise Forbidden(f"your role ({actor.role}) may not do this ({perm.value})", code="permission_denied",
                        extra={"role": str(actor.role), "permission": perm.value})


def may(actor: Actor | None, perm: Perm) -> bool:
    """Whether the actor may do `perm` (for showing or hiding an action; the use case still calls `require`)."""
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", True)
                and has_perm(actor.role, perm))
