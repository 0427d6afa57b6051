"""Issue 20 (page walk, part E): the policy pages in one language — the default policy's tables, columns and
messages in the page's language (the policy stores its names in both), rule ids, field names and expressions shown
as the code they are, no Python "None", the system named in words, a decision's policy by its product's name."""

from __future__ import annotations

import re
from typing import Any

import pytest

from creditplan.decisions.domain import defaults
from creditplan.decisions.models import PolicyVersion
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
# Latin words a Chinese page may show (brand, standard abbreviations), as the page walk allows them.
_ALLOWED = {"creditplan", "JDM", "SHA", "SHA-", "APR", "JSON", "PD", "LPR", "API", "KS", "AUC"}


def _main(html: str) -> str:
    """What a person reads in <main>, less what is marked as code or data (as the page walk reads it)."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<(code|script|style|pre|textarea|select)\b.*?</\1>", " ", main, flags=re.S)
    main = re.sub(r'<[^>]*class="data"[^>]*>.*?</[a-z]+>', " ", main, flags=re.S)
    main = re.sub(r"<[^>]+>", " ", main)
    return re.sub(r"&[a-z]+;|&#\d+;", " ", main)


def _latin(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z][A-Za-z_\-]+", text) if w not in _ALLOWED}


def _login(client: Any, username: str = "risk") -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def world(world: dict[str, Any]) -> dict[str, Any]:
    """The decision world, its consumer product with an English name (as the demo's products have)."""
    from creditplan.loans.models import Product

    Product.objects.filter(code="consumer").update(name_en="Consumer loan")
    return world


def _version() -> PolicyVersion:
    return PolicyVersion.objects.filter(policy__product="consumer").order_by("number").first()


def test_the_default_policy_names_its_tables_and_columns_in_both_languages() -> None:
    doc = defaults.default_policy("consumer")
    tables = [n for n in doc["nodes"] if n["type"] == "decisionTableNode"]
    for node in doc["nodes"]:
        assert node["name_en"] and _HAN.search(node["name_zh"]), node["id"]
    for t in tables:
        for col in t["content"]["inputs"] + t["content"]["outputs"]:
            assert col["name_en"] and _HAN.search(col["name_zh"]), col["id"]
    cutoffs = next(t for t in tables if t["id"] == "cutoffs")
    messages = [r["out_en"] for r in cutoffs["content"]["rules"]]
    assert not any("new_to_bank" in m or "segment" in m for m in messages)  # segments by name, not by code
    assert any("customers new to the bank" in m for m in messages)
    assert any("新客户" in r["out_zh"] for r in cutoffs["content"]["rules"])


@pytest.mark.parametrize("lang", [EN, ZH])
def test_the_version_page_shows_the_policy_in_the_pages_language(client: Any, world: Any,
                                                                  lang: dict[str, str]) -> None:
    v = _version()
    page = _login(client).get(f"/decisions/versions/{v.id}/", **lang).content.decode()
    text = _main(page)
    if lang is EN:
        assert not _HAN.search(text), _HAN.findall(text)
        assert "Knock-outs" in text and "Adverse credit bureau flags" in text and "Message (English)" in text
        assert "申请人未满" not in page.split('id="jdm-document"')[0]  # the other language's messages left out
    else:
        assert not _latin(text), _latin(text)
        assert "准入拒绝规则" in text and "评分分数线" in text and "征信不良记录数" in text and "申请人未满" in text
        assert "The applicant is younger" not in page.split('id="jdm-document"')[0]
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)  # bureau_flag_count, e_ko_out… only inside <code>
    assert "<code>KO_AGE_MIN</code>" in page and '<code class="muted">bureau_flag_count</code>' in page


@pytest.mark.parametrize("lang", [EN, ZH])
def test_the_grid_names_its_columns_in_words(client: Any, world: Any, lang: dict[str, str]) -> None:
    v = _version()
    page = _login(client).get(f"/decisions/versions/{v.id}/tables/knockouts/", **lang).content.decode()
    text = _main(page)
    if lang is EN:
        assert not _HAN.search(text), _HAN.findall(text)
        assert "Message (Chinese)" in text and "Consumer" in text
    else:
        assert not _latin(text), _latin(text)
        assert "提示（中文）" in text and "提示（英文）" in text and "年龄" in text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)


@pytest.mark.parametrize("lang", [EN, ZH])
def test_the_validation_and_example_pages_show_no_python_values(client: Any, world: Any,
                                                                 lang: dict[str, str]) -> None:
    v = _version()
    c = _login(client)
    for path in (f"/decisions/versions/{v.id}/validation/", f"/decisions/versions/{v.id}/tests/"):
        text = _main(c.get(path, **lang).content.decode())
        assert not re.search(r"\bNone\b", text), path
        if lang is ZH:
            assert not _latin(text), (path, _latin(text))
        else:
            assert not _HAN.search(text), (path, _HAN.findall(text))
    page = c.get(f"/decisions/versions/{v.id}/validation/", **lang).content.decode()
    assert "<code>CUT_APPROVE_STD</code>" in page  # rule ids are the author's identifiers: shown as code


def test_the_policy_list_names_the_system_and_no_brand_on_the_chinese_page(client: Any, world: Any) -> None:
    text = _main(_login(client).get("/decisions/", **ZH).content.decode())
    assert "GoRules" not in text and not re.search(r"\bsystem\b", text)
    assert "系统" in text


def test_a_decision_names_its_policy_and_tables_in_chinese(client: Any, decide: Any) -> None:
    d = decide("WORDS20-1")
    text = _main(_login(client, "officer_bj").get(f"/decisions/{d.id}/", **ZH).content.decode())
    text = text.replace("WORDS20-1", " ").replace("officer_bj", " ")  # the reference and the user: data
    assert not _latin(text), _latin(text)
    assert "个人消费贷" in text and "评分分数线" in text


def test_a_version_note_written_by_the_system_is_in_words(client: Any, world: Any) -> None:
    v = _version()
    assert v.note == "default policy"
    assert "默认策略" in _main(_login(client).get(f"/decisions/versions/{v.id}/", **ZH).content.decode())
