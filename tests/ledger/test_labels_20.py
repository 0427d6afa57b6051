"""Issue 20: the audit trail names every ledger event and record in words, in both languages.

The kinds are enumerated from the source itself (every `ledger.append(…)` / `EventSpec(…)` in src/creditplan),
so an event added later without words fails here, not on an auditor's page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

from creditplan.core.access import Perm
from creditplan.ledger import labels

SRC = Path(__file__).resolve().parents[2] / "src" / "creditplan"
_KIND = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z0-9_]*$")
_HAN = re.compile(r"[\u3400-\u9fff]")
_PERMS = {str(p.value) for p in Perm}


def _ledger_calls() -> list[tuple[Path, ast.Module, ast.Call, int]]:
    """(file, module, call, index of the kind argument) of every event appended in src/creditplan."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts or path.parent.name == "ledger":
            continue
        module = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            if name == "EventSpec":
                out.append((path, module, node, 0))
            elif name == "append" and owner == "ledger":
                out.append((path, module, node, 1))
    return out


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def appended() -> tuple[set[str], set[str], set[str]]:
    """(event kinds, f-string kind prefixes, subject types) appended in the source. A kind held in a variable or a
    table is found among its module's kind-like strings (permission codes aside)."""
    kinds, prefixes, subjects = set(), set(), set()
    for _path, module, call, at in _ledger_calls():
        if len(call.args) < at + 2:
            continue
        kind, subject = call.args[at], call.args[at + 1]
        if isinstance(kind, ast.JoinedStr):
            first = kind.values[0]
            assert isinstance(first, ast.Constant), ast.unparse(kind)
            prefixes.add(str(first.value))
        else:
            found = {s for s in _strings(kind) if _KIND.match(s)}
            if not found:  # a name, an attribute or a table lookup: the module's kind-like strings
                found = {s for s in _strings(module) if _KIND.match(s) and s not in _PERMS
                         and s.split(".")[0] in labels.FAMILIES}
            kinds |= found
        subjects |= _strings(subject) if isinstance(subject, ast.Constant) else set()
    return kinds, prefixes, subjects


def _both_languages(text_of, code: str) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en"):
        en = text_of(code)
    with translation.override("zh-hans"):
        zh = text_of(code)
    assert en != code and not _HAN.search(en), f"{code}: no English words ({en!r})"
    assert _HAN.search(zh) and not re.search(r"[A-Za-z]{3,}", zh.replace("ECL", "").replace("LPR", "")
                                              .replace("API", "").replace("Webhook", "")), \
        f"{code}: no Chinese words ({zh!r})"


def test_the_source_is_read() -> None:
    kinds, prefixes, subjects = appended()
    assert {"loan.disbursed", "application.submitted", "risk.alert_raised", "user.deactivated",
            "customer_group.member_added", "line.activated"} <= kinds
    assert {"plan.quota_", "model.", "risk.watch_"} <= prefixes
    assert {"credit_line", "stress_scenario", "watch_entry", "review_task", "policy_version"} <= subjects


def test_every_appended_event_kind_has_words_in_both_languages() -> None:
    kinds, _prefixes, _subjects = appended()
    missing = sorted(k for k in kinds if k not in labels.EVENT_KINDS)
    assert not missing, f"event kinds without words in ledger/labels.py: {missing}"
    for kind in sorted(labels.EVENT_KINDS):
        _both_languages(labels.event_label, kind)
        assert labels.family_of(kind) in labels.FAMILIES, kind


def test_kinds_built_from_a_status_have_words_for_each() -> None:
    """f"plan.quota_{status}", f"model.{status}", f"risk.watch_{change}": each prefix has its kinds."""
    _kinds, prefixes, _subjects = appended()
    for prefix in prefixes:
        assert [k for k in labels.EVENT_KINDS if k.startswith(prefix)], f"no kind {prefix}… in ledger/labels.py"
    from creditplan.scoring.domain.lifecycle import ModelStatus

    assert {f"model.{s.value}" for s in ModelStatus} <= set(labels.EVENT_KINDS)
    assert {"risk.watch_entered", "risk.watch_escalated", "risk.watch_left"} <= set(labels.EVENT_KINDS)


def test_every_subject_type_and_area_has_words_in_both_languages() -> None:
    _kinds, _prefixes, subjects = appended()
    missing = sorted(s for s in subjects if s not in labels.SUBJECT_TYPES)
    assert not missing, f"subject types without words in ledger/labels.py: {missing}"
    for subject in labels.SUBJECT_TYPES:
        _both_languages(labels.subject_label, subject)
    for family in labels.FAMILIES:
        _both_languages(labels.family_label, family)
    for (stype, sid) in labels.NAMED_RECORDS:
        _both_languages(lambda code, stype=stype: labels.named_record(stype, code), sid)


@pytest.mark.parametrize(("language", "word"), [("zh-hans", "系统"), ("en", "System")])
def test_the_system_actor_is_a_word(language: str, word: str) -> None:
    with translation.override(language):
        assert labels.actor_label("system") == word
        assert labels.actor_label("planner2") == "planner2"
    for name in labels.SYSTEM_ACTORS:
        _both_languages(labels.actor_label, name)
    from creditplan.decisions.services.deciding import ENGINE_ACTOR

    assert ENGINE_ACTOR.username in labels.SYSTEM_ACTORS


def test_webhook_patterns_in_words() -> None:
    with translation.override("zh-hans"):
        assert labels.pattern_label("loan.*") == "贷款（全部事件）"
        assert labels.pattern_label("risk.alert_raised") == "风险预警已触发"
    with translation.override("en"):
        assert labels.pattern_label("application.*") == "Applications (every event)"
