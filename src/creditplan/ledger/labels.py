"""What the audit trail calls the ledger's events: every event kind, every kind of record an event is about
(its subject type), the areas (an event kind's first word), the records named by a word rather than a number
(risk's settings), and who acted when no person did ("system").

ONE table for the pages that show ledger events: the audit trail (web), the webhook pages (integration), a
record's history (org). Every app appends its events through `ledger.append`, so the ledger, below them all, is
where their words meet; it imports no app. A kind missing here shows as its code, which the page walk and
tests/ledger/test_labels_20.py (every kind appended in src/ has words in both languages) find.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: An event kind → what happened, in words.
EVENT_KINDS: dict[str, Promise] = {
    # applications
    "application.approval_recorded": _("Approval opinion recorded"),
    "application.approved": _("Application approved"),
    "application.contract_offered": _("Contract offered"),
    "application.declined": _("Application declined"),
    "application.disbursed": _("Application paid out"),
    "application.escalated": _("Application escalated"),
    "application.expired": _("Application expired"),
    "application.info_provided": _("Requested information provided"),
    "application.info_requested": _("Information requested from the applicant"),
    "application.ready_to_disburse": _("Ready to pay out"),
    "application.signed": _("Contract signed"),
    "application.signing_refused": _("Signing refused"),
    "application.submitted": _("Application submitted"),
    "application.withdrawn": _("Application withdrawn"),
    # log-ins and API tokens
    "auth.token_issued": _("API token issued"),
    "auth.token_revoked": _("API token revoked"),
    "auth.tokens_revoked": _("API tokens revoked"),
    # branches
    "branch.closed": _("Branch closed"),
    "branch.created": _("Branch created"),
    "branch.moved": _("Branch moved"),
    "branch.renamed": _("Branch renamed"),
    "branch.reopened": _("Branch reopened"),
    # customers
    "customer.archived": _("Customer archived"),
    "customer.created": _("Customer created"),
    "customer.identity_corrected": _("Identity details corrected"),
    "customer.identity_correction_rejected": _("Identity correction rejected"),
    "customer.identity_correction_requested": _("Identity correction requested"),
    "customer.list_exported": _("Customer list exported"),
    "customer.pii_digested": _("Personal details replaced by digests in the record"),
    "customer.pii_viewed": _("Personal details viewed in full"),
    "customer.updated": _("Customer details changed"),
    "customer.user_linked": _("Customer log-in linked"),
    # customer groups
    "customer_group.change_proposed": _("Group change proposed"),
    "customer_group.change_rejected": _("Group change rejected"),
    "customer_group.created": _("Customer group created"),
    "customer_group.dissolved": _("Customer group dissolved"),
    "customer_group.member_added": _("Group member added"),
    "customer_group.member_ended": _("Group membership ended"),
    "customer_group.parent_set": _("Parent group set"),
    # credit decisions and policies
    "decision.authority_set": _("Approval authority set"),
    "decision.made": _("Credit decision made"),
    "decision.product_settings": _("Product decision settings changed"),
    "policy.drafted": _("Policy version drafted"),
    "policy.edited": _("Policy version edited"),
    "policy.example_added": _("Policy test case added"),
    "policy.example_deleted": _("Policy test case deleted"),
    "policy.published": _("Policy version published"),
    "policy.returned": _("Policy version returned"),
    "policy.submitted": _("Policy version submitted for approval"),
    "policy.validated": _("Policy version validated"),
    # documents
    "document.uploaded": _("Document uploaded"),
    # integration
    "integration.redelivery_requested": _("Webhook redelivery requested"),
    "integration.webhook_created": _("Webhook receiver added"),
    "integration.webhook_deactivated": _("Webhook receiver deactivated"),
    # credit lines
    "line.activated": _("Credit line activated"),
    "line.change_proposed": _("Credit line change proposed"),
    "line.change_rejected": _("Credit line change rejected"),
    "line.changed": _("Credit line changed"),
    "line.drawn": _("Credit line drawn"),
    "line.frozen": _("Credit line frozen"),
    "line.proposed": _("Credit line proposed"),
    "line.reduced": _("Credit line reduced"),
    "line.released": _("Credit line reservation released"),
    "line.reservation_expired": _("Credit line reservation expired"),
    "line.reserved": _("Credit line amount reserved"),
    "line.restore_reversed": _("Credit line restoration reversed"),
    "line.restored": _("Credit line amount restored"),
    # loans
    "loan.bank_file_imported": _("Bank return file imported"),
    "loan.bulk_generated": _("Loans generated in bulk"),
    "loan.change_decided": _("Loan change decided"),
    "loan.change_proposed": _("Loan change proposed"),
    "loan.clause_executed": _("Contract clause executed"),
    "loan.close_completed": _("Daily close completed"),
    "loan.debit_mandate_revoked": _("Direct debit mandate revoked"),
    "loan.debit_mandate_set": _("Direct debit mandate set"),
    "loan.disbursed": _("Loan paid out"),
    "loan.extended": _("Loan extended"),
    "loan.lpr_published": _("LPR published"),
    "loan.payment_reversed": _("Payment reversed"),
    "loan.product_created": _("Loan product created"),
    "loan.product_rate_bounds": _("Product rate bounds set"),
    "loan.recovered": _("Recovery after write-off"),
    "loan.repayment": _("Repayment received"),
    "loan.restructured": _("Loan restructured"),
    "loan.spreads_amended": _("Rate spreads amended"),
    "loan.written_off": _("Loan written off"),
    # scoring models
    "model.approved": _("Model version approved"),
    "model.challenger_set": _("Challenger model set"),
    "model.champion": _("Model version put into service as champion"),
    "model.draft": _("Model version returned to draft"),
    "model.registered": _("Model version registered"),
    "model.retired": _("Model version retired"),
    "model.validated": _("Model version validated"),
    # the credit plan
    "plan.activated": _("Plan activated"),
    "plan.adjustment_approved": _("Quota adjustment approved"),
    "plan.adjustment_rejected": _("Quota adjustment rejected"),
    "plan.adjustment_requested": _("Quota adjustment requested"),
    "plan.balance_restored": _("Plan balance restored"),
    "plan.balance_reversed": _("Plan balance reversed"),
    "plan.book_moved": _("Plan book moved"),
    "plan.book_opened": _("Plan book opened"),
    "plan.book_reconciled": _("Plan book reconciled"),
    "plan.capital_base_approved": _("Capital base approved"),
    "plan.capital_base_proposed": _("Capital base proposed"),
    "plan.capital_base_rejected": _("Capital base rejected"),
    "plan.closed": _("Plan closed"),
    "plan.created": _("Plan created"),
    "plan.dimension_added": _("Plan dimension added"),
    "plan.period_control_set": _("Period control set"),
    "plan.periods_cleared": _("Plan periods cleared"),
    "plan.periods_set": _("Plan periods set"),
    "plan.quota_consumed": _("Quota used"),
    "plan.quota_expired": _("Quota reservation expired"),
    "plan.quota_frozen": _("Quota frozen"),
    "plan.quota_released": _("Quota reservation released"),
    "plan.quota_reserved": _("Quota reserved"),
    "plan.quota_split": _("Quota split"),
    "plan.quota_unfrozen": _("Quota unfrozen"),
    "plan.target_added": _("Plan target added"),
    "plan.target_removed": _("Plan target removed"),
    "plan.target_updated": _("Plan target changed"),
    "plan.template_applied": _("Plan template applied"),
    "plan.transfer_applied": _("Quota transfer applied"),
    "plan.transfer_proposed": _("Quota transfer proposed"),
    "plan.transfer_refused": _("Quota transfer refused"),
    "plan.transfer_rule_changed": _("Quota transfer rule changed"),
    # risk monitoring and post-loan reviews
    "risk.alert_acknowledged": _("Risk alert acknowledged"),
    "risk.alert_commented": _("Risk alert commented"),
    "risk.alert_raised": _("Risk alert raised"),
    "risk.alert_resolved": _("Risk alert resolved"),
    "risk.ecl_computed": _("ECL computed"),
    "risk.ecl_parameters_installed": _("ECL parameters installed"),
    "risk.ecl_scenarios_set": _("ECL scenarios set"),
    "risk.external_records_imported": _("External records imported"),
    "risk.indicator_changed": _("Risk indicator changed"),
    "risk.indicator_defined": _("Risk indicator defined"),
    "risk.indicators_computed": _("Risk indicators computed"),
    "risk.indicators_installed": _("Standard risk indicators installed"),
    "risk.inflows_imported": _("Account inflows imported"),
    "risk.limit_changed": _("Risk limit changed"),
    "risk.limit_proposed": _("Risk limit proposed"),
    "risk.limit_rejected": _("Risk limit rejected"),
    "risk.limits_computed": _("Risk limits computed"),
    "risk.loss_parameter_set": _("Loss parameter set"),
    "risk.models_monitored": _("Scoring models monitored"),
    "risk.rerated": _("Customer risk ratings recomputed"),
    "risk.review_assigned": _("Review task assigned"),
    "risk.review_created": _("Review task created"),
    "risk.review_escalated": _("Review task escalated"),
    "risk.review_level_raised": _("Review level raised"),
    "risk.review_recorded": _("Review recorded"),
    "risk.reviews_run": _("Post-loan reviews run"),
    "risk.run_failed": _("Nightly risk run failed"),
    "risk.signal_weights_set": _("Early-warning signal weights set"),
    "risk.signals_computed": _("Early-warning signals computed"),
    "risk.snapshots_pruned": _("Old risk snapshots removed"),
    "risk.stress_scenario_defined": _("Stress scenario defined"),
    "risk.stress_tested": _("Stress test run"),
    "risk.watch_entered": _("Customer put on the watch list"),
    "risk.watch_escalated": _("Watch-list level raised"),
    "risk.watch_left": _("Customer taken off the watch list"),
    # users
    "user.changed": _("User changed"),
    "user.created": _("User created"),
    "user.deactivated": _("User deactivated"),
    "user.password_changed": _("Password changed by the user"),
    "user.password_reset": _("Temporary password given"),
    "user.reactivated": _("User reactivated"),
}

#: A subject type (the kind of record an event is about) → its name.
SUBJECT_TYPES: dict[str, Promise] = {
    "adjustment": _("Quota adjustment"), "alert": _("Risk alert"), "amendment": _("Loan change"),
    "application": pgettext_lazy("record", "Application"), "authority_matrix": _("Approval authority"),
    "bank_file": _("Bank return file"), "branch": pgettext_lazy("record", "Branch"), "bulk": _("Bulk run"),
    "capital_base": _("Capital base"), "close": _("Daily close"), "credit_line": _("Credit line"),
    "customer": pgettext_lazy("record", "Customer"), "customer_group": _("Customer group"),
    "customer_group_change": _("Group change"), "customer_list": _("Customer list"),
    "decision": _("Credit decision"), "dimension": _("Plan dimension"), "indicator": _("Risk indicator"),
    "loan": pgettext_lazy("record", "Loan"), "lpr": _("Loan prime rate (LPR)"), "model_version": _("Model version"),
    "plan": _("Credit plan"), "policy": _("Credit policy"), "policy_version": _("Policy version"),
    "product": _("Loan product"), "quota": _("Quota"), "reservation": _("Quota reservation"),
    "review_task": _("Review task"), "risk": _("Risk monitoring"), "scoring_model": _("Scoring model"),
    "stress_scenario": _("Stress scenario"), "target": _("Plan target"), "transfer": _("Quota transfer"),
    "user": pgettext_lazy("record", "User"), "watch_entry": _("Watch-list entry"), "webhook": _("Webhook receiver"),
}

#: An area: an event kind's first word → its name (the audit trail's filter).
FAMILIES: dict[str, Promise] = {
    "application": _("Applications"), "auth": _("Log-ins and API tokens"), "branch": _("Branches"),
    "customer": _("Customers"), "customer_group": _("Customer groups"), "decision": _("Credit decisions"),
    "document": _("Documents"), "integration": _("Integration"), "ledger": _("Ledger"),
    "line": _("Credit lines"), "loan": _("Loans"), "model": _("Scoring models"), "plan": _("Credit plan"),
    "policy": _("Credit policies"), "product": _("Loan products"), "risk": _("Risk monitoring"),
    "user": _("Users"),
}

#: Records named by a word rather than a number: (subject type, subject id) → its name.
NAMED_RECORDS: dict[tuple[str, str], Promise] = {
    ("risk", "ecl"): _("ECL settings"), ("risk", "external_records"): _("External records"),
    ("risk", "inflows"): _("Account inflows"), ("risk", "standard"): _("Standard risk indicators"),
    ("risk", "signal_weights"): _("Early-warning signal weights"), ("risk", "snapshots"): _("Risk snapshots"),
}

SYSTEM = "system"
"""The actor name of what no person did (nightly runs, seeding, trusted code): `ledger.append(None, …)`."""
#: Actor names that are no person: "system", and the decision engine that reserves quota for a straight-through
#: approval (decisions.services.deciding.ENGINE_ACTOR).
SYSTEM_ACTORS: dict[str, Promise] = {
    SYSTEM: pgettext_lazy("actor", "System"), "decision-engine": pgettext_lazy("actor", "Decision engine"),
}


def event_label(kind: str) -> str:
    """What happened, in words (the code itself for a kind the table does not know)."""
    text = EVENT_KINDS.get(kind)
    return str(text) if text is not None else kind


def subject_label(subject_type: str) -> str:
    """The name of a kind of record (the code itself for one the table does not know)."""
    text = SUBJECT_TYPES.get(subject_type)
    return str(text) if text is not None else subject_type


def family_of(kind: str) -> str:
    return kind.split(".", 1)[0]


def family_label(kind_or_family: str) -> str:
    """The area of an event kind (or an area's first word), in words."""
    family = family_of(kind_or_family)
    text = FAMILIES.get(family)
    return str(text) if text is not None else family


def named_record(subject_type: str, subject_id: str) -> str | None:
    """The name of a record named by a word (risk's ECL settings…), None for one named by a number or a code."""
    text = NAMED_RECORDS.get((subject_type, subject_id))
    return str(text) if text is not None else None


def actor_label(name: str) -> str:
    """Who acted: a user name as it is, "system" (and the decision engine) in words."""
    text = SYSTEM_ACTORS.get(name)
    return str(text) if text is not None else name


def pattern_label(pattern: str) -> str:
    """A webhook's event pattern in words: "loan.*" → "Loans (every event)", a kind → its words."""
    if pattern in ("*", "*.*"):
        return str(_("Every event"))
    if pattern.endswith(".*"):
        return str(_("%(area)s (every event)") % {"area": family_label(pattern[:-2])})
    return event_label(pattern)
