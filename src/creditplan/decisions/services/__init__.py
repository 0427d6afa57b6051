"""Decision-engine use cases — the one door the other apps, the pages and the API use
(`from creditplan.decisions import services`). Each module below holds one responsibility:

    deciding.py     decide an application (`decide`; `begin_decision` for origination's submission, the hot
                    path), the dry `evaluate`, the stored decisions
    snapshot.py     the configuration a decision reads, in one statement, reused while it is unchanged
    serving.py      the scorer and the compiled policy serving a decision (per-process caches)
    authority.py    who may approve by hand; the authority matrix and its page
    products.py     a product's terms, decision settings, grid and benchmark as decisions see them; settings
    policies.py     policy versions and their four-eyes life-cycle
    rulesets.py     decision tables that are not a credit policy (risk's early-warning level), kept as policies
    examples.py     example applications every version is tested against
    grid.py         the grid editor of a version's decision tables
    simulation.py   replaying a version over past decisions
    pricing.py      the pricing page (floor, cap, affordability, grid)
    lpr.py          the LPR table page
    seeding.py      the defaults a product needs before its first decision

The raw SQL of the submission path is in decisions/sql.py.
"""

from creditplan.decisions.services.authority import (
    MatrixReview,
    approver_roles,
    approvers_for,
    authority_level,
    authority_matrix,
    authority_review,
    may_approve,
    set_authority_rules,
    update_authority_matrix,
)
from creditplan.decisions.services.deciding import (
    CHANNELS,
    ENGINE_ACTOR,
    DecisionView,
    PendingDecision,
    begin_decision,
    decide,
    decision_inputs,
    evaluate,
    get_decision,
    inputs_hash,
    list_decisions,
)
from creditplan.decisions.services.examples import (
    OUTCOMES,
    ExampleResult,
    ExampleView,
    add_example,
    delete_example,
    list_examples,
)
from creditplan.decisions.services.grid import grid_of, save_grid
from creditplan.decisions.services.lpr import LprRow, lpr_table, publish_lpr
from creditplan.decisions.services.policies import (
    PolicyVersionView,
    PolicyView,
    approve_version,
    get_policy,
    get_version,
    list_policies,
    new_draft_from,
    return_to_draft,
    run_examples,
    submit_version,
    update_draft,
    upload_policy,
    validate_version,
    version_document,
)
from creditplan.decisions.services.pricing import PricingView, preview_pricing, pricing_setup, update_pricing
from creditplan.decisions.services.products import product_settings, required_approvals, set_product_settings
from creditplan.decisions.services.rulesets import (
    Answer,
    RulesetDecision,
    evaluate_ruleset,
    install_ruleset,
    register_ruleset,
    registered_rulesets,
    ruleset_of,
)
from creditplan.decisions.services.seeding import seed_default_policies
from creditplan.decisions.services.simulation import SimulationView, simulate

__all__ = [
    "CHANNELS", "ENGINE_ACTOR", "OUTCOMES", "DecisionView", "ExampleResult", "ExampleView", "LprRow",
    "MatrixReview", "PendingDecision", "PolicyVersionView", "PolicyView", "PricingView", "SimulationView",
    "add_example", "approve_version", "approver_roles", "approvers_for", "authority_level", "authority_matrix",
    "authority_review",
    "begin_decision", "decide", "decision_inputs", "delete_example", "evaluate", "get_decision", "get_policy",
    "get_version", "grid_of", "inputs_hash", "list_decisions", "list_examples", "list_policies", "lpr_table",
    "may_approve", "new_draft_from", "preview_pricing", "pricing_setup", "product_settings", "publish_lpr",
    "required_approvals", "return_to_draft", "run_examples", "save_grid", "seed_default_policies",
    "set_authority_rules", "set_product_settings", "simulate", "submit_version", "update_authority_matrix",
    "update_draft", "update_pricing", "upload_policy", "validate_version", "version_document",
    "Answer", "RulesetDecision", "evaluate_ruleset", "install_ruleset", "register_ruleset", "registered_rulesets",
    "ruleset_of",
]
