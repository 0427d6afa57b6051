"""Example applications: saved cases with the outcome the product's policy must give them, run through a
version before it may be submitted for approval (and on demand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, NotFound, ValidationError
from creditplan.decisions.domain import kernel
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.fastscore import Scored
from creditplan.decisions.domain.rulesets import is_ruleset_key
from creditplan.decisions.models import ExampleCase, Policy, PolicyVersion
from creditplan.decisions.services.products import on_sale_product, replay_context
from creditplan.decisions.services.rulesets import answer_of, require_ruleset
from creditplan.decisions.services.serving import model_for
from creditplan.ledger import services as ledger
from creditplan.org import services as org
from creditplan.org.domain import Perm

OUTCOMES = pol.OUTCOMES


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


def _example_view(e: ExampleCase) -> ExampleView:
    return ExampleView(e.pk, e.name, e.application, e.expected_outcome)


@transaction.atomic
def add_example(actor: Actor, *, product: str, name: str, application: dict[str, Any], expected_outcome: str
                ) -> ExampleView:
    """Save an example application (amount_minor, term, inputs; optionally score/grade/pd to test the rules
    without a model) with the outcome the policy must give it. For a ruleset (``ruleset:…``) an example is its
    facts (`application` = {"inputs": {...}}) and one of the ruleset's outcomes."""
    org.require(actor, Perm.POLICY_EDIT)
    if is_ruleset_key(product):
        return _add_ruleset_example(actor, product, name, application, expected_outcome)
    prod, _ = on_sale_product(product)
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


def _add_ruleset_example(actor: Actor, key: str, name: str, application: dict[str, Any], expected: str
                         ) -> ExampleView:
    ruleset = require_ruleset(key)
    if expected not in ruleset.scale.outcomes:
        raise ValidationError(f"expected outcome must be one of {', '.join(ruleset.scale.outcomes)}",
                              field="expected_outcome")
    if not (name or "").strip():
        raise ValidationError("an example needs a name", field="name", code="required")
    if not isinstance(application, dict) or not isinstance(application.get("inputs"), dict):
        raise ValidationError("the example must be an object with inputs", field="application")
    policy, _ = Policy.objects.get_or_create(product=ruleset.key, defaults={"name": ruleset.name_en[:100]})
    if policy.examples.filter(name=name.strip()).exists():
        raise Conflict(f"an example named {name.strip()!r} exists", code="duplicate_example", field="name")
    e = ExampleCase.objects.create(policy=policy, name=name.strip()[:100], application={"inputs": application["inputs"]},
                                   expected_outcome=expected, created_by_name=actor.username)
    ledger.append(actor, "policy.example_added", "policy", ruleset.key, {"example": e.name, "expected": expected})
    return _example_view(e)


def list_examples(actor: Actor, product: str) -> list[ExampleView]:
    org.require(actor, Perm.POLICY_VIEW)
    return [_example_view(e) for e in ExampleCase.objects.filter(policy__product=product)]


@transaction.atomic
def delete_example(actor: Actor, example_id: int) -> None:
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



def _ruleset_results(v: PolicyVersion, examples: list[ExampleCase]) -> list[ExampleResult]:
    ruleset = require_ruleset(v.policy.product)
    compiled = ENGINE.install_text(v.jdm)
    out = []
    for e in examples:
        evaluation = ENGINE.evaluate(compiled.key, dict(e.application.get("inputs") or {}), ruleset.scale)
        answer = answer_of(evaluation, ruleset.scale)
        reasons = [f"#{answer.row}" if answer.row else "–", *sorted(evaluation.missing)]  # the deciding row
        out.append(ExampleResult(_example_view(e), evaluation.outcome, evaluation.outcome == e.expected_outcome,
                                 reasons, None, "", 0))
    return out


def example_results(v: PolicyVersion) -> list[ExampleResult]:
    examples = list(v.policy.examples.all())
    if not examples:
        return []
    if is_ruleset_key(v.policy.product):
        return _ruleset_results(v, examples)
    compiled = ENGINE.install_text(v.jdm)
    terms, settings, settings_row, grades, benchmark, name = replay_context(v.policy.product)
    out = []
    for e in examples:
        a = e.application
        app = kernel.Application(f"EX-{e.pk}", terms.code, int(a["amount_minor"]), int(a["term"]),
                                 dict(a.get("inputs") or {}), "batch")
        scored = _scored_override(a)
        scorer = None
        problem = ""
        if scored is None:
            scorer, _vid, problem = model_for(settings_row, app.segment, app.application_ref)
        r = kernel.run(app, product=terms, grades=grades, settings=settings, benchmark_ppm=benchmark,
                       benchmark_name=name, engine=ENGINE, policy=compiled, scorer=scorer, scored=scored,
                       model_problem=problem)
        out.append(ExampleResult(_example_view(e), r.outcome, r.outcome == e.expected_outcome,
                                 [x.en for x in r.reasons], r.scored.score if r.scored else None, r.grade,
                                 r.limit.approved_minor))
    return out


def examples_summary(results: list[ExampleResult]) -> dict[str, Any]:
    return {"examples": len(results), "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results), "at": timezone.now().isoformat(),
            "results": [{"name": r.example.name, "expected": r.example.expected_outcome, "outcome": r.outcome,
                         "passed": r.passed, "reasons": r.reasons[:5]} for r in results]}
