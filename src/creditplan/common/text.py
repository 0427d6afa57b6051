"""What users read when something is refused: the translated text of each stable error code.

The domain and the kernel speak English (they must not import Django). Their errors carry a stable `code`; a page
in another language shows the translation of a known code, and the domain's own (precise) text otherwise. Every
app's pages use this one table (apps with page-specific codes keep a small table of their own and fall back to it),
which is why it sits below all the apps: any page may import it, it imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, gettext_noop, pgettext_lazy

from creditplan.core.access import PERM_LABELS, ROLE_LABELS, Perm, Role
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.core.money import format_minor

_PROBLEM_TEXT = {
    "required": gettext_lazy("This field is required."),
    "too_long": gettext_lazy("At most 100 characters."),
    "resident_id_length": gettext_lazy("A resident ID number has 18 characters."),
    "resident_id_format": gettext_lazy("A resident ID number is 17 digits followed by a digit or X."),
    "resident_id_birth_date": gettext_lazy("The birth date in the resident ID number is not valid."),
    "resident_id_check": gettext_lazy("The check digit of the resident ID number is wrong; please check the number."),
    "uscc_length": gettext_lazy("A unified social credit code has 18 characters."),
    "uscc_format": gettext_lazy("The unified social credit code contains characters that are not allowed."),
    "uscc_check": gettext_lazy("The check character of the unified social credit code is wrong; please check the code."),
    "phone_format": gettext_lazy("Not a mainland mobile number (11 digits starting with 13-19)."),
    # The money edge (creditplan.core.money.parse_money): one code per fault, in every app.
    "amount_format": gettext_lazy("Not an amount, e.g. 12345.67."),
    "float_money": gettext_lazy("Not an amount, e.g. 12345.67."),
    "not_finite": gettext_lazy("Not an amount, e.g. 12345.67."),
    "too_many_decimals": gettext_lazy("Amounts have at most 2 decimals (fen)."),
    "negative_amount": gettext_lazy("The amount cannot be negative."),
    "not_positive": gettext_lazy("The amount must be positive."),
    "amount_out_of_range": gettext_lazy("The amount is above the largest amount allowed here."),
    "currency_mismatch": gettext_lazy("The amount is in another currency."),
    "amount_too_large": gettext_lazy("Income is implausibly large."),
    "date_format": gettext_lazy("Not a date (YYYY-MM-DD)."),
    "date_in_future": gettext_lazy("The birth date is in the future."),
    "birth_date_mismatch": gettext_lazy("The birth date differs from the one in the resident ID number."),
    "not_for_individual": gettext_lazy("Only companies have this field."),
    "not_for_company": gettext_lazy("Only individuals have this field."),
    "industry_required": gettext_lazy("The industry code is required for a company."),
    "unknown_industry": gettext_lazy("Not a GB/T 4754 industry code (e.g. C39)."),
    "region_format": gettext_lazy("The region must be a 6-digit GB/T 2260 code."),
    "unknown_region": gettext_lazy("Not a province code of GB/T 2260."),
    "unknown_branch": gettext_lazy("No active branch with this code."),
    "branch_out_of_scope": gettext_lazy("This branch is outside your branch."),
    "duplicate_id": gettext_lazy("A customer with this resident ID number already exists."),
    "duplicate_uscc": gettext_lazy("A company with this unified social credit code already exists."),
    "customer_not_found": gettext_lazy("No such customer, or the customer is outside your branch."),
    "permission_denied": gettext_lazy("Your role may not do this."),
    "forbidden": gettext_lazy("You are not allowed to do this."),
    "not_found": gettext_lazy("Not found."),
    "bad_url": gettext_lazy("Enter an http(s) address with a host, e.g. https://crm.example.com/hooks/creditplan."),
    "webhook_https_required": gettext_lazy("The receiver's address must start with https://."),
    "webhook_address_refused": gettext_lazy("This address is internal (loopback, private, link-local or reserved): "
                                            "webhooks go to public addresses, or to the bank's own networks listed "
                                            "in CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS."),
    "webhook_allowlist_invalid": gettext_lazy("The webhook allowlist (CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS) holds "
                                              "something that is not a network: ask the system administrator."),
    "identity_immutable": gettext_lazy("The identity of an existing customer is changed only by an identity "
                                       "correction, which another user approves."),
    "kind_immutable": gettext_lazy("A customer's kind cannot be corrected: archive the customer and create a new one."),
    "not_correctable": gettext_lazy("This is not an identity field of this customer."),
    "no_change": gettext_lazy("This is the current value: nothing to correct."),
    "correction_pending": gettext_lazy("An identity correction of this customer is already waiting for a decision."),
    "correction_decided": gettext_lazy("This identity correction has already been decided."),
    "correction_not_found": gettext_lazy("No such identity correction, or it is outside your branch."),
    "four_eyes": gettext_lazy("Four eyes: whoever asked for an identity correction cannot decide it."),
    "archived": gettext_lazy("An archived customer cannot be changed."),
    "stale_version": gettext_lazy("The customer was changed by someone else meanwhile; reload the page."),
    # risk monitoring (issue 16): what its pages can refuse with an error page
    "indicator_not_found": gettext_lazy("No such indicator."),
    "alert_not_found": gettext_lazy("No such alert, or it is not routed to you."),
    "no_snapshot": gettext_lazy("The book was not kept for this date: choose a date the indicators were computed "
                                "for."),
    "snapshot_missing": gettext_lazy("The kept book of this date cannot be read back: ask the system administrator."),
    "snapshot_changed": gettext_lazy("The kept book of this date has changed since it was written: ask the system "
                                     "administrator."),
    "unknown_cell": gettext_lazy("No such figure, or it is outside your branches."),
    "not_drillable": gettext_lazy("This indicator is not computed over loans: there are no loans behind it."),
    "unknown_bad": gettext_lazy("Choose 30 or 90 days past due."),
    "dates_order": gettext_lazy("The first date must be before the second."),
    # credit lines (issue 17): what the review, the payout and the line pages can refuse
    "line_frozen": gettext_lazy("The customer's credit line is frozen: nothing can be approved or paid out on it."),
    "line_expired": gettext_lazy("The customer's credit line has expired: it must be extended first."),
    "line_closed": gettext_lazy("The customer's credit line is closed: nothing can be approved or paid out on it."),
    "line_exceeded": gettext_lazy("The amount is above what is available on the customer's credit line."),
    "sub_limit_exceeded": gettext_lazy("The amount is above what is available on the product's sub-limit."),
    "above_reservation": gettext_lazy("The amount is above what is held on the credit line for this application."),
    # customer groups (issue 19 §2): the error pages of the group pages (the rest: plans/group_views.py)
    "group_not_found": gettext_lazy("No such group, or it has none of your branch's customers."),
    "change_not_found": gettext_lazy("No such change waiting for a decision."),
    # targets and ratio limits (issue 19 §6): a ratio cap of the credit plan refusing a reservation
    "ratio_cap_exceeded": gettext_lazy("The credit plan's ratio cap would be exceeded (for example the real-estate "
                                       "concentration): the approval is refused."),
    # credit plan (issue 19 §3): a planner froze a quota the loan falls in
    "quota_frozen": gettext_lazy("A credit-plan quota this loan falls in is frozen: no new approvals on it for now."),
    # plan periods (issue 19 §7): a month's quota used up; said with its figures when the error carries them
    "period_quota_exceeded": gettext_lazy("This month's credit-plan quota is used up: the amount is refused."),
    # the plan over the whole book (issue 19 §5): a loan's plan segment, the reconciliation
    "unknown_segment": gettext_lazy("This customer segment is not configured for the credit plan."),
    "book_not_opened": gettext_lazy("This plan has no opening book yet: activate it, or take its opening book first."),
    "no_book_source": gettext_lazy("No loan book is available to reconcile the plan with."),
    # the daily close and the value date of a payout or a payment (issue 20, loans)
    "disbursement_date_closed": gettext_lazy("The daily close of that date has run and its books are closed: a loan "
                                             "paid out now takes the next booking day (or a later date) as its "
                                             "value date."),
    "disbursement_date_future": gettext_lazy("A loan cannot be paid out with a value date after the next booking "
                                             "day."),
    "close_running": gettext_lazy("The daily close of this date is already running: wait for it to finish."),
    "verification_running": gettext_lazy("A verification of the ledger is already running: wait for its result."),
}
# Problems said with their figures (the error's `extra`): the credit plan's concentration limits (issue 19,
# plans.domain.exposure), amounts in yuan.
_FIGURE_TEXT = {
    ("concentration_exceeded", "single_customer"): gettext_lazy(
        "The exposure to this customer would be %(exposure)s yuan, above %(share)s%% of the capital base %(capital)s yuan "
        "(limit %(limit)s yuan): the concentration limit refuses the amount."),
    ("concentration_exceeded", "group"): gettext_lazy(
        "The exposure of group %(group)s would be %(exposure)s yuan, above %(share)s%% of the capital base "
        "%(capital)s yuan (limit %(limit)s yuan): the concentration limit refuses the amount."),
}
# A plan's monthly quota (issue 19 §7: a month's unused quota rolls over or lapses), with the month and the amounts.
_PERIOD_TEXT = gettext_lazy("In %(month)s the credit plan has %(usable)s yuan of this month's quota left, "
                            "%(requested)s yuan requested: the monthly quota refuses the amount.")
# A hard quota refusing a reservation (issue 20, helper D): which quota, which of its two measures, what is left.
_QUOTA_TEXT = {
    "new_lending": gettext_lazy("The new-lending quota of %(quota)s has %(available)s yuan left, %(requested)s yuan "
                                "requested: the credit plan refuses the amount."),
    "balance": gettext_lazy("The balance quota of %(quota)s has %(available)s yuan left, %(requested)s yuan "
                            "requested: the credit plan refuses the amount."),
}
# Titles of the error classes in creditplan.core.errors, translated by web/error.html.
_ERROR_TITLES = (gettext_noop("Request failed"), gettext_noop("Invalid input"), gettext_noop("Authentication required"),
                 gettext_noop("Not allowed"), gettext_noop("Not found"), gettext_noop("Conflict"),
                 gettext_noop("Limit exceeded"))

# ---- Sentences with the error's numbers and names (issue 20 §1) ------------------------------------------------------
# A service puts what the reader needs into the error's `extra` (core.errors: `extra=`; a field's problem carries it
# too, FieldProblem.extra). A code's sentences here are tried in order; the first whose every %(name)s the error
# carries is shown, in every language:
#   %(name)s  ← extra["name_minor"] written as an amount (12,345.67), else extra["name"] as it is, except
#             names in _WORD_KINDS, which are said in words (a role, a permission, a branch level), never as codes.
# An error without them gets the plain sentence of _PROBLEM_TEXT. Add a code's sentences at the end of the table.
_PARAM_TEXT: dict[str, tuple[Promise, ...]] = {
    "permission_denied": (gettext_lazy("Your role (%(role)s) may not do this: %(permission)s."),),
    "amount_out_of_range": (gettext_lazy("The amount is too large: at most %(maximum)s yuan is allowed here."),),
    "insufficient_authority": (
        gettext_lazy("Your approval authority does not cover this application (%(amount)s yuan, grade %(grade)s): "
                     "it needs an approver with %(required_level)s authority."),
        gettext_lazy("Your approval authority does not cover this application (%(amount)s yuan, grade %(grade)s): "
                     "no approver's authority covers it, so it cannot be approved by hand as it is."),
        gettext_lazy("Your role (%(role)s) may not approve this credit line of %(amount)s yuan: it needs a "
                     "%(required_role)s."),
    ),
}
# The words of every code a service or the kernel raises (issue 20 §1; tests/web/test_refusal_words_20.py keeps
# the list whole): added to _PROBLEM_TEXT where it has no entry of its own.
_SERVICE_TEXT: dict[str, Promise] = {
    "adjustment_not_found": gettext_lazy("No such quota adjustment."),
    "age_format": gettext_lazy("The waiting time is a whole number of hours."),
    "already_signed": gettext_lazy("The contract of this application is already signed."),
    "amount_not_positive": gettext_lazy("The amount must be greater than zero."),
    "application_not_found": gettext_lazy("No such application."),
    "artifact_format": gettext_lazy("The model file must be a JSON object."),
    "artifact_not_json": gettext_lazy("The model file is not valid JSON."),
    "bad_credentials": gettext_lazy("Wrong user name or password."),
    "bad_endpoint": gettext_lazy("Choose a webhook from the list."),
    "bad_event_pattern": gettext_lazy("Not an event pattern: use application.*, loan.*, risk.* or an event "
                                      "name such as application.approved."),
    "bad_signature": gettext_lazy("The request's signature is wrong: it was not accepted."),
    "bad_status": gettext_lazy("Choose a delivery status from the list."),
    "bad_value_not_found": gettext_lazy("The value chosen as a bad outcome does not occur in the target "
                                        "column."),
    "book_mismatch": gettext_lazy("Some loans of the kept book of this date are no longer in the loan book:"
                                  " ask the system administrator."),
    "branch_not_empty": gettext_lazy("The branch still has users, customers or sub-branches: move them "
                                     "elsewhere before closing it."),
    "calendar_closed": gettext_lazy("No working day was found near this date: check the holiday calendar."),
    "capital_base_not_found": gettext_lazy("No such capital base proposal."),
    "challenger_status": gettext_lazy("A challenger must be an approved version of the same model."),
    "channel_not_allowed": gettext_lazy("Your role cannot submit an application through this channel."),
    "clause_parameters": gettext_lazy("A contract clause has the wrong parameters."),
    "contract_exists": gettext_lazy("A contract was already offered for this application."),
    "customer_user": gettext_lazy("This customer already has a log-in, or does not exist."),
    "data_file_missing": gettext_lazy("The data file is not available on this server: ask the system "
                                      "administrator."),
    "data_path_outside": gettext_lazy("Data files must be in the folders configured for them."),
    "dataset_not_found": gettext_lazy("The data set is not available on this server: ask the system "
                                      "administrator."),
    "date_before_birth": gettext_lazy("The date is before the birth date."),
    "decision_not_found": gettext_lazy("No such credit decision."),
    "delivery_not_found": gettext_lazy("No such delivery."),
    "derived_feature_in_tree": gettext_lazy("This tree splits on derived features, which a decision table "
                                            "cannot compute: train it without them."),
    "document_not_found": gettext_lazy("No such document, or it is outside your branch."),
    "draft_incomplete": gettext_lazy("Complete the earlier steps of the application form first."),
    "draft_not_found": gettext_lazy("No such application form: it was started by another log-in, or the "
                                    "address is wrong."),
    "draft_submitted": gettext_lazy("This application form was already sent."),
    "dues_order": gettext_lazy("A payment amount must be zero or more."),
    "duplicate_clause": gettext_lazy("A contract clause is listed twice."),
    "duplicate_columns": gettext_lazy("The data has columns with the same name."),
    "duplicate_example": gettext_lazy("An example with this name already exists."),
    "empty_ratios": gettext_lazy("At least one share is needed."),
    "empty_table": gettext_lazy("The file holds no rows."),
    "example_not_found": gettext_lazy("No such example."),
    "file_not_found": gettext_lazy("The file does not exist."),
    "first_due_not_after_start": gettext_lazy("The first due date must be after the start date."),
    "first_due_not_on_due_day": gettext_lazy("The first due date does not fall on the due day."),
    "grace_out_of_range": gettext_lazy("The grace periods must be fewer than the periods of the term."),
    "idempotency_key_format": gettext_lazy("The request key must be 1 to 100 printable characters."),
    "inbound_secret_missing": gettext_lazy("Customer sync is refused: no signing secret is configured. Ask "
                                           "the system administrator."),
    "inconsistent_installment": gettext_lazy("An installment's payment is not principal plus interest plus "
                                             "fee."),
    "inputs_format": gettext_lazy("The applicant data must be a set of named values."),
    "inputs_too_large": gettext_lazy("The applicant data is too large."),
    "inputs_too_many": gettext_lazy("The applicant data has too many values."),
    "insufficient_authority": gettext_lazy("Your approval authority does not cover this (amount or grade): "
                                           "a colleague with higher authority must decide it."),
    "invalid_allocation": gettext_lazy("The allocation of the payment is not valid."),
    "invalid_amount": gettext_lazy("The amount must be a whole number of fen, zero or more."),
    "invalid_channel": gettext_lazy("Choose a payment channel from the list."),
    "invalid_data": gettext_lazy("The data to score is not in a form that can be read."),
    "invalid_due_day": gettext_lazy("The due day must be 1 to 31."),
    "invalid_exponent": gettext_lazy("The number of decimal places is not valid."),
    "invalid_holdout": gettext_lazy("The hold-out share must be between 0 and 90 %."),
    "invalid_inputs": gettext_lazy("The term must be a whole number of periods from 1 to 600."),
    "invalid_kind": gettext_lazy("Choose a kind from the list."),
    "invalid_language": gettext_lazy("The language must be Chinese or English."),
    "invalid_master_scale": gettext_lazy("The master scale needs at least one grade."),
    "invalid_method": gettext_lazy("The reject-inference method must be fuzzy or parcelling."),
    "invalid_money": gettext_lazy("The amount is not a valid amount of money."),
    "invalid_months": gettext_lazy("The number of months must be a whole number."),
    "invalid_number": gettext_lazy("Not a valid number."),
    "invalid_ratio": gettext_lazy("The shares must be a list of numbers."),
    "invalid_records": gettext_lazy("The records must be a list of objects."),
    "invalid_region_code": gettext_lazy("The region code must be 6 digits."),
    "invalid_reprice_date": gettext_lazy("The repricing date is a month and a day, such as 01-01."),
    "invalid_reprice_period": gettext_lazy("Repricing is every 1, 2, 3, 4, 6 or 12 months."),
    "invalid_scaling": gettext_lazy("The score scaling must be a positive number."),
    "invalid_seq": gettext_lazy("The first installment number must be at least 1."),
    "invalid_sequence": gettext_lazy("The sequence number is not valid."),
    "invalid_sex": gettext_lazy("Sex must be male or female."),
    "invalid_split": gettext_lazy("The number of parts must be a positive whole number."),
    "invalid_term": gettext_lazy("The term must be a whole number of periods from 1 to 600."),
    "invalid_uplift": gettext_lazy("The uplift must be positive."),
    "invalid_value": gettext_lazy("A value must be a number, a text or empty."),
    "invalid_waterfall": gettext_lazy("The repayment order must list each component once."),
    "invalid_weights": gettext_lazy("Sample weights must be zero or more, one per row."),
    "jdm_not_json": gettext_lazy("The policy file is not a valid JSON text."),
    "jdm_schema": gettext_lazy("The policy file must be a decision graph with nodes and edges."),
    "jdm_too_large": gettext_lazy("The policy file is too large."),
    "keep_days_too_short": gettext_lazy("Keep more days of snapshots than this."),
    "maker_checker": gettext_lazy("Four eyes: you proposed, entered or reviewed this yourself, so another "
                                  "colleague must decide it."),
    "missing_columns": gettext_lazy("The data lacks columns the model needs."),
    "missing_dependency": gettext_lazy("Excel files cannot be read on this server: save the sheet as CSV."),
    "model_not_found": gettext_lazy("No such model version."),
    "model_transition": gettext_lazy("The model version cannot move to this status from its current one."),
    "month_format": gettext_lazy("The month is written YYYY-MM, for example 2026-11."),
    "months_per_period_out_of_range": gettext_lazy("A repayment period is 1 to 12 months."),
    "negative_fee": gettext_lazy("The fee cannot be negative."),
    "negative_number": gettext_lazy("The number cannot be negative."),
    "negative_rate": gettext_lazy("The rate cannot be negative."),
    "negative_ratio": gettext_lazy("A share cannot be negative."),
    "no_champion": gettext_lazy("This model has no champion version yet."),
    "no_ecl_run": gettext_lazy("No allowance was computed for this date."),
    "no_published_policy": gettext_lazy("This product has no published credit policy yet."),
    "no_records": gettext_lazy("Send at least one record."),
    "no_rejects": gettext_lazy("The rejected applications have no rows with the model's columns."),
    "no_report": gettext_lazy("This version has no validation report yet."),
    "no_scenario": gettext_lazy("No stress scenario is defined yet: install the standard scenarios first."),
    "no_stress_run": gettext_lazy("No stress test was run for this date."),
    "no_usable_feature": gettext_lazy("The features do not separate good from bad outcomes: no model can be"
                                      " built from them."),
    "not_a_scorecard": gettext_lazy("This is not a scorecard model."),
    "not_a_tree": gettext_lazy("Only a segmentation tree can be exported to a decision table."),
    "not_a_tree_model": gettext_lazy("This is not a tree model."),
    "not_an_object": gettext_lazy("Each record must be an object."),
    "not_updatable": gettext_lazy("These fields cannot be changed."),
    "number_format": gettext_lazy("Write the number as a decimal, such as 0.45."),
    "payment_too_small": gettext_lazy("The payment is too small to repay the balance within the term."),
    "pct_range": gettext_lazy("A challenger may take 0 to 50 % of the applications."),
    "period_quarter_mismatch": gettext_lazy("The months of a quarter do not add up to the quarter's share."),
    "period_share_count": gettext_lazy("Give one share for each month or quarter of the plan."),
    "period_share_format": gettext_lazy("A share is a percentage, for example 8.5."),
    "period_share_negative": gettext_lazy("A share cannot be negative."),
    "period_shares_sum": gettext_lazy("The shares must add up to 100 %."),
    "periods_required": gettext_lazy("Split the plan into months before a month's unused quota can roll "
                                     "over or lapse."),
    "pii_key": gettext_lazy("Encrypted data cannot be read with the configured keys: ask the system "
                            "administrator."),
    "plan_not_found": gettext_lazy("No such credit plan."),
    "policy_not_editable": gettext_lazy("This policy version can no longer be edited: start a new draft "
                                        "from it."),
    "policy_not_found": gettext_lazy("This product has no credit policy."),
    "policy_status": gettext_lazy("This policy version is not validated again in its status."),
    "policy_transition": gettext_lazy("The policy version cannot move to this status from its current one."),
    "policy_version_not_found": gettext_lazy("No such policy version."),
    "proposal_not_found": gettext_lazy("No such limit proposal."),
    "ragged_columns": gettext_lazy("All columns must have the same number of rows."),
    "rate_precision": gettext_lazy("The rate is finer than 0.0001 %."),
    "ref_mismatch": gettext_lazy("This customer is already synced under another external reference."),
    "repay_above_outstanding": gettext_lazy("The amount is above what this application still has "
                                            "outstanding on the credit plan."),
    "reservation_exists": gettext_lazy("This application already holds credit-plan quota."),
    "reservation_not_found": gettext_lazy("This application holds no credit-plan quota."),
    "reservation_status": gettext_lazy("The application's quota reservation is not in a state that allows "
                                       "this."),
    "review_not_found": gettext_lazy("No such review task."),
    "risk_snapshot_missing": gettext_lazy("The risk indicators of the previous day were not computed: the "
                                          "close stops here. Ask the system administrator."),
    "ruleset_not_published": gettext_lazy("This rule set has no published version."),
    "share_out_of_range": gettext_lazy("The share must be between 0 and 100 %."),
    "sheet_version": gettext_lazy("This term sheet version is not supported."),
    "signal_inputs_changed": gettext_lazy("The kept credit-line data of this date is missing or has "
                                          "changed: ask the system administrator."),
    "single_class": gettext_lazy("The target has only one outcome: a model needs both good and bad "
                                 "outcomes."),
    "table_not_found": gettext_lazy("No such decision table in this version."),
    "too_few_events": gettext_lazy("Too few good or bad outcomes to learn from."),
    "too_many": gettext_lazy("Too many records in one request."),
    "too_many_records": gettext_lazy("At most 10,000 records per call: use the batch engine for more."),
    "unbalanced_entry": gettext_lazy("The journal entry does not balance."),
    "unknown_account": gettext_lazy("The account is not in the chart of accounts."),
    "unknown_clause": gettext_lazy("Unknown contract clause."),
    "unknown_column": gettext_lazy("The column is not in the data."),
    "unknown_currency": gettext_lazy("Unknown currency."),
    "unknown_day_count": gettext_lazy("Unknown day-count convention."),
    "unknown_dimension": gettext_lazy("Choose a dimension from the list."),
    "unknown_due_date_roll": gettext_lazy("Unknown rule for due dates on holidays."),
    "unknown_engine": gettext_lazy("The engine is local or Spark."),
    "unknown_first_period": gettext_lazy("Unknown treatment of the first period."),
    "unknown_loan": gettext_lazy("No such loan, or it is outside your branch."),
    "unknown_period_control": gettext_lazy("Choose what happens to a month's unused quota: nothing, roll "
                                           "over or lapse."),
    "unknown_rounding": gettext_lazy("Unknown rounding rule."),
    "unknown_ruleset": gettext_lazy("No such rule set."),
    "unknown_scenario": gettext_lazy("No such stress scenario."),
    "unknown_target": gettext_lazy("The target column is not in the data."),
    "unrepay_above_disbursed": gettext_lazy("The amount is above what was paid out on this application."),
    "unsupported_format": gettext_lazy("Old .xls workbooks are not supported: save the sheet as .xlsx or "
                                       "CSV."),
    "version_race": gettext_lazy("Another version was registered at the same moment: try again."),
    "watch_entry_not_found": gettext_lazy("No such watch-list entry."),
    "webhook_inactive": gettext_lazy("This webhook is deactivated: nothing is sent to it."),
    "webhook_not_found": gettext_lazy("No such webhook."),
    "whole_book_only": gettext_lazy("This covers the whole book: it is for head-office roles."),
    "zero_ratios": gettext_lazy("At least one share must be greater than zero."),
}
for _code, _text in _SERVICE_TEXT.items():
    _PROBLEM_TEXT.setdefault(_code, _text)
# Codes whose English detail names internal things (role and permission codes, developers' terms): every page,
# the English one too, says them with the words of this module; the API keeps the detail.
_EVERY_LANGUAGE = frozenset({"permission_denied", "maker_checker", "insufficient_authority"})
# Names a sentence says in words: the kind of word each one is.
_WORD_KINDS = {"role": "role", "required_role": "role", "permission": "permission", "level": "level",
               "required_level": "level"}
_LEVEL_WORDS: dict[str, Promise] = {"sub_branch": pgettext_lazy("authority level", "sub-branch"),
                                    "branch": pgettext_lazy("authority level", "branch"),
                                    "head_office": pgettext_lazy("authority level", "head-office")}


def _chinese() -> bool:
    return not (get_language() or "en").startswith("en")


def word(kind: str, code: Any) -> str | None:
    """A role, a permission or a branch level in the page's language (None: not a known code of that kind)."""
    value = str(code or "")
    if kind == "role" and value in {r.value for r in Role}:
        en, zh = ROLE_LABELS[Role(value)]
        return zh if _chinese() else en
    if kind == "permission" and value in {p.value for p in Perm}:
        en, zh = PERM_LABELS[Perm(value)]
        return zh if _chinese() else en
    if kind == "level" and value in _LEVEL_WORDS:
        return str(_LEVEL_WORDS[value])
    return None


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _fill(text: Promise, extra: Mapping[str, Any]) -> str | None:
    sentence = str(text)
    values: dict[str, str] = {}
    for name in _PLACEHOLDER.findall(sentence):
        if name in _WORD_KINDS:
            said = word(_WORD_KINDS[name], extra.get(name))
        elif f"{name}_minor" in extra:
            try:
                said = format_minor(int(extra[f"{name}_minor"]))
            except (TypeError, ValueError):
                said = None
        else:
            raw = extra.get(name)
            said = None if raw is None or raw == "" else str(raw)
        if said is None:
            return None
        values[name] = said
    return sentence % values


