"""Issue 20 §1: every refusal a service or the kernel raises carries a code, and every code has words in the user's
language (common.text, or the table of the app whose pages show it). The codes are read from the source, so a new
`raise …(code="x")` without words fails here; the words are checked to be translated."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from django.utils import translation

from creditplan.common import text

SRC = Path(__file__).resolve().parents[2] / "src" / "creditplan"
_RAISE = re.compile(r"raise\s+[\w.]*?(?:Forbidden|Conflict|NotFound|ValidationError|LimitExceeded|NotAuthenticated)\(")
_FIELD_PROBLEM = re.compile(r'FieldProblem\([^()]*?code="([a-z_0-9]+)"')
_TABLE = re.compile(r"^(_[A-Z_]*TEXT[A-Z_]*)\s*(?::[^=\n]+)?=\s*\{", re.M)


def _in_scope(rel: str) -> bool:
    """Where refusals come from: the services, the domain kernels and core (pages and the API only show them)."""
    return "/services" in rel or "/domain" in rel or rel.startswith("core/") or rel.endswith("services.py")


def raised_codes() -> dict[str, set[str]]:
    codes: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if not _in_scope(rel):
            continue
        source = path.read_text(encoding="utf-8")
        for match in _RAISE.finditer(source):
            call, depth, i = source[match.end():match.end() + 2000], 1, 0
            while i < len(call) and depth:
                depth += {"(": 1, ")": -1}.get(call[i], 0)
                i += 1
            for code in re.findall(r'\bcode="([a-z_0-9]+)"', call[:i]):
                codes.setdefault(code, set()).add(rel)
        for code in _FIELD_PROBLEM.findall(source):
            codes.setdefault(code, set()).add(rel)
    return codes


def worded_codes() -> set[str]:
    """Codes with words: the shared table (and its sentences with figures), and every app's own table of refusal
    words (a module-level dict named _…TEXT…)."""
    have = set(text._PROBLEM_TEXT) | set(text._PARAM_TEXT) | {key[0] for key in text._FIGURE_TEXT}
    for path in SRC.rglob("*.py"):
        for match in _TABLE.finditer(path.read_text(encoding="utf-8")):
            module = importlib.import_module(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
            table = getattr(module, match.group(1), None)
            if isinstance(table, dict):
                have |= {key for key in table if isinstance(key, str)}
    return have


def test_the_scan_finds_the_refusals_it_is_meant_to_find():
    codes = raised_codes()
    assert len(codes) > 250
    assert {"permission_denied", "maker_checker", "insufficient_authority", "amount_out_of_range",
            "plan_not_found", "unknown_loan", "jdm_schema"} <= set(codes)


def test_every_code_raised_by_a_service_has_words():
    codes = raised_codes()
    missing = {code: sorted(where)[:2] for code, where in codes.items() if code not in worded_codes()}
    assert not missing, f"codes without words (add them to common/text.py _SERVICE_TEXT): {missing}"


def test_the_shared_words_are_translated_into_chinese():
    untranslated = []
    with translation.override("zh-hans"):
        for code, words in text._PROBLEM_TEXT.items():
            shown = str(words)
            if not any("\u4e00" <= ch <= "\u9fff" for ch in shown):
                untranslated.append(code)
        for code, sentences in text._PARAM_TEXT.items():
            untranslated += [code for s in sentences if not any("\u4e00" <= ch <= "\u9fff" for ch in str(s))]
    assert not untranslated, untranslated


def test_a_sentence_is_said_with_the_numbers_and_names_the_error_carries():
    with translation.override("zh-hans"):
        said = text.problem_text("insufficient_authority", "not enough approval authority: grade E is riskier than a "
                                 "approver at a branch may approve",
                                 {"amount_minor": 15_000_000, "grade": "E", "required_level": "head_office",
                                  "role": "approver"})
        assert said == ("您的审批权限不覆盖该申请（150,000.00 元，等级 E）：须由具有总行审批权限的审批人审批。")
        # without its figures, the plain sentence; never the developer's English
        assert text.problem_text("maker_checker", "maker-checker: you entered this application, so someone else "
                                 "must approve it") == "四眼原则：此事项由您本人提出、录入或审查，须由另一位同事审批。"
    with translation.override("en"):
        said = text.problem_text("insufficient_authority", "not enough authority to approve this credit line: …",
                                 {"amount_minor": 200_000_000, "role": "approver", "required_role": "risk_manager"})
        assert said == "Your role (Approver) may not approve this credit line of 2,000,000.00 yuan: it needs a Risk manager."
        assert "maker-checker" not in text.problem_text("maker_checker", "maker-checker: you entered this application")
        # an unknown role code is never shown as a code: the plain sentence instead
        assert text.problem_text("permission_denied", "your role (x) may not do this (y)",
                                 {"role": "x", "permission": "y"}) == "Your role may not do this."
