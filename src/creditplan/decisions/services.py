"""Decision-engine use cases: decide an application, who may approve it, and the policies behind it.

`decide` is the automated step of origination: features → champion model score → the product's published JDM
policy (one cached zen engine, loader keyed by version) → limit and risk-based price → authority required →
straight-through approval with a credit-plan reservation when everything allows it → one stored `Decision` and a
`decision.made` ledger event naming the hash of the inputs. It runs inside the caller's transaction.

Policies go draft → validated → submitted → published, the last step by a second person (four eyes); every
change is a ledger event. Published versions never change: decisions name the exact version they ran.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from creditplan.core.errors import Conflict, FieldProblem, Forbidden, LimitExceeded, NotFound, ValidationError
from creditplan.core.money import from_ppm
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.decisions.domain import authority as authz
from creditplan.decisions.domain import configuration as cfg
from creditplan.decisions.domain import defaults, kernel
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain import simulation as sim
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.fastscore import FastScorer, Scored
from creditplan.decisions.domain.lifecycle import PolicyStatus, VersionFacts, editable, transition_problem
from creditplan.decisions.domain.pricing import GradeRow, LimitSettings, ProductTerms, yuan_text
from creditplan.decisions.models import (
    AuthorityRule,
    Decision,
    ExampleCase,
    GradeTerms,
    Policy,
    PolicyVersion,
    ProductSettings,
)
from creditplan.ledger import services as ledger
from creditplan.loans import services as loans
from creditplan.loans.models import LprRate
from creditplan.org import services as org
from creditplan.org.domain import BranchLevel, Perm, Role, has_perm, sees_all_branches
from creditplan.org.models import Branch, User
from creditplan.plans import services as plans
from creditplan.scoring import services as scoring

OUTCOMES = pol.OUTCOMES
CHANNELS = ("web", "app", "api", "branch", "batch")


# --- views ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DecisionView:
    """One decision, as origination and the pages read it.

    ``reasons`` are plain English sentences, ``reasons_zh`` the same in Chinese, ``reason_codes`` their stable
    codes. ``required_level`` / ``required_approvals`` say who would have to approve the application by hand
    (also filled for an automatic approval, for the record). ``quota_status``: ``reserved`` (straight through),
    ``escalated`` (soft quota exceeded: referred), ``refused`` (hard quota), ``unavailable`` (no plan covers it),
    ``not_requested`` (``reserve=False``), ``not_checked`` (the outcome was not approve, or a dry evaluation).
    """

    id: int | None
    application_ref: str
    outcome: str
    reasons: list[str]
    score: int | None
    grade: str
    approved_amount_minor: int
    rate_ppm: int
    apr: Decimal
    installment_minor: int
    required_level: str
    required_approvals: int
    quota_status: str
    policy_version: int | None
    rules_fired: list[dict[str, Any]]
    limit_steps: list[dict[str, Any]]
    price_steps: list[dict[str, Any]]
    reasons_zh: list[str] = field(default_factory=list)
    reason_codes: list[str] = field(default_factory=list)
    pd: float | None = None
    model_version: int | None = None
    policy_label: str = ""
    product: str = ""
    branch: str = ""
    requested_minor: int = 0
    term: int = 0
    auto_approve_max_minor: int = 0
    policy_outcome: str = ""
    quota_detail: str = ""
    score_reasons: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    inputs_hash: str = ""
    timings_us: dict[str, int] = field(default_factory=dict)
    created_at: Any = None
    actor_name: str = ""


@dataclass(frozen=True)
class PolicyVersionView:
    id: int
    product: str
    policy_name: str
    number: int
    status: str
    sha256: str
    note: str
    author: str
    approved_by: str
    created_at: Any
    validated_at: Any
    submitted_at: Any
    published_at: Any
    validation: dict[str, Any]
    test_summary: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.product} v{self.number}"


@dataclass(frozen=True)
class PolicyView:
    id: int
    product: str
    name: str
    published: PolicyVersionView | None
    versions: list[PolicyVersionView]


@dataclass(frozen=True)
class ExampleView:
    id: int
    name: str
    application: dict[str, Any]
    expected_outcome: str


@dataclass(frozen=True)
class ExampleResult:
    example: ExampleView
    outcome: str
    passed: bool
    reasons: list[str]
    score: float | None
    grade: str
    approved_amount_minor: int


@dataclass(frozen=True)
class SimulationView:
    product: str
    version: PolicyVersionView | None
    cutoff_shift: int
    cases: int
    comparison: dict[str, Any]
    changed_examples: list[dict[str, Any]]


# --- the engine's own principal ---------------------------------------------------------------------

@dataclass(frozen=True)
class _EngineActor:
    """Who reserves plan quota for a straight-through approval: the institution's decision engine, recorded as
    ``decision-engine`` on the reservation and its ledger event (the ``decision.made`` event names the person or
    customer whose submission triggered it). Never exposed outside this module."""

    username: str = "decision-engine"
    role: str = "admin"
    pk: None = None
    branch_id: None = None
    is_authenticated: bool = True
    is_active: bool = True


ENGINE_ACTOR = _EngineActor()


def _require_decide(actor: Any) -> None:
    """Staff with DECISION_MAKE, or a customer applying for themselves (origination checks it is theirs)."""
    if org.may(actor, Perm.DECISION_MAKE) or org.may(actor, Perm.APPLICATION_APPLY):
        if not getattr(actor, "is_active", False):
            raise Forbidden("this account is disabled", code="permission_denied")
        return
    org.require(actor, Perm.DECISION_MAKE)


# --- configuration look-ups ---------------------------------------------------------------------------

def _product(code: str) -> tuple[Any, ProductTerms]:
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


def _settings(product: str) -> tuple[ProductSettings, LimitSettings]:
    s = ProductSettings.objects.filter(product=product).first() or ProductSettings(product=product)
    return s, LimitSettings(dsr_pct=s.dsr_pct, amount_step_minor=s.amount_step_minor,
                            dual_approval_above_minor=s.dual_approval_above_minor)


def _grades(product: str) -> dict[str, GradeRow]:
    return {g.grade: GradeRow(g.grade, g.spread_bp, g.limit_minor, g.auto_approve_max_minor)
            for g in GradeTerms.objects.filter(product=product)}


def _benchmark(product: Any, day: dt.date) -> tuple[int, str]:
    try:
        return loans.lpr_on(product.lpr_tenor, day), f"LPR {product.lpr_tenor}"
    except Conflict:
        return product.rate_ppm, "product base rate (no LPR published)"


def _published(product: str) -> tuple[PolicyVersion | None, pol.CompiledPolicy | None, str]:
    """The product's published version, compiled and installed in the engine (text read only on first use)."""
    row = (PolicyVersion.objects.filter(policy__product=product, status=PolicyStatus.PUBLISHED)
           .values("id", "number", "jdm_sha256").first())
    if row is None:
        return None, None, f"no published policy for product {product}"
    version = PolicyVersion(id=row["id"], number=row["number"], jdm_sha256=row["jdm_sha256"])
    return version, _installed(version), ""


_scorers: dict[int, tuple[str, FastScorer]] = {}
_scorers_lock = threading.Lock()


def _scorer(version_id: int, sha256: str | None = None) -> FastScorer:
    """A model version's single-record scorer, built once per process (artifacts are immutable). With the
    artifact's SHA-256 (the configuration snapshot reads it), a cached scorer is only used for that artifact."""
    cached = _scorers.get(version_id)
    if cached is not None and (sha256 is None or cached[0] == sha256):
        return cached[1]
    version, compiled = scoring._compiled(version_id)
    with _scorers_lock:
        cached = _scorers.get(version_id)
        if cached is None or cached[0] != version.artifact_sha256:
            cached = _scorers[version_id] = (version.artifact_sha256, FastScorer(compiled.artifact))
    return cached[1]


def _model(settings: ProductSettings, segment: str, key: str, models: _Models | None = None
           ) -> tuple[FastScorer | None, int | None, str]:
    """The scorer serving this application. `models`: the registry as the configuration snapshot read it;
    without it the registry is asked."""
    name = (settings.segment_models or {}).get(segment) or settings.model_name
    if not name:
        return None, None, f"no scoring model is configured for product {settings.product}"
    try:
        if models is None:
            vid, sha = scoring.champion_for(name, key), None
        else:
            vid = scoring.serving_version_in(models.serving, name, key)
            sha = models.artifact_sha256.get(vid)
    except (NotFound, Conflict, ValidationError) as exc:
        return None, None, f"scoring model {name}: {exc.message}"
    return _scorer(vid, sha), vid, ""


def _authority_rules() -> list[authz.Authority]:
    return [authz.Authority(r.role, r.branch_level, r.product, r.max_amount_minor, r.worst_grade)
            for r in AuthorityRule.objects.filter(is_active=True)]


# --- the configuration snapshot: everything a decision reads besides the application, in ONE statement ------

