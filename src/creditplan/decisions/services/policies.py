"""Policies and their versions: draft → validated → submitted → published, the last step by a second person
(four eyes); every change is a ledger event. Published versions never change: decisions name the exact
version they ran. Submitting runs the product's example applications (examples.py) through the version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.lifecycle import PolicyStatus, VersionFacts, editable, transition_problem
from creditplan.decisions.domain.rulesets import is_ruleset_key
from creditplan.decisions.models import Policy, PolicyVersion
from creditplan.decisions.services.examples import ExampleResult, example_results, examples_summary
from creditplan.decisions.services.products import on_sale_product
from creditplan.decisions.services.rulesets import require_ruleset, scale_of
from creditplan.decisions.services.serving import installed
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm


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


def published_version(product: str) -> tuple[PolicyVersion | None, pol.CompiledPolicy | None, str]:
    """The product's published version, compiled and installed in the engine (text read only on first use)."""
    row = (PolicyVersion.objects.filter(policy__product=product, status=PolicyStatus.PUBLISHED)
           .values("id", "number", "jdm_sha256").first())
    if row is None:
        return None, None, f"no published policy for product {product}"
    version = PolicyVersion(id=row["id"], number=row["number"], jdm_sha256=row["jdm_sha256"])
    return version, installed(version), ""



def version_view(v: PolicyVersion) -> PolicyVersionView:
    return PolicyVersionView(
        id=v.pk, product=v.policy.product, policy_name=v.policy.name, number=v.number, status=v.status,
        sha256=v.jdm_sha256, note=v.note, author=v.author_name, approved_by=v.approved_by_name,
        created_at=v.created_at, validated_at=v.validated_at, submitted_at=v.submitted_at,
        published_at=v.published_at, validation=v.validation or {}, test_summary=v.test_summary or {})


def version_row(version_id: int, *, lock: bool = False) -> PolicyVersion:
    qs = PolicyVersion.objects.select_related("policy")
    if lock:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=version_id)
    except (PolicyVersion.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"policy version {version_id} not found", code="policy_version_not_found")


def list_policies(actor: Actor) -> list[PolicyView]:
    org.require(actor, Perm.POLICY_VIEW)
    out = []
    versions: dict[int, list[PolicyVersionView]] = {}
    for v in PolicyVersion.objects.select_related("policy").defer("jdm").order_by("policy_id", "-number"):
        versions.setdefault(v.policy_id, []).append(version_view(v))
    for p in Policy.objects.all():
        vs = versions.get(p.pk, [])
        out.append(PolicyView(p.pk, p.product, p.name, next((v for v in vs if v.status == "published"), None), vs))
    return out


def get_policy(actor: Actor, product: str) -> PolicyView:
    for p in list_policies(actor):
        if p.product == product:
            return p
    raise NotFound(f"no policy for product {product}", code="policy_not_found")


def get_version(actor: Actor, version_id: int) -> PolicyVersionView:
    org.require(actor, Perm.POLICY_VIEW)
    return version_view(version_row(version_id))


def version_document(actor: Actor, version_id: int) -> dict[str, Any]:
    """The version's JDM document as authored (download, grid editor)."""
    org.require(actor, Perm.POLICY_VIEW)
    return json.loads(version_row(version_id).jdm)


def _refuse_invalid_upload(doc: dict[str, Any], scale: pol.Scale = pol.CREDIT) -> pol.Report:
    """Uploads and grid edits are refused outright when the document is not a JDM graph or an expression does
    not compile; subtler findings (unreachable rules, dry-run failures) go into the validation report."""
    report = pol.validate(doc, scale=scale)
    fatal = [p for p in report.problems if p.level == "error" and p.code in
             ("jdm_schema", "jdm_node_type", "jdm_no_outcome", "jdm_invalid_expression", "jdm_bad_outcome")]
    if fatal:
        first = fatal[0]
        more = f" (and {len(fatal) - 1} more problem(s))" if len(fatal) > 1 else ""
        raise ValidationError(f"{first.message}{more}", field="jdm", code=first.code,
                              extra={"problems": [p.as_json() for p in fatal]})
    return report


@transaction.atomic
def upload_policy(actor: Actor, *, product: str, jdm: str | bytes | dict[str, Any], note: str = "",
                  name: str = "") -> PolicyVersionView:
    """A new draft version from a JDM document (upload or API). Refused with the reason when the text is not JSON,
    not a JDM graph of the allowed kinds, or an expression does not compile. `product` is a product code, or a
    ruleset's key (``ruleset:…``, decisions.services.rulesets) for a table that is not a credit policy."""
    org.require(actor, Perm.POLICY_EDIT)
    if is_ruleset_key(product):
        ruleset = require_ruleset(product)
        key, name = ruleset.key, name or ruleset.name_en
    else:
        prod, _ = on_sale_product(product)
        key = prod.code
    doc = pol.parse_jdm(jdm)
    _refuse_invalid_upload(doc, scale_of(key))
    return _new_version(actor, key, doc, note=note, name=name)


