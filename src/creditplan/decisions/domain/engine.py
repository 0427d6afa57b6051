"""The one zen engine of the process, with a loader keyed by policy version.

Why one engine and a loader: ``create_decision`` per application parses and builds the graph every time (about
a third of a millisecond); ``ZenEngine.evaluate(key, ...)`` with a loader that hands back pre-parsed content
(``ZenDecisionContent``) skips that work (benchmarks/bench_decisions.py measures both). zen calls the loader
on every evaluation, so the loader is a plain dictionary look-up of content installed beforehand — it never
touches the database (the services install a version before its first use; versions are immutable, keyed by
the SHA-256 of their text, so a cached entry can never be stale).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import zen

from creditplan.decisions.domain.policy import (
    CREDIT,
    CompiledPolicy,
    Evaluation,
    Scale,
    compile_policy,
    interpret,
    zen_error,
)

MAX_CACHED = 256


class PolicyEngine:
    """Policies by key, evaluated through a single ``zen.ZenEngine`` with a loader."""

    def __init__(self, max_cached: int = MAX_CACHED) -> None:
        self._policies: OrderedDict[str, CompiledPolicy] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_cached
        self.engine = zen.ZenEngine({"loader": self._load})

    def _load(self, key: str) -> Any:
        policy = self._policies.get(key)
        if policy is None:
            raise KeyError(f"policy {key} is not installed")
        return policy.content

    def install(self, policy: CompiledPolicy) -> CompiledPolicy:
        with self._lock:
            if policy.key in self._policies:
                self._policies.move_to_end(policy.key)
                return self._policies[policy.key]
            self._policies[policy.key] = policy
            while len(self._policies) > self._max:
                self._policies.popitem(last=False)
        return policy

    def install_text(self, text: str | Mapping[str, Any]) -> CompiledPolicy:
        """Compile and install a policy document (a no-op when the same text is already installed)."""
        compiled = compile_policy(text)
        existing = self._policies.get(compiled.key)
        return existing if existing is not None else self.install(compiled)

    def get(self, key: str) -> CompiledPolicy | None:
        return self._policies.get(key)

    def evaluate(self, key: str, facts: Mapping[str, Any], scale: Scale = CREDIT) -> Evaluation:
        """Run the installed policy `key` on `facts`. An engine error never escapes: it becomes the scale's
        fallback (a refer) with the error text, so a broken input cannot crash a decision or approve it."""
        policy = self._policies.get(key)
        if policy is None:
            raise KeyError(f"policy {key} is not installed")
        try:
            response = self.engine.evaluate(key, policy.context(facts), None if policy.tagged else {"trace": True})
        except Exception as exc:  # noqa: BLE001 - zen raises RuntimeError with a JSON payload
            return Evaluation(scale.fallback, (), (), {}, None, error=zen_error(exc))
        return interpret(policy, facts, response.get("result"), response.get("trace") or {}, scale)


ENGINE = PolicyEngine()
"""The process-wide engine (the web workers, the CLI, the benchmark each hold one)."""