@dataclass(frozen=True)
class _Models:
    """The model registry as a decision sees it: serving facts by model name, artifact SHA-256 by version."""

    serving: dict[str, scoring.ServingModel]
    artifact_sha256: dict[int, str]


@dataclass(frozen=True)
class _ProductFacts:
    code: str
    is_active: bool
    lpr_tenor: str
    rate_ppm: int


@dataclass(frozen=True)
class _Config:
    """A product's decision configuration, built from one snapshot row (see `_configuration`)."""

    product: _ProductFacts | None
    terms: ProductTerms | None
    settings_row: ProductSettings
    settings: LimitSettings
    grades: dict[str, GradeRow]
    benchmark: tuple[int, str]
    version: PolicyVersion | None
    compiled: pol.CompiledPolicy | None = field(repr=False)
    policy_problem: str
    models: _Models
    rules: list[authz.Authority]


_PRODUCT_FIELDS = ("code", "is_active", "min_amount_minor", "max_amount_minor", "min_term", "max_term",
                   "rate_floor_ppm", "rate_cap_ppm", "rate_ppm", "months_per_period", "method", "upfront_fee_bp",
                   "installment_fee_minor", "lpr_tenor")
_SETTINGS_FIELDS = ("product", "model_name", "segment_models", "dsr_pct", "dual_approval_above_minor",
                    "amount_step_minor")
_BRANCH_FIELDS = ("id", "code", "name", "name_en", "level", "parent_id", "path", "region_code")
_snapshot_sql: dict[str, str] = {}
_configs: dict[str, tuple[tuple[Any, ...], _Config]] = {}
_MAX_CONFIGS = 256


def _build_snapshot_sql(vendor: str) -> str:
    """The statement behind `_configuration`: the branch's columns, then one JSON text per kind of configuration
    (product, product settings, pricing grid, LPR in force, published policy version, scoring models with their
    champion, authority matrix), each ordered so that the same data always gives the same text."""
    from creditplan.loans.models import LprRate, Product
    from creditplan.scoring.models import ModelVersion, ScoringModel

    pg = vendor == "postgresql"
    product, lpr, settings = Product._meta.db_table, LprRate._meta.db_table, ProductSettings._meta.db_table
    grades, policy, version = GradeTerms._meta.db_table, Policy._meta.db_table, PolicyVersion._meta.db_table
    model, mversion = ScoringModel._meta.db_table, ModelVersion._meta.db_table
    rule, branch = AuthorityRule._meta.db_table, Branch._meta.db_table

    def obj(pairs: Iterable[tuple[str, str]]) -> str:
        args = ", ".join(f"'{k}', {v}" for k, v in pairs)
        return f"{'json_build_object' if pg else 'json_object'}({args})"

    def of(alias: str, names: Iterable[str]) -> list[tuple[str, str]]:
        return [(n, f"{alias}.{n}") for n in names]

    def one(expr: str, source: str) -> str:
        return f"(SELECT {expr} FROM {source} LIMIT 1)" + ("::text" if pg else "")

    def many(expr: str, source: str, order: str) -> str:
        if pg:
            return f"(SELECT json_agg({expr} ORDER BY {order}) FROM {source})::text"
        return f"(SELECT json_group_array(json(j)) FROM (SELECT {expr} AS j FROM {source} ORDER BY {order}))"

    def version_of(where: str, column: str) -> str:
        return f"(SELECT mv.{column} FROM {mversion} mv WHERE {where} ORDER BY mv.number DESC LIMIT 1)"

    champion = "mv.model_id = m.id AND mv.status = 'champion'"
    models = [("name", "m.name"), ("challenger_id", "m.challenger_id"), ("challenger_pct", "m.challenger_pct"),
              ("champion_id", version_of(champion, "id")),
              ("champion_sha256", version_of(champion, "artifact_sha256")),
              ("challenger_sha256", version_of("mv.id = m.challenger_id", "artifact_sha256"))]
    settings_fields = [(n, "json(s.segment_models)" if n == "segment_models" and not pg else f"s.{n}")
                       for n in _SETTINGS_FIELDS]
    columns = [f"b.{c}" for c in _BRANCH_FIELDS] + [
        one(obj(of("p", _PRODUCT_FIELDS)), f"{product} p WHERE p.code = %s"),
        one(obj(settings_fields), f"{settings} s WHERE s.product = %s"),
        many(obj(of("g", ("grade", "spread_bp", "limit_minor", "auto_approve_max_minor"))),
             f"{grades} g WHERE g.product = %s", "g.grade"),
        one(obj(of("l", ("rate_ppm", "effective_date"))),
            f"{lpr} l JOIN {product} lp ON l.tenor = lp.lpr_tenor WHERE lp.code = %s AND l.effective_date <= %s "
            "ORDER BY l.effective_date DESC"),
        one(obj(of("v", ("id", "number", "jdm_sha256"))),
            f"{version} v JOIN {policy} pp ON pp.id = v.policy_id WHERE pp.product = %s AND v.status = 'published' "
            "ORDER BY v.number DESC"),
        many(obj(models), f"{model} m", "m.id"),
        many(obj(of("r", ("role", "branch_level", "product", "max_amount_minor", "worst_grade"))),
             f"{rule} r WHERE r.is_active", "r.branch_level, r.role, r.product, r.max_amount_minor, r.id"),
    ]
    return (f"SELECT {', '.join(columns)} FROM (SELECT 1 AS one) x "
            f"LEFT JOIN {branch} b ON b.code = %s AND b.is_active")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _build_config(code: str, texts: tuple[Any, ...]) -> _Config:
    product_j, settings_j, grades_j, lpr_j, version_j, models_j, rules_j = (_json(x) for x in texts)
    product = terms = None
    if product_j is not None:
        product = _ProductFacts(product_j["code"], bool(product_j["is_active"]), product_j["lpr_tenor"],
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
        compiled, problem = _installed(version), ""
    serving, shas = {}, {}
    for m in models_j or []:
        serving[m["name"]] = scoring.ServingModel(m["name"], m["challenger_id"], m["challenger_pct"], m["champion_id"])
        for vid, sha in ((m["champion_id"], m["champion_sha256"]), (m["challenger_id"], m["challenger_sha256"])):
            if vid is not None and sha:
                shas[vid] = sha
    rules = [authz.Authority(r["role"], r["branch_level"], r["product"], r["max_amount_minor"], r["worst_grade"])
             for r in rules_j or []]
    return _Config(product, terms, settings_row, settings, grades, benchmark, version, compiled, problem,
                   _Models(serving, shas), rules)


def _installed(version: PolicyVersion) -> pol.CompiledPolicy:
    """The version's compiled policy, installed in the engine (its text is read only when not installed)."""
    compiled = ENGINE.get(f"jdm-{version.jdm_sha256}")
    if compiled is None:
        text = PolicyVersion.objects.values_list("jdm", flat=True).get(pk=version.pk)
        compiled = ENGINE.install_text(text)
    return compiled


def _configuration(product: str, branch: str, day: dt.date) -> tuple[_Config, Branch | None]:
    """The product's decision configuration and the (active) branch, read in ONE statement.

    The statement returns the configuration itself (as JSON text), not a version number, and the built
    configuration is reused only while that text is identical: whatever changed it — a newly published policy,
    a promoted model, new settings, grid, authority matrix or LPR, a product edit, even a change made outside
    the services — the very next decision sees it, with no invalidation to forget. Nothing is cached across
    processes; within one, the cache holds only what was read last (per product)."""
    vendor = connection.vendor
    sql = _snapshot_sql.get(vendor)
    if sql is None:
        sql = _snapshot_sql[vendor] = _build_snapshot_sql(vendor)
    day_param: Any = day if vendor == "postgresql" else day.isoformat()
    with connection.cursor() as cur:
        cur.execute(sql, [product, product, product, product, day_param, product, branch])
        row = cur.fetchone()
    nb = len(_BRANCH_FIELDS)
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
        branch_obj = Branch(**dict(zip(_BRANCH_FIELDS, row[:nb], strict=True)), is_active=True)
    return config, branch_obj


def required_approvals(amount_minor: int, product: str) -> int:
    """Two approvals above the product's dual-approval threshold (ProductSettings), else one."""
    threshold = (ProductSettings.objects.filter(product=product).values_list("dual_approval_above_minor", flat=True)
                 .first())
    if threshold is None:
        threshold = ProductSettings._meta.get_field("dual_approval_above_minor").default
    return 2 if int(amount_minor) > int(threshold) else 1


def _required(rules: list[authz.Authority], settings: LimitSettings, product: str, amount: int, grade: str
              ) -> tuple[str, int]:
    level = authz.required_level(rules, product=product, amount_minor=amount, grade=grade or "G")
    return level or BranchLevel.HEAD_OFFICE.value, 2 if amount > settings.dual_approval_above_minor else 1


def inputs_hash(inputs: Mapping[str, Any]) -> str:
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _score_int(score: float | None) -> int | None:
    return None if score is None else int(math.floor(score + 0.5))


# --- deciding ---------------------------------------------------------------------------------------

def _check_request(application_ref: str, amount_minor: Any, term: Any, inputs: Any, channel: str) -> str:
    ref = str(application_ref or "").strip()
    if not ref or len(ref) > 60:
        raise ValidationError("application reference is required (at most 60 characters)", field="application_ref")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError("amount_minor must be a positive whole number of fen", field="amount_minor",
                              code="invalid_amount")
    if isinstance(term, bool) or not isinstance(term, int) or not 1 <= term <= 600:
        raise ValidationError("term must be a whole number of periods from 1 to 600", field="term", code="invalid_term")
    if not isinstance(inputs, Mapping):
        raise ValidationError("inputs must be a JSON object", field="inputs", code="invalid_inputs")
    if channel not in CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(CHANNELS)}", field="channel", code="invalid_channel")
    return ref


