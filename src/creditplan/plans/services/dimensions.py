"""The dimensions a quota may be cut by, and the check that a quota or a loan names only values that exist: branches
(org), products and customer segments configured here, GB/T 4754 industry sections and GB/T 2260 provinces
(customers.domain); and that a child quota narrows its parent."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.utils.translation import get_language

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import NotFound, ValidationError
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.plans.models import DimensionCode, Quota


@transaction.atomic
def add_dimension_code(actor: Actor | None, dimension: str, code: str, name: str, *, system: bool = False,
                       name_en: str = "") -> None:
    """Register a product or segment code plans may name, with its English name for English pages (blank: the
    pages show `name`). `system`: a loan product being created registers its own code (its creator need not be a
    planner)."""
    if not system:
        require(actor, Perm.PLAN_MANAGE)
    if dimension not in ("product", "segment"):
        raise ValidationError("dimension must be product or segment", field="dimension")
    code = (code or "").strip()
    if not code or len(code) > 30:
        raise ValidationError("code must be 1-30 characters", field="code")
    name_en = (name_en or "").strip()[:100]
    _, created = DimensionCode.objects.get_or_create(dimension=dimension, code=code,
                                                     defaults={"name": name[:100], "name_en": name_en})
    if created:
        ledger.append(actor, "plan.dimension_added", "dimension", f"{dimension}:{code}",
                      {"name": name, **({"name_en": name_en} if name_en else {})})
    _NAMES.clear()


def dimension_codes(dimension: str) -> list[tuple[str, str]]:
    """(code, name) of a dimension's codes, the name in the request's language."""
    en = _english()
    return [(c, n_en if en and n_en else n) for c, n, n_en in
            DimensionCode.objects.filter(dimension=dimension).order_by("code").values_list("code", "name", "name_en")]


def _english() -> bool:
    return (get_language() or "zh").startswith("en")


_NAMES: dict[str, tuple[float, dict[tuple[str, str], tuple[str, str]]]] = {}
_NAMES_SECONDS = 30.0


def dimension_name(dimension: str, code: str) -> str:
    """A product or segment code's name in the request's language (the code itself when it is not registered).
    The few registered names are kept for a few seconds (a quota tree names them once per quota); a code added
    here clears them."""
    now = time.monotonic()
    cached = _NAMES.get("all")
    if cached is None or now - cached[0] > _NAMES_SECONDS:
        cached = (now, {(d, c): (n, n_en) for d, c, n, n_en in
                        DimensionCode.objects.values_list("dimension", "code", "name", "name_en")})
        _NAMES["all"] = cached
    pair = cached[1].get((dimension, code))
    if pair is None:
        return code
    return pair[1] if _english() and pair[1] else pair[0]


def _dimension_exists(dimension: str, code: str) -> bool:
    return DimensionCode.objects.filter(dimension=dimension, code=code).exists()


def clean_dimensions(data: dict[str, Any], known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every dimension value must exist in its register: branches, products and segments configured here,
    GB/T 4754 sections, GB/T 2260 provinces. `known` carries look-ups already made by the caller (the
    reservation hot path fetches them with the plan in one statement)."""
    out: dict[str, Any] = {"branch": None, "product": "", "industry": "", "region": "", "segment": ""}
    if data.get("branch"):
        code = str(data["branch"]).strip().upper()
        if known is not None:
            out["branch"] = known.get("branch")
        else:
            try:
                out["branch"] = org.get_branch(code)
            except NotFound:
                out["branch"] = None
        if out["branch"] is None:
            raise ValidationError(f"no active branch {data['branch']!r}", field="branch", code="unknown_branch")
    for dim in ("product", "segment"):
        value = str(data.get(dim) or "").strip()
        exists = (known.get(f"{dim}_ok") if known is not None else None)
        if value and not (exists if exists is not None else _dimension_exists(dim, value)):
            raise ValidationError(f"{dim} {value!r} is not configured", field=dim, code=f"unknown_{dim}")
        out[dim] = value
    industry = str(data.get("industry") or "").strip().upper()
    if industry and industry not in INDUSTRY_SECTIONS:
        raise ValidationError(f"{industry!r} is not a GB/T 4754 section (A-T)", field="industry",
                              code="unknown_industry")
    out["industry"] = industry
    region = str(data.get("region") or "").strip()[:2]
    if region and region not in PROVINCES:
        raise ValidationError(f"{region!r} is not a GB/T 2260 province code", field="region", code="unknown_region")
    out["region"] = region
    return out


def within_parent(parent: Quota, dims: dict[str, Any]) -> str | None:
    """A child must narrow its parent: keep every dimension the parent fixes, and stay inside its branch."""
    if parent.branch_id:
        b = dims["branch"]
        if b is None or not b.path.startswith(parent.branch.path):
            return f"a child of {parent.branch.code}'s quota must be for {parent.branch.code} or a branch below it"
    for dim in ("product", "industry", "region", "segment"):
        if getattr(parent, dim) and dims[dim] != getattr(parent, dim):
            return f"a child must keep its parent's {dim} ({getattr(parent, dim)})"
    return None
