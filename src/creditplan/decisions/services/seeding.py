"""The defaults a product needs before its first decision (installer, demo, tests): policy, settings, pricing
grid and the institution's authority matrix."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.decisions.domain import defaults
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.lifecycle import PolicyStatus
from creditplan.decisions.models import AuthorityRule, GradeTerms, Policy, PolicyVersion, ProductSettings
from creditplan.decisions.services.products import on_sale_product
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.org.domain import Perm


@transaction.atomic
def seed_default_policies(actor: Actor | None = None, *, products: Iterable[str] | None = None,
                          model_name: str = "retail-pd") -> list[str]:
    """Give every product (or the ones named) what a decision needs, where it has nothing yet: the default
    policy published as version 1 (knock-outs, score cut-offs per segment; see decisions.domain.defaults), the
    product settings (model `model_name`, 50 % affordability, two approvals above 500,000 yuan), the pricing grid,
    and — once for the institution — the default authority matrix. Idempotent. `actor=None` is the installer
    (demo, tests): the seeded version is recorded as authored and approved by "system"."""
    if actor is not None:
        org.require(actor, Perm.POLICY_APPROVE)
    codes = [p.code for p in loans.list_products()] if products is None else [str(p) for p in products]
    seeded = []
    for code in codes:
        prod, _ = on_sale_product(code)
        ProductSettings.objects.get_or_create(product=prod.code, defaults={"model_name": model_name})
        if not GradeTerms.objects.filter(product=prod.code).exists():
            GradeTerms.objects.bulk_create([GradeTerms(product=prod.code, grade=g, spread_bp=s, limit_minor=lim,
                                                       auto_approve_max_minor=auto)
                                            for g, (s, lim, auto) in defaults.GRADE_GRID.items()])
        policy, _ = Policy.objects.get_or_create(product=prod.code, defaults={"name": f"{prod.name} 审批策略"[:100]})
        if policy.versions.exists():
            continue
        doc = defaults.default_policy(prod.code)
        report = pol.validate(doc)
        text = pol.canonical(doc)
        now = timezone.now()
        v = PolicyVersion.objects.create(
            policy=policy, number=1, status=PolicyStatus.PUBLISHED.value, jdm=text, jdm_sha256=pol.sha256_text(text),
            note="default policy", author=actor if getattr(actor, "pk", None) else None,
            author_name=getattr(actor, "username", None) or "system", validation=report.as_json(), validated_at=now,
            approved_by_name="system", published_at=now)
        ENGINE.install_text(text)
        ledger.append(actor, "policy.published", "policy_version", v.pk,
                      {"product": prod.code, "number": 1, "sha256": v.jdm_sha256, "author": v.author_name,
                       "seeded": True})
        seeded.append(prod.code)
    if not AuthorityRule.objects.exists():
        AuthorityRule.objects.bulk_create([AuthorityRule(role=r, branch_level=lv, product=p, max_amount_minor=amt,
                                                         worst_grade=g) for r, lv, p, amt, g in defaults.AUTHORITY])
        ledger.append(actor, "decision.authority_set", "authority_matrix", "all",
                      {"rules": [list(r) for r in defaults.AUTHORITY], "seeded": True})
    return seeded
