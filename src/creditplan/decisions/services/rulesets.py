"""Rulesets (decisions.domain.rulesets): decision tables that are not a product's credit policy, registered by the
app that owns them, kept as policy versions under their ``ruleset:`` key, published by four eyes on the policy pages
and evaluated through the one cached zen engine.

    register_ruleset(r)           from the owner's AppConfig.ready() (risk registers the early-warning level)
    install_ruleset(key)          the default table as published version 1, and its example cases; idempotent
    evaluate_ruleset(key, facts)  the published version's answer for each set of facts, in order

Evaluating many cases: callers pass each *distinct* set of facts once (risk evaluates a few hundred combinations
for a million loans' customers) — each is one call into the engine, a few microseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.access import Actor, Perm, require
from creditplan.core.errors import Conflict, ValidationError
from creditplan.decisions.domain import policy as pol
from creditplan.decisions.domain.engine import ENGINE
from creditplan.decisions.domain.lifecycle import PolicyStatus
from creditplan.decisions.domain.rulesets import Ruleset, is_ruleset_key
from creditplan.decisions.models import ExampleCase, Policy, PolicyVersion
from creditplan.decisions.services.serving import installed
from creditplan.ledger import services as ledger

_registry: dict[str, Ruleset] = {}
_lock = threading.Lock()


def register_ruleset(ruleset: Ruleset) -> None:
    """Make a ruleset known (again: the same key replaces the earlier registration, as ready() may run twice)."""
    with _lock:
        _registry[ruleset.key] = ruleset


def registered_rulesets() -> list[Ruleset]:
    return [_registry[k] for k in sorted(_registry)]


def ruleset_of(key: str) -> Ruleset | None:
    """The ruleset registered under `key` (None for a product code or an unknown key)."""
    return _registry.get(key) if is_ruleset_key(key) else None


def require_ruleset(key: str) -> Ruleset:
    r = ruleset_of(key)
    if r is None:
        raise ValidationError(f"{key!r} is not a known ruleset", field="product", code="unknown_ruleset")
    return r


def scale_of(key: str) -> pol.Scale:
    """The outcome scale of the policy kept under `key`: a ruleset's own, a product's credit scale."""
    if not is_ruleset_key(key):
        return pol.CREDIT
    r = _registry.get(key)
    if r is None:
        raise Conflict(f"the ruleset {key!r} is not registered by any installed app", code="unknown_ruleset",
                       field="product")
    return r.scale


@transaction.atomic
def install_ruleset(key: str, actor: Actor | None = None) -> int | None:
    """The ruleset's default table as published version 1 and its example cases, unless the ruleset has a version
    already (idempotent: a risk manager's versions are never touched). Returns the new version's id, or None.
    `actor=None` is the installer (migrations, the nightly run, tests): recorded as authored and approved by
    "system"."""
    if actor is not None:
        require(actor, Perm.POLICY_APPROVE)
    r = require_ruleset(key)
    policy, _ = Policy.objects.select_for_update().get_or_create(product=r.key, defaults={"name": r.name_en[:100]})
    if not policy.examples.exists():
        ExampleCase.objects.bulk_create([
            ExampleCase(policy=policy, name=e.name[:100], application={"inputs": dict(e.facts)},
                        expected_outcome=e.expected, created_by_name="system") for e in r.examples])
    if policy.versions.exists():
        return None
    doc = dict(r.default_document)
    report = pol.validate(doc, samples=[dict(e.facts) for e in r.examples], scale=r.scale)
    if not report.ok:  # a programming error of the owner: its shipped table must validate
        raise ValueError(f"the default table of {key} does not validate: {report.as_json()['problems']}")
    text = pol.canonical(doc)
    now = timezone.now()
    v = PolicyVersion.objects.create(
        policy=policy, number=1, status=PolicyStatus.PUBLISHED.value, jdm=text, jdm_sha256=pol.sha256_text(text),
        note="default table", author=actor if getattr(actor, "pk", None) else None,
        author_name=getattr(actor, "username", None) or "system", validation=report.as_json(), validated_at=now,
        approved_by_name="system", published_at=now)
    ENGINE.install_text(text)
    ledger.append(actor, "policy.published", "policy_version", v.pk,
                  {"product": r.key, "number": 1, "sha256": v.jdm_sha256, "author": v.author_name, "seeded": True,
                   "ruleset": True})
    return int(v.pk)


@dataclass(frozen=True)
class Answer:
    """What the table said for one set of facts: the outcome, and the row that gave it (its reason code and
    messages; "no_rule" when none matched and the scale's fallback applied, "engine_error" when zen failed)."""

    outcome: str
    reason: str
    message_en: str
    message_zh: str
    row: int  # 1-based row of the deciding rule in its table; 0 when no rule decided
    missing: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "message_en": self.message_en,
                "message_zh": self.message_zh, "row": self.row, "missing": list(self.missing)}


@dataclass(frozen=True)
class RulesetDecision:
    key: str
    version_id: int
    number: int
    sha256: str
    answers: list[Answer]


_NO_RULE = ("No row of the table matched these facts: its fallback applies",
            "表中没有与这些情况匹配的规则：按兜底结果处理")
_ENGINE_ERROR = ("The decision engine could not evaluate the table: its fallback applies",
                 "决策引擎无法执行该表：按兜底结果处理")


def answer_of(evaluation: pol.Evaluation, scale: pol.Scale) -> Answer:
    """The outcome of an evaluation and the first trusted rule that gave it."""
    if evaluation.error:
        return Answer(evaluation.outcome, "engine_error", *_ENGINE_ERROR, 0)
    for rule in evaluation.fired:
        if rule.outcome_on(scale) == evaluation.outcome:
            text = rule.as_json()
            return Answer(evaluation.outcome, rule.reason, str(text["message_en"]), str(text["message_zh"]),
                          rule.index + 1, tuple(evaluation.missing))
    return Answer(evaluation.outcome, "no_rule", *_NO_RULE, 0, tuple(evaluation.missing))


def published_ruleset(key: str) -> tuple[PolicyVersion, pol.CompiledPolicy]:
    require_ruleset(key)
    row = (PolicyVersion.objects.filter(policy__product=key, status=PolicyStatus.PUBLISHED)
           .values("id", "number", "jdm_sha256").first())
    if row is None:
        raise Conflict(f"the ruleset {key} has no published version", code="ruleset_not_published")
    version = PolicyVersion(id=row["id"], number=row["number"], jdm_sha256=row["jdm_sha256"])
    return version, installed(version)


def evaluate_ruleset(key: str, facts: Sequence[Mapping[str, Any]]) -> RulesetDecision:
    """The published version's answer for each set of facts, in order (trusted callers: batch jobs; the facts are
    the caller's own computed values, not a person's input)."""
    r = require_ruleset(key)
    version, compiled = published_ruleset(key)
    answers = [answer_of(ENGINE.evaluate(compiled.key, f, r.scale), r.scale) for f in facts]
    return RulesetDecision(key, int(version.pk), int(version.number), version.jdm_sha256, answers)
