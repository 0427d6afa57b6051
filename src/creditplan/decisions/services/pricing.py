"""The pricing page: a product's rate floor and cap, affordability factor, two-approval threshold and pricing
grid, with the rate each grade gets at today's benchmark; previewed as typed, stored in one transaction (with its
ledger events). `snapshot.configuration` re-reads it for the next decision, so nothing needs invalidating."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import FieldProblem, ValidationError
from creditplan.decisions.domain import authority as authz
from creditplan.decisions.domain import configuration as cfg
from creditplan.decisions.models import GradeTerms, ProductSettings
from creditplan.decisions.services.products import any_product, benchmark_rate, set_product_settings
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.org.domain import Perm


@dataclass(frozen=True)
class PricingView:
    """A product's pricing grid and decision settings, with the rate each grade gets at today's benchmark."""

    product: str
    name: str
    lpr_tenor: str
    benchmark_ppm: int
    benchmark_name: str
    rate_floor_ppm: int
    rate_cap_ppm: int
    dsr_pct: int
    dual_approval_above_minor: int
    grades: list[cfg.GridRow]
    preview: list[cfg.RatePreview]
    warnings: list[str]


def _pricing_view(prod: Any, data: cfg.PricingInput, warnings: list[str]) -> PricingView:
    benchmark, name = benchmark_rate(prod, timezone.localdate())
    return PricingView(prod.code, prod.name, prod.lpr_tenor, benchmark, name, data.rate_floor_ppm, data.rate_cap_ppm,
                       data.dsr_pct, data.dual_approval_above_minor, list(data.grades),
                       cfg.preview_rates(benchmark, data.rate_floor_ppm, data.rate_cap_ppm, data.grades), warnings)


def pricing_setup(actor: Actor, product: str) -> PricingView:
    """The product's pricing as stored (a grade missing from the grid shows as not lent)."""
    org.require(actor, Perm.POLICY_VIEW)
    prod, _terms = any_product(product)
    s = ProductSettings.objects.filter(product=prod.code).first() or ProductSettings(product=prod.code)
    stored = {g.grade: g for g in GradeTerms.objects.filter(product=prod.code)}
    rows = tuple(cfg.GridRow(g, stored[g].spread_bp, stored[g].limit_minor, stored[g].auto_approve_max_minor)
                 if g in stored else cfg.GridRow(g, 0, 0, 0) for g in authz.GRADES)
    return _pricing_view(prod, cfg.PricingInput(prod.rate_floor_ppm, prod.rate_cap_ppm, s.dsr_pct,
                                                s.dual_approval_above_minor, rows), [])



def _parse_pricing(data: Mapping[str, Any]) -> tuple[cfg.PricingInput, list[str]]:
    clean, problems, warnings = cfg.parse_pricing(data)
    if problems or clean is None:
        raise ValidationError.collect(problems or [FieldProblem("rate_floor", "is required", "required")])
    return clean, warnings


def preview_pricing(actor: Actor, product: str, data: Mapping[str, Any]) -> PricingView:
    """What the typed grid would price each grade at today's benchmark; nothing is stored."""
    org.require(actor, Perm.POLICY_VIEW)
    prod, _terms = any_product(product)
    clean, warnings = _parse_pricing(data)
    return _pricing_view(prod, clean, warnings)


@transaction.atomic
def update_pricing(actor: Actor, product: str, data: Mapping[str, Any]) -> PricingView:
    """Store a product's floor and cap (loans, `product.manage`), affordability factor, two-approval threshold
    and pricing grid (`policy.approve`) in one transaction, each part with its ledger event. `data` is the
    form as typed: rate_floor / rate_cap in percent, dsr_pct, dual_above in yuan, and per grade
    spread-<G> (bp), limit-<G> and auto-<G> (yuan)."""
    org.require(actor, Perm.POLICY_APPROVE)
    prod, _terms = any_product(product)
    clean, warnings = _parse_pricing(data)
    if (clean.rate_floor_ppm, clean.rate_cap_ppm) != (prod.rate_floor_ppm, prod.rate_cap_ppm):
        prod = loans.set_rate_bounds(actor, prod.code, rate_floor_ppm=clean.rate_floor_ppm,
                                     rate_cap_ppm=clean.rate_cap_ppm)
    set_product_settings(actor, prod.code, dsr_pct=clean.dsr_pct,
                         dual_approval_above_minor=clean.dual_approval_above_minor,
                         grades=[{"grade": g.grade, "spread_bp": g.spread_bp, "limit_minor": g.limit_minor,
                                  "auto_approve_max_minor": g.auto_approve_max_minor} for g in clean.grades])
    return _pricing_view(prod, clean, warnings)
