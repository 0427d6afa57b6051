"""A product as a decision sees it — its terms, decision settings (model, affordability, two-approval
threshold), pricing grid and benchmark rate — and configuring them (`policy.approve`).

Decisions themselves read all of this in one statement (snapshot.py); the look-ups here serve the pages, the
policy tests (example applications) and the simulation, which replay decisions outside a submission.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.decisions.domain.pricing import GradeRow, LimitSettings, ProductTerms
from creditplan.decisions.models import GradeTerms, ProductSettings
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.org.domain import Perm


def on_sale_product(code: str) -> tuple[Any, ProductTerms]:
    try:
        p = loans.get_product(str(code or "").strip().lower())
    except NotFound as exc:
        raise ValidationError(exc.message, field="product", code="unknown_product")
    if not p.is_active:
        raise ValidationError(f"product {p.code} is not on sale", field="product", code="product_inactive")
    terms = ProductTerms(code=p.code, min_amount_minor=p.min_amount_minor, max_amount_minor=p.max_amount_minor,
                         min_term=p.min_term, max_term=p.max_term, rate_floor_ppm=p.rate_floor_ppm,
                         rate_cap_ppm=p.rate_cap_ppm, base_rate_ppm=p.rate_ppm, months_per_period=p.months_per_period,
                         method=p.method, upfront_fee_bp=p.upfront_fee_bp,
                         installment_fee_minor=p.installment_fee_minor)
    return p, terms


def settings_of(product: str) -> tuple[ProductSettings, LimitSettings]:
    s = ProductSettings.objects.filter(product=product).first() or ProductSettings(product=product)
    return s, LimitSettings(dsr_pct=s.dsr_pct, amount_step_minor=s.amount_step_minor,
                            dual_approval_above_minor=s.dual_approval_above_minor)


def grades_of(product: str) -> dict[str, GradeRow]:
    return {g.grade: GradeRow(g.grade, g.spread_bp, g.limit_minor, g.auto_approve_max_minor)
            for g in GradeTerms.objects.filter(product=product)}


def benchmark_rate(product: Any, day: dt.date) -> tuple[int, str]:
    try:
        return loans.lpr_on(product.lpr_tenor, day), f"LPR {product.lpr_tenor}"
    except Conflict:
        return product.rate_ppm, "product base rate (no LPR published)"


def any_product(product: str) -> tuple[Any, ProductTerms]:
    """The product, on sale or not (its pricing may be prepared before it goes on sale)."""
    try:
        p = loans.get_product(str(product or "").strip().lower())
    except NotFound as exc:
        raise NotFound(exc.message, field="product", code="unknown_product") from None
    return p, ProductTerms(code=p.code, min_amount_minor=p.min_amount_minor, max_amount_minor=p.max_amount_minor)


def required_approvals(amount_minor: int, product: str) -> int:
    """Two approvals above the product's dual-approval threshold (ProductSettings), else one."""
    threshold = (ProductSettings.objects.filter(product=product).values_list("dual_approval_above_minor", flat=True)
                 .first())
    if threshold is None:
        threshold = ProductSettings._meta.get_field("dual_approval_above_minor").default
    return 2 if int(amount_minor) > int(threshold) else 1


def replay_context(product: str
                   ) -> tuple[ProductTerms, LimitSettings, ProductSettings, dict[str, GradeRow], int, str]:
    """What replaying decisions of a product outside a submission needs (example applications, simulation): its
    terms, limit settings, settings row, pricing grid and today's benchmark rate with its name."""
    prod, terms = on_sale_product(product)
    settings_row, settings = settings_of(prod.code)
    benchmark, name = benchmark_rate(prod, timezone.localdate())
    return terms, settings, settings_row, grades_of(prod.code), benchmark, name


def product_settings(actor: Actor, product: str) -> tuple[ProductSettings, list[GradeTerms]]:
    org.require(actor, Perm.POLICY_VIEW)
    s = ProductSettings.objects.filter(product=product).first() or ProductSettings(product=product)
    return s, list(GradeTerms.objects.filter(product=product))


@transaction.atomic
def set_product_settings(actor: Actor, product: str, *, model_name: str | None = None,
                         segment_models: dict[str, str] | None = None, dsr_pct: int | None = None,
                         dual_approval_above_minor: int | None = None,
                         grades: list[dict[str, Any]] | None = None) -> ProductSettings:
    """Configure a product's model, affordability factor, dual-approval threshold and pricing grid."""
    org.require(actor, Perm.POLICY_APPROVE)
    on_sale_product(product)
    s, _ = ProductSettings.objects.get_or_create(product=product)
    if model_name is not None:
        s.model_name = model_name.strip()[:60]
    if segment_models is not None:
        s.segment_models = {str(k): str(v) for k, v in segment_models.items()}
    if dsr_pct is not None:
        if not 1 <= int(dsr_pct) <= 100:
            raise ValidationError("the affordability factor is a percentage from 1 to 100", field="dsr_pct")
        s.dsr_pct = int(dsr_pct)
    if dual_approval_above_minor is not None:
        s.dual_approval_above_minor = int(dual_approval_above_minor)
    s.save()
    if grades is not None:
        GradeTerms.objects.filter(product=product).delete()
        GradeTerms.objects.bulk_create([GradeTerms(product=product, grade=str(g["grade"]), spread_bp=int(g["spread_bp"]),
                                                   limit_minor=int(g["limit_minor"]),
                                                   auto_approve_max_minor=int(g.get("auto_approve_max_minor", 0)))
                                        for g in grades])
    ledger.append(actor, "decision.product_settings", "product", product,
                  {"model": s.model_name, "dsr_pct": s.dsr_pct, "dual_approval_above_minor": s.dual_approval_above_minor,
                   "grades": None if grades is None else [[g["grade"], int(g["spread_bp"]), int(g["limit_minor"]),
                                                           int(g.get("auto_approve_max_minor", 0))] for g in grades]})
    return s