@dataclass
class _Prepared:
    product: Any
    terms: ProductTerms
    settings_row: ProductSettings
    settings: LimitSettings
    grades: dict[str, GradeRow]
    branch: Branch
    version: PolicyVersion | None
    compiled: pol.CompiledPolicy | None
    policy_problem: str
    scorer: FastScorer | None
    model_version: int | None
    model_problem: str
    result: kernel.KernelResult
    rules: list[authz.Authority]


def _prepare(actor: Any, *, ref: str, product: str, branch: str, amount_minor: int, term: int,
             inputs: Mapping[str, Any], channel: str, on: dt.date | None, version_id: int | None = None) -> _Prepared:
    code = str(product or "").strip().lower()
    branch_code = str(branch or "").strip().upper()
    config, branch_obj = _configuration(code, branch_code, on or timezone.localdate())
    prod, terms = config.product, config.terms
    if prod is None or terms is None:
        raise ValidationError(f"no product {code!r}", field="product", code="unknown_product")
    if not prod.is_active:
        raise ValidationError(f"product {prod.code} is not on sale", field="product", code="product_inactive")
    if branch_obj is None:
        raise ValidationError(f"no active branch with code {branch_code!r}", field="branch", code="unknown_branch")
    if getattr(actor, "role", "customer") != "customer" and not org.branch_in_scope(actor, branch_obj):
        raise Forbidden("the application's branch is outside your branch", code="branch_out_of_scope")
    benchmark, benchmark_name = config.benchmark
    if version_id is None:
        version, compiled, policy_problem = config.version, config.compiled, config.policy_problem
        if compiled is not None and ENGINE.get(compiled.key) is None:  # evicted from the engine meanwhile
            compiled = ENGINE.install(compiled)
    else:
        version = _version(version_id)
        if version.policy.product != prod.code:
            raise ValidationError(f"policy version {version_id} is not a {prod.code} policy", field="version_id")
        compiled, policy_problem = ENGINE.install_text(version.jdm), ""
    app = kernel.Application(ref, prod.code, amount_minor, term, inputs, channel)
    scorer, model_version, model_problem = _model(config.settings_row, app.segment, ref, config.models)
    result = kernel.run(app, product=terms, grades=config.grades, settings=config.settings, benchmark_ppm=benchmark,
                        benchmark_name=benchmark_name, engine=ENGINE, policy=compiled, scorer=scorer,
                        model_problem=model_problem, policy_problem=policy_problem)
    return _Prepared(prod, terms, config.settings_row, config.settings, config.grades, branch_obj, version, compiled,
                     policy_problem, scorer, model_version, model_problem, result, config.rules)


def _reserve(prepared: _Prepared, *, ref: str, customer_id: int, inputs: Mapping[str, Any], on: dt.date | None
             ) -> tuple[str, str, kernel.Reason | None]:
    """Hold quota for a straight-through approval; (status, detail, reason to refer or None)."""
    industry = str(inputs.get("industry_code") or inputs.get("industry") or "")[:1].upper()
    region = str(inputs.get("region_code") or inputs.get("region") or "")[:2]
    segment = str(inputs.get("segment") or "")
    known_segments = {c for c, _ in plans.dimension_codes("segment")} if segment else set()
    try:
        # inside the caller's transaction, no savepoint: every refusal comes before the plan writes anything
        res = plans.reserve_quota_in_transaction(
            ENGINE_ACTOR, application_ref=ref, amount=plans.yuan(prepared.result.limit.approved_minor),
            branch=prepared.branch.code, product=prepared.terms.code,
            industry=industry if industry in INDUSTRY_SECTIONS else "",
            region=region if region in PROVINCES else "", segment=segment if segment in known_segments else "",
            customer_ref=str(customer_id), group_ref=str(inputs.get("group_ref") or "")[:60], on=on)
    except LimitExceeded as exc:
        return "refused", exc.message[:300], kernel.Reason(
            "QUOTA_REFUSED", f"the credit plan refuses the amount: {exc.message}", f"信贷计划额度不足：{exc.message}")
    except (Conflict, ValidationError) as exc:
        return "unavailable", exc.message[:300], kernel.Reason(
            "QUOTA_UNAVAILABLE", f"no credit-plan quota could be reserved: {exc.message}",
            f"无法占用信贷计划额度：{exc.message}")
    if res.status == "escalated":
        return "escalated", res.reason[:300], kernel.Reason(
            "QUOTA_ESCALATION", f"quota escalation: {res.reason}", f"超出软性额度，需上报：{res.reason}")
    return res.status, res.reason[:300], None


def decide(actor: Any, *, application_ref: str, customer_id: int, product: str, branch: str, amount_minor: int,
           term: int, inputs: dict[str, Any], channel: str = "web", reserve: bool = True,
           on: dt.date | None = None) -> DecisionView:
    """Decide one application and store the decision (inside the caller's transaction).

    Outcome approve only when every rule passes, the approved amount is within the auto-approval amount of the
    grade and the credit plan has quota (then a reservation is held); a soft quota exceeded, a hard quota refused,
    no plan, a missing field a rule needs, no model or no published policy → refer with the reason; knock-outs,
    cut-offs or no lendable amount → decline. Raises ValidationError only for a malformed request (unknown
    product or branch, non-positive amount, bad term) and Forbidden for an actor who may not decide — both
    before anything is written.
    """
    pending = begin_decision(actor, application_ref=application_ref, customer_id=customer_id, product=product,
                             branch=branch, amount_minor=amount_minor, term=term, inputs=inputs, channel=channel,
                             reserve=reserve, on=on)
    # No savepoint of its own inside a caller's transaction (two round trips): everything that may refuse the
    # request has been checked above, and what follows either succeeds or fails the caller's transaction.
    with transaction.atomic(savepoint=False):
        sql, params = pending.insert()
        with connection.cursor() as cur:
            cur.execute(sql, params)
            pending.inserted(cur.fetchone()[0])
        pending.reserve()
        event = pending.event()
        ledger.append(actor, event.kind, event.subject_type, event.subject_id, event.data)
    return pending.view


def begin_decision(actor: Any, *, application_ref: str, customer_id: int, product: str, branch: str,
                   amount_minor: int, term: int, inputs: dict[str, Any], channel: str = "web", reserve: bool = True,
                   on: dt.date | None = None) -> PendingDecision:
    """`decide` in steps, for a caller that stores the decision together with its own rows (origination).

    Now: the checks, the configuration, the kernel and the authority — raising as `decide` does, before anything
    is written. Then, inside the caller's transaction: run `insert()`'s statement (the caller may make it part
    of its own) and hand its id to `inserted(id)`; `reserve()` the plan quota; append `event()` to the ledger
    (with the caller's events: `ledger.append_many`) before the transaction ends. `view` is the decision.

    Why in this order: a straight-through approval holds the credit plan's quota rows (and the ledger's
    sequencer) locked from its reservation to the commit, and every other approval waits for them. So the rows
    are written before the reservation, as the plan usually answers ("reserved"), and after it comes only the
    commit. When the plan answers otherwise (quota refused or escalated: the application is referred), `reserve()`
    corrects the stored decision and tells the caller to correct its rows from `view`."""
    _require_decide(actor)
    started = time.perf_counter_ns()
    ref = _check_request(application_ref, amount_minor, term, inputs, channel)
    if isinstance(customer_id, bool) or not isinstance(customer_id, int):
        raise ValidationError("customer_id must be a number", field="customer_id")
    prepared = _prepare(actor, ref=ref, product=product, branch=branch, amount_minor=amount_minor, term=term,
                        inputs=inputs, channel=channel, on=on)
    return PendingDecision(actor, prepared, ref=ref, customer_id=customer_id, amount_minor=amount_minor, term=term,
                           inputs=inputs, channel=channel, reserve=reserve, on=on, started=started)


_DECISION_FIELDS = [f for f in Decision._meta.concrete_fields if not f.primary_key]
_DECISION_JSON = {f.attname for f in _DECISION_FIELDS if f.get_internal_type() == "JSONField"}
#: What the plan's answer may change in a decision already written.
_QUOTA_FIELDS = ("outcome", "reasons", "quota_status", "quota_detail")


