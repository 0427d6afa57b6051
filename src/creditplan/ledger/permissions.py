"""Who may read the ledger's evidence and who may add to it: the kernel's permission check (core.access), with
`None` as the operator at the console (trusted by construction).

Proofs, tree heads and verification are the auditor's tools (`audit.view`: auditors, administrators). Issuing a
tree head changes nothing but adds evidence: operations schedule it, auditors may ask for one
(`audit.issue_tree_head`: operations, auditors, administrators).
"""

from __future__ import annotations

from creditplan.core.access import Actor, Perm, may, require


def require_reader(actor: Actor | None) -> None:
    """Proofs, tree heads, verification, the audit overview. `actor=None` is the operator's shell."""
    if actor is not None:
        require(actor, Perm.AUDIT_VIEW)


def require_issuer(actor: Actor | None) -> None:
    """Issuing a signed tree head. `actor=None` is the operator's shell (cron, the close)."""
    if actor is not None:
        require(actor, Perm.TREE_HEAD_ISSUE)


def may_issue_tree_heads(actor: Actor | None) -> bool:
    return may(actor, Perm.TREE_HEAD_ISSUE)


def actor_name(actor: Actor | None) -> str:
    """The name an event or a tree head records: the user's, or "system" for trusted code."""
    return getattr(actor, "username", None) or "system"
