"""Rulesets: decision tables that are not a product's credit policy, kept and run like one.

Why: some decisions of the institution belong to risk managers as much as the credit policy does — the
early-warning level of a customer (risk, issue 17) is the first — and they want the same things for them: edit the
table without code, see it validated, publish it only with a second person's approval, know which version decided
what. So a ruleset is a policy in every respect (decisions.models.Policy and its versions, the pages, the API, the
four-eyes life-cycle, the one cached zen engine), told apart by its key: a product code is a slug, a ruleset's key
is ``ruleset:<name>`` — a colon no product code can hold — so the two can never be confused.

What a ruleset declares (its owner, an app above decisions, registers it from its AppConfig.ready()): its names in
English and Chinese, its outcome scale (decisions.domain.policy.Scale), the input fields the tables read with their
labels, what each outcome is called, the table installed as version 1, and example cases with the outcome each must
get (run before a version may be submitted, as a product's example applications are).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from creditplan.decisions.domain.policy import Scale

PREFIX = "ruleset:"
KEY = re.compile(r"^ruleset:[a-z][a-z0-9-]{0,21}$")
"""A ruleset's key: fits the policy's 30-character key column, and holds a colon (a product code cannot)."""


def is_ruleset_key(key: object) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


@dataclass(frozen=True)
class InputField:
    """A fact the ruleset's tables read: its name in the JDM document, its kind ("number" or "boolean") and labels."""

    name: str
    kind: str
    en: str
    zh: str


@dataclass(frozen=True)
class Example:
    """An example case: the facts and the outcome the table must give them."""

    name: str
    facts: Mapping[str, Any]
    expected: str


@dataclass(frozen=True)
class Ruleset:
    key: str
    name_en: str
    name_zh: str
    scale: Scale
    inputs: tuple[InputField, ...]
    outcome_labels: Mapping[str, tuple[str, str]]  # outcome → (en, zh)
    default_document: Mapping[str, Any] = field(repr=False)
    examples: tuple[Example, ...] = ()
    explain_en: str = ""
    explain_zh: str = ""

    def __post_init__(self) -> None:
        if not KEY.match(self.key):
            raise ValueError(f"a ruleset key is 'ruleset:' and a lower-case name (at most 22 characters): {self.key!r}")
        if set(self.outcome_labels) != set(self.scale.outcomes):
            raise ValueError("a ruleset names every outcome of its scale")
        for e in self.examples:
            if e.expected not in self.scale.outcomes:
                raise ValueError(f"example {e.name!r} expects {e.expected!r}, not an outcome of the scale")

    def name(self, zh: bool) -> str:
        return self.name_zh if zh else self.name_en

    def outcome_label(self, outcome: str, zh: bool) -> str:
        en, cn = self.outcome_labels.get(outcome, (outcome, outcome))
        return cn if zh else en

    def sample(self) -> dict[str, Any]:
        """Facts to start an example from: the first example's, or a zero / false per input."""
        if self.examples:
            return dict(self.examples[0].facts)
        return {f.name: (False if f.kind == "boolean" else 0) for f in self.inputs}