#: Fields whose adaptation gives back a value of this exact type unchanged (None too): skipped on the hot path.
_PLAIN = {"CharField": str, "TextField": str, "BigIntegerField": int, "IntegerField": int, "PositiveIntegerField": int,
          "PositiveSmallIntegerField": int, "BooleanField": bool, "FloatField": float, "ForeignKey": int}
_PASS_TYPE = {f.attname: _PLAIN.get(f.get_internal_type()) for f in _DECISION_FIELDS}


def _db_value(field: Any, value: Any) -> Any:
    """A value as the INSERT sends it: JSON already serialised (as the field would: ``json.dumps`` with its
    encoder; the statement casts it), text, numbers and ids as they are, the rest through the field's own
    adaptation."""
    if value is None and field.attname not in _DECISION_JSON or type(value) is _PASS_TYPE.get(field.attname):
        return value
    if field.attname in _DECISION_JSON:
        return None if value is None else json.dumps(value, cls=field.encoder)
    return field.get_db_prep_save(value, connection)


def _slot(attname: str) -> str:
    return "%s::jsonb" if attname in _DECISION_JSON and connection.vendor == "postgresql" else "%s"


class PendingDecision:
    """A decision made but not yet stored, nor final until the plan has answered (see `begin_decision`)."""

    def __init__(self, actor: Any, prepared: _Prepared, *, ref: str, customer_id: int, amount_minor: int, term: int,
                 inputs: Mapping[str, Any], channel: str, reserve: bool, on: dt.date | None, started: int) -> None:
        self._prepared, self._ref, self._customer_id = prepared, ref, customer_id
        self._inputs, self._on, self._started = inputs, on, started
        r = prepared.result
        outcome, reasons = r.outcome, list(r.reasons)
        level, approvals = _required(prepared.rules, prepared.settings, prepared.terms.code,
                                     r.limit.approved_minor or amount_minor, r.grade)
        quota_status, self._needs_quota = "not_checked", False
        if outcome == "approve":
            auto_max = r.auto_approve_max_minor
            if r.limit.approved_minor > auto_max:
                outcome = "refer"
                reasons.append(kernel.Reason(
                    "ABOVE_AUTO_APPROVAL", f"{yuan_text(r.limit.approved_minor)} is above the automatic approval "
                    f"amount for grade {r.grade or '-'} ({yuan_text(auto_max)}): a person with authority must approve",
                    f"{yuan_text(r.limit.approved_minor)} 超过等级 {r.grade or '-'} 的自动审批金额 {yuan_text(auto_max)}，"
                    "需有权人审批"))
            elif not reserve:
                quota_status = "not_requested"
            else:
                quota_status, self._needs_quota = "reserved", True  # as the plan usually answers: see reserve()
        branch_obj = prepared.branch
        self._reasons = reasons
        self.row = Decision(
            application_ref=ref, customer_id=customer_id, product=prepared.terms.code, branch=branch_obj.code,
            branch_path=branch_obj.path, channel=channel, requested_minor=amount_minor, term=term,
            segment=str(r.facts.get("segment", "")), inputs=_jsonable(inputs), inputs_hash=inputs_hash(inputs),
            facts=_jsonable(r.facts), model_version_id=prepared.model_version,
            score=r.scored.score if r.scored else None, pd=r.scored.pd if r.scored else None, grade=r.grade,
            policy_version_id=prepared.version.pk if prepared.version else None, outcome=outcome,
            policy_outcome=r.outcome, reasons=[x.as_json() for x in reasons], rules_fired=r.rules_fired,
            limit_steps=r.limit.steps, price_steps=r.price.steps, approved_minor=r.limit.approved_minor,
            rate_ppm=r.price.rate_ppm, apr_ppm=int(r.apr * 1_000_000), installment_minor=r.installment_minor,
            quota_status=quota_status, quota_detail="", required_level=level, required_approvals=approvals,
            timings_us=r.timings_us, actor=actor if getattr(actor, "pk", None) else None,
            actor_name=getattr(actor, "username", None) or "system")
        self.view = _decision_view(self.row, prepared.version)
        """The decision as it stands: before `reserve()`, as if the plan grants the quota."""

    def insert(self) -> tuple[str, list[Any]]:
        """The INSERT … RETURNING id that stores the decision as it stands (a caller may run it in a CTE)."""
        d = self.row
        d.timings_us = {**d.timings_us, "total": (time.perf_counter_ns() - self._started) // 1000}
        d.created_at = timezone.now()
        sql = _decision_sql.get(connection.vendor)
        if sql is None:
            sql = _decision_sql[connection.vendor] = (
                f"INSERT INTO {Decision._meta.db_table} ({', '.join(f.column for f in _DECISION_FIELDS)}) "
                f"VALUES ({', '.join(_slot(f.attname) for f in _DECISION_FIELDS)}) RETURNING id")
        return sql, [_db_value(f, getattr(d, f.attname)) for f in _DECISION_FIELDS]

    def inserted(self, decision_id: int) -> None:
        """The id the INSERT returned."""
        d = self.row
        d.pk = d.id = decision_id
        d._state.adding, d._state.db = False, connection.alias
        self.view = _decision_view(d, self._prepared.version)

    def reserve(self) -> bool:
        """Hold plan quota for a straight-through approval (inside the caller's transaction, after the insert).
        When the plan answers otherwise than "reserved" — a hard quota refuses, a soft one escalates, no plan
        covers the loan: the application is referred — the stored decision is corrected here, and True says that
        `view` changed (outcome, reasons, quota status): the caller corrects the rows it built from it."""
        if not self._needs_quota:
            return False
        self._needs_quota = False
        d = self.row
        status, detail, problem = _reserve(self._prepared, ref=self._ref, customer_id=self._customer_id,
                                           inputs=self._inputs, on=self._on)
        changed = status != d.quota_status or problem is not None
        d.quota_status, d.quota_detail = status, detail
        if problem is not None:
            d.outcome = "refer"
            self._reasons.append(problem)
            d.reasons = [x.as_json() for x in self._reasons]
        if changed or detail:  # (a monitor-only quota may grant it with a note: the note is kept)
            fields = [Decision._meta.get_field(name) for name in _QUOTA_FIELDS]
            with connection.cursor() as cur:
                cur.execute(f"UPDATE {Decision._meta.db_table} SET "
                            f"{', '.join(f'{f.column} = {_slot(f.attname)}' for f in fields)} WHERE id = %s",
                            [*(_db_value(f, getattr(d, f.attname)) for f in fields), d.pk])
            self.view = _decision_view(d, self._prepared.version)
        return changed

    def event(self) -> ledger.EventSpec:
        """The ``decision.made`` ledger event, for the caller to append in the same transaction."""
        d, version = self.row, self._prepared.version
        return ledger.EventSpec("decision.made", "decision", str(d.pk), {
            "application_ref": self._ref, "inputs_sha256": d.inputs_hash, "outcome": d.outcome, "product": d.product,
            "policy_version": d.policy_version_id, "policy_sha256": version.jdm_sha256 if version else None,
            "model_version": d.model_version_id, "score": None if d.score is None else f"{d.score:.4f}",
            "grade": d.grade, "approved_minor": d.approved_minor, "rate_ppm": d.rate_ppm, "quota": d.quota_status,
            "reasons": [x["code"] for x in d.reasons]})


_decision_sql: dict[str, str] = {}


def evaluate(actor: Any, *, product: str, branch: str, amount_minor: int, term: int, inputs: dict[str, Any],
             application_ref: str = "DRY-RUN", channel: str = "api", on: dt.date | None = None,
             version_id: int | None = None) -> DecisionView:
    """A dry evaluation: the same kernel, authority and explanation as `decide`, with nothing stored, no quota
    reserved and no ledger event (partners and tests). `version_id` evaluates a draft instead of the published
    version (policy editors)."""
    if not (org.may(actor, Perm.POLICY_VIEW)):
        _require_decide(actor)
    if version_id is not None:
        org.require(actor, Perm.POLICY_VIEW)
    ref = _check_request(application_ref, amount_minor, term, inputs, channel)
    prepared = _prepare(actor, ref=ref, product=product, branch=branch, amount_minor=amount_minor, term=term,
                        inputs=inputs, channel=channel, on=on, version_id=version_id)
    r = prepared.result
    level, approvals = _required(prepared.rules, prepared.settings, prepared.terms.code,
                                 r.limit.approved_minor or amount_minor, r.grade)
    version = prepared.version
    return DecisionView(
        id=None, application_ref=ref, outcome=r.outcome, reasons=[x.en for x in r.reasons], score=_score_int(
            r.scored.score if r.scored else None), grade=r.grade, approved_amount_minor=r.limit.approved_minor,
        rate_ppm=r.price.rate_ppm, apr=r.apr, installment_minor=r.installment_minor, required_level=level,
        required_approvals=approvals, quota_status="not_checked", policy_version=version.pk if version else None,
        rules_fired=r.rules_fired, limit_steps=r.limit.steps, price_steps=r.price.steps,
        reasons_zh=[x.zh for x in r.reasons], reason_codes=[x.code for x in r.reasons],
        pd=r.scored.pd if r.scored else None, model_version=prepared.model_version,
        policy_label=f"{prepared.terms.code} v{version.number}" if version else "", product=prepared.terms.code,
        branch=prepared.branch.code, requested_minor=amount_minor, term=term,
        auto_approve_max_minor=r.auto_approve_max_minor, policy_outcome=r.outcome,
        score_reasons=r.scored.reasons if r.scored else [], facts=_jsonable(r.facts),
        inputs_hash=inputs_hash(inputs), timings_us=r.timings_us)


def _jsonable(facts: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(facts, default=str))


def _decision_view(d: Decision, version: PolicyVersion | None = None) -> DecisionView:
    version = version if version is not None else d.policy_version
    reasons = d.reasons or []
    return DecisionView(
        id=d.pk, application_ref=d.application_ref, outcome=d.outcome, reasons=[x.get("en", "") for x in reasons],
        score=_score_int(d.score), grade=d.grade, approved_amount_minor=d.approved_minor, rate_ppm=d.rate_ppm or 0,
        apr=from_ppm(d.apr_ppm or 0), installment_minor=d.installment_minor or 0,
        required_level=d.required_level, required_approvals=d.required_approvals, quota_status=d.quota_status,
        policy_version=d.policy_version_id, rules_fired=d.rules_fired, limit_steps=d.limit_steps,
        price_steps=d.price_steps, reasons_zh=[x.get("zh", "") for x in reasons],
        reason_codes=[x.get("code", "") for x in reasons], pd=d.pd, model_version=d.model_version_id,
        policy_label=f"{d.product} v{version.number}" if version is not None else "", product=d.product,
        branch=d.branch, requested_minor=d.requested_minor, term=d.term,
        auto_approve_max_minor=0, policy_outcome=d.policy_outcome, quota_detail=d.quota_detail,
        facts=d.facts, inputs_hash=d.inputs_hash, timings_us=d.timings_us, created_at=d.created_at,
        actor_name=d.actor_name)


def get_decision(actor: Any, decision_id: int) -> DecisionView:
    """A stored decision; branch staff see decisions of their own branch subtree only."""
    org.require(actor, Perm.DECISION_VIEW)
    try:
        d = Decision.objects.select_related("policy_version").get(pk=decision_id)
    except Decision.DoesNotExist:
        raise NotFound(f"decision {decision_id} not found", code="decision_not_found")
    if not sees_all_branches(actor.role) and not (actor.branch_id and d.branch_path.startswith(actor.branch.path)):
        raise NotFound(f"decision {decision_id} not found", code="decision_not_found")
    return _decision_view(d)


def decision_inputs(actor: Any, decision_id: int) -> dict[str, Any]:
    """The inputs a decision was made on (they may carry personal data: PII permission)."""
    org.require(actor, Perm.CUSTOMER_VIEW_PII)
    get_decision(actor, decision_id)
    return dict(Decision.objects.values_list("inputs", flat=True).get(pk=decision_id))


def list_decisions(actor: Any, *, product: str = "", outcome: str = "", limit: int = 100) -> list[DecisionView]:
    org.require(actor, Perm.DECISION_VIEW)
    qs = Decision.objects.select_related("policy_version").order_by("-id")
    if product:
        qs = qs.filter(product=product)
    if outcome:
        qs = qs.filter(outcome=outcome)
    if not sees_all_branches(actor.role):
        if not actor.branch_id:
            return []
        qs = qs.filter(branch_path__startswith=actor.branch.path)
    return [_decision_view(d) for d in qs[: max(1, min(int(limit), 1000))]]


# --- approval authority -------------------------------------------------------------------------------

def may_approve(actor: Any, *, product: str, branch_code: str, amount_minor: int, grade: str) -> tuple[bool, str]:
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
    if not app_branch.path.startswith(actor.branch.path):
        return False, f"the application's branch {app_branch.code} is outside {actor.branch.code}"
    problem = authz.authority_problem(_authority_rules(), role=actor.role, level=actor.branch.level,
                                      product=product, amount_minor=int(amount_minor), grade=grade or "G")
    if problem:
        return False, problem
    return True, (f"a {actor.role} at a {actor.branch.level.replace('_', '-')} may approve {product} up to this amount "
                  f"({yuan_text(int(amount_minor))}) and grade {grade}")


def authority_level(actor: Any) -> str:
    """The authority an approver acts under, for the approval record: ``"approver@branch ≤ 1,000,000.00 (D)"``
    (the widest of their rules), or "" when they hold none."""
    if actor is None or getattr(actor, "branch_id", None) is None:
        return ""
    mine = [r for r in _authority_rules() if r.role == actor.role and r.branch_level == actor.branch.level]
    if not mine:
        return ""
    widest = max(mine, key=lambda r: r.max_amount_minor)
    return f"{actor.role}@{actor.branch.level} ≤ {yuan_text(widest.max_amount_minor)} ({widest.worst_grade})"


def approvers_for(*, product: str, branch_code: str, amount_minor: int, grade: str,
                  exclude_user_ids: Iterable[int] = ()) -> list[Any]:
    """Every active user who may approve this application (for the review queue), lowest level first.
    `exclude_user_ids`: the maker and reviewers (maker-checker)."""
    try:
        app_branch = org.get_branch(str(branch_code or "").strip().upper())
    except NotFound:
        return []
    rules = _authority_rules()
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


def authority_matrix(actor: Any) -> list[AuthorityRule]:
    org.require(actor, Perm.POLICY_VIEW)
    return list(AuthorityRule.objects.filter(is_active=True))


@transaction.atomic
def set_authority_rules(actor: Any, rules: list[dict[str, Any]]) -> int:
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


# --- product settings and the pricing grid ------------------------------------------------------------

def product_settings(actor: Any, product: str) -> tuple[ProductSettings, list[GradeTerms]]:
    org.require(actor, Perm.POLICY_VIEW)
    s = ProductSettings.objects.filter(product=product).first() or ProductSettings(product=product)
    return s, list(GradeTerms.objects.filter(product=product))


@transaction.atomic
def set_product_settings(actor: Any, product: str, *, model_name: str | None = None,
                         segment_models: dict[str, str] | None = None, dsr_pct: int | None = None,
                         dual_approval_above_minor: int | None = None,
                         grades: list[dict[str, Any]] | None = None) -> ProductSettings:
    """Configure a product's model, affordability factor, dual-approval threshold and pricing grid."""
    org.require(actor, Perm.POLICY_APPROVE)
    _product(product)
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


# --- policies -------------------------------------------------------------------------------------------

def _version_view(v: PolicyVersion) -> PolicyVersionView:
    return PolicyVersionView(
        id=v.pk, product=v.policy.product, policy_name=v.policy.name, number=v.number, status=v.status,
        sha256=v.jdm_sha256, note=v.note, author=v.author_name, approved_by=v.approved_by_name,
        created_at=v.created_at, validated_at=v.validated_at, submitted_at=v.submitted_at,
        published_at=v.published_at, validation=v.validation or {}, test_summary=v.test_summary or {})


def _version(version_id: int, *, lock: bool = False) -> PolicyVersion:
    qs = PolicyVersion.objects.select_related("policy")
    if lock:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=version_id)
    except (PolicyVersion.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"policy version {version_id} not found", code="policy_version_not_found")


