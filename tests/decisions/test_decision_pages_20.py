"""Issue 20 §2/§7: the decision pages speak words, not codes — roles, branch levels and products in the authority
matrix by their names, a fired rule's outcome as a label — in both languages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from creditplan.decisions import services
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _section(page: str, element_id: str) -> str:
    """The visible text of the element with `element_id` (tags dropped)."""
    part = page.split(f'id="{element_id}"', 1)[1].split("</table>", 1)[0]
    return re.sub(r"<[^>]+>", " ", part)


def _login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.mark.parametrize("lang", [EN, ZH])
def test_the_policy_list_names_roles_levels_and_products_in_words(client: Any, world: dict[str, Any],
                                                                   lang: dict[str, str]) -> None:
    page = _login(client, "risk").get("/decisions/", **lang).content.decode()
    matrix = _section(page, "authority")
    rules = services.authority_matrix(world["risk"])
    assert rules
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", matrix), matrix  # no risk_manager, head_office, sub_branch
    if lang is ZH:
        assert not re.search(r"[A-Za-z]{3,}", matrix.replace("(yuan)", "")), matrix
        assert "总行" in matrix and "风险经理" in matrix
    policies = _section(page, "policies")
    assert "<code>consumer</code>" not in page and not re.search(r"\bconsumer\b", policies)
    assert ("个人消费贷" in policies) if lang is ZH else ("个人消费贷" in policies or "Consumer" in policies)


@pytest.mark.parametrize("lang", [EN, ZH])
def test_a_decision_page_shows_the_fired_rules_outcomes_as_labels(client: Any, decide: Any,
                                                                   lang: dict[str, str]) -> None:
    d = decide("PAGE20-1", housing="free", months_employed=3)  # a low score: a rule fires
    page = _login(client, "officer_bj").get(f"/decisions/{d.id}/", **lang).content.decode()
    rules = _section(page, "rules")
    assert not re.search(r"\b(approve|refer|decline)\b", rules), rules
    if lang is ZH:
        assert re.search(r"批准|转人工|拒绝|审查", rules), rules
