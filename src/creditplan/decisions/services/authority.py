"""Approval authority: who may approve an application by hand (the delegated-authority matrix: role × branch
level × product → the largest amount and the worst grade), who could, and maintaining the matrix
(`policy.approve`, a ledger event with the matrix before and after)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.errors import FieldProblem, NotFound, ValidationError
from creditplan.core.money import format_minor
from creditplan.decisions.domain import authority as authz
from creditplan.decisions.domain import configuration as cfg
from creditplan.decisions.models import AuthorityRule, GradeTerms, ProductSettings
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.org.domain import Perm, Role, has_perm
from creditplan.org.models import User


def authority_rules() -> list[authz.Authority]:
    return [authz.Authority(r.role, r.branch_level, r.product, r.max_amount_minor, r.worst_grade)
            for r in AuthorityRule.objects.filter(is_active=True)]


def may_approve(actor: Actor | None, *, product: str, branch_code: str, amount_minor: int, grade: str
                ) -> tuple[bool, str]:
    """Whether `actor` holds enough delegated authority for this application, and why (or why not).

    The actor's role at the level of their own branch must have a rule covering the product, the amount and the
    grade, and the application's branch must be their branch or below it. (Maker-checker — the person who entered
    or reviewed the application may not approve it — is origination's check: it knows who they were.)"""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False, "not logged in"
    if actor.branch_id is None:
        return False, "the user belongs to no branch"
    try:
        app_branch = org.get_branch(str(branch_code or "").strip().upper())
    except NotFound:
        return False, f"no active branch {branch_code!r}"
    mine = actor.branch
    if mine is None:  # pragma: no cover - branch_id is set
        return False, "the user belongs to no branch"
    if not app_branch.path.startswith(mine.path):
        return False, f"the application's branch {app_branch.code} is outside {mine.code}"
    problem = authz.authority_problem(authority_rules(), role=actor.role, level=mine.level,
                                      product=product, amount_minor=int(amount_minor), grade=grade or "G")
    if problem:
        return False, problem
    return True, (f"a {actor.role} at a {mine.level.replace('_', '-')} may approve {product} up to this "
                  f"amount ({format_minor(int(amount_minor))}) and grade {grade}")


def authority_level(actor: Actor | None) -> str:
    """The authority an approver acts under, for the approval record: ``"approver@branch ≤ 1,000,000.00 (D)"``
    (the widest of their rules), or "" when they hold none."""
    if actor is None or getattr(actor, "branch_id", None) is None or actor.branch is None:
        return ""
    level = actor.branch.level
    mine = [r for r in authority_rules() if r.role == actor.role and r.branch_level == level]
    if not mine:
        return ""
    widest = max(mine, key=lambda r: r.max_amount_minor)
    return f"{actor.role}@{level} ≤ {format_minor(widest.max_amount_minor)} ({widest.worst_grade})"


def approvers_for(*, product: str, branch_code: str, amount_minor: int, grade: str,
                  exclude_user_ids: Iterable[int] = ()) -> list[Any]:
    """Every active user who may approve this application (for the review queue), lowest level first.
    `exclude_user_ids`: the maker and reviewers (maker-checker)."""
    try:
        app_branch = org.get_branch(str(branch_code or "").strip().upper())
    except NotFound:
        return []
    rules = authority_rules()
    roles = {r.role for r in rules}
    ancestors = [c for c in app_branch.path.strip("/").split("/") if c]
    users = (User.objects.select_related("branch").filter(is_active=True, role__in=roles, branch__code__in=ancestors)
             .exclude(pk__in=list(exclude_user_ids)))
    out = []
    for u in users:
        if authz.authority_problem(rules, role=u.role, level=u.branch.level, product=product,
                                   amount_minor=int(amount_minor), grade=grade or "G") is None:
            out.append(u)
    order = {lv: i for i, lv in enumerate(authz.LEVELS)}
    return sorted(out, key=lambda u: (order.get(u.branch.level, 9), u.username))


def authority_matrix(actor: Actor) -> list[AuthorityRule]:
    org.require(actor, Perm.POLICY_VIEW)
    return list(AuthorityRule.objects.filter(is_active=True))