def list_policies(actor: Any) -> list[PolicyView]:
    org.require(actor, Perm.POLICY_VIEW)
    out = []
    versions: dict[int, list[PolicyVersionView]] = {}
    for v in PolicyVersion.objects.select_related("policy").defer("jdm").order_by("policy_id", "-number"):
        versions.setdefault(v.policy_id, []).append(_version_view(v))
    for p in Policy.objects.all():
        vs = versions.get(p.pk, [])
        out.append(PolicyView(p.pk, p.product, p.name, next((v for v in vs if v.status == "published"), None), vs))
    return out


def get_policy(actor: Any, product: str) -> PolicyView:
    for p in list_policies(actor):
        if p.product == product:
            return p
    raise NotFound(f"no policy for product {product}", code="policy_not_found")


def get_version(actor: Any, version_id: int) -> PolicyVersionView:
    org.require(actor, Perm.POLICY_VIEW)
    return _version_view(_version(version_id))


def version_document(actor: Any, version_id: int) -> dict[str, Any]:
    """The version's JDM document as authored (download, grid editor)."""
    org.require(actor, Perm.POLICY_VIEW)
    return json.loads(_version(version_id).jdm)


def _refuse_invalid_upload(doc: dict[str, Any]) -> pol.Report:
    """Uploads and grid edits are refused outright when the document is not a JDM graph or an expression does
    not compile; subtler findings (unreachable rules, dry-run failures) go into the validation report."""
    report = pol.validate(doc)
    fatal = [p for p in report.problems if p.level == "error" and p.code in
             ("jdm_schema", "jdm_node_type", "jdm_no_outcome", "jdm_invalid_expression", "jdm_bad_outcome")]
    if fatal:
        first = fatal[0]
        more = f" (and {len(fatal) - 1} more problem(s))" if len(fatal) > 1 else ""
        raise ValidationError(f"{first.message}{more}", field="jdm", code=first.code,
                              extra={"problems": [p.as_json() for p in fatal]})
    return report