def _new_version(actor: Actor, product: str, doc: dict[str, Any], *, note: str = "", name: str = "",
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
    return version_view(v)


@transaction.atomic
def update_draft(actor: Actor, version_id: int, *, jdm: str | bytes | dict[str, Any], note: str | None = None
                 ) -> PolicyVersionView:
    """Replace the document of a draft (or validated) version; it goes back to draft. A submitted or published
    version cannot change: start a new draft from it."""
    org.require(actor, Perm.POLICY_EDIT)
    v = version_row(version_id, lock=True)
    if not editable(PolicyStatus(v.status)):
        raise Conflict(f"a {v.status} policy version cannot be edited; start a new draft from it",
                       code="policy_not_editable")
    doc = pol.parse_jdm(jdm)
    _refuse_invalid_upload(doc, scale_of(v.policy.product))
    text = pol.canonical(doc)
    v.jdm, v.jdm_sha256, v.status = text, pol.sha256_text(text), PolicyStatus.DRAFT.value
    v.validation, v.validated_at, v.test_summary = {}, None, {}
    if note is not None:
        v.note = note[:300]
    v.save()
    ledger.append(actor, "policy.edited", "policy_version", v.pk, {"sha256": v.jdm_sha256})
    return version_view(v)


@transaction.atomic
def new_draft_from(actor: Actor, version_id: int, *, note: str = "") -> PolicyVersionView:
    org.require(actor, Perm.POLICY_EDIT)
    v = version_row(version_id)
    return _new_version(actor, v.policy.product, json.loads(v.jdm), note=note or f"from v{v.number}")


def _samples(policy: Policy) -> list[dict[str, Any]]:
    return [dict(e.application.get("inputs") or {}) for e in policy.examples.all()[:20]]


@transaction.atomic
def validate_version(actor: Actor, version_id: int) -> PolicyVersionView:
    """Run the full validation (schema, expressions, dry run, unreachable and overlapping rules), store the
    report; the version becomes validated when it has no error."""
    org.require(actor, Perm.POLICY_EDIT)
    v = version_row(version_id, lock=True)
    if v.status not in (PolicyStatus.DRAFT, PolicyStatus.VALIDATED):
        raise Conflict(f"a {v.status} policy version is not validated again", code="policy_status")
    report = pol.validate(v.jdm, samples=_samples(v.policy), scale=scale_of(v.policy.product))
    v.validation, v.validated_at = report.as_json(), timezone.now()
    if report.ok:
        v.status = PolicyStatus.VALIDATED.value
    v.save(update_fields=["validation", "validated_at", "status"])
    ledger.append(actor, "policy.validated", "policy_version", v.pk,
                  {"ok": report.ok, "errors": v.validation["errors"], "warnings": v.validation["warnings"],
                   "sha256": v.jdm_sha256})
    return version_view(v)


def _transition(actor: Actor, v: PolicyVersion, target: PolicyStatus) -> None:
    facts = VersionFacts(PolicyStatus(v.status), v.author_id, bool((v.validation or {}).get("ok")),
                         int((v.test_summary or {}).get("failed", 0)), v.submitted_by_id)
    problem = transition_problem(facts, target, getattr(actor, "pk", None))
    if problem:
        raise Conflict(problem, code="policy_transition", field="status")


@transaction.atomic
def submit_version(actor: Actor, version_id: int) -> PolicyVersionView:
    """Ask for approval: the version must have passed validation, and every saved example application must get
    its expected outcome (they are run now)."""
    org.require(actor, Perm.POLICY_EDIT)
    v = version_row(version_id, lock=True)
    results = example_results(v)
    v.test_summary = examples_summary(results)
    _transition(actor, v, PolicyStatus.SUBMITTED)
    v.status, v.submitted_by, v.submitted_at = PolicyStatus.SUBMITTED.value, actor, timezone.now()
    v.save(update_fields=["status", "submitted_by", "submitted_at", "test_summary"])
    ledger.append(actor, "policy.submitted", "policy_version", v.pk,
                  {"sha256": v.jdm_sha256, "examples": v.test_summary})
    return version_view(v)


@transaction.atomic
def approve_version(actor: Actor, version_id: int) -> PolicyVersionView:
    """Four eyes: someone other than the author (and the submitter) approves a submitted version, which is
    published at once; the version published before it is retired."""
    org.require(actor, Perm.POLICY_APPROVE)
    v = version_row(version_id, lock=True)
    # re-check: what is published must be valid now
    report = pol.validate(v.jdm, samples=_samples(v.policy), scale=scale_of(v.policy.product))
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
    return version_view(v)


@transaction.atomic
def return_to_draft(actor: Actor, version_id: int, *, note: str) -> PolicyVersionView:
    """The approver sends a submitted version back (or its author withdraws it)."""
    org.require(actor, Perm.POLICY_EDIT)
    if not (note or "").strip():
        raise ValidationError("say why the version goes back", field="note", code="required")
    v = version_row(version_id, lock=True)
    _transition(actor, v, PolicyStatus.DRAFT)
    v.status, v.note = PolicyStatus.DRAFT.value, f"returned: {note.strip()}"[:300]
    v.save(update_fields=["status", "note"])
    ledger.append(actor, "policy.returned", "policy_version", v.pk, {"note": v.note})
    return version_view(v)


@transaction.atomic
def run_examples(actor: Actor, version_id: int) -> list[ExampleResult]:
    """Run the saved example applications through a version; the summary is stored on the version."""
    org.require(actor, Perm.POLICY_VIEW)
    v = version_row(version_id, lock=True)
    results = example_results(v)
    if v.status in (PolicyStatus.DRAFT, PolicyStatus.VALIDATED):
        v.test_summary = examples_summary(results)
        v.save(update_fields=["test_summary"])
    return results