def _param_text(code: str, extra: Mapping[str, Any]) -> str | None:
    for text in _PARAM_TEXT.get(code, ()):
        said = _fill(text, extra)
        if said is not None:
            return said
    return None


def figure_text(code: str, extra: Mapping[str, Any] | None) -> str | None:
    """The problem said with its figures in the page's language (None: the code has no such sentence, or the error
    carries no figures)."""
    if not extra:
        return None
    said = _param_text(code, extra)  # issue 20 §1: the generic table first; the sentences below are kept as they were
    if said is not None:
        return said
    if code == "quota_exceeded" and extra.get("measure") in _QUOTA_TEXT:  # issue 20: the quota and what is left
        try:
            return str(_QUOTA_TEXT[extra["measure"]]) % {
                "quota": extra["quota"], "available": format_minor(max(int(extra["available_minor"]), 0)),
                "requested": format_minor(int(extra["requested_minor"]))}
        except (KeyError, TypeError, ValueError):
            return None
    if code == "period_quota_exceeded":  # issue 19 §7 (plans.services.periods.check_month): amounts already in yuan
        try:
            return str(_PERIOD_TEXT) % {"month": extra["month"], "usable": extra["usable"],
                                        "requested": extra["requested"]}
        except (KeyError, TypeError):
            return None
    text = _FIGURE_TEXT.get((code, str(extra.get("limit_kind", ""))))
    try:
        return None if text is None else str(text) % {
            "exposure": format_minor(int(extra["exposure_minor"])), "capital": format_minor(int(extra["capital_base_minor"])),
            "limit": format_minor(int(extra["limit_minor"])), "share": f"{int(extra['limit_bp']) / 100:g}",
            "group": str(extra.get("group", ""))}
    except (KeyError, TypeError, ValueError):
        return None


def problem_text(code: str, message: str, extra: Mapping[str, Any] | None = None) -> str:
    """What to show for a product error: the domain's (precise) English text on an English page, the
    translation of its code on any other, or the English text when the code has no translation. An error that
    carries its figures (`extra`) and has a sentence for them is said with them, in every language."""
    figures = figure_text(code, extra)
    if figures is not None:
        return figures
    text = _PROBLEM_TEXT.get(code)
    if text is None or (not _chinese() and code not in _EVERY_LANGUAGE):
        return message[:1].upper() + message[1:]
    return str(text)


def error_text(error: CreditplanError | FieldProblem) -> str:
    """`problem_text` of an error or of one field's problem, with the numbers and names it carries."""
    return problem_text(error.code, error.message, getattr(error, "extra", None))