@transaction.atomic
def upload_policy(actor: Any, *, product: str, jdm: str | bytes | dict[str, Any], note: str = "",
                  name: str = "") -> PolicyVersionView:
    """A new draft version from a JDM document (upload or API). Refused with the reason when the text is not JSON,
    not a JDM graph of the allowed kinds, or an expression does not compile."""
    org.require(actor, Perm.POLICY_EDIT)
    prod, _ = _product(product)
    doc = pol.parse_jdm(jdm)
    _refuse_invalid_upload(doc)
    return _new_version(actor, prod.code, doc, note=note, name=name)


def _new_version(actor: Any, product: str, doc: dict[str, Any], *, note: str = "", name: str = "",
                 status: PolicyStatus = PolicyStatus.DRAFT) -> PolicyVersionView:
    policy, _ = Policy.objects.select_for_update().get_or_create(
        product=product, defaults={"name": (name or f"{product} credit policy")[:100]})
    number = (policy.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    text = pol.canonical(doc)
    v = PolicyVersion.objects.create(policy=policy, number=number, status=status.value, jdm=text,
                                     jdm_sha256=pol.sha256_text(text), note=(note or "")[:300],
                                     author=actor if getattr(actor, "pk", None) else None,
                                     author_name=getattr(actor, "username", None) or "system")
    ledger.append(actor, "policy.drafted", "policy_version", v.pk,
                  {"product": product, "number": number, "sha256": v.jdm_sha256, "note": v.note})
    return _version_view(v)


@transaction.atomic
def update_draft(actor: Any, version_id: int, *, jdm: str | bytes | dict[str, Any], note: str | None = None
                 ) -> PolicyVersionView:
    """Replace the document of a draft (or validated) version; it goes back to draft. A submitted or published
    version cannot change: start a new draft from it."""
    org.require(actor, Perm.POLICY_EDIT)
    v = _version(version_id, lock=True)
    if not editable(PolicyStatus(v.status)):
        raise Conflict(f"a {v.status} policy version cannot be edited; start a new draft from it",
                       code="policy_not_editable")
    doc = pol.parse_jdm(jdm)
    _refuse_invalid_upload(doc)
    text = pol.canonical(doc)
    v.jdm, v.jdm_sha256, v.status = text, pol.sha256_text(text), PolicyStatus.DRAFT.value
    v.validation, v.validated_at, v.test_summary = {}, None, {}
    if note is not None:
        v.note = note[:300]
    v.save()
    ledger.append(actor, "policy.edited", "policy_version", v.pk, {"sha256": v.jdm_sha256})
    return _version_view(v)


@transaction.atomic
def new_draft_from(actor: Any, version_id: int, *, note: str = "") -> PolicyVersionView:
    org.require(actor, Perm.POLICY_EDIT)
    v = _version(version_id)
    return _new_version(actor, v.policy.product, json.loads(v.jdm), note=note or f"from v{v.number}")


def _samples(policy: Policy) -> list[dict[str, Any]]:
    return [dict(e.application.get("inputs") or {}) for e in policy.examples.all()[:20]]


@transaction.atomic
def validate_version(actor: Any, version_id: int) -> PolicyVersionView:
    """Run the full validation (schema, expressions, dry run, unreachable and overlapping rules), store the
    report; the version becomes validated when it has no error."""
    org.require(actor, Perm.POLICY_EDIT)
    v = _version(version_id, lock=True)
    if v.status not in (PolicyStatus.DRAFT, PolicyStatus.VALIDATED):
        raise Conflict(f"a {v.status} policy version is not validated again", code="policy_status")
    report = pol.validate(v.jdm, samples=_samples(v.policy))
    v.validation, v.validated_at = report.as_json(), timezone.now()
    if report.ok:
        v.status = PolicyStatus.VALIDATED.value
    v.save(update_fields=["validation", "validated_at", "status"])
    ledger.append(actor, "policy.validated", "policy_version", v.pk,
                  {"ok": report.ok, "errors": v.validation["errors"], "warnings": v.validation["warnings"],
                   "sha256": v.jdm_sha256})
    return _version_view(v)


def _transition(actor: Any, v: PolicyVersion, target: PolicyStatus) -> None:
    facts = VersionFacts(PolicyStatus(v.status), v.author_id, bool((v.validation or {}).get("ok")),
                         int((v.test_summary or {}).get("failed", 0)), v.submitted_by_id)
    problem = transition_problem(facts, target, getattr(actor, "pk", None))
    if problem:
        raise Conflict(problem, code="policy_transition", field="status")


@transaction.atomic
def submit_version(actor: Any, version_id: int) -> PolicyVersionView:
    """Ask for approval: the version must have passed validation, and every saved example application must get
    its expected outcome (they are run now)."""
    org.require(actor, Perm.POLICY_EDIT)
    v = _version(version_id, lock=True)
    results = _run_examples(v)
    v.test_summary = _summary(results)
    _transition(actor, v, PolicyStatus.SUBMITTED)
    v.status, v.submitted_by, v.submitted_at = PolicyStatus.SUBMITTED.value, actor, timezone.now()
    v.save(update_fields=["status", "submitted_by", "submitted_at", "test_summary"])
    ledger.append(actor, "policy.submitted", "policy_version", v.pk,
                  {"sha256": v.jdm_sha256, "examples": v.test_summary})
    return _version_view(v)


@transaction.atomic
def approve_version(actor: Any, version_id: int) -> PolicyVersionView:
    """Four eyes: someone other than the author (and the submitter) approves a submitted version, which is
    published at once; the version published before it is retired."""
    org.require(actor, Perm.POLICY_APPROVE)
    v = _version(version_id, lock=True)
    report = pol.validate(v.jdm, samples=_samples(v.policy))  # re-check: what is published must be valid now
    if not report.ok:
        v.validation = report.as_json()
    _transition(actor, v, PolicyStatus.PUBLISHED)
    previous = list(PolicyVersion.objects.select_for_update().filter(policy=v.policy, status=PolicyStatus.PUBLISHED))
    for old in previous:
        old.status = PolicyStatus.RETIRED.value
        old.save(update_fields=["status"])
    v.status, v.approved_by, v.approved_by_name = PolicyStatus.PUBLISHED.value, actor, actor.username
    v.published_at = timezone.now()
    v.save(update_fields=["status", "approved_by", "approved_by_name", "published_at"])
    ENGINE.install_text(v.jdm)
    ledger.append(actor, "policy.published", "policy_version", v.pk,
                  {"product": v.policy.product, "number": v.number, "sha256": v.jdm_sha256,
                   "author": v.author_name, "retired": [o.pk for o in previous]})
    return _version_view(v)


@transaction.atomic
def return_to_draft(actor: Any, version_id: int, *, note: str) -> PolicyVersionView:
    """The approver sends a submitted version back (or its author withdraws it)."""
    org.require(actor, Perm.POLICY_EDIT)
    if not (note or "").strip():
        raise ValidationError("say why the version goes back", field="note", code="required")
    v = _version(version_id, lock=True)
    _transition(actor, v, PolicyStatus.DRAFT)
    v.status, v.note = PolicyStatus.DRAFT.value, f"returned: {note.strip()}"[:300]
    v.save(update_fields=["status", "note"])
    ledger.append(actor, "policy.returned", "policy_version", v.pk, {"note": v.note})
    return _version_view(v)


# --- example applications -------------------------------------------------------------------------------

def _example_view(e: ExampleCase) -> ExampleView:
    return ExampleView(e.pk, e.name, e.application, e.expected_outcome)


@transaction.atomic
def add_example(actor: Any, *, product: str, name: str, application: dict[str, Any], expected_outcome: str
                ) -> ExampleView:
    """Save an example application (amount_minor, term, inputs; optionally score/grade/pd to test the rules
    without a model) with the outcome the policy must give it."""
    org.require(actor, Perm.POLICY_EDIT)
    prod, _ = _product(product)
    if expected_outcome not in OUTCOMES:
        raise ValidationError("expected outcome must be approve, refer or decline", field="expected_outcome")
    if not (name or "").strip():
        raise ValidationError("an example needs a name", field="name", code="required")
    if not isinstance(application, dict) or not isinstance(application.get("inputs", {}), dict):
        raise ValidationError("application must be an object with inputs", field="application")
    for key in ("amount_minor", "term"):
        value = application.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValidationError(f"application.{key} must be a positive whole number", field=key)
    policy, _ = Policy.objects.get_or_create(product=prod.code, defaults={"name": f"{prod.code} credit policy"})
    if policy.examples.filter(name=name.strip()).exists():
        raise Conflict(f"an example named {name.strip()!r} exists", code="duplicate_example", field="name")
    e = ExampleCase.objects.create(policy=policy, name=name.strip()[:100], application=application,
                                   expected_outcome=expected_outcome, created_by_name=actor.username)
    ledger.append(actor, "policy.example_added", "policy", prod.code, {"example": e.name, "expected": expected_outcome})
    return _example_view(e)


def list_examples(actor: Any, product: str) -> list[ExampleView]:
    org.require(actor, Perm.POLICY_VIEW)
    return [_example_view(e) for e in ExampleCase.objects.filter(policy__product=product)]


@transaction.atomic
def delete_example(actor: Any, example_id: int) -> None:
    org.require(actor, Perm.POLICY_EDIT)
    e = ExampleCase.objects.select_related("policy").filter(pk=example_id).first()
    if e is None:
        raise NotFound(f"example {example_id} not found", code="example_not_found")
    ledger.append(actor, "policy.example_deleted", "policy", e.policy.product, {"example": e.name})
    e.delete()


def _scored_override(app: Mapping[str, Any]) -> Scored | None:
    score = app.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        pd = app.get("pd")
        return Scored(float(score), float(pd) if isinstance(pd, int | float) else 0.05, str(app.get("grade") or "C"),
                      [], [])
    return None


def _replay_context(product: str) -> tuple[ProductTerms, LimitSettings, ProductSettings, dict[str, GradeRow], int, str]:
    prod, terms = _product(product)
    settings_row, settings = _settings(prod.code)
    benchmark, name = _benchmark(prod, timezone.localdate())
    return terms, settings, settings_row, _grades(prod.code), benchmark, name


def _run_examples(v: PolicyVersion) -> list[ExampleResult]:
    examples = list(v.policy.examples.all())
    if not examples:
        return []
    compiled = ENGINE.install_text(v.jdm)
    terms, settings, settings_row, grades, benchmark, name = _replay_context(v.policy.product)
    out = []
    for e in examples:
        a = e.application
        app = kernel.Application(f"EX-{e.pk}", terms.code, int(a["amount_minor"]), int(a["term"]),
                                 dict(a.get("inputs") or {}), "batch")
        scored = _scored_override(a)
        scorer = None
        problem = ""
        if scored is None:
            scorer, _vid, problem = _model(settings_row, app.segment, app.application_ref)
        r = kernel.run(app, product=terms, grades=grades, settings=settings, benchmark_ppm=benchmark,
                       benchmark_name=name, engine=ENGINE, policy=compiled, scorer=scorer, scored=scored,
                       model_problem=problem)
        out.append(ExampleResult(_example_view(e), r.outcome, r.outcome == e.expected_outcome,
                                 [x.en for x in r.reasons], r.scored.score if r.scored else None, r.grade,
                                 r.limit.approved_minor))
    return out


def _summary(results: list[ExampleResult]) -> dict[str, Any]:
    return {"examples": len(results), "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results), "at": timezone.now().isoformat(),
            "results": [{"name": r.example.name, "expected": r.example.expected_outcome, "outcome": r.outcome,
                         "passed": r.passed, "reasons": r.reasons[:5]} for r in results]}


@transaction.atomic
def run_examples(actor: Any, version_id: int) -> list[ExampleResult]:
    """Run the saved example applications through a version; the summary is stored on the version."""
    org.require(actor, Perm.POLICY_VIEW)
    v = _version(version_id, lock=True)
    results = _run_examples(v)
    if v.status in (PolicyStatus.DRAFT, PolicyStatus.VALIDATED):
        v.test_summary = _summary(results)
        v.save(update_fields=["test_summary"])
    return results


# --- the grid editor ----------------------------------------------------------------------------------

def grid_of(actor: Any, version_id: int) -> list[dict[str, Any]]:
    """The version's decision tables as rows for the grid editor."""
    doc = version_document(actor, version_id)
    tables = []
    for node in doc.get("nodes", []):
        if node.get("type") != "decisionTableNode":
            continue
        c = node["content"]
        rows = [{"id": r.get("_id", ""), "description": r.get("_description", ""),
                 "inputs": [str(r.get(col["id"]) or "") for col in c["inputs"]],
                 "outputs": [str(r.get(col["id"]) or "") for col in c["outputs"]]} for r in c["rules"]]
        tables.append({"id": node["id"], "name": node.get("name", node["id"]), "hit_policy": c.get("hitPolicy"),
                       "inputs": [{"id": col["id"], "field": col.get("field", ""), "name": col.get("name", "")}
                                  for col in c["inputs"]],
                       "outputs": [{"id": col["id"], "field": col.get("field", ""), "name": col.get("name", "")}
                                   for col in c["outputs"]], "rows": rows})
    return tables


@transaction.atomic
def save_grid(actor: Any, version_id: int, *, table_id: str, rows: list[dict[str, Any]],
              hit_policy: str | None = None) -> PolicyVersionView:
    """Replace one table's rules from the grid (each row: id, description, inputs[], outputs[] in column order).
    Empty rows are dropped; an invalid cell refuses the whole save with the reason."""
    org.require(actor, Perm.POLICY_EDIT)
    v = _version(version_id)
    doc = json.loads(v.jdm)
    node = next((n for n in doc.get("nodes", []) if n.get("id") == table_id and n.get("type") == "decisionTableNode"),
                None)
    if node is None:
        raise NotFound(f"no decision table {table_id!r} in this version", code="table_not_found")
    c = node["content"]
    ins, outs = c["inputs"], c["outputs"]
    rules = []
    used: set[str] = set()
    for i, row in enumerate(rows):
        cells_in = [str(x or "").strip() for x in (row.get("inputs") or [])]
        cells_out = [str(x or "").strip() for x in (row.get("outputs") or [])]
        if not any(cells_in) and not any(cells_out):
            continue
        if len(cells_in) != len(ins) or len(cells_out) != len(outs):
            raise ValidationError(f"row {i + 1} does not have one cell per column", field="rows")
        rid = str(row.get("id") or "").strip() or f"r{i + 1}"
        while rid in used:
            rid += "_"
        used.add(rid)
        rule: dict[str, Any] = {"_id": rid, "_description": str(row.get("description") or "")[:300]}
        rule.update({col["id"]: cell for col, cell in zip(ins, cells_in, strict=True)})
        rule.update({col["id"]: cell for col, cell in zip(outs, cells_out, strict=True)})
        rules.append(rule)
    c["rules"] = rules
    if hit_policy is not None:
        c["hitPolicy"] = hit_policy
    return update_draft(actor, version_id, jdm=doc)


# --- simulation ------------------------------------------------------------------------------------------

def simulate(actor: Any, *, product: str, version_id: int | None = None, cutoff_shift: int = 0,
             limit: int = 5000) -> SimulationView:
    """Replay a policy version (default: the published one) — or the same with every score cut-off moved by
    `cutoff_shift` points — over the product's past decisions, from their stored inputs and scores, and compare
    approval rate, expected bad rate (mean PD of the approved) and volume with what the policy said then. Each
    application is priced at the LPR in force on the day it was decided; the grid, floor, cap and limits are
    today's (their history is only in the ledger)."""
    org.require(actor, Perm.POLICY_VIEW)
    if isinstance(cutoff_shift, bool) or not isinstance(cutoff_shift, int) or abs(cutoff_shift) > 300:
        raise ValidationError("the cut-off shift is a whole number of points from -300 to 300", field="cutoff_shift")
    prod, _terms = _product(product)
    if version_id is None:
        version, compiled, problem = _published(prod.code)
        if version is None:
            raise Conflict(problem, code="no_published_policy")
        version = _version(version.pk)
    else:
        version = _version(version_id)
        if version.policy.product != prod.code:
            raise ValidationError(f"policy version {version_id} is not a {prod.code} policy", field="version_id")
        compiled = ENGINE.install_text(version.jdm)
    terms, settings, _settings_row, grades, _benchmark_today, _name = _replay_context(prod.code)
    rows = list(Decision.objects.filter(product=prod.code).order_by("-id")
                .values("id", "application_ref", "inputs", "requested_minor", "term", "channel", "score", "pd",
                        "grade", "outcome", "policy_outcome", "approved_minor", "created_at")
                [: max(1, min(int(limit), 50_000))])
    rows.reverse()
    lpr_days, lpr_rates = _lpr_history(prod.lpr_tenor)  # each application priced at the LPR of its own day
    before, after, changed = [], [], []
    for d in rows:
        at = bisect.bisect_right(lpr_days, timezone.localdate(d["created_at"])) - 1
        if at >= 0:
            benchmark, name = lpr_rates[at], f"LPR {prod.lpr_tenor}"
        else:
            benchmark, name = prod.rate_ppm, "product base rate (no LPR published)"
        old = d["policy_outcome"] or d["outcome"]
        before.append(sim.Case(old, d["approved_minor"] if old == "approve" else 0, d["pd"], d["grade"]))
        scored = None
        if d["score"] is not None:
            scored = Scored(d["score"] - cutoff_shift, d["pd"] if d["pd"] is not None else 0.0, d["grade"], [], [])
        app = kernel.Application(d["application_ref"], terms.code, d["requested_minor"], d["term"], d["inputs"],
                                 d["channel"])
        r = kernel.run(app, product=terms, grades=grades, settings=settings, benchmark_ppm=benchmark,
                       benchmark_name=name, engine=ENGINE, policy=compiled, scorer=None, scored=scored,
                       model_problem="the decision had no score")
        after.append(sim.Case(r.outcome, r.limit.approved_minor if r.outcome == "approve" else 0, d["pd"], d["grade"]))
        if r.outcome != old and len(changed) < 50:
            changed.append({"decision": d["id"], "application_ref": d["application_ref"], "before": old,
                            "after": r.outcome, "grade": d["grade"],
                            "score": None if d["score"] is None else round(d["score"], 1)})
    comparison = sim.compare(before, after)
    return SimulationView(prod.code, _version_view(version), cutoff_shift, len(rows), comparison.as_json(), changed)


# --- defaults -------------------------------------------------------------------------------------------

@transaction.atomic
def seed_default_policies(actor: Any = None, *, products: Iterable[str] | None = None,
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
        prod, _ = _product(code)
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


# --- configuration pages: the authority matrix, the pricing grid, the LPR table --------------------------
# Each change goes through one function below: permission first, then every check (named by the box it came
# from), then the writes and their ledger event in one transaction. `_configuration` re-reads all of it for
# the next decision (tests/decisions/test_decisions_cache.py), so nothing needs invalidating here.

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


def authority_review(actor: Any) -> MatrixReview:
    org.require(actor, Perm.POLICY_VIEW)
    rules = _authority_rules()
    products = [p.code for p in loans.list_products()]
    settings = {s.product: s.dual_approval_above_minor for s in ProductSettings.objects.all()}
    return MatrixReview(rules, cfg.gaps(rules, _lendable()),
                        [(p, settings.get(p, ProductSettings().dual_approval_above_minor)) for p in products],
                        approver_roles(), products)


@transaction.atomic
def update_authority_matrix(actor: Any, rows: list[dict[str, Any]]) -> MatrixReview:
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
            r["max_amount"] = yuan_text(r["max_amount_minor"]).replace(",", "")
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
    before = [[r.role, r.branch_level, r.product, r.max_amount_minor, r.worst_grade] for r in _authority_rules()]
    AuthorityRule.objects.all().delete()
    AuthorityRule.objects.bulk_create([AuthorityRule(role=a.role, branch_level=a.branch_level, product=a.product,
                                                     max_amount_minor=a.max_amount_minor, worst_grade=a.worst_grade)
                                       for _i, a in parsed])
    after = [[a.role, a.branch_level, a.product, a.max_amount_minor, a.worst_grade] for _i, a in parsed]
    review = authority_review(actor)
    ledger.append(actor, "decision.authority_set", "authority_matrix", "all",
                  {"rules": after, "before": before, "gaps": [g.en for g in review.gaps]})
    return review


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
    benchmark, name = _benchmark(prod, timezone.localdate())
    return PricingView(prod.code, prod.name, prod.lpr_tenor, benchmark, name, data.rate_floor_ppm, data.rate_cap_ppm,
                       data.dsr_pct, data.dual_approval_above_minor, list(data.grades),
                       cfg.preview_rates(benchmark, data.rate_floor_ppm, data.rate_cap_ppm, data.grades), warnings)


def pricing_setup(actor: Any, product: str) -> PricingView:
    """The product's pricing as stored (a grade missing from the grid shows as not lent)."""
    org.require(actor, Perm.POLICY_VIEW)
    prod, _terms = _product_any(product)
    s = ProductSettings.objects.filter(product=prod.code).first() or ProductSettings(product=prod.code)
    stored = {g.grade: g for g in GradeTerms.objects.filter(product=prod.code)}
    rows = tuple(cfg.GridRow(g, stored[g].spread_bp, stored[g].limit_minor, stored[g].auto_approve_max_minor)
                 if g in stored else cfg.GridRow(g, 0, 0, 0) for g in authz.GRADES)
    return _pricing_view(prod, cfg.PricingInput(prod.rate_floor_ppm, prod.rate_cap_ppm, s.dsr_pct,
                                                s.dual_approval_above_minor, rows), [])


def _product_any(product: str) -> tuple[Any, ProductTerms]:
    """The product, on sale or not (its pricing may be prepared before it goes on sale)."""
    try:
        p = loans.get_product(str(product or "").strip().lower())
    except NotFound as exc:
        raise NotFound(exc.message, field="product", code="unknown_product") from None
    return p, ProductTerms(code=p.code, min_amount_minor=p.min_amount_minor, max_amount_minor=p.max_amount_minor)


def _parse_pricing(data: Mapping[str, Any]) -> tuple[cfg.PricingInput, list[str]]:
    clean, problems, warnings = cfg.parse_pricing(data)
    if problems or clean is None:
        raise ValidationError.collect(problems or [FieldProblem("rate_floor", "is required", "required")])
    return clean, warnings


def preview_pricing(actor: Any, product: str, data: Mapping[str, Any]) -> PricingView:
    """What the typed grid would price each grade at today's benchmark; nothing is stored."""
    org.require(actor, Perm.POLICY_VIEW)
    prod, _terms = _product_any(product)
    clean, warnings = _parse_pricing(data)
    return _pricing_view(prod, clean, warnings)


@transaction.atomic
def update_pricing(actor: Any, product: str, data: Mapping[str, Any]) -> PricingView:
    """Store a product's floor and cap (loans, `product.manage`), affordability factor, two-approval threshold
    and pricing grid (`policy.approve`) in one transaction, each part with its ledger event. `data` is the
    form as typed: rate_floor / rate_cap in percent, dsr_pct, dual_above in yuan, and per grade
    spread-<G> (bp), limit-<G> and auto-<G> (yuan)."""
    org.require(actor, Perm.POLICY_APPROVE)
    prod, _terms = _product_any(product)
    clean, warnings = _parse_pricing(data)
    if (clean.rate_floor_ppm, clean.rate_cap_ppm) != (prod.rate_floor_ppm, prod.rate_cap_ppm):
        prod = loans.set_rate_bounds(actor, prod.code, rate_floor_ppm=clean.rate_floor_ppm,
                                     rate_cap_ppm=clean.rate_cap_ppm)
    set_product_settings(actor, prod.code, dsr_pct=clean.dsr_pct,
                         dual_approval_above_minor=clean.dual_approval_above_minor,
                         grades=[{"grade": g.grade, "spread_bp": g.spread_bp, "limit_minor": g.limit_minor,
                                  "auto_approve_max_minor": g.auto_approve_max_minor} for g in clean.grades])
    return _pricing_view(prod, clean, warnings)


@dataclass(frozen=True)
class LprRow:
    tenor: str
    effective_date: dt.date
    rate_ppm: int
    in_force: bool  # the publication a decision made today uses


def lpr_table(actor: Any) -> list[LprRow]:
    """Every LPR publication, newest first, marking the one in force today per tenor."""
    if not (org.may(actor, Perm.POLICY_VIEW) or org.may(actor, Perm.PRODUCT_MANAGE)):
        org.require(actor, Perm.POLICY_VIEW)
    today = timezone.localdate()
    rows = list(LprRate.objects.order_by("tenor", "-effective_date").values_list("tenor", "effective_date",
                                                                                 "rate_ppm"))
    current = {}
    for tenor, day, _rate in rows:
        if day <= today and tenor not in current:
            current[tenor] = day
    return [LprRow(t, d, r, current.get(t) == d) for t, d, r in rows]


def publish_lpr(actor: Any, *, tenor: str, effective_date: Any, rate_pct: Any) -> LprRow:
    """Record an LPR publication typed in percent ("3.45"); loans keeps the table (`product.manage`)."""
    org.require(actor, Perm.PRODUCT_MANAGE)
    rate, problem = cfg.parse_pct(rate_pct, "rate")
    if problem is not None:
        raise ValidationError(problem.message, field="rate", code=problem.code)
    row = loans.set_lpr(actor, tenor=str(tenor or ""), effective_date=effective_date,
                        rate=str(Decimal(rate) / Decimal(1_000_000)))
    return LprRow(row.tenor, row.effective_date, row.rate_ppm, False)


def _lpr_history(tenor: str) -> tuple[list[dt.date], list[int]]:
    """One tenor's publications, oldest first, for looking up the rate in force on many past days at once."""
    rows = list(LprRate.objects.filter(tenor=tenor).order_by("effective_date").values_list("effective_date",
                                                                                           "rate_ppm"))
    return [d for d, _r in rows], [r for _d, r in rows]