@transaction.atomic
def set_authority_rules(actor: Actor, rules: list[dict[str, Any]]) -> int:
    """Replace the authority matrix (a policy decision: POLICY_APPROVE)."""
    org.require(actor, Perm.POLICY_APPROVE)
    clean = []
    for i, r in enumerate(rules):
        level = str(r.get("branch_level") or "")
        if level not in authz.LEVELS:
            raise ValidationError(f"row {i + 1}: branch level must be one of {', '.join(authz.LEVELS)}",
                                  field="branch_level")
        amount = r.get("max_amount_minor")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValidationError(f"row {i + 1}: max_amount_minor must be a positive whole number", field="max_amount_minor")
        clean.append(AuthorityRule(role=str(r.get("role") or ""), branch_level=level, product=str(r.get("product") or ""),
                                   max_amount_minor=amount, worst_grade=str(r.get("worst_grade") or "A")))
    AuthorityRule.objects.all().delete()
    AuthorityRule.objects.bulk_create(clean)
    ledger.append(actor, "decision.authority_set", "authority_matrix", "all",
                  {"rules": [[c.role, c.branch_level, c.product, c.max_amount_minor, c.worst_grade] for c in clean]})
    return len(clean)


# --- the authority matrix page ------------------------------------------------------------------------------
# Each change goes through one function below: permission first, then every check (named by the box it came
# from), then the writes and their ledger event in one transaction. `snapshot.configuration` re-reads all of
# it for the next decision (tests/decisions/test_decisions_cache.py), so nothing needs invalidating here.

def approver_roles() -> list[str]:
    """The roles the matrix may name: those allowed to approve applications at all."""
    return [r.value for r in Role if has_perm(r.value, Perm.APPLICATION_APPROVE)]


def _lendable() -> dict[str, dict[str, int]]:
    """product → grade → the most it may lend to that grade (grade limit, at most the product maximum)."""
    products = {p.code: p.max_amount_minor for p in loans.list_products() if p.is_active}
    out: dict[str, dict[str, int]] = {code: {} for code in products}
    for g in GradeTerms.objects.filter(product__in=list(products)):
        out[g.product][g.grade] = min(g.limit_minor, products[g.product])
    return out


@dataclass(frozen=True)
class MatrixReview:
    """The matrix as the page shows it: the rules, what is wrong with it (gaps), the two-approval thresholds."""

    rules: list[authz.Authority]
    gaps: list[cfg.MatrixFinding]
    thresholds: list[tuple[str, int]]  # (product, two approvals above this amount)
    roles: list[str]
    products: list[str]


def authority_review(actor: Actor) -> MatrixReview:
    org.require(actor, Perm.POLICY_VIEW)
    rules = authority_rules()
    products = [p.code for p in loans.list_products()]
    settings = {s.product: s.dual_approval_above_minor for s in ProductSettings.objects.all()}
    return MatrixReview(rules, cfg.gaps(rules, _lendable()),
                        [(p, settings.get(p, ProductSettings().dual_approval_above_minor)) for p in products],
                        approver_roles(), products)


@transaction.atomic
def update_authority_matrix(actor: Actor, rows: list[dict[str, Any]]) -> MatrixReview:
    """Replace the authority matrix with `rows` (role, branch_level, product ("" = all), max_amount in yuan
    as text — or max_amount_minor — and worst_grade). Refused, with each box named (`role-3`), for an unknown
    role, level, product or grade, an amount that is not positive yuan, or a rule that lies inside another
    (overlap). Gaps — amounts a product lends that nobody may approve — are saved and reported. A
    `decision.authority_set` ledger event records the matrix before and after."""
    org.require(actor, Perm.POLICY_APPROVE)
    typed = []
    for r in rows:
        r = dict(r)
        if "max_amount" not in r and isinstance(r.get("max_amount_minor"), int):
            r["max_amount"] = format_minor(r["max_amount_minor"], grouping=False)
        typed.append(r)
    products = [p.code for p in loans.list_products()]
    parsed, problems = cfg.parse_matrix(typed, roles=approver_roles(), products=products)
    if problems:
        raise ValidationError.collect(problems)
    overlapping = cfg.overlaps(parsed)
    if overlapping:
        exc = ValidationError.collect([FieldProblem(f"row-{f.row}", f.en, "authority_overlap") for f in overlapping])
        exc.extra["zh"] = {f"row-{f.row}": f.zh for f in overlapping}
        raise exc
    if not parsed:
        raise ValidationError("the matrix needs at least one rule: without one nobody may approve",
                              field="row-0", code="authority_empty")
    before = [[r.role, r.branch_level, r.product, r.max_amount_minor, r.worst_grade]
              for r in authority_rules()]
    AuthorityRule.objects.all().delete()
    AuthorityRule.objects.bulk_create([AuthorityRule(role=a.role, branch_level=a.branch_level, product=a.product,
                                                     max_amount_minor=a.max_amount_minor, worst_grade=a.worst_grade)
                                       for _i, a in parsed])
    after = [[a.role, a.branch_level, a.product, a.max_amount_minor, a.worst_grade] for _i, a in parsed]
    review = authority_review(actor)
    ledger.append(actor, "decision.authority_set", "authority_matrix", "all",
                  {"rules": after, "before": before, "gaps": [g.en for g in review.gaps]})
    return review
