"""The configuration snapshot: everything a decision reads besides the application — product, settings,
pricing grid, LPR in force, published policy, scoring models, authority matrix — and the branch, read in ONE
statement (decisions.sql.configuration_row) and built into a `Config` that is reused while the statement reads
back the same texts."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from creditplan.decisions import sql
from creditplan.decisions.domain import authority as authz
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.pricing import GradeRow, LimitSettings, ProductTerms
from creditplan.decisions.models import PolicyVersion, ProductSettings
from creditplan.decisions.services.serving import Models, installed
from creditplan.org.models import Branch
from creditplan.scoring import services as scoring


@dataclass(frozen=True)
class ProductFacts:
    code: str
    is_active: bool
    lpr_tenor: str
    rate_ppm: int


@dataclass(frozen=True)
class Config:
    """A product's decision configuration, built from one snapshot row (see `configuration`)."""

    product: ProductFacts | None
    terms: ProductTerms | None
    settings_row: ProductSettings
    settings: LimitSettings
    grades: dict[str, GradeRow]
    benchmark: tuple[int, str]
    version: PolicyVersion | None
    compiled: pol.CompiledPolicy | None = field(repr=False)
    policy_problem: str
    models: Models
    rules: list[authz.Authority]


_configs: dict[str, tuple[tuple[Any, ...], Config]] = {}
_MAX_CONFIGS = 256


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _build_config(code: str, texts: tuple[Any, ...]) -> Config:
    product_j, settings_j, grades_j, lpr_j, version_j, models_j, rules_j = (_json(x) for x in texts)
    product = terms = None
    if product_j is not None:
        product = ProductFacts(product_j["code"], bool(product_j["is_active"]), product_j["lpr_tenor"],
                               int(product_j["rate_ppm"]))
        terms = ProductTerms(code=product.code, min_amount_minor=product_j["min_amount_minor"],
                             max_amount_minor=product_j["max_amount_minor"], min_term=product_j["min_term"],
                             max_term=product_j["max_term"], rate_floor_ppm=product_j["rate_floor_ppm"],
                             rate_cap_ppm=product_j["rate_cap_ppm"], base_rate_ppm=product_j["rate_ppm"],
                             months_per_period=product_j["months_per_period"], method=product_j["method"],
                             upfront_fee_bp=product_j["upfront_fee_bp"],
                             installment_fee_minor=product_j["installment_fee_minor"])
    if settings_j is not None:
        settings_row = ProductSettings(**{**settings_j, "segment_models": _json(settings_j["segment_models"]) or {}})
    else:
        settings_row = ProductSettings(product=code)
    settings = LimitSettings(dsr_pct=settings_row.dsr_pct, amount_step_minor=settings_row.amount_step_minor,
                             dual_approval_above_minor=settings_row.dual_approval_above_minor)
    grades = {g["grade"]: GradeRow(g["grade"], g["spread_bp"], g["limit_minor"], g["auto_approve_max_minor"])
              for g in grades_j or []}
    if product is None:
        benchmark = (0, "")
    elif lpr_j is None:
        benchmark = (product.rate_ppm, "product base rate (no LPR published)")
    else:
        benchmark = (int(lpr_j["rate_ppm"]), f"LPR {product.lpr_tenor}")
    version, compiled, problem = None, None, f"no published policy for product {code}"
    if version_j is not None:
        version = PolicyVersion(id=version_j["id"], number=version_j["number"], jdm_sha256=version_j["jdm_sha256"])
        compiled, problem = installed(version), ""
    serving, shas = {}, {}
    for m in models_j or []:
        serving[m["name"]] = scoring.ServingModel(m["name"], m["challenger_id"], m["challenger_pct"], m["champion_id"])
        for vid, sha in ((m["champion_id"], m["champion_sha256"]), (m["challenger_id"], m["challenger_sha256"])):
            if vid is not None and sha:
                shas[vid] = sha
    rules = [authz.Authority(r["role"], r["branch_level"], r["product"], r["max_amount_minor"], r["worst_grade"])
             for r in rules_j or []]
    return Config(product, terms, settings_row, settings, grades, benchmark, version, compiled, problem,
                  Models(serving, shas), rules)


def configuration(product: str, branch: str, day: dt.date) -> tuple[Config, Branch | None]:
    """The product's decision configuration and the (active) branch, read in ONE statement.

    The statement returns the configuration itself (as JSON text), not a version number, and the built
    configuration is reused only while that text is identical: whatever changed it — a newly published policy,
    a promoted model, new settings, grid, authority matrix or LPR, a product edit, even a change made outside
    the services — the very next decision sees it, with no invalidation to forget. Nothing is cached across
    processes; within one, the cache holds only what was read last (per product)."""
    row = sql.configuration_row(product, branch, day)
    nb = len(sql.BRANCH_FIELDS)
    texts = tuple(row[nb:])
    cached = _configs.get(product)
    if cached is not None and cached[0] == texts:
        config = cached[1]
    else:
        config = _build_config(product, texts)
        if len(_configs) >= _MAX_CONFIGS:
            _configs.clear()
        _configs[product] = (texts, config)
    branch_obj = None
    if row[0] is not None:
        branch_obj = Branch(**dict(zip(sql.BRANCH_FIELDS, row[:nb], strict=True)), is_active=True)
    return config, branch_obj
