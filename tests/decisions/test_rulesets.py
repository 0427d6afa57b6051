"""Rulesets: decision tables that are not a product's credit policy (risk's warning level is the first), kept as
policy versions under a `ruleset:` key — validated against their own outcome scale, published by four eyes,
evaluated by the one engine, edited in the grid — while credit policies keep theirs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from creditplan.core.errors import Conflict, ValidationError
from creditplan.decisions import services as decisions
from creditplan.decisions.domain.policy import Scale
from creditplan.decisions.domain.rulesets import Example, InputField, Ruleset
from creditplan.decisions.services import rulesets as registry

KEY = "ruleset:test-band"


def _table(cut: int = 50) -> dict[str, Any]:
    inputs = [{"id": "in_points", "name": "Points", "field": "points"}, {"id": "in_flag", "name": "Flag",
                                                                          "field": "flag"}]
    outputs = [{"id": "o", "name": "Band", "field": "outcome"}, {"id": "r", "name": "Reason", "field": "reason"}]
    rules = [{"_id": "high", "in_points": f">= {cut}", "in_flag": "", "o": '"high"', "r": '"many_points"'},
             {"_id": "flagged", "in_points": f"< {cut}", "in_flag": "true", "o": '"mid"', "r": '"flagged"'},
             {"_id": "low", "in_points": "", "in_flag": "", "o": '"low"', "r": '"default"'}]
    return {"nodes": [{"id": "in", "type": "inputNode", "name": "in"},
                      {"id": "t", "type": "decisionTableNode", "name": "Band",
                       "content": {"hitPolicy": "first", "inputs": inputs, "outputs": outputs, "rules": rules,
                                   "outputPath": "band"}},
                      {"id": "out", "type": "outputNode", "name": "out"}],
            "edges": [{"id": "a", "sourceId": "in", "targetId": "t"}, {"id": "b", "sourceId": "t", "targetId": "out"}]}


@pytest.fixture
def band() -> Iterator[Ruleset]:
    r = Ruleset(key=KEY, name_en="Test band", name_zh="测试分档", scale=Scale(("low", "mid", "high"), "mid"),
                inputs=(InputField("points", "number", "Points", "分数"), InputField("flag", "boolean", "Flag", "标记")),
                outcome_labels={"low": ("Low", "低"), "mid": ("Middle", "中"), "high": ("High", "高")},
                default_document=_table(),
                examples=(Example("few points", {"points": 10, "flag": False}, "low"),
                          Example("many points", {"points": 70, "flag": False}, "high")))
    decisions.register_ruleset(r)
    yield r
    registry._registry.pop(KEY, None)


def _answers(facts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a.outcome, a.reason) for a in decisions.evaluate_ruleset(KEY, facts).answers]


@pytest.mark.django_db
def test_installing_is_idempotent_and_the_table_decides_with_its_row(world: dict[str, Any], band: Ruleset) -> None:
    first = decisions.install_ruleset(KEY)
    assert first is not None and decisions.install_ruleset(KEY) is None
    policy = decisions.get_policy(world["risk"], KEY)
    assert [v.status for v in policy.versions] == ["published"]
    assert [e.expected_outcome for e in decisions.list_examples(world["risk"], KEY)] == ["low", "high"]
    assert _answers([{"points": 70, "flag": False}, {"points": 10, "flag": True}, {"points": 10, "flag": False}]) == [
        ("high", "many_points"), ("mid", "flagged"), ("low", "default")]
    # a fact the table needs is missing: the scale's fallback, never the mildest outcome
    assert _answers([{"flag": False}]) == [("mid", "no_rule")]


@pytest.mark.django_db
def test_a_new_version_is_published_by_four_eyes_and_then_decides(world: dict[str, Any], band: Ruleset) -> None:
    risk, risk2 = world["risk"], world["risk2"]
    decisions.install_ruleset(KEY)
    draft = decisions.upload_policy(risk, product=KEY, jdm=_table(cut=30), note="lower cut")
    assert decisions.validate_version(risk, draft.id).status == "validated"
    decisions.submit_version(risk, draft.id)
    with pytest.raises(Conflict):
        decisions.approve_version(risk, draft.id)  # the author cannot approve
    assert _answers([{"points": 40, "flag": False}]) == [("low", "default")]  # v1 still decides
    assert decisions.approve_version(risk2, draft.id).status == "published"
    assert _answers([{"points": 40, "flag": False}]) == [("high", "many_points")]
    assert decisions.evaluate_ruleset(KEY, []).number == 2


@pytest.mark.django_db
def test_the_grid_edits_a_ruleset_draft_and_the_examples_gate_its_submission(world: dict[str, Any],
                                                                            band: Ruleset) -> None:
    risk = world["risk"]
    decisions.install_ruleset(KEY)
    v1 = decisions.get_policy(risk, KEY).published
    assert v1 is not None
    draft = decisions.new_draft_from(risk, v1.id)
    table = decisions.grid_of(risk, draft.id)[0]
    rows = table["rows"]
    rows[2]["outputs"] = ['"mid"', '"default"']  # everything else is middle: "few points" now fails
    decisions.save_grid(risk, draft.id, table_id="t", rows=rows)
    decisions.validate_version(risk, draft.id)
    with pytest.raises(Conflict) as exc:
        decisions.submit_version(risk, draft.id)
    assert "example" in exc.value.message
    decisions.add_example(risk, product=KEY, name="flagged", application={"inputs": {"points": 5, "flag": True}},
                          expected_outcome="mid")
    with pytest.raises(ValidationError) as bad:
        decisions.add_example(risk, product=KEY, name="x", application={"inputs": {}}, expected_outcome="approve")
    assert bad.value.field == "expected_outcome"


@pytest.mark.django_db
def test_each_table_is_held_to_its_own_scale(world: dict[str, Any], band: Ruleset) -> None:
    risk = world["risk"]
    credit_outcome = _table()
    credit_outcome["nodes"][1]["content"]["rules"][0]["o"] = '"approve"'
    with pytest.raises(ValidationError) as exc:
        decisions.upload_policy(risk, product=KEY, jdm=credit_outcome)
    assert exc.value.code == "jdm_bad_outcome" and '"low", "mid", "high"' in exc.value.message
    with pytest.raises(ValidationError) as exc:  # and a credit policy still speaks approve / refer / decline
        decisions.upload_policy(risk, product="consumer", jdm=_table())
    assert exc.value.code == "jdm_bad_outcome" and '"approve", "refer" or "decline"' in exc.value.message
    with pytest.raises(ValidationError) as exc:
        decisions.upload_policy(risk, product="ruleset:nobody", jdm=_table())
    assert (exc.value.code, exc.value.field) == ("unknown_ruleset", "product")
    with pytest.raises(Conflict) as no_version:
        decisions.evaluate_ruleset(KEY, [{"points": 1, "flag": False}])
    assert no_version.value.code == "ruleset_not_published"


@pytest.mark.django_db
def test_the_policy_pages_name_the_ruleset_and_its_outcomes(client: Any, world: dict[str, Any], band: Ruleset) -> None:
    from factories import PASSWORD

    decisions.install_ruleset(KEY)
    assert client.login(username="risk", password=PASSWORD)
    listing = client.get("/decisions/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "测试分档" in listing and KEY not in listing.split("<main>")[1].split('<select name="product"')[0]
    version = decisions.get_policy(world["risk"], KEY).published
    assert version is not None
    page = client.get(f"/decisions/versions/{version.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Test band" in page and "Middle" in page and "/decisions/simulation/" not in page
    tests = client.get(f"/decisions/versions/{version.id}/tests/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<option value="high">高</option>' in tests
